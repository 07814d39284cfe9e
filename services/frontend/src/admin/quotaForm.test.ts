import { describe, expect, it } from "vitest";
import { parseQuota, parseQuotaDraft, quotaDraft } from "./quotaForm";

describe("the quota form", () => {
  it("tells empty (the default), unlimited and a number apart", () => {
    expect(parseQuota("", 10)).toEqual({ ok: true, value: null });
    expect(parseQuota("   ", 10)).toEqual({ ok: true, value: null });
    expect(parseQuota(" Unlimited ", 10)).toEqual({ ok: true, value: 0 });
    expect(parseQuota("3", 10)).toEqual({ ok: true, value: 3 });
  });

  it("refuses a typed 0, which the server would read as unlimited", () => {
    const zero = parseQuota("0", 10);
    expect(zero.ok).toBe(false);
    expect(zero).toMatchObject({ text: expect.stringContaining("unlimited") });
    expect(parseQuota("00", 10).ok).toBe(false);
  });

  it("refuses what is not a whole number, and more than the server takes", () => {
    for (const raw of ["-1", "1.5", "1e3", "ten", "3 MB"]) expect(parseQuota(raw, 10).ok, raw).toBe(false);
    expect(parseQuota("11", 10)).toEqual({ ok: false, text: "At most 10." });
    expect(parseQuota("10", 10)).toEqual({ ok: true, value: 10 });
  });

  it("shows a user's quotas the way it reads them back", () => {
    const quotas = { active_jobs: null, audio_minutes_per_day: 0, storage_mb: 2048 };
    const draft = quotaDraft(quotas);
    expect(draft).toEqual({ active_jobs: "", audio_minutes_per_day: "unlimited", storage_mb: "2048" });
    expect(parseQuotaDraft(draft)).toEqual({ ok: true, quotas });
  });

  it("names every field that cannot be sent", () => {
    expect(parseQuotaDraft({ active_jobs: "0", audio_minutes_per_day: "60", storage_mb: "lots" })).toEqual({
      ok: false,
      errors: { active_jobs: expect.any(String), storage_mb: expect.any(String) },
    });
  });
});
