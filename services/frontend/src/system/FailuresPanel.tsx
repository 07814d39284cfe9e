// The latest failed jobs, with the reason each was given.
import type { Failure } from "../api/client";
import { relativeTime } from "../lib/relativeTime";

export function FailuresPanel({ failures }: { failures: Failure[] }) {
  return (
    <section className="panel system-section" aria-labelledby="failures-heading">
      <h2 id="failures-heading">Latest failures</h2>
      {failures.length === 0 ? (
        <p className="muted">Nothing has failed lately.</p>
      ) : (
        <ul className="failure-list">
          {failures.map((failure) => (
            <li key={failure.job_id} data-testid="failure">
              <div className="failure-head">
                <span className="failure-name">{failure.source_name}</span>
                {failure.error_code && <span className="badge">{failure.error_code}</span>}
              </div>
              <p className="muted small">
                {failure.strategy}
                {failure.finished_at && ` · ${relativeTime(failure.finished_at)}`}
              </p>
              {failure.error && <p className="failure-reason">{failure.error}</p>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
