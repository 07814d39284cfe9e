// The player screen for a finished job: every stem in sync, with its own fader,
// mute and solo, and the ways to take the stems away.
import { useCallback } from "react";
import { Link } from "react-router-dom";
import type { Job } from "../api/client";
import { HelpOverlay } from "../components/HelpOverlay";
import { formatClock } from "../lib/format";
import { formatDb } from "../lib/mix";
import { strategyWords } from "../lib/strategyWords";
import { Transport } from "./Transport";
import { DownloadsPanel } from "./Downloads";
import { canExport } from "./playerState";
import { exportExtras } from "./renderMix";
import { StemStrip } from "./StemStrip";
import { TempoPitchControls } from "./TempoPitch";
import { usePlayer } from "./usePlayer";
import { usePlayerKeyboard } from "./usePlayerKeyboard";
import "./player.css";

export function Player({ job }: { job: Job }) {
  const player = usePlayer(job);
  usePlayerKeyboard(player);
  const { state, duration, controls } = player;
  const { setHelpOpen } = controls;
  // Stable, or the dialog would move focus back to its Close button on every frame drawn.
  const closeHelp = useCallback(() => setHelpOpen(false), [setHelpOpen]);
  return (
    <div className="page player">
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link to="/jobs">Jobs</Link> / player
          </p>
          <h1>{job.source.name}</h1>
          <p className="muted">
            {strategyWords(job)} · {job.stems.length} stems · {formatClock(duration)}
            {job.gain_db < 0 && ` · turned down ${formatDb(job.gain_db)} to avoid clipping`}
          </p>
        </div>
        <button type="button" className="button" onClick={() => controls.setHelpOpen(true)} aria-keyshortcuts="?">
          Shortcuts <kbd>?</kbd>
        </button>
      </div>
      <Transport state={state} duration={duration} controls={controls} />
      <TempoPitchControls
        value={player.tempoPitch}
        bpm={job.analysis?.bpm ?? null}
        songKey={job.analysis?.key ?? null}
        error={player.tempoPitchError}
        onChange={controls.setTempoPitch}
      />
      <StemStrip
        stems={job.stems}
        state={state}
        duration={duration}
        controls={controls}
        downbeats={job.analysis?.downbeats}
        clickBeats={player.clickBeats}
      />
      <DownloadsPanel
        zipUrl={job.zip_url}
        master={state.master}
        canExport={canExport(state)}
        exporting={state.exporting}
        exportError={state.exportError}
        exportExtras={exportExtras(player.tempoPitch, state.loop, state.click.on)}
        onExport={() => void controls.exportMix()}
      />
      {state.helpOpen && <HelpOverlay onClose={closeHelp} />}
    </div>
  );
}
