// A job's way of splitting in the words the musician chose it by: one of the few
// choices of the new-job page when it is one, else the server's own label for it.
import type { Job } from "../api/client";
import { CHOICE_SPECS } from "../new-job/choices";

export function strategyWords(job: Pick<Job, "strategy" | "strategy_label">): string {
  const choice = CHOICE_SPECS.find((spec) => spec.candidates.includes(job.strategy));
  return choice?.title ?? job.strategy_label ?? job.strategy;
}
