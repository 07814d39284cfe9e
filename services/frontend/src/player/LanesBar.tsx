// Above the lanes: zoom out and in, how close the view is, and an overview of the whole
// song whose window shows (and, pressed or dragged, moves) the part the lanes show.
import type { PointerEvent as ReactPointerEvent, RefObject } from "react";
import { formatClock } from "../lib/format";
import type { LoopRegion } from "../lib/sync";
import { MAX_ZOOM, MIN_ZOOM } from "./lanes";
import type { LaneView } from "./useLaneView";

function zoomWords(zoom: number): string {
  return zoom <= MIN_ZOOM ? "Whole song" : `${zoom < 2 ? zoom.toFixed(1) : Math.round(zoom)}×`;
}

interface LanesBarProps {
  view: LaneView;
  overview: RefObject<HTMLDivElement | null>;
  /** Whether a dragged loop snaps to bars (the song has a beat grid). */
  snaps: boolean;
  loop: LoopRegion | null;
}

export function LanesBar({ view, overview, snaps, loop }: LanesBarProps) {
  const { zoom, zoomBy, centreOn } = view;
  const follow = (event: ReactPointerEvent<HTMLDivElement>) => {
    if (event.type === "pointerdown") event.currentTarget.setPointerCapture(event.pointerId);
    else if (!event.currentTarget.hasPointerCapture(event.pointerId)) return;
    const box = event.currentTarget.getBoundingClientRect();
    centreOn((event.clientX - box.left) / box.width);
  };
  return (
    <div className="lanes-bar" data-testid="lanes-bar">
      <div className="zoom" role="group" aria-label="Zoom">
        <button
          type="button"
          className="button small"
          aria-label="Zoom out"
          disabled={zoom <= MIN_ZOOM}
          onClick={() => zoomBy(-1)}
        >
          −
        </button>
        <span className="zoom-level" aria-live="polite" data-testid="zoom-level">
          {zoomWords(zoom)}
        </span>
        <button
          type="button"
          className="button small"
          aria-label="Zoom in"
          disabled={zoom >= MAX_ZOOM}
          onClick={() => zoomBy(1)}
        >
          +
        </button>
      </div>
      <div
        ref={overview}
        className={`overview ${zoom > MIN_ZOOM ? "zoomed" : ""}`}
        data-testid="overview"
        aria-hidden="true"
        onPointerDown={follow}
        onPointerMove={follow}
      >
        <div className="overview-playhead" />
        <div className="overview-window" />
      </div>
      <p className="lanes-hint muted">
        <span className="on-wide">
          Drag across a waveform to loop{snaps ? " whole bars" : ""}; Ctrl/⌘ + wheel zooms.
        </span>
        {/* A phone's bar has no room for the loop's times; they show here instead. */}
        <span className="on-narrow" data-testid="lanes-loop">
          {loop ? `Loop ${formatClock(loop.start)}–${formatClock(loop.end)}` : `Drag to loop${snaps ? " bars" : ""}`}
          {" · pinch to zoom"}
        </span>
      </p>
    </div>
  );
}
