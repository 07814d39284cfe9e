// A session's User-Agent in a few plain words ("Firefox on Android"), enough to tell
// one's own devices apart; the full string stays one hover away.

// Order matters: Edge, Opera and Samsung also say "Chrome", and Chrome also says "Safari".
const BROWSERS: [pattern: RegExp, name: string][] = [
  [/\bEdg(e|A|iOS)?\//, "Edge"],
  [/\bOPR\//, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  // HeadlessChrome is the browser tests' chromium.
  [/(\b|Headless)Chrom(e|ium)\/|\bCriOS\//, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
];

const SYSTEMS: [pattern: RegExp, name: string][] = [
  [/\biPhone\b/, "iPhone"],
  [/\biPad\b/, "iPad"],
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "Mac"],
  [/\bLinux\b/, "Linux"],
];

// Programs rather than browsers: scripts and command-line tools name themselves first.
const PROGRAM = /^(curl|Wget|python-httpx|python-requests|Python-urllib|aiohttp|okhttp|Go-http-client|node-fetch|axios)\b/i;

export function describeUserAgent(userAgent: string | null | undefined): string {
  const ua = userAgent?.trim();
  if (!ua) return "Unknown device";
  const program = PROGRAM.exec(ua);
  if (program) return `A program (${program[1]})`;
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `A browser on ${system}`;
  // Something unusual: its first word (the product name) is the most telling part.
  return ua.split(/[\s/]/, 1)[0] || "Unknown device";
}
