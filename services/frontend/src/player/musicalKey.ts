// The song's key after a pitch shift, spelled as musicians write it (B♭ major, not A♯ major).
import type { components } from "../api/schema";

export type SongKey = components["schemas"]["KeyPublic"];

const SHARPS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
/** Each pitch class's usual name as a major and as a minor key's tonic. */
const MAJOR_NAMES = ["C", "D♭", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];
const MINOR_NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "G♯", "A", "B♭", "B"];

/** "B minor" for A minor shifted +2; null for a tonic the API would never send. */
export function shiftedKeyName(key: Pick<SongKey, "tonic" | "mode">, semitones: number): string | null {
  const from = SHARPS.indexOf(key.tonic);
  if (from < 0) return null;
  const to = (((from + Math.round(semitones)) % 12) + 12) % 12;
  const names = key.mode === "major" ? MAJOR_NAMES : MINOR_NAMES;
  return `${names[to]} ${key.mode}`;
}
