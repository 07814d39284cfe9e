// A new invite's link exists in the app only between its creation and "Done": whoever
// holds it can make the account, so this state is the one place that keeps it, and
// leaving it (or inviting someone else) forgets it for good.
import type { CreatedInvite } from "../api/client";
import type { CopyResult } from "../account/tokenReveal";

export type InviteFormState =
  | { phase: "editing"; busy: boolean; error: string | null }
  | { phase: "shown"; invite: CreatedInvite; copy: CopyResult | null };

export type InviteFormEvent =
  | { type: "submit" }
  | { type: "failed"; error: string }
  | { type: "created"; invite: CreatedInvite }
  | { type: "copied"; result: CopyResult }
  | { type: "done" };

export const INITIAL_INVITE_FORM: InviteFormState = { phase: "editing", busy: false, error: null };

export function inviteFormReducer(state: InviteFormState, event: InviteFormEvent): InviteFormState {
  switch (event.type) {
    case "submit":
      return state.phase === "editing" ? { phase: "editing", busy: true, error: null } : state;
    case "failed":
      return state.phase === "editing" ? { phase: "editing", busy: false, error: event.error } : state;
    case "created":
      return { phase: "shown", invite: event.invite, copy: null };
    case "copied":
      return state.phase === "shown" ? { ...state, copy: event.result } : state;
    case "done":
      return INITIAL_INVITE_FORM;
  }
}

export const INVITE_EXPIRY_CHOICES: readonly { hours: number; label: string }[] = [
  { hours: 24, label: "In a day" },
  { hours: 72, label: "In 3 days" },
  { hours: 168, label: "In a week" },
];

/** Why the email cannot be sent yet, or null; the server still has the last word. */
export function inviteEmailProblem(email: string): string | null {
  const text = email.trim();
  if (!text) return "Type the email of the person to invite.";
  return /^[^\s@]+@[^\s@]+$/.test(text) ? null : "That does not look like an email address.";
}
