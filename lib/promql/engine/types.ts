// Engine value types: the public result types (1:1 with the Prometheus HTTP API JSON) and the
// evaluator's internal column-wise series.
import type { Expr, VectorSelector } from '../ast.ts';
import type { Labels } from '../../labels/mod.ts';
import type { AnalysisRecorder, OperatorAnalysis } from '../analyze.ts';
import type { FloatHistogram } from '../../histogram/float.ts';
import type { Queryable } from '../queryable.ts';
import type { InfoPlan } from '../functions/info.ts';

// ---------------------------------------------------------------------------------------------
// Public result types (1:1 with the Prometheus HTTP API JSON)

export interface Point {
  t: number;
  v: number;
  /** A native histogram sample (then v is meaningless): the API writes it as "histogram". */
  h?: FloatHistogram;
}
export interface MatrixSeries {
  metric: Labels;
  values: Point[];
}
/** Where a column-wise MatrixSeries keeps its samples (a symbol: invisible to JSON, keys, equality). */
export const MATRIX_COLUMNS: unique symbol = Symbol('matrixColumns');
/** Column-wise samples: index-readable arrays (plain or typed). */
export interface MatrixColumns {
  readonly t: ArrayLike<number>;
  readonly v: ArrayLike<number>;
  /** Histogram samples: h[i] defined ⇒ point i is that histogram (the API's "histograms"). */
  readonly h?: ArrayLike<FloatHistogram | undefined>;
}

/**
 * A MatrixSeries over column-wise samples. `values` (one object per point) is only built when first
 * read: a raw selection of millions of samples written straight to JSON never allocates per-point
 * objects (9M of them made a >1 GB heap whose major GCs held the event loop for seconds).
 */
export function columnarMatrixSeries(metric: Labels, t: ArrayLike<number>, v: ArrayLike<number>, h?: ArrayLike<FloatHistogram | undefined>): MatrixSeries {
  let values: Point[] | undefined;
  // Dropped once `values` exists: a reader may then change the points, which become the truth.
  let cols: MatrixColumns | undefined = h ? { t, v, h } : { t, v };
  return {
    metric,
    get values(): Point[] {
      if (values === undefined) {
        const n = t.length;
        values = new Array(n);
        if (h) {
          for (let i = 0; i < n; i++) {
            const hi = h[i];
            values[i] = hi ? { t: t[i]!, v: 0, h: hi } : { t: t[i]!, v: v[i]! };
          }
        } else for (let i = 0; i < n; i++) values[i] = { t: t[i]!, v: v[i]! };
        cols = undefined;
      }
      return values;
    },
    set values(p: Point[]) {
      values = p;
      cols = undefined;
    },
    get [MATRIX_COLUMNS](): MatrixColumns | undefined {
      return cols;
    },
  } as MatrixSeries;
}

/** A series' column-wise samples, if it has them and `values` was never built (else undefined). */
export function matrixColumns(s: MatrixSeries): MatrixColumns | undefined {
  return (s as { [MATRIX_COLUMNS]?: MatrixColumns })[MATRIX_COLUMNS];
}

/** Points in a series, without building per-point objects. */
export function matrixLength(s: MatrixSeries): number {
  const c = matrixColumns(s);
  return c ? c.t.length : s.values.length;
}
export interface VectorSample {
  metric: Labels;
  value: Point;
}
export type QueryResult = (
  | { resultType: 'matrix'; result: MatrixSeries[]; warnings: string[]; infos: string[] }
  | { resultType: 'vector'; result: VectorSample[]; warnings: string[]; infos: string[] }
  | { resultType: 'scalar'; result: Point; warnings: string[]; infos: string[] }
  | { resultType: 'string'; result: { t: number; v: string }; warnings: string[]; infos: string[] }
) & {
  /** Per-operator timings and samples, when the query asked for them (QueryOptions.analyze). */
  analysis?: OperatorAnalysis;
};

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
  /** Record per-operator timings and samples (the querier's analyze=true): QueryResult.analysis. */
  analyze?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Internal values

/**
 * One series' points at the evaluator's steps. `h`, when present, runs parallel to t/v: h[i]
 * defined ⇒ point i is that native histogram (v[i] meaningless). Float-only series have no `h`,
 * so the float paths never look at it.
 */
export interface Series {
  metric: Labels;
  t: number[];
  v: number[];
  h?: (FloatHistogram | undefined)[];
  dropName: boolean;
}
export type Matrix = Series[];
export interface Sample {
  metric: Labels;
  t: number;
  v: number;
  /** A histogram sample (v meaningless). */
  h?: FloatHistogram;
  dropName: boolean;
}
export type Vector = Sample[];
export type Value = Matrix | { str: string };
export interface BinopState {
  ordOf: Map<Labels, number>;
  /** the matched labels (with the metric name when !on, as signatureHash takes them) */
  names: Set<string>;
  /** signature hash -> ordinal of the first signature seen with that hash */
  sigOrd: Map<number, number>;
  /** a label set of each ordinal's signature */
  sigRep: Labels[];
  /** ordinals of signatures whose hash an earlier, different signature holds (collisions), by signature string */
  sigStr: Map<string, number> | null;
  stamp: number;
  rStamp: number[];
  rSample: (Sample | null)[];
  mStamp: number[];
}

/** Raw series prepared for evaluation: sorted samples plus a staleness mask. */
export interface RawSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  n: number;
  /** Histogram samples (SeriesData.h): h[i] defined ⇒ sample i is that histogram. */
  h?: ReadonlyArray<FloatHistogram | undefined>;
  stale: Uint8Array | null;
  dropName: boolean;
}

export interface EvalOpts {
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

export interface Shared {
  data: Map<VectorSelector, RawSeries[]>;
  warnings: Set<string>;
  infos: Set<string>;
  samples: { current: number };
  /** Operands computed by the driver (engine/driver.ts), taken once by the kernel that asks for them. */
  pre: Map<Expr, { start: number; end: number; interval: number; val: Value }>;
  /** performance.now() when the driver last yielded to the event loop. */
  sliceStart: number;
  /** Series loaded by all selectors of the query (sizes the driver's chunks). */
  seriesEstimate: number;
  /** Set when the query is analyzed (QueryOptions.analyze). */
  analysis?: AnalysisRecorder;
  /** The query's storage, for the selects made during evaluation (info()). */
  queryable?: Queryable;
  /** info() calls: their info series and combination rules (functions/info.ts). */
  infoPlans: Map<Expr, InfoPlan>;
}

/** Raw series of a matrix selector or subquery plus its window parameters (ms). */
export interface RangeSource {
  raws: RawSeries[];
  range: number;
  offset: number;
  at: number | null;
}
