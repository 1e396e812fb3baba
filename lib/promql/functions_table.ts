// Signatures of the PromQL functions (Prometheus 3.x), used by the parser's type checker.
import type { ValueType } from './ast.ts';

export interface FunctionSig {
  name: string;
  args: ValueType[];
  /** 0: exact arity; n > 0: up to n optional trailing args; -1: unlimited repetition of the last arg. */
  variadic: number;
  ret: ValueType;
  experimental?: boolean;
}

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
const STR: ValueType = 'string';

function def(name: string, args: ValueType[], ret: ValueType, variadic = 0, experimental = false): FunctionSig {
  return { name, args, variadic, ret, experimental };
}

const list: FunctionSig[] = [
  ...['abs', 'absent', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'ceil', 'cos', 'cosh', 'deg', 'exp', 'floor',
    'histogram_avg', 'histogram_count', 'histogram_sum', 'histogram_stddev', 'histogram_stdvar', 'ln', 'log10', 'log2',
    'rad', 'sgn', 'sin', 'sinh', 'sort', 'sort_desc', 'sqrt', 'tan', 'tanh', 'timestamp'].map((n) => def(n, [V], V)),
  ...['absent_over_time', 'avg_over_time', 'changes', 'count_over_time', 'delta', 'deriv', 'idelta', 'increase', 'irate',
    'last_over_time', 'max_over_time', 'min_over_time', 'present_over_time', 'rate', 'resets', 'stddev_over_time',
    'stdvar_over_time', 'sum_over_time'].map((n) => def(n, [M], V)),
  ...['first_over_time', 'mad_over_time', 'ts_of_first_over_time', 'ts_of_max_over_time', 'ts_of_min_over_time',
    'ts_of_last_over_time'].map((n) => def(n, [M], V, 0, true)),
  ...['days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'hour', 'minute', 'month', 'year'].map((n) =>
    def(n, [V], V, 1)),
  def('clamp', [V, S, S], V),
  def('clamp_max', [V, S], V),
  def('clamp_min', [V, S], V),
  def('histogram_fraction', [S, S, V], V),
  def('histogram_quantile', [S, V], V),
  def('histogram_quantiles', [V, STR, S, S], V, 9, true),
  def('double_exponential_smoothing', [M, S, S], V, 0, true),
  def('info', [V, V], V, 1, true),
  def('integral', [M, S], V, 1, true),
  def('label_replace', [V, STR, STR, STR, STR], V),
  def('label_join', [V, STR, STR, STR], V, -1),
  def('pi', [], S),
  def('predict_linear', [M, S], V),
  def('quantile_over_time', [S, M], V),
  def('round', [V, S], V, 1),
  def('scalar', [V], S),
  def('sort_by_label', [V, STR], V, -1, true),
  def('sort_by_label_desc', [V, STR], V, -1, true),
  def('time', [], S),
  def('vector', [S], V),
  def('start', [], S, 0, true),
  def('end', [], S, 0, true),
  def('range', [], S, 0, true),
  def('step', [], S, 0, true),
];

export const FUNCTIONS: ReadonlyMap<string, FunctionSig> = new Map(list.map((f) => [f.name, f]));
