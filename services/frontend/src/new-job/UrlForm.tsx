import { useState } from "react";
import { api, type FormatId, type Job } from "../api/client";
import { errorText } from "../lib/errors";

/** A song by its link: the worker downloads it, then splits it like an upload. */
export function UrlForm({
  strategy,
  formats,
  onQueued,
}: {
  strategy: string;
  formats: readonly FormatId[];
  onQueued: (job: Job) => void;
}) {
  const [url, setUrl] = useState("");
  const [urlError, setUrlError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submitUrl = async (event: React.FormEvent) => {
    event.preventDefault();
    setUrlError(null);
    setBusy(true);
    try {
      onQueued(await api.submitUrl(url, strategy || null, formats));
      setUrl("");
    } catch (error) {
      setUrlError(errorText(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="url-form" onSubmit={submitUrl}>
      <label htmlFor="source-url">Or paste a link to the song</label>
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
        <button type="submit" className="button primary" disabled={busy}>
          Fetch and split
        </button>
      </div>
      {urlError && (
        <p id="url-error" className="error" role="alert">
          {urlError}
        </p>
      )}
    </form>
  );
}
