// Native histogram results of rule queries, in and out of the ruler.
//
// In: the ruler asks its query APIs over HTTP, whose JSON (Prometheus util/jsonutil
// MarshalHistogram) carries a histogram as count, sum and its non-empty buckets with their bounds,
// not its schema, spans or counter-reset hint. The bounds give the layout back: an exponential
// schema's bucket i spans (bound(i-1), bound(i)] and these bounds are exact float64 values in the
// JSON, so the schema and indices are found by matching bounds exactly; anything no exponential
// schema explains is a custom-buckets histogram (schema -53) whose bounds are the finite bounds
// seen. What the JSON cannot tell is reconstructed as follows (so a recorded series equals the
// engine's answer bucket for bucket, though not always field for field):
//   - counter-reset hint: 'unknown' (the TSDB's appender detects resets, as for any histogram
//     sample with that hint);
//   - zero threshold: the zero bucket's bound, or the clipped bound of a bucket next to it; 0 when
//     neither shows;
//   - schema of a histogram without exponential buckets: 8 (adding it to another histogram then
//     never lowers that one's resolution);
//   - custom bounds of empty custom buckets (left out of the JSON): absent.
// Upstream Thanos reads these answers into model.Vector and records 0 for a histogram sample over
// HTTP (only its gRPC query API path keeps histograms); we keep the histogram instead.
//
// Out: the TSDB head and remote write take prompb float histograms.
import { FloatHistogram, type BucketSpan } from '../histogram/float.ts';
import { CUSTOM_BUCKETS_SCHEMA, EXPONENTIAL_SCHEMA_MAX, EXPONENTIAL_SCHEMA_MIN, getBoundExponential } from '../histogram/buckets.ts';
import { HistogramResetHint, type Histogram as PromHistogram } from '../proto/prompb.ts';

/** Parses a quoted API float ("1.5", "+Inf", "-Inf", "NaN"). */
export function apiFloat(s: unknown, what: string): number {
  if (typeof s !== 'string') throw new Error(`query API: ${what} ${JSON.stringify(s)} is not a string`);
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  if (s.trim() === '' || Number.isNaN(n)) throw new Error(`query API: ${what} ${JSON.stringify(s)} is not a number`);
  return n;
}

interface JsonBucket { rule: number; lower: number; upper: number; count: number }

/** The zero bucket [-zt, zt] (a custom-buckets histogram's first bucket [-Inf, b] is closed too, but infinite). */
const isZeroBucket = (b: JsonBucket) => b.rule === 3 && Number.isFinite(b.lower) && b.lower === -b.upper;

/** Bounds of one query answer at most (a histogram with more buckets is refused, not built). */
const MAX_JSON_BUCKETS = 1 << 16;

function parseBuckets(v: unknown): JsonBucket[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error('query API: histogram buckets is not a list');
  if (v.length > MAX_JSON_BUCKETS) throw new Error(`query API: histogram has ${v.length} buckets, more than ${MAX_JSON_BUCKETS}`);
  return v.map((b, i) => {
    if (!Array.isArray(b) || b.length !== 4 || typeof b[0] !== 'number' || !Number.isInteger(b[0]) || b[0] < 0 || b[0] > 3) {
      throw new Error(`query API: histogram bucket ${i} is not [boundaryRule 0..3, lower, upper, count]`);
    }
    const out = { rule: b[0], lower: apiFloat(b[1], 'bucket bound'), upper: apiFloat(b[2], 'bucket bound'), count: apiFloat(b[3], 'bucket count') };
    if (!(out.lower <= out.upper)) throw new Error(`query API: histogram bucket ${i} has lower bound ${b[1]} above upper bound ${b[2]}`);
    return out;
  });
}

/** The index of the exponential bucket whose upper bound is exactly `upper` (> 0) in `schema`, if any. */
function expIndex(upper: number, schema: number): number | undefined {
  if (!(upper > 0) || !Number.isFinite(upper)) return undefined;
  const guess = Math.round(Math.log2(upper) * 2 ** schema);
  for (const i of [guess, guess - 1, guess + 1]) if (getBoundExponential(i, schema) === upper) return i;
  return undefined;
}

/** Spans and counts of sorted distinct indices (one span per run of consecutive indices). */
function spansOf(entries: Array<{ index: number; count: number }>): { spans: BucketSpan[]; counts: number[] } {
  entries.sort((a, b) => a.index - b.index);
  const spans: BucketSpan[] = [];
  const counts: number[] = [];
  let next: number | undefined;
  for (const e of entries) {
    if (next !== undefined && e.index < next) throw new Error('query API: histogram has two buckets with the same bounds');
    if (next !== undefined && e.index === next) spans[spans.length - 1]!.length++;
    else spans.push({ offset: next === undefined ? e.index : e.index - next, length: 1 });
    counts.push(e.count);
    next = e.index + 1;
  }
  return { spans, counts };
}

/** An exponential layout for these buckets in `schema`, or undefined when the bounds do not fit it. */
function exponentialLayout(buckets: JsonBucket[], schema: number, zeroThreshold: number | undefined): FloatHistogram | undefined {
  let zt = zeroThreshold;
  let zeroCount = 0;
  const pos: Array<{ index: number; count: number }> = [];
  const neg: Array<{ index: number; count: number }> = [];
  for (const b of buckets) {
    if (isZeroBucket(b)) {
      zeroCount = b.count;
      continue;
    }
    const positive = b.lower >= 0;
    if (positive ? b.rule !== 0 : b.rule !== 1) return undefined;
    // A negative bucket [-bound(i), -bound(i-1)) mirrors a positive (bound(i-1), bound(i)].
    const far = positive ? b.upper : -b.lower;
    const near = positive ? b.lower : -b.upper;
    const i = expIndex(far, schema);
    if (i === undefined) return undefined;
    const exact = getBoundExponential(i - 1, schema);
    if (near !== exact) {
      // The bucket next to the zero bucket shows the threshold as its near bound.
      if (!(near > exact && near < far)) return undefined;
      if (zt !== undefined && zt !== near) return undefined;
      zt = near;
    }
    (positive ? pos : neg).push({ index: i, count: b.count });
  }
  const p = spansOf(pos);
  const n = spansOf(neg);
  return new FloatHistogram({
    schema, zeroThreshold: zt ?? 0, zeroCount, count: 0, sum: 0,
    positiveSpans: p.spans, positiveBuckets: p.counts, negativeSpans: n.spans, negativeBuckets: n.counts,
  });
}

/** A custom-buckets layout: the finite bounds seen are the custom values. */
function customLayout(buckets: JsonBucket[]): FloatHistogram {
  const bounds = new Set<number>();
  for (const b of buckets) {
    // (lower, upper]; the first one [-Inf, upper].
    if (b.rule !== 0 && !(b.rule === 3 && b.lower === -Infinity)) throw new Error('query API: histogram buckets fit no exponential schema and are not custom buckets (lower, upper]');
    for (const x of [b.lower, b.upper]) if (Number.isFinite(x)) bounds.add(x);
  }
  const customValues = [...bounds].sort((a, b) => a - b);
  const at = new Map(customValues.map((v, i) => [v, i]));
  const entries = buckets.map((b) => {
    const index = b.upper === Infinity ? customValues.length : at.get(b.upper);
    const lowerIdx = b.lower === -Infinity ? -1 : at.get(b.lower);
    if (index === undefined || lowerIdx === undefined || lowerIdx !== index - 1) {
      throw new Error(`query API: histogram bucket (${b.lower}, ${b.upper}] overlaps another or fits no bucket layout`);
    }
    return { index, count: b.count };
  });
  const p = spansOf(entries);
  return new FloatHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, count: 0, sum: 0, positiveSpans: p.spans, positiveBuckets: p.counts, customValues });
}

/** A histogram of an API answer (`{count, sum, buckets}`) as a FloatHistogram; throws on what no histogram can be. */
export function histogramFromApiJson(v: unknown): FloatHistogram {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('query API: histogram is not an object');
  const o = v as { count?: unknown; sum?: unknown; buckets?: unknown };
  const count = apiFloat(o.count, 'histogram count');
  const sum = apiFloat(o.sum, 'histogram sum');
  const buckets = parseBuckets(o.buckets);
  const zero = buckets.find(isZeroBucket);
  let h: FloatHistogram | undefined;
  const exponential = buckets.filter((b) => !isZeroBucket(b));
  if (exponential.length === 0) {
    h = exponentialLayout(buckets, EXPONENTIAL_SCHEMA_MAX, zero?.upper);
  } else {
    // The highest schema that explains every bound: a bucket whose near bound is clipped to the
    // zero threshold fits several schemas; the others fit one.
    for (let s = EXPONENTIAL_SCHEMA_MAX; s >= EXPONENTIAL_SCHEMA_MIN && !h; s--) h = exponentialLayout(buckets, s, zero?.upper);
  }
  if (!h) {
    if (zero) throw new Error('query API: histogram has a zero bucket but its other buckets fit no exponential schema');
    h = customLayout(buckets);
  }
  h.count = count;
  h.sum = sum;
  try {
    h.validate();
  } catch (e) {
    throw new Error(`query API: invalid histogram: ${(e as Error).message}`);
  }
  return h;
}

const HINT_TO_PROMPB = {
  unknown: HistogramResetHint.UNKNOWN,
  reset: HistogramResetHint.YES,
  not_reset: HistogramResetHint.NO,
  gauge: HistogramResetHint.GAUGE,
} as const;

/** A FloatHistogram as a prompb float histogram (Prometheus FloatHistogramToHistogramProto) at `timestamp`. */
export function toPrompbFloat(h: FloatHistogram, timestamp: number): PromHistogram {
  return {
    countFloat: h.count, sum: h.sum, schema: h.schema, zeroThreshold: h.zeroThreshold, zeroCountFloat: h.zeroCount,
    negativeSpans: h.negativeSpans.map((s) => ({ offset: s.offset, length: s.length })), negativeDeltas: [], negativeCounts: [...h.negativeBuckets],
    positiveSpans: h.positiveSpans.map((s) => ({ offset: s.offset, length: s.length })), positiveDeltas: [], positiveCounts: [...h.positiveBuckets],
    resetHint: HINT_TO_PROMPB[h.counterResetHint], timestamp, customValues: [...h.customValues],
  };
}
