// Downsampling native histograms as Thanos does (pkg/compact/downsample: downsampleHistogramBatch,
// histogramAggregator, downsampleHistogramAggrBatch). A histogram AggrChunk holds three aggregates:
//   count   (XOR)             histograms in the window, as a float;
//   sum     (float histogram) the window's histograms added up, always with the gauge hint;
//   counter (float histogram) the running counter since the batch began, resets folded in (a reset
//                             adds the new histogram, otherwise the delta to the previous one);
// and no min / max (a request for them fails with "aggregate ... does not exist", as in Thanos).
// Samples of a batch are brought to the batch's lowest schema first, so every window's histogram
// can be appended to one chunk. The float-histogram chunks are written through the chunk appender
// with the appender itself as "previous" for the first sample, as Thanos calls Prometheus's
// AppendFloatHistogram (hence a counter chunk's header is "not a counter reset" unless the first
// counter carries a reset hint); should the appender ever cut a new chunk, the new one replaces the
// old as in Thanos (it cannot for these aggregates: the counter never decreases, the sum is a gauge).
//
// What a query of downsampled data returns for them (Thanos's querier, lib/query/querier.ts):
// rate/increase/irate/resets (the counter aggregate) the counter histograms at the window ends;
// sum_over_time the sum histograms; count_over_time the counts (floats); any other function
// (aggregates count + sum) the window's average histogram, sum / count; min/max_over_time fail.
import type { Core } from '../core/types.ts';
import { isStaleNaN } from '../core/js/histogram.ts';
import { HistogramChunkAppender } from '../core/js/histogram_append.ts';
import type { FloatHistogram } from '../histogram/float.ts';
import { AGGR_COUNT, AGGR_COUNTER, AGGR_SUM, encodeAggrChunk } from './aggrchunk.ts';
import { ENC_AGGR, ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM, ENC_XOR, type RawChunk } from './chunks.ts';
import { appenderSample } from './histograms.ts';
import { fromChunkSample } from '../histogram/convert.ts';
import type { ChunkInput } from './writer.ts';

/** Thanos currentWindow: end (inclusive) of the window holding t. */
function currentWindow(t: number, r: number): number {
  return t - (t % r) + r - 1;
}

/** Thanos targetChunkCount. */
export function targetChunkCount(mint: number, maxt: number, inRes: number, outRes: number, count: number): number {
  const maxSamples = Math.trunc((maxt - mint) / outRes);
  let full = count / ((maxt - mint) / inRes);
  if (!(full <= 1)) full = 1;
  const exp = Math.trunc(maxSamples * full) + 1;
  let x = 1;
  while (Math.trunc(exp / x) > 140) x++;
  return x;
}

/** Thanos histogramAggregator. */
class HistogramAggregator {
  total = 0;
  count = 0;
  sum: FloatHistogram | undefined;
  counter: FloatHistogram | undefined;
  previous: FloatHistogram | undefined;
  constructor(private readonly schema: number) {}

  reset(): void {
    this.count = 0;
    this.sum = undefined;
  }

  add(orig: FloatHistogram): void {
    if (orig.schema < this.schema) throw new Error('downsample: histogram schema below the batch schema');
    // a schema increase counts as a reset: detect it on the original
    const fh = orig.schema > this.schema ? orig.copyToSchema(this.schema) : orig;
    if (this.total > 0) {
      if (fh.counterResetHint !== 'gauge' && orig.detectReset(this.previous!)) this.counter!.add(fh);
      else this.counter!.add(deltaOf(fh, this.previous!));
    } else {
      this.counter = fh.copy();
    }
    if (!this.sum) this.sum = fh.copy();
    else this.sum.add(fh);
    // a gauge, or appending the sums would see a counter reset whenever a window holds fewer histograms
    this.sum.counterResetHint = 'gauge';
    this.previous = fh;
    this.count++;
    this.total++;
  }
}

function deltaOf(fh: FloatHistogram, previous: FloatHistogram): FloatHistogram {
  const d = fh.copy();
  d.sub(previous);
  return d;
}

/** Thanos downsampleBatch over histogram samples: add(windowEnd) at the end of each window. */
function downsampleBatch(t: readonly number[], h: readonly FloatHistogram[], res: number, a: HistogramAggregator, add: (t: number) => void): number {
  let nextT = -1;
  const lastT = t[t.length - 1]!;
  for (let i = 0; i < t.length; i++) {
    if (t[i]! > nextT) {
      if (nextT !== -1) add(nextT);
      a.reset();
      nextT = Math.min(currentWindow(t[i]!, res), lastT);
    }
    a.add(h[i]!);
  }
  if (a.total > 0) add(nextT);
  return nextT;
}

/** Thanos minSchema: the lowest schema of the non-stale histograms. */
function minSchema(h: readonly FloatHistogram[]): number {
  let s = Infinity;
  for (const x of h) if (!isStaleNaN(x.sum) && x.schema < s) s = x.schema;
  return s;
}

/** One float-histogram chunk built the way Thanos's aggrChunkBuilder.appendFloatHistogram builds it. */
class FloatHistogramChunkBuilder {
  private app = new HistogramChunkAppender(true);

  append(t: number, fh: FloatHistogram): void {
    const r = this.app.append(appenderSample(t, fh), this.app);
    // Thanos keeps the chunk the appender returns: a cut chunk replaces the previous one
    if (r.cut) this.app = r.appender;
  }

  encode(core: Core): RawChunk | undefined {
    return this.app.n === 0 ? undefined : { encoding: ENC_FLOAT_HISTOGRAM, data: core.histogramEncode(this.app.samples()) };
  }
}

/** Thanos downsampleHistogramBatch: one AggrChunk from a batch of raw histograms. */
function downsampleHistogramBatch(core: Core, t: number[], h: FloatHistogram[], res: number): ChunkInput {
  const gauge = h[0]!.counterResetHint === 'gauge';
  const sum = new FloatHistogramChunkBuilder();
  const counter = new FloatHistogramChunkBuilder();
  const ct: number[] = [];
  const cv: number[] = [];
  let mint = Infinity;
  let maxt = -Infinity;
  const a = new HistogramAggregator(minSchema(h));
  downsampleBatch(t, h, res, a, (wt) => {
    mint = Math.min(mint, wt);
    maxt = Math.max(maxt, wt);
    if (gauge) {
      a.counter!.counterResetHint = 'gauge';
      a.sum!.counterResetHint = 'gauge';
    }
    counter.append(wt, a.counter!);
    sum.append(wt, a.sum!);
    ct.push(wt);
    cv.push(a.count);
  });
  const parts: (RawChunk | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  parts[AGGR_COUNT] = { encoding: ENC_XOR, data: core.xorEncode(Float64Array.from(ct), Float64Array.from(cv), ct.length) };
  parts[AGGR_SUM] = sum.encode(core);
  parts[AGGR_COUNTER] = counter.encode(core);
  return { minTime: mint, maxTime: maxt, encoding: ENC_AGGR, data: encodeAggrChunk(parts), samples: ct.length };
}

/**
 * Thanos DownsampleRaw for a run of histogram samples (stale markers already dropped, time order):
 * batches of about equal size, each extended to the end of its last window, one AggrChunk each;
 * histograms with a NaN sum are left out of their batch (after the batches are cut, as in Thanos).
 */
export function downsampleRawHistograms(core: Core, t: number[], h: FloatHistogram[], res: number): ChunkInput[] {
  if (t.length === 0) return [];
  const numChunks = targetChunkCount(t[0]!, t[t.length - 1]!, 60_000, res, t.length);
  const batchSize = Math.trunc(t.length / numChunks) + 1;
  const out: ChunkInput[] = [];
  for (let from = 0; from < t.length;) {
    let j = Math.min(from + batchSize, t.length);
    const curW = currentWindow(t[j - 1]!, res);
    while (j < t.length && t[j]! <= curW) j++;
    const bt: number[] = [];
    const bh: FloatHistogram[] = [];
    for (let i = from; i < j; i++) {
      if (Number.isNaN(h[i]!.sum)) continue;
      bt.push(t[i]!);
      bh.push(h[i]!);
    }
    if (bt.length > 0) out.push(downsampleHistogramBatch(core, bt, bh, res));
    from = j;
  }
  return out;
}

/** Whether an AggrChunk holds histogram aggregates (its counter is a histogram chunk), as Thanos tells. */
export function isHistogramAggrChunk(parts: readonly (RawChunk | undefined)[]): boolean {
  const c = parts[AGGR_COUNTER];
  return !!c && (c.encoding === ENC_HISTOGRAM || c.encoding === ENC_FLOAT_HISTOGRAM);
}

/** The histograms of histogram chunks (stale markers and samples going back in time dropped per chunk). */
function expandHistograms(core: Core, chunks: readonly (RawChunk | undefined)[], t: number[], h: FloatHistogram[]): void {
  for (const c of chunks) {
    if (!c) continue;
    if (c.encoding !== ENC_HISTOGRAM && c.encoding !== ENC_FLOAT_HISTOGRAM) throw new Error(`downsample: expected a histogram aggregate, got chunk encoding ${c.encoding}`);
    const s = core.histogramDecode(c.data, c.encoding === ENC_FLOAT_HISTOGRAM);
    let lastT = 0;
    for (let i = 0; i < s.n; i++) {
      if (isStaleNaN(s.sum[i]!)) continue;
      if (s.t[i]! >= lastT) {
        t.push(s.t[i]!);
        h.push(fromChunkSample(s, i));
        lastT = s.t[i]!;
      }
    }
  }
}

/** Thanos downsampleHistogramAggrBatch: histogram AggrChunks (one batch) re-aggregated to res. */
export function downsampleHistogramAggrBatch(core: Core, part: readonly (readonly (RawChunk | undefined)[])[], res: number): ChunkInput {
  let mint = Infinity;
  let maxt = -Infinity;
  const window = (wt: number) => {
    mint = Math.min(mint, wt);
    maxt = Math.max(maxt, wt);
  };
  const parts: (RawChunk | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  for (const at of [AGGR_COUNTER, AGGR_SUM]) {
    const t: number[] = [];
    const h: FloatHistogram[] = [];
    expandHistograms(core, part.map((p) => p[at]), t, h);
    if (t.length === 0) throw new Error(`downsample: histogram AggrChunks without ${at === AGGR_SUM ? 'sum' : 'counter'} aggregates`);
    const b = new FloatHistogramChunkBuilder();
    const a = new HistogramAggregator(minSchema(h));
    downsampleBatch(t, h, res, a, (wt) => {
      window(wt);
      b.append(wt, at === AGGR_SUM ? a.sum! : a.counter!);
    });
    parts[at] = b.encode(core);
  }
  // count: the counts added up per window (Thanos genericAggregate with the float aggregator's sum)
  const ct: number[] = [];
  const cv: number[] = [];
  for (const p of part) {
    const c = p[AGGR_COUNT];
    if (!c) continue;
    const s = core.xorDecode(c.data);
    let lastT = 0;
    for (let i = 0; i < s.n; i++) {
      if (isStaleNaN(s.v[i]!)) continue;
      if (s.t[i]! >= lastT) {
        ct.push(s.t[i]!);
        cv.push(s.v[i]!);
        lastT = s.t[i]!;
      }
    }
  }
  if (ct.length > 0) {
    const ot: number[] = [];
    const ov: number[] = [];
    let nextT = -1;
    let sum = 0;
    const lastT = ct[ct.length - 1]!;
    for (let i = 0; i < ct.length; i++) {
      if (ct[i]! > nextT) {
        if (nextT !== -1) ot.push(nextT), ov.push(sum), window(nextT);
        sum = 0;
        nextT = Math.min(currentWindow(ct[i]!, res), lastT);
      }
      sum += cv[i]!;
    }
    ot.push(nextT), ov.push(sum), window(nextT);
    parts[AGGR_COUNT] = { encoding: ENC_XOR, data: core.xorEncode(Float64Array.from(ot), Float64Array.from(ov), ot.length) };
  }
  const samples = parts[AGGR_COUNT] ? core.xorDecode(parts[AGGR_COUNT]!.data).n : 0;
  return { minTime: mint, maxTime: maxt, encoding: ENC_AGGR, data: encodeAggrChunk(parts), samples };
}

