// histogram_quantile, histogram_fraction, histogram_stddev and histogram_stdvar over one native
// histogram, computed as Prometheus 3.x does (promql/quantile.go HistogramQuantile /
// HistogramFraction, promql/functions.go histogramVariance). The annotations are the engine's; the
// *WithInfo variants say when Prometheus would add one.
import type { Bucket, FloatHistogram } from './float.ts';
import { bucketWithBounds, fractionBelow, type IndexedCount, indexedBuckets, kahanInc } from './buckets.ts';
import { goExp2, goLog2 } from './gomath.ts';

export { fractionBelow };

/**
 * The counts of Prometheus's AllBucketIterator (or AllReverseBucketIterator) order — negative
 * buckets, the zero bucket if populated, positive buckets — with a way to get one of them as a
 * Bucket with bounds (clipped to the zero threshold as the iterator does).
 */
function allBucketCounts(h: FloatHistogram, reverse: boolean): { counts: number[]; bucket(k: number): Bucket } {
  const neg = indexedBuckets(h.negativeSpans, h.negativeBuckets, h.schema, h.schema);
  const pos = indexedBuckets(h.positiveSpans, h.positiveBuckets, h.schema, h.schema);
  const counts: number[] = [];
  const refs: IndexedCount[] = [];
  const sides: number[] = [];
  const push = (side: number, ic: IndexedCount) => {
    counts.push(ic.count);
    refs.push(ic);
    sides.push(side);
  };
  const zero = h.zeroCount > 0 && !h.usesCustomBuckets() ? { index: 0, count: h.zeroCount } : null;
  if (!reverse) {
    for (let i = neg.length - 1; i >= 0; i--) push(-1, neg[i]!);
    if (zero) push(0, zero);
    for (const b of pos) push(1, b);
  } else {
    for (let i = pos.length - 1; i >= 0; i--) push(1, pos[i]!);
    if (zero) push(0, zero);
    for (const b of neg) push(-1, b);
  }
  return {
    counts,
    bucket(k: number): Bucket {
      const side = sides[k]!;
      if (side === 0) return h.zeroBucket();
      const ic = refs[k]!;
      const b = bucketWithBounds(ic.index, ic.count, h.schema, side > 0, side > 0 ? h.customValues : []);
      if (b.upper < 0 && b.upper > -h.zeroThreshold) b.upper = -h.zeroThreshold;
      else if (b.lower > 0 && b.lower < h.zeroThreshold) b.lower = h.zeroThreshold;
      return b;
    },
  };
}

export interface QuantileResult {
  value: number;
  /** NaN because the rank fell among NaN observations (Prometheus NativeHistogramQuantileNaNResultInfo). */
  nanResult: boolean;
  /** The histogram holds NaN observations that skew the result (NativeHistogramQuantileNaNSkewInfo). */
  nanSkew: boolean;
}

/** histogram_quantile(q, h) of a native histogram. */
export function histogramQuantile(q: number, h: FloatHistogram): number {
  return histogramQuantileWithInfo(q, h).value;
}

export function histogramQuantileWithInfo(q: number, h: FloatHistogram): QuantileResult {
  const result = (value: number, nanResult = false, nanSkew = false): QuantileResult => ({ value, nanResult, nanSkew });
  if (q < 0) return result(-Infinity);
  if (q > 1) return result(Infinity);
  if (h.count === 0 || Number.isNaN(q)) return result(NaN);

  // NaN observations (sum NaN) count in h.count but in no bucket: only the forward direction works.
  const forward = Number.isNaN(h.sum) || q < 0.5;
  // Walk the counts only; bounds are computed for the one bucket the rank falls into.
  const seq = allBucketCounts(h, !forward);
  let rank = forward ? q * h.count : (1 - q) * h.count;
  let count = 0;
  let k = 0;
  let at = -1;
  for (; k < seq.counts.length; k++) {
    at = k;
    const c = seq.counts[k]!;
    if (c === 0) continue;
    count += c;
    if (count >= rank) break;
  }
  const bucket: Bucket =
    at < 0
      ? { lower: 0, upper: 0, lowerInclusive: false, upperInclusive: false, count: 0, index: 0 }
      : seq.bucket(at);
  const custom = h.usesCustomBuckets();
  if (!custom && bucket.lower < 0 && bucket.upper > 0) {
    // In the zero bucket of a one-sided histogram, 0 is the bound on the empty side.
    if (h.negativeBuckets.length === 0 && h.positiveBuckets.length > 0) bucket.lower = 0;
    else if (h.positiveBuckets.length === 0 && h.negativeBuckets.length > 0) bucket.upper = 0;
  } else if (custom) {
    if (bucket.lower === -Infinity) {
      if (bucket.upper <= 0) return result(bucket.upper);
      bucket.lower = 0;
    } else if (bucket.upper === Infinity) {
      return result(bucket.lower);
    }
  }
  if (count > h.count) count = h.count; // float error must not push count past the total
  if (count < rank) {
    if (Number.isNaN(h.sum)) return result(NaN, true);
    return result(bucket.upper);
  }
  if (forward) rank -= count - bucket.count;
  else rank = count - rank;
  let nanSkew = false;
  if (Number.isNaN(h.sum)) {
    for (k++; k < seq.counts.length; k++) count += seq.counts[k]!;
    if (count < h.count) nanSkew = true;
  }
  const fraction = rank / bucket.count;
  if (custom || (bucket.lower <= 0 && bucket.upper >= 0)) {
    return result(bucket.lower + (bucket.upper - bucket.lower) * fraction, false, nanSkew);
  }
  // Exponential buckets are linear on a log scale: interpolate there.
  const logLower = goLog2(Math.abs(bucket.lower));
  const logUpper = goLog2(Math.abs(bucket.upper));
  if (bucket.lower > 0) return result(goExp2(logLower + (logUpper - logLower) * fraction), false, nanSkew);
  return result(-goExp2(logUpper + (logLower - logUpper) * (1 - fraction)), false, nanSkew);
}

export interface FractionResult {
  value: number;
  /** NaN observations are in the histogram (Prometheus NativeHistogramFractionNaNsInfo). */
  nanObservations: boolean;
}

/** histogram_fraction(lower, upper, h) of a native histogram. */
export function histogramFraction(lower: number, upper: number, h: FloatHistogram): number {
  return histogramFractionWithInfo(lower, upper, h).value;
}

export function histogramFractionWithInfo(lower: number, upper: number, h: FloatHistogram): FractionResult {
  if (h.count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return { value: NaN, nanObservations: false };
  if (lower >= upper) return { value: 0, nanObservations: false };
  const custom = h.usesCustomBuckets();
  const buckets = h.allBucketList();
  let count = 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  let k = 0;
  for (; k < buckets.length; k++) {
    let b = buckets[k]!;
    count += b.count;
    let zeroBucket = false;
    // Linear for custom buckets (as classic histograms) and the zero bucket; no interpolation into
    // a bucket with an infinite bound.
    const interpolateLinearly = (v: number) => (b.lower === -Infinity ? b.count : rank + b.count * fractionBelow(b, v, true));
    const interpolateExponentially = (v: number) => rank + b.count * fractionBelow(b, v, false);
    if (b.lower <= 0 && b.upper >= 0) {
      zeroBucket = true;
      b = { ...b }; // one-sided histograms move a bound of the zero bucket to 0
      if (h.negativeBuckets.length === 0 && h.positiveBuckets.length > 0) b.lower = 0;
      else if (h.positiveBuckets.length === 0 && h.negativeBuckets.length > 0) b.upper = 0;
    }
    if (!lowerSet && b.lower >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && b.lower >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    const linear = custom || zeroBucket;
    if (!lowerSet && b.lower < lower && b.upper > lower) {
      lowerRank = linear ? interpolateLinearly(lower) : interpolateExponentially(lower);
      lowerSet = true;
    }
    if (!upperSet && b.lower < upper && b.upper > upper) {
      upperRank = linear ? interpolateLinearly(upper) : interpolateExponentially(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank += b.count;
  }
  let nanObservations = false;
  if (Number.isNaN(h.sum)) {
    // Only the observations in buckets are non-NaN ones.
    for (k++; k < buckets.length; k++) count += buckets[k]!.count;
    if (count < h.count) nanObservations = true;
  } else {
    count = h.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return { value: (upperRank - lowerRank) / h.count, nanObservations };
}

/**
 * histogram_stdvar: the variance of the observations, each bucket's observations taken at its
 * geometric mean (arithmetic mean for custom buckets, 0 in the zero bucket), Kahan-summed.
 */
export function histogramStdVar(h: FloatHistogram): number {
  const mean = h.sum / h.count;
  let variance = 0;
  let c = 0;
  const custom = h.usesCustomBuckets();
  for (const b of h.allBucketList()) {
    if (b.count === 0) continue;
    let val: number;
    if (custom) val = (b.upper + b.lower) / 2;
    else if (b.lower <= 0 && b.upper >= 0) val = 0;
    else {
      val = Math.sqrt(b.upper * b.lower);
      if (b.upper < 0) val = -val;
    }
    const delta = val - mean;
    [variance, c] = kahanInc(b.count * delta * delta, variance, c);
  }
  variance += c;
  return variance / h.count;
}

/** histogram_stddev: the square root of histogramStdVar. */
export function histogramStdDev(h: FloatHistogram): number {
  return Math.sqrt(histogramStdVar(h));
}
