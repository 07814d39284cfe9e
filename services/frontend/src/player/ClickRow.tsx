// The click track's strip, under the stems: on/off and a fader like a stem's, and a lane
// that draws the beat grid (bars taller) and zooms, scrolls and takes loop drags with the
// waveforms. Off until asked for; shown only when the job's analysis found beats.
import { memo, useMemo, type CSSProperties } from "react";
import type { LoopRegion } from "../lib/sync";
import type { ClickBeat } from "./click";
import { Fader } from "./Fader";
import { type Paint, useLaneCanvas } from "./laneCanvas";
import type { ClickMix } from "./playerState";

const COLOUR = "#e2e8f0";

/** A tick per beat across `width` px: a bar's first beat full height, the others a third. */
function drawBeats(g: CanvasRenderingContext2D, beats: readonly ClickBeat[], duration: number, width: number, height: number) {
  g.clearRect(0, 0, width, height);
  if (duration <= 0) return;
  const ratio = window.devicePixelRatio || 1;
  for (const beat of beats) {
    const x = Math.round((beat.time / duration) * width);
    const tall = beat.accent ? height * 0.8 : height * 0.34;
    g.fillStyle = beat.accent ? COLOUR : "rgba(226, 232, 240, 0.55)";
    g.fillRect(x, (height - tall) / 2, Math.max(1, Math.round(ratio * (beat.accent ? 2 : 1))), tall);
  }
}

interface LaneProps {
  beats: readonly ClickBeat[];
  duration: number;
  loop: LoopRegion | null;
  dimmed: boolean;
}

/** Built as a Waveform is (see Waveform.tsx), so the stem list's zoom, scroll and drags reach it. */
const BeatLane = memo(function BeatLane({ beats, duration, loop, dimmed }: LaneProps) {
  const paint = useMemo<Paint>(
    () => (g, width, height) => drawBeats(g, beats, duration, width, height),
    [beats, duration],
  );
  const canvas = useLaneCanvas(paint);

  const percent = (seconds: number) => `${duration > 0 ? (seconds / duration) * 100 : 0}%`;
  return (
    <div className="lane" data-testid="lane">
      <div className={`waveform beat-lane ${dimmed ? "dimmed" : ""}`} style={{ "--lane": COLOUR } as CSSProperties}>
        <div className="played" aria-hidden="true" />
        <canvas ref={canvas} role="img" aria-label="Beat grid: a tick per beat, taller on each bar's first" />
        <div className="unplayed" aria-hidden="true" />
        {loop && (
          <div className="loop-region" style={{ left: percent(loop.start), width: percent(loop.end - loop.start) }} />
        )}
        <div className="drag-region" aria-hidden="true" />
        <div className="playhead-track" aria-hidden="true">
          <div className="playhead" />
        </div>
      </div>
    </div>
  );
});

interface ClickRowProps {
  beats: readonly ClickBeat[];
  click: ClickMix;
  loop: LoopRegion | null;
  duration: number;
  onToggle: () => void;
  onFader: (position: number) => void;
}

export const ClickRow = memo(function ClickRow({ beats, click, loop, duration, onToggle, onFader }: ClickRowProps) {
  return (
    <li className={`stem click-row ${click.on ? "" : "silent"}`} data-testid="click-row" aria-label="Click track">
      <div className="stem-head">
        <span className="stem-swatch" style={{ background: COLOUR }} aria-hidden="true" />
        <span className="stem-name">Click</span>
        <span className="stem-lufs">{click.on ? "every beat" : "off"}</span>
        <div className="stem-buttons">
          <button
            type="button"
            className={`toggle wide click-toggle ${click.on ? "on" : ""}`}
            aria-pressed={click.on}
            aria-label="Click track on"
            data-testid="click-toggle"
            onClick={onToggle}
          >
            On
          </button>
        </div>
        <Fader value={click.fader} label="Click volume" onChange={onFader} />
      </div>
      <div className="stem-body">
        <BeatLane beats={beats} duration={duration} loop={loop} dimmed={!click.on} />
      </div>
    </li>
  );
});
