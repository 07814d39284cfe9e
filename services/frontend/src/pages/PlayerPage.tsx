import { useCallback, useEffect, useId, useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, type Job, type Stem, type WaveformPeaks } from "../api/client";
import { HelpOverlay } from "../components/HelpOverlay";
import { ProgressBar } from "../components/ProgressBar";
import { Waveform } from "../components/Waveform";
import { errorText } from "../lib/errors";
import { formatBytes, formatClock, formatLabel, formatLufs } from "../lib/format";
import {
  dbToFader,
  faderToDb,
  faderToGain,
  formatDb,
  initialMix,
  isAudible,
  setFader,
  stemGains,
  toggleMute,
  toggleSolo,
  UNITY_POSITION,
  type StemMix,
} from "../lib/mix";
import { normaliseLoop, type LoopRegion } from "../lib/sync";
import { fetchRanged, MixEngine, playbackFormat } from "../player/engine";
import { useTitle } from "../lib/useTitle";

const COLOURS = ["#f5a524", "#4fd1c5", "#9f7aea", "#f56565", "#63b3ed", "#68d391", "#ed64a6", "#ecc94b"];
const SEEK_STEP_S = 5;

interface StemLoad {
  state: "loading" | "decoding" | "ready" | "failed";
  progress: number;
  error?: string;
}

declare global {
  interface Window {
    /** The player's engine, for the browser console and the end-to-end tests. */
    stemdeckPlayer?: MixEngine;
  }
}

function Fader({
  value,
  label,
  onChange,
}: {
  value: number;
  label: string;
  onChange: (value: number) => void;
}) {
  const db = faderToDb(value);
  const id = useId();
  return (
    <div className="fader">
      <label htmlFor={id} className="visually-hidden">
        {label}
      </label>
      <input
        id={id}
        type="range"
        min={0}
        max={1}
        step={0.005}
        value={value}
        aria-valuetext={formatDb(db)}
        onChange={(event) => onChange(Number(event.target.value))}
        onDoubleClick={() => onChange(UNITY_POSITION)}
      />
      <output htmlFor={id} className="fader-db" aria-hidden="true">
        {formatDb(db)}
      </output>
    </div>
  );
}

function Toggle({ kind, on, label, onClick }: { kind: "mute" | "solo"; on: boolean; label: string; onClick: () => void }) {
  return (
    <button type="button" className={`toggle ${kind} ${on ? "on" : ""}`} aria-pressed={on} aria-label={label} onClick={onClick}>
      {kind === "mute" ? "M" : "S"}
    </button>
  );
}

function StemRow(props: {
  index: number;
  stem: Stem;
  mix: StemMix;
  all: StemMix[];
  load: StemLoad;
  peaks: WaveformPeaks | null;
  duration: number;
  position: number;
  loop: LoopRegion | null;
  selected: boolean;
  onSelect: () => void;
  onSeek: (s: number) => void;
  onFader: (v: number) => void;
  onMute: () => void;
  onSolo: () => void;
}) {
  const { stem, mix, load } = props;
  const audible = isAudible(mix, props.all);
  const colour = COLOURS[props.index % COLOURS.length] ?? "#f5a524";
  return (
    <li
      className={`stem ${props.selected ? "selected" : ""} ${audible ? "" : "silent"}`}
      data-testid="stem-row"
      data-stem={stem.name}
      aria-label={`Stem ${props.index + 1}: ${stem.name}`}
      onFocus={props.onSelect}
      onClick={props.onSelect}
    >
      <div className="stem-head">
        <span className="stem-swatch" style={{ background: colour }} aria-hidden="true" />
        <span className="stem-name">{stem.name}</span>
        <span className="stem-lufs" title="Integrated loudness">
          {formatLufs(stem.lufs)}
        </span>
        <div className="stem-buttons">
          <Toggle kind="mute" on={mix.muted} label={`Mute ${stem.name}`} onClick={props.onMute} />
          <Toggle kind="solo" on={mix.soloed} label={`Solo ${stem.name}`} onClick={props.onSolo} />
        </div>
        <Fader value={mix.fader} label={`${stem.name} volume`} onChange={props.onFader} />
      </div>
      <div className="stem-body">
        <Waveform
          peaks={props.peaks}
          duration={props.duration}
          position={props.position}
          loop={props.loop}
          colour={colour}
          dimmed={!audible}
          label={`Waveform of ${stem.name}`}
          onSeek={props.onSeek}
        />
        {load.state !== "ready" && (
          <div className={`stem-loading ${load.state}`} data-testid="stem-loading">
            {load.state === "failed" ? (
              <span className="error" role="alert">
                {load.error}
              </span>
            ) : (
              <>
                <span>{load.state === "loading" ? `Loading ${Math.round(load.progress * 100)} %` : "Decoding…"}</span>
                <ProgressBar value={load.progress} label={`Loading ${stem.name}`} />
              </>
            )}
          </div>
        )}
      </div>
      <div className="stem-downloads">
        {stem.formats.map((format) => (
          <a key={format} className="download-link" href={stem.download_urls[format]} download>
            {formatLabel(format)}
            <span className="muted"> {formatBytes(stem.sizes[format] ?? 0)}</span>
            <span className="visually-hidden"> of {stem.name}</span>
          </a>
        ))}
      </div>
    </li>
  );
}

function Player({ job }: { job: Job }) {
  const duration = Math.max(...job.stems.map((s) => s.duration_s), 0);
  const engineRef = useRef<MixEngine | null>(null);
  const [mix, setMix] = useState<StemMix[]>(() => initialMix(job.stems.map((s) => s.name)));
  const [master, setMaster] = useState(UNITY_POSITION);
  const [loads, setLoads] = useState<Record<string, StemLoad>>(() =>
    Object.fromEntries(job.stems.map((s) => [s.name, { state: "loading", progress: 0 }])),
  );
  const [peaks, setPeaks] = useState<Record<string, WaveformPeaks>>({});
  const [playing, setPlaying] = useState(false);
  const [position, setPosition] = useState(0);
  const [loop, setLoop] = useState<LoopRegion | null>(null);
  const [loopMarks, setLoopMarks] = useState<{ start: number | null; end: number | null }>({ start: null, end: null });
  const [selected, setSelected] = useState(0);
  const [help, setHelp] = useState(false);
  const [exportState, setExportState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });

  useEffect(() => {
    const engine = new MixEngine(
      job.stems.map((s) => s.name),
      duration,
    );
    engineRef.current = engine;
    window.stemdeckPlayer = engine;
    engine.onEnded = () => setPlaying(false);
    const abort = new AbortController();
    for (const stem of job.stems) {
      api
        .waveform(stem, abort.signal)
        .then((found) => setPeaks((all) => ({ ...all, [stem.name]: found })))
        .catch(() => undefined); // the audio still plays; the lane just stays blank
      const format = playbackFormat(stem.formats);
      const url = format ? stem.urls[format] : undefined;
      const setLoad = (load: StemLoad) => setLoads((all) => ({ ...all, [stem.name]: load }));
      if (!url) {
        setLoad({ state: "failed", progress: 0, error: "This stem has no audio file." });
        continue;
      }
      fetchRanged(url, (progress) => setLoad({ state: "loading", progress }), abort.signal)
        .then((bytes) => {
          setLoad({ state: "decoding", progress: 1 });
          return engine.context.decodeAudioData(bytes);
        })
        .then((buffer) => {
          engine.addBuffer(stem.name, buffer);
          setLoad({ state: "ready", progress: 1 });
        })
        .catch((error: unknown) => {
          if (!abort.signal.aborted) setLoad({ state: "failed", progress: 0, error: errorText(error) });
        });
    }
    return () => {
      abort.abort();
      if (window.stemdeckPlayer === engine) delete window.stemdeckPlayer;
      void engine.close();
    };
  }, [job, duration]);

  useEffect(() => engineRef.current?.setGains(stemGains(mix)), [mix]);
  useEffect(() => engineRef.current?.setMaster(faderToGain(master)), [master]);

  useEffect(() => {
    if (!playing) return;
    let frame = 0;
    const tick = () => {
      const engine = engineRef.current;
      if (engine) setPosition(engine.position());
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [playing]);

  const anyReady = Object.values(loads).some((l) => l.state === "ready");

  const togglePlay = useCallback(async () => {
    const engine = engineRef.current;
    if (!engine || !anyReady) return;
    if (engine.playing) {
      engine.pause();
      setPlaying(false);
      setPosition(engine.position());
    } else {
      await engine.play();
      setPlaying(true);
    }
  }, [anyReady]);

  const seek = useCallback((seconds: number) => {
    const engine = engineRef.current;
    if (!engine) return;
    engine.seek(Math.min(Math.max(0, seconds), duration));
    setPosition(engine.position());
  }, [duration]);

  const applyLoop = useCallback((region: LoopRegion | null) => {
    engineRef.current?.setLoop(region);
    setLoop(region);
  }, []);

  const markLoop = useCallback(
    (edge: "start" | "end") => {
      const at = engineRef.current?.position() ?? 0;
      const marks = { ...loopMarks, [edge]: at };
      setLoopMarks(marks);
      const region = normaliseLoop(marks.start ?? 0, marks.end ?? duration, duration);
      applyLoop(region);
    },
    [loopMarks, duration, applyLoop],
  );

  const toggleLoop = useCallback(() => {
    if (loop) applyLoop(null);
    else applyLoop(normaliseLoop(loopMarks.start ?? 0, loopMarks.end ?? duration, duration));
  }, [loop, loopMarks, duration, applyLoop]);

  const exportMix = async () => {
    const engine = engineRef.current;
    if (!engine) return;
    setExportState({ busy: true, error: null });
    try {
      const blob = await engine.exportMix(stemGains(mix), faderToGain(master));
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${job.source.name.replace(/\.[^.]+$/, "")} (my mix).wav`;
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      setExportState({ busy: false, error: null });
    } catch (error) {
      setExportState({ busy: false, error: errorText(error) });
    }
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      const inRange = target instanceof HTMLInputElement && target.type === "range";
      // A focused control keeps Space and Enter for itself (Space on "Mute" mutes).
      const onControl = target instanceof HTMLElement && target.closest("button, a, input, select, textarea") !== null;
      if (help || event.ctrlKey || event.metaKey || event.altKey) return;
      const name = mix[selected]?.name;
      const step = event.shiftKey ? 1 : SEEK_STEP_S;
      switch (event.key) {
        case " ":
          if (onControl) return;
          event.preventDefault();
          void togglePlay();
          break;
        case "ArrowLeft":
        case "ArrowRight":
          if (inRange) return;
          event.preventDefault();
          seek((engineRef.current?.position() ?? 0) + (event.key === "ArrowLeft" ? -step : step));
          break;
        case "ArrowUp":
        case "ArrowDown":
          if (inRange) return;
          event.preventDefault();
          setSelected((i) => (i + (event.key === "ArrowUp" ? mix.length - 1 : 1)) % mix.length);
          break;
        case "m":
        case "M":
          if (name) setMix((all) => toggleMute(all, name));
          break;
        case "s":
        case "S":
          if (name) setMix((all) => toggleSolo(all, name));
          break;
        case "[":
          markLoop("start");
          break;
        case "]":
          markLoop("end");
          break;
        case "l":
        case "L":
          toggleLoop();
          break;
        case "Home":
          event.preventDefault();
          seek(0);
          break;
        case "?":
          setHelp(true);
          break;
        default:
          if (/^[1-9]$/.test(event.key) && Number(event.key) <= mix.length) setSelected(Number(event.key) - 1);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [help, mix, selected, togglePlay, seek, markLoop, toggleLoop]);

  const readyCount = Object.values(loads).filter((l) => l.state === "ready").length;
  return (
    <div className="page player">
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link to="/jobs">Jobs</Link> / player
          </p>
          <h1>{job.source.name}</h1>
          <p className="muted">
            {job.strategy} · {job.stems.length} stems · {formatClock(duration)}
            {job.gain_db < 0 && ` · turned down ${formatDb(job.gain_db)} to avoid clipping`}
          </p>
        </div>
        <button type="button" className="button" onClick={() => setHelp(true)} aria-keyshortcuts="?">
          Shortcuts <kbd>?</kbd>
        </button>
      </div>

      <section className="transport panel" aria-label="Transport">
        <button
          type="button"
          className="button play"
          onClick={() => void togglePlay()}
          disabled={!anyReady}
          aria-keyshortcuts="Space"
          data-testid="play"
        >
          {playing ? "Pause" : "Play"}
        </button>
        <div className="clock" aria-live="off" data-testid="clock">
          <span>{formatClock(position)}</span>
          <span className="muted"> / {formatClock(duration)}</span>
        </div>
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
            seek(((event.clientX - box.left) / box.width) * duration);
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
        <div className="loop-controls">
          <button type="button" className="button small" onClick={() => markLoop("start")} aria-keyshortcuts="[">
            Loop from here
          </button>
          <button type="button" className="button small" onClick={() => markLoop("end")} aria-keyshortcuts="]">
            Loop to here
          </button>
          <button
            type="button"
            className={`toggle wide ${loop ? "on" : ""}`}
            aria-pressed={loop !== null}
            onClick={toggleLoop}
            aria-keyshortcuts="L"
          >
            Loop{loop ? ` ${formatClock(loop.start)}–${formatClock(loop.end)}` : ""}
          </button>
        </div>
        <div className="master">
          <span>Master</span>
          <Fader value={master} label="Master volume" onChange={setMaster} />
        </div>
        {!anyReady && <p className="muted small">Loading stems; playback starts as soon as the first one is ready.</p>}
        {anyReady && readyCount < job.stems.length && (
          <p className="muted small">
            {readyCount} of {job.stems.length} stems ready; the others join in sync as they load.
          </p>
        )}
      </section>

      <ul className="stems" aria-label="Stems">
        {job.stems.map((stem, index) => (
          <StemRow
            key={stem.name}
            index={index}
            stem={stem}
            mix={mix[index] ?? initialMix([stem.name])[0]!}
            all={mix}
            load={loads[stem.name] ?? { state: "loading", progress: 0 }}
            peaks={peaks[stem.name] ?? null}
            duration={duration}
            position={position}
            loop={loop}
            selected={selected === index}
            onSelect={() => setSelected(index)}
            onSeek={seek}
            onFader={(value) => setMix((all) => setFader(all, stem.name, value))}
            onMute={() => setMix((all) => toggleMute(all, stem.name))}
            onSolo={() => setMix((all) => toggleSolo(all, stem.name))}
          />
        ))}
      </ul>

      <section className="panel exports" aria-labelledby="downloads-heading">
        <h2 id="downloads-heading">Take it with you</h2>
        <div className="actions">
          {job.zip_url && (
            <a className="button" href={job.zip_url} download data-testid="zip">
              All stems (.zip)
            </a>
          )}
          <button
            type="button"
            className="button primary"
            onClick={() => void exportMix()}
            // Every stem, or the mix would silently lack the ones still loading.
            disabled={readyCount < job.stems.length || exportState.busy}
            data-testid="export"
          >
            {exportState.busy ? "Rendering…" : "Export my mix (.wav)"}
          </button>
        </div>
        <p className="muted small">
          “Export my mix” renders the stems through your faders, mutes and solos in the browser, at{" "}
          {formatDb(faderToDb(master))} master{dbToFader(0) === master ? " (unity)" : ""}.
        </p>
        {exportState.error && (
          <p className="error" role="alert">
            {exportState.error}
          </p>
        )}
      </section>
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
    </div>
  );
}

export function PlayerPage() {
  const { jobId = "" } = useParams();
  const [job, setJob] = useState<Job | null>(null);
  useTitle(job ? job.source.name : "Player");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setJob(null);
    setError(null);
    api.job(jobId).then(setJob, (e: unknown) => setError(errorText(e)));
  }, [jobId]);

  if (error)
    return (
      <section className="panel narrow">
        <h1>This job cannot be opened</h1>
        <p className="error" role="alert">
          {error}
        </p>
        <Link className="button" to="/jobs">
          Back to jobs
        </Link>
      </section>
    );
  if (!job) return <p className="muted page">Loading the job…</p>;
  if (job.status !== "completed")
    return (
      <section className="panel narrow">
        <h1>{job.source.name}</h1>
        <p>
          This job is {job.status}
          {job.error ? `: ${job.error}` : ""}. The player opens once its stems are ready.
        </p>
        <Link className="button" to="/jobs">
          Back to jobs
        </Link>
      </section>
    );
  return <Player job={job} />;
}
