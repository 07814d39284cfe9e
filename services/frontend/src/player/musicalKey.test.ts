import { describe, expect, it } from "vitest";
import { shiftedKeyName } from "./musicalKey";

describe("the key after a pitch shift", () => {
  it("moves the tonic by the semitones, keeping the mode", () => {
    expect(shiftedKeyName({ tonic: "A", mode: "minor" }, 2)).toBe("B minor");
    expect(shiftedKeyName({ tonic: "C", mode: "major" }, 0)).toBe("C major");
    expect(shiftedKeyName({ tonic: "E", mode: "major" }, -12)).toBe("E major");
  });

  it("wraps round the octave both ways", () => {
    expect(shiftedKeyName({ tonic: "B", mode: "major" }, 1)).toBe("C major");
    expect(shiftedKeyName({ tonic: "C", mode: "minor" }, -1)).toBe("B minor");
    expect(shiftedKeyName({ tonic: "G", mode: "major" }, 12)).toBe("G major");
  });

  it("spells each key as it is usually written", () => {
    expect(shiftedKeyName({ tonic: "A", mode: "major" }, 1)).toBe("B♭ major");
    expect(shiftedKeyName({ tonic: "C", mode: "major" }, 3)).toBe("E♭ major");
    expect(shiftedKeyName({ tonic: "F#", mode: "major" }, 0)).toBe("F♯ major");
    expect(shiftedKeyName({ tonic: "C#", mode: "minor" }, 0)).toBe("C♯ minor");
    expect(shiftedKeyName({ tonic: "G", mode: "minor" }, 1)).toBe("G♯ minor");
    expect(shiftedKeyName({ tonic: "A", mode: "minor" }, 1)).toBe("B♭ minor");
  });

  it("names nothing for a tonic it does not know", () => {
    expect(shiftedKeyName({ tonic: "H", mode: "major" }, 0)).toBeNull();
  });
});
