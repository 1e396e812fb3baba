// The ruler's side of a Prometheus query API (our querier or any Prometheus): instant-query answers.
import type { QuerySample } from './eval.ts';
import { apiFloat, histogramFromApiJson } from './histogram.ts';

/** Parses a Prometheus API instant-query answer into samples (vector, or a scalar as one unlabelled sample). */
export function parseQueryResponse(body: unknown): QuerySample[] {
  const b = body as { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: unknown } };
  if (!b || typeof b !== 'object') throw new Error('query API answered with something that is not a JSON object');
  if (b.status !== 'success') throw new Error(`query failed: ${b.errorType ?? 'error'}: ${b.error ?? 'no error message'}`);
  const rt = b.data?.resultType;
  const res = b.data?.result;
  const num = (s: unknown): number => apiFloat(s, 'sample value');
  if (rt === 'vector' && Array.isArray(res)) {
    // A native histogram sample comes as `histogram: [t, {count, sum, buckets}]` instead of `value`;
    // its float value is 0, as a promql.Sample's F beside its H.
    return res.map((r: { metric?: Record<string, string>; value?: [number, string]; histogram?: [number, unknown] }) => (r.histogram !== undefined && r.value === undefined
      ? { metric: r.metric ?? {}, value: 0, histogram: histogramFromApiJson(Array.isArray(r.histogram) ? r.histogram[1] : undefined) }
      : { metric: r.metric ?? {}, value: num(r.value?.[1]) }));
  }
  if (rt === 'scalar' && Array.isArray(res)) return [{ metric: {}, value: num(res[1]) }];
  throw new Error(`rule result is not a vector or scalar (got ${rt ?? 'nothing'})`);
}
