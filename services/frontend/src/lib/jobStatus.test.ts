import { describe, expect, it } from "vitest";
import type { JobStatus } from "../api/client";
import { isFinal, stageText, STATUS_LABELS } from "./jobStatus";

describe("job status in words", () => {
  it("knows which statuses are final", () => {
    const unfinished: JobStatus[] = ["queued", "fetching", "running"];
    const final: JobStatus[] = ["completed", "failed", "cancelled"];
    expect(unfinished.filter(isFinal)).toEqual([]);
    expect(final.filter(isFinal)).toEqual(final);
    expect(STATUS_LABELS.cancelled).toBe("Cancelled");
  });

  it("names the stage, and the model while separating", () => {
    expect(stageText({ stage: "separating", stage_detail: "demucs:htdemucs" })).toBe("Separating · demucs:htdemucs");
    expect(stageText({ stage: "decoding", stage_detail: null })).toBe("Reading the audio");
    expect(stageText({ stage: "waiting", stage_detail: null })).toBe("Waiting for a worker");
  });
});
