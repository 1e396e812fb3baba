// XOR chunk codec (Prometheus tsdb/chunkenc/xor.go, EncXOR), see lib/core/FORMAT.md.
// Timestamps cross the boundary as f64 ms; the encoder works on them as i64, the decoder sums them in
// f64 as the TS twin does (see FORMAT.md); values travel as raw 64-bit words.
import { peek64, storeBe64 } from './bstream';

export const ERR_SHORT: i32 = -1; // fewer than 2 bytes
export const ERR_TRUNCATED: i32 = -2; // stream ended before num_samples samples
export const ERR_VARINT: i32 = -3; // varint longer than 64 bits
export const ERR_VALUE: i32 = -4; // leading + significant bits > 64
export const ERR_CAPACITY: i32 = -5; // output arrays too small (host bug)
export const ERR_TIMESTAMP: i32 = -6; // encode: a timestamp is not an integer within ±2^51

/** Largest |t| accepted by the encoder: keeps every delta and delta of delta exact in f64 (TS twin). */
const MAX_T: i64 = 2251799813685248; // 2^51 ms, about 71,000 years

// 1.5 * 2^52 and its bits: see encodeImpl's loop.
const ROUND_MAGIC: f64 = 6755399441055744.0;
const ROUND_MAGIC_BITS: i64 = 0x4338000000000000;

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
  return decodeAny<i32>(inPtr, inLen, outT, outV, cap);
}

// The bound of the bounded decode (decodeAny<bool>): it stops at the first sample with t > upTo.
// A global read once per chunk, so that the unbounded instantiation keeps its exact code.
let upTo: f64 = 0;

// B = i32: the whole chunk; B = bool: up to upTo (every bound check below is `if (isBoolean<B>())`,
// resolved at compile time: the unbounded loop is the same code as without them).
function decodeAny<B>(inPtr: usize, inLen: u32, outT: usize, outV: usize, cap: u32): i32 {
  if (inLen > REV_CAP) return decodeImpl<u64, B>(inPtr, inLen, outT, outV, cap, inPtr);
  // Reverse 16 bytes at a time, then the tail byte by byte; only bytes of the input are read.
  const L = <usize>inLen;
  const dst = REV + REV_PAD;
  const mask = i8x16(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  let j: usize = 0;
  while (j + 16 <= L) {
    v128.store(dst + L - 16 - j, i8x16.swizzle(v128.load(inPtr + j), mask));
    j += 16;
  }
  if (j < L && L >= 16) {
    // the last 16 bytes again (overlapping what is done: same values), instead of byte by byte
    v128.store(dst, i8x16.swizzle(v128.load(inPtr + L - 16), mask));
    j = L;
  }
  while (j < L) {
    store<u8>(dst + L - 1 - j, load<u8>(inPtr + j));
    j++;
  }
  // the byte at stream offset b is at dst + L - 1 - b, so the 8 bytes from b load from dst + L - 8 - b
  return decodeImpl<u8, B>(inPtr, inLen, outT, outV, cap, dst + L - 8);
}

// Most bits one sample can take: a 68-bit timestamp and a 13-bit header with 64 value bits.
const MAX_SAMPLE_BITS: usize = 68 + 13 + 64;
// The fast loop's common sample: timestamp prefix '10' (bits 63..62 of the peeked word) and a
// changed value (bit 47, after the 16 timestamp bits), then HOT_NEW_BIT (46) tells a new window
// from the current one. The value's bits must be inside the 57 peeked bits: 18 + mbits <= 57 in the
// current window, 29 + mbits <= 57 in a new one (16 timestamp bits, '11', 5 + 6 header bits).
const HOT_MASK: u64 = (<u64>3 << 62) | (<u64>1 << 47);
const HOT_PATTERN: u64 = (<u64>2 << 62) | (<u64>1 << 47);
const HOT_NEW_BIT: u64 = <u64>1 << 46;
const HOT_MAX_BITS: u32 = 57 - 18;
const HOT_NEW_MAX_BITS: u32 = 57 - 29;
// The fast loop's samples with a timestamp on the interval ('0', delta of delta 0: samples on the
// exact scrape interval, constant series), all within the 57 peeked bits: the value in the current
// window ('0' '10', 3 + mbits <= 57), unchanged ('0' '0') or in a new one ('0' '11' + 5 + 6 header
// bits + width, taken up to D0_NEW_MAX_BITS: 14 + 33 <= 57, and with leading <= 31 such a header is
// always valid, 31 + 33 <= 64).
const D0_MAX_BITS: u32 = 57 - 3;
const D0_NEW_MAX_BITS: u32 = 33;

function decodeImpl<R, B>(inPtr: usize, inLen: u32, outT: usize, outV: usize, cap: u32, rb: usize): i32 {
  errSample = 0;
  const maxt: f64 = isBoolean<B>() ? upTo : 0;
  if (inLen < 2) return ERR_SHORT;
  const total = (<u32>load<u8>(inPtr) << 8) | <u32>load<u8>(inPtr + 1);
  if (total > cap) return ERR_CAPACITY;
  if (total == 0) return 0;
  const lim: usize = (<usize>inLen) << 3;
  const end: usize = <usize>inLen;

  readUvarint(inPtr, 2, end);
  if (vlen < 0) return vlen;
  const zz = vv;
  let t0 = <i64>(zz >> 1);
  if (zz & 1) t0 = ~t0;
  // t and delta are f64 from here, as in the TS twin (exact below 2^53; a hostile chunk's larger
  // ones round as the twin's do), so that the loops keep them in XMM registers, not GPRs
  let t = <f64>t0;
  let pos: usize = (2 + <usize>vlen) << 3;
  // bounded: a sample's timestamp is read, and if it is past maxt nothing more (not its value)
  if (isBoolean<B>()) if (t > maxt) return 0;
  if (pos + 64 > lim) return ERR_TRUNCATED;
  let v: u64 = rbits<R>(rb, pos, 64);
  pos += 64;
  store<f64>(outT, t);
  store<u64>(outV, v);
  if (total == 1) return 1;

  // sample 1: a uvarint delta (byte aligned), then the value as for any later sample
  readUvarint(inPtr, pos >> 3, end);
  if (vlen < 0) return fail(vlen, 1);
  pos += (<usize>vlen) << 3;
  let delta: f64 = <f64><i64>vv;
  t += delta;
  if (isBoolean<B>()) if (t > maxt) return 1;
  store<f64>(outT + 8, t);
  let leading: u32 = 0;
  let trailing: u32 = 0;
  {
    if (pos >= lim) return fail(ERR_TRUNCATED, 1);
    const w = pk<R>(rb, pos);
    if ((w >> 63) != 0) {
      let hdr: u32 = 2;
      let mbits: u32 = 64;
      if (((w >> 62) & 1) != 0) {
        if (pos + 13 > lim) return fail(ERR_TRUNCATED, 1);
        const nl = <u32>((w >> 57) & 31);
        let mb = <u32>((w >> 51) & 63);
        if (mb == 0) mb = 64;
        if (nl + mb > 64) return fail(ERR_VALUE, 1);
        leading = nl;
        trailing = 64 - nl - mb;
        hdr = 13;
        mbits = mb;
      }
      if (pos + <usize>(hdr + mbits) > lim) return fail(ERR_TRUNCATED, 1);
      v ^= rbits<R>(rb, pos + <usize>hdr, mbits) << (<u64>trailing);
      pos += <usize>(hdr + mbits);
    } else {
      pos += 1;
    }
    store<u64>(outV + 8, v);
  }

  let i: u32 = 2;
  // Fast loop, no bounds checks: common samples (at most 57 bits) while 57 bits are left, any other
  // sample while its worst case (MAX_SAMPLE_BITS) is left. It stops before a sample it cannot take
  // (a bad value header, or too near the end) and the checked loop below decodes the rest,
  // reporting errors exactly as before. `mbits` (64 - leading - trailing) is
  // kept so that the common "same window" case costs no arithmetic; timestamp buckets are one
  // branch each with constant widths (predictable; the position never waits for the loaded bits
  // in the common cases), and a bucket's offset sign fix (Go: bits > 2^(sz-1) means bits - 2^sz)
  // is sext(bits - 1) + 1, no branch.
  // The window branch stays a branch, though it mispredicts: branch-free variants took more CPU
  // time in Node 20 (V8 11.3) on the jittered counter (#18, kernel alone, old/new alternating:
  // selects for the window 1.3x; two chunks decoded side by side 1.25x; the run of common samples
  // in a function of its own 1.1-1.3x). TurboFan keeps the bit position or the window in stack
  // slots in those loops, which puts a store and a load on the chain from one sample's position
  // to the next, and that costs more than the mispredictions do.
  // Also measured and not adopted (session 9, per-batch minimum wall time, 1M-sample counter,
  // kernel alone, old = 1): the position counted down so that the peek needs no `rb` (q = 8rb + 7
  // - pos, load at q >> 3, shift ~q & 7) with the window kept as its mask alone and one bound
  // check per run of samples, 0.97-0.99, but 1.23 on samples with delta of delta 0 (their bound
  // recomputation); plus a nested loop of common samples that V8 unrolls (no stack check in the
  // copies) 0.98; plus the rare samples out of line (call_indirect, state in globals) 0.99 and 2.0
  // on delta-of-delta-0 data; a second common sample unrolled 0.98-0.99. Run with
  // --no-wasm-stack-checks this loop takes 0.89 (the loop's stack check shapes TurboFan's register
  // allocation more than it costs itself), which no source form above reached. A build-to-build
  // difference under ~3% is within what code placement alone moves. A fast path for '10'
  // timestamps with an unchanged value (17 bits) beside the delta-of-delta-0 ones took the gauge
  // (whose samples never use it) to 1.05: left out.
  // Session 11 (kernel alone, old/new alternating in one process, 30 rounds, median pair ratio;
  // an A/A run reads 0.997-1.019): the window kept as its mask alone (clz/popcnt for leading and
  // width) with blocks of samples bounded once (pEnd and the bit bound in one check) and the peek's
  // base a constant (the reversed copy ending at a fixed address) 0.96-1.04; the constant base
  // alone 0.98; two passes per block (pass 1 stores each sample's delta of delta and value XOR,
  // pass 2 the running sums, so pass 1 carries ~7 values) 1.12-1.13: TurboFan still spilled the
  // output pointer and the value offset; common samples taken to the chunk's last bit (no
  // checked tail) 1.00-1.02; uvarints read a word at a time 1.00-1.03 (the header is not where a chunk's
  // fixed cost goes). Where the time goes (TurboFan's code for the common sample, --print-wasm-code):
  // ~54 instructions, 10 of them loads from stack slots (w0, mbits, leading, mask, lim, rb, dV
  // rematerialised from two spilled parameters) and the loop's stack check; ~18% of a counter's
  // samples open a new window, a mispredicted branch each. Adopted: t and delta as f64 (XMM
  // registers; 0.90-0.95 on the counter, the gauge unchanged). Not adopted: v as lane 0 of a v128
  // as well (one GPR less, a vpinsrq more per sample) 1.01-1.03.
  // Session 13 (same harness, 40-100 rounds, load 8-12; an A/A run reads 1.005-1.010): dV a
  // constant (values at a fixed distance from the timestamps: a store offset, no spilled operands)
  // 0.998 median / 1.011 min on the counter; the current-window test and the window-fits test in
  // one compare ((w0 & (HOT_MASK | HOT_NEW_BIT)) against a pattern set to a never-matching 1 while
  // mbits > HOT_MAX_BITS, ~5 instructions fewer per common sample) 0.996 / 1.027. Fewer
  // instructions and fewer stack loads no longer show: at ~6 ns/sample (kernel alone, this VM) the
  // common sample's ~50 instructions and the new window's misprediction are what is left.
  if (lim > MAX_SAMPLE_BITS) {
    const limFast = lim - MAX_SAMPLE_BITS;
    let mbits: u32 = 64 - leading - trailing;
    let mask: u64 = (<u64>-1 >> (<u64>leading)) & (<u64>-1 << (<u64>trailing));
    let pT = outT + 16;
    const dV = outV - outT; // values are stored at pT + dV (one pointer to advance, not two)
    const pEnd = outT + ((<usize>total) << 3);
    // a common sample takes at most 57 bits: those run on to the last whole one
    const limHot = lim - 57;
    while (true) {
      if (pT >= pEnd) break;
      // bounded: the sample stored last is past maxt (checked here, not at each store)
      if (isBoolean<B>()) if (t > maxt) return <i32>((pT - outT) >> 3) - 1;
      if (pos > limHot) break;
      const w0 = pk<R>(rb, pos);
      let d = delta;
      if ((w0 & HOT_MASK) == HOT_PATTERN) {
        // the common samples: a '10' + 14-bit timestamp and a changed value whose bits are inside
        // the peeked word, in the current window (constant shifts and the window's mask) or in a
        // new one (counters open one at random, ~20% of samples: one mispredicted branch, then
        // straight-line code)
        if ((w0 & HOT_NEW_BIT) == 0) {
          if (mbits <= HOT_MAX_BITS) {
            d += <f64>(((<i64>((w0 << 2) - (<u64>1 << 50))) >> 50) + 1);
            v ^= ((w0 << 18) >> (<u64>leading)) & mask;
            pos += 18 + <usize>mbits;
            delta = d;
            t += d;
            store<f64>(pT, t);
            store<u64>(pT + dV, v);
            pT += 8;
            continue;
          }
        } else {
          const nl = <u32>((w0 >> 41) & 31);
          const mb = <u32>((w0 >> 35) & 63);
          if (mb - 1 < HOT_NEW_MAX_BITS) {
            d += <f64>(((<i64>((w0 << 2) - (<u64>1 << 50))) >> 50) + 1);
            leading = nl;
            mbits = mb;
            trailing = 64 - nl - mb;
            mask = (<u64>-1 >> (<u64>nl)) & (<u64>-1 << (<u64>trailing));
            v ^= ((w0 << 29) >> (<u64>nl)) & mask;
            pos += 29 + <usize>mb;
            delta = d;
            t += d;
            store<f64>(pT, t);
            store<u64>(pT + dV, v);
            pT += 8;
            continue;
          }
        }
        // (a wider value: to the general code below)
      } else if ((w0 >> 63) == 0) {
        // delta of delta 0 (see D0_MAX_BITS): the value in the current window, unchanged, or in a
        // new one; the peeked word holds the sample whole (pos <= limHot)
        if ((w0 >> 61) == 0b010) {
          if (mbits <= D0_MAX_BITS) {
            v ^= ((w0 << 3) >> (<u64>leading)) & mask;
            pos += 3 + <usize>mbits;
            t += d;
            store<f64>(pT, t);
            store<u64>(pT + dV, v);
            pT += 8;
            continue;
          }
        } else if ((w0 >> 62) == 0) {
          pos += 2;
          t += d;
          store<f64>(pT, t);
          store<u64>(pT + dV, v);
          pT += 8;
          continue;
        } else {
          const nl = <u32>((w0 >> 56) & 31);
          const mb = <u32>((w0 >> 50) & 63);
          if (mb - 1 < D0_NEW_MAX_BITS) {
            leading = nl;
            mbits = mb;
            trailing = 64 - nl - mb;
            mask = (<u64>-1 >> (<u64>nl)) & (<u64>-1 << (<u64>trailing));
            v ^= ((w0 << 14) >> (<u64>nl)) & mask;
            pos += 14 + <usize>mb;
            t += d;
            store<f64>(pT, t);
            store<u64>(pT + dV, v);
            pT += 8;
            continue;
          }
        }
      }
      if (pos > limFast) break;
      let w: u64;
      let avail: u32;
      let p2: usize;
      if ((w0 >> 63) == 0) {
        w = w0 << 1;
        p2 = pos + 1;
        avail = 56;
      } else if ((w0 >> 62) == 0b10) {
        d += <f64>(((<i64>((w0 << 2) - (<u64>1 << 50))) >> 50) + 1);
        w = w0 << 16;
        p2 = pos + 16;
        avail = 41;
      } else if ((w0 >> 61) == 0b110) {
        d += <f64>(((<i64>((w0 << 3) - (<u64>1 << 47))) >> 47) + 1);
        w = w0 << 20;
        p2 = pos + 20;
        avail = 37;
      } else if ((w0 >> 60) == 0b1110) {
        d += <f64>(((<i64>((w0 << 4) - (<u64>1 << 44))) >> 44) + 1);
        w = w0 << 24;
        p2 = pos + 24;
        avail = 33;
      } else {
        d += <f64><i64>rbits<R>(rb, pos + 4, 64);
        p2 = pos + 68;
        w = pk<R>(rb, p2);
        avail = 57;
      }
      let np: usize;
      if ((w >> 63) == 0) {
        np = p2 + 1;
      } else {
        let hdr: u32 = 2;
        if (((w >> 62) & 1) != 0) {
          const nl = <u32>((w >> 57) & 31);
          let mb = <u32>((w >> 51) & 63);
          if (mb == 0) mb = 64;
          if (nl + mb > 64) break;
          trailing = 64 - nl - mb;
          leading = nl;
          mbits = mb;
          mask = (<u64>-1 >> (<u64>nl)) & (<u64>-1 << (<u64>trailing));
          hdr = 13;
        }
        let bits: u64;
        if (hdr + mbits <= avail) bits = (w << (<u64>hdr)) >> (<u64>(64 - mbits));
        else bits = rbits<R>(rb, p2 + <usize>hdr, mbits);
        v ^= bits << (<u64>trailing);
        np = p2 + <usize>(hdr + mbits);
      }
      delta = d;
      t += d;
      store<f64>(pT, t);
      store<u64>(pT + dV, v);
      pos = np;
      pT += 8;
    }
    i = <u32>((pT - outT) >> 3);
    if (isBoolean<B>()) if (t > maxt) return <i32>i - 1;
  }

  for (; i < total; i++) {
    // One 64-bit peek per sample usually covers the timestamp and the value: w0 holds at least
    // 57 valid bits from the sample's first bit, `used` counts the ones the timestamp took.
    if (pos >= lim) return fail(ERR_TRUNCATED, i);
    const w0 = pk<R>(rb, pos);
    let used: u32;
    if ((w0 >> 63) == 0) {
      pos += 1;
      used = 1;
    } else {
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
      delta += <f64>dod;
    }
    t += delta;
    if (isBoolean<B>()) if (t > maxt) return <i32>i;
    store<f64>(outT + ((<usize>i) << 3), t);

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
  if (xorMaxBytes(n) + 8 <= REV_CAP) {
    if (tsValid(tPtr, n)) return encodeImpl<u8, bool>(tPtr, vPtr, n, out);
    return encodeImpl<u8, i32>(tPtr, vPtr, n, out);
  }
  return encodeImpl<u64, i32>(tPtr, vPtr, n, out);
}

// The timestamps as i64 (TS[i]) for encodeImpl<u8, bool>: room for every n that fits REV.
const TS_CAP: u32 = 3456;
const TS: usize = memory.data(<i32>(TS_CAP << 3), 16);

// Converts tPtr's n timestamps to i64 into TS, two at a time (the 1.5 * 2^52 trick as in
// encodeImpl's loop); false if one is not an integer within ±MAX_T (the caller then encodes
// with the per-sample checks, which name the sample).
function tsValid(tPtr: usize, n: u32): bool {
  const M = f64x2.splat(ROUND_MAGIC);
  const MB = i64x2.splat(ROUND_MAGIC_BITS);
  const HI = i64x2.splat(MAX_T);
  const LO = i64x2.splat(-MAX_T);
  let bad = i64x2.splat(0);
  const nn = <usize>n;
  let i: usize = 0;
  for (; i + 2 <= nn; i += 2) {
    const x = v128.load(tPtr + (i << 3));
    const tm = f64x2.add(x, M);
    const ti = i64x2.sub(tm, MB);
    bad = v128.or(bad, v128.or(v128.not(f64x2.eq(f64x2.sub(tm, M), x)), v128.or(i64x2.gt_s(ti, HI), i64x2.lt_s(ti, LO))));
    v128.store(TS + (i << 3), ti);
  }
  if (i < nn) {
    const tf = load<f64>(tPtr + (i << 3));
    const tm = tf + ROUND_MAGIC;
    const ti = reinterpret<i64>(tm) - ROUND_MAGIC_BITS;
    if ((tm - ROUND_MAGIC != tf) | (<u64>(ti + MAX_T) > <u64>(MAX_T << 1))) return false;
    store<i64>(TS + (i << 3), ti);
  }
  return !v128.any_true(bad);
}

// With R = u8 the stream's bytes go to REV byte-reversed (stream byte b at REV_TOP - 1 - b, so a
// word is a plain little-endian store, no byte swap) and are reversed into `out` at the end with
// SIMD; with any other R (chunks too large for REV) they are byte-swapped into `out` directly.
// The bit writer: `acc` holds `fill` pending bits (left-aligned), `op` is where acc's first byte
// goes. Two kinds of write keep that state: `// put(x, n)` ORs the bits in and stores a word only
// when acc is full (one branch), and `// putb(x, n)` (needs fill + n <= 63) stores acc every time
// and advances op by the bytes completed, no branch. A counter's sample is ~32 bits, so put's
// "acc full" branch goes either way at random; the common sample (timestamp and value in one
// write that fits) uses putb, everything else put (predictable there: a constant's 2-bit samples,
// a gauge's ~70). Each block below is a writer expanded in place: AssemblyScript has no closures
// or by-reference locals, and keeping acc/fill/op in globals made the loop ~2.4× slower in V8.
// Change one block, change them all (the differential tests catch a miss).
// Measured and not adopted (session 11, kernel alone, 30 alternating rounds): the timestamps'
// widths and bits in a first pass to scratch at the end of `out`, the values and the writer in a
// second (fewer live values per loop) 1.00 against the one loop; the timestamps, their delta and
// delta of delta as f64 (XMM registers, as the decoder's t and delta) 1.00-1.02; the window as a
// mask (the same-window test (delta & ~mask) == 0, no clz/ctz for the common sample) 0.99-1.00.
// P = bool (session 13, adopted): tsValid has checked and converted the chunk's timestamps with
// SIMD, two per step, into TS, and the loop takes each delta of delta from three TS loads: no
// per-sample conversion and check, and tPrev/dPrev no longer live in the loop (TurboFan spilled
// them): 0.87-0.88 of the encoder's CPU on the jittered counter, 0.90-0.92 on the gauge (kernel
// alone, 40 alternating rounds, load ~8). Not adopted: the deltas of deltas also computed with
// SIMD (TD, one load in the loop) 1.00-1.01; the value XORs with SIMD (TX, prev not live) 1.02;
// with every delta of delta checked by tsValid to fit '1110' (no '1111' block in the loop)
// 1.03 on the counter and the gauge (median pair ratios); the window choice as selects, now that
// tPrev/dPrev are gone, 1.06 (counter) and 1.17 (gauge).
// P = i32: per-sample checks (tsValid refused a timestamp: they name it, as the TS twin does).
function encodeImpl<R, P>(tPtr: usize, vPtr: usize, n: u32, out: usize): i32 {
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
      // the timestamp's bits (db, dn) go out with the value's in one write when they fit in 56
      let db: u64 = 0;
      let dn: u32 = 0;
      if (i >= 2) {
        // tf + 1.5 * 2^52 rounds tf to an integer in the low bits of the sum's mantissa (|tf| <= 2^51);
        // tf is one when subtracting gives it back, and the range check catches the rest (a sum
        // outside [2^52, 2^53] leaves |ti| > 2^51, Inf and NaN included). A few instructions
        // instead of V8's saturating conversion and okTime's compares (~25 on the hot path).
        let dod: i64;
        if (isBoolean<P>()) {
          // timestamps checked and converted by tsValid: the delta of delta from TS
          const q = TS + ((<usize>(i - 2)) << 3);
          dod = load<i64>(q, 16) - (load<i64>(q, 8) << 1) + load<i64>(q);
        } else {
          const tf = load<f64>(tPtr + ((<usize>i) << 3));
          const tm = tf + ROUND_MAGIC;
          const ti = reinterpret<i64>(tm) - ROUND_MAGIC_BITS;
          if ((tm - ROUND_MAGIC != tf) | (<u64>(ti + MAX_T) > <u64>(MAX_T << 1))) return fail(ERR_TIMESTAMP, i);
          const d = ti - tPrev;
          dod = d - dPrev;
          tPrev = ti;
          dPrev = d;
        }
        if (dod == 0) {
          dn = 1;
        } else if (<u64>(dod + 8191) <= 16383) {
          db = (<u64>0b10 << 14) | (<u64>dod & 0x3fff);
          dn = 16;
        } else if (<u64>(dod + 65535) <= 131071) {
          db = (<u64>0b110 << 17) | (<u64>dod & 0x1ffff);
          dn = 20;
        } else if (<u64>(dod + 524287) <= 1048575) {
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
          {
            // put(<u64>dod, 64)
            const px: u64 = <u64>dod;
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
        }
      }
      const cur = load<u64>(vPtr + ((<usize>i) << 3));
      const delta = cur ^ prev;
      prev = cur;
      if (delta == 0) {
        {
          // put(db << 1, dn + 1)
          const px: u64 = db << 1;
          const pn: u32 = dn + 1;
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
        continue;
      }
      const lz = <u32>clz<u64>(delta);
      const nl = select<u32>(31, lz, lz >= 32);
      const nt = <u32>ctz<u64>(delta);
      // the previous window holds the bits (never in a new chunk: leading starts at 0xff); a branch,
      // not selects: it is taken at random for counters but selects cost more on gauges, whose
      // windows change predictably
      let hb: u64 = 0b10;
      let hn: u32 = 2;
      if (!((nl >= leading) & (nt >= trailing))) {
        leading = nl;
        trailing = nt;
        hb = (<u64>0b11 << 11) | (<u64>nl << 6) | <u64>((64 - nl - nt) & 63);
        hn = 13;
      }
      const sig = 64 - leading - trailing;
      const bits = delta >> (<u64>trailing);
      const cn = dn + hn + sig;
      if (fill + cn <= 63) {
        // one write for the timestamp and the value (sig <= 61: no shift by 64), without a branch
        {
          // putb((((db << (<u64>hn)) | hb) << (<u64>sig)) | bits, cn)
          const px: u64 = (((db << (<u64>hn)) | hb) << (<u64>sig)) | bits;
          const pn: u32 = cn;
          acc |= px << (<u64>(64 - fill - pn));
          fill += pn;
          const nb = fill >> 3;
          if (sizeof<R>() == 1) {
            store<u64>(op, acc);
            op -= <usize>nb;
          } else {
            storeBe64(op, acc);
            op += <usize>nb;
          }
          acc <<= <u64>(nb << 3);
          fill &= 7;
        }
      } else if (cn <= 64) {
        {
          // put((((db << (<u64>hn)) | hb) << (<u64>sig)) | bits, cn)
          const px: u64 = (((db << (<u64>hn)) | hb) << (<u64>sig)) | bits;
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
        {
          // put((db << (<u64>hn)) | hb, dn + hn)
          const px: u64 = (db << (<u64>hn)) | hb;
          const pn: u32 = dn + hn;
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
        {
          // put(bits, sig)
          const px: u64 = bits;
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

/**
 * xorDecodeBatch with an upper bound: each chunk is decoded up to its first sample with t > maxt
 * (that one excluded; its value bits are not read), and start[] counts the samples decoded. maxt
 * must be an integer within ±2^63 (the host clamps it). Errors as xorDecodeBatch's, for the part
 * of each chunk that is read.
 */
export function xorDecodeBatchUpTo(desc: usize, k: u32, outT: usize, outV: usize, cap: u32, start: usize, maxt: f64): i32 {
  upTo = maxt;
  errChunk = 0;
  let off: u32 = 0;
  for (let i: u32 = 0; i < k; i++) {
    store<u32>(start + ((<usize>i) << 2), off);
    const d = desc + ((<usize>i) << 3);
    const r = decodeAny<bool>(<usize>load<u32>(d), load<u32>(d, 4), outT + ((<usize>off) << 3), outV + ((<usize>off) << 3), cap - off);
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
