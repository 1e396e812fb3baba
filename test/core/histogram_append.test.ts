// The histogram appender's rules (lib/core/js/histogram_append.ts, Prometheus 3.x AppendHistogram):
// replaying what our exporter served to the real Prometheus 2.42 rebuilds its chunks byte for byte
// (including the two recodes when buckets appeared), where 3.x and 2.42 agree; plus the 3.x rules
// 2.42 lacks (backward inserts, headers of cut chunks) on small cases.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createCore, createJsCore, HISTOGRAM_COUNTER_RESET, HISTOGRAM_GAUGE, HISTOGRAM_NOT_COUNTER_RESET, type Core } from '../../lib/core/mod.ts';
import { HistogramChunkAppender, spansOf, type HistogramSample } from '../../lib/core/js/histogram_append.ts';
import { hex } from './helpers.ts';
import { STALE } from './histogram_helpers.ts';

const fx = JSON.parse(readFileSync(new URL('./fixtures/histogram-242/chunks.json', import.meta.url), 'utf8'));
let cores: Core[] = [];
test.before(async () => {
  cores = [createJsCore(), await createCore({ backend: 'wasm' })];
});

function sample(t: number, o: Partial<HistogramSample> & { pos?: number[]; pspans?: number[]; neg?: number[]; nspans?: number[] }): HistogramSample {
  const positive = new Float64Array(o.pos ?? []);
  const negative = new Float64Array(o.neg ?? []);
  return {
    t,
    hint: o.hint ?? 'unknown',
    schema: o.schema ?? 0,
    zeroThreshold: o.zeroThreshold ?? 2 ** -128,
    positiveSpans: new Int32Array(o.pspans ?? [0, positive.length]),
    negativeSpans: new Int32Array(o.nspans ?? (negative.length ? [0, negative.length] : [])),
    customValues: new Float64Array(0),
    count: o.count ?? [...positive, ...negative].reduce((a, b) => a + b, 0),
    zeroCount: o.zeroCount ?? 0,
    sum: o.sum ?? 1,
    positive,
    negative,
  };
}

function run(list: HistogramSample[], float = false): HistogramChunkAppender[] {
  let app = new HistogramChunkAppender(float);
  const chunks = [app];
  for (const h of list) {
    const r = app.append(h, chunks.length > 1 ? chunks[chunks.length - 2] : undefined);
    if (r.cut) {
      const prev = app;
      app = new HistogramChunkAppender(float);
      app.append(h, prev);
      chunks.push(app);
    }
  }
  return chunks;
}

test('replay of the served series rebuilds the Prometheus 2.42 chunks (recodes included)', () => {
  let compared = 0;
  const keys = new Set<string>();
  for (const s of fx.served[0].series) keys.add(`${s.name}|${JSON.stringify(s.labels)}`);
  for (const key of keys) {
    const [name, labelsJson] = key.split('|');
    const labels = JSON.parse(labelsJson) as Record<string, string>;
    const golden = fx.chunks.filter((c: { series: string }) => c.series.includes(`__name__="${name}"`) && (!labels.case || c.series.includes(`case="${labels.case}"`)));
    const decoded = golden.map((c: { hex: string; encoding: number }) => cores[0].histogramDecode(new Uint8Array(Buffer.from(c.hex, 'hex')), c.encoding === 3));
    const times: number[] = decoded.flatMap((d: { t: Float64Array; n: number }) => [...d.t.subarray(0, d.n)]);
    const served = fx.served.flatMap((x: { series: { name: string; labels: Record<string, string> }[] }) => x.series.filter((y) => y.name === name && y.labels.case === labels.case));
    const float = served[0].float;
    const list: HistogramSample[] = served.map((v: Record<string, never>, i: number) =>
      sample(times[i], {
        hint: v.gauge ? 'gauge' : 'unknown',
        schema: v.schema,
        zeroThreshold: v.zeroThreshold,
        count: v.count,
        zeroCount: v.zeroCount,
        sum: v.sum,
        pos: v.positive,
        pspans: (v.positiveSpans as { offset: number; length: number }[]).flatMap((x) => [x.offset, x.length]),
        neg: v.negative,
        nspans: (v.negativeSpans as { offset: number; length: number }[]).flatMap((x) => [x.offset, x.length]),
      }),
    );
    // every series ends with a stale marker (the target went away); Prometheus appends it with no hint
    list.push(sample(times[list.length], { sum: STALE, pos: [], pspans: [] }));
    const ours = run(list, float);
    const gauge = served[0].gauge;
    // 2.42 started a new chunk (header 0x00) for a gauge histogram's stale marker; 3.x rules do too
    // (a hint-less sample after a gauge chunk), but with header NotCounterReset.
    assert.is(ours.length, golden.length, `${key}: chunks`);
    ours.forEach((app, k) => {
      for (const core of cores) {
        const bytes = core.histogramEncode(app.samples());
        const want = Buffer.from(golden[k].hex, 'hex');
        const headerNote = `${key} chunk ${k}`;
        if (k > 0 && name === 'test_hist' && labels.case === 'grow') {
          // the chunk cut by the counter reset: 3.x writes CounterReset, 2.42 wrote 0x00
          assert.is(bytes[2], HISTOGRAM_COUNTER_RESET, headerNote);
          bytes[2] = want[2];
        } else if (k > 0 && gauge) {
          assert.is(bytes[2], HISTOGRAM_NOT_COUNTER_RESET, headerNote);
          bytes[2] = want[2];
        } else if (gauge) assert.is(bytes[2], HISTOGRAM_GAUGE);
        assert.is(hex(bytes), golden[k].hex, `${core.backend}: ${headerNote}`);
        compared++;
      }
    });
  }
  assert.is(compared, fx.chunks.length * 2);
});

test('forward inserts recode the chunk; backward inserts (3.x) fill the sample', () => {
  const a = new HistogramChunkAppender(false);
  a.append(sample(1000, { pos: [1, 2, 3] }));
  a.append(sample(2000, { pos: [1, 2, 4] }));
  // bucket 3 appears: recode to [0, 4]
  const r = a.append(sample(3000, { pos: [2, 2, 5, 1] }));
  assert.equal([r.cut, r.recoded], [false, true]);
  assert.equal([...a.positiveSpans], [0, 4]);
  assert.equal([...a.samples().positive], [1, 2, 3, 0, 1, 2, 4, 0, 2, 2, 5, 1]);
  // bucket 3 is 1 now: a sample without it is a counter reset
  const reset = a.append(sample(4000, { pos: [2, 2, 5] }));
  assert.ok(reset.cut);
  assert.is(reset.appender.header, HISTOGRAM_COUNTER_RESET);

  const b = new HistogramChunkAppender(false);
  b.append(sample(1000, { pos: [1, 0, 3], pspans: [0, 3] }));
  // bucket 1 (empty) is missing: backward insert, the chunk keeps its spans
  const r2 = b.append(sample(2000, { pos: [2, 3], pspans: [0, 1, 1, 1] }));
  assert.equal([r2.cut, r2.recoded], [false, false]);
  assert.equal([...b.positiveSpans], [0, 3]);
  assert.equal([...b.samples().positive], [1, 0, 3, 2, 0, 3]);
  // missing empty bucket 1 and a new bucket 5: merged canonical spans, recode
  const r3 = b.append(sample(3000, { pos: [2, 3, 1], pspans: [0, 1, 1, 1, 2, 1] }));
  assert.equal([r3.cut, r3.recoded], [false, true]);
  assert.equal([...b.positiveSpans], [...spansOf([0, 1, 2, 5])]);
  assert.equal([...b.samples().positive], [1, 0, 3, 0, 2, 0, 3, 0, 2, 0, 3, 1]);
  for (const core of cores) assert.equal(core.histogramDecode(core.histogramEncode(b.samples()), false).positive, b.samples().positive);
});

test('cuts and headers: schema change, count drop, gauge, stale, next chunk after a full one', () => {
  const a = new HistogramChunkAppender(false);
  a.append(sample(1, { pos: [5] }));
  const schema = a.append(sample(2, { pos: [5], schema: 1 }));
  assert.ok(schema.cut);
  assert.is(schema.appender.header, 0, 'schema change: UnknownCounterReset');
  const drop = schema.appender.append(sample(3, { pos: [4], schema: 1 }));
  assert.ok(drop.cut);
  assert.is(drop.appender.header, HISTOGRAM_COUNTER_RESET);
  // a new chunk after a full one takes its header from the previous chunk's verdict
  const next = new HistogramChunkAppender(false);
  next.append(sample(4, { pos: [9], schema: 1 }), drop.appender);
  assert.is(next.header, HISTOGRAM_NOT_COUNTER_RESET);
  const fnext = new HistogramChunkAppender(true);
  const fprev = new HistogramChunkAppender(true);
  fprev.append(sample(1, { pos: [5] }));
  fnext.append(sample(2, { pos: [5], schema: 2 }), fprev);
  assert.is(fnext.header, HISTOGRAM_NOT_COUNTER_RESET, 'float: a schema change is "not a reset" for the next chunk');
  // gauges: buckets come and go, counts go down, no cut
  const g = new HistogramChunkAppender(false);
  g.append(sample(1, { pos: [5, 1], hint: 'gauge' }));
  assert.is(g.header, HISTOGRAM_GAUGE);
  const g2 = g.append(sample(2, { pos: [3], pspans: [1, 1], hint: 'gauge' }));
  assert.equal([g2.cut, g2.recoded], [false, false]);
  const g3 = g.append(sample(3, { pos: [1], pspans: [3, 1], hint: 'gauge' }));
  assert.equal([g3.cut, g3.recoded], [false, true]);
  assert.equal([...g.positiveSpans], [0, 2, 1, 1]);
  assert.equal([...g.samples().positive], [5, 1, 0, 0, 3, 0, 0, 0, 1]);
  // after a stale marker the next sample starts a new chunk
  const s = new HistogramChunkAppender(false);
  s.append(sample(1, { pos: [1] }));
  assert.not.ok(s.append(sample(2, { sum: STALE, pos: [], pspans: [] })).cut);
  const after = s.append(sample(3, { pos: [2] }));
  assert.ok(after.cut);
  assert.is(after.appender.header, 0);
});

test.run();
