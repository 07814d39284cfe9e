import { memo, useEffect, useRef, type CSSProperties } from "react";
import type { WaveformPeaks } from "../api/client";
import type { LoopRegion } from "../lib/sync";

interface Props {
  peaks: WaveformPeaks | null;
  duration: number;
  loop: LoopRegion | null;
  colour: string;
  dimmed: boolean;
  label: string;
  onSeek: (seconds: number) => void;
}

/**
 * One stem's waveform from its peaks JSON, with the loop region, the part already played
 * shaded and the playhead. The playhead and the shade follow the `--played` fraction that
 * the stem list sets once per frame, so no waveform re-renders while the song plays; they
 * move by transform alone, which the browser composites without layout.
 */
export const Waveform = memo(function Waveform({ peaks, duration, loop, colour, dimmed, label, onSeek }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const element = canvas.current;
    if (!element || !peaks) return;
    const draw = () => {
      const ratio = window.devicePixelRatio || 1;
      const width = Math.max(1, Math.floor(element.clientWidth * ratio));
      const height = Math.max(1, Math.floor(element.clientHeight * ratio));
      element.width = width;
      element.height = height;
      const g = element.getContext("2d");
      if (!g) return;
      g.clearRect(0, 0, width, height);
      g.fillStyle = colour;
      const middle = height / 2;
      const bins = peaks.bins;
      // Each lane is scaled to its own peak, so a quiet stem is as readable as a loud one.
      let loudest = 0;
      for (const value of peaks.data) loudest = Math.max(loudest, Math.abs(value));
      const scale = loudest > 0 ? 0.95 / loudest : 1;
      for (let x = 0; x < width; x++) {
        const from = Math.floor((x / width) * bins);
        const to = Math.max(from + 1, Math.floor(((x + 1) / width) * bins));
        let low = 0;
        let high = 0;
        for (let bin = from; bin < to && bin < bins; bin++) {
          low = Math.min(low, peaks.data[bin * 2] ?? 0);
          high = Math.max(high, peaks.data[bin * 2 + 1] ?? 0);
        }
        const top = middle - high * scale * middle;
        g.fillRect(x, top, 1, Math.max(1, (high - low) * scale * middle));
      }
    };
    draw();
    const observer = new ResizeObserver(draw);
    observer.observe(element);
    return () => observer.disconnect();
  }, [peaks, colour]);

  const percent = (seconds: number) => `${duration > 0 ? (seconds / duration) * 100 : 0}%`;
  return (
    <div
      className={`waveform ${dimmed ? "dimmed" : ""}`}
      style={{ "--lane": colour } as CSSProperties}
      onClick={(event) => {
        const box = event.currentTarget.getBoundingClientRect();
        onSeek(((event.clientX - box.left) / box.width) * duration);
      }}
    >
      <div className="played" data-testid="played" aria-hidden="true" />
      <canvas ref={canvas} role="img" aria-label={label} data-testid="waveform" data-drawn={peaks ? "yes" : "no"} />
      <div className="unplayed" aria-hidden="true" />
      {loop && <div className="loop-region" style={{ left: percent(loop.start), width: percent(loop.end - loop.start) }} />}
      <div className="playhead-track" aria-hidden="true">
        <div className="playhead" />
      </div>
    </div>
  );
});
