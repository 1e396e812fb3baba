// Into the query path's FloatHistogram: decoded chunk samples (lib/core HistogramSamples, integer or
// float chunks, already absolute counts) and remote-write/read protobuf histograms (prompb, integer
// ones as bucket deltas). Both as Prometheus converts them (chunk iterator AtFloatHistogram,
// prompb Histogram.ToFloatHistogram).
import {
  HISTOGRAM_GAUGE,
  type HistogramSamples,
} from '../core/types.ts';
import type { Histogram as PrompbHistogram } from '../proto/prompb.ts';
import { isStaleNaN } from '../core/js/histogram.ts';
import { type CounterResetHint, FloatHistogram } from './float.ts';
import { EXPONENTIAL_SCHEMA_MAX, EXPONENTIAL_SCHEMA_MAX_RESERVED, EXPONENTIAL_SCHEMA_MIN_RESERVED } from './buckets.ts';
import { HistogramValidationError } from './validate.ts';

/**
 * The hint Prometheus's chunk iterators report for sample i: 'gauge' throughout a gauge chunk;
 * otherwise 'unknown' for the first sample (the chunk header's reset/no-reset is not trusted, the
 * previous chunk may be gone) and 'not_reset' after it (a chunk never holds a reset inside).
 */
export function chunkSampleHint(header: number, i: number): CounterResetHint {
  if ((header & HISTOGRAM_GAUGE) === HISTOGRAM_GAUGE) return 'gauge';
  return i > 0 ? 'not_reset' : 'unknown';
}

/**
 * Sample i of a decoded histogram chunk as a FloatHistogram. A stale marker comes back as
 * Prometheus returns it: only the sum (StaleNaN) set.
 */
export function fromChunkSample(s: HistogramSamples, i: number): FloatHistogram {
  const sum = s.sum[i]!;
  if (isStaleNaN(sum)) return new FloatHistogram({ schema: 0, count: 0, sum });
  const layout = s.layout;
  const spans = (flat: Int32Array) => {
    const out = [];
    for (let k = 0; k + 1 < flat.length; k += 2) out.push({ offset: flat[k]!, length: flat[k + 1]! });
    return out;
  };
  const positiveSpans = spans(layout.positiveSpans);
  const negativeSpans = spans(layout.negativeSpans);
  const p = positiveSpans.reduce((a, x) => a + x.length, 0);
  const n = negativeSpans.reduce((a, x) => a + x.length, 0);
  const custom = layout.schema === -53;
  return new FloatHistogram({
    counterResetHint: chunkSampleHint(s.header, i),
    schema: layout.schema,
    zeroThreshold: custom ? 0 : layout.zeroThreshold,
    zeroCount: custom ? 0 : s.zeroCount[i]!,
    count: s.count[i]!,
    sum,
    positiveSpans,
    negativeSpans: custom ? [] : negativeSpans,
    positiveBuckets: Array.from(s.positive.subarray(i * p, (i + 1) * p)),
    negativeBuckets: custom ? [] : Array.from(s.negative.subarray(i * n, (i + 1) * n)),
    customValues: custom ? Array.from(layout.customValues) : [],
  });
}

const PROMPB_HINTS: readonly CounterResetHint[] = ['unknown', 'reset', 'not_reset', 'gauge'];

/** Running sums of integer bucket deltas, accumulated in float64 as Prometheus does. */
function deltasToCounts(deltas: readonly number[]): number[] {
  const out = new Array<number>(deltas.length);
  let cur = 0;
  for (let i = 0; i < deltas.length; i++) {
    cur += deltas[i]!;
    out[i] = cur;
  }
  return out;
}

/**
 * A remote-write/read histogram as a FloatHistogram (Prometheus prompb Histogram.ToFloatHistogram):
 * float histograms as they are, integer ones with their bucket deltas summed up. An unknown
 * reset_hint value is refused rather than guessed.
 */
export function fromPrompb(h: PrompbHistogram): FloatHistogram {
  const hint = PROMPB_HINTS[h.resetHint];
  if (hint === undefined) throw new RangeError(`histogram reset_hint ${h.resetHint} is not one of 0..3`);
  const isFloat = h.countFloat !== undefined;
  return new FloatHistogram({
    counterResetHint: hint,
    schema: h.schema,
    zeroThreshold: h.zeroThreshold,
    zeroCount: isFloat ? (h.zeroCountFloat ?? 0) : (h.zeroCountInt ?? 0),
    count: isFloat ? h.countFloat! : (h.countInt ?? 0),
    sum: h.sum,
    positiveSpans: h.positiveSpans.map((s) => ({ offset: s.offset, length: s.length })),
    negativeSpans: h.negativeSpans.map((s) => ({ offset: s.offset, length: s.length })),
    positiveBuckets: isFloat ? [...h.positiveCounts] : deltasToCounts(h.positiveDeltas),
    negativeBuckets: isFloat ? [...h.negativeCounts] : deltasToCounts(h.negativeDeltas),
    customValues: [...h.customValues],
  });
}

/**
 * fromPrompb as Prometheus's remote-read client takes a histogram (storage/remote/codec.go
 * setCurrentHistogram): a schema outside -9..52 (and not -53) is refused, a resolution above schema
 * 8 (from a newer producer) is reduced to 8, and the result must pass Validate. Throws
 * HistogramValidationError.
 */
export function fromPrompbValidated(h: PrompbHistogram): FloatHistogram {
  if (!isKnownSchema(h.schema)) {
    throw new HistogramValidationError(
      `histogram has an unknown schema, which must be between ${EXPONENTIAL_SCHEMA_MIN_RESERVED} and ${EXPONENTIAL_SCHEMA_MAX_RESERVED} for exponential buckets, or -53 for custom buckets, got schema ${h.schema}`,
    );
  }
  const fh = fromPrompb(h);
  if (fh.schema > EXPONENTIAL_SCHEMA_MAX && fh.schema <= EXPONENTIAL_SCHEMA_MAX_RESERVED) {
    try {
      fh.reduceResolution(EXPONENTIAL_SCHEMA_MAX);
    } catch (e) {
      throw new HistogramValidationError((e as Error).message);
    }
  }
  fh.validate();
  return fh;
}

/** Prometheus IsKnownSchema: custom buckets, or an exponential schema including the reserved range. */
export function isKnownSchema(schema: number): boolean {
  return schema === -53 || (schema >= EXPONENTIAL_SCHEMA_MIN_RESERVED && schema <= EXPONENTIAL_SCHEMA_MAX_RESERVED);
}
