// Functions over whole instant vectors: vector, scalar, absent, absent_over_time, sort, sort_desc.
import type { Call, Expr, MatrixSelector, SubqueryExpr, VectorSelector } from '../ast.ts';
import type { Evaluator } from '../engine/evaluator.ts';
import { rangeSource } from '../engine/selectors.ts';
import { dropHistogramSamples } from '../engine/calls.ts';
import type { Matrix } from '../engine/types.ts';
import { METRIC_NAME, type Labels } from '../../labels/mod.ts';

export function vector(ev: Evaluator, e: Call): Matrix {
  const m = ev.evalMatrix(e.args[0]!);
  return m.map((s) => ({ ...s, metric: [], dropName: false }));
}

export function scalar(ev: Evaluator, e: Call): Matrix {
  const m = ev.evalMatrix(e.args[0]!);
  const n = ev.numSteps();
  const t: number[] = [];
  const v: number[] = [];
  // The one float sample of the step (histogram samples do not count), else NaN.
  const r = ev.rangeEval([m], ([vec], ts) => {
    let v = NaN, found = 0;
    for (const x of vec!) if (!x.h && found++ === 0) v = x.v;
    return [{ metric: [], t: ts, v: found === 1 ? v : NaN, dropName: false }];
  });
  const s = r[0];
  for (let i = 0; i < n; i++) {
    t.push(ev.start + i * ev.interval);
    v.push(s ? s.v[i]! : NaN);
  }
  return [{ metric: [], t, v, dropName: false }];
}

export function absent(ev: Evaluator, e: Call): Matrix {
  const m = ev.evalMatrix(e.args[0]!);
  const present = new Uint8Array(ev.numSteps());
  for (const s of m) for (const t of s.t) present[ev.stepIndex(t)] = 1;
  return absentAt(ev, present, e.args[0]!);
}

export function sort(ev: Evaluator, e: Call): Matrix {
  const name = e.func;
  if (ev.o.queryStart !== ev.o.queryEnd) ev.warnings.add(`PromQL warning: sort is ineffective for range queries since results are always ordered by labels${ev.pos(e)}`);
  const m = dropHistogramSamples(ev.evalMatrix(e.args[0]!));
  const desc = name === 'sort_desc';
  return ev.rangeEval([m], ([vec]) => {
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

export function absentOverTime(ev: Evaluator, e: Call): Matrix {
  let arg = e.args[0]!;
  while (arg.type === 'ParenExpr') arg = arg.expr;
  const src = rangeSource(ev, arg as MatrixSelector | SubqueryExpr);
  const present = new Uint8Array(ev.numSteps());
  ev.forEachWindow(src, (_r, lo, hi, _ctx, stepIdx) => {
    if (hi > lo) present[stepIdx] = 1;
  });
  return absentAt(ev, present, arg);
}

/** absent()'s answer: 1 at every step where nothing was present, labelled from the argument's matchers. */
function absentAt(ev: Evaluator, present: Uint8Array, arg: Expr): Matrix {
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < present.length; i++) {
    if (!present[i]) {
      t.push(ev.start + i * ev.interval);
      v.push(1);
    }
  }
  if (!t.length) return [];
  return [{ metric: absentLabels(arg), t, v, dropName: true }];
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
