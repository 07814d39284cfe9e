// How the sessions list reads: this device first, each with when it was last used.
import type { AccountSession } from "../api/client";
import { relativeTime } from "../lib/relativeTime";

/** This device first, then the most recently used. */
export function sessionsInOrder(sessions: readonly AccountSession[]): AccountSession[] {
  return [...sessions].sort(
    (a, b) => Number(b.current) - Number(a.current) || Date.parse(b.last_seen_at) - Date.parse(a.last_seen_at),
  );
}

export function lastSeenText(session: AccountSession, now: number = Date.now()): string {
  // This device is the one reading the page: its last_seen_at would say "just now" anyway.
  return session.current ? "In use now" : `Last seen ${relativeTime(session.last_seen_at, now)}`;
}
