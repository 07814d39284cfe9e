// "5 minutes ago", "in 3 days": when something happened or will, as a person says it.
// Plain English to match the rest of the app, so the words are the same in every browser.

const UNITS: [name: string, seconds: number][] = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["week", 7 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

/** How far `iso` is from `now`, in the largest whole unit; the ISO text itself if unreadable. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = (at - now) / 1000;
  const distance = Math.abs(seconds);
  if (distance < 45) return seconds > 0 ? "in a moment" : "just now";
  // The largest unit there is one whole of (16 days is weeks, not "1 month"), then the
  // nearest count of it: a token made for 90 days expires "in 3 months" a second later.
  const [name, size] = UNITS.find(([, size]) => distance >= size) ?? ["minute", 60];
  const amount = Math.max(1, Math.round(distance / size));
  const words = `${amount} ${name}${amount === 1 ? "" : "s"}`;
  return seconds > 0 ? `in ${words}` : `${words} ago`;
}
