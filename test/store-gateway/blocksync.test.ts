import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { md5 } from '../../lib/hash/md5.ts';
import { parseRelabelConfigs, relabel, RelabelConfigError } from '../../lib/store/blocksync/relabel.ts';
import { parseModelDurationFlag, parseTimeOrDuration, parseBytes } from '../../lib/store/blocksync/timeflags.ts';
import { ulid as newULID, ulidTime } from '../../lib/tsdb/ulid.ts';
import { parseBucketMeta as parseBlockMeta, MetaError } from '../../lib/tsdb/meta.ts';
import { MetaFetcher, TimePartitionFilter, LabelShardedFilter, DeletionMarkFilter, DeduplicateFilter, ConsistencyDelayFilter, GatherMarkFilter, ReplicaLabelRemover, SYNCED_STATES } from '../../lib/store/blocksync/fetcher.ts';
import { Registry } from '../../host/metrics.ts';

const te = new TextEncoder();
let seq = 0;
function id(t = 1_700_000_000_000 + seq++ * 1000): string {
  return newULID(t);
}
function meta(ulid: string, o: { min?: number; max?: number; labels?: Record<string, string>; sources?: string[]; res?: number; level?: number } = {}) {
  return {
    ulid, minTime: o.min ?? 0, maxTime: o.max ?? 7_200_000, version: 1,
    stats: { numSamples: 1, numSeries: 1, numChunks: 1 },
    compaction: { level: o.level ?? 1, sources: o.sources ?? [ulid] },
    thanos: { version: 1, labels: o.labels ?? { cluster: 'a' }, downsample: { resolution: o.res ?? 0 }, source: 'test' },
  };
}
async function put(b: MemoryBucket, m: ReturnType<typeof meta>) {
  await b.upload(`${m.ulid}/index`, te.encode('idx'));
  await b.upload(`${m.ulid}/meta.json`, te.encode(JSON.stringify(m)));
}

test('md5 matches node:crypto', () => {
  for (const s of ['', 'a', 'abc', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'ünïcødé'.repeat(40)]) {
    const b = te.encode(s);
    assert.is(Buffer.from(md5(b)).toString('hex'), createHash('md5').update(b).digest('hex'), s.slice(0, 10));
  }
});

test('relabel keep/drop/hashmod/replace', () => {
  const cfg = parseRelabelConfigs(`
- action: hashmod
  source_labels: [__block_id]
  target_label: shard
  modulus: 3
- action: keep
  source_labels: [shard]
  regex: "1"
`);
  let kept = 0;
  for (let i = 0; i < 60; i++) {
    const bid = id();
    const h = createHash('md5').update(bid).digest();
    const want = Number(h.readBigUInt64BE(8) % 3n);
    const r = relabel({ __block_id: bid }, cfg);
    assert.is(r !== null, want === 1);
    if (r) { kept++; assert.is(r.shard, '1'); }
  }
  assert.ok(kept > 5 && kept < 40);
  const drop = parseRelabelConfigs([{ action: 'drop', source_labels: ['cluster'], regex: 'b.*' }]);
  assert.is(relabel({ cluster: 'bx' }, drop), null);
  assert.equal(relabel({ cluster: 'ab' }, drop), { cluster: 'ab' });
  const rep = parseRelabelConfigs([{ source_labels: ['a', 'b'], regex: '(.*);(.*)', target_label: 'c', replacement: '${2}-$1' }]);
  assert.equal(relabel({ a: 'x', b: 'y' }, rep), { a: 'x', b: 'y', c: 'y-x' });
});

test('relabel config errors name the problem', () => {
  assert.throws(() => parseRelabelConfigs([{ action: 'explode' }]), /unknown relabel action/);
  assert.throws(() => parseRelabelConfigs([{ action: 'hashmod', source_labels: ['a'], target_label: 'x' }]), /non-zero modulus/);
  assert.throws(() => parseRelabelConfigs([{ action: 'keep', source_labels: ['a'], regex: '(' }]), /invalid regex/);
  assert.throws(() => parseRelabelConfigs([{ action: 'keep', sourcelabels: ['a'] }]), /unknown field "sourcelabels"/);
  assert.throws(() => parseRelabelConfigs('{a: 1}'), (e: unknown) => e instanceof RelabelConfigError);
});

test('durations, times and sizes', () => {
  assert.is(parseModelDurationFlag('15m'), 900_000);
  assert.is(parseModelDurationFlag('1h30m'), 5_400_000);
  assert.is(parseModelDurationFlag('2w'), 14 * 86_400_000);
  assert.is(parseModelDurationFlag('500ms'), 500);
  assert.throws(() => parseModelDurationFlag('15 minutes'), /invalid duration/);
  const now = 1_700_000_000_000;
  assert.is(parseTimeOrDuration('-2w', now), now - 14 * 86_400_000);
  assert.is(parseTimeOrDuration('2023-11-14T22:13:20Z', now), 1_700_000_000_000);
  assert.ok(parseTimeOrDuration('0000-01-01T00:00:00Z') < 0);
  assert.throws(() => parseTimeOrDuration('yesterday'), /RFC3339/);
  assert.is(parseBytes('250MB', 'x'), 250 * 1024 * 1024);
  assert.is(parseBytes('1GiB', 'x'), 1024 ** 3);
  assert.throws(() => parseBytes('12 parsecs', 'x'), /unit|invalid/);
});

test('ulid and meta parsing', () => {
  const u = newULID(1_700_000_000_123);
  assert.is(ulidTime(u), 1_700_000_000_123);
  const m = parseBlockMeta(te.encode(JSON.stringify(meta(u, { res: 300000 }))), u);
  assert.is(m.thanos.downsample.resolution, 300000);
  assert.throws(() => parseBlockMeta(te.encode('{'), u), (e: unknown) => e instanceof MetaError);
  assert.throws(() => parseBlockMeta(te.encode(JSON.stringify({ ...meta(u), minTime: 'x' })), u), /minTime/);
  assert.throws(() => parseBlockMeta(te.encode(JSON.stringify(meta(id()))), u), /does not match/);
});

test('fetcher: partial, corrupted, filters, cache invalidation', async () => {
  const b = new MemoryBucket();
  const good = id(), old = id(), partial = id(), corrupt = id(), marked = id(), freshMark = id(), other = id();
  await put(b, meta(good, { min: 10_000_000, max: 17_200_000 }));
  await put(b, meta(old, { min: 0, max: 7_200_000 }));
  await b.upload(`${partial}/index`, te.encode('x')); // no meta.json
  await b.upload(`${corrupt}/meta.json`, te.encode('{not json'));
  await put(b, meta(marked, { min: 10_000_000, max: 17_200_000 }));
  await put(b, meta(freshMark, { min: 10_000_000, max: 17_200_000 }));
  await put(b, meta(other, { min: 10_000_000, max: 17_200_000, labels: { cluster: 'b' } }));
  await b.upload('not-a-block/meta.json', te.encode('{}'));
  const now = 1_800_000_000_000;
  await b.upload(`${marked}/deletion-mark.json`, te.encode(JSON.stringify({ id: marked, version: 1, deletion_time: now / 1000 - 7200 })));
  await b.upload(`${freshMark}/deletion-mark.json`, te.encode(JSON.stringify({ id: freshMark, version: 1, deletion_time: now / 1000 - 60 })));
  const f = new MetaFetcher(b, {
    concurrency: 3,
    now: () => now,
    filters: [
      new TimePartitionFilter(8_000_000, 100_000_000),
      new LabelShardedFilter(parseRelabelConfigs([{ action: 'keep', source_labels: ['cluster'], regex: 'a' }])),
      new DeletionMarkFilter(3_600_000),
      new DeduplicateFilter(),
    ],
  });
  const r = await f.fetch();
  assert.equal([...r.metas.keys()].sort(), [good, freshMark].sort());
  assert.equal([...r.partial], [partial]);
  assert.ok(r.corrupted.get(corrupt)?.includes('not valid JSON'));
  assert.is(r.filtered.get(old), 'time-excluded');
  assert.is(r.filtered.get(other), 'label-excluded');
  assert.is(r.filtered.get(marked), 'marked-for-deletion');
  assert.ok(r.deletionMarks.has(freshMark));
  // Deleting a block removes it at the next fetch.
  for await (const n of b.iter(`${good}/`, { recursive: true })) await b.delete(n);
  const r2 = await f.fetch();
  assert.equal([...r2.metas.keys()], [freshMark]);
});

test('dedup filter: compacted block hides its sources, per resolution', async () => {
  const b = new MemoryBucket();
  const a = id(), c = id(), d = id(), comp = id(), ds = id(), e = id();
  for (const x of [a, c, d]) await put(b, meta(x));
  await put(b, meta(comp, { sources: [a, c], level: 2 }));
  await put(b, meta(ds, { sources: [a, c], res: 300000, level: 2 })); // other resolution: stays
  await put(b, meta(e, { sources: [a, c], level: 2 })); // same sources as comp: one of them stays
  const r = await new MetaFetcher(b, { filters: [new DeduplicateFilter()] }).fetch();
  const keep = [...r.metas.keys()].sort();
  assert.equal(keep, [d, ds, comp > e ? comp : e].sort());
});

test('consistency delay spares compactor output', async () => {
  const b = new MemoryBucket();
  const now = Date.now();
  const fresh = newULID(now - 1000), fresh2 = newULID(now - 1000), oldB = newULID(now - 3_600_000);
  await put(b, meta(fresh));
  await put(b, { ...meta(fresh2), thanos: { ...meta(fresh2).thanos, source: 'compactor' } });
  await put(b, meta(oldB));
  const r = await new MetaFetcher(b, { filters: [new ConsistencyDelayFilter(60_000)] }).fetch();
  assert.equal([...r.metas.keys()].sort(), [fresh2, oldB].sort());
});

test('fetcher metrics: thanos_blocks_meta_synced has every Thanos state from the start, then the counts of each sync', async () => {
  const b = new MemoryBucket();
  const now = 1_800_000_000_000;
  const good = newULID(now - 3_600_000), old = newULID(now - 3_600_000), partial = newULID(now - 3_600_000), corrupt = newULID(now - 3_600_000);
  const marked = newULID(now - 3_600_000), other = newULID(now - 3_600_000), src = newULID(now - 3_600_000), comp = newULID(now - 3_600_000);
  const noCompact = newULID(now - 3_600_000), fresh1 = newULID(now - 60_000), fresh2 = newULID(now - 1000);
  await put(b, meta(good, { min: 10_000_000, max: 17_200_000, labels: { cluster: 'a', replica: '1' } }));
  await put(b, meta(old, { min: 0, max: 7_200_000 }));
  await b.upload(`${partial}/index`, te.encode('x'));
  await b.upload(`${corrupt}/meta.json`, te.encode('{not json'));
  await put(b, meta(marked, { min: 10_000_000, max: 17_200_000 }));
  await b.upload(`${marked}/deletion-mark.json`, te.encode(JSON.stringify({ id: marked, version: 1, deletion_time: now / 1000 - 7200 })));
  await put(b, meta(other, { min: 10_000_000, max: 17_200_000, labels: { cluster: 'b' } }));
  await put(b, meta(src, { min: 10_000_000, max: 17_200_000 }));
  await put(b, meta(comp, { min: 10_000_000, max: 17_200_000, sources: [src, 'X'], level: 2 }));
  await put(b, meta(noCompact, { min: 10_000_000, max: 17_200_000 }));
  await b.upload(`${noCompact}/no-compact-mark.json`, te.encode('{}'));
  await put(b, meta(fresh1, { min: 10_000_000, max: 17_200_000 }));
  await put(b, meta(fresh2, { min: 10_000_000, max: 17_200_000 }));
  const reg = new Registry();
  const logs: string[] = [];
  const log = { warn() {}, info: (msg: string, kv?: Record<string, unknown>) => void logs.push(`${msg} ${JSON.stringify(kv)}`) };
  const gather = new GatherMarkFilter('no-compact-mark.json', 'marked-for-no-compact');
  const f = new MetaFetcher(b, {
    now: () => now,
    log,
    metrics: reg,
    filters: [
      new TimePartitionFilter(8_000_000, 100_000_000),
      new LabelShardedFilter(parseRelabelConfigs([{ action: 'keep', source_labels: ['cluster'], regex: 'a' }])),
      new ConsistencyDelayFilter(1_800_000),
      new DeletionMarkFilter(3_600_000),
      new ReplicaLabelRemover(['replica']),
      new DeduplicateFilter(),
      gather,
    ],
  });
  const val = (st: string) => reg.gauge('thanos_blocks_meta_synced', '', ['state']).get({ state: st });
  // Before any sync: every state exposed at 0.
  const text0 = reg.render();
  for (const st of SYNCED_STATES) assert.match(text0, `thanos_blocks_meta_synced{state="${st}"} 0\n`);
  assert.match(text0, 'thanos_blocks_meta_modified{modified="replica-label-removed"} 0\n');
  const r = await f.fetch();
  const want: Record<string, number> = {
    'corrupted-meta-json': 1, 'no-meta-json': 1, loaded: 3, 'too-fresh': 2, failed: 0, 'label-excluded': 1, 'time-excluded': 1,
    duplicate: 1, 'marked-for-deletion': 1, 'marked-for-no-compact': 1, 'parquet-migrated': 0,
  };
  assert.equal(r.synced, want);
  for (const [st, n] of Object.entries(want)) assert.is(val(st), n, st);
  assert.equal([...r.metas.keys()].sort(), [good, comp, noCompact].sort());
  assert.equal([...gather.marked], [noCompact]);
  // The replica label is gone from the served meta, not from the cached one.
  assert.equal(r.metas.get(good)!.thanos.labels, { cluster: 'a' });
  assert.is(r.modified['replica-label-removed'], 1);
  assert.match(reg.render(), 'thanos_blocks_meta_modified{modified="replica-label-removed"} 1\n');
  assert.match(reg.render(), 'thanos_blocks_meta_syncs_total 1\n');
  // The too-fresh blocks are reported once, with when the youngest of them passes the delay.
  assert.equal(logs, [`blocks are too fresh, waiting for consistency delay {"count":2,"until":"${new Date(now - 1000 + 1_800_000).toISOString().replace('.000Z', 'Z')}","consistency_delay":"1800s"}`]);
  await f.fetch();
  assert.is(logs.length, 1);
  assert.equal((await f.fetch()).metas.get(good)!.thanos.labels, { cluster: 'a' });
  // A sync that fails counts in thanos_blocks_meta_sync_failures_total.
  const broken = Object.create(b, { iter: { value: () => { throw new Error('bucket down'); } } });
  const f2 = new MetaFetcher(broken, { metrics: reg });
  await f2.fetch().then(() => assert.unreachable(), (e) => assert.match(e.message, 'bucket down'));
  assert.match(reg.render(), 'thanos_blocks_meta_sync_failures_total 1\n');
});

test.run();
