import { describe, expect, it } from "vitest";
import type { AdminUser } from "../api/client";
import { compactUsage, confirmQuestion, roleWords, usersReducer } from "./users";

function user(id: string, extra: Partial<AdminUser> = {}): AdminUser {
  return {
    id,
    email: `${id}@example.com`,
    is_admin: false,
    disabled: false,
    first_admin: false,
    created_at: "2026-12-01T08:00:00Z",
    quotas: { active_jobs: null, audio_minutes_per_day: null, storage_mb: null },
    usage: { active_jobs: 1, audio_minutes_today: 59.2, storage_bytes: 1024 ** 3 },
    ...extra,
  };
}

describe("the users list", () => {
  it("replaces the list when loaded, and one row with the server's answer to a change", () => {
    const list = usersReducer(null, { type: "loaded", users: [user("a"), user("b")] });
    const changed = usersReducer(list, { type: "changed", user: user("b", { disabled: true }) });
    expect(changed?.map((u) => [u.id, u.disabled])).toEqual([
      ["a", false],
      ["b", true],
    ]);
    expect(changed?.[0]).toBe(list?.[0]);
  });

  it("does not bring back a user the list no longer has, nor make a list from nothing", () => {
    const list = [user("a")];
    expect(usersReducer(list, { type: "changed", user: user("z") })).toEqual(list);
    expect(usersReducer(null, { type: "changed", user: user("a") })).toBeNull();
  });

  it("says the role and usage in a few words", () => {
    expect(roleWords(user("a", { is_admin: true }))).toBe("Admin");
    expect(roleWords(user("a"))).toBe("User");
    expect(compactUsage(user("a"))).toEqual([
      { label: "Jobs at once", amount: "1, default limit", full: false },
      { label: "Minutes today", amount: "60, default limit", full: false },
      { label: "Storage", amount: "1 GB, default limit", full: false },
    ]);
    const own = user("a", { quotas: { active_jobs: 3, audio_minutes_per_day: 60, storage_mb: 0 } });
    expect(compactUsage(own)).toEqual([
      { label: "Jobs at once", amount: "1 of 3", full: false },
      { label: "Minutes today", amount: "60 of 60", full: false },
      { label: "Storage", amount: "1 GB, no limit", full: false },
    ]);
    const full = user("a", { quotas: { active_jobs: 1, audio_minutes_per_day: 59, storage_mb: 1024 } });
    expect(compactUsage(full).map((b) => [b.amount, b.full])).toEqual([
      ["1 of 1", true],
      ["60 of 59", true],
      ["1 GB of 1 GB", true],
    ]);
  });

  it("asks before disabling someone or making them an admin, not before undoing either", () => {
    expect(confirmQuestion(user("a"), "disabled")).toMatch(/^Disable a@example.com\?/);
    expect(confirmQuestion(user("a", { disabled: true }), "disabled")).toBeNull();
    expect(confirmQuestion(user("a"), "admin")).toMatch(/^Make a@example.com an admin\?/);
    expect(confirmQuestion(user("a", { is_admin: true }), "admin")).toBeNull();
  });
});
