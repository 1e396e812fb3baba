// Downsampling native histograms as Thanos does (lib/tsdb/downsample_histogram.ts): a raw block with
// a counter histogram (with a reset), a gauge histogram and a float series → 5m AggrChunks holding
// count (XOR), sum and counter (float histogram chunks), no min/max; → 1h from those; and what the
// querier returns from them through the store gateway: rate → the counter histograms, the default
// aggregates → sum / count per window, count_over_time → counts, min_over_time → an error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { FloatHistogram } from '../../lib/histogram/float.ts';
import { fromChunkSample } from '../../lib/histogram/convert.ts';
import { labelsFromRecord, formatLabels } from '../../lib/labels/mod.ts';
import {
  AGGR_COUNT, AGGR_COUNTER, AGGR_MAX, AGGR_MIN, AGGR_SUM, BlockReader, BlockWriter, decodeAggrChunk, downsampleBlock, ENC_FLOAT_HISTOGRAM, ENC_XOR,
  memBlockFiles, memBlockSink,
} from '../../lib/tsdb/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { BucketStore } from '../../lib/store/gateway/bucketstore.ts';
import { storeServer } from '../../lib/store/gateway/component.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { StoreQueryable } from '../../lib/query/querier.ts';
import { downsampleRawHistograms } from '../../lib/tsdb/downsample_histogram.ts';
import { downsampleAggrSeries } from '../../lib/tsdb/downsample.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';

const core = createJsCore();
const HOUR = 3_600_000;
const M5 = 300_000;
const STEP = 15_000;
const T0 = 1_700_006_400_000; // aligned to the hour
const SPAN = 3 * HOUR;
const RESET_AT = 500; // sample index where the counter restarts
const dataDir = mkdtempSync(join(tmpdir(), 'hist-ds-'));
test.after(() => rmSync(dataDir, { recursive: true, force: true }));

/** The counter histogram's scale at sample i: buckets [c, 2c], count 3c, sum c. */
function counterScale(i: number): number {
  return i < RESET_AT ? i + 1 : i - RESET_AT + 1;
}

function scaled(c: number, hint: FloatHistogram['counterResetHint'] = 'not_reset'): FloatHistogram {
  return new FloatHistogram({ counterResetHint: hint, schema: 0, count: 3 * c, sum: c, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [c, 2 * c] });
}

const CTR = labelsFromRecord({ __name__: 'req_seconds' });
const GAUGE = labelsFromRecord({ __name__: 'queue_sizes' });
const FLOAT = labelsFromRecord({ __name__: 'up' });

async function rawBlock(): Promise<Map<string, Uint8Array>> {
  const sink = memBlockSink();
  const symbols = ['__name__', 'req_seconds', 'queue_sizes', 'up', 'replica', 'a'];
  const w = await BlockWriter.create(sink, symbols, { core, minTime: T0, maxTime: T0 + SPAN, thanos: { labels: { replica: 'a' }, downsample: { resolution: 0 }, source: 'test' } });
  const n = SPAN / STEP;
  const t = Float64Array.from({ length: n }, (_, i) => T0 + i * STEP);
  const series = [
    { l: GAUGE, h: Array.from({ length: n }, (_, i) => { const x = scaled(1 + (i % 7)); x.counterResetHint = 'gauge'; return x; }) },
    { l: CTR, h: Array.from({ length: n }, (_, i) => scaled(counterScale(i), i === RESET_AT ? 'reset' : 'not_reset')) },
    { l: FLOAT, h: undefined },
  ].sort((a, b) => formatLabels(a.l) < formatLabels(b.l) ? -1 : 1);
  for (const s of series) {
    await w.addMixedSeries(s.l, { t, v: Float64Array.from({ length: n }, (_, i) => i % 2), n, h: s.h, intHist: s.h ? new Uint8Array(n).fill(1) : undefined });
  }
  await w.finish();
  return sink.files;
}

interface Window { t: number; count: number; sum: FloatHistogram; counter: FloatHistogram }

async function windows(files: Map<string, Uint8Array>, labels: typeof CTR): Promise<Window[]> {
  const b = await BlockReader.open(memBlockFiles(files), { core });
  const out: Window[] = [];
  for await (const s of b.selectChunks([{ type: '=', name: '__name__', value: labels[0]!.value }])) {
    for (const c of s.chunks) {
      const p = decodeAggrChunk(c.data);
      assert.is(p[AGGR_MIN], undefined, 'no min aggregate');
      assert.is(p[AGGR_MAX], undefined, 'no max aggregate');
      assert.is(p[AGGR_COUNT]!.encoding, ENC_XOR);
      assert.is(p[AGGR_SUM]!.encoding, ENC_FLOAT_HISTOGRAM);
      assert.is(p[AGGR_COUNTER]!.encoding, ENC_FLOAT_HISTOGRAM);
      const cnt = core.xorDecode(p[AGGR_COUNT]!.data);
      const sum = core.histogramDecode(p[AGGR_SUM]!.data, true);
      const ctr = core.histogramDecode(p[AGGR_COUNTER]!.data, true);
      assert.is(sum.n, cnt.n);
      assert.is(ctr.n, cnt.n);
      for (let i = 0; i < cnt.n; i++) {
        assert.is(sum.t[i], cnt.t[i]);
        out.push({ t: cnt.t[i]!, count: cnt.v[i]!, sum: fromChunkSample(sum, i), counter: fromChunkSample(ctr, i) });
      }
    }
  }
  return out;
}

/** The straightforward computation over the raw samples: per window count, Σ scale, last counter scale. */
function reference(scale: (i: number) => number, counter: (i: number) => number, res: number): Map<number, { count: number; sum: number; counter: number }> {
  const m = new Map<number, { count: number; sum: number; counter: number }>();
  for (let i = 0; i < SPAN / STEP; i++) {
    const t = T0 + i * STEP;
    const w = Math.min(t - (t % res) + res - 1, T0 + SPAN - STEP);
    const a = m.get(w) ?? { count: 0, sum: 0, counter: 0 };
    a.count++;
    a.sum += scale(i);
    a.counter = counter(i);
    m.set(w, a);
  }
  return m;
}

// the counter with the reset folded in: the value before the reset plus the new count
const folded = (i: number) => (i < RESET_AT ? counterScale(i) : RESET_AT + counterScale(i));

function assertWindows(got: Window[], want: ReturnType<typeof reference>, what: string): void {
  assert.equal(got.map((w) => w.t), [...want.keys()], `${what}: window ends`);
  for (const w of got) {
    const r = want.get(w.t)!;
    assert.is(w.count, r.count, `${what} ${w.t}: count`);
    assert.ok(w.sum.equals(scaled(r.sum)), `${what} ${w.t}: sum ${w.sum.toString()}`);
    assert.is(w.sum.counterResetHint, 'gauge');
    assert.ok(w.counter.equals(scaled(r.counter)), `${what} ${w.t}: counter ${w.counter.toString()} want ${r.counter}`);
  }
}

let raw: Map<string, Uint8Array>;
let m5: Map<string, Uint8Array>;

test('raw → 5m: histogram AggrChunks with count, sum and counter (reset folded in), floats as before', async () => {
  raw = await rawBlock();
  const sink = memBlockSink();
  const meta = await downsampleBlock(await BlockReader.open(memBlockFiles(raw), { core }), M5, sink, core);
  assert.is(meta.thanos!.downsample.resolution, M5);
  m5 = sink.files;
  assertWindows(await windows(m5, CTR), reference(counterScale, folded, M5), 'counter 5m');
  assertWindows(await windows(m5, GAUGE), reference((i) => 1 + (i % 7), (i) => 1 + (i % 7), M5), 'gauge 5m');
  // the float series still gets the five XOR aggregates
  const b = await BlockReader.open(memBlockFiles(m5), { core });
  for await (const s of b.selectChunks([{ type: '=', name: '__name__', value: 'up' }])) {
    for (const c of s.chunks) assert.ok(decodeAggrChunk(c.data).every((p) => p?.encoding === ENC_XOR));
  }
});

test('5m → 1h: the histogram aggregates re-aggregated along chunk boundaries', async () => {
  assert.ok(m5, '5m block');
  const sink = memBlockSink();
  await downsampleBlock(await BlockReader.open(memBlockFiles(m5), { core }), HOUR, sink, core);
  assertWindows(await windows(sink.files, CTR), reference(counterScale, folded, HOUR), 'counter 1h');
});

test('querier over 5m data: rate → counter histograms, default → sum/count, count_over_time → counts, min_over_time → error', async () => {
  assert.ok(m5, '5m block');
  const bucket = new MemoryBucket();
  for (const [id, files] of [['raw', raw], ['m5', m5]] as const) {
    const ulid = JSON.parse(new TextDecoder().decode(files.get('meta.json')!)).ulid as string;
    for (const [rel, data] of files) if (rel !== 'meta.json') await bucket.upload(`${ulid}/${rel}`, data);
    await bucket.upload(`${ulid}/meta.json`, files.get('meta.json')!);
    void id;
  }
  const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core, fs: nodeFs(), dataDir }, meta) });
  await store.sync();
  assert.is(store.blocks.size, 2);
  const q = new StoreQueryable(storeServer(store), core, { dedup: false, replicaLabels: [], maxResolutionMs: M5, partialResponse: false });
  const sel = (func?: string) => q.select([{ type: '=', name: '__name__', value: 'req_seconds' }], { start: T0, end: T0 + SPAN, func, range: func ? HOUR : undefined });
  const want = reference(counterScale, folded, M5);
  const rate = (await sel('rate')).series[0]!;
  assert.equal(Array.from(rate.t.subarray(0, rate.n)), [...want.keys()]);
  [...want.values()].forEach((w, i) => assert.ok(rate.h![i]!.equals(scaled(w.counter)), `rate input ${i}`));
  const avg = (await sel()).series[0]!;
  [...want.values()].forEach((w, i) => assert.ok(avg.h![i]!.equals(scaled(w.sum / w.count)), `average ${i}: ${avg.h![i]!.toString()}`));
  const cnt = (await sel('count_over_time')).series[0]!;
  assert.equal(Array.from(cnt.v.subarray(0, cnt.n)), [...want.values()].map((w) => w.count));
  assert.not.ok(cnt.h?.some((x) => x));
  try {
    await sel('min_over_time');
    assert.unreachable('min of histogram aggregates');
  } catch (e) {
    assert.match((e as Error).message, /does not exist/);
  }
});

// Thanos's own expectations (pkg/compact/downsample/downsample_test.go, TestDownsampleNativeHistograms,
// "regular NH downsampling"): the same histogram every minute for ~10 hours.
test('Thanos TestDownsampleNativeHistograms expectations: counts, counter, sums at 5m and 1h', () => {
  const same = (hint: FloatHistogram['counterResetHint'] = 'unknown') => new FloatHistogram({
    counterResetHint: hint, count: 2, sum: 0.000551209, schema: 3, zeroThreshold: 2.938735877055719e-39,
    positiveSpans: [{ offset: -97, length: 1 }, { offset: 4, length: 1 }], positiveBuckets: [1, 1],
  });
  const t: number[] = [1688526018213];
  for (let x = 1688526018213 + 60000; x < 1688562258213; x += 60000) t.push(x);
  const h = t.map(() => same());
  const chks = downsampleRawHistograms(core, t, h, M5);
  const sum5m = (i: number) => i === 120
    ? new FloatHistogram({ counterResetHint: 'gauge', count: 8, sum: 0.002204836, schema: 3, zeroThreshold: 2.938735877055719e-39, positiveSpans: [{ offset: -97, length: 1 }, { offset: 4, length: 1 }], positiveBuckets: [4, 4] })
    : new FloatHistogram({ counterResetHint: 'gauge', count: 10, sum: 0.002756045, schema: 3, zeroThreshold: 2.938735877055719e-39, positiveSpans: [{ offset: -97, length: 1 }, { offset: 4, length: 1 }], positiveBuckets: [5, 5] });
  const check = (c: (typeof chks)[number], counts: (i: number) => number, sum: (i: number) => FloatHistogram, counters?: number) => {
    const p = decodeAggrChunk(c.data);
    assert.equal(p.map((x) => x !== undefined), [true, true, false, false, true], 'count, sum and counter only');
    const cnt = core.xorDecode(p[AGGR_COUNT]!.data);
    for (let i = 0; i < cnt.n; i++) assert.is(cnt.v[i], counts(i), `count ${i}`);
    const sums = core.histogramDecode(p[AGGR_SUM]!.data, true);
    for (let i = 0; i < sums.n; i++) {
      const got = fromChunkSample(sums, i);
      assert.ok(got.equals(sum(i)) && got.counterResetHint === 'gauge', `sum ${i}: ${got.toString()} ${got.counterResetHint}`);
    }
    if (counters !== undefined) {
      const ctr = core.histogramDecode(p[AGGR_COUNTER]!.data, true);
      assert.is(ctr.n, counters);
      for (let i = 0; i < ctr.n; i++) {
        const got = fromChunkSample(ctr, i);
        assert.ok(got.equals(same()) && got.counterResetHint === (i === 0 ? 'unknown' : 'not_reset'), `counter ${i}`);
      }
    }
  };
  assert.is(chks.length, 1);
  check(chks[0]!, (i) => (i === 120 ? 4 : 5), sum5m, 1 + Math.trunc(t.length / 5));
  const hour = downsampleAggrSeries(core, chks, M5, HOUR);
  assert.ok(hour.length > 0);
  const sum1h = (i: number) => i === 10
    ? sum5m(120)
    : new FloatHistogram({ counterResetHint: 'gauge', count: 120, sum: 0.03307253999999999, schema: 3, zeroThreshold: 2.938735877055719e-39, positiveSpans: [{ offset: -97, length: 1 }, { offset: 4, length: 1 }], positiveBuckets: [60, 60] });
  for (const c of hour) check(c, (i) => (i === 10 ? 4 : 60), sum1h);
});

test.run();
