import { describe, expect, it } from "vitest";
import type { Transport } from "../lib/sync";
import { clickGrid, clicksIn, clickSamples, CLICK_S, type ScheduledClick } from "./click";

/** 120 BPM from 0.5 s: a beat every 0.5 s, a bar every 4 beats (0.5, 2.5, 4.5 …). */
const beats = Array.from({ length: 16 }, (_, i) => 0.5 + i * 0.5);
const downbeats = beats.filter((_, i) => i % 4 === 0);
const grid = clickGrid(beats, downbeats);

function playing(partial: Partial<Transport>): Transport {
  return { offset: 0, startedAt: 10, loop: null, ...partial };
}

const times = (clicks: ScheduledClick[]) => clicks.map((c) => c.time);
const round = (seconds: number) => Number(seconds.toFixed(9));
const whens = (clicks: ScheduledClick[]) => clicks.map((c) => round(c.when));

describe("the click grid", () => {
  it("sorts the beats and accents the ones that start a bar", () => {
    const g = clickGrid([1.5, 0.5, 1], [0.5]);
    expect(g).toEqual([
      { time: 0.5, accent: true },
      { time: 1, accent: false },
      { time: 1.5, accent: false },
    ]);
    expect(grid.filter((b) => b.accent).map((b) => b.time)).toEqual([0.5, 2.5, 4.5, 6.5]);
  });

  it("matches a downbeat to its beat within a few ms, not a neighbour", () => {
    expect(clickGrid([2, 2.5], [2.001]).map((b) => b.accent)).toEqual([true, false]);
  });

  it("drops beats that are not times", () => {
    expect(clickGrid([Number.NaN, -1, 3], [])).toEqual([{ time: 3, accent: false }]);
  });
});

describe("which clicks fall in a window of context time", () => {
  it("maps song time to the clock the stems started on", () => {
    // Started at context 10 s from song 1 s: the beat at 1.5 sounds at 10.5.
    const clicks = clicksIn(grid, playing({ offset: 1 }), 10, 11.2);
    expect(times(clicks)).toEqual([1, 1.5, 2]);
    expect(whens(clicks)).toEqual([10, 10.5, 11]);
  });

  it("is half-open, so windows one after another schedule each beat once", () => {
    const t = playing({});
    const edges = [10, 10.3, 10.5, 10.99, 11.5, 12];
    const all = edges.slice(1).flatMap((to, i) => clicksIn(grid, t, edges[i] as number, to));
    expect(times(all)).toEqual([0.5, 1, 1.5]);
    expect(times(clicksIn(grid, t, 10.5, 11))).toEqual([0.5]);
  });

  it("schedules nothing before the start or while paused", () => {
    expect(clicksIn(grid, playing({}), 0, 10)).toEqual([]);
    expect(clicksIn(grid, { ...playing({}), startedAt: null }, 0, 100)).toEqual([]);
    expect(clicksIn([], playing({}), 10, 20)).toEqual([]);
  });

  it("brings beats closer at a higher tempo and spreads them at a lower one", () => {
    const fast = clicksIn(grid, playing({ rate: 1.5 }), 10, 11);
    // Song 1.5 s would sound at exactly 11: the next window's.
    expect(times(fast)).toEqual([0.5, 1]);
    expect(whens(fast)).toEqual([10 + 0.5 / 1.5, 10 + 1 / 1.5].map(round));
    const slow = clicksIn(grid, playing({ rate: 0.75 }), 10, 12);
    expect(times(slow)).toEqual([0.5, 1]);
    expect(whens(slow)).toEqual([10 + 0.5 / 0.75, 10 + 1 / 0.75].map(round));
  });

  it("waits the stretcher's delay, as the stems are heard that much later", () => {
    const clicks = clicksIn(grid, playing({}), 10, 11.2, 0.12);
    expect(times(clicks)).toEqual([0.5, 1]);
    expect(whens(clicks)).toEqual([10.62, 11.12]);
  });

  it("comes round the loop again, every pass", () => {
    // Loop 2.5–4.5 (one bar) from song 2 s: 2, 2.5 … 4, then 2.5 … again.
    const t = playing({ offset: 2, loop: { start: 2.5, end: 4.5 } });
    const clicks = clicksIn(grid, t, 10, 16.5);
    expect(times(clicks)).toEqual([2, 2.5, 3, 3.5, 4, 2.5, 3, 3.5, 4, 2.5, 3, 3.5, 4]);
    expect(whens(clicks)).toEqual([10, 10.5, 11, 11.5, 12, 12.5, 13, 13.5, 14, 14.5, 15, 15.5, 16]);
    // The downbeat at the loop's start is accented on each pass; the one at its end never sounds.
    expect(clicks.filter((c) => c.accent).map((c) => c.when)).toEqual([10.5, 12.5, 14.5]);
  });

  it("finds a window deep in the loop without walking every pass before it", () => {
    const t = playing({ offset: 2.5, loop: { start: 2.5, end: 4.5 }, rate: 0.5 });
    // Each pass lasts 4 s of context time; the 1001st starts at 10 + 4000.
    const clicks = clicksIn(grid, t, 4010, 4011.5);
    expect(times(clicks)).toEqual([2.5, 3]);
    expect(clicks[0]?.accent).toBe(true);
    expect(clicks[0]?.when).toBeCloseTo(4010, 6);
  });

  it("plays through a loop that the offset is already past, as the sources do", () => {
    const t = playing({ offset: 5, loop: { start: 1, end: 3 } });
    expect(times(clicksIn(grid, t, 10, 11.1))).toEqual([5, 5.5, 6]);
  });

  it("keeps the grid's accents at any rate", () => {
    const clicks = clicksIn(grid, playing({ rate: 1.25 }), 10, 20);
    expect(clicks.filter((c) => c.accent).map((c) => c.time)).toEqual([0.5, 2.5, 4.5, 6.5]);
  });
});

describe("the click's sound", () => {
  it("is short, starts from silence and dies away", () => {
    const beat = clickSamples(44100, false);
    expect(beat.length).toBe(Math.round(CLICK_S * 44100));
    expect(beat[0]).toBe(0);
    const peak = (from: number, to: number) => Math.max(...beat.subarray(from, to).map(Math.abs));
    expect(peak(0, 441)).toBeGreaterThan(0.3);
    expect(peak(beat.length - 100, beat.length)).toBeLessThan(0.02);
  });

  it("is louder and higher on a downbeat", () => {
    const beat = clickSamples(44100, false);
    const accent = clickSamples(44100, true);
    const loudest = (s: Float32Array) => Math.max(...s.map(Math.abs));
    expect(loudest(accent)).toBeGreaterThan(loudest(beat));
    const crossings = (s: Float32Array) => s.filter((v, i) => i > 0 && Math.sign(v) !== Math.sign(s[i - 1] ?? 0)).length;
    expect(crossings(accent)).toBeGreaterThan(crossings(beat));
  });
});
