// Bringing every stem in: its bytes (ranged, with progress), its decoding into the
// engine, and its waveform peaks, each reported to the player's reducer. The network and
// Web Audio come in as arguments, so Vitest can drive a load without either.
import type { Stem, WaveformPeaks } from "../api/client";
import { errorText } from "../lib/errors";
import { playbackFormat } from "./engine";
import type { PlayerAction } from "./playerState";
import type { StemFile } from "./stemCache";

export interface StemSources<Buffer> {
  /** `file` names the stem steadily (its `url` is a signed link that changes per visit). */
  fetchAudio: (
    url: string,
    onProgress: (fraction: number) => void,
    signal: AbortSignal,
    file: StemFile,
  ) => Promise<ArrayBuffer>;
  decode: (bytes: ArrayBuffer) => Promise<Buffer>;
  /** Hands a decoded stem to the engine, which joins it to playback if that is running. */
  addBuffer: (name: string, buffer: Buffer) => void;
  fetchPeaks: (stem: Stem, signal: AbortSignal) => Promise<WaveformPeaks>;
}

export const NO_AUDIO_MESSAGE = "This stem has no audio file.";

/** Starts every stem's load at once; an aborted load reports nothing more. */
export function loadStems<Buffer>(
  jobId: string,
  stems: readonly Stem[],
  sources: StemSources<Buffer>,
  dispatch: (action: PlayerAction) => void,
  signal: AbortSignal,
): void {
  for (const stem of stems) {
    const name = stem.name;
    sources
      .fetchPeaks(stem, signal)
      .then((peaks) => dispatch({ type: "peaks-loaded", name, peaks }))
      .catch(() => undefined); // the audio still plays; the lane just stays blank
    const format = playbackFormat(stem.formats);
    const url = format ? stem.urls[format] : undefined;
    if (!format || !url) {
      dispatch({ type: "stem-failed", name, error: NO_AUDIO_MESSAGE });
      continue;
    }
    const file: StemFile = { jobId, name, format, size: stem.sizes[format] };
    sources
      .fetchAudio(url, (progress) => dispatch({ type: "stem-progress", name, progress }), signal, file)
      .then((bytes) => {
        dispatch({ type: "stem-decoding", name });
        return sources.decode(bytes);
      })
      .then((buffer) => {
        sources.addBuffer(name, buffer);
        dispatch({ type: "stem-ready", name });
      })
      .catch((error: unknown) => {
        if (!signal.aborted) dispatch({ type: "stem-failed", name, error: errorText(error) });
      });
  }
}
