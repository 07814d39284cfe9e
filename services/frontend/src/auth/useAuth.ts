// The app's one sign-in state (session.ts's machine), kept outside React because the API
// client, which is no component, reports lost sessions into it; components read it with
// useAuth().
import { useSyncExternalStore } from "react";
import { api, whenSessionLost } from "../api/client";
import { ApiError } from "../lib/errors";
import { clearStemCache } from "../player/stemCache";
import { authReducer, endsSession, type AuthEvent, type AuthState } from "./session";

let state: AuthState = { phase: "checking" };
const listeners = new Set<() => void>();
let checking: Promise<void> | null = null;

function dispatch(event: AuthEvent): void {
  const next = authReducer(state, event);
  if (next === state) return;
  state = next;
  for (const listener of listeners) listener();
}

whenSessionLost((error) => dispatch({ type: "session-lost", code: error.code }));

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useAuth(): AuthState {
  return useSyncExternalStore(subscribe, () => state);
}

/** Asks the server who this is, once at a time; a 401 arrives through whenSessionLost. */
export function checkSession(): Promise<void> {
  checking ??= api
    .me()
    .then(
      (me) => dispatch({ type: "me", me }),
      (error: unknown) => {
        if (!(error instanceof ApiError && endsSession(error.status, error.code))) dispatch({ type: "me-failed" });
      },
    )
    .finally(() => {
      checking = null;
    });
  return checking;
}

/** Rejects with the server's ApiError (wrong password, too many attempts) for the form to show. */
export async function signIn(email: string, password: string): Promise<void> {
  const { user } = await api.login(email, password);
  dispatch({ type: "signed-in", user });
}

export async function signOut(): Promise<void> {
  await api.logout();
  // The stems kept for replay stay behind for no one else on a shared computer.
  await clearStemCache();
  dispatch({ type: "signed-out" });
}

/** Ends every session of this user, this browser's too, which then goes to sign-in. */
export async function signOutEverywhere(): Promise<void> {
  await api.endAllSessions();
  await clearStemCache();
  dispatch({ type: "signed-out" });
}

/** Makes the invited account and signs it in; rejects with the server's ApiError. */
export async function acceptInvite(token: string, password: string): Promise<void> {
  const { user } = await api.acceptInvite(token, password);
  dispatch({ type: "signed-in", user });
}
