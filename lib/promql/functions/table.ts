// THE table of PromQL functions (Prometheus 3.x): one entry per function, read by the parser (type
// checking, arity, experimental flag) and by the engine (dispatch: `def.kernel(evaluator, call)`).
// A new function = one entry here + its kernel in the family file + a test script (README.md).
import type { ValueType } from '../ast.ts';
import { dateFn, elementwise, rangeFn, unsupported, type CallKernel } from '../engine/calls.ts';
import { bucketFunction, histogramStat } from './histogram.ts';
import * as hr from './hist_range.ts';
import { labelJoin, labelReplace, sortByLabel } from './label.ts';
import { infoKernel } from './info.ts';
import { clampOrRound, deg, rad, scalarPair, sgn } from './math.ts';
import * as ot from './over_time.ts';
import * as rt from './rate.ts';
import { DATE, pi, queryEnd, queryRange, queryStart, queryStep, time, timestamp } from './time.ts';
import { absent, absentOverTime, scalar, sort, vector } from './vector.ts';

export interface FunctionDef {
  name: string;
  /** Argument types, in order. */
  args: ValueType[];
  /** 0: exact arity; n > 0: up to n optional trailing args; -1: unlimited repetition of the last arg. */
  variadic: number;
  ret: ValueType;
  /** Behind --enable-feature=promql-experimental-functions in Prometheus. */
  experimental?: boolean;
  /** False: parsed and type-checked, refused at evaluation (the conformance harness skips its cases). */
  implemented: boolean;
  /** How the engine evaluates a call (engine/calls.ts: rangeFn, elementwise, dateFn, or its own). */
  kernel: CallKernel;
}
/** The parser's view of a function (the same object). */
export type FunctionSig = FunctionDef;

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
const STR: ValueType = 'string';

interface Flags { variadic?: number; experimental?: boolean; implemented?: boolean }
function fn(name: string, args: ValueType[], ret: ValueType, kernel: CallKernel, flags: Flags = {}): FunctionDef {
  return { name, args, variadic: flags.variadic ?? 0, ret, experimental: flags.experimental ?? false, implemented: flags.implemented ?? true, kernel };
}
const X = { experimental: true };
const OPT1 = { variadic: 1 };
/** Kernels that only count or time samples: histograms count like floats. */
const ANY = { hist: 'any' as const };

const list: FunctionDef[] = [
  // Rate family (functions/rate.ts) — range vector in, one sample per window.
  fn('rate', [M], V, rangeFn(rt.rate, { counter: true, hist: hr.rate })),
  fn('increase', [M], V, rangeFn(rt.increase, { counter: true, hist: hr.increase })),
  fn('delta', [M], V, rangeFn(rt.delta, { hist: hr.delta })),
  fn('irate', [M], V, rangeFn(rt.irate, { hist: hr.irate })),
  fn('idelta', [M], V, rangeFn(rt.idelta, { hist: hr.idelta })),
  fn('deriv', [M], V, rangeFn(rt.deriv)),
  fn('predict_linear', [M, S], V, rangeFn(rt.predict_linear)),
  // *_over_time family (functions/over_time.ts).
  fn('avg_over_time', [M], V, rangeFn(ot.avg_over_time, { hist: hr.avg_over_time })),
  fn('sum_over_time', [M], V, rangeFn(ot.sum_over_time, { hist: hr.sum_over_time })),
  fn('count_over_time', [M], V, rangeFn(ot.count_over_time, ANY)),
  fn('min_over_time', [M], V, rangeFn(ot.min_over_time)),
  fn('max_over_time', [M], V, rangeFn(ot.max_over_time)),
  fn('last_over_time', [M], V, rangeFn(ot.last_over_time, { keepName: true, hist: hr.last_over_time })),
  fn('present_over_time', [M], V, rangeFn(ot.present_over_time, ANY)),
  fn('stdvar_over_time', [M], V, rangeFn(ot.stdvar_over_time)),
  fn('stddev_over_time', [M], V, rangeFn(ot.stddev_over_time)),
  fn('quantile_over_time', [S, M], V, rangeFn(ot.quantile_over_time, { check: ot.checkQuantileOverTime, histAnnoArg: 0 })),
  fn('changes', [M], V, rangeFn(ot.changes, { hist: hr.changes })),
  fn('resets', [M], V, rangeFn(ot.resets, { hist: hr.resets })),
  fn('absent_over_time', [M], V, absentOverTime),
  fn('first_over_time', [M], V, rangeFn(ot.first_over_time, { keepName: true, hist: hr.first_over_time }), X),
  fn('mad_over_time', [M], V, rangeFn(ot.mad_over_time), X),
  fn('ts_of_first_over_time', [M], V, rangeFn(ot.ts_of_first_over_time, ANY), X),
  fn('ts_of_last_over_time', [M], V, rangeFn(ot.ts_of_last_over_time, ANY), X),
  fn('ts_of_max_over_time', [M], V, rangeFn(ot.ts_of_max_over_time), X),
  fn('ts_of_min_over_time', [M], V, rangeFn(ot.ts_of_min_over_time), X),
  fn('double_exponential_smoothing', [M, S, S], V, rangeFn(ot.double_exponential_smoothing, { check: ot.checkSmoothingFactors }), X),
  fn('integral', [M, S], V, unsupported('function "integral" is not supported'), { variadic: 1, experimental: true, implemented: false }),
  // Math (functions/math.ts) — per sample, drops __name__.
  fn('abs', [V], V, elementwise(Math.abs)),
  fn('ceil', [V], V, elementwise(Math.ceil)),
  fn('floor', [V], V, elementwise(Math.floor)),
  fn('exp', [V], V, elementwise(Math.exp)),
  fn('sqrt', [V], V, elementwise(Math.sqrt)),
  fn('ln', [V], V, elementwise(Math.log)),
  fn('log2', [V], V, elementwise(Math.log2)),
  fn('log10', [V], V, elementwise(Math.log10)),
  fn('sgn', [V], V, elementwise(sgn)),
  fn('sin', [V], V, elementwise(Math.sin)),
  fn('cos', [V], V, elementwise(Math.cos)),
  fn('tan', [V], V, elementwise(Math.tan)),
  fn('asin', [V], V, elementwise(Math.asin)),
  fn('acos', [V], V, elementwise(Math.acos)),
  fn('atan', [V], V, elementwise(Math.atan)),
  fn('sinh', [V], V, elementwise(Math.sinh)),
  fn('cosh', [V], V, elementwise(Math.cosh)),
  fn('tanh', [V], V, elementwise(Math.tanh)),
  fn('asinh', [V], V, elementwise(Math.asinh)),
  fn('acosh', [V], V, elementwise(Math.acosh)),
  fn('atanh', [V], V, elementwise(Math.atanh)),
  fn('deg', [V], V, elementwise(deg)),
  fn('rad', [V], V, elementwise(rad)),
  fn('clamp', [V, S, S], V, clampOrRound),
  fn('clamp_max', [V, S], V, clampOrRound),
  fn('clamp_min', [V, S], V, clampOrRound),
  fn('round', [V, S], V, clampOrRound, OPT1),
  fn('pi', [], S, pi),
  fn('min_of', [S, S], S, scalarPair(Math.min), X),
  fn('max_of', [S, S], S, scalarPair(Math.max), X),
  // Time (functions/time.ts).
  fn('time', [], S, time),
  fn('timestamp', [V], V, timestamp),
  fn('days_in_month', [V], V, dateFn(DATE.days_in_month!), OPT1),
  fn('day_of_month', [V], V, dateFn(DATE.day_of_month!), OPT1),
  fn('day_of_week', [V], V, dateFn(DATE.day_of_week!), OPT1),
  fn('day_of_year', [V], V, dateFn(DATE.day_of_year!), OPT1),
  fn('hour', [V], V, dateFn(DATE.hour!), OPT1),
  fn('minute', [V], V, dateFn(DATE.minute!), OPT1),
  fn('month', [V], V, dateFn(DATE.month!), OPT1),
  fn('year', [V], V, dateFn(DATE.year!), OPT1),
  fn('start', [], S, queryStart, X),
  fn('end', [], S, queryEnd, X),
  fn('range', [], S, queryRange, X),
  fn('step', [], S, queryStep, X),
  // Labels (functions/label.ts).
  fn('label_replace', [V, STR, STR, STR, STR], V, labelReplace),
  fn('label_join', [V, STR, STR, STR], V, labelJoin, { variadic: -1 }),
  fn('sort_by_label', [V, STR], V, sortByLabel, { variadic: -1, experimental: true }),
  fn('sort_by_label_desc', [V, STR], V, sortByLabel, { variadic: -1, experimental: true }),
  fn('info', [V, V], V, infoKernel, { variadic: 1, experimental: true }),
  // Histograms (functions/histogram.ts).
  fn('histogram_quantile', [S, V], V, bucketFunction),
  fn('histogram_fraction', [S, S, V], V, bucketFunction),
  fn('histogram_avg', [V], V, histogramStat),
  fn('histogram_count', [V], V, histogramStat),
  fn('histogram_sum', [V], V, histogramStat),
  fn('histogram_stddev', [V], V, histogramStat),
  fn('histogram_stdvar', [V], V, histogramStat),
  fn('histogram_quantiles', [V, STR, S, S], V, bucketFunction, { variadic: 9, experimental: true }),
  // Whole vectors (functions/vector.ts).
  fn('vector', [S], V, vector),
  fn('scalar', [V], S, scalar),
  fn('absent', [V], V, absent),
  fn('sort', [V], V, sort),
  fn('sort_desc', [V], V, sort),
];

export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map(list.map((f) => [f.name, f]));
