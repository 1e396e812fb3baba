// XOR chunk codec (Prometheus tsdb/chunkenc/xor.go, EncXOR), see lib/core/FORMAT.md.
// Timestamps cross the boundary as f64 ms and are i64 inside; values travel as raw 64-bit words.
import { peek64, storeBe64 } from './bstream';

export const ERR_SHORT: i32 = -1; // fewer than 2 bytes
export const ERR_TRUNCATED: i32 = -2; // stream ended before num_samples samples
export const ERR_VARINT: i32 = -3; // varint longer than 64 bits
export const ERR_VALUE: i32 = -4; // leading + significant bits > 64
export const ERR_CAPACITY: i32 = -5; // output arrays too small (host bug)
export const ERR_TIMESTAMP: i32 = -6; // encode: a timestamp is not an integer within ±2^51

/** Largest |t| accepted by the encoder: keeps every delta and delta of delta exact in f64 (TS twin). */
const MAX_T: i64 = 2251799813685248; // 2^51 ms, about 71,000 years

// A timestamp as i64 if it is an integer within ±MAX_T (NaN and ±Inf saturate and fail the test).
// @ts-ignore: decorator
@inline function okTime(tf: f64, ti: i64): bool {
  return <f64>ti == tf && ti <= MAX_T && ti >= -MAX_T;
}

/** Sample index at which the last decode failed. */
export let errSample: i32 = 0;

// Records where decoding failed. Only error paths write this global: a global store inside the
// hot loop costs V8 more than the whole rest of an iteration.
function fail(code: i32, i: u32): i32 {
  errSample = <i32>i;
  return code;
}

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

// Reading the stream: `rb` is where peeks read. With R = u8 the chunk has been copied byte-reversed
// into REV (see xorDecode), so a plain little-endian load at rb - byte yields the 8 bytes that start
// at `byte` in stream order (no byte swap, which WebAssembly lacks and costs a dozen instructions);
// with any other R, rb is the chunk itself and peeks swap bytes (chunks too large for REV).
// @ts-ignore: decorator
@inline function pk<R>(rb: usize, pos: usize): u64 {
  if (sizeof<R>() == 1) return load<u64>(rb - (pos >> 3)) << (<u64>(pos & 7));
  return peek64(rb, pos);
}

// n (1..64) bits at bit `pos`.
// @ts-ignore: decorator
@inline function rbits<R>(rb: usize, pos: usize, n: u32): u64 {
  if (n <= 56) return pk<R>(rb, pos) >> (<u64>(64 - n));
  const hi = pk<R>(rb, pos) >> (<u64>(96 - n));
  const lo = pk<R>(rb, pos + n - 32) >> 32;
  return (hi << 32) | lo;
}

// Byte-reversed copy of the chunk being decoded: REV_PAD zero bytes (they stand for "past the end"
// and are never written), then the chunk's bytes last to first. xorEncode also builds its reversed
// stream here, downward from REV_TOP (the decoder never reads above the chunk it copied in).
const REV_PAD: usize = 16;
const REV_CAP: u32 = 65536;
const REV: usize = memory.data(<i32>(REV_CAP + <u32>REV_PAD), 16);
// xorEncode writes its reversed stream downward from here
const REV_TOP: usize = REV + REV_PAD + <usize>REV_CAP;

/**
 * Decodes the chunk at [inPtr, inPtr+inLen) into outT (f64 ms) and outV (f64) with room for `cap`
 * samples. The host must own at least 8 bytes after the input. Returns the sample count or an
 * ERR_* code; never uses a byte past the input.
 */
export function xorDecode(inPtr: usize, inLen: u32, outT: usize, outV: usize, cap: u32): i32 {
  if (inLen > REV_CAP) return decodeImpl<u64>(inPtr, inLen, outT, outV, cap, inPtr);
  // Reverse 16 bytes at a time, then the tail byte by byte; only bytes of the input are read.
  const L = <usize>inLen;
  const dst = REV + REV_PAD;
  const mask = i8x16(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  let j: usize = 0;
  while (j + 16 <= L) {
    v128.store(dst + L - 16 - j, i8x16.swizzle(v128.load(inPtr + j), mask));
    j += 16;
  }
  while (j < L) {
    store<u8>(dst + L - 1 - j, load<u8>(inPtr + j));
    j++;
  }
  // the byte at stream offset b is at dst + L - 1 - b, so the 8 bytes from b load from dst + L - 8 - b
  return decodeImpl<u8>(inPtr, inLen, outT, outV, cap, dst + L - 8);
}

function decodeImpl<R>(inPtr: usize, inLen: u32, outT: usize, outV: usize, cap: u32, rb: usize): i32 {
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
  let v: u64 = rbits<R>(rb, pos, 64);
  pos += 64;
  store<f64>(outT, <f64>t);
  store<u64>(outV, v);

  let delta: i64 = 0;
  let leading: u32 = 0;
  let trailing: u32 = 0;
  for (let i: u32 = 1; i < total; i++) {
    // One 64-bit peek per sample usually covers the timestamp and the value: w0 holds at least
    // 57 valid bits from the sample's first bit, `used` counts the ones the timestamp took.
    let w0: u64 = 0;
    let used: u32 = 64;
    if (i == 1) {
      readUvarint(inPtr, pos >> 3, end);
      if (vlen < 0) return fail(vlen, i);
      pos += (<usize>vlen) << 3;
      delta = <i64>vv;
    } else {
      if (pos >= lim) return fail(ERR_TRUNCATED, i);
      w0 = pk<R>(rb, pos);
      if ((w0 >> 63) == 0) {
        pos += 1;
        used = 1;
      } else {
        // one branch per bucket with constant widths: the branch predictor then knows where the
        // value starts before the bits arrive (an arithmetic width would chain every sample's
        // position on the previous load)
        let dod: i64;
        const top4 = <u32>(w0 >> 60);
        if (top4 < 0b1100) {
          // '10' + 14 bits
          if (pos + 16 > lim) return fail(ERR_TRUNCATED, i);
          dod = (<i64>(w0 << 2)) >> 50;
          if (dod == -8192) dod = 8192;
          used = 16;
        } else if (top4 < 0b1110) {
          // '110' + 17 bits
          if (pos + 20 > lim) return fail(ERR_TRUNCATED, i);
          dod = (<i64>(w0 << 3)) >> 47;
          if (dod == -65536) dod = 65536;
          used = 20;
        } else if (top4 == 0b1110) {
          // '1110' + 20 bits
          if (pos + 24 > lim) return fail(ERR_TRUNCATED, i);
          dod = (<i64>(w0 << 4)) >> 44;
          if (dod == -524288) dod = 524288;
          used = 24;
        } else {
          if (pos + 68 > lim) return fail(ERR_TRUNCATED, i);
          dod = <i64>rbits<R>(rb, pos + 4, 64);
          used = 68;
        }
        pos += <usize>used;
        delta += dod;
      }
    }
    t += delta;
    store<f64>(outT + ((<usize>i) << 3), <f64>t);

    if (pos >= lim) return fail(ERR_TRUNCATED, i);
    let w: u64;
    let avail: u32;
    if (used <= 24) {
      w = w0 << (<u64>used);
      avail = 57 - used;
    } else {
      w = pk<R>(rb, pos);
      avail = 57;
    }
    if ((w >> 63) != 0) {
      let hdr: u32;
      let mbits: u32;
      if (((w >> 62) & 1) == 0) {
        hdr = 2;
        mbits = 64 - leading - trailing;
      } else {
        if (pos + 13 > lim) return fail(ERR_TRUNCATED, i);
        const nl = <u32>((w >> 57) & 31);
        let mb = <u32>((w >> 51) & 63);
        if (mb == 0) mb = 64;
        if (nl + mb > 64) return fail(ERR_VALUE, i);
        leading = nl;
        trailing = 64 - nl - mb;
        hdr = 13;
        mbits = mb;
      }
      if (pos + <usize>(hdr + mbits) > lim) return fail(ERR_TRUNCATED, i);
      let bits: u64;
      if (hdr + mbits <= avail) bits = (w << (<u64>hdr)) >> (<u64>(64 - mbits));
      else bits = rbits<R>(rb, pos + <usize>hdr, mbits);
      pos += <usize>(hdr + mbits);
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

/**
 * Encodes n samples (t as f64 ms, v as f64) into out; returns the chunk length in bytes.
 * out must have xorMaxBytes(n) bytes. Same bytes as Prometheus >= 3.0 (tsdb/chunkenc), written 64
 * bits at a time. The writer state (acc: pending bits, left-aligned; fill: how many; op: next word)
 * lives in locals, and each put() below is the same small block expanded in place: AssemblyScript
 * has no macros, and keeping that state in globals makes V8 several times slower.
 */
export function xorEncode(tPtr: usize, vPtr: usize, n: u32, out: usize): i32 {
  if (xorMaxBytes(n) + 8 <= REV_CAP) return encodeImpl<u8>(tPtr, vPtr, n, out);
  return encodeImpl<u64>(tPtr, vPtr, n, out);
}

// With R = u8 the stream's words go to REV byte-reversed (stream byte b at REV_TOP - 1 - b, so a
// word is a plain little-endian store, no byte swap) and are reversed into `out` at the end with
// SIMD; with any other R (chunks too large for REV) they are byte-swapped into `out` directly.
// The bit writer's `put(x, n)` is written out by hand at each call site (the `// put(...)` blocks):
// AssemblyScript has no closures or by-reference locals, and keeping acc/fill/op in globals instead
// made the loop ~2.4× slower in V8. Change one block, change them all (the differential tests catch a miss).
function encodeImpl<R>(tPtr: usize, vPtr: usize, n: u32, out: usize): i32 {
  store<u8>(out, <u8>(n >> 8));
  store<u8>(out + 1, <u8>n);
  if (n == 0) return 2;
  let acc: u64 = 0;
  let fill: u32 = 0;
  let op: usize = sizeof<R>() == 1 ? REV_TOP - 8 : out + 2;
  const t0f = load<f64>(tPtr);
  const t0 = <i64>t0f;
  if (!okTime(t0f, t0)) return fail(ERR_TIMESTAMP, 0);
  let z = <u64>((t0 << 1) ^ (t0 >> 63));
  while (z >= 0x80) {
    {
      // put((z & 0x7f) | 0x80, 8)
      const px: u64 = (z & 0x7f) | 0x80;
      const pn: u32 = 8;
      const free: u32 = 64 - fill;
      if (pn < free) {
        acc |= px << (<u64>(free - pn));
        fill += pn;
      } else {
        const rem = pn - free;
        if (sizeof<R>() == 1) {
          store<u64>(op, acc | (px >> (<u64>rem)));
          op -= 8;
        } else {
          storeBe64(op, acc | (px >> (<u64>rem)));
          op += 8;
        }
        fill = rem;
        acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
      }
    }
    z >>= 7;
  }
  {
    // put(z, 8)
    const px: u64 = z;
    const pn: u32 = 8;
    const free: u32 = 64 - fill;
    if (pn < free) {
      acc |= px << (<u64>(free - pn));
      fill += pn;
    } else {
      const rem = pn - free;
      if (sizeof<R>() == 1) {
        store<u64>(op, acc | (px >> (<u64>rem)));
        op -= 8;
      } else {
        storeBe64(op, acc | (px >> (<u64>rem)));
        op += 8;
      }
      fill = rem;
      acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
    }
  }
  let prev = load<u64>(vPtr);
  {
    // put(prev, 64)
    const px: u64 = prev;
    const pn: u32 = 64;
    const free: u32 = 64 - fill;
    if (pn < free) {
      acc |= px << (<u64>(free - pn));
      fill += pn;
    } else {
      const rem = pn - free;
      if (sizeof<R>() == 1) {
        store<u64>(op, acc | (px >> (<u64>rem)));
        op -= 8;
      } else {
        storeBe64(op, acc | (px >> (<u64>rem)));
        op += 8;
      }
      fill = rem;
      acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
    }
  }
  // The chunk ends right after its last bit, zero padded to a byte boundary: no spare 0x00 after a
  // byte-aligned end (Prometheus >= 3.0; 2.42's bstream.writeByte left one, see FORMAT.md).
  if (n > 1) {
    const t1f = load<f64>(tPtr + 8);
    let tPrev = <i64>t1f;
    if (!okTime(t1f, tPrev)) return fail(ERR_TIMESTAMP, 1);
    let dPrev: i64 = tPrev - t0;
    z = <u64>dPrev;
    while (z >= 0x80) {
      {
        // put((z & 0x7f) | 0x80, 8)
        const px: u64 = (z & 0x7f) | 0x80;
        const pn: u32 = 8;
        const free: u32 = 64 - fill;
        if (pn < free) {
          acc |= px << (<u64>(free - pn));
          fill += pn;
        } else {
          const rem = pn - free;
          if (sizeof<R>() == 1) {
            store<u64>(op, acc | (px >> (<u64>rem)));
            op -= 8;
          } else {
            storeBe64(op, acc | (px >> (<u64>rem)));
            op += 8;
          }
          fill = rem;
          acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
        }
      }
      z >>= 7;
    }
    {
      // put(z, 8)
      const px: u64 = z;
      const pn: u32 = 8;
      const free: u32 = 64 - fill;
      if (pn < free) {
        acc |= px << (<u64>(free - pn));
        fill += pn;
      } else {
        const rem = pn - free;
        if (sizeof<R>() == 1) {
          store<u64>(op, acc | (px >> (<u64>rem)));
          op -= 8;
        } else {
          storeBe64(op, acc | (px >> (<u64>rem)));
          op += 8;
        }
        fill = rem;
        acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
      }
    }
    let leading: u32 = 0xff;
    let trailing: u32 = 0;
    for (let i: u32 = 1; i < n; i++) {
      // the timestamp's bits (db, dn) go out with the value's in one put when they fit in 64
      let db: u64 = 0;
      let dn: u32 = 0;
      if (i >= 2) {
        const tf = load<f64>(tPtr + ((<usize>i) << 3));
        const ti = <i64>tf;
        if (!okTime(tf, ti)) return fail(ERR_TIMESTAMP, i);
        const d = ti - tPrev;
        const dod = d - dPrev;
        tPrev = ti;
        dPrev = d;
        dn = 1;
        if (dod == 0) {
          // a single 0 bit
        } else if (dod >= -8191 && dod <= 8192) {
          db = (<u64>0b10 << 14) | (<u64>dod & 0x3fff);
          dn = 16;
        } else if (dod >= -65535 && dod <= 65536) {
          db = (<u64>0b110 << 17) | (<u64>dod & 0x1ffff);
          dn = 20;
        } else if (dod >= -524287 && dod <= 524288) {
          db = (<u64>0b1110 << 20) | (<u64>dod & 0xfffff);
          dn = 24;
        } else {
          {
            // put(0b1111, 4)
            const px: u64 = 0b1111;
            const pn: u32 = 4;
            const free: u32 = 64 - fill;
            if (pn < free) {
              acc |= px << (<u64>(free - pn));
              fill += pn;
            } else {
              const rem = pn - free;
              if (sizeof<R>() == 1) {
                store<u64>(op, acc | (px >> (<u64>rem)));
                op -= 8;
              } else {
                storeBe64(op, acc | (px >> (<u64>rem)));
                op += 8;
              }
              fill = rem;
              acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
            }
          }
          db = <u64>dod;
          dn = 64;
        }
      }
      const cur = load<u64>(vPtr + ((<usize>i) << 3));
      const delta = cur ^ prev;
      prev = cur;
      let hb: u64 = 0;
      let hn: u32 = 1;
      let sig: u32 = 0;
      let sh: u32 = 0;
      if (delta != 0) {
        let nl = <u32>clz<u64>(delta);
        const nt = <u32>ctz<u64>(delta);
        if (nl >= 32) nl = 31;
        if (leading != 0xff && nl >= leading && nt >= trailing) {
          hb = 0b10;
          hn = 2;
        } else {
          leading = nl;
          trailing = nt;
          hb = (<u64>0b11 << 11) | (<u64>nl << 6) | <u64>((64 - nl - nt) & 63);
          hn = 13;
        }
        sh = trailing;
        sig = 64 - leading - trailing;
      }
      const vn = hn + sig;
      if (dn + vn <= 64) {
        // one put for the timestamp and the value (vn <= 64 - dn, so sig <= 62: no shift by 64)
        const vb: u64 = sig != 0 ? (hb << (<u64>sig)) | (delta >> (<u64>sh)) : hb;
        const cx: u64 = (db << (<u64>vn)) | vb;
        const cn: u32 = dn + vn;
        {
          const px: u64 = cx;
          const pn: u32 = cn;
          const free: u32 = 64 - fill;
          if (pn < free) {
            acc |= px << (<u64>(free - pn));
            fill += pn;
          } else {
            const rem = pn - free;
            if (sizeof<R>() == 1) {
              store<u64>(op, acc | (px >> (<u64>rem)));
              op -= 8;
            } else {
              storeBe64(op, acc | (px >> (<u64>rem)));
              op += 8;
            }
            fill = rem;
            acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
          }
        }
      } else {
        if (dn != 0) {
          {
            const px: u64 = db;
            const pn: u32 = dn;
            const free: u32 = 64 - fill;
            if (pn < free) {
              acc |= px << (<u64>(free - pn));
              fill += pn;
            } else {
              const rem = pn - free;
              if (sizeof<R>() == 1) {
                store<u64>(op, acc | (px >> (<u64>rem)));
                op -= 8;
              } else {
                storeBe64(op, acc | (px >> (<u64>rem)));
                op += 8;
              }
              fill = rem;
              acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
            }
          }
        }
        {
          const px: u64 = hb;
          const pn: u32 = hn;
          const free: u32 = 64 - fill;
          if (pn < free) {
            acc |= px << (<u64>(free - pn));
            fill += pn;
          } else {
            const rem = pn - free;
            if (sizeof<R>() == 1) {
              store<u64>(op, acc | (px >> (<u64>rem)));
              op -= 8;
            } else {
              storeBe64(op, acc | (px >> (<u64>rem)));
              op += 8;
            }
            fill = rem;
            acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
          }
        }
        if (sig != 0) {
          {
            const px: u64 = delta >> (<u64>sh);
            const pn: u32 = sig;
            const free: u32 = 64 - fill;
            if (pn < free) {
              acc |= px << (<u64>(free - pn));
              fill += pn;
            } else {
              const rem = pn - free;
              if (sizeof<R>() == 1) {
                store<u64>(op, acc | (px >> (<u64>rem)));
                op -= 8;
              } else {
                storeBe64(op, acc | (px >> (<u64>rem)));
                op += 8;
              }
              fill = rem;
              acc = rem == 0 ? 0 : px << (<u64>(64 - rem));
            }
          }
        }
      }
    }
  }
  if (sizeof<R>() == 1) {
    store<u64>(op, acc);
    const len = (REV_TOP - 8 - op) + <usize>((fill + 7) >> 3);
    // reverse into out + 2, 16 bytes at a time (may write up to 15 bytes of slack past the chunk,
    // inside xorMaxBytes(n); reads stay inside REV)
    const mask = i8x16(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (let b: usize = 0; b < len; b += 16) {
      v128.store(out + 2 + b, i8x16.swizzle(v128.load(REV_TOP - 16 - b), mask));
    }
    op = out + 2 + len;
  } else {
    storeBe64(op, acc);
    op += <usize>((fill + 7) >> 3);
  }
  return <i32>(op - out);
}

/** Chunk index at which the last batch call failed (errSample is then the sample within it). */
export let errChunk: i32 = 0;

/**
 * Decodes k chunks in one call. desc holds k (offset u32, length u32) pairs, each chunk with at least
 * 8 owned bytes after it; the samples go to outT/outV back to back (room for `cap` samples) and
 * start (k + 1 u32) receives each chunk's first sample index and, last, the total. Returns the
 * total or an ERR_* code (errChunk, errSample say where).
 */
export function xorDecodeBatch(desc: usize, k: u32, outT: usize, outV: usize, cap: u32, start: usize): i32 {
  errChunk = 0;
  let off: u32 = 0;
  for (let i: u32 = 0; i < k; i++) {
    store<u32>(start + ((<usize>i) << 2), off);
    const d = desc + ((<usize>i) << 3);
    const r = xorDecode(<usize>load<u32>(d), load<u32>(d, 4), outT + ((<usize>off) << 3), outV + ((<usize>off) << 3), cap - off);
    if (r < 0) {
      errChunk = <i32>i;
      return r;
    }
    off += <u32>r;
  }
  store<u32>(start + ((<usize>k) << 2), off);
  return <i32>off;
}

/** Bytes xorEncodeBatch may touch for k chunks of n samples in all (each chunk's SIMD tail included). */
export function xorBatchMaxBytes(k: u32, n: u32): u32 {
  return k * 56 + n * 19 + 16;
}

/**
 * Encodes k chunks in one call: chunk i holds samples [start[i], start[i+1]) of tPtr/vPtr
 * (start: k + 1 u32, ascending, each chunk at most 65535 samples). The chunks go to out back to
 * back (room: xorBatchMaxBytes), offset (k + 1 u32) receives each chunk's first byte and, last,
 * the total length. Returns the total length or ERR_TIMESTAMP (errChunk, errSample say where).
 */
export function xorEncodeBatch(tPtr: usize, vPtr: usize, start: usize, k: u32, out: usize, offset: usize): i32 {
  errChunk = 0;
  let o: u32 = 0;
  for (let i: u32 = 0; i < k; i++) {
    store<u32>(offset + ((<usize>i) << 2), o);
    const s = load<u32>(start + ((<usize>i) << 2));
    const n = load<u32>(start + ((<usize>i) << 2), 4) - s;
    const r = xorEncode(tPtr + ((<usize>s) << 3), vPtr + ((<usize>s) << 3), n, out + <usize>o);
    if (r < 0) {
      errChunk = <i32>i;
      return r;
    }
    o += <u32>r;
  }
  store<u32>(offset + ((<usize>k) << 2), o);
  return <i32>o;
}
