import { describe, expect, it } from "vitest";
import {
  cachedFetchAudio,
  clearStemCache,
  forgetJobStems,
  STEM_CACHE_NAME,
  StemCache,
  stemCacheKey,
  type StemFile,
} from "./stemCache";

const BASE = "https://stemdeck.test";
const absolute = (key: RequestInfo | URL) => new URL(key instanceof Request ? key.url : String(key), BASE).href;

/** Cache Storage in memory: the few calls StemCache makes, with an optional byte quota. */
class FakeCache {
  readonly entries = new Map<string, { body: ArrayBuffer; headers: Headers }>();
  constructor(private readonly quota = Number.POSITIVE_INFINITY) {}

  async match(key: RequestInfo | URL): Promise<Response | undefined> {
    const entry = this.entries.get(absolute(key));
    return entry && new Response(entry.body.slice(0), { headers: entry.headers });
  }
  async put(key: RequestInfo | URL, response: Response): Promise<void> {
    const body = await response.arrayBuffer();
    const others = [...this.entries].filter(([url]) => url !== absolute(key));
    const used = others.reduce((sum, [, entry]) => sum + entry.body.byteLength, 0);
    if (used + body.byteLength > this.quota) throw new DOMException("Quota exceeded", "QuotaExceededError");
    this.entries.set(absolute(key), { body, headers: response.headers });
  }
  async delete(key: RequestInfo | URL): Promise<boolean> {
    return this.entries.delete(absolute(key));
  }
  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((url) => new Request(url));
  }
  stems(): string[] {
    return [...this.entries.keys()].map((url) => new URL(url).pathname).filter((path) => path.includes("/stems/")).sort();
  }
}

class FakeStorage {
  readonly caches = new Map<string, FakeCache>();
  constructor(private readonly quota?: number) {}
  async open(name: string): Promise<FakeCache> {
    const cache = this.caches.get(name) ?? new FakeCache(this.quota);
    this.caches.set(name, cache);
    return cache;
  }
  async delete(name: string): Promise<boolean> {
    return this.caches.delete(name);
  }
  asStorage(): CacheStorage {
    return this as unknown as CacheStorage;
  }
}

const file = (jobId: string, name: string, size?: number): StemFile => ({ jobId, name, format: "flac", size });
const bytes = (size: number, fill = 1) => new Uint8Array(size).fill(fill).buffer;
const blob = (size: number, fill = 1) => new Blob([bytes(size, fill)]);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function cacheWith(limits = { maxBytes: 1000, maxAgeMs: 10_000 }, quota?: number) {
  const storage = new FakeStorage(quota);
  let now = 1_000_000;
  const open = async () => new StemCache(await storage.open(STEM_CACHE_NAME).then((c) => c as unknown as Cache), limits, () => now);
  return { storage, open, tick: (ms: number) => (now += ms), raw: () => storage.caches.get(STEM_CACHE_NAME) as FakeCache };
}

/** A network that counts its requests; each answer is `size` bytes. */
function network(size = 100) {
  const requested: string[] = [];
  const fetchAudio = async (url: string, onProgress: (fraction: number) => void) => {
    requested.push(url);
    onProgress(1);
    return bytes(size, 7);
  };
  return { requested, fetchAudio };
}

describe("the stem cache", () => {
  it("keys a stem on its job, name and format, never on the signed link", () => {
    expect(stemCacheKey(file("j 1", "lead vocals"))).toBe("/api/jobs/j%201/stems/lead%20vocals.flac");
  });

  it("serves a second visit from the cache, with no request, under a fresh signed link", async () => {
    const { open } = cacheWith();
    const net = network(100);
    const first = cachedFetchAudio(net.fetchAudio, open());
    const got = await first("/files/signed-1", () => undefined, new AbortController().signal, file("a", "vocals", 100));
    expect(got.byteLength).toBe(100);
    await settle();

    const progress: number[] = [];
    const second = cachedFetchAudio(net.fetchAudio, open());
    const again = await second("/files/signed-2", (f) => progress.push(f), new AbortController().signal, file("a", "vocals", 100));
    expect(net.requested).toEqual(["/files/signed-1"]);
    expect(new Uint8Array(again)).toEqual(new Uint8Array(bytes(100, 7)));
    expect(progress).toEqual([1]);
  });

  it("keeps its own copy, so decoding (which detaches the bytes) cannot empty it", async () => {
    const { open } = cacheWith();
    const net = network(100);
    const load = cachedFetchAudio(net.fetchAudio, open());
    const got = await load("/files/s", () => undefined, new AbortController().signal, file("a", "drums"));
    structuredClone(got, { transfer: [got] }); // detaches, as decodeAudioData does
    await settle();
    expect((await (await open()).read(file("a", "drums")))?.byteLength).toBe(100);
  });

  it("refetches a kept copy whose size differs from the job's", async () => {
    const { open, raw } = cacheWith();
    const cache = await open();
    await cache.write(file("a", "bass"), blob(50));
    expect(await cache.read(file("a", "bass", 60))).toBeUndefined();
    expect(raw().stems()).toEqual([]);
  });

  it("falls back to the network where Cache Storage is missing or refuses to open", async () => {
    expect(await StemCache.open(undefined)).toBeNull();
    const refusing = { open: () => Promise.reject(new DOMException("insecure", "SecurityError")) };
    expect(await StemCache.open(refusing as unknown as CacheStorage)).toBeNull();
    const net = network(10);
    const load = cachedFetchAudio(net.fetchAudio, StemCache.open(undefined));
    expect((await load("/files/s", () => undefined, new AbortController().signal, file("a", "vocals"))).byteLength).toBe(10);
    expect(net.requested).toEqual(["/files/s"]);
  });

  it("plays on when the browser's quota is full", async () => {
    const { open, raw } = cacheWith({ maxBytes: 10_000, maxAgeMs: 10_000 }, 150);
    const net = network(200); // bigger than the whole quota
    const load = cachedFetchAudio(net.fetchAudio, open());
    const got = await load("/files/s", () => undefined, new AbortController().signal, file("a", "vocals"));
    expect(got.byteLength).toBe(200);
    await settle();
    expect(raw().stems()).toEqual([]);
  });

  it("makes room from the least used when the quota runs out before its own bound", async () => {
    const { open, raw, tick } = cacheWith({ maxBytes: 10_000, maxAgeMs: 1e9 }, 2500);
    const cache = await open();
    await cache.write(file("old", "vocals"), blob(1000));
    tick(10);
    await cache.write(file("new", "vocals"), blob(1000));
    tick(10);
    await cache.write(file("now", "vocals"), blob(1000));
    expect(raw().stems()).toEqual(["/api/jobs/new/stems/vocals.flac", "/api/jobs/now/stems/vocals.flac"]);
  });

  it("bounds itself by half the site's quota where that is less than its own bound", async () => {
    const storage = new FakeStorage();
    const cache = await StemCache.open(storage.asStorage(), undefined, async () => ({ quota: 400, usage: 0 }));
    await cache?.write(file("a", "vocals"), blob(150));
    await cache?.write(file("b", "vocals"), blob(150));
    expect((storage.caches.get(STEM_CACHE_NAME) as FakeCache).stems()).toEqual(["/api/jobs/b/stems/vocals.flac"]);
    const unknown = await StemCache.open(storage.asStorage(), undefined, () => Promise.reject(new Error("no")));
    await unknown?.write(file("c", "vocals"), blob(300));
    expect(await unknown?.usage()).toEqual({ entries: 2, bytes: 450 });
  });

  it("stays within its byte bound, dropping the least recently used first", async () => {
    const { open, raw, tick } = cacheWith({ maxBytes: 300, maxAgeMs: 1e9 });
    const cache = await open();
    await cache.write(file("a", "vocals"), blob(100));
    tick(10);
    await cache.write(file("b", "vocals"), blob(100));
    tick(10);
    await cache.write(file("c", "vocals"), blob(100));
    tick(10);
    await cache.read(file("a", "vocals")); // a is now the most recently used
    await settle();
    tick(10);
    await cache.write(file("d", "vocals"), blob(100));
    expect(raw().stems()).toEqual(["/api/jobs/a/stems/vocals.flac", "/api/jobs/c/stems/vocals.flac", "/api/jobs/d/stems/vocals.flac"]);
    expect(await cache.usage()).toEqual({ entries: 3, bytes: 300 });
  });

  it("never keeps a stem bigger than the whole bound", async () => {
    const { open, raw } = cacheWith({ maxBytes: 300, maxAgeMs: 1e9 });
    await (await open()).write(file("a", "vocals"), blob(301));
    expect(raw().stems()).toEqual([]);
  });

  it("drops what has gone unused past its age", async () => {
    const { open, raw, tick } = cacheWith({ maxBytes: 1e9, maxAgeMs: 1000 });
    const cache = await open();
    await cache.write(file("a", "vocals"), blob(10));
    tick(600);
    await cache.write(file("b", "vocals"), blob(10));
    tick(600);
    await cache.prune();
    expect(raw().stems()).toEqual(["/api/jobs/b/stems/vocals.flac"]);
  });

  it("forgets every stem of a deleted job and only those", async () => {
    const { storage, open, raw } = cacheWith();
    const cache = await open();
    await cache.write(file("gone", "vocals"), blob(10));
    await cache.write(file("gone", "drums"), blob(10));
    await cache.write(file("kept", "vocals"), blob(10));
    await forgetJobStems("gone", storage.asStorage());
    expect(raw().stems()).toEqual(["/api/jobs/kept/stems/vocals.flac"]);
    expect(await cache.usage()).toEqual({ entries: 1, bytes: 10 });
  });

  it("adopts entries its index lost, and counts them against the bound", async () => {
    const { open, raw, tick } = cacheWith({ maxBytes: 250, maxAgeMs: 1e9 });
    const cache = await open();
    await cache.write(file("a", "vocals"), blob(100));
    raw().entries.delete(`${BASE}/api/__stemdeck/stem-cache-index.json`);
    tick(10);
    await cache.write(file("b", "vocals"), blob(100));
    tick(10);
    await cache.write(file("c", "vocals"), blob(100));
    expect(raw().stems()).toEqual(["/api/jobs/b/stems/vocals.flac", "/api/jobs/c/stems/vocals.flac"]);
  });

  it("keeps every update when stems arrive at once", async () => {
    const { open } = cacheWith({ maxBytes: 1e9, maxAgeMs: 1e9 });
    const cache = await open();
    await Promise.all(["vocals", "drums", "bass", "other"].map((name) => cache.write(file("a", name), blob(10))));
    expect(await cache.usage()).toEqual({ entries: 4, bytes: 40 });
  });

  it("clears everything on request (signing out)", async () => {
    const { storage, open, raw } = cacheWith();
    await (await open()).write(file("a", "vocals"), blob(10));
    expect(raw().stems()).toHaveLength(1);
    await clearStemCache(storage.asStorage());
    expect(storage.caches.has(STEM_CACHE_NAME)).toBe(false);
    await clearStemCache(undefined);
  });
});
