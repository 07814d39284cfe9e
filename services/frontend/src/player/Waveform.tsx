import { memo, useMemo, type CSSProperties } from "react";
import type { WaveformPeaks } from "../api/client";
import type { LoopRegion } from "../lib/sync";
import { type Paint, useLaneCanvas } from "./laneCanvas";

/** The peaks across `width` px: min-max per pixel, or between two bins where a pixel is finer. */
function drawPeaks(g: CanvasRenderingContext2D, peaks: WaveformPeaks, width: number, height: number, colour: string) {
  g.clearRect(0, 0, width, height);
  g.fillStyle = colour;
  const middle = height / 2;
  const { bins, data } = peaks;
  // Each lane is scaled to its own peak, so a quiet stem is as readable as a loud one.
  let loudest = 0;
  for (const value of data) loudest = Math.max(loudest, Math.abs(value));
  const scale = loudest > 0 ? 0.95 / loudest : 1;
  const at = (bin: number, side: 0 | 1) => data[Math.min(bins - 1, Math.max(0, bin)) * 2 + side] ?? 0;
  for (let x = 0; x < width; x++) {
    const from = Math.floor((x / width) * bins);
    const to = Math.floor(((x + 1) / width) * bins);
    let low = 0;
    let high = 0;
    if (to > from) {
      for (let bin = from; bin < to && bin < bins; bin++) {
        low = Math.min(low, at(bin, 0));
        high = Math.max(high, at(bin, 1));
      }
    } else {
      // Zoomed past the peaks' detail: ease from one bin to the next, not a staircase.
      const exact = ((x + 0.5) / width) * bins - 0.5;
      const left = Math.floor(exact);
      const t = exact - left;
      low = at(left, 0) * (1 - t) + at(left + 1, 0) * t;
      high = at(left, 1) * (1 - t) + at(left + 1, 1) * t;
    }
    const top = middle - high * scale * middle;
    g.fillRect(x, top, 1, Math.max(1, (high - low) * scale * middle));
  }
}

interface Props {
  peaks: WaveformPeaks | null;
  duration: number;
  loop: LoopRegion | null;
  colour: string;
  dimmed: boolean;
  label: string;
}

/**
 * One stem's waveform from its peaks JSON, with the loop region, the part already played
 * shaded and the playhead. The playhead and the shade follow the `--played` fraction that
 * the stem list sets once per frame, so no waveform re-renders while the song plays; they
 * move by transform alone, which the browser composites without layout. The waveform is
 * `--zoom` times its lane's width and the lane scrolls; presses and drags on it are the
 * stem list's (useLaneGestures), as is the dragged loop's preview (`--drag-start/end`).
 */
export const Waveform = memo(function Waveform({ peaks, duration, loop, colour, dimmed, label }: Props) {
  const paint = useMemo<Paint | null>(
    () => (peaks ? (g, width, height) => drawPeaks(g, peaks, width, height, colour) : null),
    [peaks, colour],
  );
  const canvas = useLaneCanvas(paint);

  const percent = (seconds: number) => `${duration > 0 ? (seconds / duration) * 100 : 0}%`;
  return (
    <div className="lane" data-testid="lane">
      <div className={`waveform ${dimmed ? "dimmed" : ""}`} style={{ "--lane": colour } as CSSProperties}>
        <div className="played" data-testid="played" aria-hidden="true" />
        <canvas ref={canvas} role="img" aria-label={label} data-testid="waveform" data-drawn={peaks ? "yes" : "no"} />
        <div className="unplayed" aria-hidden="true" />
        {loop && (
          <div
            className="loop-region"
            data-testid="loop-region"
            style={{ left: percent(loop.start), width: percent(loop.end - loop.start) }}
          />
        )}
        <div className="drag-region" aria-hidden="true" />
        <div className="playhead-track" aria-hidden="true">
          <div className="playhead" />
        </div>
      </div>
    </div>
  );
});
