// A sent song's card once the server has its job: how far it has got, its place in
// line while it waits, then "Open player". Lives where the upload's card was.
import { Link } from "react-router-dom";
import type { Job } from "../api/client";
import { ProgressBar } from "../components/ProgressBar";
import { isFinal } from "../lib/jobStatus";
import { cardLine } from "./cardLine";
import { useLiveJob } from "./useLiveJob";

export function JobCard({ initial, name }: { initial: Job; name: string }) {
  const { job, mode } = useLiveJob(initial);
  const final = isFinal(job.status);
  return (
    <li
      className={`upload song-card done status-${job.status}`}
      data-testid="job-card"
      data-job-id={job.id}
      data-status={job.status}
    >
      <div className="upload-head">
        <span className="upload-name">{name}</span>
        {job.status === "completed" && (
          <span className="muted small">{job.stems.map((stem) => stem.name).join(" · ")}</span>
        )}
      </div>
      {!final && <ProgressBar value={job.progress} label={`Progress of ${name}`} />}
      <div className="upload-foot">
        <span className={job.status === "completed" ? "ok-text" : undefined} aria-live="polite" data-testid="card-line">
          {cardLine(job)}
        </span>
        {job.status === "completed" && (
          <Link className="button primary" to={`/jobs/${job.id}`}>
            Open player
          </Link>
        )}
        {!final && (
          <Link to="/jobs" className="small">
            All jobs
          </Link>
        )}
      </div>
      {job.error && (
        <p className="error" role="alert">
          {job.error}
        </p>
      )}
      {mode === "offline" && (
        <p className="error" role="alert">
          Lost contact with the server; trying again.
        </p>
      )}
    </li>
  );
}
