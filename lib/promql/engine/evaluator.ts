// The evaluator: the core loop over an expression tree (all steps at once, column-wise series) and
// the step helpers the operators and function kernels build on. Selectors and subqueries:
// selectors.ts; binary operators: binary.ts; aggregations: aggregate.ts; function calls: the table
// in ../functions/table.ts, kernel kinds in calls.ts.
import type { Call, Expr } from '../ast.ts';
import { lineCol, ExecutionError, QueryCanceledError, QueryTimeoutError, TooManySamplesError } from '../errors.ts';
import { type WindowCtx } from '../functions/common.ts';
import { FUNCTIONS } from '../functions/table.ts';
import { evalAggregate } from './aggregate.ts';
import { evaluate } from './driver.ts';
import { evalBinary } from './binary.ts';
import { evalRangeInstant, evalVectorSelector } from './selectors.ts';
import { checkDuplicates, dropMetricName, labelsKey, upperBound } from './helpers.ts';
import type { EvalOpts, Matrix, RangeSource, RawSeries, Sample, Series, Shared, Value, Vector } from './types.ts';
import type { Labels } from '../../labels/mod.ts';
import { hMul, type FloatHistogram } from './hist.ts';

export class Evaluator {
  start: number;
  end: number;
  interval: number;
  o: EvalOpts;
  shared: Shared;
  abortCounter = 0;

  constructor(o: EvalOpts, shared?: Shared) {
    this.o = o;
    this.start = o.start;
    this.end = o.end;
    this.interval = o.interval;
    this.shared = shared ?? {
      data: new Map(), warnings: new Set(), infos: new Set(), samples: { current: 0 },
      pre: new Map(), sliceStart: performance.now(), seriesEstimate: 0, infoPlans: new Map(),
    };
  }

  /** ' (line:col)' of a node, as Prometheus appends to annotations. */
  pos(n: Expr): string {
    const { line, col } = lineCol(this.o.src, n.pos.start);
    return ` (${line}:${col})`;
  }

  get warnings() {
    return this.shared.warnings;
  }
  get infos() {
    return this.shared.infos;
  }

  sub(start: number, end: number, interval: number): Evaluator {
    return new Evaluator({ ...this.o, start, end, interval }, this.shared);
  }

  checkAbort(where = 'expression evaluation'): void {
    const sig = this.o.signal;
    if (sig?.aborted) {
      const r = sig.reason as { name?: string } | undefined;
      if (r && r.name === 'TimeoutError') throw new QueryTimeoutError(where);
      throw new QueryCanceledError(where);
    }
    if (Date.now() > this.o.deadline) throw new QueryTimeoutError(where);
  }
  tick(): void {
    if ((++this.abortCounter & 1023) === 0) this.checkAbort();
  }

  addSamples(n: number): void {
    const s = this.shared.samples;
    s.current += n;
    if (s.current > this.o.maxSamples) throw new TooManySamplesError();
  }

  numSteps(): number {
    return Math.floor((this.end - this.start) / this.interval) + 1;
  }

  // --- evaluation ----------------------------------------------------------------------------
  /** Evaluates the whole query through the asynchronous driver (engine/driver.ts). */
  async evalTop(e: Expr): Promise<Value> {
    const v = await evaluate(this, e);
    if ('str' in v) return v;
    if (this.o.delayed) return this.cleanupNames(v);
    return v;
  }

  cleanupNames(mat: Matrix): Matrix {
    for (const s of mat) if (s.dropName) s.metric = dropMetricName(s.metric);
    return this.mergeSameLabels(mat);
  }

  mergeSameLabels(mat: Matrix): Matrix {
    const byKey = new Map<string, Series[]>();
    for (const s of mat) {
      const k = labelsKey(s.metric);
      const l = byKey.get(k);
      if (l) l.push(s);
      else byKey.set(k, [s]);
    }
    if (byKey.size === mat.length) return mat;
    const out: Matrix = [];
    for (const group of byKey.values()) {
      if (group.length === 1) {
        out.push(group[0]!);
        continue;
      }
      const pts: [number, number, FloatHistogram | undefined][] = [];
      let anyH = false;
      for (const s of group) {
        for (let i = 0; i < s.t.length; i++) {
          const h = s.h?.[i];
          if (h) anyH = true;
          pts.push([s.t[i]!, s.v[i]!, h]);
        }
      }
      pts.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < pts.length; i++) {
        if (pts[i]![0] === pts[i - 1]![0]) throw new ExecutionError('vector cannot contain metrics with the same labelset');
      }
      const merged: Series = { metric: group[0]!.metric, t: pts.map((p) => p[0]), v: pts.map((p) => p[1]), dropName: group[0]!.dropName };
      if (anyH) merged.h = pts.map((p) => p[2]);
      out.push(merged);
    }
    return out;
  }

  evalMatrix(e: Expr): Matrix {
    const v = this.eval(e);
    if ('str' in v) throw new ExecutionError('unexpected string value');
    return v;
  }

  /** Hands a computed operand to the kernel that will evaluate e on this evaluator's step grid. */
  setPre(e: Expr, val: Value): void {
    this.shared.pre.set(e, { start: this.start, end: this.end, interval: this.interval, val });
  }

  eval(e: Expr): Value {
    const p = this.shared.pre.get(e);
    if (p !== undefined) {
      this.shared.pre.delete(e);
      if (p.start === this.start && p.end === this.end && p.interval === this.interval) return p.val;
    }
    this.checkAbort();
    switch (e.type) {
      case 'NumberLiteral': {
        const n = this.numSteps();
        // Counted before the arrays exist (a [1y:1ms] subquery must not attempt 31e9-element arrays).
        if (this.shared.samples.current + n > this.o.maxSamples) throw new TooManySamplesError();
        const t: number[] = new Array(n);
        const v: number[] = new Array(n);
        for (let i = 0; i < n; i++) {
          t[i] = this.start + i * this.interval;
          v[i] = e.val;
        }
        return [{ metric: [], t, v, dropName: false }];
      }
      case 'StringLiteral':
        return { str: e.val };
      case 'ParenExpr':
        return this.eval(e.expr);
      case 'VectorSelector':
        return evalVectorSelector(this, e, false);
      case 'MatrixSelector':
        return evalRangeInstant(this, e);
      case 'SubqueryExpr':
        return evalRangeInstant(this, e);
      case 'UnaryExpr': {
        const m = this.evalMatrix(e.expr);
        if (e.op === '-') {
          for (const s of m) {
            if (!this.o.delayed) s.metric = dropMetricName(s.metric);
            s.dropName = true;
            for (let i = 0; i < s.v.length; i++) s.v[i] = -s.v[i]!;
            const h = s.h;
            if (h) for (let i = 0; i < h.length; i++) if (h[i]) h[i] = hMul(h[i]!.copy(), -1);
          }
          if (!this.o.delayed) return this.mergeSameLabels(m);
        }
        return m;
      }
      case 'BinaryExpr':
        return evalBinary(this, e);
      case 'AggregateExpr':
        return evalAggregate(this, e);
      case 'Call':
        return this.evalCall(e);
    }
  }

  /** Instant-vector selection at every step. withTimestamps: value is the sample time in seconds. */
  // --- per-step evaluation helper ---------------------------------------------------------------
  /**
   * Evaluates fn at every step over the per-step vectors of the argument matrices.
   * For instant queries the function's output order is kept (sort(), topk()).
   */
  rangeEval(args: Matrix[], fn: (vecs: Vector[], ts: number) => Vector): Matrix {
    const cursors = args.map((m) => new Int32Array(m.length));
    const vecs: Vector[] = args.map(() => []);
    const out = new Map<string, Series & { lastT: number }>();
    const byObj = new Map<Labels, Series & { lastT: number }>();
    const order: (Series & { lastT: number })[] = [];
    for (let ts = this.start; ts <= this.end; ts += this.interval) {
      this.tick();
      for (let a = 0; a < args.length; a++) {
        const m = args[a]!;
        const cur = cursors[a]!;
        const vec: Vector = [];
        for (let si = 0; si < m.length; si++) {
          const s = m[si]!;
          const c = cur[si]!;
          if (c < s.t.length && s.t[c] === ts) {
            const h = s.h?.[c];
            vec.push(h ? { metric: s.metric, t: ts, v: 0, h, dropName: s.dropName } : { metric: s.metric, t: ts, v: s.v[c]!, dropName: s.dropName });
            cur[si] = c + 1;
          }
        }
        vecs[a] = vec;
      }
      const res = fn(vecs, ts);
      if (this.start === this.end) {
        if (!this.o.delayed) checkDuplicates(res);
        return res.map((s) => (s.h ? { metric: s.metric, t: [ts], v: [0], h: [s.h], dropName: s.dropName } : { metric: s.metric, t: [ts], v: [s.v], dropName: s.dropName }));
      }
      for (const s of res) {
        let ser = byObj.get(s.metric);
        if (ser === undefined) {
          const k = labelsKey(s.metric);
          ser = out.get(k);
          if (!ser) {
            ser = { metric: s.metric, t: [], v: [], dropName: s.dropName, lastT: NaN };
            out.set(k, ser);
            order.push(ser);
          }
          byObj.set(s.metric, ser);
        }
        if (ser.lastT === ts) throw new ExecutionError('vector cannot contain metrics with the same labelset');
        ser.lastT = ts;
        if (s.h) (ser.h ??= [])[ser.t.length] = s.h;
        ser.t.push(ts);
        ser.v.push(s.v);
      }
    }
    for (const ser of order) if (ser.h) ser.h.length = ser.t.length;
    return order;
  }

  /** Per-step scalar values of a scalar-typed expression. */
  scalarSteps(e: Expr): Float64Array {
    const n = this.numSteps();
    const out = new Float64Array(n).fill(NaN);
    const m = this.evalMatrix(e);
    const s = m[0];
    if (s) for (let i = 0; i < s.t.length; i++) out[Math.round((s.t[i]! - this.start) / this.interval)] = s.v[i]!;
    return out;
  }

  stepIndex(ts: number): number {
    return Math.round((ts - this.start) / this.interval);
  }

  // --- function calls: one table (functions/table.ts), each entry carries its kernel ---------------
  evalCall(e: Call): Matrix {
    const def = FUNCTIONS.get(e.func);
    if (!def) throw new ExecutionError(`function ${JSON.stringify(e.func)} is not supported`);
    return def.kernel(this, e);
  }

  /** A sample with a new value; the metric name goes (now, or at the end with delayed name removal). */
mapName(s: Sample, v: number): Sample {
    return { metric: this.o.delayed ? s.metric : dropMetricName(s.metric), t: s.t, v, dropName: true };
  }

  /**
   * Calls cb for every (series, step) window of a matrix selector / subquery, series by series.
   * Windows are left-open: (ref - offset - range, ref - offset].
   */
  forEachWindow(
    src: RangeSource,
    cb: (r: RawSeries, lo: number, hi: number, ctx: WindowCtx, stepIdx: number) => void,
  ): void {
    const ctx: WindowCtx = { ts: 0, rangeStart: 0, rangeEnd: 0, range: src.range, scalars: [] };
    const n = this.numSteps();
    const maxS = this.o.maxSamples;
    const samples = this.shared.samples;
    for (const r of src.raws) {
      this.tick();
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < n; i++) {
        const step = this.start + i * this.interval;
        const ref = src.at ?? step;
        const end = ref - src.offset;
        const start = end - src.range;
        if (src.at !== null) {
          lo = upperBound(r.t, r.n, start);
          hi = upperBound(r.t, r.n, end);
        } else {
          while (lo < r.n && r.t[lo]! <= start) lo++;
          if (hi < lo) hi = lo;
          while (hi < r.n && r.t[hi]! <= end) hi++;
        }
        if (samples.current + (hi - lo) > maxS) throw new TooManySamplesError();
        ctx.ts = step;
        ctx.rangeStart = start;
        ctx.rangeEnd = end;
        cb(r, lo, hi, ctx, i);
      }
      // ensure a callback for series with no steps (to emit the series object)
      if (n === 0) cb(r, 0, 0, ctx, 0);
    }
  }
}
