// The query frontend's pieces in process: splitting at interval boundaries, step alignment, @
// fixing, matrix merging, the cache config YAML, the results cache's extents and freshness window
// against a fake downstream and a fake clock, retries, limits, and the flags.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  alignToStep, createResponseCache, decodeMatrix, encodeResponse, evaluateAtModifiers, extractMatrix, isCacheableQuery, mergeMatrix, nextIntervalBoundary,
  parseResponseCacheConfig, QueryFrontend, InMemoryResponseCache, splitLabelsRequest, splitRangeRequest, type FrontendOptions, type MatrixResponse, type RangeRequest,
} from '../../lib/queryfrontend/mod.ts';
import { parseFlags } from '../../lib/sdk/flags.ts';
import { parseQueryFrontendConfig, queryFrontendFlags } from '../../plugins/component/query-frontend/config.ts';
import { Registry } from '../../host/metrics.ts';
import { createLogger } from '../../host/log.ts';

const H = 3600_000;
const DAY = 24 * H;
const MIN = 60_000;

function rangeReq(start: number, end: number, step: number, query = 'up'): RangeRequest {
  return {
    kind: 'range', path: '/api/v1/query_range', start, end, step, query, partialResponse: true, headers: [], noStore: false, tenant: 'anonymous', splitInterval: 0,
    dedup: true, replicaLabels: [], storeMatchers: [], maxSourceResolution: 0, autoDownsampling: false, lookbackDelta: 0, engine: '', analyze: false, stats: '',
  };
}

test('split: pieces end on the step before each UTC day boundary and steps continue across pieces', () => {
  const start = Date.UTC(2024, 0, 1, 20, 0, 7);
  const step = 60_000;
  const end = start + 2 * DAY + 5 * step;
  const pieces = splitRangeRequest(rangeReq(start, end, step), DAY);
  assert.is(pieces.length, 3);
  assert.is(pieces[0]!.start, start);
  // Last step before 2024-01-02T00:00:00Z, a whole number of steps from start.
  assert.is(pieces[0]!.end, Date.UTC(2024, 0, 1, 23, 59, 7));
  assert.is(pieces[1]!.start, pieces[0]!.end + step);
  assert.is(pieces[1]!.end, Date.UTC(2024, 0, 2, 23, 59, 7));
  assert.is(pieces[2]!.end, end);
  for (const p of pieces) {
    assert.is((p.start - start) % step, 0);
    assert.is(p.splitInterval, DAY);
    assert.is(Math.floor(p.start / DAY), Math.floor(p.end / DAY), 'a piece stays within one day');
  }
  assert.is(nextIntervalBoundary(0, 15_000, H), H - 15_000);
  // start == end: one piece.
  assert.is(splitRangeRequest(rangeReq(start, start, step), DAY).length, 1);
});

test('split: labels pieces are fixed-length from the start', () => {
  const r = { ...rangeReq(0, 0, 1), kind: 'labels', op: 'label_names', label: '', matchers: [], limit: '' } as unknown as Parameters<typeof splitLabelsRequest>[0];
  const pieces = splitLabelsRequest({ ...r, start: 1000, end: 1000 + 2.5 * DAY }, DAY);
  assert.equal(pieces.map((p) => [p.start, p.end]), [[1000, 1000 + DAY], [1000 + DAY, 1000 + 2 * DAY], [1000 + 2 * DAY, 1000 + 2.5 * DAY]]);
});

test('step alignment rounds start and end down to multiples of the step', () => {
  const a = alignToStep(rangeReq(1_000_017, 2_000_059, 60_000));
  assert.is(a.start, 960_000);
  assert.is(a.end, 1_980_000);
});

test('@ start() / @ end() are fixed to the whole range before splitting', () => {
  assert.is(evaluateAtModifiers('rate(x[5m] @ end())', 1000, 7_200_000), 'rate(x[5m] @ 7200.000)');
  assert.is(evaluateAtModifiers('max_over_time(x[10m:1m] @ start()) + y @ end()', 1000, 2000), 'max_over_time(x[10m:1m] @ 1.000) + y @ 2.000');
  assert.is(evaluateAtModifiers('sum(rate(x[5m]))', 1, 2), 'sum(rate(x[5m]))', 'unchanged text without @');
  const pieces = splitRangeRequest(rangeReq(0, 3 * H, MIN, 'x @ start()'), H);
  assert.ok(pieces.every((p) => p.query === 'x @ 0.000'));
  assert.ok(isCacheableQuery('x @ 10.000', 20_000, 20_000));
  assert.not.ok(isCacheableQuery('x @ 30.000', 20_000, 40_000), '@ after the end');
  assert.not.ok(isCacheableQuery('x @ 30.000', 40_000, 20_000), '@ in the freshness window');
  assert.not.ok(isCacheableQuery('x offset -5m', 40_000, 40_000), 'negative offset');
  assert.ok(isCacheableQuery('x offset 5m', 40_000, 40_000));
});

const series = (metric: Record<string, string>, pts: Array<[number, string]>) => ({ metric, values: pts });
const matrix = (...result: ReturnType<typeof series>[]): MatrixResponse => ({ kind: 'matrix', result, warnings: [], infos: [] });

test('matrix merge: by label set, overlapping points dropped, series sorted; extract cuts by time', () => {
  const a = matrix(series({ job: 'b' }, [[1, '1'], [2, '2']]), series({ job: 'a' }, [[2, '5']]));
  const b = matrix(series({ job: 'a' }, [[2, '5'], [3, '6']]), series({ job: 'b' }, [[3, '3']]));
  const m = mergeMatrix([b, a]);
  assert.equal(m.result.map((s) => s.metric.job), ['a', 'b']);
  assert.equal(m.result[0]!.values, [[2, '5'], [3, '6']]);
  assert.equal(m.result[1]!.values, [[1, '1'], [2, '2'], [3, '3']]);
  const x = extractMatrix(m, 2500, 3000);
  assert.equal(x.result.map((s) => s.values), [[[3, '6']], [[3, '3']]]);
  assert.is(extractMatrix(m, 10_000, 20_000).result.length, 0);
  const text = encodeResponse(m);
  assert.equal(decodeMatrix(text).result, m.result);
  assert.is(text, '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[2,"5"],[3,"6"]]},{"metric":{"job":"b"},"values":[[1,"1"],[2,"2"],[3,"3"]]}]}}');
});

test('cache config YAML: IN-MEMORY, MEMCACHED, REDIS refused by name, unknown keys refused', () => {
  const im = parseResponseCacheConfig('type: in-memory\nconfig:\n  max_size: 1MB\n  max_size_items: 10\n  validity: 1h\n', 'k');
  assert.equal(im, { type: 'IN-MEMORY', maxSizeBytes: 1024 * 1024, maxSizeItems: 10, validityMs: H });
  const mc = parseResponseCacheConfig('type: MEMCACHED\nconfig:\n  addresses: ["127.0.0.1:11211"]\n  timeout: 2s\n  expiration: 1h\n', 'k');
  assert.is(mc?.type, 'MEMCACHED');
  assert.is(mc?.type === 'MEMCACHED' && mc.timeoutMs, 2000);
  assert.is(mc?.type === 'MEMCACHED' && mc.expirationSec, 3600);
  assert.is(parseResponseCacheConfig('', 'k'), undefined);
  assert.throws(() => parseResponseCacheConfig('type: REDIS\nconfig:\n  addr: x:1\n', 'k'), /REDIS is not implemented yet/);
  assert.throws(() => parseResponseCacheConfig('type: MEMCACHED\nconfig:\n  addresses: ["a:1"]\n  bogus: 1\n', 'k'), /field bogus not found/);
  assert.throws(() => parseResponseCacheConfig('type: MEMCACHED\nconfig: {}\n', 'k'), /no memcached addresses/);
  assert.throws(() => parseResponseCacheConfig('type: IN-MEMORY\nconfig:\n  max_items: 1\n', 'k'), /unknown field "max_items"/);
  assert.throws(() => parseResponseCacheConfig('type: FOO\n', 'k'), /type FOO is not supported/);
  assert.throws(() => parseResponseCacheConfig('type: IN-MEMORY\nextra: 1\n', 'k'), /field extra not found/);
});

test('flags: Thanos defaults, unimplemented ones refused by name', () => {
  const parsed = parseFlags([], queryFrontendFlags, { context: 'thanos query-frontend' });
  const cfg = parseQueryFrontendConfig(parsed.values);
  assert.is(cfg.downstreamUrl, 'http://localhost:9090');
  assert.is(cfg.splitIntervalMs, DAY);
  assert.is(cfg.maxRetries, 5);
  assert.is(cfg.maxQueryParallelism, 14);
  assert.is(cfg.maxFreshnessMs, MIN);
  assert.is(cfg.labelsDefaultTimeRangeMs, DAY);
  assert.ok(cfg.alignRangeWithStep && cfg.requestDownsampled && cfg.partialResponse);
  assert.throws(() => parseFlags(['--query-range.horizontal-shards=2'], queryFrontendFlags), /--query-range.horizontal-shards=2 is not implemented yet/);
  assert.is(parseQueryFrontendConfig(parseFlags(['--query-frontend.vertical-shards=2'], queryFrontendFlags).values).verticalShards, 2);
  assert.is(cfg.verticalShards, 0, 'vertical sharding off by default');
  assert.is(parseQueryFrontendConfig({ verticalShards: -1 }).verticalShards, 0, 'as upstream: <= 0 is off');
  assert.throws(() => parseFlags(['--query-frontend.downstream-tripper-config-file=x.yaml'], queryFrontendFlags), /downstream-tripper-config-file="x.yaml" is not implemented yet/);
  assert.throws(() => parseFlags(['--grpc-address=0.0.0.0:1'], queryFrontendFlags), /not a flag of thanos query-frontend/);
  assert.throws(() => parseFlags(['--query-range.nope=1'], queryFrontendFlags), /unknown flag --query-range.nope/);
  assert.throws(() => parseQueryFrontendConfig({ verticalShards: 'x' }), /verticalShards/);
  assert.throws(() => parseQueryFrontendConfig({ nope: 1 }), /nope: unknown key/);
  assert.throws(() => parseQueryFrontendConfig({ cacheCompressionType: 'lz4' }), /unsupported compression type: lz4/);
  assert.throws(() => parseQueryFrontendConfig({ queryRangeSplitInterval: '0', queryRangeResponseCacheConfig: 'type: IN-MEMORY\nconfig: {max_size_items: 5}' }), /should be greater than 0 when caching is enabled/);
  assert.throws(() => parseQueryFrontendConfig({ labelsDefaultTimeRange: '0s' }), /cannot be set to 0/);
  assert.is(parseQueryFrontendConfig({ logQueriesLongerThan: '-1s' }).logQueriesLongerThanMs, -1000);
});

test('flags: every flag not refused changes the parsed config (none is silently accepted)', () => {
  const samples: Record<string, unknown> = {
    queryRangeResponseCacheConfig: 'type: IN-MEMORY\nconfig: {max_size_items: 5}', queryRangeResponseCacheConfigFile: 'c.yaml',
    labelsResponseCacheConfig: 'type: IN-MEMORY\nconfig: {max_size_items: 5}', labelsResponseCacheConfigFile: 'c.yaml',
    downstreamUrl: 'http://q:1', logQueriesLongerThan: '5s', cacheCompressionType: 'snappy', forwardHeaders: ['X-Org'],
  };
  const base = JSON.stringify(parseQueryFrontendConfig({}));
  let checked = 0;
  for (const f of queryFrontendFlags) {
    if (f.refused !== undefined) continue;
    const v = samples[f.key] ?? (f.type === 'bool' ? !(f.default ?? false) : f.type === 'int' ? Number(f.default ?? 0) + 3 : f.type === 'duration' ? '999h' : 'x');
    assert.is.not(JSON.stringify(parseQueryFrontendConfig({ [f.key]: v })), base, `--${f.name}=${JSON.stringify(v)} changes nothing`);
    checked++;
  }
  assert.ok(checked >= 20);
});

// ---- the frontend against a fake downstream ------------------------------------------------------

interface Fake {
  calls: Array<{ path: string; start: number; end: number; step: number; query: string }>;
  failNext: number;
  failStatus: number;
}

/** A downstream answering every range query with one series sampled at each step: value = t in seconds. */
function fakeDownstream(f: Fake): FrontendOptions['fetch'] {
  return async (url, init) => {
    const u = new URL(url);
    const p = new URLSearchParams(String(init?.body ?? ''));
    const start = Math.round(Number(p.get('start')) * 1000);
    const end = Math.round(Number(p.get('end')) * 1000);
    const step = Math.round(Number(p.get('step')) * 1000);
    f.calls.push({ path: u.pathname, start, end, step, query: p.get('query') ?? '' });
    if (f.failNext > 0) {
      f.failNext--;
      return new Response('{"status":"error","errorType":"internal","error":"boom"}', { status: f.failStatus });
    }
    if (u.pathname.endsWith('/labels')) return Response.json({ status: 'success', data: [`l${start}`] });
    const values: Array<[number, string]> = [];
    for (let t = start; t <= end; t += step) values.push([t / 1000, String(t / 1000)]);
    return Response.json({ status: 'success', data: { resultType: 'matrix', result: values.length ? [{ metric: { job: 'x' }, values }] : [] } });
  };
}

function frontend(f: Fake, opts: { now: () => number; cache?: boolean; freshness?: number; split?: number; maxLen?: number; retries?: number; registry?: Registry }) {
  const registry = opts.registry ?? new Registry();
  const cache = opts.cache ? createResponseCache({ type: 'IN-MEMORY', maxSizeBytes: 64 << 20, maxSizeItems: 0, validityMs: 0 }, { metrics: registry, tripperware: 'query_range', compression: 'snappy' }) : undefined;
  return new QueryFrontend({
    downstreamUrl: 'http://downstream:9090',
    range: {
      splitIntervalMs: opts.split ?? H, alignRangeWithStep: true, requestDownsampled: true, maxRetries: opts.retries ?? 5, maxQueryLengthMs: opts.maxLen ?? 0,
      maxQueryParallelism: 14, maxFreshnessMs: opts.freshness ?? MIN, partialResponse: true, cache,
    },
    labels: { splitIntervalMs: DAY, maxRetries: 5, maxQueryParallelism: 14, maxFreshnessMs: MIN, partialResponse: true, defaultTimeRangeMs: DAY },
    instantMaxRetries: 5, forwardHeaders: [], compressResponses: false, logQueriesLongerThanMs: 0, disableCors: false,
    fetch: fakeDownstream(f), log: createLogger({ level: 'error', write: () => {} }), metrics: registry, now: opts.now, backoffMs: () => 1,
  });
}

async function rangeQuery(fe: QueryFrontend, start: number, end: number, step: number, query = 'up'): Promise<{ status: number; body: any }> {
  const q = new URLSearchParams({ query, start: String(start / 1000), end: String(end / 1000), step: String(step / 1000) });
  const res = await fe.handle(new Request(`http://fe/api/v1/query_range?${q}`));
  return { status: res.status, body: await res.json() };
}

const T0 = Date.UTC(2024, 5, 1, 0, 0, 0);

test('results cache: a repeat is served from the cache; a range moved forward asks only for the new part', async () => {
  const f: Fake = { calls: [], failNext: 0, failStatus: 500 };
  const now = T0 + 10 * DAY;
  const fe = frontend(f, { now: () => now, cache: true });
  const first = await rangeQuery(fe, T0, T0 + 3 * H, MIN);
  assert.is(first.status, 200);
  assert.is(f.calls.length, 3, 'one downstream request per hour');
  assert.is(first.body.data.result[0].values.length, 181);
  f.calls.length = 0;
  const again = await rangeQuery(fe, T0, T0 + 3 * H, MIN);
  assert.is(f.calls.length, 0, 'repeat: no downstream request');
  assert.equal(again.body, first.body);
  // Moved forward by 30m: the first three windows are covered, the new one is asked for.
  const moved = await rangeQuery(fe, T0 + 30 * MIN, T0 + 3 * H + 30 * MIN, MIN);
  assert.equal(f.calls.map((c) => [c.start, c.end]), [[T0 + 3 * H, T0 + 3 * H + 30 * MIN]]);
  assert.is(moved.body.data.result[0].values.length, 181);
  assert.is(moved.body.data.result[0].values[0][0], (T0 + 30 * MIN) / 1000);
  // Within one window: [0, 20m] then [0, 40m] asks only for (20m, 40m]; then [0, 40m] is one merged extent.
  f.calls.length = 0;
  const W = T0 + 5 * H;
  await rangeQuery(fe, W, W + 20 * MIN, MIN);
  await rangeQuery(fe, W, W + 40 * MIN, MIN);
  assert.equal(f.calls.map((c) => [c.start - W, c.end - W]), [[0, 20 * MIN], [20 * MIN, 40 * MIN]]);
  const merged = await rangeQuery(fe, W, W + 40 * MIN, MIN);
  assert.is(f.calls.length, 2, 'merged extent answers the whole range');
  assert.is(merged.body.data.result[0].values.length, 41);
  assert.equal(merged.body.data.result[0].values.map((v: [number, string]) => v[0]), Array.from({ length: 41 }, (_, i) => (W + i * MIN) / 1000));
});

test('results cache: a coarser step is answered from a finer step\'s cached points', async () => {
  const f: Fake = { calls: [], failNext: 0, failStatus: 500 };
  const fe = frontend(f, { now: () => T0 + 10 * DAY, cache: true });
  await rangeQuery(fe, T0, T0 + 55 * MIN, MIN);
  assert.is(f.calls.length, 1);
  f.calls.length = 0;
  const coarse = await rangeQuery(fe, T0, T0 + 55 * MIN, 5 * MIN);
  assert.is(f.calls.length, 0, 'served from the 1m answer');
  assert.equal(coarse.body.data.result[0].values.map((v: [number, string]) => v[0]), Array.from({ length: 12 }, (_, i) => (T0 + i * 5 * MIN) / 1000));
  // 7m is not a common step: its own key only.
  await rangeQuery(fe, T0, T0 + 49 * MIN, 7 * MIN);
  assert.ok(f.calls.length > 0, 'asked downstream');
});

test('results cache: nothing inside the freshness window is kept', async () => {
  const f: Fake = { calls: [], failNext: 0, failStatus: 500 };
  let now = T0 + 50 * MIN;
  const fe = frontend(f, { now: () => now, cache: true, freshness: 10 * MIN });
  await rangeQuery(fe, T0, T0 + 50 * MIN, MIN);
  assert.is(f.calls.length, 1);
  f.calls.length = 0;
  const again = await rangeQuery(fe, T0, T0 + 50 * MIN, MIN);
  // The last 10 minutes were not cached: asked for again, and only they.
  assert.equal(f.calls.map((c) => [c.start - T0, c.end - T0]), [[40 * MIN, 50 * MIN]]);
  assert.is(again.body.data.result[0].values.length, 51);
  // A request starting inside the window skips the cache entirely.
  f.calls.length = 0;
  await rangeQuery(fe, T0 + 45 * MIN, T0 + 50 * MIN, MIN);
  await rangeQuery(fe, T0 + 45 * MIN, T0 + 50 * MIN, MIN);
  assert.is(f.calls.length, 2);
  // Later, the once-fresh minutes are old enough: cached after one more request.
  now = T0 + 2 * H;
  f.calls.length = 0;
  await rangeQuery(fe, T0, T0 + 50 * MIN, MIN);
  await rangeQuery(fe, T0, T0 + 50 * MIN, MIN);
  assert.equal(f.calls.map((c) => [c.start - T0, c.end - T0]), [[40 * MIN, 50 * MIN]]);
});

test('retries: a 5xx is retried, a 4xx is final, and max-retries bounds the attempts', async () => {
  const f: Fake = { calls: [], failNext: 1, failStatus: 503 };
  const registry = new Registry();
  const fe = frontend(f, { now: () => T0 + DAY, registry });
  const ok = await rangeQuery(fe, T0, T0 + 30 * MIN, MIN);
  assert.is(ok.status, 200);
  assert.is(f.calls.length, 2);
  f.calls.length = 0;
  f.failNext = 1;
  f.failStatus = 422;
  const bad = await rangeQuery(fe, T0, T0 + 30 * MIN, MIN);
  assert.is(bad.status, 422);
  assert.is(bad.body.error, 'boom');
  assert.is(f.calls.length, 1);
  f.calls.length = 0;
  f.failNext = 100;
  f.failStatus = 500;
  const fe2 = frontend(f, { now: () => T0 + DAY, retries: 3 });
  const down = await rangeQuery(fe2, T0, T0 + 30 * MIN, MIN);
  assert.is(down.status, 500);
  assert.is(f.calls.length, 3);
  // One request retried once (tries=1), one answered 4xx at once (tries=0).
  assert.match(registry.render(), /cortex_query_frontend_retries_bucket\{tripperware="query_range",le="0"\} 1\n/);
  assert.match(registry.render(), /cortex_query_frontend_retries_bucket\{tripperware="query_range",le="1"\} 2\n/);
  assert.match(registry.render(), /cortex_frontend_query_range_duration_seconds_count\{method="split_by_interval",status_code="success",tripperware="query_range"\} 1\n/);
  assert.match(registry.render(), /cortex_frontend_query_range_duration_seconds_count\{method="retry",status_code="error",tripperware="query_range"\} 1\n/);
});

test('limits: max-query-length refuses long ranges; bad parameters are 400', async () => {
  const f: Fake = { calls: [], failNext: 0, failStatus: 500 };
  const fe = frontend(f, { now: () => T0 + DAY, maxLen: H });
  const long = await rangeQuery(fe, T0, T0 + 2 * H, MIN);
  assert.is(long.status, 400);
  assert.match(long.body.error, /the query time range exceeds the limit \(query length: 2h0m0s, limit: 1h0m0s\)/);
  const res = await fe.handle(new Request('http://fe/api/v1/query_range?query=up&start=10&end=5&step=1'));
  assert.is(res.status, 400);
  const tooMany = await fe.handle(new Request('http://fe/api/v1/query_range?query=up&start=0&end=100000&step=1'));
  assert.is(tooMany.status, 400);
  assert.match(((await tooMany.json()) as { error: string }).error, /11,000 points/);
  assert.is(f.calls.length, 0);
  // A POST form: its values win over the URL's (Go's FormValue).
  const post = await fe.handle(new Request('http://fe/api/v1/query_range?start=oops', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: 'up', start: String(T0 / 1000), end: String((T0 + 10 * MIN) / 1000), step: '60' }).toString(),
  }));
  assert.is(post.status, 200);
  assert.equal(f.calls.map((c) => [c.start, c.end, c.query]), [[T0, T0 + 10 * MIN, 'up']]);
});

test('labels: split by interval, answers merged into one sorted list', async () => {
  const f: Fake = { calls: [], failNext: 0, failStatus: 500 };
  const fe = frontend(f, { now: () => T0 + 10 * DAY });
  const res = await fe.handle(new Request(`http://fe/api/v1/labels?start=${T0 / 1000}&end=${(T0 + 2 * DAY) / 1000}`));
  const body = (await res.json()) as { data: string[] };
  assert.is(f.calls.length, 2);
  assert.equal(body.data, [`l${T0}`, `l${T0 + DAY}`]);
});

test('proxying, CORS, gzip, slow query log, and a client that goes away', async () => {
  const logs: string[] = [];
  const seenSignals: Array<AbortSignal | undefined> = [];
  let calls = 0;
  const fe = new QueryFrontend({
    downstreamUrl: 'http://downstream:9090/',
    range: { splitIntervalMs: H, alignRangeWithStep: true, requestDownsampled: true, maxRetries: 5, maxQueryLengthMs: 0, maxQueryParallelism: 2, maxFreshnessMs: MIN, partialResponse: true },
    labels: { splitIntervalMs: DAY, maxRetries: 5, maxQueryParallelism: 14, maxFreshnessMs: MIN, partialResponse: true, defaultTimeRangeMs: DAY },
    instantMaxRetries: 3, forwardHeaders: ['X-Scope'], compressResponses: true, logQueriesLongerThanMs: -1, disableCors: false,
    log: createLogger({ level: 'info', write: (l) => void logs.push(l) }), backoffMs: () => 1, now: () => T0 + DAY,
    fetch: async (url, init) => {
      calls++;
      seenSignals.push(init?.signal ?? undefined);
      const u = new URL(url);
      if (u.pathname === '/api/v1/query') {
        const h = new Headers(init?.headers);
        return Response.json({ status: 'success', data: { resultType: 'vector', result: [], scope: h.get('x-scope') } });
      }
      if (u.pathname === '/api/v1/status/config') return new Response('{"status":"success","data":{"yaml":""}}', { status: 200, headers: { 'content-type': 'application/json', 'x-extra': '1' } });
      // Range pieces hang until the client goes away.
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    },
  });
  const inst = await fe.handle(new Request('http://fe/api/v1/query?query=up&time=1', { headers: { 'X-Scope': 'team-a', 'Accept-Encoding': 'gzip' } }));
  assert.is(inst.status, 200);
  assert.is(inst.headers.get('content-encoding'), 'gzip');
  assert.is(inst.headers.get('access-control-allow-origin'), '*');
  const text = new TextDecoder().decode(new Uint8Array(await new Response(inst.body!.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer()));
  assert.is(JSON.parse(text).data.scope, 'team-a', 'headers reach the downstream of proxied paths');
  const other = await fe.handle(new Request('http://fe/api/v1/status/config'));
  assert.is(other.headers.get('x-extra'), '1');
  assert.ok(logs.some((l) => l.includes('slow query detected') && l.includes('param_query=up')), logs.join('\n'));
  // The client aborts a 3-piece range query: the running pieces are cancelled, nothing is retried.
  const ac = new AbortController();
  calls = 0;
  const q = new URLSearchParams({ query: 'up', start: String(T0 / 1000), end: String((T0 + 3 * H) / 1000), step: '60' });
  const pending = fe.handle(new Request(`http://fe/api/v1/query_range?${q}`, { signal: ac.signal }));
  await new Promise((r) => setTimeout(r, 20));
  assert.is(calls, 2, 'max-query-parallelism bounds the pieces in flight');
  ac.abort();
  const res = await pending;
  assert.is(res.status, 500);
  await new Promise((r) => setTimeout(r, 20));
  assert.is(calls, 2, 'no retries and no further pieces after the client went away');
  assert.ok(seenSignals.slice(-2).every((sg) => sg?.aborted));
});

test('IN-MEMORY cache: entry bound (least recently used goes), byte bound, validity', async () => {
  let now = 0;
  const c = new InMemoryResponseCache({ type: 'IN-MEMORY', maxSizeBytes: 0, maxSizeItems: 2, validityMs: 1000 }, () => now);
  const v = (n: number) => new Uint8Array(n);
  c.store('a', v(1));
  c.store('b', v(1));
  await c.fetch(['a']); // a is now the most recently used
  c.store('c', v(1));
  assert.equal([...(await c.fetch(['a', 'b', 'c'])).keys()], ['a', 'c']);
  now = 1500;
  assert.is((await c.fetch(['a'])).size, 0, 'stale after validity');
  const bytes = new InMemoryResponseCache({ type: 'IN-MEMORY', maxSizeBytes: 1000, maxSizeItems: 0, validityMs: 0 });
  for (let i = 0; i < 10; i++) bytes.store(`k${i}`, v(300));
  assert.ok(bytes.size <= 3, `${bytes.size} entries of 300 bytes under a 1000-byte bound`);
  bytes.store('huge', v(5000));
  assert.is((await bytes.fetch(['huge'])).size, 0, 'larger than the whole cache: not kept');
});

test('labels cache: a repeated labels request is answered from the cache', async () => {
  const f: Fake = { calls: [], failNext: 0, failStatus: 500 };
  const registry = new Registry();
  const cache = createResponseCache({ type: 'IN-MEMORY', maxSizeBytes: 1 << 20, maxSizeItems: 0, validityMs: 0 }, { metrics: registry, tripperware: 'labels', compression: '' });
  const fe = new QueryFrontend({
    downstreamUrl: 'http://downstream:9090',
    range: { splitIntervalMs: H, alignRangeWithStep: true, requestDownsampled: true, maxRetries: 5, maxQueryLengthMs: 0, maxQueryParallelism: 14, maxFreshnessMs: MIN, partialResponse: true },
    labels: { splitIntervalMs: DAY, maxRetries: 5, maxQueryParallelism: 14, maxFreshnessMs: MIN, partialResponse: true, defaultTimeRangeMs: DAY, cache },
    instantMaxRetries: 5, forwardHeaders: [], compressResponses: false, logQueriesLongerThanMs: 0, disableCors: false,
    fetch: fakeDownstream(f), log: createLogger({ level: 'error', write: () => {} }), metrics: registry, now: () => T0 + 10 * DAY,
  });
  const url = `http://fe/api/v1/labels?start=${T0 / 1000}&end=${(T0 + 2 * DAY) / 1000}`;
  const first = (await (await fe.handle(new Request(url))).json()) as { data: string[] };
  assert.is(f.calls.length, 2);
  const again = (await (await fe.handle(new Request(url))).json()) as { data: string[] };
  assert.is(f.calls.length, 2, 'no downstream request on repeat');
  assert.equal(again.data, first.data);
  assert.match(registry.render(), /cortex_cache_hits_total\{name="fifocache",tripperware="labels"\} 2\n/);
});

test.run();
