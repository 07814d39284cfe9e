import { describe, expect, it } from "vitest";
import { ApiError, apiErrorFrom, errorText, fallbackMessage } from "./errors";

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
