import { describe, expect, it } from "vitest";
import type { CreatedInvite } from "../api/client";
import { INITIAL_INVITE_FORM, inviteEmailProblem, inviteFormReducer } from "./inviteLink";

const invite: CreatedInvite = {
  id: "i1",
  email: "bo@example.com",
  is_admin: false,
  created_by: "u1",
  created_at: "2026-12-03T08:00:00Z",
  expires_at: "2026-12-06T08:00:00Z",
  url: "https://stemdeck.example/invite#secret-token",
};

describe("an invite link, shown once", () => {
  it("is busy while the server makes it, and shows the server's refusal", () => {
    const busy = inviteFormReducer(INITIAL_INVITE_FORM, { type: "submit" });
    expect(busy).toEqual({ phase: "editing", busy: true, error: null });
    expect(inviteFormReducer(busy, { type: "failed", error: "No." })).toEqual({ phase: "editing", busy: false, error: "No." });
  });

  it("shows the link with whether Copy worked", () => {
    const shown = inviteFormReducer(INITIAL_INVITE_FORM, { type: "created", invite });
    expect(shown).toEqual({ phase: "shown", invite, copy: null });
    expect(inviteFormReducer(shown, { type: "copied", result: "copied" })).toMatchObject({ copy: "copied" });
    expect(inviteFormReducer(INITIAL_INVITE_FORM, { type: "copied", result: "copied" })).toBe(INITIAL_INVITE_FORM);
  });

  it("forgets the link for good after Done", () => {
    const shown = inviteFormReducer(INITIAL_INVITE_FORM, { type: "created", invite });
    const after = inviteFormReducer(shown, { type: "done" });
    expect(after).toEqual(INITIAL_INVITE_FORM);
    expect(JSON.stringify(after)).not.toContain("secret-token");
  });

  it("ignores a late answer once the link is shown", () => {
    const shown = inviteFormReducer(INITIAL_INVITE_FORM, { type: "created", invite });
    expect(inviteFormReducer(shown, { type: "submit" })).toBe(shown);
    expect(inviteFormReducer(shown, { type: "failed", error: "x" })).toBe(shown);
  });

  it("asks for an email before asking the server", () => {
    expect(inviteEmailProblem("  ")).toMatch(/Type the email/);
    expect(inviteEmailProblem("bo")).toMatch(/does not look like/);
    expect(inviteEmailProblem(" bo@example.com ")).toBeNull();
  });
});
