// The native-histogram annotations, worded as Prometheus 3.x's util/annotations prints them. The
// evaluator appends ' (line:col)' of the node (Evaluator.pos) and dedups by the full string.
import type { Expr } from '../ast.ts';
import type { Evaluator } from './evaluator.ts';
import { histErrorKind } from './hist.ts';

const W = 'PromQL warning: ';
const I = 'PromQL info: ';
const q = (s: string) => JSON.stringify(s);

export type HistogramOperation = 'addition' | 'subtraction' | 'aggregation';

export const anno = {
  mixedFloatsHistograms: (metric: string) => `${W}encountered a mix of histograms and floats for metric name ${q(metric)}`,
  mixedFloatsHistogramsAgg: () => `${W}encountered a mix of histograms and floats for aggregation`,
  mixedClassicNative: (metric: string) => `${W}vector contains a mix of classic and native histograms${metric ? ` for metric name ${q(metric)}` : ''}`,
  notCounter: (metric: string) => `${W}this native histogram metric is not a counter: ${q(metric)}`,
  notGauge: (metric: string) => `${W}this native histogram metric is not a gauge: ${q(metric)}`,
  mixedExpCustom: (metric: string) => `${W}vector contains a mix of histograms with exponential and custom buckets schemas for metric name ${q(metric)}`,
  incompatibleLayoutBinop: (op: string) => `${W}incompatible bucket layout encountered for binary operator ${op}`,
  incompatibleTypesBinop: (lhs: string, op: string, rhs: string) => `${I}incompatible sample types encountered for binary operator ${q(op)}: ${lhs} ${op} ${rhs}`,
  ignoredInAggregation: (agg: string) => `${I}ignored histogram in ${agg} aggregation`,
  ignoredInMixedRange: (metric: string) => `${I}ignored histograms in a range containing both floats and histograms for metric name ${q(metric)}`,
  quantileNaNResult: (metric: string) => `${I}input to histogram_quantile has NaN observations, result is NaN${metric ? ` for metric name ${q(metric)}` : ''}`,
  quantileNaNSkew: (metric: string) => `${I}input to histogram_quantile has NaN observations, result is skewed higher${metric ? ` for metric name ${q(metric)}` : ''}`,
  fractionNaNs: (metric: string) => `${I}input to histogram_fraction has NaN observations, which are excluded from all fractions${metric ? ` for metric name ${q(metric)}` : ''}`,
  counterResetCollision: (op: HistogramOperation) => `${W}conflicting counter resets during histogram ${op}`,
  mismatchedCustomBuckets: (op: HistogramOperation) => `${I}mismatched custom buckets were reconciled during ${op}`,
};

/** Adds a warning (text from `anno`) positioned at node n. */
export function warn(ev: Evaluator, text: string, n: Expr): void {
  ev.warnings.add(text + ev.pos(n));
}
/** Adds an info annotation positioned at node n. */
export function info(ev: Evaluator, text: string, n: Expr): void {
  ev.infos.add(text + ev.pos(n));
}

/** The annotation for an add/sub error of histograms (mixed schemas), or rethrows anything else. */
export function histErrorAnnotation(err: unknown, metric: string): string {
  const k = histErrorKind(err);
  if (k === 'incompatible-schema') return anno.mixedExpCustom(metric);
  if (k === 'incompatible-bounds') return anno.mixedExpCustom(metric);
  throw err;
}
