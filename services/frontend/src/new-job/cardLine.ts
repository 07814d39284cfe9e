// The one line a song's card says about its job.
import type { Job } from "../api/client";
import { formatEta, formatPercent } from "../lib/format";
import { isFinal } from "../lib/jobStatus";
import { queueText } from "../lib/queue";
import { stageWords } from "../lib/stages";

export type CardJob = Pick<
  Job,
  "status" | "stage" | "stage_detail" | "queue_position" | "estimated_start_s" | "progress" | "eta_seconds"
>;

/** What the card says now: the place in line while it waits, else the stage in words. */
export function cardLine(job: CardJob): string {
  const inLine = job.status === "queued" ? queueText(job.queue_position, job.estimated_start_s) : null;
  const words = inLine ?? stageWords(job);
  if (isFinal(job.status)) return words;
  const eta = job.eta_seconds != null ? ` · ${formatEta(job.eta_seconds)}` : "";
  return `${words} · ${formatPercent(job.progress)}${eta}`;
}
