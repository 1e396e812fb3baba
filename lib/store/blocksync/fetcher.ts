// The meta fetcher: lists <ULID>/ directories in a bucket, reads each meta.json (cached: blocks are
// immutable), and runs filters (time partition, relabel sharding, deletion marks, consistency delay,
// source deduplication). The store gateway syncs with it; the compactor can reuse it.
import type { Bucket } from '../../objstore/bucket.ts';
import { readAll } from '../../objstore/bucket.ts';
import { type BlockMeta, type DeletionMark, isULID, parseBlockMeta, parseDeletionMark, ulidTime } from './meta.ts';
import { type RelabelConfig, relabel } from './relabel.ts';

export interface FetchLogger {
  warn(msg: string, kv?: Record<string, unknown>): void;
  debug?(msg: string, kv?: Record<string, unknown>): void;
}

export interface FilterContext {
  bucket: Bucket;
  concurrency: number;
  now: number;
  /** Removes a block from the result and records why. */
  drop(id: string, reason: string): void;
}

export interface MetaFilter {
  readonly name: string;
  filter(metas: Map<string, BlockMeta>, ctx: FilterContext): Promise<void>;
}

export interface FetchResult {
  /** Blocks that passed every filter. */
  metas: Map<string, BlockMeta>;
  /** Directories without meta.json (partial uploads or blocks being deleted). */
  partial: Set<string>;
  /** Blocks whose meta.json could not be read or parsed, with the error. */
  corrupted: Map<string, string>;
  /** Block id → the filter that dropped it. */
  filtered: Map<string, string>;
  /** Deletion marks seen by a DeletionMarkFilter. */
  deletionMarks: Map<string, DeletionMark>;
  fetchedAt: number;
}

/** Runs fn over items with at most `limit` in flight, preserving nothing but completion. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  });
  await Promise.all(workers);
}

export interface MetaFetcherOptions {
  concurrency?: number;
  filters?: MetaFilter[];
  log?: FetchLogger;
  now?: () => number;
}

export class MetaFetcher {
  private readonly cache = new Map<string, BlockMeta>();
  readonly concurrency: number;
  readonly filters: MetaFilter[];
  private readonly log?: FetchLogger;
  private readonly now: () => number;

  constructor(private readonly bucket: Bucket, opts: MetaFetcherOptions = {}) {
    this.concurrency = opts.concurrency ?? 32;
    this.filters = opts.filters ?? [];
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
  }

  async fetch(): Promise<FetchResult> {
    const ids: string[] = [];
    for await (const name of this.bucket.iter('')) {
      if (!name.endsWith('/')) continue;
      const id = name.slice(0, -1);
      if (isULID(id)) ids.push(id);
    }
    const metas = new Map<string, BlockMeta>();
    const partial = new Set<string>();
    const corrupted = new Map<string, string>();
    await forEachLimit(ids, this.concurrency, async (id) => {
      const cached = this.cache.get(id);
      if (cached) {
        metas.set(id, cached);
        return;
      }
      let bytes: Uint8Array;
      try {
        bytes = await readAll(await this.bucket.get(`${id}/meta.json`));
      } catch (e) {
        if (this.bucket.isObjNotFoundErr(e)) partial.add(id);
        else corrupted.set(id, `read meta.json: ${(e as Error).message}`);
        return;
      }
      try {
        const m = parseBlockMeta(bytes, id);
        this.cache.set(id, m);
        metas.set(id, m);
      } catch (e) {
        corrupted.set(id, (e as Error).message);
      }
    });
    // Forget cached metas of blocks that disappeared from the bucket.
    const present = new Set(ids);
    for (const id of this.cache.keys()) if (!present.has(id)) this.cache.delete(id);
    for (const [id, err] of corrupted) this.log?.warn('failed to read block meta', { block: id, err });

    const filtered = new Map<string, string>();
    const deletionMarks = new Map<string, DeletionMark>();
    const now = this.now();
    for (const f of this.filters) {
      const ctx: FilterContext = {
        bucket: this.bucket,
        concurrency: this.concurrency,
        now,
        drop: (id, reason) => {
          if (metas.delete(id)) filtered.set(id, reason);
        },
      };
      await f.filter(metas, ctx);
      if (f instanceof DeletionMarkFilter) for (const [k, v] of f.marks) deletionMarks.set(k, v);
    }
    return { metas, partial, corrupted, filtered, deletionMarks, fetchedAt: now };
  }
}

/** Keeps blocks overlapping [minTime, maxTime] (ms). */
export class TimePartitionFilter implements MetaFilter {
  readonly name = 'time-excluded';
  /** Bounds as ms, or functions evaluated at each fetch (relative flags like -2w move with time). */
  constructor(readonly minTime: number | (() => number), readonly maxTime: number | (() => number)) {}
  async filter(metas: Map<string, BlockMeta>, ctx: FilterContext): Promise<void> {
    const lo = typeof this.minTime === 'function' ? this.minTime() : this.minTime;
    const hi = typeof this.maxTime === 'function' ? this.maxTime() : this.maxTime;
    for (const [id, m] of metas) if (!(m.maxTime >= lo && m.minTime <= hi)) ctx.drop(id, this.name);
  }
}

/** Relabels each block's external labels plus __block_id; drops blocks the configs drop. */
export class LabelShardedFilter implements MetaFilter {
  readonly name = 'label-excluded';
  constructor(readonly configs: readonly RelabelConfig[]) {}
  async filter(metas: Map<string, BlockMeta>, ctx: FilterContext): Promise<void> {
    if (this.configs.length === 0) return;
    for (const [id, m] of metas) {
      if (relabel({ ...m.thanos.labels, __block_id: id }, this.configs) === null) ctx.drop(id, this.name);
    }
  }
}

/** Drops blocks whose deletion-mark.json is older than the delay (ms). */
export class DeletionMarkFilter implements MetaFilter {
  readonly name = 'marked-for-deletion';
  marks = new Map<string, DeletionMark>();
  constructor(readonly delayMs: number, private readonly log?: FetchLogger) {}
  async filter(metas: Map<string, BlockMeta>, ctx: FilterContext): Promise<void> {
    const marks = new Map<string, DeletionMark>();
    const toDrop: string[] = [];
    await forEachLimit([...metas.keys()], ctx.concurrency, async (id) => {
      let bytes: Uint8Array;
      try {
        bytes = await readAll(await ctx.bucket.get(`${id}/deletion-mark.json`));
      } catch (e) {
        if (!ctx.bucket.isObjNotFoundErr(e)) this.log?.warn('failed to read deletion mark', { block: id, err: (e as Error).message });
        return;
      }
      try {
        const mark = parseDeletionMark(bytes, id);
        marks.set(id, mark);
        if (ctx.now - mark.deletion_time * 1000 > this.delayMs) toDrop.push(id);
      } catch (e) {
        this.log?.warn('ignoring corrupt deletion mark', { block: id, err: (e as Error).message });
      }
    });
    for (const id of toDrop) ctx.drop(id, this.name);
    this.marks = marks;
  }
}

const DELAY_EXEMPT_SOURCES = new Set(['compactor', 'compactor.repair', 'bucket.repair']);

/** Hides blocks younger than the delay (by upload_time, else ULID time), except compactor outputs. */
export class ConsistencyDelayFilter implements MetaFilter {
  readonly name = 'too-fresh';
  constructor(readonly delayMs: number) {}
  async filter(metas: Map<string, BlockMeta>, ctx: FilterContext): Promise<void> {
    if (this.delayMs <= 0) return;
    for (const [id, m] of metas) {
      if (DELAY_EXEMPT_SOURCES.has(String(m.thanos.source ?? ''))) continue;
      const up = m.thanos.upload_time ? Date.parse(m.thanos.upload_time) : NaN;
      const t = Number.isFinite(up) ? up : ulidTime(id);
      if (ctx.now - t < this.delayMs) ctx.drop(id, this.name);
    }
  }
}

/**
 * Drops blocks whose compaction sources are all covered by another block of the same resolution
 * (e.g. the level-1 inputs of a compacted block that are not deleted yet). Of two blocks with
 * identical sources, the one with the larger ULID stays.
 */
export class DeduplicateFilter implements MetaFilter {
  readonly name = 'duplicate';
  async filter(metas: Map<string, BlockMeta>, ctx: FilterContext): Promise<void> {
    const byRes = new Map<number, BlockMeta[]>();
    for (const m of metas.values()) {
      const r = m.thanos.downsample.resolution;
      let g = byRes.get(r);
      if (!g) byRes.set(r, (g = []));
      g.push(m);
    }
    for (const group of byRes.values()) {
      group.sort((a, b) => b.compaction.sources.length - a.compaction.sources.length || (a.ulid < b.ulid ? 1 : a.ulid > b.ulid ? -1 : 0));
      const kept: Array<Set<string>> = [];
      for (const m of group) {
        const covered = kept.some((s) => m.compaction.sources.every((x) => s.has(x)));
        if (covered) ctx.drop(m.ulid, this.name);
        else kept.push(new Set(m.compaction.sources));
      }
    }
  }
}
