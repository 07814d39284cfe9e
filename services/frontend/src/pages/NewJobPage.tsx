import { useEffect, useState } from "react";
import { api, type Strategy } from "../api/client";
import { errorText } from "../lib/errors";
import { formatLabel } from "../lib/format";
import { useTitle } from "../lib/useTitle";
import { StrategyPicker } from "../new-job/StrategyPicker";
import { UploadDropzone } from "../new-job/UploadDropzone";
import { UploadList } from "../new-job/UploadList";
import { UrlForm } from "../new-job/UrlForm";
import { useUploads } from "../new-job/useUploads";

const FORMATS = ["flac", "wav", "wav24", "mp3", "opus"];

export function NewJobPage() {
  useTitle("New job");
  const [strategies, setStrategies] = useState<Strategy[] | null>(null);
  const [strategiesError, setStrategiesError] = useState<string | null>(null);
  const [strategy, setStrategy] = useState("");
  const [formats, setFormats] = useState<string[]>(["flac"]);
  const { uploads, start } = useUploads(strategy, formats);

  useEffect(() => {
    api
      .strategies()
      .then((found) => {
        setStrategies(found);
        setStrategy((found.find((s) => s.default) ?? found[0])?.name ?? "");
      })
      .catch((error: unknown) => setStrategiesError(errorText(error)));
  }, []);

  const toggleFormat = (format: string) =>
    setFormats((all) => (all.includes(format) ? all.filter((f) => f !== format) : [...all, format]));

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
        <UploadDropzone onFiles={start} />
        <UploadList uploads={uploads} />
      </section>

      <section className="panel" aria-labelledby="url-heading">
        <h2 id="url-heading">Or from a link</h2>
        <UrlForm strategy={strategy} formats={formats} />
      </section>
    </div>
  );
}
