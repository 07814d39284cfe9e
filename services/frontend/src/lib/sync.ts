// Transport timing on one AudioContext clock: where the playhead is, and when
// and from where every stem's source starts so they all stay sample-aligned.

/** Lead time before a (re)start, so every source is scheduled before the clock gets there. */
export const START_LEAD_S = 0.05;

export interface LoopRegion {
  start: number;
  end: number;
}

export interface Transport {
  /** Song position (s) at the moment `startedAt` on the context clock; while paused, the position. */
  offset: number;
  /** Context time the sources start at, or null while paused. */
  startedAt: number | null;
  loop: LoopRegion | null;
  /**
   * Song seconds per context second: the tempo (1 when absent). Every source plays at
   * this rate from the same `when`, so one clock still maps to one song position.
   */
  rate?: number;
}

export const stopped: Transport = { offset: 0, startedAt: null, loop: null };

export function clampPosition(position: number, duration: number): number {
  if (!Number.isFinite(position)) return 0;
  return Math.min(Math.max(0, position), Math.max(0, duration));
}

/** A region worth looping: ordered, inside the song, at least 50 ms long; else null. */
export function normaliseLoop(a: number, b: number, duration: number): LoopRegion | null {
  const start = clampPosition(Math.min(a, b), duration);
  const end = clampPosition(Math.max(a, b), duration);
  return end - start >= 0.05 ? { start, end } : null;
}

/** The playhead at context time `now`, wrapping inside the loop region. */
export function positionAt(t: Transport, now: number, duration: number): number {
  if (t.startedAt === null) return clampPosition(t.offset, duration);
  const raw = t.offset + Math.max(0, now - t.startedAt) * (t.rate ?? 1);
  if (t.loop && t.offset < t.loop.end && raw >= t.loop.end) {
    const span = t.loop.end - t.loop.start;
    return t.loop.start + ((raw - t.loop.start) % span);
  }
  return clampPosition(raw, duration);
}

/** Start (or restart after a seek) at `position`: every source gets the same `when`. */
export function startAt(t: Transport, position: number, now: number, duration: number): Transport {
  return { ...t, offset: clampPosition(position, duration), startedAt: now + START_LEAD_S };
}

export function pauseAt(t: Transport, now: number, duration: number): Transport {
  return { ...t, offset: positionAt(t, now, duration), startedAt: null };
}

export interface SourceStart {
  /** Context time to call `source.start(when, offset)` with. */
  when: number;
  /** Where in the stem to start. */
  offset: number;
}

/**
 * How a stem that finished loading joins a transport that is already playing:
 * at a moment just ahead on the same clock, from the song position at that
 * moment, so it lands on the same sample as the stems already running.
 */
export function joinPlaying(t: Transport, now: number, duration: number): SourceStart | null {
  if (t.startedAt === null) return null;
  const when = Math.max(now + START_LEAD_S, t.startedAt);
  return { when, offset: positionAt(t, when, duration) };
}

/** Whether a source started at `t` should loop, and between which points. */
export function loopFor(t: Transport): LoopRegion | null {
  return t.loop && t.offset < t.loop.end ? t.loop : null;
}

/** Whether playback has run off the end (no loop): the transport should stop there. */
export function finished(t: Transport, now: number, duration: number): boolean {
  if (t.startedAt === null || loopFor(t) !== null) return false;
  return t.offset + (now - t.startedAt) * (t.rate ?? 1) >= duration;
}
