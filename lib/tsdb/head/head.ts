// The in-memory head: series by labels, each with closed chunks of up to 120 samples (encoded by
// the core: XOR for floats, EncHistogram / EncFloatHistogram for native histograms) and an open
// tail of raw samples (floats in typed arrays, or histogram samples). Appends are checked first (check → the WAL → apply),
// so what the WAL holds is exactly what the head accepted. truncate(B) moves every sample older
// than B out as ready-made block chunks and makes B the oldest time the head accepts.
import type { Core } from '../../core/types.ts';
import { compareLabels, compareStrings, labelsKeyOf, matchLabels, type CompiledMatcher, type Label, type Labels } from '../../labels/mod.ts';
import { ENC_XOR } from '../chunks.ts';
import type { ChunkInput } from '../writer.ts';
import { isStaleNaN } from '../../core/js/histogram.ts';
import type { HistogramChunkAppender } from '../../core/js/histogram_append.ts';
import type { Histogram as PromHistogram } from '../../proto/prompb.ts';
import { toBatch, type SampleBatch, type WalSeries } from './wal.ts';
import { encodeHistogramRun, headHistogramFromPrompb, histogramChunkSamples, sameHistogram, staleHistogram, type HeadHistogram } from './histogram.ts';

export const HEAD_SAMPLES_PER_CHUNK = 120;

const EMPTY_F64: Float64Array = new Float64Array(0);
/** The open histogram list of a series that has none (shared: most series never hold a histogram). */
const NO_HISTOGRAMS: HeadHistogram[] = [];
const EMPTY_BATCH: SampleBatch = { labels: [], keys: [], start: [0], t: new Float64Array(0), v: new Float64Array(0) };

export interface HeadChunk {
  minTime: number;
  maxTime: number;
  n: number;
  /** lib/tsdb/chunks.ts ENC_XOR, ENC_HISTOGRAM or ENC_FLOAT_HISTOGRAM. */
  encoding: number;
  data: Uint8Array;
}

/** A series: closed chunks plus an open tail in typed arrays (NaN payloads such as stale markers kept). */
class MemSeries {
  chunks: HeadChunk[] = [];
  /** The open tail's times and values (views into the slab, for the paths that take arrays). */
  tt: Float64Array;
  tv: Float64Array;
  tn = 0;
  /** The last sample when it is a histogram (undefined: the last sample is a float). */
  lastH: HeadHistogram | undefined;
  /**
   * Histogram samples not yet in a closed chunk (at most one of hOpen and the float tail holds
   * samples), and the appender of the last closed histogram chunk (its counter-reset verdict heads
   * the next chunk, as Prometheus's prev appender; undefined after floats).
   */
  hOpen: HeadHistogram[] = NO_HISTOGRAMS;
  hPrev: HistogramChunkAppender | undefined;
  /** prepare(): the batch (its number) that last took a sample of this series, and that sample (batchT/V: in the slab). */
  batch = 0;
  batchH: HeadHistogram | undefined;
  /** Dropped from the head by truncate() (a slot or batch still naming it must look it up again). */
  removed = false;
  /** The WAL's ref for this series and the WAL generation it is valid in (wal.ts WalRefSlot). */
  walRef = 0;
  walGen = 0;
  /**
   * The slab holding this series' tail: t at slab[off, off + cap), v at slab[off + cap, off + 2 cap).
   * The append path writes there: the tail views are two more objects, cache misses per series per request.
   */
  readonly slab: Float64Array;
  readonly off: number;
  /**
   * lastT, lastV, batchT, batchV at sc.a[st, st + 4): the head's scalars of every series side by
   * side, by a dense series number (numbers in the object would each be a boxed double elsewhere on
   * the heap). A sender's series come in the same order request after request, and are numbered in
   * the order they first came: the append path walks these in order, a cache line per two series,
   * instead of one line per series somewhere in its slab.
   */
  sc: SeriesScalars;
  st: number;
  constructor(readonly labels: Label[], readonly key: string, slab: Float64Array, off: number, cap: number, sc: SeriesScalars) {
    this.slab = slab;
    this.off = off;
    this.tt = slab.subarray(off, off + cap);
    this.tv = slab.subarray(off + cap, off + 2 * cap);
    this.sc = sc;
    this.st = sc.add();
  }
  /** The last sample appended (time -Infinity: none yet). */
  get lastT(): number {
    return this.sc.a[this.st]!;
  }
  set lastT(t: number) {
    this.sc.a[this.st] = t;
  }
  get lastV(): number {
    return this.sc.a[this.st + 1]!;
  }
  set lastV(v: number) {
    this.sc.a[this.st + 1] = v;
  }
  get batchT(): number {
    return this.sc.a[this.st + 2]!;
  }
  set batchT(t: number) {
    this.sc.a[this.st + 2] = t;
  }
  get batchV(): number {
    return this.sc.a[this.st + 3]!;
  }
  set batchV(v: number) {
    this.sc.a[this.st + 3] = v;
  }
  /** Dropped from the head: its scalars move to a store of its own (the head's are renumbered without it). */
  detach(): void {
    const own = new SeriesScalars(1);
    own.a.set(this.sc.a.subarray(this.st, this.st + 4));
    own.n = 1;
    this.sc = own;
    this.st = 0;
  }
}

/** Four doubles per series (lastT, lastV, batchT, batchV), series numbered densely; grows by doubling. */
class SeriesScalars {
  a: Float64Array;
  /** Series numbered so far. */
  n = 0;
  constructor(cap: number) {
    this.a = new Float64Array(4 * cap);
  }
  /** A new series' place (its first double), initialised as a series without samples. */
  add(): number {
    if (4 * (this.n + 1) > this.a.length) {
      const a = new Float64Array(Math.max(4 * 1024, 2 * this.a.length));
      a.set(this.a.subarray(0, 4 * this.n));
      this.a = a;
    }
    const st = 4 * this.n++;
    const a = this.a;
    a[st] = -Infinity;
    a[st + 1] = NaN;
    a[st + 2] = -Infinity;
    a[st + 3] = NaN;
    return st;
  }
  /** Numbers `live` densely again, in their order (series dropped from the head were detached first). */
  renumber(live: Iterable<MemSeries>, count: number): void {
    const a = new Float64Array(4 * Math.max(1024, count + (count >>> 1)));
    let n = 0;
    for (const s of live) {
      a.set(this.a.subarray(s.st, s.st + 4), 4 * n);
      s.st = 4 * n++;
    }
    this.a = a;
    this.n = n;
  }
}

/** Doubles a series takes in a slab: its tail (times, values). */
const slabDoubles = (cap: number) => 2 * cap;

/**
 * Series whose open tails share one buffer (fewer off-heap buffers to allocate and for the GC to
 * track). A slab lives while one of its series does: at most 32 tails (60 KiB) kept per live series.
 */
const TAILS_PER_SLAB = 32;

/** Why a sample was refused (Prometheus's storage errors; Thanos answers 409 for all of them). */
export type RejectReason = 'out-of-order' | 'duplicate' | 'out-of-bounds';

/** A remote-write series for prepare(): float samples, then native histogram samples (Thanos's order). */
export interface PrepareSeries {
  labels: readonly Label[];
  samples: ReadonlyArray<{ timestamp: number; value: number }>;
  histograms?: readonly PromHistogram[];
  /**
   * The float samples as columns instead (lib/remote's ColumnarSeries: t/v[from, to) of its
   * request's arrays, values bit exact); `samples` is then not read.
   */
  cols?: { readonly t: Float64Array; readonly v: Float64Array };
  from?: number;
  to?: number;
  /**
   * A slot that stays with this label set across requests (lib/remote's decoder keeps one per
   * cached label set): the head notes its series there and finds it again without a lookup.
   */
  slot?: { owner: unknown; ref: unknown };
}

/** Label sets equal name by name (the same array first: a decoder hands out the same frozen one). */
function sameLabels(a: readonly Label[], b: readonly Label[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.name !== b[i]!.name || a[i]!.value !== b[i]!.value) return false;
  return true;
}

/** Why a series was refused as a whole (Thanos answers 400). */
export type LabelError = 'empty-labels' | 'empty-label-name' | 'empty-label-value' | 'labels-out-of-order' | 'duplicate-label';

export function validateLabels(ls: readonly Label[]): LabelError | undefined {
  if (ls.length === 0) return 'empty-labels';
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    if (l.name === '') return 'empty-label-name';
    if (l.value === '') return 'empty-label-value';
    if (i > 0) {
      const c = compareStrings(ls[i - 1]!.name, l.name);
      if (c === 0) return 'duplicate-label';
      if (c > 0) return 'labels-out-of-order';
    }
  }
  return undefined;
}

export interface PrepareResult {
  /** What to log and apply: per series the samples that pass. */
  accepted: SampleBatch;
  samplesAccepted: number;
  /** Native histogram samples accepted (not in samplesAccepted). */
  histogramsAccepted: number;
  /** Refused samples by reason, floats and histograms together; histograms alone in rejectedHistograms. */
  rejected: Record<RejectReason, number>;
  rejectedHistograms: Record<RejectReason, number>;
  /** Histograms refused as invalid (Prometheus's histogram Validate; answered 400), and the first reason. */
  invalidHistograms: number;
  firstInvalidHistogram?: { labels: Labels; t: number; reason: string };
  labelErrors: Record<LabelError, number>;
  /** Of rejected['out-of-bounds']: samples after maxValidTime (too far in the future). */
  tooFarInFuture: number;
  /** The appendable window used: [minValidTime, maxValidTime] (Prometheus's appendableMinValidTime). */
  minValidTime: number;
  maxValidTime: number;
  /** First offending series per kind, for the error message. */
  firstReject?: { reason: RejectReason; labels: Labels; t: number };
  firstLabelError?: { reason: LabelError; labels: Labels };
}

export interface HeadSeriesChunks {
  labels: Label[];
  chunks: HeadChunk[];
}

/** Adds an entry (a float run ending at n, or a histogram run) to a batch; returns n. */
function pushEntry(acc: SampleBatch, labels: readonly Label[], key: string, s: MemSeries | undefined, n: number, h: HeadHistogram[] | undefined): number {
  if (h) (acc.hist ??= new Array(acc.labels.length).fill(undefined)).push(h);
  else acc.hist?.push(undefined);
  acc.labels.push(labels as Label[]);
  acc.keys.push(key);
  acc.series!.push(s);
  acc.start.push(n);
  return n;
}

function rejectSample(res: PrepareResult, reason: RejectReason, hist: boolean, labels: Labels, t: number): void {
  res.rejected[reason]++;
  if (hist) res.rejectedHistograms[reason]++;
  res.firstReject ??= { reason, labels, t };
}

export class Head {
  private series = new Map<string, MemSeries>();
  /** Samples older than this are refused (out of bounds): the end of the last block cut. */
  minValidTime = -Infinity;
  /**
   * Prometheus's chunkRange/2: samples older than the head's max time minus this are refused as
   * out of bounds too, so a year-old or negative timestamp cannot land in a live head (and cut a
   * one-sample block). HeadDB sets it to half its block duration.
   */
  appendWindow = Infinity;
  private mint = Infinity;
  private maxt = -Infinity;
  private samples = 0;
  private batchSeq = 0;
  private slab: Float64Array | undefined;
  private slabUsed = 0;
  /** Every series' lastT, lastV, batchT, batchV by a dense number (MemSeries.sc). */
  private readonly scalars = new SeriesScalars(1024);
  /** prepare(): the float samples of a series given as objects, as columns. */
  private scratchT: Float64Array = EMPTY_F64;
  private scratchV: Float64Array = EMPTY_F64;

  constructor(private readonly core: Core, private readonly samplesPerChunk = HEAD_SAMPLES_PER_CHUNK) {}

  get minTime(): number {
    return this.mint;
  }
  get maxTime(): number {
    return this.maxt;
  }
  get numSeries(): number {
    return this.series.size;
  }
  get numSamples(): number {
    return this.samples;
  }
  get empty(): boolean {
    return this.samples === 0;
  }

  /**
   * Checks a batch without changing the head: labels valid; per sample inside the appendable
   * window (else out of bounds), not before the series' last sample, not the same timestamp with
   * another value. A sample equal to the last one is silently dropped (as Prometheus does).
   *
   * The window is Prometheus's: from max(minValidTime, head max time - appendWindow), fixed for
   * the whole batch (an appender's bound is taken when it is created); an empty head takes it
   * from the first sample appended, as Prometheus's initAppender does. maxValidTime is receive's
   * too-far-in-future bound: a sample after it is out of bounds and never reaches the head, so it
   * cannot move the window.
   */
  prepare(batch: readonly PrepareSeries[], opts: { maxValidTime?: number } = {}): PrepareResult {
    const maxValid = opts.maxValidTime ?? Infinity;
    let minValid = this.samples > 0 ? Math.max(this.minValidTime, this.maxt - this.appendWindow) : undefined;
    const res: PrepareResult = {
      accepted: EMPTY_BATCH, samplesAccepted: 0, histogramsAccepted: 0,
      rejected: { 'out-of-order': 0, duplicate: 0, 'out-of-bounds': 0 },
      rejectedHistograms: { 'out-of-order': 0, duplicate: 0, 'out-of-bounds': 0 },
      invalidHistograms: 0,
      labelErrors: { 'empty-labels': 0, 'empty-label-name': 0, 'empty-label-value': 0, 'labels-out-of-order': 0, 'duplicate-label': 0 },
      tooFarInFuture: 0, minValidTime: minValid ?? this.minValidTime, maxValidTime: maxValid,
    };
    let total = 0;
    for (const ts of batch) total += ts.cols ? ts.to! - ts.from! : ts.samples.length;
    // both columns in one buffer: one allocation per request
    const ab = new ArrayBuffer(16 * total);
    const acc: SampleBatch = { labels: [], keys: [], start: [0], t: new Float64Array(ab, 0, total), v: new Float64Array(ab, 8 * total, total), series: [] };
    res.accepted = acc;
    const at = acc.t;
    const av = acc.v;
    let n = 0;
    // A series met twice in one batch checks against its own earlier samples: a stamp on the head's
    // series, a map only for series the head does not have yet.
    const stamp = ++this.batchSeq;
    let fresh: Map<string, { t: number; v: number; h: HeadHistogram | undefined }> | undefined;
    for (const ts of batch) {
      let key: string;
      let s: MemSeries | undefined;
      const slot = ts.slot;
      if (slot !== undefined && slot.owner === this && !(slot.ref as MemSeries).removed) {
        // the series noted for this label set (its labels checked when the note was made)
        s = slot.ref as MemSeries;
        key = s.key;
      } else {
        key = labelsKeyOf(ts.labels);
        s = this.series.get(key);
        // the labels of a series the head holds were checked when it was created
        if (s && sameLabels(s.labels, ts.labels)) {
          if (slot !== undefined) {
            slot.owner = this;
            slot.ref = s;
          }
        } else {
          const le = validateLabels(ts.labels);
          if (le) {
            res.labelErrors[le]++;
            res.firstLabelError ??= { reason: le, labels: ts.labels };
            continue;
          }
        }
      }
      let lastT: number;
      let lastV: number;
      let lastH: HeadHistogram | undefined;
      let prev: { t: number; v: number; h: HeadHistogram | undefined } | undefined;
      if (s) {
        const inBatch = s.batch === stamp;
        lastT = inBatch ? s.batchT : s.lastT;
        lastV = inBatch ? s.batchV : s.lastV;
        lastH = inBatch ? s.batchH : s.lastH;
      } else if ((prev = fresh?.get(key))) {
        lastT = prev.t;
        lastV = prev.v;
        lastH = prev.h;
      } else {
        lastT = -Infinity;
        lastV = NaN;
        lastH = undefined;
      }
      // Accepted samples go into entries of one kind each, in order: float runs use at/av[n0, n),
      // histogram runs their own list (a float stale marker after a histogram becomes one). At most
      // one of the two is open at a time.
      let n0 = n;
      let hrun: HeadHistogram[] | undefined;
      let ct: Float64Array;
      let cv: Float64Array;
      let from = 0;
      let to: number;
      if (ts.cols) {
        ({ t: ct, v: cv } = ts.cols);
        from = ts.from!;
        to = ts.to!;
      } else {
        // Sample objects: into scratch columns, one loop below for both
        const smps = ts.samples;
        to = smps.length;
        if (this.scratchT.length >= to) {
          ct = this.scratchT;
          cv = this.scratchV;
        } else {
          ct = new Float64Array(to);
          cv = new Float64Array(to);
          // kept for the next series up to a size (a huge one is not held on to)
          if (to <= 1 << 16) {
            this.scratchT = ct;
            this.scratchV = cv;
          }
        }
        for (let i = 0; i < to; i++) {
          ct[i] = smps[i]!.timestamp;
          cv[i] = smps[i]!.value;
        }
      }
      for (let i = from; i < to; i++) {
        const t = ct[i]!;
        const v = cv[i]!;
        let reason: RejectReason | undefined;
        if (t > maxValid) {
          reason = 'out-of-bounds';
          res.tooFarInFuture++;
        } else if (t < (minValid ?? this.minValidTime)) reason = 'out-of-bounds';
        else if (t < lastT) reason = 'out-of-order';
        else if (t === lastT) {
          if (lastH === undefined ? Object.is(v, lastV) || (Number.isNaN(v) && Number.isNaN(lastV)) : isStaleNaN(v) && isStaleNaN(lastH.sum)) continue;
          reason = 'duplicate';
        }
        if (reason) {
          rejectSample(res, reason, false, ts.labels, t);
          continue;
        }
        if (minValid === undefined) res.minValidTime = minValid = Math.max(this.minValidTime, t - this.appendWindow);
        if (lastH !== undefined) {
          if (isStaleNaN(v)) {
            // Prometheus appends a float stale marker in a series whose last sample is a histogram
            // as a histogram stale marker of the same kind
            if (n > n0) n0 = pushEntry(acc, ts.labels, key, s, n, undefined);
            lastH = staleHistogram(t, lastH.float, v);
            (hrun ??= []).push(lastH);
            res.histogramsAccepted++;
            lastT = t;
            continue;
          }
          if (hrun) {
            n0 = pushEntry(acc, ts.labels, key, s, n, hrun);
            hrun = undefined;
          }
          lastH = undefined;
        }
        at[n] = t;
        av[n] = v;
        n++;
        lastT = t;
        lastV = v;
      }
      const hs = ts.histograms;
      if (hs) {
        for (let i = 0; i < hs.length; i++) {
          const h = headHistogramFromPrompb(hs[i]!);
          if (typeof h === 'string') {
            res.invalidHistograms++;
            res.firstInvalidHistogram ??= { labels: ts.labels, t: hs[i]!.timestamp, reason: h };
            continue;
          }
          const t = h.t;
          let reason: RejectReason | undefined;
          if (t > maxValid) {
            reason = 'out-of-bounds';
            res.tooFarInFuture++;
          } else if (t < (minValid ?? this.minValidTime)) reason = 'out-of-bounds';
          else if (t < lastT) reason = 'out-of-order';
          else if (t === lastT) {
            if (lastH !== undefined && sameHistogram(h, lastH)) continue;
            reason = 'duplicate';
          }
          if (reason) {
            rejectSample(res, reason, true, ts.labels, t);
            continue;
          }
          if (minValid === undefined) res.minValidTime = minValid = Math.max(this.minValidTime, t - this.appendWindow);
          if (n > n0) n0 = pushEntry(acc, ts.labels, key, s, n, undefined);
          (hrun ??= []).push(h);
          lastT = t;
          lastH = h;
          res.histogramsAccepted++;
        }
      }
      if (hrun) pushEntry(acc, ts.labels, key, s, n, hrun);
      else if (n > n0) pushEntry(acc, ts.labels, key, s, n, undefined);
      if (s) {
        s.batch = stamp;
        s.batchT = lastT;
        s.batchV = lastV;
        s.batchH = lastH;
      } else if (prev) {
        prev.t = lastT;
        prev.v = lastV;
        prev.h = lastH;
      } else if (lastT !== -Infinity) (fresh ??= new Map()).set(key, { t: lastT, v: lastV, h: lastH });
    }
    res.samplesAccepted = n;
    return res;
  }

  /**
   * Applies samples (checked by prepare(), or read back from the WAL). Samples the head would
   * refuse are skipped and counted (a replayed WAL may repeat what a block already holds).
   */
  apply(input: SampleBatch | readonly WalSeries[]): { appended: number; skipped: number } {
    const b = Array.isArray(input) ? toBatch(input as readonly WalSeries[]) : (input as SampleBatch);
    let appended = 0;
    let skipped = 0;
    const bt = b.t;
    const bv = b.v;
    const known = b.series as Array<MemSeries | undefined> | undefined;
    // the head's bounds in locals, written back at the end
    const minValid = this.minValidTime;
    const perChunk = this.samplesPerChunk;
    let mint = this.mint;
    let maxt = this.maxt;
    for (let i = 0; i < b.labels.length; i++) {
      const key = b.keys[i]!;
      // the series prepare() found (unless truncate() dropped it since)
      const hint = known?.[i];
      let s = hint !== undefined && !hint.removed ? hint : this.series.get(key);
      const hs = b.hist?.[i];
      if (hs) {
        for (const h of hs) {
          const t = h.t;
          if (t < this.minValidTime || (s && t <= s.lastT)) {
            skipped++;
            continue;
          }
          if (!s) {
            s = this.newSeries(b.labels[i]!, key);
            this.series.set(key, s);
          }
          if (s.tn > 0) this.closeTail(s);
          if (s.hOpen === NO_HISTOGRAMS) s.hOpen = [];
          s.hOpen.push(h);
          s.lastT = t;
          s.lastH = h;
          if (s.hOpen.length >= this.samplesPerChunk) this.closeHistograms(s);
          if (t < mint) mint = t;
          if (t > maxt) maxt = t;
          appended++;
        }
        continue;
      }
      for (let k = b.start[i]!, end = b.start[i + 1]!; k < end; k++) {
        const t = bt[k]!;
        if (t < minValid || (s && t <= s.lastT)) {
          skipped++;
          continue;
        }
        if (!s) {
          s = this.newSeries(b.labels[i]!, key);
          this.series.set(key, s);
        }
        if (s.lastH) {
          // floats after histograms: the histogram chunk closes, the next one has no predecessor
          this.closeHistograms(s);
          s.hPrev = undefined;
          s.lastH = undefined;
        }
        const v = bv[k]!;
        const tn = s.tn;
        const sl = s.slab;
        const o = s.off + tn;
        sl[o] = t;
        sl[o + perChunk] = v;
        s.tn = tn + 1;
        s.lastT = t;
        s.lastV = v;
        if (tn + 1 >= perChunk) this.closeTail(s);
        if (t < mint) mint = t;
        if (t > maxt) maxt = t;
        appended++;
      }
    }
    this.mint = mint;
    this.maxt = maxt;
    this.samples += appended;
    return { appended, skipped };
  }

  /** Encodes the open histogram samples into closed chunks. */
  private closeHistograms(s: MemSeries): void {
    if (s.hOpen.length === 0) return;
    const r = encodeHistogramRun(this.core, s.hOpen, s.hPrev);
    for (const c of r.chunks) s.chunks.push(c);
    s.hPrev = r.last;
    s.hOpen = NO_HISTOGRAMS;
  }

  private newSeries(labels: readonly Label[], key: string): MemSeries {
    const cap = this.samplesPerChunk;
    const need = slabDoubles(cap);
    if (!this.slab || this.slabUsed + need > this.slab.length) {
      this.slab = new Float64Array(need * TAILS_PER_SLAB);
      this.slabUsed = 0;
    }
    const o = this.slabUsed;
    this.slabUsed += need;
    // a frozen label set (the remote write decoder's) is kept as it is: it cannot change under the head
    const own = Object.isFrozen(labels) && labels.every((l) => Object.isFrozen(l)) ? (labels as Label[]) : labels.map((l) => ({ name: l.name, value: l.value }));
    return new MemSeries(own, key, this.slab, o, cap, this.scalars);
  }

  private encode(t: Float64Array, v: Float64Array, n: number): Uint8Array {
    return this.core.xorEncode(t.subarray(0, n), v.subarray(0, n), n);
  }

  /** Decodes into fresh arrays (the core may hand out views into memory it reuses). */
  private decode(data: Uint8Array): { t: Float64Array; v: Float64Array; n: number } {
    const d = this.core.xorDecode(data);
    return { t: d.t.slice(0, d.n), v: d.v.slice(0, d.n), n: d.n };
  }

  private closeTail(s: MemSeries): void {
    const n = s.tn;
    if (n === 0) return;
    s.chunks.push({ minTime: s.tt[0]!, maxTime: s.tt[n - 1]!, n, encoding: ENC_XOR, data: this.encode(s.tt, s.tv, n) });
    s.tn = 0;
  }

  /** Series matching the matchers with chunks overlapping [mint, maxt], sorted by labels. */
  select(ms: readonly CompiledMatcher[], mint: number, maxt: number): HeadSeriesChunks[] {
    const out: HeadSeriesChunks[] = [];
    for (const s of this.series.values()) {
      if (!matchLabels(ms, s.labels)) continue;
      const chunks = s.chunks.filter((c) => c.maxTime >= mint && c.minTime <= maxt);
      const n = s.tn;
      if (n > 0 && s.tt[n - 1]! >= mint && s.tt[0]! <= maxt) chunks.push({ minTime: s.tt[0]!, maxTime: s.tt[n - 1]!, n, encoding: ENC_XOR, data: this.encode(s.tt, s.tv, n) });
      const ho = s.hOpen;
      if (ho.length > 0 && ho[ho.length - 1]!.t >= mint && ho[0]!.t <= maxt) for (const c of encodeHistogramRun(this.core, ho, s.hPrev).chunks) chunks.push(c);
      if (chunks.length > 0) out.push({ labels: s.labels, chunks });
    }
    return out.sort((a, b) => compareLabels(a.labels, b.labels));
  }

  /**
   * Removes every sample older than `before` and returns them as block series (sorted by labels,
   * XOR chunks); `before` becomes minValidTime. Series left without samples are dropped.
   */
  truncate(before: number): Array<{ labels: Label[]; chunks: ChunkInput[] }> {
    const out: Array<{ labels: Label[]; chunks: ChunkInput[] }> = [];
    let removed = 0;
    let dropped = 0;
    const input = (c: { minTime: number; maxTime: number; encoding: number; data: Uint8Array; n: number }): ChunkInput => ({ minTime: c.minTime, maxTime: c.maxTime, encoding: c.encoding, data: c.data, samples: c.n });
    for (const [key, s] of this.series) {
      const moved: ChunkInput[] = [];
      const keep: HeadChunk[] = [];
      for (const c of s.chunks) {
        if (c.maxTime < before) {
          moved.push(input(c));
          removed += c.n;
        } else if (c.minTime >= before) {
          keep.push(c);
        } else if (c.encoding !== ENC_XOR) {
          // a histogram chunk across the boundary: its samples re-encoded on each side
          const hs = histogramChunkSamples(this.core, c.data, c.encoding);
          let k = 0;
          while (k < hs.length && hs[k]!.t < before) k++;
          for (const m of encodeHistogramRun(this.core, hs.slice(0, k)).chunks) moved.push(input(m));
          for (const m of encodeHistogramRun(this.core, hs.slice(k)).chunks) keep.push(m);
          removed += k;
        } else {
          const d = this.decode(c.data);
          let k = 0;
          while (k < d.n && d.t[k]! < before) k++;
          moved.push({ minTime: d.t[0]!, maxTime: d.t[k - 1]!, encoding: ENC_XOR, data: this.encode(d.t, d.v, k), samples: k });
          keep.push({ minTime: d.t[k]!, maxTime: d.t[d.n - 1]!, n: d.n - k, encoding: ENC_XOR, data: this.encode(d.t.subarray(k, d.n), d.v.subarray(k, d.n), d.n - k) });
          removed += k;
        }
      }
      let k = 0;
      while (k < s.tn && s.tt[k]! < before) k++;
      if (k > 0) {
        moved.push({ minTime: s.tt[0]!, maxTime: s.tt[k - 1]!, encoding: ENC_XOR, data: this.encode(s.tt, s.tv, k), samples: k });
        s.tt.copyWithin(0, k, s.tn);
        s.tv.copyWithin(0, k, s.tn);
        s.tn -= k;
        removed += k;
      }
      k = 0;
      while (k < s.hOpen.length && s.hOpen[k]!.t < before) k++;
      if (k > 0) {
        const r = encodeHistogramRun(this.core, s.hOpen.slice(0, k), s.hPrev);
        for (const m of r.chunks) moved.push(input(m));
        s.hPrev = r.last;
        s.hOpen = k < s.hOpen.length ? s.hOpen.slice(k) : NO_HISTOGRAMS;
        removed += k;
      }
      s.chunks = keep;
      if (moved.length > 0) out.push({ labels: s.labels, chunks: moved });
      if (s.chunks.length === 0 && s.tn === 0 && s.hOpen.length === 0) {
        this.series.delete(key);
        s.removed = true;
        s.detach();
        dropped++;
      }
    }
    // the dropped series' numbers are not kept: the others are numbered again from 0
    if (dropped > 0) this.scalars.renumber(this.series.values(), this.series.size);
    this.samples -= removed;
    this.minValidTime = Math.max(this.minValidTime, before);
    this.mint = Infinity;
    this.maxt = -Infinity;
    for (const s of this.series.values()) {
      const ho = s.hOpen;
      const first = s.chunks[0]?.minTime ?? (s.tn > 0 ? s.tt[0] : ho[0]?.t);
      const last = s.tn > 0 ? s.tt[s.tn - 1]! : ho.length > 0 ? ho[ho.length - 1]!.t : s.chunks[s.chunks.length - 1]?.maxTime;
      if (first !== undefined && first < this.mint) this.mint = first;
      if (last !== undefined && last > this.maxt) this.maxt = last;
    }
    return out.sort((a, b) => compareLabels(a.labels, b.labels));
  }

  /**
   * Cardinality statistics in the shape of Prometheus's /api/v1/status/tsdb (top `limit` of each list).
   * An empty head has minTime +Infinity and maxTime -Infinity: Prometheus prints math.MaxInt64 and
   * math.MinInt64 there, which the JSON writer makes of them (lib/query/json.ts int64()).
   */
  stats(limit = 10): {
    headStats: { numSeries: number; numLabelPairs: number; chunkCount: number; minTime: number; maxTime: number };
    seriesCountByMetricName: Array<{ name: string; value: number }>;
    labelValueCountByLabelName: Array<{ name: string; value: number }>;
    memoryInBytesByLabelName: Array<{ name: string; value: number }>;
    seriesCountByLabelValuePair: Array<{ name: string; value: number }>;
  } {
    const byMetric = new Map<string, number>();
    const values = new Map<string, Set<string>>();
    const pairs = new Map<string, number>();
    let chunks = 0;
    for (const s of this.series.values()) {
      chunks += s.chunks.length + (s.tn > 0 || s.hOpen.length > 0 ? 1 : 0);
      for (const l of s.labels) {
        if (l.name === '__name__') byMetric.set(l.value, (byMetric.get(l.value) ?? 0) + 1);
        let vs = values.get(l.name);
        if (!vs) values.set(l.name, (vs = new Set()));
        vs.add(l.value);
        const k = `${l.name}=${l.value}`;
        pairs.set(k, (pairs.get(k) ?? 0) + 1);
      }
    }
    const top = (m: Iterable<[string, number]>) => [...m].sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0])).slice(0, limit).map(([name, value]) => ({ name, value }));
    const mem = [...values].map(([n, vs]) => [n, [...vs].reduce((a, v) => a + v.length, 0)] as [string, number]);
    return {
      headStats: { numSeries: this.series.size, numLabelPairs: pairs.size, chunkCount: chunks, minTime: this.empty ? Infinity : this.mint, maxTime: this.empty ? -Infinity : this.maxt },
      seriesCountByMetricName: top(byMetric),
      labelValueCountByLabelName: top([...values].map(([n, vs]) => [n, vs.size] as [string, number])),
      memoryInBytesByLabelName: top(mem),
      seriesCountByLabelValuePair: top(pairs),
    };
  }

  /**
   * Every sample still in the head, for a WAL checkpoint after truncation: per series its float and
   * histogram runs in time order (a series may hold several).
   */
  dump(): WalSeries[] {
    const out: WalSeries[] = [];
    for (const s of this.series.values()) {
      let floats: Array<{ t: Float64Array; v: Float64Array }> = [];
      let hists: HeadHistogram[] = [];
      const flushFloats = () => {
        const n = floats.reduce((a, d) => a + d.t.length, 0);
        if (n > 0) {
          const t = new Float64Array(n);
          const v = new Float64Array(n);
          let off = 0;
          for (const d of floats) {
            t.set(d.t, off);
            v.set(d.v, off);
            off += d.t.length;
          }
          out.push({ labels: s.labels, t, v });
        }
        floats = [];
      };
      const flushHists = () => {
        if (hists.length > 0) out.push({ labels: s.labels, t: EMPTY_F64, v: EMPTY_F64, h: hists });
        hists = [];
      };
      for (const c of s.chunks) {
        if (c.encoding === ENC_XOR) {
          flushHists();
          const d = this.decode(c.data);
          floats.push({ t: d.t, v: d.v });
        } else {
          flushFloats();
          for (const h of histogramChunkSamples(this.core, c.data, c.encoding)) hists.push(h);
        }
      }
      if (s.tn > 0) {
        flushHists();
        floats.push({ t: s.tt.slice(0, s.tn), v: s.tv.slice(0, s.tn) });
      }
      if (s.hOpen.length > 0) {
        flushFloats();
        for (const h of s.hOpen) hists.push(h);
      }
      flushFloats();
      flushHists();
    }
    return out;
  }
}
