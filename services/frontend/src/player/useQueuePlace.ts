// A queued job's place in line moves when jobs ahead of it end, which its own event
// stream does not hear of; while it waits, the job is read again now and then for it.
import { useEffect, useState } from "react";
import { api, type Job } from "../api/client";

export const QUEUE_REFRESH_MS = 5000;

/** The latest copy read while `queued`; null before the first read or once it runs. */
export function useQueuePlace(jobId: string, queued: boolean): Job | null {
  const [placed, setPlaced] = useState<Job | null>(null);
  useEffect(() => {
    if (!queued) {
      setPlaced(null);
      return;
    }
    let timer: number | undefined;
    let stopped = false;
    const read = async () => {
      try {
        const job = await api.job(jobId);
        if (!stopped) setPlaced(job);
      } catch {
        // The event stream reports trouble with the job itself; a missed place is harmless.
      }
      if (!stopped) timer = window.setTimeout(read, QUEUE_REFRESH_MS);
    };
    timer = window.setTimeout(read, QUEUE_REFRESH_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [jobId, queued]);
  return placed;
}
