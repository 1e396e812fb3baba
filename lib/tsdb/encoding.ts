// Binary helpers shared by the index, chunk, tombstone and index-header code: Go-compatible
// varints (values held exactly in f64 up to 2^53), big-endian integers and CRC32-Castagnoli.

// CRC32-C: the core's TS twin (lib/core/js/crc32c.ts), also the checksum of every block file here.
import { crc32c } from '../core/js/crc32c.ts';
export { crc32c };

export const textEncoder = new TextEncoder();
export const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** Thrown by Decbuf on a short or malformed buffer; callers turn it into a CorruptBlockError. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** A cursor over bytes. All reads check bounds and throw DecodeError. */
export class Decbuf {
  pos: number;
  constructor(public readonly b: Uint8Array, start = 0, public end = b.length) {
    this.pos = start;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  byte(): number {
    if (this.pos >= this.end) throw new DecodeError('unexpected end of data');
    return this.b[this.pos++]!;
  }
  be32(): number {
    if (this.end - this.pos < 4) throw new DecodeError('unexpected end of data');
    const b = this.b, p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
  be64(): number {
    const hi = this.be32();
    const lo = this.be32();
    return hi * 4294967296 + lo;
  }
  uvarint(): number {
    const b = this.b;
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new DecodeError('unexpected end of data in varint');
      const c = b[this.pos++]!;
      if (c < 0x80) return x + c * mul;
      x += (c & 0x7f) * mul;
      mul *= 128;
    }
    throw new DecodeError('varint overflows 64 bits');
  }
  /** A uvarint64 holding Go's uint64(x) of a possibly negative int64 x (two's complement wrap). */
  uvarintAsInt64(): number {
    const start = this.pos;
    const u = this.uvarint();
    if (u < 2 ** 53) return u;
    let x = 0n;
    let shift = 0n;
    for (let p = start; p < this.pos; p++) {
      x |= BigInt(this.b[p]! & 0x7f) << shift;
      shift += 7n;
    }
    return Number(BigInt.asIntN(64, x));
  }
  varint(): number {
    const u = this.uvarint();
    // zig-zag: even → u/2, odd → -(u+1)/2
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  bytes(n: number): Uint8Array {
    if (n < 0 || this.end - this.pos < n) throw new DecodeError(`unexpected end of data (want ${n} bytes, have ${this.end - this.pos})`);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  uvarintBytes(): Uint8Array {
    return this.bytes(this.uvarint());
  }
  uvarintStr(): string {
    return decodeString(this.uvarintBytes());
  }
  skip(n: number): void {
    if (n < 0 || this.end - this.pos < n) throw new DecodeError('unexpected end of data');
    this.pos += n;
  }
}

/** Decodes UTF-8, with an ASCII fast path (symbols are mostly ASCII). */
export function decodeString(b: Uint8Array): string {
  if (b.length < 64) {
    let s = '';
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c >= 0x80) return textDecoder.decode(b);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return textDecoder.decode(b);
}

/** A growable byte buffer for encoding. */
export class Encbuf {
  b: Uint8Array;
  len = 0;
  constructor(cap = 256) {
    this.b = new Uint8Array(cap);
  }
  reset(): this {
    this.len = 0;
    return this;
  }
  private grow(n: number): void {
    if (this.len + n <= this.b.length) return;
    let cap = this.b.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.b.subarray(0, this.len));
    this.b = nb;
  }
  byte(v: number): void {
    this.grow(1);
    this.b[this.len++] = v;
  }
  be32(v: number): void {
    this.grow(4);
    const b = this.b, p = this.len;
    b[p] = v >>> 24; b[p + 1] = v >>> 16; b[p + 2] = v >>> 8; b[p + 3] = v;
    this.len += 4;
  }
  be64(v: number): void {
    this.be32(Math.floor(v / 4294967296));
    this.be32(v >>> 0);
  }
  uvarint(v: number): void {
    if (v < 0) throw new RangeError(`uvarint of negative ${v}`);
    this.grow(10);
    const b = this.b;
    while (v >= 0x80) {
      b[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    b[this.len++] = v;
  }
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  /** Go's PutUvarint64(uint64(v)) for an int64 v that may be negative. */
  uvarintFromInt64(v: number): void {
    if (v >= 0) return this.uvarint(v);
    let x = BigInt.asUintN(64, BigInt(v));
    this.grow(10);
    while (x >= 0x80n) {
      this.b[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.b[this.len++] = Number(x);
  }
  bytes(src: Uint8Array): void {
    this.grow(src.length);
    this.b.set(src, this.len);
    this.len += src.length;
  }
  uvarintStr(s: string): void {
    const e = textEncoder.encode(s);
    this.uvarint(e.length);
    this.bytes(e);
  }
  crc32(from = 0): void {
    this.be32(crc32c(this.b, from, this.len));
  }
  get(): Uint8Array {
    return this.b.subarray(0, this.len);
  }
  /** A copy that survives reset(). */
  take(): Uint8Array {
    return this.b.slice(0, this.len);
  }
}

export function readBE32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}
export function writeBE32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24; b[p + 1] = v >>> 16; b[p + 2] = v >>> 8; b[p + 3] = v;
}
export function readBE64(b: Uint8Array, p: number): number {
  return readBE32(b, p) * 4294967296 + readBE32(b, p + 4);
}

/** Size of the uvarint encoding of v. */
export function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
