// Shared pieces of the PromQL function kernels: the range-window kernel signature, Kahan summation,
// linear regression and Prometheus's quantile.

import type { FloatHistogram } from '../../histogram/float.ts';

export type Arr = ArrayLike<number>;

// Prometheus kahansum.Inc has one owner: lib/histogram/buckets.ts (it sums buckets with it too).
import { kahanInc } from '../../histogram/buckets.ts';
export { kahanInc };

/** Context of one window evaluation. Times in ms. */
export interface WindowCtx {
  /** Evaluation time (the @ time when set), ms. */
  ts: number;
  rangeStart: number;
  rangeEnd: number;
  /** Range in ms. */
  range: number;
  /** Scalar arguments at this step (e.g. predict_linear's t, quantile_over_time's q). */
  scalars: number[];
  /** Optional prefix count of counter resets of the current series (resets[i] = resets in [0, i]). */
  resets?: Int32Array | null;
}

/** Prefix counts of counter resets (v[i] < v[i-1]) so windows without a reset skip the scan. */
export function resetPrefix(v: Arr, n: number): Int32Array {
  const r = new Int32Array(n);
  let c = 0;
  for (let i = 1; i < n; i++) {
    if (v[i]! < v[i - 1]!) c++;
    r[i] = c;
  }
  return r;
}

export type WindowFn = (t: Arr, v: Arr, lo: number, hi: number, ctx: WindowCtx) => number | null;

/** WindowCtx for a series holding native histograms: its metric name and the annotation sinks (positioned by the engine). */
export interface HistCtx extends WindowCtx {
  metricName: string;
  warn(text: string): void;
  info(text: string): void;
}

/**
 * A window kernel over floats and native histograms: h[i] defined ⇒ sample i is that histogram.
 * `floatFn` is the function's float kernel, for windows that hold floats only.
 */
export type HistWindowFn = (
  t: Arr, v: Arr, h: ReadonlyArray<FloatHistogram | undefined>, lo: number, hi: number, ctx: HistCtx, floatFn: WindowFn,
) => number | FloatHistogram | null;

export function linearRegression(t: Arr, v: Arr, lo: number, hi: number, interceptTime: number): [number, number] {
  let n = 0, sumX = 0, cX = 0, sumY = 0, cY = 0, sumXY = 0, cXY = 0, sumX2 = 0, cX2 = 0;
  const initY = v[lo]!;
  let constY = true;
  for (let i = lo; i < hi; i++) {
    const y = v[i]!;
    if (constY && i > lo && y !== initY) constY = false;
    n += 1;
    const x = (t[i]! - interceptTime) / 1000;
    [sumX, cX] = kahanInc(x, sumX, cX);
    [sumY, cY] = kahanInc(y, sumY, cY);
    [sumXY, cXY] = kahanInc(x * y, sumXY, cXY);
    [sumX2, cX2] = kahanInc(x * x, sumX2, cX2);
  }
  if (constY) {
    if (!Number.isFinite(initY) && !Number.isNaN(initY)) return [NaN, NaN];
    return [0, initY];
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  const intercept = sumY / n - (slope * sumX) / n;
  return [slope, intercept];
}

/** Prometheus quantile over values (NaN sorts first); values are left as they are. */
export function quantileOf(q: number, values: number[]): number {
  return quantileOfRange(q, values, 0, values.length);
}

/** quantileOfRange's scratch, and views of its first n elements by n (windows mostly share a length). */
let qScratch = new Float64Array(256);
let qViews: (Float64Array | undefined)[] = [];
/** Longest window sorted in the kept scratch (512 KiB). */
const Q_SCRATCH_MAX = 1 << 16;

/**
 * Prometheus quantile over v[lo, hi) (Go sorts a copy with NaN first, then interpolates between the
 * two ranks around q·(n−1)). The copy goes into a reused Float64Array sorted natively: a JS array
 * sorted through a comparator was most of quantile_over_time's time. A typed sort puts NaNs last
 * and -0 before +0; the NaNs are counted and the ranks shifted past them, and a window holding a -0
 * takes the comparator sort (a stable one, as Go's insertion sort of short inputs keeps ±0 in input
 * order: the sign of a zero answer stays the same).
 */
export function quantileOfRange(q: number, v: Arr, lo: number, hi: number): number {
  const n = hi - lo;
  if (n <= 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  let s: Float64Array;
  if (n > Q_SCRATCH_MAX) s = new Float64Array(n); // not kept: a raw window of millions of samples
  else {
    if (qScratch.length < n) {
      qScratch = new Float64Array(Math.min(Q_SCRATCH_MAX, Math.max(n, qScratch.length * 2)));
      qViews = [];
    }
    s = qViews[n] ??= new Float64Array(qScratch.buffer, 0, n);
  }
  let nan = 0;
  for (let i = 0; i < n; i++) {
    const x = v[lo + i]!;
    if (x !== x) nan++;
    else if (x === 0 && 1 / x < 0) return quantileSorted(q, Array.prototype.slice.call(v, lo, hi).sort(lessNaNFirst), 0);
    s[i] = x;
  }
  s.sort();
  return quantileSorted(q, s, nan);
}

/** The interpolated quantile of ascending values whose first `nan` (NaN-first order) are NaN and not in `sorted`. */
function quantileSorted(q: number, sorted: Arr, nan: number): number {
  const n = sorted.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  const a = lower < nan ? NaN : sorted[lower - nan]!;
  const b = upper < nan ? NaN : sorted[upper - nan]!;
  return a * (1 - weight) + b * weight;
}

export function lessNaNFirst(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
