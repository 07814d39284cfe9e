import { useEffect, useState } from "react";
import { api, type FormatId, type Strategy } from "../api/client";
import { errorText } from "../lib/errors";
import { defaultFormats, useFormats } from "../lib/formats";
import { useTitle } from "../lib/useTitle";
import { ChoicePicker } from "../new-job/ChoicePicker";
import { chosenTitle, initialStrategy } from "../new-job/choices";
import { FormatPicker } from "../new-job/FormatPicker";
import { UploadDropzone } from "../new-job/UploadDropzone";
import { UploadList } from "../new-job/UploadList";
import { UrlForm } from "../new-job/UrlForm";
import { useUploads } from "../new-job/useUploads";
import "../new-job/newJob.css";

export function NewJobPage() {
  useTitle("New job");
  const [strategies, setStrategies] = useState<Strategy[] | null>(null);
  const [strategiesError, setStrategiesError] = useState<string | null>(null);
  const [strategy, setStrategy] = useState("");
  const offered = useFormats();
  // null until a box is ticked or cleared: the server's defaults, once they are known.
  const [picked, setPicked] = useState<FormatId[] | null>(null);
  const formats = picked ?? (offered.formats ? defaultFormats(offered.formats) : []);
  const { uploads, start, follow } = useUploads(strategy, formats);

  useEffect(() => {
    api
      .strategies()
      .then((found) => {
        setStrategies(found);
        setStrategy(initialStrategy(found));
      })
      .catch((error: unknown) => setStrategiesError(errorText(error)));
  }, []);

  const title = strategies ? chosenTitle(strategies, strategy) : null;
  const noWorker = strategies?.find((s) => !s.available && s.models.every((m) => m.status !== "missing"));
  return (
    <div className="page new-job">
      <section className="intake" aria-labelledby="intake-heading">
        <h1 id="intake-heading">Split a song into stems</h1>
        <UploadDropzone onFiles={start}>
          {title && (
            <p className="using">
              Into: <strong>{title}</strong> · <a href="#how">change</a>
            </p>
          )}
        </UploadDropzone>
        <UrlForm strategy={strategy} formats={formats} onQueued={follow} />
        {noWorker && (
          <p className="notice" role="status">
            {noWorker.unavailable_reason}
          </p>
        )}
        <UploadList uploads={uploads} />
      </section>

      <section className="panel" id="how" aria-labelledby="how-heading">
        <h2 id="how-heading" className="visually-hidden">
          How to split
        </h2>
        {strategiesError && (
          <p className="error" role="alert">
            {strategiesError}
          </p>
        )}
        {strategies === null && !strategiesError && <p className="muted">Loading the choices…</p>}
        {strategies && <ChoicePicker strategies={strategies} value={strategy} onChange={setStrategy} />}
        <FormatPicker formats={offered.formats} error={offered.error} value={formats} onChange={setPicked} />
      </section>
    </div>
  );
}
