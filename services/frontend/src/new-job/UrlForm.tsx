import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, type FormatId, type Job } from "../api/client";
import { errorText } from "../lib/errors";
import { linkLines, MAX_LINKS, planLinks, songCount } from "./urlLines";

/** The field grows with its lines up to this many, then scrolls. */
const MAX_ROWS = 6;

/**
 * Songs by their links: the worker downloads each, then splits it like an upload. One
 * line is one job, followed on this page; several lines are a batch, with a page of its own.
 */
export function UrlForm({
  strategy,
  formats,
  onQueued,
}: {
  strategy: string;
  formats: readonly FormatId[];
  onQueued: (job: Job) => void;
}) {
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const [urlError, setUrlError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const count = linkLines(text).length;

  const submitUrl = async (event: React.FormEvent) => {
    event.preventDefault();
    const plan = planLinks(text);
    if (plan.kind === "empty") return setUrlError("Paste a link to a song first.");
    if (plan.kind === "refused") return setUrlError(plan.message);
    setUrlError(null);
    setBusy(true);
    try {
      if (plan.kind === "one") {
        onQueued(await api.submitUrl(plan.url, strategy || null, formats));
        setText("");
      } else {
        const batch = await api.submitBatch(plan.urls, strategy || null, formats);
        void navigate(`/batches/${encodeURIComponent(batch.id)}`);
      }
    } catch (error) {
      setUrlError(errorText(error));
    } finally {
      setBusy(false);
    }
  };

  // Enter sends a single link, as a one-line field would; once there are several lines
  // (pasted, or Shift+Enter) it starts a new line like any text box.
  const onKeyDown = (event: React.KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !text.includes("\n")) {
      event.preventDefault();
      event.currentTarget.form?.requestSubmit();
    }
  };

  return (
    <form className="url-form" onSubmit={submitUrl} noValidate>
      <label htmlFor="source-url">Or paste a link to the song</label>
      <div className="url-row">
        <textarea
          id="source-url"
          rows={Math.min(Math.max(text.split("\n").length, 1), MAX_ROWS)}
          wrap="off"
          inputMode="url"
          autoComplete="url"
          autoCapitalize="off"
          spellCheck={false}
          value={text}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={onKeyDown}
          aria-invalid={urlError ? true : undefined}
          aria-describedby={urlError ? "url-error url-hint" : "url-hint"}
        />
        <button type="submit" className="button primary" disabled={busy}>
          {count > 1 ? `Fetch and split ${songCount(count)}` : "Fetch and split"}
        </button>
      </div>
      <p id="url-hint" className={`hint${count > MAX_LINKS ? " error-text" : ""}`} data-testid="link-count">
        {count > 1
          ? `${songCount(count)}, one per line (at most ${MAX_LINKS}).`
          : `Several songs? One link per line, up to ${MAX_LINKS}.`}
      </p>
      {urlError && (
        <p id="url-error" className="error" role="alert">
          {urlError}
        </p>
      )}
    </form>
  );
}
