// AST walking helpers for the querier: visit nodes, list selectors with their enclosing function.
import type { Expr, MatrixSelector, SubqueryExpr, VectorSelector } from './ast.ts';
import type { Matcher } from '../labels/mod.ts';

/** Children of a node, in evaluation order. */
export function children(e: Expr): Expr[] {
  switch (e.type) {
    case 'MatrixSelector': return [e.vs];
    case 'SubqueryExpr': return [e.expr];
    case 'Call': return e.args;
    case 'AggregateExpr': return e.param ? [e.param, e.expr] : [e.expr];
    case 'BinaryExpr': return [e.lhs, e.rhs];
    case 'UnaryExpr': return [e.expr];
    case 'ParenExpr': return [e.expr];
    default: return [];
  }
}

/**
 * Depth-first pre-order walk; `path` holds the ancestors (outermost first). Return false to skip children.
 * Iterative (an explicit stack), like every walk over an expression: depth is bounded only by the
 * parser's nesting limit and chains (5000 unary minuses, 2000-term sums), not by the JS stack.
 */
export function walk(e: Expr, fn: (node: Expr, path: readonly Expr[]) => void | boolean, path: Expr[] = []): void {
  if (fn(e, path) === false) return;
  const base = path.length;
  path.push(e);
  const stack: { kids: Expr[]; i: number }[] = [{ kids: children(e), i: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.kids.length) {
      stack.pop();
      path.pop();
      continue;
    }
    const c = top.kids[top.i++]!;
    if (fn(c, path) === false) continue;
    path.push(c);
    stack.push({ kids: children(c), i: 0 });
  }
  path.length = base;
}

/** Bottom-up fold: f(node, results of children(node) in order), without recursion. */
export function foldExpr<T>(e: Expr, f: (node: Expr, kids: T[]) => T): T {
  const stack: { node: Expr; kids: Expr[]; res: T[] }[] = [{ node: e, kids: children(e), res: [] }];
  for (;;) {
    const top = stack[stack.length - 1]!;
    if (top.res.length < top.kids.length) {
      const c = top.kids[top.res.length]!;
      stack.push({ node: c, kids: children(c), res: [] });
      continue;
    }
    const v = f(top.node, top.res);
    stack.pop();
    if (stack.length === 0) return v;
    stack[stack.length - 1]!.res.push(v);
  }
}

export interface SelectorInfo {
  selector: VectorSelector;
  matchers: Matcher[];
  /** Name of the nearest enclosing function call whose argument this selector (or its range) is, e.g. 'rate'. */
  func: string | null;
  /** Range in ms when the selector is a range selector ([5m]) — 0 for instant selectors. */
  range: number;
  /** Enclosing subqueries from outermost to innermost (their range/step/offset widen the time range). */
  subqueries: SubqueryExpr[];
  /** Grouping of the nearest enclosing aggregation, when any. */
  grouping: string[] | null;
  by: boolean;
}

/**
 * Every vector selector of an expression with its matchers, the enclosing function name and range
 * (what Thanos passes as hints so a store can pick downsampled aggregates: rate/increase → counter,
 * *_over_time → the matching aggregate).
 */
export function selectors(e: Expr): SelectorInfo[] {
  const out: SelectorInfo[] = [];
  walk(e, (node, path) => {
    if (node.type !== 'VectorSelector') return;
    let func: string | null = null;
    let range = 0;
    let grouping: string[] | null = null;
    let by = false;
    const subqueries: SubqueryExpr[] = [];
    const parent = path[path.length - 1];
    let i = path.length - 1;
    if (parent && parent.type === 'MatrixSelector') {
      range = (parent as MatrixSelector).range;
      i--;
    }
    // nearest enclosing call (through parens)
    let j = i;
    while (j >= 0 && path[j]!.type === 'ParenExpr') j--;
    if (j >= 0 && path[j]!.type === 'Call') func = (path[j] as { func: string }).func;
    for (let k = path.length - 1; k >= 0; k--) {
      const p = path[k]!;
      if (p.type === 'AggregateExpr' && grouping === null) {
        grouping = p.grouping;
        by = !p.without;
      }
    }
    for (const p of path) if (p.type === 'SubqueryExpr') subqueries.push(p);
    out.push({ selector: node, matchers: node.matchers, func, range, subqueries, grouping, by });
  });
  return out;
}
