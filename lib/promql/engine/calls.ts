// How the engine evaluates a function call, per kind of kernel. Every entry of the function table
// (functions/table.ts) carries a CallKernel; the ones here wrap the plain numeric kernels:
//   rangeFn(fn)      range-vector functions: fn(t, v, lo, hi, ctx) over each left-open window
//   elementwise(fn)  instant-vector math: fn(x) per sample, drops the metric name
//   dateFn(fn)       time-of-day functions: fn(Date) per sample, argument defaults to time()
// Functions that need more (labels, sorting, histograms, absent, ...) have their own CallKernel.
import type { Call, Expr, MatrixSelector, SubqueryExpr } from '../ast.ts';
import { ExecutionError, TooManySamplesError } from '../errors.ts';
import { resetPrefix, type HistCtx, type HistWindowFn, type WindowCtx, type WindowFn } from '../functions/common.ts';
import { anno } from './annotations.ts';
import { histSampleWeight, type FloatHistogram } from './hist.ts';
import { getLabel, METRIC_NAME, type Labels } from '../../labels/mod.ts';
import type { Evaluator } from './evaluator.ts';
import { dropMetricName, hasDuplicateLabels, upperBound } from './helpers.ts';
import { rangeSource } from './selectors.ts';
import type { Matrix, RawSeries } from './types.ts';

/** Evaluates one call over all steps of the evaluator. */
export type CallKernel = (ev: Evaluator, e: Call) => Matrix;

export interface RangeFnOptions {
  /** Keep __name__ (last_over_time, first_over_time). */
  keepName?: boolean;
  /** Counter function (rate, increase): reset prefix counts, "might not be a counter" info. */
  counter?: boolean;
  /** Validates the scalar arguments (one Float64Array per step; null at the range argument). */
  check?: (ev: Evaluator, e: Call, scalars: (Float64Array | null)[]) => void;
  /**
   * How windows of a series holding native histograms are evaluated (float-only series never see
   * this): 'floats' (default) — histograms are ignored, the kernel runs over the window's floats,
   * with Prometheus's "ignored histograms in a range containing both" info when both are present;
   * 'any' — the kernel only counts or times samples, so it runs over all of them; or a
   * HistWindowFn that handles floats and histograms itself.
   */
  hist?: 'floats' | 'any' | HistWindowFn;
  /** Which argument the histogram annotations point at (default: the range argument). */
  histAnnoArg?: number;
}

function unwrap(e: Expr): Expr {
  while (e.type === 'ParenExpr') e = e.expr;
  return e;
}

/** A range-vector function: the kernel runs on every (series, step) window of its range argument. */
export function rangeFn(fn: WindowFn, opts: RangeFnOptions = {}): CallKernel {
  const keepName = opts.keepName === true;
  const counterFn = opts.counter === true;
  const check = opts.check;
  return (ev, e) => {
    const delayed = ev.o.delayed;
    // The range argument: only a matrix selector or a subquery (maybe parenthesized) has matrix type.
    const mIdx = e.args.findIndex((a) => { const u = unwrap(a); return u.type === 'MatrixSelector' || u.type === 'SubqueryExpr'; });
    const arg = unwrap(e.args[mIdx]!);
    const src = rangeSource(ev, arg as MatrixSelector | SubqueryExpr);
    const scalars = e.args.map((a, i) => (i === mIdx ? null : ev.scalarSteps(a)));
    if (check) check(ev, e, scalars);
    const out: Matrix = [];
    const otherScalars = scalars.filter((s): s is Float64Array => s !== null);
    const n = ev.numSteps();
    // Window bounds per step (left-open): (ends[i] - range, ends[i]].
    const ends = new Float64Array(n);
    const evalTs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const step = ev.start + i * ev.interval;
      evalTs[i] = step;
      ends[i] = (src.at ?? step) - src.offset;
    }
    const range = src.range;
    const ctx: WindowCtx = { ts: 0, rangeStart: 0, rangeEnd: 0, range, scalars: [] };
    const maxS = ev.o.maxSamples;
    const samples = ev.shared.samples;
    const monotone = src.at === null;
    // Windows found by walking forward over many steps; one window (an instant query) by binary
    // search (the walk read every sample of the window, one cache line after another).
    const walk = monotone && n > 1;
    for (const r of src.raws) {
      ev.tick();
      if (r.h) {
        histSeriesWindows(ev, e, r, fn, opts, mIdx, ends, evalTs, range, monotone, otherScalars, out);
        continue;
      }
      // Reset counts pay off over many windows; one window (an instant query) scans its own samples.
      if (counterFn) ctx.resets = n > 1 ? resetPrefix(r.v, r.n) : null;
      const dropName = !keepName || r.dropName;
      // First point as a one-element literal: a push onto [] reserves 17 slots, per series of an instant query.
      let ts: number[] | undefined;
      let vs: number[] | undefined;
      const rt = r.t;
      const rn = r.n;
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < n; i++) {
        const end = ends[i]!;
        const start = end - range;
        if (walk) {
          while (lo < rn && rt[lo]! <= start) lo++;
          if (hi < lo) hi = lo;
          while (hi < rn && rt[hi]! <= end) hi++;
        } else {
          lo = upperBound(rt, rn, start);
          hi = upperBound(rt, rn, end);
        }
        if (hi <= lo) continue;
        if (samples.current + (hi - lo) > maxS) throw new TooManySamplesError();
        ctx.ts = evalTs[i]!;
        ctx.rangeStart = start;
        ctx.rangeEnd = end;
        if (otherScalars.length) ctx.scalars = otherScalars.map((x) => x[i]!);
        const val = fn(rt, r.v, lo, hi, ctx);
        if (val === null) continue;
        if (ts === undefined) {
          ts = [evalTs[i]!];
          vs = [val];
        } else {
          ts.push(evalTs[i]!);
          vs!.push(val);
        }
      }
      if (ts !== undefined) {
        out.push({ metric: !delayed && dropName ? dropMetricName(r.labels) : r.labels, t: ts, v: vs!, dropName });
        if (counterFn) counterInfo(ev, e, mIdx, r.labels);
      }
    }
    if (!delayed) {
      if (hasDuplicateLabels(out)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
    }
    return out;
  };
}

let lastName = '';
let lastCounter = true;
/** Whether a metric name ends in _total/_sum/_count/_bucket; the series of a selection share their name, tested once. */
function counterName(mn: string): boolean {
  if (mn !== lastName) {
    lastName = mn;
    lastCounter = /(_total|_sum|_count|_bucket)$/.test(mn);
  }
  return lastCounter;
}

/** The counter-function info (name does not end in _total/_sum/_count/_bucket) once per output series. */
function counterInfo(ev: Evaluator, e: Call, mIdx: number, labels: Labels): void {
  const mn = getLabel(labels, METRIC_NAME);
  if (mn !== '' && !counterName(mn)) {
    ev.infos.add(`PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(mn)}${ev.pos(e.args[mIdx]!)}`);
  }
}

/** The windows of one series that holds native histograms (see RangeFnOptions.hist). */
function histSeriesWindows(
  ev: Evaluator, e: Call, r: RawSeries, fn: WindowFn, opts: RangeFnOptions, mIdx: number,
  ends: Float64Array, evalTs: Float64Array, range: number, monotone: boolean, otherScalars: Float64Array[], out: Matrix,
): void {
  const delayed = ev.o.delayed;
  const mode = opts.hist ?? 'floats';
  const rh = r.h!;
  const rt = r.t;
  const rn = r.n;
  const annoNode = e.args[opts.histAnnoArg ?? mIdx]!;
  const metricName = getLabel(r.labels, METRIC_NAME);
  const hctx: HistCtx = {
    ts: 0, rangeStart: 0, rangeEnd: 0, range, scalars: [], resets: null, metricName,
    warn: (text) => ev.warnings.add(text + ev.pos(annoNode)),
    info: (text) => ev.infos.add(text + ev.pos(annoNode)),
  };
  // 'floats': prefix counts of histograms and the float-only samples, so a window maps onto them.
  // Prefix sums of the samples' weights against max-samples (a histogram counts by its size).
  const wp = new Float64Array(rn + 1);
  for (let i = 0; i < rn; i++) wp[i + 1] = wp[i]! + (rh[i] !== undefined ? histSampleWeight(rh[i]!) : 1);
  let hp: Int32Array | null = null;
  let ft: Float64Array | null = null, fv: Float64Array | null = null;
  if (mode === 'floats') {
    hp = new Int32Array(rn + 1);
    ft = new Float64Array(rn);
    fv = new Float64Array(rn);
    let nf = 0;
    for (let i = 0; i < rn; i++) {
      const isH = rh[i] !== undefined;
      hp[i + 1] = hp[i]! + (isH ? 1 : 0);
      if (!isH) {
        ft[nf] = rt[i]!;
        fv[nf] = r.v[i]!;
        nf++;
      }
    }
  }
  const ts: number[] = [];
  const vs: number[] = [];
  let hs: (FloatHistogram | undefined)[] | undefined;
  const samples = ev.shared.samples;
  const maxS = ev.o.maxSamples;
  let lo = 0, hi = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    const start = end - range;
    if (monotone) {
      while (lo < rn && rt[lo]! <= start) lo++;
      if (hi < lo) hi = lo;
      while (hi < rn && rt[hi]! <= end) hi++;
    } else {
      lo = upperBound(rt, rn, start);
      hi = upperBound(rt, rn, end);
    }
    if (hi <= lo) continue;
    if (samples.current + (wp[hi]! - wp[lo]!) > maxS) throw new TooManySamplesError();
    hctx.ts = evalTs[i]!;
    hctx.rangeStart = start;
    hctx.rangeEnd = end;
    if (otherScalars.length) hctx.scalars = otherScalars.map((x) => x[i]!);
    let val: number | FloatHistogram | null;
    if (mode === 'floats') {
      const nh = hp![hi]! - hp![lo]!;
      if (nh === hi - lo) continue;
      if (nh > 0) hctx.info(anno.ignoredInMixedRange(metricName));
      val = fn(ft!, fv!, lo - hp![lo]!, hi - hp![hi]!, hctx);
    } else if (mode === 'any') {
      val = fn(rt, r.v, lo, hi, hctx);
    } else {
      val = mode(rt, r.v, rh, lo, hi, hctx, fn);
    }
    if (val === null) continue;
    if (typeof val === 'number') vs.push(val);
    else {
      (hs ??= [])[ts.length] = val;
      vs.push(0);
    }
    ts.push(evalTs[i]!);
  }
  if (!ts.length) return;
  const keepName = opts.keepName === true;
  const dropName = !keepName || r.dropName;
  const metric = !delayed && dropName ? dropMetricName(r.labels) : r.labels;
  if (hs) {
    hs.length = ts.length;
    out.push({ metric, t: ts, v: vs, h: hs, dropName });
  } else out.push({ metric, t: ts, v: vs, dropName });
  if (opts.counter === true) counterInfo(ev, e, mIdx, r.labels);
}

/** An instant-vector math function: fn per sample value, the metric name is dropped. */
export function elementwise(fn: (x: number) => number): CallKernel {
  return (ev, e) => {
    const delayed = ev.o.delayed;
    const m = dropHistogramSamples(ev.evalMatrix(e.args[0]!));
    for (const s of m) {
      for (let i = 0; i < s.v.length; i++) s.v[i] = fn(s.v[i]!);
      if (!delayed) s.metric = dropMetricName(s.metric);
      s.dropName = true;
    }
    if (!delayed) return ev.mergeSameLabels(m);
    return m;
  };
}

/** The series without their histogram samples (Prometheus's float-only functions skip them); series left empty go. */
export function dropHistogramSamples(m: Matrix): Matrix {
  if (!m.some((s) => s.h !== undefined)) return m;
  const out: Matrix = [];
  for (const s of m) {
    const h = s.h;
    if (!h) {
      out.push(s);
      continue;
    }
    const t: number[] = [], v: number[] = [];
    for (let i = 0; i < s.t.length; i++) {
      if (h[i] !== undefined) continue;
      t.push(s.t[i]!);
      v.push(s.v[i]!);
    }
    if (t.length) out.push({ metric: s.metric, t, v, dropName: s.dropName });
  }
  return out;
}

/** A time-of-day function: fn(Date of the sample value as Unix seconds, UTC); no argument = time(). */
export function dateFn(fn: (d: Date) => number): CallKernel {
  return (ev, e) => {
    const m = e.args.length
      ? ev.evalMatrix(e.args[0]!)
      : ev.evalCall({ type: 'Call', func: 'time', args: [], pos: e.pos });
    if (e.args.length) return ev.rangeEval([dropHistogramSamples(m)], ([vec]) => vec!.map((s) => ev.mapName(s, Number.isFinite(s.v) ? fn(new Date(s.v * 1000)) : NaN)));
    return ev.rangeEval([m], ([vec]) => vec!.map((s) => ev.mapName(s, Number.isFinite(s.v) ? fn(new Date(s.v * 1000)) : NaN)));
  };
}

/** A function the engine refuses at evaluation time (parsed and type-checked, not implemented). */
export function unsupported(message: string): CallKernel {
  return () => {
    throw new ExecutionError(message);
  };
}
