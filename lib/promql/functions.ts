// PromQL float function kernels: range-window functions (over sorted sample arrays) and helpers.

export type Arr = ArrayLike<number>;

export function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (!Number.isFinite(t) && !Number.isNaN(t)) c = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) c += (sum - t) + inc;
  else c += (inc - t) + sum;
  return [t, c];
}

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

/** Prometheus quantile over values (sorts in place; NaN sorts first). */
export function quantileOf(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  values.sort(lessNaNFirst);
  const n = values.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return values[lower]! * (1 - weight) + values[upper]! * weight;
}

export function lessNaNFirst(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

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

export const WINDOW_FUNCS: Record<string, WindowFn> = {
  rate: (t, v, lo, hi, c) => extrapolatedRate(t, v, lo, hi, c, true, true),
  increase: (t, v, lo, hi, c) => extrapolatedRate(t, v, lo, hi, c, true, false),
  delta: (t, v, lo, hi, c) => extrapolatedRate(t, v, lo, hi, c, false, false),
  irate: (t, v, lo, hi) => instantValue(t, v, lo, hi, true),
  idelta: (t, v, lo, hi) => instantValue(t, v, lo, hi, false),
  deriv: (t, v, lo, hi) => {
    if (hi - lo < 2) return null;
    return linearRegression(t, v, lo, hi, t[lo]!)[0];
  },
  predict_linear: (t, v, lo, hi, c) => {
    if (hi - lo < 2) return null;
    const [slope, intercept] = linearRegression(t, v, lo, hi, c.ts);
    return slope * c.scalars[0]! + intercept;
  },
  avg_over_time: (_t, v, lo, hi) => (hi > lo ? avgOver(v, lo, hi) : null),
  sum_over_time: (_t, v, lo, hi) => {
    if (hi <= lo) return null;
    let s = 0, c = 0;
    for (let i = lo; i < hi; i++) [s, c] = kahanInc(v[i]!, s, c);
    return Number.isFinite(s) ? s + c : s;
  },
  count_over_time: (_t, _v, lo, hi) => (hi > lo ? hi - lo : null),
  min_over_time: (_t, v, lo, hi) => {
    if (hi <= lo) return null;
    let m = v[lo]!;
    for (let i = lo + 1; i < hi; i++) {
      const f = v[i]!;
      if (f < m || Number.isNaN(m)) m = f;
    }
    return m;
  },
  max_over_time: (_t, v, lo, hi) => {
    if (hi <= lo) return null;
    let m = v[lo]!;
    for (let i = lo + 1; i < hi; i++) {
      const f = v[i]!;
      if (f > m || Number.isNaN(m)) m = f;
    }
    return m;
  },
  last_over_time: (_t, v, lo, hi) => (hi > lo ? v[hi - 1]! : null),
  first_over_time: (_t, v, lo, hi) => (hi > lo ? v[lo]! : null),
  ts_of_last_over_time: (t, _v, lo, hi) => (hi > lo ? t[hi - 1]! / 1000 : null),
  ts_of_first_over_time: (t, _v, lo, hi) => (hi > lo ? t[lo]! / 1000 : null),
  ts_of_max_over_time: (t, v, lo, hi) => {
    if (hi <= lo) return null;
    let m = v[lo]!, mt = t[lo]!;
    for (let i = lo + 1; i < hi; i++) {
      const f = v[i]!;
      if (f >= m || Number.isNaN(m)) { m = f; mt = t[i]!; }
    }
    return mt / 1000;
  },
  ts_of_min_over_time: (t, v, lo, hi) => {
    if (hi <= lo) return null;
    let m = v[lo]!, mt = t[lo]!;
    for (let i = lo + 1; i < hi; i++) {
      const f = v[i]!;
      if (f <= m || Number.isNaN(m)) { m = f; mt = t[i]!; }
    }
    return mt / 1000;
  },
  present_over_time: (_t, _v, lo, hi) => (hi > lo ? 1 : null),
  stdvar_over_time: (_t, v, lo, hi) => (hi > lo ? varianceOver(v, lo, hi) : null),
  stddev_over_time: (_t, v, lo, hi) => (hi > lo ? Math.sqrt(varianceOver(v, lo, hi)) : null),
  quantile_over_time: (_t, v, lo, hi, c) => {
    if (hi <= lo) return null;
    const vals: number[] = [];
    for (let i = lo; i < hi; i++) vals.push(v[i]!);
    return quantileOf(c.scalars[0]!, vals);
  },
  mad_over_time: (_t, v, lo, hi) => {
    if (hi <= lo) return null;
    const vals: number[] = [];
    for (let i = lo; i < hi; i++) {
      if (Number.isNaN(v[i]!)) return NaN;
      vals.push(v[i]!);
    }
    const med = quantileOf(0.5, vals.slice());
    return quantileOf(0.5, vals.map((x) => Math.abs(x - med)));
  },
  changes: (_t, v, lo, hi) => {
    if (hi <= lo) return null;
    let changes = 0;
    let prev = v[lo]!;
    for (let i = lo + 1; i < hi; i++) {
      const cur = v[i]!;
      if (!(cur === prev || (Number.isNaN(cur) && Number.isNaN(prev)))) changes++;
      prev = cur;
    }
    return changes;
  },
  resets: (_t, v, lo, hi) => {
    if (hi <= lo) return null;
    let resets = 0;
    let prev = v[lo]!;
    for (let i = lo + 1; i < hi; i++) {
      const cur = v[i]!;
      if (cur < prev) resets++;
      prev = cur;
    }
    return resets;
  },
  double_exponential_smoothing: (_t, v, lo, hi, c) => {
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
  },
};

export interface Bucket {
  upperBound: number;
  count: number;
}

function almostEqual(a: number, b: number, eps: number): boolean {
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < 2.2250738585072014e-308) return diff < eps * 2.2250738585072014e-308;
  return diff / Math.min(absSum, Number.MAX_VALUE) < eps;
}

function coalesce(buckets: Bucket[]): Bucket[] {
  const out: Bucket[] = [];
  let last = { ...buckets[0]! };
  for (let i = 1; i < buckets.length; i++) {
    const b = buckets[i]!;
    if (b.upperBound === last.upperBound) last.count += b.count;
    else {
      out.push(last);
      last = { ...b };
    }
  }
  out.push(last);
  return out;
}

export interface BucketQuantileResult {
  q: number;
  forcedMonotonic: boolean;
  fixedPrecision: boolean;
}

export function bucketQuantile(q: number, input: Bucket[]): BucketQuantileResult {
  const res = { q: NaN, forcedMonotonic: false, fixedPrecision: false };
  if (Number.isNaN(q)) return res;
  if (q < 0) return { ...res, q: -Infinity };
  if (q > 1) return { ...res, q: Infinity };
  const sorted = input.slice().sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (sorted[sorted.length - 1]!.upperBound !== Infinity) return res;
  const buckets = coalesce(sorted);
  let prev = buckets[0]!.count;
  for (let i = 1; i < buckets.length; i++) {
    const curr = buckets[i]!.count;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, 1e-12)) {
      buckets[i]!.count = prev;
      res.fixedPrecision = true;
      continue;
    }
    if (curr < prev) {
      buckets[i]!.count = prev;
      res.forcedMonotonic = true;
      continue;
    }
    prev = curr;
  }
  if (buckets.length < 2) return res;
  const observations = buckets[buckets.length - 1]!.count;
  if (observations === 0) return res;
  let rank = q * observations;
  // sort.Search over len-1 buckets
  let b = 0;
  {
    let lo = 0, hi = buckets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (buckets[mid]!.count >= rank) hi = mid;
      else lo = mid + 1;
    }
    b = lo;
  }
  if (b === buckets.length - 1) res.q = buckets[buckets.length - 2]!.upperBound;
  else if (b === 0 && buckets[0]!.upperBound <= 0) res.q = buckets[0]!.upperBound;
  else {
    let bucketStart = 0;
    const bucketEnd = buckets[b]!.upperBound;
    let count = buckets[b]!.count;
    if (b > 0) {
      bucketStart = buckets[b - 1]!.upperBound;
      count -= buckets[b - 1]!.count;
      rank -= buckets[b - 1]!.count;
    }
    res.q = bucketStart + (bucketEnd - bucketStart) * (rank / count);
  }
  return res;
}

export function bucketFraction(lower: number, upper: number, input: Bucket[]): number {
  const sorted = input.slice().sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (sorted[sorted.length - 1]!.upperBound !== Infinity) return NaN;
  const buckets = coalesce(sorted);
  const count = buckets[buckets.length - 1]!.count;
  if (count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  let rank = 0, lowerRank = 0, upperRank = 0;
  let lowerSet = false, upperSet = false;
  let lowerBound = buckets[0]!.upperBound <= 0 ? -Infinity : 0;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    if (i > 0) lowerBound = buckets[i - 1]!.upperBound;
    const upperBound = b.upperBound;
    const interp = (x: number) => (lowerBound === -Infinity ? b.count : rank + ((b.count - rank) * (x - lowerBound)) / (upperBound - lowerBound));
    if (!lowerSet && lowerBound >= lower) { lowerRank = rank; lowerSet = true; }
    if (!upperSet && lowerBound >= upper) { upperRank = rank; upperSet = true; }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) { lowerRank = interp(lower); lowerSet = true; }
    if (!upperSet && lowerBound < upper && upperBound > upper) { upperRank = interp(upper); upperSet = true; }
    if (lowerSet && upperSet) break;
    rank = b.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}
