// The stems, one row each: name, loudness, mute/solo, fader, waveform and downloads.
import { memo, useRef, type CSSProperties } from "react";
import type { Stem, WaveformPeaks } from "../api/client";
import { formatLufs } from "../lib/format";
import { isAudible, type StemMix } from "../lib/mix";
import type { LoopRegion } from "../lib/sync";
import type { ClickBeat } from "./click";
import { ClickRow } from "./ClickRow";
import { StemDownloads } from "./Downloads";
import { Fader } from "./Fader";
import { StemLoading } from "./Loading";
import { loadOf, mixOf, type PlayerState, type StemLoad } from "./playerState";
import type { PlayerControls } from "./usePlayer";
import { LanesBar } from "./LanesBar";
import { useLaneGestures } from "./useLaneGestures";
import { useLaneView } from "./useLaneView";
import { Waveform } from "./Waveform";

/** A colour per lane, so a stem is the same colour in every row and on every visit. */
const COLOURS = ["#f5a524", "#4fd1c5", "#9f7aea", "#f56565", "#63b3ed", "#68d391", "#ed64a6", "#ecc94b"];

function Toggle({ kind, on, label, onClick }: { kind: "mute" | "solo"; on: boolean; label: string; onClick: () => void }) {
  return (
    <button type="button" className={`toggle ${kind} ${on ? "on" : ""}`} aria-pressed={on} aria-label={label} onClick={onClick}>
      {kind === "mute" ? "M" : "S"}
    </button>
  );
}

interface StemRowProps {
  index: number;
  stem: Stem;
  mix: StemMix;
  audible: boolean;
  selected: boolean;
  load: StemLoad;
  peaks: WaveformPeaks | null;
  loop: LoopRegion | null;
  duration: number;
  controls: PlayerControls;
}

// Memoised, and given only what it shows: while the song plays only the playhead moves,
// and that is the list's `--played`, so no row renders again per frame.
const StemRow = memo(function StemRow(props: StemRowProps) {
  const { index, stem, mix, audible, selected, load, peaks, loop, duration, controls } = props;
  const colour = COLOURS[index % COLOURS.length] ?? "#f5a524";
  const select = () => controls.select(index);
  return (
    <li
      className={`stem ${selected ? "selected" : ""} ${audible ? "" : "silent"}`}
      data-testid="stem-row"
      data-stem={stem.name}
      aria-label={`Stem ${index + 1}: ${stem.name}`}
      onFocus={select}
      onClick={select}
    >
      <div className="stem-head">
        <span className="stem-swatch" style={{ background: colour }} aria-hidden="true" />
        <span className="stem-name">{stem.name}</span>
        <span className="stem-lufs" title="Integrated loudness">
          {formatLufs(stem.lufs)}
        </span>
        <div className="stem-buttons">
          <Toggle kind="mute" on={mix.muted} label={`Mute ${stem.name}`} onClick={() => controls.toggleMute(stem.name)} />
          <Toggle kind="solo" on={mix.soloed} label={`Solo ${stem.name}`} onClick={() => controls.toggleSolo(stem.name)} />
        </div>
        <Fader value={mix.fader} label={`${stem.name} volume`} onChange={(value) => controls.setFader(stem.name, value)} />
      </div>
      <div className="stem-body">
        <Waveform
          peaks={peaks}
          duration={duration}
          loop={loop}
          colour={colour}
          dimmed={!audible}
          label={`Waveform of ${stem.name}`}
        />
        <StemLoading name={stem.name} load={load} />
      </div>
      <StemDownloads stem={stem} />
    </li>
  );
});

interface StemStripProps {
  stems: Stem[];
  state: PlayerState;
  duration: number;
  controls: PlayerControls;
  /** The bars' first beats (s) from the job's analysis, for snapping a dragged loop. */
  downbeats?: readonly number[];
  /** The click track's beats; none, no click row. */
  clickBeats: readonly ClickBeat[];
}

export function StemStrip({ stems, state, duration, controls, downbeats, clickBeats }: StemStripProps) {
  const played = duration > 0 ? Math.min(1, Math.max(0, state.position / duration)) : 0;
  const list = useRef<HTMLUListElement>(null);
  const overview = useRef<HTMLDivElement>(null);
  const view = useLaneView(list, overview, played);
  useLaneGestures(list, view, { duration, downbeats, onSeek: controls.seek, onLoop: controls.setLoopRange });
  return (
    <div className="lanes" style={{ "--played": played } as CSSProperties}>
      <LanesBar view={view} overview={overview} snaps={Boolean(downbeats?.length)} loop={state.loop} />
      <ul ref={list} className="stems" aria-label="Stems">
        {stems.map((stem, index) => {
          const mix = mixOf(state, stem.name);
          return (
            <StemRow
              key={stem.name}
              index={index}
              stem={stem}
              mix={mix}
              audible={isAudible(mix, state.mix)}
              selected={state.selected === index}
              load={loadOf(state, stem.name)}
              peaks={state.peaks[stem.name] ?? null}
              loop={state.loop}
              duration={duration}
              controls={controls}
            />
          );
        })}
        {clickBeats.length > 0 && (
          <ClickRow
            beats={clickBeats}
            click={state.click}
            loop={state.loop}
            duration={duration}
            onToggle={controls.toggleClick}
            onFader={controls.setClickFader}
          />
        )}
      </ul>
    </div>
  );
}
