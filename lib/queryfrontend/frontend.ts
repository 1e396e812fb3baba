// The query frontend's request path (Thanos pkg/queryfrontend/roundtrip.go): a fetch handler in
// front of one downstream Prometheus-compatible query API.
//   /api/v1/query_range: max-query-length check → step alignment → downsampled retries (max_source_resolution=auto)
//                        → split by interval → vertical sharding → results cache → retries → downstream
//   /api/v1/labels, /api/v1/label/<n>/values, /api/v1/series: split by interval → results cache → retries
//   /api/v1/query: vertical sharding (shardable queries, --query-frontend.vertical-shards) → retries; everything else: proxied as is.
// Pieces of one request run at most max-query-parallelism at a time. A downstream 4xx is final and
// returned as the downstream wrote it; 5xx and connection errors are retried (Cortex: up to
// max-retries-per-request attempts, 200ms..2s backoff with jitter).
import type { Logger, Metrics } from '../sdk/plugin.ts';
import { sleep } from '../sdk/time.ts';
import { evaluateAtModifiers, alignToStep, isCacheableQuery, splitLabelsRequest, splitRangeRequest } from './split.ts';
import {
  decodeLabelsRequest, decodeRangeRequest, encodeLabelsRequest, encodeRangeRequest, ParamError, type DecodeContext, type LabelsRequest, type RangeRequest,
} from './request.ts';
import {
  decodeMatrix, decodeSeries, decodeStrings, encodeResponse, extractMatrix, mergeMatrix, mergeSeries, mergeStrings, minSampleTime, ResponseFormatError,
  type ApiResponse, type MatrixResponse, type SeriesResponse, type StringsResponse,
} from './response.ts';
import { ResultsCache, type ResultsCacheOps } from './results_cache.ts';
import type { InstrumentedCache } from './cache.ts';
import { formatGoDuration } from '../duration/mod.ts';
import { CachedQueryAnalyzer, instantSortPlan, isShardable, shardInfos } from './shard.ts';
import { decodeInstant, encodeInstant, mergeVector, type VectorResponse } from './response.ts';
import { encodeShardInfoJson } from '../store/shard.ts';

export interface RangeConfig {
  splitIntervalMs: number;
  alignRangeWithStep: boolean;
  requestDownsampled: boolean;
  maxRetries: number;
  maxQueryLengthMs: number;
  maxQueryParallelism: number;
  maxFreshnessMs: number;
  partialResponse: boolean;
  cache?: InstrumentedCache;
}

export interface LabelsConfig {
  splitIntervalMs: number;
  maxRetries: number;
  maxQueryParallelism: number;
  maxFreshnessMs: number;
  partialResponse: boolean;
  defaultTimeRangeMs: number;
  cache?: InstrumentedCache;
}

export interface FrontendOptions {
  downstreamUrl: string;
  range: RangeConfig;
  labels: LabelsConfig;
  instantMaxRetries: number;
  /** Header names forwarded to the downstream (THANOS-TENANT is always added, as Thanos does). */
  forwardHeaders: string[];
  compressResponses: boolean;
  /** 0: off; < 0: every query; > 0: queries slower than this. */
  logQueriesLongerThanMs: number;
  disableCors: boolean;
  fetch: (input: string, init?: RequestInit) => Promise<Response>;
  log: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** Ends retry waits (the component's shutdown). */
  signal?: AbortSignal;
  /** Backoff between retries (ms) given the attempt number; tests shorten it. */
  backoffMs?: (attempt: number) => number;
  /** --query-frontend.vertical-shards: shardable range queries are asked once per shard (0: off). */
  verticalShards?: number;
}

/** Requests bodies above this are refused (Thanos: MaxBodySize 10 MiB). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** A final downstream (or frontend) error answer: status and body as they are returned to the client. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly body: string, readonly contentType = 'application/json') {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = 'HttpError';
  }
}

function apiError(status: number, errorType: string, msg: string): HttpError {
  return new HttpError(status, JSON.stringify({ status: 'error', errorType, error: msg }));
}

const LABEL_VALUES_RE = /\/api\/v1\/label\/.+\/values$/;

type Op = 'query' | 'query_range' | 'label_names' | 'label_values' | 'series';

export function operationOf(method: string, path: string): Op | undefined {
  if (method !== 'GET' && method !== 'POST') return undefined;
  if (path.endsWith('/api/v1/query')) return 'query';
  if (path.endsWith('/api/v1/query_range')) return 'query_range';
  if (path.endsWith('/api/v1/labels')) return 'label_names';
  if (path.endsWith('/api/v1/series')) return 'series';
  if (LABEL_VALUES_RE.test(path)) return 'label_values';
  return undefined;
}

/** Runs fn over items with at most `limit` at a time; results in item order; the first failure fails all. */
async function inParallel<T, U>(items: readonly T[], limit: number, fn: (t: T) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit > 0 ? limit : items.length, items.length)) }, worker));
  return out;
}

const RES_LEVEL1 = 5 * 60_000;
const RES_LEVEL2 = 3600_000;

/** Index of the first of Thanos's resolutions (1h, 5m, raw) at or below the request's max_source_resolution. */
function resolutionIndex(maxSourceResolution: number): number {
  const levels = [RES_LEVEL2, RES_LEVEL1, 0];
  let i = 0;
  while (i < levels.length && levels[i]! > maxSourceResolution) i++;
  return i;
}

/** Steps dashboards use (Thanos's commonQuerySteps), largest first. */
const COMMON_STEPS = [12 * 3600_000, 6 * 3600_000, 3 * 3600_000, 2 * 3600_000, 3600_000, 30 * 60_000, 15 * 60_000, 10 * 60_000, 5 * 60_000, 2 * 60_000, 60_000, 30_000, 20_000, 15_000, 10_000, 5000, 1000];

/** For a common step, the smaller common steps that divide it (whose answers hold all of its points). */
export function lowerStepCandidates(step: number): number[] {
  if (!COMMON_STEPS.includes(step)) return [];
  return COMMON_STEPS.filter((c) => c < step && step % c === 0);
}

/** Thanos's query range cache key (pkg/queryfrontend/cache.go). */
export function rangeCacheKey(r: RangeRequest): string {
  const current = r.splitInterval > 0 ? Math.floor(r.start / r.splitInterval) : 0;
  const replicas = [...r.replicaLabels].sort().join(',');
  const shard = r.shardInfo ? `${r.shardInfo.totalShards}:${r.shardInfo.shardIndex}` : '-';
  return `fe:${r.tenant}:${r.query}:${r.step}:${r.splitInterval}:${current}:${resolutionIndex(r.maxSourceResolution)}:${shard}:${r.lookbackDelta}:${r.engine}:${r.partialResponse}:${replicas}:${r.analyze}`;
}

/** Thanos's labels / series cache keys. */
export function labelsCacheKey(r: LabelsRequest): string {
  const current = r.splitInterval > 0 ? Math.floor(r.start / r.splitInterval) : 0;
  const matchers = `[${r.matchers.join(' ')}]`;
  return r.op === 'series'
    ? `fe:${r.tenant}:${matchers}:${r.splitInterval}:${current}`
    : `fe:${r.tenant}:${r.label}:${matchers}:${r.splitInterval}:${current}`;
}

interface Downstream<A> {
  answer: A;
  noStore: boolean;
}

export class QueryFrontend {
  private readonly downstream: string;
  private readonly forwardHeaders: string[];
  private readonly now: () => number;
  private readonly signal: AbortSignal;
  private readonly rangeCache?: ResultsCache<RangeRequest, MatrixResponse>;
  private readonly labelsCache?: ResultsCache<LabelsRequest, StringsResponse | SeriesResponse>;
  /** Answers marked Cache-Control: no-store by the downstream (never written to the cache). */
  private readonly noStore = new WeakSet<object>();
  private readonly m: {
    queries?: ReturnType<Metrics['counter']>;
    split?: ReturnType<Metrics['counter']>;
    retries?: ReturnType<Metrics['histogram']>;
    downsampled?: ReturnType<Metrics['counter']>;
    duration?: ReturnType<Metrics['histogram']>;
    sharded?: ReturnType<Metrics['counter']>;
  } = {};
  private readonly analyzer = new CachedQueryAnalyzer();

  constructor(private readonly o: FrontendOptions) {
    this.downstream = o.downstreamUrl.replace(/\/+$/, '');
    this.forwardHeaders = [...o.forwardHeaders, 'THANOS-TENANT'];
    this.now = o.now ?? Date.now;
    this.signal = o.signal ?? new AbortController().signal;
    const mt = o.metrics;
    if (mt) {
      this.m.queries = mt.counter('thanos_query_frontend_queries_total', 'Total queries passing through query frontend', ['op']);
      for (const op of ['query', 'query_range', 'label_names', 'label_values', 'series']) this.m.queries.inc({ op }, 0);
      this.m.split = mt.counter('thanos_frontend_split_queries_total', 'Total number of underlying query requests after the split by interval is applied', ['tripperware']);
      this.m.retries = mt.histogram('cortex_query_frontend_retries', 'Number of times a request is retried.', ['tripperware'], [0, 1, 2, 3, 4, 5]);
      this.m.duration = mt.histogram('cortex_frontend_query_range_duration_seconds', 'Total time spent in seconds doing query range requests.', ['method', 'status_code', 'tripperware'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
      this.m.downsampled = mt.counter('thanos_frontend_downsampled_extra_queries_total', 'Total number of additional queries for downsampled data', ['tripperware']);
      if ((o.verticalShards ?? 0) > 0) {
        this.m.sharded = mt.counter('thanos_frontend_sharding_middleware_queries_total', 'Total number of queries analyzed by the sharding middleware', ['shardable', 'tripperware']);
        for (const shardable of ['true', 'false']) for (const tripperware of ['query_range', 'query_instant']) this.m.sharded.inc({ shardable, tripperware }, 0);
      }
    }
    if (o.range.cache) {
      const ops: ResultsCacheOps<RangeRequest, MatrixResponse> = {
        key: rangeCacheKey,
        merge: (_r, as) => mergeMatrix(as),
        extract: (a, s, e, step) => extractMatrix(a, s, e, step),
        alternativeKeys: (r) => lowerStepCandidates(r.step).filter((c) => r.start % c === 0).map((c) => rangeCacheKey({ ...r, step: c })),
        shouldCache: (r) => r.storeMatchers.length === 0 && r.dedup && !r.noStore,
        shouldCacheAnswer: (r, a, maxCacheTime) => a.kind === 'matrix' && !this.noStore.has(a) && isCacheableQuery(r.query, r.end, maxCacheTime),
        step: (r) => r.step,
      };
      this.rangeCache = new ResultsCache(o.range.cache, ops, o.range.maxFreshnessMs, this.now);
    }
    if (o.labels.cache) {
      const ops: ResultsCacheOps<LabelsRequest, StringsResponse | SeriesResponse> = {
        key: labelsCacheKey,
        merge: (_r, as) => mergeLabelAnswers(as),
        extract: (a) => a,
        shouldCache: (r) => r.storeMatchers.length === 0 && (r.op !== 'series' || r.dedup) && !r.noStore,
        shouldCacheAnswer: (r, a) => a.kind === (r.op === 'series' ? 'series' : 'strings') && !this.noStore.has(a),
        step: () => 0,
      };
      this.labelsCache = new ResultsCache(o.labels.cache, ops, o.labels.maxFreshnessMs, this.now);
    }
  }

  /** The component's fetch handler. */
  async handle(req: Request): Promise<Response> {
    const started = this.now();
    const url = new URL(req.url);
    if (req.method === 'OPTIONS' && !this.o.disableCors) return this.finish(req, new Response(null, { status: 200 }));
    let body: Uint8Array | undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const b = await readBounded(req, MAX_BODY_BYTES);
      if (b === null) return this.finish(req, new Response('http: request body too large\n', { status: 413 }));
      body = b;
    }
    const op = operationOf(req.method, url.pathname);
    let res: Response;
    try {
      if (op) this.m.queries?.inc({ op });
      if (op === 'query_range' || op === 'label_names' || op === 'label_values' || op === 'series') {
        // Go's r.FormValue: body (form) values come before the URL's.
        const params = body && (req.headers.get('content-type') ?? '').includes('application/x-www-form-urlencoded')
          ? new URLSearchParams(new TextDecoder().decode(body))
          : new URLSearchParams();
        for (const [k, v] of url.searchParams) params.append(k, v);
        const dc: DecodeContext = { path: url.pathname, headers: req.headers, forwardHeaders: this.forwardHeaders, signal: req.signal };
        const answer = op === 'query_range'
          ? await this.queryRange(decodeRangeRequest(params, dc, this.o.range.partialResponse))
          : await this.labelsOrSeries(decodeLabelsRequest(params, dc, this.o.labels.partialResponse, this.o.labels.defaultTimeRangeMs, this.now()));
        res = new Response(encodeResponse(answer), { status: 200, headers: { 'content-type': 'application/json' } });
      } else if (op === 'query' && (this.o.verticalShards ?? 0) > 0) {
        res = await this.instantQuery(req, url, body);
      } else {
        res = await this.proxy(req, url, body, op === 'query' ? Math.max(1, this.o.instantMaxRetries) : 1, op === 'query' ? 'query_instant' : '');
      }
    } catch (e) {
      res = errorResponse(e);
    }
    this.logSlow(req, url, started);
    return this.finish(req, res);
  }

  private logSlow(req: Request, url: URL, started: number): void {
    const t = this.o.logQueriesLongerThanMs;
    if (t === 0) return;
    const took = this.now() - started;
    if (t > 0 && took <= t) return;
    const kv: Record<string, unknown> = { method: req.method, host: url.host, path: url.pathname, time_taken: formatGoDuration(took) };
    for (const [k, v] of url.searchParams) kv[`param_${k}`] = v;
    this.o.log.info('slow query detected', kv);
  }

  private async finish(req: Request, res: Response): Promise<Response> {
    const headers = new Headers(res.headers);
    if (!this.o.disableCors) {
      headers.set('Access-Control-Allow-Headers', 'Accept, Accept-Encoding, Authorization, Content-Type, Origin');
      headers.set('Access-Control-Allow-Methods', 'GET, OPTIONS');
      headers.set('Access-Control-Allow-Origin', '*');
      headers.set('Access-Control-Expose-Headers', 'Date');
    }
    let bodyOut: ReadableStream<Uint8Array> | null = res.body;
    if (this.o.compressResponses && res.body && /\bgzip\b/.test(req.headers.get('accept-encoding') ?? '') && !headers.has('content-encoding')) {
      bodyOut = res.body.pipeThrough(new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
      headers.set('content-encoding', 'gzip');
      headers.delete('content-length');
      headers.append('vary', 'Accept-Encoding');
    }
    return new Response(bodyOut, { status: res.status, headers });
  }

  // ---- range queries ----------------------------------------------------------------------------

  async queryRange(r0: RangeRequest): Promise<MatrixResponse> {
    const maxLen = this.o.range.maxQueryLengthMs;
    if (maxLen > 0 && r0.end - r0.start > maxLen) {
      throw apiError(400, 'bad_data', `the query time range exceeds the limit (query length: ${formatGoDuration(r0.end - r0.start)}, limit: ${formatGoDuration(maxLen)})`);
    }
    const afterAlign = (r: RangeRequest) => {
      if (!this.o.range.requestDownsampled) return this.splitRange(r);
      return this.timed('downsampled', 'query_range', () => (r.autoDownsampling ? this.downsampled(r) : this.splitRange(r)));
    };
    if (!this.o.range.alignRangeWithStep) return afterAlign(r0);
    return this.timed('step_align', 'query_range', () => afterAlign(alignToStep(r0)));
  }

  /** Cortex's InstrumentMiddleware: time spent in a stage and everything below it. */
  private async timed<T>(method: string, tripperware: string, fn: () => Promise<T>): Promise<T> {
    if (!this.m.duration) return fn();
    const t = performance.now();
    let code = 'success';
    try {
      return await fn();
    } catch (e) {
      code = (e as Error)?.message === 'request cancelled' ? 'cancel' : 'error';
      throw e;
    } finally {
      this.m.duration.observe((performance.now() - t) / 1000, { method, status_code: code, tripperware });
    }
  }

  /** max_source_resolution=auto: an empty or partly empty answer is completed from coarser resolutions (Thanos's DownsampledMiddleware). */
  private async downsampled(orig: RangeRequest): Promise<MatrixResponse> {
    const levels = [RES_LEVEL1, RES_LEVEL2];
    const answers: MatrixResponse[] = [];
    let r = { ...orig };
    let i = 0;
    while (i < levels.length) {
      if (answers.length > 0) this.m.downsampled?.inc({ tripperware: 'query_range' });
      const a = await this.splitRange({ ...r });
      answers.push(a);
      while (i < levels.length) {
        if (r.maxSourceResolution < levels[i]!) {
          r = { ...r, autoDownsampling: false, maxSourceResolution: levels[i]! };
          break;
        }
        i++;
      }
      const m = minSampleTime(a);
      if (m === r.start) break;
      if (m !== -1) r = { ...r, end: m - r.step };
      if (r.start > r.end) break;
    }
    return mergeMatrix(answers);
  }

  private async splitRange(r: RangeRequest): Promise<MatrixResponse> {
    const interval = this.o.range.splitIntervalMs;
    const pieces = interval > 0 ? splitRangeRequest(r, interval) : [{ ...r, query: evaluateAtModifiers(r.query, r.start, r.end) }];
    this.m.split?.inc({ tripperware: 'query_range' }, pieces.length);
    return this.timed('split_by_interval', 'query_range', async () => mergeMatrix(await inParallel(pieces, this.o.range.maxQueryParallelism, (p) => this.shardedRange(p))));
  }

  /** Thanos's PromQLShardingMiddleware: a shardable query is asked once per shard, the disjoint answers merged. */
  private async shardedRange(p: RangeRequest): Promise<MatrixResponse> {
    const shards = this.o.verticalShards ?? 0;
    if (shards <= 0) return this.cachedRange(p);
    const a = this.analyzer.analyze(p.query);
    if (!isShardable(a)) {
      this.m.sharded?.inc({ shardable: 'false', tripperware: 'query_range' });
      return this.cachedRange(p);
    }
    this.m.sharded?.inc({ shardable: 'true', tripperware: 'query_range' });
    const answers = await inParallel(shardInfos(a, shards), this.o.range.maxQueryParallelism, (shardInfo) => this.cachedRange({ ...p, shardInfo }));
    return mergeMatrix(answers);
  }

  private cachedRange(p: RangeRequest): Promise<MatrixResponse> {
    const next = (q: RangeRequest) => this.timed('retry', 'query_range', () => this.withRetries('query_range', this.o.range.maxRetries, () => this.rangeDownstream(q), q.signal));
    const cache = this.rangeCache;
    if (!cache) return next(p);
    return this.timed('results_cache', 'query_range', () => cache.do(p, (q) => next(q)));
  }

  private async rangeDownstream(r: RangeRequest): Promise<MatrixResponse> {
    const d = await this.post(r.path, encodeRangeRequest(r), r.headers, decodeMatrix, 'POST', r.signal);
    if (d.noStore) this.noStore.add(d.answer);
    return d.answer;
  }

  // ---- instant queries --------------------------------------------------------------------------

  /** Thanos's sharding middleware on the instant tripperware: a shardable query once per shard, merged as vectorMerge. */
  private async instantQuery(req: Request, url: URL, body: Uint8Array | undefined): Promise<Response> {
    const attempts = Math.max(1, this.o.instantMaxRetries);
    const params = body && (req.headers.get('content-type') ?? '').includes('application/x-www-form-urlencoded')
      ? new URLSearchParams(new TextDecoder().decode(body))
      : new URLSearchParams();
    for (const [k, v] of url.searchParams) params.append(k, v);
    const query = params.get('query') ?? '';
    const a = this.analyzer.analyze(query);
    if (!isShardable(a)) {
      this.m.sharded?.inc({ shardable: 'false', tripperware: 'query_instant' });
      return this.proxy(req, url, body, attempts, 'query_instant');
    }
    this.m.sharded?.inc({ shardable: 'true', tripperware: 'query_instant' });
    const headers: Array<[string, string]> = [];
    for (const [k, v] of req.headers) if (!HOP_BY_HOP.has(k) && k !== 'content-type') headers.push([k, v]);
    const answers = await inParallel(shardInfos(a, this.o.verticalShards!), this.o.range.maxQueryParallelism, (si) => {
      const form = new URLSearchParams(params);
      form.set('shard_info', encodeShardInfoJson(si));
      return this.withRetries('query_instant', attempts, async () => (await this.post(url.pathname, form, headers, decodeInstant, 'POST', req.signal)).answer, req.signal);
    });
    const merged = answers.every((x) => x.kind === 'vector')
      ? mergeVector(answers as VectorResponse[], instantSortPlan(query))
      : mergeMatrix(answers.filter((x): x is MatrixResponse => x.kind === 'matrix'));
    return new Response(encodeInstant(merged), { status: 200, headers: { 'content-type': 'application/json' } });
  }

  // ---- labels and series ------------------------------------------------------------------------

  async labelsOrSeries(r: LabelsRequest): Promise<StringsResponse | SeriesResponse> {
    const interval = this.o.labels.splitIntervalMs;
    const pieces = interval > 0 ? splitLabelsRequest(r, interval) : [r];
    this.m.split?.inc({ tripperware: 'labels' }, pieces.length);
    const run = () => inParallel(pieces, this.o.labels.maxQueryParallelism, (p) => {
      const next = (q: LabelsRequest) => this.timed('retry', 'labels', () => this.withRetries('labels', this.o.labels.maxRetries, () => this.labelsDownstream(q), q.signal));
      const cache = this.labelsCache;
      return cache ? this.timed('results_cache', 'labels', () => cache.do(p, next)) : next(p);
    });
    const answers = interval > 0 ? await this.timed('split_interval', 'labels', run) : await run();
    if (answers.length === 0) return r.op === 'series' ? { kind: 'series', data: [], warnings: [] } : { kind: 'strings', data: [], warnings: [] };
    return mergeLabelAnswers(answers);
  }

  private async labelsDownstream(r: LabelsRequest): Promise<StringsResponse | SeriesResponse> {
    // Label values is a GET-only endpoint in Prometheus: Thanos sends it as a GET (labels_codec.go).
    const d = await this.post<StringsResponse | SeriesResponse>(r.path, encodeLabelsRequest(r), r.headers, r.op === 'series' ? decodeSeries : decodeStrings, r.op === 'label_values' ? 'GET' : 'POST', r.signal);
    if (d.noStore) this.noStore.add(d.answer);
    return d.answer;
  }

  // ---- downstream -------------------------------------------------------------------------------

  private async withRetries<T>(tripperware: string, maxRetries: number, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const attempts = Math.max(1, maxRetries);
    let tries = 0;
    let last: unknown;
    try {
      for (; tries < attempts; tries++) {
        // The client went away (or we are stopping): no further attempts.
        if (signal?.aborted || this.signal.aborted) throw new Error('request cancelled');
        try {
          return await fn();
        } catch (e) {
          if (e instanceof HttpError && Math.floor(e.status / 100) !== 5) throw e;
          if (e instanceof ResponseFormatError || e instanceof ParamError || signal?.aborted) throw e;
          last = e;
          this.o.log.warn('error processing request', { try: tries, err: (e as Error).message, tripperware });
          if (tries + 1 < attempts) await sleep(this.o.backoffMs ? this.o.backoffMs(tries) : backoff(tries), this.signal);
        }
      }
      throw last;
    } finally {
      if (maxRetries > 0) this.m.retries?.observe(Math.min(tries, attempts), { tripperware });
    }
  }

  private async post<A extends object>(path: string, form: URLSearchParams, headers: Array<[string, string]>, decode: (t: string) => A, method: 'GET' | 'POST', signal?: AbortSignal): Promise<Downstream<A>> {
    const h = new Headers();
    for (const [k, v] of headers) h.append(k, v);
    let url = this.downstream + path;
    let body: string | undefined;
    if (method === 'GET') url += `?${form}`;
    else {
      h.set('content-type', 'application/x-www-form-urlencoded');
      body = form.toString();
    }
    const res = await this.o.fetch(url, { method, body, headers: h, signal });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new HttpError(res.status, text, res.headers.get('content-type') ?? 'text/plain');
    return { answer: decode(text), noStore: (res.headers.get('cache-control') ?? '').includes('no-store') };
  }

  /** Passes the request on (instant queries with retries on 5xx); the answer comes back as the downstream wrote it. */
  private async proxy(req: Request, url: URL, body: Uint8Array | undefined, attempts: number, tripperware: string): Promise<Response> {
    const headers = new Headers();
    for (const [k, v] of req.headers) if (!HOP_BY_HOP.has(k)) headers.append(k, v);
    const target = this.downstream + url.pathname + url.search;
    const one = async (): Promise<Response> => {
      const res = await this.o.fetch(target, { method: req.method, headers, body: body as Uint8Array<ArrayBuffer> | undefined, redirect: 'manual', signal: req.signal });
      const buf = new Uint8Array(await res.arrayBuffer());
      if (attempts > 1 && res.status >= 500) throw new HttpError(res.status, new TextDecoder().decode(buf), res.headers.get('content-type') ?? 'text/plain');
      const out = new Headers();
      for (const [k, v] of res.headers) if (!HOP_BY_HOP.has(k) && k !== 'content-encoding' && k !== 'content-length') out.append(k, v);
      return new Response(res.status === 204 || res.status === 304 ? null : buf, { status: res.status, headers: out });
    };
    return attempts > 1 ? this.withRetries(tripperware, attempts, one, req.signal) : one();
  }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'accept-encoding']);

function mergeLabelAnswers(as: ReadonlyArray<StringsResponse | SeriesResponse>): StringsResponse | SeriesResponse {
  if (as.length === 1) return as[0]!;
  if (as[0]!.kind === 'series') return mergeSeries(as as SeriesResponse[]);
  return mergeStrings(as as StringsResponse[]);
}

function errorResponse(e: unknown): Response {
  if (e instanceof HttpError) return new Response(e.body, { status: e.status, headers: { 'content-type': e.contentType } });
  if (e instanceof ParamError) return new Response(JSON.stringify({ status: 'error', errorType: 'bad_data', error: e.message }), { status: 400, headers: { 'content-type': 'application/json' } });
  const msg = (e as Error)?.message ?? String(e);
  return new Response(JSON.stringify({ status: 'error', errorType: 'internal', error: msg }), { status: e instanceof ResponseFormatError ? 502 : 500, headers: { 'content-type': 'application/json' } });
}

/** Cortex's retry backoff: 200ms doubling to 2s, with jitter. */
function backoff(attempt: number): number {
  const base = Math.min(2000, 200 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

/** The request body, or null when it is larger than max (read no further). */
async function readBounded(req: Request, max: number): Promise<Uint8Array | null> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
