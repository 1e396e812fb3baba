import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chainMerge, dedupSeriesSet, INITIAL_PENALTY, isCounterFunc, mergeReplicas, penaltyMerge, penaltyMergeGeneric, type Samples } from '../../lib/store/dedup.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import type { SeriesData } from '../../lib/promql/queryable.ts';

function s(pairs: Array<[number, number]>): Samples {
  return { t: Float64Array.from(pairs.map((p) => p[0])), v: Float64Array.from(pairs.map((p) => p[1])), n: pairs.length };
}
function pairs(x: Samples): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < x.n; i++) out.push([x.t[i]!, x.v[i]!]);
  return out;
}
function regular(start: number, end: number, step: number, val: (t: number) => number = (t) => t / 1000): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let t = start; t <= end; t += step) out.push([t, val(t)]);
  return out;
}

test('constants and counter functions', () => {
  assert.is(INITIAL_PENALTY, 5000);
  for (const f of ['rate', 'increase', 'irate', 'resets']) assert.ok(isCounterFunc(f), f);
  for (const f of ['delta', 'sum', 'avg_over_time', undefined, '']) assert.not.ok(isCounterFunc(f), String(f));
});

test('penalty: identical replicas shifted by 1s give the first replica', () => {
  const a = regular(0, 50_000, 10_000);
  const b = regular(1000, 51_000, 10_000, (t) => t / 1000 + 0.5);
  assert.equal(pairs(penaltyMerge([s(a), s(b)])), a);
});

test('penalty: B earlier at start takes over, A is then penalised', () => {
  const a = regular(2000, 52_000, 10_000, () => 1);
  const b = regular(0, 50_000, 10_000, () => 2);
  // B wins every step: A is sought to lastT+1+penalty and always stays later.
  assert.equal(pairs(penaltyMerge([s(a), s(b)])), b);
});

test('penalty: a gap in A is filled by B after the penalty window', () => {
  const a = s([[0, 1], [10_000, 1], [20_000, 1], [60_000, 1], [70_000, 1]]);
  const b = s(regular(1000, 71_000, 10_000, () => 2));
  // After 20000 B's penalty is 2*10000: B is sought to 40001 -> 41000, A to 60000; B wins.
  // A then gets penalty 2*(41000-20000) = 42000 and is sought past its end, so B continues.
  assert.equal(pairs(penaltyMerge([a, b])), [[0, 1], [10_000, 1], [20_000, 1], [41_000, 2], [51_000, 2], [61_000, 2], [71_000, 2]]);
});

test('penalty: overlapping replicas with equal timestamps: A wins ties', () => {
  const a = s([[0, 1], [10, 1], [20, 1]]);
  const b = s([[0, 2], [10, 2], [20, 2], [30, 2]]);
  // First tie at 0 -> A, B gets 5000 penalty -> sought past its end.
  assert.equal(pairs(penaltyMerge([a, b])), [[0, 1], [10, 1], [20, 1]]);
});

test('penalty: empty replicas', () => {
  const a = s([]);
  const b = s([[5, 1], [6, 2]]);
  assert.equal(pairs(penaltyMerge([a, b])), [[5, 1], [6, 2]]);
  assert.equal(pairs(penaltyMerge([b, a])), [[5, 1], [6, 2]]);
  assert.equal(pairs(penaltyMerge([a, a])), []);
  assert.equal(pairs(penaltyMerge([])), []);
});

test('penalty: replica switch on a counter keeps the counter from dropping', () => {
  const a = s([[0, 10], [10_000, 20], [20_000, 30]]);
  const b = s([[1000, 1], [11_000, 2], [21_000, 3], [31_000, 4], [41_000, 5], [51_000, 6]]);
  // Switch to B at 41000 (B sought to 20001+20000); B's 5 < last 30 -> offset 25.
  assert.equal(pairs(penaltyMerge([a, b], 'rate')), [[0, 10], [10_000, 20], [20_000, 30], [41_000, 30], [51_000, 31]]);
  assert.equal(pairs(mergeReplicas([a, b], { func: 'increase' })), [[0, 10], [10_000, 20], [20_000, 30], [41_000, 30], [51_000, 31]]);
  // Not a counter function: raw values.
  assert.equal(pairs(penaltyMerge([a, b], 'max_over_time')), [[0, 10], [10_000, 20], [20_000, 30], [41_000, 5], [51_000, 6]]);
  assert.equal(pairs(penaltyMerge([a, b])), [[0, 10], [10_000, 20], [20_000, 30], [41_000, 5], [51_000, 6]]);
});

test('penalty: counter switch back and forth accumulates offsets; a real reset stays a reset', () => {
  // A dies at 20000 and comes back at 100000 with a lower value (restarted); B has a gap 50000..90000.
  const a = s([[0, 100], [10_000, 110], [20_000, 120], [100_000, 5], [110_000, 15], [120_000, 25], [130_000, 35]]);
  const b = s([[1000, 50], [11_000, 60], [21_000, 70], [31_000, 80], [41_000, 90]]);
  const got = pairs(penaltyMerge([a, b], 'resets'));
  // 0,10000,20000 from A; switch to B at 41000: 90 < 120 -> +30 => 120. B then ends; A sought to
  // 41001+penA(2*(41000-20000)=42000)=83001 -> 100000 (5): switch to A, 5 < 120 -> A offset +115.
  assert.equal(got, [[0, 100], [10_000, 110], [20_000, 120], [41_000, 120], [100_000, 120], [110_000, 130], [120_000, 140], [130_000, 150]]);
  // A genuine reset inside one replica (no switch) is not adjusted.
  const c = s([[0, 10], [10_000, 20], [20_000, 2], [30_000, 4]]);
  const d = s([[1000, 10], [11_000, 20], [21_000, 2], [31_000, 4]]);
  assert.equal(pairs(penaltyMerge([c, d], 'rate')), [[0, 10], [10_000, 20], [20_000, 2], [30_000, 4]]);
});

test('penalty: counter adjustment uses the first replica value before the first switch (Thanos behaviour)', () => {
  const a = s([[5000, 100]]);
  const b = s([[0, 10], [10_000, 20]]);
  // B is picked first: a switch away from A whose current value (100) is taken as the last value.
  assert.equal(pairs(penaltyMerge([a, b], 'rate')), [[0, 100], [10_000, 110]]);
  assert.equal(pairs(penaltyMerge([a, b])), [[0, 10], [10_000, 20]]);
});

test('penalty: three replicas chained pairwise', () => {
  const a = s(regular(0, 30_000, 10_000, () => 1)); // dies after 30s
  const b = s([...regular(1000, 21_000, 10_000, () => 2)]); // dies after 21s
  const c = s(regular(2000, 92_000, 10_000, () => 3));
  const got = pairs(penaltyMerge([a, b, c]));
  // inner(A,B) gives A's 0..30000; outer picks inner until it runs out, then C after its penalty.
  assert.equal(got.slice(0, 4), [[0, 1], [10_000, 1], [20_000, 1], [30_000, 1]]);
  const rest = got.slice(4);
  assert.ok(rest.length > 0 && rest.every(([t, v]) => v === 3 && t >= 50_000), JSON.stringify(rest));
  assert.equal(rest[rest.length - 1], [92_000, 3]);
  // Strictly increasing timestamps.
  for (let i = 1; i < got.length; i++) assert.ok(got[i]![0] > got[i - 1]![0]);
});

test('penalty: a single replica is passed through untouched even for counters', () => {
  const a = s([[0, 10], [10, 5]]);
  assert.is(penaltyMerge([a], 'rate'), a);
});

test('chain: 1:1 merge, one sample per timestamp, first replica wins', () => {
  const a = s([[0, 1], [10, 1], [20, 1]]);
  const b = s([[10, 2], [15, 2], [30, 2]]);
  assert.equal(pairs(chainMerge([a, b])), [[0, 1], [10, 1], [15, 2], [20, 1], [30, 2]]);
  assert.equal(pairs(mergeReplicas([b, a], { algorithm: 'chain' })), [[0, 1], [10, 2], [15, 2], [20, 1], [30, 2]]);
  assert.equal(pairs(chainMerge([s([]), s([])])), []);
});

function series(rec: Record<string, string>, p: Array<[number, number]>): SeriesData {
  return { labels: labelsFromRecord(rec), ...s(p) };
}

test('dedupSeriesSet: strips replica labels, groups, sorts, merges', () => {
  const set = [
    series({ __name__: 'up', job: 'y', replica: 'a' }, [[0, 1]]),
    series({ __name__: 'up', job: 'x', replica: 'b' }, [[0, 2], [10_000, 2]]),
    series({ __name__: 'up', job: 'x', replica: 'a' }, [[1000, 1], [11_000, 1]]),
    series({ __name__: 'up', job: 'x', replica: 'c', rule_replica: '1' }, [[500, 3]]),
  ];
  const out = dedupSeriesSet(set, ['replica', 'rule_replica']);
  assert.equal(out.map((x) => x.labels), [labelsFromRecord({ __name__: 'up', job: 'x' }), labelsFromRecord({ __name__: 'up', job: 'y' })]);
  // Replicas ordered by replica label values: a, b, c. a's first sample at 1000 loses to b's 0.
  assert.equal(pairs(out[0]!), [[0, 2], [10_000, 2]]);
  assert.equal(pairs(out[1]!), [[0, 1]]);
  // No replica labels: unchanged set, sorted.
  const plain = dedupSeriesSet(set, []);
  assert.is(plain.length, 4);
  assert.equal(plain[0]!.labels, set[2]!.labels);
  // Replica label not present on the series: nothing merged.
  assert.is(dedupSeriesSet(set, ['nope']).length, 4);
});

test('dedupSeriesSet: chain algorithm and counter func flow through', () => {
  const set = [
    series({ __name__: 'c', replica: 'a' }, [[0, 10], [10_000, 20], [20_000, 30]]),
    series({ __name__: 'c', replica: 'b' }, [[1000, 1], [11_000, 2], [21_000, 3], [31_000, 4], [41_000, 5]]),
  ];
  assert.equal(pairs(dedupSeriesSet(set, ['replica'], { func: 'rate' })[0]!), [[0, 10], [10_000, 20], [20_000, 30], [41_000, 30]]);
  assert.equal(pairs(dedupSeriesSet(set, ['replica'], { algorithm: 'chain' })[0]!), [
    [0, 10], [1000, 1], [10_000, 20], [11_000, 2], [20_000, 30], [21_000, 3], [31_000, 4], [41_000, 5],
  ]);
});

test('two-replica fast path equals the iterator implementation (random gaps, jitter, resets)', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const gen = (offset: number): Samples => {
    const out: Array<[number, number]> = [];
    let t = offset + Math.floor(rnd() * 20_000);
    let v = Math.floor(rnd() * 100);
    const n = Math.floor(rnd() * 200);
    for (let i = 0; i < n; i++) {
      if (rnd() < 0.05) t += Math.floor(rnd() * 300_000); // gap
      t += 10_000 + Math.floor(rnd() * 3000) - 1500; // jitter
      v = rnd() < 0.03 ? Math.floor(rnd() * 10) : v + Math.floor(rnd() * 20); // counter with resets
      out.push([t, v]);
    }
    return s(out);
  };
  for (let round = 0; round < 400; round++) {
    const a = gen(0);
    const b = gen(Math.floor(rnd() * 5000));
    for (const func of [undefined, 'rate']) {
      assert.equal(pairs(penaltyMerge([a, b], func)), pairs(penaltyMergeGeneric([a, b], func)), `round ${round} ${func}`);
    }
  }
});

test.run();
