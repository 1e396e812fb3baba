// Classic (le-bucket) histogram functions: histogram_quantile, histogram_fraction; the native
// histogram functions (histogram_avg, ...) see float samples only and return nothing.
import type { Call } from '../ast.ts';
import { formatFloat } from '../format.ts';
import type { Evaluator } from '../engine/evaluator.ts';
import { dropMetricName, labelsKey, setLabel } from '../engine/helpers.ts';
import type { Matrix, Vector } from '../engine/types.ts';
import { getLabel, METRIC_NAME, type Labels } from '../../labels/mod.ts';
import type { FloatHistogram } from '../../histogram/float.ts';
import { histogramFractionWithInfo, histogramQuantileWithInfo, histogramStdDev, histogramStdVar } from '../../histogram/quantile.ts';
import { anno, info, warn } from '../engine/annotations.ts';
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

/** histogram_quantile(q, buckets) and histogram_fraction(lower, upper, buckets) over le-bucket series. */
export function bucketFunction(ev: Evaluator, e: Call): Matrix {
  const multi = e.func === 'histogram_quantiles';
  const isQ = multi || e.func === 'histogram_quantile';
  // histogram_quantiles(v, "label", q1, q2, …) (experimental): one output per quantile, labelled.
  const qArgs = multi ? e.args.slice(2) : [e.args[0]!];
  const qLabel = multi ? (ev.eval(e.args[1]!) as { str: string }).str : '';
  const vecArg = e.args[multi ? 0 : isQ ? 1 : 2]!;
  const qSteps = qArgs.map((a) => ev.scalarSteps(a));
  const s1 = qSteps[0]!;
  const s2 = isQ ? null : ev.scalarSteps(e.args[1]!);
  const m = ev.evalMatrix(vecArg);
  if (isQ) {
    qSteps.forEach((steps, k) => {
      for (const q of steps) if (Number.isNaN(q) || q < 0 || q > 1) {
        ev.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${formatFloat(q)}${ev.pos(qArgs[k]!)}`);
        break;
      }
    });
  }
  const withQ = (ls: Labels, q: number): Labels => (multi ? setLabel(ls, qLabel, formatOpenMetricsFloat(q)) : ls);
  // Precompute per-series group keys (labels without le and __name__).
  const leInfo = new Map<Labels, { key: string; metric: Labels; le: number } | null>();
  // Native histogram series: their output labels, and the key a classic histogram with the same
  // labels has (Prometheus: labels without le), for the mixed classic/native rule.
  const native = new Map<Labels, { metric: Labels; sig: string }>();
  const classicSig = new Map<Labels, string>();
  for (const s of m) {
    if (s.h) native.set(s.metric, { metric: ev.o.delayed ? s.metric : dropMetricName(s.metric), sig: labelsKey(s.metric) });
    if (s.h && s.h.every((x) => x !== undefined)) continue;
    const leStr = getLabel(s.metric, 'le');
    const le = parseGoFloat(leStr);
    if (Number.isNaN(le) && leStr.toLowerCase() !== 'nan') {
      const name = getLabel(s.metric, METRIC_NAME);
      ev.warnings.add(`PromQL warning: bucket label "le" is missing or has a malformed value of "${leStr}"${name ? ` for metric name "${name}"` : ''}${ev.pos(vecArg)}`);
      leInfo.set(s.metric, null);
      continue;
    }
    const metric = (ev.o.delayed ? s.metric : dropMetricName(s.metric)).filter((l) => l.name !== 'le');
    leInfo.set(s.metric, { key: labelsKey(metric), metric, le });
    classicSig.set(s.metric, labelsKey(s.metric.filter((l) => l.name !== 'le')));
  }
  return ev.rangeEval([m], ([vec], ts) => {
    const i = ev.stepIndex(ts);
    const groups = new Map<string, { metric: Labels; buckets: Bucket[] }>();
    const natives: { metric: Labels; h: FloatHistogram; sig: string; name: string }[] = [];
    const classicSigs = new Map<string, string>();
    for (const s of vec!) {
      if (s.h) {
        const n = native.get(s.metric)!;
        natives.push({ metric: n.metric, h: s.h, sig: n.sig, name: getLabel(s.metric, METRIC_NAME) });
        continue;
      }
      const inf = leInfo.get(s.metric);
      if (!inf) continue;
      let g = groups.get(inf.key);
      if (!g) {
        g = { metric: inf.metric, buckets: [] };
        groups.set(inf.key, g);
      }
      g.buckets.push({ upperBound: inf.le, count: s.v });
      classicSigs.set(classicSig.get(s.metric)!, inf.key);
    }
    const out: Vector = [];
    const live: typeof natives = [];
    for (const n of natives) {
      const groupKey = classicSigs.get(n.sig);
      if (groupKey !== undefined && groups.has(groupKey)) {
        // A classic and a native histogram with the same labels at this step: neither is evaluated.
        warn(ev, anno.mixedClassicNative(ev.o.delayed ? n.name : ''), vecArg);
        groups.delete(groupKey);
        continue;
      }
      live.push(n);
    }
    for (const steps of qSteps) {
      const q = steps[i]!;
      for (const n of live) {
        const name = ev.o.delayed ? n.name : '';
        let f: number;
        if (isQ) {
          const r = histogramQuantileWithInfo(q, n.h);
          f = r.value;
          if (r.nanResult) info(ev, anno.quantileNaNResult(name), vecArg);
          else if (r.nanSkew) info(ev, anno.quantileNaNSkew(name), vecArg);
        } else {
          const r = histogramFractionWithInfo(s1[i]!, s2![i]!, n.h);
          f = r.value;
          if (r.nanObservations) info(ev, anno.fractionNaNs(name), vecArg);
        }
        out.push({ metric: withQ(n.metric, q), t: ts, v: f, dropName: true });
      }
      for (const g of groups.values()) {
        let f: number;
        if (isQ) {
          const r = bucketQuantile(q, g.buckets);
          f = r.q;
          if (r.forcedMonotonic) {
            ev.infos.add(`PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name "${getLabel(g.metric, METRIC_NAME)}"${ev.pos(vecArg)}`);
          }
        } else {
          f = bucketFraction(s1[i]!, s2![i]!, g.buckets);
        }
        out.push({ metric: withQ(g.metric, q), t: ts, v: f, dropName: true });
      }
    }
    return out;
  });
}

/** histogram_avg/count/sum/stddev/stdvar: one float per native histogram sample; float samples produce no output. */
export function histogramStat(ev: Evaluator, e: Call): Matrix {
  const m = ev.evalMatrix(e.args[0]!);
  const f: (h: FloatHistogram) => number = {
    histogram_count: (h: FloatHistogram) => h.count,
    histogram_sum: (h: FloatHistogram) => h.sum,
    histogram_avg: (h: FloatHistogram) => h.sum / h.count,
    histogram_stddev: histogramStdDev,
    histogram_stdvar: histogramStdVar,
  }[e.func]!;
  const out: Matrix = [];
  for (const s of m) {
    const h = s.h;
    if (!h) continue;
    const t: number[] = [], v: number[] = [];
    for (let i = 0; i < s.t.length; i++) {
      const x = h[i];
      if (x === undefined) continue;
      t.push(s.t[i]!);
      v.push(f(x));
    }
    if (t.length) out.push({ metric: ev.o.delayed ? s.metric : dropMetricName(s.metric), t, v, dropName: true });
  }
  return ev.o.delayed ? out : ev.mergeSameLabels(out);
}

/** Prometheus labels.FormatOpenMetricsFloat: Go's shortest 'g' form, with ".0" on integral values. */
function formatOpenMetricsFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  // strconv.FormatFloat(f, 'g', -1, 64): exponent form when the exponent is < -4 or ≥ 6.
  const [mant, expStr] = f.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  let s: string;
  if (exp < -4 || exp >= 6) s = `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  else s = formatFloat(f);
  return /[.eE]/.test(s) ? s : s + '.0';
}

function parseGoFloat(s: string): number {
  const t = s.trim();
  if (t === '') return NaN;
  const l = t.toLowerCase();
  if (l === '+inf' || l === 'inf' || l === '+infinity' || l === 'infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  if (l === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) && !/^[+-]?0x[0-9a-f.]+(p[+-]?\d+)?$/i.test(t)) return NaN;
  return Number(t);
}
