// lib/promql: a PromQL engine with Prometheus 3.x float semantics.
//
//   const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 50_000_000, timeoutMs: 120_000 });
//   const res = await engine.instantQuery(queryable, 'sum by (job) (rate(x[5m]))', Date.now(), { signal });
//   const res = await engine.rangeQuery(queryable, expr, startMs, endMs, stepMs);
//   toPromJSON(res)   // → the Prometheus HTTP API `data` object
//
// Errors are PromQLError subclasses; `err.errorType` is the Prometheus API error type
// (bad_data: ParseError/BadDataError, execution: ExecutionError/TooManySamplesError,
// timeout: QueryTimeoutError, canceled: QueryCanceledError, internal: StorageError).
export type * from './ast.ts';
export { parseExpr, parseDurationMs, typeOf, documentedType, type ParseOptions } from './parser.ts';
export { formatExpr, formatFloat, formatDuration } from './format.ts';
export { walk, children, selectors, type SelectorInfo } from './walk.ts';
export {
  Engine, type EngineOptions, type QueryOptions, type QueryResult, type Point, type MatrixSeries, type VectorSample,
} from './engine.ts';
export {
  PromQLError, ParseError, BadDataError, ExecutionError, TooManySamplesError, QueryTimeoutError, QueryCanceledError,
  StorageError, type ErrorType,
} from './errors.ts';
export { MemoryQueryable, STALE_NAN } from './memory.ts';
export type { Queryable, SelectHints, SelectResult, SeriesData } from './queryable.ts';
export { FUNCTIONS, type FunctionDef, type FunctionSig } from './functions/table.ts';

import type { QueryResult } from './engine.ts';
import type { FloatHistogram } from '../histogram/float.ts';
import { histogramJSON } from '../histogram/json.ts';
import { formatFloat } from './format.ts';
import { labelsToRecord } from '../labels/mod.ts';

/** Prometheus JSON sample value: strconv.FormatFloat(v, 'f', -1, 64), with +Inf/-Inf/NaN. */
export function formatSampleValue(v: number): string {
  return formatFloat(v);
}

/** Prometheus JSON timestamp: seconds as a number (ms precision). */
export function formatSampleTime(t: number): number {
  return t / 1000;
}

/** One histogram as the API writes it: {"count":"…","sum":"…","buckets":[[rule,"lower","upper","count"],…]}. */
export function histogramJsonText(h: FloatHistogram): string {
  return JSON.stringify(histogramJSON(h));
}

/** The `data` object of a Prometheus /api/v1/query(_range) response. */
export function toPromJSON(r: QueryResult): { resultType: string; result: unknown } {
  switch (r.resultType) {
    case 'scalar':
      return { resultType: 'scalar', result: [r.result.t / 1000, formatFloat(r.result.v)] };
    case 'string':
      return { resultType: 'string', result: [r.result.t / 1000, r.result.v] };
    case 'vector':
      return {
        resultType: 'vector',
        result: r.result.map((s) =>
          s.value.h
            ? { metric: labelsToRecord(s.metric), histogram: [s.value.t / 1000, histogramJSON(s.value.h)] }
            : { metric: labelsToRecord(s.metric), value: [s.value.t / 1000, formatFloat(s.value.v)] }),
      };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: r.result.map((s) => {
          const pts = s.values;
          if (!pts.some((p) => p.h)) return { metric: labelsToRecord(s.metric), values: pts.map((p) => [p.t / 1000, formatFloat(p.v)]) };
          // Prometheus: float points as "values", histogram points as "histograms", each left out when empty.
          const out: { metric: Record<string, string>; values?: unknown[]; histograms?: unknown[] } = { metric: labelsToRecord(s.metric) };
          const floats = pts.filter((p) => !p.h);
          if (floats.length) out.values = floats.map((p) => [p.t / 1000, formatFloat(p.v)]);
          out.histograms = pts.filter((p) => p.h).map((p) => [p.t / 1000, histogramJSON(p.h!)]);
          return out;
        }),
      };
  }
}
