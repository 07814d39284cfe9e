import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api, type Job } from "../api/client";
import { ProgressBar } from "../components/ProgressBar";
import { errorText } from "../lib/errors";
import { FINAL_STATUSES, MAX_LIVE_STREAMS } from "../lib/feed";
import { formatDuration, formatEta, formatPercent, formatTimestamp } from "../lib/format";
import { PAGE_SIZE, withNewestPage, withOlderPage } from "../lib/jobList";
import { useJobFeed } from "../lib/useJobFeed";
import { useTitle } from "../lib/useTitle";

/** New jobs (from another tab, or the API) show up at this pace; progress comes by SSE. */
const LIST_REFRESH_MS = 15000;
/** The pace while some unfinished jobs are past the stream cap: the list carries their progress. */
const BUSY_LIST_REFRESH_MS = 3000;

const STATUS_LABELS: Record<string, string> = {
  queued: "Queued",
  fetching: "Fetching",
  running: "Separating",
  completed: "Ready",
  failed: "Failed",
  cancelled: "Cancelled",
};

function JobRow({ initial, stream, onDeleted }: { initial: Job; stream: boolean; onDeleted: (id: string) => void }) {
  const live = useJobFeed(initial.id, initial, stream);
  const job = stream ? (live.job ?? initial) : initial;
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);
  useEffect(() => {
    if (live.mode === "gone") onDeleted(initial.id);
  }, [live.mode, initial.id, onDeleted]);

  const remove = async () => {
    setDeleting(true);
    setDeleteError(null);
    try {
      await api.deleteJob(job.id);
      onDeleted(job.id);
    } catch (error) {
      setDeleteError(errorText(error));
      setDeleting(false);
    }
  };
  const final = FINAL_STATUSES.has(job.status);
  return (
    <li className={`job status-${job.status}`} data-testid="job-row" data-job-id={job.id}>
      <div className="job-main">
        <div className="job-title">
          {job.status === "completed" ? (
            <Link to={`/jobs/${job.id}`} className="job-name">
              {job.source.name}
            </Link>
          ) : (
            <span className="job-name">{job.source.name}</span>
          )}
          <span className={`status-pill ${job.status}`}>{STATUS_LABELS[job.status] ?? job.status}</span>
        </div>
        <div className="job-meta muted">
          {job.source.url && <span>from {sourceHost(job.source.url)}</span>}
          {job.source.duration_s != null && <span>{formatDuration(job.source.duration_s)}</span>}
          <span>{job.strategy}</span>
          <span>{job.formats.join(", ")}</span>
          <span>{formatTimestamp(job.created_at)}</span>
        </div>
        {!final && (
          <div className="job-progress">
            <ProgressBar value={job.progress} label={`Progress of ${job.source.name}`} />
            <span className="job-stage" aria-live="polite">
              {job.stage} · <span data-testid="job-percent">{formatPercent(job.progress)}</span>
              {job.eta_seconds != null && ` · ${formatEta(job.eta_seconds)}`}
            </span>
          </div>
        )}
        {job.status === "completed" && (
          <div className="job-stems muted">
            {job.stems.map((stem) => stem.name).join(" · ")}
            <span data-testid="job-percent" className="visually-hidden">
              {formatPercent(job.progress)}
            </span>
          </div>
        )}
        {job.error && (
          <p className="error" role="alert">
            {job.error}
          </p>
        )}
        {job.notes.length > 0 && <p className="muted small">{job.notes.join(" ")}</p>}
        {live.mode === "offline" && (
          <p className="error" role="alert">
            Lost contact with the server; retrying.
          </p>
        )}
      </div>
      <div className="job-actions">
        {job.status === "completed" && (
          <Link className="button primary" to={`/jobs/${job.id}`}>
            Open player
          </Link>
        )}
        <button
          type="button"
          className="button danger"
          onClick={remove}
          disabled={deleting}
          aria-label={`${final ? "Delete" : "Cancel and delete"} ${job.source.name}`}
        >
          {final ? "Delete" : "Cancel"}
        </button>
        {deleteError && (
          <p className="error" role="alert">
            {deleteError}
          </p>
        )}
      </div>
    </li>
  );
}

/** The site a URL job fetches from, as people recognise it ("www.example.org"). */
function sourceHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function JobsPage() {
  useTitle("Jobs");
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [count, setCount] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [olderError, setOlderError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    api
      .jobs(PAGE_SIZE, 0)
      .then((list) => {
        setJobs((current) => withNewestPage(current, list.data));
        setCount(list.count);
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, []);

  const loadOlder = () => {
    setOlderError(null);
    api
      .jobs(PAGE_SIZE, jobs?.length ?? 0)
      .then((list) => {
        setJobs((current) => withOlderPage(current ?? [], list.data));
        setCount(list.count);
      })
      .catch((e: unknown) => setOlderError(errorText(e)));
  };

  // The newest unfinished jobs get event streams; the list's refresh carries the rest.
  const unfinished = (jobs ?? []).filter((job) => !FINAL_STATUSES.has(job.status));
  const streamed = new Set(unfinished.slice(0, MAX_LIVE_STREAMS).map((job) => job.id));
  const busy = unfinished.length > MAX_LIVE_STREAMS;

  useEffect(() => {
    refresh();
    const timer = window.setInterval(refresh, busy ? BUSY_LIST_REFRESH_MS : LIST_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [refresh, busy]);
  const onDeleted = useCallback(
    (id: string) => {
      setJobs((all) => all?.filter((j) => j.id !== id) ?? null);
      refresh(); // the count, and whichever job moves up from the next page
    },
    [refresh],
  );

  return (
    <div className="page">
      <div className="page-head">
        <h1>Jobs</h1>
        <Link className="button primary" to="/">
          New job
        </Link>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {jobs === null && !error && <p className="muted">Loading jobs…</p>}
      {jobs !== null && jobs.length === 0 && (
        <section className="panel empty">
          <h2>No jobs yet</h2>
          <p>Upload a song and its separation shows up here, with live progress.</p>
          <Link className="button primary" to="/">
            Split a song
          </Link>
        </section>
      )}
      {jobs !== null && jobs.length > 0 && (
        <ul className="jobs" aria-label="Jobs, newest first">
          {jobs.map((job) => (
            // Keyed by both: a job that gains a stream starts its feed afresh.
            <JobRow
              key={`${job.id}:${streamed.has(job.id)}`}
              initial={job}
              stream={streamed.has(job.id)}
              onDeleted={onDeleted}
            />
          ))}
        </ul>
      )}
      {jobs !== null && jobs.length < count && (
        <div className="more">
          <button type="button" className="button" onClick={loadOlder}>
            Show older jobs ({count - jobs.length} more)
          </button>
          {olderError && (
            <p className="error" role="alert">
              {olderError}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
