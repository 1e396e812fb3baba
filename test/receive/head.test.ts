// lib/tsdb/head: WAL record format (round trip, torn tail, corruption), head checks (out of order,
// duplicates, out of bounds, labels), chunk cutting at 120 samples, truncation, HeadDB replay + cut.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../host/log.ts';
import { compileMatcher } from '../../lib/labels/mod.ts';
import { BlockReader, fsBlockFiles } from '../../lib/tsdb/block.ts';
import { HeadDB } from '../../lib/tsdb/head/db.ts';
import { Head, validateLabels } from '../../lib/tsdb/head/head.ts';
import { batchSeries, encodeSamplesRecord, parseSegment, Wal, WalCorruptError } from '../../lib/tsdb/head/wal.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { core, range, ts } from './helpers.ts';
import { int64, stringifyJson } from '../../lib/query/json.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const tmp = tempDirs('rcv-head-');
const logs: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => void logs.push(l) });
const all = [compileMatcher({ type: '=~', name: '__name__', value: '.+' })];
const lbl = (rec: Record<string, string>) => ts(rec, []).labels;

test('WAL record round trip: NaN (stale marker bits too), Inf, negative values and big timestamps', () => {
  const rec = [
    { labels: lbl({ __name__: 'a', job: 'x' }), t: [1, 2, 1_700_000_000_123], v: [NaN, -Infinity, -1.5e300] },
    { labels: lbl({ __name__: 'b', 'ünï': 'cödé' }), t: [-5], v: [0] },
  ];
  const b = encodeSamplesRecord(rec);
  const r = parseSegment('seg', b);
  assert.is(r.torn, false);
  assert.is(r.validBytes, b.length);
  assert.equal(JSON.stringify(r.records[0]!.map((x) => ({ labels: x.labels, t: Array.from(x.t), v: Array.from(x.v) }))), JSON.stringify(rec));
  assert.ok(Number.isNaN(r.records[0]![0]!.v[0]));
  // Prometheus's stale marker is a NaN with payload 0x7ff0000000000002: its bits survive the WAL
  const bits = new DataView(new ArrayBuffer(8));
  bits.setBigUint64(0, 0x7ff0000000000002n);
  const stale = bits.getFloat64(0);
  const va = new Float64Array(1);
  va[0] = stale; // (a number[] literal would already canonicalise the NaN)
  const back = parseSegment('seg', encodeSamplesRecord([{ labels: lbl({ __name__: 's' }), t: [1], v: va }])).records[0]![0]!.v[0]!;
  bits.setFloat64(0, back);
  assert.is(bits.getBigUint64(0), 0x7ff0000000000002n);
});

test('WAL: torn tail of the last segment is cut with a warning; corruption elsewhere is an error', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const w = new Wal({ fs, dir, log });
  await w.replay(() => {});
  await w.append([{ labels: lbl({ __name__: 'a' }), t: [1, 2], v: [1, 2] }]);
  await w.append([{ labels: lbl({ __name__: 'a' }), t: [3], v: [3] }]);
  const seg = join(dir, '00000001');
  const good = readFileSync(seg).length;
  const third = encodeSamplesRecord([{ labels: lbl({ __name__: 'a' }), t: [4], v: [4] }]);
  appendFileSync(seg, third.subarray(0, third.length - 3)); // a crash in the middle of a write
  logs.length = 0;
  const got: number[] = [];
  const w2 = new Wal({ fs, dir, log });
  const r = await w2.replay((rec) => got.push(...Array.from(rec[0]!.t)));
  assert.equal(got, [1, 2, 3]);
  assert.is(r.truncatedBytes, third.length - 3);
  assert.ok(logs.some((l) => l.includes('torn record')), logs.join('\n'));
  assert.is(readFileSync(seg).length, good);
  // appends continue after the truncated tail
  await w2.append([{ labels: lbl({ __name__: 'a' }), t: [5], v: [5] }]);
  const again: number[] = [];
  await new Wal({ fs, dir, log }).replay((rec) => again.push(...Array.from(rec[0]!.t)));
  assert.equal(again, [1, 2, 3, 5]);
  // flip one payload byte of the first record: checksum error naming the segment and offset
  const bytes = readFileSync(seg);
  bytes[12] = bytes[12]! ^ 0xff;
  writeFileSync(seg, bytes);
  try {
    await new Wal({ fs, dir, log }).replay(() => {});
    assert.unreachable('corruption must fail');
  } catch (e) {
    assert.instance(e, WalCorruptError);
    assert.match((e as Error).message, /00000001 at offset 0: checksum mismatch/);
  }
});

test('WAL: an incomplete record in a segment that is not the last is corruption', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const w = new Wal({ fs, dir, log });
  await w.replay(() => {});
  await w.append([{ labels: lbl({ __name__: 'a' }), t: [1], v: [1] }]);
  appendFileSync(join(dir, '00000001'), new Uint8Array([0, 0, 0, 50, 1, 2]));
  await w.rotate();
  await w.append([{ labels: lbl({ __name__: 'a' }), t: [2], v: [2] }]);
  try {
    await new Wal({ fs, dir, log }).replay(() => {});
    assert.unreachable('must fail');
  } catch (e) {
    assert.match((e as Error).message, /00000001 at offset \d+: incomplete record in the middle/);
  }
});

test('head: label validation', () => {
  assert.is(validateLabels([]), 'empty-labels');
  assert.is(validateLabels([{ name: 'b', value: '1' }, { name: 'a', value: '1' }]), 'labels-out-of-order');
  assert.is(validateLabels([{ name: 'a', value: '1' }, { name: 'a', value: '2' }]), 'duplicate-label');
  assert.is(validateLabels([{ name: '', value: '1' }]), 'empty-label-name');
  assert.is(validateLabels([{ name: 'a', value: '' }]), 'empty-label-value');
  assert.is(validateLabels(lbl({ __name__: 'x', a: '1' })), undefined);
});

test('head: out of order, duplicates, identical repeats, out of bounds; partial acceptance', () => {
  const h = new Head(core);
  const a = { __name__: 'm', k: 'a' };
  let r = h.prepare([ts(a, [[10, 1], [20, 2], [15, 9], [20, 2], [20, 3], [30, 3]]), { labels: [{ name: 'b', value: '1' }, { name: 'a', value: '2' }], samples: [{ timestamp: 1, value: 1 }] }]);
  assert.equal(r.rejected, { 'out-of-order': 1, duplicate: 1, 'out-of-bounds': 0 });
  assert.is(r.labelErrors['labels-out-of-order'], 1);
  assert.equal(Array.from(batchSeries(r.accepted)[0]!.t), [10, 20, 30]);
  h.apply(r.accepted);
  r = h.prepare([ts(a, [[25, 1], [40, 4]])]);
  assert.is(r.rejected['out-of-order'], 1);
  assert.equal(Array.from(batchSeries(r.accepted)[0]!.t), [40]);
  h.apply(r.accepted);
  const cut = h.truncate(35);
  assert.is(cut.length, 1);
  assert.is(h.minValidTime, 35);
  r = h.prepare([ts({ __name__: 'new' }, [[34, 1], [36, 1]])]);
  assert.is(r.rejected['out-of-bounds'], 1);
  assert.equal(Array.from(batchSeries(r.accepted)[0]!.t), [36]);
});

test('head: a series twice in one batch is checked against its own earlier samples (series in the head and new ones)', () => {
  const h = new Head(core);
  const old = { __name__: 'old' };
  h.apply(h.prepare([ts(old, [[10, 1]])]).accepted);
  const r = h.prepare([
    ts(old, [[20, 2]]), ts({ __name__: 'new' }, [[50, 5]]),
    ts(old, [[20, 9], [15, 1], [20, 2], [30, 3]]), ts({ __name__: 'new' }, [[40, 4], [50, 6], [50, 5], [60, 6]]),
  ]);
  assert.equal(r.rejected, { 'out-of-order': 2, duplicate: 2, 'out-of-bounds': 0 });
  assert.is(r.samplesAccepted, 4);
  assert.equal(batchSeries(r.accepted).map((s) => `${s.labels[0]!.value} ${Array.from(s.t).join(',')}`), ['old 20', 'new 50', 'old 30', 'new 60']);
  h.apply(r.accepted);
  // nothing of the batch leaks into the next one: the head's last samples decide
  const r2 = h.prepare([ts(old, [[30, 3], [31, 1]]), ts({ __name__: 'new' }, [[60, 7]])]);
  assert.equal(r2.rejected, { 'out-of-order': 0, duplicate: 1, 'out-of-bounds': 0 });
  assert.equal(batchSeries(r2.accepted).map((s) => Array.from(s.t)), [[31]]);
});

test('head: the stale marker NaN keeps its bits through prepare, the WAL record, apply and the chunks', () => {
  const bits = new DataView(new ArrayBuffer(8));
  bits.setBigUint64(0, 0x7ff0000000000002n);
  const stale = bits.getFloat64(0);
  const h = new Head(core);
  const r = h.prepare([{ labels: lbl({ __name__: 's' }), samples: [{ timestamp: 1, value: 1 }, { timestamp: 2, value: stale }] }]);
  const rec = parseSegment('seg', encodeSamplesRecord(batchSeries(r.accepted))).records[0]!;
  h.apply(rec);
  const d = core.xorDecode(h.select(all, -Infinity, Infinity)[0]!.chunks[0]!.data);
  bits.setFloat64(0, d.v[1]!);
  assert.is(bits.getBigUint64(0), 0x7ff0000000000002n);
  h.apply([{ labels: lbl({ __name__: 's' }), t: Float64Array.from({ length: 200 }, (_, i) => 3 + i), v: new Float64Array(200) }]);
  const moved = h.truncate(150);
  const d2 = core.xorDecode(moved[0]!.chunks[0]!.data);
  bits.setFloat64(0, d2.v[1]!);
  assert.is(bits.getBigUint64(0), 0x7ff0000000000002n);
});

test('head: series scalars by a dense number; a truncate that drops series renumbers the rest, which keep their last samples', () => {
  const h = new Head(core);
  const n = 3000; // more than the scalars' first 1024 places: they grow
  const lab = (i: number) => ({ __name__: 'm', i: String(i) });
  // even series end at 100 (dropped by truncate(200)); odd ones go on to 1000 + i (value i)
  h.apply(h.prepare(Array.from({ length: n }, (_, i) => ts(lab(i), i % 2 ? [[100, i], [1000 + i, i]] : [[100, i]]))).accepted);
  h.truncate(200);
  assert.is(h.numSeries, n / 2);
  // the dropped series' places are not kept (numbers 0 .. live - 1)
  assert.is((h as unknown as { scalars: { n: number } }).scalars.n, n / 2);
  // each kept series' own last sample decides: earlier is out of order, the same time with another value a
  // duplicate, the same sample again dropped; the dropped series come back new
  const batch = Array.from({ length: n }, (_, i) => {
    if (i % 2 === 0) return ts(lab(i), [[300, 1]]);
    if (i % 6 === 1) return ts(lab(i), [[999 + i, 0]]);
    if (i % 6 === 3) return ts(lab(i), [[1000 + i, i + 0.5]]);
    return ts(lab(i), [[1000 + i, i], [1001 + i, 1]]);
  });
  const r = h.prepare(batch);
  assert.equal(r.rejected, { 'out-of-order': 500, duplicate: 500, 'out-of-bounds': 0 });
  assert.is(r.samplesAccepted, 2000);
  h.apply(r.accepted);
  assert.is(h.numSeries, n);
  const r2 = h.prepare(Array.from({ length: n }, (_, i) => ts(lab(i), i % 2 === 0 ? [[300, 2]] : i % 6 === 5 ? [[1001 + i, 1]] : [[1000 + i, i]])));
  assert.equal(r2.rejected, { 'out-of-order': 0, duplicate: 1500, 'out-of-bounds': 0 });
  assert.is(r2.samplesAccepted, 0);
});

test('head: chunks of 120 samples; truncate splits a chunk and keeps every sample once', () => {
  const h = new Head(core);
  const s = range(0, 300, 1000, (_t, i) => i * 1.5);
  h.apply([{ labels: lbl({ __name__: 'm' }), t: s.map((x) => x[0]), v: s.map((x) => x[1]) }]);
  const sel = h.select(all, -Infinity, Infinity);
  assert.equal(sel[0]!.chunks.map((c) => c.n), [120, 120, 60]);
  const moved = h.truncate(150_500); // inside the second chunk
  const decoded = (data: Uint8Array) => {
    const d = core.xorDecode(data);
    return Array.from(d.t.subarray(0, d.n));
  };
  const before = moved[0]!.chunks.flatMap((c) => decoded(c.data));
  const after = h.select(all, -Infinity, Infinity)[0]!.chunks.flatMap((c) => decoded(c.data));
  assert.is(before.length, 151);
  assert.is(after.length, 149);
  assert.equal([...before, ...after], s.map((x) => x[0]));
  assert.is(h.minTime, 151_000);
  assert.is(h.numSamples, 149);
});

test('HeadDB: replay after a crash, block cut at the boundary, WAL truncated, no duplicates after restart', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const D = 60_000;
  const open = async () => {
    const db = new HeadDB({ fs, dir, core, log, blockDuration: D, thanos: { labels: { r: '1' }, source: 'receive' } });
    await db.open();
    return db;
  };
  const db = await open();
  const s = range(0, 100, 1000, (t) => t / 1000); // 0..99s: spans 1.65 × D
  const res = await db.append([ts({ __name__: 'm', i: '1' }, s), ts({ __name__: 'm', i: '2' }, s)]);
  assert.is(res.samplesAccepted, 200);
  // "crash": open a second instance on the same directory without closing the first
  const db2 = await open();
  let got = await db2.select(all, -Infinity, Infinity);
  assert.is(got.length, 2);
  const made = await db2.compact();
  assert.is(made.length, 1);
  const b = await BlockReader.open(fsBlockFiles(fs, made[0]!), { core });
  assert.is(b.meta.minTime, 0);
  assert.is(b.meta.maxTime, 60_000);
  assert.is(b.meta.stats!.numSamples, 120);
  assert.equal(b.meta.thanos!.labels, { r: '1' });
  assert.is(db2.head.minTime, 60_000);
  assert.equal(readdirSync(join(dir, 'wal')), ['00000002']);
  // samples before the cut are refused now
  const late = await db2.append([ts({ __name__: 'm', i: '3' }, [[59_000, 1], [100_000, 1]])]);
  assert.is(late.rejected['out-of-bounds'], 1);
  // restart: block + checkpointed head, nothing twice
  const db3 = await open();
  got = await db3.select(all, -Infinity, Infinity);
  const count = (x: typeof got) => x.reduce((n, s) => n + s.chunks.reduce((k, c) => k + core.xorDecode(c.data).n, 0), 0);
  assert.is(got.length, 3);
  assert.is(count(got), 201);
  const flushed = await db3.flush();
  assert.ok(flushed);
  assert.is(db3.head.numSamples, 0);
  const db4 = await open();
  assert.is(count(await db4.select(all, -Infinity, Infinity)), 201);
  assert.is(db4.head.numSamples, 0);
});


test('status/tsdb of an empty head: minTime/maxTime are math.MaxInt64/MinInt64 as Prometheus prints them', () => {
  const st = new Head(core).stats();
  const body = stringifyJson({ minTime: int64(st.headStats.minTime), maxTime: int64(st.headStats.maxTime) });
  assert.is(body, '{"minTime":9223372036854775807,"maxTime":-9223372036854775808}');
});

test.run();
