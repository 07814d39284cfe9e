import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api, type Job } from "../api/client";
import { ProgressBar } from "../components/ProgressBar";
import { errorText } from "../lib/errors";
import { FINAL_STATUSES, MAX_LIVE_STREAMS } from "../lib/feed";
import { formatDuration, formatEta, formatPercent, formatTimestamp } from "../lib/format";
import { useJobFeed } from "../lib/useJobFeed";
import { useTitle } from "../lib/useTitle";

/** New jobs (from another tab, or the API) show up at this pace; progress comes by SSE. */
const LIST_REFRESH_MS = 15000;

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
  const job = live.job ?? initial;
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
          <span>{formatDuration(job.source.duration_s)}</span>
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

export function JobsPage() {
  useTitle("Jobs");
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    api
      .jobs()
      .then((list) => {
        setJobs(list.data);
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, []);

  useEffect(() => {
    refresh();
    const timer = window.setInterval(refresh, LIST_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [refresh]);

  // The newest unfinished jobs get event streams; any beyond MAX_LIVE_STREAMS are polled.
  const streamed = new Set(
    (jobs ?? [])
      .filter((job) => !FINAL_STATUSES.has(job.status))
      .slice(0, MAX_LIVE_STREAMS)
      .map((job) => job.id),
  );
  const onDeleted = useCallback((id: string) => setJobs((all) => all?.filter((j) => j.id !== id) ?? null), []);

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
            <JobRow key={job.id} initial={job} stream={streamed.has(job.id)} onDeleted={onDeleted} />
          ))}
        </ul>
      )}
    </div>
  );
}
