// --receive.limits-config: Thanos's YAML (strict), request limits with Thanos's 413 texts and
// per-tenant overrides inheriting the default, head series limits fed by a meta-monitoring query
// (a real HTTP server on loopback answering like Prometheus's /api/v1/query) → 429, max_concurrency
// holding requests back, and the plugin refusing bad limits by flag name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Receiver, receiveHttpHandler } from '../../lib/receive/mod.ts';
import { Limiter, parseLimitsConfig } from '../../lib/receive/limits.ts';
import plugin from '../../plugins/component/receive/mod.ts';
import { receiveCtx, rwRequest, ts } from './helpers.ts';

const dirs: string[] = [];
const closers: Array<() => void> = [];
test.after(() => {
  for (const c of closers) c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function handler(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'rcv-limits-'));
  dirs.push(dir);
  const ctx = receiveCtx();
  const rx = await Receiver.open({
    fs: ctx.fs, path: dir, core: ctx.core, log: ctx.log, metrics: ctx.metrics, labels: { replica: 'r1' },
    tenantLabelName: 'tenant_id', defaultTenant: 'default-tenant', replicationFactor: 1, blockDurationMs: 7_200_000, retentionMs: 0,
  });
  const limiter = new Limiter(ctx.metrics, ctx.log);
  limiter.set(parseLimitsConfig(yaml));
  const handle = receiveHttpHandler(rx, {
    tenantHeader: 'THANOS-TENANT', defaultTenant: 'default-tenant', replicaHeader: 'THANOS-REPLICA', maxBodyBytes: 1 << 26, maxDecodedBytes: 1 << 26, limiter,
  });
  return { rx, handle, limiter, ctx };
}

const many = (n: number, samples = 1) => Array.from({ length: n }, (_, i) => ts({ __name__: 'lim', i: String(i) }, Array.from({ length: samples }, (_, k) => [1000 + k, k] as [number, number])));

test('request limits: 413 with Thanos texts; tenants inherit unset keys from the default', async () => {
  const { handle } = await handler(`
write:
  default:
    request:
      series_limit: 10
      samples_limit: 20
      size_bytes_limit: 4096
  tenants:
    big:
      request:
        series_limit: 0
    tiny:
      request:
        size_bytes_limit: 20
`);
  let r = await handle(rwRequest(many(10, 2)));
  assert.is(r.status, 200, await r.text());
  r = await handle(rwRequest(many(11)));
  assert.is(r.status, 413);
  assert.is((await r.text()).trim(), 'too many timeseries');
  r = await handle(rwRequest(many(10, 3)));
  assert.is(r.status, 413);
  assert.is((await r.text()).trim(), 'too many samples');
  r = await handle(rwRequest(many(200)));
  assert.is(r.status, 413);
  assert.is((await r.text()).trim(), 'write request too large');
  // big: no series limit, still the default's samples limit
  assert.is((await handle(rwRequest(many(15), { 'THANOS-TENANT': 'big' }))).status, 200);
  r = await handle(rwRequest(many(15, 2), { 'THANOS-TENANT': 'big' }));
  assert.is(r.status, 413);
  assert.is((await r.text()).trim(), 'too many samples');
  r = await handle(rwRequest(many(2), { 'THANOS-TENANT': 'tiny' }));
  assert.is(r.status, 413);
  assert.is((await r.text()).trim(), 'write request too large');
});

test('head series limit: the meta-monitoring answer decides; at or above the limit 429; unknown tenants pass', async () => {
  let series: Record<string, number> = { 'default-tenant': 5, capped: 100 };
  let queries = 0;
  const srv = createServer((req, res) => {
    queries++;
    const q = new URL(req.url!, 'http://x').searchParams.get('query');
    assert.is(q, 'sum(prometheus_tsdb_head_series) by (tenant)');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: Object.entries(series).map(([tenant, v]) => ({ metric: { tenant }, value: [Date.now() / 1000, String(v)] })) } }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  closers.push(() => srv.close());
  const port = (srv.address() as { port: number }).port;
  const { handle, limiter } = await handler(`
write:
  global:
    meta_monitoring_url: http://127.0.0.1:${port}
  default:
    head_series_limit: 10
  tenants:
    capped:
      head_series_limit: 100
`);
  await limiter.queryMetaMonitoring((u, i) => fetch(u, i));
  assert.is(queries, 1);
  assert.is((await handle(rwRequest(many(3)))).status, 200, 'default tenant: 5 < 10');
  const r = await handle(rwRequest(many(1), { 'THANOS-TENANT': 'capped' }));
  assert.is(r.status, 429, '100 >= 100');
  assert.is((await r.text()).trim(), 'tenant is above active series limit');
  assert.is((await handle(rwRequest(many(1), { 'THANOS-TENANT': 'fresh' }))).status, 200, 'not in the answer yet');
  series = { 'default-tenant': 10 };
  await limiter.queryMetaMonitoring((u, i) => fetch(u, i));
  assert.is((await handle(rwRequest(many(1)))).status, 429);
});

test('max_concurrency holds requests back until a slot frees', async () => {
  const limiter = new Limiter(receiveCtx().metrics, receiveCtx().log);
  limiter.set(parseLimitsConfig('write:\n  global:\n    max_concurrency: 2\n'));
  const a = await limiter.gate();
  const b = await limiter.gate();
  let third = false;
  const c = limiter.gate().then((rel) => {
    third = true;
    return rel;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.not.ok(third, 'third waits');
  a();
  (await c)();
  assert.ok(third);
  b();
});

test('config: strict YAML, refusals named; the plugin checks --receive.limits-config', () => {
  const bad: Array<[string, RegExp]> = [
    ['write:\n  defaults: {}\n', /write: unknown key "defaults"/],
    ['write:\n  default:\n    request:\n      series_limit: -1\n', /series_limit: want a non-negative integer/],
    ['write:\n  default:\n    head_series_limit: 5\n', /head_series_limit needs write.global.meta_monitoring_url/],
    ['write:\n  global:\n    meta_monitoring_url: localhost:9090\n', /is not a valid meta-monitoring URL/],
    ['write:\n  global:\n    meta_monitoring_http_client: {}\n', /meta_monitoring_http_client is not implemented yet/],
    ['write: [', /parsing config YAML file/],
  ];
  for (const [y, re] of bad) assert.throws(() => parseLimitsConfig(y), re, y);
  const c = parseLimitsConfig('write:\n  tenants:\n    a:\n      request:\n        samples_limit: 3\n');
  assert.equal(c.tenants.get('a')!.request, { sizeBytesLimit: 0, seriesLimit: 0, samplesLimit: 3 });
  const base = { tsdbPath: '/tmp/x', labels: ['r="1"'] };
  assert.throws(() => plugin.parseConfig({ ...base, limitsConfig: 'write:\n  x: 1\n' }), /limitsConfig \(--receive.limits-config\): write: unknown key "x"/);
  assert.throws(() => plugin.parseConfig({ ...base, limitsConfig: 'write: {}', limitsConfigFile: '/x' }), /mutually exclusive/);
  assert.is(plugin.parseConfig({ ...base, limitsConfig: 'write: {}' }).limitsReloadMs, 1000);
});

test.run();
