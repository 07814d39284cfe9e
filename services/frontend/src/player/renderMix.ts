// "Export my mix": the loaded stems through the player's gains, offline, as a 16-bit WAV,
// honouring the loop (only its span, once) and tempo and pitch (the same sources-at-rate
// plus one stretcher as the live player, so the file sounds as the player does), and the
// click track when it is on (round the stretcher, as live).
import { formatClock } from "../lib/format";
import type { LoopRegion } from "../lib/sync";
import { encodeWav } from "../lib/wav";
import { clicksIn, type ClickBeat, type ScheduledClick } from "./click";
import { clickSounds, startClicks } from "./clickTrack";
import {
  createStretch,
  formatSemitones,
  formatTempo,
  isNatural,
  playedSeconds,
  stretcherSemitones,
  type TempoPitch,
} from "./stretch";

export interface MixSpec {
  buffers: ReadonlyMap<string, AudioBuffer>;
  gains: ReadonlyMap<string, number>;
  master: number;
  loop: LoopRegion | null;
  tempoPitch: TempoPitch;
  /** The click track at this gain (before the master); null or absent: no click. */
  click?: { beats: readonly ClickBeat[]; gain: number } | null;
}

/** What the export does beyond the faders, in words: "At 75 % and +2 st, the loop 0:01.0–0:04.0 only." */
export function exportExtras(tempoPitch: TempoPitch, loop: LoopRegion | null, click = false): string {
  const words = extrasWithoutClick(tempoPitch, loop);
  if (!click) return words;
  return words ? `${words} With the click.` : "With the click.";
}

function extrasWithoutClick(tempoPitch: TempoPitch, loop: LoopRegion | null): string {
  const changes = [
    tempoPitch.tempo !== 1 ? formatTempo(tempoPitch.tempo) : null,
    tempoPitch.semitones !== 0 ? formatSemitones(tempoPitch.semitones) : null,
  ].filter((part) => part !== null);
  const loopWords = loop ? `the loop ${formatClock(loop.start)}–${formatClock(loop.end)} only` : null;
  if (changes.length === 0) return loop ? `Only the loop, ${formatClock(loop.start)}–${formatClock(loop.end)}.` : "";
  return `At ${changes.join(" and ")}${loopWords ? `, ${loopWords}` : ""}.`;
}

/** More than the stretcher's delay at any rate Stemdeck uses (1 s at 44.1 kHz). */
const STRETCH_ROOM_FRAMES = 44100;

/** Song seconds to render: the loop's span, or the whole (longest) stem. */
function span(spec: MixSpec, first: AudioBuffer): { from: number; seconds: number } {
  if (spec.loop) return { from: spec.loop.start, seconds: spec.loop.end - spec.loop.start };
  const longest = Math.max(...[...spec.buffers.values()].map((b) => b.length));
  return { from: 0, seconds: longest / first.sampleRate };
}

export async function renderMix(spec: MixSpec): Promise<Blob> {
  const first = spec.buffers.values().next().value;
  if (!first) throw new Error("No stem has loaded yet; wait for one, then export.");
  const rate = first.sampleRate;
  const { from, seconds } = span(spec, first);
  const natural = isNatural(spec.tempoPitch);
  const tempo = spec.tempoPitch.tempo;
  const frames = Math.round(playedSeconds(seconds, tempo) * rate);
  // The stretcher delays what passes through it (about 0.1 s): render room for that, and cut
  // exactly its latency off the front.
  const offline = new OfflineAudioContext(2, frames + (natural ? 0 : STRETCH_ROOM_FRAMES), rate);
  const bus = offline.createGain();
  bus.gain.value = spec.master;
  let latencyFrames = 0;
  if (natural) {
    bus.connect(offline.destination);
  } else {
    const stretch = await createStretch(offline, stretcherSemitones(spec.tempoPitch));
    latencyFrames = Math.round(stretch.latency * rate);
    if (latencyFrames > STRETCH_ROOM_FRAMES) throw new Error("The stretcher's delay is longer than expected.");
    bus.connect(stretch.node).connect(offline.destination);
  }
  for (const [name, buffer] of spec.buffers) {
    const source = offline.createBufferSource();
    source.buffer = buffer;
    if (!natural) source.playbackRate.value = tempo;
    const gain = offline.createGain();
    gain.gain.value = spec.gains.get(name) ?? 0;
    source.connect(gain).connect(bus);
    if (spec.loop) source.start(0, from, seconds);
    else source.start(0);
  }
  addClicks(offline, spec, from, frames / rate, latencyFrames / rate);
  const rendered = await offline.startRendering();
  const channels = [0, 1].map((c) => rendered.getChannelData(c).subarray(latencyFrames, latencyFrames + frames));
  return new Blob([encodeWav(channels, rate)], { type: "audio/wav" });
}

/**
 * The clicks the export plays, on the offline clock: the song from `from` for `seconds` of
 * output at the tempo, each click `delay` late (the stretcher's latency, cut off the front
 * with the stems'). None unless the click is on (a gain above 0).
 */
export function exportClicks(
  spec: Pick<MixSpec, "click" | "tempoPitch">,
  from: number,
  seconds: number,
  delay: number,
): ScheduledClick[] {
  if (!spec.click || spec.click.gain <= 0) return [];
  const transport = { offset: from, startedAt: 0, loop: null, rate: spec.tempoPitch.tempo };
  return clicksIn(spec.click.beats, transport, 0, seconds + delay, delay);
}

function addClicks(offline: OfflineAudioContext, spec: MixSpec, from: number, seconds: number, delay: number) {
  const clicks = exportClicks(spec, from, seconds, delay);
  if (clicks.length === 0 || !spec.click) return;
  const bus = offline.createGain();
  bus.gain.value = spec.click.gain * spec.master;
  bus.connect(offline.destination);
  startClicks(offline, clickSounds(offline), clicks, bus);
}
