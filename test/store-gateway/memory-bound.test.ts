// A Series call's memory does not grow with its result: chunk-fetch batches are cut by estimated
// bytes (each block's average chunk size from meta.json), and a consumer that stops pulling stops
// the reads (at most the batch being handed on and the one being fetched), whatever the result size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { averageChunkBytes, BucketStore, type BucketStoreOptions, type SeriesOut } from '../../lib/store/gateway/bucketstore.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { storeGrpc } from '../../lib/store/gateway/component.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { seriesRequest, type SeriesResponse } from '../../lib/proto/store.ts';
import { dialGrpc, startGrpc } from '../../host/server/grpc.ts';
import type { BucketBlockMeta } from '../../lib/tsdb/meta.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { decodeResult, genSeries, writeRawBlock } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const BLOCKS = 4;
const SERIES = 300;
const ALL = { minTime: T0, maxTime: T0 + BLOCKS * H2, matchers: [{ type: '=~' as const, name: '__name__', value: '.+' }] };

/** A memory bucket counting the chunk-segment bytes handed out by ranged reads. */
class CountingBucket extends MemoryBucket {
  chunkBytes = 0;
  override async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    const s = await super.getRange(name, off, len);
    if (!name.includes('/chunks/')) return s;
    return s.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (c, ctl) => { this.chunkBytes += c.byteLength; ctl.enqueue(c); } }));
  }
}

/** BLOCKS blocks of n series; 2 h of 15 s samples per block: 4 chunks of 120 samples per series and block. */
async function bucketOf(n: number): Promise<CountingBucket> {
  const b = new CountingBucket();
  const series = genSeries(n, T0, T0 + BLOCKS * H2, 15_000);
  for (let i = 0; i < BLOCKS; i++) await writeRawBlock(b, core, series, T0 + i * H2, T0 + (i + 1) * H2, { replica: 'a' });
  return b;
}

let bucket: CountingBucket;
test.before(async () => {
  bucket = await bucketOf(SERIES);
});

async function storeWith(opts: Partial<BucketStoreOptions>, b: CountingBucket = bucket): Promise<BucketStore> {
  const store = new BucketStore(b, { core, fetcher: new MetaFetcher(b), open: (meta) => openBlock({ bucket: b, core }, meta), ...opts });
  await store.sync();
  return store;
}

function dataBytes(batch: readonly SeriesOut[]): number {
  let n = 0;
  for (const s of batch) for (const c of s.chunks) n += c.raw!.data.byteLength;
  return n;
}

/** Lets every read that is already under way (memory bucket: no I/O) settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

test('averageChunkBytes: chunk segment sizes over numChunks; a default without them', () => {
  const meta = (files: Array<{ rel_path: string; size_bytes?: number }>, numChunks?: number) =>
    ({ ulid: 'x', minTime: 0, maxTime: 1, version: 1, stats: numChunks === undefined ? undefined : { numChunks }, thanos: { labels: {}, downsample: { resolution: 0 }, source: 'test', files } }) as unknown as BucketBlockMeta;
  assert.is(averageChunkBytes(meta([{ rel_path: 'chunks/000001', size_bytes: 600 }, { rel_path: 'chunks/000002', size_bytes: 400 }, { rel_path: 'index', size_bytes: 1e6 }], 4)), 250);
  assert.is(averageChunkBytes(meta([{ rel_path: 'index', size_bytes: 1e6 }], 4)), 1024);
  assert.is(averageChunkBytes(meta([{ rel_path: 'chunks/000001', size_bytes: 600 }])), 1024);
});

test('batches are cut by estimated chunk bytes; the answer is the same as with one batch', async () => {
  const whole = await storeWith({ batchBytes: 1 << 30 });
  const small = await storeWith({ batchBytes: 16 * 1024 });
  const wholeBatches: SeriesOut[][] = [];
  for await (const b of whole.seriesBatches(ALL)) wholeBatches.push(b);
  const smallBatches: SeriesOut[][] = [];
  for await (const b of small.seriesBatches(ALL)) smallBatches.push(b);
  const total = wholeBatches.reduce((n, b) => n + dataBytes(b), 0);
  assert.ok(total > 20 * 16 * 1024, `result ${total} bytes is large against the 16 KiB batches`);
  assert.is(wholeBatches.length, 1);
  assert.ok(smallBatches.length >= total / (32 * 1024), `${smallBatches.length} batches for ${total} bytes`);
  // A batch ends at the series that reaches the budget: at most one series (16 chunks here) over it.
  const seriesBytes = total / SERIES;
  for (const b of smallBatches) assert.ok(dataBytes(b) <= 2 * (16 * 1024 + seriesBytes), `batch of ${dataBytes(b)} bytes`);
  const flat = smallBatches.flat();
  assert.is(flat.length, SERIES);
  assert.equal(decodeResult(core, flat, ALL.minTime, ALL.maxTime), decodeResult(core, wholeBatches.flat(), ALL.minTime, ALL.maxTime));
});

test('a consumer that stops pulling stops the chunk reads (two batches at most)', async () => {
  const budget = 16 * 1024;
  const store = await storeWith({ batchBytes: budget });
  bucket.chunkBytes = 0;
  const it = store.seriesBatches(ALL)[Symbol.asyncIterator]();
  const first = await it.next();
  assert.ok(!first.done);
  await settle();
  const whilePaused = bucket.chunkBytes;
  await settle();
  assert.is(bucket.chunkBytes, whilePaused, 'reads went on while the consumer was paused');
  let rest = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    rest += dataBytes(r.value);
  }
  const total = dataBytes(first.value) + rest;
  // Fetched while paused: the batch handed on, the next one, and each block's read-extent slack
  // (one chunk record past the last ref, and the gaps merged between refs).
  assert.ok(whilePaused <= 3 * (budget + total / SERIES) + BLOCKS * 16 * 1024, `${whilePaused} bytes fetched while paused (total ${total})`);
  assert.ok(total > 10 * whilePaused, `total ${total} vs ${whilePaused} while paused`);
});

test('over gRPC, a client that stops reading stops the store\'s chunk reads (the server waits for drain)', async () => {
  // A result (~11 MB) several times what the transport buffers (~32 frames of 32 KiB each way).
  const big = await bucketOf(3 * SERIES);
  const store = await storeWith({ batchBytes: 16 * 1024 }, big);
  const srv = await startGrpc('127.0.0.1:0', storeGrpc(store));
  const client = new StoreClient(dialGrpc(srv.address));
  const ac = new AbortController();
  try {
    // Frames of a few series (32 KiB), so the stream is hundreds of frames.
    const it = client.series(seriesRequest({ ...ALL, responseBatchSize: 64 }), ac.signal)[Symbol.asyncIterator]();
    const first = await it.next();
    assert.ok(!first.done);
    // Wait until the reads stop (the transport's windows and buffers are full), then check they stay stopped.
    let last = -1;
    for (let i = 0; i < 200 && big.chunkBytes !== last; i++) {
      last = big.chunkBytes;
      await new Promise((r) => setTimeout(r, 50));
    }
    const whilePaused = big.chunkBytes;
    let total = 0;
    let n = 0;
    const count = (r: SeriesResponse) => {
      for (const s of r.type === 'series' ? [r.series] : r.type === 'batch' ? r.batch : []) {
        n++;
        for (const c of s.chunks) total += c.raw!.data.byteLength;
      }
    };
    count(first.value as SeriesResponse);
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      count(r.value);
    }
    assert.is(n, 3 * SERIES);
    assert.ok(big.chunkBytes >= total, 'every chunk was read once the client read on');
    // Fetched while the client did not read: the transport's buffers (flow-control windows, a few
    // frames per writable) plus two batches, a small part of the answer.
    assert.ok(whilePaused < 3 << 20 && whilePaused < big.chunkBytes / 3, `${whilePaused} of ${big.chunkBytes} bytes fetched while the client did not read`);
  } finally {
    ac.abort();
    client.close();
    await srv.close();
  }
});

test.run();
