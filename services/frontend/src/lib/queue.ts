// A queued job's place in line in plain words: "3rd in line, starts in about 2 min".

/** 1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st, 22nd. */
export function ordinal(n: number): string {
  const lastTwo = n % 100;
  if (lastTwo >= 11 && lastTwo <= 13) return `${n}th`;
  const suffix = { 1: "st", 2: "nd", 3: "rd" }[n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** When a job should start, rounded as a person would say it. */
export function startText(seconds: number): string {
  if (seconds < 15) return "starts any moment";
  if (seconds < 60) return "starts in under a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `starts in about ${minutes} min`;
  return `starts in about ${Math.round(minutes / 60)} h`;
}

/** The line a queued job shows; null when its place is not known (then the stage says it). */
export function queueText(position: number | null, estimatedStartS: number | null): string | null {
  if (position === null || position < 1) return null;
  const place = position === 1 ? "Next in line" : `${ordinal(position)} in line`;
  return estimatedStartS === null ? place : `${place}, ${startText(estimatedStartS)}`;
}
