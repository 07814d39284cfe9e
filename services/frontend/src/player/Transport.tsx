// Play/pause, the clock, the playhead timeline, the loop and the master fader. On a phone
// the bar (play, clock, timeline, loop) is fixed at the bottom of the screen, in thumb's
// reach; the master fader stays in the page.
import { useId, type CSSProperties } from "react";
import { formatClock } from "../lib/format";
import type { LoopRegion } from "../lib/sync";
import { Fader } from "./Fader";
import { LoadingNote } from "./Loading";
import { canPlay, readyCount, type PlayerState } from "./playerState";
import type { PlayerControls } from "./usePlayer";

function Timeline({
  position,
  duration,
  loop,
  onSeek,
}: {
  position: number;
  duration: number;
  loop: LoopRegion | null;
  onSeek: (seconds: number) => void;
}) {
  return (
    <div
      className="timeline"
      role="slider"
      tabIndex={0}
      aria-label="Playhead"
      aria-valuemin={0}
      aria-valuemax={Math.round(duration)}
      aria-valuenow={Math.round(position)}
      aria-valuetext={`${formatClock(position)} of ${formatClock(duration)}`}
      data-testid="timeline"
      onClick={(event) => {
        const box = event.currentTarget.getBoundingClientRect();
        onSeek(((event.clientX - box.left) / box.width) * duration);
      }}
    >
      {loop && (
        <div
          className="loop-region"
          style={{ left: `${(loop.start / duration) * 100}%`, width: `${((loop.end - loop.start) / duration) * 100}%` }}
        />
      )}
      <div className="timeline-fill" style={{ "--played": duration ? position / duration : 0 } as CSSProperties} />
    </div>
  );
}

/** A loop-edge button: its full words on a wide screen, A or B (as on a tape deck) on a phone. */
function MarkButton({ edge, onMark }: { edge: "start" | "end"; onMark: () => void }) {
  const words = edge === "start" ? "Loop from here" : "Loop to here";
  return (
    <button
      type="button"
      className="button small mark"
      onClick={onMark}
      aria-label={words}
      aria-keyshortcuts={edge === "start" ? "[" : "]"}
    >
      <span className="on-wide">{words}</span>
      <span className="on-narrow" aria-hidden="true">
        {edge === "start" ? "A" : "B"}
      </span>
    </button>
  );
}

interface LoopControlsProps {
  loop: LoopRegion | null;
  duration: number;
  controls: PlayerControls;
}

function LoopControls({ loop, duration, controls }: LoopControlsProps) {
  // The range's room is kept while the loop is off, so turning it on moves nothing.
  const room = `${formatClock(duration).length * 2 + 1}ch`;
  const rangeId = useId();
  return (
    <div className="loop-controls">
      <MarkButton edge="start" onMark={() => controls.markLoop("start")} />
      <MarkButton edge="end" onMark={() => controls.markLoop("end")} />
      <button
        type="button"
        className={`toggle wide loop-toggle ${loop ? "on" : ""}`}
        aria-pressed={loop !== null}
        aria-describedby={rangeId}
        onClick={controls.toggleLoop}
        aria-keyshortcuts="L"
      >
        Loop
      </button>
      <span id={rangeId} className="loop-range" style={{ minWidth: room }} data-testid="loop-range">
        {loop ? `${formatClock(loop.start)}–${formatClock(loop.end)}` : ""}
      </span>
    </div>
  );
}

export function Transport({
  state,
  duration,
  controls,
}: {
  state: PlayerState;
  duration: number;
  controls: PlayerControls;
}) {
  return (
    <section className="transport panel" aria-label="Transport">
      <div className="transport-bar" data-testid="transport-bar">
        <button
          type="button"
          className="button play"
          onClick={() => void controls.togglePlay()}
          disabled={!canPlay(state)}
          aria-keyshortcuts="Space"
          data-testid="play"
        >
          {state.playing ? "Pause" : "Play"}
        </button>
        <div className="clock" aria-live="off" data-testid="clock">
          <span>{formatClock(state.position)}</span>
          <span className="muted clock-total"> / {formatClock(duration)}</span>
        </div>
        <Timeline position={state.position} duration={duration} loop={state.loop} onSeek={controls.seek} />
        <LoopControls loop={state.loop} duration={duration} controls={controls} />
      </div>
      <div className="master">
        <span>Master</span>
        <Fader value={state.master} label="Master volume" onChange={controls.setMaster} />
      </div>
      <LoadingNote ready={readyCount(state)} total={state.mix.length} />
    </section>
  );
}
