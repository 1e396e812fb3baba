// Histogram chunk codecs (Prometheus tsdb/chunkenc histogram.go / float_histogram.go, EncHistogram
// and EncFloatHistogram), see lib/core/FORMAT.md "Histogram chunks". Same results as the TS twin
// lib/core/js/histogram.ts, including where it refuses input (every integer the decoder produces
// must stay within ±(2^53 - 1), the f64-exact range).
//
// Both kernels speak through one descriptor in memory (HD_* offsets, u32/i32 unless noted):
//   n, float, header, schema, zeroThreshold (f64 at 16), positive spans ptr/pairs, negative spans
//   ptr/pairs, custom bounds ptr/count, then the f64 arrays t, count, zeroCount, sum, positive
//   (n*P, sample-major), negative (n*N), then P and N.
// The encoder reads it (the host has validated everything); the decoder fills it, taking the
// arrays from the arena (they may grow memory).
import { peek64, readBits, writeBits, writerAcc, writerFill, writerFinish, writerSet, writerStart, wPtr } from './bstream';
import { arenaAlloc, arenaReset } from './arena';

export const HD_N: usize = 0;
export const HD_FLOAT: usize = 4;
export const HD_HEADER: usize = 8;
export const HD_SCHEMA: usize = 12;
export const HD_ZT: usize = 16;
export const HD_PSPANS: usize = 24;
export const HD_PSPAN_N: usize = 28;
export const HD_NSPANS: usize = 32;
export const HD_NSPAN_N: usize = 36;
export const HD_CUSTOM: usize = 40;
export const HD_CUSTOM_N: usize = 44;
export const HD_T: usize = 48;
export const HD_COUNT: usize = 52;
export const HD_ZC: usize = 56;
export const HD_SUM: usize = 60;
export const HD_POS: usize = 64;
export const HD_NEG: usize = 68;
export const HD_P: usize = 72;
export const HD_NB: usize = 76;

export const HERR_SHORT: i32 = -1;
export const HERR_TRUNCATED: i32 = -2;
export const HERR_XOR: i32 = -4; // leading + significant bits > 64
export const HERR_UNSAFE: i32 = -7; // an integer beyond ±(2^53 - 1)
export const HERR_SCHEMA: i32 = -8; // unknown schema
export const HERR_RESERVED: i32 = -9; // schema 9..52: needs resolution reduction, not implemented
export const HERR_SIZE: i32 = -10; // more spans / buckets / bounds than bits left
export const HERR_SPAN: i32 = -11; // span length or offset beyond int32
export const HERR_NEGATIVE: i32 = -12; // a (non-stale) sample's count below 0
export const HERR_MEMORY: i32 = -13;
export const HERR_VALUE: i32 = -20; // encode: a timestamp or integer count out of range (the host says which)

const SAFE: i64 = 9007199254740991; // 2^53 - 1
const STALE: u64 = 0x7ff0000000000002;
const CUSTOM: i32 = -53;

// @ts-ignore: decorator
@inline function isSafe(x: i64): bool {
  return x >= -SAFE && x <= SAFE;
}
// @ts-ignore: decorator
@inline function isStale(x: f64): bool {
  return reinterpret<u64>(x) == STALE;
}

const MAX_COUNT: f64 = 1125899906842624; // 2^50

// 1 if x is not an integer within ±max (NaN fails the first test), without branches.
// @ts-ignore: decorator
@inline function badInt(x: f64, max: f64): i32 {
  return <i32>!(Math.abs(x) <= max) | <i32>(Math.trunc(x) != x);
}

/** Checks the encoder's numeric input like the twin's checkHistogramValues; false if anything is off. */
function valuesOk(d: usize): bool {
  const n = <usize>load<u32>(d + HD_N);
  const float = load<u32>(d + HD_FLOAT) != 0;
  const B = <usize>load<u32>(d + HD_P) + <usize>load<u32>(d + HD_NB);
  const tP = <usize>load<u32>(d + HD_T);
  const cP = <usize>load<u32>(d + HD_COUNT);
  const zP = <usize>load<u32>(d + HD_ZC);
  const sP = <usize>load<u32>(d + HD_SUM);
  const pP = <usize>load<u32>(d + HD_POS);
  const nP = <usize>load<u32>(d + HD_NEG);
  const MT: f64 = 2251799813685248; // 2^51
  const MC: f64 = 1125899906842624; // 2^50
  for (let i: usize = 0; i < n; i++) {
    if (badInt(load<f64>(tP + (i << 3)), MT) != 0) return false;
    if (float || isStale(load<f64>(sP + (i << 3)))) continue;
    const c = load<f64>(cP + (i << 3));
    const z = load<f64>(zP + (i << 3));
    if ((badInt(c, MC) | badInt(z, MC) | <i32>(c < 0) | <i32>(z < 0)) != 0) return false;
  }
  // integer buckets are checked while they are encoded (encodeBuckets)
  return true;
}

// ---------------------------------------------------------------------------------------------
// Encoding (writer: bstream's global 64-bit accumulator)

// varbit-int by table instead of a chain of range tests (the chain mispredicts on real data):
// with u = v - 1 for v > 0 and -v otherwise, v fits a w-bit payload (-(2^(w-1)-1) .. 2^(w-1))
// exactly when u < 2^(w-1), so the payload width follows from u's bit length.
// VB_W[bitlen(u)] = payload width (3, 6, 9, 12, 18, 25, 56, 64).
const VB_W: usize = memory.data<u8>([
  3, 3, 3, 6, 6, 6, 9, 9, 9, 12, 12, 12, 18, 18, 18, 18, 18, 18, 25, 25, 25, 25, 25, 25, 25,
  56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56,
  64, 64, 64, 64, 64, 64, 64, 64, 64,
]);
// VB_P[bitlen(u)] = prefix length (ones and a zero) for that width
const VB_P: usize = memory.data<u8>([
  2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7,
  8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  8, 8, 8, 8, 8, 8, 8, 8, 8,
]);

// @ts-ignore: decorator
@inline function putVarbitInt(v: i64): void {
  const u: u64 = v > 0 ? <u64>(v - 1) : <u64>(-v);
  const bl = <usize>(64 - <u32>clz<u64>(u));
  const w = <u32>load<u8>(VB_W + bl);
  if (w == 64) {
    writeBits(0xff, 8);
    writeBits(<u64>v, 64);
    return;
  }
  const p = <u32>load<u8>(VB_P + bl);
  const code = ((<u64>((1 << p) - 2)) << (<u64>w)) | (<u64>v & ((<u64>1 << (<u64>w)) - 1));
  // v == 0 is the single bit 0
  writeBits(select<u64>(0, code, v == 0), select<u32>(1, p + w, v == 0));
}

function putVarbitUint(u: u64): void {
  if (u == 0) writeBits(0, 1);
  else if (u <= 7) writeBits((0b10 << 3) | u, 5);
  else if (u <= 63) writeBits((0b110 << 6) | u, 9);
  else if (u <= 511) writeBits((0b1110 << 9) | u, 13);
  else if (u <= 4095) writeBits((0b11110 << 12) | u, 17);
  else if (u <= 262143) writeBits((0b111110 << 18) | u, 24);
  else if (u <= 33554431) writeBits((0b1111110 << 25) | u, 32);
  else if (u <= 0xffffffffffffff) writeBits((<u64>0b11111110 << 56) | u, 64);
  else {
    writeBits(0xff, 8);
    writeBits(u, 64);
  }
}

function putZeroThreshold(x: f64): void {
  if (x == 0) {
    writeBits(0, 8);
    return;
  }
  const b = reinterpret<u64>(x);
  const e = <i32>((b >> 52) & 0x7ff);
  // x = 0.5 * 2^(e-1022) exactly when the mantissa is 0 (normal, positive)
  if (x > 0 && (b & 0xfffffffffffff) == 0 && e != 0 && e - 1022 >= -242 && e - 1022 <= 11) {
    writeBits(<u64>(e - 1022 + 243), 8);
    return;
  }
  writeBits(255, 8);
  writeBits(b, 64);
}

function putCustomBound(f: f64): void {
  const tf = f * 1000;
  // Math.round semantics of the twin (half up); tf >= 0 here, where Go's Round agrees.
  const rounded = Math.floor(tf + 0.5);
  if (tf < 0 || tf > 33554430 || !(rounded / 1000 == f)) {
    writeBits(0, 1);
    writeBits(reinterpret<u64>(f), 64);
    return;
  }
  putVarbitUint(<u64>rounded + 1);
}

function putSpans(p: usize, pairs: u32): void {
  putVarbitUint(<u64>pairs);
  for (let i: u32 = 0; i < pairs; i++) {
    putVarbitUint(<u64>load<u32>(p + ((<usize>i) << 3), 4));
    putVarbitInt(<i64>load<i32>(p + ((<usize>i) << 3)));
  }
}

// XOR write against a state slot: value at vals+8s, leading/trailing bytes at lt+2s.
// @ts-ignore: decorator
@inline function xorWrite(vals: usize, lt: usize, s: usize, x: f64): void {
  const bits = reinterpret<u64>(x);
  const d = bits ^ load<u64>(vals + (s << 3));
  store<u64>(vals + (s << 3), bits);
  if (d == 0) {
    writeBits(0, 1);
    return;
  }
  let nl = <u32>clz<u64>(d);
  const nt = <u32>ctz<u64>(d);
  if (nl >= 32) nl = 31;
  const lead = <u32>load<u8>(lt + (s << 1));
  const trail = <u32>load<u8>(lt + (s << 1), 1);
  if (lead != 0xff && nl >= lead && nt >= trail) {
    const sig = 64 - lead - trail;
    writeBits(0b10, 2);
    writeBits(d >> (<u64>trail), sig);
  } else {
    store<u8>(lt + (s << 1), <u8>nl);
    store<u8>(lt + (s << 1), <u8>nt, 1);
    const sig = 64 - nl - nt;
    writeBits((<u64>0b11 << 11) | (<u64>nl << 6) | (<u64>(sig & 63)), 13);
    writeBits(d >> (<u64>nt), sig);
  }
}

/** Bytes the encoder may touch (an upper bound of the chunk plus word-store slack). */
export function histogramMaxBytes(n: u32, spanPairs: u32, custom: u32, buckets: u32): u32 {
  return 56 + spanPairs * 18 + custom * 9 + n * (50 + 10 * buckets);
}

/**
 * Encodes the histograms described at `d` into `out` (histogramMaxBytes), using `scratch` for the
 * per-bucket state ((P+N+3) * 16 bytes). Returns the chunk length in bytes, or HERR_VALUE when a
 * timestamp or an integer count is out of range (the host validated the shape).
 */
export function histogramEncode(d: usize, out: usize, scratch: usize): i32 {
  if (!valuesOk(d)) return HERR_VALUE;
  const n = load<u32>(d + HD_N);
  const float = load<u32>(d + HD_FLOAT) != 0;
  writerStart(out);
  writeBits(<u64>n, 16);
  writeBits(<u64>load<u32>(d + HD_HEADER), 8);
  if (n == 0) return <i32>(writerFinish() - out);
  const P = <usize>load<u32>(d + HD_P);
  const N = <usize>load<u32>(d + HD_NB);
  const tP = <usize>load<u32>(d + HD_T);
  const cP = <usize>load<u32>(d + HD_COUNT);
  const zP = <usize>load<u32>(d + HD_ZC);
  const sP = <usize>load<u32>(d + HD_SUM);
  const pP = <usize>load<u32>(d + HD_POS);
  const nP = <usize>load<u32>(d + HD_NEG);
  const sum0 = load<f64>(sP);
  const stale0 = isStale(sum0);
  if (stale0) {
    writeBits(0, 8); // zero threshold 0
    writeBits(0, 3); // schema 0, no spans either side
  } else {
    putZeroThreshold(load<f64>(d + HD_ZT));
    const schema = load<i32>(d + HD_SCHEMA);
    putVarbitInt(<i64>schema);
    putSpans(<usize>load<u32>(d + HD_PSPANS), load<u32>(d + HD_PSPAN_N));
    putSpans(<usize>load<u32>(d + HD_NSPANS), load<u32>(d + HD_NSPAN_N));
    if (schema == CUSTOM) {
      const cv = <usize>load<u32>(d + HD_CUSTOM);
      const cn = load<u32>(d + HD_CUSTOM_N);
      putVarbitUint(<u64>cn);
      for (let i: u32 = 0; i < cn; i++) putCustomBound(load<f64>(cv + ((<usize>i) << 3)));
    }
  }
  const t0 = <i64>load<f64>(tP);
  putVarbitInt(t0);
  if (float) encodeFloat(n, P, N, tP, cP, zP, sP, pP, nP, scratch, stale0, t0);
  else if (encodeInt(n, P, N, tP, cP, zP, sP, pP, nP, scratch, stale0, t0) != 0) return HERR_VALUE;
  return <i32>(writerFinish() - out);
}

// One side's buckets of one sample: the ΔΔ of each bucket's delta-between-buckets form. The hot
// loop of the int encoder, so the bit writer's state lives in locals here (bstream's globals cost
// V8 a load and store per access) and is handed back at the end.
// @ts-ignore: decorator
@inline function encodeBuckets(src: usize, k: usize, prevB: usize, prevBD: usize): i32 {
  let prev: i64 = 0;
  let bad: i32 = 0;
  let acc = writerAcc();
  let fill = writerFill();
  let op = wPtr;
  for (let j: usize = 0; j < k; j++) {
    const xf = load<f64>(src + (j << 3));
    bad |= badInt(xf, MAX_COUNT);
    const x = <i64>xf;
    const dd = x - prev;
    prev = x;
    const delta = dd - load<i64>(prevB + (j << 3));
    const v = delta - load<i64>(prevBD + (j << 3));
    store<i64>(prevBD + (j << 3), delta);
    store<i64>(prevB + (j << 3), dd);
    const u: u64 = v > 0 ? <u64>(v - 1) : <u64>(-v);
    const bl = <usize>(64 - <u32>clz<u64>(u));
    const w = <u32>load<u8>(VB_W + bl);
    if (w == 64) {
      writerSet(op, acc, fill);
      writeBits(0xff, 8);
      writeBits(<u64>v, 64);
      acc = writerAcc();
      fill = writerFill();
      op = wPtr;
      continue;
    }
    const p = <u32>load<u8>(VB_P + bl);
    const code = select<u64>(0, ((<u64>((1 << p) - 2)) << (<u64>w)) | (<u64>v & ((<u64>1 << (<u64>w)) - 1)), v == 0);
    const n = select<u32>(1, p + w, v == 0);
    const free: u32 = 64 - fill;
    if (n < free) {
      acc |= code << (<u64>(free - n));
      fill += n;
    } else {
      const rem = n - free;
      store<u64>(op, bswap<u64>(acc | (code >> (<u64>rem))));
      op += 8;
      fill = rem;
      acc = rem == 0 ? 0 : code << (<u64>(64 - rem));
    }
  }
  writerSet(op, acc, fill);
  return bad;
}

function encodeInt(
  n: u32, P: usize, N: usize, tP: usize, cP: usize, zP: usize, sP: usize, pP: usize, nP: usize,
  scratch: usize, stale0: bool, t0: i64,
): i32 {
  let bad: i32 = 0;
  const B = P + N;
  // scratch: prevB[B] i64 (delta-between-buckets form of the last sample), prevBD[B] i64, then the sum's XOR slot
  const prevB = scratch;
  const prevBD = scratch + (B << 3);
  const vals = prevBD + (B << 3);
  const lt = vals + 8;
  let cnt: i64 = stale0 ? 0 : <i64>load<f64>(cP);
  let zc: i64 = stale0 ? 0 : <i64>load<f64>(zP);
  putVarbitUint(<u64>cnt);
  putVarbitUint(<u64>zc);
  const sum0 = load<f64>(sP);
  writeBits(reinterpret<u64>(sum0), 64);
  store<u64>(vals, reinterpret<u64>(sum0));
  store<u8>(lt, 0xff);
  store<u8>(lt, 0, 1);
  if (!stale0) {
    let prev: i64 = 0;
    for (let j: usize = 0; j < B; j++) {
      if (j == P) prev = 0;
      const xf = j < P ? load<f64>(pP + (j << 3)) : load<f64>(nP + ((j - P) << 3));
      bad |= badInt(xf, MAX_COUNT);
      const x = <i64>xf;
      const dd = x - prev;
      prev = x;
      putVarbitInt(dd);
      store<i64>(prevB + (j << 3), dd);
      store<i64>(prevBD + (j << 3), 0);
    }
  }
  let pt = t0;
  let tD: i64 = 0;
  let cD: i64 = 0;
  let zD: i64 = 0;
  for (let i: u32 = 1; i < n; i++) {
    const ii = <usize>i;
    const s = load<f64>(sP + (ii << 3));
    const stale = isStale(s);
    const t = <i64>load<f64>(tP + (ii << 3));
    const c: i64 = stale ? 0 : <i64>load<f64>(cP + (ii << 3));
    const z: i64 = stale ? 0 : <i64>load<f64>(zP + (ii << 3));
    const td = t - pt;
    const cd = c - cnt;
    const zd = z - zc;
    putVarbitInt(td - tD);
    putVarbitInt(stale ? 0 : cd - cD);
    putVarbitInt(stale ? 0 : zd - zD);
    xorWrite(vals, lt, 0, s);
    pt = t;
    cnt = c;
    zc = z;
    tD = td;
    cD = cd;
    zD = zd;
    if (stale) continue;
    bad |= encodeBuckets(pP + ii * P * 8, P, prevB, prevBD);
    bad |= encodeBuckets(nP + ii * N * 8, N, prevB + (P << 3), prevBD + (P << 3));
  }
  return bad;
}

function encodeFloat(
  n: u32, P: usize, N: usize, tP: usize, cP: usize, zP: usize, sP: usize, pP: usize, nP: usize,
  scratch: usize, stale0: bool, t0: i64,
): void {
  const S: usize = 3 + P + N;
  const vals = scratch;
  const lt = scratch + (S << 3);
  const c0 = stale0 ? 0 : load<f64>(cP);
  const z0 = stale0 ? 0 : load<f64>(zP);
  const s0 = load<f64>(sP);
  writeBits(reinterpret<u64>(c0), 64);
  writeBits(reinterpret<u64>(z0), 64);
  writeBits(reinterpret<u64>(s0), 64);
  store<f64>(vals, c0);
  store<f64>(vals + 8, z0);
  store<f64>(vals + 16, s0);
  if (!stale0) {
    for (let j: usize = 0; j < P; j++) {
      const x = load<f64>(pP + (j << 3));
      writeBits(reinterpret<u64>(x), 64);
      store<f64>(vals + ((3 + j) << 3), x);
    }
    for (let j: usize = 0; j < N; j++) {
      const x = load<f64>(nP + (j << 3));
      writeBits(reinterpret<u64>(x), 64);
      store<f64>(vals + ((3 + P + j) << 3), x);
    }
  }
  for (let s: usize = 0; s < S; s++) {
    store<u8>(lt + (s << 1), 0xff);
    store<u8>(lt + (s << 1), 0, 1);
  }
  let pt = t0;
  let tD: i64 = 0;
  for (let i: u32 = 1; i < n; i++) {
    const ii = <usize>i;
    const t = <i64>load<f64>(tP + (ii << 3));
    const td = t - pt;
    putVarbitInt(td - tD);
    pt = t;
    tD = td;
    const s = load<f64>(sP + (ii << 3));
    const stale = isStale(s);
    xorWrite(vals, lt, 0, stale ? 0 : load<f64>(cP + (ii << 3)));
    xorWrite(vals, lt, 1, stale ? 0 : load<f64>(zP + (ii << 3)));
    xorWrite(vals, lt, 2, s);
    if (stale) continue;
    const pb = pP + ii * P * 8;
    for (let j: usize = 0; j < P; j++) xorWrite(vals, lt, 3 + j, load<f64>(pb + (j << 3)));
    const nb = nP + ii * N * 8;
    for (let j: usize = 0; j < N; j++) xorWrite(vals, lt, 3 + P + j, load<f64>(nb + (j << 3)));
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding (reader state in globals; every read checks the bound first)

let rBase: usize = 0;
let rPos: usize = 0;
let rLim: usize = 0;
let rErr: i32 = 0;

// @ts-ignore: decorator
@inline function take(n: u32): u64 {
  // caller checked rPos + n <= rLim
  const x = readBits(rBase, rPos, n);
  rPos += <usize>n;
  return x;
}

// @ts-ignore: decorator
@inline function has(n: usize): bool {
  if (rPos + n > rLim) {
    rErr = HERR_TRUNCATED;
    return false;
  }
  return true;
}

// Payload width after a varbit prefix (0 for the 1-bit zero), or -1 on truncation.
// @ts-ignore: decorator
@inline function prefixWidth(): i32 {
  const top = <u32>(peek64(rBase, rPos) >> 56);
  const ones = <u32>clz<u32>(~top << 24); // leading 1s of the 8 bits (8 when all are 1)
  const used: usize = ones < 8 ? <usize>ones + 1 : 8;
  if (rPos + used > rLim) {
    rErr = HERR_TRUNCATED;
    return -1;
  }
  rPos += used;
  switch (ones) {
    case 0: return 0;
    case 1: return 3;
    case 2: return 6;
    case 3: return 9;
    case 4: return 12;
    case 5: return 18;
    case 6: return 25;
    case 7: return 56;
    default: return 64;
  }
}

/** Varbit int; on error sets rErr (and returns 0). */
function varbitInt(): i64 {
  const sz = prefixWidth();
  if (sz <= 0) return 0;
  if (!has(<usize>sz)) return 0;
  const bits = take(<u32>sz);
  let v: i64;
  if (sz == 64) v = <i64>bits;
  else if (bits > (<u64>1 << (<u64>(sz - 1)))) v = <i64>bits - (<i64>1 << (<i64>sz));
  else v = <i64>bits;
  if (!isSafe(v)) {
    rErr = HERR_UNSAFE;
    return 0;
  }
  return v;
}

function varbitUint(): u64 {
  const sz = prefixWidth();
  if (sz <= 0) return 0;
  if (!has(<usize>sz)) return 0;
  const v = take(<u32>sz);
  if (v > <u64>SAFE) {
    rErr = HERR_UNSAFE;
    return 0;
  }
  return v;
}

// XOR read into slot s (value at vals+8s, leading/trailing at lt+2s); false on error.
// @ts-ignore: decorator
@inline function xorRead(vals: usize, lt: usize, s: usize): bool {
  if (!has(1)) return false;
  const w = peek64(rBase, rPos);
  if ((w >> 63) == 0) {
    rPos += 1;
    return true;
  }
  if (!has(2)) return false;
  let mbits: u32;
  let nt: u32;
  let hdr: u32;
  if (((w >> 62) & 1) == 0) {
    hdr = 2;
    const lead = <u32>load<u8>(lt + (s << 1));
    nt = <u32>load<u8>(lt + (s << 1), 1);
    mbits = 64 - lead - nt;
  } else {
    if (!has(13)) return false;
    const nl = <u32>((w >> 57) & 31);
    let mb = <u32>((w >> 51) & 63);
    if (mb == 0) mb = 64;
    if (nl + mb > 64) {
      rErr = HERR_XOR;
      return false;
    }
    hdr = 13;
    nt = 64 - nl - mb;
    store<u8>(lt + (s << 1), <u8>nl);
    store<u8>(lt + (s << 1), <u8>nt, 1);
    mbits = mb;
  }
  if (!has(<usize>(hdr + mbits))) return false;
  // the peeked word holds at least 57 valid bits: most values need no second load
  let bits: u64;
  if (hdr + mbits <= 57) {
    bits = (w << (<u64>hdr)) >> (<u64>(64 - mbits));
    rPos += <usize>(hdr + mbits);
  } else {
    rPos += <usize>hdr;
    bits = take(mbits);
  }
  store<u64>(vals + (s << 3), load<u64>(vals + (s << 3)) ^ (bits << (<u64>nt)));
  return true;
}

function alloc(bytes: usize): usize {
  const p = arenaAlloc(bytes);
  if (p == 0) rErr = HERR_MEMORY;
  return p;
}

/**
 * Decodes the chunk at [inPtr, inPtr+inLen) (the host owns 8 bytes after it) into the descriptor
 * at `d`, allocating the output arrays from the arena starting at `arena`. Returns n or an HERR_* code.
 */
export function histogramDecode(inPtr: usize, inLen: u32, float: u32, d: usize, arena: usize): i32 {
  if (inLen < 3) return HERR_SHORT;
  arenaReset(arena);
  rBase = inPtr;
  rPos = 24;
  rLim = (<usize>inLen) << 3;
  rErr = 0;
  const n = (<u32>load<u8>(inPtr) << 8) | <u32>load<u8>(inPtr + 1);
  store<u32>(d + HD_N, n);
  store<u32>(d + HD_FLOAT, float);
  store<u32>(d + HD_HEADER, <u32>load<u8>(inPtr + 2) & 0xc0);
  store<i32>(d + HD_SCHEMA, 0);
  store<f64>(d + HD_ZT, 0);
  for (let o: usize = HD_PSPANS; o <= HD_NB; o += 4) store<u32>(d + o, 0);
  if (n == 0) return 0;
  // layout
  if (!has(8)) return rErr;
  const zb = <u32>take(8);
  let zt: f64 = 0;
  if (zb == 255) {
    if (!has(64)) return rErr;
    zt = reinterpret<f64>(take(64));
  } else if (zb != 0) zt = reinterpret<f64>(<u64>(<i64>zb - 244 + 1023) << 52);
  const schema = varbitInt();
  if (rErr != 0) return rErr;
  if (schema >= 9 && schema <= 52) return HERR_RESERVED;
  if (!(schema == CUSTOM || (schema >= -9 && schema <= 8))) return HERR_SCHEMA;
  store<f64>(d + HD_ZT, zt);
  store<i32>(d + HD_SCHEMA, <i32>schema);
  let P: u64 = 0;
  let N: u64 = 0;
  for (let side = 0; side < 2; side++) {
    const num = varbitUint();
    if (rErr != 0) return rErr;
    if (num * 2 > <u64>(rLim - rPos)) return HERR_SIZE;
    const sp = alloc(<usize>num * 8 + 8);
    if (sp == 0) return rErr;
    let tot: u64 = 0;
    for (let i: usize = 0; i < <usize>num; i++) {
      const len = varbitUint();
      const off = varbitInt();
      if (rErr != 0) return rErr;
      if (len > 0x7fffffff) return HERR_SPAN;
      if (off < -0x80000000 || off > 0x7fffffff) return HERR_SPAN;
      store<i32>(sp + (i << 3), <i32>off);
      store<i32>(sp + (i << 3), <i32>len, 4);
      tot += len;
    }
    store<u32>(d + (side == 0 ? HD_PSPANS : HD_NSPANS), <u32>sp);
    store<u32>(d + (side == 0 ? HD_PSPAN_N : HD_NSPAN_N), <u32>num);
    if (side == 0) P = tot;
    else N = tot;
  }
  if (schema == CUSTOM) {
    const num = varbitUint();
    if (rErr != 0) return rErr;
    if (num > <u64>(rLim - rPos)) return HERR_SIZE;
    const cv = alloc(<usize>num * 8 + 8);
    if (cv == 0) return rErr;
    for (let i: usize = 0; i < <usize>num; i++) {
      const v = varbitUint();
      if (rErr != 0) return rErr;
      let b: f64;
      if (v == 0) {
        if (!has(64)) return rErr;
        b = reinterpret<f64>(take(64));
      } else b = <f64>(v - 1) / 1000;
      store<f64>(cv + (i << 3), b);
    }
    store<u32>(d + HD_CUSTOM, <u32>cv);
    store<u32>(d + HD_CUSTOM_N, <u32>num);
  }
  if (P + N > <u64>(rLim - rPos)) return HERR_SIZE;
  const Pz = <usize>P;
  const Nz = <usize>N;
  const nz = <usize>n;
  const tP = alloc(nz * 8);
  const cP = alloc(nz * 8);
  const zP = alloc(nz * 8);
  const sP = alloc(nz * 8);
  const pP = alloc(nz * Pz * 8 + 8);
  const nP = alloc(nz * Nz * 8 + 8);
  const scratch = alloc((Pz + Nz + 3) * 16 + 16);
  if (rErr != 0) return rErr;
  store<u32>(d + HD_T, <u32>tP);
  store<u32>(d + HD_COUNT, <u32>cP);
  store<u32>(d + HD_ZC, <u32>zP);
  store<u32>(d + HD_SUM, <u32>sP);
  store<u32>(d + HD_POS, <u32>pP);
  store<u32>(d + HD_NEG, <u32>nP);
  store<u32>(d + HD_P, <u32>Pz);
  store<u32>(d + HD_NB, <u32>Nz);
  // the arena is not zeroed: clear what a stale marker leaves untouched
  memory.fill(cP, 0, nz * 8);
  memory.fill(zP, 0, nz * 8);
  memory.fill(pP, 0, nz * Pz * 8);
  memory.fill(nP, 0, nz * Nz * 8);
  const r = float
    ? decodeFloat(n, Pz, Nz, tP, cP, zP, sP, pP, nP, scratch)
    : decodeInt(n, Pz, Nz, tP, cP, zP, sP, pP, nP, scratch);
  return r < 0 ? r : <i32>n;
}

function decodeInt(
  n: u32, P: usize, N: usize, tP: usize, cP: usize, zP: usize, sP: usize, pP: usize, nP: usize,
  scratch: usize,
): i32 {
  const B = P + N;
  const prevB = scratch;
  const prevBD = scratch + (B << 3);
  let pt = varbitInt();
  let cnt = <i64>varbitUint();
  let zc = <i64>varbitUint();
  if (rErr != 0) return rErr;
  if (!has(64)) return rErr;
  const s0 = reinterpret<f64>(take(64));
  store<f64>(tP, <f64>pt);
  store<f64>(sP, s0);
  const stale0 = isStale(s0);
  if (!stale0) {
    store<f64>(cP, <f64>cnt);
    store<f64>(zP, <f64>zc);
  }
  let acc: i64 = 0;
  for (let j: usize = 0; j < B; j++) {
    if (j == P) acc = 0;
    const dd = varbitInt();
    if (rErr != 0) return rErr;
    store<i64>(prevB + (j << 3), dd);
    store<i64>(prevBD + (j << 3), 0);
    acc += dd;
    if (!isSafe(acc)) return HERR_UNSAFE;
    if (stale0) continue;
    if (j < P) store<f64>(pP + (j << 3), <f64>acc);
    else store<f64>(nP + ((j - P) << 3), <f64>acc);
  }
  let sum = s0;
  let lead: u8 = 0;
  let trail: u8 = 0;
  // the sum's XOR slot lives in scratch after the bucket state
  const vals = prevBD + (B << 3);
  const lt = vals + 8;
  store<f64>(vals, sum);
  store<u8>(lt, lead);
  store<u8>(lt, trail, 1);
  let tD: i64 = 0;
  let cD: i64 = 0;
  let zD: i64 = 0;
  for (let i: u32 = 1; i < n; i++) {
    const ii = <usize>i;
    tD += varbitInt();
    if (rErr != 0) return rErr;
    if (!isSafe(tD)) return HERR_UNSAFE;
    pt += tD;
    if (!isSafe(pt)) return HERR_UNSAFE;
    cD += varbitInt();
    if (rErr != 0) return rErr;
    if (!isSafe(cD)) return HERR_UNSAFE;
    cnt += cD;
    if (!isSafe(cnt)) return HERR_UNSAFE;
    zD += varbitInt();
    if (rErr != 0) return rErr;
    if (!isSafe(zD)) return HERR_UNSAFE;
    zc += zD;
    if (!isSafe(zc)) return HERR_UNSAFE;
    if (!xorRead(vals, lt, 0)) return rErr;
    const s = load<f64>(vals);
    store<f64>(tP + (ii << 3), <f64>pt);
    store<f64>(sP + (ii << 3), s);
    if (isStale(s)) continue;
    if (cnt < 0 || zc < 0) return HERR_NEGATIVE;
    store<f64>(cP + (ii << 3), <f64>cnt);
    store<f64>(zP + (ii << 3), <f64>zc);
    acc = 0;
    const pb = pP + ii * P * 8;
    const nb = nP + ii * N * 8;
    for (let j: usize = 0; j < B; j++) {
      if (j == P) acc = 0;
      const v = varbitInt();
      if (rErr != 0) return rErr;
      const dd = load<i64>(prevBD + (j << 3)) + v;
      if (!isSafe(dd)) return HERR_UNSAFE;
      store<i64>(prevBD + (j << 3), dd);
      const b = load<i64>(prevB + (j << 3)) + dd;
      if (!isSafe(b)) return HERR_UNSAFE;
      store<i64>(prevB + (j << 3), b);
      acc += b;
      if (!isSafe(acc)) return HERR_UNSAFE;
      if (j < P) store<f64>(pb + (j << 3), <f64>acc);
      else store<f64>(nb + ((j - P) << 3), <f64>acc);
    }
  }
  return 0;
}

function decodeFloat(
  n: u32, P: usize, N: usize, tP: usize, cP: usize, zP: usize, sP: usize, pP: usize, nP: usize,
  scratch: usize,
): i32 {
  const S: usize = 3 + P + N;
  const vals = scratch;
  const lt = scratch + (S << 3);
  let pt = varbitInt();
  if (rErr != 0) return rErr;
  store<f64>(tP, <f64>pt);
  for (let s: usize = 0; s < S; s++) {
    if (!has(64)) return rErr;
    store<u64>(vals + (s << 3), take(64));
    store<u16>(lt + (s << 1), 0);
  }
  const s0 = load<f64>(vals + 16);
  store<f64>(sP, s0);
  if (!isStale(s0)) {
    store<f64>(cP, load<f64>(vals));
    store<f64>(zP, load<f64>(vals + 8));
    memory.copy(pP, vals + 24, P << 3);
    memory.copy(nP, vals + 24 + (P << 3), N << 3);
  }
  let tD: i64 = 0;
  for (let i: u32 = 1; i < n; i++) {
    const ii = <usize>i;
    tD += varbitInt();
    if (rErr != 0) return rErr;
    if (!isSafe(tD)) return HERR_UNSAFE;
    pt += tD;
    if (!isSafe(pt)) return HERR_UNSAFE;
    store<f64>(tP + (ii << 3), <f64>pt);
    if (!xorRead(vals, lt, 0)) return rErr;
    if (!xorRead(vals, lt, 1)) return rErr;
    if (!xorRead(vals, lt, 2)) return rErr;
    const s = load<f64>(vals + 16);
    store<f64>(sP + (ii << 3), s);
    if (isStale(s)) continue;
    store<f64>(cP + (ii << 3), load<f64>(vals));
    store<f64>(zP + (ii << 3), load<f64>(vals + 8));
    const pb = pP + ii * P * 8;
    for (let j: usize = 0; j < P; j++) {
      if (!xorRead(vals, lt, 3 + j)) return rErr;
      store<f64>(pb + (j << 3), load<f64>(vals + ((3 + j) << 3)));
    }
    const nb = nP + ii * N * 8;
    for (let j: usize = 0; j < N; j++) {
      if (!xorRead(vals, lt, 3 + P + j)) return rErr;
      store<f64>(nb + (j << 3), load<f64>(vals + ((3 + P + j) << 3)));
    }
  }
  return 0;
}
