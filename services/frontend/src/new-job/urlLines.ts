// The link field takes one song per line: one line is a job, several are a batch.

/** The server's STEMDECK_BATCH_MAX_ITEMS default; it refuses more on its own too. */
export const MAX_LINKS = 20;

export type LinkPlan =
  | { kind: "empty" }
  | { kind: "one"; url: string }
  | { kind: "many"; urls: string[] }
  | { kind: "refused"; message: string };

/** The field's non-blank lines, trimmed. */
export function linkLines(text: string): string[] {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

function isWebLink(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

/** What the field asks for, or why it cannot be sent, in words that say what to do. */
export function planLinks(text: string, max: number = MAX_LINKS): LinkPlan {
  const lines = linkLines(text);
  if (lines.length === 0) return { kind: "empty" };
  if (lines.length > max) {
    const extra = lines.length - max;
    const message = `That is ${lines.length} links; at most ${max} go at once. Remove ${extra}, or send the rest afterwards.`;
    return { kind: "refused", message };
  }
  const bad = lines.findIndex((line) => !isWebLink(line));
  if (bad >= 0) {
    const where = lines.length === 1 ? "This" : `Line ${bad + 1}`;
    return {
      kind: "refused",
      message: `${where} is not a web link: “${lines[bad]}”. Put one link per line, each starting with https://.`,
    };
  }
  return lines.length === 1 ? { kind: "one", url: lines[0]! } : { kind: "many", urls: lines };
}

/** "1 song", "3 songs". */
export function songCount(count: number): string {
  return `${count} song${count === 1 ? "" : "s"}`;
}
