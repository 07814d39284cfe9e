import { describe, expect, it } from "vitest";
import { ApiError, apiErrorFrom, errorText, fallbackMessage, retryAfterSeconds, tryAgainText } from "./errors";

describe("error display", () => {
  it("shows the API's own message", () => {
    const body = JSON.stringify({ error: { code: "unsupported_media", message: "This is not audio. Upload MP3, WAV or FLAC." } });
    const error = apiErrorFrom(415, body);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("unsupported_media");
    expect(errorText(error)).toBe("This is not audio. Upload MP3, WAV or FLAC.");
  });

  it("explains a status when the body is not the API's", () => {
    expect(errorText(apiErrorFrom(502, "<html>Bad gateway</html>"))).toBe(fallbackMessage(502));
    expect(errorText(apiErrorFrom(413, ""))).toMatch(/larger than the server accepts/);
    expect(errorText(apiErrorFrom(500, '{"error": {"message": 3}}'))).toMatch(/HTTP 500/);
    expect(errorText(apiErrorFrom(404, '{"detail": "x"}'))).toMatch(/HTTP 404/);
  });

  it("says the server is unreachable when the network fails", () => {
    expect(errorText(new TypeError("Failed to fetch"))).toMatch(/cannot be reached/);
    expect(errorText(apiErrorFrom(0, ""))).toMatch(/cannot be reached/);
  });

  it("names a cancelled upload and never shows an empty message", () => {
    expect(errorText(new DOMException("x", "AbortError"))).toBe("Cancelled.");
    expect(errorText(new Error(""))).toBe("Something went wrong. Try again.");
    expect(errorText("weird")).toBe("Something went wrong. Try again.");
  });
});

describe("when to try again", () => {
  it("reads Retry-After in seconds or as a date", () => {
    const now = Date.parse("2026-12-03T08:00:00Z");
    expect(retryAfterSeconds("90", now)).toBe(90);
    expect(retryAfterSeconds("Thu, 03 Dec 2026 08:05:00 GMT", now)).toBe(300);
    expect(retryAfterSeconds("Thu, 03 Dec 2026 07:00:00 GMT", now)).toBe(0);
    expect(retryAfterSeconds(null)).toBeNull();
    expect(retryAfterSeconds("soon")).toBeNull();
  });

  it("says it in plain words, rounded up", () => {
    expect(tryAgainText(0)).toBe("Try again now.");
    expect(tryAgainText(1)).toBe("Try again in 1 second.");
    expect(tryAgainText(45)).toBe("Try again in 45 seconds.");
    expect(tryAgainText(61)).toBe("Try again in 2 minutes.");
    expect(tryAgainText(900)).toBe("Try again in 15 minutes.");
    expect(tryAgainText(7200)).toBe("Try again in 2 hours.");
  });

  it("follows the server's own message", () => {
    const body = JSON.stringify({ error: { code: "too_many_attempts", message: "Too many sign-in attempts." } });
    expect(errorText(apiErrorFrom(429, body, "60"))).toBe("Too many sign-in attempts. Try again in 1 minute.");
    expect(errorText(apiErrorFrom(429, "", "30"))).toBe(`${fallbackMessage(429)} Try again in 30 seconds.`);
    const says = JSON.stringify({ error: { code: "too_many_attempts", message: "Too many. Try again in 15 minute(s)." } });
    expect(errorText(apiErrorFrom(429, says, "900"))).toBe("Too many. Try again in 15 minute(s).");
  });
});
