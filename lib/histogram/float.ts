// The one in-memory native histogram of the query path: Prometheus's model/histogram.FloatHistogram.
// Everything above the chunk codec (the querier's decoded series, the PromQL engine's samples, the
// API's JSON, the promqltest notation) holds histogram samples as FloatHistogram; integer histograms
// (EncHistogram chunks, remote-write integer counts) are converted on the way in, exactly as
// Prometheus's Histogram.ToFloat does. Buckets hold ABSOLUTE counts (Prometheus's FloatHistogram
// does too; only the integer Histogram and the chunk/protobuf encodings use deltas).
//
// Field names follow Prometheus (camelCase). Spans are BucketSpan lists as in Prometheus; they are
// not normalised unless a method says so (Compact does).

// Prometheus histogram.CounterResetHint: one owner, the chunk appender's (lib/core).
import type { CounterResetHint } from '../core/js/histogram_append.ts';
export type { CounterResetHint };

/** A run of consecutive buckets: `offset` from the end of the previous span (or from 0), `length` buckets. */
export interface BucketSpan {
  offset: number;
  length: number;
}

import {
  addBuckets,
  type Bucket,
  bucketWithBounds,
  compactBuckets,
  CUSTOM_BUCKETS_SCHEMA,
  indexedBuckets,
  type IndexedCount,
  isCustomBucketsSchema,
  kahanInc,
  reduceResolution,
} from './buckets.ts';
import { formatGoFloat } from '../tsdb/gofmt.ts';
import { trimBuckets } from './trim.ts';
import { validateHistogram } from './validate.ts';

export { CUSTOM_BUCKETS_SCHEMA };
export type { Bucket };

/**
 * Where Prometheus's Add/Sub/KahanAdd return an error. Since Prometheus 3.x reconciles NHCBs with
 * different bounds (to their common bounds) instead of failing, only 'incompatible-schema' (an
 * exponential histogram meets a custom-buckets one) is thrown today.
 */
export class HistogramError extends Error {
  constructor(
    readonly kind: 'incompatible-schema' | 'incompatible-bounds',
    message: string,
  ) {
    super(message);
    this.name = 'HistogramError';
  }
}

/** Prometheus histogram.ErrHistogramsIncompatibleSchema's text. */
export const INCOMPATIBLE_SCHEMA_MESSAGE =
  'cannot apply this operation on histograms with a mix of exponential and custom bucket schemas';

/** What Add/Sub/KahanAdd report besides the result (Prometheus's extra return values). */
export interface AddResult {
  /** One side said counter reset, the other not: the result's hint became 'unknown'. */
  counterResetCollision: boolean;
  /** NHCBs with different bounds were added on their common bounds. */
  nhcbBoundsReconciled: boolean;
}

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

/** The data fields of a FloatHistogram, all present (a plain-object view, e.g. for expected values in tests). */
export type FloatHistogramFields = Required<FloatHistogramInit>;

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

  /** A deep copy (Prometheus Copy: a custom-buckets histogram drops the unused zero bucket and negative side). */
  copy(): FloatHistogram {
    const custom = this.usesCustomBuckets();
    return new FloatHistogram({
      counterResetHint: this.counterResetHint,
      schema: this.schema,
      zeroThreshold: custom ? 0 : this.zeroThreshold,
      zeroCount: custom ? 0 : this.zeroCount,
      count: this.count,
      sum: this.sum,
      positiveSpans: this.positiveSpans.map((s) => ({ offset: s.offset, length: s.length })),
      negativeSpans: custom ? [] : this.negativeSpans.map((s) => ({ offset: s.offset, length: s.length })),
      positiveBuckets: [...this.positiveBuckets],
      negativeBuckets: custom ? [] : [...this.negativeBuckets],
      // Custom bounds are never mutated in place (Prometheus interns them), so sharing is safe.
      customValues: custom ? this.customValues : [],
    });
  }

  /** Whether this uses custom bucket boundaries (schema -53). */
  usesCustomBuckets(): boolean {
    return isCustomBucketsSchema(this.schema);
  }

  /**
   * A deep copy in targetSchema ≤ schema, buckets merged (Prometheus CopyToSchema; the counter reset
   * hint is not carried over except on the same-schema fast path, as there). Throws for custom buckets.
   */
  copyToSchema(targetSchema: number): FloatHistogram {
    if (targetSchema === this.schema) return this.copy();
    if (this.usesCustomBuckets()) throw new Error(`cannot reduce resolution to ${targetSchema} when there are custom buckets`);
    if (isCustomBucketsSchema(targetSchema)) throw new Error('cannot reduce resolution to custom buckets schema');
    if (targetSchema > this.schema) throw new Error(`cannot copy from schema ${this.schema} to ${targetSchema}`);
    const pos = reduceResolution(this.positiveSpans, this.positiveBuckets, this.schema, targetSchema);
    const neg = reduceResolution(this.negativeSpans, this.negativeBuckets, this.schema, targetSchema);
    return new FloatHistogram({
      schema: targetSchema,
      zeroThreshold: this.zeroThreshold,
      zeroCount: this.zeroCount,
      count: this.count,
      sum: this.sum,
      positiveSpans: pos.spans,
      positiveBuckets: pos.buckets,
      negativeSpans: neg.spans,
      negativeBuckets: neg.buckets,
    });
  }

  /** Reduces the resolution in place to targetSchema < schema (Prometheus ReduceResolution); throws where it errs. */
  reduceResolution(targetSchema: number): this {
    if (this.usesCustomBuckets()) throw new Error('cannot reduce resolution when there are custom buckets');
    if (isCustomBucketsSchema(targetSchema)) throw new Error('cannot reduce resolution to custom buckets schema');
    if (targetSchema >= this.schema) throw new Error(`cannot reduce resolution from schema ${this.schema} to ${targetSchema}`);
    const pos = reduceResolution(this.positiveSpans, this.positiveBuckets, this.schema, targetSchema);
    const neg = reduceResolution(this.negativeSpans, this.negativeBuckets, this.schema, targetSchema);
    this.positiveSpans = pos.spans;
    this.positiveBuckets = pos.buckets;
    this.negativeSpans = neg.spans;
    this.negativeBuckets = neg.buckets;
    this.schema = targetSchema;
    return this;
  }

  /** The zero bucket (Prometheus ZeroBucket); throws for custom buckets, which have none. */
  zeroBucket(): Bucket {
    if (this.usesCustomBuckets()) throw new Error('histograms with custom buckets have no zero bucket');
    return {
      lower: -this.zeroThreshold,
      upper: this.zeroThreshold,
      lowerInclusive: true,
      upperInclusive: true,
      count: this.zeroCount,
      index: 0,
    };
  }

  /** Positive buckets in ascending order, with bounds (Prometheus PositiveBucketIterator). */
  positiveBucketList(): Bucket[] {
    return this.bucketList(true, 0, this.schema);
  }

  /** Negative buckets from the zero bucket downwards (Prometheus NegativeBucketIterator). */
  negativeBucketList(): Bucket[] {
    return this.bucketList(false, 0, this.schema);
  }

  /**
   * Negative, zero (only if populated) and positive buckets in ascending order, the buckets next to
   * the zero bucket clipped to the zero threshold (Prometheus AllBucketIterator).
   */
  allBucketList(): Bucket[] {
    const out = this.negativeBucketList().reverse();
    for (const b of out) this.clipToZeroBucket(b);
    // Custom buckets have no zero bucket (Prometheus would panic on a stray zero count; we skip it).
    if (this.zeroCount > 0 && !this.usesCustomBuckets()) out.push(this.zeroBucket());
    for (const b of this.positiveBucketList()) out.push(this.clipToZeroBucket(b));
    return out;
  }

  /** allBucketList in descending order (Prometheus AllReverseBucketIterator). */
  allReverseBucketList(): Bucket[] {
    return this.allBucketList().reverse();
  }

  private clipToZeroBucket(b: Bucket): Bucket {
    if (b.upper < 0 && b.upper > -this.zeroThreshold) b.upper = -this.zeroThreshold;
    else if (b.lower > 0 && b.lower < this.zeroThreshold) b.lower = this.zeroThreshold;
    return b;
  }

  /** Buckets of one side merged into targetSchema, from absoluteStartValue on (Prometheus floatBucketIterator). */
  bucketList(positive: boolean, absoluteStartValue: number, targetSchema: number): Bucket[] {
    const custom = this.usesCustomBuckets();
    if (custom && targetSchema !== this.schema) throw new Error('cannot merge from custom buckets schema to exponential schema');
    if (!custom && isCustomBucketsSchema(targetSchema)) throw new Error('cannot merge from exponential buckets schema to custom schema');
    if (targetSchema > this.schema) throw new Error(`cannot merge from schema ${this.schema} to ${targetSchema}`);
    const cv = positive ? this.customValues : [];
    return this.indexed(positive, absoluteStartValue, targetSchema).map((b) =>
      bucketWithBounds(b.index, b.count, targetSchema, positive, cv),
    );
  }

  private indexed(positive: boolean, absoluteStartValue: number, targetSchema: number): IndexedCount[] {
    return positive
      ? indexedBuckets(this.positiveSpans, this.positiveBuckets, this.schema, targetSchema, absoluteStartValue)
      : indexedBuckets(this.negativeSpans, this.negativeBuckets, this.schema, targetSchema, absoluteStartValue);
  }

  /**
   * Scales counts, sum and buckets by factor, in place (Prometheus Mul). A negative factor makes
   * the result a gauge histogram.
   */
  mul(factor: number): this {
    this.zeroCount *= factor;
    this.count *= factor;
    this.sum *= factor;
    for (let i = 0; i < this.positiveBuckets.length; i++) this.positiveBuckets[i]! *= factor;
    for (let i = 0; i < this.negativeBuckets.length; i++) this.negativeBuckets[i]! *= factor;
    if (factor < 0) this.counterResetHint = 'gauge';
    return this;
  }

  /** Divides in place (Prometheus Div): dividing by zero drops all buckets; a negative divisor makes a gauge. */
  div(scalar: number): this {
    this.zeroCount /= scalar;
    this.count /= scalar;
    this.sum /= scalar;
    if (scalar === 0) {
      this.positiveBuckets = [];
      this.negativeBuckets = [];
      this.positiveSpans = [];
      this.negativeSpans = [];
      return this;
    }
    for (let i = 0; i < this.positiveBuckets.length; i++) this.positiveBuckets[i]! /= scalar;
    for (let i = 0; i < this.negativeBuckets.length; i++) this.negativeBuckets[i]! /= scalar;
    if (scalar < 0) this.counterResetHint = 'gauge';
    return this;
  }

  /**
   * Adds other into this histogram (Prometheus Add): zero thresholds and schemas are reconciled (to
   * the wider threshold and the lower resolution), missing buckets inserted; NHCBs with different
   * bounds are added on their common bounds. The result may hold empty buckets and adjacent spans:
   * call compact(0). Throws HistogramError for a mix of exponential and custom buckets.
   */
  add(other: FloatHistogram): AddResult {
    return this.addOrSub(other, false);
  }

  /**
   * Subtracts other (Prometheus Sub), with Add's counter-reset-hint rule; the PromQL `-` operator
   * sets the hint to 'gauge' afterwards itself.
   */
  sub(other: FloatHistogram): AddResult {
    return this.addOrSub(other, true);
  }

  private addOrSub(other: FloatHistogram, negative: boolean): AddResult {
    this.checkSchemaAndBounds(other);
    const counterResetCollision = this.adjustCounterReset(other);
    let nhcbBoundsReconciled = false;
    if (!this.usesCustomBuckets()) {
      const otherZeroCount = this.reconcileZeroBuckets(other, null).zeroCount;
      this.zeroCount = negative ? this.zeroCount - otherZeroCount : this.zeroCount + otherZeroCount;
    }
    if (negative) {
      this.count -= other.count;
      this.sum -= other.sum;
    } else {
      this.count += other.count;
      this.sum += other.sum;
    }
    if (this.usesCustomBuckets()) {
      if (customBoundsMatch(this.customValues, other.customValues)) {
        this.addSide(true, negative, other.positiveSpans, other.positiveBuckets);
      } else {
        nhcbBoundsReconciled = true;
        const common = intersectCustomBounds(this.customValues, other.customValues);
        const r = addCustomBucketsWithMismatches(negative, this, other, null, common);
        this.positiveSpans = r.spans;
        this.positiveBuckets = r.buckets;
        this.customValues = common;
      }
      return { counterResetCollision, nhcbBoundsReconciled };
    }
    let oPosSpans = other.positiveSpans;
    let oPosBuckets = other.positiveBuckets;
    let oNegSpans = other.negativeSpans;
    let oNegBuckets = other.negativeBuckets;
    if (other.schema < this.schema) {
      this.reduceResolution(other.schema);
    } else if (other.schema > this.schema) {
      const p = reduceResolution(oPosSpans, oPosBuckets, other.schema, this.schema);
      const n = reduceResolution(oNegSpans, oNegBuckets, other.schema, this.schema);
      oPosSpans = p.spans;
      oPosBuckets = p.buckets;
      oNegSpans = n.spans;
      oNegBuckets = n.buckets;
    }
    this.addSide(true, negative, oPosSpans, oPosBuckets);
    this.addSide(false, negative, oNegSpans, oNegBuckets);
    return { counterResetCollision, nhcbBoundsReconciled };
  }

  private addSide(positive: boolean, negative: boolean, spans: readonly BucketSpan[], buckets: readonly number[]): void {
    // Copies first: the receiver's arrays may be shared with histograms that must not change.
    const spansA = (positive ? this.positiveSpans : this.negativeSpans).map((s) => ({ offset: s.offset, length: s.length }));
    const bucketsA = [...(positive ? this.positiveBuckets : this.negativeBuckets)];
    addBuckets(this.schema, this.zeroThreshold, negative, spansA, bucketsA, spans, buckets);
    if (positive) {
      this.positiveSpans = spansA;
      this.positiveBuckets = bucketsA;
    } else {
      this.negativeSpans = spansA;
      this.negativeBuckets = bucketsA;
    }
  }

  /**
   * Kahan-compensated add (Prometheus KahanAdd), used by sum/avg: `c` holds the compensation terms
   * (a histogram in this one's layout); pass null the first time and keep the returned one. The
   * final value is this.add(c) (then compact), as the engine does.
   */
  kahanAdd(other: FloatHistogram, c: FloatHistogram | null): AddResult & { c: FloatHistogram } {
    this.checkSchemaAndBounds(other);
    const counterResetCollision = this.adjustCounterReset(other);
    let nhcbBoundsReconciled = false;
    if (c === null) c = this.newCompensationHistogram();
    if (!this.usesCustomBuckets()) {
      const r = this.reconcileZeroBuckets(other, c);
      [this.zeroCount, c.zeroCount] = kahanInc(r.zeroCount, this.zeroCount, c.zeroCount);
      [this.zeroCount, c.zeroCount] = kahanInc(r.cZeroCount, this.zeroCount, c.zeroCount);
    }
    [this.count, c.count] = kahanInc(other.count, this.count, c.count);
    [this.sum, c.sum] = kahanInc(other.sum, this.sum, c.sum);

    if (this.usesCustomBuckets()) {
      if (customBoundsMatch(this.customValues, other.customValues)) {
        const spansA = this.positiveSpans.map((s) => ({ offset: s.offset, length: s.length }));
        const bucketsA = [...this.positiveBuckets];
        const compA = [...c.positiveBuckets];
        addBuckets(this.schema, this.zeroThreshold, false, spansA, bucketsA, other.positiveSpans, other.positiveBuckets, compA, null);
        this.positiveSpans = spansA;
        this.positiveBuckets = bucketsA;
        c.positiveBuckets = compA;
      } else {
        nhcbBoundsReconciled = true;
        const common = intersectCustomBounds(this.customValues, other.customValues);
        const r = addCustomBucketsWithMismatches(false, this, other, c.positiveBuckets, common);
        this.positiveSpans = r.spans;
        this.positiveBuckets = r.buckets;
        c.positiveBuckets = r.comp;
        this.customValues = common;
        c.customValues = common;
      }
      c.positiveSpans = this.positiveSpans;
      return { c, counterResetCollision, nhcbBoundsReconciled };
    }

    let hPos = { spans: this.positiveSpans, buckets: this.positiveBuckets, comp: c.positiveBuckets as number[] | null };
    let hNeg = { spans: this.negativeSpans, buckets: this.negativeBuckets, comp: c.negativeBuckets as number[] | null };
    let oPos = { spans: other.positiveSpans, buckets: other.positiveBuckets, comp: null as number[] | null };
    let oNeg = { spans: other.negativeSpans, buckets: other.negativeBuckets, comp: null as number[] | null };
    if (other.schema < this.schema) {
      hPos = reduceResolution(hPos.spans, hPos.buckets, this.schema, other.schema, hPos.comp ?? []);
      hNeg = reduceResolution(hNeg.spans, hNeg.buckets, this.schema, other.schema, hNeg.comp ?? []);
      this.schema = other.schema;
    } else if (other.schema > this.schema) {
      if (oPos.buckets.length > 0) {
        oPos = reduceResolution(oPos.spans, oPos.buckets, other.schema, this.schema, new Array<number>(oPos.buckets.length).fill(0));
      }
      if (oNeg.buckets.length > 0) {
        oNeg = reduceResolution(oNeg.spans, oNeg.buckets, other.schema, this.schema, new Array<number>(oNeg.buckets.length).fill(0));
      }
    }
    const addKahanSide = (h: typeof hPos, o: typeof oPos): { spans: BucketSpan[]; buckets: number[]; comp: number[] } => {
      const spans = h.spans.map((s) => ({ offset: s.offset, length: s.length }));
      const buckets = [...h.buckets];
      const comp = h.comp === null ? new Array<number>(buckets.length).fill(0) : [...h.comp];
      addBuckets(this.schema, this.zeroThreshold, false, spans, buckets, o.spans, o.buckets, comp, o.comp);
      return { spans, buckets, comp };
    };
    const p = addKahanSide(hPos, oPos);
    const n = addKahanSide(hNeg, oNeg);
    this.positiveSpans = p.spans;
    this.positiveBuckets = p.buckets;
    this.negativeSpans = n.spans;
    this.negativeBuckets = n.buckets;
    c.positiveBuckets = p.comp;
    c.negativeBuckets = n.comp;
    c.schema = this.schema;
    c.zeroThreshold = this.zeroThreshold;
    c.positiveSpans = this.positiveSpans;
    c.negativeSpans = this.negativeSpans;
    return { c, counterResetCollision, nhcbBoundsReconciled };
  }

  private newCompensationHistogram(): FloatHistogram {
    return new FloatHistogram({
      counterResetHint: this.counterResetHint,
      schema: this.schema,
      zeroThreshold: this.zeroThreshold,
      count: 0,
      sum: 0,
      customValues: this.customValues,
      positiveSpans: this.positiveSpans,
      negativeSpans: this.negativeSpans,
      positiveBuckets: new Array<number>(this.positiveBuckets.length).fill(0),
      negativeBuckets: this.usesCustomBuckets() ? [] : new Array<number>(this.negativeBuckets.length).fill(0),
    });
  }

  private checkSchemaAndBounds(other: FloatHistogram): void {
    if (this.usesCustomBuckets() !== other.usesCustomBuckets()) {
      throw new HistogramError('incompatible-schema', INCOMPATIBLE_SCHEMA_MESSAGE);
    }
  }

  /** Prometheus adjustCounterReset: the hint of a sum/difference; true on a reset/not-reset collision. */
  private adjustCounterReset(other: FloatHistogram): boolean {
    const mine = this.counterResetHint;
    const theirs = other.counterResetHint;
    if (theirs === mine || mine === 'gauge') return false;
    if (theirs === 'gauge') {
      this.counterResetHint = 'gauge';
      return false;
    }
    if (mine === 'unknown') return false;
    this.counterResetHint = 'unknown';
    return theirs !== 'unknown';
  }

  /**
   * Prometheus zeroCountForLargerThreshold: the zero count (and compensation zero count, with c) this
   * histogram would have with the larger threshold, and that threshold moved up to the lower bound
   * of a populated bucket it would cut through.
   */
  private zeroCountForLargerThreshold(
    largerThreshold: number,
    c: FloatHistogram | null,
  ): { zeroCount: number; threshold: number; cZeroCount: number } {
    let cZeroCount = c !== null ? c.zeroCount : 0;
    if (largerThreshold === this.zeroThreshold) return { zeroCount: this.zeroCount, threshold: largerThreshold, cZeroCount };
    if (largerThreshold < this.zeroThreshold) {
      throw new Error(`new threshold ${largerThreshold} is less than old threshold ${this.zeroThreshold}`);
    }
    // As in Prometheus, a restart resets the zero count but keeps the compensation gathered so far.
    outer: for (;;) {
      let zeroCount = this.zeroCount;
      const pos = this.positiveBucketList();
      for (let k = 0; k < pos.length; k++) {
        const b = pos[k]!;
        if (b.lower >= largerThreshold) break;
        [zeroCount, cZeroCount] = kahanInc(b.count, zeroCount, cZeroCount);
        if (c !== null) [zeroCount, cZeroCount] = kahanInc(c.positiveBuckets[k]!, zeroCount, cZeroCount);
        if (b.upper > largerThreshold) {
          // The new threshold cuts this bucket: if it is populated, take it in whole.
          if (b.count !== 0) largerThreshold = b.upper;
          break;
        }
      }
      const neg = this.negativeBucketList();
      for (let k = 0; k < neg.length; k++) {
        const b = neg[k]!;
        if (b.upper <= -largerThreshold) break;
        [zeroCount, cZeroCount] = kahanInc(b.count, zeroCount, cZeroCount);
        if (c !== null) [zeroCount, cZeroCount] = kahanInc(c.negativeBuckets[k]!, zeroCount, cZeroCount);
        if (b.lower < -largerThreshold) {
          if (b.count !== 0) {
            // The positive side was counted for a smaller threshold: start over.
            largerThreshold = -b.lower;
            continue outer;
          }
          break;
        }
      }
      return { zeroCount, threshold: largerThreshold, cZeroCount };
    }
  }

  /** Prometheus trimBucketsInZeroBucket: empties the buckets now inside the zero bucket and compacts. */
  private trimBucketsInZeroBucket(c: FloatHistogram | null): void {
    const pos = this.positiveBucketList();
    for (let k = 0; k < pos.length; k++) {
      if (pos[k]!.lower >= this.zeroThreshold) break;
      this.positiveBuckets[k] = 0;
      if (c !== null) c.positiveBuckets[k] = 0;
    }
    const neg = this.negativeBucketList();
    for (let k = 0; k < neg.length; k++) {
      if (neg[k]!.upper <= -this.zeroThreshold) break;
      this.negativeBuckets[k] = 0;
      if (c !== null) c.negativeBuckets[k] = 0;
    }
    this.compactWith(0, c);
  }

  /**
   * Prometheus reconcileZeroBuckets: widens this histogram's zero bucket (and c's) until it covers
   * other's, on a threshold no populated bucket of either straddles. Returns the zero count other
   * would have with that threshold (other is not modified).
   */
  private reconcileZeroBuckets(other: FloatHistogram, c: FloatHistogram | null): { zeroCount: number; cZeroCount: number } {
    let otherZeroCount = other.zeroCount;
    let otherThreshold = other.zeroThreshold;
    let otherCZeroCount = 0;
    while (otherThreshold !== this.zeroThreshold) {
      if (this.zeroThreshold > otherThreshold) {
        const r = other.zeroCountForLargerThreshold(this.zeroThreshold, null);
        otherZeroCount = r.zeroCount;
        otherThreshold = r.threshold;
        otherCZeroCount = r.cZeroCount;
      }
      if (otherThreshold > this.zeroThreshold) {
        const r = this.zeroCountForLargerThreshold(otherThreshold, c);
        this.zeroCount = r.zeroCount;
        this.zeroThreshold = r.threshold;
        if (c !== null) c.zeroCount = r.cZeroCount;
        this.trimBucketsInZeroBucket(c);
      }
    }
    return { zeroCount: otherZeroCount, cZeroCount: otherCZeroCount };
  }

  /**
   * Prometheus Compact: removes empty buckets at span edges, splits spans at more than
   * maxEmptyBuckets consecutive empty buckets, merges spans at most maxEmptyBuckets apart. In place.
   */
  compact(maxEmptyBuckets: number): this {
    return this.compactWith(maxEmptyBuckets, null);
  }

  private compactWith(maxEmptyBuckets: number, c: FloatHistogram | null): this {
    const p = compactBuckets(this.positiveBuckets, c?.positiveBuckets ?? null, this.positiveSpans, maxEmptyBuckets);
    const n = compactBuckets(this.negativeBuckets, c?.negativeBuckets ?? null, this.negativeSpans, maxEmptyBuckets);
    this.positiveBuckets = p.buckets;
    this.positiveSpans = p.spans;
    this.negativeBuckets = n.buckets;
    this.negativeSpans = n.spans;
    if (c !== null) {
      c.positiveBuckets = p.comp!;
      c.negativeBuckets = n.comp!;
    }
    return this;
  }

  /**
   * Whether this histogram, following previous, starts a new counter (Prometheus DetectReset): a
   * 'reset'/'not_reset' hint decides; otherwise any count lower than before, a populated bucket gone,
   * a higher resolution or a smaller zero threshold is a reset.
   */
  detectReset(previous: FloatHistogram): boolean {
    if (this.counterResetHint === 'reset') return true;
    if (this.counterResetHint === 'not_reset') return false;
    if (this.count < previous.count) return true;
    if (this.usesCustomBuckets()) {
      if (!previous.usesCustomBuckets()) return true;
      if (!customBoundsMatch(this.customValues, previous.customValues)) {
        return detectResetWithMismatchedCustomBounds(this, previous);
      }
    }
    if (this.schema > previous.schema) return true;
    if (this.zeroThreshold < previous.zeroThreshold) return true;
    const prev = previous.zeroCountForLargerThreshold(this.zeroThreshold, null);
    if (prev.threshold !== this.zeroThreshold) return true;
    if (this.zeroCount < prev.zeroCount) return true;
    for (const positive of [true, false]) {
      const curr = this.indexed(positive, this.zeroThreshold, this.schema);
      const before = previous.indexed(positive, this.zeroThreshold, this.schema);
      if (bucketsDecreased(curr, before)) return true;
    }
    return false;
  }

  /**
   * Prometheus Equals: the same schema, zero bucket, custom bounds and bucket layout (spans may
   * differ by zero-length spans) with bit-identical counts, sum and buckets. The hint is ignored.
   */
  equals(o: FloatHistogram): boolean {
    if (this.schema !== o.schema || !sameBits(this.count, o.count) || !sameBits(this.sum, o.sum)) return false;
    if (this.usesCustomBuckets() && !customBoundsMatch(this.customValues, o.customValues)) return false;
    if (this.zeroThreshold !== o.zeroThreshold || !sameBits(this.zeroCount, o.zeroCount)) return false;
    if (!spansMatch(this.negativeSpans, o.negativeSpans) || !bucketsMatch(this.negativeBuckets, o.negativeBuckets)) return false;
    return spansMatch(this.positiveSpans, o.positiveSpans) && bucketsMatch(this.positiveBuckets, o.positiveBuckets);
  }

  /**
   * The `</` (upperTrim) and `>/` operators (Prometheus TrimBuckets), in place: keeps the
   * observations below (above) rhs, interpolating within the bucket that holds rhs, and re-estimates
   * count and sum from what is kept (only if something was cut). Compacts when it cuts.
   */
  trimBuckets(rhs: number, upperTrim: boolean): this {
    trimBuckets(this, rhs, upperTrim);
    return this;
  }

  /**
   * Prometheus Size(): the bytes a Go FloatHistogram takes (168 for the struct, 8 per span, bucket and
   * custom bound). PromQL counts a histogram point as (size + 8) / 16 samples (promql/value.go) against
   * --query.max-samples and in query stats.
   */
  size(): number {
    return (
      168 +
      8 * (this.positiveSpans.length + this.negativeSpans.length) +
      8 * (this.positiveBuckets.length + this.negativeBuckets.length + this.customValues.length)
    );
  }

  /** Throws HistogramValidationError (validate.ts) where Prometheus's Validate reports an error. */
  validate(): void {
    validateHistogram(this);
  }

  /** Whether any count, the sum, a bucket or a custom bound is infinite (Prometheus HasOverflow). */
  hasOverflow(): boolean {
    const inf = (x: number) => x === Infinity || x === -Infinity;
    return (
      inf(this.zeroCount) ||
      inf(this.count) ||
      inf(this.sum) ||
      this.positiveBuckets.some(inf) ||
      this.negativeBuckets.some(inf) ||
      this.customValues.some(inf)
    );
  }

  /** Prometheus String(): `{count:N, sum:S, [lo,hi):c, ...}` with the non-empty buckets in ascending order. */
  toString(): string {
    const parts = [`{count:${formatGoFloat(this.count)}, sum:${formatGoFloat(this.sum)}`];
    const neg = this.negativeBucketList().filter((b) => b.count !== 0);
    for (let k = neg.length - 1; k >= 0; k--) parts.push(bucketString(neg[k]!));
    if (this.zeroCount !== 0 && !this.usesCustomBuckets()) parts.push(bucketString(this.zeroBucket()));
    for (const b of this.positiveBucketList()) if (b.count !== 0) parts.push(bucketString(b));
    return parts.join(', ') + '}';
  }

  /**
   * The promqltest `{{...}}` literal (Prometheus TestExpression): compacted to one span per side,
   * keys in Prometheus's order, zero values left out.
   */
  toNotation(): string {
    const m = this.copy().compact(Number.MAX_SAFE_INTEGER);
    const res: string[] = [];
    if (m.schema !== 0) res.push(`schema:${m.schema}`);
    if (m.count !== 0) res.push(`count:${formatGoFloat(m.count)}`);
    if (m.sum !== 0) res.push(`sum:${formatGoFloat(m.sum)}`);
    if (m.zeroCount !== 0) res.push(`z_bucket:${formatGoFloat(m.zeroCount)}`);
    if (m.zeroThreshold !== 0) res.push(`z_bucket_w:${formatGoFloat(m.zeroThreshold)}`);
    if (m.usesCustomBuckets()) res.push(`custom_values:[${m.customValues.map(formatGoFloat).join(' ')}]`);
    if (m.counterResetHint !== 'unknown') res.push(`counter_reset_hint:${m.counterResetHint}`);
    const side = (kind: string, bucketsKey: string, offsetKey: string, buckets: number[], spans: BucketSpan[]) => {
      if (spans.length > 1) throw new Error(`histogram with multiple ${kind} spans not supported`);
      for (const s of spans) if (s.offset !== 0) res.push(`${offsetKey}:${s.offset}`);
      if (buckets.length > 0) res.push(`${bucketsKey}:[${buckets.map(formatGoFloat).join(' ')}]`);
    };
    side('positive', 'buckets', 'offset', m.positiveBuckets, m.positiveSpans);
    side('negative', 'n_buckets', 'n_offset', m.negativeBuckets, m.negativeSpans);
    return '{{' + res.join(' ') + '}}';
  }
}

/** Prometheus Bucket.String(): `[lo,hi]:count` with '(' / ')' for exclusive bounds. */
export function bucketString(b: Bucket): string {
  return (
    (b.lowerInclusive ? '[' : '(') +
    `${formatGoFloat(b.lower)},${formatGoFloat(b.upper)}` +
    (b.upperInclusive ? ']' : ')') +
    `:${formatGoFloat(b.count)}`
  );
}

const bitsA = new Float64Array(1);
const bitsB = new Float64Array(1);
const wordsA = new Uint32Array(bitsA.buffer);
const wordsB = new Uint32Array(bitsB.buffer);

/** Bit-pattern equality (Prometheus compares math.Float64bits): NaN equals the same NaN, 0 ≠ -0. */
function sameBits(a: number, b: number): boolean {
  bitsA[0] = a;
  bitsB[0] = b;
  return wordsA[0] === wordsB[0] && wordsA[1] === wordsB[1];
}

function bucketsMatch(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameBits(a[i]!, b[i]!)) return false;
  return true;
}

/** Prometheus CustomBucketBoundsMatch. */
export function customBoundsMatch(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Prometheus spansMatch: the same layout, zero-length spans (folded into the next span) aside. */
export function spansMatch(s1: readonly BucketSpan[], s2: readonly BucketSpan[]): boolean {
  if (s1.length === 0 && s2.length === 0) return true;
  let i1 = 0;
  let i2 = 0;
  const allEmpty = (s: readonly BucketSpan[], from: number) => s.slice(from).every((x) => x.length === 0);
  for (;;) {
    if (i1 >= s1.length) return allEmpty(s2, i2);
    if (i2 >= s2.length) return allEmpty(s1, i1);
    const a = { ...s1[i1++]! };
    const b = { ...s2[i2++]! };
    if (a.length === 0) {
      for (; i1 < s1.length && s1[i1]!.length === 0; i1++) a.offset += s1[i1]!.offset;
      if (i1 < s1.length) {
        a.offset += s1[i1]!.offset;
        a.length = s1[i1]!.length;
        i1++;
      }
    }
    if (b.length === 0) {
      for (; i2 < s2.length && s2[i2]!.length === 0; i2++) b.offset += s2[i2]!.offset;
      if (i2 < s2.length) {
        b.offset += s2[i2]!.offset;
        b.length = s2[i2]!.length;
        i2++;
      }
    }
    if (a.length === 0 && b.length === 0) return true;
    if (a.offset !== b.offset || a.length !== b.length) return false;
  }
}

/** Prometheus detectReset over two bucket lists of the same schema: a populated bucket gone or shrunk. */
function bucketsDecreased(curr: readonly IndexedCount[], prev: readonly IndexedCount[]): boolean {
  let c = 0;
  for (const p of prev) {
    while (c < curr.length && curr[c]!.index < p.index) c++;
    if (c >= curr.length || curr[c]!.index > p.index) {
      if (p.count !== 0) return true;
    } else if (curr[c]!.count < p.count) {
      return true;
    }
  }
  return false;
}

/** Prometheus intersectCustomBucketBounds: the bounds both lists have. */
export function intersectCustomBounds(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push(a[i]!);
      i++;
      j++;
    } else if (a[i]! < b[j]!) i++;
    else j++;
  }
  return out;
}

/**
 * Prometheus addCustomBucketsWithMismatches: both NHCBs' buckets mapped onto the common bounds
 * (each bucket into the first common bound ≥ its own upper bound, +Inf last), summed with Kahan
 * compensation, and laid out again with only the non-empty buckets.
 */
function addCustomBucketsWithMismatches(
  negative: boolean,
  a: FloatHistogram,
  b: FloatHistogram,
  compA: readonly number[] | null,
  common: readonly number[],
): { spans: BucketSpan[]; buckets: number[]; comp: number[] } {
  const target = new Array<number>(common.length + 1).fill(0);
  const cTarget = new Array<number>(common.length + 1).fill(0);
  const map = (spans: readonly BucketSpan[], buckets: readonly number[], bounds: readonly number[], neg: boolean, comp: readonly number[] | null) => {
    let src = 0;
    let bi = 0;
    let ci = 0;
    for (const span of spans) {
      src += span.offset;
      for (let k = 0; k < span.length; k++, src++, bi++) {
        if (bi >= buckets.length) continue;
        const value = buckets[bi]!;
        let t = target.length - 1;
        if (src < bounds.length) {
          const srcBound = bounds[src]!;
          for (; ci < common.length; ci++) {
            if (common[ci]! >= srcBound) {
              t = ci;
              break;
            }
          }
        }
        if (neg) [target[t], cTarget[t]] = kahanInc(-value, target[t]!, cTarget[t]!);
        else {
          [target[t], cTarget[t]] = kahanInc(value, target[t]!, cTarget[t]!);
          if (comp !== null) [target[t], cTarget[t]] = kahanInc(comp[bi]!, target[t]!, cTarget[t]!);
        }
      }
    }
  };
  map(a.positiveSpans, a.positiveBuckets, a.customValues, false, compA);
  map(b.positiveSpans, b.positiveBuckets, b.customValues, negative, null);
  const spans: BucketSpan[] = [];
  const buckets: number[] = [];
  const comp: number[] = [];
  let lastIdx = -1;
  for (let i = 0; i < target.length; i++) {
    if (target[i] === 0 && cTarget[i] === 0) continue;
    buckets.push(target[i]!);
    comp.push(cTarget[i]!);
    if (spans.length > 0 && i === lastIdx + 1) spans[spans.length - 1]!.length++;
    else spans.push({ offset: spans.length > 0 ? i - lastIdx - 1 : i, length: 1 });
    lastIdx = i;
  }
  return { spans, buckets, comp };
}

/**
 * Prometheus detectResetWithMismatchedCustomBounds: compares the cumulative counts of both NHCBs at
 * every bound they share (each side's buckets up to that bound rolled up since the previous shared
 * bound); a decrease is a reset.
 */
function detectResetWithMismatchedCustomBounds(curr: FloatHistogram, prev: FloatHistogram): boolean {
  const cb = curr.positiveBucketList();
  const pb = prev.positiveBucketList();
  let ci = 0;
  let pi = 0;
  const rollUp = (list: Bucket[], from: number, bound: number): [number, number] => {
    let sum = 0;
    let k = from;
    while (k < list.length && list[k]!.upper <= bound) sum += list[k++]!.count;
    return [sum, k];
  };
  const currBounds = curr.customValues;
  const prevBounds = prev.customValues;
  let i = 0;
  let j = 0;
  while (i <= currBounds.length && j <= prevBounds.length) {
    const a = i < currBounds.length ? currBounds[i]! : Infinity;
    const b = j < prevBounds.length ? prevBounds[j]! : Infinity;
    if (a === b) {
      let cs: number;
      let ps: number;
      [cs, ci] = rollUp(cb, ci, a);
      [ps, pi] = rollUp(pb, pi, a);
      if (cs < ps) return true;
      i++;
      j++;
    } else if (a < b) i++;
    else j++;
  }
  return false;
}

