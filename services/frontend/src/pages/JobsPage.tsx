import { Link } from "react-router-dom";
import { JobRow } from "../jobs/JobRow";
import { useJobList } from "../jobs/useJobList";
import { useTitle } from "../lib/useTitle";

export function JobsPage() {
  useTitle("Jobs");
  const { jobs, count, error, olderError, streamed, loadOlder, onCancelled, onDeleted } = useJobList();

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
              onCancelled={onCancelled}
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
