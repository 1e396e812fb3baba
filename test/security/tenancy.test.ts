// Tenants that stay apart, end to end on loopback with real processes: two `thanos receive` in one
// hashmod hashring (each routes and ingests), tenants A and B (and a writer naming no tenant) remote
// write through the real HTTP path; a `thanos query --query.enforce-tenancy` (tenant header
// X-Tenant, THANOS-TENANT as fallback) must never answer with another tenant's series through
// query, query_range, series, labels or label values, whatever tenant matcher the request carries;
// a querier without enforcement sees every tenant. A querier stacked on the enforcing one, and a
// recording store, show the tenant travelling as THANOS-TENANT gRPC metadata. Plus the pure
// rewrite (lib/query/tenancy.ts) and the 11,000-points error on the enforcing querier.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { parseExpr } from '../../lib/promql/mod.ts';
import type { Expr, VectorSelector } from '../../lib/promql/ast.ts';
import { walk } from '../../lib/promql/walk.ts';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import { enforceExprTenancy, enforceMatcherSets, isTenantValid, tenantFromHeaders } from '../../lib/query/tenancy.ts';
import { MemoryStore } from '../../lib/store/memory.ts';
import { infoServices, storeServices } from '../../lib/store/server.ts';
import { MAX_TIME, MIN_TIME } from '../../lib/store/api.ts';
import type { GrpcServices } from '../../lib/sdk/mod.ts';
import type { TimeSeries } from '../../lib/proto/prompb.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { parseReceiveConfig, setupReceive } from '../../plugins/component/receive/mod.ts';
import { parseQueryConfig } from '../../plugins/component/query/mod.ts';
import { collect, labelsRec, receiveCtx, rwRequest, ts } from '../receive/helpers.ts';
import { REMOTE_WRITE_METHOD, seriesRequest } from '../../lib/proto/store.ts';

// ---- the rewrite itself ----------------------------------------------------------------------------

const selectors = (e: Expr): VectorSelector[] => {
  const out: VectorSelector[] = [];
  walk(e, (n) => {
    if (n.type === 'VectorSelector') out.push(n);
  });
  return out;
};
const matcherText = (vs: VectorSelector) => vs.matchers.map((m) => `${m.name}${m.type}${JSON.stringify(m.value)}`).sort().join(',');

test('enforcement: every selector (subqueries, matrix selectors, aggregation parameters, binary sides) gets tenant_id="A"; the query\'s own tenant matchers are dropped', () => {
  const e = enforceExprTenancy(
    parseExpr('topk(scalar(count(x{tenant_id="B"})), rate(y{tenant_id=~".+"}[5m])) + on() group_left sum_over_time(z{tenant_id!="A"}[1h:1m]) or {__name__="w"}'),
    'tenant_id', 'A',
  );
  const got = selectors(e).map(matcherText).sort();
  assert.equal(got, [
    '__name__="w",tenant_id="A"',
    '__name__="x",tenant_id="A"',
    '__name__="y",tenant_id="A"',
    '__name__="z",tenant_id="A"',
  ]);
  // match[] sets: each enforced; none at all becomes the tenant matcher alone (Thanos's getLabelMatchers)
  assert.equal(enforceMatcherSets([], 'tenant_id', 'A'), [[{ type: '=', name: 'tenant_id', value: 'A' }]]);
  assert.equal(
    enforceMatcherSets([[{ type: '=~', name: 'tenant_id', value: 'B|A' }, { type: '=', name: 'job', value: 'j' }]], 'tenant_id', 'A'),
    [[{ type: '=', name: 'job', value: 'j' }, { type: '=', name: 'tenant_id', value: 'A' }]],
  );
});

test('tenant of a request: the configured header, else THANOS-TENANT, else the default; a name with "/" is refused (Thanos\'s IsTenantValid)', () => {
  assert.is(tenantFromHeaders(new Headers({ 'X-Tenant': 'A', 'THANOS-TENANT': 'B' }), 'X-Tenant', 'dflt'), 'A');
  assert.is(tenantFromHeaders(new Headers({ 'THANOS-TENANT': 'B' }), 'X-Tenant', 'dflt'), 'B');
  assert.is(tenantFromHeaders(new Headers(), 'X-Tenant', 'dflt'), 'dflt');
  assert.throws(() => tenantFromHeaders(new Headers({ 'X-Tenant': '../B' }), 'X-Tenant', 'dflt'), /tenant name not valid/);
  assert.ok(isTenantValid('team-a.prod'));
  assert.not.ok(isTenantValid('a/b'));
  assert.not.ok(isTenantValid(''));
});

// ---- receive: which tenant a write is for ------------------------------------------------------------

test('receive: THANOS-TENANT is read when the configured header is absent; --receive.split-tenant-label-name moves a series to the tenant it names (label removed); an invalid one fails the request', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tenancy-rx-'));
  try {
    const rc = await setupReceive(receiveCtx(), parseReceiveConfig({
      tsdbPath: root, labels: ['replica="r0"'], tenantHeader: 'X-Org', splitTenantLabelName: 'org',
    }));
    const w = async (series: ReturnType<typeof ts>[], headers: Record<string, string> = {}) => {
      const res = await rc.handle(rwRequest(series, headers));
      return { status: res.status, text: await res.text() };
    };
    assert.equal(await w([ts({ __name__: 'm', i: '1' }, [[1000, 1]])], { 'X-Org': 'hdr', 'THANOS-TENANT': 'internal' }), { status: 200, text: '' });
    assert.equal(await w([ts({ __name__: 'm', i: '2' }, [[1000, 1]])], { 'THANOS-TENANT': 'internal' }), { status: 200, text: '' });
    assert.equal(await w([ts({ __name__: 'm', i: '3' }, [[1000, 1]])]), { status: 200, text: '' });
    // Thanos's IsTenantValid takes any name without "/" (a directory of its own); "..", "a/b" are refused
    assert.equal(await w([ts({ __name__: 'm', i: '9' }, [[1000, 1]])], { 'X-Org': 'acme:prod eu' }), { status: 200, text: '' });
    for (const bad of ['..', 'a/b', '/']) assert.equal(await w([ts({ __name__: 'm', i: '0' }, [[1000, 1]])], { 'X-Org': bad }), { status: 400, text: 'tenant name not valid\n' }, bad);
    // split: org="s1" → tenant s1 without the org label; a series without org stays with the header's tenant
    assert.equal(await w([ts({ __name__: 'm', i: '4', org: 's1' }, [[1000, 1]]), ts({ __name__: 'm', i: '5' }, [[1000, 1]]), ts({ __name__: 'm', i: '6' }, [[1000, 1]])], { 'X-Org': 'hdr' }), { status: 200, text: '' });
    const bad = await w([ts({ __name__: 'm', i: '7', org: '../x' }, [[1000, 1]]), ts({ __name__: 'm', i: '8' }, [[1000, 1]])], { 'X-Org': 'hdr' });
    assert.is(bad.status, 400);
    assert.match(bad.text, /tenant name not valid/);
    assert.equal(rc.tenants(), ['acme:prod eu', 'default-tenant', 'hdr', 'internal', 's1']);
    const got = await collect(rc.store.series(seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: '=', name: '__name__', value: 'm' }] }), new AbortController().signal));
    assert.equal(got.map(labelsRec).map((l) => `${l.tenant_id} ${l.i} ${l.org ?? '-'}`).sort(), [
      'acme:prod eu 9 -', 'default-tenant 3 -', 'hdr 1 -', 'hdr 5 -', 'hdr 6 -', 'internal 2 -', 's1 4 -',
    ]);
    // one label set per tenant in Info
    assert.equal((rc.info!().labelSets ?? []).map((ls) => ls.tenant_id).sort(), ['acme:prod eu', 'default-tenant', 'hdr', 'internal', 's1']);
    // the gRPC write path of a router splits too (Thanos splits while distributing to the hashring)
    const ring = await setupReceive(receiveCtx(), parseReceiveConfig({
      tsdbPath: join(root, 'ring'), labels: ['replica="r1"'], splitTenantLabelName: 'org', hashrings: '[{"endpoints":["127.0.0.1:1"]}]', localEndpoint: '127.0.0.1:1',
    }));
    const grpcWrite = ring.grpc![REMOTE_WRITE_METHOD]! as { handler(req: unknown, signal: AbortSignal, md: Record<string, string>): Promise<unknown> };
    await grpcWrite.handler({ tenant: 'fwd', replica: 0, timeseries: [ts({ __name__: 'g', org: 's2' }, [[1000, 1]]), ts({ __name__: 'g' }, [[1000, 1]])] }, new AbortController().signal, {});
    assert.equal(ring.tenants(), ['fwd', 's2']);
    const viaRing = await collect(ring.store.series(seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: '=', name: '__name__', value: 'g' }] }), new AbortController().signal));
    assert.equal(viaRing.map(labelsRec).map((l) => `${l.tenant_id} ${l.org ?? '-'}`).sort(), ['fwd -', 's2 -']);
    try {
      await grpcWrite.handler({ tenant: 'fwd', replica: 0, timeseries: [ts({ __name__: 'g', org: '..' }, [[2000, 1]])] }, new AbortController().signal, {});
      assert.unreachable('an invalid split tenant was written');
    } catch (e) {
      assert.match((e as Error).message, /tenant name not valid/);
    }
    assert.throws(() => parseReceiveConfig({ tsdbPath: root, labels: ['replica="r0"'], tenantCertificateField: 'commonName' }), /receive\.tenant-certificate-field/);
    assert.throws(() => parseQueryConfig({ tenantCertificateField: 'organization' }), /query\.tenant-certificate-field/);
    assert.throws(() => parseQueryConfig({ defaultTenantId: 'a/b' }), /tenant name not valid/);
    assert.throws(() => parseQueryConfig({ tenantLabelName: 'bad-label' }), /invalid label name/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

// ---- end to end ------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'tenancy-e2e-'));
const procs: Proc[] = [];
let recorder: GrpcListener | undefined;
test.after(async () => {
  for (const p of procs.reverse()) await p.kill('SIGKILL');
  await recorder?.close();
  rmSync(dir, { recursive: true, force: true });
});

const N = 6;
const series = (t: number, extra: Record<string, string>, name = 'tm'): TimeSeries[] =>
  Array.from({ length: N }, (_, i) => ({
    labels: Object.entries({ __name__: name, i: String(i), ...extra }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, value]) => ({ name: n, value })),
    samples: [{ timestamp: t, value: i }],
  }));

async function remoteWrite(port: number, body: TimeSeries[], headers: Record<string, string>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/receive`, { method: 'POST', headers: { ...REMOTE_WRITE_HEADERS, ...headers }, body: encodeRemoteWriteBody({ timeseries: body }) });
  const text = await res.text();
  assert.is(res.status, 200, `remote write ${JSON.stringify(headers)}: ${text}`);
}

interface Answer { status: number; body: any }
async function api(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(60_000) });
  return { status: res.status, body: await res.json() };
}
const qs = (o: Record<string, string | string[]>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  return p.toString();
};
const tenantsOf = (metrics: Array<Record<string, string>>) => [...new Set(metrics.map((m) => m.tenant_id))].sort();

test('two tenants through a 2-receiver hashring: an enforcing querier answers only the caller\'s tenant on every API; a plain one sees all', async () => {
  const rx = await Promise.all([0, 1].map(async (i) => ({ i, rw: await freePort(), grpc: await freePort(), http: await freePort() })));
  const ring = join(dir, 'hashrings.json');
  writeFileSync(ring, JSON.stringify([{ hashring: 'default', endpoints: rx.map((r) => `127.0.0.1:${r.grpc}`) }]));
  for (const r of rx) {
    const p = thanos(`receive-${r.i}`, [
      'receive', `--remote-write.address=127.0.0.1:${r.rw}`, `--grpc-address=127.0.0.1:${r.grpc}`, `--http-address=127.0.0.1:${r.http}`,
      `--tsdb.path=${join(dir, `r${r.i}`)}`, `--label=receive_replica="r${r.i}"`, `--receive.hashrings-file=${ring}`,
      `--receive.local-endpoint=127.0.0.1:${r.grpc}`,
    ], dir);
    procs.push(p);
    await waitFor(() => httpReady(r.http), STARTUP_MS, `receiver ${r.i} ready`, p.logs);
  }
  const enforcing = { http: await freePort(), grpc: await freePort() };
  const plain = { http: await freePort(), grpc: await freePort() };
  const stacked = { http: await freePort(), grpc: await freePort() };
  const endpoints = rx.map((r) => `--endpoint=127.0.0.1:${r.grpc}`);
  const q = (name: string, ports: { http: number; grpc: number }, args: string[]) => {
    const p = thanos(name, ['query', `--http-address=127.0.0.1:${ports.http}`, `--grpc-address=127.0.0.1:${ports.grpc}`, '--endpoint.info-interval=1s', ...args], dir);
    procs.push(p);
    return p;
  };
  const qe = q('query-enforcing', enforcing, [...endpoints, '--query.enforce-tenancy', '--query.tenant-header=X-Tenant']);
  const qp = q('query-plain', plain, endpoints);
  // Stacked on the enforcing querier without enforcement of its own: its store calls go over gRPC
  // with THANOS-TENANT, which the enforcing querier's StoreAPI does not enforce (as Thanos: only the
  // HTTP API enforces), so this one sees all — the point here is that it answers at all.
  const qs2 = q('query-stacked', stacked, [`--endpoint=127.0.0.1:${enforcing.grpc}`]);
  for (const [p, ports] of [[qe, enforcing], [qp, plain], [qs2, stacked]] as const) await waitFor(() => httpReady(ports.http), STARTUP_MS, `${p.name} ready`, p.logs);

  const t = Date.now();
  await remoteWrite(rx[0]!.rw, series(t, { team: 'a' }), { 'THANOS-TENANT': 'A' });
  await remoteWrite(rx[1]!.rw, [...series(t, { team: 'b' }), ...series(t, { b_only: 'yes' }, 'secret_b')], { 'THANOS-TENANT': 'B' });
  await remoteWrite(rx[0]!.rw, series(t, { team: 'none' }), {});
  const time = String(t / 1000);

  // The plain querier sees every tenant once both receivers' Info rounds are in.
  const logs = () => [qe, qp, ...procs].map((p) => `== ${p.name}\n${p.logs().slice(-1500)}`).join('\n');
  await waitFor(async () => {
    const r = await api(plain.http, `/api/v1/query?${qs({ query: 'count by (tenant_id) ({__name__=~"tm|secret_b"})', time })}`);
    return r.body.data.result.length === 3;
  }, STARTUP_MS, 'plain querier sees 3 tenants', logs);
  await waitFor(async () => {
    const r = await api(enforcing.http, `/api/v1/query?${qs({ query: 'count(tm)', time })}`, { 'X-Tenant': 'B' });
    return r.body.data.result[0]?.value[1] === String(N);
  }, STARTUP_MS, 'enforcing querier sees tenant B on both receivers', logs);

  const A = { 'X-Tenant': 'A' };
  // ---- instant and range queries, whatever the tenant matcher says
  for (const query of ['tm', 'tm{tenant_id="B"}', 'tm{tenant_id=~".+"}', 'tm{tenant_id!="A"}', '{__name__=~".+"}', '{tenant_id="B"}']) {
    const r = await api(enforcing.http, `/api/v1/query?${qs({ query, time })}`, A);
    assert.is(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
    const metrics = r.body.data.result.map((s: any) => s.metric);
    assert.equal(tenantsOf(metrics), ['A'], query);
    assert.is(metrics.length, N, query);
    const rr = await api(enforcing.http, `/api/v1/query_range?${qs({ query, start: String(t / 1000 - 60), end: time, step: '15' })}`, A);
    assert.is(rr.status, 200, `${query}: ${JSON.stringify(rr.body)}`);
    assert.equal(tenantsOf(rr.body.data.result.map((s: any) => s.metric)), ['A'], `range ${query}`);
  }
  for (const query of ['secret_b', 'count(secret_b{tenant_id="B"})', 'absent(secret_b) * 0 + count(secret_b)']) {
    const r = await api(enforcing.http, `/api/v1/query?${qs({ query, time })}`, A);
    assert.is(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.data.result, [], query);
  }

  // ---- series, labels, label values
  const ser = await api(enforcing.http, `/api/v1/series?${qs({ 'match[]': ['{__name__=~".+"}', 'secret_b', '{tenant_id="B"}'], start: String(t / 1000 - 60), end: time })}`, A);
  assert.is(ser.status, 200, JSON.stringify(ser.body));
  assert.is(ser.body.data.length, N);
  assert.equal(tenantsOf(ser.body.data), ['A']);
  const names = await api(enforcing.http, `/api/v1/labels`, A);
  assert.ok(names.body.data.includes('team'), JSON.stringify(names.body));
  assert.not.ok(names.body.data.includes('b_only'), JSON.stringify(names.body));
  const namesMatch = await api(enforcing.http, `/api/v1/labels?${qs({ 'match[]': 'secret_b{tenant_id="B"}' })}`, A);
  assert.equal(namesMatch.body.data, []);
  for (const [label, want] of [['__name__', ['tm']], ['tenant_id', ['A']], ['team', ['a']], ['b_only', []]] as const) {
    const v = await api(enforcing.http, `/api/v1/label/${label}/values`, A);
    assert.equal(v.body.data, want, label);
    const vm = await api(enforcing.http, `/api/v1/label/${label}/values?${qs({ 'match[]': '{tenant_id=~"B|default-tenant"}' })}`, A);
    assert.equal(vm.body.data, want, `${label} with match[]`);
  }

  // ---- which tenant: X-Tenant, else THANOS-TENANT, else the default tenant; a bad name is bad data
  assert.equal((await api(enforcing.http, '/api/v1/label/tenant_id/values', { 'THANOS-TENANT': 'B' })).body.data, ['B']);
  assert.equal((await api(enforcing.http, '/api/v1/label/tenant_id/values', { 'X-Tenant': 'A', 'THANOS-TENANT': 'B' })).body.data, ['A']);
  assert.equal((await api(enforcing.http, '/api/v1/label/tenant_id/values')).body.data, ['default-tenant']);
  const bad = await api(enforcing.http, `/api/v1/query?${qs({ query: 'tm', time })}`, { 'X-Tenant': 'x/../B' });
  assert.is(bad.status, 400);
  assert.equal([bad.body.errorType, bad.body.error], ['bad_data', 'tenant name not valid']);
  const parse = await api(enforcing.http, `/api/v1/query?${qs({ query: 'sum(', time })}`, A);
  assert.is(parse.status, 400);
  assert.match(parse.body.error, /^error parsing query string, when enforcing tenenacy: 1:5: parse error/);

  // ---- Prometheus's resolution limit holds on the enforcing querier too
  const res = await api(enforcing.http, `/api/v1/query_range?${qs({ query: 'tm', start: '0', end: '100000', step: '1' })}`, A);
  assert.is(res.status, 400);
  assert.equal([res.body.errorType, res.body.error], ['bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)']);

  // ---- without enforcement: every tenant, and the query's own matchers count
  assert.equal((await api(plain.http, '/api/v1/label/tenant_id/values', A)).body.data, ['A', 'B', 'default-tenant']);
  const pb = await api(plain.http, `/api/v1/query?${qs({ query: 'tm{tenant_id="B"}', time })}`, A);
  assert.equal(tenantsOf(pb.body.data.result.map((s: any) => s.metric)), ['B']);
  assert.is((await api(plain.http, `/api/v1/query?${qs({ query: 'secret_b', time })}`)).body.data.result.length, N);

  // ---- stacked: the inner querier's gRPC StoreAPI answers (tenant passed on as metadata)
  await waitFor(async () => {
    const r = await api(stacked.http, `/api/v1/label/tenant_id/values`);
    return JSON.stringify(r.body.data) === JSON.stringify(['A', 'B', 'default-tenant']);
  }, STARTUP_MS, 'stacked querier answers through the enforcing querier\'s StoreAPI', logs);
});

test('the tenant travels to the stores as THANOS-TENANT gRPC metadata, also through a stacked querier', async () => {
  const seen: string[] = [];
  const mem = new MemoryStore([]);
  const record = (services: GrpcServices): GrpcServices => {
    const out: GrpcServices = {};
    for (const [m, s] of Object.entries(services)) {
      out[m] = s.kind === 'unary'
        ? { ...s, handler: (req, signal, md) => (seen.push(`${m.split('/').pop()} ${md['thanos-tenant'] ?? '(none)'}`), s.handler(req, signal, md)) }
        : { ...s, handler: (req, signal, md) => (seen.push(`${m.split('/').pop()} ${md['thanos-tenant'] ?? '(none)'}`), s.handler(req, signal, md)) };
    }
    return out;
  };
  const info = () => ({
    labelSets: [[{ name: 'store', value: 'recorder' }]], componentType: 'store',
    store: { minTime: MIN_TIME, maxTime: MAX_TIME, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false },
  });
  const port = await freePort();
  recorder = await startGrpc(`127.0.0.1:${port}`, { ...record(storeServices(mem)), ...infoServices(info) });
  const inner = { http: await freePort(), grpc: await freePort() };
  const outer = { http: await freePort(), grpc: await freePort() };
  const qi = thanos('query-inner', ['query', `--http-address=127.0.0.1:${inner.http}`, `--grpc-address=127.0.0.1:${inner.grpc}`, '--endpoint.info-interval=1s', `--endpoint=127.0.0.1:${port}`, '--query.tenant-header=X-Tenant'], dir);
  const qo = thanos('query-outer', ['query', `--http-address=127.0.0.1:${outer.http}`, `--grpc-address=127.0.0.1:${outer.grpc}`, '--endpoint.info-interval=1s', `--endpoint=127.0.0.1:${inner.grpc}`], dir);
  procs.push(qi, qo);
  await waitFor(() => httpReady(inner.http), STARTUP_MS, 'inner querier ready', qi.logs);
  await waitFor(() => httpReady(outer.http), STARTUP_MS, 'outer querier ready', qo.logs);
  const stores = async (p: number) => ((await api(p, '/api/v1/stores')).body.data.store ?? []).length > 0;
  await waitFor(() => stores(inner.http), STARTUP_MS, 'inner querier found the recorder', qi.logs);
  await waitFor(async () => (((await api(outer.http, '/api/v1/stores')).body.data.query ?? []).length > 0), STARTUP_MS, 'outer querier found the inner one', qo.logs);

  seen.length = 0;
  await api(inner.http, `/api/v1/query?${qs({ query: 'up', time: '100' })}`, { 'X-Tenant': 'team-a' });
  await api(inner.http, '/api/v1/labels', { 'THANOS-TENANT': 'team-b' });
  await api(inner.http, '/api/v1/label/job/values');
  assert.equal(seen, ['Series team-a', 'LabelNames team-b', 'LabelValues default-tenant']);
  seen.length = 0;
  // Through the outer querier: it sends its own request's tenant, the inner one passes it on.
  await api(outer.http, `/api/v1/series?${qs({ 'match[]': 'up' })}`, { 'THANOS-TENANT': 'team-c' });
  assert.equal(seen, ['Series team-c']);
});

test.run();
