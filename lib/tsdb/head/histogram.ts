// Native histogram samples in the head: what a remote-write prompb.Histogram becomes once checked
// (Prometheus's HistogramProtoToHistogram / FloatHistogramProtoToFloatHistogram followed by the
// head appender's Validate), how runs of them become EncHistogram / EncFloatHistogram chunks (the
// core's appender rules: counter-reset cuts, recoding), how chunks turn back into samples (a
// truncation that splits a chunk, a WAL checkpoint), and their WAL record bodies.
//
// Integer histograms stay integer end to end (an EncHistogram chunk); only float histograms (the
// prompb count_float/zero_count_float/positive_counts form) become EncFloatHistogram chunks.
import type { Core, HistogramSamples } from '../../core/types.ts';
import { CUSTOM_BUCKETS_SCHEMA, HISTOGRAM_COUNTER_RESET, HISTOGRAM_GAUGE, HISTOGRAM_NOT_COUNTER_RESET } from '../../core/types.ts';
import { HistogramChunkAppender, type CounterResetHint, type HistogramSample } from '../../core/js/histogram_append.ts';
import { isStaleNaN, MAX_HISTOGRAM_COUNT } from '../../core/js/histogram.ts';
import { HistogramResetHint, type Histogram as PromHistogram } from '../../proto/prompb.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM } from '../chunks.ts';

/** One histogram sample held by the head: buckets as absolute counts; `float` picks the chunk encoding. */
export interface HeadHistogram extends HistogramSample {
  float: boolean;
}

/** A closed or cut chunk of histogram samples (ENC_HISTOGRAM / ENC_FLOAT_HISTOGRAM, lib/tsdb/chunks.ts). */
export interface EncodedHistogramChunk {
  minTime: number;
  maxTime: number;
  n: number;
  encoding: number;
  data: Uint8Array;
}

/** Exponential schemas Prometheus accepts (histogram.ExponentialSchemaMin/Max); -53 is custom buckets. */
const SCHEMA_MIN = -4;
const SCHEMA_MAX = 8;

const HINTS: Record<number, CounterResetHint> = {
  [HistogramResetHint.UNKNOWN]: 'unknown',
  [HistogramResetHint.YES]: 'reset',
  [HistogramResetHint.NO]: 'not_reset',
  [HistogramResetHint.GAUGE]: 'gauge',
};

/** Spans are kept as int32 pairs: a longer span (it would need that many buckets anyway) is refused. */
const MAX_SPAN_LENGTH = 0x7fffffff;
const MAX_TIMESTAMP = 2 ** 51;
const EMPTY_SPANS = new Int32Array(0);
const EMPTY_F64 = new Float64Array(0);

/** True for a prompb histogram sent with float counts (Prometheus's IsFloatHistogram: the count oneof holds count_float). */
export function isFloatPrompb(h: PromHistogram): boolean {
  return h.countFloat !== undefined && h.countInt === undefined;
}

function flatSpans(spans: PromHistogram['positiveSpans'], side: string): Int32Array | string {
  const out = new Int32Array(spans.length * 2);
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i]!;
    // Prometheus checkHistogramSpans: only the first span may have a negative offset
    if (i > 0 && s.offset < 0) return `histogram has a span whose offset is negative: ${side} span number ${i + 1} with offset ${s.offset}`;
    if (s.length > MAX_SPAN_LENGTH) return `histogram ${side} span number ${i + 1} has length ${s.length}, more than ${MAX_SPAN_LENGTH}`;
    out[i * 2] = s.offset;
    out[i * 2 + 1] = s.length;
  }
  return out;
}

function spanBuckets(spans: Int32Array): number {
  let n = 0;
  for (let i = 1; i < spans.length; i += 2) n += spans[i]!;
  return n;
}

/**
 * A remote-write histogram as the head holds it, or the reason it is invalid (the message Prometheus's
 * histogram Validate gives, where it has one). Integer buckets are delta-coded on the wire and
 * absolute here; a stale marker (sum = StaleNaN) carries no buckets.
 */
export function headHistogramFromPrompb(h: PromHistogram): HeadHistogram | string {
  const float = isFloatPrompb(h);
  // the chunk encoder takes timestamps within ±2^51 ms (year ±71,000): beyond, refused here rather
  // than failing when the chunk is cut (after the WAL has the sample)
  if (!Number.isInteger(h.timestamp) || Math.abs(h.timestamp) > MAX_TIMESTAMP) return `histogram timestamp ${h.timestamp} out of range (±2^51 ms)`;
  const hint = HINTS[h.resetHint];
  if (hint === undefined) return `unknown histogram reset hint ${h.resetHint}`;
  const schema = h.schema;
  const custom = schema === CUSTOM_BUCKETS_SCHEMA;
  if (!custom && (schema < SCHEMA_MIN || schema > SCHEMA_MAX)) return `histogram has an invalid schema, which must be between ${SCHEMA_MIN} and ${SCHEMA_MAX} or ${CUSTOM_BUCKETS_SCHEMA} (custom buckets), got schema ${schema}`;
  if (!(h.zeroThreshold >= 0)) return `histogram has an invalid zero threshold ${h.zeroThreshold}`;
  const pSpans = flatSpans(h.positiveSpans, 'positive');
  if (typeof pSpans === 'string') return pSpans;
  const nSpans = flatSpans(h.negativeSpans, 'negative');
  if (typeof nSpans === 'string') return nSpans;
  const count = float ? h.countFloat! : h.countInt ?? 0;
  const zeroCount = float ? h.zeroCountFloat ?? 0 : h.zeroCountInt ?? 0;
  const base = { t: h.timestamp, hint, schema, zeroThreshold: h.zeroThreshold, float, sum: h.sum };
  if (isStaleNaN(h.sum)) {
    // Prometheus appends a stale marker as {Sum: StaleNaN}: counts and buckets are not kept
    return { ...base, positiveSpans: EMPTY_SPANS, negativeSpans: EMPTY_SPANS, customValues: EMPTY_F64, count: 0, zeroCount: 0, positive: EMPTY_F64, negative: EMPTY_F64 };
  }
  const side = (spans: Int32Array, deltas: readonly number[], counts: readonly number[], name: string): Float64Array | string => {
    const want = spanBuckets(spans);
    const have = float ? counts.length : deltas.length;
    if ((float && deltas.length > 0) || (!float && counts.length > 0)) return `histogram mixes integer and float ${name} buckets`;
    if (want !== have) return `histogram spans need ${want} buckets, have ${have} buckets: ${name} side`;
    const out = new Float64Array(have);
    let cur = 0;
    for (let i = 0; i < have; i++) {
      const c = float ? counts[i]! : (cur += deltas[i]!);
      if (c < 0) return `histogram has a bucket whose observation count is negative: ${name} bucket ${i} has observation count of ${c}`;
      if (!float && c > MAX_HISTOGRAM_COUNT) return `histogram bucket count ${c} out of range`;
      out[i] = c;
    }
    return out;
  };
  const positive = side(pSpans, h.positiveDeltas, h.positiveCounts, 'positive');
  if (typeof positive === 'string') return positive;
  const negative = side(nSpans, h.negativeDeltas, h.negativeCounts, 'negative');
  if (typeof negative === 'string') return negative;
  let customValues = EMPTY_F64;
  if (custom) {
    if (negative.length > 0 || nSpans.length > 0) return 'histogram with custom buckets must not have negative buckets';
    if (zeroCount !== 0 || h.zeroThreshold !== 0) return 'histogram with custom buckets must not have a zero bucket';
    const cv = h.customValues;
    for (let i = 0; i < cv.length; i++) {
      if (Number.isNaN(cv[i]!) || cv[i] === Infinity) return `histogram custom bounds must be finite, got ${cv[i]}`;
      if (i > 0 && !(cv[i]! > cv[i - 1]!)) return `histogram custom bounds must be in strictly increasing order, got ${cv[i - 1]} and ${cv[i]}`;
    }
    // bucket index i covers (cv[i-1], cv[i]]; index cv.length is the +Inf bucket
    let idx = 0;
    for (let s = 0; s < pSpans.length; s += 2) {
      idx += pSpans[s]!;
      if (idx < 0) return 'histogram with custom buckets has a negative bucket index';
      const len = pSpans[s + 1]!;
      if (len > 0 && idx + len - 1 > cv.length) return `histogram custom buckets: a span reaches bucket ${idx + len - 1}, beyond the ${cv.length + 1} buckets the bounds define`;
      idx += len;
    }
    customValues = Float64Array.from(cv);
  } else if (h.customValues.length > 0) return 'histogram with exponential schema must not have custom bounds';
  if (!float) {
    if (!Number.isInteger(count) || count > MAX_HISTOGRAM_COUNT || !Number.isInteger(zeroCount) || zeroCount > MAX_HISTOGRAM_COUNT) return `histogram count ${count} or zero count ${zeroCount} out of range`;
    let inBuckets = zeroCount;
    for (const c of positive) inBuckets += c;
    for (const c of negative) inBuckets += c;
    // Prometheus Histogram.Validate: the count is the bucket total (at least it when the sum is NaN)
    if (Number.isNaN(h.sum)) {
      if (inBuckets > count) return `${inBuckets} observations found in buckets, but the Count field is ${count}: histogram's observation count should be at least the number of observations found in the buckets`;
    } else if (inBuckets !== count) return `${inBuckets} observations found in buckets, but the Count field is ${count}: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)`;
  } else if (count < 0 || zeroCount < 0) return `histogram has a negative count ${count} or zero count ${zeroCount}`;
  return { ...base, positiveSpans: pSpans, negativeSpans: nSpans, customValues, count, zeroCount, positive, negative };
}

function equalF64(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * Same histogram (Prometheus Histogram.Equals, which the head uses to let an exact duplicate pass):
 * every field but the reset hint; sums compared bit for bit.
 */
export function sameHistogram(a: HeadHistogram, b: HeadHistogram): boolean {
  if (a.float !== b.float || a.schema !== b.schema || a.count !== b.count || a.zeroCount !== b.zeroCount) return false;
  if (!Object.is(a.zeroThreshold, b.zeroThreshold)) return false;
  const sa = isStaleNaN(a.sum);
  if (sa !== isStaleNaN(b.sum) || (!sa && !Object.is(a.sum, b.sum))) return false;
  return equalF64(a.positiveSpans, b.positiveSpans) && equalF64(a.negativeSpans, b.negativeSpans) &&
    equalF64(a.positive, b.positive) && equalF64(a.negative, b.negative) && equalF64(a.customValues, b.customValues);
}

/** A histogram stale marker (what a float StaleNaN becomes in a series whose last sample is a histogram). */
export function staleHistogram(t: number, float: boolean, sum: number): HeadHistogram {
  return { t, hint: 'unknown', schema: 0, zeroThreshold: 0, float, sum, positiveSpans: EMPTY_SPANS, negativeSpans: EMPTY_SPANS, customValues: EMPTY_F64, count: 0, zeroCount: 0, positive: EMPTY_F64, negative: EMPTY_F64 };
}

function encodeAppender(core: Core, a: HistogramChunkAppender): EncodedHistogramChunk {
  const s = a.samples();
  return { minTime: s.t[0]!, maxTime: s.t[s.n - 1]!, n: s.n, encoding: a.float ? ENC_FLOAT_HISTOGRAM : ENC_HISTOGRAM, data: core.histogramEncode(s) };
}

/**
 * Encodes histogram samples (time-ordered) into chunks the way Prometheus's head appends them: the
 * chunk appender decides counter-reset cuts and recodes; a switch between integer and float
 * histograms starts a chunk of the other encoding. `prev` is the appender of the chunk before the
 * first sample (for the new chunk's counter-reset header). Returns the chunks and the last appender.
 */
export function encodeHistogramRun(core: Core, samples: readonly HeadHistogram[], prev?: HistogramChunkAppender): { chunks: EncodedHistogramChunk[]; last?: HistogramChunkAppender } {
  const chunks: EncodedHistogramChunk[] = [];
  let app: HistogramChunkAppender | undefined;
  for (const h of samples) {
    if (app && app.float !== h.float) {
      chunks.push(encodeAppender(core, app));
      // Prometheus hands the new chunk no previous appender of another encoding: header unknown
      prev = undefined;
      app = undefined;
    }
    if (!app) {
      app = new HistogramChunkAppender(h.float);
      app.append(h, prev);
      continue;
    }
    const r = app.append(h);
    if (r.cut) {
      chunks.push(encodeAppender(core, app));
      app = r.appender;
    }
  }
  if (app) chunks.push(encodeAppender(core, app));
  return { chunks, last: app };
}

/** The samples of a histogram chunk (copied: the core may hand out views into memory it reuses). */
export function histogramChunkSamples(core: Core, data: Uint8Array, encoding: number): HeadHistogram[] {
  const float = encoding === ENC_FLOAT_HISTOGRAM;
  const d: HistogramSamples = core.histogramDecode(data, float);
  const P = spanBuckets(d.layout.positiveSpans);
  const N = spanBuckets(d.layout.negativeSpans);
  const out: HeadHistogram[] = [];
  for (let i = 0; i < d.n; i++) {
    const sum = d.sum[i]!;
    if (isStaleNaN(sum)) {
      out.push(staleHistogram(d.t[i]!, float, sum));
      continue;
    }
    const hint: CounterResetHint = d.header === HISTOGRAM_GAUGE ? 'gauge' : i === 0 && d.header === HISTOGRAM_COUNTER_RESET ? 'reset' : i === 0 && d.header === HISTOGRAM_NOT_COUNTER_RESET ? 'not_reset' : 'unknown';
    out.push({
      t: d.t[i]!, hint, float, schema: d.layout.schema, zeroThreshold: d.layout.zeroThreshold,
      positiveSpans: d.layout.positiveSpans.slice(), negativeSpans: d.layout.negativeSpans.slice(), customValues: d.layout.customValues.slice(),
      count: d.count[i]!, zeroCount: d.zeroCount[i]!, sum,
      positive: d.positive.slice(i * P, (i + 1) * P), negative: d.negative.slice(i * N, (i + 1) * N),
    });
  }
  return out;
}
