// Native histogram samples of blocks: decoded histogram chunks (EncHistogram = 2, EncFloatHistogram
// = 3) hold the query path's FloatHistogram per sample (lib/histogram/convert.ts fromChunkSample),
// and go back through the chunk appender for re-encoding (vertical compaction, rewrite). A series may hold float and histogram chunks (Prometheus
// allows both in one series): its decoded samples are one time-ordered list where h[i] defined
// means sample i is that histogram (v[i] is then meaningless), as in lib/promql/queryable.ts.
import type { Core } from '../core/types.ts';
import { isStaleNaN } from '../core/js/histogram.ts';
import { HistogramChunkAppender, type HistogramSample } from '../core/js/histogram_append.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM } from './chunks.ts';
import type { ChunkInput } from './writer.ts';
import type { BucketSpan, FloatHistogram } from '../histogram/float.ts';

const STALE_NAN = new Float64Array(new Uint32Array([0x00000002, 0x7ff00000]).buffer)[0]!;

/** Samples of one series, floats and histograms mixed (see the file comment). */
export interface MixedSamples {
  t: Float64Array;
  v: Float64Array;
  n: number;
  /** h[i] defined ⇒ sample i is a histogram; absent when the series has none. */
  h?: (FloatHistogram | undefined)[];
  /**
   * intHist[i] = 1 when sample i came from an integer histogram chunk (EncHistogram): its counts
   * are integers and it is re-encoded as one (Prometheus keeps integer histograms integer).
   */
  intHist?: Uint8Array;
}

function spanPairs(spans: readonly BucketSpan[]): Int32Array {
  const out = new Int32Array(spans.length * 2);
  spans.forEach((s, i) => {
    out[2 * i] = s.offset;
    out[2 * i + 1] = s.length;
  });
  return out;
}

/** A histogram as the chunk appender's input (lib/core/js/histogram_append.ts) at time t. */
export function appenderSample(t: number, h: FloatHistogram): HistogramSample {
  if (isStaleNaN(h.sum)) {
    return {
      t, hint: 'unknown', schema: 0, zeroThreshold: 0, positiveSpans: new Int32Array(0), negativeSpans: new Int32Array(0),
      customValues: new Float64Array(0), count: 0, zeroCount: 0, sum: STALE_NAN, positive: new Float64Array(0), negative: new Float64Array(0),
    };
  }
  return {
    t,
    hint: h.counterResetHint,
    schema: h.schema,
    zeroThreshold: h.zeroThreshold,
    positiveSpans: spanPairs(h.positiveSpans),
    negativeSpans: spanPairs(h.negativeSpans),
    customValues: Float64Array.from(h.customValues),
    count: h.count,
    zeroCount: h.zeroCount,
    sum: h.sum,
    positive: Float64Array.from(h.positiveBuckets),
    negative: Float64Array.from(h.negativeBuckets),
  };
}

/**
 * Samples of several copies of a series merged by time, the first copy's sample kept for a
 * timestamp. A histogram taken from another copy than the sample before it gets an unknown reset
 * hint (gauges stay gauges), as Prometheus's chain iterator reports it: the copies' chunks do not
 * tell whether the counter reset in between.
 */
export function mergeSamplesByTime(decoded: readonly MixedSamples[]): MixedSamples {
  let cap = 0;
  for (const d of decoded) cap += d.n;
  const hasH = decoded.some((d) => d.h);
  const t = new Float64Array(cap);
  const v = new Float64Array(cap);
  const h: (FloatHistogram | undefined)[] | undefined = hasH ? [] : undefined;
  const intHist = hasH ? new Uint8Array(cap) : undefined;
  const pos = decoded.map(() => 0);
  let n = 0;
  let lastSrc = -1;
  for (;;) {
    let best = -1;
    for (let i = 0; i < decoded.length; i++) if (pos[i]! < decoded[i]!.n && (best < 0 || decoded[i]!.t[pos[i]!]! < decoded[best]!.t[pos[best]!]!)) best = i;
    if (best < 0) break;
    const d = decoded[best]!;
    const at = pos[best]!;
    const ti = d.t[at]!;
    if (n === 0 || t[n - 1]! < ti) {
      t[n] = ti;
      v[n] = d.v[at]!;
      if (h) {
        let x = d.h?.[at];
        if (x && lastSrc !== best && x.counterResetHint !== 'gauge' && x.counterResetHint !== 'unknown') {
          x = x.copy();
          x.counterResetHint = 'unknown';
        }
        h.push(x);
        intHist![n] = d.intHist?.[at] ?? 0;
      }
      lastSrc = best;
      n++;
    }
    pos[best]!++;
  }
  return h ? { t, v, n, h, intHist } : { t, v, n };
}

/** Samples per chunk at which re-encoding cuts a histogram chunk (Prometheus seriesToChunkEncoderSplit). */
export const HISTOGRAM_CHUNK_SPLIT = 120;

/** Sample kind of sample i: 0 float, 1 integer histogram, 2 float histogram. */
function kindOf(s: MixedSamples, i: number): number {
  if (!s.h?.[i]) return 0;
  return s.intHist?.[i] ? 1 : 2;
}

/**
 * Re-encodes a series' time-ordered samples (floats and histograms) into chunks, as Prometheus's
 * compactor does for merged overlapping series: a new chunk where the sample kind changes; float
 * runs cut like the head cuts them (cutPoints over chunkRange); histogram runs through the
 * chunk appender (a new chunk on a counter reset or layout change, a recode when buckets appear)
 * and at most HISTOGRAM_CHUNK_SPLIT samples a chunk. Integer histograms stay integer (EncHistogram).
 */
export function encodeMixedChunks(
  core: Core,
  s: MixedSamples,
  floatRun: (from: number, to: number) => ChunkInput[],
): ChunkInput[] {
  const out: ChunkInput[] = [];
  for (let from = 0; from < s.n;) {
    const kind = kindOf(s, from);
    let to = from + 1;
    while (to < s.n && kindOf(s, to) === kind) to++;
    if (kind === 0) out.push(...floatRun(from, to));
    else encodeHistogramRun(core, s, from, to, kind === 2, out);
    from = to;
  }
  return out;
}

function encodeHistogramRun(core: Core, s: MixedSamples, from: number, to: number, float: boolean, out: ChunkInput[]): void {
  const enc = float ? ENC_FLOAT_HISTOGRAM : ENC_HISTOGRAM;
  let app = new HistogramChunkAppender(float);
  let start = from;
  const flush = (a: HistogramChunkAppender, first: number, last: number) => {
    if (a.n === 0) return;
    out.push({ minTime: s.t[first]!, maxTime: s.t[last]!, encoding: enc, data: core.histogramEncode(a.samples()), samples: a.n });
  };
  for (let i = from; i < to; i++) {
    if (app.n >= HISTOGRAM_CHUNK_SPLIT) {
      flush(app, start, i - 1);
      app = new HistogramChunkAppender(float);
      start = i;
    }
    const r = app.append(appenderSample(s.t[i]!, s.h![i]!));
    if (r.cut) {
      flush(app, start, i - 1);
      app = r.appender;
      start = i;
    }
  }
  flush(app, start, to - 1);
}
