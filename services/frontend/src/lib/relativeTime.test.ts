import { describe, expect, it } from "vitest";
import { relativeTime } from "./relativeTime";

const now = Date.parse("2026-12-03T12:00:00Z");
const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();

describe("when something happened, in words", () => {
  it("says just now for the last few seconds, and in a moment for the next", () => {
    expect(relativeTime(at(0), now)).toBe("just now");
    expect(relativeTime(at(-44), now)).toBe("just now");
    expect(relativeTime(at(10), now)).toBe("in a moment");
  });

  it("uses the largest whole unit, singular or plural", () => {
    expect(relativeTime(at(-50), now)).toBe("1 minute ago");
    expect(relativeTime(at(-5 * 60), now)).toBe("5 minutes ago");
    expect(relativeTime(at(-3 * 3600), now)).toBe("3 hours ago");
    expect(relativeTime(at(-23 * 3600), now)).toBe("23 hours ago");
    expect(relativeTime(at(-86400), now)).toBe("1 day ago");
    expect(relativeTime(at(-16 * 86400), now)).toBe("2 weeks ago");
    expect(relativeTime(at(-14 * 86400), now)).toBe("2 weeks ago");
    expect(relativeTime(at(-400 * 86400), now)).toBe("1 year ago");
  });

  it("looks ahead the same way", () => {
    expect(relativeTime(at(5 * 3600), now)).toBe("in 5 hours");
    expect(relativeTime(at(29 * 86400), now)).toBe("in 4 weeks");
    expect(relativeTime(at(90 * 86400), now)).toBe("in 3 months");
    expect(relativeTime(at(90 * 86400 - 60), now)).toBe("in 3 months");
    expect(relativeTime(at(7 * 86400 - 5), now)).toBe("in 7 days");
  });

  it("shows what the server sent when it is not a time", () => {
    expect(relativeTime("soon", now)).toBe("soon");
  });
});
