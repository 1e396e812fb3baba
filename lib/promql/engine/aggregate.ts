// Aggregations: one column-wise path (aggregateColumns) for sum/avg/min/max/count/group/stddev/stdvar,
// per-step paths where the operator needs the step's whole vector: topk/bottomk/limitk/limit_ratio
// (heaps), quantile (sorted values), count_values (value label).
import type { AggregateExpr, Expr } from '../ast.ts';
import { ExecutionError } from '../errors.ts';
import { formatFloat } from '../format.ts';
import { kahanInc, quantileOf } from '../functions/common.ts';
import { METRIC_NAME, type Labels } from '../../labels/mod.ts';
import type { Evaluator } from './evaluator.ts';
import { delLabels, isValidLabelName, keepLabels, labelsKey, setLabel } from './helpers.ts';
import type { Matrix, Vector } from './types.ts';
import { anno, histErrorAnnotation, info, warn } from './annotations.ts';
import { hAdd, hCompact, hDiv, hMul, type FloatHistogram } from './hist.ts';

export function evalAggregate(ev: Evaluator, e: AggregateExpr): Matrix {
  const op: string = e.op;
  let param: Float64Array | null = null;
  let label = '';
  if (e.param) {
    if (op === 'count_values') {
      const v = ev.eval(e.param);
      if (!('str' in v)) throw new ExecutionError('expected string parameter');
      label = v.str;
      if (!isValidLabelName(label)) throw new ExecutionError(`invalid label name ${quoteStringParam(ev, e.param, label)}`);
    } else {
      param = ev.scalarSteps(e.param);
    }
  }
  const input = ev.evalMatrix(e.expr);
  const grouping = e.grouping.slice();
  // count_values: with `by` (or no grouping at all) the output label is a grouping label too, so
  // each distinct value is a group of its own; with `without` it simply stays on the series
  // (Prometheus appends valueLabel to the sorted grouping when !e.Without).
  if (op === 'count_values' && !e.without) grouping.push(label);
  grouping.sort();
  const gset = new Set(grouping);
  const without = e.without;
  if (without) gset.add(METRIC_NAME);
  const keyOf = (m: Labels): string => {
    let k = '';
    if (without) {
      for (const l of m) if (!gset.has(l.name)) k += l.name + '\xff' + l.value + '\xff';
    } else {
      for (const l of m) if (gset.has(l.name)) k += l.name + '\xff' + l.value + '\xff';
    }
    return k;
  };
  const groupLabels = (m: Labels): Labels => (without ? delLabels(m, gset) : grouping.length ? keepLabels(m, gset) : []);

  if (op === 'count_values') {
    return ev.rangeEval([input], ([vec], ts) => {
      const groups = new Map<string, { metric: Labels; count: number }>();
      for (const s of vec!) {
        const m = setLabel(s.metric, label, s.h ? String(s.h) : formatFloat(s.v));
        const k = keyOf(m);
        const g = groups.get(k);
        if (g) g.count++;
        else groups.set(k, { metric: groupLabels(m), count: 1 });
      }
      return [...groups.values()].map((g) => ({ metric: g.metric, t: ts, v: g.count, dropName: false }));
    });
  }

  // Map input series to groups once. by (one label), the common dashboard case: keyed by the value
  // itself (undefined when the label is absent), no key string per series.
  const groupIndex = new Map<string, number>();
  const seriesGroup = new Int32Array(input.length);
  const groupMetrics: Labels[] = [];
  const byOne = !without && grouping.length === 1 ? grouping[0]! : null;
  if (byOne !== null) {
    const byValue = new Map<string | undefined, number>();
    for (let i = 0; i < input.length; i++) {
      const m = input[i]!.metric;
      let v: string | undefined;
      for (let j = 0; j < m.length; j++) {
        if (m[j]!.name === byOne) {
          v = m[j]!.value;
          break;
        }
      }
      let g = byValue.get(v);
      if (g === undefined) {
        g = groupMetrics.length;
        byValue.set(v, g);
        groupMetrics.push(groupLabels(m));
      }
      seriesGroup[i] = g;
    }
  }
  for (let i = byOne !== null ? input.length : 0; i < input.length; i++) {
    const k = keyOf(input[i]!.metric);
    let g = groupIndex.get(k);
    if (g === undefined) {
      g = groupMetrics.length;
      groupIndex.set(k, g);
      groupMetrics.push(groupLabels(input[i]!.metric));
    }
    seriesGroup[i] = g;
  }
  const ng = groupMetrics.length;
  // Group by label-set identity, for the per-step paths that see a step's vector (quantile, and
  // histograms): built only for them — the column path (sum, avg, count, max, ...) indexes
  // seriesGroup, and a Map entry per input series was only work for it.
  const groupsByMetric = (): Map<Labels, number> => {
    const gcache = new Map<Labels, number>();
    for (let i = 0; i < input.length; i++) gcache.set(input[i]!.metric, seriesGroup[i]!);
    return gcache;
  };

  if (op === 'topk' || op === 'bottomk' || op === 'limitk' || op === 'limit_ratio') {
    if (param) {
      let max = -Infinity, min = Infinity, anyNaN = false;
      for (const p of param) {
        if (Number.isNaN(p)) anyNaN = true;
        if (p > max) max = p;
        if (p < min) min = p;
      }
      if (op === 'limit_ratio') {
        if (max === 0 && min === 0) return [];
        if (anyNaN) throw new ExecutionError('Ratio value is NaN');
        if (max > 1) ev.warnings.add(`PromQL warning: ratio value should be between -1 and 1, got ${formatFloat(max)}, capping to 1${ev.pos(e.param!)}`);
        if (min < -1) ev.warnings.add(`PromQL warning: ratio value should be between -1 and 1, got ${formatFloat(min)}, capping to -1${ev.pos(e.param!)}`);
      } else {
        if (anyNaN) throw new ExecutionError('Parameter value is NaN');
        if (max < 1) return [];
        if (min <= -9223372036854775808) throw new ExecutionError(`Scalar value ${formatFloat(min)} underflows int64`);
        if (max >= 9223372036854775807) throw new ExecutionError(`Scalar value ${formatFloat(max)} overflows int64`);
      }
    }
    const cursor = new Int32Array(input.length);
    const vals = new Float64Array(input.length);
    const hist: (FloatHistogram | undefined)[] = new Array(input.length);
    const heaps: number[][] = Array.from({ length: ng }, () => []);
    const groupStamp = new Int32Array(ng).fill(-1);
    const top = op === 'topk';
    // Go heap order: the root is the element to be replaced first (smallest for topk).
    const less = top
      ? (a: number, b: number) => { const va = vals[a]!, vb = vals[b]!; return va < vb || (Number.isNaN(va) && !Number.isNaN(vb)); }
      : (a: number, b: number) => { const va = vals[a]!, vb = vals[b]!; return va > vb || (Number.isNaN(va) && !Number.isNaN(vb)); };
    const cmp = (a: number, b: number) => (less(a, b) ? -1 : less(b, a) ? 1 : 0);
    let stepNo = 0;
    return rangeEvalSeries(ev, input, (ts) => {
      const p = param![ev.stepIndex(ts)]!;
      const step = stepNo++;
      const out: Vector = [];
      const k = Math.min(Math.trunc(p), input.length);
      const ratio = p < -1 ? -1 : p > 1 ? 1 : p;
      const groupOrder: number[] = [];
      for (let si = 0; si < input.length; si++) {
        const s = input[si]!;
        const c = cursor[si]!;
        if (!(c < s.t.length && s.t[c] === ts)) continue;
        cursor[si] = c + 1;
        const f = s.v[c]!;
        const hc = s.h?.[c];
        hist[si] = hc;
        if (hc !== undefined && (op === 'topk' || op === 'bottomk')) {
          info(ev, anno.ignoredInAggregation(op), e);
          continue;
        }
        vals[si] = f;
        if (op === 'limit_ratio') {
          if (ratio !== 0 && ratioSample(ratio, s.metric)) out.push(hc ? { metric: s.metric, t: ts, v: 0, h: hc, dropName: s.dropName } : { metric: s.metric, t: ts, v: f, dropName: s.dropName });
          continue;
        }
        if (k < 1) continue;
        const g = seriesGroup[si]!;
        const h = heaps[g]!;
        if (groupStamp[g] !== step) {
          groupStamp[g] = step;
          h.length = 0;
          groupOrder.push(g);
        }
        if (op === 'limitk') {
          if (h.length < k) h.push(si);
          continue;
        }
        if (h.length < k) {
          h.push(si);
          if (h.length > 1) h.sort(cmp);
        } else if (less(h[0]!, si)) {
          h[0] = si;
          if (k > 1) h.sort(cmp);
        }
      }
      if (op === 'limit_ratio') return out;
      groupOrder.sort((a, b) => a - b);
      for (const g of groupOrder) {
        const h = heaps[g]!;
        const order = op === 'limitk' ? h : h.slice().reverse();
        for (const si of order) {
          const s = input[si]!;
          const hs = hist[si];
          out.push(hs ? { metric: s.metric, t: ts, v: 0, h: hs, dropName: s.dropName } : { metric: s.metric, t: ts, v: vals[si]!, dropName: s.dropName });
        }
      }
      return out;
    });
  }

  if (op === 'quantile') {
    if (param) {
      for (const p of param) {
        if (Number.isNaN(p) || p < 0 || p > 1) {
          ev.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${formatFloat(p)}${ev.pos(e.param!)}`);
          break;
        }
      }
    }
  }

  if (op !== 'quantile') {
    if (op !== 'count' && op !== 'group' && input.some((x) => x.h !== undefined)) return aggregateWithHistograms(ev, e, op, input, groupsByMetric(), groupMetrics);
    return aggregateColumns(ev, op, input, seriesGroup, groupMetrics);
  }

  // quantile: per step, the values of each group (in input-series order), then Prometheus's quantile().
  const seen = new Uint8Array(ng);
  const dropNames = new Uint8Array(ng);
  const qvals: number[][] = Array.from({ length: ng }, () => []);
  const gcache = groupsByMetric();
  return ev.rangeEval([input], ([vec], ts) => {
    seen.fill(0);
    // vec elements are in input order but may skip series: map via metric identity
    for (const s of vec!) {
      if (s.h) {
        info(ev, anno.ignoredInAggregation('quantile'), e.expr);
        continue;
      }
      const g = gcache.get(s.metric)!;
      if (!seen[g]) {
        seen[g] = 1;
        dropNames[g] = s.dropName ? 1 : 0;
        qvals[g] = [s.v];
        continue;
      }
      if (s.dropName) dropNames[g] = 1;
      qvals[g]!.push(s.v);
    }
    const out: Vector = [];
    const p = param ? param[ev.stepIndex(ts)]! : 0;
    for (let g = 0; g < ng; g++) {
      if (!seen[g]) continue;
      out.push({ metric: groupMetrics[g]!, t: ts, v: quantileOf(p, qvals[g]!), dropName: dropNames[g] === 1 });
    }
    return out;
  });
}

/**
 * sum/avg/count/min/max/group/stddev/stdvar over all steps at once: one pass over the input points
 * into per-(group, step) cells. Accumulation order per cell is input-series order, as in Prometheus.
 */
export function aggregateColumns(ev: Evaluator, op: string, input: Matrix, seriesGroup: Int32Array, groupMetrics: Labels[]): Matrix {
  const ns = ev.numSteps();
  const ng = groupMetrics.length;
  const cells = ng * ns;
  const val = new Float64Array(cells);
  const kc = new Float64Array(cells);
  const mean = op === 'avg' || op === 'stddev' || op === 'stdvar' ? new Float64Array(cells) : val;
  const cnt = new Float64Array(cells);
  const flags = new Uint8Array(cells); // 1 seen, 2 incremental mean, 4 dropName
  const start = ev.start, interval = ev.interval;
  for (let si = 0; si < input.length; si++) {
    ev.tick();
    const s = input[si]!;
    const base = seriesGroup[si]! * ns;
    const dn = s.dropName ? 4 : 0;
    const st = s.t, sv = s.v;
    for (let j = 0; j < st.length; j++) {
      const c = base + Math.round((st[j]! - start) / interval);
      const f = sv[j]!;
      const fl = flags[c]!;
      if ((fl & 1) === 0) {
        flags[c] = 1 | dn;
        cnt[c] = 1;
        switch (op) {
          case 'stddev': case 'stdvar':
            val[c] = Number.isFinite(f) ? 0 : NaN;
            mean[c] = f;
            break;
          case 'group':
            val[c] = 1;
            break;
          case 'avg':
            val[c] = f;
            mean[c] = f;
            break;
          default:
            val[c] = f;
        }
        continue;
      }
      flags[c] = fl | dn;
      switch (op) {
        case 'sum': {
          // Neumaier-compensated sum (kahanInc inlined)
          const sum = val[c]!;
          const t = sum + f;
          if (t === Infinity || t === -Infinity) kc[c] = 0;
          else if (Math.abs(sum) >= Math.abs(f)) kc[c] = kc[c]! + ((sum - t) + f);
          else kc[c] = kc[c]! + ((f - t) + sum);
          val[c] = t;
          break;
        }
        case 'avg': {
          const n = ++cnt[c]!;
          if ((fl & 2) === 0) {
            const [a, b] = kahanInc(f, val[c]!, kc[c]!);
            if (Number.isFinite(a) || Number.isNaN(a)) {
              val[c] = a;
              kc[c] = b;
              break;
            }
            flags[c] = flags[c]! | 2;
            mean[c] = val[c]! / (n - 1);
            kc[c] = kc[c]! / (n - 1);
          }
          const q = (n - 1) / n;
          const [a, b] = kahanInc(f / n, q * mean[c]!, q * kc[c]!);
          mean[c] = a;
          kc[c] = b;
          break;
        }
        case 'max':
          if (val[c]! < f || Number.isNaN(val[c]!)) val[c] = f;
          break;
        case 'min':
          if (val[c]! > f || Number.isNaN(val[c]!)) val[c] = f;
          break;
        case 'count':
          cnt[c]!++;
          break;
        case 'group':
          break;
        case 'stddev': case 'stdvar': {
          const n = ++cnt[c]!;
          const delta = f - mean[c]!;
          mean[c] = mean[c]! + delta / n;
          val[c] = val[c]! + delta * (f - mean[c]!);
          break;
        }
      }
    }
  }
  const out: Matrix = [];
  for (let g = 0; g < ng; g++) {
    const t: number[] = [];
    const v: number[] = [];
    let dropName: boolean | null = null;
    const base = g * ns;
    for (let i = 0; i < ns; i++) {
      const c = base + i;
      const fl = flags[c]!;
      if ((fl & 1) === 0) continue;
      if (dropName === null) dropName = (fl & 4) !== 0;
      let f: number;
      switch (op) {
        case 'avg':
          f = fl & 2 ? mean[c]! + kc[c]! : val[c]! / cnt[c]! + kc[c]! / cnt[c]!;
          break;
        case 'count':
          f = cnt[c]!;
          break;
        case 'stdvar':
          f = val[c]! / cnt[c]!;
          break;
        case 'stddev':
          f = Math.sqrt(val[c]! / cnt[c]!);
          break;
        case 'sum':
          f = Number.isFinite(val[c]!) ? val[c]! + kc[c]! : val[c]!;
          break;
        default:
          f = val[c]!;
      }
      t.push(start + i * interval);
      v.push(f);
    }
    if (t.length) out.push({ metric: groupMetrics[g]!, t, v, dropName: dropName ?? false });
  }
  return out;
}

interface HistGroup {
  seen: boolean;
  f: number;
  mean: number;
  kc: number;
  count: number;
  h: FloatHistogram | undefined;
  hMean: FloatHistogram | undefined;
  /** Kahan compensation of h (sum, direct avg) or hMean (incremental avg). */
  hc: FloatHistogram | null;
  hasFloat: boolean;
  hasHist: boolean;
  incompatible: boolean;
  floatIncremental: boolean;
  histIncremental: boolean;
  resetSeen: boolean;
  notResetSeen: boolean;
  dropName: boolean;
}

/**
 * sum/avg/min/max/stddev/stdvar when the input holds native histograms: per step, as Prometheus's
 * aggregation() — histograms sum and average (mixing them with floats in a group drops the group
 * with a warning), min/max/stddev/stdvar ignore them with an info.
 */
function aggregateWithHistograms(ev: Evaluator, e: AggregateExpr, op: string, _input: Matrix, gcache: Map<Labels, number>, groupMetrics: Labels[]): Matrix {
  const ng = groupMetrics.length;
  const groups: HistGroup[] = Array.from({ length: ng }, () => ({
    seen: false, f: 0, mean: 0, kc: 0, count: 0, h: undefined, hMean: undefined, hc: null, hasFloat: false, hasHist: false,
    incompatible: false, floatIncremental: false, histIncremental: false, resetSeen: false, notResetSeen: false, dropName: false,
  }));
  const noteHint = (g: HistGroup, h: FloatHistogram) => {
    if (h.counterResetHint === 'reset') g.resetSeen = true;
    else if (h.counterResetHint === 'not_reset') g.notResetSeen = true;
  };
  const metricName = (ls: Labels) => ls.find((l) => l.name === METRIC_NAME)?.value ?? '';
  /** target.kahanAdd(h, c): the new compensation, or undefined when the layouts are incompatible (group dropped). */
  const kahanInto = (g: HistGroup, target: FloatHistogram, h: FloatHistogram, c: FloatHistogram | null, metric: Labels): FloatHistogram | undefined => {
    try {
      const r = target.kahanAdd(h, c);
      if (r.nhcbBoundsReconciled) info(ev, anno.mismatchedCustomBuckets('aggregation'), e.expr);
      return r.c;
    } catch (err) {
      warn(ev, histErrorAnnotation(err, metricName(metric)), e.expr);
      g.incompatible = true;
      return undefined;
    }
  };
  return ev.rangeEval([_input], ([vec], ts) => {
    for (const g of groups) g.seen = false;
    for (const s of vec!) {
      const gi = gcache.get(s.metric)!;
      const g = groups[gi]!;
      const f = s.v;
      const h = s.h;
      if (!g.seen) {
        Object.assign(g, {
          seen: true, f, mean: f, kc: 0, count: 1, h: undefined, hMean: undefined, hc: null, hasFloat: false, hasHist: false,
          incompatible: false, floatIncremental: false, histIncremental: false, resetSeen: false, notResetSeen: false, dropName: s.dropName,
        });
        switch (op) {
          case 'sum': case 'avg':
            if (!h) g.hasFloat = true;
            else {
              g.h = h.copy();
              g.hasHist = true;
              noteHint(g, h);
            }
            break;
          case 'stddev': case 'stdvar':
            if (h) {
              g.seen = false;
              info(ev, anno.ignoredInAggregation(op), e.expr);
            } else g.f = Number.isFinite(f) ? 0 : NaN;
            break;
          case 'min': case 'max':
            if (h) {
              g.seen = false;
              info(ev, anno.ignoredInAggregation(op), e.expr);
            }
            break;
        }
        continue;
      }
      if (g.incompatible) continue;
      if (s.dropName) g.dropName = true;
      switch (op) {
        case 'sum':
          if (h) {
            g.hasHist = true;
            if (g.h) {
              noteHint(g, h);
              g.hc = kahanInto(g, g.h, h, g.hc, s.metric) ?? null;
            }
          } else {
            g.hasFloat = true;
            [g.f, g.kc] = kahanInc(f, g.f, g.kc);
          }
          break;
        case 'avg':
          g.count++;
          if (h) {
            g.hasHist = true;
            if (g.h) {
              noteHint(g, h);
              if (!g.histIncremental) {
                const v = g.h.copy();
                const c = kahanInto(g, v, h, g.hc ? g.hc.copy() : null, s.metric);
                if (c === undefined) continue;
                if (!v.hasOverflow()) {
                  g.h = v;
                  g.hc = c;
                  break;
                }
                g.histIncremental = true;
                g.hMean = hDiv(g.h.copy(), g.count - 1);
                if (g.hc) hDiv(g.hc, g.count - 1);
              }
              const q = (g.count - 1) / g.count;
              if (g.hc) hMul(g.hc, q);
              const c = kahanInto(g, hMul(g.hMean!, q), hDiv(h.copy(), g.count), g.hc, s.metric);
              if (c === undefined) continue;
              g.hc = c;
            }
          } else {
            g.hasFloat = true;
            if (!g.floatIncremental) {
              const [nv, nc] = kahanInc(f, g.f, g.kc);
              if (nv !== Infinity && nv !== -Infinity) {
                g.f = nv;
                g.kc = nc;
                break;
              }
              g.floatIncremental = true;
              g.mean = g.f / (g.count - 1);
              g.kc /= g.count - 1;
            }
            const q = (g.count - 1) / g.count;
            [g.mean, g.kc] = kahanInc(f / g.count, q * g.mean, q * g.kc);
          }
          break;
        case 'max':
          if (h) {
            info(ev, anno.ignoredInAggregation('max'), e.expr);
            continue;
          }
          if (g.f < f || Number.isNaN(g.f)) g.f = f;
          break;
        case 'min':
          if (h) {
            info(ev, anno.ignoredInAggregation('min'), e.expr);
            continue;
          }
          if (g.f > f || Number.isNaN(g.f)) g.f = f;
          break;
        case 'stddev': case 'stdvar':
          if (h) {
            info(ev, anno.ignoredInAggregation(op), e.expr);
            continue;
          }
          g.count++;
          {
            const delta = f - g.mean;
            g.mean += delta / g.count;
            g.f += delta * (f - g.mean);
          }
          break;
      }
    }
    const out: Vector = [];
    for (let gi = 0; gi < ng; gi++) {
      const g = groups[gi]!;
      if (!g.seen) continue;
      let f = g.f;
      let h: FloatHistogram | undefined;
      switch (op) {
        case 'sum': case 'avg':
          if (g.hasFloat && g.hasHist) {
            warn(ev, anno.mixedFloatsHistogramsAgg(), e.expr);
            continue;
          }
          if (g.incompatible) continue;
          if (g.hasHist) {
            if (op === 'avg' && g.histIncremental) {
              h = g.hMean!;
              if (g.hc) hAdd(h, g.hc);
            } else if (op === 'avg') {
              h = hDiv(g.h!, g.count);
              if (g.hc) hAdd(h, hDiv(g.hc, g.count));
            } else {
              h = g.h!;
              if (g.hc) hAdd(h, g.hc);
            }
            hCompact(h, 0);
          } else if (op === 'sum') f = g.f + g.kc;
          else f = g.floatIncremental ? g.mean + g.kc : g.f / g.count + g.kc / g.count;
          break;
        case 'stdvar':
          f = g.f / g.count;
          break;
        case 'stddev':
          f = Math.sqrt(g.f / g.count);
          break;
      }
      if (g.resetSeen && g.notResetSeen) warn(ev, anno.counterResetCollision('aggregation'), e.expr);
      out.push(h ? { metric: groupMetrics[gi]!, t: ts, v: 0, h, dropName: g.dropName } : { metric: groupMetrics[gi]!, t: ts, v: f, dropName: g.dropName });
    }
    return out;
  });
}

/** Like rangeEval but the function reads the input matrix itself (for k-aggregations). */
export function rangeEvalSeries(ev: Evaluator, _input: Matrix, fn: (ts: number) => Vector): Matrix {
  return ev.rangeEval([], (_v, ts) => fn(ts));
}

/**
 * Go's strconv.Quote of a string parameter, as Prometheus prints it in errors. JS strings cannot
 * hold invalid UTF-8, so the bytes are taken from the literal's source text when there is one.
 */
export function quoteStringParam(ev: Evaluator, e: Expr, val: string): string {
  while (e.type === 'ParenExpr') e = e.expr;
  const bytes = e.type === 'StringLiteral' && ev.o.src ? literalBytes(ev.o.src.slice(e.pos.start, e.pos.end)) : null;
  return goQuoteBytes(bytes ?? new TextEncoder().encode(val));
}
/** Deterministic sampling for limit_ratio: the same series is kept across steps. */
function ratioSample(r: number, ls: Labels): boolean {
  // Prometheus: hash(labels) / MaxUint64 compared with the ratio (positive: below, negative: above 1+r).
  const h = fnv64(labelsKey(ls));
  const f = Number(h) / 18446744073709551615;
  return r >= 0 ? f < r : f >= 1 + r;
}

function fnv64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i) & 0xff);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/** The bytes a PromQL string literal ("…", '…' or `…`, Go escapes) stands for; null if it is not one. */
function literalBytes(src: string): Uint8Array | null {
  const q = src[0];
  if (src.length < 2 || (q !== '"' && q !== "'" && q !== '`') || src[src.length - 1] !== q) return null;
  const body = src.slice(1, -1);
  const enc = new TextEncoder();
  if (q === '`') return enc.encode(body);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      if (cp > 0xffff) i++;
      out.push(...enc.encode(String.fromCodePoint(cp)));
      continue;
    }
    const d = body[++i];
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34 };
    if (d === undefined) return null;
    if (d in simple) out.push(simple[d]!);
    else if (d === 'x') {
      out.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (d === 'u' || d === 'U') {
      const n = d === 'u' ? 4 : 8;
      out.push(...enc.encode(String.fromCodePoint(parseInt(body.slice(i + 1, i + 1 + n), 16))));
      i += n;
    } else if (d >= '0' && d <= '7') {
      out.push(parseInt(body.slice(i, i + 3), 8) & 0xff);
      i += 2;
    } else return null;
  }
  return Uint8Array.from(out);
}

/** Go strconv.Quote over raw bytes: invalid UTF-8 as \xNN, printable runes as they are. */
function goQuoteBytes(b: Uint8Array): string {
  let out = '"';
  const dec = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const len = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    let ch: string | null = null;
    if (len > 0 && i + len <= b.length) {
      try {
        ch = dec.decode(b.subarray(i, i + len));
      } catch {
        ch = null;
      }
    }
    if (ch === null) {
      out += '\\x' + c.toString(16).padStart(2, '0');
      i++;
      continue;
    }
    i += len;
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp < 0x20 || cp === 0x7f) {
      const esc: Record<number, string> = { 7: 'a', 8: 'b', 12: 'f', 10: 'n', 13: 'r', 9: 't', 11: 'v' };
      out += esc[cp] !== undefined ? '\\' + esc[cp] : '\\x' + cp.toString(16).padStart(2, '0');
    } else if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch) || cp === 0x20) out += ch;
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}
