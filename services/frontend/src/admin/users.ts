// The Users page's list and what a row says. The server's answer to a change is the
// user as now stored, so it replaces that row alone: the rest keep what was loaded.
import type { AdminUser } from "../api/client";
import { formatBytes } from "../lib/format";

export type UsersEvent = { type: "loaded"; users: AdminUser[] } | { type: "changed"; user: AdminUser };

export function usersReducer(list: AdminUser[] | null, event: UsersEvent): AdminUser[] | null {
  switch (event.type) {
    case "loaded":
      return event.users;
    case "changed":
      // A user no longer listed (a reload raced the change) is not brought back.
      return list?.map((user) => (user.id === event.user.id ? event.user : user)) ?? null;
  }
}

export function roleWords(user: AdminUser): string {
  return user.is_admin ? "Admin" : "User";
}

export interface UsageBit {
  label: string;
  /** "1 of 3", "4, no limit", "2, default limit". */
  amount: string;
  /** At or over the user's own limit (the default's value is the server's to know). */
  full: boolean;
}

const MIB = 1024 * 1024;

function bit(label: string, used: number, own: number | null, show: (n: number) => string): UsageBit {
  if (own === null) return { label, amount: `${show(used)}, default limit`, full: false };
  if (own === 0) return { label, amount: `${show(used)}, no limit`, full: false };
  return { label, amount: `${show(used)} of ${show(own)}`, full: used >= own };
}

/** Usage against each of the user's own quotas, short enough for a table cell. */
export function compactUsage(user: AdminUser): UsageBit[] {
  const { usage, quotas } = user;
  const storageLimit = quotas.storage_mb === null || quotas.storage_mb === 0 ? quotas.storage_mb : quotas.storage_mb * MIB;
  return [
    bit("Jobs at once", usage.active_jobs, quotas.active_jobs, String),
    // Whole minutes: a part-minute used shows as 1, so something used never reads as 0.
    bit("Minutes today", usage.audio_minutes_today, quotas.audio_minutes_per_day, (n) => String(Math.ceil(n))),
    bit("Storage", usage.storage_bytes, storageLimit, formatBytes),
  ];
}

/**
 * The question a change asks before it is made, or null when it needs none: disabling
 * someone and making them an admin ask; enabling and removing admin undo those, so not.
 */
export function confirmQuestion(user: AdminUser, change: "admin" | "disabled"): string | null {
  if (change === "disabled")
    return user.disabled ? null : `Disable ${user.email}? They are signed out at once and their API tokens stop working.`;
  return user.is_admin ? null : `Make ${user.email} an admin? They will see every user's jobs and this page.`;
}
