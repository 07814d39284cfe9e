// A new API token's value exists in the app only between its creation and "Done": the
// server keeps just a hash, so this state is the one place that holds it, and leaving
// it (or creating another) forgets the value for good.
import type { CreatedApiToken } from "../api/client";
import type { FieldError } from "./tokenDraft";

export type TokenFormState =
  | { phase: "editing"; busy: boolean; error: FieldError | null }
  | { phase: "shown"; name: string; token: string; copy: CopyResult | null };

/** Whether Copy worked, or the user has to copy the selected text by hand. */
export type CopyResult = "copied" | "select-by-hand";

export type TokenFormEvent =
  | { type: "submit" }
  | { type: "failed"; error: FieldError }
  | { type: "created"; created: CreatedApiToken }
  | { type: "copied"; result: CopyResult }
  | { type: "done" };

export const INITIAL_TOKEN_FORM: TokenFormState = { phase: "editing", busy: false, error: null };

export function tokenFormReducer(state: TokenFormState, event: TokenFormEvent): TokenFormState {
  switch (event.type) {
    case "submit":
      return state.phase === "editing" ? { phase: "editing", busy: true, error: null } : state;
    case "failed":
      return state.phase === "editing" ? { phase: "editing", busy: false, error: event.error } : state;
    case "created":
      // Only the name and value: nothing else of the answer needs to outlive the list's refresh.
      return { phase: "shown", name: event.created.name, token: event.created.token, copy: null };
    case "copied":
      return state.phase === "shown" ? { ...state, copy: event.result } : state;
    case "done":
      return INITIAL_TOKEN_FORM;
  }
}
