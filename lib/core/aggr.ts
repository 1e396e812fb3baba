// The downsampling aggregates and their one numbering: Thanos AggrChunk order count, sum, min, max,
// counter (pkg/compact/downsample/aggr.go, AggrCount=0 .. AggrCounter=4). lib/tsdb's AggrChunk codec
// and downsampler index by these, and the WASM kernel (wasm/downsample.ts) mirrors them in its output
// layout and exports them (test/core/aggr.test.ts checks the two agree). The StoreAPI's storepb.Aggr
// (lib/proto/store.ts, RAW=0 COUNT=1 ..) is a wire enum, not this numbering.
// Also helpers over AggrSeries: the samples of each of the five XOR chunks of one AggrChunk.
import type { AggrSeries, Samples } from './types.ts';

export const AGGR_COUNT = 0;
export const AGGR_SUM = 1;
export const AGGR_MIN = 2;
export const AGGR_MAX = 3;
export const AGGR_COUNTER = 4;
/** The aggregates' names (also AggrSeries's field names), indexed by AGGR_COUNT..AGGR_COUNTER. */
export const AGGR_NAMES = ['count', 'sum', 'min', 'max', 'counter'] as const;
export type AggrName = (typeof AGGR_NAMES)[number];

export interface AggrChunkSamples {
  minTime: number;
  maxTime: number;
  /** Indexed by AGGR_COUNT..AGGR_COUNTER. */
  aggr: [Samples, Samples, Samples, Samples, Samples];
}

/** The samples Thanos appends to each aggregate chunk of output chunk k (0 <= k < a.chunks). */
export function aggrChunkSamples(a: AggrSeries, k: number): AggrChunkSamples {
  if (!(k >= 0 && k < a.chunks)) throw new RangeError(`aggrChunkSamples: chunk ${k} out of range 0..${a.chunks - 1}`);
  const s = a.chunkStart[k];
  const e = a.chunkStart[k + 1];
  const m = e - s;
  const t = a.t.slice(s, e);
  const win = (arr: Float64Array): Samples => ({ t, v: arr.slice(s, e), n: m });
  const ct = new Float64Array(m + 2);
  const cv = new Float64Array(m + 2);
  ct[0] = a.firstT[k];
  cv[0] = a.firstV[k];
  ct.set(t, 1);
  cv.set(a.counter.subarray(s, e), 1);
  ct[m + 1] = t[m - 1];
  cv[m + 1] = a.lastV[k];
  const aggr = [] as unknown as AggrChunkSamples['aggr'];
  aggr[AGGR_COUNT] = win(a.count);
  aggr[AGGR_SUM] = win(a.sum);
  aggr[AGGR_MIN] = win(a.min);
  aggr[AGGR_MAX] = win(a.max);
  aggr[AGGR_COUNTER] = { t: ct, v: cv, n: m + 2 };
  return {
    minTime: t[0],
    maxTime: t[m - 1],
    aggr,
  };
}
