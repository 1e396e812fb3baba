// Query analysis (`analyze=true` on the querier's /api/v1/query and /api/v1/query_range, as
// Thanos's engine offers): per operator, the time it took and the samples it produced, as a tree in
// the shape of Thanos's `analysis` response field (name, executionTime, peakSamples, totalSamples,
// children). The engine feeds an AnalysisRecorder only when asked (QueryOptions.analyze), so a
// normal query pays nothing.
//
// What the numbers mean here (this engine evaluates a node over all steps at once, not in batches
// as Thanos's streaming engine does): executionTime is the node's evaluation including its operands
// (and, for a selector, the storage select); totalSamples is the samples the node produced (for a
// selector: the raw samples selected from the stores), summed over the chunks of steps and the
// re-evaluations of a subquery; peakSamples is the most it held at once (the largest such piece).
import type { Expr, VectorSelector } from './ast.ts';
import { formatExpr } from './format.ts';

/** One operator of Thanos's `analysis` tree (JSON field names as Thanos writes them). */
export interface OperatorAnalysis {
  name: string;
  executionTime: string;
  /** Left out when 0, as Thanos's omitempty does. */
  peakSamples?: number;
  totalSamples?: number;
  children?: OperatorAnalysis[];
}

interface NodeStats {
  ms: number;
  peak: number;
  total: number;
}

/** Collects per-node timings while a query runs; `tree` assembles the answer. */
export class AnalysisRecorder {
  private readonly nodes = new Map<Expr, NodeStats>();
  private readonly selects = new Map<VectorSelector, NodeStats>();

  private static add(m: Map<Expr, NodeStats>, e: Expr, ms: number, samples: number): void {
    let s = m.get(e);
    if (!s) m.set(e, (s = { ms: 0, peak: 0, total: 0 }));
    s.ms += ms;
    s.total += samples;
    if (samples > s.peak) s.peak = samples;
  }

  /** A node evaluated over (a chunk of) its steps: value is the engine's column-wise matrix or a string. */
  node(e: Expr, ms: number, value: unknown): void {
    let samples = 0;
    if (Array.isArray(value)) for (const s of value as Array<{ t: ArrayLike<number> }>) samples += s.t.length;
    AnalysisRecorder.add(this.nodes, e, ms, samples);
  }

  /** A selector's storage select: its duration and the raw samples it returned. */
  select(vs: VectorSelector, ms: number, samples: number): void {
    AnalysisRecorder.add(this.selects as Map<Expr, NodeStats>, vs, ms, samples);
  }

  tree(e: Expr): OperatorAnalysis {
    while (e.type === 'ParenExpr') e = e.expr;
    const own = this.nodes.get(e);
    let ms = own?.ms ?? 0;
    let peak = own?.peak ?? 0;
    let total = own?.total ?? 0;
    let children: Expr[] = [];
    switch (e.type) {
      case 'VectorSelector':
      case 'MatrixSelector': {
        const sel = this.selects.get(e.type === 'VectorSelector' ? e : e.vs);
        if (sel) {
          ms += sel.ms;
          // A matrix selector is read by its function's kernel: its samples are the selected ones.
          if (e.type === 'MatrixSelector') {
            total = sel.total;
            peak = sel.peak;
          }
        }
        break;
      }
      case 'SubqueryExpr':
      case 'UnaryExpr':
        children = [e.expr];
        break;
      case 'Call':
        children = e.args;
        break;
      case 'AggregateExpr':
        children = e.param ? [e.param, e.expr] : [e.expr];
        break;
      case 'BinaryExpr':
        children = [e.lhs, e.rhs];
        break;
      default:
        break;
    }
    const out: OperatorAnalysis = { name: operatorName(e), executionTime: formatGoDurationNs(Math.round(ms * 1e6)) };
    if (peak) out.peakSamples = peak;
    if (total) out.totalSamples = total;
    if (children.length) out.children = children.map((c) => this.tree(c));
    return out;
  }
}

function operatorName(e: Expr): string {
  switch (e.type) {
    case 'NumberLiteral':
      return `[numberLiteral] ${formatExpr(e)}`;
    case 'StringLiteral':
      return `[stringLiteral] ${formatExpr(e)}`;
    case 'VectorSelector':
      return `[vectorSelector] ${formatExpr(e)}`;
    case 'MatrixSelector':
      return `[matrixSelector] ${formatExpr(e)}`;
    case 'SubqueryExpr':
      return `[subquery] ${formatExpr(e)}`;
    case 'Call':
      return `[functionCall] ${e.func}`;
    case 'AggregateExpr':
      // The aggregation with its grouping, without the operand: "sum by (job)".
      return `[aggregate] ${e.op}${e.without ? ` without (${e.grouping.join(', ')})` : e.grouping.length ? ` by (${e.grouping.join(', ')})` : ''}`;
    case 'BinaryExpr':
      return `[binaryOperator] ${e.op}`;
    case 'UnaryExpr':
      return `[unaryOperator] ${e.op}`;
    case 'ParenExpr':
      return operatorName(e.expr);
  }
}

/** Go's time.Duration String() of a duration in nanoseconds ("1.5ms", "12µs", "1m2.5s"). */
export function formatGoDurationNs(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  const sign = neg ? '-' : '';
  const frac = (v: number, digits: number) => {
    const whole = Math.floor(v / 10 ** digits);
    const f = String(v % 10 ** digits).padStart(digits, '0').replace(/0+$/, '');
    return f ? `${whole}.${f}` : String(whole);
  };
  if (u < 1000) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${frac(u, 3)}µs`;
  if (u < 1e9) return `${sign}${frac(u, 6)}ms`;
  let out = '';
  const h = Math.floor(u / 3.6e12);
  u -= h * 3.6e12;
  const m = Math.floor(u / 6e10);
  u -= m * 6e10;
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${sign}${out}${frac(u, 9)}s`;
}
