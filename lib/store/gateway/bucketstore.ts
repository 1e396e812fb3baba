// The bucket store: the blocks the gateway serves (synced from object storage), and the StoreAPI
// operations over them: Series (postings → series → chunks with ranged GETs, resolution selection,
// aggregates, limits), LabelNames and LabelValues.
import type { Bucket, Core, Counter, Gauge, Histogram, Logger, Metrics } from '../../sdk/mod.ts';
import { DEFAULT_TENANT } from '../../query/tenancy.ts';
import { gateMetrics, type GateMetrics } from '../../query/gate.ts';
import { GrpcError, GrpcStatus } from '../../sdk/mod.ts';
import {
  compareLabels, compareStrings, compileMatcher, labelsFromRecord, labelsKey, MatcherError,
  type CompiledMatcher, type Label, type Labels, type Matcher,
} from '../../labels/mod.ts';
// Two aggregate numberings: the request's storepb.Aggr wire enum (RAW=0 COUNT=1 .. COUNTER=5) and the
// AggrChunk order of the downsampled data (lib/core/aggr.ts: count=0 .. counter=4); wire a is AggrChunk a - Aggr.COUNT.
import { Aggr, PartialResponseStrategy } from '../../proto/store.ts';
import { AGGR_NAMES } from '../../core/aggr.ts';
import type { BucketBlockMeta } from '../../tsdb/meta.ts';
import type { FetchResult, MetaFetcher } from '../blocksync/fetcher.ts';
import { forEachLimit } from '../blocksync/fetcher.ts';
import type { IndexCache } from '../indexcache/mod.ts';
import type { IndexReader, PostingsRange } from '../../tsdb/index.ts';
import { decodeIndexSeriesFields, decodeSeriesFields, SeriesFields } from '../../tsdb/index.ts';
import type { RawChunk } from '../../tsdb/chunks.ts';
import type { ChunkSource } from './chunkfetch.ts';
import { ReadBufferPool, ReadLease } from './readpool.ts';
import { doInSpan, iterateInSpan } from '../../tracing/mod.ts';

// ---------------------------------------------------------------------------------------------
// Request / response shapes (mirror thanos.SeriesRequest etc.; the gRPC layer converts). The storepb
// enums (Aggr, ChunkEncoding) are lib/proto/store.ts's.

export interface StoreChunk { type: number; data: Uint8Array }
export interface AggrChunkOut {
  minTime: number;
  maxTime: number;
  raw?: StoreChunk;
  count?: StoreChunk;
  sum?: StoreChunk;
  min?: StoreChunk;
  max?: StoreChunk;
  counter?: StoreChunk;
}
export interface SeriesOut { labels: Label[]; chunks: AggrChunkOut[] }

export interface SeriesReq {
  minTime: number;
  maxTime: number;
  matchers: Matcher[];
  maxResolutionWindow?: number;
  aggregates?: number[];
  skipChunks?: boolean;
  withoutReplicaLabels?: string[];
  limit?: number;
  /** Partial response disabled (or strategy ABORT): a block that cannot be read fails the request. */
  partialResponseDisabled?: boolean;
  partialResponseStrategy?: number;
}
export interface LabelsReq {
  start: number;
  end: number;
  matchers?: Matcher[];
  withoutReplicaLabels?: string[];
  limit?: number;
  partialResponseDisabled?: boolean;
  partialResponseStrategy?: number;
}
export interface LabelValuesReq extends LabelsReq { label: string }

export interface StoreLimits {
  /** Max series per Series call (0 = none). */
  seriesLimit: number;
  /** Max samples per Series call, enforced as chunks × 120 (0 = none). */
  samplesLimit: number;
  /** Max bytes fetched or touched per call (0 = none). */
  bytesLimit: number;
}

/** The logging the store needs (lib/sdk's Logger without with()). */
type StoreLogger = Omit<Logger, 'with'>;
export type StoreMetrics = Metrics;

/** Prometheus's ExponentialBuckets(start, factor, count). */
function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
const MiB = 1024 * 1024;
/** The per-request metrics' labels: one frozen object (a registry may key it once, see host/metrics.ts). */
const TENANT_LABELS: Readonly<Record<string, string>> = Object.freeze({ tenant: DEFAULT_TENANT });
const DATA_TYPES = ['postings', 'series', 'chunks'] as const;
/** The data_type histograms' labels, one frozen object per data type (not a fresh object per call and type). */
const DATA_TYPE_LABELS: Readonly<Record<(typeof DATA_TYPES)[number], Readonly<Record<string, string>>>> = Object.freeze({
  postings: Object.freeze({ data_type: 'postings', tenant: DEFAULT_TENANT }),
  series: Object.freeze({ data_type: 'series', tenant: DEFAULT_TENANT }),
  chunks: Object.freeze({ data_type: 'chunks', tenant: DEFAULT_TENANT }),
});
const DURATION_BUCKETS = [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120];

/**
 * Thanos's bucket store metrics (pkg/store/bucket.go newBucketStoreMetrics), the ones this store
 * has a meaning for. Per-request histograms carry `tenant`: the gateway has no tenancy, so Thanos's
 * default tenant.
 */
class BucketStoreMetrics {
  readonly loads: Counter;
  readonly loadFailures: Counter;
  readonly drops: Counter;
  readonly dropFailures: Counter;
  readonly blocksLoaded: Gauge;
  readonly lastLoaded: Gauge;
  readonly loadDuration: Histogram;
  readonly dataTouched: Histogram;
  readonly dataFetched: Histogram;
  readonly dataSizeTouched: Histogram;
  readonly dataSizeFetched: Histogram;
  readonly blocksQueried: Histogram;
  readonly getAllDuration: Histogram;
  readonly mergeDuration: Histogram;
  readonly resultSeries: Histogram;
  readonly chunkSize: Histogram;
  readonly queriesDropped: Counter;

  constructor(m: Metrics) {
    this.loads = m.counter('thanos_bucket_store_block_loads_total', 'Total number of remote block loading attempts.');
    this.loadFailures = m.counter('thanos_bucket_store_block_load_failures_total', 'Total number of failed remote block loading attempts.');
    this.drops = m.counter('thanos_bucket_store_block_drops_total', 'Total number of local blocks that were dropped.');
    this.dropFailures = m.counter('thanos_bucket_store_block_drop_failures_total', 'Total number of local blocks that failed to be dropped.');
    this.blocksLoaded = m.gauge('thanos_bucket_store_blocks_loaded', 'Number of currently loaded blocks.');
    this.lastLoaded = m.gauge('thanos_bucket_store_blocks_last_loaded_timestamp_seconds', 'Timestamp when last block got loaded.');
    this.loadDuration = m.histogram('thanos_bucket_store_block_load_duration_seconds', 'The total time taken to load a block in seconds.', [], [0.1, 0.2, 0.5, 1, 2, 5, 15, 30, 60, 90, 120, 300]);
    this.dataTouched = m.histogram('thanos_bucket_store_series_data_touched', 'Number of items of a data type touched to fulfill a single Store API series request.', ['data_type', 'tenant'], exponentialBuckets(200, 2, 15));
    this.dataFetched = m.histogram('thanos_bucket_store_series_data_fetched', 'Number of items of a data type retrieved to fulfill a single Store API series request.', ['data_type', 'tenant'], exponentialBuckets(200, 2, 15));
    this.dataSizeTouched = m.histogram('thanos_bucket_store_series_data_size_touched_bytes', 'Total size of items of a data type touched to fulfill a single Store API series request in Bytes.', ['data_type', 'tenant'], exponentialBuckets(1024, 2, 15));
    this.dataSizeFetched = m.histogram('thanos_bucket_store_series_data_size_fetched_bytes', 'Total size of items of a data type fetched to fulfill a single Store API series request in Bytes.', ['data_type', 'tenant'], exponentialBuckets(1024, 2, 15));
    this.blocksQueried = m.histogram('thanos_bucket_store_series_blocks_queried', 'Number of blocks in a bucket store that were touched to satisfy a query.', ['tenant'], exponentialBuckets(1, 2, 10));
    this.getAllDuration = m.histogram('thanos_bucket_store_series_get_all_duration_seconds', 'Time it takes until all per-block prepares and loads for a query are finished.', ['tenant'], DURATION_BUCKETS);
    this.mergeDuration = m.histogram('thanos_bucket_store_series_merge_duration_seconds', 'Time it takes to merge sub-results from all queried blocks into a single result.', ['tenant'], DURATION_BUCKETS);
    this.resultSeries = m.histogram('thanos_bucket_store_series_result_series', 'Number of series observed in the final result of a query.', ['tenant'], exponentialBuckets(100, 2, 15));
    this.chunkSize = m.histogram('thanos_bucket_store_sent_chunk_size_bytes', 'Size in bytes of the chunks for the single series, which is adequate to the gRPC message size sent to querier.', ['tenant'],
      [32, 256, 512, 1024, 32 * 1024, 256 * 1024, 512 * 1024, MiB, 32 * MiB, 256 * MiB, 512 * MiB]);
    this.queriesDropped = m.counter('thanos_bucket_store_queries_dropped_total', 'Number of queries that were dropped due to the limit.', ['reason', 'tenant']);
  }

  /** One Series call's statistics, as Thanos observes them when the call ends. */
  observe(st: SeriesStats): void {
    for (const t of DATA_TYPES) {
      const l = DATA_TYPE_LABELS[t];
      this.dataTouched.observe(st[t].touched, l);
      this.dataFetched.observe(st[t].fetched, l);
      this.dataSizeTouched.observe(st[t].touchedBytes, l);
      this.dataSizeFetched.observe(st[t].fetchedBytes, l);
    }
    this.resultSeries.observe(st.mergedSeries, TENANT_LABELS);
    this.blocksQueried.observe(st.blocksQueried, TENANT_LABELS);
    this.getAllDuration.observe(st.getAllSeconds, TENANT_LABELS);
    this.mergeDuration.observe(st.mergeSeconds, TENANT_LABELS);
  }
}

interface DataStats { touched: number; fetched: number; touchedBytes: number; fetchedBytes: number }
/** Per Series call: items touched (from the cache or the bucket) and fetched (from the bucket). */
interface SeriesStats {
  postings: DataStats;
  series: DataStats;
  chunks: DataStats;
  blocksQueried: number;
  mergedSeries: number;
  getAllSeconds: number;
  mergeSeconds: number;
}
function newSeriesStats(): SeriesStats {
  const d = (): DataStats => ({ touched: 0, fetched: 0, touchedBytes: 0, fetchedBytes: 0 });
  return { postings: d(), series: d(), chunks: d(), blocksQueried: 0, mergedSeries: 0, getAllSeconds: 0, mergeSeconds: 0 };
}

/** Bytes of a series' chunks as sent (every aggregate's data). */
function sentChunkBytes(chunks: readonly AggrChunkOut[]): number {
  let n = 0;
  for (const c of chunks) n += (c.raw?.data.byteLength ?? 0) + (c.count?.data.byteLength ?? 0) + (c.sum?.data.byteLength ?? 0)
    + (c.min?.data.byteLength ?? 0) + (c.max?.data.byteLength ?? 0) + (c.counter?.data.byteLength ?? 0);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Blocks

export interface OpenedBlock {
  index: IndexReader;
  chunks: ChunkSource;
  close?(): Promise<void>;
}

/** Opens a block's index (from a local index-header or the bucket) and chunk reader. */
export type BlockOpener = (meta: BucketBlockMeta) => Promise<OpenedBlock>;

export class Block {
  readonly extLabels: Labels;
  readonly extKey: string;
  readonly resolution: number;
  /** Average bytes of one of the block's chunk records (what a Series batch's memory is budgeted in). */
  readonly chunkBytes: number;
  constructor(readonly meta: BucketBlockMeta, readonly index: IndexReader, readonly chunks: ChunkSource, readonly closeFn?: () => Promise<void>) {
    this.extLabels = labelsFromRecord(meta.thanos.labels);
    this.extKey = labelsKey(this.extLabels);
    this.resolution = meta.thanos.downsample.resolution;
    this.chunkBytes = averageChunkBytes(meta);
  }
  get id(): string {
    return this.meta.ulid;
  }
  /**
   * Label objects by value symbol index: a value symbol almost always occurs under one label name,
   * so one array slot per symbol finds the pair without a map lookup (two Map lookups per label
   * were the largest cost of decoding a cached series entry). A value seen under a second name
   * keeps its pairs in `pairs` (name symbol index, then value symbol index).
   */
  private byValue?: Array<Label | undefined>;
  private readonly pairs = new Map<number, Map<number, Label>>();
  /**
   * One shared Label object per (name, value) symbol pair of the block: series entries decoded from
   * the index cache reuse them instead of allocating a label object per label per series per
   * request. Bounded by the block's label pairs (its postings offset table holds as many entries).
   */
  labelPair(nameIdx: number, valueIdx: number, symbols: readonly string[]): Label | undefined {
    let arr = this.byValue;
    if (arr === undefined && symbols.length <= MAX_PAIR_ARRAY) arr = this.byValue = new Array(symbols.length);
    const l = arr?.[valueIdx];
    // The name symbol is the same string object as the label's name: an identity check.
    if (l !== undefined && l.name === symbols[nameIdx]) return l;
    return this.pairSlow(nameIdx, valueIdx, symbols, arr);
  }
  private pairSlow(nameIdx: number, valueIdx: number, symbols: readonly string[], arr: Array<Label | undefined> | undefined): Label | undefined {
    let byValue = this.pairs.get(nameIdx);
    let l = byValue?.get(valueIdx);
    if (l !== undefined) return l;
    const name = symbols[nameIdx];
    const value = symbols[valueIdx];
    if (name === undefined || value === undefined) return undefined;
    l = { name, value };
    // The array holds the value's first name seen (and only the array: a Map entry as well cost
    // ~40 bytes of live heap per pair, 240k pairs in a Series call over 24 blocks of 10k series
    // with a unique label each); other names stay in the maps.
    if (arr !== undefined && arr[valueIdx] === undefined) arr[valueIdx] = l;
    else {
      if (byValue === undefined) this.pairs.set(nameIdx, (byValue = new Map()));
      byValue.set(valueIdx, l);
    }
    return l;
  }
  overlaps(mint: number, maxt: number): boolean {
    // Block intervals are half-open [minTime, maxTime).
    return this.meta.maxTime > mint && this.meta.minTime <= maxt;
  }
}

/** Blocks with more symbols than this find label pairs through the maps only (the array would take 8 bytes per symbol). */
const MAX_PAIR_ARRAY = 1 << 20;

/** Assumed when a block's meta does not give its chunk files' sizes: a full XOR chunk of 120 irregular samples. */
const DEFAULT_CHUNK_BYTES = 1024;

/** The chunk segment files' total size (meta.json thanos.files) over stats.numChunks. */
export function averageChunkBytes(meta: BucketBlockMeta): number {
  let bytes = 0;
  for (const f of meta.thanos.files ?? []) if (f.rel_path.startsWith('chunks/') && typeof f.size_bytes === 'number') bytes += f.size_bytes;
  const n = meta.stats?.numChunks ?? 0;
  return bytes > 0 && n > 0 ? Math.max(1, bytes / n) : DEFAULT_CHUNK_BYTES;
}

/** Matchers on external labels are decided per block; the rest go to the index. null = block excluded. */
export function splitExtMatchers(ext: Labels, ms: readonly CompiledMatcher[]): CompiledMatcher[] | null {
  const rest: CompiledMatcher[] = [];
  for (const m of ms) {
    const l = ext.find((x) => x.name === m.name);
    if (l === undefined) rest.push(m);
    else if (!m.matches(l.value)) return null;
  }
  return rest;
}

const RESOLUTIONS = [3_600_000, 300_000, 0];

/** Series entries a page of one block holds: at most, at least, and the request's total over its blocks. */
const MAX_PAGE_SERIES = 1024;
const MIN_PAGE_SERIES = 64;
// 8k: a broad query over 24 blocks reads pages of 341 entries, which mostly die young; pages of 1024
// (a 32k budget) outlived scavenges and were promoted (peak RSS 6-23 MiB higher: the A/B in the commit that set 8k).
const PAGE_SERIES_BUDGET = 8 * 1024;

/**
 * BucketStoreOptions.batchBytes's default. 1 MiB (was 4): the broad all-blocks Series call of the
 * store bench (24 blocks x 10k series) peaked at 227-238 MiB RSS instead of 247-275 (2 MiB: 236-249),
 * thanos store from dist/ with pooled chunk reads, load 12-21, store CPU within the noise (cold
 * 10.1-13.5 s vs 10.8-11.9). The price is GETs: a batch over many blocks reads each block's part in
 * its own GET, ~43 KiB per block over 24 blocks (4x the GETs of 4 MiB). An instant query's batch is
 * bounded by its 1000 series first.
 */
const DEFAULT_BATCH_BYTES = 1 << 20;

/**
 * Thanos's getFor: the blocks of the coarsest resolution ≤ maxRes overlapping [mint, maxt], gaps
 * filled recursively with finer resolutions. `byRes` maps resolution → blocks sorted by minTime.
 */
export function blocksFor(byRes: Map<number, Block[]>, mint: number, maxt: number, maxRes: number): Block[] {
  if (mint > maxt) return [];
  let i = 0;
  while (i < RESOLUTIONS.length && RESOLUTIONS[i]! > maxRes) i++;
  if (i === RESOLUTIONS.length) return [];
  const bs: Block[] = [];
  for (const b of byRes.get(RESOLUTIONS[i]!) ?? []) {
    if (b.meta.maxTime <= mint) continue;
    if (b.meta.minTime > maxt) break;
    bs.push(b);
  }
  if (i === RESOLUTIONS.length - 1) return bs;
  const finer = RESOLUTIONS[i + 1]!;
  if (bs.length === 0) return blocksFor(byRes, mint, maxt, finer);
  const out: Block[] = [];
  let cursor = mint;
  for (const b of bs) {
    if (b.meta.minTime > cursor) out.push(...blocksFor(byRes, cursor, b.meta.minTime - 1, finer));
    out.push(b);
    cursor = Math.max(cursor, b.meta.maxTime);
  }
  if (cursor <= maxt) out.push(...blocksFor(byRes, cursor, maxt, finer));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Series entries in the index cache: the entry's body as the index holds it (labels as symbol
// references of the block, whose symbols never change; delta-coded chunk metas; no length, no CRC),
// the bytes Thanos's store gateway caches under the same key.

/**
 * A series entry as a block cursor uses it: its labels, and only the chunks overlapping the
 * request's [mint, maxt], packed as ref, minTime, maxTime per chunk (undefined: none overlap).
 */
interface RangeEntry { block: Block; labels: Label[]; raw: Label[]; chunks: number[] | undefined }

/** The fields of the cached entry being decoded (decoding is synchronous: one entry at a time). */
const fields = new SeriesFields();

/**
 * A series entry (its fields decoded in f) for a request: labels as the block's shared label pairs,
 * only the chunks overlapping [mint, maxt] (an instant query keeps one of a series' chunks per
 * block). Undefined when a symbol reference is not the block's.
 */
function rangeEntry(f: SeriesFields, block: Block, mint: number, maxt: number): RangeEntry | undefined {
  const symbols = block.index.symbols;
  const nl = f.nLabels;
  const lr = f.labelRefs;
  const labels: Label[] = new Array(nl);
  for (let i = 0; i < nl; i++) {
    const l = block.labelPair(lr[2 * i]!, lr[2 * i + 1]!, symbols);
    if (l === undefined) return undefined;
    labels[i] = l;
  }
  const c = f.chunks;
  let chunks: number[] | undefined;
  for (let i = 0; i < 3 * f.nChunks; i += 3) {
    const minTime = c[i + 1]!;
    const maxTime = c[i + 2]!;
    if (maxTime < mint || minTime > maxt) continue;
    // Usually one chunk: an exact-size literal (a push onto [] would reserve room for 17 numbers).
    if (chunks === undefined) chunks = [c[i]!, minTime, maxTime];
    else chunks.push(c[i]!, minTime, maxTime);
  }
  return { block, labels, raw: labels, chunks };
}

/**
 * A cached series entry decoded for a request (rangeEntry). Undefined when the bytes are not an
 * entry of this block: not the format, a symbol reference out of range, or label names not in the
 * index's order (an entry another writer left under the key is refetched, not misread).
 */
function decodeCachedEntry(b: Uint8Array, block: Block, mint: number, maxt: number): RangeEntry | undefined {
  try {
    decodeSeriesFields(b, 0, b.length, fields);
  } catch {
    return undefined;
  }
  const lr = fields.labelRefs;
  for (let i = 2; i < 2 * fields.nLabels; i += 2) if (lr[i]! <= lr[i - 2]!) return undefined;
  return rangeEntry(fields, block, mint, maxt);
}

/**
 * Routes a block index's postings-list reads through the index cache (item type Postings): lists
 * found in the cache are not read from the bucket; the rest are read (neighbours coalesced as
 * before) and stored.
 */
export function cachePostings(index: IndexReader, blockId: string, cache: IndexCache): void {
  const read = index.readPostingsRanges.bind(index);
  index.readPostingsRanges = async (name: string, ranges: readonly PostingsRange[]): Promise<Uint32Array[]> => {
    if (ranges.length === 0) return [];
    const keys = ranges.map((r) => ({ name, value: r.value }));
    const hits = await cache.fetchPostings(blockId, keys);
    const out: Uint32Array[] = new Array(ranges.length);
    const missing: PostingsRange[] = [];
    const missIdx: number[] = [];
    keys.forEach((k, i) => {
      const b = hits.get(k);
      if (b && b.byteLength % 4 === 0) out[i] = decodeRefs(b);
      else {
        missing.push(ranges[i]!);
        missIdx.push(i);
      }
    });
    if (missing.length) {
      const lists = await read(name, missing);
      lists.forEach((l, j) => {
        out[missIdx[j]!] = l;
        cache.storePostings(blockId, { name, value: missing[j]!.value }, encodeRefs(l));
      });
    }
    return out;
  };
}

function encodeRefs(refs: Uint32Array): Uint8Array {
  return new Uint8Array(refs.buffer.slice(refs.byteOffset, refs.byteOffset + refs.byteLength));
}
function decodeRefs(b: Uint8Array): Uint32Array {
  const copy = b.slice();
  return new Uint32Array(copy.buffer, 0, copy.byteLength >> 2);
}

// ---------------------------------------------------------------------------------------------
// Aggregate chunks (encoding 0xFF): for each of count, sum, min, max, counter:
// uvarint(len) [encoding byte, len bytes of chunk data]; absent = uvarint 0.

function uvarint(b: Uint8Array, p: number): [number, number] {
  let x = 0;
  let s = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= b.length) throw new Error('truncated uvarint');
    const c = b[p++]!;
    x += (c & 0x7f) * s;
    if (c < 0x80) return [x, p];
    s *= 128;
  }
  throw new Error('uvarint overflow');
}

/** Splits an AggrChunk record into its 5 sub-chunks (undefined when absent). */
export function splitAggrChunk(data: Uint8Array): Array<{ encoding: number; data: Uint8Array } | undefined> {
  const out: Array<{ encoding: number; data: Uint8Array } | undefined> = [];
  let p = 0;
  for (let i = 0; i < 5; i++) {
    if (p >= data.length) {
      out.push(undefined);
      continue;
    }
    const [len, q] = uvarint(data, p);
    if (len === 0) {
      out.push(undefined);
      p = q;
      continue;
    }
    if (q + 1 + len > data.length) throw new Error(`aggregate chunk truncated (aggregate ${AGGR_NAMES[i]})`);
    out.push({ encoding: data[q]!, data: data.subarray(q + 1, q + 1 + len) });
    p = q + 1 + len;
  }
  return out;
}

function storeEncoding(promEnc: number): number {
  // Prometheus chunkenc: XOR=1, Histogram=2, FloatHistogram=3 → storepb XOR=0, HISTOGRAM=1, FLOAT_HISTOGRAM=2.
  if (promEnc >= 1 && promEnc <= 3) return promEnc - 1;
  throw new Error(`unsupported chunk encoding ${promEnc}`);
}

/** The chunk as sent: a raw chunk as is, an aggregate chunk as the requested aggregates. */
function chunkOut(minTime: number, maxTime: number, raw: RawChunk, aggrs: readonly number[], blockId: string): AggrChunkOut {
  // One object literal of its final shape (adding raw afterwards cost a property-store allocation per chunk).
  if (raw.encoding !== 0xff) return { minTime, maxTime, raw: { type: storeEncoding(raw.encoding), data: raw.data } };
  const out: AggrChunkOut = { minTime, maxTime };
  const parts = splitAggrChunk(raw.data);
  for (const a of aggrs) {
    if (a < Aggr.COUNT || a > Aggr.COUNTER) continue;
    const k = a - Aggr.COUNT; // the AggrChunk index (lib/core/aggr.ts numbering)
    const part = parts[k];
    if (!part) throw new GrpcError(GrpcStatus.Internal, `aggregate ${AGGR_NAMES[k]} does not exist (block ${blockId})`);
    out[AGGR_NAMES[k]!] = { type: storeEncoding(part.encoding), data: part.data };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

export class LimitError extends GrpcError {
  constructor(message: string) {
    super(GrpcStatus.ResourceExhausted, message);
    this.name = 'LimitError';
  }
}

/** Per-request accounting against the limits, and the request's statistics (its metrics). */
class RequestLimiter {
  series = 0;
  chunks = 0;
  bytes = 0;
  readonly stats = newSeriesStats();
  constructor(private readonly l: StoreLimits, private readonly dropped?: Counter) {}
  private droppedCounted = false;
  /**
   * A limit ended the request: counted once per request (blocks checked concurrently may each hit
   * it) as thanos_bucket_store_queries_dropped_total{reason}, like upstream's limiter.
   */
  private drop(reason: 'series' | 'chunks' | 'bytes', message: string): LimitError {
    if (!this.droppedCounted) {
      this.droppedCounted = true;
      this.dropped?.inc({ reason, tenant: DEFAULT_TENANT });
    }
    return new LimitError(message);
  }
  addSeries(n: number): void {
    this.series += n;
    if (this.l.seriesLimit > 0 && this.series > this.l.seriesLimit) throw this.drop('series', `exceeded series limit: limit ${this.l.seriesLimit} violated (got ${this.series}); narrow the matchers or the time range, or raise --store.limits.request-series`);
  }
  /** A lower bound on the series a request returns (one block's worth): fail early when over. */
  checkSeriesCount(n: number): void {
    if (this.l.seriesLimit > 0 && n > this.l.seriesLimit) throw this.drop('series', `exceeded series limit: limit ${this.l.seriesLimit} violated (got at least ${n}); narrow the matchers or the time range, or raise --store.limits.request-series`);
  }
  checkChunkCount(n: number): void {
    if (this.l.samplesLimit > 0 && n * 120 > this.l.samplesLimit) throw this.drop('chunks', `exceeded samples limit: limit ${this.l.samplesLimit} violated (got at least ${n * 120} samples in ${n} chunks, counted as 120 samples each); narrow the query or raise --store.limits.request-samples`);
  }
  addChunks(n: number): void {
    this.chunks += n;
    if (this.l.samplesLimit > 0 && this.chunks * 120 > this.l.samplesLimit) throw this.drop('chunks', `exceeded samples limit: limit ${this.l.samplesLimit} violated (got at least ${this.chunks * 120} samples in ${this.chunks} chunks, counted as 120 samples each); narrow the query or raise --store.limits.request-samples`);
  }
  addBytes(n: number): void {
    this.bytes += n;
    if (this.l.bytesLimit > 0 && this.bytes > this.l.bytesLimit) throw this.drop('bytes', `exceeded bytes limit: limit ${this.l.bytesLimit} violated (fetched or touched ${this.bytes} bytes); narrow the query or raise --store.grpc.downloaded-bytes-limit`);
  }
}

/**
 * A simple FIFO semaphore (the Series concurrency gate), with Thanos's gate metrics
 * (thanos_bucket_store_series_gate_queries_{max,total,in_flight,duration_seconds}).
 */
class Gate {
  private active = 0;
  private waiters: Array<() => void> = [];
  constructor(private readonly max: number, private readonly metrics?: GateMetrics) {}
  async acquire(signal?: AbortSignal): Promise<() => void> {
    const m = this.metrics;
    m?.total.inc();
    const waitStart = performance.now();
    try {
      await this.wait(signal);
    } finally {
      m?.duration.observe((performance.now() - waitStart) / 1000);
    }
    this.active++;
    m?.inFlight.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      m?.inFlight.dec();
      this.waiters.shift()?.();
    };
  }
  private async wait(signal?: AbortSignal): Promise<void> {
    if (this.active >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const w = () => resolve();
        this.waiters.push(w);
        signal?.addEventListener('abort', () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new GrpcError(GrpcStatus.Cancelled, 'request cancelled while waiting for the series concurrency gate'));
        }, { once: true });
      });
    }
  }
}

/** A block's data could not be read (missing or corrupt files, I/O): Internal when it fails a request. */
export class BlockReadError extends GrpcError {
  constructor(message: string) {
    super(GrpcStatus.Internal, message);
    this.name = 'BlockReadError';
  }
}

/**
 * One request's blocks that cannot be read. With partial response allowed (Thanos's WARN, the
 * default) a block's failure becomes a warning naming it and the block is left out of the rest of
 * the answer; with it disabled (ABORT) the request fails with an error naming the block, as
 * Thanos's bucket store fails a Series call on any block error. Request errors (limits,
 * cancellation, bad arguments: GrpcErrors) are never turned into warnings.
 */
class BlockFailures {
  readonly failed = new Set<string>();
  constructor(private readonly strict: boolean, private readonly warn?: (msg: string) => void) {}

  static of(req: { partialResponseDisabled?: boolean; partialResponseStrategy?: number }, warn?: (msg: string) => void): BlockFailures {
    return new BlockFailures(req.partialResponseDisabled === true || req.partialResponseStrategy === PartialResponseStrategy.ABORT, warn);
  }

  /** A block that failed while being read for this request. */
  add(id: string, what: string, e: unknown): void {
    if (e instanceof BlockReadError) return this.report(id, e.message);
    if (e instanceof GrpcError) throw e;
    this.report(id, `block ${id}: ${what}: ${(e as Error).message}`);
  }

  /**
   * A block known not to be servable (it failed to load). `mayAbort: false` for a block whose range
   * is unknown (unusable meta.json): it would fail every strict request, whatever its time range,
   * so under ABORT it is skipped as Thanos's meta fetcher skips a corrupted meta (logged and
   * counted in thanos_blocks_meta_synced{state="corrupted-meta-json"}), and only warned about.
   */
  report(id: string, msg: string, mayAbort = true): void {
    if (this.failed.has(id)) return;
    this.failed.add(id);
    if (this.strict) {
      if (!mayAbort) return;
      throw new GrpcError(GrpcStatus.Aborted, `${msg} (partial response is disabled)`);
    }
    this.warn?.(`${msg}; the answer leaves this block's data out`);
  }
}

/**
 * A block's series as the merge sees it: the series entry (RangeEntry) itself, its labels made
 * final (external labels added) by its cursor. One object per series from decoding to emit.
 */
interface BlockSeries {
  block: Block;
  /** Final labels (the series' and the block's external labels). */
  labels: Label[];
  /** The series' own labels, as in the index. */
  raw: Label[];
  /** Chunk metas inside the request range, packed: ref, minTime, maxTime per chunk (a plain array: small typed arrays cost more to the GC). */
  chunks: number[];
}

function compileAll(ms: readonly Matcher[]): CompiledMatcher[] {
  try {
    // Set matchers (a|b|c) in index (byte-wise) order, so postings reads go in file order.
    return ms.map((m) => {
      const c = compileMatcher(m);
      c.setMatches?.sort(compareStrings);
      return c;
    });
  } catch (e) {
    if (e instanceof MatcherError) throw new GrpcError(GrpcStatus.InvalidArgument, `invalid matcher: ${e.message}`);
    throw new GrpcError(GrpcStatus.InvalidArgument, `invalid matcher: ${(e as Error).message}`);
  }
}

function matchersKey(ms: readonly CompiledMatcher[]): string {
  return ms.map((m) => `${m.name}${m.type}${JSON.stringify(m.value)}`).sort().join(',');
}

/** Series labels plus external labels (external win on conflict); without_replica_labels drops external labels (as Thanos does). */
function finalLabels(series: Labels, ext: Labels, without: ReadonlySet<string>): Label[] {
  // At most every label of both (a push onto [] would reserve 16 slots per series).
  const out: Label[] = new Array(series.length + ext.length);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < series.length || j < ext.length) {
    const a = series[i];
    const b = ext[j];
    if (b === undefined || (a !== undefined && compareStrings(a.name, b.name) < 0)) { out[n++] = a!; i++; continue; }
    if (a !== undefined && a.name === b.name) i++;
    j++;
    if (!without.has(b.name)) out[n++] = b;
  }
  if (n < out.length) out.length = n;
  return out;
}

function isPrefix(a: Labels, b: Labels): boolean {
  if (a.length >= b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.name !== b[i]!.name || a[i]!.value !== b[i]!.value) return false;
  return true;
}

function sortIfNeeded(xs: BlockSeries[]): void {
  for (let i = 1; i < xs.length; i++) {
    if (compareLabels(xs[i - 1]!.labels, xs[i]!.labels) > 0) {
      xs.sort((a, b) => compareLabels(a.labels, b.labels));
      return;
    }
  }
}

/**
 * One block's matching series, streamed in final-label order a page of series entries at a time
 * (the next page is read while this one is consumed). Index order is raw-label order; adding the
 * block's constant external labels keeps it, except that a series whose labels are a prefix of
 * following series' labels may move after them. Such a series and its contiguous extensions are
 * held and sorted together. When an external label name also occurs in the block's own series
 * (so it overrides values), the whole block is read and sorted instead.
 */
class BlockCursor {
  private ready: BlockSeries[] = [];
  private pos = 0;
  private page = 0;
  private pending?: Promise<RangeEntry[]>;
  /** A series held with its contiguous extensions, and the first one's raw labels (what they extend). */
  private group: BlockSeries[] = [];
  private groupRaw: Labels = [];
  private exhausted = false;
  private readonly fullSort: boolean;

  constructor(
    private readonly load: (refs: Uint32Array) => Promise<RangeEntry[]>,
    private readonly block: Block,
    private readonly refs: Uint32Array,
    private readonly without: ReadonlySet<string>,
    private readonly pageSize: number,
  ) {
    const names = new Set(block.index.postingsOffsets.labelNames());
    this.fullSort = block.extLabels.some((l) => names.has(l.name));
  }

  /** The current series; null when the next page must be loaded first (call fill()); undefined at the end. */
  peek(): BlockSeries | undefined | null {
    if (this.pos < this.ready.length) return this.ready[this.pos]!;
    return this.exhausted ? undefined : null;
  }

  advance(): void {
    (this.ready as Array<BlockSeries | undefined>)[this.pos] = undefined;
    this.pos++;
  }

  private startLoad(): void {
    const from = this.page * this.pageSize;
    if (from >= this.refs.length) {
      this.pending = undefined;
      return;
    }
    this.page++;
    this.pending = this.load(this.refs.subarray(from, Math.min(this.refs.length, from + this.pageSize)));
    this.pending.catch(() => {}); // awaited in fill(); avoid an unhandled rejection if the request ends first
  }

  /** The entry as the merge's series (the same object, its labels made final); undefined without chunks in range. */
  private pack(e: RangeEntry): BlockSeries | undefined {
    if (!e.chunks) return undefined;
    e.labels = finalLabels(e.raw, this.block.extLabels, this.without);
    return e as BlockSeries;
  }

  private flushGroup(out: BlockSeries[]): void {
    if (this.group.length === 1) out.push(this.group[0]!);
    else if (this.group.length > 1) {
      sortIfNeeded(this.group);
      out.push(...this.group);
    }
    this.group.length = 0; // reused: no array per series
  }

  /** Loads pages until a series is ready or the block is exhausted. */
  async fill(): Promise<void> {
    if (this.page === 0 && !this.pending) this.startLoad();
    const out: BlockSeries[] = [];
    while (out.length === 0 && this.more()) {
      const entries = await this.pending!;
      this.startLoad();
      for (const e of entries) {
        const s = this.pack(e);
        if (!s) continue;
        if (this.fullSort) { out.push(s); continue; }
        if (this.group.length > 0 && !isPrefix(this.groupRaw, e.raw)) this.flushGroup(out);
        if (this.group.length === 0) this.groupRaw = e.raw;
        this.group.push(s);
      }
      if (this.fullSort && this.more()) { this.ready.push(...out); out.length = 0; continue; }
      if (!this.more()) this.flushGroup(out);
    }
    let next = out;
    if (this.fullSort) {
      next = this.ready.slice(this.pos).concat(out);
      sortIfNeeded(next);
    }
    this.ready = next;
    this.pos = 0;
    if (!this.more() && this.group.length === 0) this.exhausted = true;
  }

  private more(): boolean {
    return this.pending !== undefined;
  }
}

export interface BucketStoreOptions {
  core: Core;
  fetcher: MetaFetcher;
  open: BlockOpener;
  indexCache?: IndexCache;
  limits?: Partial<StoreLimits>;
  blockSyncConcurrency?: number;
  seriesMaxConcurrency?: number;
  /** [min, max] time served (ms); recomputed by the caller for relative values. */
  timeRange?: () => { minTime: number; maxTime: number };
  log?: StoreLogger;
  metrics?: StoreMetrics;
  /** Called when a block is dropped (e.g. to remove its local index-header). */
  onDrop?: (id: string) => Promise<void>;
  /** Series per chunk-fetch batch (bounds memory of a broad query). */
  batchSeries?: number;
  /** Chunks per chunk-fetch batch. */
  batchChunks?: number;
  /**
   * Estimated chunk bytes per chunk-fetch batch (each block's average chunk size × its chunks in the
   * batch). A Series call holds at most two batches (one being fetched, one being sent), so this,
   * not the result's size, bounds its chunk memory.
   */
  batchBytes?: number;
  /**
   * Series entries read per page of a block (bounds per-block memory while streaming); default
   * 1024, fewer when a request spans more than 32 blocks (a budget of 32k entries shared by them).
   */
  pageSeries?: number;
  /** Ranged chunk reads closer than this are merged. */
  chunkGapBytes?: number;
  /** Free chunk read buffers kept for transient Series streams (readpool.ts; default 32 MiB). */
  readPoolBytes?: number;
}

/** How a caller consumes seriesBatches. */
export interface SeriesBatchOptions {
  /**
   * The caller is done with a batch's chunks when it resumes the stream (lib/store/api.ts
   * SeriesStreamOptions.transient): they then view pooled read buffers, reused afterwards.
   */
  transient?: boolean;
}

export class BucketStore {
  readonly blocks = new Map<string, Block>();
  /** Ext-label-set key → resolution → blocks sorted by minTime. */
  private sets = new Map<string, { labels: Labels; byRes: Map<number, Block[]> }>();
  lastSync?: FetchResult;
  lastSyncAt?: Date;
  lastSyncError?: string;
  readonly loadFailures = new Map<string, string>();
  /** Metas of the blocks in loadFailures (their time range and labels decide which requests they touch). */
  private readonly failedMetas = new Map<string, BucketBlockMeta>();
  private readonly limits: StoreLimits;
  private readonly gate: Gate;
  private readonly log?: StoreLogger;
  private readonly m?: BucketStoreMetrics;
  private syncing?: Promise<void>;
  readonly stats = { chunkBytesFetched: 0, seriesReturned: 0, chunksReturned: 0 };
  /** Chunk read buffers of transient Series streams. */
  readonly readPool: ReadBufferPool;

  constructor(readonly bucket: Bucket, private readonly opts: BucketStoreOptions) {
    this.readPool = new ReadBufferPool(opts.readPoolBytes);
    this.limits = { seriesLimit: 0, samplesLimit: 0, bytesLimit: 0, ...opts.limits };
    const maxConcurrency = opts.seriesMaxConcurrency ?? 20;
    this.gate = new Gate(maxConcurrency, opts.metrics ? gateMetrics(opts.metrics, 'thanos_bucket_store_series_', 'queries', maxConcurrency) : undefined);
    this.log = opts.log;
    if (opts.metrics) this.m = new BucketStoreMetrics(opts.metrics);
  }

  /** One sync: fetch metas, load new blocks, drop vanished ones. Concurrent callers share a run. */
  sync(): Promise<void> {
    if (!this.syncing) this.syncing = this.doSync().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async doSync(): Promise<void> {
    let res: FetchResult;
    try {
      res = await this.opts.fetcher.fetch();
    } catch (e) {
      this.lastSyncError = (e as Error).message;
      throw e;
    }
    this.lastSync = res;
    const toLoad = [...res.metas.values()].filter((m) => !this.blocks.has(m.ulid));
    await forEachLimit(toLoad, this.opts.blockSyncConcurrency ?? 20, async (meta) => {
      this.m?.loads.inc();
      const start = performance.now();
      try {
        const o = await this.opts.open(meta);
        if (this.opts.indexCache) cachePostings(o.index, meta.ulid, this.opts.indexCache);
        this.blocks.set(meta.ulid, new Block(meta, o.index, o.chunks, o.close?.bind(o)));
        this.loadFailures.delete(meta.ulid);
        this.failedMetas.delete(meta.ulid);
        this.m?.loadDuration.observe((performance.now() - start) / 1000);
        this.m?.lastLoaded.set(Date.now() / 1000);
      } catch (e) {
        this.m?.loadFailures.inc();
        const msg = (e as Error).message;
        this.loadFailures.set(meta.ulid, msg);
        this.failedMetas.set(meta.ulid, meta);
        this.log?.error('loading block failed; skipping it (will retry at the next sync)', { id: meta.ulid, err: msg });
      }
    });
    for (const [id, b] of this.blocks) {
      if (res.metas.has(id)) continue;
      this.blocks.delete(id);
      this.m?.drops.inc();
      this.log?.info('dropped block', { id, reason: res.filtered.get(id) ?? 'no longer in the bucket' });
      try {
        await b.closeFn?.();
        await this.opts.onDrop?.(id);
      } catch (e) {
        this.m?.dropFailures.inc();
        this.log?.warn('cleaning up dropped block failed', { id, err: (e as Error).message });
      }
    }
    for (const id of this.loadFailures.keys()) if (!res.metas.has(id)) { this.loadFailures.delete(id); this.failedMetas.delete(id); }
    this.rebuildSets();
    this.lastSyncAt = new Date();
    this.lastSyncError = undefined;
    this.m?.blocksLoaded.set(this.blocks.size);
  }

  private rebuildSets(): void {
    const sets = new Map<string, { labels: Labels; byRes: Map<number, Block[]> }>();
    for (const b of this.blocks.values()) {
      let s = sets.get(b.extKey);
      if (!s) sets.set(b.extKey, (s = { labels: b.extLabels, byRes: new Map() }));
      let l = s.byRes.get(b.resolution);
      if (!l) s.byRes.set(b.resolution, (l = []));
      l.push(b);
    }
    for (const s of sets.values()) for (const l of s.byRes.values()) l.sort((a, b) => a.meta.minTime - b.meta.minTime || (a.id < b.id ? -1 : 1));
    this.sets = sets;
  }

  private served(): { minTime: number; maxTime: number } {
    return this.opts.timeRange?.() ?? { minTime: -Number.MAX_SAFE_INTEGER, maxTime: Number.MAX_SAFE_INTEGER };
  }

  /**
   * Reports the blocks a request would have read but cannot: blocks that failed to load (when their
   * range and external labels match), and blocks whose meta.json is unreadable (garbage, unknown
   * version, minTime after maxTime, a failed read): their range is unknown, so every request may
   * miss their data.
   */
  private reportUnservable(f: BlockFailures, mint: number, maxt: number, ms: readonly CompiledMatcher[], maxRes = Infinity): void {
    for (const [id, meta] of this.failedMetas) {
      if (!(meta.maxTime > mint && meta.minTime <= maxt) || meta.thanos.downsample.resolution > maxRes) continue;
      if (splitExtMatchers(labelsFromRecord(meta.thanos.labels), ms) === null) continue;
      f.report(id, `block ${id} could not be loaded: ${this.loadFailures.get(id) ?? 'unknown error'}`);
    }
    for (const [id, err] of this.lastSync?.corrupted ?? []) {
      f.report(id, `block ${id} could not be loaded (its meta.json is unusable, so its time range is unknown): ${err.startsWith(`block ${id}: `) ? err.slice(id.length + 8) : err}`, false);
    }
  }

  /** Info: the label sets and time range served (clamped to --min-time/--max-time). */
  timeRange(): { minTime: number; maxTime: number } {
    let mint = Number.MAX_SAFE_INTEGER;
    let maxt = -Number.MAX_SAFE_INTEGER;
    for (const b of this.blocks.values()) {
      mint = Math.min(mint, b.meta.minTime);
      maxt = Math.max(maxt, b.meta.maxTime);
    }
    const r = this.served();
    return { minTime: Math.max(mint, r.minTime), maxTime: Math.min(maxt, r.maxTime) };
  }

  labelSets(): Array<Record<string, string>> {
    return [...this.sets.values()].map((s) => Object.fromEntries(s.labels.map((l) => [l.name, l.value])));
  }

  /**
   * Info's tsdb_infos as upstream BucketStore.TSDBInfos: per external label set, one entry per run of
   * overlapping or touching blocks (a block starting after the run's end opens a new entry), so a
   * shard holding every other block advertises its gaps instead of one range over them. Not clamped
   * to --min-time/--max-time (upstream neither). Unlike upstream, a block inside the run never
   * shrinks the run's end (upstream overwrites it with the last block's maxTime).
   */
  tsdbInfos(): Array<{ labels: Record<string, string>; minTime: number; maxTime: number }> {
    const out: Array<{ labels: Record<string, string>; minTime: number; maxTime: number }> = [];
    for (const s of this.sets.values()) {
      const labels = Object.fromEntries(s.labels.map((l) => [l.name, l.value]));
      const metas = [...s.byRes.values()].flat().map((b) => b.meta).sort((a, b) => a.minTime - b.minTime);
      let cur: { labels: Record<string, string>; minTime: number; maxTime: number } | undefined;
      for (const m of metas) {
        if (cur && m.minTime <= cur.maxTime) {
          cur.maxTime = Math.max(cur.maxTime, m.maxTime);
          continue;
        }
        if (cur) out.push(cur);
        cur = { labels, minTime: m.minTime, maxTime: m.maxTime };
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------

  private async postings(block: Block, ms: readonly CompiledMatcher[], lim: RequestLimiter): Promise<Uint32Array> {
    const key = matchersKey(ms);
    const cache = this.opts.indexCache;
    if (cache) {
      const hit = await cache.fetchExpandedPostings(block.id, key);
      if (hit) {
        lim.stats.postings.touched++;
        lim.stats.postings.touchedBytes += hit.byteLength;
        lim.addBytes(hit.byteLength);
        return decodeRefs(hit);
      }
    }
    let refs: Uint32Array;
    try {
      refs = await block.index.postingsForMatchers(ms);
    } catch (e) {
      throw this.blockError(block, 'expanding postings', e);
    }
    const st = lim.stats.postings;
    st.touched++;
    st.fetched++;
    st.touchedBytes += refs.byteLength;
    st.fetchedBytes += refs.byteLength;
    lim.addBytes(refs.byteLength);
    cache?.storeExpandedPostings(block.id, key, encodeRefs(refs));
    return refs;
  }

  private blockError(block: Block, what: string, e: unknown): Error {
    if (e instanceof GrpcError) return e;
    return new BlockReadError(`block ${block.id}: ${what}: ${(e as Error).message}`);
  }

  private async seriesEntries(block: Block, refs: Uint32Array, lim: RequestLimiter, mint: number, maxt: number): Promise<RangeEntry[]> {
    const cache = this.opts.indexCache;
    const cached = cache ? await cache.fetchSeriesList(block.id, refs) : undefined;
    const out: RangeEntry[] = new Array(refs.length);
    const missIdx: number[] = [];
    if (cached) {
      // Counted per page (the limit is checked once the page's entries are decoded).
      let hits = 0;
      let hitBytes = 0;
      for (let i = 0; i < refs.length; i++) {
        const b = cached[i];
        const e = b ? decodeCachedEntry(b, block, mint, maxt) : undefined;
        if (e) {
          out[i] = e;
          hits++;
          hitBytes += b!.byteLength;
        } else missIdx.push(i);
      }
      lim.stats.series.touched += hits;
      lim.stats.series.touchedBytes += hitBytes;
      if (hitBytes) lim.addBytes(hitBytes);
    } else for (let i = 0; i < refs.length; i++) missIdx.push(i);
    if (missIdx.length) {
      const missRefs = missIdx.map((i) => refs[i]!);
      const index = block.index;
      try {
        await index.forEachSeries(missRefs, (k, b, f) => {
          const ref = missRefs[k]!;
          decodeIndexSeriesFields(b, ref, index.symbols.length, index.block, index.file, f);
          out[missIdx[k]!] = rangeEntry(f, block, mint, maxt)!;
          cache?.storeSeries(block.id, ref, b.subarray(f.start, f.end));
          // The entry's size in the index, estimated (what the byte limit and the stats have always counted).
          const size = 16 + f.nLabels * 8 + f.nChunks * 12;
          const st = lim.stats.series;
          st.touched++;
          st.fetched++;
          st.touchedBytes += size;
          st.fetchedBytes += size;
          lim.addBytes(size);
        });
      } catch (e) {
        throw this.blockError(block, 'reading series', e);
      }
    }
    return out;
  }

  /** A cursor over one block's matching series (postings resolved now, series read page by page). */
  private async blockCursor(block: Block, ms: CompiledMatcher[], req: SeriesReq, without: ReadonlySet<string>, lim: RequestLimiter, fails: BlockFailures, pageSize: number, signal?: AbortSignal): Promise<BlockCursor | undefined> {
    const rest = splitExtMatchers(block.extLabels, ms);
    if (rest === null) return undefined;
    lim.stats.blocksQueried++;
    let refs: Uint32Array;
    try {
      refs = await this.postings(block, rest, lim);
    } catch (e) {
      fails.add(block.id, 'expanding postings', e);
      return undefined;
    }
    if (signal?.aborted) throw new GrpcError(GrpcStatus.Cancelled, 'request cancelled');
    if (refs.length === 0) return undefined;
    // Memory guard: when the request covers the whole block, every posting is a series to return,
    // so a block alone over the series limit fails before its series entries are read.
    if (block.meta.minTime >= req.minTime && block.meta.maxTime - 1 <= req.maxTime) lim.checkSeriesCount(refs.length);
    // A page that cannot be read ends the block's part of the answer (or the request, under ABORT).
    const load = async (page: Uint32Array): Promise<RangeEntry[]> => {
      if (fails.failed.has(block.id)) return [];
      try {
        return await this.seriesEntries(block, page, lim, req.minTime, req.maxTime);
      } catch (e) {
        fails.add(block.id, 'reading series', e);
        return [];
      }
    };
    return new BlockCursor(load, block, refs, without, pageSize);
  }

  /** Selected blocks for a request: per external label set, by resolution. */
  selectBlocks(mint: number, maxt: number, maxResolutionWindow: number): Block[] {
    const out: Block[] = [];
    for (const s of this.sets.values()) out.push(...blocksFor(s.byRes, mint, maxt, maxResolutionWindow));
    return out;
  }

  /**
   * Streams series sorted by labels, each once, chunks sorted by min time. Blocks that cannot be
   * read are passed to warn (partial response) or fail the request (partial response disabled).
   */
  async *series(req: SeriesReq, signal?: AbortSignal, warn?: (msg: string) => void): AsyncGenerator<SeriesOut> {
    for await (const batch of this.seriesBatches(req, signal, warn)) yield* batch;
  }

  /**
   * series() a chunk-fetch batch at a time (up to batchSeries series): one step of each async
   * layer above per batch instead of per series (a promise per series per layer was a fixed cost
   * of every Series call, ~10k promises for an instant query over 10k series).
   */
  seriesBatches(req: SeriesReq, signal?: AbortSignal, warn?: (msg: string) => void, o?: SeriesBatchOptions): AsyncGenerator<SeriesOut[]> {
    // One span for the request; its gate wait, block preparation and chunk reads are children.
    return iterateInSpan('bucket_store_series', { min_time: req.minTime, max_time: req.maxTime }, () => this.seriesUntraced(req, signal, warn, o?.transient === true));
  }

  private async *seriesUntraced(req: SeriesReq, signal?: AbortSignal, warn?: (msg: string) => void, transient = false): AsyncGenerator<SeriesOut[]> {
    const ms = compileAll(req.matchers);
    if (ms.length === 0) throw new GrpcError(GrpcStatus.InvalidArgument, 'no matchers specified');
    if (req.minTime > req.maxTime) throw new GrpcError(GrpcStatus.InvalidArgument, `invalid time range: min_time ${req.minTime} is after max_time ${req.maxTime}`);
    const release = await doInSpan('store_query_gate_ismyturn', undefined, () => this.gate.acquire(signal));
    // transient: each batch's chunk reads take pooled buffers (a lease per batch), given back when
    // the consumer resumes this generator after the batch (it is done with its chunks then), or,
    // for a batch still being read when the request ends, once its reads have settled.
    let pending: Promise<SeriesOut[]> | undefined;
    let pendingLease: ReadLease | undefined;
    let shownLease: ReadLease | undefined;
    try {
      const r = this.served();
      const mint = Math.max(req.minTime, r.minTime);
      const maxt = Math.min(req.maxTime, r.maxTime);
      if (mint > maxt) return;
      const blocks = this.selectBlocks(mint, maxt, req.maxResolutionWindow ?? 0);
      const fails = BlockFailures.of(req, warn);
      this.reportUnservable(fails, mint, maxt, ms, req.maxResolutionWindow ?? 0);
      this.log?.debug('series request', { mint, maxt, matchers: ms.map((m) => `${m.name}${m.type}${JSON.stringify(m.value)}`).join(','), blocks: blocks.length, maxResolutionWindow: req.maxResolutionWindow ?? 0 });
      const lim = new RequestLimiter(this.limits, this.m?.queriesDropped);
      const without = new Set(req.withoutReplicaLabels ?? []);
      const q: SeriesReq = { ...req, minTime: mint, maxTime: maxt };
      const getAllStart = performance.now();
      // Each block's cursor holds two pages of series entries (one read ahead): the request's
      // budget is shared by its blocks, so a query over many blocks does not hold more entries.
      const pageSize = this.opts.pageSeries ?? Math.max(MIN_PAGE_SERIES, Math.min(MAX_PAGE_SERIES, Math.floor(PAGE_SERIES_BUDGET / Math.max(1, blocks.length))));
      const cursors = (await doInSpan('bucket_store_preload_all', { blocks: blocks.length }, () => Promise.all(blocks.map((b) => this.blockCursor(b, ms, q, without, lim, fails, pageSize, signal))))).filter((c): c is BlockCursor => c !== undefined);
      lim.stats.getAllSeconds = (performance.now() - getAllStart) / 1000;
      const mergeStart = performance.now();
      // k-way merge by final labels; equal label sets (same series in several blocks) merge.
      const aggrs = req.aggregates && req.aggregates.some((a) => a !== Aggr.RAW) ? req.aggregates : [Aggr.COUNT, Aggr.SUM];
      const batchSize = this.opts.batchSeries ?? 1000;
      // A batch's chunks are fetched together; bound them (~120 samples ≈ 150-600 bytes each).
      const maxBatchChunks = this.opts.batchChunks ?? 32_768;
      const maxBatchBytes = this.opts.batchBytes ?? DEFAULT_BATCH_BYTES;
      const skipChunks = req.skipChunks ?? false;
      let batchChunks = 0;
      let batchBytes = 0;
      // A series found in one block is batched as itself, one in several as the array of its parts.
      let batch: Array<BlockSeries | BlockSeries[]> = [];
      let emitted = 0;
      const limit = req.limit && req.limit > 0 ? req.limit : Infinity;
      const heads: Array<BlockSeries | undefined> = new Array(cursors.length);
      for (let end = false; !end;) {
        // (every 64 series: the signal's getter is not free; a page's fill awaits in between anyway)
        if ((emitted & 63) === 0 && signal?.aborted) throw new GrpcError(GrpcStatus.Cancelled, 'request cancelled');
        let fills: Promise<void>[] | undefined;
        for (let i = 0; i < cursors.length; i++) if (cursors[i]!.peek() === null) (fills ??= []).push(cursors[i]!.fill());
        if (fills) await Promise.all(fills);
        let group: BlockSeries | BlockSeries[] | undefined;
        let groupChunks = 0;
        if (cursors.length === 1) {
          // One block (an instant query's usual case): its series in order, nothing to merge.
          const s = cursors[0]!.peek();
          if (!s || emitted >= limit) end = true;
          else {
            group = s;
            groupChunks = s.chunks.length / 3;
            if (!skipChunks) batchBytes += groupChunks * s.block.chunkBytes;
            cursors[0]!.advance();
          }
        } else {
          let best: Label[] | undefined;
          for (let i = 0; i < cursors.length; i++) {
            const s = cursors[i]!.peek() ?? undefined;
            heads[i] = s;
            if (s && (best === undefined || compareLabels(s.labels, best) < 0)) best = s.labels;
          }
          if (best === undefined || emitted >= limit) end = true;
          else for (let i = 0; i < cursors.length; i++) {
            const s = heads[i];
            if (s && compareLabels(s.labels, best) === 0) {
              // Usually in one block: the series itself; an exact-size literal for a second part.
              if (group === undefined) group = s;
              else if (Array.isArray(group)) group.push(s);
              else group = [group, s];
              groupChunks += s.chunks.length / 3;
              if (!skipChunks) batchBytes += (s.chunks.length / 3) * s.block.chunkBytes;
              cursors[i]!.advance();
            }
          }
        }
        if (!end) {
          lim.addSeries(1);
          if (!req.skipChunks) lim.addChunks(groupChunks);
          emitted++;
          batch.push(group!);
          batchChunks += groupChunks;
        }
        if (batch.length > 0 && (end || batch.length >= batchSize || batchChunks >= maxBatchChunks || batchBytes >= maxBatchBytes)) {
          // The batch's chunk reads start now; the previous batch is handed on meanwhile (at most
          // two batches in memory: reads overlap with the consumer instead of waiting for it).
          const lease = transient && !skipChunks ? new ReadLease(this.readPool) : undefined;
          const next = this.emit(batch, skipChunks, aggrs, lim, fails, lease);
          next.catch(() => {}); // awaited below; not an unhandled rejection if the request ends first
          const prev = pending;
          shownLease = pendingLease;
          pending = next;
          pendingLease = lease;
          if (prev) {
            const out = await prev;
            if (out.length) yield out;
          }
          shownLease?.release();
          shownLease = undefined;
          batch = [];
          batchChunks = 0;
          batchBytes = 0;
        }
      }
      if (pending) {
        const last = pending;
        shownLease = pendingLease;
        pending = pendingLease = undefined;
        const out = await last;
        if (out.length) yield out;
        shownLease?.release();
        shownLease = undefined;
      }
      lim.stats.mergeSeconds = (performance.now() - mergeStart) / 1000;
      lim.stats.mergedSeries = emitted;
      this.m?.observe(lim.stats);
    } finally {
      release();
      // The consumer ended the stream (or it failed): the batch it was shown is done with; one
      // still being read gives its buffers back once every read into them has settled.
      shownLease?.release();
      const inFlight = pendingLease;
      if (inFlight && pending) pending.then(() => inFlight.release(), () => inFlight.release());
    }
  }

  /** A batch's series with their chunks (fetched block by block), in order. */
  private async emit(batch: ReadonlyArray<BlockSeries | BlockSeries[]>, skipChunks: boolean, aggrs: readonly number[], lim: RequestLimiter, fails: BlockFailures, lease?: ReadLease): Promise<SeriesOut[]> {
    const result: SeriesOut[] = [];
    if (skipChunks) {
      for (const g of batch) {
        this.stats.seriesReturned++;
        result.push({ labels: Array.isArray(g) ? g[0]!.labels : g.labels, chunks: [] });
      }
      return result;
    }
    // Fetch the batch's chunks block by block. Refs are collected in output order, which for one
    // block is almost always ascending (series order = write order): then the k-th ref's chunk is
    // simply the k-th fetched chunk; otherwise refs are sorted and looked up.
    type Fetch = { refs: number[]; sorted: boolean; chunks?: RawChunk[]; byRef?: Map<number, RawChunk>; next: number };
    const byBlock = new Map<Block, Fetch>();
    // A group's parts: the array of a series found in several blocks, else a reused one-element array.
    const one: BlockSeries[] = [batch[0] as BlockSeries];
    const partsOf = (g: BlockSeries | BlockSeries[]): BlockSeries[] => {
      if (Array.isArray(g)) return g;
      one[0] = g;
      return one;
    };
    let lastBlock: Block | undefined;
    let f: Fetch | undefined;
    for (const g of batch) for (const s of partsOf(g)) {
      if (s.block !== lastBlock) {
        lastBlock = s.block;
        f = byBlock.get(s.block);
        if (!f) byBlock.set(s.block, (f = { refs: [], sorted: true, next: 0 }));
      }
      const cs = s.chunks;
      for (let j = 0; j < cs.length; j += 3) {
        const r = cs[j]!;
        if (f!.sorted && f!.refs.length && r <= f!.refs[f!.refs.length - 1]!) f!.sorted = false;
        f!.refs.push(r);
      }
    }
    // Every block's reads settle before this returns or throws (allSettled): a lease's buffers are
    // given back only when nothing reads into them any more.
    const reads = await Promise.allSettled([...byBlock].map(async ([block, f]) => {
      if (fails.failed.has(block.id)) return;
      let refs = f.refs;
      if (!f.sorted) {
        refs = [...refs].sort((a, b) => a - b);
        refs = refs.filter((r, i) => i === 0 || r !== refs[i - 1]);
      }
      let bytes = 0;
      let chunks: RawChunk[];
      try {
        chunks = await block.chunks.chunks(refs, this.opts.chunkGapBytes ?? 512 * 1024, (n) => {
          bytes += n;
          lim.addBytes(n);
        }, lease);
      } catch (e) {
        fails.add(block.id, 'reading chunks', this.blockError(block, 'reading chunks', e));
        return;
      }
      if (f.sorted) f.chunks = chunks;
      else {
        f.byRef = new Map();
        refs.forEach((r, i) => f.byRef!.set(r, chunks[i]!));
      }
      this.stats.chunkBytesFetched += bytes;
      const st = lim.stats.chunks;
      st.touched += refs.length;
      st.fetched += refs.length;
      st.touchedBytes += bytes;
      st.fetchedBytes += bytes;
    }));
    for (const r of reads) if (r.status === 'rejected') throw r.reason;
    lastBlock = undefined;
    for (const g of batch) {
      const parts = partsOf(g);
      let size = 0;
      for (const s of parts) size += s.chunks.length / 3;
      const chunks: AggrChunkOut[] = new Array(size); // exact size: no growth on push
      let n = 0;
      let ordered = true;
      for (const s of parts) {
        if (fails.failed.has(s.block.id)) continue;
        if (s.block !== lastBlock) {
          lastBlock = s.block;
          f = byBlock.get(s.block)!;
        }
        const cs = s.chunks;
        const before = n;
        try {
          for (let j = 0; j < cs.length; j += 3) {
            const raw = f!.chunks ? f!.chunks[f!.next++]! : f!.byRef!.get(cs[j]!)!;
            const out = chunkOut(cs[j + 1]!, cs[j + 2]!, raw, aggrs, s.block.id);
            if (ordered && n > 0 && chunks[n - 1]!.minTime > out.minTime) ordered = false;
            chunks[n++] = out;
          }
        } catch (e) {
          // A malformed chunk (e.g. a truncated aggregate): the block is left out from here on.
          n = before;
          fails.add(s.block.id, 'decoding chunks', e);
        }
      }
      if (n === 0) continue; // its only block(s) failed
      if (n < size) chunks.length = n;
      if (!ordered) chunks.sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime);
      this.stats.seriesReturned++;
      this.stats.chunksReturned += chunks.length;
      this.m?.chunkSize.observe(sentChunkBytes(chunks), TENANT_LABELS);
      result.push({ labels: parts[0]!.labels, chunks });
    }
    return result;
  }

  // -------------------------------------------------------------------------------------------

  private labelBlocks(req: LabelsReq, fails: BlockFailures): Array<{ block: Block; rest: CompiledMatcher[] }> {
    const ms = compileAll(req.matchers ?? []);
    const r = this.served();
    const start = Math.max(req.start, r.minTime);
    const end = Math.min(req.end, r.maxTime);
    const out: Array<{ block: Block; rest: CompiledMatcher[] }> = [];
    if (start > end) return out;
    this.reportUnservable(fails, start, end, ms);
    for (const b of this.blocks.values()) {
      if (!b.overlaps(start, end)) continue;
      const rest = splitExtMatchers(b.extLabels, ms);
      if (rest !== null) out.push({ block: b, rest });
    }
    return out;
  }

  /** Label names; blocks that cannot be read go to warn or fail the request, as in series(). */
  async labelNames(req: LabelsReq, warn?: (msg: string) => void): Promise<string[]> {
    const without = new Set(req.withoutReplicaLabels ?? []);
    const names = new Set<string>();
    const fails = BlockFailures.of(req, warn);
    await forEachLimit(this.labelBlocks(req, fails), 8, async ({ block, rest }) => {
      let ns: string[];
      try {
        ns = await doInSpan('bucket_store_block_label_names', { block: block.id }, () => (rest.length ? block.index.labelNames(rest) : block.index.labelNames()));
      } catch (e) {
        fails.add(block.id, 'label names', e);
        return;
      }
      if (rest.length && ns.length === 0) return; // no series match in this block
      for (const n of ns) if (n !== '') names.add(n);
      for (const l of block.extLabels) names.add(l.name);
    });
    let out = [...names].filter((n) => !without.has(n)).sort(compareStrings);
    if (req.limit && req.limit > 0) out = out.slice(0, req.limit);
    return out;
  }

  /** Label values; blocks that cannot be read go to warn or fail the request, as in series(). */
  async labelValues(req: LabelValuesReq, warn?: (msg: string) => void): Promise<string[]> {
    if (!req.label) throw new GrpcError(GrpcStatus.InvalidArgument, 'label name parameter cannot be empty');
    if ((req.withoutReplicaLabels ?? []).includes(req.label)) return [];
    const vals = new Set<string>();
    const fails = BlockFailures.of(req, warn);
    await forEachLimit(this.labelBlocks(req, fails), 8, async ({ block, rest }) => {
      const ext = block.extLabels.find((l) => l.name === req.label);
      try {
        if (ext) {
          // The external label's value, if any series of the block matches.
          if (rest.length === 0 || (await block.index.postingsForMatchers(rest)).length > 0) vals.add(ext.value);
          return;
        }
        const vs = rest.length ? await block.index.labelValues(req.label, rest) : await block.index.labelValues(req.label);
        for (const v of vs) if (v !== '') vals.add(v);
      } catch (e) {
        fails.add(block.id, 'label values', e);
      }
    });
    let out = [...vals].sort(compareStrings);
    if (req.limit && req.limit > 0) out = out.slice(0, req.limit);
    return out;
  }

  async close(): Promise<void> {
    for (const b of this.blocks.values()) await b.closeFn?.().catch(() => {});
    this.blocks.clear();
    await this.opts.indexCache?.close();
  }
}
