// The real peer for native histograms (issue #17): a real Prometheus 2.42
// (`--enable-feature=native-histograms`) scrapes an exporter of ours serving the protobuf exposition
// format (integer counter, float counter and gauge histograms whose layouts change) every second and
// remote-writes them (`send_native_histograms: true`) to our receive. Then:
//  - receive's StoreAPI (over real gRPC) holds exactly the histograms Prometheus holds: every raw
//    sample of `x[10m]` as Prometheus's /api/v1/query returns it (JSON compared field by field,
//    histograms rendered by lib/histogram/json.ts);
//  - the sidecar's StoreAPI reading the same Prometheus over remote read (STREAMED_XOR_CHUNKS with
//    Prometheus's own histogram chunks) gives the same histograms (counter ones: 2.42's remote read
//    fails on gauge histograms);
//  - PromQL through receive → querier agrees with Prometheus at the same time: histogram_count,
//    histogram_sum, rate of a histogram (whole histogram JSON), histogram_count(rate(...)), and
//    histogram_quantile (same bucket and rank; 2.42 interpolates linearly inside it, Prometheus 3
//    — our engine's reference — exponentially, so the fractions are compared);
//  - a receiver reopened on the same directory (no shutdown: the WAL replays) still does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { serveFetch } from '../../host/server/listen.ts';
import { fromChunkSample } from '../../lib/histogram/convert.ts';
import { histogramJSON } from '../../lib/histogram/json.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import { infoResponseFromComponentInfo } from '../../lib/proto/info.ts';
import { ChunkEncoding, seriesRequest, type Series } from '../../lib/proto/store.ts';
import { Receiver, receiveHttpHandler } from '../../lib/receive/mod.ts';
import { PromClient, PromStore } from '../../lib/sidecar/mod.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { infoServices, storeServices } from '../../lib/store/server.ts';
import plugin from '../../plugins/component/receive/mod.ts';
import { parseQueryConfig, setupQuery } from '../../plugins/component/query/mod.ts';
import { queryCtx } from '../query/ctx.ts';
import { deltas, encodeExposition, GAUGE_HISTOGRAM, HISTOGRAM, histogramMetric, startScrapedPrometheus } from '../harness/native-histograms.ts';
import { freePort } from '../harness/ports.ts';
import { waitFor, type Proc } from '../query/harness.ts';
import { collect, core, receiveCtx } from './helpers.ts';

const SCRAPES = 16;
const dir = mkdtempSync(join(tmpdir(), 'rcv-hist-peer-'));
const closers: Array<() => unknown> = [];
let prom: Proc;
let promUrl = '';
let rxDir = '';
let storeClient: StoreClient;
let storeAddr = '';
/** The first receiver's gRPC StoreAPI address (the querier's endpoint). */
let receiveAddr = '';
/** Prometheus's answer to x[10m] at `evalTime` (seconds), per series name. */
let promRaw: Record<string, Array<[number, unknown]>> = {};
let evalTime = 0;

/** The exposition at scrape k (1-based): deterministic histograms whose layouts grow and reset. */
function exposition(k: number): Uint8Array {
  // integer counter histogram: buckets appear at k = 8 (recode), a counter reset at k = 14
  const base = k >= 14 ? k - 13 : k;
  const pos = k >= 8 && k < 14 ? [2 * base, base, 3 * base, base] : [2 * base, base, 3 * base];
  const lat = {
    sampleCount: base + pos.reduce((a, b) => a + b, 0) + 2 * base, sampleSum: base * 0.731, schema: 3, zeroThreshold: 0.001, zeroCount: base,
    positiveSpan: [{ offset: -4, length: pos.length }], positiveDelta: deltas(pos),
    negativeSpan: [{ offset: 1, length: 1 }], negativeDelta: [2 * base],
  };
  const fpos = [0.25 * k, 0.5 * k + 0.125, k / 3];
  const flt = {
    sampleCountFloat: 0.75 * k + fpos.reduce((a, b) => a + b, 0), sampleSum: k * 2.2, schema: 0, zeroThreshold: 1e-9, zeroCountFloat: 0.75 * k,
    positiveSpan: [{ offset: 0, length: 2 }, { offset: 1, length: 1 }], positiveCount: fpos,
  };
  const gpos = [10 + ((k * 7) % 11), 10 + ((k * 5 + 3) % 13)];
  const gauge = { sampleCount: gpos[0]! + gpos[1]!, sampleSum: Math.sin(k) * 100, schema: 1, zeroThreshold: 0, zeroCount: 0, positiveSpan: [{ offset: 2, length: 2 }], positiveDelta: deltas(gpos) };
  const fam = (name: string, type: number, histogram: object) => ({ name, help: `${name} for the peer test`, type, metric: [histogramMetric({ svc: 'api' }, histogram)] });
  return encodeExposition([fam('peer_lat_seconds', HISTOGRAM, lat), fam('peer_float_hist', HISTOGRAM, flt), fam('peer_gauge_hist', GAUGE_HISTOGRAM, gauge)]);
}

async function promQuery(q: string, time: number): Promise<any[]> {
  const r = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: q, time: String(time) })}`);
  const j = (await r.json()) as any;
  if (j.status !== 'success') throw new Error(`${q}: ${JSON.stringify(j)}`);
  return j.data.result;
}

const ALL: Matcher[] = [{ type: '=~', name: '__name__', value: 'peer_.*' }];

/** The raw histograms of Series frames as Prometheus's API renders x[10m]: name → [[seconds, json]]. */
function asApi(series: readonly Series[], fromMs: number, toMs: number): Record<string, Array<[number, unknown]>> {
  const out: Record<string, Array<[number, unknown]>> = {};
  for (const s of series) {
    const name = s.labels.find((l) => l.name === '__name__')!.value;
    const list: Array<[number, unknown]> = (out[name] ??= []);
    for (const c of s.chunks) {
      const raw = c.raw!;
      assert.ok(raw.type === ChunkEncoding.HISTOGRAM || raw.type === ChunkEncoding.FLOAT_HISTOGRAM, `${name}: chunk encoding ${raw.type}`);
      const d = core.histogramDecode(raw.data, raw.type === ChunkEncoding.FLOAT_HISTOGRAM);
      for (let i = 0; i < d.n; i++) {
        const t = d.t[i]!;
        const h = fromChunkSample(d, i);
        // the API leaves stale markers out
        if (t <= fromMs || t > toMs || isStale(h.sum)) continue;
        list.push([t / 1000, histogramJSON(h)]);
      }
    }
  }
  return out;
}

function isStale(x: number): boolean {
  const u = new Uint32Array(new Float64Array([x]).buffer);
  return u[1] === 0x7ff00000 && u[0] === 2;
}

async function openReceiver(path: string) {
  const cfg = plugin.parseConfig({ tsdbPath: path, labels: ['replica="r1"'], remoteWriteAddress: '127.0.0.1:0' });
  const ctx = receiveCtx();
  const rx = await Receiver.open({
    fs: ctx.fs, path: cfg.tsdbPath, core: ctx.core, log: ctx.log, metrics: ctx.metrics,
    labels: cfg.labels, tenantLabelName: cfg.tenantLabelName, defaultTenant: cfg.defaultTenant,
    replicationFactor: cfg.replicationFactor, blockDurationMs: cfg.blockDurationMs, retentionMs: cfg.retentionMs,
  });
  const grpc: GrpcListener = await startGrpc('127.0.0.1:0', { ...storeServices(rx.store), ...infoServices(() => infoResponseFromComponentInfo(rx.info())) });
  storeAddr = grpc.address;
  const client = new StoreClient(dialGrpc(grpc.address));
  closers.push(async () => {
    client.close();
    await grpc.close(0);
  });
  return { rx, cfg, ctx, client };
}

const seriesOf = (client: { series: StoreClient['series'] }) =>
  collect(client.series(seriesRequest({ minTime: 0, maxTime: 9223372036854775807, matchers: ALL }), new AbortController().signal));

async function setup(): Promise<void> {
  rxDir = join(dir, 'receive');
  const r = await openReceiver(rxDir);
  storeClient = r.client;
  receiveAddr = storeAddr;
  const rwPort = await freePort();
  const http = await serveFetch('127.0.0.1', rwPort, receiveHttpHandler(r.rx, r.cfg));
  closers.push(() => http.close());

  // After SCRAPES scrapes the exposition stays the same: the compared window ends just after the
  // last changing scrape, and later (identical) samples fall outside it.
  const p = await startScrapedPrometheus({
    dir, exposition, scrapes: SCRAPES, after: 'repeat', job: 'peer',
    remoteWrite: `http://127.0.0.1:${rwPort}/api/v1/receive`, extraArgs: ['--storage.remote.flush-deadline=1s'],
  });
  prom = p.proc;
  closers.push(() => p.stop());
  promUrl = p.api;
  await p.waitScrapes(90_000);
  const lastServedAt = p.served[SCRAPES - 1]!.at;
  // Evaluated just after the last changing scrape (its sample's timestamp is the scrape's start,
  // before it was served); let it land in Prometheus's head first.
  evalTime = (lastServedAt + 300) / 1000;
  await new Promise((res) => setTimeout(res, 1500));
  promRaw = {};
  // one series per query: Prometheus 2.42 renders every series of a multi-series histogram range
  // selection with the last series' histograms
  for (const name of ['peer_float_hist', 'peer_gauge_hist', 'peer_lat_seconds']) {
    for (const s of await promQuery(`${name}[10m]`, evalTime)) promRaw[s.metric.__name__] = s.histograms;
  }
  assert.equal(Object.keys(promRaw).sort(), ['peer_float_hist', 'peer_gauge_hist', 'peer_lat_seconds'], JSON.stringify(promRaw));
  for (const [name, hs] of Object.entries(promRaw)) assert.ok(hs.length >= SCRAPES - 2, `${name}: ${hs.length} samples in Prometheus`);
  // remote write is asynchronous: wait until receive holds as many samples (generous: loaded CI)
  const want = Object.values(promRaw).reduce((a, h) => a + h.length, 0);
  await waitFor(async () => {
    const got = asApi(await seriesOf(storeClient), (evalTime - 600) * 1000, evalTime * 1000);
    return Object.values(got).reduce((a, h) => a + h.length, 0) >= want;
  }, 60_000, 'receive to hold every histogram sample', prom.logs);
}

test.before(async () => {
  // uvu reports a failing hook without its error: print it
  try {
    await setup();
  } catch (e) {
    console.error('setup failed:', e, prom?.logs().slice(-3000));
    throw e;
  }
});

test.after(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

test('receive holds exactly the histograms Prometheus holds (raw x[10m], API JSON)', async () => {
  const got = asApi(await seriesOf(storeClient), (evalTime - 600) * 1000, evalTime * 1000);
  assert.equal(got, promRaw);
  // the layouts did change and the counter did reset: the data exercised recoding and reset cuts
  const lat = promRaw.peer_lat_seconds!.map(([, h]) => h as { count: string; buckets: unknown[] });
  assert.ok(lat.some((h, i) => i > 0 && Number(h.count) < Number(lat[i - 1]!.count)), 'a counter reset');
  assert.ok(new Set(lat.map((h) => h.buckets.length)).size > 1, 'bucket layouts changed');
});

test('the sidecar reading the same Prometheus over remote read gives the same histograms (counter histograms)', async () => {
  // Prometheus 2.42's streamed remote read fails on gauge histograms ("iterate chunk while
  // re-encoding: detected unexpected counter reset in histogram", written after the frames it sent):
  // its re-encoder treats them as counters. The counter ones (with a reset and layout changes) pass.
  const store = new PromStore({ client: new PromClient(fetch, promUrl), core, externalLabels: () => ({ replica: 'p' }) });
  const frames: Series[] = [];
  const counters: Matcher[] = [{ type: '=~', name: '__name__', value: 'peer_lat_seconds|peer_float_hist' }];
  for await (const r of store.series(seriesRequest({ minTime: (evalTime - 600) * 1000, maxTime: evalTime * 1000, matchers: counters }), new AbortController().signal)) {
    if (r.type === 'series') frames.push(r.series);
  }
  const { peer_gauge_hist: _gauge, ...want } = promRaw;
  assert.equal(asApi(frames, (evalTime - 600) * 1000, evalTime * 1000), want);
  assert.ok(frames.some((s) => s.chunks.some((c) => c.raw!.type === ChunkEncoding.FLOAT_HISTOGRAM)) && frames.some((s) => s.chunks.some((c) => c.raw!.type === ChunkEncoding.HISTOGRAM)));
});

/** A vector result as comparable rows: labels without instance/job (Prometheus) and replica/tenant_id (receive) → value (histograms as API JSON). */
function rows(result: any[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of result) {
    const { instance: _i, job: _j, replica: _r, tenant_id: _t, ...ls } = r.metric ?? {};
    const key = JSON.stringify(ls);
    out[key] = r.histogram ? r.histogram[1] : r.value[1];
  }
  return out;
}

/** Float strings within a relative 1e-9 of each other (the engines sum in different orders); anything else exactly. */
function close(got: unknown, want: unknown, path: string): void {
  if (typeof want === 'string' && typeof got === 'string' && want !== got && Number.isFinite(Number(want))) {
    const a = Number(got);
    const b = Number(want);
    assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)), `${path}: ${got} vs Prometheus ${want}`);
    return;
  }
  if (Array.isArray(want) && Array.isArray(got)) {
    assert.is(got.length, want.length, `${path}: length`);
    want.forEach((w, i) => close(got[i], w, `${path}[${i}]`));
    return;
  }
  if (want && typeof want === 'object' && got && typeof got === 'object') {
    assert.equal(Object.keys(got).sort(), Object.keys(want).sort(), `${path}: keys`);
    for (const k of Object.keys(want)) close((got as any)[k], (want as any)[k], `${path}.${k}`);
    return;
  }
  assert.equal(got, want, path);
}

test('PromQL over receive → querier agrees with Prometheus: histogram_quantile of rate, histogram_count, rate of a histogram', async () => {
  const ctx = queryCtx(core);
  const comp = await setupQuery(ctx, parseQueryConfig({ endpoints: [receiveAddr], replicaLabels: ['replica'], endpointInfoInterval: '100ms' }), {
    clientFactory: (addr) => new StoreClient(dialGrpc(addr)),
  });
  const stop = new AbortController();
  const run = comp.run(stop.signal);
  closers.push(async () => {
    stop.abort();
    await run;
  });
  await comp.ready;
  const ours = async (q: string) => {
    const res = await comp.fetch!(new Request(`http://querier/api/v1/query?${new URLSearchParams({ query: q, time: String(evalTime) })}`));
    const j = (await res.json()) as any;
    assert.is(j.status, 'success', `${q}: ${JSON.stringify(j)}`);
    return j.data.result as any[];
  };
  // the querier learns the endpoint asynchronously
  await waitFor(async () => (await ours('histogram_count(peer_lat_seconds)')).length > 0, 30_000, 'querier to see receive');
  // histogram_quantile: Prometheus 3 (our engine's reference) interpolates exponentially inside a
  // bucket of a standard schema, 2.42 linearly. Both must pick the same bucket of the same rate
  // histogram at the same rank: the linear fraction of Prometheus's answer equals the exponential
  // fraction of ours.
  for (const [q, inner] of [
    ['histogram_quantile(0.9, rate(peer_lat_seconds[1m]))', 'rate(peer_lat_seconds[1m])'],
    ['histogram_quantile(0.5, rate(peer_float_hist[1m]))', 'rate(peer_float_hist[1m])'],
    ['histogram_quantile(0.99, peer_gauge_hist)', 'peer_gauge_hist'],
  ] as const) {
    const want = Object.values(rows(await promQuery(q, evalTime)));
    const got = Object.values(rows(await ours(q)));
    assert.is(want.length, 1, q);
    assert.is(got.length, 1, q);
    const p = Number(want[0]);
    const o = Number(got[0]);
    const h = Object.values(rows(await promQuery(inner, evalTime)))[0] as { buckets: Array<[number, string, string, string]> };
    const b = h.buckets.find(([, lo, hi]) => Number(lo) < p && p <= Number(hi));
    assert.ok(b, `${q}: Prometheus's ${p} in a bucket of ${JSON.stringify(h.buckets)}`);
    const lo = Number(b![1]);
    const hi = Number(b![2]);
    assert.ok(lo < o && o <= hi, `${q}: ours ${o} in the same bucket (${lo}, ${hi}]`);
    const linear = (p - lo) / (hi - lo);
    const ourFrac = lo > 0 ? Math.log(o / lo) / Math.log(hi / lo) : (o - lo) / (hi - lo);
    assert.ok(Math.abs(linear - ourFrac) < 1e-9, `${q}: fraction in the bucket ${ourFrac} vs Prometheus ${linear} (ours ${o}, Prometheus ${p})`);
  }
  for (const q of [
    'histogram_count(peer_lat_seconds)',
    'histogram_count(peer_float_hist)',
    'histogram_sum(peer_gauge_hist)',
    'rate(peer_lat_seconds[1m])',
    'rate(peer_float_hist[1m])',
    'histogram_count(rate(peer_lat_seconds[1m]))',
  ]) {
    const want = rows(await promQuery(q, evalTime));
    assert.ok(Object.keys(want).length > 0, `${q}: Prometheus has a result`);
    close(rows(await ours(q)), want, q);
  }
});

test('after a restart (no shutdown: the WAL replays) receive still holds them', async () => {
  const again = await openReceiver(rxDir);
  assert.equal(asApi(await seriesOf(again.client), (evalTime - 600) * 1000, evalTime * 1000), promRaw);
});

test.run();
