import { Link, useParams } from "react-router-dom";
import { batchFinished, batchTitle, doneText, outcomeText } from "../batches/batch";
import { useBatch } from "../batches/useBatch";
import { ProgressBar } from "../components/ProgressBar";
import { JobRow } from "../jobs/JobRow";
import { formatTimestamp } from "../lib/format";
import { useTitle } from "../lib/useTitle";
import { NotFoundPage } from "./NotFoundPage";

/** Several songs sent at once: how far they have got together, each song's own row, and one zip. */
export function BatchPage() {
  const { batchId = "" } = useParams();
  const { batch, error, missing, reload } = useBatch(batchId);
  useTitle(batch ? batchTitle(batch) : "Batch");
  if (missing) return <NotFoundPage />;

  const outcome = batch && outcomeText(batch);
  return (
    <div className="page batch">
      <div className="page-head">
        <h1>{batch ? batchTitle(batch) : "Batch"}</h1>
        <Link className="button" to="/">
          New job
        </Link>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {batch === null && !error && <p className="muted">Loading the batch…</p>}
      {batch && (
        <section className="panel batch-summary" aria-label="Progress of the batch">
          <p className="muted small">Sent {formatTimestamp(batch.created_at)}</p>
          <ProgressBar
            value={batchFinished(batch.status) ? 1 : batch.progress}
            label="Progress of the batch"
            tone={batch.status === "failed" ? "bad" : batch.status === "completed" ? "ok" : undefined}
          />
          <p className="batch-count" aria-live="polite">
            <strong data-testid="batch-done">{doneText(batch)}</strong>
            {outcome && <span className={batch.status === "completed" ? "ok-text" : undefined}> · {outcome}</span>}
          </p>
          {batch.zip_url && (
            <a className="button primary" href={batch.zip_url} download>
              Download all (zip)
            </a>
          )}
        </section>
      )}
      {batch && batch.jobs.length > 0 && (
        // A song cancelled or deleted here: the batch's own answer says what is left.
        <ul className="jobs" aria-label="Songs in this batch">
          {batch.jobs.map((job) => (
            <JobRow key={job.id} initial={job} stream={false} onCancelled={reload} onDeleted={reload} />
          ))}
        </ul>
      )}
    </div>
  );
}
