// The password form's checks before sending, and where the server's refusal belongs.
import { ApiError } from "../lib/errors";

/** The input a message is about: it shows next to that input. */
export type PasswordField = "current" | "new" | "form";

/** A typo in the new password, caught before the server is asked; null when none. */
export function passwordProblem(next: string, again: string): string | null {
  return next === again ? null : "The two new passwords are not the same.";
}

export function refusedField(error: unknown): PasswordField {
  if (!(error instanceof ApiError)) return "form";
  // The sign-in form's code for a wrong password; here, the current one.
  if (error.code === "invalid_credentials") return "current";
  if (error.status === 422) return "new";
  // password_from_settings (the first admin), too many attempts, the server down: the
  // form as a whole.
  return "form";
}
