// Series entries decoded from the index cache share one Label object per (name, value) pair of a
// block, found by the value's symbol first: a value that occurs under several label names (and
// values that are also label names) must still come back under the right name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/mod.ts';
import { compareLabels, labelsFromRecord } from '../../lib/labels/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { Block, BucketStore } from '../../lib/store/gateway/bucketstore.ts';
import type { ChunkSource } from '../../lib/store/gateway/chunkfetch.ts';
import type { BucketBlockMeta } from '../../lib/tsdb/meta.ts';
import type { IndexReader } from '../../lib/tsdb/index.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { createIndexCache, parseIndexCacheConfig } from '../../lib/store/indexcache/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { writeRawBlock, type FixtureSeries } from './fixtures.ts';

const T0 = 1_700_000_000_000;
const H2 = 2 * 3600_000;

test('cached series entries keep each label under its own name when values repeat across names', async () => {
  const core = createJsCore();
  const bucket = new MemoryBucket();
  const t = Float64Array.from({ length: 20 }, (_, i) => T0 + i * 60_000);
  const v = Float64Array.from({ length: 20 }, (_, i) => i);
  // "x", "y" and "a" are values of several names, and "a" and "b" are names too.
  const recs: Array<Record<string, string>> = [
    { __name__: 'm', a: 'x', b: 'x' },
    { __name__: 'm', a: 'y', b: 'x' },
    { __name__: 'm', a: 'x', b: 'y' },
    { __name__: 'm', a: 'b', b: 'a' },
    { __name__: 'x', a: 'm', b: 'y' },
  ];
  const series: FixtureSeries[] = recs.map((r) => ({ labels: labelsFromRecord(r), t, v })).sort((p, q) => compareLabels(p.labels, q.labels));
  await writeRawBlock(bucket, core, series, T0, T0 + H2, { zone: 'a' });
  const cache = createIndexCache(parseIndexCacheConfig(undefined, 8 << 20));
  const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core }, meta), indexCache: cache });
  await store.sync();
  const want = series.map((s) => JSON.stringify([...s.labels, { name: 'zone', value: 'a' }].sort((p, q) => (p.name < q.name ? -1 : 1))));
  const read = async () => {
    const out: string[] = [];
    for await (const s of store.series({ minTime: T0, maxTime: T0 + H2, matchers: [{ type: '=~', name: '__name__', value: '.+' }] })) out.push(JSON.stringify(s.labels));
    return out;
  };
  const hits = cache.hits.Series;
  assert.equal(await read(), want, 'cold (entries read from the index)');
  assert.equal(await read(), want, 'warm (entries decoded from the index cache)');
  assert.ok(cache.hits.Series >= hits + series.length, 'the second read used the cached entries');
  await store.close();
});

test('a label pair is kept once: in the by-value array, or (a value under a second name) in the maps', () => {
  const meta = { ulid: '01HZZZZZZZZZZZZZZZZZZZZZZZ', minTime: 0, maxTime: 1, thanos: { labels: {}, downsample: { resolution: 0 } } } as unknown as BucketBlockMeta;
  const block = new Block(meta, {} as IndexReader, {} as ChunkSource);
  const symbols = ['a', 'b', 'x', 'y'];
  const ax = block.labelPair(0, 2, symbols)!;
  const ay = block.labelPair(0, 3, symbols)!;
  assert.equal(ax, { name: 'a', value: 'x' });
  assert.is(block.labelPair(0, 2, symbols), ax, 'the same object again');
  const pairs = (block as unknown as { pairs: Map<number, Map<number, unknown>> }).pairs;
  assert.is(pairs.size, 0, 'pairs held by the array are not also in the maps');
  // "x" under a second name: in the maps, and still its own object each time
  const bx = block.labelPair(1, 2, symbols)!;
  assert.equal(bx, { name: 'b', value: 'x' });
  assert.is(block.labelPair(1, 2, symbols), bx);
  assert.is(block.labelPair(0, 2, symbols), ax);
  assert.is(block.labelPair(0, 3, symbols), ay);
  assert.is(pairs.size, 1);
  assert.is(pairs.get(1)!.size, 1);
});

test.run();
