// The querier's HTTP API v1 (Prometheus-compatible JSON plus Thanos parameters) as a Hono app.
import { Hono, type Context } from 'hono';
import { compareLabels, compareStrings, compileMatcher, type Matcher } from '../../../lib/labels/mod.ts';
import { Engine, histogramJsonText, parseExpr, PromQLError, type QueryResult } from '../../../lib/promql/mod.ts';
import { matrixColumns, matrixLength, type MatrixSeries } from '../../../lib/promql/engine/types.ts';
import {
  formatFloatF, formatJsonFloat, formatSampleValue, formatTimestamp, goJsonString, JsonBytes, MAX_TIME_MS, MIN_TIME_MS, ParamError, parseApiDuration,
  parseGoBool, parseTime,
} from '../../../lib/query/format.ts';
import type { EndpointStatus } from '../../../lib/query/endpoints.ts';
import { int64, stringifyJson } from '../../../lib/query/json.ts';
import { FanoutError, metadataJson, targetsJson } from '../../../lib/query/apis.ts';
import { alertsJson, rulesJson, rulesRequestFromQuery } from '../../../lib/query/rules.ts';
import type { RuleGroup, RulesRequest } from '../../../lib/proto/rules.ts';
import { exemplarsJson } from '../../../lib/query/exemplars.ts';
import { buildInfoJson, flagsJson, runtimeInfoJson, type BuildInfoFields } from '../../../lib/web/status.ts';
import { doInSpan } from '../../../lib/tracing/mod.ts';
import type { ExemplarData, ExemplarsRequest } from '../../../lib/proto/exemplars.ts';
import { prettify } from '../../../lib/promql/format.ts';
import type { OperatorAnalysis } from '../../../lib/promql/analyze.ts';
import type { MetadataMap, MetricMetadataRequest } from '../../../lib/proto/metadata.ts';
import { TargetsState, type TargetDiscovery, type TargetsRequest } from '../../../lib/proto/targets.ts';
import { PartialResponseStrategy, type ShardInfo } from '../../../lib/proto/store.ts';
import { parseShardInfoJson } from '../../../lib/store/shard.ts';
import type { StoreQueryable } from '../../../lib/query/querier.ts';
import { STAGE_TIMINGS_HEADER, StageTimings } from '../../../lib/query/stagetimes.ts';
import { acceptsGzip, gzipAnswer } from '../../../lib/query/compress.ts';
import type { Labels } from '../../../lib/labels/mod.ts';
import { enforceExprTenancy, enforceMatcherSets, TenantError, tenantFromHeaders } from '../../../lib/query/tenancy.ts';

export type ApiErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'unavailable' | 'not_found';

export class ApiError extends Error {
  constructor(public readonly type: ApiErrorType, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

const STATUS: Record<ApiErrorType, number> = {
  bad_data: 400, execution: 422, timeout: 503, canceled: 503, internal: 500, unavailable: 503, not_found: 404,
};

export interface QueryableParams {
  dedup: boolean;
  replicaLabels: string[];
  /** storeMatch[] selectors (only __address__ is supported, as in Thanos). */
  storeMatchers: Matcher[][];
  maxResolutionMs: number;
  partialResponse: boolean;
  mint?: number;
  maxt?: number;
  /** The request's tenant (sent to the stores as THANOS-TENANT, as Thanos's proxy does); absent: none sent. */
  tenant?: string;
  /** shard_info (JSON storepb.ShardInfo, sent by the query-frontend's vertical sharding). */
  shardInfo?: ShardInfo;
}

/** Thanos's --query.tenant-header, --query.default-tenant-id, --query.enforce-tenancy, --query.tenant-label-name. */
export interface TenancyOptions {
  header: string;
  defaultTenant: string;
  enforce: boolean;
  label: string;
}

export interface ApiDeps {
  engine: Engine;
  queryable(p: QueryableParams): StoreQueryable;
  replicaLabels: string[];
  partialResponse: boolean;
  autoDownsampling: boolean;
  queryTimeoutMs: number;
  lookbackDeltaMs: number;
  dynamicLookbackDelta: boolean;
  /** --query.default-step (ms), used when a range query has no step. */
  defaultStepMs: number;
  /** Hidden Thanos --query.instant.default.max_source_resolution (ms). */
  instantDefaultMaxSourceResolutionMs: number;
  endpointStatuses(): Record<string, EndpointStatus[]>;
  flags(): Record<string, string>;
  /** undefined: a bare test context without the host's build (version "unknown"). */
  buildInfo: BuildInfoFields | undefined;
  /** thanos.Metadata fan-out (/api/v1/metadata); absent: an empty answer. */
  metricMetadata?(req: MetricMetadataRequest, partialResponse: boolean, signal: AbortSignal): Promise<{ metadata: MetadataMap; warnings: string[] }>;
  /** thanos.Targets fan-out (/api/v1/targets); absent: no targets. */
  targets?(req: TargetsRequest, partialResponse: boolean, signal: AbortSignal): Promise<{ targets: TargetDiscovery; warnings: string[] }>;
  /** thanos.Exemplars fan-out (/api/v1/query_exemplars); absent: none. */
  exemplars?(req: ExemplarsRequest, partialResponse: boolean, signal: AbortSignal): Promise<{ data: ExemplarData[]; warnings: string[] }>;
  /** thanos.Rules fan-out (/api/v1/rules, /api/v1/alerts); absent: no rules. */
  rules?(req: RulesRequest, partialResponse: boolean, signal: AbortSignal): Promise<{ groups: RuleGroup[]; warnings: string[] }>;
  now?: () => number;
  /** Absent: the THANOS-TENANT header or the default tenant, nothing enforced. */
  tenancy?: TenancyOptions;
}

// ---- request parameters (Go's r.FormValue / r.Form semantics: body first, then URL query) ------

export class Params {
  private constructor(private readonly body: URLSearchParams, private readonly query: URLSearchParams) {}

  static async from(req: Request): Promise<Params> {
    const url = new URL(req.url);
    let body = new URLSearchParams();
    if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
      const ct = req.headers.get('content-type') ?? '';
      if (ct.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        body = new URLSearchParams(await req.text());
      } else if (ct.toLowerCase().startsWith('multipart/form-data')) {
        // Go's r.FormValue parses multipart forms too.
        const fd = await req.formData();
        fd.forEach((v, k) => {
          if (typeof v === 'string') body.append(k, v);
        });
      }
    }
    return new Params(body, url.searchParams);
  }

  get(name: string): string {
    return this.body.get(name) ?? this.query.get(name) ?? '';
  }

  all(name: string): string[] {
    return [...this.body.getAll(name), ...this.query.getAll(name)];
  }
}

function invalidParam(name: string, msg: string): ApiError {
  return new ApiError('bad_data', `invalid parameter ${JSON.stringify(name)}: ${msg}`);
}

function timeParam(p: Params, name: string, def: number): number {
  const v = p.get(name);
  if (v === '') return def;
  try {
    return parseTime(v);
  } catch (e) {
    throw invalidParam(name, `Invalid time value for '${name}': ${(e as Error).message}`);
  }
}

function boolParam(p: Params, name: string, def: boolean): boolean {
  const v = p.get(name);
  if (v === '') return def;
  try {
    return parseGoBool(v);
  } catch (e) {
    throw new ApiError('bad_data', `'${name}' parameter: ${(e as Error).message}`);
  }
}

/** Parses one metric selector (match[] / storeMatch[]). */
export function parseMetricSelector(s: string): Matcher[] {
  let e;
  try {
    e = parseExpr(s);
  } catch (err) {
    throw new ApiError('bad_data', (err as Error).message);
  }
  while (e.type === 'ParenExpr') e = e.expr;
  if (e.type !== 'VectorSelector' || e.offset !== 0 || e.at !== null || e.atModifier) {
    throw new ApiError('bad_data', `1:1: parse error: expected a metric selector, got ${JSON.stringify(s)}`);
  }
  return e.matchers;
}

function matcherSetsParam(p: Params, name: string): Matcher[][] {
  const sets = p.all(name).map(parseMetricSelector);
  for (const ms of sets) {
    if (!ms.some((m) => !compileMatcher(m).matchesEmpty)) {
      throw new ApiError('bad_data', 'match[] must contain at least one non-empty matcher');
    }
  }
  return sets;
}

// ---- JSON writing (Go-compatible) ----------------------------------------------------------------

function metricJson(ls: Labels): string {
  let out = '{';
  for (let i = 0; i < ls.length; i++) {
    if (i > 0) out += ',';
    out += goJsonString(ls[i]!.name) + ':' + goJsonString(ls[i]!.value);
  }
  return out + '}';
}

export function resultJson(r: QueryResult): string {
  return [...resultPieces(r)].join('');
}

/** Distinct timestamps whose text is cached (a range query has at most 11,000; a raw selection's are all distinct). */
const TS_CACHE_MAX = 20_000;

/** `[<time>,"` of a sample, from the answer's cache (kept while it has room: a range query's steps repeat per series). */
function timestampOpen(cache: Map<number, string>, t: number): string {
  let s = cache.get(t);
  if (s === undefined) {
    s = '[' + formatTimestamp(t) + ',"';
    if (cache.size < TS_CACHE_MAX) cache.set(t, s);
  }
  return s;
}

/** Points of one series written per piece. */
const VALUES_PER_PIECE = 10_000;

/** Thanos's queryTelemetry JSON (omitempty fields left out when empty), strings escaped as Go escapes them. */
function analysisJson(a: OperatorAnalysis): string {
  let out = '{';
  const fields: string[] = [];
  if (a.name) fields.push(`"name":${goJsonString(a.name)}`);
  if (a.executionTime) fields.push(`"executionTime":${goJsonString(a.executionTime)}`);
  if (a.peakSamples) fields.push(`"peakSamples":${a.peakSamples}`);
  if (a.totalSamples) fields.push(`"totalSamples":${a.totalSamples}`);
  if (a.children?.length) fields.push(`"children":[${a.children.map(analysisJson).join(',')}]`);
  out += fields.join(',');
  return out + '}';
}

/** The end of the data object: Thanos's `analysis` field when the query was analyzed (analyze=true). */
function dataTail(r: QueryResult): string {
  return r.analysis ? `,"analysis":${analysisJson(r.analysis)}}` : '}';
}

/**
 * A matrix series holding native histograms, as Prometheus's API writes it: `metric`, then the float
 * points as "values" (if any), then the histogram points as "histograms" (if any).
 */
function histogramSeriesJson(s: MatrixSeries, metric: string): string {
  const floats: string[] = [];
  const hists: string[] = [];
  for (const p of s.values) {
    if (p.h) hists.push(`[${formatTimestamp(p.t)},${histogramJsonText(p.h)}]`);
    else floats.push(`[${formatTimestamp(p.t)},"${formatSampleValue(p.v)}"]`);
  }
  let out = `{"metric":${metric}`;
  if (floats.length) out += `,"values":[${floats.join(',')}]`;
  if (hists.length) out += `,"histograms":[${hists.join(',')}]`;
  return out + '}';
}

/** The result's JSON in pieces: the envelope and one piece per series (so a large answer can be streamed). */
function* resultPieces(r: QueryResult): Generator<string> {
  switch (r.resultType) {
    case 'scalar':
      yield `{"resultType":"scalar","result":[${formatJsonFloat(r.result.t / 1000)},${goJsonString(formatScalar(r.result.v))}]${dataTail(r)}`;
      return;
    case 'string':
      yield `{"resultType":"string","result":[${formatJsonFloat(r.result.t / 1000)},${goJsonString(r.result.v)}]${dataTail(r)}`;
      return;
    case 'vector': {
      yield '{"resultType":"vector","result":[';
      let first = true;
      for (const s of r.result) {
        const h = s.value.h;
        yield h
          ? `${first ? '' : ','}{"metric":${metricJson(s.metric)},"histogram":[${formatTimestamp(s.value.t)},${histogramJsonText(h)}]}`
          : `${first ? '' : ','}{"metric":${metricJson(s.metric)},"value":[${formatTimestamp(s.value.t)},"${formatSampleValue(s.value.v)}"]}`;
        first = false;
      }
      yield `]${dataTail(r)}`;
      return;
    }
    case 'matrix': {
      // Range queries share their timestamps across series: format each once (bounded: a raw
      // selection's millions of distinct timestamps would only fill memory).
      const ts = new Map<number, string>();
      yield '{"resultType":"matrix","result":[';
      let first = true;
      for (const s of r.result) {
        // Column-wise series (the engine's) are read without building per-point objects.
        const cols = matrixColumns(s);
        if (cols ? cols.h : s.values.some((p) => p.h)) {
          // Native histograms: Prometheus writes the float points as "values", then the histogram points as "histograms".
          yield `${first ? '' : ','}${histogramSeriesJson(s, metricJson(s.metric))}`;
          first = false;
          continue;
        }
        const pts = cols ? undefined : s.values;
        const n = cols ? cols.t.length : pts!.length;
        yield `${first ? '' : ','}{"metric":${metricJson(s.metric)}${n ? ',"values":[' : ''}`;
        first = false;
        // Long series (raw selections) in batches, so a streamed answer yields within a series too.
        for (let at = 0; at < n; at += VALUES_PER_PIECE) {
          const end = Math.min(n, at + VALUES_PER_PIECE);
          const vals: string[] = new Array(end - at);
          for (let i = at; i < end; i++) {
            const pt = cols ? cols.t[i]! : pts![i]!.t;
            const pv = cols ? cols.v[i]! : pts![i]!.v;
            vals[i - at] = timestampOpen(ts, pt) + formatSampleValue(pv) + '"]';
          }
          yield (at > 0 ? ',' : '') + vals.join(',');
        }
        yield n ? ']}' : '}';
      }
      yield `]${dataTail(r)}`;
      return;
    }
  }
}

const asciiBytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const FIRST_METRIC = asciiBytes('{"metric":');
const NEXT_METRIC = asciiBytes(',{"metric":');
const VALUE_CLOSE = asciiBytes('"]}');
const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * A starting size for a vector answer's buffer: its series times the first one's size (label sets of
 * one selection are alike), so that 10,000 series are not written through eight doublings and
 * copies of the buffer. Other answers start small.
 */
function answerSizeGuess(r: QueryResult): number {
  if (r.resultType !== 'vector' || r.result.length < 64) return 1 << 14;
  let first = 64;
  for (const l of r.result[0]!.metric) first += l.name.length + l.value.length + 6;
  return Math.min(1 << 26, 1024 + Math.ceil(r.result.length * first * 1.25));
}

/**
 * A whole (not streamed) answer's bytes: the same bytes as respond(resultJson(r), ...) encoded,
 * written without building the JSON text (JsonBytes). Vector and float matrix series are written
 * point by point; histogram series, scalars and strings as resultPieces writes them.
 */
export function answerBytes(r: QueryResult): Uint8Array {
  const w = new JsonBytes(answerSizeGuess(r));
  w.ascii('{"status":"success","data":');
  if (r.resultType === 'vector') {
    w.ascii('{"resultType":"vector","result":[');
    let lastT = NaN;
    let tsText = '';
    // ',"value":[<t>,"' as bytes, made once per timestamp (an instant vector has one).
    let valueOpen = EMPTY_BYTES;
    for (let i = 0; i < r.result.length; i++) {
      const s = r.result[i]!;
      const h = s.value.h;
      w.raw(i > 0 ? NEXT_METRIC : FIRST_METRIC);
      w.labels(s.metric);
      if (s.value.t !== lastT) {
        lastT = s.value.t;
        tsText = formatTimestamp(lastT);
        valueOpen = asciiBytes(',"value":[' + tsText + ',"');
      }
      if (h) {
        w.ascii(',"histogram":[');
        w.ascii(tsText);
        w.ascii(',');
        w.text(histogramJsonText(h));
        w.ascii(']}');
      } else {
        w.raw(valueOpen);
        w.ascii(formatSampleValue(s.value.v));
        w.raw(VALUE_CLOSE);
      }
    }
    w.ascii(']');
    w.text(dataTail(r));
  } else if (r.resultType === 'matrix') {
    // Timestamps formatted once (bounded, as resultPieces does).
    const ts = new Map<number, string>();
    w.ascii('{"resultType":"matrix","result":[');
    for (let k = 0; k < r.result.length; k++) {
      const s = r.result[k]!;
      if (k > 0) w.ascii(',');
      const cols = matrixColumns(s);
      if (cols ? cols.h : s.values.some((p) => p.h)) {
        w.text(histogramSeriesJson(s, metricJson(s.metric)));
        continue;
      }
      const pts = cols ? undefined : s.values;
      const n = cols ? cols.t.length : pts!.length;
      w.raw(FIRST_METRIC);
      w.labels(s.metric);
      if (n) w.ascii(',"values":[');
      for (let i = 0; i < n; i++) {
        const pt = cols ? cols.t[i]! : pts![i]!.t;
        const pv = cols ? cols.v[i]! : pts![i]!.v;
        if (i > 0) w.ascii(',');
        w.ascii(timestampOpen(ts, pt));
        w.ascii(formatSampleValue(pv));
        w.ascii('"]');
      }
      w.ascii(n ? ']}' : '}');
    }
    w.ascii(']');
    w.text(dataTail(r));
  } else {
    w.text(resultJson(r));
  }
  w.text(annotationsJson(r.warnings, r.infos));
  w.ascii('}');
  return w.bytes();
}

/** Points (samples) above which a query answer is streamed instead of built as one string. */
const STREAM_POINTS = 100_000;
/** Longest stretch of JSON writing before the stream yields to the event loop (ms). */
const STREAM_SLICE_MS = 10;

function resultPoints(r: QueryResult): number {
  if (r.resultType === 'matrix') return r.result.reduce((n, s) => n + matrixLength(s), 0);
  if (r.resultType === 'vector') return r.result.length;
  return 1;
}

/**
 * A query answer. A large one is written as a stream, series by series, yielding to the event loop
 * between slices: one 9M-sample answer neither holds the loop while its JSON is built nor exists
 * as a single string of hundreds of MB. The bytes are the same either way.
 */
function respondResult(r: QueryResult): Response {
  if (resultPoints(r) <= STREAM_POINTS) return bytesResponse(answerBytes(r), 200);
  const pieces = resultPieces(r);
  const enc = new TextEncoder();
  let stage = 0; // 0: envelope head, 1: result pieces, 2: tail, 3: done
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise<void>((res) => setTimeout(res, 0));
      const until = performance.now() + STREAM_SLICE_MS;
      let out = '';
      if (stage === 0) {
        out = '{"status":"success","data":';
        stage = 1;
      }
      while (stage === 1 && performance.now() < until && out.length < 1 << 20) {
        const n = pieces.next();
        if (n.done) stage = 2;
        else out += n.value;
      }
      if (stage === 2) {
        out += annotationsJson(r.warnings, r.infos) + '}';
        stage = 3;
      }
      if (out) controller.enqueue(enc.encode(out));
      if (stage === 3) controller.close();
    },
    cancel() {
      pieces.return(undefined);
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } });
}

/** With X-Thanos-Stage-Timings asked for, the query's stages are timed from here (lib/query/stagetimes.ts). */
function startTimings(c: Context, q: StoreQueryable): StoreQueryable {
  if (c.req.header(STAGE_TIMINGS_HEADER) === 'true') q.timings = new StageTimings();
  return q;
}

/** The answer; with the stages timed, it says where the time went as Server-Timing. */
function respondTimed(q: StoreQueryable, res: QueryResult): Response {
  const timings = q.timings;
  if (!timings) return respondResult(res);
  const t1 = performance.now();
  timings.engine = Math.max(0, t1 - timings.start - timings.series - timings.decode);
  const response = respondResult(res);
  timings.encode = performance.now() - t1;
  response.headers.set('Server-Timing', timings.serverTiming());
  return response;
}

/** Scalars are written with strconv.FormatFloat(v, 'f', -1, 64). */
function formatScalar(v: number): string {
  return formatFloatF(v);
}

/**
 * The envelope's annotations as Prometheus 3's API writes them: "warnings", then "infos" (the
 * engine's info annotations, e.g. "PromQL info: metric might not be a counter…"), each left out when empty.
 */
function annotationsJson(warnings: readonly string[], infos: readonly string[] = []): string {
  let out = '';
  if (warnings.length > 0) out += `,"warnings":[${warnings.map(goJsonString).join(',')}]`;
  if (infos.length > 0) out += `,"infos":[${infos.map(goJsonString).join(',')}]`;
  return out;
}

/** Answers built in memory, by their bytes: compressed in one call, not through a stream (lib/query/compress.ts). */
const inMemoryBodies = new WeakMap<Response, Uint8Array>();
const utf8 = new TextEncoder();

/** An answer of known length: the host's listener then writes its headers and body at once. */
function textResponse(text: string, status: number): Response {
  return bytesResponse(utf8.encode(text), status);
}

function bytesResponse(body: Uint8Array, status: number): Response {
  const res = new Response(body, { status, headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.length) } });
  inMemoryBodies.set(res, body);
  return res;
}

function respond(dataJson: string, warnings: readonly string[] = [], infos: readonly string[] = []): Response {
  return textResponse(`{"status":"success","data":${dataJson}${annotationsJson(warnings, infos)}}`, 200);
}

function respondError(e: ApiError, warnings: readonly string[] = []): Response {
  let body = `{"status":"error","errorType":${goJsonString(e.type)},"error":${goJsonString(e.message)}`;
  if (warnings.length > 0) body += `,"warnings":[${warnings.map(goJsonString).join(',')}]`;
  body += '}';
  return textResponse(body, STATUS[e.type]);
}

function toApiError(e: unknown, queryContext: boolean): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof ParamError) return new ApiError('bad_data', e.message);
  if (e instanceof PromQLError) {
    if (e.errorType === 'bad_data') return new ApiError('bad_data', e.message);
    if (e.errorType === 'timeout' || e.errorType === 'canceled') return new ApiError(e.errorType, e.message);
    // Thanos answers every other evaluation/storage failure of a query as an execution error.
    return new ApiError(queryContext ? 'execution' : e.errorType === 'internal' ? 'internal' : 'execution', e.message);
  }
  return new ApiError('execution', e instanceof Error ? e.message : String(e));
}

// ---- the app ---------------------------------------------------------------------------------

export function createApi(deps: ApiDeps): Hono {
  const now = deps.now ?? Date.now;
  const app = new Hono();

  const thanosParams = (p: Params, defaultResolutionMs: number) => {
    const dedup = boolParam(p, 'dedup', true);
    const rl = p.all('replicaLabels[]');
    const replicaLabels = rl.length > 0 ? rl : deps.replicaLabels;
    const storeMatchers: Matcher[][] = [];
    for (const s of p.all('storeMatch[]')) storeMatchers.push(parseMetricSelector(s));
    let maxResolutionMs = 0;
    const msr = p.get('max_source_resolution');
    if (deps.autoDownsampling || msr === 'auto') maxResolutionMs = defaultResolutionMs;
    if (msr !== '' && msr !== 'auto') {
      try {
        maxResolutionMs = parseApiDuration(msr);
      } catch (e) {
        throw new ApiError('bad_data', `'max_source_resolution' parameter: ${(e as Error).message}`);
      }
    }
    if (maxResolutionMs < 0) throw new ApiError('bad_data', "negative 'max_source_resolution' is not accepted. Try a positive integer");
    const partialResponse = boolParam(p, 'partial_response', deps.partialResponse);
    let shardInfo: ShardInfo | undefined;
    const si = p.get('shard_info');
    if (si !== '') {
      try {
        shardInfo = parseShardInfoJson(si);
      } catch (e) {
        throw new ApiError('bad_data', `could not unmarshal parameter shard_info: ${(e as Error).message}`);
      }
    }
    return { dedup, replicaLabels, storeMatchers, maxResolutionMs: Math.floor(maxResolutionMs), partialResponse, shardInfo };
  };

  const lookbackFor = (p: Params, maxResolutionMs: number): number => {
    const v = p.get('lookback_delta');
    if (v !== '') {
      let d: number;
      try {
        d = parseApiDuration(v);
      } catch (e) {
        throw new ApiError('bad_data', `'lookback_delta' parameter: ${(e as Error).message}`);
      }
      if (d > 0) return d;
    }
    const ld = deps.lookbackDeltaMs;
    if (deps.dynamicLookbackDelta) {
      // Thanos LookbackDeltaFactory: raise to the resolution when a coarser one may be used.
      if (Math.max(300_000, ld) < maxResolutionMs) return Math.max(ld, 3_600_000);
      if (Math.max(0, ld) < maxResolutionMs) return Math.max(ld, 300_000);
    }
    return ld;
  };

  // Tenancy as Thanos's query API: the tenant of every query, series and label request is read (a
  // name that is not a valid tenant is bad data) and sent on to the stores; with enforcement, every
  // selector is rewritten to select only that tenant's series.
  const tenancy: TenancyOptions = deps.tenancy ?? { header: 'THANOS-TENANT', defaultTenant: 'default-tenant', enforce: false, label: 'tenant_id' };
  const tenantOf = (c: Context): string => {
    try {
      return tenantFromHeaders(c.req.raw.headers, tenancy.header, tenancy.defaultTenant);
    } catch (e) {
      if (e instanceof TenantError) throw new ApiError('bad_data', e.message);
      throw e;
    }
  };
  /** The parsed query, enforced when tenancy is; parse errors as Thanos words them (`invalid` for the unenforced path). */
  const parseTenantQuery = (expr: string, tenant: string, invalid: (msg: string) => ApiError) => {
    let parsed;
    try {
      parsed = deps.engine.parse(expr);
    } catch (e) {
      if (!(e instanceof PromQLError)) throw e;
      // Thanos parses the query in its tenancy rewrite first, and says so (spelling included).
      if (tenancy.enforce) throw new ApiError('bad_data', `error parsing query string, when enforcing tenenacy: ${e.message}`);
      throw invalid(e.message);
    }
    return tenancy.enforce ? enforceExprTenancy(parsed, tenancy.label, tenant) : parsed;
  };
  const tenantMatcherSets = (sets: Matcher[][], tenant: string): Matcher[][] =>
    tenancy.enforce ? enforceMatcherSets(sets, tenancy.label, tenant) : sets;

  const timeoutFor = (p: Params): number => {
    const to = p.get('timeout');
    if (to === '') return deps.queryTimeoutMs;
    let d: number;
    try {
      d = parseApiDuration(to);
    } catch (e) {
      throw invalidParam('timeout', (e as Error).message);
    }
    return Math.min(Math.max(d, 1), deps.queryTimeoutMs);
  };

  const handle = (fn: (p: Params, c: Context) => Promise<Response>, queryContext = false) => async (c: Context) => {
    let p: Params;
    try {
      p = await Params.from(c.req.raw);
    } catch (e) {
      return respondError(new ApiError('bad_data', `error parsing form values: ${(e as Error).message}`));
    }
    try {
      return await fn(p, c);
    } catch (e) {
      return respondError(toApiError(e, queryContext));
    }
  };

  // Thanos's parseQueryAnalyzeParam: "true" or "1" asks for the per-operator analysis; any other value does not.
  const analyzeParam = (p: Params): boolean => p.get('analyze') === 'true' || p.get('analyze') === '1';

  const query = handle(async (p, c) => {
    const ts = timeParam(p, 'time', now());
    const timeoutMs = timeoutFor(p);
    const tp = thanosParams(p, deps.instantDefaultMaxSourceResolutionMs);
    const lookback = lookbackFor(p, tp.maxResolutionMs);
    const expr = p.get('query');
    const tenant = tenantOf(c);
    // Upstream's instant_query_create span: creating the engine's query (parsing it) before its exec.
    const parsed = await doInSpan('instant_query_create', undefined, async () => parseTenantQuery(expr, tenant, (msg) => invalidParam('query', msg)));
    const q = startTimings(c, deps.queryable({ ...tp, tenant }));
    const res = await deps.engine.instantQuery(q, parsed, ts, { signal: c.req.raw.signal, timeoutMs, lookbackDelta: lookback, analyze: analyzeParam(p) });
    return respondTimed(q, res);
  }, true);

  const queryRange = handle(async (p, c) => {
    let start: number, end: number;
    try {
      start = parseTime(p.get('start'));
    } catch (e) {
      throw invalidParam('start', (e as Error).message);
    }
    try {
      end = parseTime(p.get('end'));
    } catch (e) {
      throw invalidParam('end', (e as Error).message);
    }
    if (end < start) throw invalidParam('end', 'end timestamp must not be before start time');
    let step: number;
    const stepRaw = p.get('step');
    if (stepRaw === '') {
      // Thanos: default step so that the range fits in ~250 points, at least --query.default-step.
      step = Math.max(Math.floor((end - start) / 1000 / 250) * 1000, deps.defaultStepMs);
    } else {
      try {
        step = parseApiDuration(stepRaw);
      } catch (e) {
        throw invalidParam('step', (e as Error).message);
      }
    }
    if (step <= 0) throw invalidParam('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    // Go's time.Duration division truncates.
    if (Math.trunc((end - start) / step) > 11000) {
      throw new ApiError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
    }
    const timeoutMs = timeoutFor(p);
    const tp = thanosParams(p, Math.floor(step / 5));
    const lookback = lookbackFor(p, tp.maxResolutionMs);
    const expr = p.get('query');
    const tenant = tenantOf(c);
    const parsed = await doInSpan('range_query_create', undefined, async () => parseTenantQuery(expr, tenant, (msg) => new ApiError('bad_data', msg)));
    const q = startTimings(c, deps.queryable({ ...tp, tenant }));
    const res = await deps.engine.rangeQuery(q, parsed, start, end, step, { signal: c.req.raw.signal, timeoutMs, lookbackDelta: lookback, analyze: analyzeParam(p) });
    return respondTimed(q, res);
  }, true);

  /** Metadata calls (labels, series) are bounded by the query timeout too. */
  const metaSignal = (c: Context): { signal: AbortSignal; timedOut: () => boolean } => {
    const t = AbortSignal.timeout(deps.queryTimeoutMs);
    return { signal: AbortSignal.any([c.req.raw.signal, t]), timedOut: () => t.aborted };
  };
  const metaCall = async <T>(c: Context, what: string, f: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const { signal, timedOut } = metaSignal(c);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      // Race: a store that ignores cancellation must not hold the answer past the timeout.
      return await Promise.race([f(signal), aborted]);
    } catch (e) {
      if (timedOut()) throw new ApiError('timeout', `${what} timed out after ${deps.queryTimeoutMs}ms`);
      if (c.req.raw.signal.aborted) throw new ApiError('canceled', `${what} canceled`);
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  };

  const metadataRange = (p: Params) => {
    const start = timeParam(p, 'start', MIN_TIME_MS);
    const end = timeParam(p, 'end', MAX_TIME_MS);
    if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start time');
    return { start, end };
  };

  const labels = handle(async (p, c) => {
    const { start, end } = metadataRange(p);
    const tenant = tenantOf(c);
    const sets = tenantMatcherSets(matcherSetsParam(p, 'match[]'), tenant);
    const tp = thanosParams(p, 0);
    const q = deps.queryable({ ...tp, maxResolutionMs: 0, tenant });
    const warnings: string[] = [];
    const names = new Set<string>();
    for (const ms of sets.length > 0 ? sets : [[]]) {
      const r = await metaCall(c, 'label names', (signal) => q.labelNamesWithWarnings(ms, start, end, signal));
      warnings.push(...r.warnings);
      for (const n of r.values) names.add(n);
    }
    return respond(`[${[...names].sort(byteCompare).map(goJsonString).join(',')}]`, warnings);
  });

  const labelValues = handle(async (p, c) => {
    const name = c.req.param('name') ?? '';
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new ApiError('bad_data', `invalid label name: ${JSON.stringify(name)}`);
    const { start, end } = metadataRange(p);
    const tenant = tenantOf(c);
    const sets = tenantMatcherSets(matcherSetsParam(p, 'match[]'), tenant);
    const tp = thanosParams(p, 0);
    const q = deps.queryable({ ...tp, maxResolutionMs: 0, tenant });
    const warnings: string[] = [];
    const vals = new Set<string>();
    for (const ms of sets.length > 0 ? sets : [[]]) {
      const r = await metaCall(c, 'label values', (signal) => q.labelValuesWithWarnings(name, ms, start, end, signal));
      warnings.push(...r.warnings);
      for (const v of r.values) vals.add(v);
    }
    return respond(`[${[...vals].sort(byteCompare).map(goJsonString).join(',')}]`, warnings);
  });

  const series = handle(async (p, c) => {
    if (p.all('match[]').length === 0) throw new ApiError('bad_data', 'no match[] parameter provided');
    const { start, end } = metadataRange(p);
    const tenant = tenantOf(c);
    let sets: Matcher[][];
    try {
      sets = matcherSetsParam(p, 'match[]');
    } catch (e) {
      throw invalidParam('match[]', (e as Error).message);
    }
    sets = tenantMatcherSets(sets, tenant);
    const tp = thanosParams(p, 0);
    const q = deps.queryable({ ...tp, maxResolutionMs: 0, tenant });
    const warnings: string[] = [];
    const seen = new Map<string, Labels>();
    for (const ms of sets) {
      const r = await metaCall(c, 'series', (signal) => q.select(ms, { start, end, func: 'series' }, signal));
      warnings.push(...(r.warnings ?? []));
      for (const s of r.series) seen.set(metricJson(s.labels), s.labels);
    }
    const sorted = [...seen.entries()].sort((a, b) => compareLabelSets(a[1], b[1]));
    return respond(`[${sorted.map(([json]) => json).join(',')}]`, warnings);
  });

  const base = new Hono();
  // Thanos wraps every API handler in gziphandler.GzipHandler: gzip when the client accepts it,
  // bodies under 1400 bytes plain, Vary: Accept-Encoding on every answer (lib/query/compress.ts).
  base.use('*', async (c, next) => {
    await next();
    const res = c.res;
    try {
      res.headers.append('Vary', 'Accept-Encoding');
    } catch {
      // a Response with immutable headers (passed on as it came): left as it is
    }
    if (!acceptsGzip(c.req.header('accept-encoding')) || res.status === 204) return;
    // An in-memory answer (bytesResponse: no Content-Encoding) is known by its bytes; its `body` is not
    // read: that turns the server's lightweight Response into a full one with a web stream for the body,
    // which the listener then pumps chunk by chunk (~0.2 ms of every small answer).
    const bytes = inMemoryBodies.get(res);
    let body: ReadableStream<Uint8Array> | Uint8Array;
    let headers: Headers;
    if (bytes !== undefined) {
      const gz = await gzipAnswer(bytes);
      if (!gz) return;
      body = gz;
      headers = new Headers(res.headers);
      headers.set('Content-Length', String(gz.length));
    } else {
      if (!res.body || res.headers.has('content-encoding')) return;
      // A streamed (large) answer: compressed as it is written.
      body = res.body.pipeThrough(new CompressionStream('gzip'));
      headers = new Headers(res.headers);
      headers.delete('Content-Length');
    }
    headers.set('Content-Encoding', 'gzip');
    c.res = undefined as unknown as Response; // Hono merges headers of a replaced response otherwise
    c.res = new Response(body, { status: res.status, headers });
  });
  // CORS as Prometheus answers it with the default --web.cors.origin='.*'.
  base.use('*', async (c, next) => {
    await next();
    const origin = c.req.header('origin');
    if (origin) {
      c.res.headers.set('Access-Control-Allow-Headers', 'Accept, Authorization, Content-Type, Origin');
      c.res.headers.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      c.res.headers.set('Access-Control-Expose-Headers', 'Date');
      c.res.headers.set('Access-Control-Allow-Origin', origin);
      c.res.headers.set('Vary', 'Origin');
    }
  });
  base.on(['GET', 'POST'], '/query', query);
  base.on(['GET', 'POST'], '/query_range', queryRange);
  base.on(['GET', 'POST'], '/labels', labels);
  base.get('/label/:name/values', labelValues);
  base.on(['GET', 'POST'], '/series', series);
  // Thanos's metricMetadata: `metric` and `limit` from the URL query (-1: no limit), fanned out to
  // every endpoint that advertises the Metadata API.
  base.get('/metadata', handle(async (p, c) => {
    const q = new URL(c.req.url).searchParams;
    const limitStr = q.get('limit') ?? '';
    let limit = -1;
    if (limitStr !== '') {
      const n = /^[+-]?\d+$/.test(limitStr) ? Number(limitStr) : NaN;
      if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) throw new ApiError('bad_data', `invalid metric metadata limit='${limitStr}'`);
      limit = n;
    }
    const partial = boolParam(p, 'partial_response', deps.partialResponse);
    if (!deps.metricMetadata) return respond('{}');
    const req: MetricMetadataRequest = {
      metric: q.get('metric') ?? '', limit,
      partialResponseStrategy: partial ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT,
    };
    try {
      const r = await metaCall(c, 'metadata', (signal) => deps.metricMetadata!(req, partial, signal));
      return respond(metadataJson(r.metadata), r.warnings);
    } catch (e) {
      if (e instanceof FanoutError) throw new ApiError('internal', `proxy MetricMetadata: ${e.message}`);
      throw e;
    }
  }));
  // Thanos's targets: state=active|dropped|any (any case), fanned out with replica-label dedup.
  base.get('/targets', handle(async (p, c) => {
    const stateParam = new URL(c.req.url).searchParams.get('state') ?? '';
    const state = (TargetsState as Record<string, number>)[stateParam.toUpperCase()];
    if (state === undefined && stateParam !== '') throw new ApiError('bad_data', `invalid targets parameter state='${stateParam}'`);
    const partial = boolParam(p, 'partial_response', deps.partialResponse);
    if (!deps.targets) return respond('{"activeTargets":[],"droppedTargets":[]}');
    const req: TargetsRequest = { state: state ?? TargetsState.ANY, partialResponseStrategy: partial ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT };
    try {
      const r = await metaCall(c, 'targets', (signal) => deps.targets!(req, partial, signal));
      return respond(targetsJson(r.targets), r.warnings);
    } catch (e) {
      if (e instanceof FanoutError) throw new ApiError('internal', `retrieving targets: proxy Targets: ${e.message}`);
      throw e;
    }
  }));
  // Prometheus's /api/v1/format_query: the query prettified, or the parse error.
  base.on(['GET', 'POST'], '/format_query', handle(async (p) => {
    let e;
    try {
      e = parseExpr(p.get('query'));
    } catch (err) {
      if (err instanceof PromQLError) throw invalidParam('query', err.message);
      throw err;
    }
    return respond(goJsonString(prettify(e, p.get('query'))));
  }));
  base.on(['GET', 'POST'], '/query_exemplars', handle(async (p, c) => {
    const start = timeParam(p, 'start', MIN_TIME_MS);
    const end = timeParam(p, 'end', MAX_TIME_MS);
    if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start timestamp');
    try {
      parseExpr(p.get('query'));
    } catch (e) {
      throw new ApiError('bad_data', (e as Error).message);
    }
    // thanos.Exemplars fanned out with replica-label dedup (lib/query/exemplars.ts, #16).
    if (!deps.exemplars) return respond('[]');
    const partial = boolParam(p, 'partial_response', deps.partialResponse);
    try {
      const r = await metaCall(c, 'exemplars', (signal) => deps.exemplars!({ query: p.get('query'), start, end, partialResponseStrategy: partial ? 0 : 1 }, partial, signal));
      return respond(exemplarsJson(r.data), r.warnings);
    } catch (e) {
      if (e instanceof FanoutError) throw new ApiError('internal', `retrieving exemplars: proxy Exemplars: ${e.message}`);
      throw e;
    }
  }));
  base.get('/status/buildinfo', handle(async () => respond(buildInfoJson(deps.buildInfo))));
  base.get('/status/flags', handle(async () => respond(flagsJson(deps.flags()))));
  base.get('/status/runtimeinfo', handle(async () => respond(runtimeInfoJson(startedAt))));
  // minTime/maxTime are int64 in Thanos: exact digits, math.MaxInt64/MinInt64 for "no bound".
  base.get('/stores', handle(async () => {
    const out: Record<string, unknown[]> = {};
    for (const [type, list] of Object.entries(deps.endpointStatuses())) {
      out[type] = list.map((s) => ({ ...s, minTime: int64(s.minTime), maxTime: int64(s.maxTime) }));
    }
    return respond(stringifyJson(out));
  }));
  // Thanos's rules/alerts: thanos.Rules fanned out with replica-label dedup (lib/query/rules.ts, #16).
  const rulesRoute = (alerts: boolean) => handle(async (p, c) => {
    const partial = boolParam(p, 'partial_response', deps.partialResponse);
    let req: RulesRequest;
    try {
      req = rulesRequestFromQuery(new URL(c.req.url).searchParams, alerts, partial);
    } catch (e) {
      throw new ApiError('bad_data', (e as Error).message);
    }
    let r: { groups: RuleGroup[]; warnings: string[] } = { groups: [], warnings: [] };
    try {
      if (deps.rules) r = await metaCall(c, 'rules', (signal) => deps.rules!(req, partial, signal));
    } catch (e) {
      if (e instanceof FanoutError) throw new ApiError('internal', `error retrieving rules: ${e.message}`);
      throw e;
    }
    return respond(alerts ? alertsJson(r.groups) : rulesJson(r.groups), r.warnings);
  });
  base.get('/rules', rulesRoute(false));
  base.get('/alerts', rulesRoute(true));
  base.options('/*', () => new Response(null, { status: 204 }));
  base.all('/*', () => respondError(new ApiError('not_found', 'not found')));
  const startedAt = now();
  app.route('/api/v1', base);
  return app;
}

const byteCompare = compareStrings;
const compareLabelSets = compareLabels;
