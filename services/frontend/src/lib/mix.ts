// Fader and gain math, and the mute/solo rules, kept pure so Vitest can pin them down.

/** Fader travel at which the gain is unity (0 dB); the top of the fader is +6 dB. */
export const UNITY_POSITION = 0.8;
export const FADER_MAX_DB = 6;
/** Below this the fader is silent: the bottom of its travel is -∞ dB. */
export const FADER_FLOOR_DB = -60;

export interface StemMix {
  name: string;
  /** Fader position, 0 (silent) … 1 (+6 dB). */
  fader: number;
  muted: boolean;
  soloed: boolean;
}

export function dbToGain(db: number): number {
  return db === -Infinity ? 0 : Math.pow(10, db / 20);
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0));
}

/**
 * Fader position → decibels: linear in dB below unity (equal travel, equal
 * loudness step, as on a mixing desk) and a gentler +6 dB of boost above it.
 */
export function faderToDb(position: number): number {
  const p = clamp01(position);
  if (p === 0) return -Infinity;
  if (p <= UNITY_POSITION) return FADER_FLOOR_DB * (1 - p / UNITY_POSITION);
  return (FADER_MAX_DB * (p - UNITY_POSITION)) / (1 - UNITY_POSITION);
}

export function dbToFader(db: number): number {
  if (db <= FADER_FLOOR_DB) return 0;
  if (db <= 0) return UNITY_POSITION * (1 - db / FADER_FLOOR_DB);
  return clamp01(UNITY_POSITION + (db / FADER_MAX_DB) * (1 - UNITY_POSITION));
}

export function faderToGain(position: number): number {
  return dbToGain(faderToDb(position));
}

/** "−3.2 dB", "+6.0 dB", "−∞ dB": what a fader reads out. */
export function formatDb(db: number): string {
  if (db === -Infinity) return "−∞ dB";
  const rounded = Math.round(db * 10) / 10;
  const sign = rounded > 0 ? "+" : rounded < 0 ? "−" : "";
  return `${sign}${Math.abs(rounded).toFixed(1)} dB`;
}

/**
 * Whether a stem is heard. The desk rule: while any stem is soloed only soloed
 * stems play; mute always wins, so a muted stem stays silent even when soloed.
 */
export function isAudible(stem: StemMix, all: readonly StemMix[]): boolean {
  if (stem.muted) return false;
  const anySolo = all.some((other) => other.soloed);
  return anySolo ? stem.soloed : true;
}

/** The gain each stem's GainNode gets: fader × audibility. Master is applied separately. */
export function stemGains(stems: readonly StemMix[]): Map<string, number> {
  return new Map(
    stems.map((stem) => [stem.name, isAudible(stem, stems) ? faderToGain(stem.fader) : 0]),
  );
}

export function toggleMute(stems: readonly StemMix[], name: string): StemMix[] {
  return stems.map((s) => (s.name === name ? { ...s, muted: !s.muted } : s));
}

/** Solo adds to the soloed set (several stems can be soloed at once), like a desk. */
export function toggleSolo(stems: readonly StemMix[], name: string): StemMix[] {
  return stems.map((s) => (s.name === name ? { ...s, soloed: !s.soloed } : s));
}

export function setFader(stems: readonly StemMix[], name: string, fader: number): StemMix[] {
  return stems.map((s) => (s.name === name ? { ...s, fader: clamp01(fader) } : s));
}

export function initialMix(names: readonly string[]): StemMix[] {
  return names.map((name) => ({ name, fader: UNITY_POSITION, muted: false, soloed: false }));
}
