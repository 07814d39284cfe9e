// The "New API token" form's choices: a name, what the token may do, when it stops
// working; and the request they make, or why they cannot make one yet.
import type { NewApiToken, TokenScope } from "../api/client";

/** The scopes a user may give a token here, in words; `admin` is for the server's CLI. */
export const SCOPE_CHOICES: readonly { scope: TokenScope; label: string; detail: string }[] = [
  { scope: "jobs:read", label: "See your jobs", detail: "List your jobs, follow their progress and download their stems." },
  { scope: "jobs:write", label: "Submit and delete jobs", detail: "Send songs to split, cancel them and delete them." },
];

export const EXPIRY_CHOICES: readonly { days: number | null; label: string }[] = [
  { days: 7, label: "In 7 days" },
  { days: 30, label: "In 30 days" },
  { days: 90, label: "In 90 days" },
  { days: 365, label: "In a year" },
  { days: null, label: "Never" },
];

export interface TokenDraft {
  name: string;
  scopes: readonly TokenScope[];
  expiresDays: number | null;
}

// A token that expires is the safer default; a script's owner can pick "Never" knowingly.
export const EMPTY_DRAFT: TokenDraft = { name: "", scopes: ["jobs:read", "jobs:write"], expiresDays: 90 };

/** `scopes` with `scope` on or off, always in the order SCOPE_CHOICES lists them. */
export function withScope(scopes: readonly TokenScope[], scope: TokenScope, on: boolean): TokenScope[] {
  const chosen = new Set(scopes);
  if (on) chosen.add(scope);
  else chosen.delete(scope);
  return SCOPE_CHOICES.map((choice) => choice.scope).filter((s) => chosen.has(s));
}

/** Which part of the form a message is about: it shows next to that part. */
export type TokenField = "name" | "scopes" | "form";

export interface FieldError {
  field: TokenField;
  text: string;
}

/** Why the form cannot be sent yet, or null; the server still has the last word. */
export function draftProblem(draft: TokenDraft): FieldError | null {
  if (!draft.name.trim())
    return { field: "name", text: "Give the token a name, such as the script or computer that will use it." };
  if (draft.scopes.length === 0) return { field: "scopes", text: "Choose at least one thing the token may do." };
  return null;
}

export function tokenRequest(draft: TokenDraft): NewApiToken {
  return { name: draft.name.trim(), scopes: [...draft.scopes], expires_days: draft.expiresDays };
}

// Only `stemdeck tokens create --scope admin` on the server makes such a token.
const ADMIN_WORDS = "Everything an admin may do";

/** A token's scopes in the same words as the form's checkboxes. */
export function scopeWords(scopes: readonly string[]): string {
  const label = (scope: string) =>
    scope === "admin" ? ADMIN_WORDS : (SCOPE_CHOICES.find((choice) => choice.scope === scope)?.label ?? scope);
  const words = scopes.map(label);
  return words.length ? words.join(", ") : "Nothing";
}
