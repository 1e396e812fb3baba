// Rate family: rate, increase, delta (extrapolated), irate, idelta (last two samples), deriv and
// predict_linear (linear regression). Range-window kernels (see common.ts WindowFn).
import { linearRegression, type Arr, type WindowCtx, type WindowFn } from './common.ts';

function extrapolatedRate(t: Arr, v: Arr, lo: number, hi: number, ctx: WindowCtx, isCounter: boolean, isRate: boolean): number | null {
  const n = hi - lo;
  if (n < 2) return null;
  const firstT = t[lo]!;
  const firstV = v[lo]!;
  const lastT = t[hi - 1]!;
  let result = v[hi - 1]! - firstV;
  if (isCounter && !(ctx.resets && ctx.resets[hi - 1] === ctx.resets[lo])) {
    let prev = firstV;
    for (let i = lo + 1; i < hi; i++) {
      const cur = v[i]!;
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  let durationToStart = (firstT - ctx.rangeStart) / 1000;
  let durationToEnd = (ctx.rangeEnd - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const avg = sampledInterval / (n - 1);
  const threshold = avg * 1.1;
  if (durationToStart >= threshold) durationToStart = avg / 2;
  if (isCounter && result > 0 && firstV >= 0) {
    const durationToZero = sampledInterval * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= threshold) durationToEnd = avg / 2;
  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= ctx.range / 1000;
  return result * factor;
}

function instantValue(t: Arr, v: Arr, lo: number, hi: number, isRate: boolean): number | null {
  if (hi - lo < 2) return null;
  const last = v[hi - 1]!;
  const prev = v[hi - 2]!;
  let result: number;
  if (isRate && last < prev) result = last;
  else result = last - prev;
  const interval = t[hi - 1]! - t[hi - 2]!;
  if (interval === 0) return null;
  if (isRate) result /= interval / 1000;
  return result;
}


export const rate: WindowFn = (t, v, lo, hi, c) => extrapolatedRate(t, v, lo, hi, c, true, true);
export const increase: WindowFn = (t, v, lo, hi, c) => extrapolatedRate(t, v, lo, hi, c, true, false);
export const delta: WindowFn = (t, v, lo, hi, c) => extrapolatedRate(t, v, lo, hi, c, false, false);
export const irate: WindowFn = (t, v, lo, hi) => instantValue(t, v, lo, hi, true);
export const idelta: WindowFn = (t, v, lo, hi) => instantValue(t, v, lo, hi, false);
export const deriv: WindowFn = (t, v, lo, hi) => {
  if (hi - lo < 2) return null;
  return linearRegression(t, v, lo, hi, t[lo]!)[0];
};
export const predict_linear: WindowFn = (t, v, lo, hi, c) => {
  if (hi - lo < 2) return null;
  const [slope, intercept] = linearRegression(t, v, lo, hi, c.ts);
  return slope * c.scalars[0]! + intercept;
};
