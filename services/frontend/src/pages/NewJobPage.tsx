import { useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { api, uploadFile, type Job, type Strategy, type UploadHandle } from "../api/client";
import { ProgressBar } from "../components/ProgressBar";
import { errorText } from "../lib/errors";
import { formatBytes, formatLabel } from "../lib/format";
import { useTitle } from "../lib/useTitle";

const FORMATS = ["flac", "wav", "wav24", "mp3", "opus"];

interface Upload {
  key: string;
  file: File;
  progress: number;
  state: "uploading" | "done" | "failed" | "cancelled";
  job?: Job;
  error?: string;
  handle?: UploadHandle;
}

function StrategyPicker({
  strategies,
  value,
  onChange,
}: {
  strategies: Strategy[];
  value: string;
  onChange: (name: string) => void;
}) {
  return (
    <fieldset className="strategies">
      <legend>Strategy</legend>
      {strategies.map((strategy) => {
        const missing = strategy.models.filter((m) => m.status === "missing");
        const downloads = strategy.models.filter((m) => m.status === "download");
        const readiness = missing.length ? "missing" : downloads.length ? "download" : "ready";
        const readinessText = {
          ready: "Models ready",
          download: "Models download on first use",
          missing: "Model weights missing",
        }[readiness];
        return (
          <label key={strategy.name} className={`strategy ${value === strategy.name ? "chosen" : ""}`}>
            <input
              type="radio"
              name="strategy"
              value={strategy.name}
              checked={value === strategy.name}
              onChange={() => onChange(strategy.name)}
              disabled={readiness === "missing"}
            />
            <span className="strategy-body">
              <span className="strategy-title">
                {strategy.label}
                {strategy.default && <span className="badge">default</span>}
              </span>
              <span className="strategy-stems">{strategy.stems.join(" · ")}</span>
              <span className={`readiness ${readiness}`}>
                {readinessText}
                {missing.length > 0 && `: ${missing.flatMap((m) => m.missing_files).join(", ")}`}
              </span>
            </span>
          </label>
        );
      })}
    </fieldset>
  );
}

export function NewJobPage() {
  useTitle("New job");
  const [strategies, setStrategies] = useState<Strategy[] | null>(null);
  const [strategiesError, setStrategiesError] = useState<string | null>(null);
  const [strategy, setStrategy] = useState("");
  const [formats, setFormats] = useState<string[]>(["flac"]);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [url, setUrl] = useState("");
  const [urlError, setUrlError] = useState<string | null>(null);
  const [urlJob, setUrlJob] = useState<Job | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    api
      .strategies()
      .then((found) => {
        setStrategies(found);
        setStrategy((found.find((s) => s.default) ?? found[0])?.name ?? "");
      })
      .catch((error: unknown) => setStrategiesError(errorText(error)));
  }, []);

  const update = (key: string, change: Partial<Upload>) =>
    setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));

  const start = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = `${file.name}-${file.size}-${Date.now()}-${Math.random()}`;
      const handle = uploadFile(file, strategy || null, formats, (progress) => update(key, { progress }));
      setUploads((all) => [{ key, file, progress: 0, state: "uploading", handle }, ...all]);
      handle.done.then(
        (job) => update(key, { state: "done", progress: 1, job }),
        (error: unknown) =>
          update(key, {
            state: error instanceof DOMException && error.name === "AbortError" ? "cancelled" : "failed",
            error: errorText(error),
          }),
      );
    }
  };

  const toggleFormat = (format: string) =>
    setFormats((all) => (all.includes(format) ? all.filter((f) => f !== format) : [...all, format]));

  const submitUrl = async (event: React.FormEvent) => {
    event.preventDefault();
    setUrlError(null);
    setUrlJob(null);
    try {
      setUrlJob(await api.submitUrl(url, strategy || null, formats));
    } catch (error) {
      setUrlError(errorText(error));
    }
  };

  return (
    <div className="page">
      <section className="hero">
        <h1>Split a song into stems</h1>
        <p>Drop in a track and get vocals, drums, bass and the rest back as separate files, ready to mix.</p>
      </section>

      <section className="panel" aria-labelledby="settings-heading">
        <h2 id="settings-heading">How to split</h2>
        {strategiesError && (
          <p className="error" role="alert">
            {strategiesError}
          </p>
        )}
        {strategies === null && !strategiesError && <p className="muted">Loading strategies…</p>}
        {strategies && <StrategyPicker strategies={strategies} value={strategy} onChange={setStrategy} />}
        <fieldset className="formats">
          <legend>Output formats</legend>
          {FORMATS.map((format) => (
            <label key={format} className="chip">
              <input type="checkbox" checked={formats.includes(format)} onChange={() => toggleFormat(format)} />
              {formatLabel(format)}
            </label>
          ))}
        </fieldset>
        {formats.length === 0 && <p className="hint">No format chosen: the server's default format is used.</p>}
      </section>

      <section className="panel" aria-labelledby="upload-heading">
        <h2 id="upload-heading">Upload audio</h2>
        <div
          className={`dropzone ${dragging ? "dragging" : ""}`}
          onDragOver={(event) => {
            event.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(event) => {
            event.preventDefault();
            setDragging(false);
            start(event.dataTransfer.files);
          }}
        >
          <p className="dropzone-title">Drag audio files here</p>
          <p className="muted">MP3, WAV, FLAC, Ogg/Opus, M4A, AIFF, one or several at a time</p>
          <button type="button" className="button primary" onClick={() => fileInput.current?.click()}>
            Choose files
          </button>
          <input
            ref={fileInput}
            type="file"
            accept="audio/*,video/*,.flac,.opus,.m4a,.aiff"
            multiple
            hidden
            aria-label="Audio files to upload"
            data-testid="file-input"
            onChange={(event) => {
              if (event.target.files) start(event.target.files);
              event.target.value = "";
            }}
          />
        </div>
        {uploads.length > 0 && (
          <ul className="uploads" aria-label="Uploads">
            {uploads.map((upload) => (
              <li key={upload.key} className={`upload ${upload.state}`}>
                <div className="upload-head">
                  <span className="upload-name">{upload.file.name}</span>
                  <span className="muted">{formatBytes(upload.file.size)}</span>
                </div>
                <ProgressBar
                  value={upload.progress}
                  label={`Upload of ${upload.file.name}`}
                  tone={upload.state === "failed" ? "bad" : upload.state === "done" ? "ok" : undefined}
                />
                <div className="upload-foot">
                  {upload.state === "uploading" && (
                    <>
                      <span>Uploading {Math.round(upload.progress * 100)} %</span>
                      <button type="button" className="button small" onClick={() => upload.handle?.cancel()}>
                        Cancel
                      </button>
                    </>
                  )}
                  {upload.state === "done" && upload.job && (
                    <>
                      <span className="ok-text">Queued</span>
                      <Link to="/jobs">Follow it in Jobs</Link>
                    </>
                  )}
                  {(upload.state === "failed" || upload.state === "cancelled") && (
                    <span className="error" role="alert">
                      {upload.error}
                    </span>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="panel" aria-labelledby="url-heading">
        <h2 id="url-heading">Or from a link</h2>
        <form className="url-form" onSubmit={submitUrl}>
          <label htmlFor="source-url">Song URL</label>
          <div className="url-row">
            <input
              id="source-url"
              type="url"
              required
              inputMode="url"
              autoComplete="url"
              value={url}
              onChange={(event) => setUrl(event.target.value)}
              aria-invalid={urlError ? true : undefined}
              aria-describedby={urlError ? "url-error" : undefined}
            />
            <button type="submit" className="button primary">
              Fetch and split
            </button>
          </div>
          {urlError && (
            <p id="url-error" className="error" role="alert">
              {urlError}
            </p>
          )}
          {urlJob && (
            <p className="ok-text">
              Queued. <Link to="/jobs">Follow it in Jobs</Link>
            </p>
          )}
        </form>
      </section>
    </div>
  );
}
