import { useEffect } from "react";
import { api } from "../api/client";
import { FailuresPanel } from "../system/FailuresPanel";
import { QueuesPanel } from "../system/QueuesPanel";
import { WorkersPanel } from "../system/WorkersPanel";
import { useLoaded } from "../lib/useLoaded";
import { useTitle } from "../lib/useTitle";

/** How often the page asks again: a worker reports every few seconds. */
const REFRESH_MS = 5000;

/** For admins: the workers, the queues and what failed lately, kept fresh. */
export function SystemPage() {
  useTitle("System");
  const system = useLoaded(api.system);
  const { reload } = system;
  useEffect(() => {
    const timer = window.setInterval(reload, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [reload]);
  return (
    <div className="page system">
      <h1>System</h1>
      {system.error && (
        <p className="error" role="alert">
          {system.error}
        </p>
      )}
      {system.data === null && !system.error && <p className="muted">Loading…</p>}
      {system.data && (
        <>
          <WorkersPanel workers={system.data.workers} />
          <QueuesPanel queues={system.data.queues} />
          <FailuresPanel failures={system.data.failures} />
        </>
      )}
    </div>
  );
}
