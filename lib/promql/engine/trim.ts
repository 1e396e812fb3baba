// The histogram trim operators `h </ x` (keep observations below x) and `h >/ x` (keep those above),
// Prometheus 3.x FloatHistogram.TrimBuckets: buckets beyond x are emptied, the bucket holding x keeps
// its interpolated share (linear for custom buckets, exponential otherwise), count and sum are
// re-estimated from bucket midpoints once anything was trimmed.
// Lives here until lib/histogram provides FloatHistogram.trimBuckets (then this file delegates).
import type { FloatHistogram } from '../../histogram/float.ts';
import type { Bucket } from '../../histogram/buckets.ts';
import { fractionBelow } from '../../histogram/quantile.ts';

/** Trims h in place and returns it (callers pass a copy). */
export function trimBuckets(h: FloatHistogram, rhs: number, isUpperTrim: boolean): FloatHistogram {
  const own = (h as unknown as { trimBuckets?: (rhs: number, upper: boolean) => FloatHistogram }).trimBuckets;
  if (typeof own === 'function') return own.call(h, rhs, isUpperTrim);
  let updatedCount = 0, updatedSum = 0;
  let trimmed = false;
  const custom = h.usesCustomBuckets();
  let hasPositive = false, hasNegative = false;
  const side = (list: Bucket[], counts: number[], positive: boolean): void => {
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (b.count === 0) continue;
      if (positive) hasPositive = true;
      else hasNegative = true;
      const keepAll = isUpperTrim ? b.upper <= rhs : b.lower >= rhs;
      const partial = isUpperTrim ? b.lower < rhs : b.upper > rhs;
      if (keepAll) {
        updatedCount += b.count;
        updatedSum += midpoint(b.lower, b.upper, positive, custom) * b.count;
      } else if (partial) {
        const [keep, mid] = bucketTrim(b, rhs, isUpperTrim, positive, custom);
        updatedCount += keep;
        updatedSum += mid * keep;
        if (counts[i] !== keep) {
          counts[i] = keep;
          trimmed = true;
        }
      } else {
        counts[i] = 0;
        trimmed = true;
      }
    }
  };
  side(h.positiveBucketList(), h.positiveBuckets, true);
  side(h.negativeBucketList(), h.negativeBuckets, false);
  if (h.zeroCount > 0) {
    const [keep, mid] = zeroBucketTrim(h.zeroBucket(), rhs, hasNegative, hasPositive, isUpperTrim);
    if (h.zeroCount !== keep) {
      h.zeroCount = keep;
      trimmed = true;
    }
    updatedSum += mid * keep;
    updatedCount += keep;
  }
  if (trimmed) {
    h.count = updatedCount;
    h.sum = updatedSum;
    h.compact(0);
  }
  return h;
}

const zeroIfInf = (x: number): number => (x === Infinity || x === -Infinity ? 0 : x);

function infinityBucket(isUpperTrim: boolean, b: Bucket, rhs: number): [number, number] {
  if (b.lower === -Infinity) {
    if (isUpperTrim) {
      if (rhs >= b.upper) return [b.count, 0];
      if (rhs > 0 && b.upper > 0 && b.upper !== Infinity) return [(b.count * rhs) / b.upper, rhs / 2];
      if (b.upper <= 0) return [b.count, rhs];
      return [0, zeroIfInf(b.upper)];
    }
    if (rhs <= b.lower) return [b.count, 0];
    if (rhs >= 0 && b.upper > rhs && b.upper !== Infinity) return [b.count * (1 - rhs / b.upper), (rhs + b.upper) / 2];
    return [0, zeroIfInf(b.upper)];
  }
  // Upper bound +Inf.
  if (isUpperTrim) return [0, zeroIfInf(b.lower)];
  if (rhs >= b.lower) return [b.count, rhs];
  return [0, zeroIfInf(b.lower)];
}

function split(b: Bucket, rhs: number, linear: boolean): number {
  if (rhs <= b.lower) return 0;
  if (rhs >= b.upper) return b.count;
  return b.count * fractionBelow(b, rhs, linear);
}

function zeroBucketTrim(z: Bucket, rhs: number, hasNegative: boolean, hasPositive: boolean, isUpperTrim: boolean): [number, number] {
  let lower = z.lower, upper = z.upper;
  if (hasNegative && !hasPositive) upper = 0;
  if (hasPositive && !hasNegative) lower = 0;
  if (isUpperTrim) {
    if (rhs <= lower) return [0, 0];
    if (rhs >= upper) return [z.count, (lower + upper) / 2];
    return [(z.count * (rhs - lower)) / (upper - lower), (lower + rhs) / 2];
  }
  if (rhs <= lower) return [z.count, (lower + upper) / 2];
  if (rhs >= upper) return [0, 0];
  return [(z.count * (upper - rhs)) / (upper - lower), (rhs + upper) / 2];
}

function bucketTrim(b: Bucket, rhs: number, isUpperTrim: boolean, positive: boolean, custom: boolean): [number, number] {
  if (b.lower === -Infinity || b.upper === Infinity) return infinityBucket(isUpperTrim, b, rhs);
  const under = split(b, rhs, custom);
  if (isUpperTrim) return [under, midpoint(b.lower, rhs, positive, custom)];
  return [b.count - under, midpoint(rhs, b.upper, positive, custom)];
}

function midpoint(lo: number, hi: number, positive: boolean, linear: boolean): number {
  const loInf = lo === Infinity || lo === -Infinity;
  const hiInf = hi === Infinity || hi === -Infinity;
  if (loInf) {
    if (hiInf) return 0;
    return hi > 0 ? hi / 2 : hi;
  }
  if (hiInf) return lo;
  if (linear) return (lo + hi) / 2;
  const geo = Math.sqrt(Math.abs(lo * hi));
  return positive ? geo : -geo;
}
