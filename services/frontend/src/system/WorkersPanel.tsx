// Each worker as a card: what it runs on, what it is doing, what it keeps loaded.
import type { WorkerPresence } from "../api/client";
import { relativeTime } from "../lib/relativeTime";
import { deviceText, jobsDoneText, memoryText, workerState } from "./system";

function WorkerCard({ worker }: { worker: WorkerPresence }) {
  return (
    <li className={`worker-card${worker.stale ? " stale" : ""}`} data-testid="worker">
      <div className="worker-head">
        <span className="worker-name">{worker.name}</span>
        <span className="badge">{deviceText(worker.device)}</span>
      </div>
      <p className="worker-state">{workerState(worker)}</p>
      <dl className="worker-facts">
        <dt>Queues</dt>
        <dd>{worker.queues.join(", ")}</dd>
        <dt>Models loaded</dt>
        <dd>{worker.models_loaded.length ? worker.models_loaded.join(", ") : "none yet"}</dd>
        <dt>Memory</dt>
        <dd>{memoryText(worker)}</dd>
        <dt>Done</dt>
        <dd>{jobsDoneText(worker.jobs_done)}</dd>
        <dt>Last report</dt>
        <dd>{relativeTime(worker.last_heartbeat)}</dd>
      </dl>
    </li>
  );
}

export function WorkersPanel({ workers }: { workers: WorkerPresence[] }) {
  return (
    <section className="panel system-section" aria-labelledby="workers-heading">
      <h2 id="workers-heading">Workers</h2>
      {workers.length === 0 ? (
        <p className="muted">
          No worker is running, so nothing gets separated. Start one with <code>stemdeck worker</code>.
        </p>
      ) : (
        <ul className="worker-list">
          {workers.map((worker) => (
            <WorkerCard key={worker.name} worker={worker} />
          ))}
        </ul>
      )}
    </section>
  );
}
