import { describe, expect, it } from "vitest";
import { oidcLoginHref, oidcProblemText, providerName } from "./oidc";

describe("the provider's name", () => {
  it("is the button's label without 'Sign in with'", () => {
    expect(providerName("Sign in with Google")).toBe("Google");
    expect(providerName("Log in using Authentik")).toBe("Authentik");
    expect(providerName("sign in with auth.example.org")).toBe("auth.example.org");
  });

  it("is a plain description when the label names none", () => {
    expect(providerName("Company SSO")).toBe("your sign-in provider");
    expect(providerName("Sign in with ")).toBe("your sign-in provider");
  });
});

describe("the 'Sign in with …' link", () => {
  const login = "/api/auth/oidc/login";

  it("asks the server to come back to the page being signed in for", () => {
    expect(oidcLoginHref(login, "/jobs/abc?tab=mix")).toBe(`${login}?next=%2Fjobs%2Fabc%3Ftab%3Dmix`);
  });

  it("comes back home, and never to another site", () => {
    for (const next of [null, "", "/", "https://evil.example/", "//evil.example", "/\\evil.example", "/sign-in"])
      expect(oidcLoginHref(login, next), String(next)).toBe(login);
  });
});

describe("what the sign-in page says after the provider", () => {
  const codes = [
    "not_allowed",
    "email_unverified",
    "account_disabled",
    "access_denied",
    "state_mismatch",
    "exchange_failed",
    "conflict",
    "id_token_invalid",
    "provider_error",
    "provider_unreachable",
    "sign_in_unavailable",
    "provider_misconfigured",
    "oidc_off",
    "something_new",
  ];

  it("is nothing when nothing went wrong", () => {
    expect(oidcProblemText(null, "Sign in with Google")).toBeNull();
    expect(oidcProblemText("", "Sign in with Google")).toBeNull();
  });

  it.each(codes)("says what happened and what to do for %s, in words, not codes", (code) => {
    const text = oidcProblemText(code, "Sign in with Google") ?? "";
    expect(text).toMatch(/\.$/);
    expect(text.length).toBeGreaterThan(40);
    expect(text).not.toContain(code);
    expect(text).not.toMatch(/oidc|token|nonce|state/i);
  });

  it("names the list and who can add you when you are not on it", () => {
    const text = oidcProblemText("not_allowed", "Sign in with Google")!;
    expect(text).toContain("Google");
    expect(text).toMatch(/not on this Stemdeck's list/);
    expect(text).toMatch(/admin/);
  });
});
