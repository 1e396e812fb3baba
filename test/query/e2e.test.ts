// End to end on loopback: promtool-made blocks in two FILESYSTEM buckets (replica="A" and "B"; A has
// a 40 minute gap in one series), two real `thanos store` gateways, `thanos query` in front, and a
// real Prometheus 2.42 holding the original data. The querier's answers (HTTP JSON byte for byte,
// and promtool query instant|range|labels|series output) must equal Prometheus's. Then: dedup off,
// gap filling, a stacked querier over gRPC, and a store killed mid-test (partial response).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort, httpReady, openMetrics, promtool, promtoolBlocks, startPrometheus, thanos, toBucket, waitFor, writeBucketConfig,
  type Fixture, type Proc,
} from './harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'query-e2e-'));
const MIN = 60_000;
const END = Math.floor((Date.now() - 3600_000) / MIN) * MIN;
const fx: Fixture = { start: END - 5 * 3600_000, end: END, stepMs: 15_000, offsetMs: 3217 };
const GAP = { room: 'gap', from: fx.start + 2 * 3600_000, to: fx.start + 2 * 3600_000 + 40 * MIN };

const procs: Proc[] = [];
let prom = 0;
let q1 = 0;
let q1grpc = 0;
let storeA: Proc;
const storePorts: number[] = [];

test.before(async () => {
  writeFileSync(join(dir, 'full.om'), openMetrics(fx));
  writeFileSync(join(dir, 'gap.om'), openMetrics(fx, { gap: GAP }));
  const full = await promtoolBlocks(join(dir, 'full.om'), join(dir, 'blocks-full'));
  const gapped = await promtoolBlocks(join(dir, 'gap.om'), join(dir, 'blocks-gap'));
  toBucket(join(dir, 'blocks-gap'), gapped, join(dir, 'bucketA'), { replica: 'A' });
  toBucket(join(dir, 'blocks-full'), full, join(dir, 'bucketB'), { replica: 'B' });
  const p = await startPrometheus(dir, join(dir, 'blocks-full'), full);
  procs.push(p.proc);
  prom = p.port;
  for (const name of ['A', 'B']) {
    writeBucketConfig(join(dir, `bucket${name}.yaml`), join(dir, `bucket${name}`));
    const grpc = await freePort();
    const http = await freePort();
    const s = thanos(`store${name}`, ['store', '--data-dir', join(dir, `store${name}`), '--objstore.config-file', join(dir, `bucket${name}.yaml`),
      '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
    procs.push(s);
    if (name === 'A') storeA = s;
    storePorts.push(grpc);
    await waitFor(() => httpReady(http), 60_000, `store ${name} ready`, s.logs);
  }
  q1 = await freePort();
  q1grpc = await freePort();
  // The reference deployment's spelling: --store (repeated), replica label flag.
  const q = thanos('query', ['query', '--http-address', `127.0.0.1:${q1}`, '--grpc-address', `127.0.0.1:${q1grpc}`,
    '--store', `127.0.0.1:${storePorts[0]}`, '--store', `127.0.0.1:${storePorts[1]}`, '--query.replica-label', 'replica',
    '--endpoint.info-interval', '1s'], dir);
  procs.push(q);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${q1}/api/v1/stores`)).json()) as any;
    return (r.data.store ?? []).filter((s: { lastError: string | null }) => s.lastError === null).length === 2;
  }, 60_000, 'querier sees both stores', q.logs);
});

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Same answer: identical text, or identical but for sample values that differ in the last bits
 * (float summation order inside the PromQL engine, not the querier's data path). Returns why not.
 */
function sameAnswer(ours: string, theirs: string): string | null {
  if (ours === theirs) return null;
  let a: unknown;
  let b: unknown;
  try {
    a = JSON.parse(ours);
    b = JSON.parse(theirs);
  } catch {
    return 'not JSON';
  }
  const walk = (x: unknown, y: unknown, path: string): string | null => {
    if (typeof x === 'string' && typeof y === 'string' && x !== y) {
      const fx = Number(x);
      const fy = Number(y);
      if (Number.isFinite(fx) && Number.isFinite(fy) && Math.abs(fx - fy) <= 1e-12 * Math.max(Math.abs(fx), Math.abs(fy))) {
        ulpDiffs++;
        return null;
      }
      return `${path}: ${x} != ${y}`;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return `${path}: length ${x.length} != ${y.length}`;
      for (let i = 0; i < x.length; i++) {
        const r = walk(x[i], y[i], `${path}[${i}]`);
        if (r) return r;
      }
      return null;
    }
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      const kx = Object.keys(x);
      const ky = Object.keys(y);
      if (kx.join() !== ky.join()) return `${path}: keys ${kx} != ${ky}`;
      for (const k of kx) {
        const r = walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${path}.${k}`);
        if (r) return r;
      }
      return null;
    }
    return x === y ? null : `${path}: ${JSON.stringify(x)} != ${JSON.stringify(y)}`;
  };
  return walk(a, b, '$');
}
let ulpDiffs = 0;

async function text(port: number, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text() };
}

const INSTANT = [
  'e2e_temperature{room!="gap"}',
  'e2e_requests_total',
  'sum by (job) (rate(e2e_requests_total[5m]))',
  'increase(e2e_requests_total{code="500"}[10m])',
  'irate(e2e_requests_total{job="web"}[2m])',
  'histogram_quantile(0.9, rate(e2e_latency_seconds_bucket[5m]))',
  'avg_over_time(e2e_temperature{room!="gap"}[15m])',
  'max_over_time(e2e_temperature{room!="gap"}[30m]) - min_over_time(e2e_temperature{room!="gap"}[30m])',
  'topk(2, e2e_requests_total)',
  'count(e2e_temperature > 21)',
  'e2e_temperature{room="a"} offset 30m',
  'sum(e2e_requests_total) by (code) / ignoring(code) group_left sum(e2e_requests_total)',
  'label_replace(e2e_temperature{room="b"}, "x", "$1", "room", "(.*)")',
  'scalar(sum(e2e_temperature{room!="gap"}))',
  'time()',
];
const RANGE = [
  'sum by (job) (rate(e2e_requests_total[5m]))',
  'e2e_temperature{room!="gap"}',
  'deriv(e2e_temperature{room="a"}[10m])',
  'quantile_over_time(0.5, e2e_temperature{room="b"}[20m])',
];

test('HTTP API answers byte for byte as Prometheus 2.42 (dedup on, two replicas)', async () => {
  const mismatches: string[] = [];
  let exact = 0;
  const times = [fx.start + 30 * MIN, fx.start + 100 * MIN + 1500, END - 10 * MIN].map((t) => t / 1000);
  for (const expr of INSTANT) {
    for (const t of times) {
      const path = `/api/v1/query?query=${encodeURIComponent(expr)}&time=${t}`;
      const [ours, theirs] = await Promise.all([text(q1, path), text(prom, path)]);
      const why = ours.status !== theirs.status ? `status ${ours.status} != ${theirs.status}` : sameAnswer(ours.text, theirs.text);
      if (why) mismatches.push(`${path}: ${why}\n ours:   ${ours.status} ${ours.text.slice(0, 400)}\n theirs: ${theirs.status} ${theirs.text.slice(0, 400)}`);
      else if (ours.text === theirs.text) exact++;
    }
  }
  for (const expr of RANGE) {
    const path = `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${(fx.start + 20 * MIN) / 1000}&end=${(END - 5 * MIN) / 1000}&step=120`;
    const [ours, theirs] = await Promise.all([text(q1, path), text(prom, path)]);
    const why = ours.status !== theirs.status ? `status ${ours.status} != ${theirs.status}` : sameAnswer(ours.text, theirs.text);
    if (why) mismatches.push(`${path}: ${why}\n ours:   ${ours.status} ${ours.text.slice(0, 400)}\n theirs: ${theirs.status} ${theirs.text.slice(0, 400)}`);
    else if (ours.text === theirs.text) exact++;
  }
  // Labels and series (no dedup artefacts: the replica label is hidden).
  for (const path of ['/api/v1/labels', '/api/v1/label/job/values', '/api/v1/label/__name__/values', '/api/v1/series?match[]=e2e_requests_total{job="api"}',
    `/api/v1/labels?match[]=e2e_temperature&start=${fx.start / 1000}&end=${END / 1000}`]) {
    const [ours, theirs] = await Promise.all([text(q1, path), text(prom, path)]);
    if (ours.text !== theirs.text) mismatches.push(`${path}\n ours:   ${ours.text.slice(0, 400)}\n theirs: ${theirs.text.slice(0, 400)}`);
  }
  // Error answers: byte for byte (parse errors: same type, status and position; the parser's wording may differ).
  for (const path of ['/api/v1/query_range?query=up&start=10&end=2&step=1', '/api/v1/query_range?query=up&start=1&end=2&step=0',
    '/api/v1/query?query=up&time=abc', '/api/v1/series', '/api/v1/label/1x/values', '/api/v1/query_range?query=up&start=0&end=100000&step=1']) {
    const [ours, theirs] = await Promise.all([text(q1, path), text(prom, path)]);
    if (ours.status !== theirs.status || ours.text !== theirs.text) mismatches.push(`${path}\n ours:   ${ours.status} ${ours.text}\n theirs: ${theirs.status} ${theirs.text}`);
  }
  for (const path of ['/api/v1/query?query=sum(', '/api/v1/query?query=rate(up)']) {
    const [ours, theirs] = await Promise.all([text(q1, path), text(prom, path)]);
    const a = JSON.parse(ours.text);
    const b = JSON.parse(theirs.text);
    const prefix = (m: string) => m.replace(/parse error: .*/, 'parse error:');
    if (ours.status !== theirs.status || a.errorType !== b.errorType || prefix(a.error) !== prefix(b.error)) mismatches.push(`${path}\n ours:   ${ours.status} ${ours.text}\n theirs: ${theirs.status} ${theirs.text}`);
  }
  assert.is(mismatches.length, 0, `${mismatches.length} differences:\n${mismatches.join('\n')}`);
  // Most answers are identical to the byte; the rest differ only in the last bits of some values.
  assert.ok(exact >= (INSTANT.length * 3 + RANGE.length) * 0.7, `only ${exact} byte-identical answers (${ulpDiffs} values off by rounding)`);
  console.log(`  ${exact}/${INSTANT.length * 3 + RANGE.length} query answers byte-identical to Prometheus; ${ulpDiffs} values differ only by float rounding`);
});

test('promtool query instant|range|labels|series: same output as against Prometheus', async () => {
  const ours = `http://127.0.0.1:${q1}`;
  const theirs = `http://127.0.0.1:${prom}`;
  const t = String((fx.start + 150 * MIN) / 1000);
  const cmds: string[][] = [
    ['query', 'instant', '--time', t, '{}', 'e2e_requests_total'],
    ['query', 'instant', '--time', t, '{}', 'sum by (job) (rate(e2e_requests_total[5m]))'],
    ['query', 'instant', '--time', t, '{}', 'histogram_quantile(0.5, rate(e2e_latency_seconds_bucket[5m]))'],
    ['query', 'range', '--start', String((fx.start + 20 * MIN) / 1000), '--end', String((fx.start + 80 * MIN) / 1000), '--step', '60s', '{}', 'rate(e2e_requests_total{code="200"}[5m])'],
    ['query', 'range', '--start', String((fx.start + 20 * MIN) / 1000), '--end', String((fx.start + 50 * MIN) / 1000), '--step', '30s', '{}', 'e2e_temperature{room!="gap"}'],
    ['query', 'labels', '{}', 'job'],
    ['query', 'labels', '{}', 'code'],
    ['query', 'series', '--match', 'e2e_requests_total{code="500"}', '{}'],
    ['query', 'series', '--match', 'e2e_temperature', '--match', 'e2e_latency_seconds_bucket{le="1"}', '{}'],
  ];
  for (const c of cmds) {
    const a = await promtool(c.map((x) => (x === '{}' ? ours : x)));
    const b = await promtool(c.map((x) => (x === '{}' ? theirs : x)));
    assert.is(b.code, 0, `prometheus: ${c.join(' ')}: ${b.stderr}`);
    assert.is(a.code, 0, `ours: ${c.join(' ')}: ${a.stderr}`);
    assert.ok(b.stdout.length > 0, `empty answer from prometheus for ${c.join(' ')}`);
    assert.fixture(a.stdout, b.stdout, c.join(' '));
  }
});

test('dedup off shows both replicas; dedup fills the gap of replica A from B', async () => {
  const mid = (GAP.from + 20 * MIN) / 1000;
  const on = JSON.parse((await text(q1, `/api/v1/query?query=e2e_temperature{room="gap"}&time=${mid}`)).text);
  const off = JSON.parse((await text(q1, `/api/v1/query?query=e2e_temperature{room="gap"}&time=${mid}&dedup=false`)).text);
  const want = JSON.parse((await text(prom, `/api/v1/query?query=e2e_temperature{room="gap"}&time=${mid}`)).text);
  assert.equal(on, want);
  // In the middle of A's gap only B has a sample.
  assert.equal(off.data.result.map((s: { metric: { replica: string } }) => s.metric.replica), ['B']);
  const before = (GAP.from - 20 * MIN) / 1000;
  const off2 = JSON.parse((await text(q1, `/api/v1/query?query=e2e_temperature{room="gap"}&time=${before}&dedup=false`)).text);
  assert.equal(off2.data.result.map((s: { metric: { replica: string } }) => s.metric.replica), ['A', 'B']);
  // Over the whole range, the deduplicated series has samples where A has none.
  const count = JSON.parse((await text(q1, `/api/v1/query?query=count_over_time(e2e_temperature{room="gap"}[30m])&time=${(GAP.from + 35 * MIN) / 1000}`)).text);
  assert.ok(Number(count.data.result[0].value[1]) >= 110, JSON.stringify(count));
  const countA = JSON.parse((await text(q1, `/api/v1/query?query=count_over_time(e2e_temperature{room="gap",replica="A"}[30m])&time=${(GAP.from + 35 * MIN) / 1000}&dedup=false`)).text);
  assert.equal(countA.data.result, []);
});

test('a stacked querier over the first one\'s gRPC StoreAPI gives the same answers', async () => {
  const http = await freePort();
  const grpc = await freePort();
  const q2 = thanos('query2', ['query', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`,
    '--endpoint', `127.0.0.1:${q1grpc}`, '--query.replica-label', 'replica', '--endpoint.info-interval', '1s'], dir);
  procs.push(q2);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${http}/api/v1/stores`)).json()) as any;
    return (r.data.query ?? []).length === 1 && r.data.query[0].lastError === null;
  }, 60_000, 'stacked querier sees the first', q2.logs);
  const stores = JSON.parse((await text(http, '/api/v1/stores')).text).data.query[0];
  assert.equal(stores.labelSets, [{ replica: 'A' }, { replica: 'B' }]);
  for (const expr of ['sum by (job) (rate(e2e_requests_total[5m]))', 'e2e_temperature']) {
    const path = `/api/v1/query?query=${encodeURIComponent(expr)}&time=${(fx.start + 100 * MIN) / 1000}`;
    const [a, b] = await Promise.all([text(http, path), text(q1, path)]);
    assert.is(a.text, b.text, expr);
  }
  await q2.kill();
});

test('a store killed mid-test: partial response warning, or an error with partial_response=false', async () => {
  // A second querier with store A as a strict endpoint keeps using it after it dies (so the check
  // does not race the Info poll); the first querier drops it after its next Info round.
  const http = await freePort();
  const q3 = thanos('query3', ['query', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${await freePort()}`,
    '--endpoint-strict', `127.0.0.1:${storePorts[0]}`, '--endpoint', `127.0.0.1:${storePorts[1]}`, '--query.replica-label', 'replica',
    '--endpoint.info-interval', '1s'], dir);
  procs.push(q3);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${http}/api/v1/stores`)).json()) as any;
    return (r.data.store ?? []).filter((s: { lastError: string | null }) => s.lastError === null).length === 2;
  }, 60_000, 'strict querier sees both stores', q3.logs);
  await storeA.kill('SIGKILL');
  const path = `/api/v1/query?query=${encodeURIComponent('e2e_temperature{room="a"}')}&time=${(fx.start + 100 * MIN) / 1000}`;
  const want = JSON.parse((await text(prom, path)).text);
  const warn = JSON.parse((await text(http, path)).text);
  assert.equal(warn.data, want.data);
  assert.ok(Array.isArray(warn.warnings) && warn.warnings.length > 0, JSON.stringify(warn));
  assert.match(warn.warnings.join('\n'), new RegExp(`127\\.0\\.0\\.1:${storePorts[0]}`));
  const abort = await text(http, path + '&partial_response=false');
  assert.is(abort.status, 422, abort.text);
  const body = JSON.parse(abort.text);
  assert.is(body.status, 'error');
  assert.is(body.errorType, 'execution');
  assert.match(body.error, new RegExp(`127\\.0\\.0\\.1:${storePorts[0]}`));
  // The first querier marks the store unhealthy after its next Info round and shows its error;
  // answers stay complete from the other replica, without warnings.
  await waitFor(async () => {
    const s = JSON.parse((await text(q1, '/api/v1/stores')).text).data.store as Array<{ name: string; lastError: string | null }>;
    return s.some((x) => x.name === `127.0.0.1:${storePorts[0]}` && x.lastError !== null);
  }, 15_000, 'store A marked unhealthy');
  const after = JSON.parse((await text(q1, path)).text);
  assert.equal(after.data, want.data);
  assert.is(after.warnings, undefined);
  await q3.kill();
});

test.run();
