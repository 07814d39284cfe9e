// The parts of signalsmith-stretch (MIT, JS/WASM, no types of its own) that Stemdeck uses.
declare module "signalsmith-stretch" {
  export interface StretchSchedule {
    /** Context time the change takes effect at. */
    output?: number;
    active?: boolean;
    /** Pitch shift of the live input, in semitones. */
    semitones?: number;
  }

  export interface StretchNode extends AudioWorkletNode {
    schedule(change: StretchSchedule): Promise<unknown>;
    /** Seconds from live input to its shifted output. */
    latency(): Promise<number>;
  }

  export default function SignalsmithStretch(
    context: BaseAudioContext,
    options?: AudioWorkletNodeOptions,
  ): Promise<StretchNode>;
}
