// A native histogram in Prometheus's HTTP API JSON (util/jsonutil MarshalHistogram): count and sum
// as quoted floats, then every non-empty bucket of AllBucketIterator (ascending, the buckets next
// to the zero bucket clipped to its threshold) as [boundaryRule, lower, upper, count].
import { formatSampleValue } from '../query/format.ts';
import type { Bucket, FloatHistogram } from './float.ts';

/** [rule, lower, upper, count]; rule 0 = (lo,hi], 1 = [lo,hi), 2 = (lo,hi), 3 = [lo,hi]. */
export type HistogramJSONBucket = [number, string, string, string];

export interface HistogramJSON {
  count: string;
  sum: string;
  buckets?: HistogramJSONBucket[];
}

/** Prometheus's boundary rule code of a bucket. */
export function boundaryRule(b: Bucket): number {
  if (b.lowerInclusive) return b.upperInclusive ? 3 : 1;
  return b.upperInclusive ? 0 : 2;
}

/** The API's JSON object for one histogram (property order as Prometheus writes it). */
export function histogramJSON(h: FloatHistogram): HistogramJSON {
  const out: HistogramJSON = { count: formatSampleValue(h.count), sum: formatSampleValue(h.sum) };
  const buckets: HistogramJSONBucket[] = [];
  for (const b of h.allBucketList()) {
    if (b.count === 0) continue; // Prometheus leaves empty buckets out.
    buckets.push([boundaryRule(b), formatSampleValue(b.lower), formatSampleValue(b.upper), formatSampleValue(b.count)]);
  }
  if (buckets.length > 0) out.buckets = buckets;
  return out;
}
