// Pointer gestures on the waveforms, for a mouse, a pen and fingers alike: a press that
// does not move seeks; one dragged sets a loop (snapped to bars when the song has a beat
// grid), shown while dragging in every lane; two fingers pinch to zoom and slide to scroll.
// The preview is two custom properties on the stem list, so a drag renders nothing.
import { useEffect, useRef, type RefObject } from "react";
import type { LoopRegion } from "../lib/sync";
import { DRAG_PX, draggedLoop, laneGesture, pinchView, type PinchStart } from "./lanes";
import type { LaneView } from "./useLaneView";

export interface LaneGestureOptions {
  duration: number;
  /** The bars' first beats (s), when the job's analysis found them. */
  downbeats: readonly number[] | undefined;
  onSeek: (seconds: number) => void;
  onLoop: (region: LoopRegion) => void;
}

interface Drag {
  id: number;
  waveform: HTMLElement;
  from: number;
  to: number;
}

function pair(points: Map<number, number>): { distance: number; mid: number } {
  const [a = 0, b = 0] = [...points.values()];
  return { distance: Math.abs(a - b), mid: (a + b) / 2 };
}

interface Latest {
  view: LaneView;
  options: LaneGestureOptions;
}

/** The presses now down on the lanes: at most one loop drag, or one two-finger pinch. */
class LaneGestures {
  private readonly points = new Map<number, number>();
  private drag: Drag | null = null;
  private pinch: (PinchStart & { left: number }) | null = null;

  constructor(
    private readonly list: HTMLElement,
    private readonly latest: { current: Latest },
  ) {}

  down(event: PointerEvent): void {
    const waveform = event.target instanceof Element ? event.target.closest<HTMLElement>(".waveform") : null;
    if (!waveform || (event.pointerType === "mouse" && event.button !== 0)) return;
    waveform.setPointerCapture(event.pointerId);
    this.points.set(event.pointerId, event.clientX);
    if (this.points.size === 1) {
      const x = event.clientX - waveform.getBoundingClientRect().left;
      this.drag = { id: event.pointerId, waveform, from: x, to: x };
    } else if (this.points.size === 2) {
      // A second finger turns the press into a pinch; the loop drag is forgotten.
      this.drag = null;
      this.preview(null);
      const { zoom, scroll } = this.latest.current.view.current();
      const left = (waveform.parentElement ?? waveform).getBoundingClientRect().left;
      const { distance, mid } = pair(this.points);
      this.pinch = { zoom, scroll, distance, mid: mid - left, left };
    }
  }

  move(event: PointerEvent): void {
    if (!this.points.has(event.pointerId)) return;
    this.points.set(event.pointerId, event.clientX);
    const { drag, pinch } = this;
    if (pinch && this.points.size === 2) {
      const { view } = this.latest.current;
      const { distance, mid } = pair(this.points);
      const next = pinchView(pinch, distance, mid - pinch.left, view.current().lane);
      view.setView(next.zoom, next.scroll);
    } else if (drag && drag.id === event.pointerId) {
      drag.to = event.clientX - drag.waveform.getBoundingClientRect().left;
      if (Math.abs(drag.to - drag.from) >= DRAG_PX) this.preview(this.region(drag));
    }
  }

  end(event: PointerEvent): void {
    if (!this.points.delete(event.pointerId)) return;
    if (this.points.size < 2) this.pinch = null;
    const drag = this.drag;
    if (!drag || drag.id !== event.pointerId) return;
    this.drag = null;
    this.preview(null);
    if (event.type === "pointercancel") return;
    const { duration, onSeek, onLoop } = this.latest.current.options;
    const gesture = laneGesture(drag.from, drag.to, drag.waveform.clientWidth, duration);
    if (gesture.kind === "seek") return onSeek(gesture.at);
    const region = this.region(drag);
    if (region) onLoop(region);
  }

  private region(drag: Drag): LoopRegion | null {
    const { duration, downbeats } = this.latest.current.options;
    const gesture = laneGesture(drag.from, drag.to, drag.waveform.clientWidth, duration);
    return gesture.kind === "loop" ? draggedLoop(gesture.start, gesture.end, duration, downbeats) : null;
  }

  private preview(region: LoopRegion | null): void {
    const { duration } = this.latest.current.options;
    this.list.classList.toggle("dragging", region !== null);
    if (!region || duration <= 0) return;
    this.list.style.setProperty("--drag-start", String(region.start / duration));
    this.list.style.setProperty("--drag-end", String(region.end / duration));
  }
}

export function useLaneGestures(
  list: RefObject<HTMLElement | null>,
  view: LaneView,
  options: LaneGestureOptions,
): void {
  const latest = useRef<Latest>({ view, options });
  latest.current = { view, options };

  useEffect(() => {
    const element = list.current;
    if (!element) return;
    const gestures = new LaneGestures(element, latest);
    const down = (event: PointerEvent) => gestures.down(event);
    const move = (event: PointerEvent) => gestures.move(event);
    const end = (event: PointerEvent) => gestures.end(event);
    element.addEventListener("pointerdown", down);
    element.addEventListener("pointermove", move);
    element.addEventListener("pointerup", end);
    element.addEventListener("pointercancel", end);
    return () => {
      element.removeEventListener("pointerdown", down);
      element.removeEventListener("pointermove", move);
      element.removeEventListener("pointerup", end);
      element.removeEventListener("pointercancel", end);
    };
  }, [list]);
}
