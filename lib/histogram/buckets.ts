// The bucket algebra under FloatHistogram: bucket boundaries per schema, iteration over spans (with
// merging into a lower-resolution schema), adding one span/bucket list into another, compaction and
// resolution reduction. The algorithms follow Prometheus model/histogram (generic.go and
// float_histogram.go) step by step where the resulting span layout is observable: promqltest and
// the API print spans and buckets as they come out, so "the same buckets in another layout" is not
// good enough.
import { EXPONENTIAL_BOUNDS } from './exponential_bounds.ts';
import type { BucketSpan } from './float.ts';
import { goLog2, ldexp } from './gomath.ts';

export const EXPONENTIAL_SCHEMA_MIN = -4;
export const EXPONENTIAL_SCHEMA_MAX = 8;
/** Schemas a producer may send that are reduced to EXPONENTIAL_SCHEMA_MAX/MIN on ingestion (Prometheus 3.x). */
export const EXPONENTIAL_SCHEMA_MIN_RESERVED = -9;
export const EXPONENTIAL_SCHEMA_MAX_RESERVED = 52;
// One owner for the NHCB schema number: lib/core/types.ts (the chunk codec's).
import { CUSTOM_BUCKETS_SCHEMA } from '../core/types.ts';
export { CUSTOM_BUCKETS_SCHEMA };

export function isCustomBucketsSchema(schema: number): boolean {
  return schema === CUSTOM_BUCKETS_SCHEMA;
}

export function isExponentialSchema(schema: number): boolean {
  return schema >= EXPONENTIAL_SCHEMA_MIN && schema <= EXPONENTIAL_SCHEMA_MAX;
}

export function isValidSchema(schema: number): boolean {
  return isCustomBucketsSchema(schema) || isExponentialSchema(schema);
}

/** A bucket with its bounds (Prometheus histogram.Bucket[float64]). */
export interface Bucket {
  lower: number;
  upper: number;
  lowerInclusive: boolean;
  upperInclusive: boolean;
  count: number;
  /** Index within the schema (irrelevant for the zero bucket). */
  index: number;
}

/** Upper bound of bucket `idx` of an exponential schema (Prometheus getBoundExponential). */
export function getBoundExponential(idx: number, schema: number): number {
  // The last finite bucket's upper bound computes as 2^1024 = +Inf; Prometheus pins it to
  // MaxFloat64 so that only the bucket after it (for ±Inf observations) reaches +Inf.
  if (schema < 0) {
    const exp = idx * 2 ** -schema;
    if (exp === 1024) return Number.MAX_VALUE;
    return ldexp(1, exp);
  }
  const fracIdx = idx & ((1 << schema) - 1);
  const frac = EXPONENTIAL_BOUNDS[schema]![fracIdx]!;
  const exp = (idx >> schema) + 1;
  if (frac === 0.5 && exp === 1025) return Number.MAX_VALUE;
  return ldexp(frac, exp);
}

/** Upper bound of bucket `idx` (Prometheus getBound): custom bounds for schema -53, with -1 → -Inf and len → +Inf. */
export function getBound(idx: number, schema: number, customValues: readonly number[]): number {
  if (isCustomBucketsSchema(schema)) {
    const n = customValues.length;
    if (idx > n || idx < -1) throw new RangeError(`index ${idx} out of bounds for custom bounds of length ${n}`);
    if (idx === n) return Infinity;
    if (idx === -1) return -Infinity;
    return customValues[idx]!;
  }
  return getBoundExponential(idx, schema);
}

/** The index in targetSchema (≤ originSchema) of bucket idx of originSchema (Prometheus targetIdx). */
export function targetIdx(idx: number, originSchema: number, targetSchema: number): number {
  // An arithmetic shift, written as a floor division: JS masks shift counts to 5 bits, and reserved
  // schemas (up to 52, reduced on ingestion) shift by more than 31.
  return Math.floor((idx - 1) / 2 ** (originSchema - targetSchema)) + 1;
}

/** A bucket's bounds as Prometheus's iterators report them. */
export function bucketWithBounds(
  index: number,
  count: number,
  schema: number,
  positive: boolean,
  customValues: readonly number[],
): Bucket {
  let lower: number;
  let upper: number;
  if (positive) {
    upper = getBound(index, schema, customValues);
    lower = getBound(index - 1, schema, customValues);
  } else {
    lower = -getBound(index, schema, customValues);
    upper = -getBound(index - 1, schema, customValues);
  }
  if (isCustomBucketsSchema(schema)) {
    return { lower, upper, lowerInclusive: index === 0, upperInclusive: true, count, index };
  }
  return { lower, upper, lowerInclusive: lower < 0, upperInclusive: upper > 0, count, index };
}

/** Index and count of a bucket (Prometheus strippedBucket). */
export interface IndexedCount {
  index: number;
  count: number;
}

/**
 * The buckets of one side in ascending index order, merged into targetSchema (≤ schema; the same for
 * custom buckets), skipping leading exponential buckets whose absolute upper bound is ≤
 * absoluteStartValue (Prometheus floatBucketIterator). Stops early on a span/bucket mismatch, as
 * Prometheus does for invalid histograms.
 */
export function indexedBuckets(
  spans: readonly BucketSpan[],
  buckets: readonly number[],
  schema: number,
  targetSchema: number,
  absoluteStartValue = 0,
): IndexedCount[] {
  const out: IndexedCount[] = [];
  const merge = schema !== targetSchema;
  let idx = 0;
  let b = 0;
  outer: for (let s = 0; s < spans.length; s++) {
    const span = spans[s]!;
    idx += span.offset;
    for (let j = 0; j < span.length; j++, idx++, b++) {
      if (b >= buckets.length) break outer;
      const count = buckets[b]!;
      const ti = merge ? targetIdx(idx, schema, targetSchema) : idx;
      const last = out[out.length - 1];
      if (merge && last !== undefined && last.index === ti) last.count += count;
      else out.push({ index: ti, count });
    }
  }
  if (absoluteStartValue !== 0 && isExponentialSchema(targetSchema)) {
    // Prometheus skips whole (merged) buckets only until the first one above the start value.
    let k = 0;
    while (k < out.length && getBoundExponential(out[k]!.index, targetSchema) <= absoluteStartValue) k++;
    if (k > 0) out.splice(0, k);
  }
  return out;
}

/** Prometheus kahansum.Inc: the new sum and the new compensation (Neumaier's variant). */
export function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (t === Infinity || t === -Infinity) c = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  return [t, c];
}

/**
 * Adds (or, with `negative`, subtracts) the buckets spansB/bucketsB into spansA/bucketsA, inserting
 * buckets A lacks (Prometheus addBuckets; kahanAddBuckets when compensation arrays are given).
 * Mutates and returns spansA/bucketsA (and compA). Leading exponential buckets of B with an upper
 * bound ≤ threshold are ignored (they are in the zero bucket).
 */
export function addBuckets(
  schema: number,
  threshold: number,
  negative: boolean,
  spansA: BucketSpan[],
  bucketsA: number[],
  spansB: readonly BucketSpan[],
  bucketsB: readonly number[],
  compA: number[] | null = null,
  compB: readonly number[] | null = null,
): void {
  let iSpan = -1;
  let iBucket = -1;
  let iInSpan = 0;
  let indexA = 0;
  let indexB = 0;
  let bIdxB = 0;
  let lowerThanThreshold = true;
  const exponential = isExponentialSchema(schema);
  const addAt = (pos: number, b: number, cb: number): void => {
    if (compA === null) {
      bucketsA[pos]! += b;
      return;
    }
    let [s, c] = kahanInc(b, bucketsA[pos]!, compA[pos]!);
    if (cb !== 0) [s, c] = kahanInc(cb, s, c);
    bucketsA[pos] = s;
    compA[pos] = c;
  };
  const insertAt = (pos: number, b: number, cb: number): void => {
    bucketsA.splice(pos, 0, b);
    compA?.splice(pos, 0, cb);
  };

  for (const spanB of spansB) {
    indexB += spanB.offset;
    for (let j = 0; j < spanB.length; j++) {
      body: {
        if (lowerThanThreshold && exponential && getBoundExponential(indexB, schema) <= threshold) break body;
        lowerThanThreshold = false;
        let bucketB = bucketsB[bIdxB]!;
        let compBucketB = compB !== null ? compB[bIdxB]! : 0;
        if (negative) {
          bucketB *= -1;
          compBucketB *= -1;
        }
        if (iSpan === -1) {
          if (spansA.length === 0 || spansA[0]!.offset > indexB) {
            // Before all buckets of A.
            insertAt(0, bucketB, compBucketB);
            if (spansA.length > 0 && spansA[0]!.offset === indexB + 1) {
              spansA[0]!.length++;
              spansA[0]!.offset--;
              break body;
            }
            spansA.unshift({ offset: indexB, length: 1 });
            // The formerly first span's offset becomes relative to the new one.
            if (spansA.length > 1) spansA[1]!.offset -= indexB + 1;
            break body;
          } else if (spansA[0]!.offset === indexB) {
            addAt(0, bucketB, compBucketB);
            break body;
          }
          iSpan = 0;
          iBucket = 0;
          iInSpan = 0;
          indexA = spansA[0]!.offset;
        }
        let deltaIndex = indexB - indexA;
        for (;;) {
          const remainingInSpan = spansA[iSpan]!.length - iInSpan;
          if (deltaIndex < remainingInSpan) {
            iBucket += deltaIndex;
            iInSpan += deltaIndex;
            addAt(iBucket, bucketB, compBucketB);
            break;
          }
          deltaIndex -= remainingInSpan;
          iBucket += remainingInSpan;
          iSpan++;
          if (iSpan === spansA.length || deltaIndex < spansA[iSpan]!.offset) {
            // In the gap after the previous span (or after the last span).
            insertAt(iBucket, bucketB, compBucketB);
            if (deltaIndex === 0) {
              // Right after the previous span: extend it.
              if (iSpan < spansA.length) spansA[iSpan]!.offset--;
              iSpan--;
              iInSpan = spansA[iSpan]!.length;
              spansA[iSpan]!.length++;
            } else if (iSpan < spansA.length && deltaIndex === spansA[iSpan]!.offset - 1) {
              // Right before the next span: extend that one.
              iInSpan = 0;
              spansA[iSpan]!.offset--;
              spansA[iSpan]!.length++;
            } else {
              iInSpan = 0;
              if (iSpan < spansA.length) spansA[iSpan]!.offset -= deltaIndex + 1;
              spansA.splice(iSpan, 0, { offset: deltaIndex, length: 1 });
            }
            break body;
          }
          deltaIndex -= spansA[iSpan]!.offset;
          iInSpan = 0;
        }
      }
      indexA = indexB;
      indexB++;
      bIdxB++;
    }
  }
}

/**
 * Prometheus compactBuckets for absolute counts: drops empty buckets at the edges of spans, splits
 * spans at runs of more than maxEmptyBuckets empty buckets, removes empty and zero-length spans and
 * merges spans at most maxEmptyBuckets apart. Returns new arrays (the inputs are not touched). A
 * bucket is empty when its count (and its Kahan compensation, if given) is zero.
 */
export function compactBuckets(
  bucketsIn: readonly number[],
  compIn: readonly number[] | null,
  spansIn: readonly BucketSpan[],
  maxEmptyBuckets: number,
): { buckets: number[]; comp: number[] | null; spans: BucketSpan[] } {
  let nothingToDo = true;
  for (const b of bucketsIn) {
    if (b === 0) {
      nothingToDo = false;
      break;
    }
  }
  if (nothingToDo) {
    for (const s of spansIn) {
      if (s.offset <= maxEmptyBuckets || s.length === 0) {
        nothingToDo = false;
        break;
      }
    }
  }
  const buckets = [...bucketsIn];
  const comp = compIn === null ? null : [...compIn];
  let spans = spansIn.map((s) => ({ offset: s.offset, length: s.length }));
  if (nothingToDo) return { buckets, comp, spans };

  // Merge spans with zero offset into their predecessor.
  if (spans.length > 1) {
    const merged: BucketSpan[] = [spans[0]!];
    for (let i = 1; i < spans.length; i++) {
      const s = spans[i]!;
      if (s.offset === 0) merged[merged.length - 1]!.length += s.length;
      else merged.push(s);
    }
    spans = merged;
  }
  // Drop zero-length spans, carrying their offset to the next span.
  {
    const kept: BucketSpan[] = [];
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i]!;
      if (s.length === 0) {
        if (i + 1 < spans.length) spans[i + 1]!.offset += s.offset;
        continue;
      }
      kept.push(s);
    }
    spans = kept;
  }
  if (spans.length === 0) return { buckets: [], comp: comp === null ? null : [], spans };

  let iBucket = 0;
  let iSpan = 0;
  let posInSpan = 0;
  const isEmpty = (k: number): boolean => buckets[k] === 0 && (comp === null || comp[k] === 0);
  const emptyBucketsHere = (): number => {
    let i = 0;
    while (i + posInSpan < spans[iSpan]!.length && isEmpty(iBucket + i)) {
      i++;
      if (i + iBucket >= buckets.length) break;
    }
    return i;
  };
  while (iBucket < buckets.length && iSpan < spans.length) {
    const nEmpty = emptyBucketsHere();
    if (nEmpty > 0) {
      if (posInSpan > 0 && nEmpty < spans[iSpan]!.length - posInSpan && nEmpty <= maxEmptyBuckets) {
        // Few enough empty buckets in the middle of a span: keep them.
        iBucket += nEmpty;
        posInSpan += nEmpty;
        continue;
      }
      buckets.splice(iBucket, nEmpty);
      comp?.splice(iBucket, nEmpty);
      if (posInSpan === 0) {
        if (nEmpty === spans[iSpan]!.length) {
          const offset = spans[iSpan]!.offset;
          spans.splice(iSpan, 1);
          if (spans.length > iSpan) spans[iSpan]!.offset += offset + nEmpty;
          continue;
        }
        spans[iSpan]!.length -= nEmpty;
        spans[iSpan]!.offset += nEmpty;
        continue;
      }
      // In the middle or at the end of the span: split it.
      const newSpan = { offset: nEmpty, length: spans[iSpan]!.length - posInSpan - nEmpty };
      spans[iSpan]!.length = posInSpan;
      iSpan++;
      posInSpan = 0;
      if (newSpan.length === 0) {
        if (iSpan < spans.length) spans[iSpan]!.offset += nEmpty;
        continue;
      }
      spans.splice(iSpan, 0, newSpan);
      continue;
    }
    iBucket++;
    posInSpan++;
    if (posInSpan >= spans[iSpan]!.length) {
      posInSpan = 0;
      iSpan++;
    }
  }
  if (maxEmptyBuckets === 0 || buckets.length === 0 || spans.length === 0) return { buckets, comp, spans };

  // Merge spans whose gap is small enough, filling the gap with empty buckets.
  iBucket = spans[0]!.length;
  iSpan = 1;
  while (iSpan < spans.length) {
    const s = spans[iSpan]!;
    if (s.offset > maxEmptyBuckets) {
      iBucket += s.length;
      iSpan++;
      continue;
    }
    spans[iSpan - 1]!.length += s.offset + s.length;
    spans.splice(iSpan, 1);
    const zeros = new Array<number>(s.offset).fill(0);
    buckets.splice(iBucket, 0, ...zeros);
    comp?.splice(iBucket, 0, ...zeros);
    iBucket += s.offset + s.length;
  }
  return { buckets, comp, spans };
}

/** Thrown for spans that do not fit their buckets (Prometheus ErrHistogramSpansBucketsMismatch and friends). */
export class InvalidSpansError extends Error {}

/**
 * Merges spans/buckets (absolute counts) of originSchema into targetSchema < originSchema (Prometheus
 * reduceResolution with deltaBuckets=false). Returns new arrays; compensation buckets, when given,
 * are merged alongside with Kahan summation (kahanReduceResolution).
 */
export function reduceResolution(
  spans: readonly BucketSpan[],
  buckets: readonly number[],
  originSchema: number,
  targetSchema: number,
  comp: readonly number[] | null = null,
): { spans: BucketSpan[]; buckets: number[]; comp: number[] | null } {
  const tSpans: BucketSpan[] = [];
  const tBuckets: number[] = [];
  const tComp: number[] | null = comp === null ? null : [];
  let bucketIdx = 0;
  let pos = 0;
  let lastTarget = 0;
  for (let n = 0; n < spans.length; n++) {
    const span = spans[n]!;
    if (n > 0 && span.offset < 0) {
      throw new InvalidSpansError(`span number ${n + 1} with offset ${span.offset}: histogram has a span whose offset is negative`);
    }
    bucketIdx += span.offset;
    for (let j = 0; j < span.length; j++) {
      if (pos >= buckets.length) {
        throw new InvalidSpansError(`have ${buckets.length} buckets but spans need more: histogram spans specify different number of buckets than provided`);
      }
      const t = targetIdx(bucketIdx, originSchema, targetSchema);
      const b = buckets[pos]!;
      const cb = comp === null ? 0 : comp[pos]!;
      if (tSpans.length === 0) {
        tSpans.push({ offset: t, length: 1 });
        tBuckets.push(b);
        tComp?.push(cb);
        lastTarget = t;
      } else if (lastTarget === t) {
        const k = tBuckets.length - 1;
        if (tComp === null) tBuckets[k]! += b;
        else {
          let [s, c] = kahanInc(b, tBuckets[k]!, tComp[k]!);
          [s, c] = kahanInc(cb, s, c);
          tBuckets[k] = s;
          tComp[k] = c;
        }
      } else if (lastTarget + 1 === t) {
        tSpans[tSpans.length - 1]!.length++;
        lastTarget++;
        tBuckets.push(b);
        tComp?.push(cb);
      } else if (lastTarget + 1 < t) {
        tSpans.push({ offset: t - lastTarget - 1, length: 1 });
        lastTarget = t;
        tBuckets.push(b);
        tComp?.push(cb);
      }
      bucketIdx++;
      pos++;
    }
  }
  if (pos !== buckets.length) {
    throw new InvalidSpansError(`spans need ${pos} buckets, have ${buckets.length} buckets: histogram spans specify different number of buckets than provided`);
  }
  return { spans: tSpans, buckets: tBuckets, comp: tComp };
}

/**
 * Prometheus Bucket.FractionBelow: the share of the bucket's width at or below v, for
 * lower < v < upper with finite bounds; linear, or on a log2 scale (mirrored for negative buckets).
 */
export function fractionBelow(b: Bucket, v: number, linear: boolean): number {
  if (linear) return (v - b.lower) / (b.upper - b.lower);
  const logLower = goLog2(Math.abs(b.lower));
  const logUpper = goLog2(Math.abs(b.upper));
  const logV = goLog2(Math.abs(v));
  if (v > 0) return (logV - logLower) / (logUpper - logLower);
  return 1 - (logV - logUpper) / (logLower - logUpper);
}
