// The results cache (Cortex's resultsCache as Thanos runs it): per key (query, step, split window, …)
// a list of extents, each the answer for [start, end]. A request takes what the extents cover, asks
// downstream only for the gaps, merges everything, and writes back the extents merged where they
// touch. Answers for times inside the freshness window (now - max-freshness) are not kept: extents
// are cut at that time, and a request starting inside it skips the cache altogether.
import type { ApiResponse } from './response.ts';
import type { InstrumentedCache } from './cache.ts';
import type { SplitRequest } from './request.ts';

export interface Extent {
  start: number;
  end: number;
  response: ApiResponse;
}

export interface ResultsCacheOps<R extends SplitRequest, A extends ApiResponse> {
  key(r: R): string;
  /** Answers of pieces of one request merged into one. */
  merge(r: R, answers: readonly A[]): A;
  /** The part of an answer within [start, end]; with step > 0 only the points a whole number of steps after start. */
  extract(a: A, start: number, end: number, step?: number): A;
  /**
   * Keys of cached answers for the same request at a finer step, whose points include this
   * request's (Thanos's GenerateCacheKeyAlternatives); tried when the request's own key misses.
   */
  alternativeKeys?(r: R): string[];
  /** Whether a request may use the cache at all (Thanos's shouldCache). */
  shouldCache(r: R): boolean;
  /** Whether an answer may be written back (Cortex's shouldCacheResponse; maxCacheTime in ms). */
  shouldCacheAnswer(r: R, a: A, maxCacheTime: number): boolean;
  /** A request's step (range queries) or 0, for extent adjacency and freshness rounding. */
  step(r: R): number;
}

/** Extents shorter than this are not used for a longer request (Cortex's minCacheExtent: too many pieces). */
const MIN_CACHE_EXTENT_MS = 5 * 60_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

export class ResultsCache<R extends SplitRequest, A extends ApiResponse> {
  constructor(
    private readonly cache: InstrumentedCache,
    private readonly ops: ResultsCacheOps<R, A>,
    private readonly maxFreshnessMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async do(r: R, next: (r: R) => Promise<A>): Promise<A> {
    if (!this.ops.shouldCache(r)) return next(r);
    const maxCacheTime = this.now() - this.maxFreshnessMs;
    if (r.start > maxCacheTime) return next(r);
    const key = this.ops.key(r);
    const alternatives = (this.ops.alternativeKeys?.(r) ?? []).filter((k) => k !== key);
    const found = await this.getFirst([key, ...alternatives]);
    let answer: A;
    let extents: Extent[];
    if (found?.key === key) [answer, extents] = await this.handleHit(r, found.extents, maxCacheTime, next, 0);
    else if (found) {
      // A finer-step answer: use the points on this request's steps; its own key is not written
      // from it (the next miss-and-fill writes it), as Cortex does.
      [answer] = await this.handleHit(r, found.extents, maxCacheTime, next, this.ops.step(r));
      extents = [];
    } else [answer, extents] = await this.handleMiss(r, maxCacheTime, next);
    if (extents.length > 0) this.put(key, this.filterRecent(r, extents));
    return answer;
  }

  private async handleMiss(r: R, maxCacheTime: number, next: (r: R) => Promise<A>): Promise<[A, Extent[]]> {
    const a = await next(r);
    if (!this.ops.shouldCacheAnswer(r, a, maxCacheTime)) return [a, []];
    return [a, [{ start: r.start, end: r.end, response: a }]];
  }

  private partition(r: R, extents: readonly Extent[], atStep: number): { requests: R[]; cached: A[] } {
    const requests: R[] = [];
    const cached: A[] = [];
    let start = r.start;
    for (const e of extents) {
      if (e.end < start || e.start > r.end) continue;
      // A long request does not stitch together tiny extents (each would cost a merge).
      if (r.start !== r.end && r.end - r.start > MIN_CACHE_EXTENT_MS && e.end - e.start < MIN_CACHE_EXTENT_MS) continue;
      if (start < e.start) requests.push({ ...r, start, end: e.start });
      cached.push(this.ops.extract(e.response as A, start, r.end, atStep));
      start = e.end;
    }
    if (start < r.end) requests.push({ ...r, start, end: r.end });
    if (r.start === r.end && cached.length === 0) requests.push(r);
    return { requests, cached };
  }

  private async handleHit(r: R, extents: Extent[], maxCacheTime: number, next: (r: R) => Promise<A>, atStep: number): Promise<[A, Extent[]]> {
    const { requests, cached } = this.partition(r, extents, atStep);
    if (requests.length === 0) return [this.ops.merge(r, cached), []];
    const answers = await Promise.all(requests.map((q) => next(q)));
    const all = [...extents];
    answers.forEach((a, i) => {
      if (this.ops.shouldCacheAnswer(r, a, maxCacheTime)) all.push({ start: requests[i]!.start, end: requests[i]!.end, response: a });
    });
    all.sort((a, b) => a.start - b.start || b.end - a.end);
    const step = this.ops.step(r);
    const merged: Extent[] = [];
    let acc = { ...all[0]! };
    for (const e of all.slice(1)) {
      if (acc.end + step < e.start) {
        merged.push(acc);
        acc = { ...e };
        continue;
      }
      if (acc.end >= e.end) continue;
      acc.response = this.ops.merge(r, [acc.response as A, e.response as A]);
      acc.end = e.end;
    }
    merged.push(acc);
    return [this.ops.merge(r, [...cached, ...answers]), merged];
  }

  /** Extents cut at the freshness limit (rounded down to the step), so recent data is asked for again. */
  private filterRecent(r: R, extents: Extent[]): Extent[] {
    const step = this.ops.step(r);
    const limit = this.now() - this.maxFreshnessMs;
    const maxCacheTime = step > 0 ? Math.floor(limit / step) * step : limit;
    return extents.map((e) => (e.end > maxCacheTime ? { start: e.start, end: maxCacheTime, response: this.ops.extract(e.response as A, e.start, maxCacheTime) } : e));
  }

  private async getFirst(keys: string[]): Promise<{ key: string; extents: Extent[] } | undefined> {
    const got = await this.cache.getFirst(keys);
    if (!got) return undefined;
    try {
      const v = JSON.parse(dec.decode(got.value)) as { key?: string; extents?: Extent[] };
      // The stored key guards against hash collisions (Cortex compares it too).
      if (v.key !== got.key || !Array.isArray(v.extents)) return undefined;
      return { key: got.key, extents: v.extents };
    } catch {
      return undefined;
    }
  }

  private put(key: string, extents: Extent[]): void {
    const valid = extents.filter((e) => e.end >= e.start);
    if (valid.length === 0) return;
    this.cache.put(key, enc.encode(JSON.stringify({ key, extents: valid })));
  }
}
