// quantileOfRange (functions/common.ts) sorts a typed copy natively (NaNs last, -0 before +0) and
// shifts the ranks past the NaNs: it must answer exactly what Prometheus's sort-with-NaN-first then
// interpolate does (the reference below, the engine's former implementation), NaN, ±Inf, ±0 and
// duplicates included, and keep the sign of a zero answer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quantileOf, quantileOfRange } from '../../lib/promql/functions/common.ts';
import { Engine, MemoryQueryable, toPromJSON } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';

function reference(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const v = values.slice().sort((a, b) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : Number.isNaN(b) ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const rank = q * (v.length - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(v.length - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return v[lower]! * (1 - weight) + v[upper]! * weight;
}

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

test('quantileOfRange equals the NaN-first sort and interpolation on random windows', () => {
  let seed = 42;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pool = [NaN, Infinity, -Infinity, 0, -0, 1, 1, 2.5, -3, 7, 1e300, -1e-300];
  const qs = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1, -0.5, 1.5, NaN];
  for (let round = 0; round < 3000; round++) {
    const n = 1 + Math.floor(rnd() * 40);
    const v = new Float64Array(n + 6);
    for (let i = 0; i < v.length; i++) v[i] = rnd() < 0.6 ? pool[Math.floor(rnd() * pool.length)]! : Math.round(rnd() * 100) / 10 - 5;
    const lo = Math.floor(rnd() * 3);
    const q = qs[round % qs.length]!;
    const want = reference(q, Array.from(v.subarray(lo, lo + n)));
    const got = quantileOfRange(q, v, lo, lo + n);
    assert.ok(same(got, want), `q=${q} window=${Array.from(v.subarray(lo, lo + n)).map((x) => (Object.is(x, -0) ? '-0' : String(x))).join(',')}: got ${got}, want ${want}`);
    assert.ok(same(quantileOf(q, Array.from(v.subarray(lo, lo + n))), want));
  }
  // Windows longer than the kept scratch, and the empty window.
  const long = Float64Array.from({ length: 70_000 }, (_, i) => (i % 97 === 0 ? NaN : (i * 7919) % 1000));
  assert.ok(same(quantileOfRange(0.3, long, 5, long.length), reference(0.3, Array.from(long.subarray(5)))));
  assert.ok(Number.isNaN(quantileOfRange(0.5, long, 3, 3)));
});

test('quantile_over_time keeps NaN ranks and the sign of a zero answer', async () => {
  const q = new MemoryQueryable();
  const vals = [NaN, 3, -0, 0, NaN, 1];
  vals.forEach((v, i) => q.add(labelsFromRecord({ __name__: 'm', i: 'a' }), i * 10_000, v));
  [0, -0].forEach((v, i) => q.add(labelsFromRecord({ __name__: 'm', i: 'z' }), i * 10_000, v));
  const eng = new Engine();
  const at = async (expr: string) => {
    const r = toPromJSON(await eng.instantQuery(q, expr, 55_000)) as { result: { metric: Record<string, string>; value: [number, string] }[] };
    return r.result.map((s) => `${s.metric.i}=${s.value[1]}`).join(' ');
  };
  assert.is(await at('quantile_over_time(0, m[1m])'), 'a=NaN z=0');
  assert.is(await at('quantile_over_time(0.2, m[1m])'), 'a=NaN z=0');
  assert.is(await at('quantile_over_time(0.5, m[1m])'), 'a=0 z=0');
  assert.is(await at('quantile_over_time(1, m[1m])'), 'a=3 z=-0');
  assert.is(await at('quantile_over_time(0.9, m[1m])'), 'a=2 z=0');
});

test.run();
