// Deduplication of native histogram series (lib/store/dedup.ts) as Thanos's dedup iterator does it:
// histogram samples are picked by the same penalty / chain steps as float samples, and the counter
// adjustment (rate, increase, ...) is made only from a float sample to float samples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chainMerge, dedupSeriesSet, penaltyMerge, penaltyMergeGeneric, type Samples } from '../../lib/store/dedup.ts';
import { FloatHistogram } from '../../lib/histogram/float.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';

/** A histogram whose sum carries the value (so a picked histogram names its source sample). */
function hist(sum: number): FloatHistogram {
  return new FloatHistogram({ schema: 0, count: 2, sum, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [2] });
}

/** A replica sampled every `step` ms over [from, to) except inside the gaps, value = base + index. */
function replica(base: number, from: number, to: number, step: number, gaps: [number, number][], histograms: boolean): Samples {
  const t: number[] = [];
  for (let x = from; x < to; x += step) if (!gaps.some(([a, b]) => x >= a && x < b)) t.push(x);
  const v = t.map((_, i) => base + i);
  return {
    t: Float64Array.from(t), v: Float64Array.from(v), n: t.length,
    h: histograms ? v.map((x) => hist(x)) : undefined,
  };
}

function picked(s: Samples): [number, number][] {
  return Array.from(s.t.subarray(0, s.n), (t, i) => [t, s.h?.[i] ? s.h[i]!.sum : s.v[i]!]);
}

// HA pair with alternating outages and a clock offset: the penalty walk switches replicas several times.
const A = (h: boolean) => replica(1000, 0, 600_000, 15_000, [[90_000, 200_000], [400_000, 430_000]], h);
const B = (h: boolean) => replica(5000, 3_000, 600_000, 15_000, [[250_000, 330_000]], h);

test('penalty: histogram replicas are walked exactly as float replicas (same timestamps, same source samples)', () => {
  const floats = penaltyMerge([A(false), B(false)]);
  const hists = penaltyMerge([A(true), B(true)]);
  assert.ok(hists.h, 'histograms kept');
  assert.equal(picked(hists), picked(floats));
  const sources = new Set(picked(hists).map(([, v]) => (v >= 5000 ? 'b' : 'a')));
  assert.equal([...sources].sort(), ['a', 'b'], 'both replicas contributed');
  // the generic (iterator) walk agrees with the two-replica fast path, with three replicas too
  const C = replica(9000, 7_000, 600_000, 15_000, [[0, 120_000]], true);
  assert.equal(picked(penaltyMergeGeneric([A(true), B(true), C])), picked(penaltyMergeGeneric([A(false), B(false), replica(9000, 7_000, 600_000, 15_000, [[0, 120_000]], false)])));
});

test('penalty with a counter function: histograms are never adjusted, float replicas still are', () => {
  // B restarted: its values are lower than A's, so switching to B would look like a reset.
  const hists = penaltyMerge([A(true), B(true)], 'rate');
  const plain = penaltyMerge([A(true), B(true)]);
  assert.equal(picked(hists), picked(plain), 'histogram samples pass unadjusted');
  const floats = penaltyMerge([replica(5000, 0, 600_000, 15_000, [[90_000, 200_000]], false), replica(10, 3_000, 600_000, 15_000, [], false)], 'rate');
  for (let i = 1; i < floats.n; i++) assert.ok(floats.v[i]! >= floats.v[i - 1]!, 'the float counter never drops at a switch');
});

test('penalty over mixed replicas: a float replica is adjusted only from a float sample', () => {
  // A: floats far below B's (histogram samples' v); during A's outage B's histograms are picked
  // as they are, and when A comes back its floats are not lifted to a histogram sample's value.
  const a = replica(10, 0, 600_000, 15_000, [[90_000, 200_000]], false);
  const b = replica(100_000, 3_000, 600_000, 15_000, [[300_000, 400_000]], true);
  const out = penaltyMerge([a, b], 'rate');
  // B's outage hands over to A again
  const back = picked(out).filter(([t]) => t >= 300_000 && t < 400_000);
  assert.ok(back.length > 0);
  const aAt = (t: number) => a.v[Array.from(a.t).indexOf(t)];
  for (const [t, v] of back) {
    const i = Array.from(out.t.subarray(0, out.n)).indexOf(t);
    if (!out.h?.[i]) assert.is(v, aAt(t), `float at ${t} unadjusted after histograms`);
  }
  assert.ok(out.h!.some((x) => x) && out.h!.some((x) => !x), 'both kinds in the output');
});

test('chain: one sample per timestamp, histograms of the earliest replica that has it', () => {
  const a = replica(1000, 0, 60_000, 10_000, [[20_000, 40_000]], true);
  const b = replica(5000, 0, 60_000, 5_000, [], true);
  const out = chainMerge([a, b]);
  assert.equal(picked(out), [
    [0, 1000], [5_000, 5001], [10_000, 1001], [15_000, 5003], [20_000, 5004], [25_000, 5005], [30_000, 5006], [35_000, 5007],
    [40_000, 1002], [45_000, 5009], [50_000, 1003], [55_000, 5011],
  ]);
});

test('dedupSeriesSet keeps SeriesData.h on the merged series', () => {
  const ls = (r: string) => labelsFromRecord({ __name__: 'h', replica: r });
  const out = dedupSeriesSet([{ labels: ls('a'), ...A(true) }, { labels: ls('b'), ...B(true) }], ['replica']);
  assert.is(out.length, 1);
  assert.equal(out[0]!.labels, labelsFromRecord({ __name__: 'h' }));
  assert.equal(picked(out[0]!), picked(penaltyMerge([A(false), B(false)])));
});

test.run();
