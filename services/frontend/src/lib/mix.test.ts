import { describe, expect, it } from "vitest";
import {
  dbToFader,
  dbToGain,
  faderToDb,
  faderToGain,
  formatDb,
  initialMix,
  isAudible,
  setFader,
  stemGains,
  toggleMute,
  toggleSolo,
  UNITY_POSITION,
} from "./mix";

describe("fader math", () => {
  it("is unity at the unity mark and +6 dB at the top", () => {
    expect(faderToDb(UNITY_POSITION)).toBeCloseTo(0, 10);
    expect(faderToGain(UNITY_POSITION)).toBeCloseTo(1, 10);
    expect(faderToDb(1)).toBeCloseTo(6, 10);
    expect(faderToGain(1)).toBeCloseTo(1.995262, 6);
    expect(faderToDb(UNITY_POSITION / 2)).toBeCloseTo(-30, 10);
  });

  it("is silent at the bottom and for nonsense positions", () => {
    expect(faderToGain(0)).toBe(0);
    expect(faderToDb(0)).toBe(-Infinity);
    expect(faderToGain(-3)).toBe(0);
    expect(faderToGain(Number.NaN)).toBe(0);
    expect(faderToGain(7)).toBeCloseTo(faderToGain(1), 12);
  });

  it("moves in equal dB steps for equal travel", () => {
    const step = faderToDb(0.5) - faderToDb(0.4);
    expect(faderToDb(0.7) - faderToDb(0.6)).toBeCloseTo(step, 10);
  });

  it("converts between dB, gain and fader travel", () => {
    expect(dbToGain(-6)).toBeCloseTo(0.501187, 6);
    expect(dbToGain(-Infinity)).toBe(0);
    for (const position of [0.1, 0.35, UNITY_POSITION, 0.95]) {
      expect(dbToFader(faderToDb(position))).toBeCloseTo(position, 10);
    }
    expect(dbToFader(-Infinity)).toBe(0);
    expect(dbToFader(40)).toBe(1);
  });

  it("reads out like a desk", () => {
    expect(formatDb(0)).toBe("0.0 dB");
    expect(formatDb(-3.24)).toBe("−3.2 dB");
    expect(formatDb(6)).toBe("+6.0 dB");
    expect(formatDb(-Infinity)).toBe("−∞ dB");
  });
});

describe("mute and solo", () => {
  const names = ["vocals", "drums", "bass", "other"];

  it("plays everything at unity to begin with", () => {
    const gains = stemGains(initialMix(names));
    expect([...gains.values()].map((g) => Number(g.toFixed(6)))).toEqual([1, 1, 1, 1]);
  });

  it("silences a muted stem and leaves the others", () => {
    const mix = toggleMute(initialMix(names), "drums");
    expect(stemGains(mix).get("drums")).toBe(0);
    expect(stemGains(mix).get("vocals")).toBeCloseTo(1, 10);
    expect(stemGains(toggleMute(mix, "drums")).get("drums")).toBeCloseTo(1, 10);
  });

  it("plays only soloed stems while any is soloed, and several can be", () => {
    let mix = toggleSolo(initialMix(names), "vocals");
    expect(names.filter((n) => isAudible(mix.find((s) => s.name === n)!, mix))).toEqual(["vocals"]);
    mix = toggleSolo(mix, "bass");
    expect(names.filter((n) => (stemGains(mix).get(n) ?? 0) > 0)).toEqual(["vocals", "bass"]);
    mix = toggleSolo(toggleSolo(mix, "vocals"), "bass");
    expect(names.filter((n) => (stemGains(mix).get(n) ?? 0) > 0)).toEqual(names);
  });

  it("lets mute win over solo", () => {
    const mix = toggleMute(toggleSolo(initialMix(names), "vocals"), "vocals");
    expect(stemGains(mix).get("vocals")).toBe(0);
    // The solo still holds the others down: soloing and muting one stem silences all.
    expect([...stemGains(mix).values()].every((g) => g === 0)).toBe(true);
  });

  it("multiplies the fader into an audible stem only", () => {
    let mix = setFader(initialMix(names), "bass", 0.4);
    expect(stemGains(mix).get("bass")).toBeCloseTo(dbToGain(-30), 10);
    expect(stemGains(mix).get("bass")).toBeCloseTo(0.031623, 6);
    mix = toggleMute(mix, "bass");
    expect(stemGains(mix).get("bass")).toBe(0);
    expect(setFader(mix, "bass", 2).find((s) => s.name === "bass")?.fader).toBe(1);
  });
});
