// Series order with external labels: a series whose labels are a prefix of others moves after them
// once external labels are added; external labels that override series labels reorder freely.
// Small pages and batches exercise the streaming merge across page boundaries.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { compareLabels, labelsFromRecord, type Labels } from '../../lib/labels/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { BucketStore, type SeriesOut } from '../../lib/store/gateway/bucketstore.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { decodeResult, expected, key, writeRawBlock, type FixtureSeries } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const dataDir = mkdtempSync(join(tmpdir(), 'store-order-'));
test.after(() => rmSync(dataDir, { recursive: true, force: true }));

function mk(rec: Record<string, string>, seed: number): FixtureSeries {
  const n = 100;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) { t[i] = T0 + i * 60_000; v[i] = seed * 1000 + i; }
  return { labels: labelsFromRecord(rec), t, v };
}

async function storeFor(bucket: MemoryBucket, opts: { pageSeries: number; batchSeries: number }): Promise<BucketStore> {
  const store = new BucketStore(bucket, {
    core,
    fetcher: new MetaFetcher(bucket),
    open: (meta) => openBlock({ bucket, core, fs: nodeFs(), dataDir }, meta),
    ...opts,
  });
  await store.sync();
  return store;
}

async function all(store: BucketStore, without: string[] = []): Promise<SeriesOut[]> {
  const out: SeriesOut[] = [];
  for await (const s of store.series({ minTime: T0, maxTime: T0 + H2, matchers: [{ type: '=~', name: '__name__', value: '.+' }], withoutReplicaLabels: without })) out.push(s);
  return out;
}

const series: FixtureSeries[] = [];
let seed = 0;
for (const m of ['a', 'b', 'c']) {
  series.push(mk({ __name__: m }, seed++));
  for (let i = 0; i < 5; i++) series.push(mk({ __name__: m, inst: `i${i}` }, seed++));
  series.push(mk({ __name__: m, inst: 'i1', path: '/x' }, seed++));
  series.push(mk({ __name__: m, aa: 'first' }, seed++));
}
series.sort((x, y) => compareLabels(x.labels, y.labels));

for (const [page, batch] of [[1, 1], [2, 3], [3, 2], [1024, 1000]] as const) {
  test(`prefix series reorder under external labels (page ${page}, batch ${batch})`, async () => {
    const bucket = new MemoryBucket();
    const ext = { zone: 'z1', replica: 'r' };
    await writeRawBlock(bucket, core, series, T0, T0 + H2, ext);
    await writeRawBlock(bucket, core, series, T0, T0 + H2, { zone: 'z1', replica: 's' });
    const store = await storeFor(bucket, { pageSeries: page, batchSeries: batch });
    const res = await all(store);
    for (let i = 1; i < res.length; i++) assert.ok(compareLabels(res[i - 1]!.labels, res[i]!.labels) < 0, `${key(res[i - 1]!.labels)} !< ${key(res[i]!.labels)}`);
    assert.is(res.length, series.length * 2);
    const got = decodeResult(core, res, T0, T0 + H2);
    const want = new Map([...expected(series, ext, [], T0, T0 + H2), ...expected(series, { zone: 'z1', replica: 's' }, [], T0, T0 + H2)]);
    for (const [k, w] of want) assert.equal(got.get(k), w, k);
    // replicas merged: one series per label set with both blocks' chunks
    const merged = await all(store, ['replica']);
    assert.is(merged.length, series.length);
    for (let i = 1; i < merged.length; i++) assert.ok(compareLabels(merged[i - 1]!.labels, merged[i]!.labels) < 0);
    for (const s of merged) assert.is(s.chunks.length, 2);
  });
}

test('external labels overriding series labels: whole block sorted', async () => {
  const bucket = new MemoryBucket();
  const ss: FixtureSeries[] = [];
  for (let i = 0; i < 12; i++) ss.push(mk({ __name__: 'm', cluster: `c${i % 4}`, i: String(i) }, i));
  ss.sort((x, y) => compareLabels(x.labels, y.labels));
  await writeRawBlock(bucket, core, ss, T0, T0 + H2, { cluster: 'ext' });
  const store = await storeFor(bucket, { pageSeries: 5, batchSeries: 2 });
  const res = await all(store);
  assert.is(res.length, 12);
  const labels: Labels[] = res.map((r) => r.labels);
  for (let i = 1; i < labels.length; i++) assert.ok(compareLabels(labels[i - 1]!, labels[i]!) < 0);
  assert.ok(labels.every((l) => l.find((x) => x.name === 'cluster')!.value === 'ext'));
});

test.run();
