// Everything the player screen shows, as one reducer: pure, so Vitest pins down the
// transitions. The audio itself lives in MixEngine; the hook (usePlayer.ts) calls the
// engine and then records here what it did.
import type { WaveformPeaks } from "../api/client";
import { faderToGain, initialMix, setFader, toggleMute, toggleSolo, UNITY_POSITION, type StemMix } from "../lib/mix";
import { normaliseLoop, type LoopRegion } from "../lib/sync";

export interface StemLoad {
  state: "loading" | "decoding" | "ready" | "failed";
  /** 0 … 1 of the stem's bytes fetched. */
  progress: number;
  error?: string;
}

/** Where "Loop from here" and "Loop to here" were pressed; unset edges are the song's ends. */
export interface LoopMarks {
  start: number | null;
  end: number | null;
}

/** The click track's strip: off until asked for, its fader like a stem's. */
export interface ClickMix {
  on: boolean;
  fader: number;
}

export interface PlayerState {
  mix: StemMix[];
  /** Master fader position, 0 … 1 like a stem's. */
  master: number;
  click: ClickMix;
  loads: Record<string, StemLoad>;
  peaks: Record<string, WaveformPeaks>;
  playing: boolean;
  /** Playhead (s) as last read from the engine. */
  position: number;
  loop: LoopRegion | null;
  loopMarks: LoopMarks;
  /** Index of the stem the keyboard acts on. */
  selected: number;
  helpOpen: boolean;
  exporting: boolean;
  exportError: string | null;
}

export type PlayerAction =
  | { type: "stem-progress"; name: string; progress: number }
  | { type: "stem-decoding"; name: string }
  | { type: "stem-ready"; name: string }
  | { type: "stem-failed"; name: string; error: string }
  | { type: "peaks-loaded"; name: string; peaks: WaveformPeaks }
  | { type: "fader"; name: string; position: number }
  | { type: "toggle-mute"; name: string }
  | { type: "toggle-solo"; name: string }
  | { type: "master"; position: number }
  | { type: "click-toggle" }
  | { type: "click-fader"; position: number }
  | { type: "started" }
  | { type: "paused"; position: number }
  /** The engine ran off the end of the song; the playhead stays where the last frame put it. */
  | { type: "ended" }
  | { type: "position"; position: number }
  | { type: "loop"; loop: LoopRegion | null; marks?: LoopMarks }
  | { type: "select"; index: number }
  | { type: "select-step"; step: 1 | -1 }
  | { type: "help"; open: boolean }
  | { type: "export-started" }
  | { type: "export-finished" }
  | { type: "export-failed"; error: string };

const NOT_LOADED: StemLoad = { state: "loading", progress: 0 };

export function initialPlayerState(names: readonly string[]): PlayerState {
  return {
    mix: initialMix(names),
    master: UNITY_POSITION,
    click: { on: false, fader: UNITY_POSITION },
    loads: Object.fromEntries(names.map((name) => [name, NOT_LOADED])),
    peaks: {},
    playing: false,
    position: 0,
    loop: null,
    loopMarks: { start: null, end: null },
    selected: 0,
    helpOpen: false,
    exporting: false,
    exportError: null,
  };
}

function withLoad(state: PlayerState, name: string, load: StemLoad): PlayerState {
  return { ...state, loads: { ...state.loads, [name]: load } };
}

export function playerReducer(state: PlayerState, action: PlayerAction): PlayerState {
  switch (action.type) {
    case "stem-progress":
      return withLoad(state, action.name, { state: "loading", progress: action.progress });
    case "stem-decoding":
      return withLoad(state, action.name, { state: "decoding", progress: 1 });
    case "stem-ready":
      return withLoad(state, action.name, { state: "ready", progress: 1 });
    case "stem-failed":
      return withLoad(state, action.name, { state: "failed", progress: 0, error: action.error });
    case "peaks-loaded":
      return { ...state, peaks: { ...state.peaks, [action.name]: action.peaks } };
    case "fader":
      return { ...state, mix: setFader(state.mix, action.name, action.position) };
    case "toggle-mute":
      return { ...state, mix: toggleMute(state.mix, action.name) };
    case "toggle-solo":
      return { ...state, mix: toggleSolo(state.mix, action.name) };
    case "master":
      return { ...state, master: action.position };
    case "click-toggle":
      return { ...state, click: { ...state.click, on: !state.click.on } };
    case "click-fader":
      return { ...state, click: { ...state.click, fader: Math.min(1, Math.max(0, action.position)) } };
    case "started":
      return { ...state, playing: true };
    case "paused":
      return { ...state, playing: false, position: action.position };
    case "ended":
      return { ...state, playing: false };
    case "position":
      return { ...state, position: action.position };
    case "loop":
      return { ...state, loop: action.loop, loopMarks: action.marks ?? state.loopMarks };
    case "select":
      return action.index >= 0 && action.index < state.mix.length ? { ...state, selected: action.index } : state;
    case "select-step": {
      const count = state.mix.length;
      // Wraps around both ways, so ↑ on the first stem chooses the last.
      return count === 0 ? state : { ...state, selected: (state.selected + action.step + count) % count };
    }
    case "help":
      return { ...state, helpOpen: action.open };
    case "export-started":
      return { ...state, exporting: true, exportError: null };
    case "export-finished":
      return { ...state, exporting: false, exportError: null };
    case "export-failed":
      return { ...state, exporting: false, exportError: action.error };
  }
}

/** A stem's mix; a name the job does not have reads as an untouched fader. */
export function mixOf(state: PlayerState, name: string): StemMix {
  return state.mix.find((stem) => stem.name === name) ?? { name, fader: UNITY_POSITION, muted: false, soloed: false };
}

export function loadOf(state: PlayerState, name: string): StemLoad {
  return state.loads[name] ?? NOT_LOADED;
}

export function readyCount(state: PlayerState): number {
  return Object.values(state.loads).filter((load) => load.state === "ready").length;
}

/** Playback may start as soon as one stem is in; the others join on its clock. */
export function canPlay(state: PlayerState): boolean {
  return readyCount(state) > 0;
}

/** Export waits for every stem, or the mix would silently lack the ones still loading. */
export function canExport(state: PlayerState): boolean {
  return readyCount(state) === state.mix.length && !state.exporting;
}

/** The stem the keyboard's M and S act on. */
export function chosenStem(state: Pick<PlayerState, "mix" | "selected">): string | undefined {
  return state.mix[state.selected]?.name;
}

/** The region the marks describe, with an unset edge at the song's start or end. */
export function loopFromMarks(marks: LoopMarks, duration: number): LoopRegion | null {
  return normaliseLoop(marks.start ?? 0, marks.end ?? duration, duration);
}

/**
 * Marking one edge at the playhead loops at once between the marks. A start marked at or
 * past the end mark lets go of that end (the loop runs to the song's end), and an end
 * marked at or before the start lets go of the start: the edge pressed is always the edge
 * it names, never silently swapped with the other.
 */
export function markLoop(
  marks: LoopMarks,
  edge: "start" | "end",
  at: number,
  duration: number,
): { marks: LoopMarks; loop: LoopRegion | null } {
  const next =
    edge === "start"
      ? { start: at, end: marks.end !== null && marks.end <= at ? null : marks.end }
      : { start: marks.start !== null && marks.start >= at ? null : marks.start, end: at };
  return { marks: next, loop: loopFromMarks(next, duration) };
}

/** The L key and the Loop button: off if on, else on between the marks (the whole song if none). */
export function toggledLoop(state: Pick<PlayerState, "loop" | "loopMarks">, duration: number): LoopRegion | null {
  return state.loop ? null : loopFromMarks(state.loopMarks, duration);
}

/** The click's gain: its fader's while it is on, else silent. */
export function clickGain(click: ClickMix): number {
  return click.on ? faderToGain(click.fader) : 0;
}

/** What "Export my mix" saves as: the song's name without its extension. */
export function mixFileName(sourceName: string): string {
  return `${sourceName.replace(/\.[^.]+$/, "")} (my mix).wav`;
}

/** The song's length: its longest stem. */
export function songDuration(stems: readonly { duration_s: number }[]): number {
  return Math.max(...stems.map((stem) => stem.duration_s), 0);
}
