// A job's status and stage in plain words. Every table is keyed by the API's generated
// unions (schema.d.ts), so a status or stage the API adds fails typecheck until it is
// worded here.
import type { Job, JobStage, JobStatus } from "../api/client";

const FINAL: Record<JobStatus, boolean> = {
  queued: false,
  fetching: false,
  running: false,
  completed: true,
  failed: true,
  cancelled: true,
};

/** Completed, failed or cancelled: nothing about the job changes any more. */
export function isFinal(status: JobStatus): boolean {
  return FINAL[status];
}

export const STATUS_LABELS: Record<JobStatus, string> = {
  queued: "Queued",
  fetching: "Fetching",
  // Not "Separating": the stage beside it says which step is running.
  running: "Working",
  completed: "Ready",
  failed: "Failed",
  cancelled: "Cancelled",
};

const STAGE_LABELS: Record<JobStage, string> = {
  waiting: "Waiting for a worker",
  downloading: "Downloading",
  decoding: "Reading the audio",
  separating: "Separating",
  encoding: "Encoding the stems",
  uploading: "Saving the stems",
  done: "Done",
};

/** What an unfinished job is doing, with its detail (the model while separating). */
export function stageText(job: Pick<Job, "stage" | "stage_detail">): string {
  const words = STAGE_LABELS[job.stage];
  return job.stage_detail ? `${words} · ${job.stage_detail}` : words;
}
