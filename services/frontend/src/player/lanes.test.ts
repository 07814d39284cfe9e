import { describe, expect, it } from "vitest";
import {
  clampZoom,
  DRAG_PX,
  draggedLoop,
  followScroll,
  laneGesture,
  MAX_ZOOM,
  pinchView,
  scrollAfterZoom,
  snapToBars,
  steppedZoom,
  wheelZoom,
} from "./lanes";

describe("a press on a waveform", () => {
  it("that barely moves is a seek to where it was pressed", () => {
    expect(laneGesture(250, 250, 1000, 200)).toEqual({ kind: "seek", at: 50 });
    expect(laneGesture(250, 250 + DRAG_PX - 1, 1000, 200)).toEqual({ kind: "seek", at: 50 });
  });

  it("dragged is a loop between the two points, either way", () => {
    expect(laneGesture(100, 300, 1000, 200)).toEqual({ kind: "loop", start: 20, end: 60 });
    expect(laneGesture(300, 100, 1000, 200)).toEqual({ kind: "loop", start: 20, end: 60 });
  });

  it("dragged off either end of the lane stops at the song's ends", () => {
    expect(laneGesture(-50, 1200, 1000, 200)).toEqual({ kind: "loop", start: 0, end: 200 });
  });

  it("on a zoomed lane counts px of the whole waveform", () => {
    // 4× zoom: the waveform is 4000 px wide; 2000 px in is the middle of the song.
    expect(laneGesture(2000, 2400, 4000, 200)).toEqual({ kind: "loop", start: 100, end: 120 });
  });
});

describe("snapping a loop to bars", () => {
  // Bars of 2 s from 0.5 s: 0.5, 2.5, 4.5, 6.5, 8.5.
  const DOWNBEATS = [0.5, 2.5, 4.5, 6.5, 8.5];

  it("moves each end to the nearest downbeat", () => {
    expect(snapToBars(2.2, 6.9, DOWNBEATS)).toEqual({ start: 2.5, end: 6.5 });
    expect(snapToBars(3.4, 5.6, DOWNBEATS)).toEqual({ start: 2.5, end: 6.5 });
  });

  it("keeps at least one bar, however short the drag", () => {
    expect(snapToBars(4.4, 4.7, DOWNBEATS)).toEqual({ start: 4.5, end: 6.5 });
  });

  it("can loop the last bar, after the last downbeat", () => {
    expect(snapToBars(8.3, 10.4, DOWNBEATS)).toEqual({ start: 8.5, end: 10.5 });
  });

  it("can loop the first bar, before the first downbeat", () => {
    expect(snapToBars(0.8, 2.3, [2.5, 4.5, 6.5])).toEqual({ start: 0.5, end: 2.5 });
    // A bar that would start before the song starts with the song.
    expect(snapToBars(0.2, 1.9, [1, 3, 5])).toEqual({ start: 0, end: 1 });
  });

  it("reads downbeats in any order and ignores what is not a number", () => {
    expect(snapToBars(2.2, 6.9, [6.5, Number.NaN, 0.5, 4.5, 2.5])).toEqual({ start: 2.5, end: 6.5 });
  });

  it("leaves the drag as it is without a beat grid", () => {
    expect(snapToBars(1.23, 4.56, [])).toEqual({ start: 1.23, end: 4.56 });
  });

  it("with a single downbeat starts there and keeps the dragged end", () => {
    expect(snapToBars(0.7, 3.1, [0.5])).toEqual({ start: 0.5, end: 3.1 });
  });
});

describe("the loop a drag sets", () => {
  it("snaps to bars when the song has downbeats, and stays within the song", () => {
    expect(draggedLoop(2.2, 6.9, 10, [0.5, 2.5, 4.5, 6.5, 8.5])).toEqual({ start: 2.5, end: 6.5 });
    expect(draggedLoop(8.3, 10, 10, [0.5, 2.5, 4.5, 6.5, 8.5])).toEqual({ start: 8.5, end: 10 });
  });

  it("is the drag itself with no beat grid (none yet, or none found)", () => {
    expect(draggedLoop(1.25, 3.5, 10, undefined)).toEqual({ start: 1.25, end: 3.5 });
    expect(draggedLoop(1.25, 3.5, 10, [])).toEqual({ start: 1.25, end: 3.5 });
  });

  it("is no loop when too short to hear", () => {
    expect(draggedLoop(1, 1.01, 10, undefined)).toBeNull();
  });
});

describe("zoom", () => {
  it("stays between the whole song and 8×", () => {
    expect(clampZoom(0.5)).toBe(1);
    expect(clampZoom(20)).toBe(MAX_ZOOM);
    expect(clampZoom(Number.NaN)).toBe(1);
  });

  it("doubles and halves with the buttons, within the limits", () => {
    expect(steppedZoom(1, 1)).toBe(2);
    expect(steppedZoom(2, -1)).toBe(1);
    expect(steppedZoom(1, -1)).toBe(1);
    expect(steppedZoom(MAX_ZOOM, 1)).toBe(MAX_ZOOM);
  });

  it("follows the wheel: up zooms in, down zooms out, by the same factor", () => {
    const closer = wheelZoom(2, -100);
    expect(closer).toBeGreaterThan(2);
    expect(wheelZoom(closer, 100)).toBeCloseTo(2, 10);
  });

  it("keeps the moment under the pointer where it was", () => {
    // 1000 px lane at 1×, pointer at 250 px (a quarter in); at 2× that moment is at 500 px.
    expect(scrollAfterZoom(0, 250, 1000, 1, 2)).toBe(250);
    // Zoomed at 2×, scrolled 400: the pointer at 100 px is 500 px in; at 4× that is 1000.
    expect(scrollAfterZoom(400, 100, 1000, 2, 4)).toBe(900);
  });

  it("never scrolls past either end", () => {
    expect(scrollAfterZoom(0, 0, 1000, 2, 1)).toBe(0);
    expect(scrollAfterZoom(1000, 1000, 1000, 2, 1)).toBe(0);
    expect(scrollAfterZoom(0, 1000, 1000, 1, 2)).toBe(1000);
  });
});

describe("following the playhead when zoomed", () => {
  it("leaves the lanes alone at 1× or while the playhead is in view", () => {
    expect(followScroll(0.9, 0, 1000, 1)).toBeNull();
    expect(followScroll(0.3, 500, 1000, 2)).toBeNull();
  });

  it("turns the page when the playhead reaches the right edge", () => {
    // 2×, showing 0 … 1000 of 2000 px; the playhead at 0.49 is 980 px in.
    expect(followScroll(0.49, 0, 1000, 2)).toBe(930);
  });

  it("goes back when the playhead jumped behind the view (a loop wrapped)", () => {
    expect(followScroll(0.1, 1000, 1000, 2)).toBe(150);
  });

  it("never scrolls past the end", () => {
    expect(followScroll(1, 0, 1000, 2)).toBe(1000);
  });
});

describe("a pinch", () => {
  const START = { zoom: 1, scroll: 0, distance: 100, mid: 250 };

  it("zooms by the fingers' spread, keeping the moment between them in place", () => {
    expect(pinchView(START, 200, 250, 1000)).toEqual({ zoom: 2, scroll: 250 });
  });

  it("slides the lanes with the fingers", () => {
    // Spread to 2× and moved 100 px left: the view is 100 px further on.
    expect(pinchView(START, 200, 150, 1000)).toEqual({ zoom: 2, scroll: 350 });
  });

  it("stops at the zoom limits and the lanes' ends", () => {
    expect(pinchView(START, 5000, 250, 1000).zoom).toBe(MAX_ZOOM);
    expect(pinchView(START, 50, 250, 1000)).toEqual({ zoom: 1, scroll: 0 });
  });
});
