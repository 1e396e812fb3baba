// Thanos DownsampleRaw (pkg/compact/downsample/downsample.go) over one series, see lib/core/FORMAT.md.
// All arithmetic in f64 exactly like the TS twin (timestamps are exact integers below 2^53).

const RAW_STEP: f64 = 60000;

// Timestamps and resolutions are integers (exact in f64 below 2^53), so the remainder is taken in
// i64: the same value as the f64 `%` of the TS twin, without a software fmod call.
// @ts-ignore: decorator
@inline function currentWindow(t: f64, r: f64): f64 {
  return t - <f64>(<i64>t % <i64>r) + r - 1;
}

/** Integer division truncated toward zero of integer-valued doubles, exact below 2^53. */
// @ts-ignore: decorator
@inline function idiv(a: f64, b: f64): f64 {
  return trunc<f64>(a / b);
}

export function targetChunkCount(mint: f64, maxt: f64, inRes: f64, outRes: f64, count: f64): f64 {
  const maxSamples = idiv(maxt - mint, outRes);
  let f = count / ((maxt - mint) / inRes);
  if (f > 1) f = 1;
  const expSamples = trunc<f64>(maxSamples * f) + 1;
  let x: f64 = 1;
  while (idiv(expSamples, x) > 140) x++;
  return x;
}

// The aggregates' numbering, Thanos AggrChunk order; mirrors lib/core/aggr.ts (exported so
// test/core/aggr.test.ts can check the two agree).
export const AGGR_COUNT: usize = 0;
export const AGGR_SUM: usize = 1;
export const AGGR_MIN: usize = 2;
export const AGGR_MAX: usize = 3;
export const AGGR_COUNTER: usize = 4;

/**
 * Downsamples n raw samples (tPtr, vPtr: f64 arrays) at resolution res (ms). Output at `out`:
 *   u32 windows, u32 chunks, 8 bytes pad, then n-entry f64 arrays t, the five aggregates (array
 *   1 + AGGR_x: count, sum, min, max, counter), firstT, firstV, lastV, then chunkStart as (n + 1) u32.
 * Returns the number of windows.
 */
export function downsample(tPtr: usize, vPtr: usize, n: u32, res: f64, out: usize): i32 {
  const cap = (<usize>n) << 3;
  const oT = out + 16;
  const oCount = oT + cap * (1 + AGGR_COUNT);
  const oSum = oT + cap * (1 + AGGR_SUM);
  const oMin = oT + cap * (1 + AGGR_MIN);
  const oMax = oT + cap * (1 + AGGR_MAX);
  const oCounter = oT + cap * (1 + AGGR_COUNTER);
  const oFirstT = oT + cap * 6;
  const oFirstV = oFirstT + cap;
  const oLastV = oFirstV + cap;
  const oStart = oLastV + cap;
  if (n == 0) {
    store<u32>(out, 0);
    store<u32>(out + 4, 0);
    store<u32>(oStart, 0);
    return 0;
  }
  const numChunks = targetChunkCount(load<f64>(tPtr), load<f64>(tPtr + (((<usize>n) - 1) << 3)), RAW_STEP, res, <f64>n);
  const batchSize = <u32>(trunc<f64>(<f64>n / numChunks) + 1);
  let w: u32 = 0;
  let c: u32 = 0;
  let i: u32 = 0;
  while (i < n) {
    let j = n - i > batchSize ? i + batchSize : n;
    const curW = currentWindow(load<f64>(tPtr + ((<usize>(j - 1)) << 3)), res);
    while (j < n && load<f64>(tPtr + ((<usize>j) << 3)) <= curW) j++;
    let first: i64 = -1;
    let lastIdx: u32 = 0;
    for (let k = i; k < j; k++) {
      const x = load<f64>(vPtr + ((<usize>k) << 3));
      if (x == x) {
        if (first < 0) first = <i64>k;
        lastIdx = k;
      }
    }
    const start = i;
    i = j;
    if (first < 0) continue;
    store<u32>(oStart + ((<usize>c) << 2), w);
    store<f64>(oFirstT + ((<usize>c) << 3), load<f64>(tPtr + ((<usize>first) << 3)));
    store<u64>(oFirstV + ((<usize>c) << 3), load<u64>(vPtr + ((<usize>first) << 3)));
    store<u64>(oLastV + ((<usize>c) << 3), load<u64>(vPtr + ((<usize>lastIdx) << 3)));
    const lastT = load<f64>(tPtr + ((<usize>lastIdx) << 3));
    let nextT: f64 = -1;
    let total: u32 = 0;
    let counter: f64 = 0;
    let last: f64 = 0;
    let count: f64 = 0;
    let sum: f64 = 0;
    let mn: f64 = f64.MAX_VALUE;
    let mx: f64 = -f64.MAX_VALUE;
    for (let k = start; k < j; k++) {
      const x = load<f64>(vPtr + ((<usize>k) << 3));
      if (x != x) continue;
      const tk = load<f64>(tPtr + ((<usize>k) << 3));
      if (tk > nextT) {
        if (nextT != -1) {
          const o = (<usize>w) << 3;
          store<f64>(oT + o, nextT);
          store<f64>(oCount + o, count);
          store<f64>(oSum + o, sum);
          store<f64>(oMin + o, mn);
          store<f64>(oMax + o, mx);
          store<f64>(oCounter + o, counter);
          w++;
        }
        count = 0;
        sum = 0;
        mn = f64.MAX_VALUE;
        mx = -f64.MAX_VALUE;
        nextT = currentWindow(tk, res);
        if (nextT > lastT) nextT = lastT;
      }
      if (total > 0) {
        if (x < last) counter += x;
        else counter += x - last;
      } else counter = x;
      last = x;
      sum += x;
      count += 1;
      total++;
      if (x < mn) mn = x;
      if (x > mx) mx = x;
    }
    const o = (<usize>w) << 3;
    store<f64>(oT + o, nextT);
    store<f64>(oCount + o, count);
    store<f64>(oSum + o, sum);
    store<f64>(oMin + o, mn);
    store<f64>(oMax + o, mx);
    store<f64>(oCounter + o, counter);
    w++;
    c++;
  }
  store<u32>(oStart + ((<usize>c) << 2), w);
  store<u32>(out, w);
  store<u32>(out + 4, c);
  return <i32>w;
}
