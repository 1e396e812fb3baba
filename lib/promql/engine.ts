// PromQL evaluation with Prometheus 3.x float semantics. Storage is read once up front (one select per
// selector, through Queryable), then the expression is evaluated synchronously over all steps.
import type { AggregateExpr, BinaryExpr, Call, Expr, MatrixSelector, SubqueryExpr, VectorMatching, VectorSelector } from './ast.ts';
import { isComparison, isSetOp } from './ast.ts';
import {
  lineCol, BadDataError, ExecutionError, PromQLError, QueryCanceledError, QueryTimeoutError, StorageError, TooManySamplesError,
} from './errors.ts';
import { formatFloat } from './format.ts';
import { bucketFraction, bucketQuantile, kahanInc, lessNaNFirst, quantileOf, resetPrefix, WINDOW_FUNCS, type Bucket, type WindowCtx } from './functions.ts';
import { parseExpr, typeOf } from './parser.ts';
import type { Queryable, SeriesData } from './queryable.ts';
import {
  compareLabels, compileRegex, getLabel, labelsKey as labelsKeyRaw, METRIC_NAME, type Label, type Labels,
} from '../labels/mod.ts';

const keyCache = new WeakMap<Labels, string>();
/** labelsKey with a per-object cache (label sets are shared between a series and its per-step samples). */
function labelsKey(ls: Labels): string {
  let k = keyCache.get(ls);
  if (k === undefined) {
    k = labelsKeyRaw(ls);
    keyCache.set(ls, k);
  }
  return k;
}

// ---------------------------------------------------------------------------------------------
// Public result types (1:1 with the Prometheus HTTP API JSON)

export interface Point {
  t: number;
  v: number;
}
export interface MatrixSeries {
  metric: Labels;
  values: Point[];
}
export interface VectorSample {
  metric: Labels;
  value: Point;
}
export type QueryResult =
  | { resultType: 'matrix'; result: MatrixSeries[]; warnings: string[]; infos: string[] }
  | { resultType: 'vector'; result: VectorSample[]; warnings: string[]; infos: string[] }
  | { resultType: 'scalar'; result: Point; warnings: string[]; infos: string[] }
  | { resultType: 'string'; result: { t: number; v: string }; warnings: string[]; infos: string[] };

export interface EngineOptions {
  /** Lookback delta in ms (default 5 minutes). */
  lookbackDelta?: number;
  /** Maximum samples held in memory by one query (default 50,000,000). */
  maxSamples?: number;
  /** Per-query timeout in ms (default 2 minutes). */
  timeoutMs?: number;
  /** Default subquery step when `[5m:]` has none (default 1 minute). */
  defaultSubqueryStepMs?: number;
  /** Keep __name__ until the end of evaluation (Prometheus --enable-feature=promql-delayed-name-removal). Default false. */
  delayedNameRemoval?: boolean;
  /** Allow experimental functions (default true). */
  experimentalFunctions?: boolean;
}

export interface QueryOptions {
  signal?: AbortSignal;
  lookbackDelta?: number;
  /** Overrides the engine's max samples for this query. */
  maxSamples?: number;
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Internal values

interface Series {
  metric: Labels;
  t: number[];
  v: number[];
  dropName: boolean;
}
type Matrix = Series[];
interface Sample {
  metric: Labels;
  t: number;
  v: number;
  dropName: boolean;
}
type Vector = Sample[];
type Value = Matrix | { str: string };

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** Marks whether sample i of v is a Prometheus staleness marker (exact NaN bit pattern). */
function staleMask(v: Float64Array, n: number): Uint8Array | null {
  let mask: Uint8Array | null = null;
  const u = new Uint32Array(v.buffer, v.byteOffset, n * 2);
  for (let i = 0; i < n; i++) {
    if (u[2 * i + 1] === STALE_HI && u[2 * i] === STALE_LO) {
      if (!mask) mask = new Uint8Array(n);
      mask[i] = 1;
    }
  }
  return mask;
}

/** Raw series prepared for evaluation: sorted samples plus a staleness mask. */
interface BinopState {
  ordOf: Map<Labels, number>;
  sigOrd: Map<string, number>;
  stamp: number;
  rStamp: number[];
  rSample: (Sample | null)[];
  mStamp: number[];
}

interface RawSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  n: number;
  stale: Uint8Array | null;
  dropName: boolean;
}

function dropMetricName(ls: Labels): Labels {
  for (let i = 0; i < ls.length; i++) {
    if (ls[i]!.name === METRIC_NAME) return ls.slice(0, i).concat(ls.slice(i + 1));
  }
  return ls;
}

function setLabel(ls: Labels, name: string, value: string): Labels {
  const out: Label[] = [];
  let done = false;
  for (const l of ls) {
    if (!done && l.name >= name) {
      if (l.name === name) {
        if (value !== '') out.push({ name, value });
        done = true;
        continue;
      }
      if (value !== '') out.push({ name, value });
      done = true;
    }
    out.push(l);
  }
  if (!done && value !== '') out.push({ name, value });
  return out;
}

function keepLabels(ls: Labels, names: Set<string>): Labels {
  return ls.filter((l) => names.has(l.name));
}
function delLabels(ls: Labels, names: Set<string>): Labels {
  return ls.filter((l) => !names.has(l.name));
}

const AT_UNSAFE = new Set(['time', 'timestamp']);
void AT_UNSAFE;

// ---------------------------------------------------------------------------------------------
// Engine

export class Engine {
  readonly lookbackDelta: number;
  readonly maxSamples: number;
  readonly timeoutMs: number;
  readonly defaultSubqueryStepMs: number;
  readonly delayedNameRemoval: boolean;
  readonly experimentalFunctions: boolean;

  constructor(opts: EngineOptions = {}) {
    this.lookbackDelta = opts.lookbackDelta ?? 5 * 60_000;
    this.maxSamples = opts.maxSamples ?? 50_000_000;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.defaultSubqueryStepMs = opts.defaultSubqueryStepMs ?? 60_000;
    this.delayedNameRemoval = opts.delayedNameRemoval ?? false;
    this.experimentalFunctions = opts.experimentalFunctions ?? true;
  }

  parse(expr: string | Expr): Expr {
    return typeof expr === 'string' ? parseExpr(expr, { experimentalFunctions: this.experimentalFunctions }) : expr;
  }

  async instantQuery(q: Queryable, expr: string | Expr, timeMs: number, opts: QueryOptions = {}): Promise<QueryResult> {
    const e = this.parse(expr);
    return this.exec(q, e, timeMs, timeMs, 0, opts, typeof expr === 'string' ? expr : '');
  }

  async rangeQuery(q: Queryable, expr: string | Expr, startMs: number, endMs: number, stepMs: number, opts: QueryOptions = {}): Promise<QueryResult> {
    if (!(stepMs > 0)) throw new BadDataError('zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (endMs < startMs) throw new BadDataError('end timestamp must not be before start time');
    const e = this.parse(expr);
    const t = typeOf(e);
    if (t !== 'scalar' && t !== 'vector') {
      throw new BadDataError(`invalid expression type "${t === 'matrix' ? 'range vector' : t}" for range query, must be Scalar or instant Vector`);
    }
    return this.exec(q, e, startMs, endMs, stepMs, opts, typeof expr === 'string' ? expr : '');
  }

  private async exec(q: Queryable, e: Expr, start: number, end: number, step: number, opts: QueryOptions, src: string): Promise<QueryResult> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const ev = new Evaluator({
      start, end, interval: step === 0 ? 1 : step, lookback: opts.lookbackDelta ?? this.lookbackDelta,
      maxSamples: opts.maxSamples ?? this.maxSamples, deadline, signal: opts.signal,
      subqStep: this.defaultSubqueryStepMs, delayed: this.delayedNameRemoval, queryStart: start, queryEnd: end, src,
    });
    ev.checkAbort('query preparation');
    await ev.preload(q, e, timeoutMs);
    const val = ev.evalTop(e);
    const warnings = [...ev.warnings];
    const infos = [...ev.infos];
    const type = typeOf(e);
    if ('str' in val) return { resultType: 'string', result: { t: start, v: val.str }, warnings, infos };
    if (step === 0) {
      if (type === 'scalar') {
        const s = val[0];
        return { resultType: 'scalar', result: { t: start, v: s && s.v.length ? s.v[0]! : NaN }, warnings, infos };
      }
      if (type === 'matrix') {
        return {
          resultType: 'matrix',
          result: val.map((s) => ({ metric: s.metric, values: s.t.map((t, i) => ({ t, v: s.v[i]! })) })),
          warnings, infos,
        };
      }
      const out: VectorSample[] = [];
      for (const s of val) if (s.t.length) out.push({ metric: s.metric, value: { t: start, v: s.v[0]! } });
      return { resultType: 'vector', result: out, warnings, infos };
    }
    const mat = val.filter((s) => s.t.length > 0).sort((a, b) => compareLabels(a.metric, b.metric));
    return { resultType: 'matrix', result: mat.map(toMatrixSeries), warnings, infos };
  }
}

interface EvalOpts {
  start: number;
  end: number;
  interval: number;
  lookback: number;
  maxSamples: number;
  deadline: number;
  signal?: AbortSignal;
  subqStep: number;
  delayed: boolean;
  queryStart: number;
  queryEnd: number;
  src: string;
}

interface Shared {
  data: Map<VectorSelector, RawSeries[]>;
  warnings: Set<string>;
  infos: Set<string>;
  samples: { current: number };
}

class Evaluator {
  start: number;
  end: number;
  interval: number;
  o: EvalOpts;
  shared: Shared;
  private abortCounter = 0;

  constructor(o: EvalOpts, shared?: Shared) {
    this.o = o;
    this.start = o.start;
    this.end = o.end;
    this.interval = o.interval;
    this.shared = shared ?? { data: new Map(), warnings: new Set(), infos: new Set(), samples: { current: 0 } };
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

  private sub(start: number, end: number, interval: number): Evaluator {
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
  private tick(): void {
    if ((++this.abortCounter & 1023) === 0) this.checkAbort();
  }

  private addSamples(n: number): void {
    const s = this.shared.samples;
    s.current += n;
    if (s.current > this.o.maxSamples) throw new TooManySamplesError();
  }

  private numSteps(): number {
    return Math.floor((this.end - this.start) / this.interval) + 1;
  }

  // --- preload: one select per selector, with the time range it needs ------------------------
  async preload(q: Queryable, e: Expr, timeoutMs: number): Promise<void> {
    const jobs: { vs: VectorSelector; start: number; end: number; range: number; func?: string }[] = [];
    const visit = (n: Expr, start: number, end: number, func?: string): void => {
      switch (n.type) {
        case 'VectorSelector': {
          this.resolveAt(n);
          let s = n.at ?? start;
          let en = n.at ?? end;
          s -= n.offset + this.o.lookback;
          en -= n.offset;
          jobs.push({ vs: n, start: s, end: en, range: 0, func });
          return;
        }
        case 'MatrixSelector': {
          const vs = n.vs;
          this.resolveAt(vs);
          let s = vs.at ?? start;
          let en = vs.at ?? end;
          s -= vs.offset + n.range;
          en -= vs.offset;
          jobs.push({ vs, start: s, end: en, range: n.range, func });
          return;
        }
        case 'SubqueryExpr': {
          this.resolveAt(n);
          const s = (n.at ?? start) - n.offset - n.range;
          const en = (n.at ?? end) - n.offset;
          visit(n.expr, s, en);
          return;
        }
        case 'Call':
          for (const a of n.args) visit(a, start, end, n.func);
          return;
        case 'AggregateExpr':
          if (n.param) visit(n.param, start, end);
          visit(n.expr, start, end);
          return;
        case 'BinaryExpr':
          visit(n.lhs, start, end);
          visit(n.rhs, start, end);
          return;
        case 'UnaryExpr':
        case 'ParenExpr':
          visit(n.expr, start, end, func);
          return;
        default:
          return;
      }
    };
    visit(e, this.start, this.end);
    const signal = this.o.signal;
    const timeoutSignal = AbortSignal.timeout(Math.max(1, timeoutMs));
    const combined = signal ? AbortSignal.any([signal, timeoutSignal]) : timeoutSignal;
    await Promise.all(jobs.map(async (j) => {
      let res;
      try {
        res = await q.select(j.vs.matchers, { start: j.start, end: j.end, step: this.start === this.end ? 0 : this.interval, func: j.func, range: j.range || undefined }, combined);
      } catch (err) {
        if (err instanceof PromQLError) throw err;
        if (combined.aborted) this.checkAbort('query preparation');
        if (timeoutSignal.aborted) throw new QueryTimeoutError('query preparation');
        throw new StorageError(`error selecting series: ${(err as Error)?.message ?? String(err)}`, err);
      }
      for (const w of res.warnings ?? []) this.shared.warnings.add(w);
      this.shared.data.set(j.vs, res.series.map((s: SeriesData) => toRaw(s)));
    }));
    if (timeoutSignal.aborted) throw new QueryTimeoutError('query preparation');
    this.checkAbort('query preparation');
  }

  private resolveAt(n: VectorSelector | SubqueryExpr): void {
    if (n.atModifier === 'start') n.at = this.o.queryStart;
    else if (n.atModifier === 'end') n.at = this.o.queryEnd;
    if (n.atModifier) n.atModifier = null;
  }

  // --- evaluation ----------------------------------------------------------------------------
  evalTop(e: Expr): Value {
    const v = this.eval(e);
    if ('str' in v) return v;
    if (this.o.delayed) return this.cleanupNames(v);
    return v;
  }

  private cleanupNames(mat: Matrix): Matrix {
    for (const s of mat) if (s.dropName) s.metric = dropMetricName(s.metric);
    return this.mergeSameLabels(mat);
  }

  private mergeSameLabels(mat: Matrix): Matrix {
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
      const pts: [number, number][] = [];
      for (const s of group) for (let i = 0; i < s.t.length; i++) pts.push([s.t[i]!, s.v[i]!]);
      pts.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < pts.length; i++) {
        if (pts[i]![0] === pts[i - 1]![0]) throw new ExecutionError('vector cannot contain metrics with the same labelset');
      }
      out.push({ metric: group[0]!.metric, t: pts.map((p) => p[0]), v: pts.map((p) => p[1]), dropName: group[0]!.dropName });
    }
    return out;
  }

  private evalMatrix(e: Expr): Matrix {
    const v = this.eval(e);
    if ('str' in v) throw new ExecutionError('unexpected string value');
    return v;
  }

  eval(e: Expr): Value {
    this.checkAbort();
    switch (e.type) {
      case 'NumberLiteral': {
        const n = this.numSteps();
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
        return this.evalVectorSelector(e, false);
      case 'MatrixSelector':
        return this.evalRangeInstant(e);
      case 'SubqueryExpr':
        return this.evalRangeInstant(e);
      case 'UnaryExpr': {
        const m = this.evalMatrix(e.expr);
        if (e.op === '-') {
          for (const s of m) {
            if (!this.o.delayed) s.metric = dropMetricName(s.metric);
            s.dropName = true;
            for (let i = 0; i < s.v.length; i++) s.v[i] = -s.v[i]!;
          }
          if (!this.o.delayed) return this.mergeSameLabels(m);
        }
        return m;
      }
      case 'BinaryExpr':
        return this.evalBinary(e);
      case 'AggregateExpr':
        return this.evalAggregate(e);
      case 'Call':
        return this.evalCall(e);
    }
  }

  /** Instant-vector selection at every step. withTimestamps: value is the sample time in seconds. */
  private evalVectorSelector(vs: VectorSelector, withTimestamps: boolean): Matrix {
    const raws = this.shared.data.get(vs) ?? [];
    const out: Matrix = [];
    const lookback = this.o.lookback;
    let total = 0;
    for (const r of raws) {
      this.tick();
      const ts: number[] = [];
      const vals: number[] = [];
      let idx = 0; // first sample with t > refTime (for monotone steps)
      for (let step = this.start; step <= this.end; step += this.interval) {
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
        ts.push(step);
        vals.push(withTimestamps ? st / 1000 : r.v[j]!);
      }
      if (ts.length) {
        total += ts.length;
        out.push({ metric: r.labels, t: ts, v: vals, dropName: r.dropName });
      }
    }
    this.addSamples(total);
    return out;
  }

  /** Raw series of a matrix selector or subquery, plus window parameters. */
  private rangeSource(e: MatrixSelector | SubqueryExpr): { raws: RawSeries[]; range: number; offset: number; at: number | null } {
    if (e.type === 'MatrixSelector') {
      const raws = (this.shared.data.get(e.vs) ?? []).map(withoutStale);
      return { raws, range: e.range, offset: e.vs.offset, at: e.vs.at };
    }
    const step = e.step || this.o.subqStep;
    const refStart = (e.at ?? this.start) - e.offset;
    const refEnd = (e.at ?? this.end) - e.offset;
    const lo = refStart - e.range;
    let newStart = step * Math.trunc(lo / step);
    if (newStart <= lo) newStart += step;
    const inner = this.sub(newStart, refEnd, step);
    const m = inner.evalMatrix(e.expr);
    // Inner results are final values: drop names now when not delayed (already done by inner evaluation).
    let total = 0;
    const raws: RawSeries[] = m.map((s) => {
      total += s.t.length;
      return { labels: s.metric, t: Float64Array.from(s.t), v: Float64Array.from(s.v), n: s.t.length, stale: null, dropName: s.dropName };
    });
    this.addSamples(total);
    return { raws, range: e.range, offset: e.offset, at: e.at };
  }

  /** A matrix selector / subquery evaluated as a query result (instant queries only). */
  private evalRangeInstant(e: MatrixSelector | SubqueryExpr): Matrix {
    if (this.start !== this.end) {
      throw new ExecutionError('invalid expression type "range vector" for range query, must be Scalar or instant Vector');
    }
    const src = this.rangeSource(e);
    const ref = (src.at ?? this.start) - src.offset;
    const out: Matrix = [];
    for (const r of src.raws) {
      const lo = upperBound(r.t, r.n, ref - src.range);
      const hi = upperBound(r.t, r.n, ref);
      if (hi <= lo) continue;
      const t: number[] = [];
      const v: number[] = [];
      for (let i = lo; i < hi; i++) {
        t.push(r.t[i]!);
        v.push(r.v[i]!);
      }
      this.addSamples(t.length);
      out.push({ metric: r.labels, t, v, dropName: r.dropName });
    }
    return out;
  }

  // --- per-step evaluation helper ---------------------------------------------------------------
  /**
   * Evaluates fn at every step over the per-step vectors of the argument matrices.
   * For instant queries the function's output order is kept (sort(), topk()).
   */
  private rangeEval(args: Matrix[], fn: (vecs: Vector[], ts: number) => Vector): Matrix {
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
            vec.push({ metric: s.metric, t: ts, v: s.v[c]!, dropName: s.dropName });
            cur[si] = c + 1;
          }
        }
        vecs[a] = vec;
      }
      const res = fn(vecs, ts);
      if (this.start === this.end) {
        if (!this.o.delayed) checkDuplicates(res);
        return res.map((s) => ({ metric: s.metric, t: [ts], v: [s.v], dropName: s.dropName }));
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
        ser.t.push(ts);
        ser.v.push(s.v);
      }
    }
    return order;
  }

  /** Per-step scalar values of a scalar-typed expression. */
  private scalarSteps(e: Expr): Float64Array {
    const n = this.numSteps();
    const out = new Float64Array(n).fill(NaN);
    const m = this.evalMatrix(e);
    const s = m[0];
    if (s) for (let i = 0; i < s.t.length; i++) out[Math.round((s.t[i]! - this.start) / this.interval)] = s.v[i]!;
    return out;
  }

  private stepIndex(ts: number): number {
    return Math.round((ts - this.start) / this.interval);
  }

  // --- binary operators ---------------------------------------------------------------------------
  private evalBinary(e: BinaryExpr): Matrix {
    const lt = typeOf(e.lhs);
    const rt = typeOf(e.rhs);
    const op = e.op;
    if (lt === 'scalar' && rt === 'scalar') {
      const l = this.scalarSteps(e.lhs);
      const r = this.scalarSteps(e.rhs);
      const n = this.numSteps();
      const t: number[] = [];
      const v: number[] = [];
      for (let i = 0; i < n; i++) {
        t.push(this.start + i * this.interval);
        v.push(scalarBinop(op, l[i]!, r[i]!));
      }
      return [{ metric: [], t, v, dropName: false }];
    }
    if (lt === 'vector' && rt === 'vector') {
      const lm = this.evalMatrix(e.lhs);
      const rm = this.evalMatrix(e.rhs);
      const matching = e.matching!;
      const sigL = signatureFn(matching);
      if (op === 'and' || op === 'or' || op === 'unless') {
        return this.rangeEval([lm, rm], ([l, r]) => vectorSetOp(op, l!, r!, sigL));
      }
      const fast = this.binopOneToOneColumns(e, lm, rm, matching, sigL);
      if (fast) return fast;
      const cache = new Map<Labels, Map<Labels, Labels>>();
      const st: BinopState = { ordOf: new Map(), sigOrd: new Map(), stamp: 0, rStamp: [], rSample: [], mStamp: [] };
      return this.rangeEval([lm, rm], ([l, r]) => this.vectorBinop(e, l!, r!, matching, sigL, cache, st));
    }
    // vector / scalar
    const swap = lt === 'scalar';
    const vm = this.evalMatrix(swap ? e.rhs : e.lhs);
    const sc = this.scalarSteps(swap ? e.lhs : e.rhs);
    const changes = changesSchema(op);
    const dropped = new Map<Labels, Labels>();
    const drop = (ls: Labels): Labels => {
      let d = dropped.get(ls);
      if (!d) {
        d = dropMetricName(ls);
        dropped.set(ls, d);
      }
      return d;
    };
    // Column-wise: every point of every series against the scalar at its step.
    {
      const out: Matrix = [];
      const start = this.start, interval = this.interval;
      const isCmp = isComparison(op);
      for (const s of vm) {
        this.tick();
        const t: number[] = [];
        const v: number[] = [];
        for (let j = 0; j < s.t.length; j++) {
          const ts = s.t[j]!;
          const rv = sc[Math.round((ts - start) / interval)]!;
          let lf = s.v[j]!, rf = rv;
          if (swap) [lf, rf] = [rf, lf];
          let [val, keep] = vectorElemBinop(op, lf, rf);
          if (isCmp && swap) val = rf;
          if (e.returnBool) {
            val = keep ? 1 : 0;
            keep = true;
          }
          if (!keep) continue;
          t.push(ts);
          v.push(val);
        }
        if (!t.length) continue;
        let metric = s.metric;
        let dropName = s.dropName;
        if (changes || e.returnBool) {
          if (!this.o.delayed) metric = drop(metric);
          dropName = true;
        }
        out.push({ metric, t, v, dropName });
      }
      if (this.start === this.end) {
        if (!this.o.delayed && hasDuplicateLabels(out)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
        return out;
      }
      return hasDuplicateLabels(out) ? this.mergeSameLabels(out) : out;
    }
    return this.rangeEval([vm], ([vec], ts) => {
      const rv = sc[this.stepIndex(ts)]!;
      const out: Vector = [];
      for (const s of vec!) {
        let lf = s.v, rf = rv;
        if (swap) [lf, rf] = [rf, lf];
        let [val, keep] = vectorElemBinop(op, lf, rf);
        if (isComparison(op) && swap) val = rf;
        if (e.returnBool) {
          val = keep ? 1 : 0;
          keep = true;
        }
        if (!keep) continue;
        let metric = s.metric;
        let dropName = s.dropName;
        if (changes || e.returnBool) {
          if (!this.o.delayed) metric = drop(metric);
          dropName = true;
        }
        out.push({ metric, t: ts, v: val, dropName });
      }
      return out;
    });
  }

  /**
   * One-to-one arithmetic/comparison when the match signatures are unique on both sides (so no
   * per-step matching errors are possible): a merge join of each matched series pair. Returns null
   * when the general per-step path is needed.
   */
  private binopOneToOneColumns(e: BinaryExpr, lm: Matrix, rm: Matrix, matching: VectorMatching, sig: (l: Labels) => string): Matrix | null {
    if (matching.card !== 'one-to-one') return null;
    const rIdx = new Map<string, number>();
    for (let j = 0; j < rm.length; j++) {
      const k = sig(rm[j]!.metric);
      if (rIdx.has(k)) return null;
      rIdx.set(k, j);
    }
    const seenL = new Set<string>();
    const lSig: string[] = [];
    for (const s of lm) {
      const k = sig(s.metric);
      if (seenL.has(k)) return null;
      seenL.add(k);
      lSig.push(k);
    }
    const op = e.op;
    const matchSet = new Set(matching.matchingLabels);
    const dropName = !this.o.delayed && e.returnBool;
    const out: Matrix = [];
    for (let i = 0; i < lm.length; i++) {
      this.tick();
      const j = rIdx.get(lSig[i]!);
      if (j === undefined) continue;
      const ls = lm[i]!, rs = rm[j]!;
      const t: number[] = [];
      const v: number[] = [];
      let a = 0, b = 0;
      const lt = ls.t, rt = rs.t;
      while (a < lt.length && b < rt.length) {
        const ta = lt[a]!, tb = rt[b]!;
        if (ta < tb) { a++; continue; }
        if (tb < ta) { b++; continue; }
        let [val, keep] = vectorElemBinop(op, ls.v[a]!, rs.v[b]!);
        if (e.returnBool) val = keep ? 1 : 0;
        if (keep || e.returnBool) {
          t.push(ta);
          v.push(val);
        }
        a++;
        b++;
      }
      if (!t.length) continue;
      let metric = ls.metric;
      if (dropName || changesSchema(op)) metric = dropMetricName(metric);
      metric = matching.on ? keepLabels(metric, matchSet) : delLabels(metric, matchSet);
      out.push({ metric, t, v, dropName: e.returnBool });
    }
    if (this.start === this.end) {
      if (!this.o.delayed && hasDuplicateLabels(out)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
      return out;
    }
    return hasDuplicateLabels(out) ? this.mergeSameLabels(out) : out;
  }

  private vectorBinop(e: BinaryExpr, lhs: Vector, rhs: Vector, matching: VectorMatching, sig: (l: Labels) => string, cache: Map<Labels, Map<Labels, Labels>>, st: BinopState): Vector {
    if (lhs.length === 0 || rhs.length === 0) return [];
    const op = e.op;
    const oneToMany = matching.card === 'one-to-many';
    if (oneToMany) [lhs, rhs] = [rhs, lhs];
    const ordOf = (ls: Labels): number => {
      let o = st.ordOf.get(ls);
      if (o === undefined) {
        const k = sig(ls);
        o = st.sigOrd.get(k);
        if (o === undefined) {
          o = st.sigOrd.size;
          st.sigOrd.set(k, o);
          st.rStamp.push(0);
          st.rSample.push(null);
          st.mStamp.push(0);
        }
        st.ordOf.set(ls, o);
      }
      return o;
    };
    const stamp = ++st.stamp;
    for (const rs of rhs) {
      const k = ordOf(rs.metric);
      const dup = st.rStamp[k] === stamp ? st.rSample[k]! : null;
      st.rStamp[k] = stamp;
      st.rSample[k] = rs;
      if (dup) {
        const side = oneToMany ? 'left' : 'right';
        const matched = formatLabelsBraces(matchLabels(rs.metric, matching));
        throw new ExecutionError(
          `found duplicate series for the match group ${matched} on the ${side} hand-side of the operation: [${formatLabelsBraces(dup.metric)}, ${formatLabelsBraces(rs.metric)}];many-to-many matching not allowed: matching labels must be unique on one side`,
        );
      }
    }
    const matchedMany = new Map<number, Set<string>>();
    const out: Vector = [];
    const include = new Set(matching.include);
    const matchSet = new Set(matching.matchingLabels);
    for (const ls of lhs) {
      const k = ordOf(ls.metric);
      if (st.rStamp[k] !== stamp) continue;
      const rs = st.rSample[k]!;
      let fl = ls.v, fr = rs.v;
      if (oneToMany) [fl, fr] = [fr, fl];
      let [val, keep] = vectorElemBinop(op, fl, fr);
      if (e.returnBool) val = keep ? 1 : 0;
      const dropName = !this.o.delayed && e.returnBool;
      // result metric (cached per pair of input label sets)
      let byR = cache.get(ls.metric);
      if (!byR) {
        byR = new Map();
        cache.set(ls.metric, byR);
      }
      let metric = byR.get(rs.metric)!;
      if (metric === undefined) {
        metric = ls.metric;
        if (dropName || changesSchema(op)) metric = dropMetricName(metric);
        if (matching.card === 'one-to-one') {
          metric = matching.on ? keepLabels(metric, matchSet) : delLabels(metric, matchSet);
        }
        for (const ln of include) metric = setLabel(metric, ln, getLabel(rs.metric, ln));
        byR.set(rs.metric, metric);
      }
      if (matching.card === 'one-to-one') {
        if (st.mStamp[k] === stamp) throw new ExecutionError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
        st.mStamp[k] = stamp;
      } else {
        const ins = labelsKey(metric);
        let set = matchedMany.get(k);
        if (!set) {
          set = new Set();
          matchedMany.set(k, set);
        }
        if (set.has(ins)) throw new ExecutionError('multiple matches for labels: grouping labels must ensure unique matches');
        set.add(ins);
      }
      if (!keep && !e.returnBool) continue;
      out.push({ metric, t: ls.t, v: val, dropName: e.returnBool });
    }
    return out;
  }

  // --- aggregations -------------------------------------------------------------------------------
  private evalAggregate(e: AggregateExpr): Matrix {
    const op: string = e.op;
    let param: Float64Array | null = null;
    let label = '';
    if (e.param) {
      if (op === 'count_values') {
        const v = this.eval(e.param);
        if (!('str' in v)) throw new ExecutionError('expected string parameter');
        label = v.str;
        if (!isValidLabelName(label)) throw new ExecutionError(`invalid label name ${this.quoteStringParam(e.param, label)}`);
      } else {
        param = this.scalarSteps(e.param);
      }
    }
    const input = this.evalMatrix(e.expr);
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
      return this.rangeEval([input], ([vec], ts) => {
        const groups = new Map<string, { metric: Labels; count: number }>();
        for (const s of vec!) {
          const m = setLabel(s.metric, label, formatFloat(s.v));
          const k = keyOf(m);
          const g = groups.get(k);
          if (g) g.count++;
          else groups.set(k, { metric: groupLabels(m), count: 1 });
        }
        return [...groups.values()].map((g) => ({ metric: g.metric, t: ts, v: g.count, dropName: false }));
      });
    }

    // Map input series to groups once.
    const groupIndex = new Map<string, number>();
    const seriesGroup = new Int32Array(input.length);
    const groupMetrics: Labels[] = [];
    for (let i = 0; i < input.length; i++) {
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
    const gcache = new Map<Labels, number>();
    for (let i = 0; i < input.length; i++) gcache.set(input[i]!.metric, seriesGroup[i]!);

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
          if (max > 1) this.warnings.add(`PromQL warning: ratio value should be between -1 and 1, got ${formatFloat(max)}, capping to 1${this.pos(e.param!)}`);
          if (min < -1) this.warnings.add(`PromQL warning: ratio value should be between -1 and 1, got ${formatFloat(min)}, capping to -1${this.pos(e.param!)}`);
        } else {
          if (anyNaN) throw new ExecutionError('Parameter value is NaN');
          if (max < 1) return [];
          if (min <= -9223372036854775808) throw new ExecutionError(`Scalar value ${formatFloat(min)} underflows int64`);
          if (max >= 9223372036854775807) throw new ExecutionError(`Scalar value ${formatFloat(max)} overflows int64`);
        }
      }
      const cursor = new Int32Array(input.length);
      const vals = new Float64Array(input.length);
      const heaps: number[][] = Array.from({ length: ng }, () => []);
      const groupStamp = new Int32Array(ng).fill(-1);
      const top = op === 'topk';
      // Go heap order: the root is the element to be replaced first (smallest for topk).
      const less = top
        ? (a: number, b: number) => { const va = vals[a]!, vb = vals[b]!; return va < vb || (Number.isNaN(va) && !Number.isNaN(vb)); }
        : (a: number, b: number) => { const va = vals[a]!, vb = vals[b]!; return va > vb || (Number.isNaN(va) && !Number.isNaN(vb)); };
      const cmp = (a: number, b: number) => (less(a, b) ? -1 : less(b, a) ? 1 : 0);
      let stepNo = 0;
      return this.rangeEvalSeries(input, (ts) => {
        const p = param![this.stepIndex(ts)]!;
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
          vals[si] = f;
          if (op === 'limit_ratio') {
            if (ratio !== 0 && ratioSample(ratio, s.metric)) out.push({ metric: s.metric, t: ts, v: f, dropName: s.dropName });
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
            out.push({ metric: s.metric, t: ts, v: vals[si]!, dropName: s.dropName });
          }
        }
        return out;
      });
    }

    if (op === 'quantile') {
      if (param) {
        for (const p of param) {
          if (Number.isNaN(p) || p < 0 || p > 1) {
            this.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${formatFloat(p)}${this.pos(e.param!)}`);
            break;
          }
        }
      }
    }

    if (op !== 'quantile') return this.aggregateColumns(op, input, seriesGroup, groupMetrics);

    // quantile: per step, the values of each group (in input-series order), then Prometheus's quantile().
    const seen = new Uint8Array(ng);
    const dropNames = new Uint8Array(ng);
    const qvals: number[][] = Array.from({ length: ng }, () => []);
    return this.rangeEval([input], ([vec], ts) => {
      seen.fill(0);
      // vec elements are in input order but may skip series: map via metric identity
      for (const s of vec!) {
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
      const p = param ? param[this.stepIndex(ts)]! : 0;
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
  private aggregateColumns(op: string, input: Matrix, seriesGroup: Int32Array, groupMetrics: Labels[]): Matrix {
    const ns = this.numSteps();
    const ng = groupMetrics.length;
    const cells = ng * ns;
    const val = new Float64Array(cells);
    const kc = new Float64Array(cells);
    const mean = op === 'avg' || op === 'stddev' || op === 'stdvar' ? new Float64Array(cells) : val;
    const cnt = new Float64Array(cells);
    const flags = new Uint8Array(cells); // 1 seen, 2 incremental mean, 4 dropName
    const start = this.start, interval = this.interval;
    for (let si = 0; si < input.length; si++) {
      this.tick();
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

  /** Like rangeEval but the function reads the input matrix itself (for k-aggregations). */
  private rangeEvalSeries(_input: Matrix, fn: (ts: number) => Vector): Matrix {
    return this.rangeEval([], (_v, ts) => fn(ts));
  }

  /**
   * Go's strconv.Quote of a string parameter, as Prometheus prints it in errors. JS strings cannot
   * hold invalid UTF-8, so the bytes are taken from the literal's source text when there is one.
   */
  private quoteStringParam(e: Expr, val: string): string {
    while (e.type === 'ParenExpr') e = e.expr;
    const bytes = e.type === 'StringLiteral' && this.o.src ? literalBytes(this.o.src.slice(e.pos.start, e.pos.end)) : null;
    return goQuoteBytes(bytes ?? new TextEncoder().encode(val));
  }

  // --- function calls -----------------------------------------------------------------------------
  private evalCall(e: Call): Matrix {
    const name = e.func;
    const delayed = this.o.delayed;
    // Range-vector functions.
    const mIdx = e.args.findIndex((a) => typeOf(a) === 'matrix');
    if (mIdx >= 0) {
      let arg = e.args[mIdx]!;
      while (arg.type === 'ParenExpr') arg = arg.expr;
      const src = this.rangeSource(arg as MatrixSelector | SubqueryExpr);
      const scalars = e.args.map((a, i) => (i === mIdx ? null : this.scalarSteps(a)));
      if (name === 'absent_over_time') {
        const present = new Uint8Array(this.numSteps());
        this.forEachWindow(src, (_r, lo, hi, _ctx, stepIdx) => {
          if (hi > lo) present[stepIdx] = 1;
        });
        const t: number[] = [];
        const v: number[] = [];
        for (let i = 0; i < present.length; i++) {
          if (!present[i]) {
            t.push(this.start + i * this.interval);
            v.push(1);
          }
        }
        if (!t.length) return [];
        return [{ metric: absentLabels(arg), t, v, dropName: true }];
      }
      const fn = WINDOW_FUNCS[name];
      if (!fn) throw new ExecutionError(`function ${JSON.stringify(name)} is not supported`);
      if (name === 'quantile_over_time') {
        const qs = scalars[0]!;
        for (const q of qs) if (Number.isNaN(q) || q < 0 || q > 1) {
          this.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${formatFloat(q)}${this.pos(e.args[0]!)}`);
          break;
        }
      }
      if (name === 'double_exponential_smoothing') {
        const sf = scalars[1]![0]!;
        const tf = scalars[2]![0]!;
        if (!(sf > 0 && sf < 1)) throw new ExecutionError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${formatFloat(sf)}`);
        if (!(tf > 0 && tf < 1)) throw new ExecutionError(`invalid trend factor. Expected: 0 < tf < 1, got: ${formatFloat(tf)}`);
      }
      const keepName = name === 'last_over_time' || name === 'first_over_time';
      const out: Matrix = [];
      const otherScalars = scalars.filter((s): s is Float64Array => s !== null);
      const n = this.numSteps();
      // Window bounds per step (left-open): (ends[i] - range, ends[i]].
      const ends = new Float64Array(n);
      const evalTs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const step = this.start + i * this.interval;
        evalTs[i] = step;
        ends[i] = (src.at ?? step) - src.offset;
      }
      const range = src.range;
      const ctx: WindowCtx = { ts: 0, rangeStart: 0, rangeEnd: 0, range, scalars: [] };
      const maxS = this.o.maxSamples;
      const samples = this.shared.samples;
      const monotone = src.at === null;
      const counterFn = name === 'rate' || name === 'increase';
      for (const r of src.raws) {
        this.tick();
        if (counterFn) ctx.resets = resetPrefix(r.v, r.n);
        const dropName = !keepName || r.dropName;
        const ts: number[] = [];
        const vs: number[] = [];
        const rt = r.t;
        const rn = r.n;
        let lo = 0;
        let hi = 0;
        for (let i = 0; i < n; i++) {
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
          if (samples.current + (hi - lo) > maxS) throw new TooManySamplesError();
          ctx.ts = evalTs[i]!;
          ctx.rangeStart = start;
          ctx.rangeEnd = end;
          if (otherScalars.length) ctx.scalars = otherScalars.map((x) => x[i]!);
          const val = fn(rt, r.v, lo, hi, ctx);
          if (val === null) continue;
          ts.push(evalTs[i]!);
          vs.push(val);
        }
        if (ts.length) {
          out.push({ metric: !delayed && dropName ? dropMetricName(r.labels) : r.labels, t: ts, v: vs, dropName });
          if (name === 'rate' || name === 'increase') {
            const mn = getLabel(r.labels, METRIC_NAME);
            if (mn !== '' && !/(_total|_sum|_count|_bucket)$/.test(mn)) {
              this.infos.add(`PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(mn)}${this.pos(e.args[mIdx]!)}`);
            }
          }
        }
      }
      if (!delayed) {
        if (hasDuplicateLabels(out)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
      }
      return out;
    }

    switch (name) {
      case 'time': {
        const n = this.numSteps();
        const t: number[] = [];
        const v: number[] = [];
        for (let i = 0; i < n; i++) {
          const ts = this.start + i * this.interval;
          t.push(ts);
          v.push(ts / 1000);
        }
        return [{ metric: [], t, v, dropName: false }];
      }
      case 'pi':
        return this.evalMatrix({ type: 'NumberLiteral', val: Math.PI, pos: e.pos });
      case 'start':
        return this.evalMatrix({ type: 'NumberLiteral', val: this.o.queryStart / 1000, pos: e.pos });
      case 'end':
        return this.evalMatrix({ type: 'NumberLiteral', val: this.o.queryEnd / 1000, pos: e.pos });
      case 'range':
        return this.evalMatrix({ type: 'NumberLiteral', val: (this.o.queryEnd - this.o.queryStart) / 1000, pos: e.pos });
      case 'step':
        return this.evalMatrix({ type: 'NumberLiteral', val: (this.o.queryStart === this.o.queryEnd ? 0 : this.interval) / 1000, pos: e.pos });
      case 'timestamp': {
        let arg = e.args[0]!;
        while (arg.type === 'ParenExpr') arg = arg.expr;
        if (arg.type === 'VectorSelector') {
          const m = this.evalVectorSelector(arg, true);
          for (const s of m) {
            if (!delayed) s.metric = dropMetricName(s.metric);
            s.dropName = true;
          }
          return m;
        }
        const m = this.evalMatrix(e.args[0]!);
        return this.rangeEval([m], ([vec], ts) => vec!.map((s) => this.mapName(s, ts / 1000)));
      }
      case 'vector': {
        const m = this.evalMatrix(e.args[0]!);
        return m.map((s) => ({ ...s, metric: [], dropName: false }));
      }
      case 'scalar': {
        const m = this.evalMatrix(e.args[0]!);
        const n = this.numSteps();
        const t: number[] = [];
        const v: number[] = [];
        const r = this.rangeEval([m], ([vec], ts) => [{ metric: [], t: ts, v: vec!.length === 1 ? vec![0]!.v : NaN, dropName: false }]);
        const s = r[0];
        for (let i = 0; i < n; i++) {
          t.push(this.start + i * this.interval);
          v.push(s ? s.v[i]! : NaN);
        }
        return [{ metric: [], t, v, dropName: false }];
      }
      case 'absent': {
        const m = this.evalMatrix(e.args[0]!);
        const present = new Uint8Array(this.numSteps());
        for (const s of m) for (const t of s.t) present[this.stepIndex(t)] = 1;
        const t: number[] = [];
        const v: number[] = [];
        for (let i = 0; i < present.length; i++) {
          if (!present[i]) {
            t.push(this.start + i * this.interval);
            v.push(1);
          }
        }
        if (!t.length) return [];
        return [{ metric: absentLabels(e.args[0]!), t, v, dropName: true }];
      }
      case 'sort':
      case 'sort_desc': {
        if (this.o.queryStart !== this.o.queryEnd) this.warnings.add(`PromQL warning: sort is ineffective for range queries since results are always ordered by labels${this.pos(e)}`);
        const m = this.evalMatrix(e.args[0]!);
        const desc = name === 'sort_desc';
        return this.rangeEval([m], ([vec]) => {
          const out = vec!.slice();
          out.sort((a, b) => {
            // NaN always last
            const an = Number.isNaN(a.v), bn = Number.isNaN(b.v);
            if (an || bn) return an === bn ? 0 : an ? 1 : -1;
            return desc ? b.v - a.v : a.v - b.v;
          });
          return out;
        });
      }
      case 'sort_by_label':
      case 'sort_by_label_desc': {
        if (this.o.queryStart !== this.o.queryEnd) this.warnings.add(`PromQL warning: sort is ineffective for range queries since results are always ordered by labels${this.pos(e)}`);
        const m = this.evalMatrix(e.args[0]!);
        const labels = e.args.slice(1).map((a) => (this.eval(a) as { str: string }).str);
        const desc = name === 'sort_by_label_desc';
        return this.rangeEval([m], ([vec]) => {
          const out = vec!.slice();
          out.sort((a, b) => {
            for (const l of labels) {
              const c = naturalCompare(getLabel(a.metric, l), getLabel(b.metric, l));
              if (c !== 0) return desc ? -c : c;
            }
            const c = compareLabels(a.metric, b.metric);
            return desc ? -c : c;
          });
          return out;
        });
      }
      case 'label_replace': {
        const m = this.evalMatrix(e.args[0]!);
        const [dst, repl, src, regex] = e.args.slice(1).map((a) => (this.eval(a) as { str: string }).str) as [string, string, string, string];
        let re: RegExp;
        try {
          re = compileRegex(regex);
        } catch {
          throw new ExecutionError(`invalid regular expression in label_replace(): ${regex}`);
        }
        if (!isValidLabelName(dst)) throw new ExecutionError(`invalid destination label name in label_replace(): ${dst}`);
        const cache = new Map<Labels, Labels>();
        for (const s of m) {
          let out = cache.get(s.metric);
          if (!out) {
            const srcVal = getLabel(s.metric, src);
            const match = re.exec(srcVal);
            out = s.metric;
            if (match) {
              const res = expandTemplate(repl, match);
              out = setLabel(s.metric, dst, res);
            }
            cache.set(s.metric, out);
          }
          if (dst === METRIC_NAME && out !== s.metric) s.dropName = false;
          s.metric = out;
        }
        if (!delayed && hasDuplicateLabels(m)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
        return m;
      }
      case 'label_join': {
        const m = this.evalMatrix(e.args[0]!);
        const strs = e.args.slice(1).map((a) => (this.eval(a) as { str: string }).str);
        const [dst, sep, ...srcs] = strs as [string, string, ...string[]];
        if (!isValidLabelName(dst)) throw new ExecutionError(`invalid destination label name in label_join(): ${dst}`);
        for (const l of srcs) if (!isValidLabelName(l)) throw new ExecutionError(`invalid source label name in label_join(): ${l}`);
        for (const s of m) {
          const val = srcs.map((l) => getLabel(s.metric, l)).join(sep);
          const nm = setLabel(s.metric, dst, val);
          if (dst === METRIC_NAME) s.dropName = false;
          s.metric = nm;
        }
        if (!delayed && hasDuplicateLabels(m)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
        return m;
      }
      case 'histogram_quantile':
      case 'histogram_fraction':
        return this.evalHistogramFn(e);
      case 'clamp':
      case 'clamp_min':
      case 'clamp_max':
      case 'round': {
        const m = this.evalMatrix(e.args[0]!);
        const s1 = e.args[1] ? this.scalarSteps(e.args[1]) : null;
        const s2 = e.args[2] ? this.scalarSteps(e.args[2]) : null;
        return this.rangeEval([m], ([vec], ts) => {
          const i = this.stepIndex(ts);
          const a = s1 ? s1[i]! : 1;
          const b = s2 ? s2[i]! : 0;
          if (name === 'clamp' && b < a) return [];
          const out: Vector = [];
          for (const s of vec!) {
            let f: number;
            if (name === 'clamp') f = Math.max(a, Math.min(b, s.v));
            else if (name === 'clamp_min') f = Math.max(a, s.v);
            else if (name === 'clamp_max') f = Math.min(a, s.v);
            else {
              const inv = 1 / a;
              f = Math.floor(s.v * inv + 0.5) / inv;
            }
            if (name !== 'round' && (Number.isNaN(a) || Number.isNaN(b))) f = NaN;
            out.push(this.mapName(s, f));
          }
          return out;
        });
      }
      case 'days_in_month': case 'day_of_month': case 'day_of_week': case 'day_of_year':
      case 'hour': case 'minute': case 'month': case 'year': {
        const m = e.args.length
          ? this.evalMatrix(e.args[0]!)
          : this.evalCall({ type: 'Call', func: 'time', args: [], pos: e.pos });
        const f = DATE_FUNCS[name]!;
        return this.rangeEval([m], ([vec]) => vec!.map((s) => this.mapName(s, Number.isFinite(s.v) ? f(new Date(s.v * 1000)) : NaN)));
      }
      case 'info':
        throw new ExecutionError('info() is not supported');
      case 'histogram_avg': case 'histogram_count': case 'histogram_sum': case 'histogram_stddev': case 'histogram_stdvar': {
        // Native histograms are not supported: float samples produce no output.
        this.evalMatrix(e.args[0]!);
        return [];
      }
      case 'histogram_quantiles':
        throw new ExecutionError('histogram_quantiles() is not supported');
    }
    const mathFn = MATH_FUNCS[name];
    if (mathFn) {
      const m = this.evalMatrix(e.args[0]!);
      for (const s of m) {
        for (let i = 0; i < s.v.length; i++) s.v[i] = mathFn(s.v[i]!);
        if (!delayed) s.metric = dropMetricName(s.metric);
        s.dropName = true;
      }
      if (!delayed) return this.mergeSameLabels(m);
      return m;
    }
    throw new ExecutionError(`function ${JSON.stringify(name)} is not supported`);
  }

  private mapName(s: Sample, v: number): Sample {
    return { metric: this.o.delayed ? s.metric : dropMetricName(s.metric), t: s.t, v, dropName: true };
  }

  private evalHistogramFn(e: Call): Matrix {
    const isQ = e.func === 'histogram_quantile';
    const s1 = this.scalarSteps(e.args[0]!);
    const s2 = isQ ? null : this.scalarSteps(e.args[1]!);
    const vecArg = e.args[isQ ? 1 : 2]!;
    const m = this.evalMatrix(vecArg);
    if (isQ) {
      for (const q of s1) if (Number.isNaN(q) || q < 0 || q > 1) {
        this.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${formatFloat(q)}${this.pos(e.args[0]!)}`);
        break;
      }
    }
    // Precompute per-series group keys (labels without le and __name__).
    const info = new Map<Labels, { key: string; metric: Labels; le: number } | null>();
    for (const s of m) {
      const leStr = getLabel(s.metric, 'le');
      const le = parseGoFloat(leStr);
      if (Number.isNaN(le) && leStr.toLowerCase() !== 'nan') {
        const name = getLabel(s.metric, METRIC_NAME);
        this.warnings.add(`PromQL warning: bucket label "le" is missing or has a malformed value of "${leStr}"${name ? ` for metric name "${name}"` : ''}${this.pos(vecArg)}`);
        info.set(s.metric, null);
        continue;
      }
      const metric = (this.o.delayed ? s.metric : dropMetricName(s.metric)).filter((l) => l.name !== 'le');
      info.set(s.metric, { key: labelsKey(metric), metric, le });
    }
    return this.rangeEval([m], ([vec], ts) => {
      const i = this.stepIndex(ts);
      const groups = new Map<string, { metric: Labels; buckets: Bucket[] }>();
      for (const s of vec!) {
        const inf = info.get(s.metric);
        if (!inf) continue;
        let g = groups.get(inf.key);
        if (!g) {
          g = { metric: inf.metric, buckets: [] };
          groups.set(inf.key, g);
        }
        g.buckets.push({ upperBound: inf.le, count: s.v });
      }
      const out: Vector = [];
      for (const g of groups.values()) {
        let f: number;
        if (isQ) {
          const r = bucketQuantile(s1[i]!, g.buckets);
          f = r.q;
          if (r.forcedMonotonic) {
            this.infos.add(`PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name "${getLabel(g.metric, METRIC_NAME)}"${this.pos(vecArg)}`);
          }
        } else {
          f = bucketFraction(s1[i]!, s2![i]!, g.buckets);
        }
        out.push({ metric: g.metric, t: ts, v: f, dropName: true });
      }
      return out;
    });
  }

  /**
   * Calls cb for every (series, step) window of a matrix selector / subquery, series by series.
   * Windows are left-open: (ref - offset - range, ref - offset].
   */
  private forEachWindow(
    src: { raws: RawSeries[]; range: number; offset: number; at: number | null },
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

// ---------------------------------------------------------------------------------------------
// Helpers

function toMatrixSeries(s: Series): MatrixSeries {
  const n = s.t.length;
  const values: Point[] = new Array(n);
  const t = s.t, v = s.v;
  for (let i = 0; i < n; i++) values[i] = { t: t[i]!, v: v[i]! };
  return { metric: s.metric, values };
}

function toRaw(s: SeriesData): RawSeries {
  return { labels: s.labels, t: s.t, v: s.v, n: s.n, stale: staleMask(s.v, s.n), dropName: false };
}

function withoutStale(r: RawSeries): RawSeries {
  if (!r.stale) return r;
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < r.n; i++) {
    if (r.stale[i]) continue;
    t.push(r.t[i]!);
    v.push(r.v[i]!);
  }
  return { labels: r.labels, t: Float64Array.from(t), v: Float64Array.from(v), n: t.length, stale: null, dropName: r.dropName };
}

/** First index i in [0, n) with t[i] > x. */
function upperBound(t: Float64Array, n: number, x: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function checkDuplicates(v: Vector): void {
  if (v.length < 2) return;
  const seen = new Set<string>();
  for (const s of v) {
    const k = labelsKey(s.metric);
    if (seen.has(k)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
    seen.add(k);
  }
}

function hasDuplicateLabels(m: Matrix): boolean {
  if (m.length < 2) return false;
  const seen = new Set<string>();
  for (const s of m) {
    const k = labelsKey(s.metric);
    if (seen.has(k)) return true;
    seen.add(k);
  }
  return false;
}

function scalarBinop(op: string, l: number, r: number): number {
  switch (op) {
    case '+': return l + r;
    case '-': return l - r;
    case '*': return l * r;
    case '/': return l / r;
    case '^': return goPow(l, r);
    case '%': return goMod(l, r);
    case '==': return l === r ? 1 : 0;
    case '!=': return l !== r ? 1 : 0;
    case '>': return l > r ? 1 : 0;
    case '<': return l < r ? 1 : 0;
    case '>=': return l >= r ? 1 : 0;
    case '<=': return l <= r ? 1 : 0;
    case 'atan2': return Math.atan2(l, r);
  }
  throw new ExecutionError(`operator ${JSON.stringify(op)} not allowed for Scalar operations`);
}

function vectorElemBinop(op: string, l: number, r: number): [number, boolean] {
  switch (op) {
    case '+': return [l + r, true];
    case '-': return [l - r, true];
    case '*': return [l * r, true];
    case '/': return [l / r, true];
    case '^': return [goPow(l, r), true];
    case '%': return [goMod(l, r), true];
    case '==': return [l, l === r];
    case '!=': return [l, l !== r];
    case '>': return [l, l > r];
    case '<': return [l, l < r];
    case '>=': return [l, l >= r];
    case '<=': return [l, l <= r];
    case 'atan2': return [Math.atan2(l, r), true];
  }
  throw new ExecutionError(`operator ${JSON.stringify(op)} not allowed for operations between Vectors`);
}

/** Go math.Pow differs from JS for a few special cases (1 ** NaN, (-1) ** ±Inf). */
function goPow(x: number, y: number): number {
  if (y === 0) return 1;
  if (x === 1) return 1;
  if ((y === Infinity || y === -Infinity) && x === -1) return 1;
  return Math.pow(x, y);
}

/** Go math.Mod: result has the sign of x (same as JS %). */
function goMod(x: number, y: number): number {
  return x % y;
}

function changesSchema(op: string): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '^' || op === '%' || op === 'atan2';
}

function signatureFn(m: VectorMatching): (l: Labels) => string {
  const names = new Set(m.matchingLabels);
  const cache = new WeakMap<Labels, string>();
  if (m.on) {
    return (ls) => {
      let s = cache.get(ls);
      if (s === undefined) {
        s = '';
        for (const l of ls) if (names.has(l.name)) s += l.name + '\xff' + l.value + '\xff';
        cache.set(ls, s);
      }
      return s;
    };
  }
  names.add(METRIC_NAME);
  return (ls) => {
    let s = cache.get(ls);
    if (s === undefined) {
      s = '';
      for (const l of ls) if (!names.has(l.name)) s += l.name + '\xff' + l.value + '\xff';
      cache.set(ls, s);
    }
    return s;
  };
}

function matchLabels(ls: Labels, m: VectorMatching): Labels {
  const names = new Set(m.matchingLabels);
  if (m.on) return ls.filter((l) => names.has(l.name));
  return ls.filter((l) => !names.has(l.name) && l.name !== METRIC_NAME);
}

function formatLabelsBraces(ls: Labels): string {
  return `{${ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ')}}`;
}

function vectorSetOp(op: string, lhs: Vector, rhs: Vector, sig: (l: Labels) => string): Vector {
  switch (op) {
    case 'and': {
      if (lhs.length === 0 || rhs.length === 0) return [];
      const rs = new Set(rhs.map((s) => sig(s.metric)));
      return lhs.filter((s) => rs.has(sig(s.metric)));
    }
    case 'or': {
      if (lhs.length === 0) return rhs;
      if (rhs.length === 0) return lhs;
      const ls = new Set(lhs.map((s) => sig(s.metric)));
      return lhs.concat(rhs.filter((s) => !ls.has(sig(s.metric))));
    }
    case 'unless': {
      if (lhs.length === 0 || rhs.length === 0) return lhs;
      const rs = new Set(rhs.map((s) => sig(s.metric)));
      return lhs.filter((s) => !rs.has(sig(s.metric)));
    }
  }
  return [];
}

/** k smallest/largest indices in Prometheus heap order (output sorted by value, desc for topk). */
function selectK(idx: number[], vals: number[], k: number, top: boolean): number[] {
  // Prometheus keeps a heap; ties resolve to the first seen. Emulate with a stable selection.
  const better = (a: number, b: number): boolean => {
    // is value a strictly better than b for the heap replacement rule?
    const va = vals[a]!, vb = vals[b]!;
    if (top) return vb < va || (Number.isNaN(vb) && !Number.isNaN(va));
    return vb > va || (Number.isNaN(vb) && !Number.isNaN(va));
  };
  const heap: number[] = [];
  // worst element at the heap root: we keep it as a sorted array (k is small usually).
  const worstFirst = (a: number, b: number): number => {
    const va = vals[a]!, vb = vals[b]!;
    // ordering used by Go's heap: for topk, Less(i,j) = h[i].F < h[j].F || (isNaN(h[i].F) && !isNaN(h[j].F))
    const less = top
      ? va < vb || (Number.isNaN(va) && !Number.isNaN(vb))
      : va > vb || (Number.isNaN(va) && !Number.isNaN(vb));
    const lessR = top
      ? vb < va || (Number.isNaN(vb) && !Number.isNaN(va))
      : vb > va || (Number.isNaN(vb) && !Number.isNaN(va));
    return less ? -1 : lessR ? 1 : 0;
  };
  for (const i of idx) {
    if (heap.length < k) {
      heap.push(i);
      heap.sort(worstFirst);
    } else if (better(i, heap[0]!)) {
      heap[0] = i;
      heap.sort(worstFirst);
    }
  }
  return heap.reverse();
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

function absentLabels(e: Expr): Labels {
  while (e.type === 'ParenExpr') e = e.expr;
  let vs: VectorSelector | null = null;
  if (e.type === 'VectorSelector') vs = e;
  else if (e.type === 'MatrixSelector') vs = e.vs;
  if (!vs) return [];
  const out: Record<string, string> = {};
  const dup = new Set<string>();
  const seen = new Set<string>();
  for (const m of vs.matchers) {
    if (m.name === METRIC_NAME) continue;
    if (seen.has(m.name)) dup.add(m.name);
    seen.add(m.name);
    if (m.type !== '=') continue;
    out[m.name] = m.value;
  }
  // Prometheus: a label with several equality matchers is dropped.
  for (const d of dup) delete out[d];
  return Object.keys(out).sort().map((name) => ({ name, value: out[name]! }));
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

function isValidLabelName(s: string): boolean {
  if (s.length === 0) return false;
  // Prometheus 3.x accepts any valid UTF-8 label name.
  return !s.includes('\ufffd');
}

function expandTemplate(tpl: string, m: RegExpExecArray): string {
  // Go regexp Expand: $1, ${1}, $name, ${name}, $$.
  return tpl.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, d: string, braced?: string, bare?: string) => {
    if (d === '$') return '$';
    const name = braced ?? bare!;
    if (/^\d+$/.test(name)) return m[Number(name)] ?? '';
    return m.groups?.[name] ?? '';
  });
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

function naturalCompare(a: string, b: string): number {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!, y = pb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x), ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

const MATH_FUNCS: Record<string, (x: number) => number> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  sqrt: Math.sqrt,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sgn: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  sin: Math.sin, cos: Math.cos, tan: Math.tan,
  asin: Math.asin, acos: Math.acos, atan: Math.atan,
  sinh: Math.sinh, cosh: Math.cosh, tanh: Math.tanh,
  asinh: Math.asinh, acosh: Math.acosh, atanh: Math.atanh,
  deg: (x) => (x * 180) / Math.PI,
  rad: (x) => (x * Math.PI) / 180,
};

const DATE_FUNCS: Record<string, (d: Date) => number> = {
  days_in_month: (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate(),
  day_of_month: (d) => d.getUTCDate(),
  day_of_week: (d) => d.getUTCDay(),
  day_of_year: (d) => Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1,
  hour: (d) => d.getUTCHours(),
  minute: (d) => d.getUTCMinutes(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
};

export { isSetOp };
