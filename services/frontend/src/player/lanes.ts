// The waveform lanes' pure arithmetic: what a press-and-drag means (a seek or a loop),
// snapping a loop to whole bars, and the zoom and scroll that every lane shares.
import { normaliseLoop, type LoopRegion } from "../lib/sync";

/** A press that moves less than this (CSS px) before it lifts is a click or tap: a seek. */
export const DRAG_PX = 6;
export const MIN_ZOOM = 1;
/** At 8× a 3:30 song shows about 26 s across the lanes; the 2000-bin peaks still draw smoothly. */
export const MAX_ZOOM = 8;
/** Each zoom button press doubles or halves the view. */
const ZOOM_STEP = 2;

export type LaneGesture = { kind: "seek"; at: number } | { kind: "loop"; start: number; end: number };

/**
 * What a press at `fromX` lifted at `toX` means, both in px from the waveform's left edge
 * (the whole, zoomed waveform, not the visible part) of `width` px: a seek where it was
 * pressed, or a loop between the two, in either direction.
 */
export function laneGesture(fromX: number, toX: number, width: number, duration: number): LaneGesture {
  const at = (x: number) => (width > 0 ? Math.min(Math.max(0, x / width), 1) * duration : 0);
  if (Math.abs(toX - fromX) < DRAG_PX) return { kind: "seek", at: at(fromX) };
  return { kind: "loop", start: at(Math.min(fromX, toX)), end: at(Math.max(fromX, toX)) };
}

function nearest(grid: readonly number[], at: number): number {
  let best = grid[0] ?? at;
  for (const point of grid) if (Math.abs(point - at) < Math.abs(best - at)) best = point;
  return best;
}

/** The downbeats with one bar more at each end (a bar's length from its neighbour). */
function barGrid(downbeats: readonly number[]): number[] {
  const beats = [...downbeats].filter(Number.isFinite).sort((a, b) => a - b);
  const [first, second] = beats;
  const last = beats[beats.length - 1];
  const before = beats[beats.length - 2];
  if (first === undefined || second === undefined || last === undefined || before === undefined) return beats;
  const lead = first - (second - first);
  // The bar that leads into the first downbeat starts with the song if it started earlier.
  return [...(first > 0 ? [Math.max(0, lead)] : []), ...beats, last + (last - before)];
}

/**
 * A dragged loop moved to whole bars: the start to the nearest downbeat, the end to the
 * nearest downbeat after it, so the loop is at least one bar. The bars before the first
 * downbeat and after the last count as well (their length taken from their neighbours),
 * or the song's first and last bars could never be looped; the caller keeps the loop
 * within the song. Without downbeats the drag stands as it is.
 */
export function snapToBars(start: number, end: number, downbeats: readonly number[]): LoopRegion {
  const grid = barGrid(downbeats);
  if (grid.length === 0) return { start, end };
  const from = nearest(grid, start);
  const after = grid.filter((point) => point > from);
  const firstBar = after[0];
  if (firstBar === undefined) return { start: from, end: Math.max(end, from) };
  return { start: from, end: Math.max(nearest(after, end), firstBar) };
}

/** The loop a drag from `a` to `b` seconds sets: snapped to bars if it can be, within the song. */
export function draggedLoop(
  a: number,
  b: number,
  duration: number,
  downbeats: readonly number[] | undefined,
): LoopRegion | null {
  const region = downbeats?.length ? snapToBars(a, b, downbeats) : { start: a, end: b };
  return normaliseLoop(region.start, region.end, duration);
}

export function clampZoom(zoom: number): number {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Number.isFinite(zoom) ? zoom : MIN_ZOOM));
}

/** The zoom buttons: twice as close in, or back out, within the limits. */
export function steppedZoom(zoom: number, direction: 1 | -1): number {
  return clampZoom(direction > 0 ? zoom * ZOOM_STEP : zoom / ZOOM_STEP);
}

/** A wheel (or trackpad pinch, which Chrome sends as Ctrl+wheel) turn as a zoom factor. */
export function wheelZoom(zoom: number, deltaY: number): number {
  return clampZoom(zoom * Math.exp(-deltaY * 0.002));
}

/**
 * Where the lanes scroll to when the zoom changes, so the moment under `anchor` (px from
 * the lanes' visible left edge) stays under it. `lane` is the visible width.
 */
export function scrollAfterZoom(scroll: number, anchor: number, lane: number, from: number, to: number): number {
  const wanted = ((scroll + anchor) * to) / from - anchor;
  return Math.min(Math.max(0, wanted), Math.max(0, lane * to - lane));
}

/**
 * While playing zoomed in, the lanes turn the page when the playhead leaves the visible
 * part (or is about to), putting it a little in from the left; null leaves them be.
 * `played` is the playhead as a fraction of the song.
 */
export function followScroll(played: number, scroll: number, lane: number, zoom: number): number | null {
  if (zoom <= MIN_ZOOM || lane <= 0) return null;
  const x = played * lane * zoom;
  if (x >= scroll && x <= scroll + lane * 0.95) return null;
  return Math.min(Math.max(0, x - lane * 0.05), lane * zoom - lane);
}

/** Two fingers as they touched: the zoom and scroll then, their distance and midpoint (px). */
export interface PinchStart {
  zoom: number;
  scroll: number;
  distance: number;
  mid: number;
}

/**
 * Two fingers pinching and sliding: the zoom follows their spread, and the moment that was
 * under their midpoint when they touched stays under it wherever it slides.
 */
export function pinchView(
  start: PinchStart,
  distance: number,
  mid: number,
  lane: number,
): { zoom: number; scroll: number } {
  const zoom = start.distance > 0 ? clampZoom((start.zoom * distance) / start.distance) : start.zoom;
  const wanted = ((start.scroll + start.mid) * zoom) / start.zoom - mid;
  return { zoom, scroll: Math.min(Math.max(0, wanted), Math.max(0, lane * zoom - lane)) };
}
