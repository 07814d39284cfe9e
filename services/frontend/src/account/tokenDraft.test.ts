import { describe, expect, it } from "vitest";
import { draftProblem, EMPTY_DRAFT, scopeWords, tokenRequest, withScope } from "./tokenDraft";

describe("what a new token may do", () => {
  it("starts with both job scopes and an expiry", () => {
    expect(EMPTY_DRAFT.scopes).toEqual(["jobs:read", "jobs:write"]);
    expect(EMPTY_DRAFT.expiresDays).toBe(90);
  });

  it("turns scopes on and off, in one order whatever the clicks", () => {
    expect(withScope(["jobs:read", "jobs:write"], "jobs:read", false)).toEqual(["jobs:write"]);
    expect(withScope(["jobs:write"], "jobs:read", true)).toEqual(["jobs:read", "jobs:write"]);
    expect(withScope(["jobs:read"], "jobs:read", true)).toEqual(["jobs:read"]);
    expect(withScope([], "jobs:write", false)).toEqual([]);
  });

  it("says the scopes in the checkboxes' words", () => {
    expect(scopeWords(["jobs:read", "jobs:write"])).toBe("See your jobs, Submit and delete jobs");
    expect(scopeWords(["admin"])).toBe("Everything an admin may do");
    expect(scopeWords(["jobs:admire"])).toBe("jobs:admire");
    expect(scopeWords([])).toBe("Nothing");
  });
});

describe("sending the form", () => {
  it("needs a name and at least one scope", () => {
    expect(draftProblem(EMPTY_DRAFT)).toMatchObject({ field: "name", text: expect.stringMatching(/name/) as unknown });
    expect(draftProblem({ ...EMPTY_DRAFT, name: "   " })?.field).toBe("name");
    expect(draftProblem({ ...EMPTY_DRAFT, name: "laptop", scopes: [] })).toMatchObject({
      field: "scopes",
      text: expect.stringMatching(/at least one/) as unknown,
    });
    expect(draftProblem({ ...EMPTY_DRAFT, name: "laptop" })).toBeNull();
  });

  it("asks for the trimmed name, the scopes and the days, or none for never", () => {
    expect(tokenRequest({ name: " nightly backup ", scopes: ["jobs:read"], expiresDays: 30 })).toEqual({
      name: "nightly backup",
      scopes: ["jobs:read"],
      expires_days: 30,
    });
    expect(tokenRequest({ name: "cli", scopes: ["jobs:write"], expiresDays: null }).expires_days).toBeNull();
  });
});
