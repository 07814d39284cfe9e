import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, type Job } from "../api/client";
import { ApiError, errorText } from "../lib/errors";
import { isFinal } from "../lib/jobStatus";
import { useTitle } from "../lib/useTitle";
import { JobWaiting } from "../player/JobWaiting";
import { Player } from "../player/Player";
import { forgetJobStems } from "../player/stemCache";
import { waitingTitle } from "../player/waiting";

/** Why a job that ended without stems has no player. */
function noStems(job: Job): string {
  if (job.status === "cancelled") return "This job was cancelled, so it has no stems.";
  return `This job failed${job.error ? `: ${job.error}` : "."}`;
}

function pageTitle(job: Job | null): string {
  if (!job) return "Player";
  return isFinal(job.status) ? job.source.name : waitingTitle(job.progress, job.source.name);
}

/**
 * Opens the job in the URL: the player once its stems are ready; while the job is queued
 * or running, its live progress, which turns into the player when it completes.
 */
export function PlayerPage() {
  const { jobId = "" } = useParams();
  const [job, setJob] = useState<Job | null>(null);
  useTitle(pageTitle(job));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setJob(null);
    setError(null);
    api.job(jobId).then(setJob, (e: unknown) => {
      // Deleted (perhaps elsewhere): its stems kept in this browser go too.
      if (e instanceof ApiError && e.status === 404) void forgetJobStems(jobId);
      setError(errorText(e));
    });
  }, [jobId]);

  if (error)
    return (
      <section className="panel narrow">
        <h1>This job cannot be opened</h1>
        <p className="error" role="alert">
          {error}
        </p>
        <Link className="button" to="/jobs">
          Back to jobs
        </Link>
      </section>
    );
  if (!job) return <p className="muted page">Loading the job…</p>;
  // Keyed by job, so another job's page starts its own feed.
  if (!isFinal(job.status)) return <JobWaiting key={job.id} initial={job} onJob={setJob} />;
  if (job.status !== "completed")
    return (
      <section className="panel narrow">
        <h1>{job.source.name}</h1>
        <p className={job.status === "failed" ? "error" : undefined}>{noStems(job)}</p>
        <Link className="button" to="/jobs">
          Back to jobs
        </Link>
      </section>
    );
  return <Player job={job} />;
}
