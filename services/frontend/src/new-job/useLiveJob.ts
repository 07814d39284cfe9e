// One job as it moves, for its card on the new-job page: its event stream (or polls,
// when the stream fails) from useJobFeed, and, while it waits, its place in line.
import { useEffect, useState } from "react";
import { api, type Job } from "../api/client";
import type { FeedMode } from "../lib/feed";
import { useJobFeed } from "../lib/useJobFeed";

/** How often a waiting job's place is read: jobs ahead ending do not reach its stream. */
export const PLACE_REFRESH_MS = 5000;

export function useLiveJob(initial: Job): { job: Job; mode: FeedMode } {
  const feed = useJobFeed(initial.id, initial);
  const [place, setPlace] = useState<Job | null>(null);
  const streamed = feed.job ?? initial;
  const waiting = streamed.status === "queued";

  useEffect(() => {
    if (!waiting) return;
    const timer = window.setInterval(() => {
      api.job(initial.id).then(setPlace, () => undefined); // the stream says if it is gone
    }, PLACE_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [initial.id, waiting]);

  // The latest read that still says queued carries the place: a refresh, else the
  // stream's event, else the answer to the upload.
  const placed = place?.status === "queued" ? place : streamed.queue_position !== null ? streamed : initial;
  const job = waiting
    ? { ...streamed, queue_position: placed.queue_position, estimated_start_s: placed.estimated_start_s }
    : streamed;
  return { job, mode: feed.mode };
}
