import { describe, expect, it } from "vitest";
import { trappedFocus } from "./focusTrap";

describe("focus trapped in a dialog", () => {
  it("wraps Tab from the last control to the first, and Shift+Tab from the first to the last", () => {
    expect(trappedFocus(2, 3, false)).toBe(0);
    expect(trappedFocus(0, 3, true)).toBe(2);
  });

  it("lets the browser move focus between controls inside", () => {
    expect(trappedFocus(0, 3, false)).toBeNull();
    expect(trappedFocus(2, 3, true)).toBeNull();
  });

  it("keeps a lone control focused either way", () => {
    expect(trappedFocus(0, 1, false)).toBe(0);
    expect(trappedFocus(0, 1, true)).toBe(0);
  });

  it("brings focus that escaped back in at the matching end", () => {
    expect(trappedFocus(-1, 3, false)).toBe(0);
    expect(trappedFocus(-1, 3, true)).toBe(2);
    expect(trappedFocus(-1, 0, false)).toBeNull();
  });
});
