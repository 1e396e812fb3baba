// `thanos receive` in process: remote write over HTTP (real listener) and gRPC WriteableStore,
// StoreAPI over real gRPC on loopback, 400/409 answers with nothing lost, tenants, restart replay
// (no shutdown = a crash, the WAL is written before each answer), torn and corrupt WAL, block cut +
// upload to a FILESYSTEM bucket readable by lib/tsdb and promtool, flush on shutdown, config errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcError, GrpcStatus } from '../../host/index.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import { startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { infoResponseFromComponentInfo } from '../../lib/proto/info.ts';
import { labelNamesRequest, labelValuesRequest, seriesRequest } from '../../lib/proto/store.ts';
import { compress } from '../../lib/remote/snappy.ts';
import { infoServices, storeServices, writeableStoreServices } from '../../lib/store/server.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { BlockReader, bucketBlockFiles } from '../../lib/tsdb/block.ts';
import { encodeSamplesRecord } from '../../lib/tsdb/head/wal.ts';
import { Receiver, receiveHttpHandler } from '../../lib/receive/mod.ts';
import plugin, { parseLabelFlag } from '../../plugins/component/receive/mod.ts';
import { collect, core, fsBucket, labelsRec, range, receiveCtx, rwRequest, samplesOf, ts } from './helpers.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'rcv-'));
  dirs.push(d);
  return d;
};
const servers: GrpcListener[] = [];
const clients: StoreClient[] = [];
test.after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ALL: Matcher[] = [{ type: '=~', name: '__name__', value: '.+' }];
const MIN = -9223372036854775808;
const MAX = 9223372036854775807;

const config = (dir: string, extra: Record<string, unknown> = {}) =>
  plugin.parseConfig({ tsdbPath: dir, labels: ['replica="r1"', 'cluster="eu"'], remoteWriteAddress: '127.0.0.1:0', ...extra });

/** lib/receive's Receiver with its HTTP handler, served over gRPC (StoreAPI, WriteableStore, Info) as the plugin wires it. */
async function start(dir: string, extra: Record<string, unknown> = {}, bucketDir?: string) {
  const cfg = config(dir, extra);
  const ctx = receiveCtx();
  const rx = await Receiver.open({
    fs: ctx.fs, path: cfg.tsdbPath, core: ctx.core, log: ctx.log, metrics: ctx.metrics, bucket: bucketDir ? await fsBucket(bucketDir) : undefined,
    labels: cfg.labels, tenantLabelName: cfg.tenantLabelName, defaultTenant: cfg.defaultTenant,
    replicationFactor: cfg.replicationFactor, blockDurationMs: cfg.blockDurationMs, retentionMs: cfg.retentionMs,
  });
  const rc = { rx, handle: receiveHttpHandler(rx, cfg) };
  const srv = await startGrpc('127.0.0.1:0', {
    ...storeServices(rx.store), ...writeableStoreServices((req) => rx.grpcWrite(req)), ...infoServices(() => infoResponseFromComponentInfo(rx.info())),
  });
  servers.push(srv);
  const client = new StoreClient(dialGrpc(srv.address));
  clients.push(client);
  return { rc, ctx, client };
}

async function seriesOf(client: StoreClient, matchers: Matcher[] = ALL, minTime = MIN, maxTime = MAX) {
  return collect(client.series(seriesRequest({ minTime, maxTime, matchers }), new AbortController().signal));
}

const A = { __name__: 'rx_temp', room: 'a' };
const B = { __name__: 'rx_temp', room: 'b', cluster: 'inner' };

test('remote write → Series over gRPC with external labels and tenant label; LabelNames/Values; Info', async () => {
  const { rc, client } = await start(tmp());
  const sa = range(1_000_000, 300, 15_000, (_t, i) => 20 + Math.sin(i));
  const sb = range(1_000_000, 10, 15_000, (_t, i) => i);
  const res = await rc.handle(rwRequest([ts(A, sa), ts(B, sb)]));
  assert.is(res.status, 200, await res.clone().text());
  const got = await seriesOf(client);
  assert.equal(got.map(labelsRec), [
    { __name__: 'rx_temp', cluster: 'eu', replica: 'r1', room: 'a', tenant_id: 'default-tenant' },
    { __name__: 'rx_temp', cluster: 'eu', replica: 'r1', room: 'b', tenant_id: 'default-tenant' }, // external label overrides
  ]);
  assert.equal(samplesOf(got[0]!), sa);
  assert.equal(got[0]!.chunks.length, 3); // 120 + 120 + 60
  assert.equal(samplesOf(got[1]!), sb);
  // matchers on external labels: decided by the label set
  assert.is((await seriesOf(client, [{ type: '=', name: 'cluster', value: 'eu' }, { type: '=', name: 'room', value: 'a' }])).length, 1);
  assert.is((await seriesOf(client, [{ type: '=', name: 'cluster', value: 'us' }])).length, 0);
  assert.is((await seriesOf(client, [{ type: '=', name: 'tenant_id', value: 'default-tenant' }])).length, 2);
  // time range
  const part = await seriesOf(client, [{ type: '=', name: 'room', value: 'b' }], 1_030_000, 1_060_000);
  assert.ok(samplesOf(part[0]!).some(([t]) => t === 1_045_000));
  const names = await client.labelNames(labelNamesRequest(), new AbortController().signal);
  assert.equal(names.names, ['__name__', 'cluster', 'replica', 'room', 'tenant_id']);
  const vals = await client.labelValues(labelValuesRequest({ label: 'room' }), new AbortController().signal);
  assert.equal(vals.values, ['a', 'b']);
  const st = await rc.handle(new Request('http://receiver/api/v1/status/tsdb?limit=1'));
  assert.is(st.status, 200);
  const sj = (await st.json()) as any;
  assert.is(sj.data.headStats.numSeries, 2);
  assert.equal(sj.data.seriesCountByMetricName, [{ name: 'rx_temp', value: 2 }]);
  assert.is(sj.data.labelValueCountByLabelName.length, 1);
  assert.is((await rc.handle(new Request('http://receiver/api/v1/status/tsdb', { headers: { 'THANOS-TENANT': 'nobody' } }))).status, 404);
  const info = await client.info();
  assert.is(info.componentType, 'receive');
  assert.equal(info.labelSets.map((s) => labelsRec({ labels: s })), [{ cluster: 'eu', replica: 'r1', tenant_id: 'default-tenant' }]);
  assert.is(info.store!.minTime, 1_000_000);
  assert.is(info.store!.maxTime, MAX); // as Thanos: data keeps arriving
});

test('malformed bodies → 400 with a clear message, nothing lost; wrong encoding 415; replica header', async () => {
  const dir = tmp();
  const { rc, client } = await start(dir);
  assert.is((await rc.handle(rwRequest([ts(A, [[1000, 1]])]))).status, 200);
  let r = await rc.handle(rwRequest([], {}, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3])));
  assert.is(r.status, 400);
  assert.match(await r.text(), /snappy decode error/);
  r = await rc.handle(rwRequest([], {}, compress(new Uint8Array([0x0a, 0x20, 0x01]))));
  assert.is(r.status, 400);
  assert.match(await r.text(), /protobuf decode error/);
  r = await rc.handle(rwRequest([ts(A, [[2000, 2]])], { 'Content-Encoding': 'gzip' }));
  assert.is(r.status, 415);
  // Thanos: the replica header is a 1-indexed number, ignored without a hashring (IngestorOnly)
  r = await rc.handle(rwRequest([ts(A, [[2000, 2]])], { 'THANOS-REPLICA': 'one' }));
  assert.is(r.status, 400);
  assert.match(await r.text(), /could not parse replica header/);
  assert.is((await rc.handle(rwRequest([ts(A, [[3000, 3]])]))).status, 200);
  assert.equal(samplesOf((await seriesOf(client))[0]!), [[1000, 1], [3000, 3]]);
});

test('out-of-order / duplicate samples → 409, invalid labels → 400; the rest is stored', async () => {
  const { rc, client } = await start(tmp());
  assert.is((await rc.handle(rwRequest([ts(A, [[10_000, 1], [20_000, 2]])]))).status, 200);
  let r = await rc.handle(rwRequest([ts(A, [[15_000, 9], [20_000, 2], [30_000, 3]]), ts(B, [[5000, 5]])]));
  assert.is(r.status, 409);
  assert.match(await r.text(), /add 1 samples: out of order sample/);
  r = await rc.handle(rwRequest([ts(A, [[30_000, 4]])]));
  assert.is(r.status, 409);
  assert.match(await r.text(), /duplicate sample for timestamp/);
  r = await rc.handle(rwRequest([
    { labels: [{ name: 'room', value: 'x' }, { name: '__name__', value: 'bad' }], samples: [{ timestamp: 1, value: 1 }] },
    { labels: [{ name: '__name__', value: 'bad2' }, { name: '', value: 'x' }], samples: [{ timestamp: 1, value: 1 }] },
    ts({ __name__: 'rx_ok' }, [[7000, 7]]),
  ]));
  assert.is(r.status, 400);
  const msg = await r.text();
  assert.match(msg, /1 series with out of order labels/);
  assert.match(msg, /1 series with empty label name/);
  const h = { ...ts({ __name__: 'rx_hist' }, []), histograms: [{ sum: 1, schema: 0, zeroThreshold: 0, countInt: 1, zeroCountInt: 0, negativeSpans: [], negativeDeltas: [], negativeCounts: [], positiveSpans: [], positiveDeltas: [], positiveCounts: [], resetHint: 0, timestamp: 1, customValues: [] }] };
  r = await rc.handle(rwRequest([h, ts({ __name__: 'rx_ok' }, [[8000, 8]])]));
  assert.is(r.status, 400);
  // count 1 with no observation in any bucket: invalid (Prometheus histogram Validate)
  assert.match(await r.text(), /1 invalid native histogram samples refused.*0 observations found in buckets, but the Count field is 1/);
  const got = await seriesOf(client);
  const by = Object.fromEntries(got.map((s) => [labelsRec(s).__name__ + (labelsRec(s).room ?? ''), samplesOf(s)]));
  assert.equal(by.rx_tempa, [[10_000, 1], [20_000, 2], [30_000, 3]]);
  assert.equal(by.rx_tempb, [[5000, 5]]);
  assert.equal(by.rx_ok, [[7000, 7], [8000, 8]]);
  assert.not.ok('rx_hist' in by);
  assert.not.ok('bad' in by);
});

test('tenants by header and over gRPC WriteableStore; conflicts map to AlreadyExists', async () => {
  const { rc, client } = await start(tmp());
  assert.is((await rc.handle(rwRequest([ts(A, [[1000, 1]])], { 'THANOS-TENANT': 'team-a' }))).status, 200);
  assert.is((await rc.handle(rwRequest([ts(A, [[1000, 2]])]))).status, 200);
  assert.is((await rc.handle(rwRequest([ts(A, [[1000, 2]])], { 'THANOS-TENANT': '../etc' }))).status, 400);
  await client.remoteWrite({ tenant: 'team-b', replica: 0, timeseries: [ts(A, [[1000, 3], [2000, 4]])] });
  try {
    await client.remoteWrite({ tenant: 'team-b', replica: 0, timeseries: [ts(A, [[1500, 3]])] });
    assert.unreachable('must fail');
  } catch (e) {
    assert.instance(e, GrpcError);
    assert.is((e as GrpcError).code, GrpcStatus.AlreadyExists);
  }
  assert.equal(rc.rx.tenants.ids(), ['default-tenant', 'team-a', 'team-b']);
  const got = await seriesOf(client);
  assert.equal(got.map((s) => [labelsRec(s).tenant_id, samplesOf(s)]), [
    ['default-tenant', [[1000, 2]]], ['team-a', [[1000, 1]]], ['team-b', [[1000, 3], [2000, 4]]],
  ]);
  const only = await seriesOf(client, [{ type: '=', name: 'tenant_id', value: 'team-b' }]);
  assert.is(only.length, 1);
  const info = await client.info();
  assert.is(info.labelSets.length, 3);
});

test('restart after a crash replays the WAL; a torn tail is cut with a warning; corruption fails clearly', async () => {
  const dir = tmp();
  const first = await start(dir);
  const sa = range(0, 50, 1000, (t) => t);
  assert.is((await first.rc.handle(rwRequest([ts(A, sa)]))).status, 200);
  // no shutdown: the second instance sees only what is on disk
  const walDir = join(dir, 'default-tenant', 'wal');
  const seg = join(walDir, readdirSync(walDir)[0]!);
  const rec = encodeSamplesRecord([{ labels: ts(A, []).labels, t: [99_000], v: [1] }]);
  appendFileSync(seg, rec.subarray(0, 10));
  const second = await start(dir);
  assert.equal(samplesOf((await seriesOf(second.client))[0]!), sa);
  assert.ok(second.ctx.logs.some((l) => /torn record/.test(l)), second.ctx.logs.join('\n'));
  assert.is((await second.rc.handle(rwRequest([ts(A, [[60_000, 6]])]))).status, 200);
  const third = await start(dir);
  assert.equal(samplesOf((await seriesOf(third.client))[0]!), [...sa, [60_000, 6]]);
  const bytes = readFileSync(seg);
  bytes[20] = bytes[20]! ^ 0x55;
  writeFileSync(seg, bytes);
  try {
    await start(dir);
    assert.unreachable('corrupt WAL must fail the start');
  } catch (e) {
    assert.match((e as Error).message, /WAL corruption in segment .*00000001 at offset 0: checksum mismatch/);
  }
});

test('blocks are cut every block duration and uploaded (thanos section, source receive); promtool reads them; Series spans blocks + head', async () => {
  const dir = tmp();
  const bdir = tmp();
  const { rc, client } = await start(dir, { tsdbBlockDuration: '1m' }, bdir);
  const sa = range(0, 200, 1000, (_t, i) => i * 0.5); // 0..199 s
  const sb = range(500, 200, 1000, (_t, i) => 100 - i);
  assert.is((await rc.handle(rwRequest([ts(A, sa), ts(B, sb)]))).status, 200);
  const made = await rc.rx.compactAndShip();
  assert.is(made.length, 2); // [0,60s) and [60s,120s); 120..199 s stay in the head (< 1.5 × 1m)
  const ids = readdirSync(bdir).sort();
  assert.is(ids.length, 2);
  const bucket = await fsBucket(bdir);
  const b0 = await BlockReader.open(bucketBlockFiles(bucket, ids[0]!), { core });
  assert.is(b0.meta.minTime, 0);
  assert.is(b0.meta.maxTime, 60_000);
  assert.equal(b0.meta.thanos!.labels, { cluster: 'eu', replica: 'r1', tenant_id: 'default-tenant' });
  assert.is(b0.meta.thanos!.source, 'receive');
  assert.is(b0.meta.stats!.numSamples, 120);
  mkdirSync(join(bdir, 'wal')); // promtool opens the directory as a TSDB and wants a WAL dir
  const dump = execFileSync('/usr/bin/promtool', ['tsdb', 'dump', bdir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = dump.trim().split('\n').filter((l) => l.includes('rx_temp'));
  assert.is(lines.length, 240);
  assert.ok(lines.some((l) => /room="a"/.test(l) && / 29\.5 59000$/.test(l)), lines.slice(0, 5).join('\n'));
  assert.ok(existsSync(join(dir, 'default-tenant', 'thanos.shipper.json')));
  const got = await seriesOf(client);
  assert.equal(samplesOf(got[0]!), sa);
  assert.equal(samplesOf(got[1]!), sb);
  // samples older than the cut are refused as out of bounds
  const r = await rc.handle(rwRequest([ts({ __name__: 'rx_new' }, [[110_000, 1], [200_000, 2]])]));
  assert.is(r.status, 409);
  assert.match(await r.text(), /out of bounds/);
});

test('shutdown flushes the head into a block and uploads it; the WAL is empty afterwards', async () => {
  const dir = tmp();
  const bdir = tmp();
  // the plugin as the host runs it: setup, then run() serves remote write until aborted
  const ctx = receiveCtx(await fsBucket(bdir));
  let addr: { hostname: string; port: number } | undefined;
  const listen = ctx.listen;
  ctx.listen = async (o, h) => {
    const l = await listen(o, h);
    addr = l.address;
    return l;
  };
  const comp = await plugin.setup(ctx, config(dir));
  const ac = new AbortController();
  const running = comp.run(ac.signal);
  for (let i = 0; i < 50 && !addr; i++) await new Promise((r) => setTimeout(r, 20));
  const body = await rwRequest([ts(A, range(5000, 30, 1000, (t) => t))]).arrayBuffer();
  const res = await fetch(`http://127.0.0.1:${addr!.port}/api/v1/receive`, { method: 'POST', body, headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf' } });
  assert.is(res.status, 200);
  assert.ok(ctx.ready);
  ac.abort();
  await running;
  const ids = readdirSync(bdir);
  assert.is(ids.length, 1);
  const b = await BlockReader.open(bucketBlockFiles(await fsBucket(bdir), ids[0]!), { core });
  assert.is(b.meta.stats!.numSamples, 30);
  assert.is(b.meta.maxTime, 34_001);
  const walDir = join(dir, 'default-tenant', 'wal');
  const walBytes = readdirSync(walDir).reduce((n, f) => n + readFileSync(join(walDir, f)).length, 0);
  assert.is(walBytes, 0);
  // restart: served from the local block, nothing twice
  const again = await start(dir, {}, bdir);
  assert.is(samplesOf((await seriesOf(again.client))[0]!).length, 30);
});

test('config: --label syntax, required external labels, replication factor, hashrings', () => {
  assert.equal(parseLabelFlag('replica="a b"'), ['replica', 'a b']);
  assert.throws(() => parseLabelFlag('replica=a'), /must be double-quoted/);
  assert.throws(() => parseLabelFlag('9x="a"'), /invalid label name/);
  assert.throws(() => plugin.parseConfig({}), /^labels \(--label\): no external labels configured for receive/);
  assert.is(plugin.parseConfig({ labels: ['a="1"'], replicationFactor: 3 }).replicationFactor, 3);
  assert.throws(() => plugin.parseConfig({ labels: ['a="1"'], replicationFactor: 0 }), /replicationFactor \(--receive.replication-factor\)/);
  assert.throws(() => plugin.parseConfig({ labels: ['a="1"'], hashrings: 'x' }), /hashrings \(--receive.hashrings\): failed to validate hashring configuration content: configuration file is not parsable/);
  assert.throws(() => plugin.parseConfig({ labels: ['a="1"'], hashringsAlgorithm: 'ketema' }), /must be one of hashmod, ketama/);
  assert.throws(() => plugin.parseConfig({ labels: ['a="1"'], replicationFactor: 3, hashringsAlgorithm: 'ketama', hashrings: '[{"endpoints":["a:1","b:1"]}]' }), /ketama: amount of endpoints needs to be larger than replication factor/);
  assert.throws(() => plugin.parseConfig({ labels: ['a="1"'], hashringz: 'x' }), /hashringz: unknown receive option/);
  // forwarded writes are not compressed: only none (Thanos's default snappy is refused by name)
  assert.is(plugin.parseConfig({ labels: ['a="1"'], grpcCompression: 'none' }).replicationFactor, 1);
  assert.throws(() => plugin.parseConfig({ labels: ['a="1"'], grpcCompression: 'snappy' }), /--receive.grpc-compression="snappy" is not implemented yet/);
  const c = plugin.parseConfig({ labels: ['a="1"'] });
  assert.is(c.remoteWriteAddress, '0.0.0.0:19291');
  assert.is(c.tenantHeader, 'THANOS-TENANT');
  assert.is(c.defaultTenant, 'default-tenant');
  assert.is(c.blockDurationMs, 7_200_000);
});

test.run();
