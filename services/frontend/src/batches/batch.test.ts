import { describe, expect, it } from "vitest";
import type { Job, JobStatus } from "../api/client";
import { batchFinished, batchTitle, doneText, outcomeText } from "./batch";

const jobs = (...statuses: JobStatus[]) => statuses.map((status) => ({ status }) as Job);

describe("a batch in plain words", () => {
  it("counts every ended song as done, however it ended", () => {
    expect(doneText({ jobs: jobs("completed", "running", "failed", "queued", "cancelled") })).toBe("3 of 5 done");
    expect(doneText({ jobs: jobs("queued", "queued") })).toBe("0 of 2 done");
  });

  it("says how it ended, or what went wrong so far", () => {
    expect(outcomeText({ status: "running", jobs: jobs("running", "completed") })).toBeNull();
    expect(outcomeText({ status: "running", jobs: jobs("failed", "running", "cancelled") })).toBe("1 failed, 1 cancelled.");
    expect(outcomeText({ status: "completed", jobs: jobs("completed", "completed") })).toBe("All 2 songs are ready.");
    expect(outcomeText({ status: "partial", jobs: jobs("completed", "failed", "failed") })).toBe("2 failed.");
    expect(outcomeText({ status: "failed", jobs: jobs("failed", "failed") })).toBe("None of the 2 songs could be split.");
  });

  it("stops asking once it has ended", () => {
    expect(["queued", "running"].map((s) => batchFinished(s as "queued"))).toEqual([false, false]);
    expect(["completed", "failed", "partial"].map((s) => batchFinished(s as "partial"))).toEqual([true, true, true]);
  });

  it("is named by its number of songs", () => {
    expect(batchTitle({ jobs: jobs("queued", "queued", "queued") })).toBe("Batch of 3 songs");
  });
});
