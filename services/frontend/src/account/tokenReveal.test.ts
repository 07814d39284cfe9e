import { describe, expect, it } from "vitest";
import type { CreatedApiToken } from "../api/client";
import { INITIAL_TOKEN_FORM, tokenFormReducer, type TokenFormState } from "./tokenReveal";

const created: CreatedApiToken = {
  id: "t1",
  name: "laptop",
  prefix: "sdk_abcd1234",
  scopes: ["jobs:read"],
  created_at: "2026-12-03T08:00:00Z",
  last_used_at: null,
  expires_at: null,
  token: "sdk_abcd1234secretsecret",
};

describe("a new token's value, shown once", () => {
  it("is busy while the server creates it, and shows the server's refusal", () => {
    const busy = tokenFormReducer(INITIAL_TOKEN_FORM, { type: "submit" });
    expect(busy).toEqual({ phase: "editing", busy: true, error: null });
    const refused = { field: "form", text: "A token's name is 1 to 100 characters." } as const;
    expect(tokenFormReducer(busy, { type: "failed", error: refused })).toEqual({
      phase: "editing",
      busy: false,
      error: refused,
    });
  });

  it("keeps only the name and value once created", () => {
    const shown = tokenFormReducer({ phase: "editing", busy: true, error: null }, { type: "created", created });
    expect(shown).toEqual({ phase: "shown", name: "laptop", token: created.token, copy: null });
  });

  it("says whether Copy worked", () => {
    const shown = tokenFormReducer(INITIAL_TOKEN_FORM, { type: "created", created });
    expect(tokenFormReducer(shown, { type: "copied", result: "copied" })).toMatchObject({ copy: "copied" });
    expect(tokenFormReducer(shown, { type: "copied", result: "select-by-hand" })).toMatchObject({ copy: "select-by-hand" });
    expect(tokenFormReducer(INITIAL_TOKEN_FORM, { type: "copied", result: "copied" })).toBe(INITIAL_TOKEN_FORM);
  });

  it("forgets the value for good after Done", () => {
    const shown = tokenFormReducer(INITIAL_TOKEN_FORM, { type: "created", created });
    const after: TokenFormState = tokenFormReducer(shown, { type: "done" });
    expect(after).toEqual(INITIAL_TOKEN_FORM);
    expect(JSON.stringify(after)).not.toContain(created.token);
  });

  it("ignores a late answer's events once the value is shown", () => {
    const shown = tokenFormReducer(INITIAL_TOKEN_FORM, { type: "created", created });
    expect(tokenFormReducer(shown, { type: "submit" })).toBe(shown);
    expect(tokenFormReducer(shown, { type: "failed", error: { field: "form", text: "x" } })).toBe(shown);
  });
});
