// The sidecar's StoreAPI against a real Prometheus 2.42 (blocks made by promtool in its data dir, plus
// head samples sent by remote write), served over real gRPC on loopback and called with our
// StoreClient. Series must carry exactly Prometheus's raw samples, with the external labels attached.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcError, GrpcStatus } from '../../host/index.ts';
import { startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { compareLabels, labelsFromRecord, labelsToRecord, type Label, type Matcher } from '../../lib/labels/mod.ts';
import { infoResponseFromComponentInfo } from '../../lib/proto/info.ts';
import { labelNamesRequest, labelValuesRequest, seriesRequest, type Series, type SeriesRequest } from '../../lib/proto/store.ts';
import { MAX_TIME, MIN_TIME } from '../../lib/store/api.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { infoServices } from '../../lib/store/server.ts';
import { encodeSamplesResponseBody } from '../../lib/remote/read.ts';
import { sendRemoteWrite } from '../../lib/remote/write.ts';
import { parseSidecarConfig } from '../../plugins/component/sidecar/config.ts';
import { PromClient, PromStore } from '../../lib/sidecar/mod.ts';
import { setupSidecar, type SidecarComponent } from '../../plugins/component/sidecar/mod.ts';
import {
  EXT, freePort, H, MIN, openMetrics, promQuery, promtoolBlocks, sidecarCtx, startPrometheus, waitFor, type Fixture, type PromProc, type TestCtx,
} from './harness.ts';

const core = createJsCore();
const dir = mkdtempSync(join(tmpdir(), 'sidecar-store-'));
const NOW = Math.floor(Date.now() / 1000) * 1000;
const END = Math.floor((NOW - 2 * H) / MIN) * MIN;
const fx: Fixture = { start: END - 5 * H, end: END, stepMs: 15_000, offsetMs: 3217 };
const HEAD_START = NOW - 40 * MIN;

let prom: PromProc;
let ctx: TestCtx;
let comp: SidecarComponent;
let grpc: GrpcListener;
let client: StoreClient;
let blockIds: string[] = [];
const ac = new AbortController();
let running: Promise<void>;
const closers: Array<() => unknown> = [];

const eq = (name: string, value: string): Matcher => ({ type: '=', name, value });
const re = (name: string, value: string): Matcher => ({ type: '=~', name, value });

async function collect(req: SeriesRequest): Promise<Series[]> {
  const out: Series[] = [];
  for await (const r of client.series(req)) {
    if (r.type === 'series') out.push(r.series);
    else if (r.type === 'batch') out.push(...r.batch);
  }
  return out;
}

function samplesOf(s: Series, mint: number, maxt: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const c of s.chunks) {
    assert.is(c.raw?.type, 0, 'XOR chunk (Thanos numbering)');
    const d = core.xorDecode(c.raw!.data);
    for (let i = 0; i < d.n; i++) if (d.t[i]! >= mint && d.t[i]! <= maxt) out.push([d.t[i]!, d.v[i]!]);
  }
  return out;
}

const withoutExt = (ls: readonly Label[]) => labelsToRecord(ls.filter((l) => !(l.name in EXT)));

test.before(async () => {
  writeFileSync(join(dir, 'fx.om'), openMetrics(fx));
  blockIds = await promtoolBlocks(join(dir, 'fx.om'), join(dir, 'blocks'));
  prom = await startPrometheus(dir, { ext: EXT, blocksDir: join(dir, 'blocks'), ids: blockIds });
  // head data, newer than every block
  const samples: Array<{ timestamp: number; value: number }> = [];
  for (let t = HEAD_START; t <= NOW; t += 15_000) samples.push({ timestamp: t, value: (t - HEAD_START) / 1000 });
  await sendRemoteWrite(fetch, `${prom.url}/api/v1/write`, { timeseries: [{ labels: [...labelsFromRecord({ __name__: 'sc_head', job: 'rw' })], samples }] });

  ctx = sidecarCtx(core);
  comp = await setupSidecar(ctx, parseSidecarConfig({ prometheusUrl: prom.url, tsdbPath: prom.dataDir }));
  running = comp.run(ac.signal);
  await waitFor(async () => ctx.ready, 20_000, 'sidecar ready', () => ctx.logs.join(''));
  grpc = await startGrpc('127.0.0.1:0', { ...infoServices(() => infoResponseFromComponentInfo(comp.info())), ...comp.grpc });
  client = new StoreClient(dialGrpc(grpc.address));
});

test.after(async () => {
  client?.close();
  await grpc?.close(0);
  ac.abort();
  await running;
  for (const c of closers) await c();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('ready after Prometheus answered; Info: sidecar, external labels, min time = oldest block, max time = MaxInt64', async () => {
  assert.ok(ctx.ready);
  assert.ok(ctx.logs.some((l) => l.includes('successfully loaded prometheus external labels')));
  assert.ok(ctx.logs.some((l) => l.includes('uploads will be disabled')), 'no bucket: uploads disabled, logged');
  const info = await client.info();
  assert.is(info.componentType, 'sidecar');
  assert.equal(info.labelSets.map((s) => labelsToRecord(s)), [EXT]);
  const metrics = await (await fetch(`${prom.url}/metrics`)).text();
  const lowest = Number(/^prometheus_tsdb_lowest_timestamp (\S+)$/m.exec(metrics)?.[1]);
  assert.ok(lowest <= fx.start + fx.offsetMs && lowest > fx.start - 2 * H, `lowest ${lowest}`);
  assert.is(info.store?.minTime, lowest);
  assert.is(info.store?.maxTime, MAX_TIME);
});

test('Series over gRPC carries exactly the raw samples Prometheus returns, sorted, external labels attached', async () => {
  const T = NOW;
  const rangeS = Math.ceil((T - fx.start) / 1000) + 60;
  const mint = T - rangeS * 1000 + 1;
  const data = await promQuery(prom.url, { query: `{__name__=~"sc_.+"}[${rangeS}s]`, time: String(T / 1000) });
  const got = await collect(seriesRequest({ minTime: mint, maxTime: T, matchers: [re('__name__', 'sc_.+')] }));
  assert.is(got.length, data.result.length);
  assert.is(got.length, 10);
  for (let i = 1; i < got.length; i++) assert.ok(compareLabels(got[i - 1]!.labels, got[i]!.labels) < 0, 'sorted by labels (with external labels)');
  const want = new Map<string, Array<[number, number]>>();
  for (const r of data.result) {
    const m = { ...r.metric };
    if (m.__name__ === 'sc_conflict') delete m.cluster; // Prometheus keeps the series' own value; we compare it below
    want.set(JSON.stringify(m), r.values.map(([t, v]: [number, string]) => [Math.round(t * 1000), Number(v)]));
  }
  let samples = 0;
  for (const s of got) {
    const rec = labelsToRecord(s.labels);
    assert.is(rec.cluster, EXT.cluster);
    assert.is(rec.replica, EXT.replica);
    const key = JSON.stringify(withoutExt(s.labels));
    assert.ok(want.has(key), `unexpected series ${key}`);
    const ours = samplesOf(s, mint, T);
    assert.equal(ours, want.get(key), key);
    samples += ours.length;
  }
  assert.ok(samples > 9 * 1000, `compared ${samples} samples`);
  // head data (remote written) comes through too
  assert.ok(got.some((s) => labelsToRecord(s.labels).__name__ === 'sc_head' && samplesOf(s, mint, T).length > 100));
});

test('external labels override a series label of the same name; the order flip they cause is sorted out', async () => {
  const got = await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [eq('__name__', 'sc_conflict')] }));
  assert.is(got.length, 1);
  assert.equal(labelsToRecord(got[0]!.labels), { __name__: 'sc_conflict', ...EXT });
  const ord = await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [eq('__name__', 'sc_ord')] }));
  // Prometheus orders {a="1"} before {a="1",b="1"}; with cluster/replica appended the second sorts first
  assert.equal(ord.map((s) => labelsToRecord(s.labels)), [
    { __name__: 'sc_ord', a: '1', b: '1', ...EXT },
    { __name__: 'sc_ord', a: '1', ...EXT },
  ]);
});

test('matchers on external labels: matching ones are dropped, a mismatch gives nothing, only-external is InvalidArgument', async () => {
  const base = [eq('__name__', 'sc_temp')];
  const all = await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: base }));
  assert.is(all.length, 2);
  const same = await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [...base, eq('cluster', 'test-cluster'), re('replica', 'A|B')] }));
  assert.equal(same.map((s) => s.labels), all.map((s) => s.labels));
  assert.equal(await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [...base, eq('cluster', 'other')] })), []);
  assert.equal(await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [...base, { type: '!=', name: 'replica', value: 'A' }] })), []);
  try {
    await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [eq('cluster', 'test-cluster')] }));
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, GrpcError);
    assert.is((e as GrpcError).code, GrpcStatus.InvalidArgument);
    assert.match((e as Error).message, /no matchers specified \(excluding external labels\)/);
  }
  // a bad regex is InvalidArgument too
  try {
    await collect(seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [re('__name__', 'sc_(')] }));
    assert.unreachable('should fail');
  } catch (e) {
    assert.is((e as GrpcError).code, GrpcStatus.InvalidArgument);
  }
});

test('skip_chunks: same label sets, no chunks; without_replica_labels drops the replica label', async () => {
  const ms = [re('__name__', 'sc_.+')];
  const full = await collect(seriesRequest({ minTime: fx.start, maxTime: NOW, matchers: ms }));
  const bare = await collect(seriesRequest({ minTime: fx.start, maxTime: NOW, matchers: ms, skipChunks: true }));
  assert.equal(bare.map((s) => s.labels), full.map((s) => s.labels));
  assert.ok(bare.every((s) => s.chunks.length === 0));
  const norep = await collect(seriesRequest({ minTime: fx.start, maxTime: NOW, matchers: ms, withoutReplicaLabels: ['replica'] }));
  assert.is(norep.length, full.length);
  for (const s of norep) {
    const rec = labelsToRecord(s.labels);
    assert.is(rec.replica, undefined);
    assert.is(rec.cluster, EXT.cluster);
  }
  for (let i = 1; i < norep.length; i++) assert.ok(compareLabels(norep[i - 1]!.labels, norep[i]!.labels) < 0);
  // the widest range a querier may send (MinInt64..MaxInt64) works for Series and label calls
  const wide = await collect(seriesRequest({ minTime: MIN_TIME, maxTime: MAX_TIME, matchers: ms }));
  assert.equal(wide.map((s) => s.labels), full.map((s) => s.labels));
  assert.ok((await client.labelNames(labelNamesRequest({ start: MIN_TIME, end: MAX_TIME }))).names.includes('room'));
  assert.equal((await client.labelValues(labelValuesRequest({ label: 'room', start: MIN_TIME, end: MAX_TIME }))).values, ['a', 'b']);
  // a time range before every sample: nothing
  assert.equal(await collect(seriesRequest({ minTime: fx.start - 10 * H, maxTime: fx.start - 9 * H, matchers: ms })), []);
});

test('LabelNames / LabelValues through the Prometheus HTTP API, with matchers, time range and external labels', async () => {
  const names = (await client.labelNames(labelNamesRequest({ start: fx.start, end: NOW }))).names;
  for (const n of ['__name__', 'a', 'b', 'cluster', 'instance', 'job', 'replica', 'room']) assert.ok(names.includes(n), n);
  assert.equal(names, [...names].sort());
  const tn = (await client.labelNames(labelNamesRequest({ start: fx.start, end: NOW, matchers: [eq('__name__', 'sc_temp')] }))).names;
  assert.equal(tn, ['__name__', 'cluster', 'replica', 'room']);
  assert.equal((await client.labelNames(labelNamesRequest({ start: fx.start, end: NOW, matchers: [eq('cluster', 'nope')] }))).names, []);
  const rooms = (await client.labelValues(labelValuesRequest({ label: 'room', start: fx.start, end: NOW, matchers: [eq('__name__', 'sc_temp')] }))).values;
  assert.equal(rooms, ['a', 'b']);
  assert.equal((await client.labelValues(labelValuesRequest({ label: 'cluster', start: fx.start, end: NOW }))).values, ['test-cluster']);
  assert.equal((await client.labelValues(labelValuesRequest({ label: 'room', start: fx.start, end: NOW, matchers: [eq('replica', 'B')] }))).values, []);
  const metricNames = (await client.labelValues(labelValuesRequest({ label: '__name__', start: fx.start, end: NOW }))).values;
  for (const n of ['sc_conflict', 'sc_head', 'sc_ord', 'sc_requests_total', 'sc_temp']) assert.ok(metricNames.includes(n), n);
  // time range: the head series only exists in the last 40 minutes
  const old = (await client.labelValues(labelValuesRequest({ label: '__name__', start: fx.start, end: fx.start + H }))).values;
  assert.not.ok(old.includes('sc_head'), old.join(','));
  try {
    await client.labelValues(labelValuesRequest({ label: '' }));
    assert.unreachable('should fail');
  } catch (e) {
    assert.is((e as GrpcError).code, GrpcStatus.InvalidArgument);
  }
});

test('--min-time: Series never asks Prometheus for data before it', async () => {
  const run = async (minTime?: number) => {
    const s = new PromStore({ client: new PromClient(fetch, prom.url), core, externalLabels: () => EXT, ...(minTime !== undefined ? { minTime: () => minTime } : {}) });
    const out: Series[] = [];
    for await (const r of s.series(seriesRequest({ minTime: fx.start, maxTime: NOW, matchers: [eq('__name__', 'sc_temp')] }), new AbortController().signal)) {
      if (r.type === 'series') out.push(r.series);
    }
    return out;
  };
  const all = await run();
  const cut = fx.start + 3 * H;
  const later = await run(cut);
  assert.is(later.length, 2);
  for (const [i, s] of later.entries()) {
    // whole chunks come back, so only chunks ending before the cut must be gone
    assert.ok(s.chunks.every((c) => c.maxTime >= cut));
    assert.ok(s.chunks.length < all[i]!.chunks.length);
  }
  assert.equal(await run(NOW + H), []);
});

test('limits: too many series / samples fail with ResourceExhausted', async () => {
  const store = new PromStore({ client: new PromClient(fetch, prom.url), core, externalLabels: () => EXT, seriesLimit: 3 });
  const it = async (s: PromStore, r: SeriesRequest) => {
    const out = [];
    for await (const x of s.series(r, new AbortController().signal)) out.push(x);
    return out;
  };
  assert.is((await it(store, seriesRequest({ minTime: fx.start, maxTime: NOW, matchers: [eq('__name__', 'sc_temp')] }))).length, 2);
  try {
    await it(store, seriesRequest({ minTime: fx.start, maxTime: NOW, matchers: [re('__name__', 'sc_.+')] }));
    assert.unreachable('should fail');
  } catch (e) {
    assert.is((e as GrpcError).code, GrpcStatus.ResourceExhausted);
    assert.match((e as Error).message, /series limit/);
  }
  const small = new PromStore({ client: new PromClient(fetch, prom.url), core, externalLabels: () => EXT, samplesLimit: 500 });
  try {
    await it(small, seriesRequest({ minTime: fx.start, maxTime: NOW, matchers: [eq('__name__', 'sc_temp')] }));
    assert.unreachable('should fail');
  } catch (e) {
    assert.is((e as GrpcError).code, GrpcStatus.ResourceExhausted);
    assert.match((e as Error).message, /samples limit/);
  }
});

test('Prometheus unreachable: Unavailable naming the URL; an old Prometheus answering SAMPLES is re-chunked at 120', async () => {
  const deadPort = await freePort();
  const dead = new PromStore({ client: new PromClient(fetch, `http://127.0.0.1:${deadPort}`), core, externalLabels: () => EXT });
  try {
    for await (const _ of dead.series(seriesRequest({ minTime: 0, maxTime: 1, matchers: [eq('__name__', 'up')] }), new AbortController().signal)) { /* none */ }
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, GrpcError);
    assert.is((e as GrpcError).code, GrpcStatus.Unavailable);
    assert.match((e as Error).message, new RegExp(`127\\.0\\.0\\.1:${deadPort}`));
  }
  // a fake Prometheus that only speaks SAMPLES (as before 2.13)
  const samples: Array<{ timestamp: number; value: number }> = [];
  for (let i = 0; i < 300; i++) samples.push({ timestamp: 1_000_000 + i * 1000, value: i * 1.5 });
  const srv: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' });
      res.end(encodeSamplesResponseBody({ results: [{ timeseries: [{ labels: [...labelsFromRecord({ __name__: 'old', cluster: 'x' })], samples }] }] }));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => srv.close(() => r())));
  const old = new PromStore({ client: new PromClient(fetch, `http://127.0.0.1:${port}`), core, externalLabels: () => EXT });
  const out: Series[] = [];
  for await (const r of old.series(seriesRequest({ minTime: 0, maxTime: 2_000_000, matchers: [eq('__name__', 'old')] }), new AbortController().signal)) {
    if (r.type === 'series') out.push(r.series);
  }
  assert.is(out.length, 1);
  assert.equal(labelsToRecord(out[0]!.labels), { __name__: 'old', ...EXT });
  assert.equal(out[0]!.chunks.map((c) => core.xorDecode(c.raw!.data).n), [120, 120, 60]);
  assert.equal(samplesOf(out[0]!, 0, 2_000_000), samples.map((s) => [s.timestamp, s.value]));
});

test('no bucket: no shipper, nothing written to the TSDB dir', async () => {
  assert.is(comp.shipper, undefined);
  assert.not.ok(existsSync(join(prom.dataDir, 'thanos.shipper.json')));
  assert.ok(readdirSync(prom.dataDir).length > 0);
});

test.run();
