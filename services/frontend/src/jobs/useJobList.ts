// The jobs list: its newest page refreshed on a timer, older pages on request, and
// which unfinished jobs get an event stream of their own.
import { useCallback, useEffect, useState } from "react";
import { api, type Job } from "../api/client";
import { ApiError, errorText } from "../lib/errors";
import { MAX_LIVE_STREAMS } from "../lib/feed";
import { isFinal } from "../lib/jobStatus";
import { PAGE_SIZE, withJob, withNewestPage, withOlderPage } from "../lib/jobList";

/** New jobs (from another tab, or the API) show up at this pace; progress comes by SSE. */
const LIST_REFRESH_MS = 15000;
/** The pace while some unfinished jobs are past the stream cap: the list carries their progress. */
const BUSY_LIST_REFRESH_MS = 3000;

export interface LoadedJobs {
  /** null until the first page has come. */
  jobs: Job[] | null;
  /** Jobs on the server in all, loaded or not. */
  count: number;
  error: string | null;
  olderError: string | null;
  /** The jobs that follow their own event stream. */
  streamed: Set<string>;
  loadOlder: () => void;
  /** A job was cancelled (or had just ended on its own): its row shows how, from the API. */
  onCancelled: (id: string) => void;
  onDeleted: (id: string) => void;
}

export function useJobList(): LoadedJobs {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [count, setCount] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [olderError, setOlderError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    api
      .jobs(PAGE_SIZE, 0)
      .then((list) => {
        setJobs((current) => withNewestPage(current, list.data));
        setCount(list.count);
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, []);

  const loadOlder = () => {
    setOlderError(null);
    api
      .jobs(PAGE_SIZE, jobs?.length ?? 0)
      .then((list) => {
        setJobs((current) => withOlderPage(current ?? [], list.data));
        setCount(list.count);
      })
      .catch((e: unknown) => setOlderError(errorText(e)));
  };

  // The newest unfinished jobs get event streams; the list's refresh carries the rest.
  const unfinished = (jobs ?? []).filter((job) => !isFinal(job.status));
  const streamed = new Set(unfinished.slice(0, MAX_LIVE_STREAMS).map((job) => job.id));
  const busy = unfinished.length > MAX_LIVE_STREAMS;

  useEffect(() => {
    refresh();
    const timer = window.setInterval(refresh, busy ? BUSY_LIST_REFRESH_MS : LIST_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [refresh, busy]);
  const onDeleted = useCallback(
    (id: string) => {
      setJobs((all) => all?.filter((j) => j.id !== id) ?? null);
      refresh(); // the count, and whichever job moves up from the next page
    },
    [refresh],
  );
  const onCancelled = useCallback(
    (id: string) => {
      // The one job, not the list: it may sit on an older page the refresh does not cover.
      // Should this ask fail, its event stream or the list's refresh brings the change.
      api.job(id).then(
        (job) => setJobs((all) => withJob(all, job)),
        (e: unknown) => {
          if (e instanceof ApiError && e.status === 404) onDeleted(id);
        },
      );
    },
    [onDeleted],
  );

  return { jobs, count, error, olderError, streamed, loadOlder, onCancelled, onDeleted };
}
