// The live-update state machine for one job: Server-Sent Events first,
// polling when the event stream fails, and done once the job is final or gone.
// Pure: the hook in useJobFeed.ts feeds it events and performs its commands.
import type { JobStatus } from "../api/client";
import { isFinal } from "./jobStatus";

/** Stream failures in a row before giving up on SSE for this job and polling instead. */
export const MAX_STREAM_FAILURES = 3;
export const POLL_INTERVAL_MS = 2000;
/** Polls in a row that fail before the feed says the server cannot be reached. */
export const MAX_POLL_FAILURES = 5;

/** idle: someone else keeps this job fresh (the jobs list, for jobs past the stream cap). */
export type FeedMode = "connecting" | "live" | "polling" | "done" | "gone" | "offline" | "idle";

export interface FeedState<J> {
  mode: FeedMode;
  job: J | null;
  streamFailures: number;
  pollFailures: number;
}

export type FeedEvent<J> =
  | { type: "stream-open" }
  | { type: "stream-job"; job: J }
  | { type: "stream-deleted" }
  | { type: "stream-error" }
  | { type: "poll-job"; job: J }
  | { type: "poll-missing" }
  | { type: "poll-error" };

export interface HasStatus {
  status: JobStatus;
}

/**
 * Event streams one page keeps open at most. A browser holds six HTTP/1.1
 * connections per server; streams beyond these would starve the page's other
 * requests (uploads included), so further jobs are left to the list's refresh.
 */
export const MAX_LIVE_STREAMS = 4;

/** A job already final needs no feed at all; `follow: false` leaves it idle. */
export function initialFeed<J extends HasStatus>(job: J | null = null, follow = true): FeedState<J> {
  const mode = job && isFinal(job.status) ? "done" : follow ? "connecting" : "idle";
  return { mode, job, streamFailures: 0, pollFailures: 0 };
}

function withJob<J extends HasStatus>(state: FeedState<J>, job: J, mode: FeedMode): FeedState<J> {
  return { ...state, job, mode: isFinal(job.status) ? "done" : mode };
}

export function feedReducer<J extends HasStatus>(
  state: FeedState<J>,
  event: FeedEvent<J>,
): FeedState<J> {
  if (state.mode === "done" || state.mode === "gone" || state.mode === "idle") return state;
  switch (event.type) {
    case "stream-open":
      return state.mode === "polling" ? state : { ...state, mode: "live", streamFailures: 0 };
    case "stream-job":
      return withJob({ ...state, streamFailures: 0 }, event.job, "live");
    case "stream-deleted":
    case "poll-missing":
      return { ...state, mode: "gone" };
    case "stream-error": {
      const streamFailures = state.streamFailures + 1;
      const mode = streamFailures >= MAX_STREAM_FAILURES ? "polling" : "connecting";
      return { ...state, streamFailures, mode };
    }
    case "poll-job":
      return withJob({ ...state, pollFailures: 0 }, event.job, "polling");
    case "poll-error": {
      const pollFailures = state.pollFailures + 1;
      return { ...state, pollFailures, mode: pollFailures >= MAX_POLL_FAILURES ? "offline" : state.mode };
    }
  }
}

/** What the hook should be doing in a given state. */
export function feedWants(mode: FeedMode): "stream" | "poll" | "nothing" {
  if (mode === "connecting" || mode === "live") return "stream";
  if (mode === "polling" || mode === "offline") return "poll";
  return "nothing";
}
