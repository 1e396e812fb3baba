// The querier's storage: a PromQL Queryable over a StoreAPI (normally the proxy fanning out to every
// endpoint). Picks the aggregates a function needs from downsampled data, decodes chunks, trims to
// the requested range and deduplicates replicas (lib/store/dedup.ts).
import type { Core } from '../core/types.ts';
import type { Labels, Matcher } from '../labels/mod.ts';
import type { MarkedSeriesData, Queryable, SelectHints, SelectResult, SeriesData } from '../promql/queryable.ts';
import { staleMask } from '../promql/engine/helpers.ts';
import {
  Aggr, PartialResponseStrategy,
  type AggrChunk, type Chunk, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest,
  type LabelValuesResponse, type SeriesRequest, type SeriesResponse, type ShardInfo,
} from '../proto/store.ts';
import { compareLabels, labelsKey } from '../labels/mod.ts';
import { dedupSeriesSet, splitReplicaLabels, type DedupAlgorithm, type Samples } from '../store/dedup.ts';
import { aggrChunkEqual } from '../store/merge.ts';
import type { StageTimings } from './stagetimes.ts';
import { ChunkEncoding } from '../proto/store.ts';
import { fromChunkSample } from '../histogram/convert.ts';
import type { FloatHistogram } from '../histogram/float.ts';
import { QueryMemoryBudget, samplesBytes, seriesBytes } from './limits.ts';

/** What the querier needs from the StoreAPI it queries (the proxy, or a single store in tests). */
export interface StoreAPI {
  series(req: SeriesRequest, signal?: AbortSignal): AsyncIterable<SeriesResponse>;
  labelNames(req: LabelNamesRequest, signal?: AbortSignal): Promise<LabelNamesResponse>;
  labelValues(req: LabelValuesRequest, signal?: AbortSignal): Promise<LabelValuesResponse>;
}

export interface QuerierOptions {
  /** Deduplicate by replicaLabels (only when there are any). */
  dedup: boolean;
  replicaLabels: string[];
  dedupAlgorithm?: DedupAlgorithm;
  /** Max source resolution in ms (0 = raw only). */
  maxResolutionMs: number;
  partialResponse: boolean;
  /** Overall range of the query (mint/maxt of the querier); samples are trimmed to it. */
  mint?: number;
  maxt?: number;
  /** The query API's shard_info (vertical sharding by the query-frontend): sent to the stores with every select. */
  shardInfo?: ShardInfo;
  /** Limits concurrent selects (e.g. lib/query/gate.ts Gate). */
  selectGate?: { run<T>(f: () => Promise<T>, signal?: AbortSignal): Promise<T> };
  /** --query.max-memory: bytes of series, chunks and samples one query (this queryable) may hold; 0/absent: no budget. */
  maxMemoryBytes?: number;
}

const REQUIRES_TWO_SAMPLES = new Set(['rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'predict_linear', 'holt_winters', 'double_exponential_smoothing']);

/** The aggregates Thanos asks a store for, from the function around a selector (reference §4.2). */
export function aggrsFromFunc(func: string | undefined): number[] {
  const f = func ?? '';
  if (f === 'min' || f.startsWith('min_')) return [Aggr.MIN];
  if (f === 'max' || f.startsWith('max_')) return [Aggr.MAX];
  if (f === 'count' || f.startsWith('count_')) return [Aggr.COUNT];
  if (f.startsWith('sum_')) return [Aggr.SUM];
  if (f === 'rate' || f === 'increase' || f === 'irate' || f === 'resets' || f === 'xrate' || f === 'xincrease') return [Aggr.COUNTER];
  return [Aggr.COUNT, Aggr.SUM];
}

/** Caps the resolution so that functions needing two samples get at least two per range. */
export function maxResolutionForSelect(maxResolutionMs: number, range: number | undefined, func: string | undefined): number {
  if (range && range > 0 && func && REQUIRES_TWO_SAMPLES.has(func)) return Math.min(maxResolutionMs, Math.floor(range / 2));
  return maxResolutionMs;
}

export class QueryDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryDataError';
  }
}

const EMPTY: Samples = { t: new Float64Array(0), v: new Float64Array(0), n: 0 };

function decodeChunk(core: Core, c: Chunk | undefined): Samples | null {
  if (!c) return null;
  if (c.type === ChunkEncoding.HISTOGRAM || c.type === ChunkEncoding.FLOAT_HISTOGRAM) {
    // a raw histogram chunk, or a histogram aggregate (sum, counter) of downsampled native histograms
    const s = core.histogramDecode(c.data, c.type === ChunkEncoding.FLOAT_HISTOGRAM);
    const h: FloatHistogram[] = new Array(s.n);
    for (let i = 0; i < s.n; i++) h[i] = fromChunkSample(s, i);
    return { t: s.t.subarray(0, s.n), v: new Float64Array(s.n), n: s.n, h };
  }
  if (c.type !== ChunkEncoding.XOR) throw new QueryDataError(`unsupported chunk encoding ${c.type}`);
  const s = core.xorDecode(c.data);
  return { t: s.t, v: s.v, n: s.n };
}

function concatInto(parts: Samples[]): Samples {
  let total = 0;
  for (const p of parts) total += p.n;
  if (parts.length === 1) return parts[0]!;
  const hasH = parts.some((p) => p.h);
  const t = new Float64Array(total);
  const v = new Float64Array(total);
  const h: (FloatHistogram | undefined)[] | undefined = hasH ? [] : undefined;
  let n = 0;
  let lastT = -Infinity;
  for (const p of parts) {
    // Chunks are ordered by min time but may overlap: never go back in time.
    for (let i = 0; i < p.n; i++) {
      const ti = p.t[i]!;
      if (ti <= lastT) continue;
      t[n] = ti;
      v[n] = p.v[i]!;
      if (h) h.push(p.h?.[i]);
      n++;
      lastT = ti;
    }
  }
  return h ? { t, v, n, h } : { t, v, n };
}

/** Thanos ApplyCounterResets over a run of chunks: monotonic totals, special last samples honoured. */
function applyCounterResets(parts: Samples[]): Samples {
  let total = 0;
  for (const p of parts) total += p.n;
  const t = new Float64Array(total);
  const v = new Float64Array(total);
  let n = 0;
  let started = false;
  let lastT = -Infinity;
  let lastV = 0;
  let totalV = 0;
  const hasH = parts.some((p) => p.h);
  const h: (FloatHistogram | undefined)[] | undefined = hasH ? [] : undefined;
  for (const p of parts) {
    let i = 0;
    // A new chunk must not go back in time: skip to lastT+1, but still honour the t==lastT marker.
    for (; i < p.n; i++) {
      const ti = p.t[i]!;
      const hi = p.h?.[i];
      if (hi) {
        // A histogram counter aggregate (downsampled native histograms) is already a running total:
        // passed on as it is, as Thanos's ApplyCounterResetsSeriesIterator does.
        if (ti <= lastT) continue;
        lastT = ti;
        t[n] = ti;
        v[n] = 0;
        h!.length = n;
        h!.push(hi);
        n++;
        continue;
      }
      const vi = p.v[i]!;
      if (Number.isNaN(vi)) continue;
      if (!started) {
        started = true;
        lastT = ti;
        lastV = vi;
        totalV = vi;
        t[n] = ti;
        v[n] = totalV;
        n++;
        continue;
      }
      if (ti > lastT) {
        totalV += vi >= lastV ? vi - lastV : vi;
        lastT = ti;
        lastV = vi;
        t[n] = ti;
        v[n] = totalV;
        n++;
      } else if (ti === lastT) {
        // The true last raw value of the previous window: used for reset detection only.
        lastV = vi;
      }
    }
  }
  if (h) h.length = n;
  return h ? { t: t.subarray(0, n), v: v.subarray(0, n), n, h } : { t: t.subarray(0, n), v: v.subarray(0, n), n };
}

function average(count: Samples, sum: Samples): Samples {
  if (count.n !== sum.n) throw new QueryDataError('sum and count iterator not aligned');
  const v = new Float64Array(count.n);
  // a histogram sum (downsampled native histograms): the window's average histogram, sum / count
  const h: FloatHistogram[] | undefined = sum.h ? new Array(count.n) : undefined;
  for (let i = 0; i < count.n; i++) {
    if (count.t[i] !== sum.t[i]) throw new QueryDataError('sum and count timestamps not aligned');
    const sh = sum.h?.[i];
    if (sh) h![i] = sh.copy().div(count.v[i]!);
    else v[i] = sum.v[i]! / count.v[i]!;
  }
  return h ? { t: count.t, v, n: count.n, h } : { t: count.t, v, n: count.n };
}

/**
 * Decodes XOR chunks straight into one pair of arrays (sized from the chunks' sample-count headers),
 * then drops samples that go back in time (overlapping chunks) in place.
 */
function decodeRun(core: Core, chunks: readonly Chunk[]): Samples {
  let total = 0;
  for (const c of chunks) {
    if (c.type !== 0) throw new QueryDataError(`unsupported chunk encoding ${c.type} (only XOR float chunks are supported)`);
    if (c.data.length < 2) throw new QueryDataError(`xor chunk too short: ${c.data.length} bytes`);
    total += (c.data[0]! << 8) | c.data[1]!;
  }
  const t = new Float64Array(total);
  const v = new Float64Array(total);
  let off = 0;
  // Samples inside one chunk are strictly increasing (Prometheus appenders guarantee it); only
  // chunk boundaries can go back in time (overlapping chunks). Find the first such boundary.
  let firstBad = -1;
  for (const c of chunks) {
    const out = { t: t.subarray(off), v: v.subarray(off), n: 0 };
    const r = core.xorDecode(c.data, out);
    if (r.t !== out.t) {
      // The decoder did not use our buffer (it should not happen): copy.
      t.set(r.t.subarray(0, r.n), off);
      v.set(r.v.subarray(0, r.n), off);
    }
    if (firstBad < 0 && off > 0 && r.n > 0 && t[off]! <= t[off - 1]!) firstBad = off;
    off += r.n;
  }
  if (firstBad < 0) return { t, v, n: off };
  let n = firstBad;
  let lastT = t[firstBad - 1]!;
  for (let i = firstBad; i < off; i++) {
    const ti = t[i]!;
    if (ti <= lastT) continue;
    t[n] = ti;
    v[n] = v[i]!;
    n++;
    lastT = ti;
  }
  return { t, v, n };
}

/** The first index in [from, to) of ascending xs whose value is >= x (to when none). */
function firstAtOrAfter(xs: Float64Array, from: number, to: number, x: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index in [from, to) of ascending xs whose value is > x (to when none). */
function firstAfter(xs: Float64Array, from: number, to: number, x: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The timestamps of the float series a select wrote last (decodeRawSeries shares them with the next series when equal). */
interface SharedTimes {
  last?: Float64Array;
}

/** Whether ts holds the ts.length timestamps at t[at...] (the samples a series keeps, in the core's arena or copied). */
function sameTimes(ts: Float64Array, t: Float64Array, at: number): boolean {
  const n = ts.length;
  for (let i = 0; i < n; i++) if (ts[i] !== t[at + i]) return false;
  return true;
}

/** Samples (by the chunks' headers) decoded per xorDecodeBatch call: bounds the core's arena. */
const DECODE_BATCH_SAMPLES = 1 << 16;

/**
 * Series of raw XOR chunks, decoded many chunks per xorDecodeBatch call and trimmed to [mint, maxt]
 * while copied out of the core's arena into one pair of arrays per call. An instant query keeps
 * only the ~20 samples of its window out of each 120-sample chunk, and no series costs two
 * allocations of its own (they were most of the querier's decode time and garbage). Samples that
 * go back in time (overlapping chunks) are dropped as decodeRun drops them. Undefined when a chunk
 * is not a raw XOR chunk (aggregates: seriesSamples). Yields to the event loop between calls.
 */
async function decodeRawSeries(core: Core, series: readonly CollectedSeries[], mint: number, maxt: number, budget?: QueryMemoryBudget, times: SharedTimes = {}): Promise<SeriesData[] | undefined> {
  const runs: AggrChunk[][] = new Array(series.length);
  // Series with native histogram chunks are decoded on their own (decodeMixedRun), the rest in batches.
  let mixed: Map<number, Samples> | undefined;
  for (let i = 0; i < series.length; i++) {
    const cs = dropIdenticalChunks(series[i]!.chunks);
    let sorted = true;
    let histograms = false;
    for (let j = 0; j < cs.length; j++) {
      const raw = cs[j]!.raw;
      if (!raw || raw.data.length < 2) return undefined;
      if (isHistogramChunk(raw)) histograms = true;
      else if (raw.type !== ChunkEncoding.XOR) return undefined;
      if (j > 0 && cs[j - 1]!.minTime > cs[j]!.minTime) sorted = false;
    }
    const run = sorted ? cs : [...cs].sort((a, b) => a.minTime - b.minTime);
    if (histograms) {
      const s = trim(decodeMixedRun(core, run.map((c) => c.raw!)), mint, maxt);
      budget?.add(samplesBytes(s), 'decoding samples');
      (mixed ??= new Map()).set(i, s);
      runs[i] = [];
    } else runs[i] = run;
  }
  const out: (SeriesData | MarkedSeriesData)[] = new Array(series.length);
  const datas: Uint8Array[] = [];
  const kept: number[] = [];
  /** Per series of a batch: the arena index of its first kept sample when they are one run, else -1. */
  const keptFrom: number[] = [];
  /** Per series of a batch: the end of its samples in the arena (see the bound below). */
  const keptTo: number[] = [];
  for (let first = 0; first < series.length;) {
    // One batch: whole series, up to DECODE_BATCH_SAMPLES samples (at least one series).
    datas.length = 0;
    let last = first;
    let samples = 0;
    while (last < series.length && (last === first || samples < DECODE_BATCH_SAMPLES)) {
      for (const c of runs[last]!) {
        const d = c.raw!.data;
        datas.push(d);
        samples += (d[0]! << 8) | d[1]!;
      }
      last++;
    }
    // Each chunk decoded only up to its first sample after maxt (the rest of an instant query's
    // chunks, ~100 of 120 samples, is never decoded). The whole decode would have had that sample
    // before any later chunk's, and a sample after maxt makes every later one go back in time or
    // out of range: the chunks of a series after one cut short add nothing (what is kept is the
    // same as decoding them whole).
    const b = core.xorDecodeBatch(datas, maxt);
    const bt = b.t;
    // Pass 1: samples kept per series (in time order, within the range). A series whose samples
    // only go forward in time (the rule: chunks in order, not overlapping) keeps one run of them,
    // found by binary search; only the others are filtered sample by sample.
    kept.length = 0;
    keptFrom.length = 0;
    keptTo.length = 0;
    let total = 0;
    let c = 0;
    for (let k = first; k < last; k++) {
      const from = b.start[c]!;
      const c0 = c;
      c += runs[k]!.length;
      let end = c;
      for (let j = c0; j < c; j++) {
        const d = datas[j]!;
        if (b.start[j + 1]! - b.start[j]! < ((d[0]! << 8) | d[1]!)) {
          end = j + 1;
          break;
        }
      }
      const to = b.start[end]!;
      keptTo.push(to);
      // Samples inside one chunk are strictly increasing (Prometheus's appenders guarantee it, as
      // decodeRun assumes): the series goes forward when each chunk starts after the sample before
      // it. Checked at the chunk boundaries only, not sample by sample (a third of the decode).
      let forward = true;
      for (let j = c0 + 1; j < end; j++) {
        const s = b.start[j]!;
        if (s > from && s < to && !(bt[s]! > bt[s - 1]!)) {
          forward = false;
          break;
        }
      }
      let n = 0;
      if (forward) {
        const lo = firstAtOrAfter(bt, from, to, mint);
        n = Math.max(0, firstAfter(bt, lo, to, maxt) - lo);
        keptFrom.push(lo);
      } else {
        let lastT = -Infinity;
        for (let i = from; i < to; i++) {
          const ti = bt[i]!;
          if (ti <= lastT) continue;
          lastT = ti;
          if (ti >= mint && ti <= maxt) n++;
        }
        keptFrom.push(-1);
      }
      kept.push(n);
      total += n;
    }
    budget?.add(total * 16, 'decoding samples');
    // Pass 2: copy them out of the core's arena (valid until its next call): values into one array,
    // timestamps into another only where they are not those of the series before (see below),
    // which is made when first needed.
    const bv = b.v;
    const v = new Float64Array(total);
    let t: Float64Array | undefined;
    let w = 0;
    let tw = 0;
    c = 0;
    for (let k = first; k < last; k++) {
      const from = b.start[c]!;
      c += runs[k]!.length;
      const to = keptTo[k - first]!;
      const n = kept[k - first]!;
      const lo = keptFrom[k - first]!;
      const at = w;
      const m = mixed?.get(k);
      if (m) {
        out[k] = { labels: series[k]!.labels, ...m };
        continue;
      }
      if (n === 0) {
        out[k] = { labels: series[k]!.labels, t: EMPTY.t, v: EMPTY.v, n: 0, stale: null, dropName: false };
        continue;
      }
      // Series scraped together (one target's, one backfill's) have the same timestamps: the
      // previous series' timestamp view is shared when equal (the engine never writes into them),
      // one typed-array object less to allocate and hold through the query, and no copy of them.
      let ts = times.last;
      if (lo >= 0) {
        for (let i = lo; i < lo + n; i++) v[w++] = bv[i]!;
        if (ts === undefined || ts.length !== n || !sameTimes(ts, bt, lo)) {
          t ??= new Float64Array(total);
          for (let i = lo; i < lo + n; i++) t[tw++] = bt[i]!;
          ts = undefined;
        }
      } else {
        t ??= new Float64Array(total);
        let lastT = -Infinity;
        for (let i = from; i < to; i++) {
          const ti = bt[i]!;
          if (ti <= lastT) continue;
          lastT = ti;
          if (ti < mint || ti > maxt) continue;
          t[tw++] = ti;
          v[w++] = bv[i]!;
        }
        if (ts !== undefined && ts.length === n && sameTimes(ts, t, tw - n)) tw -= n;
        else ts = undefined;
      }
      // Views made with the constructor: subarray() looks up the species constructor on every call.
      ts ??= times.last = new Float64Array(t!.buffer, (tw - n) * 8, n);
      const vs = new Float64Array(v.buffer, at * 8, n);
      // Marked here (a MarkedSeriesData): the engine keeps the object instead of copying it into its own.
      out[k] = { labels: series[k]!.labels, t: ts, v: vs, n, stale: staleMask(vs, n), dropName: false };
    }
    first = last;
    // A large selection (millions of samples) does not hold the event loop for all of its decoding.
    if (first < series.length) await new Promise<void>((res) => setImmediate(res));
  }
  return out;
}

/** Samples a series' chunk headers count (an aggregate chunk: a full chunk's worth). */
function chunkSamples(chunks: readonly AggrChunk[]): number {
  let n = 0;
  for (const c of chunks) {
    const d = c.raw?.data;
    n += d && d.length >= 2 ? (d[0]! << 8) | d[1]! : 120;
  }
  return n;
}

/**
 * Samples of whole series, as samplesOf decodes them without dedup: raw XOR (and native histogram)
 * chunks in batches (decodeRawSeries), any other series one by one (seriesSamples), trimmed.
 */
async function decodeSeriesList(core: Core, series: readonly CollectedSeries[], mint: number, maxt: number, aggrs: readonly number[], budget?: QueryMemoryBudget, times?: SharedTimes): Promise<SeriesData[]> {
  const fast = await decodeRawSeries(core, series, mint, maxt, budget, times);
  if (fast) return fast;
  const out: SeriesData[] = new Array(series.length);
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    const samples = trim(seriesSamples(core, dropIdenticalChunks(s.chunks), aggrs), mint, maxt);
    budget?.add(samplesBytes({ n: samples.t.length, h: samples.h }), 'decoding samples');
    out[i] = { labels: s.labels, ...samples };
  }
  return out;
}

/**
 * Reads a Series stream and decodes it as it arrives: a series' chunks are decoded once the stream
 * has moved on to the next label set (frames of a split series are adjacent), about
 * DECODE_BATCH_SAMPLES samples at a time. The stream's series, chunk and byte-view objects then
 * die young instead of being held (and copied by every scavenge, then promoted) until the whole
 * stream is in, and the decoding overlaps the wait on the stores. Gives what collectSeries then
 * samplesOf give without dedup, except that the memory budget no longer counts the chunks of
 * series once they are decoded (they are not held any more); undefined when the stream is not in label order (the caller reads
 * it again and collects it whole: equal label sets far apart are merged before decoding).
 */
async function decodeWhileReading(
  core: Core, stream: AsyncIterable<SeriesResponse>, mint: number, maxt: number, aggrs: readonly number[], budget: QueryMemoryBudget | undefined,
): Promise<{ series: SeriesData[]; warnings: string[]; decodeMs: number } | undefined> {
  const out: SeriesData[] = [];
  const warnings: string[] = [];
  let batch: CollectedSeries[] = [];
  let batchSamples = 0;
  /** Bytes of the series read and not yet decoded, as counted in the budget. */
  let held = 0;
  let last: CollectedSeries | undefined;
  let decodeMs = 0;
  const times: SharedTimes = {};
  let ordered = true;
  const add = (s: CollectedSeries) => {
    if (budget) {
      const b = seriesBytes(s.labels, s.chunks);
      budget.add(b, 'reading series from the stores');
      held += b;
    }
    if (last) {
      const c = compareLabels(s.labels, last.labels);
      if (c === 0) {
        // never mutated: an in-process store may have handed over its own objects
        last = { labels: last.labels, chunks: last.chunks.concat(s.chunks) };
        return;
      }
      if (c < 0) ordered = false;
      batch.push(last);
      batchSamples += chunkSamples(last.chunks);
    }
    last = s;
  };
  const flush = async () => {
    const t0 = performance.now();
    const d = await decodeSeriesList(core, batch, mint, maxt, aggrs, budget, times);
    for (let i = 0; i < d.length; i++) out.push(d[i]!);
    // The decoded series' chunks are not held any more (the one read last may still grow: counted on).
    if (budget) {
      const keep = last ? seriesBytes(last.labels, last.chunks) : 0;
      budget.release(held - keep);
      held = keep;
    }
    batch = [];
    batchSamples = 0;
    decodeMs += performance.now() - t0;
  };
  for await (const r of stream) {
    if (r.type === 'series') add(r.series);
    else if (r.type === 'batch') for (const s of r.batch) add(s);
    else if (r.type === 'warning') warnings.push(r.warning);
    if (!ordered) return undefined;
    if (batchSamples >= DECODE_BATCH_SAMPLES) await flush();
  }
  if (last) batch.push(last);
  last = undefined;
  if (batch.length > 0) await flush();
  return { series: out, warnings, decodeMs };
}

/** Samples of one series from its chunks, using the aggregates requested (raw chunks pass through). */
export function seriesSamples(core: Core, chunks: readonly AggrChunk[], aggrs: readonly number[]): Samples {
  if (chunks.length === 0) return EMPTY;
  const sorted = chunks.length > 1 && !chunks.every((c, i) => i === 0 || chunks[i - 1]!.minTime <= c.minTime) ? [...chunks].sort((a, b) => a.minTime - b.minTime) : chunks;
  if (sorted.every((c) => c.raw)) {
    const raws = sorted.map((c) => c.raw!);
    return raws.some(isHistogramChunk) ? decodeMixedRun(core, raws) : decodeRun(core, raws);
  }
  if (aggrs.length === 1) {
    const a = aggrs[0]!;
    const pick = (c: AggrChunk): Chunk | undefined =>
      a === Aggr.COUNT ? c.count : a === Aggr.SUM ? c.sum : a === Aggr.MIN ? c.min : a === Aggr.MAX ? c.max : a === Aggr.COUNTER ? c.counter : undefined;
    const parts: Samples[] = [];
    let anyAggr = false;
    for (const c of sorted) {
      const agg = pick(c);
      const s = decodeChunk(core, agg ?? c.raw);
      if (!s) throw new QueryDataError(`no valid chunk found (aggregate ${a} missing and no raw chunk)`);
      if (agg) anyAggr = true;
      parts.push(s);
    }
    // Counter aggregates are running totals with reset markers: make the whole series monotonic.
    // Raw-only series are left untouched so that resets() and friends see the real data.
    if (a === Aggr.COUNTER && anyAggr) return applyCounterResets(parts);
    return concatInto(parts);
  }
  const parts: Samples[] = [];
  for (const c of sorted) {
    if (c.raw) {
      parts.push(decodeChunk(core, c.raw)!);
      continue;
    }
    const cnt = decodeChunk(core, c.count);
    const sum = decodeChunk(core, c.sum);
    if (!cnt || !sum) throw new QueryDataError('no valid chunk found (count/sum aggregates missing and no raw chunk)');
    parts.push(average(cnt, sum));
  }
  return concatInto(parts);
}

function trim(s: Samples, mint: number, maxt: number): Samples {
  let lo = 0;
  while (lo < s.n && s.t[lo]! < mint) lo++;
  let hi = s.n;
  while (hi > lo && s.t[hi - 1]! > maxt) hi--;
  if (lo === 0 && hi === s.n) return s;
  const out: Samples = { t: s.t.subarray(lo, hi), v: s.v.subarray(lo, hi), n: hi - lo };
  if (s.h) out.h = s.h.slice(lo, hi);
  return out;
}

function isHistogramChunk(c: Chunk): boolean {
  return c.type === ChunkEncoding.HISTOGRAM || c.type === ChunkEncoding.FLOAT_HISTOGRAM;
}

/**
 * Raw chunks of which some are native histogram chunks (storepb HISTOGRAM / FLOAT_HISTOGRAM), in
 * min-time order: floats and histograms in one time-ordered list (h[i] defined ⇒ a histogram, as
 * SeriesData has it); samples going back in time (overlapping chunks) are dropped as decodeRun does.
 */
function decodeMixedRun(core: Core, chunks: readonly Chunk[]): Samples {
  const t: number[] = [];
  const v: number[] = [];
  const h: (FloatHistogram | undefined)[] = [];
  let lastT = -Infinity;
  for (const c of chunks) {
    if (c.type === ChunkEncoding.XOR) {
      const s = core.xorDecode(c.data);
      for (let i = 0; i < s.n; i++) {
        const ti = s.t[i]!;
        if (ti <= lastT) continue;
        lastT = ti;
        t.push(ti);
        v.push(s.v[i]!);
        h.push(undefined);
      }
      continue;
    }
    if (!isHistogramChunk(c)) throw new QueryDataError(`unsupported chunk encoding ${c.type}`);
    const s = core.histogramDecode(c.data, c.type === ChunkEncoding.FLOAT_HISTOGRAM);
    for (let i = 0; i < s.n; i++) {
      const ti = s.t[i]!;
      if (ti <= lastT) continue;
      lastT = ti;
      t.push(ti);
      v.push(0);
      h.push(fromChunkSample(s, i));
    }
  }
  return { t: Float64Array.from(t), v: Float64Array.from(v), n: t.length, h };
}

/** Splits a series' chunks into runs of non-overlapping chunks (Thanos NewOverlapSplit). */
export function overlapSplit(chunks: readonly AggrChunk[]): AggrChunk[][] {
  const sorted = [...chunks].sort((a, b) => a.minTime - b.minTime);
  const out: AggrChunk[][] = [];
  outer: for (const c of sorted) {
    for (const r of out) {
      if (r[r.length - 1]!.maxTime < c.minTime) {
        r.push(c);
        continue outer;
      }
    }
    out.push([c]);
  }
  return out;
}

export interface CollectedSeries {
  labels: Labels;
  chunks: AggrChunk[];
}

/**
 * Reads a Series stream: series (merging frames of equal labels), warnings. Streams come sorted by
 * labels with a split series' frames adjacent (the StoreAPI contract): then frames are merged with
 * their neighbour, without a key string per series or a sort; a stream out of order is merged by
 * key and sorted.
 */
export async function collectSeries(stream: AsyncIterable<SeriesResponse>, budget?: QueryMemoryBudget): Promise<{ series: CollectedSeries[]; warnings: string[] }> {
  const list: CollectedSeries[] = [];
  const warnings: string[] = [];
  let ordered = true;
  // The stream's series objects are kept as they are (one object less per series to hold through
  // the query); a series split over frames gets a new object of its merged chunks (never mutated:
  // an in-process store may have handed over its own objects).
  const add = (s: CollectedSeries) => {
    budget?.add(seriesBytes(s.labels, s.chunks), 'reading series from the stores');
    const last = list[list.length - 1];
    if (last) {
      const c = compareLabels(s.labels, last.labels);
      if (c === 0) {
        list[list.length - 1] = { labels: last.labels, chunks: last.chunks.concat(s.chunks) };
        return;
      }
      if (c < 0) ordered = false;
    }
    list.push(s);
  };
  for await (const r of stream) {
    if (r.type === 'series') add(r.series);
    else if (r.type === 'batch') for (const s of r.batch) add(s);
    else if (r.type === 'warning') warnings.push(r.warning);
  }
  if (ordered) return { series: list, warnings };
  const byKey = new Map<string, CollectedSeries>();
  for (const s of list) {
    const k = labelsKey(s.labels);
    const cur = byKey.get(k);
    if (cur) byKey.set(k, { labels: cur.labels, chunks: cur.chunks.concat(s.chunks) });
    else byKey.set(k, s);
  }
  const series = [...byKey.values()].sort((a, b) => compareLabels(a.labels, b.labels));
  return { series, warnings };
}

/**
 * Removes duplicated identical chunks (same time range and bytes), as the proxy may pass on copies
 * (e.g. overlapping blocks of the same data). Copies share their min time, so in min-time order
 * they are neighbours: each chunk is compared, byte for byte, only with the kept ones of its min
 * time and max time (no per-chunk key or hash over every byte, which was a quarter of the querier's
 * decode time on overlapping blocks). The result is in min-time order (stable).
 */
function dropIdenticalChunks(chunks: AggrChunk[]): AggrChunk[] {
  if (chunks.length < 2) return chunks;
  // Fast path: sorted, non-overlapping chunks cannot hold duplicates.
  let overlap = false;
  for (let i = 1; i < chunks.length && !overlap; i++) overlap = chunks[i]!.minTime <= chunks[i - 1]!.maxTime;
  if (!overlap) return chunks;
  // By min time only, stable: chunks of one min time keep their order (as the callers' sorts do).
  let sorted = chunks;
  for (let i = 1; i < chunks.length; i++) {
    if (chunks[i - 1]!.minTime > chunks[i]!.minTime) {
      sorted = [...chunks].sort((a, b) => a.minTime - b.minTime);
      break;
    }
  }
  const out: AggrChunk[] = [];
  for (const c of sorted) {
    let dup = false;
    for (let j = out.length - 1; j >= 0; j--) {
      const o = out[j]!;
      if (o.minTime !== c.minTime) break;
      if (o.maxTime === c.maxTime && aggrChunkEqual(o, c)) {
        dup = true;
        break;
      }
    }
    if (!dup) out.push(c);
  }
  return out;
}

/**
 * A select's result for another select that shared it: its own arrays (series, warnings, histogram
 * samples), the series' labels and float samples shared, as the in-memory queryable's selects share them.
 */
function copyResult(r: SelectResult): SelectResult {
  const series = r.series.map((s) => (s.h ? { ...s, h: s.h.slice() } : { ...s }));
  return r.warnings ? { series, warnings: [...r.warnings] } : { series };
}

export class StoreQueryable implements Queryable {
  /** Per-stage times of the query this queryable serves (X-Thanos-Stage-Timings), when asked for. */
  timings: StageTimings | undefined;
  /** The query's memory budget (--query.max-memory), shared by its selects. */
  private readonly budget: QueryMemoryBudget | undefined;
  /** Selects in flight by their matchers and hints (see select()). */
  private readonly inflight = new Map<string, { signal: AbortSignal | undefined; result: Promise<SelectResult> }>();

  constructor(
    private readonly store: StoreAPI,
    private readonly core: Core,
    private readonly opts: QuerierOptions,
  ) {
    this.budget = opts.maxMemoryBytes && opts.maxMemoryBytes > 0 ? new QueryMemoryBudget(opts.maxMemoryBytes) : undefined;
  }

  private dedupEnabled(): boolean {
    return this.opts.dedup && this.opts.replicaLabels.length > 0;
  }

  private strategy() {
    return this.opts.partialResponse ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT;
  }

  async select(matchers: readonly Matcher[], hints: SelectHints, signal?: AbortSignal): Promise<SelectResult> {
    // Selects of the same data in flight together (the engine selects a query's selectors at once:
    // both sides of `g / on(job) group_left sum by (job) (g)`, or of `rate(x[5m]) / x`, whose
    // ranges are the same 5 minutes) share one Series call and its decoding. The key is what the
    // answer depends on: matchers, range, the resolution asked for, chunks or none, and the
    // aggregates only where downsampled chunks may come (raw chunks are the same for any).
    const window = maxResolutionForSelect(this.opts.maxResolutionMs, hints.range, hints.func);
    const key = JSON.stringify([matchers.map((m) => [m.type, m.name, m.value]), hints.start, hints.end, window, hints.func === 'series', window > 0 ? aggrsFromFunc(hints.func) : 0]);
    const shared = this.inflight.get(key);
    if (shared && shared.signal === signal) return shared.result.then(copyResult);
    const gate = this.opts.selectGate;
    const result = gate ? gate.run(() => this.doSelect(matchers, hints, signal), signal) : this.doSelect(matchers, hints, signal);
    const entry = { signal, result };
    this.inflight.set(key, entry);
    try {
      return await result;
    } finally {
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
    }
  }

  private async doSelect(matchers: readonly Matcher[], hints: SelectHints, signal = new AbortController().signal): Promise<SelectResult> {
    const aggrs = aggrsFromFunc(hints.func);
    const skipChunks = hints.func === 'series';
    const req: SeriesRequest = {
      minTime: hints.start,
      maxTime: hints.end,
      matchers: [...matchers],
      maxResolutionWindow: maxResolutionForSelect(this.opts.maxResolutionMs, hints.range, hints.func),
      aggregates: aggrs,
      partialResponseDisabled: !this.opts.partialResponse,
      partialResponseStrategy: this.strategy(),
      skipChunks,
      step: hints.step ?? 0,
      range: hints.range ?? 0,
      queryHints: {
        stepMillis: hints.step ?? 0,
        func: hints.func ? { name: hints.func } : undefined,
        grouping: hints.grouping ? { by: !!hints.by, labels: hints.grouping } : undefined,
        range: hints.range ? { millis: hints.range } : undefined,
        projectionLabels: [],
        projectionInclude: false,
        seriesHashLabelName: '',
      },
      shardInfo: this.opts.shardInfo,
      withoutReplicaLabels: this.dedupEnabled() ? [...this.opts.replicaLabels] : [],
      limit: 0,
      responseBatchSize: 0,
    };
    const timings = this.timings;
    const t0 = timings ? performance.now() : 0;
    if (!skipChunks && !this.dedupEnabled()) {
      const used = this.budget?.used ?? 0;
      const r = await decodeWhileReading(this.core, this.store.series(req, signal), Math.max(hints.start, this.opts.mint ?? -Infinity), Math.min(hints.end, this.opts.maxt ?? Infinity), aggrs, this.budget);
      if (r) {
        if (timings) {
          timings.series += performance.now() - t0 - r.decodeMs;
          timings.decode += r.decodeMs;
        }
        return { series: r.series, warnings: r.warnings };
      }
      // Not in label order (a store breaking the StoreAPI's order): asked again and collected whole
      // below, where equal label sets far apart are merged before decoding. What the first reading
      // counted is not held any more.
      if (this.budget) this.budget.used = used;
    }
    const { series, warnings } = await collectSeries(this.store.series(req, signal), this.budget);
    if (timings) {
      const t1 = performance.now();
      timings.series += t1 - t0;
      try {
        return await this.samplesOf(series, warnings, hints, aggrs, skipChunks);
      } finally {
        timings.decode += performance.now() - t1;
      }
    }
    return this.samplesOf(series, warnings, hints, aggrs, skipChunks);
  }

  /** The selected series' samples: decoded, trimmed to the range, deduplicated. */
  private async samplesOf(series: CollectedSeries[], warnings: string[], hints: SelectHints, aggrs: number[], skipChunks: boolean): Promise<SelectResult> {
    const mint = Math.max(hints.start, this.opts.mint ?? -Infinity);
    const maxt = Math.min(hints.end, this.opts.maxt ?? Infinity);

    if (skipChunks) {
      const seen = new Map<string, SeriesData>();
      for (const s of series) {
        const ls = this.dedupEnabled() ? splitReplicaLabels(s.labels, new Set(this.opts.replicaLabels)).rest : s.labels;
        seen.set(labelsKey(ls), { labels: ls, t: EMPTY.t, v: EMPTY.v, n: 0 });
      }
      const out = [...seen.values()].sort((a, b) => compareLabels(a.labels, b.labels));
      return { series: out, warnings };
    }

    if (!this.dedupEnabled()) return { series: await decodeSeriesList(this.core, series, mint, maxt, aggrs, this.budget), warnings };

    // Dedup: every run of non-overlapping chunks of a series is a replica (stores that honour
    // without_replica_labels already merged the replicas' chunks under one label set).
    const replicas: SeriesData[] = [];
    for (const s of series) {
      for (const run of overlapSplit(dropIdenticalChunks(s.chunks))) {
        const samples = trim(seriesSamples(this.core, run, aggrs), mint, maxt);
        this.budget?.add(samplesBytes({ n: samples.t.length, h: samples.h }), 'decoding samples');
        replicas.push({ labels: s.labels, ...samples });
      }
    }
    const out = dedupSeriesSet(replicas, this.opts.replicaLabels, { algorithm: this.opts.dedupAlgorithm, func: hints.func });
    return { series: out, warnings };
  }

  async labelNames(matchers: readonly Matcher[], start: number, end: number, signal?: AbortSignal): Promise<string[]> {
    const r = await this.labelNamesWithWarnings(matchers, start, end, signal);
    return r.values;
  }

  async labelValues(name: string, matchers: readonly Matcher[], start: number, end: number, signal?: AbortSignal): Promise<string[]> {
    const r = await this.labelValuesWithWarnings(name, matchers, start, end, signal);
    return r.values;
  }

  async labelNamesWithWarnings(matchers: readonly Matcher[], start: number, end: number, signal = new AbortController().signal): Promise<{ values: string[]; warnings: string[] }> {
    const resp = await this.store.labelNames(
      {
        partialResponseDisabled: !this.opts.partialResponse,
        partialResponseStrategy: this.strategy(),
        start,
        end,
        matchers: [...matchers],
        withoutReplicaLabels: this.dedupEnabled() ? [...this.opts.replicaLabels] : [],
        limit: 0,
      },
      signal,
    );
    let names = resp.names;
    if (this.dedupEnabled()) {
      const rl = new Set(this.opts.replicaLabels);
      names = names.filter((n) => !rl.has(n));
    }
    return { values: [...new Set(names)].sort(), warnings: resp.warnings };
  }

  async labelValuesWithWarnings(name: string, matchers: readonly Matcher[], start: number, end: number, signal = new AbortController().signal): Promise<{ values: string[]; warnings: string[] }> {
    if (this.dedupEnabled() && this.opts.replicaLabels.includes(name)) return { values: [], warnings: [] };
    const resp = await this.store.labelValues(
      {
        label: name,
        partialResponseDisabled: !this.opts.partialResponse,
        partialResponseStrategy: this.strategy(),
        start,
        end,
        matchers: [...matchers],
        withoutReplicaLabels: this.dedupEnabled() ? [...this.opts.replicaLabels] : [],
        limit: 0,
      },
      signal,
    );
    return { values: [...new Set(resp.values)].sort(), warnings: resp.warnings };
  }
}
