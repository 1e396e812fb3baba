// The compactor's work, one iteration at a time (Thanos's loop order): sync metas → compact every
// group until nothing is left to plan → downsample pass 1 (raw → 5m) → pass 2 (5m → 1h) → retention
// → clean up (blocks marked for deletion longer than --delete-delay, aborted partial uploads).
// Blocks are downloaded into <dataDir>/compact|downsample/, merged/downsampled with lib/tsdb and
// uploaded with meta.json last; inputs are never deleted directly, only marked (deletion-mark.json).
import type { Bucket } from '../objstore/bucket.ts';
import type { Core } from '../core/types.ts';
import type { FsCapability, Logger, Metrics } from '../sdk/mod.ts';
import { doInSpan } from '../tracing/mod.ts';
import { BlockReader, fsBlockFiles, fsBlockSink, downloadBlock, uploadBlock, mergeBlocks, downsampleBlock, formatMeta, RES_5M, RES_1H } from '../tsdb/mod.ts';
import type { BlockMeta as TsdbMeta } from '../tsdb/mod.ts';
import { MetaFetcher, ConsistencyDelayFilter, DeletionMarkFilter, DeduplicateFilter, GatherMarkFilter, ReplicaLabelRemover, MARKED_FOR_NO_DOWNSAMPLE, forEachLimit, type FetchResult, type MetaFilter } from '../store/blocksync/fetcher.ts';
import { compareLabels } from '../labels/mod.ts';
import { parseBucketMeta, type BucketBlockMeta as BlockMeta } from '../tsdb/meta.ts';
import { isULID, ulidTime } from '../tsdb/ulid.ts';
import { DELETION_MARK, NO_COMPACT_MARK, NO_DOWNSAMPLE_MARK, deleteBlock, writeMarker, readMarker } from './marks.ts';
import { DEFAULT_RANGES, HOUR, RES_LEVEL1_DOWNSAMPLE_RANGE, RES_LEVEL2_DOWNSAMPLE_RANGE, findOverlaps, groupBlocks, labelsString, planGroup, type Group } from './plan.ts';

/** Thanos's PartialUploadThresholdAge: partial uploads younger than this may still be in flight. */
export const PARTIAL_UPLOAD_THRESHOLD = 48 * HOUR;

/** A critical problem (e.g. overlapping blocks): Thanos stops compacting and sets thanos_compact_halted. */
export class HaltError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HaltError';
  }
}

export interface Retention {
  /** ms; 0 = keep forever. */
  raw: number;
  m5: number;
  h1: number;
}

export interface CompactorOptions {
  bucket: Bucket;
  fs: FsCapability;
  /** Scratch space for downloads and outputs (<dataDir>/compact, <dataDir>/downsample). */
  dataDir: string;
  core: Core;
  log?: Logger;
  metrics?: Metrics;
  ranges?: number[];
  consistencyDelayMs?: number;
  deleteDelayMs?: number;
  retention?: Retention;
  downsampling?: boolean;
  /** Groups compacted in parallel. */
  concurrency?: number;
  downsampleConcurrency?: number;
  metaFetchConcurrency?: number;
  enableVerticalCompaction?: boolean;
  /** Labels dropped from external labels before grouping (--deduplication.replica-label). */
  replicaLabels?: string[];
  /** Extra block selection (--min-time/--max-time, --selector.relabel-config), applied first. */
  filters?: MetaFilter[];
  /** Mark blocks made redundant by a compacted block for deletion when syncing (default true; tools turn it off). */
  garbageCollect?: boolean;
  now?: () => number;
}

export interface IterationResult {
  compactions: number;
  downsampled: number;
  retentionMarked: number;
  deleted: number;
  partialDeleted: number;
}

const noopLog: Logger = { debug() {}, info() {}, warn() {}, error() {}, with() { return noopLog; } };

/** The same FsCapability, except that removing a path that does not exist is not an error. */
export function tolerantRemove(fs: FsCapability): FsCapability {
  return {
    ...fs,
    async remove(p, opts) {
      if (!(await fs.exists(p))) return;
      await fs.remove(p, opts);
    },
    resolve: (...parts) => fs.resolve(...parts),
  };
}

/**
 * Thanos's pre-compaction index check (GatherIndexHealthStats, the critical part): series in label
 * order with sorted, unique label names; chunks of a series in order, not overlapping, inside the
 * block's range. Reads the index only. Returns the first problem, or undefined.
 */
export async function indexHealth(b: BlockReader): Promise<string | undefined> {
  const m = b.meta;
  let prev: Parameters<typeof compareLabels>[0] | undefined;
  for await (const s of b.index.seriesMany(await b.index.allPostings())) {
    const name = '{' + s.labels.map((l) => `${l.name}="${l.value}"`).join(', ') + '}';
    for (let i = 1; i < s.labels.length; i++) if (s.labels[i - 1]!.name >= s.labels[i]!.name) return `series ${name}: label names out of order or duplicated`;
    if (prev && compareLabels(prev, s.labels) >= 0) return `series ${name}: out of order or duplicated in the index`;
    prev = s.labels;
    let lastMax = -Infinity;
    for (const c of s.chunks) {
      if (c.minTime > c.maxTime) return `series ${name}: chunk minTime ${c.minTime} after maxTime ${c.maxTime}`;
      if (c.minTime <= lastMax) return `series ${name}: out-of-order or overlapping chunks ([${c.minTime}, ${c.maxTime}] after one ending ${lastMax})`;
      if (c.minTime < m.minTime || c.maxTime >= m.maxTime) return `series ${name}: chunk [${c.minTime}, ${c.maxTime}] outside the block range [${m.minTime}, ${m.maxTime})`;
      lastMax = c.maxTime;
    }
  }
  return undefined;
}

function safeName(key: string): string {
  return key.replace(/[^0-9A-Za-z_.-]/g, '_');
}

export class Compactor {
  readonly bucket: Bucket;
  private readonly o: Required<Omit<CompactorOptions, 'metrics' | 'log'>>;
  private readonly log: Logger;
  private readonly fetcher: MetaFetcher;
  private readonly noCompact = new GatherMarkFilter(NO_COMPACT_MARK, 'marked-for-no-compact');
  private readonly noDownsample = new GatherMarkFilter(NO_DOWNSAMPLE_MARK, MARKED_FOR_NO_DOWNSAMPLE);
  private readonly m;

  constructor(opts: CompactorOptions) {
    this.bucket = opts.bucket;
    this.log = opts.log ?? noopLog;
    this.o = {
      bucket: opts.bucket, fs: tolerantRemove(opts.fs), dataDir: opts.dataDir, core: opts.core,
      ranges: opts.ranges ?? DEFAULT_RANGES,
      consistencyDelayMs: opts.consistencyDelayMs ?? 30 * 60_000,
      deleteDelayMs: opts.deleteDelayMs ?? 48 * HOUR,
      retention: opts.retention ?? { raw: 0, m5: 0, h1: 0 },
      downsampling: opts.downsampling ?? true,
      concurrency: Math.max(1, opts.concurrency ?? 1),
      downsampleConcurrency: Math.max(1, opts.downsampleConcurrency ?? 1),
      metaFetchConcurrency: Math.max(1, opts.metaFetchConcurrency ?? 32),
      enableVerticalCompaction: opts.enableVerticalCompaction ?? false,
      replicaLabels: opts.replicaLabels ?? [],
      garbageCollect: opts.garbageCollect ?? true,
      filters: opts.filters ?? [],
      now: opts.now ?? Date.now,
    };
    // Thanos's filter order. Marked blocks are on their way out: the compactor ignores them at once
    // (delay -1). Blocks marked no-compact / no-downsample stay loaded; the planner and the
    // downsampler leave them alone.
    this.fetcher = new MetaFetcher(opts.bucket, {
      concurrency: this.o.metaFetchConcurrency,
      filters: [
        ...this.o.filters,
        new ConsistencyDelayFilter(this.o.consistencyDelayMs, undefined, opts.metrics),
        new DeletionMarkFilter(-1),
        new ReplicaLabelRemover(this.o.replicaLabels),
        new DeduplicateFilter(),
        this.noCompact,
        this.noDownsample,
      ],
      log: this.log,
      now: this.o.now,
      metrics: opts.metrics,
      extraSyncedStates: [MARKED_FOR_NO_DOWNSAMPLE],
    });
    const mt = opts.metrics;
    this.m = mt
      ? {
          compactions: mt.counter('thanos_compact_group_compactions_total', 'Total number of group compaction attempts that resulted in a new block.', ['resolution']),
          runsStarted: mt.counter('thanos_compact_group_compaction_runs_started_total', 'Total number of group compaction attempts.', ['resolution']),
          runsCompleted: mt.counter('thanos_compact_group_compaction_runs_completed_total', 'Total number of group completed compaction runs. This also includes compactor group runs that resulted with no compaction.', ['resolution']),
          vertical: mt.counter('thanos_compact_group_vertical_compactions_total', 'Total number of group compaction attempts that resulted in a new block based on overlapping blocks.', ['resolution']),
          compactionFailures: mt.counter('thanos_compact_group_compactions_failures_total', 'Total number of failed group compactions.', ['resolution']),
          downsamples: mt.counter('thanos_compact_downsample_total', 'Total number of downsampling attempts.', ['resolution']),
          downsampleFailures: mt.counter('thanos_compact_downsample_failures_total', 'Total number of failed downsampling attempts.', ['resolution']),
          marked: mt.counter('thanos_compact_blocks_marked_total', 'Total number of blocks marked in compactor.', ['marker', 'reason']),
          deleted: mt.counter('thanos_compact_blocks_cleaned_total', 'Total number of blocks deleted in compactor.'),
          cleanupFailures: mt.counter('thanos_compact_block_cleanup_failures_total', 'Failures encountered while deleting blocks in compactor.'),
          cleanupLoops: mt.counter('thanos_compact_block_cleanup_loops_total', 'Total number of concurrent cleanup loops of partially uploaded blocks and marked blocks that were executed successfully.'),
          garbageCollectedBlocks: mt.counter('thanos_compact_garbage_collected_blocks_total', 'Total number of blocks marked for deletion by compactor.'),
          garbageCollections: mt.counter('thanos_compact_garbage_collection_total', 'Total number of garbage collection operations.'),
          garbageCollectionFailures: mt.counter('thanos_compact_garbage_collection_failures_total', 'Total number of failed garbage collection operations.'),
          garbageCollectionDuration: mt.histogram('thanos_compact_garbage_collection_duration_seconds', 'Time it took to perform garbage collection iteration.', [], [0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120, 240, 360, 720]),
          partialDeleted: mt.counter('thanos_compact_aborted_partial_uploads_deletion_attempts_total', 'Total number of started deletions of blocks that are assumed aborted and only partially uploaded.'),
          todoCompactions: mt.gauge('thanos_compact_todo_compactions', 'The number of planned compactions.'),
          todoCompactionBlocks: mt.gauge('thanos_compact_todo_compaction_blocks', 'The number of blocks planned to be merged.'),
          todoDownsample: mt.gauge('thanos_compact_todo_downsample_blocks', 'The number of blocks to be downsampled.'),
          todoDeletion: mt.gauge('thanos_compact_todo_deletion_blocks', 'The number of blocks that have deletion mark.'),
        }
      : undefined;
    // At 0 from the start, as Thanos has them (the mixin's alerts take rate() of these).
    if (this.m) {
      this.m.marked.inc({ marker: NO_COMPACT_MARK, reason: 'block-index-out-of-order-chunk' }, 0);
      this.m.marked.inc({ marker: NO_COMPACT_MARK, reason: 'index-size-exceeding' }, 0);
      this.m.marked.inc({ marker: DELETION_MARK, reason: '' }, 0);
      for (const c of [this.m.deleted, this.m.cleanupFailures, this.m.cleanupLoops, this.m.garbageCollectedBlocks, this.m.garbageCollections, this.m.garbageCollectionFailures, this.m.partialDeleted]) c.inc({}, 0);
    }
  }

  /** Per-resolution series exist once a group (compaction) or a block (downsampling) of that resolution is seen, as upstream creates them. */
  private initResolution(resolution: number): void {
    const l = { resolution: String(resolution) };
    for (const c of [this.m?.compactions, this.m?.vertical, this.m?.compactionFailures, this.m?.runsStarted, this.m?.runsCompleted, this.m?.downsamples, this.m?.downsampleFailures]) c?.inc(l, 0);
  }

  /** Blocks the compactor works on (consistency delay, deletion marks and duplicates filtered out). */
  async sync(): Promise<FetchResult> {
    const res = await this.fetcher.fetch();
    this.m?.todoDeletion.set(res.deletionMarks.size);
    for (const m of res.metas.values()) this.initResolution(m.thanos.downsample.resolution);
    // Garbage collection: a block whose sources a newer block fully covers is redundant.
    if (this.o.garbageCollect) {
      const start = performance.now();
      try {
        for (const [id, why] of res.filtered) {
          if (why !== 'duplicate') continue;
          await this.mark(id, 'outdated block (its sources are covered by a compacted block)');
          this.m?.garbageCollectedBlocks.inc();
        }
      } catch (e) {
        this.m?.garbageCollectionFailures.inc();
        throw e;
      }
      this.m?.garbageCollections.inc();
      this.m?.garbageCollectionDuration.observe((performance.now() - start) / 1000);
    }
    return res;
  }

  /** Marks a block for deletion; counted as upstream counts every deletion mark: thanos_compact_blocks_marked_total{marker="deletion-mark.json",reason=""}. */
  private async mark(id: string, details: string): Promise<void> {
    await writeMarker(this.bucket, id, DELETION_MARK, details, this.o.now());
    this.m?.marked.inc({ marker: DELETION_MARK, reason: '' });
    this.log.info('block has been marked for deletion', { block: id, details });
  }

  /** Compacts every group until its planner has nothing left; returns the number of new blocks. */
  async compactAll(signal?: AbortSignal): Promise<number> {
    const res = await this.sync();
    const groups = groupBlocks(res.metas.values(), this.o.replicaLabels);
    let todo = 0, todoBlocks = 0;
    const noCompact = new Set(this.noCompact.marked);
    for (const g of groups) {
      const p = planGroup(g.metas, this.o.ranges, noCompact);
      if (p) { todo++; todoBlocks += p.blocks.length; }
    }
    this.m?.todoCompactions.set(todo);
    this.m?.todoCompactionBlocks.set(todoBlocks);
    let total = 0;
    let idx = 0;
    await forEachLimit(groups, this.o.concurrency, async (g) => {
      const n = ++idx;
      signal?.throwIfAborted();
      // Span names as upstream's compact.go (compaction_group, compaction_block_download, compaction, compaction_block_upload).
      const done = await doInSpan('compaction_group', { group: g.key }, () => this.compactGroup(g, noCompact, `${n}/${groups.length}`, signal));
      total += done; // (not `total += await …`: that reads total before the await)
    });
    return total;
  }

  private async compactGroup(g: Group, noCompact: ReadonlySet<string>, progress: string, signal?: AbortSignal): Promise<number> {
    const glog = this.log.with({ group: g.key, labels: labelsString(g.labels), resolution: g.resolution });
    // Pre compaction overlap check: without vertical compaction, overlapping blocks halt (Thanos).
    if (!this.o.enableVerticalCompaction) {
      const ov = findOverlaps(g.metas);
      if (ov.length) {
        const desc = ov.map((set) => set.map((m) => `[ulid: ${m.ulid}, mint: ${m.minTime}, maxt: ${m.maxTime}]`).join(', ')).join('; ');
        throw new HaltError(`compaction of group ${g.key}: pre compaction overlap check: overlaps found while gathering blocks. ${desc}`);
      }
    } else if (g.resolution !== 0 && findOverlaps(g.metas).length) {
      throw new HaltError(`compaction of group ${g.key}: overlapping downsampled blocks cannot be vertically compacted`);
    }
    let metas = [...g.metas];
    let done = 0;
    this.initResolution(g.resolution);
    this.m?.runsStarted.inc({ resolution: String(g.resolution) });
    for (;;) {
      signal?.throwIfAborted();
      const plan = planGroup(metas, this.o.ranges, noCompact);
      if (!plan) break;
      const ids = new Set(plan.blocks.map((m) => m.ulid));
      // Overlapping sources mean the same data twice: Thanos halts.
      const seen = new Set<string>();
      for (const m of plan.blocks) for (const s of m.compaction.sources) {
        if (seen.has(s)) throw new HaltError(`compaction of group ${g.key}: overlapping sources detected for plan (source ${s})`);
        seen.add(s);
      }
      glog.info(`compacting group ${progress}: ${plan.blocks.length}/${metas.length} blocks`, { kind: plan.kind, blocks: [...ids].join(','), mint: plan.blocks[0]!.minTime, maxt: Math.max(...plan.blocks.map((b) => b.maxTime)) });
      const t0 = Date.now();
      let out: BlockMeta | undefined;
      try {
        out = await this.compactBlocks(g, plan.blocks);
      } catch (e) {
        this.m?.compactionFailures.inc({ resolution: String(g.resolution) });
        throw e;
      }
      for (const m of plan.blocks) await this.mark(m.ulid, out ? `source of compacted block ${out.ulid}` : 'compacted into an empty block');
      this.m?.compactions.inc({ resolution: String(g.resolution) });
      if (plan.kind === 'vertical') this.m?.vertical.inc({ resolution: String(g.resolution) });
      glog.info('compacted blocks', { new: out?.ulid ?? '(empty, not uploaded)', sources: plan.blocks.length, duration_ms: Date.now() - t0 });
      metas = metas.filter((m) => !ids.has(m.ulid));
      if (out) metas.push(out);
      metas.sort((a, b) => a.minTime - b.minTime);
      done++;
    }
    this.m?.runsCompleted.inc({ resolution: String(g.resolution) });
    return done;
  }

  /** Downloads, merges and uploads one plan; returns the new block (undefined when it came out empty). */
  private async compactBlocks(g: Group, blocks: BlockMeta[]): Promise<BlockMeta | undefined> {
    const { fs, core } = this.o;
    const dir = fs.resolve(this.o.dataDir, 'compact', safeName(g.key));
    await fs.remove(dir, { recursive: true }).catch(() => {});
    await fs.mkdir(dir, { recursive: true });
    try {
      const readers: BlockReader[] = [];
      for (const m of blocks) {
        const p = await doInSpan('compaction_block_download', { block: m.ulid }, () => downloadBlock(this.bucket, m.ulid, fs, dir));
        const r = await BlockReader.open(fsBlockFiles(fs, p), { core });
        const bad = await doInSpan('compaction_block_health_stats', { block: m.ulid }, () => indexHealth(r));
        if (bad) throw new HaltError(`compaction of group ${g.key}: block with not healthy index found: block ${m.ulid}: ${bad}`);
        readers.push(r);
      }
      const first = readers[0]!.meta;
      // The group's labels: replica labels (--deduplication.replica-label) are gone from the output, as in Thanos.
      const thanos = { ...(first.thanos ?? { downsample: { resolution: g.resolution } }), version: 1, labels: g.labels, files: undefined, index_stats: undefined, upload_time: undefined, source: 'compactor' };
      const meta = await doInSpan('compaction', { blocks: blocks.length }, () => mergeBlocks(readers, fsBlockSink(fs, dir), core, { thanos }));
      if (!meta.stats?.numSamples) return undefined;
      const up = await doInSpan('compaction_block_upload', { block: meta.ulid }, () => uploadBlock(this.bucket, fs, fs.resolve(dir, meta.ulid), { allowEmptyLabels: true }));
      return parseBucketMeta(formatMeta(up), up.ulid); // as the fetcher reads it back from the bucket
    } finally {
      await fs.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  /**
   * One downsampling pass over the synced blocks: raw blocks of ≥ 40h → 5m, 5m blocks of ≥ 10d → 1h,
   * unless a block of the target resolution already covers all of the block's sources.
   */
  async downsamplePass(signal?: AbortSignal): Promise<number> {
    const res = await this.sync();
    const metas = [...res.metas.values()];
    const covered = new Map<number, Set<string>>([[RES_5M, new Set()], [RES_1H, new Set()]]);
    for (const m of metas) {
      const s = covered.get(m.thanos.downsample.resolution);
      if (s) for (const id of m.compaction.sources) s.add(id);
    }
    const todo: { m: BlockMeta; to: number }[] = [];
    for (const m of metas) {
      const r = m.thanos.downsample.resolution;
      const to = r === 0 ? RES_5M : r === RES_5M ? RES_1H : 0;
      if (!to) continue;
      if (m.compaction.sources.every((id) => covered.get(to)!.has(id))) continue;
      if (m.maxTime - m.minTime < (r === 0 ? RES_LEVEL1_DOWNSAMPLE_RANGE : RES_LEVEL2_DOWNSAMPLE_RANGE)) continue;
      todo.push({ m, to });
    }
    const eligible = todo.filter((t) => !this.noDownsample.marked.has(t.m.ulid));
    this.m?.todoDownsample.set(eligible.length);
    let n = 0;
    let i = 0;
    await forEachLimit(eligible, this.o.downsampleConcurrency, async ({ m, to }) => {
      signal?.throwIfAborted();
      const k = ++i;
      this.log.info(`downsampling block ${k}/${eligible.length}`, { block: m.ulid, from: m.thanos.downsample.resolution, to, mint: m.minTime, maxt: m.maxTime });
      try {
        const out = await this.downsampleOne(m, to);
        this.log.info('downsampled block', { from: m.ulid, to: out.ulid, resolution: to });
        this.m?.downsamples.inc({ resolution: String(m.thanos.downsample.resolution) });
        n++;
      } catch (e) {
        this.m?.downsampleFailures.inc({ resolution: String(m.thanos.downsample.resolution) });
        throw e;
      }
    });
    return n;
  }

  private async downsampleOne(m: BlockMeta, to: number): Promise<TsdbMeta> {
    const { fs, core } = this.o;
    const dir = fs.resolve(this.o.dataDir, 'downsample', m.ulid);
    await fs.remove(dir, { recursive: true }).catch(() => {});
    await fs.mkdir(dir, { recursive: true });
    try {
      // Upstream traces downsampling only through its bucket operations; these spans group them per block.
      const p = await doInSpan('downsample_block_download', { block: m.ulid }, () => downloadBlock(this.bucket, m.ulid, fs, dir));
      const reader = await BlockReader.open(fsBlockFiles(fs, p), { core });
      const meta = await doInSpan('downsample', { block: m.ulid, resolution: to }, () => downsampleBlock(reader, to, fsBlockSink(fs, dir), core));
      return await doInSpan('downsample_block_upload', { block: meta.ulid }, () => uploadBlock(this.bucket, fs, fs.resolve(dir, meta.ulid), { allowEmptyLabels: true, meta: (x) => ({ ...x, thanos: x.thanos ? { ...x.thanos, version: 1, upload_time: undefined } : x.thanos }) }));
    } finally {
      await fs.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  /** Marks blocks older than their resolution's retention for deletion; returns how many. */
  async applyRetention(): Promise<number> {
    const r = this.o.retention;
    if (!r.raw && !r.m5 && !r.h1) return 0;
    const res = await this.sync();
    const now = this.o.now();
    let n = 0;
    for (const m of res.metas.values()) {
      const res0 = m.thanos.downsample.resolution;
      const keep = res0 === 0 ? r.raw : res0 === RES_5M ? r.m5 : res0 === RES_1H ? r.h1 : 0;
      if (!keep) continue;
      if (now > m.maxTime + keep) {
        await this.mark(m.ulid, `block exceeds retention of ${keep / 1000}s for resolution ${res0}`);
        n++;
      }
    }
    return n;
  }

  /**
   * Deletes blocks whose deletion mark is older than --delete-delay, and partial uploads (no
   * meta.json) older than max(consistency delay, 48h) or carrying a deletion mark.
   */
  async cleanup(): Promise<{ deleted: number; partialDeleted: number }> {
    const now = this.o.now();
    let deleted = 0, partialDeleted = 0;
    const ids: string[] = [];
    for await (const name of this.bucket.iter('')) {
      if (name.endsWith('/') && isULID(name.slice(0, -1))) ids.push(name.slice(0, -1));
    }
    const threshold = Math.max(this.o.consistencyDelayMs, PARTIAL_UPLOAD_THRESHOLD);
    for (const id of ids) {
      let mark: Record<string, unknown> | undefined;
      try {
        mark = await readMarker(this.bucket, id, DELETION_MARK);
      } catch (e) {
        this.log.warn('ignoring unreadable deletion mark', { block: id, err: (e as Error).message });
      }
      const complete = await this.bucket.exists(`${id}/meta.json`);
      if (mark && typeof mark.deletion_time === 'number') {
        if (now - mark.deletion_time * 1000 > this.o.deleteDelayMs || !complete) {
          await this.deleteCounted(id);
          this.log.info('deleted block marked for deletion', { block: id });
          this.m?.deleted.inc();
          if (complete) deleted++; else partialDeleted++;
        }
        continue;
      }
      if (!complete && now - ulidTime(id) > threshold) {
        await this.deleteCounted(id);
        this.log.info('deleted aborted partial upload', { block: id, threshold_ms: threshold });
        this.m?.partialDeleted.inc();
        partialDeleted++;
      }
    }
    this.m?.cleanupLoops.inc();
    return { deleted, partialDeleted };
  }

  private async deleteCounted(id: string): Promise<void> {
    try {
      await deleteBlock(this.bucket, id);
    } catch (e) {
      this.m?.cleanupFailures.inc();
      throw e;
    }
  }

  /** One full iteration in Thanos's order. */
  async runOnce(signal?: AbortSignal): Promise<IterationResult> {
    const compactions = await this.compactAll(signal);
    let downsampled = 0;
    if (this.o.downsampling) {
      downsampled += await this.downsamplePass(signal);
      downsampled += await this.downsamplePass(signal);
    }
    const retentionMarked = await this.applyRetention();
    const { deleted, partialDeleted } = await this.cleanup();
    return { compactions, downsampled, retentionMarked, deleted, partialDeleted };
  }
}
