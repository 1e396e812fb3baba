// A remote write (prompb.WriteRequest) decoder for a receiver's hot path. Senders send the same
// label sets request after request (one scrape round of each series per request), so the label
// bytes of a TimeSeries are looked up in a bounded cache of the label sets decoded before: a hit
// hands out the same frozen label array (lib/labels frozenLabels, its labelsKey computed once)
// without decoding a string. Float samples are not made into objects: they are read into two
// columns per request (timestamps, and values as their 8 bytes, so NaN payloads such as the stale
// marker survive), and each series is a ColumnarSeries naming its range there; a consumer that
// reads `samples` gets the objects built then. Only timeseries with labels and float samples take
// this path; a request with anything else (metadata, exemplars, histograms, unknown fields, labels
// after samples) or any malformed input is decoded by lib/proto's decodeWriteRequest, so answers
// and error messages are that decoder's.
import { frozenLabels, type Label } from '../labels/mod.ts';
import { decodeWriteRequest, type Sample, type TimeSeries, type WriteRequest } from '../proto/prompb.ts';
import { ProtobufError, Reader } from '../proto/wire.ts';
import type { Core } from '../core/types.ts';
import { checkedDecodedLength, decompress } from './snappy.ts';

/** The float samples of one decoded request, in two flat arrays (replaced by larger ones while decoding). */
export interface SampleColumns {
  t: Float64Array;
  v: Float64Array;
}

/**
 * A TimeSeries whose float samples are t/v[from, to) of its request's columns. `samples` builds
 * the Sample objects on first use (and keeps them); what the receiver's hot path reads are the
 * columns (lib/tsdb/head's prepare takes them as they are).
 */
export class ColumnarSeries implements TimeSeries {
  private objs: Sample[] | undefined;
  constructor(
    readonly labels: Label[],
    readonly cols: SampleColumns,
    readonly from: number,
    readonly to: number,
    /** The cached label set's slot (lib/tsdb/head's prepare notes the label set's series there); none for uncached labels. */
    readonly slot?: SeriesSlot,
  ) {}

  get samples(): Sample[] {
    if (!this.objs) {
      const { t, v } = this.cols;
      const out: Sample[] = new Array(this.to - this.from);
      for (let k = this.from; k < this.to; k++) out[k - this.from] = { value: v[k]!, timestamp: t[k]! };
      this.objs = out;
    }
    return this.objs;
  }
  set samples(s: Sample[]) {
    this.objs = s;
  }

  /** The same samples under other labels (e.g. without the tenant label it was split by; no slot: that is the other label set's). */
  withLabels(labels: Label[]): ColumnarSeries {
    return new ColumnarSeries(labels, this.cols, this.from, this.to);
  }

  /** As a plain TimeSeries (JSON.stringify). */
  toJSON(): TimeSeries {
    return { labels: this.labels, samples: this.samples };
  }
}

/** Float samples of a series, without building Sample objects for a ColumnarSeries. */
export function sampleCount(ts: TimeSeries): number {
  return ts instanceof ColumnarSeries ? ts.to - ts.from : ts.samples.length;
}

/** Float samples of many series. */
export function samplesIn(series: readonly TimeSeries[]): number {
  let n = 0;
  for (const s of series) n += sampleCount(s);
  return n;
}

const NO_COLUMNS: SampleColumns = { t: new Float64Array(0), v: new Float64Array(0) };
const NO_BYTES: Uint8Array = new Uint8Array(0);
const NO_VIEW: DataView = new DataView(new ArrayBuffer(0));

// Byte order of this machine's Float64Array (protobuf's fixed64 is little-endian; values are copied byte by byte).
const LE = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

/**
 * One per cached label set, handed out with it: a consumer may note something about this label set
 * there (the head its series, `owner` saying whose note it is). Dropped with the cache entry.
 */
export interface SeriesSlot {
  owner: unknown;
  ref: unknown;
}

/**
 * A cached label set; it is its own SeriesSlot (owner, ref): the head's note lives in the entry the
 * lookup has just read, not in one more object per series (a cache line less per series per request).
 */
interface CachedLabels extends SeriesSlot {
  /** Where the label fields' bytes as sent are kept in the arena. */
  offset: number;
  length: number;
  labels: Label[];
  /** The label set that came after this one the last time (a sender repeats its order request after request). */
  next: CachedLabels | undefined;
}

/**
 * Slots probed for one lookup at most, and label sets compared byte for byte at most (same 30-bit
 * hash): a run of colliding label sets, made on purpose or not, costs a bounded lookup; label sets
 * beyond it are decoded every time, never kept.
 */
const MAX_PROBES = 32;
const MAX_COMPARES = 4;

export interface WriteDecoderOptions {
  /** Most label sets kept (the cache is dropped and started again when full). */
  maxEntries?: number;
  /** Most label bytes kept, summed over the entries. */
  maxBytes?: number;
  /**
   * Decompresses bodies up to MAX_KEPT_BODY_BYTES decoded (a Core: its WASM kernel is ~3x the TS
   * decoder on a remote write body); larger ones, and all without it, go to lib/remote/snappy.ts.
   */
  core?: Pick<Core, 'snappyDecompress'>;
}

/** Largest decoded request body whose buffer a decoder keeps for the next request (bodyBuffer). */
const MAX_KEPT_BODY_BYTES = 4 << 20;

/** Label sets longer than this (bytes as sent) are decoded every time, never kept. */
const MAX_CACHED_LABEL_BYTES = 4096;

class Fallback extends Error {}
const FALLBACK = new Fallback();

export class WriteRequestDecoder {
  // The cache: an open-addressing table (hash, entry index) over the label bytes kept in one arena:
  // a lookup hashes and compares the bytes 4 at a time and touches two typed arrays and the arena.
  private table = new Int32Array(0);
  private entries: CachedLabels[] = [];
  private arena = new Uint8Array(0);
  private arenaView: DataView = new DataView(this.arena.buffer);
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  /** Lookups answered from the cache / decoded (for tests and the benchmark). */
  hits = 0;
  misses = 0;

  private readonly core: Pick<Core, 'snappyDecompress'> | undefined;

  constructor(o: WriteDecoderOptions = {}) {
    this.maxEntries = o.maxEntries ?? 1 << 20;
    this.maxBytes = o.maxBytes ?? 64 << 20;
    this.core = o.core;
    this.reset();
  }

  /**
   * A request body decompressed for decode() (SnappyError when malformed or over the limit): into
   * the core's reused memory or this decoder's reused buffer; either holds it until the next body
   * (decode() keeps none of its bytes). A body decoding to more than MAX_KEPT_BODY_BYTES gets a
   * buffer of its own (the core's memory does not grow for it).
   */
  decompress(body: Uint8Array, maxDecodedBytes?: number): Uint8Array {
    const n = checkedDecodedLength(body, maxDecodedBytes).length;
    if (this.core !== undefined && n <= MAX_KEPT_BODY_BYTES) return this.core.snappyDecompress(body, maxDecodedBytes);
    return decompress(body, { maxDecodedBytes, into: this.bodyBuffer(n) });
  }

  private body: Uint8Array = NO_BYTES;

  /**
   * A buffer of at least n bytes to decompress a request body into, reused from request to request
   * (a caller decodes it before the next request's body goes there: decode() keeps none of its
   * bytes, labels are copied into strings and the arena); undefined when n is over
   * MAX_KEPT_BODY_BYTES (such a body gets a buffer of its own).
   */
  bodyBuffer(n: number): Uint8Array | undefined {
    if (n > MAX_KEPT_BODY_BYTES) return undefined;
    if (this.body.length < n) this.body = new Uint8Array(Math.min(MAX_KEPT_BODY_BYTES, Math.max(n, 2 * this.body.length, 64 << 10)));
    return this.body;
  }

  /** Decodes a WriteRequest; ProtobufError on malformed input (as decodeWriteRequest). */
  decode(buf: Uint8Array): WriteRequest {
    try {
      return { timeseries: this.fast(buf) };
    } catch (e) {
      if (e !== FALLBACK && !(e instanceof ProtobufError)) throw e;
      return decodeWriteRequest(buf);
    } finally {
      // the request's series hold its columns; the decoder keeps none
      this.cols = NO_COLUMNS;
      this.vBytes = NO_BYTES;
      this.vView = NO_VIEW;
      this.view = NO_VIEW;
    }
  }

  /** The current request's columns, the bytes of its values, and how many samples they hold. */
  private cols: SampleColumns = NO_COLUMNS;
  private vBytes: Uint8Array = NO_BYTES;
  private vView: DataView = NO_VIEW;
  private n = 0;

  /** The request's bytes as words (label bytes are hashed and compared 4 at a time). */
  private view = NO_VIEW;

  private fast(buf: Uint8Array): TimeSeries[] {
    const out: TimeSeries[] = [];
    const len = buf.length;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    // A float sample takes 2 to 22 bytes on the wire and a series' labels some more: start at one
    // sample per 32 bytes, doubled when short.
    // A sender's requests hold about as many samples as its last one: that many (plus some) when it
    // is fewer, so the columns of a steady sender are not twice what they hold.
    const cap = Math.max(64, Math.min(len >>> 5, this.lastSamples + (this.lastSamples >>> 3) + 64));
    this.columns(cap);
    this.n = 0;
    let p = 0;
    while (p < len) {
      if (buf[p] !== 0x0a) throw FALLBACK;
      const n = lenAt(buf, p + 1, len);
      p = varEnd;
      if (n > len - p) throw FALLBACK;
      const end = p + n;
      out.push(this.timeSeries(buf, p, end));
      p = end;
    }
    this.lastSamples = this.n;
    return out;
  }

  /** Samples in the last request decoded here (sizes the next one's columns). */
  private lastSamples = 0;

  /** New columns of `cap` samples, both in one buffer (one allocation): t, then v. */
  private columns(cap: number): void {
    const ab = new ArrayBuffer(16 * cap);
    this.cols = { t: new Float64Array(ab, 0, cap), v: new Float64Array(ab, 8 * cap, cap) };
    this.vBytes = new Uint8Array(ab, 8 * cap, 8 * cap);
    this.vView = new DataView(ab, 8 * cap, 8 * cap);
  }

  private grow(): void {
    const c = this.cols;
    const { t: ot, v: ov } = c;
    this.columns(ot.length * 2);
    const { t, v } = this.cols;
    t.set(ot);
    v.set(ov); // element copies of a Float64Array keep the bits
    // series decoded so far share this object: they see the new arrays
    c.t = t;
    c.v = v;
    this.cols = c;
  }

  /**
   * One TimeSeries in buf[p, end): label fields first, then float samples (field 1: double value,
   * field 2: int64 timestamp), appended to the request's columns. Bytes are read in place: lengths
   * and tags of one byte, varints of up to 7 bytes (timestamps before 2^49 ms, year 19800) inline;
   * anything else falls back.
   */
  private timeSeries(buf: Uint8Array, p: number, end: number): TimeSeries {
    const lstart = p;
    while (p < end && buf[p] === 0x0a) {
      const n = lenAt(buf, p + 1, end);
      p = varEnd + n;
      if (p > end) throw FALLBACK;
    }
    const lend = p;
    const cols = this.cols;
    const from = this.n;
    while (p < end) {
      if (buf[p] !== 0x12) throw FALLBACK;
      const n = lenAt(buf, p + 1, end);
      p = varEnd;
      const send = p + n;
      if (send > end) throw FALLBACK;
      let valueAt = -1;
      let timestamp = 0;
      while (p < send) {
        const tag = buf[p++];
        if (tag === 0x09) {
          if (p + 8 > send) throw FALLBACK;
          valueAt = p; // the last one counts, as in protobuf
          p += 8;
        } else if (tag === 0x10) {
          // unsigned varint of at most 7 bytes (< 2^49): exact in a double; negatives take 10 bytes
          let x = 0;
          let mul = 1;
          let i = 0;
          for (;;) {
            if (p >= send || i === 7) throw FALLBACK;
            const c = buf[p++]!;
            x += (c & 0x7f) * mul;
            if (c < 0x80) break;
            mul *= 128;
            i++;
          }
          timestamp = x;
        } else throw FALLBACK;
      }
      const k = this.n++;
      if (k === cols.t.length) this.grow();
      cols.t[k] = timestamp;
      if (valueAt < 0) cols.v[k] = 0;
      else if (LE) {
        // the 8 bytes as two words (little-endian both sides: the bits as sent, NaN payloads included)
        const vv = this.vView;
        const view = this.view;
        vv.setInt32(k * 8, view.getInt32(valueAt, true), true);
        vv.setInt32(k * 8 + 4, view.getInt32(valueAt + 4, true), true);
      } else {
        const vb = this.vBytes;
        const o = k * 8;
        for (let i = 0; i < 8; i++) vb[o + i] = buf[valueAt + 7 - i]!;
      }
    }
    const c = this.cached(buf, lstart, lend);
    return c ? new ColumnarSeries(c.labels, cols, from, this.n, c) : new ColumnarSeries(decodeLabels(buf, lstart, lend), cols, from, this.n);
  }

  /**
   * The entry of the label set before this one in the request (undefined: none, or not kept): its
   * `next` is tried first, without hashing. Senders send their series in the same order request
   * after request (Prometheus's shards), so most lookups are one comparison of the bytes.
   */
  private prev: CachedLabels | undefined;

  /** The cache entry of the label set whose fields are buf[start, end) (decoded and kept on a miss); undefined: not kept. */
  private cached(buf: Uint8Array, start: number, end: number): CachedLabels | undefined {
    const prev = this.prev;
    const guess = prev?.next;
    const len = end - start;
    if (guess !== undefined && guess.length === len && this.equalWords(guess.offset, this.view, start, len)) {
      this.hits++;
      return (this.prev = guess);
    }
    const c = this.lookup(buf, start, end);
    if (prev !== undefined && c !== undefined) prev.next = c;
    return (this.prev = c);
  }

  /** cached() by the hash table. */
  private lookup(buf: Uint8Array, start: number, end: number): CachedLabels | undefined {
    const len = end - start;
    if (len > MAX_CACHED_LABEL_BYTES) {
      this.misses++;
      return undefined;
    }
    const view = this.view;
    const h = hashWords(view, start, end);
    const table = this.table;
    const mask = (table.length >>> 1) - 1;
    let free = -1;
    let compares = 0;
    for (let probe = 0, k = h & mask; probe < MAX_PROBES; probe++, k = (k + 1) & mask) {
      const th = table[2 * k]!;
      if (th === -1) {
        free = k;
        break;
      }
      if (th !== h) continue;
      const c = this.entries[table[2 * k + 1]!]!;
      if (c.length !== len) continue;
      if (this.equalWords(c.offset, view, start, len)) {
        this.hits++;
        return c;
      }
      if (++compares === MAX_COMPARES) break;
    }
    this.misses++;
    const labels = decodeLabels(buf, start, end);
    if (free < 0) return undefined; // a long run of colliding hashes: not kept
    if (this.entries.length >= this.maxEntries || this.bytes + len > this.maxBytes) {
      this.reset();
      return this.insert(h, buf, start, len, labels);
    }
    if (2 * (this.entries.length + 1) > mask + 1) {
      this.rehash(2 * (mask + 1));
      return this.insert(h, buf, start, len, labels);
    }
    return this.store(free, h, buf, start, len, labels);
  }

  /** Keeps a label set in the first free slot of its probe run (none within MAX_PROBES: not kept). */
  private insert(h: number, buf: Uint8Array, start: number, len: number, labels: Label[]): CachedLabels | undefined {
    const table = this.table;
    const mask = (table.length >>> 1) - 1;
    for (let probe = 0, k = h & mask; probe < MAX_PROBES; probe++, k = (k + 1) & mask) {
      if (table[2 * k] === -1) return this.store(k, h, buf, start, len, labels);
    }
    return undefined;
  }

  private store(k: number, h: number, buf: Uint8Array, start: number, len: number, labels: Label[]): CachedLabels {
    if (this.bytes + len > this.arena.length) {
      let cap = Math.max(1024, this.arena.length * 2);
      while (cap < this.bytes + len) cap *= 2;
      const a = new Uint8Array(Math.min(cap, Math.max(this.maxBytes, this.bytes + len)));
      a.set(this.arena.subarray(0, this.bytes));
      this.arena = a;
      this.arenaView = new DataView(a.buffer);
    }
    this.arena.set(buf.subarray(start, start + len), this.bytes);
    const entry: CachedLabels = { owner: undefined, ref: undefined, offset: this.bytes, length: len, labels: frozenLabels(labels) as Label[], next: undefined };
    this.bytes += len;
    this.table[2 * k] = h;
    this.table[2 * k + 1] = this.entries.length;
    this.entries.push(entry);
    return entry;
  }

  /** A table of `slots` slots with the entries kept so far (an entry whose probe run is full is dropped). */
  private rehash(slots: number): void {
    const old = this.entries;
    this.table = new Int32Array(2 * slots).fill(-1);
    this.entries = [];
    const mask = slots - 1;
    for (const e of old) {
      const h = hashWords(this.arenaView, e.offset, e.offset + e.length);
      for (let probe = 0, k = h & mask; probe < MAX_PROBES; probe++, k = (k + 1) & mask) {
        if (this.table[2 * k] !== -1) continue;
        this.table[2 * k] = h;
        this.table[2 * k + 1] = this.entries.length;
        this.entries.push(e);
        break;
      }
    }
  }

  /** Drops every label set kept (the arena's bytes are overwritten from the start). */
  private reset(): void {
    this.table = new Int32Array(2 * 1024).fill(-1);
    this.entries = [];
    this.bytes = 0;
    // the dropped entries' bytes are overwritten: none may be guessed again
    this.prev = undefined;
  }

  /** The arena's bytes at `offset` equal the request's at `start` (len bytes). */
  private equalWords(offset: number, view: DataView, start: number, len: number): boolean {
    const a = this.arenaView;
    let i = 0;
    for (; i + 4 <= len; i += 4) if (a.getInt32(offset + i, true) !== view.getInt32(start + i, true)) return false;
    for (; i < len; i++) if (a.getUint8(offset + i) !== view.getUint8(start + i)) return false;
    return true;
  }

  /** Label sets kept now. */
  get size(): number {
    return this.entries.length;
  }
}

/** Where the last lenAt() varint ended (one module-level slot: no allocation per call). */
let varEnd = 0;

/** A length varint at buf[p] of at most 4 bytes (< 2^28), ending before end; sets varEnd. */
function lenAt(buf: Uint8Array, p: number, end: number): number {
  let x = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= end) throw FALLBACK;
    const c = buf[p++]!;
    x |= (c & 0x7f) << shift;
    if (c < 0x80) {
      varEnd = p;
      return x;
    }
  }
  throw FALLBACK;
}

function decodeLabels(buf: Uint8Array, start: number, end: number): Label[] {
  const r = new Reader(buf, start, end);
  const out: Label[] = [];
  while (r.pos < end) {
    r.uint32(); // 0x0a: checked by the caller
    const n = r.uint32();
    if (n > end - r.pos) throw FALLBACK;
    const lend = r.pos + n;
    r.end = lend;
    let name = '';
    let value = '';
    while (r.pos < lend) {
      const t = r.uint32();
      if (t === 0x0a) name = r.string();
      else if (t === 0x12) value = r.string();
      else throw FALLBACK;
    }
    r.end = end;
    out.push({ name, value });
  }
  return out;
}

/** FNV-1a over 32-bit words (then the tail bytes), seeded with the length, mixed: a table slot, verified by comparing the bytes. */
function hashWords(v: DataView, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) h = Math.imul(h ^ v.getInt32(i, true), 0x01000193);
  for (; i < end; i++) h = Math.imul(h ^ v.getUint8(i), 0x01000193);
  // murmur3's finalizer: FNV's low bits depend on the input's low bits only, and the table takes the low bits
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff; // never -1 (an empty slot)
}

