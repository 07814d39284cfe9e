// Sign-in with the server's OpenID Connect provider, as pure parts for Vitest: where the
// "Sign in with …" link leads, and what the sign-in page says when the server sent the
// browser back with ?oidc_error=<code> (routes/oidc.py names the codes).
import { safeNextPath } from "./session";

/** The provider's name for sentences: "Google" from "Sign in with Google". */
export function providerName(label: string): string {
  const name = label.replace(/^\s*(sign|log)\s*in\s+(with|using|via)\s+/i, "").trim();
  return name && name !== label.trim() ? name : "your sign-in provider";
}

/** The server's /login, asked to come back to `next` (a page of this app) afterwards. */
export function oidcLoginHref(loginUrl: string, next: string | null): string {
  const back = safeNextPath(next);
  return back === "/" ? loginUrl : `${loginUrl}?next=${encodeURIComponent(back)}`;
}

const START_AGAIN = "Start again below.";

/** What happened, in plain words with what to do; null when the URL names no problem. */
export function oidcProblemText(code: string | null, label: string): string | null {
  if (!code) return null;
  const who = providerName(label);
  switch (code) {
    case "not_allowed":
      return `The account you chose at ${who} is not on this Stemdeck's list of people who may sign in. Ask its admin to add your email address, or sign in with another account.`;
    case "email_unverified":
      return `${who} has not confirmed that your email address is yours, so Stemdeck cannot match it to an account. Confirm it at ${who}, or ask the admin.`;
    case "account_disabled":
      return "Your Stemdeck account is disabled. Ask an admin to enable it again.";
    case "access_denied":
      return `Signing in at ${who} was cancelled, so you are not signed in. ${START_AGAIN}`;
    case "state_mismatch":
      return `That sign-in had expired, or was started in another browser, so it was not used. ${START_AGAIN}`;
    case "exchange_failed":
    case "conflict":
      return `${who} did not complete the sign-in. ${START_AGAIN}`;
    case "id_token_invalid":
      return `The answer from ${who} could not be verified, so it was not trusted. ${START_AGAIN} If it keeps happening, tell the admin.`;
    case "provider_error":
      return `${who} could not sign you in. ${START_AGAIN} If it keeps happening, tell the admin.`;
    case "provider_unreachable":
      return `${who} cannot be reached just now. Try again in a minute.`;
    case "sign_in_unavailable":
      return "Stemdeck cannot sign anyone in just now. Try again in a minute.";
    case "provider_misconfigured":
      return `Signing in with ${who} is not set up right on this server. Tell the admin: the server's log says what to fix.`;
    case "oidc_off":
      return "This server has no sign-in provider set up. Sign in with your email and password.";
    default:
      return `Signing in did not work. ${START_AGAIN}`;
  }
}
