// What the player page says while its job is still queued or running: where the job
// stands in a musician's words, how far it has got, and when it should be done.
import type { Job } from "../api/client";
import { formatEta, formatPercent } from "../lib/format";
import { STATUS_LABELS } from "../lib/jobStatus";
import { queueText } from "../lib/queue";
import { stageWords } from "../lib/stages";

export type WaitingJob = Pick<
  Job,
  "status" | "stage" | "stage_detail" | "progress" | "eta_seconds" | "queue_position" | "estimated_start_s"
>;

export interface WaitingView {
  /** Queued, Fetching, Working. */
  status: string;
  /** The one line that matters now: the place in line while queued, else what is being done. */
  headline: string;
  percent: string;
  /** When it should be done, while running and known. */
  eta: string | null;
}

/**
 * `placed`: a fresher copy of the job for its place in line, which moves when jobs ahead
 * end and which the job's own event stream therefore does not carry.
 */
export function waitingView(job: WaitingJob, placed: WaitingJob | null = null): WaitingView {
  const queued = job.status === "queued";
  const line = queued ? (placed?.status === "queued" ? placed : job) : null;
  const inLine = line ? queueText(line.queue_position, line.estimated_start_s) : null;
  const eta = !queued && job.eta_seconds != null ? formatEta(job.eta_seconds) : null;
  return {
    status: STATUS_LABELS[job.status],
    headline: inLine ?? stageWords(job),
    percent: formatPercent(job.progress),
    eta,
  };
}

/** The tab's title while waiting, so a musician in another tab sees it move. */
export function waitingTitle(progress: number, songName: string): string {
  return `${formatPercent(progress)} · ${songName}`;
}
