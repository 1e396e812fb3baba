// The meta fetcher: lists <ULID>/ directories in a bucket, reads each meta.json (cached: blocks are
// immutable), and runs filters (time partition, relabel sharding, deletion marks, consistency delay,
// source deduplication). The store gateway syncs with it; the compactor can reuse it. With a metrics
// registry it exposes Thanos's fetcher metrics (thanos_blocks_meta_*), every synced state from the
// start.
import type { Metrics, Gauge, Counter, Histogram } from '../../sdk/mod.ts';
import type { Bucket } from '../../objstore/bucket.ts';
import { readAll } from '../../objstore/bucket.ts';
import { MetaError, parseBucketMeta, type BucketBlockMeta } from '../../tsdb/meta.ts';
import { isULID, ulidTime } from '../../tsdb/ulid.ts';

export interface DeletionMark {
  id: string;
  version: number;
  details?: string;
  /** Unix seconds. */
  deletion_time: number;
}

export function parseDeletionMark(bytes: Uint8Array, id: string): DeletionMark {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw MetaError.of(id, `deletion-mark.json is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof o.deletion_time !== 'number') throw MetaError.of(id, 'deletion-mark.json: deletion_time must be a number');
  return { id: String(o.id ?? id), version: Number(o.version ?? 1), details: typeof o.details === 'string' ? o.details : undefined, deletion_time: o.deletion_time };
}
import { type RelabelConfig, relabel } from './relabel.ts';

export interface FetchLogger {
  warn(msg: string, kv?: Record<string, unknown>): void;
  info?(msg: string, kv?: Record<string, unknown>): void;
  debug?(msg: string, kv?: Record<string, unknown>): void;
}

/**
 * Values of thanos_blocks_meta_synced{state}, as Thanos's fetcher has them
 * (pkg/block/fetcher.go DefaultSyncedStateLabelValues). `loaded` counts blocks that passed every
 * filter; marked-for-no-compact / marked-for-no-downsample count loaded blocks carrying that mark.
 */
export const SYNCED_STATES = [
  'corrupted-meta-json',
  'no-meta-json',
  'loaded',
  'too-fresh',
  'failed',
  'label-excluded',
  'time-excluded',
  'duplicate',
  'marked-for-deletion',
  'marked-for-no-compact',
  'parquet-migrated',
] as const;
/** Extra synced state of the compactor (Thanos's GatherNoDownsampleMarkFilter). */
export const MARKED_FOR_NO_DOWNSAMPLE = 'marked-for-no-downsample';
/** Values of thanos_blocks_meta_modified{modified}. */
export const MODIFIED_STATES = ['replica-label-removed'] as const;

export interface FilterContext {
  bucket: Bucket;
  concurrency: number;
  now: number;
  log?: FetchLogger;
  /** Removes a block from the result and records why (the reason is its synced state). */
  drop(id: string, reason: string): void;
  /** Counts `n` blocks in a synced state without removing them (e.g. marked-for-no-compact). */
  synced(state: string, n?: number): void;
  /** Counts `n` blocks whose meta was modified (thanos_blocks_meta_modified). */
  modified(what: string, n?: number): void;
}

export interface MetaFilter {
  readonly name: string;
  filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void>;
}

export interface FetchResult {
  /** Blocks that passed every filter. */
  metas: Map<string, BucketBlockMeta>;
  /** Directories without meta.json (partial uploads or blocks being deleted). */
  partial: Set<string>;
  /** Blocks whose meta.json could not be read or parsed, with the error. */
  corrupted: Map<string, string>;
  /** Block id → the filter that dropped it. */
  filtered: Map<string, string>;
  /** Deletion marks seen by a DeletionMarkFilter. */
  deletionMarks: Map<string, DeletionMark>;
  /** Blocks per synced state (every state of SYNCED_STATES present), as thanos_blocks_meta_synced. */
  synced: Record<string, number>;
  /** Blocks per modification, as thanos_blocks_meta_modified. */
  modified: Record<string, number>;
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
  /** Registers and updates Thanos's fetcher metrics (thanos_blocks_meta_*) there. */
  metrics?: Metrics;
  /** Synced states beyond SYNCED_STATES that this fetcher's filters report (e.g. marked-for-no-downsample). */
  extraSyncedStates?: readonly string[];
}

interface FetcherMetrics {
  baseSyncs: Counter;
  syncs: Counter;
  syncFailures: Counter;
  syncDuration: Histogram;
  synced: Gauge;
  modified: Gauge;
}

export class MetaFetcher {
  private readonly cache = new Map<string, BucketBlockMeta>();
  readonly concurrency: number;
  readonly filters: MetaFilter[];
  private readonly log?: FetchLogger;
  private readonly now: () => number;
  private readonly states: string[];
  private readonly m?: FetcherMetrics;

  constructor(private readonly bucket: Bucket, opts: MetaFetcherOptions = {}) {
    this.concurrency = opts.concurrency ?? 32;
    this.filters = opts.filters ?? [];
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.states = [...new Set([...SYNCED_STATES, ...(opts.extraSyncedStates ?? [])])];
    const mt = opts.metrics;
    if (mt) {
      this.m = {
        // One fetcher here does what upstream's base fetcher and meta fetcher do together: every sync is a base sync.
        baseSyncs: mt.counter('thanos_blocks_meta_base_syncs_total', 'Total blocks metadata synchronization attempts by base Fetcher'),
        syncs: mt.counter('thanos_blocks_meta_syncs_total', 'Total blocks metadata synchronization attempts'),
        syncFailures: mt.counter('thanos_blocks_meta_sync_failures_total', 'Total blocks metadata synchronization failures'),
        syncDuration: mt.histogram('thanos_blocks_meta_sync_duration_seconds', 'Duration of the blocks metadata synchronization in seconds', [], [0.01, 1, 10, 100, 300, 600, 1000]),
        synced: mt.gauge('thanos_blocks_meta_synced', 'Number of block metadata synced', ['state']),
        modified: mt.gauge('thanos_blocks_meta_modified', 'Number of blocks whose metadata changed', ['modified']),
      };
      // Every state is exposed from the start (at 0), as Thanos's TxGaugeVec does.
      for (const st of this.states) this.m.synced.set(0, { state: st });
      for (const st of MODIFIED_STATES) this.m.modified.set(0, { modified: st });
    }
  }

  async fetch(): Promise<FetchResult> {
    const t0 = Date.now();
    this.m?.baseSyncs.inc();
    this.m?.syncs.inc();
    try {
      const res = await this.fetchOnce();
      // Like Thanos's TxGaugeVec: the whole state set is replaced after each successful sync.
      if (this.m) {
        for (const [st, n] of Object.entries(res.synced)) this.m.synced.set(n, { state: st });
        for (const [st, n] of Object.entries(res.modified)) this.m.modified.set(n, { modified: st });
      }
      return res;
    } catch (e) {
      this.m?.syncFailures.inc();
      throw e;
    } finally {
      this.m?.syncDuration.observe((Date.now() - t0) / 1000);
    }
  }

  private async fetchOnce(): Promise<FetchResult> {
    const ids: string[] = [];
    for await (const name of this.bucket.iter('')) {
      if (!name.endsWith('/')) continue;
      const id = name.slice(0, -1);
      if (isULID(id)) ids.push(id);
    }
    const metas = new Map<string, BucketBlockMeta>();
    const partial = new Set<string>();
    const corrupted = new Map<string, string>();
    let failed = 0;
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
        else {
          corrupted.set(id, `read meta.json: ${(e as Error).message}`);
          failed++;
        }
        return;
      }
      try {
        const m = parseBucketMeta(bytes, id);
        // As bucket verify (lib/tsdb/meta.ts parseMeta) refuses it: an inverted range would make
        // the block match no request, so its data would vanish without a word.
        if (m.minTime > m.maxTime) throw MetaError.of(id, `meta.json: minTime ${m.minTime} is after maxTime ${m.maxTime}`);
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

    const synced: Record<string, number> = Object.fromEntries(this.states.map((st) => [st, 0]));
    const modified: Record<string, number> = Object.fromEntries(MODIFIED_STATES.map((st) => [st, 0]));
    const count = (rec: Record<string, number>, k: string, n: number) => (rec[k] = (rec[k] ?? 0) + n);
    synced['no-meta-json'] = partial.size;
    synced['failed'] = failed;
    synced['corrupted-meta-json'] = corrupted.size - failed;

    const filtered = new Map<string, string>();
    const deletionMarks = new Map<string, DeletionMark>();
    const now = this.now();
    for (const f of this.filters) {
      const ctx: FilterContext = {
        bucket: this.bucket,
        concurrency: this.concurrency,
        now,
        log: this.log,
        drop: (id, reason) => {
          if (metas.delete(id)) {
            filtered.set(id, reason);
            count(synced, reason, 1);
          }
        },
        synced: (state, n = 1) => void count(synced, state, n),
        modified: (what, n = 1) => void count(modified, what, n),
      };
      await f.filter(metas, ctx);
      if (f instanceof DeletionMarkFilter) for (const [k, v] of f.marks) deletionMarks.set(k, v);
    }
    synced['loaded'] = metas.size;
    return { metas, partial, corrupted, filtered, deletionMarks, synced, modified, fetchedAt: now };
  }
}

/** Keeps blocks overlapping [minTime, maxTime] (ms). */
export class TimePartitionFilter implements MetaFilter {
  readonly name = 'time-excluded';
  /** Bounds as ms, or functions evaluated at each fetch (relative flags like -2w move with time). */
  constructor(readonly minTime: number | (() => number), readonly maxTime: number | (() => number)) {}
  async filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void> {
    const lo = typeof this.minTime === 'function' ? this.minTime() : this.minTime;
    const hi = typeof this.maxTime === 'function' ? this.maxTime() : this.maxTime;
    for (const [id, m] of metas) if (!(m.maxTime >= lo && m.minTime <= hi)) ctx.drop(id, this.name);
  }
}

/** Relabels each block's external labels plus __block_id; drops blocks the configs drop. */
export class LabelShardedFilter implements MetaFilter {
  readonly name = 'label-excluded';
  constructor(readonly configs: readonly RelabelConfig[]) {}
  async filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void> {
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
  async filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void> {
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

/** RFC 3339 in UTC with whole seconds (Go's time.RFC3339), rounded up. */
export function rfc3339(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Hides blocks younger than the delay (by upload_time, else ULID time), except compactor outputs.
 * When it hides any, it says so at info level (how many, and when the last of them becomes visible)
 * each time that changes, so a compactor or store that has nothing to do yet explains why.
 */
export class ConsistencyDelayFilter implements MetaFilter {
  readonly name = 'too-fresh';
  /** The last sync's too-fresh blocks: how many, and when (ms) the youngest of them passes the delay. */
  fresh: { count: number; until: number } = { count: 0, until: 0 };
  private reported = '';
  /** metrics: where thanos_consistency_delay_seconds (the configured delay) is exposed, as upstream's filter does. */
  constructor(readonly delayMs: number, private readonly log?: FetchLogger, metrics?: Metrics) {
    metrics?.gauge('thanos_consistency_delay_seconds', 'Configured consistency delay in seconds.').set(delayMs / 1000);
  }
  async filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void> {
    let count = 0, until = 0;
    if (this.delayMs > 0) {
      for (const [id, m] of metas) {
        if (DELAY_EXEMPT_SOURCES.has(String(m.thanos.source ?? ''))) continue;
        const up = m.thanos.upload_time ? Date.parse(m.thanos.upload_time) : NaN;
        const t = Number.isFinite(up) ? up : ulidTime(id);
        if (ctx.now - t < this.delayMs) {
          ctx.drop(id, this.name);
          count++;
          until = Math.max(until, t + this.delayMs);
        }
      }
    }
    this.fresh = { count, until };
    const key = count ? `${count}@${until}` : '';
    if (key && key !== this.reported) {
      const log = this.log ?? ctx.log;
      (log?.info ?? log?.warn)?.call(log, 'blocks are too fresh, waiting for consistency delay', { count, until: rfc3339(until), consistency_delay: `${this.delayMs / 1000}s` });
    }
    this.reported = key;
  }
}

/**
 * Records which loaded blocks carry a marker file (no-compact-mark.json, no-downsample-mark.json)
 * without hiding them, and counts them in a synced state (Thanos's GatherNoCompactionMarkFilter and
 * GatherNoDownsampleMarkFilter).
 */
export class GatherMarkFilter implements MetaFilter {
  marked = new Set<string>();
  constructor(readonly marker: string, readonly name: string) {}
  async filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void> {
    const marked = new Set<string>();
    await forEachLimit([...metas.keys()], ctx.concurrency, async (id) => {
      if (await ctx.bucket.exists(`${id}/${this.marker}`)) marked.add(id);
    });
    this.marked = marked;
    ctx.synced(this.name, marked.size);
  }
}

/**
 * Drops the given labels from each block's external labels (--deduplication.replica-label), on a
 * copy of the meta (cached metas are not touched); counts the blocks it changed in
 * thanos_blocks_meta_modified{modified="replica-label-removed"}.
 */
export class ReplicaLabelRemover implements MetaFilter {
  readonly name = 'replica-label-removed';
  constructor(readonly labels: readonly string[]) {}
  async filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void> {
    if (this.labels.length === 0) return;
    let n = 0;
    for (const [id, m] of metas) {
      if (!this.labels.some((l) => l in m.thanos.labels)) continue;
      const labels = { ...m.thanos.labels };
      for (const l of this.labels) delete labels[l];
      metas.set(id, { ...m, thanos: { ...m.thanos, labels } });
      n++;
    }
    ctx.modified(this.name, n);
  }
}

/**
 * Drops blocks whose compaction sources are all covered by another block of the same resolution
 * (e.g. the level-1 inputs of a compacted block that are not deleted yet). Of two blocks with
 * identical sources, the one with the larger ULID stays.
 */
export class DeduplicateFilter implements MetaFilter {
  readonly name = 'duplicate';
  async filter(metas: Map<string, BucketBlockMeta>, ctx: FilterContext): Promise<void> {
    const byRes = new Map<number, BucketBlockMeta[]>();
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
