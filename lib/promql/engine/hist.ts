// The engine's view of native histogram arithmetic: thin wrappers over lib/histogram's
// FloatHistogram (Prometheus model/histogram semantics), plus the stale-marker test. Kept as one
// seam so the operators and functions read as Prometheus's engine does (h.Copy().Mul(f) → hMul(h.copy(), f)).
import { FloatHistogram, HistogramError, type AddResult } from '../../histogram/float.ts';

export { FloatHistogram };
export type { AddResult };

/** The kind of a histogram error thrown by add/sub, or null for other errors. */
export function histErrorKind(err: unknown): HistogramError['kind'] | null {
  return err instanceof HistogramError ? err.kind : null;
}

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Whether a histogram sample is a staleness marker (sum carries the StaleNaN bits). */
export function isStaleHistogram(h: FloatHistogram): boolean {
  if (!Number.isNaN(h.sum)) return false;
  f64[0] = h.sum;
  return u32[1] === STALE_HI && u32[0] === STALE_LO;
}

/** a += o (mutates a). Throws HistogramError for a mix of exponential and custom buckets. */
export const hAdd = (a: FloatHistogram, o: FloatHistogram): AddResult => a.add(o);
/** a -= o (mutates a). */
export const hSub = (a: FloatHistogram, o: FloatHistogram): AddResult => a.sub(o);
/** Scales a in place (a negative factor makes it a gauge). */
export const hMul = (a: FloatHistogram, f: number): FloatHistogram => a.mul(f);
/** Divides a in place (by zero: all buckets removed). */
export const hDiv = (a: FloatHistogram, f: number): FloatHistogram => a.div(f);
/** Compacts a in place. */
export const hCompact = (a: FloatHistogram, maxEmpty = 0): FloatHistogram => a.compact(maxEmpty);
/** Whether cur is a counter reset relative to prev (Prometheus DetectReset). */
export const hDetectReset = (cur: FloatHistogram, prev: FloatHistogram): boolean => cur.detectReset(prev);
/** Prometheus Equals. */
export const hEquals = (a: FloatHistogram, b: FloatHistogram): boolean => a.equals(b);

/**
 * How many float samples a histogram sample counts as against --query.max-samples (Prometheus
 * HPoint.size: the Go FloatHistogram's bytes plus a timestamp, over the 16 bytes of a float sample),
 * so a query over huge histograms is bounded like one over many floats.
 */
export function histSampleWeight(h: FloatHistogram): number {
  const bytes = 168 + 8 * (h.positiveSpans.length + h.negativeSpans.length + h.positiveBuckets.length + h.negativeBuckets.length + h.customValues.length);
  return Math.floor((bytes + 8) / 16);
}
