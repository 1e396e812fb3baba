// `thanos tools bucket replicate` (Thanos pkg/replicate): copies the selected blocks of one bucket
// into another. A block is complete in the destination once its meta.json is there, so meta.json
// goes last; a destination meta.json byte-equal to the origin's means "already replicated".
// Objects already in the destination are not copied again, so an interrupted run resumes.
import type { Bucket, Metrics, Logger } from '../sdk/mod.ts';
import { compileMatcher, type CompiledMatcher, type Matcher } from '../labels/mod.ts';
import { parseSelector } from '../tsdb/selector.ts';
import { MetaFetcher, TimePartitionFilter, DeletionMarkFilter, type MetaFilter } from '../store/blocksync/fetcher.ts';
import type { BucketBlockMeta } from '../tsdb/meta.ts';

/**
 * --matcher: Alertmanager's matcher list, `{a="b", c=~"x"}` or `a="b", c=~"x"` (braces optional).
 * Values must be quoted (Alertmanager also takes unquoted ones; we refuse them with a parse error).
 */
export function parseBlockMatchers(s: string): Matcher[] {
  const t = s.trim();
  if (t === '' || t === '{}') return [];
  return parseSelector(t.startsWith('{') ? t : `{${t}}`);
}

export interface BlockSelection {
  matchers: readonly Matcher[];
  /** Allowed downsample resolutions in ms (0, 300000, 3600000). */
  resolutions: readonly number[];
  /** Allowed compaction levels. */
  compactions: readonly number[];
  /** When non-empty only these blocks are selected; the other criteria are ignored (as upstream). */
  ids: readonly string[];
}

/** Thanos's BlockFilter.Filter: blocks without external labels are never replicated. */
export function blockSelected(sel: BlockSelection, compiled: readonly CompiledMatcher[], m: BucketBlockMeta, log?: Logger): boolean {
  const labels = m.thanos.labels ?? {};
  if (Object.keys(labels).length === 0) {
    log?.error('filtering block', { reason: 'labels should not be empty', block: m.ulid });
    return false;
  }
  if (sel.ids.length > 0) return sel.ids.includes(m.ulid);
  if (!compiled.every((c) => c.matches(labels[c.name] ?? ''))) {
    log?.debug('filtering block', { reason: "labels don't match", block: m.ulid });
    return false;
  }
  if (!sel.resolutions.includes(m.thanos.downsample.resolution)) {
    log?.info('filtering block', { reason: "resolution doesn't match allowed resolutions", block: m.ulid, got_resolution: m.thanos.downsample.resolution });
    return false;
  }
  if (!sel.compactions.includes(m.compaction.level)) {
    log?.info('filtering block', { reason: "compaction level doesn't match allowed levels", block: m.ulid, got_compaction_level: m.compaction.level });
    return false;
  }
  return true;
}

export interface ReplicatorOptions {
  from: Bucket;
  to: Bucket;
  selection: BlockSelection;
  /** --min-time / --max-time as Unix ms. */
  minTime: number;
  maxTime: number;
  /** --ignore-marked-for-deletion: blocks with a deletion-mark.json are not replicated. */
  ignoreMarkedForDeletion: boolean;
  metrics: Metrics;
  log: Logger;
}

export interface ReplicationRunResult {
  replicated: string[];
  alreadyReplicated: string[];
  partial: string[];
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * RunReplicate hands its meta fetcher the registry without the "thanos_" prefix the other components
 * wrap it with, so replicate's fetcher series are blocks_meta_* (the bucket-replicate dashboard reads
 * blocks_meta_synced).
 */
function withoutThanosPrefix(m: Metrics): Metrics {
  const strip = (name: string) => name.replace(/^thanos_/, '');
  return {
    counter: (name, help, labels) => m.counter(strip(name), help, labels),
    gauge: (name, help, labels) => m.gauge(strip(name), help, labels),
    histogram: (name, help, labels, buckets) => m.histogram(strip(name), help, labels, buckets),
  };
}

export class Replicator {
  private readonly fetcher: MetaFetcher;
  private readonly compiled: CompiledMatcher[];
  private readonly m;

  constructor(private readonly o: ReplicatorOptions) {
    this.compiled = o.selection.matchers.map(compileMatcher);
    const filters: MetaFilter[] = [new TimePartitionFilter(o.minTime, o.maxTime)];
    if (o.ignoreMarkedForDeletion) filters.push(new DeletionMarkFilter(-1)); // every marked block (upstream delay 0; ms clock vs the mark's seconds)
    this.fetcher = new MetaFetcher(o.from, { filters, log: o.log, metrics: withoutThanosPrefix(o.metrics) });
    this.m = {
      alreadyReplicated: o.metrics.counter('thanos_replicate_blocks_already_replicated_total', 'Total number of blocks skipped due to already being replicated.'),
      blocksReplicated: o.metrics.counter('thanos_replicate_blocks_replicated_total', 'Total number of blocks replicated.'),
      objectsReplicated: o.metrics.counter('thanos_replicate_objects_replicated_total', 'Total number of objects replicated.'),
    };
    // Created at 0 so the dashboard's rate() has series before the first block is replicated.
    this.m.alreadyReplicated.inc(undefined, 0);
    this.m.blocksReplicated.inc(undefined, 0);
    this.m.objectsReplicated.inc(undefined, 0);
  }

  /** One replication run (scheme.execute): oldest blocks first, so the destination's compactor never sees a gap filled later. */
  async run(signal?: AbortSignal): Promise<ReplicationRunResult> {
    const res = await this.fetcher.fetch();
    const partial = [...res.partial].sort();
    for (const id of partial) this.o.log.info('block meta not uploaded yet. Skipping.', { block_uuid: id });
    for (const [id, err] of res.corrupted) this.o.log.warn('block meta unreadable. Skipping.', { block_uuid: id, err });
    const chosen = [...res.metas.values()].filter((m) => blockSelected(this.o.selection, this.compiled, m, this.o.log));
    chosen.sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
    const out: ReplicationRunResult = { replicated: [], alreadyReplicated: [], partial };
    for (const b of chosen) {
      signal?.throwIfAborted();
      this.o.log.info('adding block to be replicated', { block_uuid: b.ulid });
      try {
        if (await this.ensureBlockReplicated(b.ulid, signal)) out.replicated.push(b.ulid);
        else out.alreadyReplicated.push(b.ulid);
      } catch (err) {
        throw new Error(`ensure block ${b.ulid} is replicated: ${(err as Error).message}`, { cause: err });
      }
    }
    return out;
  }

  /** Returns false when the destination already had the block (byte-equal meta.json). */
  private async ensureBlockReplicated(id: string, signal?: AbortSignal): Promise<boolean> {
    const { from, to } = this.o;
    const metaFile = `${id}/meta.json`;
    const originMeta = await readAll(await from.get(metaFile));
    let targetMeta: Uint8Array | undefined;
    try {
      targetMeta = await readAll(await to.get(metaFile));
    } catch (err) {
      if (!to.isObjNotFoundErr(err)) throw new Error(`get meta file from target bucket: ${(err as Error).message}`, { cause: err });
    }
    if (targetMeta && sameBytes(originMeta, targetMeta)) {
      this.o.log.debug('skipping block as already replicated', { block_uuid: id });
      this.m.alreadyReplicated.inc();
      return false;
    }
    for await (const name of from.iter(`${id}/chunks`)) {
      signal?.throwIfAborted();
      await this.ensureObjectReplicated(name);
    }
    await this.ensureObjectReplicated(`${id}/index`);
    this.o.log.debug('replicating meta file', { object: metaFile });
    await to.upload(metaFile, originMeta);
    this.m.blocksReplicated.inc();
    return true;
  }

  private async ensureObjectReplicated(name: string): Promise<void> {
    const { from, to } = this.o;
    if (await to.exists(name)) {
      this.o.log.debug('skipping object as already replicated', { object: name });
      return;
    }
    // Streamed: a chunk file can be 512 MiB; the destination reads it as it arrives.
    await to.upload(name, await from.get(name));
    this.o.log.info('object replicated', { object: name });
    this.m.objectsReplicated.inc();
  }
}

/** The run counters and histogram of RunReplicate, with both result series created up front. */
export function replicationRunMetrics(metrics: Metrics) {
  const runs = metrics.counter('thanos_replicate_replication_runs_total', 'The number of replication runs split by success and error.', ['result']);
  const duration = metrics.histogram('thanos_replicate_replication_run_duration_seconds', 'The Duration of replication runs split by success and error.', ['result']);
  for (const result of ['success', 'error']) {
    runs.inc({ result }, 0);
    duration.init?.({ result });
  }
  return { runs, duration };
}
