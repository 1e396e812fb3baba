// Downsampling inside the compactor: raw blocks of ≥ 40h → 5m, 5m blocks of ≥ 10d → 1h; the
// aggregates are checked against a straightforward computation over the raw samples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Compactor } from '../../lib/compact/compactor.ts';
import { BlockReader, bucketBlockFiles, decodeAggrChunk, AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER, RES_5M, RES_1H } from '../../lib/tsdb/mod.ts';
import { labelsToRecord } from '../../lib/labels/mod.ts';
import { DELETION_MARK } from '../../lib/compact/marks.ts';
import { fs, core, HOUR, DAY, tmp, fsBucket, alignedStart, putBlock, samplesOf, type SeriesSpec } from './helpers.ts';

const all = [{ type: '=~' as const, name: '__name__', value: '.*' }];

const GAUGE: SeriesSpec = { labels: { __name__: 'gauge', k: 'v' }, step: 60_000, value: (t) => Math.round(Math.sin(t / 7.7e6) * 1e4) / 100, offset: 13_000 };
// A counter with a reset every ~17h.
const COUNTER: SeriesSpec = { labels: { __name__: 'ctr_total' }, step: 30_000, value: (t) => (Math.floor(t / 30_000) % 2000) * 3 };

interface Aggr { count: number; sum: number; min: number; max: number }

function reference(t: number[], v: number[], res: number): Map<number, Aggr> {
  const m = new Map<number, Aggr>();
  for (let i = 0; i < t.length; i++) {
    const w = Math.floor(t[i]! / res);
    const a = m.get(w);
    if (!a) m.set(w, { count: 1, sum: v[i]!, min: v[i]!, max: v[i]! });
    else { a.count++; a.sum += v[i]!; a.min = Math.min(a.min, v[i]!); a.max = Math.max(a.max, v[i]!); }
  }
  return m;
}

type Series = { labels: Record<string, string>; chunks: { t: number[]; v: number[] }[][] };

async function readAggr(bucket: ReturnType<typeof fsBucket>, id: string): Promise<Series[]> {
  const b = await BlockReader.open(bucketBlockFiles(bucket, id), { core });
  const out: Series[] = [];
  for await (const s of b.selectChunks(all)) {
    out.push({
      labels: labelsToRecord(s.labels),
      chunks: s.chunks.map((c) => {
        assert.is(c.encoding, 0xff, 'AggrChunk encoding');
        return decodeAggrChunk(c.data).map((p) => {
          if (!p) return { t: [], v: [] };
          const d = core.xorDecode(p.data);
          return { t: [...d.t.subarray(0, d.n)], v: [...d.v.subarray(0, d.n)] };
        });
      }),
    });
  }
  return out;
}

function checkWindows(s: Series, raw: { t: number[]; v: number[] }, res: number) {
  const ref = reference(raw.t, raw.v, res);
  const got = new Map<number, Aggr>();
  for (const c of s.chunks) {
    const cnt = c[AGGR_COUNT]!, sum = c[AGGR_SUM]!, min = c[AGGR_MIN]!, max = c[AGGR_MAX]!;
    assert.is(cnt.t.length, sum.t.length);
    assert.equal(cnt.t, min.t);
    assert.equal(cnt.t, max.t);
    for (let i = 0; i < cnt.t.length; i++) {
      const w = Math.floor(cnt.t[i]! / res);
      assert.ok(i === 0 || Math.floor(cnt.t[i - 1]! / res) !== w, `window ${w} twice in one chunk`);
      // 5m → 1h works along input chunk boundaries (Thanos): a window cut by a boundary appears
      // in two consecutive chunks, and its parts compose.
      const p = got.get(w);
      if (p) got.set(w, { count: p.count + cnt.v[i]!, sum: p.sum + sum.v[i]!, min: Math.min(p.min, min.v[i]!), max: Math.max(p.max, max.v[i]!) });
      else got.set(w, { count: cnt.v[i]!, sum: sum.v[i]!, min: min.v[i]!, max: max.v[i]! });
      // Stamped at the window's end, or at the last sample when the data ends earlier.
      assert.ok(cnt.t[i]! <= w * res + res - 1 && cnt.t[i]! >= w * res);
    }
  }
  assert.is(got.size, ref.size, 'number of windows');
  for (const [w, a] of ref) {
    const g = got.get(w)!;
    assert.ok(g, `window ${w} missing`);
    assert.is(g.count, a.count, `count @${w}`);
    assert.ok(Math.abs(g.sum - a.sum) <= 1e-9 * Math.max(1, Math.abs(a.sum)), `sum @${w}: ${g.sum} vs ${a.sum}`);
    assert.is(g.min, a.min, `min @${w}`);
    assert.is(g.max, a.max, `max @${w}`);
  }
}

/** Counter aggregate per chunk: first raw sample, per-window running total with resets applied, last raw value. */
function checkCounter(s: Series, raw: { t: number[]; v: number[] }, res: number) {
  for (const c of s.chunks) {
    const ct = c[AGGR_COUNTER]!;
    const n = ct.t.length;
    assert.ok(n >= 3);
    const i0 = raw.t.indexOf(ct.t[0]!);
    assert.ok(i0 >= 0, 'first counter sample is a raw sample');
    assert.is(ct.v[0], raw.v[i0]);
    let counter = 0, last = 0, k = 1;
    let i = i0;
    for (; i < raw.t.length && raw.t[i]! <= ct.t[n - 2]!; i++) {
      const v = raw.v[i]!;
      counter = i === i0 ? v : counter + (v < last ? v : v - last);
      last = v;
      const endOfWindow = i + 1 >= raw.t.length || Math.floor(raw.t[i + 1]! / res) !== Math.floor(raw.t[i]! / res) || raw.t[i + 1]! > ct.t[n - 2]!;
      if (endOfWindow) {
        assert.is(ct.v[k], counter, `counter window ${k}`);
        k++;
      }
    }
    assert.is(k, n - 1);
    assert.is(ct.t[n - 1], ct.t[n - 2]);
    assert.is(ct.v[n - 1], raw.v[i - 1]);
  }
}

test('raw ≥ 40h → 5m; 5m ≥ 10d → 1h; short blocks stay raw; aggregates match a reference computation', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart(60);
  const a = await putBlock(bucket, { minTime: T0, maxTime: T0 + 48 * HOUR, ext: { cluster: 'a' }, series: [GAUGE, COUNTER] });
  const short = await putBlock(bucket, { minTime: T0 + 48 * HOUR, maxTime: T0 + 50 * HOUR, ext: { cluster: 'a' }, series: [GAUGE] });
  const GAUGE5: SeriesSpec = { ...GAUGE, step: 300_000 };
  const b = await putBlock(bucket, { minTime: T0, maxTime: T0 + 14 * DAY, ext: { cluster: 'b' }, series: [GAUGE5] });
  const c = new Compactor({ bucket, fs, core, dataDir: tmp('ds'), consistencyDelayMs: 0 });
  const r = await c.runOnce();
  assert.is(r.compactions, 0);
  assert.is(r.downsampled, 3); // a → 5m, b → 5m, b's 5m → 1h
  const metas = [...(await c.sync()).metas.values()];
  const by = (res: number, cl: string) => metas.filter((m) => m.thanos.downsample.resolution === res && m.thanos.labels.cluster === cl);
  assert.is(by(RES_5M, 'a').length, 1);
  assert.is(by(RES_1H, 'a').length, 0);
  assert.is(by(RES_5M, 'b').length, 1);
  assert.is(by(RES_1H, 'b').length, 1);
  const a5 = by(RES_5M, 'a')[0]!;
  assert.is(a5.minTime, a.minTime);
  assert.is(a5.maxTime, a.maxTime);
  assert.equal(a5.compaction.sources, [a.ulid]);
  assert.is(a5.thanos.source, 'compactor');
  assert.equal(a5.thanos.labels, { cluster: 'a' });
  // The raw block is kept (retention decides), the short one is not downsampled.
  assert.not.ok(await bucket.exists(`${a.ulid}/${DELETION_MARK}`));
  assert.ok(!metas.some((m) => m.thanos.downsample.resolution !== 0 && m.compaction.sources.includes(short.ulid)));

  const series = await readAggr(bucket, a5.ulid);
  assert.is(series.length, 2);
  const g = series.find((s) => s.labels.__name__ === 'gauge')!;
  const ctr = series.find((s) => s.labels.__name__ === 'ctr_total')!;
  checkWindows(g, samplesOf(GAUGE, a.minTime, a.maxTime), RES_5M);
  checkWindows(ctr, samplesOf(COUNTER, a.minTime, a.maxTime), RES_5M);
  checkCounter(ctr, samplesOf(COUNTER, a.minTime, a.maxTime), RES_5M);

  // 1h from 5m equals 1h computed straight from the raw samples (count/sum/min/max compose).
  const b1 = by(RES_1H, 'b')[0]!;
  assert.equal(b1.compaction.sources, [b.ulid]);
  const s1 = await readAggr(bucket, b1.ulid);
  assert.is(s1.length, 1);
  checkWindows(s1[0]!, samplesOf(GAUGE5, b.minTime, b.maxTime), RES_1H);

  // A second iteration has nothing left to downsample.
  const r2 = await c.runOnce();
  assert.is(r2.downsampled, 0);
});

test('--downsampling.disable: nothing is downsampled; retention per resolution marks only the expired resolution', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart(60);
  const a = await putBlock(bucket, { minTime: T0, maxTime: T0 + 48 * HOUR, ext: { cluster: 'a' }, series: [GAUGE] });
  const off = new Compactor({ bucket, fs, core, dataDir: tmp('ds'), consistencyDelayMs: 0, downsampling: false });
  assert.is((await off.runOnce()).downsampled, 0);
  const on = new Compactor({ bucket, fs, core, dataDir: tmp('ds'), consistencyDelayMs: 0 });
  assert.is((await on.runOnce()).downsampled, 1);
  // Raw kept 30d, 5m forever: the (60 days old) raw block is marked, its 5m copy is not.
  const ret = new Compactor({ bucket, fs, core, dataDir: tmp('ds'), consistencyDelayMs: 0, retention: { raw: 30 * DAY, m5: 0, h1: 0 } });
  const r = await ret.runOnce();
  assert.is(r.retentionMarked, 1);
  assert.ok(await bucket.exists(`${a.ulid}/${DELETION_MARK}`));
  const live = [...(await ret.sync()).metas.values()];
  assert.is(live.length, 1);
  assert.is(live[0]!.thanos.downsample.resolution, RES_5M);
});

const STALE = new DataView(new Uint8Array([0x7f, 0xf0, 0, 0, 0, 0, 0, 0x02]).buffer).getFloat64(0);

test('raw → 5m over many series of different lengths (one pair of decode arrays reused): stale markers and NaNs dropped, every window as the reference', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart(60);
  const specs: SeriesSpec[] = [];
  for (let i = 0; i < 30; i++) {
    // longer and shorter series side by side: a reused array must not leak one series' tail into the next
    const step = [60_000, 15_000, 45_000][i % 3]!; // the first series (in label order) is not the longest
    const until = T0 + (i % 2 ? 48 : 3 + i) * HOUR;
    specs.push({ labels: { __name__: 'g', i: String(i).padStart(2, '0') }, step, value: (t) => t >= until ? NaN : i % 5 === 0 && Math.floor(t / step) % 97 === 0 ? STALE : Math.round(Math.sin(t / 5e6 + i) * 1e4) / 100 });
  }
  const a = await putBlock(bucket, { minTime: T0, maxTime: T0 + 48 * HOUR, ext: { cluster: 'a' }, series: specs });
  const c = new Compactor({ bucket, fs, core, dataDir: tmp('ds'), consistencyDelayMs: 0 });
  assert.is(await c.downsamplePass(), 1);
  const m5 = [...(await c.sync()).metas.values()].find((m) => m.thanos.downsample.resolution === RES_5M)!;
  assert.equal(m5.compaction.sources, [a.ulid]);
  const got = await readAggr(bucket, m5.ulid);
  assert.is(got.length, specs.length);
  for (const spec of specs) {
    const s = got.find((x) => x.labels.i === spec.labels.i)!;
    const raw = samplesOf(spec, a.minTime, a.maxTime);
    const keep = raw.v.map((v) => !Number.isNaN(v));
    assert.ok(keep.some((k) => !k) || Number(spec.labels.i) % 2 === 1, 'the short series and the stale ones have NaNs to drop');
    checkWindows(s, { t: raw.t.filter((_, i) => keep[i]), v: raw.v.filter((_, i) => keep[i]) }, RES_5M);
  }
});

test.run();
