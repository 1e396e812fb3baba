// A small protobuf wire-format reader and writer (proto3), written for speed on the StoreAPI hot path.
//
// Numbers: 64-bit integers are carried as JS numbers (exact below 2^53, which covers millisecond
// timestamps); int64 values at or beyond ±2^63 clamp to MaxInt64/MinInt64 when written, so Thanos's
// math.MaxInt64 "no upper bound" survives a round trip. uint64 fields that need all 64 bits (hashes)
// are read with uint64Big().
//
// Decoding never reads past its input: every read checks against the current limit (a nested
// message's end while it is being decoded), and truncated or malformed input raises ProtobufError.

export class ProtobufError extends Error {
  constructor(message: string, public readonly offset = -1) {
    super(offset >= 0 ? `protobuf: ${message} (at byte ${offset})` : `protobuf: ${message}`);
    this.name = 'ProtobufError';
  }
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

const TWO32 = 4294967296;
const MAX_INT64 = 9223372036854775807; // == 2^63 as a double
const MIN_INT64 = -9223372036854775808;

const utf8Decoder = new TextDecoder('utf-8');
/** Reader.string's intern table for short ASCII strings: direct-mapped by hash, bounded (~16k strings of ≤ 32 chars). */
const INTERN_MASK = (1 << 14) - 1;
const internTable: Array<string | undefined> = new Array(INTERN_MASK + 1);
const utf8Encoder = new TextEncoder();

export class Reader {
  readonly buf: Uint8Array;
  pos: number;
  /** Current read limit: the end of the message being decoded. */
  end: number;
  private view: DataView | undefined;
  /** Scratch outputs of varint64(). */
  lo = 0;
  hi = 0;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private truncated(what: string): never {
    throw new ProtobufError(`truncated ${what}: input ends before the value is complete`, this.pos);
  }

  /** Reads a varint into this.lo / this.hi (unsigned 32-bit halves). */
  varint64(): void {
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let c: number;
    for (let i = 0; i < 28; i += 7) {
      if (p >= end) this.truncated('varint');
      c = b[p++]!;
      lo |= (c & 0x7f) << i;
      if (c < 0x80) {
        this.pos = p;
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    if (p >= end) this.truncated('varint');
    c = b[p++]!;
    lo |= (c & 0x0f) << 28;
    hi = (c & 0x7f) >> 4;
    if (c < 0x80) {
      this.pos = p;
      this.lo = lo >>> 0;
      this.hi = hi >>> 0;
      return;
    }
    for (let i = 3; i < 38; i += 7) {
      if (p >= end) this.truncated('varint');
      c = b[p++]!;
      hi |= (c & 0x7f) << i;
      if (c < 0x80) {
        this.pos = p;
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    throw new ProtobufError('malformed varint: longer than 10 bytes', this.pos);
  }

  /** A varint that must fit in 32 bits unsigned (tags, lengths, uint32 fields). */
  uint32(): number {
    const b = this.buf;
    const p = this.pos;
    if (p < this.end) {
      const c = b[p]!;
      if (c < 0x80) {
        this.pos = p + 1;
        return c;
      }
    }
    this.varint64();
    return this.lo; // uint32 semantics: high bits dropped, as in Go's proto decoding of uint32
  }

  /** int32 / enum: sign-extended 10-byte varints for negatives. */
  int32(): number {
    const b = this.buf;
    const p = this.pos;
    if (p < this.end) {
      const c = b[p]!;
      if (c < 0x80) {
        this.pos = p + 1;
        return c;
      }
    }
    this.varint64();
    return this.lo | 0;
  }

  int64(): number {
    const b = this.buf;
    const p = this.pos;
    if (p < this.end) {
      const c = b[p]!;
      if (c < 0x80) {
        this.pos = p + 1;
        return c;
      }
    }
    this.varint64();
    const hi = this.hi;
    const lo = this.lo;
    if (hi & 0x80000000) {
      // two's complement negative
      const nlo = (~lo + 1) >>> 0;
      const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
      return -(nhi * TWO32 + nlo);
    }
    return hi * TWO32 + lo;
  }

  uint64(): number {
    this.varint64();
    return this.hi * TWO32 + this.lo;
  }

  uint64Big(): bigint {
    this.varint64();
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  sint64(): number {
    this.varint64();
    const lo = this.lo;
    const hi = this.hi;
    // zigzag: even n -> n/2, odd n -> -(n+1)/2; computed on the 64-bit halves of n >>> 1
    const rlo = ((lo >>> 1) | (hi << 31)) >>> 0;
    const rhi = hi >>> 1;
    const half = rhi * TWO32 + rlo;
    return lo & 1 ? -half - 1 : half;
  }

  bool(): boolean {
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  double(): number {
    const p = this.pos;
    if (p + 8 > this.end) this.truncated('fixed64');
    this.pos = p + 8;
    const v = (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
    return v.getFloat64(p, true);
  }

  fixed32(): number {
    const p = this.pos;
    if (p + 4 > this.end) this.truncated('fixed32');
    this.pos = p + 4;
    const b = this.buf;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  float(): number {
    const p = this.pos;
    if (p + 4 > this.end) this.truncated('fixed32');
    this.pos = p + 4;
    const v = (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
    return v.getFloat32(p, true);
  }

  /** Reads a length prefix and checks it fits in the current limit. */
  len(): number {
    const start = this.pos;
    const c = this.buf[start]!;
    // One-byte lengths (most labels and chunks' fields) without the general varint reader.
    if (c < 0x80 && start < this.end) {
      if (c > this.end - start - 1) {
        throw new ProtobufError(`length ${c} exceeds the ${this.end - start - 1} bytes left in the message`, start);
      }
      this.pos = start + 1;
      return c;
    }
    this.varint64();
    if (this.hi !== 0) throw new ProtobufError('length prefix too large', start);
    const n = this.lo;
    if (n > this.end - this.pos) {
      throw new ProtobufError(`length ${n} exceeds the ${this.end - this.pos} bytes left in the message`, start);
    }
    return n;
  }

  /** Length-delimited bytes, zero-copy (a view into the input). */
  bytes(): Uint8Array {
    const n = this.len();
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /**
   * bytes() as a plain Uint8Array view made with the constructor (subarray() looks up the species
   * constructor on every call; a Buffer input gives a Buffer there, a Uint8Array here). For the
   * hot decoders whose callers only read the bytes (chunk data of Series responses).
   */
  bytesView(): Uint8Array {
    const n = this.len();
    const p = this.pos;
    this.pos = p + n;
    const b = this.buf;
    return new Uint8Array(b.buffer, b.byteOffset + p, n);
  }

  string(): string {
    const n = this.len();
    const p = this.pos;
    const end = p + n;
    this.pos = end;
    const b = this.buf;
    if (n <= 32) {
      // Short ASCII strings (label names and values) through a small intern table: a Series stream
      // repeats the same few names and values thousands of times, and building each one again
      // (a string per character appended) was most of a querier's decode garbage.
      let h = 0x811c9dc5 ^ n;
      for (let i = p; i < end; i++) {
        const c = b[i]!;
        if (c >= 0x80) return utf8Decoder.decode(b.subarray(p, end));
        h = Math.imul(h ^ c, 0x01000193);
      }
      const slot = (h >>> 0) & INTERN_MASK;
      const cand = internTable[slot];
      if (cand !== undefined && cand.length === n) {
        let i = 0;
        while (i < n && cand.charCodeAt(i) === b[p + i]) i++;
        if (i === n) return cand;
      }
      const s = String.fromCharCode.apply(null, b.subarray(p, end) as unknown as number[]);
      internTable[slot] = s;
      return s;
    }
    return utf8Decoder.decode(b.subarray(p, end));
  }

  /** Narrows the limit to a nested message of the given length; returns the previous limit for pop(). */
  push(n: number): number {
    const saved = this.end;
    this.end = this.pos + n;
    return saved;
  }

  pop(saved: number): void {
    if (this.pos !== this.end) throw new ProtobufError('nested message decoded past its length', this.pos);
    this.end = saved;
  }

  /** Reads a field tag; returns (field << 3 | wireType) after validating it. */
  tag(): number {
    const start = this.pos;
    const t = this.uint32();
    if (t >>> 3 === 0) throw new ProtobufError('invalid field number 0', start);
    return t;
  }

  /** Skips a field of the given wire type. */
  skip(wireType: number, depth = 0): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        if (this.pos + 8 > this.end) this.truncated('fixed64');
        this.pos += 8;
        return;
      case WIRE_LEN: {
        const n = this.len();
        this.pos += n;
        return;
      }
      case WIRE_FIXED32:
        if (this.pos + 4 > this.end) this.truncated('fixed32');
        this.pos += 4;
        return;
      case WIRE_START_GROUP: {
        if (depth > 64) throw new ProtobufError('groups nested too deeply', this.pos);
        for (;;) {
          if (this.pos >= this.end) this.truncated('group');
          const t = this.tag();
          if ((t & 7) === WIRE_END_GROUP) return;
          this.skip(t & 7, depth + 1);
        }
      }
      default:
        throw new ProtobufError(`invalid wire type ${wireType}`, this.pos);
    }
  }

  /** Reads a repeated varint-typed field given either packed or unpacked. */
  repeatedVarint(wireType: number, read: () => number, out: number[]): void {
    if (wireType === WIRE_LEN) {
      const n = this.len();
      const saved = this.push(n);
      while (this.pos < this.end) out.push(read.call(this));
      this.pop(saved);
    } else if (wireType === WIRE_VARINT) {
      out.push(read.call(this));
    } else {
      throw new ProtobufError(`wire type ${wireType} for a repeated varint field`, this.pos);
    }
  }

  repeatedDouble(wireType: number, out: number[]): void {
    if (wireType === WIRE_LEN) {
      const n = this.len();
      if (n % 8 !== 0) throw new ProtobufError(`packed doubles length ${n} is not a multiple of 8`, this.pos);
      const end = this.pos + n;
      while (this.pos < end) out.push(this.double());
    } else if (wireType === WIRE_FIXED64) {
      out.push(this.double());
    } else {
      throw new ProtobufError(`wire type ${wireType} for a repeated double field`, this.pos);
    }
  }

  /** Asserts the wire type of a known field. */
  expect(tag: number, wireType: number): void {
    if ((tag & 7) !== wireType) {
      throw new ProtobufError(`field ${tag >>> 3}: wire type ${tag & 7}, want ${wireType}`, this.pos);
    }
  }
}

/** Decodes a whole message with the given body decoder, translating out-of-range errors. */
export function decodeMessage<T>(buf: Uint8Array, body: (r: Reader) => T): T {
  const r = new Reader(buf);
  const v = body(r);
  if (r.pos !== buf.length) throw new ProtobufError('trailing bytes after message', r.pos);
  return v;
}

/** Decodes a length-delimited nested message at the reader's position. */
export function nested<T>(r: Reader, body: (r: Reader) => T): T {
  const n = r.len();
  const saved = r.push(n);
  const v = body(r);
  r.pop(saved);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Sizes (for writers that precompute nested lengths instead of shifting)

export function sizeVarint32(v: number): number {
  v >>>= 0;
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

export function sizeInt64(v: number): number {
  if (v >= 0) {
    if (v < 0x80) return 1;
    if (v < 0x10000000) return sizeVarint32(v);
    if (v >= MAX_INT64) return 9;
    let n = 1;
    let x = Math.floor(v);
    while (x >= 128) {
      x = Math.floor(x / 128);
      n++;
    }
    return n;
  }
  return 10; // negative int64 always takes 10 bytes
}

export function utf8Length(s: string): number {
  let n = 0;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

export function sizeString(s: string): number {
  const n = utf8Length(s);
  return sizeVarint32(n) + n;
}

export function sizeBytes(n: number): number {
  return sizeVarint32(n) + n;
}

// ---------------------------------------------------------------------------------------------

export class Writer {
  buf: Uint8Array;
  pos = 0;
  /** Made on the first double() (most messages have none: a view per message was a fixed cost). */
  private view: DataView | undefined;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
    this.view = undefined;
  }

  /** The encoded bytes (a view of the writer's buffer; do not reuse the writer afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  tag(field: number, wireType: number): void {
    this.uint32(((field << 3) | wireType) >>> 0);
  }

  uint32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    v >>>= 0;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  private varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  /** int32 / enum: negatives sign-extend to 10 bytes as in Go. */
  int32(v: number): void {
    if (v >= 0) this.uint32(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  int64(v: number): void {
    if (v >= 0 && v < 0x80000000 && (v | 0) === v) {
      this.uint32(v);
      return;
    }
    let lo: number;
    let hi: number;
    if (v >= MAX_INT64) {
      lo = 0xffffffff;
      hi = 0x7fffffff;
    } else if (v <= MIN_INT64) {
      lo = 0;
      hi = 0x80000000;
    } else {
      if (Number.isNaN(v)) throw new ProtobufError('cannot encode NaN as an integer');
      const neg = v < 0;
      const a = Math.trunc(Math.abs(v));
      hi = Math.floor(a / TWO32) >>> 0;
      lo = (a - hi * TWO32) >>> 0;
      if (neg) {
        lo = (~lo + 1) >>> 0;
        hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
      }
    }
    this.varint64(lo, hi);
  }

  uint64(v: number | bigint): void {
    if (typeof v === 'bigint') {
      const x = BigInt.asUintN(64, v);
      this.varint64(Number(x & 0xffffffffn), Number(x >> 32n));
      return;
    }
    if (v < 0) throw new ProtobufError('negative value for uint64');
    const a = Math.trunc(v);
    const hi = Math.floor(a / TWO32) >>> 0;
    this.varint64((a - hi * TWO32) >>> 0, hi);
  }

  sint32(v: number): void {
    this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  sint64(v: number): void {
    // zigzag: v >= 0 -> 2v ; v < 0 -> -2v - 1. Doubles at or past the int64 extremes (2^63 is
    // MaxInt64 as a double) are written as the extremes, as int64() does.
    if (v >= MAX_INT64) this.varint64(0xfffffffe, 0xffffffff);
    else if (v <= MIN_INT64) this.varint64(0xffffffff, 0xffffffff);
    else if (v >= 0) this.uint64(v * 2);
    else {
      // -2v-1 may exceed 2^53 precision only for huge values; compute as 64-bit halves
      const a = Math.trunc(-v) - 1; // |v| - 1 >= 0
      const hi = Math.floor(a / TWO32);
      const lo = a - hi * TWO32;
      // (a << 1) | 1
      this.varint64((((lo << 1) | 1) >>> 0), ((hi << 1) | (lo >>> 31)) >>> 0);
    }
  }

  bool(v: boolean): void {
    this.byte(v ? 1 : 0);
  }

  double(v: number): void {
    this.ensure(8);
    (this.view ??= new DataView(this.buf.buffer)).setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  fixed32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v & 0xff;
    b[p + 1] = (v >>> 8) & 0xff;
    b[p + 2] = (v >>> 16) & 0xff;
    b[p + 3] = (v >>> 24) & 0xff;
    this.pos = p + 4;
  }

  /** Length-prefixed bytes. */
  bytes(data: Uint8Array): void {
    this.uint32(data.length);
    this.raw(data);
  }

  /** Bytes without a prefix. */
  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** Length-prefixed UTF-8 string. */
  string(s: string): void {
    const len = s.length;
    if (len < 43) {
      // max 3 bytes per UTF-16 unit (surrogate pairs: 4 bytes per 2 units) -> fits a 1-byte length
      this.ensure(1 + len * 3);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x80) b[p++] = c;
        else {
          p = writeUtf8Slow(s, i, b, p);
          break;
        }
      }
      b[start] = p - start - 1;
      this.pos = p;
      return;
    }
    const n = utf8Length(s);
    this.uint32(n);
    this.ensure(n);
    const r = utf8Encoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + n));
    this.pos += r.written;
  }

  /** Starts a length-delimited nested message; pair with ldelim(). */
  fork(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends a nested message started with fork(): writes the length, shifting the body if needed. */
  ldelim(start: number): void {
    const len = this.pos - start - 1;
    if (len < 0x80) {
      this.buf[start] = len;
      return;
    }
    const n = sizeVarint32(len);
    this.ensure(n - 1);
    const b = this.buf;
    b.copyWithin(start + n, start + 1, this.pos);
    let p = start;
    let v = len;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p] = v;
    this.pos += n - 1;
  }
}

function writeUtf8Slow(s: string, from: number, b: Uint8Array, p: number): number {
  const len = s.length;
  for (let i = from; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) b[p++] = c;
    else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[p++] = 0xf0 | (c >> 18);
          b[p++] = 0x80 | ((c >> 12) & 0x3f);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate -> U+FFFD, as TextEncoder does
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/** UTF-8 encode helper for callers needing raw bytes. */
export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
