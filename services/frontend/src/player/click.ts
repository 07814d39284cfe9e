// The click track's timing, pure so Vitest pins it down: which beats of the song's grid
// sound in a window of context time, given the transport (start, offset, rate, loop) the
// stems were started with. Beats are song-time positions, so at a higher tempo they come
// closer together, and inside a loop they come round again with it.
import { loopFor, type Transport } from "../lib/sync";

/** A beat and a downbeat from the analysis are the same beat within this (both are to the ms). */
const ACCENT_MATCH_S = 0.005;

export interface ClickBeat {
  /** Song seconds. */
  time: number;
  /** The first beat of a bar: a higher, louder click. */
  accent: boolean;
}

export interface ScheduledClick extends ClickBeat {
  /** Context time the click sounds at. */
  when: number;
}

/** The grid in time order, each beat marked when it starts a bar. */
export function clickGrid(beats: readonly number[], downbeats: readonly number[]): ClickBeat[] {
  const downs = downbeats.filter(Number.isFinite).sort((a, b) => a - b);
  return beats
    .filter((time) => Number.isFinite(time) && time >= 0)
    .sort((a, b) => a - b)
    .map((time) => {
      const near = downs[firstAtOrAfter(downs, time - ACCENT_MATCH_S)];
      return { time, accent: near !== undefined && Math.abs(near - time) < ACCENT_MATCH_S };
    });
}

/** Index of the first value ≥ `at` in ascending `values` (values.length when none). */
function firstAtOrAfter(values: readonly number[], at: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((values[middle] as number) < at) low = middle + 1;
    else high = middle;
  }
  return low;
}

function gridIndex(grid: readonly ClickBeat[], at: number): number {
  let low = 0;
  let high = grid.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((grid[middle] as ClickBeat).time < at) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Stretches of the song a transport plays, on its "raw" axis (song seconds as if nothing
 * wrapped: offset + elapsed × rate): the first pass from the offset, then, with a loop,
 * each pass round it, starting with the pass that holds `rawFrom` (a long-playing loop is
 * not walked from its first pass). `shift` is raw − song inside the stretch.
 */
function* passes(t: Transport, rawFrom: number): Generator<{ from: number; to: number; shift: number }> {
  const loop = loopFor(t);
  if (!loop) {
    yield { from: t.offset, to: Number.POSITIVE_INFINITY, shift: 0 };
    return;
  }
  if (rawFrom < loop.end) yield { from: t.offset, to: loop.end, shift: 0 };
  const span = loop.end - loop.start;
  const first = Math.max(1, Math.floor((rawFrom - loop.end) / span) + 1);
  for (let pass = first; ; pass++) yield { from: loop.start, to: loop.end, shift: pass * span };
}

/**
 * The clicks that sound in [from, to) of context time. The stems' sources started at
 * `t.startedAt` from `t.offset` at `t.rate`, looping as AudioBufferSourceNode does (only
 * when the offset is before the loop's end); what they play is heard `delay` s later (the
 * time-stretcher's latency), and the click, which goes round the stretcher, waits as long.
 */
export function clicksIn(
  grid: readonly ClickBeat[],
  t: Transport,
  from: number,
  to: number,
  delay = 0,
): ScheduledClick[] {
  if (t.startedAt === null || grid.length === 0) return [];
  const rate = t.rate ?? 1;
  const start = Math.max(from - delay, t.startedAt);
  const end = to - delay;
  if (!(end > start) || rate <= 0) return [];
  const rawFrom = t.offset + (start - t.startedAt) * rate;
  const rawTo = t.offset + (end - t.startedAt) * rate;
  const clicks: ScheduledClick[] = [];
  for (const pass of passes(t, rawFrom)) {
    if (pass.from + pass.shift >= rawTo) break;
    if (pass.to + pass.shift <= rawFrom) continue;
    const songFrom = Math.max(pass.from, rawFrom - pass.shift);
    const songTo = Math.min(pass.to, rawTo - pass.shift);
    for (let i = gridIndex(grid, songFrom); i < grid.length; i++) {
      const beat = grid[i] as ClickBeat;
      if (beat.time >= songTo) break;
      const when = t.startedAt + (beat.time + pass.shift - t.offset) / rate + delay;
      clicks.push({ ...beat, when });
    }
  }
  return clicks;
}

/** How long one click lasts. */
export const CLICK_S = 0.03;

/**
 * One click's samples: a short sine ping, higher and louder on a downbeat, with a 1 ms
 * rise (no step to pop) and a fast exponential fall, like a metronome's tick.
 */
export function clickSamples(sampleRate: number, accent: boolean): Float32Array<ArrayBuffer> {
  const frames = Math.round(CLICK_S * sampleRate);
  const samples = new Float32Array(frames);
  const frequency = accent ? 1760 : 1175;
  const peak = accent ? 0.8 : 0.5;
  const rise = 0.001 * sampleRate;
  const fall = 0.006 * sampleRate;
  for (let i = 0; i < frames; i++) {
    const envelope = Math.min(1, i / rise) * Math.exp(-i / fall);
    samples[i] = peak * envelope * Math.sin((2 * Math.PI * frequency * i) / sampleRate);
  }
  return samples;
}
