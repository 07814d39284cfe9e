import { describe, expect, it } from "vitest";
import {
  finished,
  joinPlaying,
  loopFor,
  normaliseLoop,
  pauseAt,
  positionAt,
  START_LEAD_S,
  startAt,
  stopped,
} from "./sync";

const DURATION = 30;

describe("transport on the context clock", () => {
  it("starts every source at one moment just ahead of now", () => {
    const t = startAt(stopped, 12, 100, DURATION);
    expect(t.startedAt).toBeCloseTo(100 + START_LEAD_S, 12);
    expect(t.offset).toBe(12);
    // Before the sources start the playhead waits at the offset.
    expect(positionAt(t, 100, DURATION)).toBe(12);
    expect(positionAt(t, 100 + START_LEAD_S + 2.5, DURATION)).toBeCloseTo(14.5, 12);
  });

  it("pauses where the clock says and resumes from there", () => {
    let t = startAt(stopped, 0, 10, DURATION);
    t = pauseAt(t, 10 + START_LEAD_S + 4, DURATION);
    expect(t.startedAt).toBeNull();
    expect(positionAt(t, 999, DURATION)).toBeCloseTo(4, 12);
    t = startAt(t, positionAt(t, 50, DURATION), 50, DURATION);
    expect(positionAt(t, 50 + START_LEAD_S + 1, DURATION)).toBeCloseTo(5, 12);
  });

  it("keeps seeks inside the song", () => {
    expect(startAt(stopped, -5, 0, DURATION).offset).toBe(0);
    expect(startAt(stopped, 99, 0, DURATION).offset).toBe(DURATION);
    expect(startAt(stopped, Number.NaN, 0, DURATION).offset).toBe(0);
  });

  it("lets a late stem join on the same sample as the running ones", () => {
    const t = startAt(stopped, 3, 20, DURATION);
    const now = 20 + START_LEAD_S + 7.25;
    const join = joinPlaying(t, now, DURATION)!;
    expect(join.when).toBeCloseTo(now + START_LEAD_S, 12);
    // At `when` the running sources are at this offset too: same clock, same arithmetic.
    expect(join.offset).toBeCloseTo(positionAt(t, join.when, DURATION), 12);
    expect(join.offset).toBeCloseTo(3 + 7.25 + START_LEAD_S, 12);
    // A stem that loads before the others have started waits for their start.
    const early = joinPlaying(t, 20, DURATION)!;
    expect(early).toEqual({ when: t.startedAt, offset: 3 });
    expect(joinPlaying(stopped, 5, DURATION)).toBeNull();
  });

  it("wraps the playhead inside a loop region", () => {
    const loop = normaliseLoop(14, 10, DURATION)!;
    expect(loop).toEqual({ start: 10, end: 14 });
    const t = startAt({ ...stopped, loop }, 8, 0, DURATION);
    const at = (s: number) => positionAt(t, START_LEAD_S + s, DURATION);
    expect(at(1)).toBeCloseTo(9, 12);
    expect(at(6)).toBeCloseTo(10, 12);
    expect(at(7.5)).toBeCloseTo(11.5, 12);
    expect(loopFor(t)).toEqual(loop);
    expect(finished(t, 1000, DURATION)).toBe(false);
  });

  it("does not loop a source started past the region", () => {
    const t = startAt({ ...stopped, loop: { start: 2, end: 4 } }, 20, 0, DURATION);
    expect(loopFor(t)).toBeNull();
    expect(positionAt(t, START_LEAD_S + 3, DURATION)).toBeCloseTo(23, 12);
  });

  it("refuses loop regions too short to hear", () => {
    expect(normaliseLoop(5, 5.01, DURATION)).toBeNull();
    expect(normaliseLoop(-3, 50, DURATION)).toEqual({ start: 0, end: DURATION });
  });

  it("reports the end of the song without a loop", () => {
    const t = startAt(stopped, 28, 0, DURATION);
    expect(finished(t, START_LEAD_S + 1.9, DURATION)).toBe(false);
    expect(finished(t, START_LEAD_S + 2, DURATION)).toBe(true);
    expect(positionAt(t, 500, DURATION)).toBe(DURATION);
  });
});
