// Live updates of one job: the feed state machine (feed.ts) wired to EventSource
// and, when the stream keeps failing, to polling.
import { useEffect, useReducer } from "react";
import { api, eventsUrl, type Job } from "../api/client";
import { ApiError } from "./errors";
import { feedReducer, feedWants, initialFeed, POLL_INTERVAL_MS, type FeedState } from "./feed";

/** `follow: false`: the caller keeps the job fresh; the feed opens nothing. */
export function useJobFeed(jobId: string, initial: Job | null = null, follow = true): FeedState<Job> {
  const [state, dispatch] = useReducer(feedReducer<Job>, initial, (job) => initialFeed<Job>(job, follow));
  const wants = feedWants(state.mode);
  const streamFailures = state.streamFailures;

  useEffect(() => {
    if (wants !== "stream") return;
    const source = new EventSource(eventsUrl(jobId));
    source.onopen = () => dispatch({ type: "stream-open" });
    source.addEventListener("job", (event) => {
      dispatch({ type: "stream-job", job: JSON.parse((event as MessageEvent<string>).data) as Job });
    });
    source.addEventListener("deleted", () => dispatch({ type: "stream-deleted" }));
    source.onerror = () => {
      // The server closes the stream after a final status; EventSource would reconnect
      // on its own, so close it and let the state machine decide what comes next.
      source.close();
      dispatch({ type: "stream-error" });
    };
    return () => source.close();
    // streamFailures: each failure opens a fresh EventSource.
  }, [jobId, wants, streamFailures]);

  useEffect(() => {
    if (wants !== "poll") return;
    let cancelled = false;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const job = await api.job(jobId);
        if (!cancelled) dispatch({ type: "poll-job", job });
      } catch (error) {
        if (cancelled) return;
        dispatch(error instanceof ApiError && error.status === 404 ? { type: "poll-missing" } : { type: "poll-error" });
      }
      if (!cancelled) timer = window.setTimeout(poll, POLL_INTERVAL_MS);
    };
    void poll();
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [jobId, wants]);

  return state;
}
