// Native histograms through `thanos receive` in process: remote write v1 histograms (integer, float,
// custom buckets) over HTTP → 200, the StoreAPI's Series frames over real gRPC carry them as
// HISTOGRAM (1) / FLOAT_HISTOGRAM (2) chunks holding exactly what was sent; out-of-order and
// duplicate histograms → 409, invalid ones → 400 (the rest stored); the tenant's histogram metrics;
// a restart replays them from the WAL; a router forwards them over thanos.WriteableStore intact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from '../../host/metrics.ts';
import { dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import { infoResponseFromComponentInfo } from '../../lib/proto/info.ts';
import type { Histogram, TimeSeries } from '../../lib/proto/prompb.ts';
import { ChunkEncoding, seriesRequest, type Series } from '../../lib/proto/store.ts';
import { Receiver, Router, newMultiHashring, parseHashringsConfig, receiveHttpHandler } from '../../lib/receive/mod.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { infoServices, storeServices, writeableStoreServices } from '../../lib/store/server.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM } from '../../lib/tsdb/chunks.ts';
import { histogramChunkSamples } from '../../lib/tsdb/head/histogram.ts';
import plugin from '../../plugins/component/receive/mod.ts';
import { freePort } from '../harness/ports.ts';
import { collect, core, labelsRec, receiveCtx, rwRequest } from './helpers.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const cleanups: Array<() => Promise<void> | void> = [];
test.after(async () => {
  for (const c of cleanups.reverse()) await c();
});
// Registered after the cleanups: uvu runs after-hooks in order, so components close before their directories go.
const tmp = tempDirs('rcv-hist-');

const ALL: Matcher[] = [{ type: '=~', name: '__name__', value: '.+' }];

async function start(dir: string) {
  const cfg = plugin.parseConfig({ tsdbPath: dir, labels: ['replica="r1"'], remoteWriteAddress: '127.0.0.1:0' });
  const ctx = receiveCtx();
  const rx = await Receiver.open({
    fs: ctx.fs, path: cfg.tsdbPath, core: ctx.core, log: ctx.log, metrics: ctx.metrics,
    labels: cfg.labels, tenantLabelName: cfg.tenantLabelName, defaultTenant: cfg.defaultTenant,
    replicationFactor: cfg.replicationFactor, blockDurationMs: cfg.blockDurationMs, retentionMs: cfg.retentionMs,
  });
  const srv: GrpcListener = await startGrpc('127.0.0.1:0', {
    ...storeServices(rx.store), ...writeableStoreServices((req) => rx.grpcWrite(req)), ...infoServices(() => infoResponseFromComponentInfo(rx.info())),
  });
  const client = new StoreClient(dialGrpc(srv.address));
  cleanups.push(async () => {
    client.close();
    await srv.close();
  });
  return { rx, ctx, handle: receiveHttpHandler(rx, cfg), client };
}

const seriesOf = (client: StoreClient) =>
  collect(client.series(seriesRequest({ minTime: -9223372036854775808, maxTime: 9223372036854775807, matchers: ALL }), new AbortController().signal));

function hist(t: number, buckets: number[], o: Partial<Histogram> = {}): Histogram {
  const deltas = buckets.map((b, i) => b - (i > 0 ? buckets[i - 1]! : 0));
  const count = buckets.reduce((a, b) => a + b, 0) + (o.zeroCountInt ?? 0);
  return {
    countInt: count, sum: count * 2.5, schema: 3, zeroThreshold: 1e-128, zeroCountInt: 0,
    negativeSpans: [{ offset: -2, length: 1 }], negativeDeltas: [0], negativeCounts: [],
    positiveSpans: [{ offset: 1, length: buckets.length }], positiveDeltas: deltas, positiveCounts: [],
    resetHint: 0, timestamp: t, customValues: [], ...o,
  };
}
const floatHist = (t: number, counts: number[]): Histogram => ({
  sum: 3.25, schema: 0, zeroThreshold: 0.001, zeroCountFloat: 0.5, countFloat: counts.reduce((a, b) => a + b, 0.5),
  negativeSpans: [], negativeDeltas: [], negativeCounts: [], positiveSpans: [{ offset: 0, length: counts.length }], positiveDeltas: [], positiveCounts: counts,
  resetHint: 3, timestamp: t, customValues: [],
});
const nhcb = (t: number, counts: number[]): Histogram => ({ ...hist(t, counts), schema: -53, zeroThreshold: 0, negativeSpans: [], negativeDeltas: [], positiveSpans: [{ offset: 0, length: counts.length }], customValues: [0.1, 0.5, 1] });

const rw = (name: string, hs: Histogram[], extra: Record<string, string> = {}): TimeSeries => ({
  labels: Object.entries({ __name__: name, ...extra }).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => ({ name: n, value: v })),
  samples: [],
  histograms: hs,
});

/** The histograms a Series frame carries: "t kind count sum [positive]" per sample, and the chunk encodings. */
function histogramsOf(s: Series): { encodings: number[]; samples: string[] } {
  const encodings: number[] = [];
  const samples: string[] = [];
  for (const c of s.chunks) {
    const raw = c.raw!;
    encodings.push(raw.type);
    const enc = raw.type === ChunkEncoding.HISTOGRAM ? ENC_HISTOGRAM : raw.type === ChunkEncoding.FLOAT_HISTOGRAM ? ENC_FLOAT_HISTOGRAM : 0;
    assert.ok(enc, `chunk encoding ${raw.type} is not a histogram one`);
    for (const h of histogramChunkSamples(core, raw.data, enc)) {
      samples.push(`${h.t} ${h.float ? 'f' : 'i'} c=${h.count} z=${h.zeroCount} s=${h.sum} sch=${h.schema} p=[${Array.from(h.positive)}] n=[${Array.from(h.negative)}]${h.customValues.length ? ` cv=[${Array.from(h.customValues)}]` : ''}`);
    }
  }
  return { encodings, samples };
}

test('remote write histograms → 200; Series frames carry HISTOGRAM / FLOAT_HISTOGRAM chunks with the same histograms; restart replays them', async () => {
  const dir = tmp();
  const { handle, client, ctx } = await start(dir);
  const res = await handle(rwRequest([
    rw('rx_lat', [hist(1000, [1, 2]), hist(2000, [2, 2, 1]), hist(3000, [3, 4, 1])]),
    rw('rx_flt', [floatHist(1000, [0.25, 1.5]), floatHist(2000, [1, 2])]),
    rw('rx_nhcb', [nhcb(1000, [1, 0, 2, 1])]),
  ]));
  assert.is(res.status, 200, await res.clone().text());
  const check = async (c: StoreClient) => {
    const got = await seriesOf(c);
    const by = Object.fromEntries(got.map((s) => [labelsRec(s).__name__, histogramsOf(s)]));
    assert.equal(Object.keys(by).sort(), ['rx_flt', 'rx_lat', 'rx_nhcb']);
    assert.equal(by.rx_lat!.encodings, [ChunkEncoding.HISTOGRAM]);
    assert.equal(by.rx_flt!.encodings, [ChunkEncoding.FLOAT_HISTOGRAM]);
    assert.equal(by.rx_nhcb!.encodings, [ChunkEncoding.HISTOGRAM]);
    // buckets appearing later widen the chunk's layout: earlier samples read back with empty buckets
    assert.equal(by.rx_lat!.samples, [
      '1000 i c=3 z=0 s=7.5 sch=3 p=[1,2,0] n=[0]', '2000 i c=5 z=0 s=12.5 sch=3 p=[2,2,1] n=[0]', '3000 i c=8 z=0 s=20 sch=3 p=[3,4,1] n=[0]',
    ]);
    assert.equal(by.rx_flt!.samples, ['1000 f c=2.25 z=0.5 s=3.25 sch=0 p=[0.25,1.5] n=[]', '2000 f c=3.5 z=0.5 s=3.25 sch=0 p=[1,2] n=[]']);
    assert.equal(by.rx_nhcb!.samples, ['1000 i c=4 z=0 s=10 sch=-53 p=[1,0,2,1] n=[] cv=[0.1,0.5,1]']);
    for (const s of got) assert.equal(labelsRec(s).replica, 'r1');
  };
  await check(client);
  assert.match((ctx.metrics as Registry).render(), /prometheus_tsdb_head_samples_appended_total\{tenant="default-tenant",type="histogram"\} 6/);
  // a second receiver on the same directory (no shutdown: a crash) replays the WAL
  const again = await start(dir);
  await check(again.client);
});

test('out-of-order and duplicate histograms → 409, an identical one is dropped, invalid ones → 400; the rest stored', async () => {
  const { handle, client, ctx } = await start(tmp());
  assert.is((await handle(rwRequest([rw('rx_h', [hist(10_000, [1]), hist(20_000, [2])])]))).status, 200);
  let r = await handle(rwRequest([rw('rx_h', [hist(15_000, [5]), hist(20_000, [2]), hist(30_000, [3])])]));
  assert.is(r.status, 409);
  assert.match(await r.text(), /add 1 samples: out of order sample/);
  r = await handle(rwRequest([rw('rx_h', [hist(30_000, [4])])]));
  assert.is(r.status, 409);
  assert.match(await r.text(), /duplicate sample for timestamp/);
  r = await handle(rwRequest([
    rw('rx_h', [{ ...hist(40_000, [1, 1]), countInt: 3 }, hist(50_000, [5])]),
    rw('rx_bad', [{ ...hist(40_000, [1]), schema: 42 }, { ...hist(41_000, [1]), positiveDeltas: [1, 1] }, { ...floatHist(42_000, [1]), positiveCounts: [-1], countFloat: 1 },
      // hostile: a span longer than int32 whose wrapped length would make the bucket count "match"
      { ...hist(43_000, [1]), positiveSpans: [{ offset: 0, length: 4294967295 }, { offset: 0, length: 2 }] },
      // a timestamp the chunk encoder cannot take
      hist(2 ** 60, [1])]),
  ]));
  assert.is(r.status, 400);
  const msg = await r.text();
  assert.match(msg, /6 invalid native histogram samples refused; first: \{__name__="rx_h"\} @ 40000: 2 observations found in buckets, but the Count field is 3/);
  const got = await seriesOf(client);
  const by = Object.fromEntries(got.map((s) => [labelsRec(s).__name__, histogramsOf(s).samples.map((x) => Number(x.split(' ')[0]))]));
  assert.equal(by, { rx_h: [10_000, 20_000, 30_000, 50_000] });
  assert.match((ctx.metrics as Registry).render(), /prometheus_tsdb_out_of_order_samples_total\{tenant="default-tenant",type="histogram"\} 1/);
});

test('a router forwards histograms to an ingestor over thanos.WriteableStore: stored as sent', async () => {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const ing = await start(tmp());
  const srv = await startGrpc(addr, writeableStoreServices((req) => ing.rx.grpcWrite(req)));
  cleanups.push(() => srv.close(0));
  const ctx = receiveCtx();
  const rx = await Receiver.open({
    fs: ctx.fs, path: tmp(), core: ctx.core, log: ctx.log, metrics: ctx.metrics, labels: { receive_replica: 'router' },
    tenantLabelName: 'tenant_id', defaultTenant: 'default-tenant', replicationFactor: 1, blockDurationMs: 7_200_000, retentionMs: 0,
  });
  const router = new Router({
    mode: 'RouterOnly', replicationFactor: 1, localEndpoint: '', defaultTenant: 'default-tenant',
    local: (t, s) => rx.write(t, s), dial: dialGrpc, forwardTimeoutMs: 10_000, log: ctx.log, metrics: ctx.metrics,
  });
  cleanups.push(() => router.close());
  router.setHashring(newMultiHashring('hashmod', 1, parseHashringsConfig(JSON.stringify([{ endpoints: [addr] }]))));
  const out = await router.handle(0, [{ tenant: 'default-tenant', series: [rw('rx_fwd', [hist(1000, [1, 2]), hist(2000, [3, 3])]), rw('rx_fwdf', [floatHist(1000, [0.5])])] }]);
  assert.is(out.status, 200, out.message);
  const got = await seriesOf(ing.client);
  const by = Object.fromEntries(got.map((s) => [labelsRec(s).__name__, histogramsOf(s).samples]));
  assert.equal(by, {
    rx_fwd: ['1000 i c=3 z=0 s=7.5 sch=3 p=[1,2] n=[0]', '2000 i c=6 z=0 s=15 sch=3 p=[3,3] n=[0]'],
    rx_fwdf: ['1000 f c=1 z=0.5 s=3.25 sch=0 p=[0.5] n=[]'],
  });
  // an invalid histogram forwarded: the ingestor's InvalidArgument reaches the client as 400
  const bad = await router.handle(0, [{ tenant: 'default-tenant', series: [rw('rx_fwd', [{ ...hist(3000, [1]), countInt: 9 }])] }]);
  assert.is(bad.status, 400, bad.message);
});

test('--tsdb.enable-native-histograms is accepted either way (Thanos ≥ 0.40: a deprecated no-op, histograms always ingested)', () => {
  for (const v of [true, false]) {
    assert.ok(plugin.parseConfig({ tsdbPath: tmp(), labels: ['replica="r1"'], tsdbEnableNativeHistograms: v }));
  }
  assert.ok(plugin.flags?.some((f) => f.name === 'tsdb.enable-native-histograms' && f.default === true));
});

test.run();
