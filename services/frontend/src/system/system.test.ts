import { describe, expect, it } from "vitest";
import type { QueueStatus, WorkerPresence } from "../api/client";
import { deviceText, jobsDoneText, memoryText, queueText, shortId, waitText, workerState } from "./system";

const NOW = Date.parse("2026-12-03T12:00:00Z");

function worker(extra: Partial<WorkerPresence> = {}): WorkerPresence {
  return {
    name: "box.41",
    host: "box",
    pid: 41,
    device: "cpu",
    queues: ["separate", "ingest"],
    current_job: null,
    current_queue: null,
    job_started_at: null,
    models_loaded: [],
    models_bytes: 0,
    rss_bytes: 300 * 1024 * 1024,
    jobs_done: 0,
    started_at: "2026-12-03T11:00:00Z",
    last_heartbeat: "2026-12-03T11:59:58Z",
    interval_s: 5,
    stale: false,
    ...extra,
  };
}

function queue(extra: Partial<QueueStatus> = {}): QueueStatus {
  return { name: "separate", depth: 0, oldest_wait_s: null, workers: 1, ...extra };
}

describe("a worker in words", () => {
  it("says what it is doing", () => {
    expect(workerState(worker(), NOW)).toBe("Idle, waiting for jobs");
    const busy = worker({ current_job: "3f9c2a7e1b4d8c06aa", current_queue: "separate" });
    expect(workerState(busy, NOW)).toBe("Separating job 3f9c2a7e…");
    const fetching = worker({ current_job: "abc", current_queue: "ingest" });
    expect(workerState(fetching, NOW)).toBe("Downloading job abc");
  });

  it("says when a stale one last reported", () => {
    const quiet = worker({ stale: true, last_heartbeat: "2026-12-03T11:55:00Z" });
    expect(workerState(quiet, NOW)).toBe("Not reporting since 5 minutes ago");
  });

  it("names its device, memory and work done", () => {
    expect(deviceText("cpu")).toBe("CPU");
    expect(deviceText("NVIDIA H200")).toBe("GPU · NVIDIA H200");
    expect(memoryText(worker())).toBe("300.0 MB");
    expect(memoryText(worker({ models_bytes: 80 * 1024 * 1024 }))).toBe("300.0 MB (models 80.0 MB)");
    expect(memoryText(worker({ rss_bytes: null }))).toBe("unknown");
    expect([0, 1, 7].map(jobsDoneText)).toEqual(["0 jobs done", "1 job done", "7 jobs done"]);
    expect(shortId("short")).toBe("short");
  });
});

describe("a queue in words", () => {
  it("says how many wait and for how long", () => {
    expect(queueText(queue())).toBe("Empty");
    expect(queueText(queue({ depth: 1, oldest_wait_s: 12 }))).toBe("1 job waiting, the first for 12 s");
    expect(queueText(queue({ depth: 4, oldest_wait_s: 600 }))).toBe("4 jobs waiting, the first for 10 min");
    expect(waitText(3 * 3600)).toBe("3 h");
  });
});
