// Play/pause, the clock, the playhead timeline, the loop and the master fader.
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
      <div className="timeline-fill" style={{ width: `${duration ? (position / duration) * 100 : 0}%` }} />
    </div>
  );
}

function LoopControls({ loop, controls }: { loop: LoopRegion | null; controls: PlayerControls }) {
  return (
    <div className="loop-controls">
      <button type="button" className="button small" onClick={() => controls.markLoop("start")} aria-keyshortcuts="[">
        Loop from here
      </button>
      <button type="button" className="button small" onClick={() => controls.markLoop("end")} aria-keyshortcuts="]">
        Loop to here
      </button>
      <button
        type="button"
        className={`toggle wide ${loop ? "on" : ""}`}
        aria-pressed={loop !== null}
        onClick={controls.toggleLoop}
        aria-keyshortcuts="L"
      >
        Loop{loop ? ` ${formatClock(loop.start)}–${formatClock(loop.end)}` : ""}
      </button>
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
        <span className="muted"> / {formatClock(duration)}</span>
      </div>
      <Timeline position={state.position} duration={duration} loop={state.loop} onSeek={controls.seek} />
      <LoopControls loop={state.loop} controls={controls} />
      <div className="master">
        <span>Master</span>
        <Fader value={state.master} label="Master volume" onChange={controls.setMaster} />
      </div>
      <LoadingNote ready={readyCount(state)} total={state.mix.length} />
    </section>
  );
}
