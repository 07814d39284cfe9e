// A batch (several songs sent at once) in plain words: how far it has got, and how it ended.
import type { Batch, BatchStatus } from "../api/client";
import { isFinal } from "../lib/jobStatus";
import { songCount } from "../new-job/urlLines";

/** How often an unfinished batch is read again. */
export const BATCH_POLL_MS = 2000;

const FINISHED: Record<BatchStatus, boolean> = {
  queued: false,
  running: false,
  completed: true,
  failed: true,
  partial: true,
};

/** Every job in it has ended, one way or another: the page stops asking. */
export function batchFinished(status: BatchStatus): boolean {
  return FINISHED[status];
}

type BatchJobs = Pick<Batch, "jobs">;

/** "2 of 5 done": songs that have ended, however they ended. */
export function doneText(batch: BatchJobs): string {
  const done = batch.jobs.filter((job) => isFinal(job.status)).length;
  return `${done} of ${batch.jobs.length} done`;
}

/** What is left to say beside the count: failures, or how the batch ended. */
export function outcomeText(batch: Pick<Batch, "jobs" | "status">): string | null {
  const failed = batch.jobs.filter((job) => job.status === "failed").length;
  const cancelled = batch.jobs.filter((job) => job.status === "cancelled").length;
  const total = batch.jobs.length;
  if (batch.status === "completed") return total === 1 ? "The song is ready." : `All ${total} songs are ready.`;
  if (batch.status === "failed") return total === 1 ? "The song failed." : `None of the ${total} songs could be split.`;
  const parts = [failed && `${failed} failed`, cancelled && `${cancelled} cancelled`].filter(Boolean);
  return parts.length ? `${parts.join(", ")}.` : null;
}

/** The page's heading: "Batch of 3 songs". */
export function batchTitle(batch: BatchJobs): string {
  return `Batch of ${songCount(batch.jobs.length)}`;
}
