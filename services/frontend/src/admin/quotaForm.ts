// The inline form for a user's own quotas. Three different wishes must not blur: an empty
// field gives the user the server's default, "unlimited" lifts the limit, and a number is
// the limit. The server stores "unlimited" as 0, so a typed 0, which a person would read
// as "nothing at all", is refused here rather than quietly lifting every limit.
import type { UserQuotas } from "../api/client";

export type QuotaKey = keyof UserQuotas;
export type QuotaDraft = Record<QuotaKey, string>;

// The server's largest values (core/accounts/quotas.py): a 32-bit count, and 2^40 MB.
const MAX_COUNT = 2 ** 31 - 1;
const MAX_STORAGE_MB = 2 ** 40;

export const QUOTA_FIELDS: readonly { key: QuotaKey; label: string; unit: string; max: number }[] = [
  { key: "active_jobs", label: "Jobs at once", unit: "jobs", max: MAX_COUNT },
  { key: "audio_minutes_per_day", label: "Audio minutes per day", unit: "minutes", max: MAX_COUNT },
  { key: "storage_mb", label: "Storage", unit: "MB", max: MAX_STORAGE_MB },
];

const UNLIMITED = "unlimited";

/** What the form shows for the user's current quotas. */
export function quotaDraft(quotas: UserQuotas): QuotaDraft {
  const text = (value: number | null) => (value === null ? "" : value === 0 ? UNLIMITED : String(value));
  return {
    active_jobs: text(quotas.active_jobs),
    audio_minutes_per_day: text(quotas.audio_minutes_per_day),
    storage_mb: text(quotas.storage_mb),
  };
}

export type QuotaParse = { ok: true; value: number | null } | { ok: false; text: string };

export function parseQuota(raw: string, max: number): QuotaParse {
  const text = raw.trim().toLowerCase();
  if (text === "") return { ok: true, value: null };
  if (text === UNLIMITED) return { ok: true, value: 0 };
  if (!/^\d+$/.test(text)) return { ok: false, text: "Type a whole number, “unlimited”, or nothing for the default." };
  const value = Number(text);
  if (value === 0)
    return { ok: false, text: "0 is not a limit here. For no limit type “unlimited”; to stop someone, disable them." };
  if (value > max) return { ok: false, text: `At most ${max.toLocaleString("en")}.` };
  return { ok: true, value };
}

export type QuotaForm = { ok: true; quotas: UserQuotas } | { ok: false; errors: Partial<Record<QuotaKey, string>> };

/** The quotas to send, or the message for each field that cannot be sent. */
export function parseQuotaDraft(draft: QuotaDraft): QuotaForm {
  const quotas: UserQuotas = { active_jobs: null, audio_minutes_per_day: null, storage_mb: null };
  const errors: Partial<Record<QuotaKey, string>> = {};
  for (const field of QUOTA_FIELDS) {
    const parsed = parseQuota(draft[field.key], field.max);
    if (parsed.ok) quotas[field.key] = parsed.value;
    else errors[field.key] = parsed.text;
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, quotas };
}
