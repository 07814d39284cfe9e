// Tempo and pitch for the player and its export, with signalsmith-stretch in an AudioWorklet.
//
// The stretcher runs on live input: its buffer mode would need every stem's samples copied
// into one worklet per stem, and could not follow the faders. So every source plays at
// `playbackRate = tempo` from one `when` (the sample-aligned scheduling of sync.ts, on one
// clock, with the faders live), which also moves the pitch by 12·log2(tempo) semitones;
// the mixed bus then goes through ONE stretcher that shifts it back, plus the pitch asked
// for. At 100 % and 0 semitones there is no stretcher in the chain at all.
/// <reference path="./stretchLibrary.d.ts" />
import type { StretchNode } from "signalsmith-stretch";

export const TEMPO_MIN = 0.5;
export const TEMPO_MAX = 1.5;
export const SEMITONES_MAX = 12;

export interface TempoPitch {
  /** Song seconds per real second: 0.75 plays a 4 s bar in 5.33 s. */
  tempo: number;
  /** Pitch shift, whole semitones, -12 … +12. */
  semitones: number;
}

export const NATURAL: TempoPitch = { tempo: 1, semitones: 0 };

export function clampTempo(tempo: number): number {
  if (!Number.isFinite(tempo)) return 1;
  return Math.min(TEMPO_MAX, Math.max(TEMPO_MIN, tempo));
}

export function clampSemitones(semitones: number): number {
  if (!Number.isFinite(semitones)) return 0;
  return Math.min(SEMITONES_MAX, Math.max(-SEMITONES_MAX, Math.round(semitones)));
}

/** Whether the plain path (no stretcher, sources at rate 1) plays this unchanged. */
export function isNatural(tp: TempoPitch): boolean {
  return tp.tempo === 1 && tp.semitones === 0;
}

/** The shift the stretcher applies: the pitch asked for, less what the rate already moved. */
export function stretcherSemitones(tp: TempoPitch): number {
  return tp.semitones - 12 * Math.log2(tp.tempo);
}

/** How long `songSeconds` of the song lasts when played at `tempo`. */
export function playedSeconds(songSeconds: number, tempo: number): number {
  return songSeconds / tempo;
}

/** "75 %" */
export function formatTempo(tempo: number): string {
  return `${Math.round(tempo * 100)} %`;
}

/** "110 BPM", "82.5 BPM": the song's tempo as played at `tempo`, to a tenth. */
export function formatBpm(bpm: number, tempo = 1): string {
  const played = Math.round(bpm * tempo * 10) / 10;
  return `${Number.isInteger(played) ? played : played.toFixed(1)} BPM`;
}

/** "+2 st", "0 st", "−3 st" (a real minus sign). */
export function formatSemitones(semitones: number): string {
  if (semitones === 0) return "0 st";
  return `${semitones > 0 ? "+" : "\u2212"}${Math.abs(semitones)} st`;
}

/**
 * Whether this page may run an AudioWorklet: browsers offer them only in a secure context
 * (https, or localhost), so a server reached over plain http on a LAN plays at 100 % only.
 */
export function stretchSupported(): boolean {
  return typeof window !== "undefined" && window.isSecureContext && typeof AudioWorkletNode === "function";
}

const registered = new WeakMap<BaseAudioContext, Promise<void>>();

/**
 * A stretcher on `context`, active from now, shifting its input by `semitones`. The worklet
 * module is the library's own file served from this origin (the CSP allows no blob: script),
 * and the library is loaded only when someone first changes tempo or pitch.
 */
export async function createStretch(context: BaseAudioContext, semitones: number): Promise<Stretch> {
  const [{ default: SignalsmithStretch }, { default: moduleUrl }] = await Promise.all([
    import("signalsmith-stretch"),
    import("signalsmith-stretch?url"),
  ]);
  let ready = registered.get(context);
  if (!ready) {
    ready = context.audioWorklet.addModule(moduleUrl);
    registered.set(context, ready);
  }
  await ready;
  const node = await SignalsmithStretch(context, {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [2],
  });
  await node.schedule({ active: true, output: context.currentTime, semitones });
  return { node, latency: await node.latency() };
}

export interface Stretch {
  node: StretchNode;
  /** Seconds from a sample entering the stretcher to its coming out. */
  latency: number;
}
