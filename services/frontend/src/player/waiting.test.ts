import { describe, expect, it } from "vitest";
import { waitingTitle, waitingView, type WaitingJob } from "./waiting";

const job = (change: Partial<WaitingJob>): WaitingJob => ({
  status: "running",
  stage: "separating",
  stage_detail: "spleeter:2stems",
  progress: 0.42,
  eta_seconds: 95,
  queue_position: null,
  estimated_start_s: null,
  ...change,
});

describe("the player page while its job runs", () => {
  it("says what is being done in plain words, how far, and when it should be done", () => {
    expect(waitingView(job({}))).toEqual({
      status: "Working",
      headline: "Separating vocals",
      percent: "42 %",
      eta: "about 2 min left",
    });
  });

  it("gives a queued job's place in line and start, and no ETA yet", () => {
    const queued = job({
      status: "queued",
      stage: "waiting",
      progress: 0,
      eta_seconds: 30,
      queue_position: 3,
      estimated_start_s: 130,
    });
    expect(waitingView(queued)).toEqual({
      status: "Queued",
      headline: "3rd in line, starts in about 2 min",
      percent: "0 %",
      eta: null,
    });
  });

  it("takes the place in line from the fresher copy while both are queued", () => {
    const streamed = job({ status: "queued", stage: "waiting", queue_position: 3, estimated_start_s: null });
    const refreshed = job({ status: "queued", stage: "waiting", queue_position: 1, estimated_start_s: 5 });
    expect(waitingView(streamed, refreshed).headline).toBe("Next in line, starts any moment");
    // Once the stream says it runs, a stale queued copy is ignored.
    expect(waitingView(job({}), refreshed).headline).toBe("Separating vocals");
  });

  it("falls back to the stage when the place in line is not known", () => {
    const queued = job({ status: "queued", stage: "waiting", queue_position: null });
    expect(waitingView(queued).headline).toBe("Waiting for a free worker");
  });

  it("leaves the ETA out while it is unknown", () => {
    expect(waitingView(job({ eta_seconds: null })).eta).toBeNull();
  });

  it("puts the progress first in the tab's title", () => {
    expect(waitingTitle(0.5, "80s Rock.wav")).toBe("50 % · 80s Rock.wav");
  });
});
