// The querier's storage: a PromQL Queryable over a StoreAPI (normally the proxy fanning out to every
// endpoint). Picks the aggregates a function needs from downsampled data, decodes chunks, trims to
// the requested range and deduplicates replicas (lib/store/dedup.ts).
import type { Core } from '../core/types.ts';
import type { Labels, Matcher } from '../labels/mod.ts';
import type { Queryable, SelectHints, SelectResult, SeriesData } from '../promql/queryable.ts';
import {
  Aggr, PartialResponseStrategy,
  type AggrChunk, type Chunk, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest,
  type LabelValuesResponse, type SeriesRequest, type SeriesResponse, type ShardInfo,
} from '../proto/store.ts';
import { compareLabels, labelsKey } from '../labels/mod.ts';
import { dedupSeriesSet, splitReplicaLabels, type DedupAlgorithm, type Samples } from '../store/dedup.ts';

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
  if (c.type !== 0) throw new QueryDataError(`unsupported chunk encoding ${c.type} (only XOR float chunks are supported)`);
  const s = core.xorDecode(c.data);
  return { t: s.t, v: s.v, n: s.n };
}

function concatInto(parts: Samples[]): Samples {
  let total = 0;
  for (const p of parts) total += p.n;
  if (parts.length === 1) return parts[0]!;
  const t = new Float64Array(total);
  const v = new Float64Array(total);
  let n = 0;
  let lastT = -Infinity;
  for (const p of parts) {
    // Chunks are ordered by min time but may overlap: never go back in time.
    for (let i = 0; i < p.n; i++) {
      const ti = p.t[i]!;
      if (ti <= lastT) continue;
      t[n] = ti;
      v[n] = p.v[i]!;
      n++;
      lastT = ti;
    }
  }
  return { t, v, n };
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
  for (const p of parts) {
    let i = 0;
    // A new chunk must not go back in time: skip to lastT+1, but still honour the t==lastT marker.
    for (; i < p.n; i++) {
      const ti = p.t[i]!;
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
  return { t: t.subarray(0, n), v: v.subarray(0, n), n };
}

function average(count: Samples, sum: Samples): Samples {
  if (count.n !== sum.n) throw new QueryDataError('sum and count iterator not aligned');
  const v = new Float64Array(count.n);
  for (let i = 0; i < count.n; i++) {
    if (count.t[i] !== sum.t[i]) throw new QueryDataError('sum and count timestamps not aligned');
    v[i] = sum.v[i]! / count.v[i]!;
  }
  return { t: count.t, v, n: count.n };
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

/** Samples of one series from its chunks, using the aggregates requested (raw chunks pass through). */
export function seriesSamples(core: Core, chunks: readonly AggrChunk[], aggrs: readonly number[]): Samples {
  if (chunks.length === 0) return EMPTY;
  const sorted = chunks.length > 1 && !chunks.every((c, i) => i === 0 || chunks[i - 1]!.minTime <= c.minTime) ? [...chunks].sort((a, b) => a.minTime - b.minTime) : chunks;
  if (sorted.every((c) => c.raw)) return decodeRun(core, sorted.map((c) => c.raw!));
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
  return { t: s.t.subarray(lo, hi), v: s.v.subarray(lo, hi), n: hi - lo };
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

/** Reads a Series stream: series (merging frames of equal labels), warnings. */
export async function collectSeries(stream: AsyncIterable<SeriesResponse>): Promise<{ series: CollectedSeries[]; warnings: string[] }> {
  const byKey = new Map<string, CollectedSeries>();
  const warnings: string[] = [];
  const add = (labels: Labels, chunks: AggrChunk[]) => {
    const k = labelsKey(labels);
    const cur = byKey.get(k);
    if (cur) cur.chunks.push(...chunks);
    else byKey.set(k, { labels, chunks: [...chunks] });
  };
  for await (const r of stream) {
    if (r.type === 'series') add(r.series.labels, r.series.chunks);
    else if (r.type === 'batch') for (const s of r.batch) add(s.labels, s.chunks);
    else if (r.type === 'warning') warnings.push(r.warning);
  }
  const series = [...byKey.values()].sort((a, b) => compareLabels(a.labels, b.labels));
  return { series, warnings };
}

/** Removes duplicated identical chunks (same time range and bytes), as the proxy may pass on copies. */
function dropIdenticalChunks(chunks: AggrChunk[]): AggrChunk[] {
  if (chunks.length < 2) return chunks;
  // Fast path: sorted, non-overlapping chunks cannot hold duplicates.
  let overlap = false;
  for (let i = 1; i < chunks.length && !overlap; i++) overlap = chunks[i]!.minTime <= chunks[i - 1]!.maxTime;
  if (!overlap) return chunks;
  const seen = new Set<string>();
  const out: AggrChunk[] = [];
  for (const c of chunks) {
    const d = c.raw ?? c.counter ?? c.sum ?? c.count ?? c.min ?? c.max;
    let h = `${c.minTime}:${c.maxTime}:${d ? d.data.length : 0}:`;
    if (d) {
      // A cheap fingerprint: FNV-1a over the bytes.
      let x = 0x811c9dc5;
      for (let i = 0; i < d.data.length; i++) x = Math.imul(x ^ d.data[i]!, 0x01000193);
      h += x >>> 0;
    }
    if (seen.has(h)) continue;
    seen.add(h);
    out.push(c);
  }
  return out;
}

export class StoreQueryable implements Queryable {
  constructor(
    private readonly store: StoreAPI,
    private readonly core: Core,
    private readonly opts: QuerierOptions,
  ) {}

  private dedupEnabled(): boolean {
    return this.opts.dedup && this.opts.replicaLabels.length > 0;
  }

  private strategy() {
    return this.opts.partialResponse ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT;
  }

  async select(matchers: readonly Matcher[], hints: SelectHints, signal?: AbortSignal): Promise<SelectResult> {
    const gate = this.opts.selectGate;
    return gate ? gate.run(() => this.doSelect(matchers, hints, signal), signal) : this.doSelect(matchers, hints, signal);
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
    const { series, warnings } = await collectSeries(this.store.series(req, signal));
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

    if (!this.dedupEnabled()) {
      const out: SeriesData[] = [];
      for (const s of series) {
        const samples = trim(seriesSamples(this.core, dropIdenticalChunks(s.chunks), aggrs), mint, maxt);
        out.push({ labels: s.labels, ...samples });
      }
      return { series: out, warnings };
    }

    // Dedup: every run of non-overlapping chunks of a series is a replica (stores that honour
    // without_replica_labels already merged the replicas' chunks under one label set).
    const replicas: SeriesData[] = [];
    for (const s of series) {
      for (const run of overlapSplit(dropIdenticalChunks(s.chunks))) {
        const samples = trim(seriesSamples(this.core, run, aggrs), mint, maxt);
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
