// lib/tsdb/head WAL format (#21 item 6): series records + samples records by reference, snappy
// record compression flagged in the record header (Prometheus's --storage.tsdb.wal-compression),
// replay of both compressed and uncompressed records, of segments written by the previous version
// (test/fixtures/wal-v1, labels inline and f64 timestamps), series defined again after a
// checkpoint, and corruption of the new records reported, never skipped.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../host/log.ts';
import { compileMatcher, type Label } from '../../lib/labels/mod.ts';
import { crc32c } from '../../lib/tsdb/encoding.ts';
import { HeadDB } from '../../lib/tsdb/head/db.ts';
import { Wal, WalCorruptError, type WalSeries } from '../../lib/tsdb/head/wal.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { parseFlags } from '../../lib/sdk/mod.ts';
import { parseReceiveConfig, receiveFlags, setupReceive } from '../../plugins/component/receive/mod.ts';
import { core, receiveCtx, rwRequest, ts } from '../receive/helpers.ts';
import { seriesLabels, valueAt } from './wal-child.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const tmp = tempDirs('wal-format-');
const logs: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => void logs.push(l) });
const all = [compileMatcher({ type: '=~', name: '__name__', value: '.+' })];
const L = (o: Record<string, string>): Label[] => Object.entries(o).map(([name, value]) => ({ name, value }));
const fromBits = (b: bigint) => {
  const a = new Float64Array(1);
  new DataView(a.buffer).setBigUint64(0, b, true);
  return a;
};
const bitsOf = (x: ArrayLike<number>, i: number) => new DataView(Float64Array.of(x[i]!).buffer).getBigUint64(0, true);
const STALE = 0x7ff0000000000002n;

/** Every sample HeadDB serves, as "labels t bits" lines (bits keep NaN payloads apart). */
async function contents(db: HeadDB): Promise<string[]> {
  const out: string[] = [];
  for (const s of await db.select(all, -Infinity, Infinity)) {
    const ls = s.labels.map((l) => `${l.name}=${l.value}`).join(',');
    for (const c of s.chunks) {
      const d = core.xorDecode(c.data);
      const t = d.t.slice(0, d.n);
      const v = d.v.slice(0, d.n);
      for (let i = 0; i < d.n; i++) out.push(`${ls} ${t[i]} ${bitsOf(v, i).toString(16)}`);
    }
  }
  return out;
}

async function replayAll(dir: string, compression?: 'snappy' | 'none'): Promise<WalSeries[]> {
  const got: WalSeries[] = [];
  await new Wal({ fs: nodeFs(), dir, log, compression }).replay((rec) => {
    for (const s of rec) got.push({ labels: s.labels, t: Array.from(s.t), v: Float64Array.from(s.v) });
  });
  return got;
}

const records = (dir: string) => {
  const out: Array<{ header: number; len: number }> = [];
  for (const f of readdirSync(dir).sort()) {
    const b = readFileSync(join(dir, f));
    for (let p = 0; p < b.length; ) {
      const len = b.readUInt32BE(p);
      out.push({ header: b[p + 8]!, len });
      p += 8 + len;
    }
  }
  return out;
};

for (const compression of ['snappy', 'none'] as const) {
  test(`WAL round trip (${compression}): stale marker bits, ±Inf, negative and non-integer or huge timestamps, UTF-8 labels`, async () => {
    const dir = tmp();
    const w = new Wal({ fs: nodeFs(), dir, log, compression });
    await w.replay(() => {});
    const a = L({ __name__: 'a', job: 'x' });
    const b = L({ __name__: 'b', 'ünï': 'cödé' });
    const v1 = Float64Array.of(NaN, -Infinity, -1.5e300, 0);
    v1.set(fromBits(STALE), 0);
    await w.append([{ labels: a, t: [1, 2, 1_700_000_000_123, 1_700_000_000_124], v: v1 }, { labels: b, t: [-5], v: [0] }]);
    await w.append([{ labels: b, t: [-4, 2 ** 60, 2 ** 61 + 4096], v: [1, 2, 3] }]); // beyond 2^52: stored as f64
    await w.append([{ labels: a, t: [1.5e12 + 0.5], v: [7] }]); // not an integer: stored as f64
    const got = await replayAll(dir, compression);
    assert.equal(got.map((s) => [s.labels, s.t]), [[a, [1, 2, 1_700_000_000_123, 1_700_000_000_124]], [b, [-5]], [b, [-4, 2 ** 60, 2 ** 61 + 4096]], [a, [1.5e12 + 0.5]]]);
    assert.is(bitsOf(got[0]!.v, 0), STALE);
    assert.equal(Array.from(got[0]!.v).slice(1), [-Infinity, -1.5e300, 0]);
    assert.equal(Array.from(got[2]!.v), [1, 2, 3]);
    // labels go into one series record per series, not into every samples record
    const recs = records(dir);
    assert.equal(recs.map((r) => r.header & 7), [2, 3, 3, 3]);
  });
}

test('WAL samples records in columns: refs out of order, many samples per series, bit exact values; rows (flag 0) of earlier versions still replay', async () => {
  const dir = tmp();
  const w = new Wal({ fs: nodeFs(), dir, log, compression: 'none' });
  await w.replay(() => {});
  const ls = ['a', 'b', 'c'].map((n) => L({ __name__: n }));
  await w.append(ls.map((l, i) => ({ labels: l, t: [1000 + i], v: [i] })));
  const stale = fromBits(STALE)[0]!;
  const many = Array.from({ length: 300 }, (_, k) => 1_700_000_000_000 + k * 15_000 - (k % 7) * 3);
  // refs descending (negative deltas), one series with 300 samples, one with a stale marker
  await w.append([
    { labels: ls[2]!, t: many, v: Float64Array.from(many, (_, k) => k * 0.25) },
    { labels: ls[0]!, t: [2000, 2001], v: Float64Array.of(-Infinity, stale) },
    { labels: ls[1]!, t: [1999], v: [1e-300] },
  ]);
  const seg = join(dir, '00000001');
  const body = readFileSync(seg);
  // the last record: type 3, flags 2 (columns)
  const recs = records(dir);
  const lastAt = body.length - recs[recs.length - 1]!.len;
  assert.equal([body[lastAt], body[lastAt + 1]], [3, 2]);
  // a samples record in rows with time deltas, as earlier versions wrote (flags 0): series ref 1, samples at 1010 and 1015
  const row = [3, 0, 0xe4, 0x0f /* svarint 1010 */, 1, 1, 2, 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 10, 0x40, 0, 0, 0, 0, 0, 0, 0];
  appendRecord(seg, Uint8Array.from(row));
  const got = await replayAll(dir);
  assert.equal(got.map((s) => [s.labels[0]!.value, s.t.length]), [['a', 1], ['b', 1], ['c', 1], ['c', 300], ['a', 2], ['b', 1], ['a', 2]]);
  assert.equal(got[3]!.t, many);
  assert.equal(Array.from(got[3]!.v).slice(0, 3), [0, 0.25, 0.5]);
  assert.is(got[4]!.v[0], -Infinity);
  assert.is(bitsOf(got[4]!.v, 1), STALE);
  assert.is(got[5]!.v[0], 1e-300);
  assert.equal([got[6]!.t, Array.from(got[6]!.v)], [[1010, 1015], [1, 2]]);
});

test('WAL compression: snappy records carry the 0x08 header flag, realistic data shrinks, samples cost a few bytes each', async () => {
  const sizes: Record<string, number> = {};
  for (const compression of ['snappy', 'none'] as const) {
    const dir = tmp();
    const w = new Wal({ fs: nodeFs(), dir, log, compression });
    await w.replay(() => {});
    const labels = Array.from({ length: 200 }, (_, i) => seriesLabels(i));
    for (let k = 0; k < 200; k++) await w.append(labels.map((l, i) => ({ labels: l, t: [1_700_000_000_000 + k * 15_000], v: [valueAt(i, k)] })));
    sizes[compression] = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    const recs = records(dir);
    const flagged = recs.filter((r) => r.header & 0x08).length;
    if (compression === 'snappy') assert.ok(flagged >= recs.length - 1, `${flagged} of ${recs.length} records compressed`);
    else assert.is(flagged, 0);
    const back = await replayAll(dir, compression);
    assert.is(back.length, 200 * 200);
    assert.is(back[200 * 199 + 7]!.v[0], valueAt(7, 199));
  }
  const perSample = (k: string) => sizes[k]! / (200 * 200);
  // the previous format took 16 bytes per sample plus every label set in every record (113 B/sample here)
  assert.ok(perSample('none') < 14, `uncompressed ${perSample('none').toFixed(2)} B/sample`);
  assert.ok(perSample('snappy') < perSample('none'), `snappy ${perSample('snappy').toFixed(2)} B/sample, uncompressed ${perSample('none').toFixed(2)}`);
});

test('WAL: a log written uncompressed replays with compression on and the other way round (mixed records)', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const lbl = L({ __name__: 'up', job: 'j' });
  const w1 = new Wal({ fs, dir, log, compression: 'none' });
  await w1.replay(() => {});
  await w1.append([{ labels: lbl, t: [1, 2, 3], v: [1, 2, 3] }]);
  const w2 = new Wal({ fs, dir, log, compression: 'snappy' });
  await w2.replay(() => {});
  await w2.append([{ labels: lbl, t: Array.from({ length: 50 }, (_, i) => 10 + i), v: new Float64Array(50).fill(5) }]);
  const w3 = new Wal({ fs, dir, log, compression: 'none' });
  await w3.replay(() => {});
  await w3.append([{ labels: L({ __name__: 'x' }), t: [100], v: [1] }]);
  assert.equal(records(dir).map((r) => r.header), [2, 3, 3 | 0x08, 2, 3]);
  const got = await replayAll(dir);
  assert.equal(got.map((s) => s.t.length), [3, 50, 1]);
  assert.equal(got[1]!.labels, lbl);
});

test('WAL written by the previous version (labels inline, f64 times) replays; new records follow in the same segment', async () => {
  const dir = tmp();
  cpSync(new URL('../fixtures/wal-v1', import.meta.url), join(dir, 'wal'), { recursive: true });
  const open = async () => {
    const db = new HeadDB({ fs: nodeFs(), dir, core, log, blockDuration: 1000 * 86_400_000 });
    return { db, r: await db.open() };
  };
  const { db, r } = await open();
  assert.is(r.walRecords, 3);
  assert.is(r.samples, 8);
  const want = [
    '__name__=requests_total,code=200 1700000045000 7e37e43c8800759c',
    '__name__=requests_total,code=200 1700000060000 7e37e43c8800759c',
    '__name__=temp_celsius,room=kitchen,ünï=cödé 1700000000000 4035800000000000',
    `__name__=temp_celsius,room=kitchen,ünï=cödé 1700000030000 ${STALE.toString(16)}`,
    '__name__=up,instance=a:9100,job=node 1700000000000 3ff0000000000000',
    '__name__=up,instance=a:9100,job=node 1700000015000 3ff0000000000000',
    '__name__=up,instance=a:9100,job=node 1700000030000 0',
    '__name__=up,instance=a:9100,job=node 1700000045000 fff0000000000000',
  ];
  assert.equal(await contents(db), want);
  // new-format records are appended to the old last segment; both kinds replay together
  const res = await db.append([{ labels: L({ __name__: 'up', instance: 'a:9100', job: 'node' }), samples: [{ timestamp: 1_700_000_060_000, value: 1 }] }]);
  assert.is(res.samplesAccepted, 1);
  assert.equal(readdirSync(join(dir, 'wal')), ['00000001', '00000002']);
  const again = await open();
  assert.is(again.r.samples, 9);
  assert.equal(await contents(again.db), [...want, '__name__=up,instance=a:9100,job=node 1700000060000 3ff0000000000000']);
});

test('WAL after a cut: every series is defined again in the checkpoint segment (older segments are deleted)', async () => {
  const dir = tmp();
  const D = 60_000;
  const open = async () => {
    const db = new HeadDB({ fs: nodeFs(), dir, core, log, blockDuration: D });
    await db.open();
    return db;
  };
  const db = await open();
  const a = L({ __name__: 'a' });
  const b = L({ __name__: 'b' });
  // a: only before the boundary (all of it goes into the block); b: on both sides
  await db.append([{ labels: a, samples: [{ timestamp: 1_000, value: 1 }] }, { labels: b, samples: [{ timestamp: 1_000, value: 1 }] }]);
  await db.append([{ labels: b, samples: [{ timestamp: 95_000, value: 2 }] }]);
  assert.is((await db.compact()).length, 1);
  assert.equal(readdirSync(join(dir, 'wal')), ['00000002']);
  // a comes back after the cut: its old series record was in a deleted segment
  await db.append([{ labels: a, samples: [{ timestamp: 96_000, value: 3 }] }]);
  const db2 = await open();
  assert.equal((await contents(db2)).map((l) => l.split(' ').slice(0, 2).join(' ')), ['__name__=a 1000', '__name__=a 96000', '__name__=b 1000', '__name__=b 95000']);
});

for (const via of ['appendFile', 'openAppend'] as const) {
  test(`WAL: segments rotated by size keep series refs; a failed append defines its series again (${via})`, async () => {
    const dir = tmp();
    const fs = nodeFs();
    let fail = false;
    // the same disk failure through either way the WAL writes (a segment kept open, or appendFile per record)
    const flaky = via === 'appendFile'
      ? { ...fs, openAppend: undefined, appendFile: async (p: string, d: Uint8Array) => {
        if (fail) throw new Error('disk full');
        return fs.appendFile!(p, d);
      } }
      : { ...fs, openAppend: async (p: string) => {
        const h = await fs.openAppend!(p);
        return { ...h, write: async (d: Uint8Array) => {
          if (fail) throw new Error('disk full');
          return h.write(d);
        } };
      } };
    const w = new Wal({ fs: flaky, dir, log, segmentBytes: 200 });
    await w.replay(() => {});
    const labels = Array.from({ length: 5 }, (_, i) => seriesLabels(i));
    for (let k = 0; k < 30; k++) await w.append(labels.map((l, i) => ({ labels: l, t: [k * 1000], v: [valueAt(i, k)] })));
    assert.ok(readdirSync(dir).length > 3);
    // one series record in all (series defined once across segments)
    assert.is(records(dir).filter((r) => (r.header & 7) === 2).length, 1);
    fail = true;
    let err: unknown;
    await w.append([{ labels: seriesLabels(99), t: [1], v: [1] }]).catch((e) => (err = e));
    assert.match(String(err), /disk full/);
    fail = false;
    await w.append([{ labels: seriesLabels(99), t: [2], v: [2] }]);
    await w.close();
    const got = await replayAll(dir);
    assert.is(got.length, 151);
    assert.equal(got[150]!.labels, seriesLabels(99));
    assert.equal(got[150]!.t, [2]);
  });
}

test('WAL durability as Prometheus\'s: appends are written unsynced, a complete segment and a checkpoint are synced', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const calls: string[] = [];
  const seg = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  const recording = {
    ...fs,
    appendFile: async (p: string, d: Uint8Array, o?: { sync?: boolean }) => {
      calls.push(`append ${seg(p)}${o?.sync ? ' synced' : ''}`);
      return fs.appendFile!(p, d, o);
    },
    syncFile: async (p: string) => {
      calls.push(`sync ${seg(p)}`);
      return fs.syncFile!(p);
    },
    openAppend: async (p: string) => {
      calls.push(`open ${seg(p)}`);
      const h = await fs.openAppend!(p);
      return {
        write: (d: Uint8Array) => (calls.push(`append ${seg(p)}`), h.write(d)),
        sync: () => (calls.push(`sync ${seg(p)}`), h.sync()),
        close: () => (calls.push(`close ${seg(p)}`), h.close()),
      };
    },
  };
  const w = new Wal({ fs: recording, dir, log, segmentBytes: 20 });
  await w.replay(() => {});
  const labels = Array.from({ length: 3 }, (_, i) => seriesLabels(i));
  for (let k = 0; k < 3; k++) await w.append(labels.map((l, i) => ({ labels: l, t: [k * 1000], v: [valueAt(i, k)] })));
  // each append is one unsynced write to the segment kept open; moving on from a full segment syncs and closes it first
  assert.equal(calls, ['open 00000001', 'append 00000001', 'sync 00000001', 'close 00000001', 'open 00000002', 'append 00000002', 'sync 00000002', 'close 00000002', 'open 00000003', 'append 00000003']);
  // what was written is on disk for a new reader without any sync (a kill -9 loses nothing)
  const got: WalSeries[] = [];
  await new Wal({ fs, dir, log }).replay((r) => got.push(...r));
  assert.is(got.reduce((n, s) => n + s.t.length, 0), 9);
  calls.length = 0;
  await w.close();
  assert.equal(calls, ['close 00000003']);

  // HeadDB: a checkpoint after a cut is written synced (the segments it replaces are deleted next)
  calls.length = 0;
  const db = new HeadDB({ fs: recording, dir: tmp(), core, log, blockDuration: 60_000 });
  await db.open();
  await db.append([ts({ __name__: 'a' }, [[1000, 1], [95_000, 2]])]);
  assert.equal(calls, ['open 00000001', 'append 00000001']);
  calls.length = 0;
  await db.compact();
  // (WAL segments only: 8-digit names; a block's chunk files may be appended to as well)
  assert.equal(calls.filter((c) => /\s\d{8}$/.test(c)), ['sync 00000001', 'close 00000001', 'open 00000002', 'append 00000002', 'sync 00000002']);
  await db.close();
});

test('WAL: big appends are split into bounded records (series records past 1 MiB, samples records past 32768 samples)', async () => {
  const dir = tmp();
  const w = new Wal({ fs: nodeFs(), dir, log, compression: 'none' });
  await w.replay(() => {});
  const long = 'x'.repeat(300);
  const batch = Array.from({ length: 5000 }, (_, i) => ({ labels: L({ __name__: 'm', i: String(i), pad: long }), t: Array.from({ length: 10 }, (_, k) => k * 1000), v: new Float64Array(10).fill(i) }));
  await w.append(batch);
  const recs = records(dir);
  assert.equal(recs.map((r) => r.header), [2, 2, 3, 3]);
  assert.ok(recs.every((r) => r.len < 1.1 * 2 ** 20), JSON.stringify(recs));
  const got = await replayAll(dir);
  assert.is(got.length, 5000);
  assert.equal(got[4999]!.labels, batch[4999]!.labels);
  assert.is(got[4999]!.v[9], 4999);
});

test('receive --tsdb.wal-compression: on by default (Thanos), --no-tsdb.wal-compression writes plain records', async () => {
  const flags = (argv: string[]) => parseReceiveConfig(parseFlags(['--label=r="1"', ...argv], receiveFlags).values);
  assert.is(flags([]).walCompression, true);
  assert.is(flags(['--no-tsdb.wal-compression']).walCompression, false);
  assert.is(flags(['--tsdb.wal-compression=false']).walCompression, false);
  assert.throws(() => parseReceiveConfig({ labels: ['r="1"'], tsdbWalCompression: 'maybe' }), /tsdbWalCompression \(--tsdb.wal-compression\)/);
  for (const argv of [[], ['--no-tsdb.wal-compression']]) {
    const dir = tmp();
    const cfg = flags([`--tsdb.path=${dir}`, ...argv]);
    const rc = await setupReceive(receiveCtx(), cfg);
    const body = rwRequest(Array.from({ length: 50 }, (_, i) => ts({ __name__: 'm', i: String(i) }, [[1_700_000_000_000, i]])));
    const r = await rc.handle(body);
    assert.is(r.status, 200, await r.text());
    const headers = records(join(dir, 'default-tenant', 'wal')).map((x) => x.header);
    assert.equal(headers, cfg.walCompression ? [2 | 0x08, 3 | 0x08] : [2, 3]);
  }
});

/** Appends one raw record (header byte + body) with a valid length and CRC. */
function appendRecord(path: string, payload: Uint8Array): void {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(payload.length, 0);
  h.writeUInt32BE(crc32c(payload), 4);
  appendFileSync(path, Buffer.concat([h, payload]));
}

test('WAL corruption in the new records is an error naming segment and offset, never skipped', async () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    // samples record (type 3, flags 0, base 0, 1 series, ref 9, 1 sample) for a ref no series record defined
    ['unknown ref', Uint8Array.of(3, 0, 0, 1, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0), /series ref 9, which no earlier series record defines/],
    ['zstd', Uint8Array.of(3 | 0x10, 1, 2, 3), /zstd/],
    ['bad snappy body', Uint8Array.of(3 | 0x08, 0xff, 0xff, 0xff, 0xff, 0x7f, 1), /does not decompress/],
    ['unknown header bits', Uint8Array.of(0x43, 0), /unknown record header 0x43/],
    ['unknown type', Uint8Array.of(5, 0), /unknown record type 5/],
    ['unknown samples flags', Uint8Array.of(3, 4, 0, 0), /unknown samples record flags/],
    ['columns and f64 times', Uint8Array.of(3, 3, 0, 0), /unknown samples record flags 0x3/],
    // columns: 1 series, ref delta 2 (ref 1), 100 samples claimed in a 9-byte record
    ['column counts past the record', Uint8Array.of(3, 2, 0, 1, 2, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0), /sample count 100 exceeds the record size/],
    ['column series past the record', Uint8Array.of(3, 2, 0, 100, 2, 1), /series count 100 exceeds the record size/],
    ['column values cut short', Uint8Array.of(3, 2, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0), /sample count 1 exceeds the record size|truncated/],
  ];
  for (const [what, payload, re] of cases) {
    const dir = tmp();
    const w = new Wal({ fs: nodeFs(), dir, log });
    await w.replay(() => {});
    await w.append([{ labels: L({ __name__: 'm' }), t: [1], v: [1] }]);
    const seg = join(dir, '00000001');
    const at = statSync(seg).size;
    appendRecord(seg, payload);
    await w.append([{ labels: L({ __name__: 'm' }), t: [2], v: [1] }]);
    try {
      await new Wal({ fs: nodeFs(), dir, log }).replay(() => {});
      assert.unreachable(`${what}: replay succeeded`);
    } catch (e) {
      assert.instance(e, WalCorruptError, what);
      assert.match((e as Error).message, new RegExp(`00000001 at offset ${at}: `), what);
      assert.match((e as Error).message, re, `${what}: ${(e as Error).message}`);
    }
  }
});

test('WAL: a record cut short by a crash is still a torn tail (truncated with a warning), with compression', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const w = new Wal({ fs, dir, log });
  await w.replay(() => {});
  await w.append([{ labels: seriesLabels(1), t: Array.from({ length: 100 }, (_, i) => i), v: new Float64Array(100).fill(1) }]);
  const seg = join(dir, '00000001');
  await w.append([{ labels: seriesLabels(2), t: Array.from({ length: 100 }, (_, i) => i), v: new Float64Array(100).fill(2) }]);
  const full = readFileSync(seg);
  writeFileSync(seg, full.subarray(0, full.length - 3));
  logs.length = 0;
  const got = await replayAll(dir);
  assert.is(got.length, 1);
  assert.ok(logs.some((l) => l.includes('torn record')));
  // cut after series 2's series record: what is left parses to the end
  assert.equal(records(dir).map((r) => r.header), [2, 3 | 0x08, 2]);
});

test.run();
