import { useEffect, useState } from "react";
import { api, type FormatId, type Strategy } from "../api/client";
import { errorText } from "../lib/errors";
import { defaultFormats, useFormats } from "../lib/formats";
import { useTitle } from "../lib/useTitle";
import { FormatPicker } from "../new-job/FormatPicker";
import { StrategyPicker } from "../new-job/StrategyPicker";
import { UploadDropzone } from "../new-job/UploadDropzone";
import { UploadList } from "../new-job/UploadList";
import { UrlForm } from "../new-job/UrlForm";
import { useUploads } from "../new-job/useUploads";

export function NewJobPage() {
  useTitle("New job");
  const [strategies, setStrategies] = useState<Strategy[] | null>(null);
  const [strategiesError, setStrategiesError] = useState<string | null>(null);
  const [strategy, setStrategy] = useState("");
  const offered = useFormats();
  // null until a box is ticked or cleared: the server's defaults, once they are known.
  const [picked, setPicked] = useState<FormatId[] | null>(null);
  const formats = picked ?? (offered.formats ? defaultFormats(offered.formats) : []);
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
        <FormatPicker formats={offered.formats} error={offered.error} value={formats} onChange={setPicked} />
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
