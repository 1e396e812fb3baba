// Generators and comparisons for the histogram chunk suites.
import * as assert from 'uvu/assert';
import type { HistogramSamples } from '../../lib/core/types.ts';
import { fromBits, STALE_HI, STALE_LO } from './helpers.ts';

export const STALE = fromBits(STALE_HI, STALE_LO);

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

const SPECIAL = [NaN, Infinity, -Infinity, -0, 0, 5e-324, 1e308, -1.5, 0.1];

/**
 * A random chunk's worth of histograms: random layout (schemas incl. custom buckets, zero-length
 * and adjacent spans, negative offsets), counter-like or gauge-like counts, jittered or wild
 * timestamps, occasionally a stale marker at the end.
 */
export function histCase(r: () => number, float: boolean, n = 1 + Math.floor(r() * 150)): HistogramSamples {
  const custom = r() < 0.15;
  const schema = custom ? -53 : pick(r, [-9, -4, -1, 0, 1, 3, 8]);
  const spans = (max: number): Int32Array => {
    const k = Math.floor(r() * max);
    const a = new Int32Array(2 * k);
    for (let i = 0; i < k; i++) {
      a[2 * i] = i === 0 ? Math.floor(r() * 40) - 20 : r() < 0.2 ? 0 : Math.floor(r() * (r() < 0.1 ? 5000 : 6));
      a[2 * i + 1] = r() < 0.1 ? 0 : 1 + Math.floor(r() * 8);
    }
    return a;
  };
  const positiveSpans = spans(5);
  const negativeSpans = custom ? new Int32Array(0) : spans(3);
  const customValues = custom
    ? new Float64Array(Array.from({ length: Math.floor(r() * 12) }, (_, i) => pick(r, [i * 0.5, i * 0.001 + 0.25, 33554.43 + i, -i, 1e-7 * (i + 1), i * 1.3])))
    : new Float64Array(0);
  const zeroThreshold = custom ? 0 : pick(r, [0, 2 ** -128, 2 ** -243, 2 ** 11, 2 ** 10, 0.001, 2 ** -1074, 1e-300]);
  const P = positiveSpans.reduce((a, x, i) => (i % 2 ? a + x : a), 0);
  const N = negativeSpans.reduce((a, x, i) => (i % 2 ? a + x : a), 0);
  const h: HistogramSamples = {
    float,
    header: pick(r, [0, 0x40, 0x80, 0xc0]),
    layout: { schema, zeroThreshold, positiveSpans, negativeSpans, customValues },
    n,
    t: new Float64Array(n),
    count: new Float64Array(n),
    zeroCount: new Float64Array(n),
    sum: new Float64Array(n),
    positive: new Float64Array(n * P),
    negative: new Float64Array(n * N),
  };
  const gauge = r() < 0.3;
  const big = r() < 0.1;
  let t = Math.floor(r() * 2e12) - (r() < 0.1 ? 2e12 : 0);
  const step = pick(r, [15000, 1000, 1, 60000]);
  const cur = new Float64Array(P + N);
  let zc = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    h.t[i] = t;
    t += r() < 0.05 ? Math.floor(r() * 2 ** 40) - 2 ** 39 : step + (r() < 0.5 ? Math.floor(r() * 200) - 100 : 0);
    t = Math.max(-(2 ** 51), Math.min(2 ** 51, t));
    for (let j = 0; j < P + N; j++) {
      const inc = big ? Math.floor(r() * 2 ** 45) : Math.floor(r() * (r() < 0.1 ? 100000 : 10));
      if (float) cur[j] = gauge ? (r() < 0.1 ? pick(r, SPECIAL) : r() * 100) : cur[j] + inc * 0.25;
      else cur[j] = gauge ? Math.floor(r() * 1000) : Math.min(2 ** 50, cur[j] + inc);
    }
    zc = float ? (gauge ? r() * 10 : zc + r()) : gauge ? Math.floor(r() * 50) : Math.min(2 ** 49, zc + Math.floor(r() * 3));
    sum = r() < 0.05 ? pick(r, SPECIAL) : sum + r() * 10;
    h.zeroCount[i] = zc;
    let c = zc;
    for (let j = 0; j < P; j++) c += h.positive[i * P + j] = cur[j];
    for (let j = 0; j < N; j++) c += h.negative[i * N + j] = cur[P + j];
    h.count[i] = float ? c : Math.min(2 ** 50, c);
    h.sum[i] = sum;
  }
  if (n > 1 && r() < 0.15) {
    // a stale marker ends the chunk (Prometheus cuts a new chunk after one)
    h.sum[n - 1] = STALE;
    h.count[n - 1] = h.zeroCount[n - 1] = 0;
    h.positive.fill(0, (n - 1) * P);
    h.negative.fill(0, (n - 1) * N);
  }
  return h;
}

function bitsEqual(a: Float64Array, b: Float64Array, what: string): void {
  assert.is(a.length, b.length, `${what} length`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length * 2);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) assert.unreachable(`${what}[${i >> 1}]: ${a[i >> 1]} vs ${b[i >> 1]}`);
}

/** Bit-exact equality of two decoded chunks (f64 fields compared by bits, -0 and NaN payloads included). */
export function histEqual(a: HistogramSamples, b: HistogramSamples, what: string): void {
  assert.is(a.float, b.float, `${what} float`);
  assert.is(a.header, b.header, `${what} header`);
  assert.is(a.n, b.n, `${what} n`);
  assert.is(a.layout.schema, b.layout.schema, `${what} schema`);
  bitsEqual(new Float64Array([a.layout.zeroThreshold]), new Float64Array([b.layout.zeroThreshold]), `${what} zero threshold`);
  assert.equal([...a.layout.positiveSpans], [...b.layout.positiveSpans], `${what} positive spans`);
  assert.equal([...a.layout.negativeSpans], [...b.layout.negativeSpans], `${what} negative spans`);
  bitsEqual(a.layout.customValues, b.layout.customValues, `${what} custom values`);
  bitsEqual(a.t.subarray(0, a.n), b.t.subarray(0, b.n), `${what} t`);
  for (const f of ['count', 'zeroCount', 'sum'] as const) bitsEqual(a[f].subarray(0, a.n), b[f].subarray(0, b.n), `${what} ${f}`);
  bitsEqual(a.positive, b.positive, `${what} positive`);
  bitsEqual(a.negative, b.negative, `${what} negative`);
}
