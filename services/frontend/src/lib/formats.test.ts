import { describe, expect, it } from "vitest";
import type { Format } from "../api/client";
import { defaultFormats, formatLabel, sharedLoad } from "./formats";

const FORMATS: Format[] = [
  { id: "wav", label: "WAV 16-bit", extension: "wav", media_type: "audio/wav", lossless: true, default: false },
  { id: "flac", label: "FLAC 24-bit", extension: "flac", media_type: "audio/flac", lossless: true, default: true },
  { id: "mp3", label: "MP3 (VBR)", extension: "mp3", media_type: "audio/mpeg", lossless: false, default: true },
];

describe("output formats", () => {
  it("labels a format as the server does, and by its id until the labels come", () => {
    expect(formatLabel(FORMATS, "flac")).toBe("FLAC 24-bit");
    expect(formatLabel(null, "flac")).toBe("flac");
    expect(formatLabel(FORMATS, "opus")).toBe("opus");
  });

  it("starts with the server's default formats ticked", () => {
    expect(defaultFormats(FORMATS)).toEqual(["flac", "mp3"]);
    expect(defaultFormats([])).toEqual([]);
  });
});

describe("shared load", () => {
  it("asks once for every caller", async () => {
    let asked = 0;
    const load = sharedLoad(() => Promise.resolve(++asked));
    expect(await Promise.all([load(), load()])).toEqual([1, 1]);
    expect(await load()).toBe(1);
    expect(asked).toBe(1);
  });

  it("asks again after a failure", async () => {
    let asked = 0;
    const load = sharedLoad(() => (++asked === 1 ? Promise.reject(new Error("offline")) : Promise.resolve(asked)));
    await expect(load()).rejects.toThrow("offline");
    expect(await load()).toBe(2);
    expect(await load()).toBe(2);
  });
});
