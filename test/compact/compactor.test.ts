import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Compactor, HaltError } from '../../lib/compact/compactor.ts';
import { planGroup, splitByRange, DEFAULT_RANGES } from '../../lib/compact/plan.ts';
import { writeMarker, DELETION_MARK, NO_COMPACT_MARK } from '../../lib/compact/marks.ts';
import { BlockReader, bucketBlockFiles, downloadBlock, parseMeta } from '../../lib/tsdb/mod.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import { labelsToRecord } from '../../lib/labels/mod.ts';
import { parseBucketMeta as parseBlockMeta } from '../../lib/tsdb/meta.ts';
import { promtoolDump } from '../tsdb/helpers.ts';
import { fs, core, HOUR, DAY, tmp, fsBucket, alignedStart, putBlock, samplesOf, SERIES, objects, type SeriesSpec } from './helpers.ts';

const key = (rec: Record<string, string>) => JSON.stringify(Object.fromEntries(Object.entries(rec).sort(([a], [b]) => (a < b ? -1 : 1))));
const all = [{ type: '=~' as const, name: '__name__', value: '.*' }];

async function readSamples(bucket: ReturnType<typeof fsBucket>, id: string): Promise<Map<string, { t: number[]; v: number[] }>> {
  const b = await BlockReader.open(bucketBlockFiles(bucket, id), { core });
  const out = new Map<string, { t: number[]; v: number[] }>();
  for await (const s of b.select(all)) out.set(key(labelsToRecord(s.labels)), { t: [...s.t.subarray(0, s.n)], v: [...s.v.subarray(0, s.n)] });
  return out;
}

async function meta(bucket: ReturnType<typeof fsBucket>, id: string) {
  return parseMeta(await readAll(await bucket.get(`${id}/meta.json`)));
}

function compactor(bucket: ReturnType<typeof fsBucket>, extra: Partial<ConstructorParameters<typeof Compactor>[0]> = {}) {
  return new Compactor({ bucket, fs, core, dataDir: tmp('data'), consistencyDelayMs: 0, downsampling: false, ...extra });
}

test('metrics: Thanos\'s names and labels, at 0 from the start; compaction runs, deletion marks and cleanup counted', async () => {
  const { Registry } = await import('../../host/metrics.ts');
  const reg = new Registry();
  const bucket = fsBucket();
  const T0 = alignedStart();
  for (let i = 0; i < 5; i++) await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'm' } });
  const c = compactor(bucket, { metrics: reg, deleteDelayMs: 0 });
  const fresh = reg.render();
  for (const line of ['thanos_compact_garbage_collection_total 0', 'thanos_compact_garbage_collection_failures_total 0', 'thanos_compact_block_cleanup_failures_total 0',
    'thanos_compact_blocks_marked_total{marker="deletion-mark.json",reason=""} 0', 'thanos_compact_blocks_marked_total{marker="no-compact-mark.json",reason="index-size-exceeding"} 0']) {
    assert.ok(fresh.split('\n').includes(line), line);
  }
  await c.runOnce();
  const text = reg.render().split('\n');
  for (const line of ['thanos_compact_group_compactions_total{resolution="0"} 1', 'thanos_compact_group_compactions_failures_total{resolution="0"} 0',
    'thanos_compact_group_compaction_runs_started_total{resolution="0"} 1', 'thanos_compact_group_compaction_runs_completed_total{resolution="0"} 1',
    'thanos_compact_downsample_total{resolution="0"} 0', 'thanos_compact_blocks_marked_total{marker="deletion-mark.json",reason=""} 4',
    'thanos_compact_blocks_cleaned_total 4', 'thanos_compact_block_cleanup_loops_total 1']) {
    assert.ok(text.includes(line), `${line}\n${text.filter((l) => l.startsWith('thanos_compact')).join('\n')}`);
  }
  assert.ok(text.some((l) => /^thanos_compact_garbage_collection_total [1-9]/.test(l)), 'garbage collection ran');
  assert.ok(text.includes('thanos_compact_garbage_collection_duration_seconds_bucket{le="720"} ' + /^thanos_compact_garbage_collection_total (\d+)/m.exec(text.join('\n'))![1]), 'GC duration buckets end at 720s');
});

test('planner: aligned 8h range of 2h blocks, newest block left out', () => {
  const m = (min: number, max: number, id: string) => parseBlockMeta({ ulid: id, minTime: min, maxTime: max, version: 1, compaction: { level: 1 }, thanos: { labels: { a: '1' } } });
  const ids = ['01H000000000000000000000A0', '01H000000000000000000000A1', '01H000000000000000000000A2', '01H000000000000000000000A3', '01H000000000000000000000A4'];
  const blocks = ids.map((id, i) => m(i * 2 * HOUR, (i + 1) * 2 * HOUR, id));
  const p = planGroup(blocks, DEFAULT_RANGES)!;
  assert.is(p.kind, 'horizontal');
  assert.equal(p.blocks.map((b) => b.ulid), ids.slice(0, 4));
  // Only 4 blocks: the newest (6-8) is left out; the remaining 0-6 neither fill 8h nor end at or
  // before the start of the newest remaining block (4h): the range is still open.
  assert.is(planGroup(blocks.slice(0, 4), DEFAULT_RANGES), undefined);
  assert.is(planGroup(blocks.slice(0, 1)), undefined);
  // Overlap → vertical plan first.
  const ov = planGroup([...blocks, m(HOUR, 3 * HOUR, '01H000000000000000000000B0')])!;
  assert.is(ov.kind, 'vertical');
  assert.equal(splitByRange(blocks, 8 * HOUR).map((g) => g.length), [4, 1]);
});

test('compacts four 2h blocks into one 8h block: samples, level, sources, labels, deletion marks', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const ext = { cluster: 'eu', replica: 'r0' };
  const srcs: Awaited<ReturnType<typeof putBlock>>[] = [];
  for (let i = 0; i < 5; i++) srcs.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext }));
  // Another group (other labels) with a single block: nothing to do there.
  const other = await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'us' } });
  const c = compactor(bucket);
  const r = await c.runOnce();
  assert.is(r.compactions, 1);
  const ids = (await objects(bucket)).filter((n) => n.endsWith('/meta.json')).map((n) => n.slice(0, 26));
  const fresh = ids.filter((id) => !srcs.some((s) => s.ulid === id) && id !== other.ulid);
  assert.is(fresh.length, 1);
  const m = await meta(bucket, fresh[0]!);
  assert.is(m.minTime, T0);
  assert.is(m.maxTime, T0 + 8 * HOUR);
  assert.is(m.compaction.level, 2);
  assert.equal(m.compaction.sources, srcs.slice(0, 4).map((s) => s.ulid).sort());
  assert.equal(m.thanos!.labels, ext);
  assert.is(m.thanos!.source, 'compactor');
  assert.is(m.thanos!.version, 1);
  assert.is(m.thanos!.downsample.resolution, 0);
  assert.ok(m.thanos!.files!.some((f) => f.rel_path === 'index'));
  for (const s of srcs.slice(0, 4)) {
    const mark = JSON.parse(new TextDecoder().decode(await readAll(await bucket.get(`${s.ulid}/${DELETION_MARK}`))));
    assert.is(mark.id, s.ulid);
    assert.type(mark.deletion_time, 'number');
  }
  assert.not.ok(await bucket.exists(`${srcs[4]!.ulid}/${DELETION_MARK}`));
  // Sample by sample: the compacted block holds exactly the generated data over 8h.
  const got = await readSamples(bucket, fresh[0]!);
  assert.is(got.size, SERIES.length);
  for (const s of SERIES) assert.equal(got.get(key(s.labels)), samplesOf(s, T0, T0 + 8 * HOUR), JSON.stringify(s.labels));
  // promtool reads the compacted block (downloaded) and dumps the same samples.
  const dir = tmp('dl');
  await downloadBlock(bucket, fresh[0]!, fs, dir);
  const dump = promtoolDump(dir).trim().split('\n');
  const total = SERIES.reduce((a, s) => a + samplesOf(s, T0, T0 + 8 * HOUR).t.length, 0);
  assert.is(dump.length, total);
  assert.ok(dump.includes(`{__name__="temp", room="kitchen"} ${samplesOf(SERIES[2]!, T0, T0 + 8 * HOUR).v[5]} ${samplesOf(SERIES[2]!, T0, T0 + 8 * HOUR).t[5]}`), dump.slice(0, 3).join('\n'));
  // A second iteration finds nothing to do (sources are marked, the 8h block is alone in 2d).
  const r2 = await c.runOnce();
  assert.is(r2.compactions, 0);
  // Cleanup after --delete-delay deletes the marked sources (every object), nothing else.
  const later = compactor(bucket, { now: () => Date.now() + 49 * HOUR });
  const cl = await later.cleanup();
  assert.is(cl.deleted, 4);
  const left = await objects(bucket);
  for (const s of srcs.slice(0, 4)) assert.not.ok(left.some((n) => n.startsWith(s.ulid)), s.ulid);
  assert.ok(left.includes(`${fresh[0]}/meta.json`));
  assert.ok(left.includes(`${other.ulid}/meta.json`));
});

test('compaction carries on level by level: 2h → 8h → 2d', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const ext = { cluster: 'eu' };
  const series: SeriesSpec[] = [{ labels: { __name__: 'g' }, step: 300_000, value: (t) => t / 1000 }];
  for (let i = 0; i < 25; i++) await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext, series });
  const r = await compactor(bucket).runOnce();
  // 24 blocks → 6 × 8h (one of 4 each), then the 6 → one 2d block; the 25th (newest) stays.
  assert.is(r.compactions, 7);
  const c = compactor(bucket);
  const res = await c.sync();
  const metas = [...res.metas.values()].sort((a, b) => a.minTime - b.minTime);
  assert.is(metas.length, 2);
  assert.is(metas[0]!.maxTime - metas[0]!.minTime, 48 * HOUR);
  assert.is(metas[0]!.compaction.level, 3);
  assert.is(metas[0]!.compaction.sources.length, 24);
  const got = await readSamples(bucket, metas[0]!.ulid);
  assert.equal(got.get(key({ __name__: 'g' })), samplesOf(series[0]!, T0, T0 + 48 * HOUR));
});

test('overlapping blocks halt the compactor; with vertical compaction they are merged one-to-one', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const ext = { cluster: 'eu' };
  const a: SeriesSpec = { labels: { __name__: 'x', s: 'a' }, step: 60_000, value: (t) => t % 7 };
  const b: SeriesSpec = { labels: { __name__: 'x', s: 'b' }, step: 60_000, value: (t) => t % 11 };
  const b1 = await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext, series: [a] });
  const b2 = await putBlock(bucket, { minTime: T0 + HOUR, maxTime: T0 + 3 * HOUR, ext, series: [a, b] });
  await putBlock(bucket, { minTime: T0 + 4 * HOUR, maxTime: T0 + 6 * HOUR, ext, series: [a] });
  try {
    await compactor(bucket).runOnce();
    assert.unreachable('should halt');
  } catch (e) {
    assert.instance(e, HaltError);
    assert.match((e as Error).message, /pre compaction overlap check: overlaps found while gathering blocks/);
    assert.match((e as Error).message, new RegExp(b1.ulid));
  }
  assert.not.ok(await bucket.exists(`${b1.ulid}/${DELETION_MARK}`));
  const r = await compactor(bucket, { enableVerticalCompaction: true }).runOnce();
  assert.ok(r.compactions >= 1);
  assert.ok(await bucket.exists(`${b1.ulid}/${DELETION_MARK}`));
  assert.ok(await bucket.exists(`${b2.ulid}/${DELETION_MARK}`));
  const res = await compactor(bucket).sync();
  const merged = [...res.metas.values()].find((m) => m.compaction.sources.includes(b1.ulid))!;
  assert.ok(merged.compaction.sources.includes(b2.ulid));
  const got = await readSamples(bucket, merged.ulid);
  const end = merged.maxTime;
  assert.is(merged.maxTime, T0 + 3 * HOUR);
  assert.equal(got.get(key(a.labels)), samplesOf(a, T0, T0 + 3 * HOUR));
  assert.equal(got.get(key(b.labels)), samplesOf(b, T0 + HOUR, T0 + 3 * HOUR));
});

test('replica labels: blocks of two replicas are deduplicated into one block without the replica label', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const r0: Awaited<ReturnType<typeof putBlock>>[] = [], r1: Awaited<ReturnType<typeof putBlock>>[] = [];
  for (let i = 0; i < 2; i++) {
    r0.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'eu', replica: 'a' } }));
    r1.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'eu', replica: 'b' } }));
  }
  const r = await compactor(bucket, { enableVerticalCompaction: true, replicaLabels: ['replica'] }).runOnce();
  assert.ok(r.compactions >= 1);
  const live = [...(await compactor(bucket).sync()).metas.values()].sort((a, b) => a.minTime - b.minTime);
  const merged = live.find((m) => m.compaction.sources.includes(r0[0]!.ulid))!;
  assert.ok(merged.compaction.sources.includes(r1[0]!.ulid));
  assert.equal(merged.thanos.labels, { cluster: 'eu' });
  const got = await readSamples(bucket, merged.ulid);
  for (const s of SERIES) assert.equal(got.get(key(s.labels)), samplesOf(s, merged.minTime, merged.maxTime));
});

test('groups compacted concurrently; sources left unmarked by a crash are garbage-collected on the next sync', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const byGroup: Record<string, Awaited<ReturnType<typeof putBlock>>[]> = {};
  for (const cl of ['a', 'b', 'c']) {
    byGroup[cl] = [];
    for (let i = 0; i < 5; i++) byGroup[cl]!.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cl } }));
  }
  const r = await compactor(bucket, { concurrency: 3 }).runOnce();
  assert.is(r.compactions, 3);
  // Pretend the compactor died after uploading group a's result but before marking its sources.
  for (const b of byGroup.a!.slice(0, 4)) await bucket.delete(`${b.ulid}/${DELETION_MARK}`);
  const res = await compactor(bucket).sync();
  for (const b of byGroup.a!.slice(0, 4)) {
    assert.is(res.filtered.get(b.ulid), 'duplicate');
    assert.ok(await bucket.exists(`${b.ulid}/${DELETION_MARK}`), b.ulid);
  }
  assert.is(res.metas.size, 6);
});

test('a corrupt source block fails the compaction cleanly: nothing uploaded, nothing marked, scratch dir emptied', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const blocks: Awaited<ReturnType<typeof putBlock>>[] = [];
  for (let i = 0; i < 5; i++) blocks.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { c: '1' } }));
  const seg = (await objects(bucket)).find((n) => n.startsWith(`${blocks[2]!.ulid}/chunks/`))!;
  const bytes = await readAll(await bucket.get(seg));
  bytes[bytes.length - 2] ^= 0xff; // the last chunk's CRC
  await bucket.upload(seg, bytes);
  const before = await objects(bucket);
  const dataDir = tmp('data');
  const c = new Compactor({ bucket, fs, core, dataDir, consistencyDelayMs: 0, downsampling: false });
  try {
    await c.runOnce();
    assert.unreachable('should fail');
  } catch (e) {
    assert.not.instance(e, HaltError);
    assert.match((e as Error).message, /crc|checksum|CRC/i);
  }
  assert.equal(await objects(bucket), before);
  const { readdirSync } = await import('node:fs');
  assert.equal(readdirSync(join(dataDir, 'compact')), []);
});

test('a source block with a chunk outside its time range halts (index health check) and nothing changes', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const blocks: Awaited<ReturnType<typeof putBlock>>[] = [];
  for (let i = 0; i < 5; i++) blocks.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { c: '1' } }));
  // Shrink block 1's range in meta.json: its chunks now reach past maxTime.
  const m = JSON.parse(new TextDecoder().decode(await readAll(await bucket.get(`${blocks[1]!.ulid}/meta.json`))));
  m.maxTime -= HOUR;
  await bucket.upload(`${blocks[1]!.ulid}/meta.json`, new TextEncoder().encode(JSON.stringify(m)));
  const before = await objects(bucket);
  try {
    await compactor(bucket).runOnce();
    assert.unreachable('should halt');
  } catch (e) {
    assert.instance(e, HaltError);
    assert.match((e as Error).message, new RegExp(`block with not healthy index found: block ${blocks[1]!.ulid}: series .* outside the block range`));
  }
  assert.equal(await objects(bucket), before);
});

test('no-compact-mark.json keeps a block out of plans without making overlaps (Thanos: only the run after it)', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const ext = { cluster: 'eu' };
  const blocks: Awaited<ReturnType<typeof putBlock>>[] = [];
  for (let i = 0; i < 5; i++) blocks.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext }));
  await writeMarker(bucket, blocks[1]!.ulid, NO_COMPACT_MARK, 'test');
  const r = await compactor(bucket).runOnce();
  // 0-8 is full, but 2-4 is marked: 0-2 alone is not worth it, 4-8 (blocks 2, 3) is compacted.
  // (Merging 0-2 with 4-8 would give a 0-8 block overlapping the marked 2-4.)
  assert.is(r.compactions, 1);
  for (const i of [0, 1, 4]) assert.not.ok(await bucket.exists(`${blocks[i]!.ulid}/${DELETION_MARK}`), `block ${i}`);
  for (const i of [2, 3]) assert.ok(await bucket.exists(`${blocks[i]!.ulid}/${DELETION_MARK}`), `block ${i}`);
  const live = [...(await compactor(bucket).sync()).metas.values()].sort((a, b) => a.minTime - b.minTime);
  assert.equal(live.map((m) => [m.minTime - T0, m.maxTime - T0]), [[0, 2 * HOUR], [2 * HOUR, 4 * HOUR], [4 * HOUR, 8 * HOUR], [8 * HOUR, 10 * HOUR]]);
  // Nothing overlaps, so the next iteration neither halts nor compacts.
  assert.is((await compactor(bucket).runOnce()).compactions, 0);
});

/** Uploads the 2h-aligned blocks covering [T0 + fromHour, T0 + toHour), oldest first. */
async function twoHourBlocks(bucket: ReturnType<typeof fsBucket>, T0: number, fromHour: number, toHour: number) {
  const series: SeriesSpec[] = [{ labels: { __name__: 'g' }, step: 600_000, value: (t) => t / 1000 }];
  const out: Awaited<ReturnType<typeof putBlock>>[] = [];
  for (let h = fromHour; h < toHour; h += 2) out.push(await putBlock(bucket, { minTime: T0 + h * HOUR, maxTime: T0 + (h + 2) * HOUR, ext: { cluster: 'eu' }, series }));
  return out;
}

test('write amplification: blocks 18:00–02:00 (newest 00–02) → no compaction; the open 16–24 window is left alone', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart(); // a UTC midnight
  const blocks = await twoHourBlocks(bucket, T0, 18, 26);
  assert.is(blocks.length, 4);
  const r = await compactor(bucket).runOnce();
  assert.is(r.compactions, 0);
  for (const b of blocks) assert.not.ok(await bucket.exists(`${b.ulid}/${DELETION_MARK}`), b.ulid);
  assert.is((await objects(bucket)).filter((n) => n.endsWith('/meta.json')).length, 4);
});

test('write amplification: blocks 16:00–08:00 → exactly one level-2 block, of the four 16–24 blocks', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const blocks = await twoHourBlocks(bucket, T0, 16, 32);
  assert.is(blocks.length, 8);
  const r = await compactor(bucket).runOnce();
  assert.is(r.compactions, 1);
  const live = [...(await compactor(bucket).sync()).metas.values()].sort((a, b) => a.minTime - b.minTime);
  const l2 = live.filter((m) => m.compaction.level === 2);
  assert.is(l2.length, 1);
  assert.is(l2[0]!.minTime, T0 + 16 * HOUR);
  assert.is(l2[0]!.maxTime, T0 + 24 * HOUR);
  assert.equal(l2[0]!.compaction.sources, blocks.slice(0, 4).map((b) => b.ulid).sort());
  for (const b of blocks.slice(0, 4)) assert.ok(await bucket.exists(`${b.ulid}/${DELETION_MARK}`), b.ulid);
  for (const b of blocks.slice(4)) assert.not.ok(await bucket.exists(`${b.ulid}/${DELETION_MARK}`), b.ulid);
  assert.is(live.length, 5); // the 8h block + 00–02, 02–04, 04–06, 06–08 untouched
});

test('retention marks blocks past their resolution retention; cleanup deletes partial uploads', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart(30);
  const old = await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { c: '1' } });
  const recent = await putBlock(bucket, { minTime: Date.now() - 3 * HOUR, maxTime: Date.now() - HOUR, ext: { c: '2' } });
  const c = compactor(bucket, { retention: { raw: 10 * DAY, m5: 0, h1: 0 } });
  assert.is(await c.applyRetention(), 1);
  assert.ok(await bucket.exists(`${old.ulid}/${DELETION_MARK}`));
  assert.not.ok(await bucket.exists(`${recent.ulid}/${DELETION_MARK}`));
  // A partial upload (no meta.json) with an old ULID is deleted, a fresh one is left alone.
  const oldPartial = old.ulid.slice(0, 10) + '0000000000000000';
  await bucket.upload(`${oldPartial}/index`, new Uint8Array([1]));
  const freshPartial = recent.ulid.slice(0, 10) + '0000000000000000';
  await bucket.upload(`${freshPartial}/chunks/000001`, new Uint8Array([1]));
  const cl = await c.cleanup();
  assert.is(cl.partialDeleted, 1);
  assert.is(cl.deleted, 0);
  const left = await objects(bucket);
  assert.not.ok(left.some((n) => n.startsWith(oldPartial)));
  assert.ok(left.some((n) => n.startsWith(freshPartial)));
  assert.ok(left.includes(`${old.ulid}/meta.json`));
});

test('compacts blocks made by promtool (openmetrics backfill) and promtool agrees on the output', async () => {
  const { genOpenMetrics, promtool, blockDirsIn } = await import('../tsdb/helpers.ts');
  const { uploadBlock } = await import('../../lib/tsdb/mod.ts');
  const { writeFileSync } = await import('node:fs');
  const T0 = alignedStart();
  const work = tmp('prom');
  const om = join(work, 'in.om');
  writeFileSync(om, genOpenMetrics(T0, 12, 3));
  const out = join(work, 'blocks');
  mkdirSync(out);
  const r = promtool('tsdb', 'create-blocks-from', 'openmetrics', om, out);
  assert.is(r.code, 0, r.stderr);
  const dirs = blockDirsIn(out);
  assert.is(dirs.length, 6);
  const bucket = fsBucket();
  for (const d of dirs) await uploadBlock(bucket, fs, d, { meta: (m) => ({ ...m, thanos: { labels: { prom: 'p1' }, downsample: { resolution: 0 }, source: 'sidecar' } }) });
  const before = promtoolDump(out).trim().split('\n').sort();
  // 6 blocks; promtool's end at the last sample + 1ms, so 0–8h is not "full" (7:59:50): it is
  // compacted because it ends before 08:00, the start of the newest block left (10–12 is left out).
  const res = await compactor(bucket).runOnce();
  assert.is(res.compactions, 1);
  const dl = tmp('prom-dl');
  const live = [...(await compactor(bucket).sync()).metas.keys()];
  assert.is(live.length, 3);
  for (const id of live) await downloadBlock(bucket, id, fs, dl);
  const after = promtoolDump(dl).trim().split('\n').sort();
  assert.is(after.length, before.length);
  assert.equal(after, before);
});

test.run();
