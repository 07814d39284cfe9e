import { describe, expect, it } from "vitest";
import { encodeWav } from "./wav";

describe("WAV export", () => {
  it("writes a 16-bit PCM header with the right size and duration", () => {
    const rate = 44100;
    const frames = rate * 2 + 7;
    const left = new Float32Array(frames).fill(0.5);
    const right = new Float32Array(frames).fill(-1.5);
    const view = new DataView(encodeWav([left, right], rate));
    const text = (at: number) => String.fromCharCode(...new Uint8Array(view.buffer, at, 4));
    expect([text(0), text(8), text(12), text(36)]).toEqual(["RIFF", "WAVE", "fmt ", "data"]);
    expect(view.getUint16(20, true)).toBe(1);
    expect(view.getUint16(22, true)).toBe(2);
    expect(view.getUint32(24, true)).toBe(rate);
    expect(view.getUint16(34, true)).toBe(16);
    const dataBytes = view.getUint32(40, true);
    expect(dataBytes).toBe(frames * 4);
    expect(view.getUint32(4, true)).toBe(36 + dataBytes);
    expect(dataBytes / 4 / rate).toBeCloseTo(2 + 7 / rate, 12);
    // Interleaved, and clipped rather than wrapped.
    expect(view.getInt16(44, true)).toBe(Math.round(0.5 * 0x7fff));
    expect(view.getInt16(46, true)).toBe(-0x8000);
  });

  it("writes an empty but valid file for no frames", () => {
    const view = new DataView(encodeWav([new Float32Array(0), new Float32Array(0)], 48000));
    expect(view.byteLength).toBe(44);
    expect(view.getUint32(40, true)).toBe(0);
  });
});
