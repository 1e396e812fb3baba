// The query frontend's metrics as upstream exposes them (issue #14): Cortex's fifocache metrics
// (querier_cache_*, cache="fifocache") and cache.Instrument's (cortex_cache_*) per tripperware, and
// Thanos's HTTP metrics under the one handler name "query-frontend" with a tenant label. The cache
// parts run in process against the host's registry; the HTTP part is a real `thanos query-frontend`
// in front of a small downstream on loopback, scraped over HTTP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../../host/metrics.ts';
import { createResponseCache, InMemoryResponseCache } from '../../lib/queryfrontend/mod.ts';
import { QUERY_FRONTEND_HANDLER, queryFrontendInstrumentation } from '../../lib/web/handlers.ts';
import { freePort, httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { mixinGaps, seriesOf, valueOf } from '../mixin/components.ts';

const FIFO = { cache: 'fifocache', tripperware: 'query_range' };

test('fifocache: querier_cache_* exist at 0, then count gets, misses, stale gets, adds and evictions', async () => {
  const registry = new Registry();
  let now = 1_000_000;
  const c = new InMemoryResponseCache({ type: 'IN-MEMORY', maxSizeBytes: 0, maxSizeItems: 2, validityMs: 1000 }, () => now, { metrics: registry, tripperware: 'query_range' });
  const at0 = registry.render();
  for (const name of ['added', 'added_new', 'evicted', 'gets', 'misses', 'stale_gets']) {
    assert.is(seriesOf(at0, `querier_cache_${name}_total`, FIFO).length, 1, `querier_cache_${name}_total at 0`);
  }
  assert.is(seriesOf(at0, 'querier_cache_entries', FIFO).length, 1);
  assert.is(seriesOf(at0, 'querier_cache_memory_bytes', FIFO).length, 1);

  const v = (n: number) => new Uint8Array(n);
  c.store('a', v(10));
  c.store('b', v(10));
  c.store('a', v(20)); // a replacement: added, not new
  await c.fetch(['a', 'x']);
  c.store('c', v(10)); // b is evicted (two entries at most)
  now += 1000; // every entry is now as old as the validity: stale
  await c.fetch(['a', 'c']);
  const t = registry.render();
  const val = (name: string) => valueOf(t, name, FIFO);
  assert.is(val('querier_cache_added_total'), 4);
  assert.is(val('querier_cache_added_new_total'), 3);
  assert.is(val('querier_cache_evicted_total'), 1);
  assert.is(val('querier_cache_gets_total'), 4);
  assert.is(val('querier_cache_misses_total'), 3, 'x missing, a and c stale');
  assert.is(val('querier_cache_stale_gets_total'), 2);
  assert.is(val('querier_cache_entries'), 2, 'stale entries stay until replaced or evicted');
  assert.is(val('querier_cache_memory_bytes'), (120 + 1 + 20) + (120 + 1 + 10));
  await c.close();
  const closed = registry.render();
  assert.is(valueOf(closed, 'querier_cache_evicted_total', FIFO), 3, 'closing evicts what is left');
  assert.is(valueOf(closed, 'querier_cache_entries', FIFO), 0);
  assert.is(valueOf(closed, 'querier_cache_memory_bytes', FIFO), 0);
});

test('cache.Instrument: value sizes at 0 from the start; request durations and sizes per fetch and store', async () => {
  const registry = new Registry();
  const cache = createResponseCache({ type: 'IN-MEMORY', maxSizeBytes: 1 << 20, maxSizeItems: 0, validityMs: 0 }, { metrics: registry, tripperware: 'labels', compression: '' })!;
  const L = { name: 'fifocache', tripperware: 'labels' };
  const at0 = registry.render();
  assert.is(valueOf(at0, 'cortex_cache_value_size_bytes_count', { ...L, method: 'store' }), 0);
  assert.is(seriesOf(at0, 'cortex_cache_value_size_bytes_count', { ...L, method: 'fetch' }).length, 1);
  assert.is(seriesOf(at0, 'cortex_cache_request_duration_seconds_count').length, 0, 'created by the first request, as upstream');
  // Both caches of one frontend share the families: series apart by tripperware.
  assert.is(seriesOf(at0, 'querier_cache_gets_total', { cache: 'fifocache', tripperware: 'labels' }).length, 1);

  cache.put('k1', new Uint8Array(3000));
  assert.ok(await cache.get('k1'));
  assert.is(await cache.get('k2'), undefined);
  const t = registry.render();
  assert.is(valueOf(t, 'cortex_cache_request_duration_seconds_count', { ...L, method: 'fifocache.store', status_code: '200' }), 1);
  assert.is(valueOf(t, 'cortex_cache_request_duration_seconds_count', { ...L, method: 'fifocache.fetch', status_code: '200' }), 2);
  // Buckets: ExponentialBuckets(0.000016, 4, 8) for durations, ExponentialBuckets(1024, 4, 7) for sizes.
  const les = (name: string, ls: Record<string, string>) => seriesOf(t, name, ls).map((s) => Number(s.labels.le === '+Inf' ? Infinity : s.labels.le));
  assert.equal(les('cortex_cache_request_duration_seconds_bucket', { ...L, method: 'fifocache.fetch' }), [0.000016, 0.000064, 0.000256, 0.001024, 0.004096, 0.016384, 0.065536, 0.262144, Infinity]);
  assert.equal(les('cortex_cache_value_size_bytes_bucket', { ...L, method: 'store' }), [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, Infinity]);
  assert.is(valueOf(t, 'cortex_cache_value_size_bytes_bucket', { ...L, method: 'store', le: '1024' }), 0);
  assert.is(valueOf(t, 'cortex_cache_value_size_bytes_bucket', { ...L, method: 'store', le: '4096' }), 1);
  assert.is(valueOf(t, 'cortex_cache_value_size_bytes_sum', { ...L, method: 'fetch' }), 3000);
  assert.is(valueOf(t, 'querier_cache_gets_total', { cache: 'fifocache', tripperware: 'labels' }), 2);
  assert.is(valueOf(t, 'querier_cache_misses_total', { cache: 'fifocache', tripperware: 'labels' }), 1);
});

test('handler names: everything the frontend serves is "query-frontend"; the HTTP server\'s own routes are not instrumented', () => {
  const ins = queryFrontendInstrumentation({ header: 'THANOS-TENANT', default: 'default-tenant' });
  const name = (method: string, path: string) => ins.handlerName(new Request(`http://fe${path}`, { method }));
  assert.is(QUERY_FRONTEND_HANDLER, 'query-frontend');
  for (const [m, p] of [['GET', '/api/v1/query_range'], ['POST', '/api/v1/query'], ['GET', '/api/v1/label/job/values'], ['GET', '/'], ['DELETE', '/anything/else'], ['GET', '/metrics/extra']]) {
    assert.is(name(m!, p!), 'query-frontend', `${m} ${p}`);
  }
  for (const p of ['/metrics', '/-/healthy', '/-/ready', '/debug/pprof/', '/debug/pprof/heap', '/debug/fgprof']) assert.is(name('GET', p), undefined, p);
  assert.equal(ins.tenant, { header: 'THANOS-TENANT', default: 'default-tenant' });
});

// ---- a real frontend ---------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'qfe-metrics-'));
let downstream: Server | undefined;
let fe: Proc | undefined;
let fePort = 0;

const MATRIX = JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { job: 'a' }, values: [[1_700_000_000, '1']] }] } });

/** A Prometheus-like downstream: ready, range queries answered, instant queries fail (500). */
function startDownstream(port: number): Promise<Server> {
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/-/ready') return void res.writeHead(200).end('OK');
      if (path === '/api/v1/query_range') return void res.writeHead(200, { 'content-type': 'application/json' }).end(MATRIX);
      if (path === '/api/v1/query') return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"status":"error","errorType":"internal","error":"injected"}');
      res.writeHead(404).end('not found');
    });
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

test.after(async () => {
  await fe?.kill();
  await new Promise((r) => (downstream ? downstream.close(r) : r(undefined)));
  rmSync(dir, { recursive: true, force: true });
});

test('thanos query-frontend: http_* under handler "query-frontend" with the tenant; cache metrics; the mixin\'s reads all there', async () => {
  const dsPort = await freePort();
  downstream = await startDownstream(dsPort);
  fePort = await freePort();
  fe = thanos('qfe', ['query-frontend', '--http-address', `127.0.0.1:${fePort}`, '--query-frontend.downstream-url', `http://127.0.0.1:${dsPort}`,
    '--query-range.split-interval=1h', '--query.max-retries-per-request=1', '--query-range.response-cache-config=type: IN-MEMORY\nconfig:\n  max_size: 1MB\n'], dir);
  await waitFor(() => httpReady(fePort), STARTUP_MS, 'frontend ready', fe.logs);
  const base = `http://127.0.0.1:${fePort}`;
  const range = `${base}/api/v1/query_range?query=up&start=1699990000&end=1700000000&step=60`;
  for (let i = 0; i < 2; i++) assert.is((await (await fetch(range)).text()).includes('"matrix"'), true);
  const tenantA = await fetch(range, { headers: { 'THANOS-TENANT': 'team-a' } });
  assert.is(tenantA.status, 200, await tenantA.text());
  const failed = await fetch(`${base}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: 'up' }) });
  assert.is(failed.status, 500, await failed.text());

  const text = await (await fetch(`${base}/metrics`)).text();
  const http = { handler: 'query-frontend', tenant: 'default-tenant' };
  assert.is(valueOf(text, 'http_requests_total', { ...http, code: '200', method: 'get' }), 2);
  assert.is(valueOf(text, 'http_requests_total', { ...http, tenant: 'team-a', code: '200', method: 'get' }), 1);
  assert.is(valueOf(text, 'http_requests_total', { ...http, code: '500', method: 'post' }), 1);
  assert.is(valueOf(text, 'http_request_duration_seconds_count', { ...http, code: '200', method: 'get' }), 2);
  assert.ok(seriesOf(text, 'http_request_duration_seconds_bucket', { ...http, le: '+Inf' }).length >= 2);
  // Only the one handler name; /metrics and the readiness probes are not counted.
  assert.equal([...new Set(seriesOf(text, 'http_requests_total').map((s) => s.labels.handler))], ['query-frontend']);
  // The range queries went through the query_range cache; the labels cache is not configured.
  assert.ok(valueOf(text, 'querier_cache_gets_total', FIFO) >= 3, 'one get per split piece and query');
  assert.ok(valueOf(text, 'querier_cache_misses_total', FIFO) >= 1);
  assert.ok(valueOf(text, 'cortex_cache_request_duration_seconds_count', { name: 'fifocache', tripperware: 'query_range', method: 'fifocache.fetch' }) >= 3);
  assert.is(seriesOf(text, 'querier_cache_gets_total', { tripperware: 'labels' }).length, 0);
  assert.is(valueOf(text, 'thanos_query_frontend_queries_total', { op: 'query_range' }), 3);
  assert.is(valueOf(text, 'thanos_query_frontend_queries_total', { op: 'query' }), 1);
  assert.equal(mixinGaps('query-frontend', text, [
    { metric: 'thanos_query_frontend_queries_total', label: 'code', reason: 'upstream\'s counter has only op' },
    { metric: 'thanos_query_frontend_queries_total', label: 'handler', reason: 'upstream\'s counter has only op' },
  ]), []);
});

test.run();
