// The stems, one row each: name, loudness, mute/solo, fader, waveform and downloads.
import type { Stem } from "../api/client";
import { formatLufs } from "../lib/format";
import { isAudible } from "../lib/mix";
import { StemDownloads } from "./Downloads";
import { Fader } from "./Fader";
import { StemLoading } from "./Loading";
import { loadOf, mixOf, type PlayerState } from "./playerState";
import type { PlayerControls } from "./usePlayer";
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
  state: PlayerState;
  duration: number;
  controls: PlayerControls;
}

function StemRow({ index, stem, state, duration, controls }: StemRowProps) {
  const mix = mixOf(state, stem.name);
  const audible = isAudible(mix, state.mix);
  const colour = COLOURS[index % COLOURS.length] ?? "#f5a524";
  const select = () => controls.select(index);
  return (
    <li
      className={`stem ${state.selected === index ? "selected" : ""} ${audible ? "" : "silent"}`}
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
          peaks={state.peaks[stem.name] ?? null}
          duration={duration}
          position={state.position}
          loop={state.loop}
          colour={colour}
          dimmed={!audible}
          label={`Waveform of ${stem.name}`}
          onSeek={controls.seek}
        />
        <StemLoading name={stem.name} load={loadOf(state, stem.name)} />
      </div>
      <StemDownloads stem={stem} />
    </li>
  );
}

export function StemStrip({ stems, state, duration, controls }: Omit<StemRowProps, "index" | "stem"> & { stems: Stem[] }) {
  return (
    <ul className="stems" aria-label="Stems">
      {stems.map((stem, index) => (
        <StemRow key={stem.name} index={index} stem={stem} state={state} duration={duration} controls={controls} />
      ))}
    </ul>
  );
}
