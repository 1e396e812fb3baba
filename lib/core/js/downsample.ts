// Pure-TS twin of Thanos DownsampleRaw (pkg/compact/downsample/downsample.go), see ../FORMAT.md.
import type { AggrSeries } from '../types.ts';

const MAX_F64 = Number.MAX_VALUE;
const RAW_STEP_MS = 60_000; // Thanos assumes 1m raw resolution for its chunk-count heuristic

/** End (inclusive) of the window t falls into: t - t%r + r - 1 (truncated modulo, as in Go). */
export function currentWindow(t: number, r: number): number {
  return t - (t % r) + r - 1;
}

/** Thanos targetChunkCount(mint, maxt, inRes, outRes, count). */
export function targetChunkCount(mint: number, maxt: number, inRes: number, outRes: number, count: number): number {
  const maxSamples = Math.trunc((maxt - mint) / outRes);
  let f = count / ((maxt - mint) / inRes);
  if (f > 1) f = 1;
  const expSamples = Math.trunc(maxSamples * f) + 1;
  let x = 1;
  while (Math.trunc(expSamples / x) > 140) x++;
  return x;
}

export function emptyAggrSeries(): AggrSeries {
  const z = new Float64Array(0);
  return { n: 0, t: z, count: z, sum: z, min: z, max: z, counter: z, chunks: 0, chunkStart: new Uint32Array(1), firstT: z, firstV: z, lastV: z };
}

export function downsample(t: Float64Array, v: Float64Array, n: number, res: number): AggrSeries {
  if (!(res > 0) || !Number.isInteger(res)) throw new RangeError(`downsample: resolution must be a positive integer (ms), got ${res}`);
  if (!(n >= 0) || n > t.length || n > v.length) throw new RangeError(`downsample: n=${n} out of range`);
  if (n === 0) return emptyAggrSeries();
  const numChunks = targetChunkCount(t[0], t[n - 1], RAW_STEP_MS, res, n);
  const batchSize = Math.trunc(n / numChunks) + 1;

  const ot = new Float64Array(n);
  const oCount = new Float64Array(n);
  const oSum = new Float64Array(n);
  const oMin = new Float64Array(n);
  const oMax = new Float64Array(n);
  const oCounter = new Float64Array(n);
  const chunkStart = new Uint32Array(n + 1);
  const firstT = new Float64Array(n);
  const firstV = new Float64Array(n);
  const lastV = new Float64Array(n);
  let w = 0;
  let c = 0;

  let i = 0;
  while (i < n) {
    let j = Math.min(i + batchSize, n);
    const curW = currentWindow(t[j - 1], res);
    while (j < n && t[j] <= curW) j++;
    // batch = samples i..j-1 without NaN
    let first = -1;
    let lastIdx = -1;
    for (let k = i; k < j; k++) {
      if (v[k] === v[k]) {
        if (first < 0) first = k;
        lastIdx = k;
      }
    }
    const start = i;
    i = j;
    if (first < 0) continue;
    chunkStart[c] = w;
    firstT[c] = t[first];
    firstV[c] = v[first];
    lastV[c] = v[lastIdx];
    const lastT = t[lastIdx];
    // downsampleBatch
    let nextT = -1;
    let total = 0;
    let counter = 0;
    let last = 0;
    let count = 0;
    let sum = 0;
    let mn = MAX_F64;
    let mx = -MAX_F64;
    for (let k = start; k < j; k++) {
      const x = v[k];
      if (x !== x) continue;
      const tk = t[k];
      if (tk > nextT) {
        if (nextT !== -1) {
          ot[w] = nextT;
          oCount[w] = count;
          oSum[w] = sum;
          oMin[w] = mn;
          oMax[w] = mx;
          oCounter[w] = counter;
          w++;
        }
        count = 0;
        sum = 0;
        mn = MAX_F64;
        mx = -MAX_F64;
        nextT = currentWindow(tk, res);
        if (nextT > lastT) nextT = lastT;
      }
      if (total > 0) {
        if (x < last) counter += x;
        else counter += x - last;
      } else counter = x;
      last = x;
      sum += x;
      count++;
      total++;
      if (x < mn) mn = x;
      if (x > mx) mx = x;
    }
    ot[w] = nextT;
    oCount[w] = count;
    oSum[w] = sum;
    oMin[w] = mn;
    oMax[w] = mx;
    oCounter[w] = counter;
    w++;
    c++;
  }
  chunkStart[c] = w;
  return {
    n: w,
    t: ot.subarray(0, w),
    count: oCount.subarray(0, w),
    sum: oSum.subarray(0, w),
    min: oMin.subarray(0, w),
    max: oMax.subarray(0, w),
    counter: oCounter.subarray(0, w),
    chunks: c,
    chunkStart: chunkStart.subarray(0, c + 1),
    firstT: firstT.subarray(0, c),
    firstV: firstV.subarray(0, c),
    lastV: lastV.subarray(0, c),
  };
}
