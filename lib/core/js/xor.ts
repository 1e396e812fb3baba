// Pure-TS twin of the XOR chunk codec (Prometheus chunkenc EncXOR, see ../FORMAT.md).
// No BigInt: timestamps are exact integers in f64, 64-bit quantities travel as two u32 halves.
import { CorruptChunkError, type Samples } from '../types.ts';
import { poolF64 } from '../pool.ts';
import { BitWriter, int64, splitInt64 } from './bitwriter.ts';

const TWO32 = 4294967296;

/** Worst case bytes for n samples: header 2 + t0 varint 10 + v0 8 + tDelta uvarint 10 + (68+77 bits)/sample. */
export function xorMaxBytes(n: number): number {
  return 32 + n * 19;
}

const scratch = new BitWriter(4096);

function writeUvarint64(w: BitWriter, hi: number, lo: number): void {
  while (hi !== 0 || lo >= 0x80) {
    w.bits((lo & 0x7f) | 0x80, 8);
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  w.bits(lo, 8);
}

function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}
function ctz64(hi: number, lo: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
}

export function checkEncodeArgs(t: Float64Array, v: Float64Array, n: number): void {
  if (!(n >= 0 && n <= 65535) || !Number.isInteger(n) || n > t.length || n > v.length) {
    throw new RangeError(`xorEncode: n=${n} out of range (arrays ${t.length}/${v.length}, max 65535)`);
  }
}

/** Checks xorEncodeBatch's runs: starts ascending within [0, n], n within both arrays, each run <= 65535 samples. */
export function checkBatchStarts(t: Float64Array, v: Float64Array, starts: ArrayLike<number>, n: number): void {
  if (!(n >= 0) || !Number.isInteger(n) || n > t.length || n > v.length) {
    throw new RangeError(`xorEncodeBatch: n=${n} out of range (arrays ${t.length}/${v.length})`);
  }
  const k = starts.length;
  for (let i = 0; i < k; i++) {
    const s = starts[i]!;
    const e = i + 1 < k ? starts[i + 1]! : n;
    if (!Number.isInteger(s) || s < 0 || !(e >= s) || e > n || e - s > 65535) {
      throw new RangeError(`xorEncodeBatch: chunk ${i} [${s}, ${e}) is not an ascending run of at most 65535 samples within [0, ${n}]`);
    }
  }
}

/** Largest |t| the encoders accept: every delta and delta of delta stays exact in f64. */
export const MAX_TIMESTAMP = 2 ** 51;

export function badTimestamp(t: Float64Array, i: number): RangeError {
  return new RangeError(`xorEncode: timestamp t[${i}]=${t[i]} is not an integer millisecond within ±2^51`);
}

/** Encodes n samples as an XOR chunk, byte-identical to Prometheus 3.x. */
export function xorEncode(t: Float64Array, v: Float64Array, n: number): Uint8Array {
  checkEncodeArgs(t, v, n);
  for (let i = 0; i < n; i++) {
    const x = t[i];
    if (!(Math.abs(x) <= MAX_TIMESTAMP) || Math.trunc(x) !== x) throw badTimestamp(t, i);
  }
  const w = scratch;
  w.reset(xorMaxBytes(n));
  w.bits(n >>> 8, 8);
  w.bits(n & 0xff, 8);
  if (n === 0) return w.finish();
  const vb = new Uint32Array(v.buffer, v.byteOffset, n * 2);
  // Sample 0: varint(t0), raw 64 bits of v0.
  const t0 = t[0];
  splitInt64(t0 >= 0 ? t0 * 2 : -t0 * 2 - 1); // zig-zag
  writeUvarint64(w, int64.hi, int64.lo);
  let pHi = vb[1];
  let pLo = vb[0];
  w.bits(pHi, 32);
  w.bits(pLo, 32);
  // The chunk ends right after its last bit (Prometheus >= 3.0; 2.42 could leave one spare 0x00
  // after a byte-aligned end, see ../FORMAT.md).
  if (n === 1) return w.finish();
  // Sample 1: uvarint(uint64(t1 - t0)), then the XOR value.
  let prevT = t[1];
  let prevDelta = prevT - t0;
  splitInt64(prevDelta);
  writeUvarint64(w, int64.hi, int64.lo);
  let leading = 0xff;
  let trailing = 0;
  for (let i = 1; i < n; i++) {
    if (i >= 2) {
      const ti = t[i];
      const delta = ti - prevT;
      const dod = delta - prevDelta;
      prevT = ti;
      prevDelta = delta;
      if (dod === 0) {
        w.bit(0);
      } else if (dod >= -8191 && dod <= 8192) {
        w.bits(0b10, 2);
        w.bits(dod & 0x3fff, 14);
      } else if (dod >= -65535 && dod <= 65536) {
        w.bits(0b110, 3);
        w.bits(dod & 0x1ffff, 17);
      } else if (dod >= -524287 && dod <= 524288) {
        w.bits(0b1110, 4);
        w.bits(dod & 0xfffff, 20);
      } else {
        w.bits(0b1111, 4);
        splitInt64(dod);
        w.bits(int64.hi, 32);
        w.bits(int64.lo, 32);
      }
    }
    const hi = vb[2 * i + 1];
    const lo = vb[2 * i];
    const dHi = (hi ^ pHi) >>> 0;
    const dLo = (lo ^ pLo) >>> 0;
    pHi = hi;
    pLo = lo;
    if (dHi === 0 && dLo === 0) {
      w.bit(0);
      continue;
    }
    w.bit(1);
    let nl = clz64(dHi, dLo);
    const nt = ctz64(dHi, dLo);
    if (nl >= 32) nl = 31;
    let sh: number;
    let sig: number;
    if (leading !== 0xff && nl >= leading && nt >= trailing) {
      w.bit(0);
      sh = trailing;
      sig = 64 - leading - trailing;
    } else {
      leading = nl;
      trailing = nt;
      w.bit(1);
      w.bits(nl, 5);
      sig = 64 - nl - nt;
      w.bits(sig & 63, 6);
      sh = nt;
    }
    // delta >> sh, then its low sig bits.
    let rHi: number;
    let rLo: number;
    if (sh === 0) {
      rHi = dHi;
      rLo = dLo;
    } else if (sh < 32) {
      rLo = ((dLo >>> sh) | (dHi << (32 - sh))) >>> 0;
      rHi = dHi >>> sh;
    } else {
      rLo = dHi >>> (sh - 32);
      rHi = 0;
    }
    w.bits64(rHi, rLo, sig);
  }
  return w.finish();
}

function fail(msg: string): never {
  throw new CorruptChunkError(msg);
}

/** Number of samples in an XOR chunk (its 2-byte big-endian header). */
export function xorNumSamples(chunk: Uint8Array): number {
  if (chunk.length < 2) fail(`xor chunk too short: ${chunk.length} bytes`);
  return (chunk[0] << 8) | chunk[1];
}

/**
 * Decodes an XOR chunk. Never reads past `chunk`; throws CorruptChunkError instead. With maxt it
 * stops at the first sample whose timestamp is > maxt (that sample excluded, its value not read):
 * errors are those of the part read. NaN or no maxt: the whole chunk.
 */
export function xorDecode(chunk: Uint8Array, out?: Samples, maxt = Infinity): Samples {
  const total = xorNumSamples(chunk);
  let res: Samples;
  if (out && out.t.length >= total && out.v.length >= total) res = out;
  else res = { t: poolF64(total), v: poolF64(total), n: 0 };
  res.n = 0;
  if (total === 0) return res;
  const ts = res.t;
  const vb = new Uint32Array(res.v.buffer, res.v.byteOffset, total * 2);
  const data = chunk;
  const lim = chunk.length * 8;
  let pos = 16;

  // Reads n (1..32) bits MSB-first as an unsigned number; caller checked bounds.
  const read = (n: number): number => {
    let x = 0;
    while (n > 0) {
      const off = pos & 7;
      const avail = 8 - off;
      const b = data[pos >>> 3] & (0xff >>> off);
      if (n >= avail) {
        x = ((x << avail) | b) >>> 0;
        n -= avail;
        pos += avail;
      } else {
        x = ((x << n) | (b >>> (avail - n))) >>> 0;
        pos += n;
        n = 0;
      }
    }
    return x;
  };
  // Reads a Go uvarint through the bit stream into (vHi, vLo).
  let vHi = 0;
  let vLo = 0;
  const readUvarint = (what: string): void => {
    let hi = 0;
    let lo = 0;
    let s = 0;
    for (let i = 0; i < 10; i++) {
      if (pos + 8 > lim) fail(`xor chunk truncated in ${what} varint`);
      const b = read(8);
      if (b < 0x80) {
        if (i === 9 && b > 1) fail(`xor chunk: ${what} varint overflows 64 bits`);
        if (s < 32) {
          lo = (lo | (b << s)) >>> 0;
          if (s > 24) hi = (hi | (b >>> (32 - s))) >>> 0;
        } else hi = (hi | (b << (s - 32))) >>> 0;
        vHi = hi;
        vLo = lo;
        return;
      }
      const p = b & 0x7f;
      if (s < 32) {
        lo = (lo | (p << s)) >>> 0;
        if (s > 25) hi = (hi | (p >>> (32 - s))) >>> 0;
      } else hi = (hi | (p << (s - 32))) >>> 0;
      s += 7;
    }
    fail(`xor chunk: ${what} varint overflows 64 bits`);
  };
  const signed = (hi: number, lo: number): number => (hi | 0) * TWO32 + lo;

  readUvarint('first timestamp');
  // zig-zag: x = u >> 1, negated bitwise when u & 1
  let zHi = vHi >>> 1;
  let zLo = ((vLo >>> 1) | (vHi << 31)) >>> 0;
  if (vLo & 1) {
    zHi = ~zHi >>> 0;
    zLo = ~zLo >>> 0;
  }
  let tPrev = signed(zHi, zLo);
  if (tPrev > maxt) return res;
  if (pos + 64 > lim) fail('xor chunk truncated in first value');
  let pHi = read(32);
  let pLo = read(32);
  ts[0] = tPrev;
  vb[0] = pLo;
  vb[1] = pHi;
  let delta = 0;
  let leading = 0;
  let trailing = 0;
  for (let i = 1; i < total; i++) {
    if (i === 1) {
      readUvarint('timestamp delta');
      delta = signed(vHi, vLo);
    } else {
      // delta-of-delta bucket prefix: up to 4 bits
      let d = 0;
      for (let k = 0; k < 4; k++) {
        if (pos >= lim) fail(`xor chunk truncated at sample ${i} (timestamp)`);
        d <<= 1;
        const bit = (data[pos >>> 3] >>> (7 - (pos & 7))) & 1;
        pos++;
        if (bit === 0) break;
        d |= 1;
      }
      let sz = 0;
      let dod = 0;
      if (d === 0b10) sz = 14;
      else if (d === 0b110) sz = 17;
      else if (d === 0b1110) sz = 20;
      else if (d === 0b1111) {
        if (pos + 64 > lim) fail(`xor chunk truncated at sample ${i} (timestamp)`);
        const hi = read(32);
        const lo = read(32);
        dod = signed(hi, lo);
      }
      if (sz !== 0) {
        if (pos + sz > lim) fail(`xor chunk truncated at sample ${i} (timestamp)`);
        let bits = read(sz);
        if (bits > 1 << (sz - 1)) bits -= 1 << sz;
        dod = bits;
      }
      delta += dod;
    }
    tPrev += delta;
    if (tPrev > maxt) {
      res.n = i;
      return res;
    }
    ts[i] = tPrev;
    // value
    if (pos >= lim) fail(`xor chunk truncated at sample ${i} (value)`);
    let bit = (data[pos >>> 3] >>> (7 - (pos & 7))) & 1;
    pos++;
    if (bit !== 0) {
      if (pos >= lim) fail(`xor chunk truncated at sample ${i} (value)`);
      bit = (data[pos >>> 3] >>> (7 - (pos & 7))) & 1;
      pos++;
      let mbits: number;
      let nt: number;
      if (bit === 0) {
        mbits = 64 - leading - trailing;
        nt = trailing;
      } else {
        if (pos + 11 > lim) fail(`xor chunk truncated at sample ${i} (value)`);
        const nl = read(5);
        mbits = read(6);
        if (mbits === 0) mbits = 64;
        if (nl + mbits > 64) fail(`xor chunk corrupt at sample ${i}: ${nl} leading + ${mbits} significant bits`);
        nt = 64 - nl - mbits;
        leading = nl;
        trailing = nt;
      }
      if (pos + mbits > lim) fail(`xor chunk truncated at sample ${i} (value)`);
      let bHi = 0;
      let bLo: number;
      if (mbits > 32) {
        bHi = read(mbits - 32);
        bLo = read(32);
      } else {
        bLo = read(mbits);
      }
      // << nt
      if (nt >= 32) {
        bHi = bLo << (nt - 32);
        bLo = 0;
      } else if (nt > 0) {
        bHi = (bHi << nt) | (bLo >>> (32 - nt));
        bLo = bLo << nt;
      }
      pHi = (pHi ^ bHi) >>> 0;
      pLo = (pLo ^ bLo) >>> 0;
    }
    vb[2 * i] = pLo;
    vb[2 * i + 1] = pHi;
  }
  res.n = total;
  return res;
}
