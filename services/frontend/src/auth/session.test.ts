import { describe, expect, it } from "vitest";
import type { Me } from "../api/client";
import { authRedirect, authReducer, endsSession, safeNextPath, SIGN_IN_PATH, type AuthState } from "./session";

const user = { id: "u1", email: "ana@example.com", is_admin: false };
const me = (auth: Me["auth"]): Me => ({ user, auth, via: auth === "none" ? "local" : "session" });
const at = (path: string) => {
  const url = new URL(path, "http://app.test");
  return { pathname: url.pathname, search: url.search, hash: url.hash };
};
const checking: AuthState = { phase: "checking" };
const signedIn: AuthState = { phase: "signed-in", user };

describe("who is using the app", () => {
  it("opens everything, showing no account, when the server has none", () => {
    expect(authReducer(checking, { type: "me", me: me("none") })).toEqual({ phase: "open" });
  });

  it("knows the user a session belongs to", () => {
    expect(authReducer(checking, { type: "me", me: me("accounts") })).toEqual(signedIn);
  });

  it("lets the pages run and show their own errors when the server cannot say", () => {
    expect(authReducer(checking, { type: "me-failed" })).toEqual({ phase: "unknown" });
    expect(authReducer(signedIn, { type: "me-failed" })).toBe(signedIn);
  });

  it("signs in from any state, and out by the user's choice", () => {
    expect(authReducer({ phase: "signed-out", reason: "session_expired" }, { type: "signed-in", user })).toEqual(signedIn);
    expect(authReducer({ phase: "unknown" }, { type: "signed-in", user })).toEqual(signedIn);
    expect(authReducer(signedIn, { type: "signed-out" })).toEqual({ phase: "signed-out", reason: "signed_out" });
  });

  it("says why a session was lost, and keeps the first reason", () => {
    const expired = authReducer(signedIn, { type: "session-lost", code: "session_expired" });
    expect(expired).toEqual({ phase: "signed-out", reason: "session_expired" });
    expect(authReducer(checking, { type: "session-lost", code: "not_signed_in" })).toEqual({
      phase: "signed-out",
      reason: "not_signed_in",
    });
    // A request still in flight when the user signed out must not say "expired".
    const out = authReducer(signedIn, { type: "signed-out" });
    expect(authReducer(out, { type: "session-lost", code: "session_expired" })).toBe(out);
    expect(authReducer(expired, { type: "session-lost", code: "not_signed_in" })).toBe(expired);
  });
});

describe("which API answers mean signing in again", () => {
  it("is every 401 but the sign-in form's wrong password", () => {
    expect(endsSession(401, "session_expired")).toBe(true);
    expect(endsSession(401, "not_signed_in")).toBe(true);
    expect(endsSession(401, "http_error")).toBe(true);
    expect(endsSession(401, "invalid_credentials")).toBe(false);
    expect(endsSession(403, "missing_scope")).toBe(false);
    expect(endsSession(429, "too_many_attempts")).toBe(false);
    expect(endsSession(0, "http_error")).toBe(false);
  });
});

describe("where the browser goes", () => {
  it("goes to sign-in, remembering the page, when the session is gone", () => {
    const lost: AuthState = { phase: "signed-out", reason: "session_expired" };
    expect(authRedirect(lost, at("/jobs/abc?x=1#p"))).toBe(`${SIGN_IN_PATH}?next=%2Fjobs%2Fabc%3Fx%3D1%23p`);
    expect(authRedirect({ phase: "signed-out", reason: "not_signed_in" }, at("/jobs"))).toBe("/sign-in?next=%2Fjobs");
    expect(authRedirect(lost, at("/"))).toBe(SIGN_IN_PATH);
  });

  it("remembers nothing after the user signed out", () => {
    expect(authRedirect({ phase: "signed-out", reason: "signed_out" }, at("/jobs"))).toBe(SIGN_IN_PATH);
  });

  it("stays on sign-in while signed out, and elsewhere while signed in", () => {
    expect(authRedirect({ phase: "signed-out", reason: "signed_out" }, at("/sign-in?next=/jobs"))).toBeNull();
    expect(authRedirect(signedIn, at("/jobs"))).toBeNull();
    expect(authRedirect({ phase: "open" }, at("/jobs/abc"))).toBeNull();
    expect(authRedirect({ phase: "unknown" }, at("/jobs"))).toBeNull();
    expect(authRedirect(checking, at("/jobs"))).toBeNull();
    expect(authRedirect(checking, at("/sign-in?next=/jobs"))).toBeNull();
  });

  it("leaves an invite link's page alone while signed out: its reader has no account yet", () => {
    const lost: AuthState = { phase: "signed-out", reason: "not_signed_in" };
    expect(authRedirect(lost, at("/invite#abcdefabcdefabcdef"))).toBeNull();
    expect(authRedirect(lost, at("/invite/x"))).toBe("/sign-in?next=%2Finvite%2Fx");
  });

  it("comes back to the page after signing in, or when there is nothing to sign in to", () => {
    const path = authRedirect({ phase: "signed-out", reason: "session_expired" }, at("/jobs/abc?x=1"));
    expect(authRedirect(signedIn, at(path!))).toBe("/jobs/abc?x=1");
    expect(authRedirect({ phase: "open" }, at("/sign-in?next=%2Fjobs"))).toBe("/jobs");
    expect(authRedirect(signedIn, at("/sign-in"))).toBe("/");
  });

  it("never leaves the app after signing in", () => {
    expect(authRedirect(signedIn, at("/sign-in?next=https%3A%2F%2Fevil.example%2F"))).toBe("/");
    expect(authRedirect(signedIn, at("/sign-in?next=%2F%2Fevil.example"))).toBe("/");
  });
});

describe("the path to come back to", () => {
  it("keeps a path of this app with its query and fragment", () => {
    expect(safeNextPath("/jobs")).toBe("/jobs");
    expect(safeNextPath("/jobs/abc?tab=mix#t=10")).toBe("/jobs/abc?tab=mix#t=10");
    expect(safeNextPath("/a/../jobs")).toBe("/jobs");
  });

  it.each([
    null,
    "",
    "jobs",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "//evil.example/jobs",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "data:text/html,hi",
  ])("refuses %j, going home instead", (next) => {
    expect(safeNextPath(next)).toBe("/");
  });

  it("never loops back to sign-in, nor sends the browser to the API", () => {
    expect(safeNextPath("/sign-in?next=/jobs")).toBe("/");
    expect(safeNextPath("/api/jobs")).toBe("/");
  });
});
