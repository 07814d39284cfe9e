import { describe, expect, it } from "vitest";
import { ApiError } from "../lib/errors";
import { passwordProblem, refusedField } from "./passwordChange";

describe("changing the password", () => {
  it("catches two different new passwords before asking the server", () => {
    expect(passwordProblem("a long new password", "a long new password")).toBeNull();
    expect(passwordProblem("a long new password", "a long new pasword")).toMatch(/not the same/);
  });

  it("puts each refusal next to the input it is about", () => {
    expect(refusedField(new ApiError(401, "invalid_credentials", "The current password is wrong."))).toBe("current");
    expect(refusedField(new ApiError(422, "invalid_password", "The new password: too short."))).toBe("new");
    expect(refusedField(new ApiError(409, "password_from_settings", "Change STEMDECK_ADMIN_PASSWORD."))).toBe("form");
    expect(refusedField(new ApiError(429, "too_many_attempts", "Too many.", 60))).toBe("form");
    expect(refusedField(new TypeError("Failed to fetch"))).toBe("form");
  });
});
