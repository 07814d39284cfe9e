// fetchRanged against a real HTTP server (node:http) that honours Range, and
// that can cut a connection off mid-body the way a flaky network does.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CHUNK_BYTES, fetchRanged, NETWORK_RETRIES, playbackFormat } from "./engine";

const FILE = new Uint8Array(CHUNK_BYTES * 2 + 12345);
for (let i = 0; i < FILE.length; i++) FILE[i] = (i * 7919) % 251;

function sameBytes(buffer: ArrayBuffer): boolean {
  return Buffer.from(buffer).equals(Buffer.from(FILE));
}

interface Behaviour {
  /** Requests (1-based) whose body is cut off halfway. */
  cutOff?: Set<number>;
  ignoreRange?: boolean;
  /** From this request (1-based) on, Range is ignored: the whole file comes back as a 200. */
  ignoreRangeFrom?: number;
  status?: number;
}

let server: Server | null = null;
const ranges: string[] = [];

async function serve(behaviour: Behaviour): Promise<string> {
  let requests = 0;
  server = createServer((request, response) => {
    requests += 1;
    if (behaviour.status) {
      response.writeHead(behaviour.status).end("{}");
      return;
    }
    const match = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? "");
    ranges.push(request.headers.range ?? "");
    const ignoring = behaviour.ignoreRange || requests >= (behaviour.ignoreRangeFrom ?? Infinity);
    if (!match || ignoring) {
      response.writeHead(200, { "Content-Length": FILE.length }).end(Buffer.from(FILE));
      return;
    }
    const start = Number(match[1]);
    const end = Math.min(Number(match[2]), FILE.length - 1);
    const body = Buffer.from(FILE.subarray(start, end + 1));
    response.writeHead(206, {
      "Content-Range": `bytes ${start}-${end}/${FILE.length}`,
      "Content-Length": body.length,
    });
    if (behaviour.cutOff?.has(requests)) {
      response.write(body.subarray(0, body.length >> 1), () => response.destroy());
    } else {
      response.end(body);
    }
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/stem.flac`;
}

afterEach(async () => {
  ranges.length = 0;
  const running = server;
  server = null;
  if (!running) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

describe("fetchRanged", () => {
  it("fetches the file in Range pieces, reporting progress up to 1", async () => {
    const url = await serve({});
    const seen: number[] = [];
    expect(sameBytes(await fetchRanged(url, (f) => seen.push(f), new AbortController().signal))).toBe(true);
    expect(ranges).toEqual([
      `bytes=0-${CHUNK_BYTES - 1}`,
      `bytes=${CHUNK_BYTES}-${2 * CHUNK_BYTES - 1}`,
      `bytes=${2 * CHUNK_BYTES}-${3 * CHUNK_BYTES - 1}`,
    ]);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(1);
  });

  it("resumes after the last byte received when a connection is cut off", async () => {
    const url = await serve({ cutOff: new Set([1, 3]) });
    expect(sameBytes(await fetchRanged(url, () => {}, new AbortController().signal))).toBe(true);
    // The retry after the first cut starts half a piece in, where the bytes stopped.
    expect(ranges[1]).toMatch(/^bytes=(\d+)-/);
    const resumedAt = Number(/^bytes=(\d+)-/.exec(ranges[1]!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThan(CHUNK_BYTES);
  });

  it("gives up after repeated failures in a row", async () => {
    const url = await serve({ cutOff: new Set(Array.from({ length: 20 }, (_, i) => i + 1)) });
    await expect(fetchRanged(url, () => {}, new AbortController().signal)).rejects.toThrow(TypeError);
    expect(ranges.length).toBe(NETWORK_RETRIES + 1);
  });

  it("takes a whole answer from a server that ignores Range", async () => {
    const url = await serve({ ignoreRange: true });
    expect(sameBytes(await fetchRanged(url, () => {}, new AbortController().signal))).toBe(true);
    expect(ranges.length).toBe(1);
  });

  it("starts over when a server stops honouring Range after the first piece", async () => {
    const url = await serve({ ignoreRangeFrom: 2 });
    expect(sameBytes(await fetchRanged(url, () => {}, new AbortController().signal))).toBe(true);
    expect(ranges.length).toBe(2);
  });

  it("says which HTTP status refused the stem", async () => {
    const url = await serve({ status: 404 });
    await expect(fetchRanged(url, () => {}, new AbortController().signal)).rejects.toThrow(
      "The stem could not be loaded (HTTP 404).",
    );
  });
});

describe("playback format", () => {
  it("prefers lossless formats, whose decoders add no padding", () => {
    expect(playbackFormat(["mp3", "flac", "wav"])).toBe("flac");
    expect(playbackFormat(["mp3", "wav24"])).toBe("wav24");
    expect(playbackFormat(["wav", "wav24"])).toBe("wav24");
    expect(playbackFormat(["opus", "mp3"])).toBe("opus");
    expect(playbackFormat([])).toBeUndefined();
  });
});
