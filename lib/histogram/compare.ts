// How promqltest decides that a result histogram is the expected one (Prometheus
// promql/promqltest compareNativeHistogram over Compact(0) of both, floats with util/almost.Equal):
// the test runner and any other differential check use this one definition.
import { customBoundsMatch, type FloatHistogram, spansMatch } from './float.ts';
import { isStaleNaN } from '../core/js/histogram.ts';

/** promqltest's epsilon (defaultEpsilon). */
export const DEFAULT_EPSILON = 1e-6;
const MIN_NORMAL = 2.2250738585072014e-308;

/** Prometheus util/almost.Equal: relative error below epsilon; NaN equals NaN, StaleNaN only StaleNaN. */
export function almostEqual(a: number, b: number, epsilon = DEFAULT_EPSILON): boolean {
  if (isStaleNaN(a) || isStaleNaN(b)) return isStaleNaN(a) && isStaleNaN(b);
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

function bucketsAlmostMatch(a: readonly number[], b: readonly number[], epsilon: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!almostEqual(a[i]!, b[i]!, epsilon)) return false;
  return true;
}

/**
 * promqltest's comparison: both compacted (copies; the arguments are not touched), then schema,
 * count, sum, custom bounds, zero bucket, span layout and buckets, floats within epsilon; the counter
 * reset hint only when the expected literal wrote one (counterResetHintSet).
 */
export function equalsForTest(
  expected: FloatHistogram,
  actual: FloatHistogram,
  counterResetHintSet: boolean,
  epsilon = DEFAULT_EPSILON,
): boolean {
  const exp = expected.copy().compact(0);
  const cur = actual.copy().compact(0);
  if (exp.schema !== cur.schema || !almostEqual(exp.count, cur.count, epsilon) || !almostEqual(exp.sum, cur.sum, epsilon)) {
    return false;
  }
  if (exp.usesCustomBuckets() && !customBoundsMatch(exp.customValues, cur.customValues)) return false;
  if (exp.zeroThreshold !== cur.zeroThreshold || !almostEqual(exp.zeroCount, cur.zeroCount, epsilon)) return false;
  if (!spansMatch(exp.negativeSpans, cur.negativeSpans) || !bucketsAlmostMatch(exp.negativeBuckets, cur.negativeBuckets, epsilon)) {
    return false;
  }
  if (!spansMatch(exp.positiveSpans, cur.positiveSpans) || !bucketsAlmostMatch(exp.positiveBuckets, cur.positiveBuckets, epsilon)) {
    return false;
  }
  return !counterResetHintSet || exp.counterResetHint === cur.counterResetHint;
}
