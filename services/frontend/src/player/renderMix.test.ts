import { describe, expect, it } from "vitest";
import { exportExtras } from "./renderMix";
import { NATURAL } from "./stretch";

describe("what the export says it follows", () => {
  it("says nothing more at 100 %, 0 st and no loop", () => {
    expect(exportExtras(NATURAL, null)).toBe("");
  });

  it("names the tempo, the pitch and the loop it renders", () => {
    expect(exportExtras({ tempo: 0.75, semitones: 0 }, null)).toBe("At 75 %.");
    expect(exportExtras({ tempo: 1, semitones: 2 }, null)).toBe("At +2 st.");
    expect(exportExtras({ tempo: 0.75, semitones: -3 }, { start: 1, end: 4 })).toBe(
      "At 75 % and \u22123 st, the loop 0:01.0–0:04.0 only.",
    );
    expect(exportExtras(NATURAL, { start: 61, end: 62.5 })).toBe("Only the loop, 1:01.0–1:02.5.");
  });
});
