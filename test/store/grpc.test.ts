// StoreAPI over real gRPC on loopback: our server helper + grpc-js client + proxy, stacked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../../host/index.ts';
import { formatLabels, labelsFromRecord } from '../../lib/labels/mod.ts';
import { labelNamesRequest, labelValuesRequest, type SeriesRequest, type SeriesResponse } from '../../lib/proto/store.ts';
import type { StoreServer, StoreTarget } from '../../lib/store/api.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { ProxyStore } from '../../lib/store/proxy.ts';
import { infoServices, storeServices, writeableStoreServices } from '../../lib/store/server.ts';
import type { StoreWriteRequest } from '../../lib/proto/store.ts';
import { encodeLegacyStoreInfo, LEGACY_STORE_INFO_METHOD, type LegacyStoreInfo } from '../../lib/proto/info.ts';
import { collect, memStore, mkSeries, rejects, req, samplesOf } from './helpers.ts';
import { startGrpc } from '../../host/server/grpc.ts';
import type { GrpcServices } from '../../host/index.ts';

const serveGrpc = (services: GrpcServices) => startGrpc('127.0.0.1:0', services);

const H = 3600_000;
const closers: Array<() => unknown> = [];
test.after(async () => {
  for (const c of closers.reverse()) await c();
});

async function serve(store: StoreServer & { info?: () => any }) {
  const srv = await serveGrpc({ ...storeServices(store), ...(store.info ? infoServices(() => store.info!()) : {}) });
  closers.push(() => srv.close());
  const client = new StoreClient(dialGrpc(srv.address));
  closers.push(() => client.close());
  return { srv, client };
}

async function targetFor(client: StoreClient): Promise<StoreTarget> {
  const info = await client.info();
  return { name: client.address, store: client, minTime: info.store!.minTime, maxTime: info.store!.maxTime, labelSets: info.labelSets };
}

test('Info, Series, LabelNames, LabelValues over gRPC', async () => {
  const store = memStore(
    [mkSeries({ __name__: 'up', job: 'a' }, [[0, 2 * H]]), mkSeries({ __name__: 'up', job: 'b' }, [[0, H]])],
    { externalLabels: labelsFromRecord({ cluster: 'eu' }) },
  );
  const { client } = await serve(store);
  const info = await client.info();
  assert.is(info.componentType, 'store');
  assert.equal(info.labelSets, [[{ name: 'cluster', value: 'eu' }]]);
  assert.is(info.store!.minTime, 0);
  assert.is(info.store!.maxTime, 2 * H);
  const r = await collect(client.series(req({ minTime: H / 2 + 60000, maxTime: H }), new AbortController().signal));
  assert.equal(r.series.map((s) => formatLabels(s.labels)), ['up{cluster="eu", job="a"}', 'up{cluster="eu", job="b"}']);
  const direct = await collect(store.series(req({ minTime: H / 2 + 60000, maxTime: H }), new AbortController().signal));
  assert.equal(r.series.map((s) => samplesOf(s, H / 2 + 60000, H)), direct.series.map((s) => samplesOf(s, H / 2 + 60000, H)));
  assert.ok(samplesOf(r.series[0]!).some(([t]) => t < H / 2 + 60000), 'chunks extend beyond the range; the client trims');
  assert.is(samplesOf(r.series[0]!, H / 2 + 60000, H).length, (H / 2 - 60000) / 15000 + 1);
  assert.equal((await client.labelNames(labelNamesRequest())).names, ['__name__', 'cluster', 'job']);
  assert.equal((await client.labelValues(labelValuesRequest({ label: 'job' }))).values, ['a', 'b']);
});

test('Info falls back to the legacy thanos.Store/Info for peers without the Info API', async () => {
  const store = memStore([mkSeries({ __name__: 'up' }, [[0, H]])]);
  const srv = await serveGrpc({
    ...storeServices(store),
    [LEGACY_STORE_INFO_METHOD]: {
      kind: 'unary',
      requestDecode: () => ({}),
      responseEncode: (m) => encodeLegacyStoreInfo(m as LegacyStoreInfo),
      handler: async () => ({ labels: [], minTime: 10, maxTime: 20, storeType: 3, labelSets: [[{ name: 'replica', value: 'a' }]] }),
    },
  });
  closers.push(() => srv.close());
  const c = new StoreClient(dialGrpc(srv.address));
  closers.push(() => c.close());
  const info = await c.info();
  assert.is(info.componentType, 'sidecar');
  assert.equal(info.labelSets, [[{ name: 'replica', value: 'a' }]]);
  assert.is(info.store!.minTime, 10);
  assert.is(info.store!.supportsWithoutReplicaLabels, false);
  // a peer with neither answers Unimplemented
  const bare = await serveGrpc(storeServices(store));
  closers.push(() => bare.close());
  const cb = new StoreClient(dialGrpc(bare.address));
  closers.push(() => cb.close());
  await rejects(() => cb.info(), (e) => e instanceof GrpcError && e.code === 12);
});

test('bad input answers InvalidArgument', async () => {
  const { srv, client } = await serve(memStore([mkSeries({ __name__: 'up' }, [[0, H]])]));
  await rejects(
    () => collect(client.series(req({ matchers: [{ type: '=~', name: 'job', value: '(unclosed' }] }))),
    (e) => e instanceof GrpcError && e.code === 3 && /unclosed|parsing/.test(e.message),
  );
  await rejects(() => client.labelValues(labelValuesRequest({ label: '' })), (e) => e instanceof GrpcError && e.code === 3);
  await rejects(() => client.labelNames(labelNamesRequest({ matchers: [{ type: '!~', name: 'a', value: 'x(' }] })), (e) => e instanceof GrpcError && e.code === 3);
  // raw malformed bytes: a truncated SeriesRequest and an unknown matcher type
  const raw = new grpc.Client(srv.address, grpc.credentials.createInsecure());
  closers.push(() => raw.close());
  for (const bytes of [Buffer.from([0x1a, 0x05, 0x08]), Buffer.from([0x1a, 0x02, 0x08, 0x09])]) {
    const code = await new Promise<number>((resolve) => {
      const call = raw.makeServerStreamRequest('/thanos.Store/Series', (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), {});
      call.on('data', () => {});
      call.on('error', (e: grpc.ServiceError) => resolve(e.code));
      call.on('end', () => resolve(0));
    });
    assert.is(code, 3);
  }
});

test('proxy over gRPC clients, then stacked: a proxy served over gRPC behind another proxy', async () => {
  const a = memStore([mkSeries({ __name__: 'up', job: 'a' }, [[0, H]]), mkSeries({ __name__: 'x', job: 'a' }, [[0, H]])], { externalLabels: labelsFromRecord({ replica: '1' }) });
  const b = memStore([mkSeries({ __name__: 'up', job: 'a' }, [[0, H]]), mkSeries({ __name__: 'up', job: 'b' }, [[0, H]])], { externalLabels: labelsFromRecord({ replica: '2' }) });
  const ca = (await serve(a)).client;
  const cb = (await serve(b)).client;
  const targets = [await targetFor(ca), await targetFor(cb)];
  const proxy = new ProxyStore(() => targets);
  const merged = await collect(proxy.series(req({ matchers: [{ type: '=', name: '__name__', value: 'up' }], withoutReplicaLabels: ['replica'] }), new AbortController().signal));
  assert.equal(merged.series.map((s) => formatLabels(s.labels)), ['up{job="a"}', 'up{job="b"}']);
  assert.is(samplesOf(merged.series[0]!).length, H / 15000 + 1, 'identical replica chunks deduplicated');
  // stack: serve the proxy and query it through another proxy over gRPC
  const front = await serveGrpc(storeServices(proxy));
  closers.push(() => front.close());
  const cf = new StoreClient(dialGrpc(front.address));
  closers.push(() => cf.close());
  const top = new ProxyStore(() => [{ name: 'querier', store: cf, minTime: -Infinity, maxTime: Infinity, labelSets: [] }]);
  const viaTwo = await collect(top.series(req({ minTime: 0, maxTime: H }), new AbortController().signal));
  assert.equal(viaTwo.series.map((s) => formatLabels(s.labels)), ['up{job="a", replica="1"}', 'up{job="a", replica="2"}', 'up{job="b", replica="2"}', 'x{job="a", replica="1"}']);
  assert.equal((await cf.labelValues(labelValuesRequest({ label: 'replica' }))).values, ['1', '2']);
  // the proxy merges into batches; a client that asks for no batching (as Thanos < 0.41) still gets single series
  const old = new StoreClient(dialGrpc(front.address), { responseBatchSize: 0 });
  closers.push(() => old.close());
  const kinds = new Set<string>();
  let n = 0;
  for await (const f of old.series(req())) {
    kinds.add(f.type);
    n++;
  }
  assert.equal([...kinds], ['series']);
  assert.is(n, 4);
});

test('a store failing over gRPC: WARN gives a warning frame end to end, ABORT an error', async () => {
  const good = memStore([mkSeries({ __name__: 'up', job: 'a' }, [[0, H]])]);
  const failing: StoreServer = {
    async *series() {
      throw new GrpcError(14, 'store is down for maintenance');
    },
    labelNames: async () => ({ names: [], warnings: [] }),
    labelValues: async () => ({ values: [], warnings: [] }),
  };
  const cg = (await serve(good)).client;
  const cfail = (await serve(failing)).client;
  const proxy = new ProxyStore(() => [
    { name: 'good', store: cg, minTime: 0, maxTime: H, labelSets: [] },
    { name: 'failing', store: cfail, minTime: 0, maxTime: H, labelSets: [] },
  ]);
  const front = await serveGrpc(storeServices(proxy));
  closers.push(() => front.close());
  const c = new StoreClient(dialGrpc(front.address));
  closers.push(() => c.close());
  const w = await collect(c.series(req()));
  assert.is(w.series.length, 1);
  assert.is(w.warnings.length, 1);
  assert.match(w.warnings[0]!, /failing.*down for maintenance/);
  await rejects(() => collect(c.series(req({ partialResponseStrategy: 1 }))), (e) => e instanceof GrpcError && e.code === 14 && /maintenance/.test(e.message));
});

test('client cancel mid-stream stops the server; slow consumer gets backpressure', async () => {
  let produced = 0;
  let serverAborted = false;
  const big: StoreServer = {
    async *series(_r: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
      signal.addEventListener('abort', () => (serverAborted = true), { once: true });
      const data = new Uint8Array(2000);
      for (let i = 0; i < 100000; i++) {
        if (signal.aborted) return;
        produced++;
        yield { type: 'series', series: { labels: [{ name: '__name__', value: 'm' }, { name: 'i', value: String(i).padStart(6, '0') }], chunks: [{ minTime: 0, maxTime: 1, raw: { type: 0, data } }] } };
      }
    },
    labelNames: async () => ({ names: [], warnings: [] }),
    labelValues: async () => ({ values: [], warnings: [] }),
  };
  const { client } = await serve(big);
  const ac = new AbortController();
  let got = 0;
  const it = client.series(req(), ac.signal)[Symbol.asyncIterator]();
  for (let i = 0; i < 10; i++) {
    await it.next();
    got++;
  }
  await new Promise((r) => setTimeout(r, 300)); // consumer stalls
  const producedWhileStalled = produced;
  assert.ok(producedWhileStalled < 5000, `server paused by backpressure (produced ${producedWhileStalled} of 100000)`);
  ac.abort(new Error('user cancelled'));
  await rejects(() => it.next(), (e) => /user cancelled/.test((e as Error).message));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(serverAborted, 'server handler saw the cancel');
  assert.ok(produced < 10000);
  assert.is(got, 10);
  // breaking out of for-await cancels the call as well
  serverAborted = false;
  for await (const _ of client.series(req())) break;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(serverAborted);
});

test('response_batch_size: SeriesBatch frames over gRPC, order kept, warnings flush the batch', async () => {
  const store = memStore(Array.from({ length: 10 }, (_, i) => mkSeries({ __name__: 'up', i: String(i) }, [[0, H]])));
  const { client } = await serve(store);
  const frames: SeriesResponse[] = [];
  for await (const f of client.series(req({ responseBatchSize: 3 }))) frames.push(f);
  assert.equal(frames.map((f) => (f.type === 'batch' ? f.batch.length : -1)), [3, 3, 3, 1]);
  const direct = await collect(store.series(req(), new AbortController().signal));
  assert.equal((await collect(client.series(req({ responseBatchSize: 3 })))).series, direct.series);
  // a client asking for no batching gets one series per frame
  const single = new StoreClient(dialGrpc(client.address), { responseBatchSize: 0 });
  closers.push(() => single.close());
  const sf: string[] = [];
  for await (const f of single.series(req())) sf.push(f.type);
  assert.equal(sf, Array(10).fill('series'));
  // warnings in the middle of a stream flush the pending batch first
  const src: StoreServer = {
    async *series() {
      yield { type: 'series', series: direct.series[0]! };
      yield { type: 'series', series: direct.series[1]! };
      yield { type: 'warning', warning: 'w' };
      yield { type: 'series', series: direct.series[2]! };
    },
    labelNames: async () => ({ names: [], warnings: [] }),
    labelValues: async () => ({ values: [], warnings: [] }),
  };
  const c2 = (await serve(src)).client;
  const f2: string[] = [];
  for await (const f of c2.series(req({ responseBatchSize: 100 }))) f2.push(f.type === 'batch' ? `batch${f.batch.length}` : f.type);
  assert.equal(f2, ['batch2', 'warning', 'batch1']);
});

test('a store killed mid-stream becomes a partial-response warning; the other store keeps serving', async () => {
  const slow: StoreServer = {
    async *series(_r, signal) {
      for (let i = 0; i < 1000; i++) {
        if (signal.aborted) return;
        yield { type: 'series', series: { labels: [{ name: '__name__', value: 'm' }, { name: 'i', value: String(i).padStart(4, '0') }, { name: 'src', value: 'dying' }], chunks: [] } };
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    labelNames: async () => ({ names: [], warnings: [] }),
    labelValues: async () => ({ values: [], warnings: [] }),
  };
  const dying = await serveGrpc(storeServices(slow));
  const cd = new StoreClient(dialGrpc(dying.address), { responseBatchSize: 0 });
  closers.push(() => cd.close());
  const good = memStore(Array.from({ length: 5 }, (_, i) => mkSeries({ __name__: 'm', i: String(i).padStart(4, '0'), src: 'good' }, [[0, H]])));
  const cg = (await serve(good)).client;
  const proxy = new ProxyStore(() => [
    { name: 'dying', store: cd, minTime: -Infinity, maxTime: Infinity, labelSets: [] },
    { name: 'good', store: cg, minTime: -Infinity, maxTime: Infinity, labelSets: [] },
  ]);
  let seen = 0;
  const warnings: string[] = [];
  const goodSeen: string[] = [];
  for await (const r of proxy.series(req(), new AbortController().signal)) {
    if (r.type === 'warning') warnings.push(r.warning);
    const list = r.type === 'series' ? [r.series] : r.type === 'batch' ? r.batch : [];
    for (const s of list) {
      if (++seen === 20) void dying.close(0);
      if (s.labels.some((l) => l.value === 'good')) goodSeen.push(formatLabels(s.labels));
    }
  }
  assert.ok(seen >= 20 && seen < 1000, `stream cut short (${seen})`);
  assert.is(goodSeen.length, 5, 'all series of the healthy store arrived');
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!, /fetch series for dying/);
});

test('WriteableStore RemoteWrite: request, metadata and errors over gRPC', async () => {
  const got: Array<{ req: StoreWriteRequest; md: Record<string, string> }> = [];
  const srv = await serveGrpc(
    writeableStoreServices(async (req, _signal, md) => {
      if (req.tenant === 'bad') throw new GrpcError(9, 'out of bounds sample');
      got.push({ req, md });
    }),
  );
  closers.push(() => srv.close());
  const c = new StoreClient(dialGrpc(srv.address), { metadata: { 'thanos-tenant': 'team-a' } });
  closers.push(() => c.close());
  const wr: StoreWriteRequest = { timeseries: [{ labels: [{ name: '__name__', value: 'x' }], samples: [{ value: 1.5, timestamp: 1000 }] }], tenant: 'team-a', replica: 1 };
  await c.remoteWrite(wr);
  assert.is(got.length, 1);
  assert.equal(got[0]!.req, wr);
  assert.is(got[0]!.md['thanos-tenant'], 'team-a');
  await rejects(() => c.remoteWrite({ ...wr, tenant: 'bad' }), (e) => e instanceof GrpcError && e.code === 9 && /out of bounds/.test(e.message));
});

test.run();
