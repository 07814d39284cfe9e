// The System page's words: what each worker is doing, how long a queue has waited.
import type { QueueStatus, WorkerPresence } from "../api/client";
import { formatBytes } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";

export const SYSTEM_PATH = "/admin/system";

/** "Working on job 3f9c…", "Idle", or that it stopped reporting and when it last did. */
export function workerState(worker: WorkerPresence, now: number = Date.now()): string {
  if (worker.stale) return `Not reporting since ${relativeTime(worker.last_heartbeat, now)}`;
  if (worker.current_job === null) return "Idle, waiting for jobs";
  const task = worker.current_queue === "ingest" ? "Downloading" : "Separating";
  return `${task} job ${shortId(worker.current_job)}`;
}

/** Enough of an id to tell jobs apart on a phone; the full one is in the link. */
export function shortId(id: string): string {
  return id.length > 8 ? `${id.slice(0, 8)}…` : id;
}

/** "CPU", or the GPU by name. */
export function deviceText(device: string): string {
  if (device === "cpu") return "CPU";
  if (device === "mps") return "Apple GPU";
  return `GPU · ${device}`;
}

export function memoryText(worker: WorkerPresence): string {
  const process = worker.rss_bytes === null ? "unknown" : formatBytes(worker.rss_bytes);
  return worker.models_bytes > 0 ? `${process} (models ${formatBytes(worker.models_bytes)})` : process;
}

export function jobsDoneText(count: number): string {
  return count === 1 ? "1 job done" : `${count} jobs done`;
}

const QUEUE_NAMES: Record<string, string> = {
  separate: "Separations",
  ingest: "Downloads",
};

export function queueName(queue: QueueStatus): string {
  return QUEUE_NAMES[queue.name] ?? queue.name;
}

/** "Empty", or how many wait and for how long the first has. */
export function queueText(queue: QueueStatus): string {
  if (queue.depth === 0) return "Empty";
  const waiting = queue.depth === 1 ? "1 job waiting" : `${queue.depth} jobs waiting`;
  return queue.oldest_wait_s === null ? waiting : `${waiting}, the first for ${waitText(queue.oldest_wait_s)}`;
}

export function waitText(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** A queue no live worker takes jobs from never moves: worth a warning. */
export function unserved(queue: QueueStatus): boolean {
  return queue.workers === 0;
}
