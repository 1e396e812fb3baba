// Time functions: time(), timestamp(), the query-bound constants start()/end()/range()/step()
// (experimental) and the calendar functions (day_of_week, ...) for the dateFn kernel.
import type { Call } from '../ast.ts';
import type { Evaluator } from '../engine/evaluator.ts';
import { dropMetricName } from '../engine/helpers.ts';
import { evalVectorSelector } from '../engine/selectors.ts';
import type { Matrix } from '../engine/types.ts';

export function time(ev: Evaluator, _e: Call): Matrix {
  const n = ev.numSteps();
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    const ts = ev.start + i * ev.interval;
    t.push(ts);
    v.push(ts / 1000);
  }
  return [{ metric: [], t, v, dropName: false }];
}

export function timestamp(ev: Evaluator, e: Call): Matrix {
  const delayed = ev.o.delayed;
  let arg = e.args[0]!;
  while (arg.type === 'ParenExpr') arg = arg.expr;
  if (arg.type === 'VectorSelector') {
    const m = evalVectorSelector(ev, arg, true);
    for (const s of m) {
      if (!delayed) s.metric = dropMetricName(s.metric);
      s.dropName = true;
    }
    return m;
  }
  const m = ev.evalMatrix(e.args[0]!);
  return ev.rangeEval([m], ([vec], ts) => vec!.map((s) => ev.mapName(s, ts / 1000)));
}

/** A scalar fixed for the whole query: pi(), start(), end(), range(), step(). */
export function constant(value: (ev: Evaluator) => number): (ev: Evaluator, e: Call) => Matrix {
  return (ev, e) => ev.evalMatrix({ type: 'NumberLiteral', val: value(ev), pos: e.pos });
}
export const queryStart = constant((ev) => ev.o.queryStart / 1000);
export const queryEnd = constant((ev) => ev.o.queryEnd / 1000);
export const queryRange = constant((ev) => (ev.o.queryEnd - ev.o.queryStart) / 1000);
export const queryStep = constant((ev) => (ev.o.queryStart === ev.o.queryEnd ? 0 : ev.interval) / 1000);

export const DATE: Record<string, (d: Date) => number> = {
  days_in_month: (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate(),
  day_of_month: (d) => d.getUTCDate(),
  day_of_week: (d) => d.getUTCDay(),
  day_of_year: (d) => Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1,
  hour: (d) => d.getUTCHours(),
  minute: (d) => d.getUTCMinutes(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
};
export const pi = constant(() => Math.PI);
