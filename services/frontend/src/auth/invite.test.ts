import { describe, expect, it } from "vitest";
import { ApiError } from "../lib/errors";
import { invitePasswordProblem, inviteRefusal, inviteToken } from "./invite";

const TOKEN = "Zm9vYmFyYmF6cXV4-_0123456789";

describe("the invite link's token", () => {
  it("is the fragment, with or without token=", () => {
    expect(inviteToken(`#${TOKEN}`)).toBe(TOKEN);
    expect(inviteToken(`#token=${TOKEN}`)).toBe(TOKEN);
    expect(inviteToken(`#${encodeURIComponent(TOKEN)}%20`)).toBe(TOKEN);
  });

  it("is null when the link has none, or was cut short or mangled", () => {
    for (const hash of ["", "#", "#token=", "#short", `#${TOKEN} extra`, "#%E0%A4%A", `#${TOKEN}<script>`])
      expect(inviteToken(hash), hash).toBeNull();
  });
});

describe("the invite page's password", () => {
  it("must be typed the same twice", () => {
    expect(invitePasswordProblem("", "")).toBe("Choose a password.");
    expect(invitePasswordProblem("a long one", "a long on")).toBe("The two passwords are not the same.");
    expect(invitePasswordProblem("a long one", "a long one")).toBeNull();
  });
});

describe("a refused invite", () => {
  it("says what to do next after the server's words", () => {
    const gone = inviteRefusal(new ApiError(410, "invite_invalid", "This invite has expired."), "This invite has expired.");
    expect(gone).toEqual({
      text: "This invite has expired. Ask whoever invited you for a new link.",
      field: "page",
      signIn: false,
    });
    const taken = inviteRefusal(new ApiError(409, "email_taken", "An account exists."), "An account exists.");
    expect(taken).toMatchObject({ field: "page", signIn: true });
    expect(taken.text).toMatch(/Sign in with it instead\.$/);
  });

  it("puts an unfit password's message by the password", () => {
    const weak = inviteRefusal(new ApiError(422, "invalid_password", "Too short."), "Too short.");
    expect(weak).toEqual({ text: "Too short.", field: "password", signIn: false });
  });

  it("keeps anything else as it is, for the page", () => {
    expect(inviteRefusal(new TypeError("fetch failed"), "The server cannot be reached.")).toEqual({
      text: "The server cannot be reached.",
      field: "page",
      signIn: false,
    });
  });
});
