// The click track on a context's clock. Live, a lookahead scheduler: every 25 ms it starts
// one short AudioBufferSourceNode for each click due in the next 0.2 s, at its exact
// context time (clicksIn), so a click is as sample-accurate as the stems, and a seek, a
// loop or a new tempo (each restarts the transport) just drops the clicks not yet heard
// and schedules again. An export schedules all of its clicks at once on the offline clock.
import type { Transport } from "../lib/sync";
import { clicksIn, clickSamples, type ClickBeat, type ScheduledClick } from "./click";

const TICK_MS = 25;
/** Longer than a late timer's wait in a busy tab, short enough that a change is heard at once. */
const HORIZON_S = 0.2;

/** Clicks already heard are kept this long, for the tests to read back (scheduled()). */
const KEPT_S = 5;

export interface ClickSounds {
  beat: AudioBuffer;
  accent: AudioBuffer;
}

export function clickSounds(context: BaseAudioContext): ClickSounds {
  const make = (accent: boolean) => {
    const samples = clickSamples(context.sampleRate, accent);
    const buffer = context.createBuffer(1, samples.length, context.sampleRate);
    buffer.copyToChannel(samples, 0);
    return buffer;
  };
  return { beat: make(false), accent: make(true) };
}

/** Starts each click at its time into `destination`; the sources, so they can be stopped. */
export function startClicks(
  context: BaseAudioContext,
  sounds: ClickSounds,
  clicks: readonly ScheduledClick[],
  destination: AudioNode,
): AudioBufferSourceNode[] {
  return clicks.map((click) => {
    const source = context.createBufferSource();
    source.buffer = click.accent ? sounds.accent : sounds.beat;
    source.connect(destination);
    source.start(click.when);
    return source;
  });
}

export class ClickTrack {
  private readonly sounds: ClickSounds;
  private pending: { source: AudioBufferSourceNode; click: ScheduledClick }[] = [];
  private timer: number | undefined;

  constructor(
    private readonly context: AudioContext,
    readonly grid: readonly ClickBeat[],
    private readonly output: AudioNode,
  ) {
    this.sounds = clickSounds(context);
  }

  /** Clicks along with a transport that has just (re)started, `delay` s behind its sources. */
  follow(transport: Transport, delay: number): void {
    this.stop();
    let until = this.context.currentTime;
    const tick = () => {
      const now = this.context.currentTime;
      const to = now + HORIZON_S;
      // A timer that came late does not play the clicks it missed late.
      const clicks = clicksIn(this.grid, transport, Math.max(until, now), to, delay);
      until = to;
      const sources = startClicks(this.context, this.sounds, clicks, this.output);
      this.pending = this.pending.filter(({ click }) => click.when > now - KEPT_S);
      sources.forEach((source, i) => this.pending.push({ source, click: clicks[i] as ScheduledClick }));
    };
    tick();
    this.timer = window.setInterval(tick, TICK_MS);
  }

  /** The clicks scheduled in the last few seconds and ahead (for the e2e tests). */
  scheduled(): ScheduledClick[] {
    return this.pending.map(({ click }) => click);
  }

  stop(): void {
    window.clearInterval(this.timer);
    this.timer = undefined;
    const now = this.context.currentTime;
    for (const { source, click } of this.pending) {
      // One already sounding finishes (30 ms); one still to come never starts.
      if (click.when > now) {
        source.stop();
        source.disconnect();
      }
    }
    this.pending = [];
  }
}
