import { describe, expect, it } from "vitest";
import type { AccountSession } from "../api/client";
import { lastSeenText, sessionsInOrder } from "./sessions";

const now = Date.parse("2026-12-03T12:00:00Z");
const session = (id: string, lastSeen: string, current = false): AccountSession => ({
  id,
  created_at: "2026-12-01T09:00:00Z",
  last_seen_at: lastSeen,
  expires_at: "2026-12-31T09:00:00Z",
  user_agent: null,
  ip: null,
  current,
});

describe("the sessions list", () => {
  it("shows this device first, then the most recently used", () => {
    const old = session("old", "2026-11-20T10:00:00Z");
    const recent = session("recent", "2026-12-03T11:00:00Z");
    const here = session("here", "2026-12-02T10:00:00Z", true);
    expect(sessionsInOrder([old, here, recent]).map((s) => s.id)).toEqual(["here", "recent", "old"]);
  });

  it("says when each was last used, this one being in use now", () => {
    expect(lastSeenText(session("a", "2026-12-03T11:55:00Z"), now)).toBe("Last seen 5 minutes ago");
    expect(lastSeenText(session("b", "2026-12-03T11:00:00Z", true), now)).toBe("In use now");
  });
});
