// The `</` and `>/` operators on a native histogram (Prometheus FloatHistogram.TrimBuckets): keep
// only the observations below (upper trim) or above (lower trim) a value, interpolating inside the
// bucket that holds it, and re-estimate the sum from bucket midpoints.
import { type Bucket, fractionBelow } from './buckets.ts';
import type { FloatHistogram } from './float.ts';

/** Prometheus computeMidpoint: where a bucket's (surviving) observations are assumed to lie. */
function midpoint(lower: number, upper: number, positive: boolean, linear: boolean): number {
  const lowerInf = lower === Infinity || lower === -Infinity;
  const upperInf = upper === Infinity || upper === -Infinity;
  if (lowerInf) {
    if (upperInf) return 0;
    return upper > 0 ? upper / 2 : upper;
  }
  if (upperInf) return lower;
  if (linear) return (lower + upper) / 2;
  const geoMean = Math.sqrt(Math.abs(lower * upper));
  return positive ? geoMean : -geoMean;
}

/** Prometheus handleInfinityBuckets: [kept count, midpoint] for a bucket with an infinite bound. */
function infinityBucketTrim(upperTrim: boolean, b: Bucket, rhs: number): [number, number] {
  const zeroIfInf = (x: number) => (x === Infinity || x === -Infinity ? 0 : x);
  if (b.lower === -Infinity) {
    if (upperTrim) {
      if (rhs >= b.upper) return [b.count, 0];
      // A finite positive upper bound (NHCB only): take the bucket as starting at 0.
      if (rhs > 0 && b.upper > 0 && b.upper !== Infinity) return [(b.count * rhs) / b.upper, rhs / 2];
      if (b.upper <= 0) return [b.count, rhs];
      return [0, zeroIfInf(b.upper)];
    }
    if (rhs <= b.lower) return [b.count, 0];
    if (rhs >= 0 && b.upper > rhs && b.upper !== Infinity) return [b.count * (1 - rhs / b.upper), (rhs + b.upper) / 2];
    return [0, zeroIfInf(b.upper)];
  }
  if (b.upper === Infinity) {
    // Nothing is known about where in an open-ended bucket the observations are.
    if (upperTrim) return [0, zeroIfInf(b.lower)];
    if (rhs >= b.lower) return [b.count, rhs];
    return [0, zeroIfInf(b.lower)];
  }
  throw new Error(`one of the bounds must be infinite, got [${b.lower}, ${b.upper}]`);
}

/** Prometheus computeBucketTrim: [kept count, midpoint of the kept part]. */
function bucketTrim(b: Bucket, rhs: number, upperTrim: boolean, positive: boolean, custom: boolean): [number, number] {
  if (b.lower === -Infinity || b.upper === Infinity) return infinityBucketTrim(upperTrim, b, rhs);
  let under: number;
  if (rhs <= b.lower) under = 0;
  else if (rhs >= b.upper) under = b.count;
  else under = b.count * fractionBelow(b, rhs, custom);
  if (upperTrim) return [under, midpoint(b.lower, rhs, positive, custom)];
  return [b.count - under, midpoint(rhs, b.upper, positive, custom)];
}

/** Prometheus computeZeroBucketTrim: the zero bucket, one-sided when only one side has buckets. */
function zeroBucketTrim(z: Bucket, rhs: number, hasNegative: boolean, hasPositive: boolean, upperTrim: boolean): [number, number] {
  let lower = z.lower;
  let upper = z.upper;
  if (hasNegative && !hasPositive) upper = 0;
  if (hasPositive && !hasNegative) lower = 0;
  if (upperTrim) {
    if (rhs <= lower) return [0, 0];
    if (rhs >= upper) return [z.count, (lower + upper) / 2];
    return [(z.count * (rhs - lower)) / (upper - lower), (lower + rhs) / 2];
  }
  if (rhs <= lower) return [z.count, (lower + upper) / 2];
  if (rhs >= upper) return [0, 0];
  return [(z.count * (upper - rhs)) / (upper - lower), (rhs + upper) / 2];
}

/** Trims h in place (see FloatHistogram.trimBuckets). */
export function trimBuckets(h: FloatHistogram, rhs: number, upperTrim: boolean): FloatHistogram {
  const custom = h.usesCustomBuckets();
  let count = 0;
  let sum = 0;
  let trimmed = false;
  let hasPositive = false;
  let hasNegative = false;
  for (const positive of [true, false]) {
    const list = positive ? h.positiveBucketList() : h.negativeBucketList();
    const buckets = positive ? h.positiveBuckets : h.negativeBuckets;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (b.count === 0) continue;
      if (positive) hasPositive = true;
      else hasNegative = true;
      const keepAll = upperTrim ? b.upper <= rhs : b.lower >= rhs;
      const straddles = upperTrim ? b.lower < rhs : b.upper > rhs;
      if (keepAll) {
        count += b.count;
        sum += midpoint(b.lower, b.upper, positive, custom) * b.count;
      } else if (straddles) {
        const [keep, mid] = bucketTrim(b, rhs, upperTrim, positive, custom);
        count += keep;
        sum += mid * keep;
        if (buckets[i] !== keep) {
          buckets[i] = keep;
          trimmed = true;
        }
      } else {
        buckets[i] = 0;
        trimmed = true;
      }
    }
  }
  if (h.zeroCount > 0 && !custom) {
    const [keep, mid] = zeroBucketTrim(h.zeroBucket(), rhs, hasNegative, hasPositive, upperTrim);
    if (h.zeroCount !== keep) {
      h.zeroCount = keep;
      trimmed = true;
    }
    sum += mid * keep;
    count += keep;
  }
  if (trimmed) {
    // Count and sum change only when something was actually cut.
    h.count = count;
    h.sum = sum;
    h.compact(0);
  }
  return h;
}
