// The histogram chunk appender's rules (Prometheus 3.x tsdb/chunkenc HistogramAppender /
// FloatHistogramAppender .AppendHistogram with appendOnly = false): when a sample goes into the open
// chunk, when it cuts a new chunk and with which counter-reset header, and how the chunk is
// recoded when buckets appear or disappear. The open chunk is kept as decoded samples (absolute
// bucket counts in the chunk's current layout); `samples()` hands them to Core.histogramEncode,
// which writes what Prometheus's appender would have written (a recode re-appends every sample
// with zeros in the new buckets, i.e. exactly the encoding of the zero-filled samples).
import {
  CUSTOM_BUCKETS_SCHEMA,
  HISTOGRAM_COUNTER_RESET,
  HISTOGRAM_GAUGE,
  HISTOGRAM_NOT_COUNTER_RESET,
  HISTOGRAM_UNKNOWN_RESET,
  type HistogramSamples,
} from '../types.ts';
import { isStaleNaN } from './histogram.ts';

/** Prometheus histogram.CounterResetHint. */
export type CounterResetHint = 'unknown' | 'reset' | 'not_reset' | 'gauge';

/** One histogram sample as it arrives (buckets as absolute counts in its own spans). */
export interface HistogramSample {
  t: number;
  hint: CounterResetHint;
  schema: number;
  zeroThreshold: number;
  positiveSpans: Int32Array;
  negativeSpans: Int32Array;
  customValues: Float64Array;
  count: number;
  zeroCount: number;
  sum: number;
  positive: Float64Array;
  negative: Float64Array;
}

interface Stored {
  t: number;
  count: number;
  zeroCount: number;
  sum: number;
  positive: Float64Array;
  negative: Float64Array;
}

/** Bucket indices covered by spans, in order (Prometheus bucketIterator). */
export function spanIndices(spans: Int32Array): number[] {
  const out: number[] = [];
  let idx = 0;
  for (let s = 0; s < spans.length; s += 2) {
    idx += spans[s];
    for (let j = 0; j < spans[s + 1]; j++) out.push(idx++);
  }
  return out;
}

/** Spans covering sorted indices the way Prometheus's addBucket builds them (canonical form). */
export function spansOf(indices: readonly number[]): Int32Array {
  const out: number[] = [];
  let last = 0;
  for (const b of indices) {
    let offset = b - last - 1;
    if (offset === 0 && out.length > 0) out[out.length - 1]++;
    else {
      if (out.length === 0) offset++;
      out.push(offset, 1);
    }
    last = b;
  }
  return new Int32Array(out);
}

/** Values of `vals` (at `from` indices) placed at `to` indices, 0 where `from` has none. */
function remap(from: readonly number[], vals: Float64Array, to: readonly number[]): Float64Array {
  const out = new Float64Array(to.length);
  let i = 0;
  for (let j = 0; j < to.length; j++) {
    while (i < from.length && from[i] < to[j]) i++;
    if (i < from.length && from[i] === to[j]) out[j] = vals[i];
  }
  return out;
}

interface Expand {
  ok: boolean;
  forward: boolean; // b has buckets a lacks
  backward: boolean; // a has (empty) buckets b lacks
  union: number[];
}

/** expandIntSpansAndBuckets / expandFloatSpansAndBuckets on absolute counts. */
function expandCounter(aIdx: number[], aVal: Float64Array, bIdx: number[], bVal: Float64Array): Expand {
  let i = 0;
  let j = 0;
  let forward = false;
  let backward = false;
  const union: number[] = [];
  while (i < aIdx.length || j < bIdx.length) {
    if (i < aIdx.length && j < bIdx.length && aIdx[i] === bIdx[j]) {
      if (aVal[i] > bVal[j]) return { ok: false, forward, backward, union };
      union.push(aIdx[i]);
      i++;
      j++;
    } else if (j >= bIdx.length || (i < aIdx.length && aIdx[i] < bIdx[j])) {
      if (aVal[i] !== 0) return { ok: false, forward, backward, union };
      backward = true;
      union.push(aIdx[i++]);
    } else {
      forward = true;
      union.push(bIdx[j++]);
    }
  }
  return { ok: true, forward, backward, union };
}

/** expandSpansBothWays: any bucket may come and go (gauges). */
function expandGauge(aIdx: number[], bIdx: number[]): Expand {
  const union = [...new Set([...aIdx, ...bIdx])].sort((x, y) => x - y);
  return { ok: true, forward: union.length > aIdx.length, backward: union.length > bIdx.length, union };
}

function boundsMatch(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface AppendResult {
  /** The appender holding the sample: `this`, or a new one when a chunk was cut. */
  appender: HistogramChunkAppender;
  /** A new chunk was started (the previous one is complete). */
  cut: boolean;
  /** The open chunk was recoded to a wider layout before the sample went in. */
  recoded: boolean;
}

export class HistogramChunkAppender {
  readonly float: boolean;
  header = HISTOGRAM_UNKNOWN_RESET;
  schema = 0;
  zeroThreshold = 0;
  positiveSpans = new Int32Array(0);
  negativeSpans = new Int32Array(0);
  customValues = new Float64Array(0);
  private pIdx: number[] = [];
  private nIdx: number[] = [];
  private rows: Stored[] = [];

  constructor(float: boolean) {
    this.float = float;
  }

  get n(): number {
    return this.rows.length;
  }

  private last(): Stored {
    return this.rows[this.rows.length - 1];
  }

  /** The counter path's verdict (Prometheus appendable): ok, the header a cut would get, inserts. */
  private appendable(h: HistogramSample): { ok: boolean; header: number; p?: Expand; n?: Expand } {
    const NOT = HISTOGRAM_NOT_COUNTER_RESET;
    if (this.n > 0 && this.header === HISTOGRAM_GAUGE) return { ok: false, header: NOT };
    if (h.hint === 'reset') return { ok: false, header: HISTOGRAM_COUNTER_RESET };
    if (isStaleNaN(h.sum)) return { ok: true, header: NOT };
    const a = this.last();
    // A float chunk's verdict is a counter-reset bool: everything else becomes "not a reset".
    const other = this.float ? NOT : HISTOGRAM_UNKNOWN_RESET;
    if (isStaleNaN(a.sum)) return { ok: false, header: other };
    if (h.count < a.count) return { ok: false, header: HISTOGRAM_COUNTER_RESET };
    if (h.schema !== this.schema || h.zeroThreshold !== this.zeroThreshold) return { ok: false, header: other };
    if (h.schema === CUSTOM_BUCKETS_SCHEMA && !boundsMatch(h.customValues, this.customValues)) {
      return { ok: false, header: HISTOGRAM_COUNTER_RESET };
    }
    if (h.zeroCount < a.zeroCount) return { ok: false, header: HISTOGRAM_COUNTER_RESET };
    const p = expandCounter(this.pIdx, a.positive, spanIndices(h.positiveSpans), h.positive);
    if (!p.ok) return { ok: false, header: HISTOGRAM_COUNTER_RESET };
    const n = expandCounter(this.nIdx, a.negative, spanIndices(h.negativeSpans), h.negative);
    if (!n.ok) return { ok: false, header: HISTOGRAM_COUNTER_RESET };
    return { ok: true, header: NOT, p, n };
  }

  private gaugeAppendable(h: HistogramSample): { ok: boolean; p?: Expand; n?: Expand } {
    if (this.n > 0 && this.header !== HISTOGRAM_GAUGE) return { ok: false };
    if (isStaleNaN(h.sum)) return { ok: true };
    if (isStaleNaN(this.last().sum)) return { ok: false };
    if (h.schema !== this.schema || h.zeroThreshold !== this.zeroThreshold) return { ok: false };
    if (h.schema === CUSTOM_BUCKETS_SCHEMA && !boundsMatch(h.customValues, this.customValues)) return { ok: false };
    return { ok: true, p: expandGauge(this.pIdx, spanIndices(h.positiveSpans)), n: expandGauge(this.nIdx, spanIndices(h.negativeSpans)) };
  }

  /** Appends to an empty chunk: the sample's layout becomes the chunk's. */
  private first(h: HistogramSample): void {
    if (isStaleNaN(h.sum)) {
      // Prometheus appends {Sum: StaleNaN}: the empty layout
      this.rows.push({ t: h.t, count: 0, zeroCount: 0, sum: h.sum, positive: new Float64Array(0), negative: new Float64Array(0) });
      return;
    }
    this.schema = h.schema;
    this.zeroThreshold = h.zeroThreshold;
    this.positiveSpans = h.positiveSpans.slice();
    this.negativeSpans = h.negativeSpans.slice();
    this.customValues = h.customValues.slice();
    this.pIdx = spanIndices(h.positiveSpans);
    this.nIdx = spanIndices(h.negativeSpans);
    this.push(h, h.positive, h.negative);
  }

  private push(h: HistogramSample, positive: Float64Array, negative: Float64Array): void {
    if (isStaleNaN(h.sum)) {
      this.rows.push({ t: h.t, count: 0, zeroCount: 0, sum: h.sum, positive: new Float64Array(this.pIdx.length), negative: new Float64Array(this.nIdx.length) });
      return;
    }
    if (positive.length !== this.pIdx.length || negative.length !== this.nIdx.length) {
      throw new RangeError('histogram append: bucket counts do not match the spans');
    }
    this.rows.push({ t: h.t, count: h.count, zeroCount: h.zeroCount, sum: h.sum, positive: positive.slice(), negative: negative.slice() });
  }

  /** Re-lays every stored sample out over new spans (zeros in the new buckets). */
  private recode(positiveSpans: Int32Array, negativeSpans: Int32Array): void {
    const p = spanIndices(positiveSpans);
    const n = spanIndices(negativeSpans);
    for (const r of this.rows) {
      r.positive = remap(this.pIdx, r.positive, p);
      r.negative = remap(this.nIdx, r.negative, n);
    }
    this.positiveSpans = positiveSpans as Int32Array<ArrayBuffer>;
    this.negativeSpans = negativeSpans as Int32Array<ArrayBuffer>;
    this.pIdx = p;
    this.nIdx = n;
  }

  private fresh(h: HistogramSample, header: number): AppendResult {
    const a = new HistogramChunkAppender(this.float);
    a.header = header;
    a.first(h);
    return { appender: a, cut: true, recoded: false };
  }

  /**
   * Appends one sample. `prev` is the appender of the previous chunk of the series when this one is
   * empty (it decides the new chunk's header, as in Prometheus). Samples must come in time order
   * and the chunk must hold fewer than 65535 samples (the head cuts chunks well before).
   */
  append(h: HistogramSample, prev?: HistogramChunkAppender): AppendResult {
    if (this.n >= 65535) throw new RangeError('histogram append: chunk capacity (65535 samples) exceeded');
    if (this.n === 0) {
      this.first(h);
      if (h.hint === 'gauge') this.header = HISTOGRAM_GAUGE;
      else if (h.hint === 'reset') this.header = HISTOGRAM_COUNTER_RESET;
      else if (prev && prev.float === this.float && prev.n > 0) this.header = prev.appendable(h).header;
      return { appender: this, cut: false, recoded: false };
    }
    if (h.hint !== 'gauge') {
      const v = this.appendable(h);
      if (!v.ok || v.header !== HISTOGRAM_NOT_COUNTER_RESET) {
        return this.fresh(h, this.float ? (v.header === HISTOGRAM_COUNTER_RESET ? v.header : HISTOGRAM_UNKNOWN_RESET) : v.header);
      }
      if (!v.p) {
        this.push(h, h.positive, h.negative); // a stale marker
        return { appender: this, cut: false, recoded: false };
      }
      const p = v.p;
      const n = v.n!;
      let pSpans = h.positiveSpans;
      let nSpans = h.negativeSpans;
      let pos = h.positive;
      let neg = h.negative;
      if (p.backward || n.backward) {
        if (!p.forward && !n.forward) {
          pSpans = this.positiveSpans.slice();
          nSpans = this.negativeSpans.slice();
        } else {
          // adjustForInserts: canonical spans of the sample's buckets plus the inserted ones
          if (p.backward) pSpans = spansOf(p.union);
          if (n.backward) nSpans = spansOf(n.union);
        }
        pos = remap(spanIndices(h.positiveSpans), h.positive, spanIndices(pSpans));
        neg = remap(spanIndices(h.negativeSpans), h.negative, spanIndices(nSpans));
      }
      if (p.forward || n.forward) {
        this.recode(pSpans, nSpans);
        this.push(h, pos, neg);
        return { appender: this, cut: false, recoded: true };
      }
      this.push(h, pos, neg);
      return { appender: this, cut: false, recoded: false };
    }
    const g = this.gaugeAppendable(h);
    if (!g.ok) return this.fresh(h, HISTOGRAM_GAUGE);
    if (!g.p) {
      this.push(h, h.positive, h.negative);
      return { appender: this, cut: false, recoded: false };
    }
    let pSpans = h.positiveSpans;
    let nSpans = h.negativeSpans;
    let pos = h.positive;
    let neg = h.negative;
    if (g.p.backward || g.n!.backward) {
      pSpans = spansOf(g.p.union);
      nSpans = spansOf(g.n!.union);
      pos = remap(spanIndices(h.positiveSpans), h.positive, g.p.union);
      neg = remap(spanIndices(h.negativeSpans), h.negative, g.n!.union);
    }
    if (g.p.forward || g.n!.forward) {
      this.recode(pSpans, nSpans);
      this.push(h, pos, neg);
      return { appender: this, cut: false, recoded: true };
    }
    this.push(h, pos, neg);
    return { appender: this, cut: false, recoded: false };
  }

  /** The chunk's samples, ready for Core.histogramEncode. */
  samples(): HistogramSamples {
    const n = this.rows.length;
    const P = this.pIdx.length;
    const N = this.nIdx.length;
    const staleFirst = n > 0 && isStaleNaN(this.rows[0].sum);
    const out: HistogramSamples = {
      float: this.float,
      header: this.header,
      layout: {
        schema: this.schema,
        zeroThreshold: this.zeroThreshold,
        positiveSpans: this.positiveSpans,
        negativeSpans: this.negativeSpans,
        customValues: this.schema === CUSTOM_BUCKETS_SCHEMA ? this.customValues : new Float64Array(0),
      },
      n,
      t: new Float64Array(n),
      count: new Float64Array(n),
      zeroCount: new Float64Array(n),
      sum: new Float64Array(n),
      positive: new Float64Array(staleFirst ? 0 : n * P),
      negative: new Float64Array(staleFirst ? 0 : n * N),
    };
    this.rows.forEach((r, i) => {
      out.t[i] = r.t;
      out.count[i] = r.count;
      out.zeroCount[i] = r.zeroCount;
      out.sum[i] = r.sum;
      if (!staleFirst) {
        out.positive.set(r.positive, i * P);
        out.negative.set(r.negative, i * N);
      }
    });
    return out;
  }
}
