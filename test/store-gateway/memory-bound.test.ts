// A Series call's memory does not grow with its result: chunk-fetch batches are cut by estimated
// bytes (each block's average chunk size from meta.json), and a consumer that stops pulling stops
// the reads (at most the batch being handed on and the one being fetched), whatever the result size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { averageChunkBytes, BucketStore, type BucketStoreOptions, type SeriesOut } from '../../lib/store/gateway/bucketstore.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
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

let bucket: CountingBucket;
test.before(async () => {
  bucket = new CountingBucket();
  // 2 h of 15 s samples per block: 4 chunks of 120 samples per series and block.
  const series = genSeries(SERIES, T0, T0 + BLOCKS * H2, 15_000);
  for (let b = 0; b < BLOCKS; b++) await writeRawBlock(bucket, core, series, T0 + b * H2, T0 + (b + 1) * H2, { replica: 'a' });
});

async function storeWith(opts: Partial<BucketStoreOptions>): Promise<BucketStore> {
  const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core }, meta), ...opts });
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

test.run();
