import { describe, expect, it } from "vitest";
import type { Usage } from "../api/client";
import { quotaLines } from "./usage";

const now = Date.parse("2026-12-03T18:00:00Z");
const GB = 1024 ** 3;

function usage(overrides: Partial<Usage> = {}): Usage {
  return {
    active_jobs: { used: 1, allowed: 4 },
    audio_minutes_today: { used: 12.5, allowed: 60, resets_at: "2026-12-04T00:00:00Z" },
    storage_bytes: { used: 1.5 * GB, allowed: 10 * GB },
    ...overrides,
  };
}

describe("usage against each quota", () => {
  it("says how much of each is used, and fills a bar as far", () => {
    const [jobs, minutes, storage] = quotaLines(usage(), now);
    expect(jobs).toMatchObject({ title: "Jobs at once", amount: "1 of 4", fraction: 0.25, full: false });
    expect(minutes).toMatchObject({ amount: "12.5 of 60", fraction: 12.5 / 60 });
    expect(storage).toMatchObject({ amount: "1.5 GB of 10 GB", fraction: 0.15 });
  });

  it("says when the day's minutes come back, once some are used", () => {
    expect(quotaLines(usage(), now)[1]?.note).toContain("Minutes come back in 6 hours.");
    const unused = usage({ audio_minutes_today: { used: 0, allowed: 60, resets_at: "2026-12-04T00:00:00Z" } });
    expect(quotaLines(unused, now)[1]?.note).not.toContain("come back");
    const noClock = usage({ audio_minutes_today: { used: 3, allowed: 60, resets_at: null } });
    expect(quotaLines(noClock, now)[1]?.note).toBe("Length of the songs you sent in the last 24 hours.");
  });

  it("shows no bar, and the word unlimited, when nothing limits it", () => {
    const [jobs] = quotaLines(usage({ active_jobs: { used: 7, allowed: null } }), now);
    expect(jobs).toMatchObject({ amount: "7 (unlimited)", fraction: null, full: false });
  });

  it("marks a quota that is used up, without a bar past its end", () => {
    const [jobs] = quotaLines(usage({ active_jobs: { used: 5, allowed: 4 } }), now);
    expect(jobs).toMatchObject({ fraction: 1, full: true });
    const [none] = quotaLines(usage({ active_jobs: { used: 0, allowed: 0 } }), now);
    expect(none).toMatchObject({ amount: "0 of 0", fraction: 1, full: true });
  });
});
