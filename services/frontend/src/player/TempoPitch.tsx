// Practice controls: tempo 50–150 % without changing pitch, pitch ±12 semitones without
// changing tempo. At 100 % and 0 the player plays its plain, sample-accurate path.
import { useId } from "react";
import { shiftedKeyName, type SongKey } from "./musicalKey";
import {
  clampSemitones,
  clampTempo,
  formatBpm,
  formatSemitones,
  formatTempo,
  isNatural,
  NATURAL,
  SEMITONES_MAX,
  TEMPO_MAX,
  TEMPO_MIN,
  stretchSupported,
  type TempoPitch,
} from "./stretch";
import "./tempoPitch.css";

interface SliderProps {
  label: string;
  disabled: boolean;
  min: number;
  max: number;
  value: number;
  text: string;
  testId: string;
  onChange: (value: number) => void;
  /** Where a double-click puts it back. */
  home: number;
}

function Slider({ label, disabled, min, max, value, text, testId, onChange, home }: SliderProps) {
  const id = useId();
  return (
    <div className="tp-slider">
      <label htmlFor={id}>{label}</label>
      <div className="fader">
        <input
          id={id}
          type="range"
          min={min}
          max={max}
          step={1}
          value={value}
          disabled={disabled}
          aria-valuetext={text}
          onChange={(event) => onChange(Number(event.target.value))}
          onDoubleClick={() => onChange(home)}
        />
      </div>
      <output htmlFor={id} className="tp-value" data-testid={testId}>
        {text}
      </output>
    </div>
  );
}

/** The song's key as it sounds now, and what it was when shifted. */
function KeyReadout({ songKey, semitones }: { songKey: SongKey; semitones: number }) {
  const now = shiftedKeyName(songKey, semitones);
  if (!now) return null;
  // Below about 0.5 the analysis reads the key as a guess (see KeyPublic.confidence).
  const guess = songKey.confidence < 0.5;
  return (
    <p className="tp-key" data-testid="song-key">
      Key <strong>{now}</strong>
      {guess && <span className="muted"> (a guess)</span>}
      {semitones !== 0 && <span className="muted"> · {songKey.name} as recorded</span>}
    </p>
  );
}

/** The song's tempo as it plays now, and as recorded when the tempo is not 100 %. */
function BpmReadout({ bpm, tempo }: { bpm: number; tempo: number }) {
  return (
    <p className="tp-key" data-testid="song-bpm">
      <strong>{formatBpm(bpm, tempo)}</strong>
      {tempo !== 1 && <span className="muted"> · {formatBpm(bpm)} as recorded</span>}
    </p>
  );
}

export function TempoPitchControls({
  value,
  bpm,
  songKey,
  error,
  onChange,
}: {
  value: TempoPitch;
  /** The song's tempo (beats per minute) from the job's analysis, when it found a steady beat. */
  bpm: number | null;
  /** The song's key from the job's analysis, when it found one. */
  songKey: SongKey | null;
  error: string | null;
  onChange: (next: TempoPitch) => void;
}) {
  const supported = stretchSupported();
  return (
    <section className="tempo-pitch panel" aria-label="Tempo and pitch">
      <Slider
        label="Tempo"
        disabled={!supported}
        min={TEMPO_MIN * 100}
        max={TEMPO_MAX * 100}
        value={Math.round(value.tempo * 100)}
        text={formatTempo(value.tempo)}
        testId="tempo-value"
        home={100}
        onChange={(percent) => onChange({ ...value, tempo: clampTempo(percent / 100) })}
      />
      <Slider
        label="Pitch"
        disabled={!supported}
        min={-SEMITONES_MAX}
        max={SEMITONES_MAX}
        value={value.semitones}
        text={formatSemitones(value.semitones)}
        testId="pitch-value"
        home={0}
        onChange={(semitones) => onChange({ ...value, semitones: clampSemitones(semitones) })}
      />
      <button
        type="button"
        className="button small"
        disabled={isNatural(value)}
        onClick={() => onChange(NATURAL)}
        aria-label="Reset tempo and pitch"
      >
        Reset
      </button>
      {((bpm !== null && bpm > 0) || songKey) && (
        <div className="tp-song">
          {bpm !== null && bpm > 0 && <BpmReadout bpm={bpm} tempo={value.tempo} />}
          {songKey && <KeyReadout songKey={songKey} semitones={value.semitones} />}
        </div>
      )}
      {!supported && (
        <p className="muted tp-note">
          Tempo and pitch need this server opened over https (or on localhost): browsers run audio
          worklets only there.
        </p>
      )}
      {error && (
        <p className="error tp-note" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
