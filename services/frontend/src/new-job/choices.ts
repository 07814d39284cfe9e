// The few ways to split a song that a musician picks from, each backed by a real
// strategy of the server's (strategies.yaml), with its stems and how long it takes here.
import type { Strategy } from "../api/client";

/** The length the expected time is told for, before a song is chosen: a typical song. */
export const TYPICAL_SONG_S = 240;

export interface ChoiceSpec {
  key: string;
  title: string;
  /** Strategies that do this, best first: the first one the server can run is used. */
  candidates: readonly string[];
}

export const CHOICE_SPECS: readonly ChoiceSpec[] = [
  // Spleeter's two-stem model: quick, and its weights come with the install.
  { key: "vocals", title: "Vocals / instrumental", candidates: ["vocals"] },
  // Demucs v4; offline installs without its weights get Spleeter + signal processing.
  { key: "four-fast", title: "Four stems — fast", candidates: ["htdemucs", "four-stems-lite"] },
  // The fine-tuned Demucs (four models, about 4× slower), else BS-RoFormer + Demucs.
  { key: "four-best", title: "Four stems — best", candidates: ["htdemucs_ft", "roformer-demucs"] },
  { key: "six", title: "Six stems", candidates: ["htdemucs_6s"] },
];

/** ready: starts now; waits: queues until a worker starts; blocked: the server refuses it. */
export type Readiness = "ready" | "waits" | "blocked";

/** The tone of a strategy's time line: "untimed" when it can run but was never measured. */
export function timeTone(strategy: Strategy): Readiness | "untimed" {
  const readiness = readinessOf(strategy);
  return readiness === "ready" && strategy.seconds_per_audio_second === null ? "untimed" : readiness;
}

export function readinessOf(strategy: Strategy): Readiness {
  if (strategy.models.some((model) => model.status === "missing")) return "blocked";
  return strategy.available ? "ready" : "waits";
}

/** "about 2 min for a 4-min song"; null until the strategy ran on one of the live workers. */
export function expectedTimeText(secondsPerAudioSecond: number | null, songSeconds = TYPICAL_SONG_S): string | null {
  if (secondsPerAudioSecond === null || !Number.isFinite(secondsPerAudioSecond)) return null;
  const seconds = secondsPerAudioSecond * songSeconds;
  const song = `for a ${Math.round(songSeconds / 60)}-min song`;
  if (seconds < 10) return `a few seconds ${song}`;
  if (seconds < 55) return `about ${Math.round(seconds / 5) * 5} s ${song}`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `about ${Math.max(1, minutes)} min ${song}`;
  return `about ${Math.round(minutes / 60)} h ${song}`;
}

/** What a strategy costs here, or why it cannot run, in one line for its card. */
export function timeLine(strategy: Strategy): string {
  const readiness = readinessOf(strategy);
  if (readiness === "blocked") return strategy.unavailable_reason ?? "Cannot run on this server.";
  if (readiness === "waits") return "Waits until a worker starts";
  const time = expectedTimeText(strategy.seconds_per_audio_second);
  const downloads = strategy.models.some((model) => model.status === "download");
  const first = downloads ? "; the first song also downloads the model" : "";
  return time ? `${capitalise(time)}${first}` : `Time shows after its first song here${first}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export interface Choice {
  key: string;
  title: string;
  strategy: Strategy;
  readiness: Readiness;
}

/** The choices this server has a strategy for, each with the one it would use. */
export function resolveChoices(strategies: readonly Strategy[]): Choice[] {
  const byName = new Map(strategies.map((strategy) => [strategy.name, strategy]));
  const choices: Choice[] = [];
  for (const spec of CHOICE_SPECS) {
    const found = spec.candidates.flatMap((name) => byName.get(name) ?? []);
    const strategy = found.find((s) => readinessOf(s) !== "blocked") ?? found[0];
    if (strategy) choices.push({ key: spec.key, title: spec.title, strategy, readiness: readinessOf(strategy) });
  }
  return choices;
}

/** What is picked before the musician picks: the server's default, unless it cannot run. */
export function initialStrategy(strategies: readonly Strategy[]): string {
  const runnable = strategies.filter((s) => readinessOf(s) !== "blocked");
  const fallback = resolveChoices(strategies).find((choice) => choice.readiness !== "blocked")?.strategy;
  return (runnable.find((s) => s.default) ?? fallback ?? runnable[0])?.name ?? "";
}

/** The chosen strategy in the words of its choice, or its own label when it has none. */
export function chosenTitle(strategies: readonly Strategy[], name: string): string | null {
  const choice = resolveChoices(strategies).find((c) => c.strategy.name === name);
  return choice?.title ?? strategies.find((s) => s.name === name)?.label ?? null;
}
