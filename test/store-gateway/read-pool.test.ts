// Pooled chunk read buffers (lib/store/gateway/readpool.ts): a transient Series stream's chunks view
// buffers that are reused once the consumer resumes the stream. Whatever the reuse, every answer is
// byte for byte the unpooled one: concurrent consumers that let other reads run before they copy a
// batch (in process), and concurrent gRPC Series calls with and without response batching and
// sharding (the server's batchSeries and filterShard between the store and the frame encoder).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { BucketStore, type SeriesOut } from '../../lib/store/gateway/bucketstore.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { storeGrpc } from '../../lib/store/gateway/component.ts';
import { ReadBufferPool, ReadLease } from '../../lib/store/gateway/readpool.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { seriesRequest, type SeriesRequest, type ShardInfo } from '../../lib/proto/store.ts';
import { dialGrpc, startGrpc } from '../../host/server/grpc.ts';
import type { Bucket } from '../../lib/objstore/bucket.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { FilesystemBucket } from '../../plugins/objstore/filesystem/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { genSeries, writeRawBlock } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const BLOCKS = 4;
const SERIES = 100;
const ALL = [{ type: '=~' as const, name: '__name__', value: '.+' }];
const dir = mkdtempSync(join(tmpdir(), 'read-pool-'));

/** A bucket whose getRangeInto calls are counted (undefined when the provider has none: the fallback). */
function counted<B extends Bucket>(b: B): B & { into: number } {
  const c = b as B & { into: number };
  c.into = 0;
  const own = b.getRangeInto?.bind(b);
  if (own) c.getRangeInto = (name, off, dst) => { c.into++; return own(name, off, dst); };
  return c;
}

let fsBucket: FilesystemBucket & { into: number };
let memBucket: MemoryBucket & { into: number };
test.before(async () => {
  fsBucket = counted(new FilesystemBucket(nodeFs(), join(dir, 'bucket')));
  memBucket = counted(new MemoryBucket());
  const series = genSeries(SERIES, T0, T0 + BLOCKS * H2, 15_000);
  for (let i = 0; i < BLOCKS; i++) {
    const ulid = await writeRawBlock(memBucket, core, series, T0 + i * H2, T0 + (i + 1) * H2, { replica: 'a' });
    await writeRawBlock(fsBucket, core, series, T0 + i * H2, T0 + (i + 1) * H2, { replica: 'a' }, { ulid });
  }
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Small chunk-fetch batches (~10 series of 4 blocks, a GET per block): many leases, each buffer reused many times. */
async function storeOf(b: Bucket): Promise<BucketStore> {
  const store = new BucketStore(b, { core, fetcher: new MetaFetcher(b), open: (meta) => openBlock({ bucket: b, core }, meta), batchBytes: 16 << 10 });
  await store.sync();
  return store;
}

/** One series as comparable text: labels, then each chunk's times, encoding and bytes. */
function fingerprint(s: { labels: ReadonlyArray<{ name: string; value: string }>; chunks: ReadonlyArray<{ minTime: number; maxTime: number; raw?: { type: number; data: Uint8Array } }> }): string {
  let out = s.labels.map((l) => `${l.name}=${l.value}`).join(',');
  for (const c of s.chunks) out += `|${c.minTime}:${c.maxTime}:${c.raw!.type}:${Buffer.from(c.raw!.data).toString('base64')}`;
  return out;
}

const requests: Array<{ name: string; req: SeriesRequest }> = [
  { name: 'all blocks', req: seriesRequest({ minTime: T0, maxTime: T0 + BLOCKS * H2, matchers: ALL }) },
  { name: 'one job, middle blocks', req: seriesRequest({ minTime: T0 + H2 + 1, maxTime: T0 + 3 * H2 - 1, matchers: [{ type: '=', name: 'job', value: 'api' }] }) },
  { name: 'last block', req: seriesRequest({ minTime: T0 + 3 * H2, maxTime: T0 + BLOCKS * H2, matchers: [{ type: '=~', name: '__name__', value: 'up|http_requests_total' }] }) },
];

/** The unpooled answer (chunks in buffers of their own, held as long as wanted). */
async function reference(store: BucketStore, req: SeriesRequest, shard?: ShardInfo): Promise<string[]> {
  const out: SeriesOut[] = [];
  for await (const b of store.seriesBatches(req)) out.push(...b);
  const { shardMatcher } = await import('../../lib/store/shard.ts');
  const m = shardMatcher(shard);
  return out.filter((s) => !m || m(s.labels)).map(fingerprint);
}

/** Everything but the turn before copying is what a transient consumer may do. */
async function transientConsumer(store: BucketStore, req: SeriesRequest): Promise<string[]> {
  const got: string[] = [];
  for await (const batch of store.seriesBatches(req, undefined, undefined, { transient: true })) {
    await new Promise((r) => setImmediate(r)); // other streams' reads run now
    for (const s of batch) got.push(fingerprint(s));
  }
  return got;
}

for (const [kind, bucketOf] of [['FILESYSTEM (getRangeInto)', () => fsBucket], ['memory (getRange fallback)', () => memBucket]] as const) {
  test(`${kind}: concurrent transient streams that copy a batch only after other reads ran equal the unpooled answers`, async () => {
    const b = bucketOf();
    const store = await storeOf(b);
    const want = await Promise.all(requests.map((r) => reference(store, r.req)));
    for (const w of want) assert.ok(w.length > 20);
    const intoBefore = b.into;
    const takenBefore = store.readPool.taken;
    // Two rounds of every request twice at once: the pool's buffers go from stream to stream.
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all([...requests, ...requests].map((r) => transientConsumer(store, r.req)));
      got.forEach((g, i) => assert.equal(g, want[i % requests.length], `${requests[i % requests.length]!.name}, round ${round}`));
    }
    if (kind.startsWith('FILESYSTEM')) assert.ok(b.into - intoBefore > 100, `reads went through getRangeInto (${b.into - intoBefore})`);
    else assert.is(b.into, 0);
    // Buffers were reused, not allocated per read: far fewer allocations than leases' reads.
    const taken = store.readPool.taken - takenBefore;
    assert.ok(taken > 100 && store.readPool.allocated < taken / 4, `allocated ${store.readPool.allocated} of ${taken}`);
    assert.ok(store.readPool.retainedBytes > 0);
  });
}

test('concurrent gRPC Series calls (batched, single-series and sharded frames) equal the unpooled answers byte for byte', async () => {
  const store = await storeOf(fsBucket);
  const srv = await startGrpc('127.0.0.1:0', storeGrpc(store));
  const client = new StoreClient(dialGrpc(srv.address));
  try {
    const shard: ShardInfo = { shardIndex: 1, totalShards: 3, by: true, labels: ['instance'] };
    const calls: Array<{ name: string; req: SeriesRequest; shard?: ShardInfo }> = [];
    for (const r of requests) {
      for (const batch of [0, 7, 1000]) calls.push({ name: `${r.name}, batch ${batch}`, req: { ...r.req, responseBatchSize: batch } });
      calls.push({ name: `${r.name}, shard, batch 1000`, req: { ...r.req, responseBatchSize: 1000, shardInfo: shard }, shard });
    }
    const want = await Promise.all(calls.map((c) => reference(store, c.req, c.shard)));
    const allocated = store.readPool.allocated;
    {
      const round = 0;
      const got = await Promise.all(calls.map(async (c) => {
        const out: string[] = [];
        for await (const r of client.series(c.req, new AbortController().signal)) {
          if (r.type === 'series') out.push(fingerprint(r.series));
          else if (r.type === 'batch') for (const s of r.batch) out.push(fingerprint(s));
        }
        return out;
      }));
      got.forEach((g, i) => {
        assert.ok(want[i]!.length > 0, calls[i]!.name);
        assert.equal(g, want[i], `${calls[i]!.name}, round ${round}`);
      });
    }
    assert.ok(store.readPool.allocated > allocated, 'the gRPC path reads into pooled buffers');
  } finally {
    client.close();
    await srv.close();
  }
});

test('the pool: size classes, bounded retained bytes, a lease gives back what it took', () => {
  const pool = new ReadBufferPool(256 << 10);
  const l = new ReadLease(pool);
  const a = l.take(10);
  const b = l.take(100_000);
  assert.is(a.length, 10);
  assert.is(b.length, 100_000);
  assert.is(a.buffer.byteLength, 4 << 10, 'smallest class');
  assert.is(b.buffer.byteLength, 112 << 10, 'four classes per doubling: 64, 80, 96, 112, 128 KiB');
  l.take(20 << 20); // past the largest class: its own buffer, dropped when given back
  assert.is(pool.allocated, 3);
  l.release();
  assert.is(pool.retainedBytes, 116 << 10);
  l.release(); // twice is harmless
  assert.is(pool.retainedBytes, 116 << 10);
  const l2 = new ReadLease(pool);
  assert.is(l2.take(98_305).buffer, b.buffer, 'a free buffer of the class is reused');
  assert.is(l2.take(4096).buffer, a.buffer);
  assert.is(pool.allocated, 3);
  assert.is(pool.retainedBytes, 0);
  // Beyond maxRetainedBytes a buffer given back is left to the collector.
  l2.take(200_000);
  l2.take(200_000);
  l2.release();
  assert.is(pool.retainedBytes, 116 << 10, 'the 4 KiB and 112 KiB buffers kept, the two 224 KiB ones past the bound dropped');
});

test.run();
