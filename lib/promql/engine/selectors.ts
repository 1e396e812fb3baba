// Selectors and subqueries: the up-front storage reads (preload: one select per selector with the
// time range, step, enclosing function and range it needs), instant-vector selectors (lookback,
// staleness), range sources for matrix selectors and subqueries (inner evaluation on the aligned
// subquery grid), and range vectors as instant-query results.
import type { Expr, MatrixSelector, SubqueryExpr, VectorSelector } from '../ast.ts';
import { ExecutionError, PromQLError, QueryTimeoutError, StorageError, TooManySamplesError } from '../errors.ts';
import type { Queryable, SeriesData } from '../queryable.ts';
import type { Evaluator } from './evaluator.ts';
import { checkSteps, subqueryEvaluator } from './driver.ts';
import { toRaw, upperBound, withoutStale } from './helpers.ts';
import { walk } from '../walk.ts';
import { FloatHistogram as FH, histSampleWeight, isStaleHistogram } from './hist.ts';
import type { Matrix, RawSeries, RangeSource } from './types.ts';
import type { FloatHistogram } from '../../histogram/float.ts';

// --- preload: one select per selector, with the time range it needs ------------------------
export async function preload(ev: Evaluator, q: Queryable, e: Expr, timeoutMs: number): Promise<void> {
  const jobs: { vs: VectorSelector; start: number; end: number; range: number; func?: string }[] = [];
  // Iterative (an explicit stack): expression depth is bounded only by the parser's limit.
  const stack: { n: Expr; start: number; end: number; func?: string }[] = [{ n: e, start: ev.start, end: ev.end }];
  while (stack.length) {
    const { n, start, end, func } = stack.pop()!;
    switch (n.type) {
      case 'VectorSelector': {
        resolveAt(ev, n);
        let s = n.at ?? start;
        let en = n.at ?? end;
        s -= n.offset + ev.o.lookback;
        en -= n.offset;
        jobs.push({ vs: n, start: s, end: en, range: 0, func });
        break;
      }
      case 'MatrixSelector': {
        const vs = n.vs;
        resolveAt(ev, vs);
        let s = vs.at ?? start;
        let en = vs.at ?? end;
        s -= vs.offset + n.range;
        en -= vs.offset;
        jobs.push({ vs, start: s, end: en, range: n.range, func });
        break;
      }
      case 'SubqueryExpr': {
        resolveAt(ev, n);
        const s = (n.at ?? start) - n.offset - n.range;
        const en = (n.at ?? end) - n.offset;
        stack.push({ n: n.expr, start: s, end: en });
        break;
      }
      // Children are pushed in reverse so that selectors are visited (and selected) in source order.
      case 'Call':
        // info()'s second argument is a label filter, never selected as such (functions/info.ts).
        for (let i = n.func === 'info' ? 0 : n.args.length - 1; i >= 0; i--) stack.push({ n: n.args[i]!, start, end, func: n.func });
        break;
      case 'AggregateExpr':
        stack.push({ n: n.expr, start, end });
        if (n.param) stack.push({ n: n.param, start, end });
        break;
      case 'BinaryExpr':
        stack.push({ n: n.rhs, start, end });
        stack.push({ n: n.lhs, start, end });
        break;
      case 'UnaryExpr':
      case 'ParenExpr':
        stack.push({ n: n.expr, start, end, func });
        break;
      default:
        break;
    }
  }
  // No selector (vector(1), 1+1, time()): nothing to select, so no timeout signal to arm.
  if (jobs.length === 0) {
    ev.checkAbort('query preparation');
    return;
  }
  const statsOnly = histogramStatsSelectors(e);
  const signal = ev.o.signal;
  // AbortSignal.timeout's timer, disarmed once every select is done: AbortSignal.timeout's own stays
  // armed for the whole --query.timeout behind a weak reference and a finalization registry, per query.
  // Left armed when a select fails (the others may still be running), as AbortSignal.timeout's was.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), Math.max(1, timeoutMs));
  timer.unref?.();
  const timeoutSignal = timeout.signal;
  const combined = signal ? AbortSignal.any([signal, timeoutSignal]) : timeoutSignal;
  await Promise.all(jobs.map(async (j) => {
    let res;
    const started = performance.now();
    try {
      res = await q.select(j.vs.matchers, { start: j.start, end: j.end, step: ev.start === ev.end ? 0 : ev.interval, func: j.func, range: j.range || undefined }, combined);
    } catch (err) {
      if (err instanceof PromQLError) throw err;
      if (combined.aborted) ev.checkAbort('query preparation');
      if (timeoutSignal.aborted) throw new QueryTimeoutError('query preparation');
      throw new StorageError(`error selecting series: ${(err as Error)?.message ?? String(err)}`, err);
    }
    for (const w of res.warnings ?? []) ev.shared.warnings.add(w);
    const raws = res.series.map((s: SeriesData) => toRaw(s));
    if (statsOnly.has(j.vs)) for (const r of raws) if (r.h) r.h = histogramStats(r.h);
    ev.shared.data.set(j.vs, raws);
    ev.shared.analysis?.select(j.vs, performance.now() - started, raws.reduce((n, r) => n + r.n, 0));
    ev.shared.seriesEstimate += res.series.length;
  }));
  clearTimeout(timer);
  if (timeoutSignal.aborted) throw new QueryTimeoutError('query preparation');
  ev.checkAbort('query preparation');
}

export function resolveAt(ev: Evaluator, n: VectorSelector | SubqueryExpr): void {
  if (n.atModifier === 'start') n.at = ev.o.queryStart;
  else if (n.atModifier === 'end') n.at = ev.o.queryEnd;
  if (n.atModifier) n.atModifier = null;
}

export function evalVectorSelector(ev: Evaluator, vs: VectorSelector, withTimestamps: boolean): Matrix {
  const raws = ev.shared.data.get(vs) ?? [];
  const out: Matrix = [];
  const lookback = ev.o.lookback;
  let total = 0;
  // Counted while materialising: the query fails with the max-samples error before holding more.
  const budget = ev.o.maxSamples - ev.shared.samples.current;
  // One step (an instant query): the sample found by binary search, and the point's arrays made
  // with it (a push onto [] reserves 17 slots, per series).
  const single = ev.start === ev.end;
  for (const r of raws) {
    ev.tick();
    if (single && (r.h === undefined || withTimestamps)) {
      const ref = (vs.at ?? ev.start) - vs.offset;
      const j = upperBound(r.t, r.n, ref) - 1;
      if (j < 0 || r.t[j]! <= ref - lookback || (r.stale && r.stale[j])) continue;
      if (total >= budget) throw new TooManySamplesError();
      total++;
      out.push({ metric: r.labels, t: [ev.start], v: [withTimestamps ? r.t[j]! / 1000 : r.v[j]!], dropName: r.dropName });
      continue;
    }
    const ts: number[] = [];
    const vals: number[] = [];
    const rh = r.h;
    let hs: (FloatHistogram | undefined)[] | undefined;
    let idx = 0; // first sample with t > refTime (for monotone steps)
    for (let step = ev.start; step <= ev.end; step += ev.interval) {
      const ref = (vs.at ?? step) - vs.offset;
      if (vs.at !== null) idx = 0;
      // advance idx to first sample > ref
      if (vs.at !== null) idx = upperBound(r.t, r.n, ref);
      else while (idx < r.n && r.t[idx]! <= ref) idx++;
      const j = idx - 1;
      if (j < 0) continue;
      const st = r.t[j]!;
      if (st <= ref - lookback) continue;
      if (r.stale && r.stale[j]) continue;
      if (total + ts.length >= budget) throw new TooManySamplesError();
      if (rh !== undefined && !withTimestamps) {
        const x = rh[j];
        if (x !== undefined) {
          (hs ??= [])[ts.length] = x;
          // The histogram's weight beyond the one sample counted below.
          total += histSampleWeight(x) - 1;
          if (total + ts.length >= budget) throw new TooManySamplesError();
        }
      }
      ts.push(step);
      vals.push(withTimestamps ? st / 1000 : r.v[j]!);
    }
    if (ts.length) {
      total += ts.length;
      if (hs) hs.length = ts.length;
      out.push(hs ? { metric: r.labels, t: ts, v: vals, h: hs, dropName: r.dropName } : { metric: r.labels, t: ts, v: vals, dropName: r.dropName });
    }
  }
  ev.addSamples(total);
  return out;
}

/** Raw series of a matrix selector or subquery, plus window parameters. */
export function rangeSource(ev: Evaluator, e: MatrixSelector | SubqueryExpr): RangeSource {
  if (e.type === 'MatrixSelector') {
    const raws = (ev.shared.data.get(e.vs) ?? []).map(withoutStale);
    return { raws, range: e.range, offset: e.vs.offset, at: e.vs.at };
  }
  const inner = subqueryEvaluator(ev, e);
  checkSteps(inner);
  const m = inner.evalMatrix(e.expr);
  // Inner results are final values: drop names now when not delayed (already done by inner evaluation).
  let total = 0;
  const raws: RawSeries[] = m.map((s) => {
    total += s.t.length;
    // Chunked inner results arrive as Float64Arrays already (driver.ts); new Float64Array(array)
    // copies natively where Float64Array.from would iterate (seconds for millions of samples).
    const t = (s.t as unknown) instanceof Float64Array ? (s.t as unknown as Float64Array) : new Float64Array(s.t);
    const v = (s.v as unknown) instanceof Float64Array ? (s.v as unknown as Float64Array) : new Float64Array(s.v);
    return { labels: s.metric, t, v, n: s.t.length, h: s.h && subqueryHints(s.h), stale: null, dropName: s.dropName };
  });
  ev.addSamples(total);
  return { raws, range: e.range, offset: e.offset, at: e.at };
}

/** A matrix selector / subquery evaluated as a query result (instant queries only). */
export function evalRangeInstant(ev: Evaluator, e: MatrixSelector | SubqueryExpr): Matrix {
  if (ev.start !== ev.end) {
    throw new ExecutionError('invalid expression type "range vector" for range query, must be Scalar or instant Vector');
  }
  const src = rangeSource(ev, e);
  const ref = (src.at ?? ev.start) - src.offset;
  const out: Matrix = [];
  for (const r of src.raws) {
    const lo = upperBound(r.t, r.n, ref - src.range);
    const hi = upperBound(r.t, r.n, ref);
    if (hi <= lo) continue;
    let weight = hi - lo;
    if (r.h) for (let i = lo; i < hi; i++) if (r.h[i] !== undefined) weight += histSampleWeight(r.h[i]!) - 1;
    if (ev.shared.samples.current + weight > ev.o.maxSamples) throw new TooManySamplesError();
    // Views of the window, no copy: readers of a Series only index t/v, and this value only becomes
    // an instant query's range-vector answer (a raw selection of millions of samples; copying them
    // in one go held the event loop and doubled the peak heap).
    const t = r.t.subarray(lo, hi) as unknown as number[];
    const v = r.v.subarray(lo, hi) as unknown as number[];
    ev.addSamples(weight);
    if (r.h) out.push({ metric: r.labels, t, v, h: r.h.slice(lo, hi), dropName: r.dropName });
    else out.push({ metric: r.labels, t, v, dropName: r.dropName });
  }
  return out;
}

/**
 * A subquery's histogram samples with 'reset'/'not_reset' hints turned into 'unknown' (as Prometheus
 * does): the subquery may skip the sample that reset or return it several times, so the functions
 * over it detect resets from the values, as for floats.
 */
function subqueryHints(h: (FloatHistogram | undefined)[]): (FloatHistogram | undefined)[] {
  return h.map((x) => {
    if (x === undefined || (x.counterResetHint !== 'reset' && x.counterResetHint !== 'not_reset')) return x;
    const c = Object.assign(Object.create(Object.getPrototypeOf(x) as object) as FloatHistogram, x);
    c.counterResetHint = 'unknown';
    return c;
  });
}

/**
 * Selectors whose histograms only feed histogram_count/sum/avg (no subquery, histogram_quantile,
 * histogram_fraction or trim operator above them): Prometheus decodes those with its
 * HistogramStatsIterator (detectHistogramStatsDecoding), and so does this engine, because that
 * iterator changes results: it keeps only schema, count and sum, and re-derives counter-reset hints.
 */
function histogramStatsSelectors(e: Expr): Set<VectorSelector> {
  const out = new Set<VectorSelector>();
  walk(e, (n, path) => {
    if (n.type !== 'VectorSelector') return;
    let skip = false;
    for (let i = path.length - 1; i >= 0; i--) {
      const p = path[i]!;
      if (p.type === 'SubqueryExpr') {
        skip = false;
        break;
      }
      if (p.type === 'Call') {
        if (p.func === 'histogram_count' || p.func === 'histogram_sum' || p.func === 'histogram_avg') skip = true;
        else if (p.func === 'histogram_quantile' || p.func === 'histogram_quantiles' || p.func === 'histogram_fraction') {
          skip = false;
          break;
        }
      }
      if (p.type === 'BinaryExpr' && ((p.op as string) === '</' || (p.op as string) === '>/')) {
        skip = false;
        break;
      }
    }
    if (skip) out.add(n);
  });
  return out;
}

/**
 * Prometheus HistogramStatsIterator over one series read in order: each histogram reduced to hint,
 * schema, count and sum; an 'unknown' hint becomes 'reset' / 'not_reset' by DetectReset against the
 * previous full histogram (the first sample stays 'unknown'); stale markers pass unchanged.
 */
function histogramStats(h: ReadonlyArray<FH | undefined>): (FH | undefined)[] {
  let last: FH | null = null;
  return h.map((cur) => {
    if (cur === undefined) return undefined;
    if (isStaleHistogram(cur)) return new FH({ counterResetHint: cur.counterResetHint, schema: cur.schema, count: cur.count, sum: cur.sum });
    let hint = cur.counterResetHint;
    if (hint === 'unknown' && last !== null) hint = cur.detectReset(last) ? 'reset' : 'not_reset';
    last = cur.copy();
    last.counterResetHint = hint;
    return new FH({ counterResetHint: hint, schema: cur.schema, count: cur.count, sum: cur.sum });
  });
}
