// How much work waits in each queue, and whether anyone is there to take it.
import type { QueueStatus } from "../api/client";
import { queueName, queueText, unserved } from "./system";

export function QueuesPanel({ queues }: { queues: QueueStatus[] }) {
  return (
    <section className="panel system-section" aria-labelledby="queues-heading">
      <h2 id="queues-heading">Queues</h2>
      <ul className="queue-list">
        {queues.map((queue) => (
          <li key={queue.name} data-testid="queue">
            <span className="queue-name">{queueName(queue)}</span>
            <span>{queueText(queue)}</span>
            {unserved(queue) && queue.depth > 0 && (
              <span className="error">No worker takes these jobs.</span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
