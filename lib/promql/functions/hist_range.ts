// Range-window kernels for series that hold native histograms (RangeFnOptions.hist): the rate
// family (Prometheus extrapolatedRate/histogramRate, instantValue), sum/avg_over_time,
// first/last_over_time, changes and resets. Windows holding only floats go to the float kernel.
import { anno } from '../engine/annotations.ts';
import { FloatHistogram, hCompact, hDetectReset, hDiv, hEquals, hMul, histErrorKind } from '../engine/hist.ts';
import type { Arr, HistCtx, HistWindowFn } from './common.ts';

type Hs = ReadonlyArray<FloatHistogram | undefined>;

/** Counts of floats and histograms in [lo, hi). */
function census(h: Hs, lo: number, hi: number): { nf: number; nh: number } {
  let nh = 0;
  for (let i = lo; i < hi; i++) if (h[i] !== undefined) nh++;
  return { nf: hi - lo - nh, nh };
}

/** Prometheus histogramRate: last − first with counter resets, or null (annotation added) when it cannot be computed. */
function histogramRate(t: Arr, h: Hs, lo: number, hi: number, isCounter: boolean, c: HistCtx): FloatHistogram | null {
  let prev = h[lo]!;
  let usingCustom = prev.usesCustomBuckets();
  const last = h[hi - 1]!;
  if (isCounter && (prev.counterResetHint === 'gauge' || last.counterResetHint === 'gauge')) c.warn(anno.notCounter(c.metricName));
  if (isCounter) {
    const second = h[lo + 1]!;
    if (hDetectReset(second, prev)) {
      prev = new FloatHistogram({ schema: second.schema, count: 0, sum: 0, customValues: second.customValues });
      usingCustom = second.usesCustomBuckets();
    }
  }
  if (last.usesCustomBuckets() !== usingCustom) {
    c.warn(anno.mixedExpCustom(c.metricName));
    return null;
  }
  let minSchema = Math.min(last.schema, prev.schema);
  for (let i = lo + 1; i < hi - 1; i++) {
    const cur = h[i]!;
    if (!isCounter) continue;
    if (cur.counterResetHint === 'gauge') c.warn(anno.notCounter(c.metricName));
    if (cur.schema < minSchema) minSchema = cur.schema;
    if (cur.usesCustomBuckets() !== usingCustom) {
      c.warn(anno.mixedExpCustom(c.metricName));
      return null;
    }
  }
  const res = last.copyToSchema(minSchema);
  const sub = (other: FloatHistogram, add: boolean): boolean => {
    try {
      const r = add ? res.add(other) : res.sub(other);
      if (r.nhcbBoundsReconciled) c.info(anno.mismatchedCustomBuckets(add ? 'addition' : 'subtraction'));
      return true;
    } catch (err) {
      if (histErrorKind(err) === null) throw err;
      c.warn(anno.mixedExpCustom(c.metricName));
      return false;
    }
  };
  if (!sub(prev, false)) return null;
  if (isCounter) {
    for (let i = lo + 1; i < hi; i++) {
      const cur = h[i]!;
      if (hDetectReset(cur, prev) && !sub(prev, true)) return null;
      prev = cur;
    }
  } else if (h[lo]!.counterResetHint !== 'gauge' || last.counterResetHint !== 'gauge') {
    c.warn(anno.notGauge(c.metricName));
  }
  res.counterResetHint = 'gauge';
  return hCompact(res, 0);
}

function extrapolatedRate(isCounter: boolean, isRate: boolean): HistWindowFn {
  return (t, v, h, lo, hi, c, floatFn) => {
    const { nf, nh } = census(h, lo, hi);
    if (nf > 0 && nh > 0) {
      c.warn(anno.mixedFloatsHistograms(c.metricName));
      return null;
    }
    if (nh === 0) return floatFn(t, v, lo, hi, c);
    if (nh < 2) return null;
    const res = histogramRate(t, h, lo, hi, isCounter, c);
    if (res === null) return null;
    const firstT = t[lo]!, lastT = t[hi - 1]!;
    let durationToStart = (firstT - c.rangeStart) / 1000;
    let durationToEnd = (c.rangeEnd - lastT) / 1000;
    const sampledInterval = (lastT - firstT) / 1000;
    const avg = sampledInterval / (nh - 1);
    const threshold = avg * 1.1;
    if (durationToStart >= threshold) durationToStart = avg / 2;
    if (isCounter) {
      let durationToZero = durationToStart;
      const first = h[lo]!;
      if (res.count > 0 && first.count >= 0) durationToZero = sampledInterval * (first.count / res.count);
      if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
    if (durationToEnd >= threshold) durationToEnd = avg / 2;
    let factor = sampledInterval !== 0 ? (sampledInterval + durationToStart + durationToEnd) / sampledInterval : 1;
    if (isRate) factor /= c.range / 1000;
    return hMul(res, factor);
  };
}

export const rate = extrapolatedRate(true, true);
export const increase = extrapolatedRate(true, false);
export const delta = extrapolatedRate(false, false);

/** irate / idelta: the last two samples of the window (Prometheus instantValue). */
function instantValue(isRate: boolean): HistWindowFn {
  return (t, v, h, lo, hi, c, floatFn) => {
    if (hi - lo < 2) return null;
    const a = h[hi - 2], b = h[hi - 1];
    if (a === undefined && b === undefined) return floatFn(t, v, lo, hi, c);
    if (a === undefined || b === undefined) {
      c.warn(anno.mixedFloatsHistograms(c.metricName));
      return null;
    }
    const interval = t[hi - 1]! - t[hi - 2]!;
    if (interval === 0) return null;
    const res = b.copy();
    if (isRate && (b.counterResetHint === 'gauge' || a.counterResetHint === 'gauge')) c.warn(anno.notCounter(c.metricName));
    if (!isRate && (b.counterResetHint !== 'gauge' || a.counterResetHint !== 'gauge')) c.warn(anno.notGauge(c.metricName));
    if (!isRate || !hDetectReset(b, a)) {
      try {
        const r = res.sub(a);
        if (r.nhcbBoundsReconciled) c.info(anno.mismatchedCustomBuckets('subtraction'));
      } catch (err) {
        if (histErrorKind(err) === null) throw err;
        c.warn(anno.mixedExpCustom(c.metricName));
        return null;
      }
    }
    res.counterResetHint = 'gauge';
    hCompact(res, 0);
    if (isRate) hDiv(res, interval / 1000);
    return res;
  };
}
export const irate = instantValue(true);
export const idelta = instantValue(false);

/** sum_over_time / avg_over_time over histograms (Kahan-compensated as Prometheus); a mix with floats yields nothing. */
function histAggrOverTime(avg: boolean): HistWindowFn {
  return (t, v, h, lo, hi, c, floatFn) => {
    const { nf, nh } = census(h, lo, hi);
    if (nf > 0 && nh > 0) {
      c.warn(anno.mixedFloatsHistograms(c.metricName));
      return null;
    }
    if (nh === 0) return floatFn(t, v, lo, hi, c);
    let resetSeen = false, notResetSeen = false, reconciled = false;
    const track = (x: FloatHistogram) => {
      if (x.counterResetHint === 'reset') resetSeen = true;
      else if (x.counterResetHint === 'not_reset') notResetSeen = true;
    };
    const first = h[lo]!;
    let sum = first.copy();
    track(first);
    let kc: FloatHistogram | null = null;
    let mean: FloatHistogram | null = null;
    let incremental = false;
    let count = 1;
    let result: FloatHistogram;
    try {
      for (let i = lo + 1; i < hi; i++) {
        const x = h[i]!;
        track(x);
        count = i - lo + 1;
        if (!avg) {
          const r = sum.kahanAdd(x, kc);
          kc = r.c;
          if (r.nhcbBoundsReconciled) reconciled = true;
          continue;
        }
        if (!incremental) {
          const sumCopy = sum.copy();
          const r = sumCopy.kahanAdd(x, kc ? kc.copy() : null);
          if (r.nhcbBoundsReconciled) reconciled = true;
          if (!sumCopy.hasOverflow()) {
            sum = sumCopy;
            kc = r.c;
            continue;
          }
          incremental = true;
          mean = hDiv(sum.copy(), count - 1);
          if (kc) hDiv(kc, count - 1);
        }
        const q = (count - 1) / count;
        if (kc) hMul(kc, q);
        const r = hMul(mean!, q).kahanAdd(hDiv(x.copy(), count), kc);
        kc = r.c;
        if (r.nhcbBoundsReconciled) reconciled = true;
      }
      if (!avg) {
        if (kc) sum.add(kc);
        result = sum;
      } else if (incremental) {
        if (kc) mean!.add(kc);
        result = mean!;
      } else {
        hDiv(sum, count);
        if (kc) sum.add(hDiv(kc, count));
        result = sum;
      }
    } catch (err) {
      if (histErrorKind(err) === null) throw err;
      c.warn(anno.mixedExpCustom(c.metricName));
      return null;
    }
    if (resetSeen && notResetSeen) c.warn(anno.counterResetCollision('aggregation'));
    if (reconciled) c.info(anno.mismatchedCustomBuckets('aggregation'));
    return result;
  };
}
export const sum_over_time = histAggrOverTime(false);
export const avg_over_time = histAggrOverTime(true);

/** last_over_time / first_over_time: the sample itself, float or histogram. */
export const last_over_time: HistWindowFn = (_t, v, h, lo, hi) => {
  if (hi <= lo) return null;
  const x = h[hi - 1];
  return x !== undefined ? x.copy() : v[hi - 1]!;
};
export const first_over_time: HistWindowFn = (_t, v, h, lo, hi) => {
  if (hi <= lo) return null;
  const x = h[lo];
  return x !== undefined ? x.copy() : v[lo]!;
};

/** changes(): a switch between float and histogram counts, histograms compare with Equals. */
export const changes: HistWindowFn = (_t, v, h, lo, hi) => {
  if (hi <= lo) return null;
  let n = 0;
  for (let i = lo + 1; i < hi; i++) {
    const a = h[i - 1], b = h[i];
    if (a === undefined && b === undefined) {
      const p = v[i - 1]!, q = v[i]!;
      if (p !== q && !(Number.isNaN(p) && Number.isNaN(q))) n++;
    } else if (a === undefined || b === undefined) n++;
    else if (!hEquals(b, a)) n++;
  }
  return n;
};

/** resets(): a switch between float and histogram counts, histograms by DetectReset. */
export const resets: HistWindowFn = (_t, v, h, lo, hi) => {
  if (hi <= lo) return null;
  let n = 0;
  for (let i = lo + 1; i < hi; i++) {
    const a = h[i - 1], b = h[i];
    if (a === undefined && b === undefined) {
      if (v[i]! < v[i - 1]!) n++;
    } else if (a === undefined || b === undefined) n++;
    else if (hDetectReset(b, a)) n++;
  }
  return n;
};
