import { useState } from "react";
import { Link } from "react-router-dom";
import { api, type FormatId, type Job } from "../api/client";
import { errorText } from "../lib/errors";

/** A song by its link: the worker downloads it, then splits it like an upload. */
export function UrlForm({ strategy, formats }: { strategy: string; formats: readonly FormatId[] }) {
  const [url, setUrl] = useState("");
  const [urlError, setUrlError] = useState<string | null>(null);
  const [urlJob, setUrlJob] = useState<Job | null>(null);

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
  );
}
