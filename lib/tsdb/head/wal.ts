// The write-ahead log of the in-memory head (our own format, not Prometheus's; see WAL.md).
//
// <dir>/<8-digit segment number>, each a sequence of records:
//   length   u32 BE   payload length
//   crc      u32 BE   CRC32C (Castagnoli) of the payload
//   payload  header u8 (record type in the low 3 bits, 0x08 = the rest is snappy-compressed, as
//            Prometheus flags compression in its record header), then the body
// Record types (as Prometheus splits them: labels once per series, samples by reference):
//   2 series   uvarint #series, per series: uvarint ref, uvarint #labels, (uvarint len + UTF-8)
//              name and value per label
//   3 samples  u8 flags, svarint base time, uvarint #series; flag 2 (columns, written): per series
//              svarint ref delta, per series uvarint #samples, per sample svarint time delta (from
//              the previous sample of its series; the first from the base time), per sample f64 LE
//              value (bit exact); flags 0 and 1 (rows; 1 = timestamps as f64, 0 only read): per
//              series uvarint ref, uvarint #samples, per sample time delta (f64 BE time with flag 1)
//              and f64 BE value
//   4 histograms  u8 Prometheus record type (7 histogram samples, 8 float histogram samples, 9 and
//              10 their custom-bucket variants), then Prometheus's record body for it (tsdb/record:
//              BE64 first ref, BE64 first time, per sample varint ref and time deltas and the
//              histogram: reset hint, schema, zero bucket, count, sum, spans, buckets; integer
//              buckets delta-coded, float ones absolute) with our series refs
//   1 samples with labels inline and f64 timestamps: written by the previous version, still read
// Writers append whole records before the write is acknowledged (to the current segment kept open
// with FsCapability.openAppend, else with appendFile): one write(2) per append, not synced, so an acknowledged write survives a kill -9 of the process (the
// bytes are in the OS page cache) but not a power loss, exactly as Prometheus's WAL (wlog.Log writes
// the batch's page to the segment file; segments are fsynced when complete and at close), which is
// what Thanos receive's TSDB uses. A checkpoint is written synced. Replay streams the segments record by record (memory stays bounded by one
// segment plus one decoded record): an incomplete record at the very end of the last segment (a
// torn write from a crash) is cut off with a warning; a CRC mismatch or a malformed record anywhere
// else is a WalCorruptError naming the segment and byte offset.
import type { AppendHandle, FsCapability, Logger } from '../../sdk/mod.ts';
import { labelsKey, type Label } from '../../labels/mod.ts';
import { compressInto, decompress as snappyDecompress, maxCompressedLength } from '../../remote/snappy.ts';
import { crc32c } from '../encoding.ts';
import { CUSTOM_BUCKETS_SCHEMA } from '../../core/types.ts';
import type { CounterResetHint } from '../../core/js/histogram_append.ts';
import type { HeadHistogram } from './histogram.ts';

/** Record types (low 3 bits of the header byte). */
export const WAL_RECORD_SAMPLES_V1 = 1;
export const WAL_RECORD_SERIES = 2;
export const WAL_RECORD_SAMPLES = 3;
export const WAL_RECORD_HISTOGRAMS = 4;
/** Prometheus tsdb/record types of histogram records (the first byte of a type-4 record's body). */
export const PROM_HISTOGRAM_SAMPLES = 7;
export const PROM_FLOAT_HISTOGRAM_SAMPLES = 8;
export const PROM_CUSTOM_BUCKETS_HISTOGRAM_SAMPLES = 9;
export const PROM_CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES = 10;
/** Histogram samples per histogram record. */
const MAX_RECORD_HISTOGRAMS = 4096;
/** Header flags, Prometheus's values (wlog: snappyMask 1<<3, zstdMask 1<<4). */
const FLAG_SNAPPY = 0x08;
const FLAG_ZSTD = 0x10;
const TYPE_MASK = 0x07;
const HEADER = 8;
/** A new segment is started once the current one passes this size. */
export const DEFAULT_SEGMENT_BYTES = 32 << 20;
/** Samples per samples record: bounds one record's decoded size (a checkpoint is split). */
const MAX_RECORD_SAMPLES = 32_768;
/** Series per series record: a new record once the labels pass this many bytes. */
const SERIES_RECORD_BYTES = 1 << 20;
/** Largest payload a record may claim once decompressed (records are far below this). */
const MAX_DECODED_RECORD = 256 << 20;
/** Samples-record flag: timestamps are stored as f64 (some are not safe integers). */
const SAMPLES_F64_TIME = 1;
/** Samples-record flag: the body is in columns (ref deltas, counts, time deltas, f64 LE values; WAL.md). */
const SAMPLES_COLUMNS = 2;

export type WalCompression = 'snappy' | 'none';

/**
 * One series' samples in a record. Values are kept in typed arrays end to end: a JS number[] of
 * doubles canonicalises NaN payloads and would turn Prometheus's stale marker into a plain NaN.
 * `key` is labelsKey(labels) when the caller already has it (saves recomputing it per append).
 */
export interface WalSeries {
  labels: Label[];
  t: ArrayLike<number>;
  v: ArrayLike<number>;
  key?: string;
  /** Histogram samples instead of floats (t and v are then empty). */
  h?: readonly HeadHistogram[];
}

/**
 * Samples of many series in two flat arrays (what one append logs and applies): series i has
 * labels[i] (its labelsKey keys[i]) and the samples t/v[start[i], start[i + 1]). One pair of typed
 * arrays per request instead of a pair per series keeps the per-sample cost free of allocation.
 */
export interface SampleBatch {
  labels: Label[][];
  keys: string[];
  /** length labels.length + 1. */
  start: number[];
  t: Float64Array;
  v: Float64Array;
  /**
   * Entry i holds histogram samples instead of floats when hist[i] is set (start[i] === start[i + 1]).
   * Entries are applied and logged in order: a series may have a float run, then a histogram run.
   */
  hist?: Array<readonly HeadHistogram[] | undefined>;
  /**
   * Per entry, the head's series it goes to where the head has it already (prepare() found it):
   * apply() takes it without a lookup, and the WAL remembers the series' ref on it.
   */
  series?: Array<WalRefSlot | undefined>;
}

/**
 * Where the WAL remembers a series' ref (the head's series object): valid while walGen is the
 * WAL's current generation (a checkpoint, which defines every series again, starts a new one).
 */
export interface WalRefSlot {
  walRef: number;
  walGen: number;
}

/** Generations of every Wal in the process: a slot never matches another WAL's generation. */
let walGenerations = 0;

/** A batch of the given series (their samples copied into one pair of arrays). */
export function toBatch(series: readonly WalSeries[]): SampleBatch {
  let n = 0;
  for (const s of series) n += s.t.length;
  const b: SampleBatch = { labels: [], keys: [], start: [0], t: new Float64Array(n), v: new Float64Array(n) };
  let off = 0;
  for (const s of series) {
    if (s.h) {
      if (s.h.length === 0) continue;
      (b.hist ??= new Array(b.labels.length).fill(undefined)).push(s.h);
      b.labels.push(s.labels);
      b.keys.push(s.key ?? labelsKey(s.labels));
      b.start.push(off);
      continue;
    }
    if (s.t.length === 0) continue;
    b.hist?.push(undefined);
    b.labels.push(s.labels);
    b.keys.push(s.key ?? labelsKey(s.labels));
    for (let i = 0; i < s.t.length; i++) b.t[off + i] = s.t[i]!;
    // values as bytes: a NaN payload (the stale marker) must survive
    if (s.v instanceof Float64Array) b.v.set(s.v.subarray(0, s.t.length), off);
    else for (let i = 0; i < s.t.length; i++) b.v[off + i] = s.v[i]!;
    off += s.t.length;
    b.start.push(off);
  }
  return b;
}

/** The batch's series as WalSeries (views into its arrays). */
export function batchSeries(b: SampleBatch): WalSeries[] {
  return b.labels.map((labels, i) => {
    const s: WalSeries = { labels, key: b.keys[i], t: b.t.subarray(b.start[i]!, b.start[i + 1]!), v: b.v.subarray(b.start[i]!, b.start[i + 1]!) };
    const h = b.hist?.[i];
    if (h) s.h = h;
    return s;
  });
}

export class WalCorruptError extends Error {
  constructor(public readonly segment: string, public readonly offset: number, detail: string) {
    super(`WAL corruption in segment ${segment} at offset ${offset}: ${detail}`);
    this.name = 'WalCorruptError';
  }
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });
// Byte order of this machine's Float64Array (values are copied byte-wise to keep NaN payloads).
const LE = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

const bytesOf = (v: Float64Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

class Buf {
  b: Uint8Array;
  n = 0;
  constructor(cap = 1024) {
    this.b = new Uint8Array(cap);
  }
  /** Room for k more bytes (the buffer grows by doubling). */
  need(k: number): void {
    if (this.n + k <= this.b.length) return;
    let c = this.b.length * 2;
    while (c < this.n + k) c *= 2;
    const nb = new Uint8Array(c);
    nb.set(this.b.subarray(0, this.n));
    this.b = nb;
  }
  byte(x: number): void {
    this.need(1);
    this.b[this.n++] = x;
  }
  bytes(x: Uint8Array): void {
    this.need(x.length);
    this.b.set(x, this.n);
    this.n += x.length;
  }
  uvarint(x: number): void {
    this.need(10);
    if (x < 0x80) {
      this.b[this.n++] = x;
      return;
    }
    while (x >= 0x80) {
      this.b[this.n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.b[this.n++] = x;
  }
  /** Zigzag varint of a safe integer. */
  svarint(x: number): void {
    this.uvarint(x >= 0 ? x * 2 : -x * 2 - 1);
  }
  str(s: string): void {
    // ASCII fast path (label names and most values): no intermediate allocation
    const len = s.length;
    let ascii = len < 0x80;
    for (let i = 0; ascii && i < len; i++) if (s.charCodeAt(i) >= 0x80) ascii = false;
    if (ascii) {
      this.need(1 + len);
      this.b[this.n++] = len;
      for (let i = 0; i < len; i++) this.b[this.n++] = s.charCodeAt(i);
      return;
    }
    const e = te.encode(s);
    this.uvarint(e.length);
    this.need(e.length);
    this.b.set(e, this.n);
    this.n += e.length;
  }
  private static tmp = new Float64Array(1);
  private static tmpB = new Uint8Array(Buf.tmp.buffer);
  /** 8 bytes of src from `o` as f64 big-endian (src is a Float64Array's bytes: NaN payloads survive). */
  f64bytes(src: Uint8Array, o: number): void {
    this.need(8);
    const b = this.b;
    const n = this.n;
    if (LE) for (let k = 0; k < 8; k++) b[n + k] = src[o + 7 - k]!;
    else for (let k = 0; k < 8; k++) b[n + k] = src[o + k]!;
    this.n += 8;
  }
  /** v[i] as f64 big-endian; bytes are copied from a Float64Array so that NaN payloads survive. */
  f64of(v: ArrayLike<number>, i: number): void {
    if (v instanceof Float64Array) this.f64bytes(bytesOf(v), i * 8);
    else this.f64(v[i]!);
  }
  f64(x: number): void {
    Buf.tmp[0] = x;
    this.f64bytes(Buf.tmpB, 0);
  }
  /** A safe integer as int64 big-endian (two's complement). */
  int64be(x: number): void {
    this.need(8);
    const hi = Math.floor(x / 0x1_0000_0000);
    const lo = x - hi * 0x1_0000_0000;
    const b = this.b;
    const n = this.n;
    b[n] = (hi >>> 24) & 0xff; b[n + 1] = (hi >>> 16) & 0xff; b[n + 2] = (hi >>> 8) & 0xff; b[n + 3] = hi & 0xff;
    b[n + 4] = (lo >>> 24) & 0xff; b[n + 5] = (lo >>> 16) & 0xff; b[n + 6] = (lo >>> 8) & 0xff; b[n + 7] = lo & 0xff;
    this.n += 8;
  }
}

const HINT_BYTE: Record<CounterResetHint, number> = { unknown: 0, reset: 1, not_reset: 2, gauge: 3 };
const HINT_OF: readonly CounterResetHint[] = ['unknown', 'reset', 'not_reset', 'gauge'];

/** The Prometheus record type a histogram sample is logged under. */
function promHistogramType(h: HeadHistogram): number {
  const custom = h.schema === CUSTOM_BUCKETS_SCHEMA;
  if (h.float) return custom ? PROM_CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES : PROM_FLOAT_HISTOGRAM_SAMPLES;
  return custom ? PROM_CUSTOM_BUCKETS_HISTOGRAM_SAMPLES : PROM_HISTOGRAM_SAMPLES;
}

function putSpans(w: Buf, spans: Int32Array): void {
  w.uvarint(spans.length / 2);
  for (let i = 0; i < spans.length; i += 2) {
    w.svarint(spans[i]!);
    w.uvarint(spans[i + 1]!);
  }
}

/**
 * A histogram record payload (our type byte, then Prometheus's record: its type byte, BE64 first
 * ref, BE64 first time, per sample varint ref delta, varint time delta, the histogram as
 * record.EncodeHistogram / EncodeFloatHistogram write it), written into w.
 */
function encodeHistograms(w: Buf, items: ReadonlyArray<{ ref: number; h: HeadHistogram }>, promType: number): Uint8Array {
  w.n = 0;
  w.byte(WAL_RECORD_HISTOGRAMS);
  w.byte(promType);
  const first = items[0]!;
  w.int64be(first.ref);
  w.int64be(first.h.t);
  const float = promType === PROM_FLOAT_HISTOGRAM_SAMPLES || promType === PROM_CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES;
  for (const { ref, h } of items) {
    w.svarint(ref - first.ref);
    w.svarint(h.t - first.h.t);
    w.byte(HINT_BYTE[h.hint]);
    w.svarint(h.schema);
    w.f64(h.zeroThreshold);
    if (float) {
      w.f64(h.zeroCount);
      w.f64(h.count);
    } else {
      w.uvarint(h.zeroCount);
      w.uvarint(h.count);
    }
    w.f64(h.sum);
    putSpans(w, h.positiveSpans);
    putSpans(w, h.negativeSpans);
    for (const buckets of [h.positive, h.negative]) {
      w.uvarint(buckets.length);
      let prev = 0;
      for (let i = 0; i < buckets.length; i++) {
        if (float) w.f64(buckets[i]!);
        else {
          w.svarint(buckets[i]! - prev);
          prev = buckets[i]!;
        }
      }
    }
    if (h.schema === CUSTOM_BUCKETS_SCHEMA) {
      w.uvarint(h.customValues.length);
      for (let i = 0; i < h.customValues.length; i++) w.f64(h.customValues[i]!);
    }
  }
  return w.b.subarray(0, w.n);
}

/** Where frame() compresses a record (reused; frame() is synchronous), and the size it may keep between records. */
let frameScratch = new Uint8Array(0);
const FRAME_SCRATCH_KEEP = 4 << 20;

/** Snappy block compression into a buffer from a position (lib/remote/snappy.ts compressInto's contract; Core.snappyCompressInto). */
export type SnappyCompressInto = (src: Uint8Array, dst: Uint8Array, at: number) => number;

/** Frames a payload: length, CRC32C, payload; optionally snappy-compressed (only when smaller). */
function frame(payload: Uint8Array, compression: WalCompression, compress: SnappyCompressInto = compressInto): Uint8Array {
  let out: Uint8Array | undefined;
  if (compression === 'snappy' && payload.length > 16) {
    // compressed in place after the header in a reused buffer: one copy out, when it is smaller
    const need = HEADER + 1 + maxCompressedLength(payload.length - 1);
    let tmp = frameScratch;
    if (tmp.length < need) {
      tmp = new Uint8Array(need);
      if (need <= FRAME_SCRATCH_KEEP) frameScratch = tmp;
    }
    const end = compress(payload.subarray(1), tmp, HEADER + 1);
    if (end - HEADER < payload.length) {
      tmp[HEADER] = payload[0]! | FLAG_SNAPPY;
      out = tmp.slice(0, end);
    }
  }
  if (!out) {
    out = new Uint8Array(HEADER + payload.length);
    out.set(payload, HEADER);
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(0, out.length - HEADER, false);
  dv.setUint32(4, crc32c(out, HEADER, out.length), false);
  return out;
}

/** Encodes one record in the previous version's format (type 1, labels inline), header included. */
export function encodeSamplesRecord(series: readonly WalSeries[]): Uint8Array {
  const w = new Buf();
  w.byte(WAL_RECORD_SAMPLES_V1);
  w.uvarint(series.length);
  for (const s of series) {
    w.uvarint(s.labels.length);
    for (const l of s.labels) {
      w.str(l.name);
      w.str(l.value);
    }
    w.uvarint(s.t.length);
    for (let i = 0; i < s.t.length; i++) {
      w.f64(s.t[i]!);
      w.f64of(s.v, i);
    }
  }
  return frame(w.b.subarray(0, w.n), 'none');
}

/** Series record payloads (type byte included), a new one past 1 MiB (bounds one record's size). */
function encodeSeries(defs: ReadonlyArray<{ ref: number; labels: readonly Label[] }>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < defs.length; ) {
    const w = new Buf();
    w.byte(WAL_RECORD_SERIES);
    let j = i;
    const body = new Buf();
    while (j < defs.length && (j === i || body.n < SERIES_RECORD_BYTES)) {
      const d = defs[j++]!;
      body.uvarint(d.ref);
      body.uvarint(d.labels.length);
      for (const l of d.labels) {
        body.str(l.name);
        body.str(l.value);
      }
    }
    w.uvarint(j - i);
    w.bytes(body.b.subarray(0, body.n));
    out.push(w.b.slice(0, w.n));
    i = j;
  }
  return out;
}

/**
 * A samples record payload (type byte included) for the batch's series [from, to) with their refs,
 * written into w: in columns (flag SAMPLES_COLUMNS) unless a timestamp needs f64. Columns keep like
 * with like (ref deltas, counts and time deltas are mostly one repeated byte; values are 8 bytes
 * each), so snappy finds the runs and skips through the values: on a 2000-series remote write
 * request 16.3 KB instead of 21.8 KB, and encode + snappy + CRC 41-94 us instead of 179-328 us
 * (/tmp/s11/ing-tools/colmicro.mts, load ~10). The buffer is sized once for the record's worst case
 * and written through locals, not a Buf call (and its room check) per field.
 */
function encodeSamples(w: Buf, b: SampleBatch, refs: readonly number[], from: number, to: number): Uint8Array {
  const t = b.t;
  const start = b.start;
  const first = start[from]!;
  const last = start[to]!;
  let f64Time = false;
  for (let k = first; k < last; k++) {
    const x = t[k]!;
    // deltas between two safe integers of at most 2^52 stay exact
    if (!Number.isSafeInteger(x) || Math.abs(x) > 2 ** 52) {
      f64Time = true;
      break;
    }
  }
  const base = f64Time || first === last ? 0 : t[first]!;
  w.n = 0;
  w.byte(WAL_RECORD_SAMPLES);
  w.byte(f64Time ? SAMPLES_F64_TIME : SAMPLES_COLUMNS);
  w.svarint(base);
  w.uvarint(to - from);
  if (f64Time) {
    const vb = bytesOf(b.v);
    for (let i = from; i < to; i++) {
      w.uvarint(refs[i]!);
      const s0 = start[i]!;
      const s1 = start[i + 1]!;
      w.uvarint(s1 - s0);
      for (let k = s0; k < s1; k++) {
        w.f64(t[k]!);
        w.f64bytes(vb, k * 8);
      }
    }
    return w.b.subarray(0, w.n);
  }
  // per series at most 10 bytes of ref delta and 10 of count, per sample 10 of time delta and 8 of value
  w.need(20 * (to - from) + 18 * (last - first));
  const o = w.b;
  let n = w.n;
  // ref deltas (zigzag, from the previous series' ref; the first from 0)
  let prevRef = 0;
  for (let i = from; i < to; i++) {
    const r = refs[i]!;
    const d = r - prevRef;
    prevRef = r;
    let x = d >= 0 ? d * 2 : -d * 2 - 1;
    while (x >= 0x80) {
      o[n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    o[n++] = x;
  }
  // sample counts
  for (let i = from; i < to; i++) {
    let x = start[i + 1]! - start[i]!;
    while (x >= 0x80) {
      o[n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    o[n++] = x;
  }
  // time deltas (zigzag, from the previous sample of the series; its first from the base time)
  for (let i = from; i < to; i++) {
    let prev = base;
    for (let k = start[i]!, s1 = start[i + 1]!; k < s1; k++) {
      const tk = t[k]!;
      const d = tk - prev;
      prev = tk;
      let x = d >= 0 ? d * 2 : -d * 2 - 1;
      while (x >= 0x80) {
        o[n++] = (x % 0x80) | 0x80;
        x = Math.floor(x / 0x80);
      }
      o[n++] = x;
    }
  }
  // values: f64 little-endian, the Float64Array's bytes as they are (NaN payloads survive)
  const vb = bytesOf(b.v);
  if (LE) {
    o.set(vb.subarray(first * 8, last * 8), n);
    n += (last - first) * 8;
  } else {
    for (let k = first; k < last; k++, n += 8) for (let q = 0; q < 8; q++) o[n + q] = vb[k * 8 + 7 - q]!;
  }
  w.n = n;
  return o.subarray(0, n);
}

class Rd {
  p: number;
  constructor(private b: Uint8Array, start: number, private end: number) {
    this.p = start;
  }
  private need(k: number): void {
    if (this.p + k > this.end) throw new Error('record body truncated');
  }
  byte(): number {
    this.need(1);
    return this.b[this.p++]!;
  }
  uvarint(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const c = this.byte();
      x += (c & 0x7f) * mul;
      if (c < 0x80) return x;
      mul *= 0x80;
    }
    throw new Error('varint too long');
  }
  svarint(): number {
    const x = this.uvarint();
    return x % 2 === 0 ? x / 2 : -(x + 1) / 2;
  }
  str(): string {
    const n = this.uvarint();
    this.need(n);
    if (n <= 64) {
      let ascii = true;
      for (let i = 0; i < n; i++) if (this.b[this.p + i]! >= 0x80) { ascii = false; break; }
      if (ascii) {
        const s = String.fromCharCode.apply(null, this.b.subarray(this.p, this.p + n) as unknown as number[]);
        this.p += n;
        return s;
      }
    }
    const s = td.decode(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return s;
  }
  /** Bytes left before the end. */
  get left(): number {
    return this.end - this.p;
  }
  /** Reads n f64 LE into dst (a Float64Array's bytes; NaN payloads kept). */
  f64leInto(dst: Uint8Array, n: number): void {
    this.need(n * 8);
    const src = this.b.subarray(this.p, this.p + n * 8);
    if (LE) dst.set(src);
    else for (let k = 0; k < n; k++) for (let q = 0; q < 8; q++) dst[k * 8 + q] = src[k * 8 + 7 - q]!;
    this.p += n * 8;
  }
  /** Reads an f64 BE into the bytes of a Float64Array at byte offset o (NaN payloads kept). */
  f64into(dst: Uint8Array, o: number): void {
    this.need(8);
    const b = this.b;
    const p = this.p;
    if (LE) for (let k = 0; k < 8; k++) dst[o + 7 - k] = b[p + k]!;
    else for (let k = 0; k < 8; k++) dst[o + k] = b[p + k]!;
    this.p += 8;
  }
  private static tmp = new Float64Array(1);
  private static tmpB = new Uint8Array(Rd.tmp.buffer);
  f64(): number {
    this.f64into(Rd.tmpB, 0);
    return Rd.tmp[0]!;
  }
  int64be(): number {
    this.need(8);
    const b = this.b;
    const p = this.p;
    const hi = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) | 0;
    const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
    this.p += 8;
    const x = hi * 0x1_0000_0000 + lo;
    if (!Number.isSafeInteger(x)) throw new Error(`int64 ${x} beyond ±2^53`);
    return x;
  }
}

function getSpans(r: Rd, end: number): Int32Array {
  const n = r.uvarint();
  // every span takes at least 2 bytes
  if (n * 2 > end - r.p) throw new Error(`span count ${n} exceeds the record size`);
  const out = new Int32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const offset = r.svarint();
    const length = r.uvarint();
    if (offset < -0x80000000 || offset > 0x7fffffff || length > 0x7fffffff) throw new Error(`histogram span (${offset}, ${length}) out of range`);
    out[i * 2] = offset;
    out[i * 2 + 1] = length;
  }
  return out;
}

function spanBuckets(spans: Int32Array): number {
  let n = 0;
  for (let i = 1; i < spans.length; i += 2) n += spans[i]!;
  return n;
}

function getBuckets(r: Rd, end: number, float: boolean): Float64Array {
  const n = r.uvarint();
  if (n > end - r.p) throw new Error(`bucket count ${n} exceeds the record size`);
  const out = new Float64Array(n);
  let cur = 0;
  for (let i = 0; i < n; i++) out[i] = float ? r.f64() : (cur += r.svarint());
  return out;
}

const EMPTY_F64 = new Float64Array(0);

interface RefSeries {
  labels: Label[];
  key: string;
}

/**
 * Decodes records, keeping the series table (ref → labels) that samples records refer to. One
 * reader per replay: a series record stays valid for every later record, in any later segment.
 */
export class WalReader {
  readonly refs = new Map<number, RefSeries>();
  maxRef = 0;

  /** Decodes one record payload b[start, end): series[] for a samples record, undefined otherwise. */
  decode(b: Uint8Array, start: number, end: number): WalSeries[] | undefined {
    const h = b[start]!;
    if (h & ~(TYPE_MASK | FLAG_SNAPPY | FLAG_ZSTD)) throw new Error(`unknown record header 0x${h.toString(16)}`);
    if (h & FLAG_ZSTD) throw new Error('zstd-compressed record (not supported: this WAL was written with zstd compression)');
    const type = h & TYPE_MASK;
    if (h & FLAG_SNAPPY) {
      if (type === WAL_RECORD_SAMPLES_V1) throw new Error('compressed record of type 1');
      let d: Uint8Array;
      try {
        d = snappyDecompress(b.subarray(start + 1, end), { maxDecodedBytes: MAX_DECODED_RECORD });
      } catch (e) {
        throw new Error(`record does not decompress: ${(e as Error).message}`);
      }
      return this.decodeBody(type, d, 0, d.length);
    }
    return this.decodeBody(type, b, start + 1, end);
  }

  private decodeBody(type: number, b: Uint8Array, start: number, end: number): WalSeries[] | undefined {
    const r = new Rd(b, start, end);
    let out: WalSeries[] | undefined;
    if (type === WAL_RECORD_SAMPLES_V1) out = decodeV1(r, end - start);
    else if (type === WAL_RECORD_SERIES) this.decodeSeries(r);
    else if (type === WAL_RECORD_SAMPLES) out = this.decodeSamples(r, end - start);
    else if (type === WAL_RECORD_HISTOGRAMS) out = this.decodeHistograms(r, end);
    else throw new Error(`unknown record type ${type}`);
    if (r.p !== end) throw new Error(`${end - r.p} trailing bytes in record`);
    return out;
  }

  private decodeSeries(r: Rd): void {
    const n = r.uvarint();
    for (let i = 0; i < n; i++) {
      const ref = r.uvarint();
      const nl = r.uvarint();
      const labels: Label[] = [];
      for (let k = 0; k < nl; k++) labels.push({ name: r.str(), value: r.str() });
      this.refs.set(ref, { labels, key: labelsKey(labels) });
      if (ref > this.maxRef) this.maxRef = ref;
    }
  }

  private decodeHistograms(r: Rd, end: number): WalSeries[] {
    const promType = r.byte();
    if (promType < PROM_HISTOGRAM_SAMPLES || promType > PROM_CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES) throw new Error(`unknown histogram record type ${promType}`);
    const float = promType === PROM_FLOAT_HISTOGRAM_SAMPLES || promType === PROM_CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES;
    const custom = promType === PROM_CUSTOM_BUCKETS_HISTOGRAM_SAMPLES || promType === PROM_CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES;
    const ref0 = r.int64be();
    const t0 = r.int64be();
    const out: WalSeries[] = [];
    let cur: { ref: number; h: HeadHistogram[] } | undefined;
    while (r.p < end) {
      const ref = ref0 + r.svarint();
      const s = this.refs.get(ref);
      if (!s) throw new Error(`histogram samples for series ref ${ref}, which no earlier series record defines`);
      const t = t0 + r.svarint();
      const hint = HINT_OF[r.byte()];
      if (hint === undefined) throw new Error('unknown histogram reset hint');
      const schema = r.svarint();
      if ((schema === CUSTOM_BUCKETS_SCHEMA) !== custom) throw new Error(`histogram schema ${schema} in a record of type ${promType}`);
      const zeroThreshold = r.f64();
      const zeroCount = float ? r.f64() : r.uvarint();
      const count = float ? r.f64() : r.uvarint();
      const sum = r.f64();
      const positiveSpans = getSpans(r, end);
      const negativeSpans = getSpans(r, end);
      const positive = getBuckets(r, end, float);
      const negative = getBuckets(r, end, float);
      let customValues = new Float64Array(0);
      if (custom) {
        const n = r.uvarint();
        if (n * 8 > end - r.p) throw new Error(`custom bound count ${n} exceeds the record size`);
        customValues = new Float64Array(n);
        for (let i = 0; i < n; i++) customValues[i] = r.f64();
      }
      // the head's chunk appender needs buckets matching the spans (a stale marker carries none)
      if (spanBuckets(positiveSpans) !== positive.length || spanBuckets(negativeSpans) !== negative.length) throw new Error(`histogram at ${t}: spans and bucket counts disagree`);
      const h: HeadHistogram = { t, hint, float, schema, zeroThreshold, zeroCount, count, sum, positiveSpans, negativeSpans, positive, negative, customValues };
      if (cur?.ref !== ref) {
        cur = { ref, h: [] };
        out.push({ labels: s.labels, key: s.key, t: EMPTY_F64, v: EMPTY_F64, h: cur.h });
      }
      cur.h.push(h);
    }
    return out;
  }

  private decodeSamples(r: Rd, size: number): WalSeries[] {
    const flags = r.byte();
    if (flags & ~(SAMPLES_F64_TIME | SAMPLES_COLUMNS) || flags === (SAMPLES_F64_TIME | SAMPLES_COLUMNS)) throw new Error(`unknown samples record flags 0x${flags.toString(16)}`);
    if (flags === SAMPLES_COLUMNS) return this.decodeSampleColumns(r);
    const f64Time = (flags & SAMPLES_F64_TIME) !== 0;
    const base = r.svarint();
    const ns = r.uvarint();
    // Each sample takes at least 9 bytes: this bounds the count before allocating.
    const cap = Math.floor(size / 9);
    const tAll = new Float64Array(cap);
    const vAll = new Float64Array(cap);
    const vBytes = bytesOf(vAll);
    const out: WalSeries[] = [];
    let off = 0;
    for (let i = 0; i < ns; i++) {
      const ref = r.uvarint();
      const s = this.refs.get(ref);
      if (!s) throw new Error(`samples for series ref ${ref}, which no earlier series record defines`);
      const n = r.uvarint();
      if (off + n > cap) throw new Error(`sample count ${n} exceeds the record size`);
      let prev = base;
      for (let k = 0; k < n; k++) {
        if (f64Time) tAll[off + k] = r.f64();
        else tAll[off + k] = prev = prev + r.svarint();
        r.f64into(vBytes, (off + k) * 8);
      }
      out.push({ labels: s.labels, key: s.key, t: tAll.subarray(off, off + n), v: vAll.subarray(off, off + n) });
      off += n;
    }
    return out;
  }

  /** A samples record body in columns (after its flags byte; encodeSamples). */
  private decodeSampleColumns(r: Rd): WalSeries[] {
    const base = r.svarint();
    const ns = r.uvarint();
    // every series takes at least 2 bytes (ref delta, count): bounds ns before allocating
    if (ns * 2 > r.left) throw new Error(`series count ${ns} exceeds the record size`);
    const series: RefSeries[] = new Array(ns);
    let ref = 0;
    for (let i = 0; i < ns; i++) {
      ref += r.svarint();
      const s = this.refs.get(ref);
      if (!s) throw new Error(`samples for series ref ${ref}, which no earlier series record defines`);
      series[i] = s;
    }
    const counts: number[] = new Array(ns);
    let total = 0;
    for (let i = 0; i < ns; i++) total += counts[i] = r.uvarint();
    // every sample takes at least 9 bytes (time delta, value): bounds the total before allocating
    if (total * 9 > r.left) throw new Error(`sample count ${total} exceeds the record size`);
    const tAll = new Float64Array(total);
    const vAll = new Float64Array(total);
    let k = 0;
    for (let i = 0; i < ns; i++) {
      let prev = base;
      for (let e = k + counts[i]!; k < e; k++) tAll[k] = prev = prev + r.svarint();
    }
    r.f64leInto(bytesOf(vAll), total);
    const out: WalSeries[] = new Array(ns);
    let off = 0;
    for (let i = 0; i < ns; i++) {
      const s = series[i]!;
      const n = counts[i]!;
      out[i] = { labels: s.labels, key: s.key, t: tAll.subarray(off, off + n), v: vAll.subarray(off, off + n) };
      off += n;
    }
    return out;
  }

  /**
   * Streams one segment's records to onRecord. Returns how many bytes are valid; a torn tail
   * (incomplete header or payload at the end) is reported as `torn`, anything else throws.
   */
  readSegment(name: string, b: Uint8Array, onRecord: (series: WalSeries[]) => void): { records: number; validBytes: number; torn: boolean } {
    let p = 0;
    let records = 0;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    while (p < b.length) {
      if (b.length - p < HEADER) return { records, validBytes: p, torn: true };
      const len = dv.getUint32(p, false);
      const crc = dv.getUint32(p + 4, false);
      if (len === 0) throw new WalCorruptError(name, p, 'empty record');
      if (p + HEADER + len > b.length) return { records, validBytes: p, torn: true };
      const got = crc32c(b, p + HEADER, p + HEADER + len);
      if (got !== crc) throw new WalCorruptError(name, p, `checksum mismatch (stored ${crc.toString(16)}, computed ${got.toString(16)})`);
      let rec: WalSeries[] | undefined;
      try {
        rec = this.decode(b, p + HEADER, p + HEADER + len);
      } catch (e) {
        throw new WalCorruptError(name, p, (e as Error).message);
      }
      if (rec) onRecord(rec);
      records++;
      p += HEADER + len;
    }
    return { records, validBytes: p, torn: false };
  }
}

function decodeV1(r: Rd, size: number): WalSeries[] {
  const ns = r.uvarint();
  const out: WalSeries[] = [];
  // One buffer per record (each sample takes 16 bytes, so this bounds the count); series get views.
  const cap = Math.floor(size / 16);
  const tAll = new Float64Array(cap);
  const vAll = new Float64Array(cap);
  const vBytes = bytesOf(vAll);
  let off = 0;
  for (let i = 0; i < ns; i++) {
    const nl = r.uvarint();
    const labels: Label[] = [];
    for (let k = 0; k < nl; k++) labels.push({ name: r.str(), value: r.str() });
    const n = r.uvarint();
    if (off + n > cap) throw new Error(`sample count ${n} exceeds the record size`);
    for (let k = 0; k < n; k++) {
      tAll[off + k] = r.f64();
      r.f64into(vBytes, (off + k) * 8);
    }
    out.push({ labels, t: tAll.subarray(off, off + n), v: vAll.subarray(off, off + n) });
    off += n;
  }
  return out;
}

/**
 * Parses one segment's bytes on its own (series records must precede their samples within it).
 * Returns the samples records and how many bytes are valid; a torn tail is reported as `torn`.
 */
export function parseSegment(name: string, b: Uint8Array): { records: WalSeries[][]; validBytes: number; torn: boolean } {
  const records: WalSeries[][] = [];
  const r = new WalReader().readSegment(name, b, (rec) => records.push(rec));
  return { records, validBytes: r.validBytes, torn: r.torn };
}

export interface WalOptions {
  fs: FsCapability;
  dir: string;
  log: Logger;
  segmentBytes?: number;
  /** Record compression (Thanos --tsdb.wal-compression, on by default: snappy, as Prometheus). */
  compression?: WalCompression;
  /** The snappy compressor (a Core's WASM kernel; default the TS compressInto: the same bytes). */
  compressInto?: SnappyCompressInto;
}

const SEG_RE = /^\d{8}$/;
const segName = (n: number) => String(n).padStart(8, '0');

export class Wal {
  private seg = 0;
  private segSize = 0;
  private readonly segmentBytes: number;
  private readonly compression: WalCompression;
  /** Series already defined by a series record in the segments kept (labelsKey → ref). */
  private refs = new Map<string, number>();
  private nextRef = 1;
  /** Changes whenever refs loses entries: refs remembered in a WalRefSlot under another generation are looked up again. */
  private gen = ++walGenerations;
  /**
   * The current segment kept open for appending where the capability can (FsCapability.openAppend):
   * one write per append instead of a path check, open, write and close.
   */
  private out: { seg: number; h: AppendHandle } | undefined;

  constructor(private readonly o: WalOptions) {
    if (!o.fs.appendFile) throw new Error('WAL: the file system capability cannot append (FsCapability.appendFile missing)');
    this.segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.compression = o.compression ?? 'snappy';
    if (this.compression !== 'snappy' && this.compression !== 'none') throw new Error(`WAL: unknown compression ${JSON.stringify(this.compression)} (want snappy or none)`);
  }

  /** Segment numbers on disk, ascending. */
  async segments(): Promise<number[]> {
    const { fs, dir } = this.o;
    if (!(await fs.exists(dir))) return [];
    return (await fs.readDir(dir)).filter((f) => f.isFile && SEG_RE.test(f.name)).map((f) => Number(f.name)).sort((a, b) => a - b);
  }

  /**
   * Streams every samples record (oldest first) to onRecord and positions the writer after the
   * last one. A torn tail of the last segment is truncated with a warning; corruption elsewhere
   * throws WalCorruptError. Only one segment's bytes and one decoded record are held at a time.
   */
  async replay(onRecord: (series: WalSeries[]) => void): Promise<{ records: number; segments: number; truncatedBytes: number }> {
    const { fs, dir, log } = this.o;
    await this.close();
    await fs.mkdir(dir, { recursive: true });
    const segs = await this.segments();
    const reader = new WalReader();
    let records = 0;
    let truncatedBytes = 0;
    for (let i = 0; i < segs.length; i++) {
      const name = segName(segs[i]!);
      const path = fs.resolve(dir, name);
      let bytes: Uint8Array | undefined = await fs.readFile(path);
      const r = reader.readSegment(`${dir}/${name}`, bytes, onRecord);
      records += r.records;
      if (r.torn) {
        if (i !== segs.length - 1) throw new WalCorruptError(`${dir}/${name}`, r.validBytes, 'incomplete record in the middle of the log (not the last segment)');
        truncatedBytes = bytes.length - r.validBytes;
        log.warn('WAL: torn record at the end of the last segment, truncating', { segment: path, offset: r.validBytes, dropped_bytes: truncatedBytes });
        const tmp = `${path}.tmp`;
        await fs.writeFile(tmp, bytes.subarray(0, r.validBytes));
        await fs.rename(tmp, path);
      }
      bytes = undefined;
      if (i === segs.length - 1) {
        this.seg = segs[i]!;
        this.segSize = r.validBytes;
      }
    }
    if (segs.length === 0) {
      this.seg = 1;
      this.segSize = 0;
    }
    // Series defined in the kept segments need no new series record; refs are never reused.
    this.refs = new Map();
    this.gen = ++walGenerations;
    for (const [ref, s] of reader.refs) this.refs.set(s.key, ref);
    this.nextRef = Math.max(this.nextRef, reader.maxRef + 1);
    return { records, segments: segs.length, truncatedBytes };
  }

  /** Scratch buffer of samples records (reused: one record is framed, i.e. copied, before the next). */
  private scratch = new Buf(1 << 16);

  /**
   * Appends samples: a series record for series not yet defined in the kept segments, then samples
   * records by reference, in one write. Returns once the bytes are written to the segment file (they
   * survive a kill -9 of the process); `sync` also fdatasyncs it (a checkpoint; see the file comment).
   */
  async append(input: SampleBatch | readonly WalSeries[], opts: { sync?: boolean } = {}): Promise<void> {
    const b = isBatch(input) ? input : toBatch(input);
    const ns = b.labels.length;
    if (ns === 0) return;
    if (this.seg === 0) this.seg = 1;
    if (this.segSize > 0 && this.segSize >= this.segmentBytes) await this.rotate(false);
    const refs: number[] = new Array(ns);
    const added: Array<{ ref: number; labels: readonly Label[]; key: string }> = [];
    const slots = b.series;
    const gen = this.gen;
    for (let i = 0; i < ns; i++) {
      const slot = slots?.[i];
      if (slot !== undefined && slot.walGen === gen) {
        refs[i] = slot.walRef;
        continue;
      }
      const key = b.keys[i]!;
      let ref = this.refs.get(key);
      if (ref === undefined) {
        ref = this.nextRef++;
        this.refs.set(key, ref);
        added.push({ ref, labels: b.labels[i]!, key });
      }
      if (slot !== undefined) {
        slot.walRef = ref;
        slot.walGen = gen;
      }
      refs[i] = ref;
    }
    const parts: Uint8Array[] = [];
    for (const p of encodeSeries(added)) parts.push(frame(p, this.compression, this.o.compressInto));
    const hist = b.hist;
    for (let i = 0; i < ns; ) {
      if (hist?.[i]) {
        // A run of histogram entries: records of one Prometheus type each, in sample order.
        const items: Array<{ ref: number; h: HeadHistogram }> = [];
        let type = 0;
        const flush = () => {
          if (items.length > 0) parts.push(frame(encodeHistograms(this.scratch, items, type), this.compression, this.o.compressInto));
          items.length = 0;
        };
        for (; i < ns && hist[i]; i++) {
          for (const h of hist[i]!) {
            const ty = promHistogramType(h);
            if (ty !== type || items.length >= MAX_RECORD_HISTOGRAMS) {
              flush();
              type = ty;
            }
            items.push({ ref: refs[i]!, h });
          }
        }
        flush();
        continue;
      }
      let j = i + 1;
      while (j < ns && !hist?.[j] && b.start[j + 1]! - b.start[i]! <= MAX_RECORD_SAMPLES) j++;
      parts.push(frame(encodeSamples(this.scratch, b, refs, i, j), this.compression, this.o.compressInto));
      i = j;
    }
    if (this.scratch.b.length > 1 << 22) this.scratch = new Buf(1 << 16); // do not keep a checkpoint-sized buffer
    const rec = parts.length === 1 ? parts[0]! : concat(parts);
    try {
      await this.write(rec, opts.sync === true);
    } catch (e) {
      // the series record may not be on disk: define those series again next time
      for (const a of added) this.refs.delete(a.key);
      this.gen = ++walGenerations;
      throw e;
    }
    this.segSize += rec.length;
  }

  /** Appends bytes to the current segment (through its open handle where the capability has one). */
  private async write(rec: Uint8Array, sync: boolean): Promise<void> {
    const { fs, dir } = this.o;
    // the path only where it is used: not per append to the segment kept open
    if (!fs.openAppend) return fs.appendFile!(fs.resolve(dir, segName(this.seg)), rec, { sync });
    if (this.out?.seg !== this.seg) {
      await this.close();
      this.out = { seg: this.seg, h: await fs.openAppend(fs.resolve(dir, segName(this.seg))) };
    }
    try {
      await this.out.h.write(rec);
      if (sync) await this.out.h.sync();
    } catch (e) {
      // opened again on the next append (as appendFile would)
      await this.close().catch(() => undefined);
      throw e;
    }
  }

  /** fdatasyncs the current segment (no-op before its first record). */
  async sync(): Promise<void> {
    if (this.seg === 0 || this.segSize === 0) return;
    if (this.out?.seg === this.seg) await this.out.h.sync();
    else await syncPath(this.o.fs, this.o.fs.resolve(this.o.dir, segName(this.seg)));
  }

  /** Closes the segment kept open for appending (the next append opens it again). */
  async close(): Promise<void> {
    const o = this.out;
    this.out = undefined;
    if (o) await o.h.close();
  }

  /**
   * Starts a new segment; returns its number (records appended later go there). A checkpoint
   * (`checkpoint` true, the default) is about to be written there and the older segments deleted,
   * so every series is defined again in the new segment.
   */
  async rotate(checkpoint = true): Promise<number> {
    await this.o.fs.mkdir(this.o.dir, { recursive: true });
    // A complete segment is synced (Prometheus's wlog does so in the background when it moves on).
    await this.sync();
    await this.close();
    this.seg = Math.max(this.seg, 0) + 1;
    this.segSize = 0;
    if (checkpoint) {
      this.refs = new Map();
      this.gen = ++walGenerations;
    }
    return this.seg;
  }

  /** Deletes the segments numbered below `seg`. */
  async truncateBefore(seg: number): Promise<void> {
    for (const s of await this.segments()) if (s < seg) await this.o.fs.remove(this.o.fs.resolve(this.o.dir, segName(s)));
  }

  get currentSegment(): number {
    return this.seg;
  }
}

function isBatch(x: SampleBatch | readonly WalSeries[]): x is SampleBatch {
  return !Array.isArray(x);
}

/** fdatasync of a file through the capability (an empty synced append where syncFile is missing). */
function syncPath(fs: FsCapability, path: string): Promise<void> {
  return fs.syncFile ? fs.syncFile(path) : fs.appendFile!(path, new Uint8Array(0), { sync: true });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
