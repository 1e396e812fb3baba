// The one in-memory native histogram of the query path: Prometheus's model/histogram.FloatHistogram.
// Everything above the chunk codec (the querier's decoded series, the PromQL engine's samples, the
// API's JSON, the promqltest notation) holds histogram samples as FloatHistogram; integer histograms
// (EncHistogram chunks, remote-write integer counts) are converted on the way in, exactly as
// Prometheus's Histogram.ToFloat does. Buckets hold ABSOLUTE counts (Prometheus's FloatHistogram
// does too; only the integer Histogram and the chunk/protobuf encodings use deltas).
//
// Field names follow Prometheus (camelCase). Spans are BucketSpan lists as in Prometheus; they are
// not normalised unless a method says so (Compact does).

/** Prometheus histogram.CounterResetHint. */
export type CounterResetHint = 'unknown' | 'reset' | 'not_reset' | 'gauge';

/** A run of consecutive buckets: `offset` from the end of the previous span (or from 0), `length` buckets. */
export interface BucketSpan {
  offset: number;
  length: number;
}

/** Prometheus histogram.CustomBucketsSchema: buckets given by explicit upper bounds (NHCB). */
export const CUSTOM_BUCKETS_SCHEMA = -53;

export interface FloatHistogramInit {
  counterResetHint?: CounterResetHint;
  schema: number;
  zeroThreshold?: number;
  zeroCount?: number;
  count: number;
  sum: number;
  positiveSpans?: BucketSpan[];
  negativeSpans?: BucketSpan[];
  positiveBuckets?: number[];
  negativeBuckets?: number[];
  customValues?: number[];
}

export class FloatHistogram {
  counterResetHint: CounterResetHint;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positiveSpans: BucketSpan[];
  negativeSpans: BucketSpan[];
  positiveBuckets: number[];
  negativeBuckets: number[];
  /** Upper bounds of the custom buckets; only (and then always) with schema CUSTOM_BUCKETS_SCHEMA. */
  customValues: number[];

  constructor(init: FloatHistogramInit) {
    this.counterResetHint = init.counterResetHint ?? 'unknown';
    this.schema = init.schema;
    this.zeroThreshold = init.zeroThreshold ?? 0;
    this.zeroCount = init.zeroCount ?? 0;
    this.count = init.count;
    this.sum = init.sum;
    this.positiveSpans = init.positiveSpans ?? [];
    this.negativeSpans = init.negativeSpans ?? [];
    this.positiveBuckets = init.positiveBuckets ?? [];
    this.negativeBuckets = init.negativeBuckets ?? [];
    this.customValues = init.customValues ?? [];
  }

  /** A deep copy (Prometheus Copy). */
  copy(): FloatHistogram {
    return new FloatHistogram({
      counterResetHint: this.counterResetHint,
      schema: this.schema,
      zeroThreshold: this.zeroThreshold,
      zeroCount: this.zeroCount,
      count: this.count,
      sum: this.sum,
      positiveSpans: this.positiveSpans.map((s) => ({ ...s })),
      negativeSpans: this.negativeSpans.map((s) => ({ ...s })),
      positiveBuckets: [...this.positiveBuckets],
      negativeBuckets: [...this.negativeBuckets],
      customValues: [...this.customValues],
    });
  }

  /** Whether this uses custom bucket boundaries (schema -53). */
  usesCustomBuckets(): boolean {
    return this.schema === CUSTOM_BUCKETS_SCHEMA;
  }
}
