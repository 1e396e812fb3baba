// Helpers over AggrSeries: the samples of each of the five XOR chunks of one AggrChunk, in
// Thanos order count, sum, min, max, counter (AggrCount=0 .. AggrCounter=4).
import type { AggrSeries, Samples } from './types.ts';

export const AGGR_COUNT = 0;
export const AGGR_SUM = 1;
export const AGGR_MIN = 2;
export const AGGR_MAX = 3;
export const AGGR_COUNTER = 4;

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
  return {
    minTime: t[0],
    maxTime: t[m - 1],
    aggr: [win(a.count), win(a.sum), win(a.min), win(a.max), { t: ct, v: cv, n: m + 2 }],
  };
}
