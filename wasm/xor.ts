// XOR chunk codec (Prometheus tsdb/chunkenc/xor.go, EncXOR), see lib/core/FORMAT.md.
// Timestamps cross the boundary as f64 ms and are i64 inside; values travel as raw 64-bit words.
import { peek64, readBits, writerStart, writeBits, writerFinish, writerAligned } from './bstream';

export const ERR_SHORT: i32 = -1; // fewer than 2 bytes
export const ERR_TRUNCATED: i32 = -2; // stream ended before num_samples samples
export const ERR_VARINT: i32 = -3; // varint longer than 64 bits
export const ERR_VALUE: i32 = -4; // leading + significant bits > 64
export const ERR_CAPACITY: i32 = -5; // output arrays too small (host bug)

/** Sample index at which the last decode failed. */
export let errSample: i32 = 0;

// uvarint result (the decoder keeps its bit position in a local; this returns through globals)
let vv: u64 = 0;
let vlen: i32 = 0; // bytes consumed, or an error code

// Reads a Go uvarint from byte-aligned position `byte` with `end` bytes available.
// @ts-ignore: decorator
@inline function readUvarint(base: usize, byte: usize, end: usize): void {
  let x: u64 = 0;
  let s: u64 = 0;
  for (let i = 0; i < 10; i++) {
    if (byte + <usize>i >= end) {
      vlen = ERR_TRUNCATED;
      return;
    }
    const b = <u64>load<u8>(base + byte + <usize>i);
    if (b < 0x80) {
      if (i == 9 && b > 1) {
        vlen = ERR_VARINT;
        return;
      }
      vv = x | (b << s);
      vlen = i + 1;
      return;
    }
    x |= (b & 0x7f) << s;
    s += 7;
  }
  vlen = ERR_VARINT;
}

/**
 * Decodes the chunk at [inPtr, inPtr+inLen) into outT (f64 ms) and outV (f64) with room for `cap`
 * samples. The host must own at least 8 bytes after the input. Returns the sample count or an
 * ERR_* code; never uses a byte past the input.
 */
export function xorDecode(inPtr: usize, inLen: u32, outT: usize, outV: usize, cap: u32): i32 {
  errSample = 0;
  if (inLen < 2) return ERR_SHORT;
  const total = (<u32>load<u8>(inPtr) << 8) | <u32>load<u8>(inPtr + 1);
  if (total > cap) return ERR_CAPACITY;
  if (total == 0) return 0;
  const lim: usize = (<usize>inLen) << 3;
  const end: usize = <usize>inLen;

  readUvarint(inPtr, 2, end);
  if (vlen < 0) return vlen;
  const zz = vv;
  let t: i64 = <i64>(zz >> 1);
  if (zz & 1) t = ~t;
  let pos: usize = (2 + <usize>vlen) << 3;
  if (pos + 64 > lim) return ERR_TRUNCATED;
  let v: u64 = readBits(inPtr, pos, 64);
  pos += 64;
  store<f64>(outT, <f64>t);
  store<u64>(outV, v);

  let delta: i64 = 0;
  let leading: u32 = 0;
  let trailing: u32 = 0;
  for (let i: u32 = 1; i < total; i++) {
    errSample = <i32>i;
    if (i == 1) {
      readUvarint(inPtr, pos >> 3, end);
      if (vlen < 0) return vlen;
      pos += (<usize>vlen) << 3;
      delta = <i64>vv;
    } else {
      if (pos >= lim) return ERR_TRUNCATED;
      const w = peek64(inPtr, pos);
      if ((w >> 63) == 0) {
        pos += 1;
      } else {
        const ones = <u32>clz<u64>(~w);
        let plen: u32;
        let sz: u32;
        if (ones == 1) {
          plen = 2;
          sz = 14;
        } else if (ones == 2) {
          plen = 3;
          sz = 17;
        } else if (ones == 3) {
          plen = 4;
          sz = 20;
        } else {
          plen = 4;
          sz = 64;
        }
        if (pos + <usize>(plen + sz) > lim) return ERR_TRUNCATED;
        let dod: i64;
        if (sz == 64) {
          dod = <i64>readBits(inPtr, pos + 4, 64);
        } else {
          let bits = (w << (<u64>plen)) >> (<u64>(64 - sz));
          if (bits > (<u64>1 << (<u64>(sz - 1)))) bits -= <u64>1 << (<u64>sz);
          dod = <i64>bits;
        }
        pos += <usize>(plen + sz);
        delta += dod;
      }
    }
    t += delta;
    store<f64>(outT + ((<usize>i) << 3), <f64>t);

    if (pos >= lim) return ERR_TRUNCATED;
    const w = peek64(inPtr, pos);
    if ((w >> 63) != 0) {
      let mbits: u32;
      if (((w >> 62) & 1) == 0) {
        if (pos + 2 > lim) return ERR_TRUNCATED;
        pos += 2;
        mbits = 64 - leading - trailing;
      } else {
        if (pos + 13 > lim) return ERR_TRUNCATED;
        const nl = <u32>((w >> 57) & 31);
        let mb = <u32>((w >> 51) & 63);
        if (mb == 0) mb = 64;
        if (nl + mb > 64) return ERR_VALUE;
        leading = nl;
        trailing = 64 - nl - mb;
        mbits = mb;
        pos += 13;
      }
      if (pos + <usize>mbits > lim) return ERR_TRUNCATED;
      const bits = readBits(inPtr, pos, mbits);
      pos += <usize>mbits;
      v ^= bits << (<u64>trailing);
    } else {
      pos += 1;
    }
    store<u64>(outV + ((<usize>i) << 3), v);
  }
  return <i32>total;
}

/** Bytes the encoder may touch for n samples (including 8 bytes of word-store slack). */
export function xorMaxBytes(n: u32): u32 {
  return 40 + n * 19;
}

// @ts-ignore: decorator
@inline function writeUvarint(x: u64): void {
  while (x >= 0x80) {
    writeBits((x & 0x7f) | 0x80, 8);
    x >>= 7;
  }
  writeBits(x, 8);
}

/**
 * Encodes n samples (t as f64 ms, v as f64) into out; returns the chunk length in bytes.
 * out must have xorMaxBytes(n) bytes.
 */
export function xorEncode(tPtr: usize, vPtr: usize, n: u32, out: usize): i32 {
  store<u8>(out, <u8>(n >> 8));
  store<u8>(out + 1, <u8>n);
  writerStart(out + 2);
  if (n == 0) return <i32>(writerFinish() - out);
  const t0 = <i64>load<f64>(tPtr);
  writeUvarint(<u64>((t0 << 1) ^ (t0 >> 63)));
  let prev = load<u64>(vPtr);
  writeBits(prev, 64);
  // Go's bstream.writeByte always appends a fresh byte: a chunk whose last write was whole bytes
  // and ended byte-aligned carries one empty trailing byte in Prometheus. Mirror it.
  let lastWide = true;
  if (n == 1) return goFinish(out, lastWide);
  let tPrev = <i64>load<f64>(tPtr + 8);
  let dPrev: i64 = tPrev - t0;
  writeUvarint(<u64>dPrev);
  let leading: u32 = 0xff;
  let trailing: u32 = 0;
  for (let i: u32 = 1; i < n; i++) {
    if (i >= 2) {
      const ti = <i64>load<f64>(tPtr + ((<usize>i) << 3));
      const d = ti - tPrev;
      const dod = d - dPrev;
      tPrev = ti;
      dPrev = d;
      if (dod == 0) {
        writeBits(0, 1);
      } else if (dod >= -8191 && dod <= 8192) {
        writeBits((<u64>0b10 << 14) | (<u64>dod & 0x3fff), 16);
      } else if (dod >= -65535 && dod <= 65536) {
        writeBits((<u64>0b110 << 17) | (<u64>dod & 0x1ffff), 20);
      } else if (dod >= -524287 && dod <= 524288) {
        writeBits((<u64>0b1110 << 20) | (<u64>dod & 0xfffff), 24);
      } else {
        writeBits(0b1111, 4);
        writeBits(<u64>dod, 64);
      }
    }
    const cur = load<u64>(vPtr + ((<usize>i) << 3));
    const delta = cur ^ prev;
    prev = cur;
    if (delta == 0) {
      writeBits(0, 1);
      lastWide = false;
      continue;
    }
    let nl = <u32>clz<u64>(delta);
    const nt = <u32>ctz<u64>(delta);
    if (nl >= 32) nl = 31;
    if (leading != 0xff && nl >= leading && nt >= trailing) {
      writeBits(0b10, 2);
      writeBits(delta >> (<u64>trailing), 64 - leading - trailing);
      lastWide = (64 - leading - trailing) % 8 == 0;
    } else {
      leading = nl;
      trailing = nt;
      const sig = 64 - nl - nt;
      writeBits((<u64>0b11 << 11) | (<u64>nl << 6) | <u64>(sig & 63), 13);
      writeBits(delta >> (<u64>nt), sig);
      lastWide = sig % 8 == 0;
    }
  }
  return goFinish(out, lastWide);
}

function goFinish(out: usize, lastWide: bool): i32 {
  const aligned = writerAligned();
  let p = writerFinish();
  if (lastWide && aligned) {
    store<u8>(p, 0);
    p++;
  }
  return <i32>(p - out);
}
