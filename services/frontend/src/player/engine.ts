// The Web Audio side of the player: one AudioContext, one GainNode per stem into
// a master GainNode, and every AudioBufferSourceNode started at the same `when`
// on the context clock, so the stems stay sample-aligned through play, seek and loop.
import type { FormatId } from "../api/client";
import {
  finished,
  joinPlaying,
  loopFor,
  pauseAt,
  positionAt,
  startAt,
  stopped,
  type LoopRegion,
  type Transport,
} from "../lib/sync";
import type { ClickBeat, ScheduledClick } from "./click";
import { ClickTrack } from "./clickTrack";
import { renderMix } from "./renderMix";
import { createStretch, isNatural, NATURAL, stretcherSemitones, type Stretch, type TempoPitch } from "./stretch";

/** Every stem comes at 44.1 kHz; a context at that rate decodes them without resampling. */
export const STEM_SAMPLE_RATE = 44100;
/** Gain changes ramp over this long: instant enough to feel immediate, long enough not to click. */
const GAIN_RAMP_S = 0.015;

interface Channel {
  gain: GainNode;
  buffer: AudioBuffer | null;
  source: AudioBufferSourceNode | null;
  /** The `start(when, offset)` the current source got. */
  started: { when: number; offset: number } | null;
}

export interface SourceStartInfo {
  name: string;
  when: number;
  offset: number;
}

export class MixEngine {
  readonly context: AudioContext;
  private readonly master: GainNode;
  private readonly channels = new Map<string, Channel>();
  private transport: Transport = stopped;
  private endTimer: number | undefined;
  private tempoPitchNow: TempoPitch = NATURAL;
  /** Made the first time tempo or pitch leaves 100 % / 0, kept (idle, unplugged) after. */
  private stretch: Promise<Stretch> | null = null;
  /** The stretcher's delay while it is in the chain, else 0. */
  private delay = 0;
  /** Tempo/pitch changes apply one after another, in the order they were asked for. */
  private tempoPitchQueue: Promise<void> = Promise.resolve();
  /** The click goes round the stretcher (never pitch-shifted), through its own gain. */
  private readonly clickBus: GainNode;
  private readonly click: ClickTrack | null;
  /** The click's fader × on/off, and the master's gain: the click's bus plays their product. */
  private clickLevel = 0;
  private masterLevel = 1;
  onEnded: () => void = () => {};

  constructor(
    names: readonly string[],
    readonly duration: number,
    /** The song's beats for the click track (clickGrid); none, no click. */
    readonly clickBeats: readonly ClickBeat[] = [],
  ) {
    this.context = new AudioContext({ latencyHint: "playback", sampleRate: STEM_SAMPLE_RATE });
    this.master = this.context.createGain();
    this.master.connect(this.context.destination);
    this.clickBus = this.context.createGain();
    this.clickBus.gain.value = 0;
    this.clickBus.connect(this.context.destination);
    this.click = clickBeats.length > 0 ? new ClickTrack(this.context, clickBeats, this.clickBus) : null;
    for (const name of names) {
      const gain = this.context.createGain();
      gain.connect(this.master);
      this.channels.set(name, { gain, buffer: null, source: null, started: null });
    }
  }

  get playing(): boolean {
    return this.transport.startedAt !== null;
  }

  get loop(): LoopRegion | null {
    return this.transport.loop;
  }

  /** Where the song is in what is heard now: behind the sources by the stretcher's delay. */
  position(): number {
    return positionAt(this.transport, this.heardAt(), this.duration);
  }

  get tempoPitch(): TempoPitch {
    return this.tempoPitchNow;
  }

  /** Whether the stretcher is in the chain (never at 100 % and 0 semitones). */
  get stretching(): boolean {
    return this.delay > 0;
  }

  /** The value a stem's GainNode has now (what the e2e tests read). */
  gainOf(name: string): number {
    return this.channels.get(name)?.gain.gain.value ?? Number.NaN;
  }

  get masterGain(): number {
    return this.master.gain.value;
  }

  /** The gain the click plays at now: 0 while it is off. */
  get clickGain(): number {
    return this.clickBus.gain.value;
  }

  /** The clicks scheduled lately and ahead, each with its song time and context time. */
  clickTimes(): ScheduledClick[] {
    return this.click?.scheduled() ?? [];
  }

  /**
   * Where each playing source was started. In sync, `offset - when` is one number
   * for all of them: every stem maps the same context time to the same song time.
   */
  sourceStarts(): SourceStartInfo[] {
    return [...this.channels.entries()].flatMap(([name, c]) => (c.started ? [{ name, ...c.started }] : []));
  }

  /** A stem finished decoding: if the others are already playing, it joins on their clock. */
  addBuffer(name: string, buffer: AudioBuffer): void {
    const channel = this.channels.get(name);
    if (!channel) return;
    channel.buffer = buffer;
    const join = joinPlaying(this.transport, this.context.currentTime, this.duration);
    if (join) this.startSource(channel, join.when, join.offset);
  }

  async play(from?: number): Promise<void> {
    if (this.context.state === "suspended") await this.context.resume();
    const position = from ?? (this.position() >= this.duration - 0.01 ? 0 : this.position());
    this.stopSources();
    this.transport = startAt(this.transport, position, this.context.currentTime, this.duration);
    const when = this.transport.startedAt ?? this.context.currentTime;
    for (const channel of this.channels.values()) this.startSource(channel, when, this.transport.offset);
    this.click?.follow(this.transport, this.delay);
    this.scheduleEnd();
  }

  pause(): void {
    this.transport = pauseAt(this.transport, this.heardAt(), this.duration);
    this.stopSources();
    window.clearTimeout(this.endTimer);
  }

  /** Seeking restarts every source together from the new position. */
  seek(position: number): void {
    if (this.playing) void this.play(position);
    else this.transport = { ...this.transport, offset: Math.min(Math.max(0, position), this.duration) };
  }

  setLoop(region: LoopRegion | null): void {
    const position = this.position();
    this.transport = { ...this.transport, loop: region };
    if (this.playing) void this.play(position);
  }

  setGains(gains: ReadonlyMap<string, number>): void {
    for (const [name, value] of gains) {
      const channel = this.channels.get(name);
      if (channel) this.ramp(channel.gain, value);
    }
  }

  setMaster(value: number): void {
    this.ramp(this.master, value);
    this.masterLevel = value;
    this.ramp(this.clickBus, this.clickLevel * value);
  }

  /** The click's gain (its fader, or 0 while it is off); the master applies to it too. */
  setClick(level: number): void {
    this.clickLevel = level;
    this.ramp(this.clickBus, level * this.masterLevel);
  }

  /**
   * Tempo 50–150 % and pitch ±12 semitones. At 100 % and 0 the plain path plays (no
   * stretcher); else every source plays at the tempo into one stretcher (see stretch.ts).
   */
  setTempoPitch(next: TempoPitch): Promise<void> {
    const applied = this.tempoPitchQueue.then(() => this.applyTempoPitch(next));
    // One failure (the stretcher would not load) must not block the changes after it.
    this.tempoPitchQueue = applied.catch(() => undefined);
    return applied;
  }

  /**
   * Renders the loaded stems through the given gains, the loop, tempo and pitch, as a 16-bit
   * WAV; the click too at `click` (its gain), only when that is above 0.
   */
  async exportMix(gains: ReadonlyMap<string, number>, master: number, click = 0): Promise<Blob> {
    await this.tempoPitchQueue;
    const buffers = new Map<string, AudioBuffer>();
    for (const [name, channel] of this.channels) if (channel.buffer) buffers.set(name, channel.buffer);
    const withClick = click > 0 && this.clickBeats.length > 0 ? { beats: this.clickBeats, gain: click } : null;
    return renderMix({
      buffers,
      gains,
      master,
      loop: this.transport.loop,
      tempoPitch: this.tempoPitchNow,
      click: withClick,
    });
  }

  async close(): Promise<void> {
    this.stopSources();
    this.stretch?.then(({ node }) => node.disconnect()).catch(() => {});
    window.clearTimeout(this.endTimer);
    await this.context.close();
  }

  /** The context time whose sound is heard now. */
  private heardAt(): number {
    return this.context.currentTime - this.delay;
  }

  private async applyTempoPitch(next: TempoPitch): Promise<void> {
    const previous = this.tempoPitchNow;
    const natural = isNatural(next);
    if (!natural) this.stretch ??= createStretch(this.context, stretcherSemitones(next));
    let stretch: Stretch | null = null;
    try {
      stretch = this.stretch ? await this.stretch : null;
    } catch (error) {
      this.stretch = null; // tried again on the next change
      throw error;
    }
    const position = this.position();
    this.tempoPitchNow = next;
    void stretch?.node.schedule({ semitones: stretcherSemitones(next) });
    // A pitch change alone is live in the stretcher; a new rate or route restarts the sources.
    if (next.tempo === previous.tempo && natural === isNatural(previous)) return;
    this.route(natural ? null : stretch);
    this.transport = { ...this.transport, rate: next.tempo };
    if (this.playing) await this.play(position);
    else this.transport = { ...this.transport, offset: position };
  }

  /** Master straight to the speakers, or through the stretcher. */
  private route(stretch: Stretch | null): void {
    this.master.disconnect();
    if (stretch) {
      stretch.node.connect(this.context.destination);
      this.master.connect(stretch.node);
      this.delay = stretch.latency;
    } else {
      this.stretch?.then(({ node }) => node.disconnect()).catch(() => {});
      this.master.connect(this.context.destination);
      this.delay = 0;
    }
  }

  private ramp(node: GainNode, value: number): void {
    const now = this.context.currentTime;
    node.gain.cancelScheduledValues(now);
    if (!this.playing) {
      // Silent, so no click to smooth; and a node with nothing playing into it may not be
      // processed, which would leave a scheduled ramp (and gain.value) where it was.
      node.gain.value = value;
      return;
    }
    node.gain.setValueAtTime(node.gain.value, now);
    node.gain.linearRampToValueAtTime(value, now + GAIN_RAMP_S);
  }

  private startSource(channel: Channel, when: number, offset: number): void {
    if (!channel.buffer) return;
    channel.source?.stop();
    const source = this.context.createBufferSource();
    source.buffer = channel.buffer;
    const loop = loopFor(this.transport);
    if (loop) {
      source.loop = true;
      source.loopStart = loop.start;
      source.loopEnd = loop.end;
    }
    if (this.tempoPitchNow.tempo !== 1) source.playbackRate.value = this.tempoPitchNow.tempo;
    source.connect(channel.gain);
    const from = Math.min(offset, channel.buffer.duration);
    source.start(when, from);
    channel.source = source;
    channel.started = { when, offset: from };
  }

  private stopSources(): void {
    this.click?.stop();
    for (const channel of this.channels.values()) {
      channel.source?.stop();
      channel.source?.disconnect();
      channel.source = null;
      channel.started = null;
    }
  }

  private scheduleEnd(): void {
    window.clearTimeout(this.endTimer);
    if (loopFor(this.transport)) return;
    const check = () => {
      if (finished(this.transport, this.heardAt(), this.duration)) {
        this.transport = { ...this.transport, offset: this.duration, startedAt: null };
        this.stopSources();
        this.onEnded();
      } else {
        this.endTimer = window.setTimeout(check, 100);
      }
    };
    this.endTimer = window.setTimeout(check, 100);
  }
}

/** Stem bytes fetched in HTTP Range chunks: progress per stem, and the first bytes early. */
export const CHUNK_BYTES = 1024 * 1024;
/** A dropped connection resumes from the last byte received, this many times in a row. */
export const NETWORK_RETRIES = 3;

function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}

export async function fetchRanged(
  url: string,
  onProgress: (fraction: number) => void,
  signal: AbortSignal,
): Promise<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  let received = 0;
  let total = Number.POSITIVE_INFINITY;
  const report = () => onProgress(Number.isFinite(total) && total > 0 ? received / total : 0);
  let failures = 0;
  while (received < total) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Range: `bytes=${received}-${received + CHUNK_BYTES - 1}` },
        signal,
      });
    } catch (error) {
      if (!isNetworkError(error) || ++failures > NETWORK_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * failures));
      continue;
    }
    if (response.status !== 200 && response.status !== 206) {
      throw new Error(`The stem could not be loaded (HTTP ${response.status}).`);
    }
    if (response.status === 206) {
      const size = Number((response.headers.get("Content-Range") ?? "").split("/")[1]);
      if (Number.isFinite(size)) total = size;
    } else {
      // A server that ignores Range sends the whole file in this one answer, from byte 0:
      // whatever earlier pieces brought is dropped, or the file would start twice.
      total = Number(response.headers.get("Content-Length") ?? Number.NaN);
      parts.length = 0;
      received = 0;
    }
    const before = received;
    const reader = response.body?.getReader();
    // Counted as it arrives, so a stem's bar moves within a piece, not only between.
    try {
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        received += value.length;
        report();
      }
    } catch (error) {
      // Cut off mid-piece: what arrived is kept, and the next request resumes after it.
      if (response.status === 200 || !isNetworkError(error) || ++failures > NETWORK_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * failures));
      continue;
    }
    failures = 0;
    if (response.status === 200 || received === before) break;
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  onProgress(1);
  return out.buffer;
}

/**
 * Which format the player streams, lowest first. Lossless first: an MP3/Opus decoder's
 * padding would shift a stem by some samples; among those the smaller download first.
 * GET /api/formats says which are lossless, not this order among them, so it is kept
 * here, keyed by every format id: a new format fails typecheck until it is ranked.
 */
const PLAYBACK_RANK: Record<FormatId, number> = { flac: 0, wav24: 1, wav: 2, opus: 3, mp3: 4 };

export function playbackFormat(formats: readonly FormatId[]): FormatId | undefined {
  return [...formats].sort((a, b) => PLAYBACK_RANK[a] - PLAYBACK_RANK[b])[0];
}
