// The answers the frontend handles: Prometheus API JSON (matrix for range queries, string lists for
// labels, label sets for series), decoded once, merged and cut by time, and written back the way
// the querier writes them (lib/query/json.ts: Go's escaping). Merging follows Cortex's matrixMerge
// as Thanos uses it: series grouped by label set, pieces sorted by their first sample, samples that
// overlap an earlier piece dropped, series ordered by their label string.
import { compareStrings } from '../labels/mod.ts';
import { stringifyJson } from '../query/json.ts';

/** A sample as the API writes it: [unix seconds, "value"] (values stay text: no float round trip). */
export type ApiSample = [number, string];
/** A native histogram sample: [unix seconds, histogram object] (kept as the downstream wrote it). */
export type ApiHistogram = [number, unknown];

export interface SampleStream {
  metric: Record<string, string>;
  values?: ApiSample[];
  histograms?: ApiHistogram[];
}

export interface MatrixResponse {
  kind: 'matrix';
  result: SampleStream[];
  warnings: string[];
  infos: string[];
}

export interface StringsResponse {
  kind: 'strings';
  data: string[];
  warnings: string[];
}

export interface SeriesResponse {
  kind: 'series';
  data: Array<Record<string, string>>;
  warnings: string[];
}

export type ApiResponse = MatrixResponse | StringsResponse | SeriesResponse;

export class ResponseFormatError extends Error {
  constructor(message: string) {
    super(`unexpected downstream answer: ${message}`);
    this.name = 'ResponseFormatError';
  }
}

const msOf = (t: number) => Math.round(t * 1000);

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ResponseFormatError(`${what} must be a list of strings`);
  return v as string[];
}

function labelRecord(v: unknown, what: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ResponseFormatError(`${what} must be a label mapping`);
  for (const x of Object.values(v)) if (typeof x !== 'string') throw new ResponseFormatError(`${what} values must be strings`);
  return v as Record<string, string>;
}

function envelope(text: string): { data: unknown; warnings: string[]; infos: string[] } {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new ResponseFormatError(`not JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null) throw new ResponseFormatError('not a JSON object');
  const r = o as Record<string, unknown>;
  if (r.status !== 'success') throw new ResponseFormatError(`status ${JSON.stringify(r.status)}`);
  return { data: r.data, warnings: stringList(r.warnings, 'warnings'), infos: stringList(r.infos, 'infos') };
}

/** A range query answer (resultType matrix). */
export function decodeMatrix(text: string): MatrixResponse {
  const { data, warnings, infos } = envelope(text);
  if (typeof data !== 'object' || data === null) throw new ResponseFormatError('data must be an object');
  const d = data as Record<string, unknown>;
  if (d.resultType !== 'matrix') throw new ResponseFormatError(`resultType ${JSON.stringify(d.resultType)} (want matrix)`);
  if (!Array.isArray(d.result)) throw new ResponseFormatError('data.result must be a list');
  const result: SampleStream[] = d.result.map((s: unknown, i) => {
    if (typeof s !== 'object' || s === null) throw new ResponseFormatError(`result[${i}] must be an object`);
    const x = s as Record<string, unknown>;
    const out: SampleStream = { metric: labelRecord(x.metric ?? {}, `result[${i}].metric`) };
    if (x.values !== undefined) {
      if (!Array.isArray(x.values)) throw new ResponseFormatError(`result[${i}].values must be a list`);
      for (const p of x.values) {
        if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'string') throw new ResponseFormatError(`result[${i}].values holds a malformed sample`);
      }
      out.values = x.values as ApiSample[];
    }
    if (x.histograms !== undefined) {
      if (!Array.isArray(x.histograms)) throw new ResponseFormatError(`result[${i}].histograms must be a list`);
      for (const p of x.histograms) if (!Array.isArray(p) || typeof p[0] !== 'number') throw new ResponseFormatError(`result[${i}].histograms holds a malformed sample`);
      out.histograms = x.histograms as ApiHistogram[];
    }
    return out;
  });
  return { kind: 'matrix', result, warnings, infos };
}

/** A /api/v1/labels or /api/v1/label/<name>/values answer. */
export function decodeStrings(text: string): StringsResponse {
  const { data, warnings } = envelope(text);
  return { kind: 'strings', data: stringList(data, 'data'), warnings };
}

/** A /api/v1/series answer. */
export function decodeSeries(text: string): SeriesResponse {
  const { data, warnings } = envelope(text);
  if (!Array.isArray(data)) throw new ResponseFormatError('data must be a list');
  return { kind: 'series', data: data.map((x, i) => labelRecord(x, `data[${i}]`)), warnings };
}

/** Prometheus's labels.String() shape, the key Thanos groups and sorts merged series by. */
export function labelString(m: Record<string, string>): string {
  return `{${Object.keys(m).sort(compareStrings).map((k) => `${k}=${JSON.stringify(m[k])}`).join(', ')}}`;
}

function firstTime(r: MatrixResponse): number {
  const s = r.result[0];
  if (!s) return 0;
  const v = s.values?.[0]?.[0];
  const h = s.histograms?.[0]?.[0];
  if (v !== undefined && h !== undefined) return Math.min(v, h);
  return v ?? h ?? 0;
}

/** Appends `next` to `into`, dropping next's points at or before into's last one (overlapping pieces). */
function appendAfter<T extends [number, unknown]>(into: T[], next: readonly T[]): void {
  const last = into.length ? into[into.length - 1]![0] : -Infinity;
  let i = 0;
  while (i < next.length && next[i]![0] <= last) i++;
  for (; i < next.length; i++) into.push(next[i]!);
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Merges range query answers for pieces of one request (any order, possibly overlapping). */
export function mergeMatrix(responses: readonly MatrixResponse[]): MatrixResponse {
  const sorted = [...responses].sort((a, b) => firstTime(a) - firstTime(b));
  const byKey = new Map<string, SampleStream>();
  for (const r of sorted) {
    for (const s of r.result) {
      const key = labelString(s.metric);
      let ex = byKey.get(key);
      if (!ex) {
        ex = { metric: s.metric };
        byKey.set(key, ex);
      }
      if (s.values?.length) appendAfter((ex.values ??= []), s.values);
      if (s.histograms?.length) appendAfter((ex.histograms ??= []), s.histograms);
    }
  }
  const keys = [...byKey.keys()].sort(compareStrings);
  return {
    kind: 'matrix',
    result: keys.map((k) => byKey.get(k)!),
    warnings: uniq(sorted.flatMap((r) => r.warnings)),
    infos: uniq(sorted.flatMap((r) => r.infos)),
  };
}

/** The part of a matrix answer in [start, end] (ms, inclusive), with step > 0 only points a whole number of steps after start; series left without points are dropped. */
export function extractMatrix(r: MatrixResponse, start: number, end: number, step = 0): MatrixResponse {
  const keep = (t: number) => t >= start && t <= end && (step <= 0 || (t - start) % step === 0);
  const inRange = <T extends [number, unknown]>(xs: readonly T[] | undefined) => xs?.filter((p) => keep(msOf(p[0])));
  const result: SampleStream[] = [];
  for (const s of r.result) {
    const values = inRange(s.values);
    const histograms = inRange(s.histograms);
    if (!values?.length && !histograms?.length) continue;
    const out: SampleStream = { metric: s.metric };
    if (values?.length) out.values = values;
    if (histograms?.length) out.histograms = histograms;
    result.push(out);
  }
  return { kind: 'matrix', result, warnings: r.warnings, infos: r.infos };
}

/** The earliest sample time (ms) of a matrix answer, or -1 when it holds no samples. */
export function minSampleTime(r: MatrixResponse): number {
  let min = Infinity;
  for (const s of r.result) {
    const v = s.values?.[0]?.[0];
    const h = s.histograms?.[0]?.[0];
    if (v !== undefined) min = Math.min(min, msOf(v));
    if (h !== undefined) min = Math.min(min, msOf(h));
  }
  return min === Infinity ? -1 : min;
}

/** Label names / values of pieces: the sorted union. */
export function mergeStrings(responses: readonly StringsResponse[]): StringsResponse {
  const set = new Set<string>();
  for (const r of responses) for (const v of r.data) set.add(v);
  return { kind: 'strings', data: [...set].sort(compareStrings), warnings: uniq(responses.flatMap((r) => r.warnings)) };
}

/** Series of pieces: unique label sets, sorted as Prometheus sorts label sets. */
export function mergeSeries(responses: readonly SeriesResponse[]): SeriesResponse {
  const byKey = new Map<string, Record<string, string>>();
  for (const r of responses) for (const s of r.data) {
    const k = labelString(s);
    if (!byKey.has(k)) byKey.set(k, s);
  }
  const cmp = (a: Record<string, string>, b: Record<string, string>) => {
    const ka = Object.keys(a).sort(compareStrings);
    const kb = Object.keys(b).sort(compareStrings);
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
      const c = compareStrings(ka[i]!, kb[i]!) || compareStrings(a[ka[i]!]!, b[kb[i]!]!);
      if (c !== 0) return c;
    }
    return ka.length - kb.length;
  };
  return { kind: 'series', data: [...byKey.values()].sort(cmp), warnings: uniq(responses.flatMap((r) => r.warnings)) };
}

/** The JSON body the frontend answers with. */
export function encodeResponse(r: ApiResponse): string {
  const warnings = r.warnings.length ? r.warnings : undefined;
  if (r.kind === 'matrix') {
    // Written piecewise: answers run to millions of points, and the generic writer's per-value
    // calls dominated a cached 30-day query. Sample values are numbers as text ("1.5", "NaN",
    // "+Inf"): nothing in them needs Go's HTML escaping, so JSON.stringify writes them the same.
    const parts: string[] = [];
    for (const s of r.result) {
      let x = `{"metric":${stringifyJson(s.metric)}`;
      if (s.values) x += `,"values":[${s.values.map((p) => `[${p[0]},${JSON.stringify(p[1])}]`).join(',')}]`;
      if (s.histograms) x += `,"histograms":${stringifyJson(s.histograms)}`;
      parts.push(x + '}');
    }
    const tail = stringifyJson({ warnings, infos: r.infos.length ? r.infos : undefined });
    return `{"status":"success","data":{"resultType":"matrix","result":[${parts.join(',')}]}${tail === '{}' ? '' : ',' + tail.slice(1, -1)}}`;
  }
  return stringifyJson({ status: 'success', data: r.data, warnings });
}

/** Cache values: the decoded answer as compact JSON (see results_cache.ts). */
export function responseFromJson(o: unknown): ApiResponse {
  const r = o as ApiResponse;
  if (typeof r !== 'object' || r === null || (r.kind !== 'matrix' && r.kind !== 'strings' && r.kind !== 'series')) throw new ResponseFormatError('cached value of unknown shape');
  return r;
}

// ---- instant query answers (vertically sharded instant queries) ---------------------------------

/** An instant vector sample as the API writes it: value or histogram kept as the downstream wrote it. */
export interface InstantSample {
  metric: Record<string, string>;
  value?: [number, string];
  histogram?: [number, unknown];
}

export interface VectorResponse {
  kind: 'vector';
  result: InstantSample[];
  warnings: string[];
  infos: string[];
}

/** A /api/v1/query answer of a shardable query: a vector, or a matrix (a range selector at the top). */
export function decodeInstant(text: string): VectorResponse | MatrixResponse {
  const { data, warnings, infos } = envelope(text);
  const d = (data ?? {}) as Record<string, unknown>;
  if (d.resultType === 'matrix') return decodeMatrix(text);
  if (d.resultType !== 'vector') throw new ResponseFormatError(`resultType ${JSON.stringify(d.resultType)} (want vector or matrix)`);
  if (!Array.isArray(d.result)) throw new ResponseFormatError('data.result must be a list');
  const result = d.result.map((s: unknown, i): InstantSample => {
    if (typeof s !== 'object' || s === null) throw new ResponseFormatError(`result[${i}] must be an object`);
    const x = s as Record<string, unknown>;
    const out: InstantSample = { metric: labelRecord(x.metric ?? {}, `result[${i}].metric`) };
    const v = x.value;
    if (v !== undefined) {
      if (!Array.isArray(v) || typeof v[0] !== 'number' || typeof v[1] !== 'string') throw new ResponseFormatError(`result[${i}].value is malformed`);
      out.value = v as [number, string];
    }
    const h = x.histogram;
    if (h !== undefined) {
      if (!Array.isArray(h) || typeof h[0] !== 'number') throw new ResponseFormatError(`result[${i}].histogram is malformed`);
      out.histogram = h as [number, unknown];
    }
    return out;
  });
  return { kind: 'vector', result, warnings, infos };
}

export type InstantSortPlan = 'merge-only' | 'values-asc' | 'values-desc' | 'labels';

/**
 * Thanos's vectorMerge: one sample per label set (the latest when shards overlap); with topk,
 * bottomk, limitk or limit_ratio at the top the shards' order is kept, under sort/sort_desc (at the
 * top, or either side of a top binary expression) samples are ordered by value, else by label set.
 */
export function mergeVector(responses: readonly VectorResponse[], plan: InstantSortPlan): VectorResponse {
  const byKey = new Map<string, InstantSample>();
  const ts = (s: InstantSample) => s.value?.[0] ?? s.histogram?.[0] ?? 0;
  for (const r of responses) {
    for (const s of r.result) {
      const k = labelString(s.metric);
      const ex = byKey.get(k);
      if (!ex || ts(ex) < ts(s)) byKey.set(k, s);
    }
  }
  let keys = [...byKey.keys()];
  const val = (k: string) => Number(byKey.get(k)!.value?.[1] ?? NaN);
  if (plan === 'values-asc') keys.sort((a, b) => val(a) - val(b));
  else if (plan === 'values-desc') keys.sort((a, b) => val(b) - val(a));
  else if (plan === 'labels') keys = keys.sort(compareStrings);
  return {
    kind: 'vector',
    result: keys.map((k) => byKey.get(k)!),
    warnings: uniq(responses.flatMap((r) => r.warnings)),
    infos: uniq(responses.flatMap((r) => r.infos)),
  };
}

/** The JSON body of a merged instant answer. */
export function encodeInstant(r: VectorResponse | MatrixResponse): string {
  if (r.kind === 'matrix') return encodeResponse(r);
  const parts = r.result.map((s) => {
    let x = `{"metric":${stringifyJson(s.metric)}`;
    if (s.value) x += `,"value":[${s.value[0]},${JSON.stringify(s.value[1])}]`;
    if (s.histogram) x += `,"histogram":${stringifyJson(s.histogram)}`;
    return x + '}';
  });
  const tail = stringifyJson({ warnings: r.warnings.length ? r.warnings : undefined, infos: r.infos.length ? r.infos : undefined });
  return `{"status":"success","data":{"resultType":"vector","result":[${parts.join(',')}]}${tail === '{}' ? '' : ',' + tail.slice(1, -1)}}`;
}
