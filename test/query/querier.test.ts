import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { aggrChunkSamples } from '../../lib/core/aggr.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { Aggr, type AggrChunk, type SeriesResponse } from '../../lib/proto/store.ts';
import { aggrsFromFunc, maxResolutionForSelect, overlapSplit, seriesSamples, StoreQueryable, type QuerierOptions } from '../../lib/query/querier.ts';
import { penaltyMerge } from '../../lib/store/dedup.ts';
import { FakeStore, fakeSeries, rawChunks } from './fakestore.ts';

const core = createJsCore();
const base: QuerierOptions = { dedup: true, replicaLabels: ['replica'], maxResolutionMs: 0, partialResponse: true };
const eq = (name: string) => ({ type: '=' as const, name: '__name__', value: name });

function range(start: number, end: number, step: number): number[] {
  const out: number[] = [];
  for (let t = start; t <= end; t += step) out.push(t);
  return out;
}
const arr = (x: { t: Float64Array; v: Float64Array; n: number }) => ({ t: [...x.t.subarray(0, x.n)], v: [...x.v.subarray(0, x.n)] });

test('aggregates and resolution caps from the function', () => {
  assert.equal(aggrsFromFunc('rate'), [Aggr.COUNTER]);
  assert.equal(aggrsFromFunc('increase'), [Aggr.COUNTER]);
  assert.equal(aggrsFromFunc('max_over_time'), [Aggr.MAX]);
  assert.equal(aggrsFromFunc('min'), [Aggr.MIN]);
  assert.equal(aggrsFromFunc('count_over_time'), [Aggr.COUNT]);
  assert.equal(aggrsFromFunc('sum_over_time'), [Aggr.SUM]);
  assert.equal(aggrsFromFunc('sum'), [Aggr.COUNT, Aggr.SUM]);
  assert.equal(aggrsFromFunc('avg_over_time'), [Aggr.COUNT, Aggr.SUM]);
  assert.equal(aggrsFromFunc(undefined), [Aggr.COUNT, Aggr.SUM]);
  assert.is(maxResolutionForSelect(3_600_000, 600_000, 'rate'), 300_000);
  assert.is(maxResolutionForSelect(3_600_000, 600_000, 'max_over_time'), 3_600_000);
  assert.is(maxResolutionForSelect(300_000, 0, 'rate'), 300_000);
});

test('raw select: chunks decoded, trimmed to the range, request carries hints', async () => {
  const t = range(0, 1_990_000, 10_000); // 200 samples -> 2 chunks
  const v = t.map((x) => x / 1000);
  const store = new FakeStore([fakeSeries(core, { __name__: 'm', job: 'a' }, t, v)]);
  const q = new StoreQueryable(store, core, { ...base, dedup: false });
  const r = await q.select([eq('m')], { start: 105_000, end: 1_500_000, step: 15_000, func: 'max_over_time', range: 60_000 });
  assert.is(r.series.length, 1);
  const got = arr(r.series[0]!);
  assert.is(got.t[0], 110_000);
  assert.is(got.t[got.t.length - 1], 1_500_000);
  assert.equal(got.v, got.t.map((x) => x / 1000));
  const req = store.requests[0]!;
  assert.is(req.minTime, 105_000);
  assert.is(req.maxTime, 1_500_000);
  assert.equal(req.aggregates, [Aggr.MAX]);
  assert.is(req.queryHints?.func?.name, 'max_over_time');
  assert.is(req.queryHints?.range?.millis, 60_000);
  assert.equal(req.withoutReplicaLabels, []);
  assert.is(req.partialResponseStrategy, 0);
});

function replicaSet(honour: boolean) {
  const a = range(0, 600_000, 10_000).filter((x) => x < 200_000 || x > 400_000); // gap in A
  const b = range(1000, 601_000, 10_000);
  return new FakeStore(
    [
      fakeSeries(core, { __name__: 'm', job: 'x', replica: 'A' }, a, a.map(() => 1)),
      fakeSeries(core, { __name__: 'm', job: 'x', replica: 'B' }, b, b.map(() => 2)),
      fakeSeries(core, { __name__: 'm', job: 'y', replica: 'A' }, a, a.map(() => 3)),
    ],
    honour,
  );
}

test('dedup: replicas merged with the penalty algorithm, replica label dropped', async () => {
  for (const honour of [false, true]) {
    const store = replicaSet(honour);
    const q = new StoreQueryable(store, core, base);
    const r = await q.select([eq('m')], { start: 0, end: 700_000 });
    assert.equal(store.requests[0]!.withoutReplicaLabels, ['replica']);
    assert.equal(r.series.map((s) => s.labels), [labelsFromRecord({ __name__: 'm', job: 'x' }), labelsFromRecord({ __name__: 'm', job: 'y' })], `honour=${honour}`);
    const a = range(0, 600_000, 10_000).filter((x) => x < 200_000 || x > 400_000);
    const b = range(1000, 601_000, 10_000);
    const f64 = (xs: number[]) => Float64Array.from(xs);
    const expected = penaltyMerge([
      { t: f64(a), v: f64(a.map(() => 1)), n: a.length },
      { t: f64(b), v: f64(b.map(() => 2)), n: b.length },
    ]);
    assert.equal(arr(r.series[0]!), arr(expected), `honour=${honour}`);
    // The gap is filled from B.
    assert.ok(arr(r.series[0]!).v.includes(2));
    assert.equal(arr(r.series[1]!).v, a.map(() => 3));
  }
});

test('dedup off or without replica labels: every series as it is', async () => {
  const q = new StoreQueryable(replicaSet(false), core, { ...base, dedup: false });
  const r = await q.select([eq('m')], { start: 0, end: 700_000 });
  assert.is(r.series.length, 3);
  assert.is(r.series[0]!.labels.find((l) => l.name === 'replica')?.value, 'A');
  const q2 = new StoreQueryable(replicaSet(false), core, { ...base, replicaLabels: [] });
  assert.is((await q2.select([eq('m')], { start: 0, end: 700_000 })).series.length, 3);
});

test('series-only selects (func=series) skip chunks and dedup labels', async () => {
  const store = replicaSet(false);
  const q = new StoreQueryable(store, core, base);
  const r = await q.select([eq('m')], { start: 0, end: 700_000, func: 'series' });
  assert.ok(store.requests[0]!.skipChunks);
  assert.equal(r.series.map((s) => s.labels), [labelsFromRecord({ __name__: 'm', job: 'x' }), labelsFromRecord({ __name__: 'm', job: 'y' })]);
});

function downsampled(t: number[], v: number[], res: number): AggrChunk[] {
  const a = core.downsample(Float64Array.from(t), Float64Array.from(v), t.length, res);
  const out: AggrChunk[] = [];
  for (let k = 0; k < a.chunks; k++) {
    const c = aggrChunkSamples(a, k);
    const enc = (i: number) => ({ type: 0, data: core.xorEncode(c.aggr[i]!.t, c.aggr[i]!.v, c.aggr[i]!.n) });
    out.push({ minTime: c.minTime, maxTime: c.maxTime, count: enc(0), sum: enc(1), min: enc(2), max: enc(3), counter: enc(4) });
  }
  return out;
}

test('downsampled chunks: the aggregate each function needs', () => {
  // A counter with a reset, 15s samples over 3h, downsampled to 5m.
  const t = range(0, 3 * 3600_000 - 15_000, 15_000);
  const v = t.map((x) => (x < 5400_000 ? x / 15_000 : (x - 5400_000) / 15_000));
  const chunks = downsampled(t, v, 300_000);
  const max = seriesSamples(core, chunks, [Aggr.MAX]);
  assert.is(max.n, 36);
  // Window [0,300000): max raw value is 19 at t=285000.
  assert.is(max.v[0], 19);
  const min = seriesSamples(core, chunks, [Aggr.MIN]);
  assert.is(min.v[0], 0);
  const avg = seriesSamples(core, chunks, [Aggr.COUNT, Aggr.SUM]);
  assert.is(avg.v[0], 9.5);
  const cnt = seriesSamples(core, chunks, [Aggr.COUNT]);
  assert.ok([...cnt.v.subarray(0, cnt.n)].every((x) => x === 20));
  const counter = seriesSamples(core, chunks, [Aggr.COUNTER]);
  // Monotonic, and the total increase equals the raw increase accounting for the reset.
  for (let i = 1; i < counter.n; i++) assert.ok(counter.v[i]! >= counter.v[i - 1]!, `monotonic at ${i}`);
  const rawIncrease = v[359]! - v[0]! + v[v.length - 1]!; // up to the reset, then from 0 again
  assert.is(counter.v[counter.n - 1]! - counter.v[0]!, rawIncrease);
  // Raw chunks asked for COUNTER pass through untouched (resets stay visible).
  const raw = seriesSamples(core, rawChunks(core, t, v), [Aggr.COUNTER]);
  assert.equal(arr(raw).v, v);
  // A missing aggregate without raw data is an error.
  const noMax = chunks.map((c) => ({ ...c, max: undefined }));
  assert.throws(() => seriesSamples(core, noMax, [Aggr.MAX]), /no valid chunk/);
});

test('downsampled data through the queryable with max_source_resolution', async () => {
  const t = range(0, 3 * 3600_000 - 15_000, 15_000);
  const v = t.map((x) => x / 1000);
  const store = new FakeStore([{ labels: labelsFromRecord({ __name__: 'g' }), chunks: downsampled(t, v, 300_000) }]);
  const q = new StoreQueryable(store, core, { ...base, maxResolutionMs: 3_600_000 });
  const r = await q.select([eq('g')], { start: 0, end: 3 * 3600_000, func: 'rate', range: 600_000 });
  assert.is(store.requests[0]!.maxResolutionWindow, 300_000); // capped to range/2
  assert.equal(store.requests[0]!.aggregates, [Aggr.COUNTER]);
  assert.ok(r.series[0]!.n > 30);
});

test('identical copies of a series from two stores are not double counted', async () => {
  const t = range(0, 2_390_000, 10_000);
  const one = fakeSeries(core, { __name__: 'm' }, t, t.map((x) => x / 10));
  const store = new FakeStore([one, { labels: one.labels, chunks: one.chunks.map((c) => ({ ...c })) }]);
  const r = await new StoreQueryable(store, core, { ...base, dedup: false }).select([eq('m')], { start: 0, end: 3_000_000 });
  assert.is(r.series.length, 1);
  assert.equal(arr(r.series[0]!).t, t);
  // Overlapping but different chunks of one series: the later overlapping samples are dropped.
  const other = fakeSeries(core, { __name__: 'm' }, t.map((x) => x + 5000), t.map(() => 1));
  const r2 = await new StoreQueryable(new FakeStore([one, other]), core, { ...base, dedup: false }).select([eq('m')], { start: 0, end: 3_000_000 });
  const got = arr(r2.series[0]!);
  for (let i = 1; i < got.t.length; i++) assert.ok(got.t[i]! > got.t[i - 1]!);
});

test('overlapSplit separates overlapping chunks into runs', () => {
  const c = (minTime: number, maxTime: number): AggrChunk => ({ minTime, maxTime });
  const runs = overlapSplit([c(0, 100), c(50, 150), c(101, 200), c(151, 300)]);
  assert.equal(runs.map((r) => r.map((x) => x.minTime)), [[0, 101], [50, 151]]);
});

test('warnings pass through; store errors propagate', async () => {
  const store = replicaSet(false);
  const orig = store.series.bind(store);
  store.series = async function* (req) {
    yield { type: 'warning', warning: 'store 1.2.3.4:10901 unavailable' } as SeriesResponse;
    yield* orig(req);
  };
  const q = new StoreQueryable(store, core, base);
  const r = await q.select([eq('m')], { start: 0, end: 700_000 });
  assert.equal(r.warnings, ['store 1.2.3.4:10901 unavailable']);
  const bad = replicaSet(false);
  bad.fail = new Error('boom');
  await new StoreQueryable(bad, core, base).select([eq('m')], { start: 0, end: 1 }).then(
    () => assert.unreachable('should fail'),
    (e: Error) => assert.is(e.message, 'boom'),
  );
});

test('label names/values hide replica labels when deduplicating', async () => {
  const q = new StoreQueryable(replicaSet(false), core, base);
  assert.equal(await q.labelNames([], 0, 1), ['__name__', 'job']);
  assert.equal(await q.labelValues('job', [], 0, 1), ['x', 'y']);
  assert.equal(await q.labelValues('replica', [], 0, 1), []);
  const q2 = new StoreQueryable(replicaSet(false), core, { ...base, dedup: false });
  assert.equal(await q2.labelNames([], 0, 1), ['__name__', 'job', 'replica']);
  assert.equal(await q2.labelValues('replica', [], 0, 1), ['A', 'B']);
});

test.run();
