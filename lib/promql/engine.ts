// PromQL evaluation with Prometheus 3.x float semantics. Storage is read once up front (one select per
// selector, through Queryable), then the expression is evaluated over all steps by the driver
// (engine/driver.ts), which yields to the event loop between nodes and honours the AbortSignal.
// The evaluator lives in engine/ (evaluator.ts core loop and selectors, binary.ts, aggregate.ts,
// calls.ts function-kernel kinds); the functions themselves in functions/ (table.ts + kernels).
import type { Expr } from './ast.ts';
import { BadDataError } from './errors.ts';
import { parseExpr, typeOf } from './parser.ts';
import type { Queryable } from './queryable.ts';
import { compareLabels } from '../labels/mod.ts';
import { Evaluator } from './engine/evaluator.ts';
import { pause } from './engine/driver.ts';
import { preload } from './engine/selectors.ts';
import { columnarMatrixSeries } from './engine/types.ts';
import { doInSpan } from '../tracing/mod.ts';
import { formatExpr } from './format.ts';
import { AnalysisRecorder } from './analyze.ts';
import type { EngineOptions, MatrixSeries, Point, QueryOptions, QueryResult, Series, VectorSample } from './engine/types.ts';

export type { EngineOptions, MatrixSeries, Point, QueryOptions, QueryResult, VectorSample } from './engine/types.ts';

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
    const src = typeof expr === 'string' ? expr : '';
    // Thanos's query API names the engine's execution so (tracing.DoInSpan in pkg/api/query/v1.go).
    return doInSpan('instant_query_exec', { query: src || formatExpr(expr as Expr), time: timeMs }, () => this.exec(q, this.parse(expr), timeMs, timeMs, 0, opts, src));
  }

  async rangeQuery(q: Queryable, expr: string | Expr, startMs: number, endMs: number, stepMs: number, opts: QueryOptions = {}): Promise<QueryResult> {
    if (!(stepMs > 0)) throw new BadDataError('zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (endMs < startMs) throw new BadDataError('end timestamp must not be before start time');
    const e = this.parse(expr);
    const t = typeOf(e);
    if (t !== 'scalar' && t !== 'vector') {
      throw new BadDataError(`invalid expression type "${t === 'matrix' ? 'range vector' : t}" for range query, must be Scalar or instant Vector`);
    }
    const src = typeof expr === 'string' ? expr : '';
    return doInSpan('range_query_exec', { query: src || formatExpr(e), start: startMs, end: endMs, step: stepMs }, () => this.exec(q, e, startMs, endMs, stepMs, opts, src));
  }

  private async exec(q: Queryable, e: Expr, start: number, end: number, step: number, opts: QueryOptions, src: string): Promise<QueryResult> {
    if (!opts.analyze) return this.evalQuery(q, e, start, end, step, opts, src);
    const analysis = new AnalysisRecorder();
    const res = await this.evalQuery(q, e, start, end, step, opts, src, analysis);
    return { ...res, analysis: analysis.tree(e) };
  }

  private async evalQuery(q: Queryable, e: Expr, start: number, end: number, step: number, opts: QueryOptions, src: string, analysis?: AnalysisRecorder): Promise<QueryResult> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const ev = new Evaluator({
      start, end, interval: step === 0 ? 1 : step, lookback: opts.lookbackDelta ?? this.lookbackDelta,
      maxSamples: opts.maxSamples ?? this.maxSamples, deadline, signal: opts.signal,
      subqStep: this.defaultSubqueryStepMs, delayed: this.delayedNameRemoval, queryStart: start, queryEnd: end, src,
    });
    if (analysis) ev.shared.analysis = analysis;
    ev.shared.queryable = q;
    ev.checkAbort('query preparation');
    await preload(ev, q, e, timeoutMs);
    const val = await ev.evalTop(e);
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
        // A raw selection can hold millions of points: converted series by series, yielding between.
        const result: MatrixSeries[] = [];
        for (const s of val) {
          await pause(ev);
          result.push(toMatrixSeries(s));
        }
        return { resultType: 'matrix', result, warnings, infos };
      }
      const out: VectorSample[] = [];
      for (const s of val) {
        if (!s.t.length) continue;
        const h = s.h?.[0];
        out.push({ metric: s.metric, value: h ? { t: start, v: 0, h } : { t: start, v: s.v[0]! } });
      }
      return { resultType: 'vector', result: out, warnings, infos };
    }
    const mat = val.filter((s) => s.t.length > 0).sort((a, b) => compareLabels(a.metric, b.metric));
    const result: MatrixSeries[] = [];
    for (const s of mat) {
      await pause(ev);
      result.push(toMatrixSeries(s));
    }
    return { resultType: 'matrix', result, warnings, infos };
  }
}
function toMatrixSeries(s: Series): MatrixSeries {
  // Column-wise: per-point objects only if a caller reads `values` (the HTTP API writes the columns).
  return columnarMatrixSeries(s.metric, s.t, s.v, s.h);
}

