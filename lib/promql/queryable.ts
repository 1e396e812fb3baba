// The small storage seam of the PromQL engine: select series by matchers and time range.
// The querier implements it over StoreAPIs; tests implement it over in-memory series.
import type { Labels, Matcher } from '../labels/mod.ts';
import type { FloatHistogram } from '../histogram/float.ts';

export interface SelectHints {
  /** Inclusive ms range the engine needs (already widened by lookback / range / offset). */
  start: number;
  end: number;
  /** Query step in ms (0 for instant queries). */
  step?: number;
  /** Surrounding function name, e.g. 'rate', 'max_over_time' (Thanos uses it to pick aggregates). */
  func?: string;
  /** Range of a range-vector selector in ms. */
  range?: number;
  grouping?: string[];
  by?: boolean;
}

/**
 * One series with its raw samples in time order (t in ms). A series may hold float and native
 * histogram samples (Prometheus allows both in one series, in different chunks): when `h` is present
 * and h[i] is defined, sample i is that histogram and v[i] is meaningless; otherwise sample i is the
 * float v[i]. A histogram stale marker is a histogram whose sum has the StaleNaN bits.
 */
export interface SeriesData {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  n: number;
  h?: ReadonlyArray<FloatHistogram | undefined>;
}

/**
 * A float-only SeriesData whose staleness markers the queryable marked itself while it wrote the
 * samples (`stale[i]` = 1 where v[i] has the StaleNaN bits; null: none): the engine takes the object
 * as its own per-series record (no copy, no second pass over the values). A queryable that makes
 * these gives each select its own objects (the engine owns them for the query).
 */
export interface MarkedSeriesData extends SeriesData {
  h?: undefined;
  stale: Uint8Array | null;
  dropName: false;
}

export interface SelectResult {
  series: SeriesData[];
  /** Non-fatal problems (partial responses), surfaced as API warnings. */
  warnings?: string[];
}

export interface Queryable {
  select(matchers: readonly Matcher[], hints: SelectHints, signal?: AbortSignal): Promise<SelectResult>;
  labelNames?(matchers: readonly Matcher[], start: number, end: number, signal?: AbortSignal): Promise<string[]>;
  labelValues?(name: string, matchers: readonly Matcher[], start: number, end: number, signal?: AbortSignal): Promise<string[]>;
}
