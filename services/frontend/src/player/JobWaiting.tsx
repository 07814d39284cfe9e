// The player page of a job still queued or running: live progress from the job's event
// stream, handed up on every change, so the page becomes the player the moment the job
// completes, with no reload.
import { useEffect } from "react";
import { Link } from "react-router-dom";
import type { Job } from "../api/client";
import { ProgressBar } from "../components/ProgressBar";
import { useJobFeed } from "../lib/useJobFeed";
import { useQueuePlace } from "./useQueuePlace";
import { waitingView } from "./waiting";
import "./player.css";

export function JobWaiting({ initial, onJob }: { initial: Job; onJob: (job: Job) => void }) {
  const live = useJobFeed(initial.id, initial);
  const job = live.job ?? initial;
  const placed = useQueuePlace(job.id, job.status === "queued");
  useEffect(() => {
    if (live.job) onJob(live.job);
  }, [live.job, onJob]);

  if (live.mode === "gone")
    return (
      <section className="panel narrow">
        <h1>{job.source.name}</h1>
        <p role="alert">This job was deleted, so it will not have stems.</p>
        <Link className="button" to="/">
          Split another song
        </Link>
      </section>
    );
  const view = waitingView(job, placed);
  return (
    <section
      className="panel player-wait"
      aria-labelledby="wait-title"
      data-testid="job-waiting"
      data-status={job.status}
    >
      <p className="crumbs">
        <Link to="/jobs">Jobs</Link> / player
      </p>
      <h1 id="wait-title">{job.source.name}</h1>
      <div className="wait-status">
        {/* Only the words are announced: they change a few times, the percentage every second. */}
        <span className="wait-stage" aria-live="polite">
          <span className={`status-pill ${job.status}`}>{view.status}</span> {view.headline}
        </span>
        <span className="wait-percent" data-testid="wait-percent">
          {view.percent}
        </span>
      </div>
      <ProgressBar value={job.progress} label={`Progress of ${job.source.name}`} />
      <p className="wait-detail">
        {view.eta && <span data-testid="wait-eta">{view.eta}</span>}
        <span>The player opens here by itself when the stems are ready.</span>
      </p>
      {live.mode === "offline" && (
        <p className="error" role="alert">
          Lost contact with the server; retrying.
        </p>
      )}
    </section>
  );
}
