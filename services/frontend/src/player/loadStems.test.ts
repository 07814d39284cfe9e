import { describe, expect, it } from "vitest";
import type { FormatId, Stem, WaveformPeaks } from "../api/client";
import { loadStems, NO_AUDIO_MESSAGE, type StemSources } from "./loadStems";
import type { StemFile } from "./stemCache";
import { initialPlayerState, loadOf, playerReducer, readyCount, type PlayerAction } from "./playerState";

function stem(name: string, formats: FormatId[] = ["mp3", "flac"]): Stem {
  const urls = Object.fromEntries(formats.map((format) => [format, `/stems/${name}.${format}`]));
  return {
    name,
    formats,
    urls,
    download_urls: urls,
    sizes: {},
    duration_s: 6,
    lufs: -14,
    peak_dbfs: -1,
    waveform_url: `/stems/${name}.peaks.json`,
    waveform_png_url: `/stems/${name}.png`,
  };
}

const PEAKS: WaveformPeaks = { version: 1, sample_rate: 44100, samples_per_bin: 512, bins: 1, data: [-1, 1] };

/** Fake network and decoder whose every step the test releases by hand. */
function harness(stems: Stem[]) {
  const actions: PlayerAction[] = [];
  const fetched: string[] = [];
  const files: StemFile[] = [];
  const progress = new Map<string, (fraction: number) => void>();
  const finish = new Map<string, { resolve: (bytes: ArrayBuffer) => void; reject: (error: unknown) => void }>();
  const added: [string, string][] = [];
  const sources: StemSources<string> = {
    fetchAudio: (url, onProgress, signal, file) =>
      new Promise((resolve, reject) => {
        fetched.push(url);
        files.push(file);
        progress.set(url, onProgress);
        finish.set(url, { resolve, reject });
        signal.addEventListener("abort", () => reject(new DOMException("Aborted", "AbortError")));
      }),
    decode: async (bytes) => `decoded ${bytes.byteLength} bytes`,
    addBuffer: (name, buffer) => added.push([name, buffer]),
    fetchPeaks: async (s) => {
      if (s.name === "bass") throw new TypeError("Failed to fetch");
      return PEAKS;
    },
  };
  const abort = new AbortController();
  loadStems("job-1", stems, sources, (action) => actions.push(action), abort.signal);
  const state = () => actions.reduce(playerReducer, initialPlayerState(stems.map((s) => s.name)));
  return { actions, fetched, files, progress, finish, added, abort, state };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("loading stems", () => {
  it("fetches each stem in its lossless format and reports progress as the bytes come", async () => {
    const load = harness([stem("vocals"), stem("drums")]);
    expect(load.fetched).toEqual(["/stems/vocals.flac", "/stems/drums.flac"]);
    load.progress.get("/stems/vocals.flac")?.(0.5);
    expect(loadOf(load.state(), "vocals")).toEqual({ state: "loading", progress: 0.5 });
    expect(loadOf(load.state(), "drums")).toEqual({ state: "loading", progress: 0 });
    await settle();
  });

  it("names each file steadily for the cache: job, stem, format and size, not the link", async () => {
    const vocals = { ...stem("vocals"), sizes: { flac: 1234, mp3: 99 } };
    const load = harness([vocals]);
    expect(load.files).toEqual([{ jobId: "job-1", name: "vocals", format: "flac", size: 1234 }]);
    await settle();
  });

  it("decodes a fetched stem, hands it to the engine and marks it ready", async () => {
    const load = harness([stem("vocals"), stem("drums")]);
    load.finish.get("/stems/vocals.flac")?.resolve(new ArrayBuffer(8));
    await settle();
    expect(load.added).toEqual([["vocals", "decoded 8 bytes"]]);
    expect(load.actions.filter((a) => "name" in a && a.name === "vocals").map((a) => a.type)).toEqual([
      "peaks-loaded",
      "stem-decoding",
      "stem-ready",
    ]);
    expect(loadOf(load.state(), "vocals").state).toBe("ready");
    expect(readyCount(load.state())).toBe(1);
  });

  it("says why a stem failed, and the others carry on", async () => {
    const load = harness([stem("vocals"), stem("drums")]);
    load.finish.get("/stems/drums.flac")?.reject(new Error("The stem could not be loaded (HTTP 500)."));
    load.finish.get("/stems/vocals.flac")?.resolve(new ArrayBuffer(4));
    await settle();
    expect(loadOf(load.state(), "drums")).toEqual({
      state: "failed",
      progress: 0,
      error: "The stem could not be loaded (HTTP 500).",
    });
    expect(loadOf(load.state(), "vocals").state).toBe("ready");
  });

  it("fails a stem without any audio file at once", async () => {
    const load = harness([stem("vocals", [])]);
    expect(load.fetched).toEqual([]);
    expect(loadOf(load.state(), "vocals")).toEqual({ state: "failed", progress: 0, error: NO_AUDIO_MESSAGE });
    await settle();
  });

  it("leaves a lane blank when its peaks cannot be fetched, without failing the stem", async () => {
    const load = harness([stem("bass"), stem("other")]);
    await settle();
    expect(Object.keys(load.state().peaks)).toEqual(["other"]);
    expect(loadOf(load.state(), "bass").state).toBe("loading");
  });

  it("reports nothing more once the player is closed", async () => {
    const load = harness([stem("vocals")]);
    load.abort.abort();
    await settle();
    expect(load.actions.map((a) => a.type)).toEqual(["peaks-loaded"]);
    expect(loadOf(load.state(), "vocals").state).toBe("loading");
  });
});
