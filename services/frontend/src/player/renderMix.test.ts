import { describe, expect, it } from "vitest";
import { clickGrid } from "./click";
import { exportClicks, exportExtras } from "./renderMix";
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

  it("says the click is in it only while the click is on", () => {
    expect(exportExtras(NATURAL, null, true)).toBe("With the click.");
    expect(exportExtras({ tempo: 0.75, semitones: 0 }, null, true)).toBe("At 75 %. With the click.");
    expect(exportExtras({ tempo: 0.75, semitones: 0 }, null, false)).toBe("At 75 %.");
  });
});

describe("the click in the export", () => {
  // A beat a second from 1 s, a bar every 4.
  const beats = clickGrid([1, 2, 3, 4, 5, 6, 7, 8], [1, 5]);
  const at = (seconds: number) => Number(seconds.toFixed(9));

  it("is left out while the click is off", () => {
    expect(exportClicks({ tempoPitch: NATURAL, click: null }, 0, 10, 0)).toEqual([]);
    expect(exportClicks({ tempoPitch: NATURAL, click: { beats, gain: 0 } }, 0, 10, 0)).toEqual([]);
    expect(exportClicks({ tempoPitch: NATURAL }, 0, 10, 0)).toEqual([]);
  });

  it("clicks every beat of the song, accented on each bar's first, when on", () => {
    const clicks = exportClicks({ tempoPitch: NATURAL, click: { beats, gain: 0.5 } }, 0, 10, 0);
    expect(clicks.map((c) => c.when)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(clicks.filter((c) => c.accent).map((c) => c.when)).toEqual([1, 5]);
  });

  it("follows the loop's span and the tempo, late by the stretcher's delay", () => {
    // The loop 2–5 s at 75 %: 4 s of output; beats 2, 3, 4 at 0, 1.33, 2.67 plus the delay.
    const spec = { tempoPitch: { tempo: 0.75, semitones: 0 }, click: { beats, gain: 1 } };
    const clicks = exportClicks(spec, 2, 3 / 0.75, 0.1);
    expect(clicks.map((c) => c.time)).toEqual([2, 3, 4]);
    expect(clicks.map((c) => at(c.when))).toEqual([0.1, 0.1 + 1 / 0.75, 0.1 + 2 / 0.75].map(at));
  });
});
