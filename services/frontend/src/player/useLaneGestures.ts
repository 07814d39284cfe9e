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

export function useLaneGestures(
  list: RefObject<HTMLElement | null>,
  view: LaneView,
  options: LaneGestureOptions,
): void {
  const latest = useRef({ view, options });
  latest.current = { view, options };

  useEffect(() => {
    const element = list.current;
    if (!element) return;
    const points = new Map<number, number>();
    let drag: Drag | null = null;
    let pinch: (PinchStart & { left: number }) | null = null;

    const preview = (region: LoopRegion | null) => {
      const { duration } = latest.current.options;
      element.classList.toggle("dragging", region !== null);
      if (!region || duration <= 0) return;
      element.style.setProperty("--drag-start", String(region.start / duration));
      element.style.setProperty("--drag-end", String(region.end / duration));
    };
    const dragRegion = (d: Drag) => {
      const { duration, downbeats } = latest.current.options;
      const gesture = laneGesture(d.from, d.to, d.waveform.clientWidth, duration);
      return gesture.kind === "loop" ? draggedLoop(gesture.start, gesture.end, duration, downbeats) : null;
    };

    const onDown = (event: PointerEvent) => {
      const waveform = event.target instanceof Element ? event.target.closest<HTMLElement>(".waveform") : null;
      if (!waveform || (event.pointerType === "mouse" && event.button !== 0)) return;
      waveform.setPointerCapture(event.pointerId);
      points.set(event.pointerId, event.clientX);
      if (points.size === 1) {
        const x = event.clientX - waveform.getBoundingClientRect().left;
        drag = { id: event.pointerId, waveform, from: x, to: x };
      } else if (points.size === 2) {
        // A second finger turns the press into a pinch; the loop drag is forgotten.
        drag = null;
        preview(null);
        const { zoom, scroll } = latest.current.view.current();
        const left = (waveform.parentElement ?? waveform).getBoundingClientRect().left;
        const { distance, mid } = pair(points);
        pinch = { zoom, scroll, distance, mid: mid - left, left };
      }
    };
    const onMove = (event: PointerEvent) => {
      if (!points.has(event.pointerId)) return;
      points.set(event.pointerId, event.clientX);
      if (pinch && points.size === 2) {
        const { distance, mid } = pair(points);
        const next = pinchView(pinch, distance, mid - pinch.left, latest.current.view.current().lane);
        latest.current.view.setView(next.zoom, next.scroll);
      } else if (drag && drag.id === event.pointerId) {
        drag.to = event.clientX - drag.waveform.getBoundingClientRect().left;
        if (Math.abs(drag.to - drag.from) >= DRAG_PX) preview(dragRegion(drag));
      }
    };
    const onEnd = (event: PointerEvent) => {
      if (!points.delete(event.pointerId)) return;
      if (points.size < 2) pinch = null;
      const d = drag;
      if (!d || d.id !== event.pointerId) return;
      drag = null;
      preview(null);
      if (event.type === "pointercancel") return;
      const { duration, onSeek, onLoop } = latest.current.options;
      const gesture = laneGesture(d.from, d.to, d.waveform.clientWidth, duration);
      if (gesture.kind === "seek") return onSeek(gesture.at);
      const region = dragRegion(d);
      if (region) onLoop(region);
    };

    element.addEventListener("pointerdown", onDown);
    element.addEventListener("pointermove", onMove);
    element.addEventListener("pointerup", onEnd);
    element.addEventListener("pointercancel", onEnd);
    return () => {
      element.removeEventListener("pointerdown", onDown);
      element.removeEventListener("pointermove", onMove);
      element.removeEventListener("pointerup", onEnd);
      element.removeEventListener("pointercancel", onEnd);
    };
  }, [list]);
}
