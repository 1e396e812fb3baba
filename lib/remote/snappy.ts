// Snappy block format (not the framed format), as Prometheus uses for remote read/write bodies.
// Format: uvarint(decoded length), then elements whose tag's low 2 bits select
//   00 literal  (length-1 in the upper 6 bits, or 60..63 = 1..4 little-endian length bytes follow)
//   01 copy, 1-byte offset: length 4..11, offset 11 bits
//   10 copy, 2-byte offset: length 1..64, offset 16 bits LE
//   11 copy, 4-byte offset: length 1..64, offset 32 bits LE
// Decompression validates every element against the input and the declared output length: it
// never reads or writes out of bounds, and malformed input raises SnappyError.

export class SnappyError extends Error {
  constructor(message: string, public readonly offset = -1) {
    super(offset >= 0 ? `snappy: ${message} (at input byte ${offset})` : `snappy: ${message}`);
    this.name = 'SnappyError';
  }
}

const BLOCK_SIZE = 65536;
const HASH_BITS = 14;
const HASH_SIZE = 1 << HASH_BITS;
const INPUT_MARGIN = 15;
const MIN_BLOCK_FOR_MATCHING = 1 + 1 + INPUT_MARGIN;

/** The largest possible output of compress() for n input bytes. */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

function hash32(x: number): number {
  return Math.imul(x, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

class Out {
  pos = 0;
  constructor(readonly b: Uint8Array) {}

  literal(src: Uint8Array, from: number, to: number): void {
    const n = to - from - 1;
    const b = this.b;
    if (n < 60) {
      b[this.pos++] = n << 2;
    } else if (n < 0x100) {
      b[this.pos++] = 60 << 2;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = 61 << 2;
      b[this.pos++] = n & 0xff;
      b[this.pos++] = n >>> 8;
    } else if (n < 0x1000000) {
      b[this.pos++] = 62 << 2;
      b[this.pos++] = n & 0xff;
      b[this.pos++] = (n >>> 8) & 0xff;
      b[this.pos++] = n >>> 16;
    } else {
      b[this.pos++] = 63 << 2;
      b[this.pos++] = n & 0xff;
      b[this.pos++] = (n >>> 8) & 0xff;
      b[this.pos++] = (n >>> 16) & 0xff;
      b[this.pos++] = n >>> 24;
    }
    if (to - from <= 16) {
      let p = this.pos;
      for (let k = from; k < to; k++) b[p++] = src[k]!;
      this.pos = p;
    } else {
      b.set(src.subarray(from, to), this.pos);
      this.pos += to - from;
    }
  }

  private copy2(offset: number, length: number): void {
    const b = this.b;
    b[this.pos++] = ((length - 1) << 2) | 2;
    b[this.pos++] = offset & 0xff;
    b[this.pos++] = offset >>> 8;
  }

  copy(offset: number, length: number): void {
    while (length >= 68) {
      this.copy2(offset, 64);
      length -= 64;
    }
    if (length > 64) {
      this.copy2(offset, 60);
      length -= 60;
    }
    if (length >= 12 || offset >= 2048) {
      this.copy2(offset, length);
      return;
    }
    const b = this.b;
    b[this.pos++] = ((offset >>> 8) << 5) | ((length - 4) << 2) | 1;
    b[this.pos++] = offset & 0xff;
  }
}

function compressBlock(src: Uint8Array, sv: DataView, start: number, end: number, out: Out, table: Uint16Array): void {
  if (end - start < MIN_BLOCK_FOR_MATCHING) {
    out.literal(src, start, end);
    return;
  }
  table.fill(0);
  const limit = end - INPUT_MARGIN;
  let lit = start; // next byte not yet emitted
  let i = start + 1;
  table[hash32(sv.getUint32(start, true))] = 0;
  while (i < limit) {
    // one unaligned load in optimised code (load32's four byte loads cost more)
    const cur = sv.getUint32(i, true);
    const h = hash32(cur);
    const cand = start + table[h]!;
    table[h] = i - start;
    if (cand < i && sv.getUint32(cand, true) === cur) {
      if (lit < i) out.literal(src, lit, i);
      let m = 4;
      const max = end - i;
      while (m + 4 <= max && sv.getUint32(cand + m, true) === sv.getUint32(i + m, true)) m += 4;
      while (m < max && src[cand + m] === src[i + m]) m++;
      out.copy(i - cand, m);
      i += m;
      lit = i;
      if (i < limit) table[hash32(sv.getUint32(i - 1, true))] = i - 1 - start;
      continue;
    }
    // skip faster through incompressible data
    i += 1 + ((i - lit) >>> 5);
  }
  if (lit < end) out.literal(src, lit, end);
}

/** The match table of compressBlock, shared by every call (compression is synchronous; each block clears it). */
const TABLE = new Uint16Array(HASH_SIZE);

/** Compresses src into one snappy block-format buffer. */
export function compress(src: Uint8Array): Uint8Array {
  const b = new Uint8Array(maxCompressedLength(src.length));
  return b.subarray(0, compressInto(src, b, 0));
}

/**
 * Compresses src into dst from byte `at` (dst must have maxCompressedLength(src.length) bytes from
 * there: a caller's reused buffer); returns where the compressed bytes end.
 */
export function compressInto(src: Uint8Array, dst: Uint8Array, at: number): number {
  if (dst.length - at < maxCompressedLength(src.length)) throw new RangeError(`snappy: ${dst.length - at} bytes of output for ${src.length} input bytes (want ${maxCompressedLength(src.length)})`);
  const out = new Out(dst);
  out.pos = at;
  let n = src.length;
  do {
    out.b[out.pos++] = n > 0x7f ? (n & 0x7f) | 0x80 : n;
    n = Math.floor(n / 128);
  } while (n > 0);
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let s = 0; s < src.length; s += BLOCK_SIZE) compressBlock(src, sv, s, Math.min(src.length, s + BLOCK_SIZE), out, TABLE);
  return out.pos;
}

/** The decoded length a block-format buffer declares, and where its elements start. */
export function decodedLength(src: Uint8Array): { length: number; headerBytes: number } {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (i >= src.length) throw new SnappyError('truncated length header', i);
    const c = src[i]!;
    v += (c & 0x7f) * mul;
    mul *= 128;
    if (c < 0x80) {
      if (v > 0xffffffff) throw new SnappyError('declared length exceeds 2^32-1', 0);
      return { length: v, headerBytes: i + 1 };
    }
  }
  throw new SnappyError('length header longer than 5 bytes', 0);
}

export interface DecompressOptions {
  /** Refuse inputs that declare more than this many decoded bytes (default 512 MiB). */
  maxDecodedBytes?: number;
  /**
   * Decode into this buffer when it holds the decoded length (a caller's reused scratch: the result
   * is then a view of it, overwritten by the caller's next use); else into a new one.
   */
  into?: Uint8Array;
}

/**
 * decodedLength, refused (SnappyError) over the limit (default 512 MiB) or beyond what the input
 * can expand to: what decompress checks before it allocates or decodes anything.
 */
export function checkedDecodedLength(src: Uint8Array, maxDecodedBytes = 512 * 1024 * 1024): { length: number; headerBytes: number } {
  const h = decodedLength(src);
  const n = h.length;
  if (n > maxDecodedBytes) throw new SnappyError(`declared decoded length ${n} exceeds the limit of ${maxDecodedBytes} bytes`, 0);
  // The densest element (a 3-byte copy of 64 bytes) expands ~21x: reject impossible claims before allocating.
  const body = src.length - h.headerBytes;
  if (n > body * 22 + 64) throw new SnappyError(`declared decoded length ${n} is impossible for ${body} bytes of input`, 0);
  return h;
}

export function decompress(src: Uint8Array, opts: DecompressOptions = {}): Uint8Array {
  const { length: n, headerBytes } = checkedDecodedLength(src, opts.maxDecodedBytes);
  const into = opts.into;
  const dst = into !== undefined && into.length >= n ? into.subarray(0, n) : new Uint8Array(n);
  decodeElements(src, headerBytes, dst, n);
  return dst;
}

/**
 * Decodes the elements of src from byte s into dst[0, n). Where at least 8 bytes of room are left
 * after an element (in dst, and in src for a literal), its bytes are moved 8 at a time through
 * DataViews (an unaligned load and store each in optimised code; the last step may write up to
 * 7 bytes past the element, which the next elements overwrite): most elements of a remote write
 * body are copies of 4 to 64 bytes, and a byte loop or a copyWithin call per element cost more.
 */
function decodeElements(src: Uint8Array, s: number, dst: Uint8Array, n: number): void {
  const end = src.length;
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  let d = 0;
  while (s < end) {
    const at = s;
    const tag = src[s]!;
    let length: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        let x = tag >>> 2;
        if (x < 60) {
          s += 1;
        } else {
          const nb = x - 59;
          if (s + 1 + nb > end) throw new SnappyError('truncated literal length', at);
          x = 0;
          for (let k = nb; k >= 1; k--) x = x * 256 + src[s + k]!;
          s += 1 + nb;
        }
        length = x + 1;
        if (length > end - s) throw new SnappyError(`literal of ${length} bytes runs past the end of the input`, at);
        if (length > n - d) throw new SnappyError(`literal of ${length} bytes overflows the declared length ${n}`, at);
        if (length <= 64 && d + length + 8 <= n && s + length + 8 <= end) {
          for (let k = 0; k < length; k += 8) {
            dv.setInt32(d + k, sv.getInt32(s + k, true), true);
            dv.setInt32(d + k + 4, sv.getInt32(s + k + 4, true), true);
          }
        } else if (length > 16) {
          dst.set(src.subarray(s, s + length), d);
        } else {
          for (let k = 0; k < length; k++) dst[d + k] = src[s + k]!;
        }
        s += length;
        d += length;
        continue;
      }
      case 1:
        if (s + 2 > end) throw new SnappyError('truncated copy (1-byte offset)', at);
        length = 4 + ((tag >>> 2) & 7);
        offset = ((tag & 0xe0) << 3) | src[s + 1]!;
        s += 2;
        break;
      case 2:
        if (s + 3 > end) throw new SnappyError('truncated copy (2-byte offset)', at);
        length = 1 + (tag >>> 2);
        offset = src[s + 1]! | (src[s + 2]! << 8);
        s += 3;
        break;
      default:
        if (s + 5 > end) throw new SnappyError('truncated copy (4-byte offset)', at);
        length = 1 + (tag >>> 2);
        offset = (src[s + 1]! | (src[s + 2]! << 8) | (src[s + 3]! << 16) | (src[s + 4]! << 24)) >>> 0;
        s += 5;
    }
    if (offset === 0 || offset > d) throw new SnappyError(`copy offset ${offset} points before the start of the output (${d} bytes written)`, at);
    if (length > n - d) throw new SnappyError(`copy of ${length} bytes overflows the declared length ${n}`, at);
    let from = d - offset;
    if (offset >= 8 && d + length + 8 <= n) {
      // 8 bytes a step read only bytes already final (offset >= 8), overlapping copies included
      for (let k = 0; k < length; k += 8) {
        dv.setInt32(d + k, dv.getInt32(from + k, true), true);
        dv.setInt32(d + k + 4, dv.getInt32(from + k + 4, true), true);
      }
      d += length;
    } else {
      // short output left or an overlapping copy repeating fewer than 8 bytes: byte by byte
      for (let k = 0; k < length; k++) dst[d++] = dst[from++]!;
    }
  }
  if (d !== n) throw new SnappyError(`decoded ${d} bytes but the header declared ${n}`, s);
}
