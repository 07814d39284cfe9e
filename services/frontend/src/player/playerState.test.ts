import { describe, expect, it } from "vitest";
import type { WaveformPeaks } from "../api/client";
import { faderToGain, stemGains, UNITY_POSITION } from "../lib/mix";
import {
  canExport,
  canPlay,
  chosenStem,
  clickGain,
  initialPlayerState,
  loadOf,
  markLoop,
  mixFileName,
  mixOf,
  playerReducer,
  readyCount,
  songDuration,
  toggledLoop,
  type PlayerAction,
  type PlayerState,
} from "./playerState";

const NAMES = ["vocals", "drums", "bass", "other"];

function after(...actions: PlayerAction[]): PlayerState {
  return actions.reduce(playerReducer, initialPlayerState(NAMES));
}

function gains(state: PlayerState): Record<string, number> {
  return Object.fromEntries(stemGains(state.mix));
}

describe("a fresh player", () => {
  it("has every stem loading at unity, stopped at the start, nothing chosen but the first", () => {
    const state = initialPlayerState(NAMES);
    expect(state.mix.map((stem) => [stem.name, stem.fader, stem.muted, stem.soloed])).toEqual(
      NAMES.map((name) => [name, UNITY_POSITION, false, false]),
    );
    expect(state.master).toBe(UNITY_POSITION);
    expect(NAMES.map((name) => loadOf(state, name))).toEqual(NAMES.map(() => ({ state: "loading", progress: 0 })));
    expect(state).toMatchObject({ playing: false, position: 0, loop: null, selected: 0, helpOpen: false });
    expect(canPlay(state)).toBe(false);
    expect(canExport(state)).toBe(false);
  });
});

describe("loading stems", () => {
  it("goes loading → decoding → ready, with the fetched share as progress", () => {
    let state = after({ type: "stem-progress", name: "drums", progress: 0.25 });
    expect(loadOf(state, "drums")).toEqual({ state: "loading", progress: 0.25 });
    state = playerReducer(state, { type: "stem-progress", name: "drums", progress: 1 });
    state = playerReducer(state, { type: "stem-decoding", name: "drums" });
    expect(loadOf(state, "drums")).toEqual({ state: "decoding", progress: 1 });
    state = playerReducer(state, { type: "stem-ready", name: "drums" });
    expect(loadOf(state, "drums")).toEqual({ state: "ready", progress: 1 });
    expect(loadOf(state, "vocals")).toEqual({ state: "loading", progress: 0 });
  });

  it("can play once one stem is ready, and export only once every stem is", () => {
    const one = after({ type: "stem-ready", name: "bass" });
    expect(readyCount(one)).toBe(1);
    expect(canPlay(one)).toBe(true);
    expect(canExport(one)).toBe(false);
    const all = after(...NAMES.map((name): PlayerAction => ({ type: "stem-ready", name })));
    expect(readyCount(all)).toBe(4);
    expect(canExport(all)).toBe(true);
  });

  it("keeps a failed stem's reason, and a failed stem never counts as ready", () => {
    const state = after(
      { type: "stem-progress", name: "other", progress: 0.6 },
      { type: "stem-failed", name: "other", error: "The stem could not be loaded (HTTP 500)." },
      ...["vocals", "drums", "bass"].map((name): PlayerAction => ({ type: "stem-ready", name })),
    );
    expect(loadOf(state, "other")).toEqual({
      state: "failed",
      progress: 0,
      error: "The stem could not be loaded (HTTP 500).",
    });
    expect(readyCount(state)).toBe(3);
    expect(canExport(state)).toBe(false);
  });

  it("files waveform peaks under their stem", () => {
    const peaks: WaveformPeaks = { version: 1, sample_rate: 44100, samples_per_bin: 512, bins: 1, data: [-0.5, 0.5] };
    const state = after({ type: "peaks-loaded", name: "vocals", peaks });
    expect(state.peaks).toEqual({ vocals: peaks });
  });
});

describe("the mix", () => {
  it("mutes, solos and moves faders through mix.ts's rules", () => {
    const state = after(
      { type: "toggle-mute", name: "drums" },
      { type: "toggle-solo", name: "vocals" },
      { type: "toggle-solo", name: "drums" },
      { type: "fader", name: "vocals", position: UNITY_POSITION / 2 },
    );
    // Soloed vocals and drums; drums are also muted, and mute wins.
    expect(gains(state)).toEqual({ vocals: faderToGain(UNITY_POSITION / 2), drums: 0, bass: 0, other: 0 });
    const unsoloed = playerReducer(playerReducer(state, { type: "toggle-solo", name: "vocals" }), {
      type: "toggle-solo",
      name: "drums",
    });
    expect(gains(unsoloed)).toEqual({ vocals: faderToGain(UNITY_POSITION / 2), drums: 0, bass: 1, other: 1 });
  });

  it("keeps the master apart from the stems", () => {
    const state = after({ type: "master", position: 0.4 });
    expect(state.master).toBe(0.4);
    expect(gains(state)).toEqual({ vocals: 1, drums: 1, bass: 1, other: 1 });
  });

  it("reads an unknown stem as an untouched fader", () => {
    const state = after({ type: "toggle-mute", name: "drums" });
    expect(mixOf(state, "drums").muted).toBe(true);
    expect(mixOf(state, "piano")).toEqual({ name: "piano", fader: UNITY_POSITION, muted: false, soloed: false });
  });
});

describe("the click track", () => {
  it("starts off, at unity, and its gain is its fader's only while on", () => {
    const fresh = initialPlayerState(NAMES);
    expect(fresh.click).toEqual({ on: false, fader: UNITY_POSITION });
    expect(clickGain(fresh.click)).toBe(0);
    const on = after({ type: "click-toggle" }, { type: "click-fader", position: UNITY_POSITION / 2 });
    expect(clickGain(on.click)).toBe(faderToGain(UNITY_POSITION / 2));
    const off = playerReducer(on, { type: "click-toggle" });
    expect(clickGain(off.click)).toBe(0);
    expect(off.click.fader).toBe(UNITY_POSITION / 2);
  });

  it("keeps its fader in its travel and leaves the stems alone", () => {
    const state = after({ type: "click-toggle" }, { type: "click-fader", position: 3 });
    expect(state.click.fader).toBe(1);
    expect(gains(state)).toEqual({ vocals: 1, drums: 1, bass: 1, other: 1 });
    // Solo is the stems' business: a soloed stem does not silence the click.
    expect(clickGain(playerReducer(state, { type: "toggle-solo", name: "bass" }).click)).toBe(faderToGain(1));
  });
});

describe("choosing a stem", () => {
  it("steps down and up, wrapping at both ends", () => {
    expect(after({ type: "select-step", step: -1 }).selected).toBe(3);
    expect(after({ type: "select-step", step: 1 }, { type: "select-step", step: 1 }).selected).toBe(2);
    const last = after({ type: "select", index: 3 });
    expect(playerReducer(last, { type: "select-step", step: 1 }).selected).toBe(0);
  });

  it("chooses by index within the stems only", () => {
    expect(chosenStem(after({ type: "select", index: 1 }))).toBe("drums");
    expect(after({ type: "select", index: 4 }).selected).toBe(0);
    expect(after({ type: "select", index: -1 }).selected).toBe(0);
  });

  it("does nothing for a job without stems", () => {
    const empty = initialPlayerState([]);
    expect(playerReducer(empty, { type: "select-step", step: 1 }).selected).toBe(0);
    expect(chosenStem(empty)).toBeUndefined();
  });
});

describe("transport", () => {
  it("records play, pause with the engine's position, and the end of the song", () => {
    let state = after({ type: "started" }, { type: "position", position: 2.5 });
    expect(state).toMatchObject({ playing: true, position: 2.5 });
    state = playerReducer(state, { type: "paused", position: 2.75 });
    expect(state).toMatchObject({ playing: false, position: 2.75 });
    state = playerReducer(playerReducer(state, { type: "started" }), { type: "ended" });
    expect(state).toMatchObject({ playing: false, position: 2.75 });
  });
});

describe("the loop", () => {
  const DURATION = 6;

  it("marks a start at the playhead and loops to the end of the song", () => {
    const marked = markLoop({ start: null, end: null }, "start", 1, DURATION);
    expect(marked).toEqual({ marks: { start: 1, end: null }, loop: { start: 1, end: 6 } });
  });

  it("loops between both marks, whichever came first", () => {
    const first = markLoop({ start: null, end: null }, "end", 4, DURATION);
    expect(first.loop).toEqual({ start: 0, end: 4 });
    const second = markLoop(first.marks, "start", 1.5, DURATION);
    expect(second).toEqual({ marks: { start: 1.5, end: 4 }, loop: { start: 1.5, end: 4 } });
  });

  it("never swaps the ends: a start past the end loops to the song's end", () => {
    const marked = markLoop({ start: 1, end: 4 }, "start", 5, DURATION);
    expect(marked).toEqual({ marks: { start: 5, end: null }, loop: { start: 5, end: 6 } });
    // Exactly on the end counts as past it: a loop of no length is no loop.
    expect(markLoop({ start: 1, end: 4 }, "start", 4, DURATION).loop).toEqual({ start: 4, end: 6 });
  });

  it("never swaps the ends: an end before the start loops from the song's start", () => {
    const marked = markLoop({ start: 3, end: 5 }, "end", 2, DURATION);
    expect(marked).toEqual({ marks: { start: null, end: 2 }, loop: { start: 0, end: 2 } });
  });

  it("refuses a region too short to hear", () => {
    expect(markLoop({ start: 2, end: null }, "end", 2.01, DURATION).loop).toBeNull();
  });

  it("toggles off, and back on between the marks (the whole song with none)", () => {
    expect(toggledLoop(initialPlayerState(NAMES), DURATION)).toEqual({ start: 0, end: 6 });
    const looping = after({ type: "loop", loop: { start: 1, end: 2 }, marks: { start: 1, end: 2 } });
    expect(toggledLoop(looping, DURATION)).toBeNull();
    const off = playerReducer(looping, { type: "loop", loop: null });
    expect(off.loopMarks).toEqual({ start: 1, end: 2 });
    expect(toggledLoop(off, DURATION)).toEqual({ start: 1, end: 2 });
  });
});

describe("help and export", () => {
  it("opens and closes the help", () => {
    expect(after({ type: "help", open: true }).helpOpen).toBe(true);
    expect(after({ type: "help", open: true }, { type: "help", open: false }).helpOpen).toBe(false);
  });

  it("cannot export twice at once, and a new try clears the last error", () => {
    const ready = NAMES.map((name): PlayerAction => ({ type: "stem-ready", name }));
    const busy = after(...ready, { type: "export-started" });
    expect(canExport(busy)).toBe(false);
    const failed = playerReducer(busy, { type: "export-failed", error: "Out of memory." });
    expect(failed).toMatchObject({ exporting: false, exportError: "Out of memory." });
    expect(canExport(failed)).toBe(true);
    expect(playerReducer(failed, { type: "export-started" }).exportError).toBeNull();
    expect(playerReducer(busy, { type: "export-finished" })).toMatchObject({ exporting: false, exportError: null });
  });

  it("names the exported mix after the song", () => {
    expect(mixFileName("80s Rock.wav")).toBe("80s Rock (my mix).wav");
    expect(mixFileName("live.at.home.flac")).toBe("live.at.home (my mix).wav");
    expect(mixFileName("demo")).toBe("demo (my mix).wav");
  });
});

describe("song duration", () => {
  it("is the longest stem, and 0 without stems", () => {
    expect(songDuration([{ duration_s: 6.8 }, { duration_s: 6.85 }])).toBe(6.85);
    expect(songDuration([])).toBe(0);
  });
});
