// The invite page's pure parts: the token from the link, the password's typo check, and
// what each refusal of accept-invite tells the person to do next.
import { ApiError } from "../lib/errors";

/**
 * The token from the link's fragment ("#TOKEN", or "#token=TOKEN"): a fragment never
 * leaves the browser, so the token is in no server's or proxy's log. null when the
 * link has none, or was cut short into something no token looks like.
 */
export function inviteToken(hash: string): string | null {
  let text = hash.startsWith("#") ? hash.slice(1) : hash;
  if (text.startsWith("token=")) text = text.slice("token=".length);
  try {
    text = decodeURIComponent(text).trim();
  } catch {
    return null;
  }
  // Tokens are URL-safe text; anything else is a link mangled on its way here.
  return /^[A-Za-z0-9._~-]{16,128}$/.test(text) ? text : null;
}

/** A typo in the new password, caught before the server is asked; null when none. */
export function invitePasswordProblem(password: string, again: string): string | null {
  if (!password) return "Choose a password.";
  return password === again ? null : "The two passwords are not the same.";
}

export interface InviteRefusal {
  /** The server's message, and what to do about it. */
  text: string;
  /** Where the refusal belongs: the password field, or the page as a whole. */
  field: "password" | "page";
  /** The account exists already: signing in is the way on. */
  signIn: boolean;
}

export function inviteRefusal(error: unknown, text: string): InviteRefusal {
  if (!(error instanceof ApiError)) return { text, field: "page", signIn: false };
  if (error.status === 422) return { text, field: "password", signIn: false };
  if (error.status === 410) return { text: `${text} Ask whoever invited you for a new link.`, field: "page", signIn: false };
  if (error.code === "email_taken") return { text: `${text} Sign in with it instead.`, field: "page", signIn: true };
  return { text, field: "page", signIn: false };
}
