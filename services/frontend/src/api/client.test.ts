import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../lib/errors";
import { api, whenSessionLost } from "./client";

function answer(status: number, code: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code, message: `${code} happened.` } });
  vi.stubGlobal("fetch", vi.fn(async () => new Response(body, { status, headers })));
}

describe("the API client's one place for a lost session", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    whenSessionLost(() => undefined);
  });

  it("reports any call's 401 once, and still fails the call", async () => {
    const lost = vi.fn();
    whenSessionLost(lost);
    answer(401, "session_expired");
    await expect(api.jobs(100, 0)).rejects.toMatchObject({ status: 401, code: "session_expired" });
    expect(lost).toHaveBeenCalledTimes(1);
    expect(lost.mock.calls[0]?.[0]).toBeInstanceOf(ApiError);
  });

  it("leaves a wrong password, and other refusals, to the page that asked", async () => {
    const lost = vi.fn();
    whenSessionLost(lost);
    answer(401, "invalid_credentials");
    await expect(api.login("ana@example.com", "nope")).rejects.toMatchObject({ code: "invalid_credentials" });
    answer(404, "not_found");
    await expect(api.job("x")).rejects.toMatchObject({ status: 404 });
    expect(lost).not.toHaveBeenCalled();
  });

  it("says when to try again after too many attempts", async () => {
    answer(429, "too_many_attempts", { "Retry-After": "120" });
    const error = (await api.login("ana@example.com", "x").catch((e: unknown) => e)) as ApiError;
    expect(error.retryAfterS).toBe(120);
  });

  it("sends the sign-in as JSON", async () => {
    const fetch = vi.fn(async () => Response.json({ user: { id: "u", email: "a@b.co", is_admin: false }, auth: "accounts", via: "session" }));
    vi.stubGlobal("fetch", fetch);
    await api.login("a@b.co", "secret");
    expect(fetch).toHaveBeenCalledWith(
      "/api/auth/login",
      expect.objectContaining({
        method: "POST",
        body: JSON.stringify({ email: "a@b.co", password: "secret" }),
        headers: expect.objectContaining({ "Content-Type": "application/json" }) as unknown,
      }),
    );
  });
});
