// The account's use of each quota, as the Account page says it: a line of words and a
// bar filled as far as the use goes, or no bar at all when nothing limits it.
import type { Quota, Usage } from "../api/client";
import { formatBytes } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";

export interface QuotaLine {
  id: keyof Usage;
  title: string;
  /** "2 of 3", "1.5 GB of 10 GB", "4 (unlimited)". */
  amount: string;
  /** How full, 0 to 1; null when unlimited. */
  fraction: number | null;
  /** Nothing more fits until something is freed (or the day resets). */
  full: boolean;
  /** What the quota counts, or when it starts again. */
  note: string;
}

function minutes(value: number): string {
  // Whole minutes where they are; a short clip still shows it used something.
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function line(id: keyof Usage, title: string, quota: Quota, show: (n: number) => string, note: string): QuotaLine {
  const { used, allowed } = quota;
  if (allowed === null) return { id, title, amount: `${show(used)} (unlimited)`, fraction: null, full: false, note };
  return {
    id,
    title,
    amount: `${show(used)} of ${show(allowed)}`,
    fraction: allowed > 0 ? Math.min(1, Math.max(0, used / allowed)) : 1,
    full: used >= allowed,
    note,
  };
}

export function quotaLines(usage: Usage, now: number = Date.now()): QuotaLine[] {
  const today = usage.audio_minutes_today;
  // The day is a rolling 24 hours: minutes come back as earlier songs leave it.
  const comesBack = today.used > 0 && today.resets_at ? ` Minutes come back ${relativeTime(today.resets_at, now)}.` : "";
  return [
    line("active_jobs", "Jobs at once", usage.active_jobs, String, "Songs waiting or being split right now."),
    line(
      "audio_minutes_today",
      "Audio minutes per day",
      today,
      minutes,
      `Length of the songs you sent in the last 24 hours.${comesBack}`,
    ),
    line("storage_bytes", "Storage", usage.storage_bytes, formatBytes, "Songs and stems kept on the server."),
  ];
}
