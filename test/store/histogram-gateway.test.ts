// Native histograms through the StoreAPI: a block written by a real Prometheus 2.42
// (test/tsdb/fixtures/histogram-block-242), uploaded as two replicas to two store gateways served
// over real gRPC and fanned out to by the proxy; the frames carry storepb Chunk.Encoding HISTOGRAM / FLOAT_HISTOGRAM and
// the querier decodes them into SeriesData.h, with and without deduplication.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJsCore } from '../../lib/core/mod.ts';
import { formatLabels, type Labels } from '../../lib/labels/mod.ts';
import { ChunkEncoding, type SeriesRequest } from '../../lib/proto/store.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { BucketStore } from '../../lib/store/gateway/bucketstore.ts';
import { storeGrpc, storeServer } from '../../lib/store/gateway/component.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { ProxyStore } from '../../lib/store/proxy.ts';
import type { StoreTarget } from '../../lib/store/api.ts';
import { StoreQueryable } from '../../lib/query/querier.ts';
import { BlockReader, BlockWriter, fsBlockFiles, memBlockSink, type SeriesSamples } from '../../lib/tsdb/mod.ts';
import { formatMeta, parseMeta } from '../../lib/tsdb/meta.ts';
import { ulid } from '../../lib/tsdb/ulid.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { dialGrpc, startGrpc } from '../../host/server/grpc.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import type { SeriesData } from '../../lib/promql/queryable.ts';

const core = createJsCore();
const FIXTURE = fileURLToPath(new URL('../tsdb/fixtures/histogram-block-242/', import.meta.url));
const BLOCK = join(FIXTURE, readdirSync(FIXTURE).find((n) => /^[0-9A-Z]{26}$/.test(n))!);
const dataDir = mkdtempSync(join(tmpdir(), 'store-hist-'));
const closers: Array<() => unknown> = [];
test.after(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(dataDir, { recursive: true, force: true });
});

const ALL = [{ type: '=~' as const, name: '__name__', value: 'test_.*' }];
let client: ProxyStore;
let truth: SeriesSamples[] = [];
let minTime = 0;
let maxTime = 0;

/** Uploads the fixture block as a replica (thanos section with the replica's external labels). */
async function uploadReplica(bucket: MemoryBucket, replica: string): Promise<void> {
  const id = ulid();
  const meta = parseMeta(readFileSync(join(BLOCK, 'meta.json')));
  meta.ulid = id;
  meta.thanos = { labels: { replica }, downsample: { resolution: 0 }, source: 'sidecar' };
  for (const rel of ['index', 'chunks/000001', 'tombstones']) await bucket.upload(`${id}/${rel}`, readFileSync(join(BLOCK, rel)));
  await bucket.upload(`${id}/meta.json`, new TextEncoder().encode(formatMeta(meta)));
}

test.before(async () => {
  const src = await BlockReader.open(fsBlockFiles(nodeFs(), BLOCK), { core });
  for await (const s of src.select(ALL)) truth.push(s);
  minTime = src.meta.minTime;
  maxTime = src.meta.maxTime;
  // one store gateway per replica, each over gRPC, fanned out to by the proxy
  const targets: StoreTarget[] = [];
  for (const replica of ['a', 'b']) {
    const bucket = new MemoryBucket();
    await uploadReplica(bucket, replica);
    const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core, fs: nodeFs(), dataDir }, meta) });
    await store.sync();
    assert.is(store.blocks.size, 1);
    const srv = await startGrpc('127.0.0.1:0', storeGrpc(store));
    closers.push(() => srv.close());
    const c = new StoreClient(dialGrpc(srv.address));
    closers.push(() => c.close());
    targets.push({ name: `gateway-${replica}`, store: c, minTime, maxTime, labelSets: [[{ name: 'replica', value: replica }]], supportsWithoutReplicaLabels: true });
  }
  client = new ProxyStore(() => targets);
});

function name(ls: Labels): string {
  return formatLabels(ls.filter((l) => l.name !== 'instance' && l.name !== 'job'));
}

function request(): SeriesRequest {
  return {
    minTime, maxTime, matchers: ALL, maxResolutionWindow: 0, aggregates: [], partialResponseDisabled: true, partialResponseStrategy: 1,
    skipChunks: false, step: 0, range: 0, shardInfo: undefined, withoutReplicaLabels: [], limit: 0, responseBatchSize: 0,
  } as unknown as SeriesRequest;
}

/** The query path's samples of a series equal the block reader's (floats, histograms, stale markers). */
function assertSameSamples(got: SeriesData, want: SeriesSamples, what: string): void {
  assert.is(got.n, want.n, `${what}: samples`);
  assert.equal(Array.from(got.t.subarray(0, got.n)), Array.from(want.t.subarray(0, want.n)), `${what}: timestamps`);
  for (let i = 0; i < want.n; i++) {
    const w = want.h?.[i];
    const g = got.h?.[i];
    if (!w) {
      assert.not.ok(g, `${what}[${i}] is a float`);
      assert.ok(Object.is(got.v[i], want.v[i]) || (Number.isNaN(got.v[i]) && Number.isNaN(want.v[i])), `${what}[${i}] value`);
      continue;
    }
    assert.ok(g, `${what}[${i}] is a histogram`);
    if (Number.isNaN(w.sum)) assert.ok(Number.isNaN(g!.sum), `${what}[${i}] stale marker`);
    else assert.ok(g!.equals(w), `${what}[${i}]: ${g!.toString()} != ${w.toString()}`);
    assert.is(g!.counterResetHint, w.counterResetHint, `${what}[${i}] hint`);
  }
}

test('gateways and proxy stream Prometheus histogram chunks as storepb HISTOGRAM / FLOAT_HISTOGRAM', async () => {
  const types = new Map<string, number[]>();
  const bytes = new Map<string, Uint8Array[]>();
  for await (const r of client.series(request(), new AbortController().signal)) {
    const list = r.type === 'series' ? [r.series] : r.type === 'batch' ? r.batch : [];
    for (const s of list) {
      const k = name(s.labels);
      types.set(k, [...(types.get(k) ?? []), ...s.chunks.map((c) => c.raw!.type)]);
      bytes.set(k, [...(bytes.get(k) ?? []), ...s.chunks.map((c) => c.raw!.data)]);
    }
  }
  // the chunk bytes are the block's, as Prometheus wrote them
  const src = await BlockReader.open(fsBlockFiles(nodeFs(), BLOCK), { core });
  for await (const s of src.selectChunks(ALL)) {
    for (const r of ['a', 'b']) {
      const k = name([...s.labels, { name: 'replica', value: r }].sort((x, y) => (x.name < y.name ? -1 : 1)));
      assert.equal(bytes.get(k)?.map((b) => Buffer.from(b).toString('hex')), s.chunks.map((c) => Buffer.from(c.data).toString('hex')), k);
    }
  }
  const H = ChunkEncoding.HISTOGRAM;
  assert.equal(types.get('test_hist{case="neg", replica="a"}'), [H]);
  assert.equal(types.get('test_hist{case="grow", replica="b"}'), [H, H]);
  assert.equal(types.get('test_float_hist{replica="a"}'), [ChunkEncoding.FLOAT_HISTOGRAM]);
  assert.equal(types.get('test_counter_total{replica="b"}'), [ChunkEncoding.XOR]);
  assert.is(types.size, 12);
});

test('the querier decodes them into SeriesData.h exactly as the block reader does (each replica)', async () => {
  const q = new StoreQueryable(client, core, { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: false });
  const r = await q.select(ALL, { start: minTime, end: maxTime });
  assert.is(r.series.length, 12);
  for (const s of r.series) {
    const replica = s.labels.find((l) => l.name === 'replica')!.value;
    const want = truth.find((w) => name(w.labels) === name(s.labels.filter((l) => l.name !== 'replica')))!;
    assertSameSamples(s, want, `${name(s.labels)} (${replica})`);
  }
  // histogram series only (no XOR chunk in the whole selection)
  const only = await q.select([{ type: '=', name: '__name__', value: 'test_hist' }], { start: minTime, end: maxTime });
  assert.is(only.series.length, 6);
  for (const s of only.series) assertSameSamples(s, truth.find((w) => name(w.labels) === name(s.labels.filter((l) => l.name !== 'replica')))!, name(s.labels));
  // --query.max-memory counts the histogram objects, not 16 bytes a sample
  const small = new StoreQueryable(client, core, { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: false, maxMemoryBytes: 20_000 });
  try {
    await small.select([{ type: '=', name: '__name__', value: 'test_hist' }], { start: minTime, end: maxTime });
    assert.unreachable('over the memory budget');
  } catch (e) {
    assert.match((e as Error).message, /memory budget .* while decoding samples/);
  }
  // trimmed to the range like float samples: the first five seconds cut off
  const cut = await q.select(ALL, { start: minTime + 5000, end: maxTime });
  const neg = cut.series.find((s) => name(s.labels) === 'test_hist{case="neg", replica="a"}')!;
  assert.ok(neg.t[0]! >= minTime + 5000);
  assert.is(neg.h!.length, neg.n);
  assert.ok(neg.h![0]!.equals(truth.find((w) => name(w.labels) === 'test_hist{case="neg"}')!.h![neg.n === 31 ? 0 : 31 - neg.n]!));
});

for (const algorithm of ['penalty', 'chain'] as const) {
  for (const func of [undefined, 'rate']) {
    test(`dedup (${algorithm}${func ? `, ${func}` : ''}) of two replicas of histogram series gives one replica's samples`, async () => {
      const q = new StoreQueryable(client, core, { dedup: true, replicaLabels: ['replica'], dedupAlgorithm: algorithm, maxResolutionMs: 0, partialResponse: false });
      const r = await q.select(ALL, { start: minTime, end: maxTime, func, range: func ? 60_000 : undefined });
      assert.equal(r.series.map((s) => name(s.labels)), truth.map((s) => name(s.labels)));
      r.series.forEach((s, i) => assertSameSamples(s, truth[i]!, name(s.labels)));
    });
  }
}

/** A replica holding every other sample (from `parity`) of the fixture's series, written by our writer. */
async function halfReplica(bucket: MemoryBucket, parity: number, replica: string): Promise<void> {
  const symbols = new Set<string>();
  for (const s of truth) for (const l of s.labels) symbols.add(l.name), symbols.add(l.value);
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, symbols, { core, minTime, maxTime: maxTime + 1, thanos: { labels: { replica }, downsample: { resolution: 0 }, source: 'test' } });
  for (const s of truth) {
    const keep = Array.from({ length: s.n }, (_, i) => i).filter((i) => i % 2 === parity);
    await w.addMixedSeries(s.labels, {
      t: Float64Array.from(keep, (i) => s.t[i]!), v: Float64Array.from(keep, (i) => s.v[i]!), n: keep.length,
      h: s.h ? keep.map((i) => s.h![i]) : undefined, intHist: s.intHist ? Uint8Array.from(keep, (i) => s.intHist![i]!) : undefined,
    });
  }
  const { meta } = await w.finish();
  for (const [rel, data] of sink.files) await bucket.upload(`${meta.ulid}/${rel}`, data);
}

test('chain dedup of two replicas holding alternate samples: every histogram sample once (overlapping chunks split per replica)', async () => {
  const bucket = new MemoryBucket();
  await halfReplica(bucket, 0, 'a');
  await halfReplica(bucket, 1, 'b');
  const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core, fs: nodeFs(), dataDir }, meta) });
  await store.sync();
  assert.is(store.blocks.size, 2);
  const q = new StoreQueryable(storeServer(store), core, { dedup: true, replicaLabels: ['replica'], dedupAlgorithm: 'chain', maxResolutionMs: 0, partialResponse: false });
  const r = await q.select(ALL, { start: minTime, end: maxTime });
  assert.equal(r.series.map((s) => name(s.labels)), truth.map((s) => name(s.labels)));
  r.series.forEach((s, i) => {
    const want = truth[i]!;
    assert.is(s.n, want.n, name(s.labels));
    for (let k = 0; k < want.n; k++) {
      const w = want.h?.[k];
      if (!w) continue;
      assert.ok(Number.isNaN(w.sum) ? Number.isNaN(s.h![k]!.sum) : s.h![k]!.equals(w), `${name(s.labels)}[${k}]`);
    }
  });
  // penalty: the samples of one replica at a time, never two samples closer than the scrape interval apart
  const p = await new StoreQueryable(storeServer(store), core, { dedup: true, replicaLabels: ['replica'], maxResolutionMs: 0, partialResponse: false }).select(ALL, { start: minTime, end: maxTime });
  for (const s of p.series) {
    assert.ok(s.n >= 15 / 2, name(s.labels));
    if (s.h) assert.ok(s.h.some((x) => x), 'histograms');
  }
});

test.run();
