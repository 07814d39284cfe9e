// A lane's canvas (a stem's waveform, the click's beat grid): sized to its element in
// device pixels, and painted again whenever the element resizes (zoom, a turned phone).
import { useEffect, useRef } from "react";

/** Browsers refuse wider canvases; at 8× on a wide screen the lane is drawn a little scaled. */
const MAX_CANVAS_PX = 16384;

export type Paint = (g: CanvasRenderingContext2D, width: number, height: number) => void;

/** The ref for the lane's <canvas>; `paint` (memoised on what it draws) null draws nothing. */
export function useLaneCanvas(paint: Paint | null) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const element = canvas.current;
    if (!element || !paint) return;
    const draw = () => {
      const ratio = window.devicePixelRatio || 1;
      element.width = Math.max(1, Math.min(MAX_CANVAS_PX, Math.floor(element.clientWidth * ratio)));
      element.height = Math.max(1, Math.floor(element.clientHeight * ratio));
      const g = element.getContext("2d");
      if (g) paint(g, element.width, element.height);
    };
    draw();
    const observer = new ResizeObserver(draw);
    observer.observe(element);
    return () => observer.disconnect();
  }, [paint]);
  return canvas;
}
