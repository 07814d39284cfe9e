import { describe, expect, it } from "vitest";
import { cardLine, type CardJob } from "./cardLine";

const job = (change: Partial<CardJob>): CardJob => ({
  status: "queued",
  stage: "waiting",
  stage_detail: null,
  queue_position: null,
  estimated_start_s: null,
  progress: 0,
  eta_seconds: null,
  ...change,
});

describe("a song card's line", () => {
  it("says its place in line while it waits, once the server knows it", () => {
    expect(cardLine(job({ queue_position: 3, estimated_start_s: 130 }))).toBe("3rd in line, starts in about 2 min · 0 %");
    expect(cardLine(job({ queue_position: 1 }))).toBe("Next in line · 0 %");
    expect(cardLine(job({}))).toBe("Waiting for a free worker · 0 %");
  });

  it("says what the worker is doing, how far and how long is left", () => {
    const running = job({ status: "running", stage: "separating", stage_detail: "spleeter:2stems", progress: 0.42, eta_seconds: 75 });
    expect(cardLine(running)).toBe("Separating vocals · 42 % · about 2 min left");
    expect(cardLine(job({ status: "running", stage: "uploading", progress: 0.97 }))).toBe("Saving stems · 97 %");
  });

  it("says how it ended, without a percentage", () => {
    expect(cardLine(job({ status: "completed", stage: "done", progress: 1 }))).toBe("Ready to play");
    expect(cardLine(job({ status: "failed", stage: "separating", progress: 0.3 }))).toBe("Could not split this song");
  });
});
