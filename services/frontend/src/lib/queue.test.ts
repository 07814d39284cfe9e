import { describe, expect, it } from "vitest";
import { ordinal, queueText, startText } from "./queue";

describe("ordinal", () => {
  it("says 1st, 2nd, 3rd and the teens as people do", () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal)).toEqual([
      "1st",
      "2nd",
      "3rd",
      "4th",
      "11th",
      "12th",
      "13th",
      "21st",
      "22nd",
      "23rd",
      "101st",
      "111th",
    ]);
  });
});

describe("startText", () => {
  it("rounds to what a person would say", () => {
    expect(startText(0)).toBe("starts any moment");
    expect(startText(40)).toBe("starts in under a minute");
    expect(startText(120)).toBe("starts in about 2 min");
    expect(startText(89 * 60)).toBe("starts in about 89 min");
    expect(startText(3 * 3600)).toBe("starts in about 3 h");
  });
});

describe("queueText", () => {
  it("gives the place and, when known, the start", () => {
    expect(queueText(3, 120)).toBe("3rd in line, starts in about 2 min");
    expect(queueText(3, null)).toBe("3rd in line");
    expect(queueText(1, 0)).toBe("Next in line, starts any moment");
  });

  it("says nothing when the place is not known", () => {
    expect(queueText(null, null)).toBeNull();
    expect(queueText(null, 30)).toBeNull();
  });
});
