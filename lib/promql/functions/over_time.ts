// *_over_time family plus changes, resets and double_exponential_smoothing: range-window kernels.
import { formatFloat } from '../format.ts';
import { ExecutionError } from '../errors.ts';
import { kahanInc, quantileOf, quantileOfRange, type Arr, type WindowFn } from './common.ts';
import type { Call } from '../ast.ts';
import type { Evaluator } from '../engine/evaluator.ts';

function avgOver(v: Arr, lo: number, hi: number): number {
  let sum = v[lo]!;
  let c = 0;
  let mean = 0;
  let incremental = false;
  let count = 1;
  for (let i = lo + 1; i < hi; i++) {
    const f = v[i]!;
    count++;
    if (!incremental) {
      const [ns, nc] = kahanInc(f, sum, c);
      if (Number.isFinite(ns) || Number.isNaN(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c = c / (count - 1);
    }
    const q = (count - 1) / count;
    [mean, c] = kahanInc(f / count, q * mean, q * c);
  }
  if (incremental) return mean + c;
  return sum / count + c / count;
}

function varianceOver(v: Arr, lo: number, hi: number): number {
  let count = 0, mean = 0, cMean = 0, aux = 0, cAux = 0;
  for (let i = lo; i < hi; i++) {
    const f = v[i]!;
    count++;
    const delta = f - (mean + cMean);
    [mean, cMean] = kahanInc(delta / count, mean, cMean);
    [aux, cAux] = kahanInc(delta * (f - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}


export const avg_over_time: WindowFn = (_t, v, lo, hi) => (hi > lo ? avgOver(v, lo, hi) : null);
export const sum_over_time: WindowFn = (_t, v, lo, hi) => {
  if (hi <= lo) return null;
  let s = 0, c = 0;
  for (let i = lo; i < hi; i++) [s, c] = kahanInc(v[i]!, s, c);
  return Number.isFinite(s) ? s + c : s;
};
export const count_over_time: WindowFn = (_t, _v, lo, hi) => (hi > lo ? hi - lo : null);
export const min_over_time: WindowFn = (_t, v, lo, hi) => {
  if (hi <= lo) return null;
  let m = v[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const f = v[i]!;
    if (f < m || Number.isNaN(m)) m = f;
  }
  return m;
};
export const max_over_time: WindowFn = (_t, v, lo, hi) => {
  if (hi <= lo) return null;
  let m = v[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const f = v[i]!;
    if (f > m || Number.isNaN(m)) m = f;
  }
  return m;
};
export const last_over_time: WindowFn = (_t, v, lo, hi) => (hi > lo ? v[hi - 1]! : null);
export const first_over_time: WindowFn = (_t, v, lo, hi) => (hi > lo ? v[lo]! : null);
export const ts_of_last_over_time: WindowFn = (t, _v, lo, hi) => (hi > lo ? t[hi - 1]! / 1000 : null);
export const ts_of_first_over_time: WindowFn = (t, _v, lo, hi) => (hi > lo ? t[lo]! / 1000 : null);
export const ts_of_max_over_time: WindowFn = (t, v, lo, hi) => {
  if (hi <= lo) return null;
  let m = v[lo]!, mt = t[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const f = v[i]!;
    if (f >= m || Number.isNaN(m)) { m = f; mt = t[i]!; }
  }
  return mt / 1000;
};
export const ts_of_min_over_time: WindowFn = (t, v, lo, hi) => {
  if (hi <= lo) return null;
  let m = v[lo]!, mt = t[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const f = v[i]!;
    if (f <= m || Number.isNaN(m)) { m = f; mt = t[i]!; }
  }
  return mt / 1000;
};
export const present_over_time: WindowFn = (_t, _v, lo, hi) => (hi > lo ? 1 : null);
export const stdvar_over_time: WindowFn = (_t, v, lo, hi) => (hi > lo ? varianceOver(v, lo, hi) : null);
export const stddev_over_time: WindowFn = (_t, v, lo, hi) => (hi > lo ? Math.sqrt(varianceOver(v, lo, hi)) : null);
export const quantile_over_time: WindowFn = (_t, v, lo, hi, c) => (hi <= lo ? null : quantileOfRange(c.scalars[0]!, v, lo, hi));
export const mad_over_time: WindowFn = (_t, v, lo, hi) => {
  if (hi <= lo) return null;
  const vals: number[] = [];
  for (let i = lo; i < hi; i++) {
    if (Number.isNaN(v[i]!)) return NaN;
    vals.push(v[i]!);
  }
  const med = quantileOf(0.5, vals.slice());
  return quantileOf(0.5, vals.map((x) => Math.abs(x - med)));
};
export const changes: WindowFn = (_t, v, lo, hi) => {
  if (hi <= lo) return null;
  let changes = 0;
  let prev = v[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const cur = v[i]!;
    if (!(cur === prev || (Number.isNaN(cur) && Number.isNaN(prev)))) changes++;
    prev = cur;
  }
  return changes;
};
export const resets: WindowFn = (_t, v, lo, hi) => {
  if (hi <= lo) return null;
  let resets = 0;
  let prev = v[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const cur = v[i]!;
    if (cur < prev) resets++;
    prev = cur;
  }
  return resets;
};
export const double_exponential_smoothing: WindowFn = (_t, v, lo, hi, c) => {
  const sf = c.scalars[0]!;
  const tf = c.scalars[1]!;
  if (!(sf > 0 && sf < 1) || !(tf > 0 && tf < 1)) return NaN; // validated by the caller (error)
  const l = hi - lo;
  if (l < 2) return null;
  let s0 = 0;
  let s1 = v[lo]!;
  let b = v[lo + 1]! - v[lo]!;
  for (let i = 1; i < l; i++) {
    const x = v[lo + i]!;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    s0 = s1;
    s1 = sf * x + (1 - sf) * (s1 + b);
  }
  return s1;
};

/** quantile_over_time: one warning when a step's q is outside [0, 1]. */
export function checkQuantileOverTime(ev: Evaluator, e: Call, scalars: (Float64Array | null)[]): void {
  for (const q of scalars[0]!) if (Number.isNaN(q) || q < 0 || q > 1) {
    ev.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${formatFloat(q)}${ev.pos(e.args[0]!)}`);
    break;
  }
}

/** double_exponential_smoothing: both factors must lie in (0, 1) (an error, not a warning). */
export function checkSmoothingFactors(_ev: Evaluator, _e: Call, scalars: (Float64Array | null)[]): void {
  const sf = scalars[1]![0]!;
  const tf = scalars[2]![0]!;
  if (!(sf > 0 && sf < 1)) throw new ExecutionError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${formatFloat(sf)}`);
  if (!(tf > 0 && tf < 1)) throw new ExecutionError(`invalid trend factor. Expected: 0 < tf < 1, got: ${formatFloat(tf)}`);
}
