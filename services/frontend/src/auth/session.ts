// Who is using the app, as a state machine, and where that sends the browser. Pure, so
// Vitest drives it without one: useAuth.ts feeds it the API's answers and AuthGate.tsx
// performs the redirects it decides.
import type { Me, User } from "../api/client";

export const SIGN_IN_PATH = "/sign-in";
export const ACCOUNT_PATH = "/account";
/** Where an invite link leads: for someone with no account yet, so never sent to sign-in. */
export const INVITE_PATH = "/invite";
export const ADMIN_USERS_PATH = "/admin/users";

/** Why nobody is signed in: the server's 401 code, or the user's own "Sign out". */
export type SignedOutReason = "not_signed_in" | "session_expired" | "signed_out";

export type AuthState =
  /** Waiting for GET /api/auth/me; nothing is shown yet, so no page asks the API in vain. */
  | { phase: "checking" }
  /** auth=none: every request acts as the local admin and nothing about accounts shows. */
  | { phase: "open" }
  | { phase: "signed-in"; user: User }
  | { phase: "signed-out"; reason: SignedOutReason }
  /** /api/auth/me failed otherwise (server down): the pages run and show their own errors. */
  | { phase: "unknown" };

export type AuthEvent =
  | { type: "me"; me: Me }
  | { type: "me-failed" }
  | { type: "signed-in"; user: User }
  | { type: "signed-out" }
  /** Any API answer that says the session is gone (see endsSession). */
  | { type: "session-lost"; code: string };

export function authReducer(state: AuthState, event: AuthEvent): AuthState {
  switch (event.type) {
    case "me":
      return event.me.auth === "none" ? { phase: "open" } : { phase: "signed-in", user: event.me.user };
    case "me-failed":
      return state.phase === "checking" ? { phase: "unknown" } : state;
    case "signed-in":
      return { phase: "signed-in", user: event.user };
    case "signed-out":
      return { phase: "signed-out", reason: "signed_out" };
    case "session-lost":
      // Requests still in flight answer 401 too; the first reason is the one to keep,
      // or a "Sign out" would turn into "your session expired".
      if (state.phase === "signed-out") return state;
      return { phase: "signed-out", reason: event.code === "session_expired" ? "session_expired" : "not_signed_in" };
  }
}

/**
 * Whether an API answer means "sign in (again)". Every 401 does, except the sign-in
 * form's own wrong password, which the form shows.
 */
export function endsSession(status: number, code: string): boolean {
  return status === 401 && code !== "invalid_credentials";
}

interface Place {
  pathname: string;
  search: string;
  hash: string;
}

/** Where the browser must go now, or null to stay. */
export function authRedirect(state: AuthState, place: Place): string | null {
  const onSignIn = place.pathname === SIGN_IN_PATH;
  if (state.phase === "signed-out" && !onSignIn && place.pathname !== INVITE_PATH) {
    const here = place.pathname + place.search + place.hash;
    // After "Sign out" there is nothing to come back to.
    if (state.reason === "signed_out" || here === "/") return SIGN_IN_PATH;
    return `${SIGN_IN_PATH}?next=${encodeURIComponent(here)}`;
  }
  if ((state.phase === "signed-in" || state.phase === "open") && onSignIn) {
    return safeNextPath(new URLSearchParams(place.search).get("next"));
  }
  return null;
}

// Only used to parse `next` relative to something; never requested.
const PROBE_ORIGIN = "https://stemdeck.invalid";

/**
 * `next` as a path of this app, or "/". Never an absolute URL: a link to the sign-in
 * page must not be able to send the user, once signed in, to another site.
 */
export function safeNextPath(next: string | null): string {
  // "//host" and "/\host" are other hosts to a browser; control characters are
  // dropped by URL parsers, so "/\t/host" would become "//host".
  if (!next?.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(next)) return "/";
  let url: URL;
  try {
    url = new URL(next, PROBE_ORIGIN);
  } catch {
    return "/";
  }
  if (url.origin !== PROBE_ORIGIN || url.pathname === SIGN_IN_PATH || url.pathname.startsWith("/api/")) return "/";
  return url.pathname + url.search + url.hash;
}
