import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, type Job } from "../api/client";
import { errorText } from "../lib/errors";
import { stageText } from "../lib/jobStatus";
import { useTitle } from "../lib/useTitle";
import { Player } from "../player/Player";

/** Why a job that is not completed has no player. */
function notReady(job: Job): string {
  if (job.status === "cancelled") return "This job was cancelled, so it has no stems.";
  if (job.status === "failed") return `This job failed${job.error ? `: ${job.error}` : "."}`;
  return `Not ready yet (${stageText(job)}). The player opens once its stems are ready.`;
}

/** Opens the job in the URL: the player once its stems are ready, else why not. */
export function PlayerPage() {
  const { jobId = "" } = useParams();
  const [job, setJob] = useState<Job | null>(null);
  useTitle(job ? job.source.name : "Player");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setJob(null);
    setError(null);
    api.job(jobId).then(setJob, (e: unknown) => setError(errorText(e)));
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
  if (job.status !== "completed")
    return (
      <section className="panel narrow">
        <h1>{job.source.name}</h1>
        <p>{notReady(job)}</p>
        <Link className="button" to="/jobs">
          Back to jobs
        </Link>
      </section>
    );
  return <Player job={job} />;
}
