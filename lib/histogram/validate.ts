// Prometheus FloatHistogram.Validate, with its error texts: spans consistent with buckets, no
// negative counts, a valid schema, and custom bounds only (and well-formed) for schema -53.
import { isCustomBucketsSchema, isExponentialSchema } from './buckets.ts';
import type { BucketSpan, FloatHistogram } from './float.ts';
import { formatGoFloat } from '../tsdb/gofmt.ts';

/** A histogram Prometheus would reject (its histogram.Error texts). */
export class HistogramValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistogramValidationError';
  }
}

const SPANS_MISMATCH = 'histogram spans specify different number of buckets than provided';
const NEGATIVE_OFFSET = 'histogram has a span whose offset is negative';
const NEGATIVE_BUCKET = 'histogram has a bucket whose observation count is negative';

/** Go's %f. */
function goF(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return x.toFixed(6);
}

function checkSpans(spans: readonly BucketSpan[], numBuckets: number, firstMayBeNegative: boolean): string | null {
  let n = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i]!;
    if ((i > 0 || !firstMayBeNegative) && s.offset < 0) return `span number ${i + 1} with offset ${s.offset}: ${NEGATIVE_OFFSET}`;
    n += s.length;
  }
  if (n !== numBuckets) return `spans need ${n} buckets, have ${numBuckets} buckets: ${SPANS_MISMATCH}`;
  return null;
}

function checkBuckets(buckets: readonly number[]): string | null {
  for (let i = 0; i < buckets.length; i++) {
    if (buckets[i]! < 0) return `bucket number ${i + 1} has observation count of ${formatGoFloat(buckets[i]!)}: ${NEGATIVE_BUCKET}`;
  }
  return null;
}

function checkCustomBounds(h: FloatHistogram): string | null {
  let prev = -Infinity;
  const bounds = h.customValues;
  for (let i = 0; i < bounds.length; i++) {
    const curr = bounds[i]!;
    if (Number.isNaN(curr)) return 'histogram custom bounds must not be NaN';
    if (i > 0 && curr <= prev) {
      return `previous bound is ${goF(prev)} and current is ${goF(curr)}: histogram custom bounds must be in strictly increasing order`;
    }
    prev = curr;
  }
  if (prev === Infinity) return 'last +Inf bound must not be explicitly defined: histogram custom bounds must be finite';
  const spanErr = checkSpans(h.positiveSpans, h.positiveBuckets.length, false);
  if (spanErr !== null) return spanErr;
  const total = h.positiveSpans.reduce((a, s) => a + s.offset + s.length, 0);
  if (bounds.length + 1 < total) {
    return `only ${bounds.length} custom bounds defined which is insufficient to cover total span length of ${total}: histogram custom bounds are too few`;
  }
  return null;
}

/** Throws HistogramValidationError where Prometheus's Validate returns an error. */
export function validateHistogram(h: FloatHistogram): void {
  const fail = (msg: string): never => {
    throw new HistogramValidationError(msg);
  };
  if (isCustomBucketsSchema(h.schema)) {
    const err = checkCustomBounds(h);
    if (err !== null) fail(`custom buckets: ${err}`);
    if (h.zeroCount !== 0) fail('custom buckets: must have zero count of 0');
    if (h.zeroThreshold !== 0) fail('custom buckets: must have zero threshold of 0');
    if (h.negativeSpans.length > 0) fail('custom buckets: must not have negative spans');
    if (h.negativeBuckets.length > 0) fail('custom buckets: must not have negative buckets');
  } else if (isExponentialSchema(h.schema)) {
    let err = checkSpans(h.positiveSpans, h.positiveBuckets.length, true);
    if (err !== null) fail(`positive side: ${err}`);
    err = checkSpans(h.negativeSpans, h.negativeBuckets.length, true);
    if (err !== null) fail(`negative side: ${err}`);
    err = checkBuckets(h.negativeBuckets);
    if (err !== null) fail(`negative side: ${err}`);
    if (h.zeroCount < 0) fail(`zero bucket has observation count of ${formatGoFloat(h.zeroCount)}: ${NEGATIVE_BUCKET}`);
    if (h.customValues.length > 0) fail('histogram with exponential schema must not have custom bounds');
  } else {
    fail(
      `histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema ${h.schema}`,
    );
  }
  if (h.count < 0) fail(`observation count is  ${formatGoFloat(h.count)}: histogram's observation count is negative`);
  const err = checkBuckets(h.positiveBuckets);
  if (err !== null) fail(`positive side: ${err}`);
}
