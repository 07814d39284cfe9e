// One job in the list: what it is, how far it has got (live while it runs), and what
// can be done with it.
import { useEffect } from "react";
import { Link } from "react-router-dom";
import type { Job } from "../api/client";
import { ProgressBar } from "../components/ProgressBar";
import { formatDuration, formatEta, formatPercent, formatTimestamp } from "../lib/format";
import { isFinal, STATUS_LABELS } from "../lib/jobStatus";
import { queueText } from "../lib/queue";
import { stageWords } from "../lib/stages";
import { strategyWords } from "../lib/strategyWords";
import { useJobFeed } from "../lib/useJobFeed";
import { CancelOrDeleteButton } from "./CancelOrDeleteButton";

/** The site a URL job fetches from, as people recognise it ("www.example.org"). */
function sourceHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** `stream`: follow the job's own event stream; otherwise the list's refresh keeps it fresh. */
export function JobRow({
  initial,
  stream,
  onCancelled,
  onDeleted,
}: {
  initial: Job;
  stream: boolean;
  onCancelled: (id: string) => void;
  onDeleted: (id: string) => void;
}) {
  const live = useJobFeed(initial.id, initial, stream);
  const job = stream ? (live.job ?? initial) : initial;
  useEffect(() => {
    if (live.mode === "gone") onDeleted(initial.id);
  }, [live.mode, initial.id, onDeleted]);

  const final = isFinal(job.status);
  // The line moves when jobs ahead end, which the job's own stream does not hear of: a
  // queued job's place comes from the list, refreshed on its timer.
  const queued = job.status === "queued" && initial.status === "queued" ? initial : job;
  const inLine = queueText(queued.queue_position, queued.estimated_start_s);
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
          <span className={`status-pill ${job.status}`}>{STATUS_LABELS[job.status]}</span>
        </div>
        <div className="job-meta muted">
          {job.source.url && <span>from {sourceHost(job.source.url)}</span>}
          {job.source.duration_s != null && <span>{formatDuration(job.source.duration_s)}</span>}
          <span>{strategyWords(job)}</span>
          <span>{job.formats.join(", ")}</span>
          <span>{formatTimestamp(job.created_at)}</span>
        </div>
        {!final && (
          <div className="job-progress">
            <ProgressBar value={job.progress} label={`Progress of ${job.source.name}`} />
            <span className="job-stage" aria-live="polite">
              {inLine ?? stageWords(job)} · <span data-testid="job-percent">{formatPercent(job.progress)}</span>
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
        <CancelOrDeleteButton job={job} onCancelled={onCancelled} onDeleted={onDeleted} />
      </div>
    </li>
  );
}
