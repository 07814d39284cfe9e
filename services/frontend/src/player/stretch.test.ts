import { describe, expect, it } from "vitest";
import {
  finished,
  joinPlaying,
  loopFor,
  pauseAt,
  positionAt,
  START_LEAD_S,
  startAt,
  stopped,
  type Transport,
} from "../lib/sync";
import {
  clampSemitones,
  clampTempo,
  formatBpm,
  formatSemitones,
  formatTempo,
  isNatural,
  NATURAL,
  playedSeconds,
  stretcherSemitones,
} from "./stretch";

const DURATION = 60;

describe("the clock at a tempo", () => {
  it("advances at the tempo times real time, from one `when` for every stem", () => {
    const t = { ...startAt(stopped, 10, 100, DURATION), rate: 0.75 };
    const when = 100 + START_LEAD_S;
    expect(positionAt(t, when, DURATION)).toBe(10);
    // 2 s of real time at 75 % is 1.5 s of song.
    expect(positionAt(t, when + 2, DURATION)).toBeCloseTo(11.5, 12);
    const fast = { ...t, rate: 1.5 };
    expect(positionAt(fast, when + 2, DURATION)).toBeCloseTo(13, 12);
  });

  it("pauses and resumes at the song position reached at that rate", () => {
    let t: Transport = { ...startAt(stopped, 0, 0, DURATION), rate: 0.5 };
    t = pauseAt(t, START_LEAD_S + 8, DURATION);
    expect(positionAt(t, 999, DURATION)).toBeCloseTo(4, 12);
    expect(t.rate).toBe(0.5);
    t = startAt(t, positionAt(t, 50, DURATION), 50, DURATION);
    expect(positionAt(t, 50 + START_LEAD_S + 2, DURATION)).toBeCloseTo(5, 12);
  });

  it("wraps inside the loop in song time, whatever the rate", () => {
    const loop = { start: 20, end: 24 };
    const t = { ...startAt({ ...stopped, loop }, 22, 0, DURATION), rate: 0.75 };
    const when = START_LEAD_S;
    // 2 s of song reach the loop's end after 2/0.75 s; 1 s of real time later we are 0.75 s in.
    expect(positionAt(t, when + 2 / 0.75 + 1, DURATION)).toBeCloseTo(20.75, 9);
    expect(loopFor(t)).toEqual(loop);
    expect(finished(t, when + 1000, DURATION)).toBe(false);
  });

  it("a stem that loads late joins at the song position of its start, at the rate", () => {
    const t = { ...startAt(stopped, 0, 0, DURATION), rate: 1.25 };
    const join = joinPlaying(t, 4, DURATION);
    expect(join).not.toBeNull();
    expect(join?.offset).toBeCloseTo(((join?.when ?? 0) - START_LEAD_S) * 1.25, 12);
  });

  it("ends when the song time, not the real time, reaches the end", () => {
    const t = { ...startAt(stopped, 50, 0, DURATION), rate: 0.5 };
    expect(finished(t, START_LEAD_S + 19.9, DURATION)).toBe(false);
    expect(finished(t, START_LEAD_S + 20, DURATION)).toBe(true);
  });

  it("without a rate plays as before: one song second per context second", () => {
    const t = startAt(stopped, 3, 0, DURATION);
    expect(t.rate).toBeUndefined();
    expect(positionAt(t, START_LEAD_S + 2, DURATION)).toBeCloseTo(5, 12);
  });
});

describe("what the stretcher is asked to do", () => {
  it("shifts back exactly what the sources' rate moved, plus the pitch asked for", () => {
    expect(stretcherSemitones({ tempo: 0.5, semitones: 0 })).toBeCloseTo(12, 12);
    expect(stretcherSemitones({ tempo: 2 ** (7 / 12), semitones: 0 })).toBeCloseTo(-7, 12);
    expect(stretcherSemitones({ tempo: 1, semitones: 2 })).toBe(2);
    expect(stretcherSemitones({ tempo: 0.75, semitones: -3 })).toBeCloseTo(-3 + 12 * Math.log2(4 / 3), 12);
  });

  it("is left out of the chain only at 100 % and 0 semitones", () => {
    expect(isNatural(NATURAL)).toBe(true);
    expect(isNatural({ tempo: 1, semitones: 1 })).toBe(false);
    expect(isNatural({ tempo: 0.99, semitones: 0 })).toBe(false);
  });

  it("an export at 75 % lasts 4/3 as long", () => {
    expect(playedSeconds(30, 0.75)).toBeCloseTo(40, 12);
    expect(playedSeconds(30, 1.5)).toBeCloseTo(20, 12);
  });
});

describe("the controls' values and words", () => {
  it("keeps tempo within 50–150 % and pitch within ±12 whole semitones", () => {
    expect(clampTempo(0.2)).toBe(0.5);
    expect(clampTempo(3)).toBe(1.5);
    expect(clampTempo(Number.NaN)).toBe(1);
    expect(clampSemitones(14)).toBe(12);
    expect(clampSemitones(-13)).toBe(-12);
    expect(clampSemitones(2.4)).toBe(2);
    expect(clampSemitones(Number.POSITIVE_INFINITY)).toBe(0);
  });

  it("reads out as a musician says it", () => {
    expect(formatTempo(0.75)).toBe("75 %");
    expect(formatTempo(1)).toBe("100 %");
    expect(formatSemitones(2)).toBe("+2 st");
    expect(formatSemitones(0)).toBe("0 st");
    expect(formatSemitones(-3)).toBe("\u22123 st");
  });

  it("gives the song's tempo as played, to a tenth of a beat per minute", () => {
    expect(formatBpm(110)).toBe("110 BPM");
    expect(formatBpm(110, 0.75)).toBe("82.5 BPM");
    expect(formatBpm(120, 1.5)).toBe("180 BPM");
    expect(formatBpm(117.4567)).toBe("117.5 BPM");
    expect(formatBpm(99.96)).toBe("100 BPM");
  });
});
