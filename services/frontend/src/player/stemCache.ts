// Stems kept in the browser's Cache Storage, so a second visit to a song downloads none of
// them again. The HTTP cache cannot do it: every job read signs fresh links, and the
// browser keys its cache on the link. Here a stem is keyed on what never changes (job,
// stem, format), and the cache is bounded: least recently used first once it passes
// MAX_BYTES, anything unused for MAX_AGE_MS, and a job's entries when it is deleted.
// Every failure here (no Cache Storage off a secure context or in private mode, a full
// quota) only means the network is used: playback never depends on the cache.

export const STEM_CACHE_NAME = "stemdeck-stems-v1";
/** About ten songs of four lossless stems; well under any browser's quota for a site. */
export const MAX_BYTES = 1024 ** 3;
export const MAX_AGE_MS = 30 * 24 * 3600 * 1000;
// The entries' sizes and last uses live beside them, in the same cache, so both go together
// when the browser or the user clears the site's data.
const INDEX_KEY = "/api/__stemdeck/stem-cache-index.json";
const BYTES_HEADER = "X-Stemdeck-Bytes";

/** One stem file as the player asks for it. */
export interface StemFile {
  jobId: string;
  name: string;
  format: string;
  /** Its size as the job says, when known: a cached copy of another size is not used. */
  size?: number;
}

interface IndexEntry {
  job: string;
  bytes: number;
  used: number;
}
type Index = Record<string, IndexEntry>;

export interface StemCacheLimits {
  maxBytes: number;
  maxAgeMs: number;
}

/** The stable key: the stem's unsigned API path, never its signed, expiring link. */
export function stemCacheKey(file: Pick<StemFile, "jobId" | "name" | "format">): string {
  return `/api/jobs/${encodeURIComponent(file.jobId)}/stems/${encodeURIComponent(file.name)}.${file.format}`;
}

// One tab's index changes run one after another, so parallel stem loads lose no update.
let queue: Promise<unknown> = Promise.resolve();
function serially<T>(work: () => Promise<T>): Promise<T> {
  const next = queue.then(work, work);
  queue = next.catch(() => undefined);
  return next;
}

function isQuotaError(error: unknown): boolean {
  return error instanceof DOMException && (error.name === "QuotaExceededError" || error.code === 22);
}

async function boundBy(estimate: () => Promise<StorageEstimate> | undefined): Promise<number> {
  try {
    const quota = (await estimate())?.quota;
    return quota ? Math.min(MAX_BYTES, quota / 2) : MAX_BYTES;
  } catch {
    return MAX_BYTES;
  }
}

function totalBytes(index: Index): number {
  return Object.values(index).reduce((sum, entry) => sum + entry.bytes, 0);
}

export class StemCache {
  constructor(
    private readonly cache: Cache,
    private readonly limits: StemCacheLimits = { maxBytes: MAX_BYTES, maxAgeMs: MAX_AGE_MS },
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The cache, or null where the browser offers none (plain http, private mode). Without
   * `limits`, it keeps at most MAX_BYTES or half the site's quota, whichever is less: a
   * private window's small quota is then met by evicting the least used, not by failures.
   */
  static async open(
    storage: CacheStorage | undefined = globalThis.caches,
    limits?: StemCacheLimits,
    estimate: () => Promise<StorageEstimate> | undefined = () => globalThis.navigator?.storage?.estimate?.(),
  ) {
    if (!storage) return null;
    try {
      const cache = await storage.open(STEM_CACHE_NAME);
      return new StemCache(cache, limits ?? { maxBytes: await boundBy(estimate), maxAgeMs: MAX_AGE_MS });
    } catch {
      return null;
    }
  }

  /** The stem's bytes, or undefined when it is not kept (or kept at another size). */
  async read(file: StemFile): Promise<ArrayBuffer | undefined> {
    const key = stemCacheKey(file);
    const response = await this.cache.match(key);
    if (!response) return undefined;
    const bytes = await response.arrayBuffer();
    if (file.size !== undefined && bytes.byteLength !== file.size) {
      await this.cache.delete(key);
      return undefined;
    }
    void serially(async () => {
      const index = await this.index();
      index[key] = { job: file.jobId, bytes: bytes.byteLength, used: this.now() };
      await this.saveIndex(index);
    }).catch(() => undefined);
    return bytes;
  }

  /**
   * Keeps a stem, then trims the cache to its bounds. Takes a Blob so the caller can hand
   * its ArrayBuffer to decodeAudioData (which detaches it) while this still runs.
   */
  async write(file: StemFile, blob: Blob): Promise<void> {
    const key = stemCacheKey(file);
    if (blob.size > this.limits.maxBytes) return;
    await serially(async () => {
      const put = () =>
        this.cache.put(key, new Response(blob, { headers: { [BYTES_HEADER]: String(blob.size) } }));
      try {
        await put();
      } catch (error) {
        if (!isQuotaError(error)) throw error;
        // The browser's room ran out before our bound: free half of what is kept, least
        // used first, and try once more.
        const index = await this.reconciled();
        await this.trim(index, totalBytes(index) / 2, key);
        await put();
      }
      const index = await this.reconciled();
      index[key] = { job: file.jobId, bytes: blob.size, used: this.now() };
      await this.trim(index, this.limits.maxBytes, key);
    });
  }

  /** Drops every stem of a job (deleted, or found gone). */
  async forgetJob(jobId: string): Promise<void> {
    await serially(async () => {
      const index = await this.reconciled();
      const prefix = `/api/jobs/${encodeURIComponent(jobId)}/`;
      for (const [key, entry] of Object.entries(index)) {
        if (entry.job === jobId || key.startsWith(prefix)) {
          await this.cache.delete(key);
          delete index[key];
        }
      }
      await this.saveIndex(index);
    });
  }

  /** Drops whatever has gone unused too long or past the byte bound. */
  async prune(): Promise<void> {
    await serially(async () => this.trim(await this.reconciled(), this.limits.maxBytes));
  }

  /** What is kept: for the tests and the browser console. */
  async usage(): Promise<{ entries: number; bytes: number }> {
    const index = await this.index();
    return { entries: Object.keys(index).length, bytes: totalBytes(index) };
  }

  private async index(): Promise<Index> {
    try {
      return ((await (await this.cache.match(INDEX_KEY))?.json()) as Index | undefined) ?? {};
    } catch {
      return {}; // an unreadable index is rebuilt from the entries themselves
    }
  }

  private async saveIndex(index: Index): Promise<void> {
    const headers = { "Content-Type": "application/json" };
    await this.cache.put(INDEX_KEY, new Response(JSON.stringify(index), { headers }));
  }

  /**
   * The index made true to the cache: entries another tab or an older index left out are
   * adopted as the least recently used, and records of vanished entries are dropped.
   */
  private async reconciled(): Promise<Index> {
    const index = await this.index();
    const present = new Set<string>();
    for (const request of await this.cache.keys()) {
      const key = new URL(request.url, "http://x").pathname;
      if (key === INDEX_KEY) continue;
      present.add(key);
      if (index[key]) continue;
      const response = await this.cache.match(key);
      const bytes = Number(response?.headers.get(BYTES_HEADER) ?? Number.NaN);
      const job = /^\/api\/jobs\/([^/]+)\//.exec(key)?.[1] ?? "";
      index[key] = { job: decodeURIComponent(job), bytes: Number.isFinite(bytes) ? bytes : 0, used: 0 };
    }
    for (const key of Object.keys(index)) if (!present.has(key)) delete index[key];
    return index;
  }

  /** Least recently used out until under maxBytes, and the stale out; `keep` stays. */
  private async trim(index: Index, maxBytes: number, keep?: string): Promise<void> {
    const oldest = this.now() - this.limits.maxAgeMs;
    let total = totalBytes(index);
    const byUse = Object.entries(index).sort(([, a], [, b]) => a.used - b.used);
    for (const [key, entry] of byUse) {
      if (key === keep) continue;
      if (total <= maxBytes && entry.used >= oldest) continue;
      await this.cache.delete(key);
      delete index[key];
      total -= entry.bytes;
    }
    await this.saveIndex(index);
  }
}

type FetchAudio = (url: string, onProgress: (fraction: number) => void, signal: AbortSignal) => Promise<ArrayBuffer>;

/**
 * `fetchAudio` with the cache in front: a kept stem comes from it with no request; any
 * other comes from the network as before (ranged, with progress) and is then kept.
 */
export function cachedFetchAudio(fetchAudio: FetchAudio, opened: Promise<StemCache | null>) {
  return async (
    url: string,
    onProgress: (fraction: number) => void,
    signal: AbortSignal,
    file: StemFile,
  ): Promise<ArrayBuffer> => {
    const cache = await opened;
    const kept = await cache?.read(file).catch(() => undefined);
    if (signal.aborted) throw new DOMException("Aborted", "AbortError");
    if (kept) {
      onProgress(1);
      return kept;
    }
    const bytes = await fetchAudio(url, onProgress, signal);
    // Copied now: the caller's decoding detaches `bytes` before the write is done.
    if (cache) void cache.write(file, new Blob([bytes])).catch(() => undefined);
    return bytes;
  };
}

/** Drops a deleted job's stems from this browser; a no-op where there is no cache. */
export async function forgetJobStems(
  jobId: string,
  storage: CacheStorage | undefined = globalThis.caches,
): Promise<void> {
  await (await StemCache.open(storage))?.forgetJob(jobId).catch(() => undefined);
}

/** Drops every kept stem, for signing out on a shared computer. */
export async function clearStemCache(storage: CacheStorage | undefined = globalThis.caches): Promise<void> {
  try {
    await storage?.delete(STEM_CACHE_NAME);
  } catch {
    // nothing kept, or nothing to keep it in
  }
}
