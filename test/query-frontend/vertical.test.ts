// Vertical query sharding end to end on loopback: promtool-made blocks (5 hours) in two FILESYSTEM
// buckets (replica="A" and "B"), two real `thanos store` gateways, `thanos query` deduplicating
// over them, and a real `thanos query-frontend --query-frontend.vertical-shards=3` splitting by
// 1h with the in-memory results cache. The frontend's answers (range, and instant: shards merged as
// Thanos merges them) equal the querier's on the query set of the querier's and frontend's equality tests; the querier asked with each shard_info directly
// answers disjoint shards whose union is the unsharded answer (the gateways filter by the shard).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpReady, openMetrics, promtoolBlocks, thanos, toBucket, waitFor, writeBucketConfig, type Fixture, type Proc } from '../query/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { valueOf } from '../mixin/components.ts';
import { analyzeQuery, isShardable } from '../../lib/queryfrontend/shard.ts';
import { get, rangePath } from './http.ts';

const dir = mkdtempSync(join(tmpdir(), 'qfe-vertical-'));
const MIN = 60_000;
const H = 3600_000;
const END = Math.floor((Date.now() - H) / MIN) * MIN;
const fx: Fixture = { start: END - 5 * H, end: END, stepMs: 15_000, offsetMs: 3217 };
const procs: Proc[] = [];
let querier = 0;
let frontend = 0;

test.before(async () => {
  writeFileSync(join(dir, 'full.om'), openMetrics(fx));
  const ids = await promtoolBlocks(join(dir, 'full.om'), join(dir, 'blocks'));
  const storeGrpc: number[] = [];
  const ready: Array<Promise<void>> = [];
  for (const replica of ['A', 'B']) {
    toBucket(join(dir, 'blocks'), ids, join(dir, `bucket${replica}`), { replica });
    writeBucketConfig(join(dir, `bucket${replica}.yaml`), join(dir, `bucket${replica}`));
    const grpc = await freePort();
    const http = await freePort();
    const p = thanos(`store-${replica}`, ['store', '--data-dir', join(dir, `store${replica}`), '--objstore.config-file', join(dir, `bucket${replica}.yaml`),
      '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
    procs.push(p);
    storeGrpc.push(grpc);
    ready.push(waitFor(() => httpReady(http), STARTUP_MS, `store ${replica} ready`, p.logs));
  }
  await Promise.all(ready);
  querier = await freePort();
  const q = thanos('query', ['query', '--http-address', `127.0.0.1:${querier}`, '--grpc-address', `127.0.0.1:${await freePort()}`,
    ...storeGrpc.flatMap((p) => ['--endpoint', `127.0.0.1:${p}`]), '--query.replica-label', 'replica', '--endpoint.info-interval', '1s'], dir);
  procs.push(q);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${querier}/api/v1/stores`)).json()) as any;
    return (r.data.store ?? []).filter((s: { lastError: string | null }) => s.lastError === null).length === 2;
  }, STARTUP_MS, 'querier sees both stores', q.logs);
  frontend = await freePort();
  const fe = thanos('fe', ['query-frontend', '--http-address', `127.0.0.1:${frontend}`, '--query-frontend.downstream-url', `http://127.0.0.1:${querier}`,
    '--query-range.split-interval=1h', '--query-frontend.vertical-shards=3', '--query-range.response-cache-config=type: IN-MEMORY\nconfig:\n  max_size: 64MB\n'], dir);
  procs.push(fe);
  await waitFor(() => httpReady(frontend), STARTUP_MS, 'frontend ready', fe.logs);
});

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  rmSync(dir, { recursive: true, force: true });
});

// The querier's and the frontend's equality query sets (test/query/e2e.test.ts, test/query-frontend/e2e.test.ts),
// plus aggregations of every sharding shape: by, without, vector matching on/ignoring, histogram_quantile.
const QUERIES = [
  'e2e_temperature{room!="gap"}',
  'e2e_requests_total',
  'sum by (job) (rate(e2e_requests_total[5m]))',
  'increase(e2e_requests_total{code="500"}[10m])',
  'irate(e2e_requests_total{job="web"}[2m])',
  'histogram_quantile(0.9, rate(e2e_latency_seconds_bucket[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(e2e_latency_seconds_bucket[10m])))',
  'avg_over_time(e2e_temperature{room!="gap"}[15m])',
  'max_over_time(e2e_temperature{room!="gap"}[30m]) - min_over_time(e2e_temperature{room!="gap"}[30m])',
  'topk(2, e2e_requests_total)',
  'count(e2e_temperature > 21)',
  'e2e_temperature{room="a"} offset 30m',
  'sum(e2e_requests_total) by (code) / ignoring(code) group_left sum(e2e_requests_total)',
  'label_replace(e2e_temperature{room="b"}, "x", "$1", "room", "(.*)")',
  'scalar(sum(e2e_temperature{room!="gap"}))',
  'deriv(e2e_temperature{room="a"}[10m])',
  'quantile_over_time(0.5, e2e_temperature{room="b"}[20m])',
  'max_over_time(e2e_temperature[30m:1m])',
  'sum by (code, instance, job) (rate(e2e_requests_total[5m]))',
  'sum without (instance) (rate(e2e_requests_total[5m]))',
  'max by (job) (sum by (job, code) (increase(e2e_requests_total[15m])))',
  'topk by (job) (1, rate(e2e_requests_total[5m]))',
  'sum by (job, code) (rate(e2e_requests_total[5m])) / on (job) group_left sum by (job) (rate(e2e_requests_total[5m]))',
  'count_values by (room) ("v", round(e2e_temperature))',
  'avg by (room) (e2e_temperature) > 21',
  'sum by (job) (rate(e2e_requests_total[5m])) and on (job) sum by (job) (rate(e2e_requests_total{code="500"}[5m]))',
  'rate(e2e_requests_total[5m]) / e2e_requests_total',
];

test('range queries through the sharding frontend equal the querier\'s (dedup over two replicas)', async () => {
  // about three 1h pieces: every query runs split and sharded, in little time
  // aligned to the step: the frontend aligns ranges (--query-range.align-range-with-step), the querier does not
  const start = Math.ceil((fx.start + 67 * MIN) / (2 * MIN)) * 2 * MIN;
  const end = start + 2 * H + 40 * MIN;
  const diffs: string[] = [];
  let shardable = 0;
  for (const q of QUERIES) {
    if (isShardable(analyzeQuery(q))) shardable++;
    const path = rangePath(q, start, end, 120);
    const [fe, direct] = await Promise.all([get(frontend, path), get(querier, path)]);
    if (fe.status !== 200 || direct.status !== 200) diffs.push(`${q}: status ${fe.status} vs ${direct.status}: ${fe.text.slice(0, 300)}`);
    else if (JSON.stringify(fe.body.data) !== JSON.stringify(direct.body.data)) diffs.push(`${q}:\n fe:     ${JSON.stringify(fe.body.data).slice(0, 400)}\n direct: ${JSON.stringify(direct.body.data).slice(0, 400)}`);
    else if (direct.body.data.result.length === 0) diffs.push(`${q}: empty answer proves nothing`);
  }
  assert.is(diffs.length, 0, diffs.join('\n'));
  assert.ok(shardable >= 12, `only ${shardable} shardable queries in the set`);
  const metrics = (await get(frontend, '/metrics')).text;
  // every 1h piece of a shardable query went through the sharding stage
  assert.ok(valueOf(metrics, 'thanos_frontend_sharding_middleware_queries_total', { shardable: 'true', tripperware: 'query_range' }) >= shardable * 3, metrics.slice(0, 200));
  assert.ok(valueOf(metrics, 'thanos_frontend_sharding_middleware_queries_total', { shardable: 'false', tripperware: 'query_range' }) >= (QUERIES.length - shardable) * 3);
  // a repeat is served from the cache, shard by shard
  const q = QUERIES.find((x) => isShardable(analyzeQuery(x)))!;
  const again = await get(frontend, rangePath(q, start, end, 120));
  assert.equal(again.body.data, (await get(querier, rangePath(q, start, end, 120))).body.data);
  assert.match((await get(frontend, '/metrics')).text, /cortex_cache_hits_total\{name="fifocache",tripperware="query_range"\} [1-9]/);
});

test('instant queries through the sharding frontend: the querier\'s samples, merged as Thanos merges shards', async () => {
  const t = (fx.start + 150 * MIN + 1500) / 1000;
  const key = (s: any) => JSON.stringify(Object.entries(s.metric).sort());
  const diffs: string[] = [];
  for (const q of QUERIES) {
    const path = `/api/v1/query?query=${encodeURIComponent(q)}&time=${t}`;
    const [fe, direct] = await Promise.all([get(frontend, path), get(querier, path)]);
    if (fe.status !== 200 || direct.status !== 200) {
      diffs.push(`${q}: status ${fe.status} vs ${direct.status}: ${fe.text.slice(0, 300)}`);
      continue;
    }
    assert.is(fe.body.data.resultType, direct.body.data.resultType, q);
    if (direct.body.data.resultType === 'scalar') {
      if (JSON.stringify(fe.body.data) !== JSON.stringify(direct.body.data)) diffs.push(`${q}: scalar differs`);
      continue;
    }
    const a = [...fe.body.data.result].sort((x: any, y: any) => (key(x) < key(y) ? -1 : 1));
    const b = [...direct.body.data.result].sort((x: any, y: any) => (key(x) < key(y) ? -1 : 1));
    if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${q}:\n fe:     ${JSON.stringify(a).slice(0, 300)}\n direct: ${JSON.stringify(b).slice(0, 300)}`);
  }
  assert.is(diffs.length, 0, diffs.join('\n'));
  // sort_desc at the top: the merged shards are ordered by value, as the querier orders them
  const sorted = `/api/v1/query?query=${encodeURIComponent('sort_desc(sum by (code, instance, job) (rate(e2e_requests_total[5m])))')}&time=${t}`;
  const [fe, direct] = await Promise.all([get(frontend, sorted), get(querier, sorted)]);
  assert.equal(fe.body.data.result.map((s: any) => s.value[1]), direct.body.data.result.map((s: any) => s.value[1]));
  const metrics = (await get(frontend, '/metrics')).text;
  assert.ok(valueOf(metrics, 'thanos_frontend_sharding_middleware_queries_total', { shardable: 'true', tripperware: 'query_instant' }) >= 10);
});

test('the querier honours shard_info: disjoint shards whose union is the whole answer; bad shard_info is bad data', async () => {
  const start = fx.start + 30 * MIN;
  const end = fx.start + 90 * MIN;
  for (const [q, by, labels] of [
    ['sum by (code, instance, job) (rate(e2e_requests_total[5m]))', true, ['code', 'instance', 'job']],
    ['e2e_requests_total', false, ['__name__']],
  ] as const) {
    const whole = await get(querier, rangePath(q, start, end));
    assert.is(whole.status, 200, whole.text);
    const union: any[] = [];
    let nonEmpty = 0;
    for (let i = 0; i < 3; i++) {
      const si = JSON.stringify({ shard_index: i || undefined, total_shards: 3, by: by || undefined, labels });
      const part = await get(querier, rangePath(q, start, end, 60, `&shard_info=${encodeURIComponent(si)}`));
      assert.is(part.status, 200, part.text);
      if (part.body.data.result.length > 0) nonEmpty++;
      union.push(...part.body.data.result);
    }
    const key = (s: any) => JSON.stringify(Object.entries(s.metric).sort());
    assert.is(new Set(union.map(key)).size, union.length, `${q}: a series in two shards`);
    union.sort((a, b) => (key(a) < key(b) ? -1 : 1));
    const all = [...whole.body.data.result].sort((a: any, b: any) => (key(a) < key(b) ? -1 : 1));
    assert.equal(union, all, q);
    assert.ok(nonEmpty >= 2, `${q}: the series spread over ${nonEmpty} shard(s)`);
  }
  const bad = await get(querier, rangePath('up', start, end, 60, '&shard_info=%7B'));
  assert.is(bad.status, 400);
  assert.is(bad.body.errorType, 'bad_data');
  assert.match(bad.body.error, /shard_info/);
});

test.run();
