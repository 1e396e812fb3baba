import { test } from 'uvu';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { GrpcError, GrpcStatus } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import plugin, { setupStore } from '../../plugins/component/store/mod.ts';
import type { StoreComponent } from '../../lib/store/gateway/component.ts';
import type { SeriesOut, SeriesReq } from '../../lib/store/gateway/bucketstore.ts';
import { genSeries, writeRawBlock, expected, decodeResult, testCtx, key, type TestCtx, type FixtureSeries } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const bucket = new MemoryBucket();
const extA = { cluster: 'a', replica: '0' };
const extA1 = { cluster: 'a', replica: '1' };
const extB = { cluster: 'b', replica: '0' };
let seriesA: FixtureSeries[];
let seriesB: FixtureSeries[];
let comp: StoreComponent;
let ctx: TestCtx;
const ac = new AbortController();
let runP: Promise<void>;

async function collect(req: Partial<SeriesReq> & { matchers: Matcher[] }): Promise<SeriesOut[]> {
  const out: SeriesOut[] = [];
  for await (const s of comp.store.series({ minTime: T0 - H2, maxTime: T0 + 10 * H2, ...req })) out.push(s);
  return out;
}

async function grpcErr(p: Promise<unknown>): Promise<GrpcError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, GrpcError);
    return e as GrpcError;
  }
  throw new Error('expected an error');
}

test.before(async () => {
  seriesA = genSeries(30, T0, T0 + 3 * H2, 15_000, 1);
  seriesB = genSeries(12, T0 + H2, T0 + 3 * H2, 30_000, 2);
  for (let b = 0; b < 3; b++) {
    await writeRawBlock(bucket, core, seriesA, T0 + b * H2, T0 + (b + 1) * H2, extA);
    await writeRawBlock(bucket, core, seriesA, T0 + b * H2, T0 + (b + 1) * H2, extA1);
  }
  await writeRawBlock(bucket, core, seriesB, T0 + H2, T0 + 3 * H2, extB);
  ctx = testCtx(bucket, core, mkdtempSync(join(tmpdir(), 'store-series-')));
  comp = await setupStore(ctx, plugin.parseConfig({ syncBlockDuration: '1h' }));
  runP = comp.run(ac.signal);
  await comp.ready;
});

test.after(async () => {
  ac.abort();
  await runP;
  rmSync(ctx.dataDir!, { recursive: true, force: true });
});

test('ready after the first sync; Info advertises label sets and time range', () => {
  assert.ok(ctx.ready);
  assert.is(comp.store.blocks.size, 7);
  const info = comp.info();
  assert.is(info.componentType, 'store');
  assert.equal(info.labelSets!.map((l) => `${l.cluster}/${l.replica}`).sort(), ['a/0', 'a/1', 'b/0']);
  assert.is(info.store!.minTime, T0);
  assert.is(info.store!.maxTime, T0 + 3 * H2);
  assert.ok(info.store!.supportsWithoutReplicaLabels);
});

const matcherSets: Matcher[][] = [
  [{ type: '=', name: '__name__', value: 'up' }],
  [{ type: '=', name: '__name__', value: 'http_requests_total' }, { type: '=', name: 'job', value: 'api' }],
  [{ type: '=~', name: '__name__', value: 'http_.*|node_.*' }, { type: '!=', name: 'instance', value: 'i3' }],
  [{ type: '=', name: 'job', value: 'db' }, { type: '!~', name: 'path', value: '/p1|/p2' }],
  [{ type: '=~', name: 'path', value: '.+' }],
  [{ type: '=', name: 'path', value: '' }, { type: '=', name: 'job', value: 'api' }],
  [{ type: '=~', name: 'instance', value: 'i[0-4]' }, { type: '=', name: 'cluster', value: 'a' }],
  [{ type: '=', name: 'replica', value: '1' }, { type: '=~', name: 'idx', value: '1.*' }],
  [{ type: '!=', name: 'cluster', value: 'a' }, { type: '=~', name: '__name__', value: '.+' }],
  [{ type: '=', name: '__name__', value: 'nope' }],
  [{ type: '=~', name: '__name__', value: 'up|http_requests_total' }, { type: '=~', name: 'instance', value: 'i7|i1|i4' }],
  [{ type: '=', name: 'cluster', value: 'zzz' }, { type: '=~', name: '__name__', value: '.+' }],
];
const ranges: Array<[number, number]> = [
  [T0 - H2, T0 + 10 * H2],
  [T0, T0 + H2 - 1],
  [T0 + H2 / 2, T0 + H2 + H2 / 2],
  [T0 + 2 * H2 + 123_456, T0 + 2 * H2 + 600_000],
  [T0 + 3 * H2 + 1, T0 + 4 * H2],
  [T0 + H2 - 30_000, T0 + H2 + 30_000],
];

test('Series: sample-by-sample equal to what was written, many matchers × ranges', async () => {
  let nonEmpty = 0;
  for (const ms of matcherSets) {
    for (const [mint, maxt] of ranges) {
      const res = await collect({ matchers: ms, minTime: mint, maxTime: maxt });
      for (let i = 1; i < res.length; i++) assert.ok(key(res[i - 1]!.labels) !== key(res[i]!.labels));
      for (const s of res) for (let i = 1; i < s.chunks.length; i++) assert.ok(s.chunks[i - 1]!.minTime <= s.chunks[i]!.minTime, 'chunks sorted by min time');
      const got = decodeResult(core, res, mint, maxt);
      const want = new Map([...expected(seriesA, extA, ms, mint, maxt), ...expected(seriesA, extA1, ms, mint, maxt), ...expected(seriesB, extB, ms, mint, maxt)]);
      const label = `${JSON.stringify(ms)} [${mint - T0}, ${maxt - T0}]`;
      assert.equal([...got.keys()].sort(), [...want.keys()].sort(), label);
      for (const [k, w] of want) assert.equal(got.get(k), w, `${label} ${k}`);
      if (want.size) nonEmpty++;
    }
  }
  assert.ok(nonEmpty > 30, `only ${nonEmpty} non-empty cases`);
});

test('Series: results sorted by labels (Prometheus order)', async () => {
  const res = await collect({ matchers: [{ type: '=~', name: '__name__', value: '.+' }] });
  const { compareLabels } = await import('../../lib/labels/mod.ts');
  for (let i = 1; i < res.length; i++) assert.ok(compareLabels(res[i - 1]!.labels, res[i]!.labels) < 0);
  assert.is(res.length, 30 * 2 + 12);
});

test('Series: skip_chunks returns labels only', async () => {
  const res = await collect({ matchers: [{ type: '=', name: 'job', value: 'api' }], skipChunks: true });
  assert.is(res.length, 15 * 2 + 6);
  for (const s of res) assert.is(s.chunks.length, 0);
});

test('Series: without_replica_labels merges replicas into one series', async () => {
  const ms: Matcher[] = [{ type: '=', name: 'cluster', value: 'a' }, { type: '=', name: '__name__', value: 'up' }];
  const res = await collect({ matchers: ms, withoutReplicaLabels: ['replica'] });
  assert.is(res.length, 10);
  for (const s of res) {
    assert.ok(!s.labels.some((l) => l.name === 'replica'));
    // both replicas' chunks, sorted by time
    const one = await collect({ matchers: [...ms, { type: '=', name: 'replica', value: '0' }, { type: '=', name: 'idx', value: s.labels.find((l) => l.name === 'idx')!.value }] });
    assert.is(s.chunks.length, one[0]!.chunks.length * 2);
  }
});

test('Series: limit field caps the number of series', async () => {
  const res = await collect({ matchers: [{ type: '=~', name: '__name__', value: '.+' }], limit: 5 });
  assert.is(res.length, 5);
});

test('bad input: malformed regex and empty matchers are InvalidArgument', async () => {
  let e = await grpcErr(collect({ matchers: [{ type: '=~', name: 'job', value: '(unclosed' }] }));
  assert.is(e.code, GrpcStatus.InvalidArgument);
  assert.match(e.message, /invalid matcher/);
  e = await grpcErr(collect({ matchers: [] }));
  assert.is(e.code, GrpcStatus.InvalidArgument);
  e = await grpcErr(collect({ matchers: [{ type: '=', name: 'job', value: 'x' }], minTime: 10, maxTime: 5 }));
  assert.is(e.code, GrpcStatus.InvalidArgument);
  e = await grpcErr(comp.store.labelValues({ label: 'job', start: 0, end: 1, matchers: [{ type: '!~', name: 'a', value: '*' }] }));
  assert.is(e.code, GrpcStatus.InvalidArgument);
});

test('LabelNames / LabelValues with matchers and time ranges', async () => {
  const all = await comp.store.labelNames({ start: T0 - H2, end: T0 + 10 * H2 });
  assert.equal(all, ['__name__', 'cluster', 'idx', 'instance', 'job', 'path', 'replica']);
  const upOnly = await comp.store.labelNames({ start: T0 - H2, end: T0 + 10 * H2, matchers: [{ type: '=', name: '__name__', value: 'up' }] });
  assert.equal(upOnly, ['__name__', 'cluster', 'idx', 'instance', 'job', 'replica']);
  const none = await comp.store.labelNames({ start: T0 + 5 * H2, end: T0 + 6 * H2 });
  assert.equal(none, []);
  assert.equal(await comp.store.labelNames({ start: T0 - H2, end: T0 + 10 * H2, withoutReplicaLabels: ['replica'] }), ['__name__', 'cluster', 'idx', 'instance', 'job', 'path']);
  assert.equal(await comp.store.labelValues({ label: '__name__', start: T0, end: T0 + H2 }), ['http_requests_total', 'node_cpu_seconds_total', 'up']);
  assert.equal(await comp.store.labelValues({ label: 'cluster', start: T0, end: T0 + H2 - 1 }), ['a'], 'cluster b has no block in the first 2h');
  assert.equal(await comp.store.labelValues({ label: 'cluster', start: T0, end: T0 + 3 * H2 }), ['a', 'b']);
  assert.equal(await comp.store.labelValues({ label: 'path', start: T0, end: T0 + 3 * H2, matchers: [{ type: '=', name: 'job', value: 'api' }] }), ['/p1', '/p3']);
  assert.equal(await comp.store.labelValues({ label: 'cluster', start: T0, end: T0 + 3 * H2, matchers: [{ type: '=', name: 'idx', value: '29' }] }), ['a']);
  assert.equal(await comp.store.labelValues({ label: 'replica', start: T0, end: T0 + 3 * H2, matchers: [{ type: '=', name: 'replica', value: '1' }] }), ['1']);
  assert.equal(await comp.store.labelValues({ label: 'instance', start: T0, end: T0 + 3 * H2, limit: 3 }), ['i0', 'i1', 'i2']);
  const want = new Set(seriesB.map((s) => s.labels.find((l) => l.name === 'idx')!.value));
  assert.equal(await comp.store.labelValues({ label: 'idx', start: T0, end: T0 + 3 * H2, matchers: [{ type: '=', name: 'cluster', value: 'b' }] }), [...want].sort());
});

test('HTTP: /api/v1/blocks JSON and the loaded-blocks page', async () => {
  const r = await comp.fetch!(new Request('http://x/api/v1/blocks'));
  assert.is(r.status, 200);
  const body = (await r.json()) as { status: string; data: { blocks: Array<{ ulid: string; thanos: { labels: Record<string, string> } }>; refreshedAt: string } };
  assert.is(body.status, 'success');
  assert.is(body.data.blocks.length, 7);
  assert.ok(body.data.blocks.every((b) => b.thanos.labels.cluster));
  assert.ok(Date.parse(body.data.refreshedAt) > 0);
  const page = await comp.fetch!(new Request('http://x/loaded'));
  const html = await page.text();
  assert.match(html, /Loaded blocks \(7\)/);
  for (const b of body.data.blocks) assert.ok(html.includes(b.ulid));
  assert.is((await comp.fetch!(new Request('http://x/nope'))).status, 404);
});

test('index cache: postings lists shared by different matcher sets are served from the cache', async () => {
  const hits = () => Number(/thanos_store_index_cache_hits_total\{item_type="Postings",tenant="default-tenant"\} (\d+)/.exec(ctx.registry.render())?.[1] ?? 0);
  const before = hits();
  const a = await collect({ matchers: [{ type: '=', name: 'job', value: 'db' }, { type: '=', name: 'instance', value: 'i8' }] });
  const mid = hits();
  const b = await collect({ matchers: [{ type: '=', name: 'job', value: 'db' }, { type: '=', name: 'instance', value: 'i9' }] });
  assert.ok(a.length > 0 && b.length > 0);
  assert.ok(hits() > mid, `postings hits ${before} → ${mid} → ${hits()}`);
  // and the answers are still right
  const want = new Map([...expected(seriesA, extA, [{ type: '=', name: 'job', value: 'db' }, { type: '=', name: 'instance', value: 'i9' }], T0 - H2, T0 + 10 * H2), ...expected(seriesA, extA1, [{ type: '=', name: 'job', value: 'db' }, { type: '=', name: 'instance', value: 'i9' }], T0 - H2, T0 + 10 * H2), ...expected(seriesB, extB, [{ type: '=', name: 'job', value: 'db' }, { type: '=', name: 'instance', value: 'i9' }], T0 - H2, T0 + 10 * H2)]);
  assert.equal(decodeResult(core, b, T0 - H2, T0 + 10 * H2), want);
});

test('metrics: blocks loaded and, per Series call, the data touched and fetched (Thanos\'s names and labels)', () => {
  const text = ctx.registry.render();
  assert.match(text, /^thanos_bucket_store_blocks_loaded 7$/m);
  assert.match(text, /^thanos_bucket_store_block_loads_total 7$/m);
  for (const t of ['postings', 'series', 'chunks']) {
    assert.match(text, new RegExp(`^thanos_bucket_store_series_data_fetched_count\\{data_type="${t}",tenant="default-tenant"\\} [1-9]`, 'm'), t);
  }
  const chunks = Number(/^thanos_bucket_store_series_data_fetched_sum\{data_type="chunks",tenant="default-tenant"\} (\d+)/m.exec(text)?.[1]);
  assert.ok(chunks > 0, 'chunks fetched');
  assert.match(text, /^thanos_bucket_store_series_result_series_count\{tenant="default-tenant"\} [1-9]/m);
  assert.match(text, /^thanos_bucket_store_sent_chunk_size_bytes_bucket\{tenant="default-tenant",le="\+Inf"\} [1-9]/m);
  assert.match(text, /^thanos_bucket_store_series_blocks_queried_bucket\{tenant="default-tenant",le="512"\} [1-9]/m, 'ExponentialBuckets(1, 2, 10) ends at 512');
  // The Series gate: pkg/gate's metrics under thanos_bucket_store_series_ (--store.grpc.series-max-concurrency).
  assert.match(text, /^thanos_bucket_store_series_gate_queries_max \d+$/m);
  assert.match(text, /^thanos_bucket_store_series_gate_queries_in_flight 0$/m);
  assert.match(text, /^thanos_bucket_store_series_gate_queries_duration_seconds_count [1-9]/m);
  // The index cache's counters exist per item type from the start (Thanos pre-initialises them).
  for (const t of ['Postings', 'Series', 'ExpandedPostings']) {
    assert.match(text, new RegExp(`^thanos_store_index_cache_requests_total\\{item_type="${t}",tenant="default-tenant"\\} \\d+`, 'm'), t);
    assert.match(text, new RegExp(`^thanos_store_index_cache_items_added_total\\{item_type="${t}"\\} \\d+`, 'm'), t);
  }
});

test.run();
