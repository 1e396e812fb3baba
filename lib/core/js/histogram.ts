// Pure-TS twin of the histogram chunk codecs (Prometheus chunkenc EncHistogram and
// EncFloatHistogram, see ../FORMAT.md "Histogram chunks"). Like xor.ts: no BigInt; integers are
// exact in f64 and 64-bit bit patterns travel as two u32 halves.
import {
  CorruptChunkError,
  CUSTOM_BUCKETS_SCHEMA,
  type HistogramLayout,
  type HistogramSamples,
} from '../types.ts';
import { BitWriter, int64, splitInt64 } from './bitwriter.ts';

const TWO32 = 4294967296;
/** Largest integer the decoder lets through (Number.MAX_SAFE_INTEGER): beyond it f64 is inexact. */
const SAFE = 2 ** 53 - 1;
/** Largest |count| / |bucket| the encoder takes: every delta of delta it forms stays exact. */
export const MAX_HISTOGRAM_COUNT = 2 ** 50;
const MAX_T = 2 ** 51;
const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

// f64 <-> two u32 halves (little-endian hosts, as xor.ts assumes).
const cf = new Float64Array(1);
const cu = new Uint32Array(cf.buffer);

export function isStaleNaN(x: number): boolean {
  cf[0] = x;
  return cu[1] === STALE_HI && cu[0] === STALE_LO;
}

const w = new BitWriter();

/** Prometheus putVarbitInt: a 1..8-bit prefix picks the payload width (0, 3, 6, 9, 12, 18, 25, 56, 64 bits). */
function putVarbitInt(v: number): void {
  if (v === 0) w.bit(0);
  else if (v >= -3 && v <= 4) w.bits((0b10 << 3) | (v & 0x7), 5);
  else if (v >= -31 && v <= 32) w.bits((0b110 << 6) | (v & 0x3f), 9);
  else if (v >= -255 && v <= 256) w.bits((0b1110 << 9) | (v & 0x1ff), 13);
  else if (v >= -2047 && v <= 2048) w.bits((0b11110 << 12) | (v & 0xfff), 17);
  else if (v >= -131071 && v <= 131072) w.bits((0b111110 << 18) | (v & 0x3ffff), 24);
  else if (v >= -16777215 && v <= 16777216) w.bits(((0b1111110 << 25) | (v & 0x1ffffff)) >>> 0, 32);
  else if (v >= -(2 ** 55 - 1) && v <= 2 ** 55) {
    splitInt64(v);
    w.bits(0b11111110, 8);
    w.bits(int64.hi & 0xffffff, 24);
    w.bits(int64.lo, 32);
  } else {
    splitInt64(v);
    w.bits(0xff, 8);
    w.bits(int64.hi, 32);
    w.bits(int64.lo, 32);
  }
}

/** Prometheus putVarbitUint (v >= 0). */
function putVarbitUint(v: number): void {
  if (v === 0) w.bit(0);
  else if (v <= 7) w.bits((0b10 << 3) | v, 5);
  else if (v <= 63) w.bits((0b110 << 6) | v, 9);
  else if (v <= 511) w.bits((0b1110 << 9) | v, 13);
  else if (v <= 4095) w.bits((0b11110 << 12) | v, 17);
  else if (v <= 262143) w.bits((0b111110 << 18) | v, 24);
  else if (v <= 33554431) w.bits(((0b1111110 << 25) | v) >>> 0, 32);
  else if (v < 2 ** 56) {
    splitInt64(v);
    w.bits(0b11111110, 8);
    w.bits(int64.hi, 24);
    w.bits(int64.lo, 32);
  } else {
    splitInt64(v);
    w.bits(0xff, 8);
    w.bits(int64.hi, 32);
    w.bits(int64.lo, 32);
  }
}

/** One byte: 0 for 0, 243+exp for 0.5*2^exp (exp in -242..11), else 255 and the 8 bytes. */
function putZeroThreshold(x: number): void {
  if (x === 0) {
    w.bits(0, 8);
    return;
  }
  cf[0] = x;
  const hi = cu[1];
  const e = (hi >>> 20) & 0x7ff; // biased exponent; x = 2^(e-1023) = 0.5 * 2^(e-1022) when the mantissa is 0
  if (x > 0 && cu[0] === 0 && (hi & 0xfffff) === 0 && e !== 0 && e - 1022 >= -242 && e - 1022 <= 11) {
    w.bits(e - 1022 + 243, 8);
    return;
  }
  w.bits(255, 8);
  w.f64(x);
}

/** Custom bound: varbit-uint(bound*1000 + 1) if that is a whole number in 0..33554430, else 0-bit + 8 bytes. */
function putCustomBound(f: number): void {
  const tf = f * 1000;
  if (tf < 0 || tf > 33554430 || !(Math.round(tf) / 1000 === f)) {
    w.bit(0);
    w.f64(f);
    return;
  }
  putVarbitUint(Math.round(tf) + 1);
}

function putSpans(spans: Int32Array): void {
  putVarbitUint(spans.length >>> 1);
  for (let i = 0; i < spans.length; i += 2) {
    putVarbitUint(spans[i + 1]);
    putVarbitInt(spans[i]);
  }
}

function writeLayout(l: HistogramLayout): void {
  putZeroThreshold(l.zeroThreshold);
  putVarbitInt(l.schema);
  putSpans(l.positiveSpans);
  putSpans(l.negativeSpans);
  if (l.schema === CUSTOM_BUCKETS_SCHEMA) {
    putVarbitUint(l.customValues.length);
    for (let i = 0; i < l.customValues.length; i++) putCustomBound(l.customValues[i]);
  }
}

// XOR state slots (one per XOR-coded quantity): previous value halves, leading, trailing.
let xHi = new Uint32Array(64);
let xLo = new Uint32Array(64);
let xLead = new Uint8Array(64);
let xTrail = new Uint8Array(64);
function xorSlots(n: number): void {
  if (xHi.length < n) {
    const m = Math.max(n, xHi.length * 2);
    xHi = new Uint32Array(m);
    xLo = new Uint32Array(m);
    xLead = new Uint8Array(m);
    xTrail = new Uint8Array(m);
  }
}

function xorInit(slot: number, x: number): void {
  cf[0] = x;
  xHi[slot] = cu[1];
  xLo[slot] = cu[0];
  xLead[slot] = 0xff;
  xTrail[slot] = 0;
}

/** Prometheus xorWrite of x against the slot's previous value; updates the slot. */
function xorWrite(slot: number, x: number): void {
  cf[0] = x;
  const hi = cu[1];
  const lo = cu[0];
  const dHi = (hi ^ xHi[slot]) >>> 0;
  const dLo = (lo ^ xLo[slot]) >>> 0;
  xHi[slot] = hi;
  xLo[slot] = lo;
  if (dHi === 0 && dLo === 0) {
    w.bit(0);
    return;
  }
  w.bit(1);
  let nl = dHi !== 0 ? Math.clz32(dHi) : 32 + Math.clz32(dLo);
  const nt = dLo !== 0 ? 31 - Math.clz32(dLo & -dLo) : 32 + (31 - Math.clz32(dHi & -dHi));
  if (nl >= 32) nl = 31;
  let sh: number;
  let sig: number;
  const lead = xLead[slot];
  if (lead !== 0xff && nl >= lead && nt >= xTrail[slot]) {
    w.bit(0);
    sh = xTrail[slot];
    sig = 64 - lead - sh;
  } else {
    xLead[slot] = nl;
    xTrail[slot] = nt;
    sig = 64 - nl - nt;
    w.bits((1 << 11) | (nl << 6) | (sig & 63), 12);
    sh = nt;
  }
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

function spanTotal(spans: Int32Array, what: string): number {
  if (spans.length % 2 !== 0) throw new RangeError(`histogramEncode: ${what} spans must be (offset, length) pairs`);
  let n = 0;
  for (let i = 0; i < spans.length; i += 2) {
    if (spans[i + 1] < 0) throw new RangeError(`histogramEncode: ${what} span ${i >> 1} has length ${spans[i + 1]}`);
    n += spans[i + 1];
  }
  return n;
}

function isKnownSchema(s: number): boolean {
  return s === CUSTOM_BUCKETS_SCHEMA || (s >= -9 && s <= 8);
}

function checkInt(x: number, lo: number, hi: number, what: string, i: number): void {
  if (!(x >= lo && x <= hi) || Math.trunc(x) !== x) {
    throw new RangeError(`histogramEncode: ${what}[${i}]=${x} is not an integer within ${lo}..${hi}`);
  }
}

/**
 * Checks everything but the per-sample numbers (n, header, schema, spans, array sizes, the
 * leading-stale-marker rule); returns [P, N] (positive and negative bucket counts).
 */
export function checkHistogramShape(h: HistogramSamples): [number, number] {
  const { n, layout: l } = h;
  if (!(n >= 0 && n <= 65535) || !Number.isInteger(n)) throw new RangeError(`histogramEncode: n=${n} out of 0..65535`);
  if (h.header !== 0 && h.header !== 0x40 && h.header !== 0x80 && h.header !== 0xc0) {
    throw new RangeError(`histogramEncode: header ${h.header} is not one of 0x00, 0x40, 0x80, 0xc0`);
  }
  if (!Number.isInteger(l.schema) || !isKnownSchema(l.schema)) {
    throw new RangeError(`histogramEncode: schema ${l.schema} not supported (-9..8 or ${CUSTOM_BUCKETS_SCHEMA})`);
  }
  if (l.schema !== CUSTOM_BUCKETS_SCHEMA && l.customValues.length > 0) {
    throw new RangeError(`histogramEncode: custom bucket bounds need schema ${CUSTOM_BUCKETS_SCHEMA} (schema is ${l.schema})`);
  }
  const P = spanTotal(l.positiveSpans, 'positive');
  const N = spanTotal(l.negativeSpans, 'negative');
  if (h.t.length < n || h.count.length < n || h.zeroCount.length < n || h.sum.length < n) {
    throw new RangeError(`histogramEncode: arrays shorter than n=${n}`);
  }
  if (h.positive.length < n * P || h.negative.length < n * N) {
    throw new RangeError(`histogramEncode: bucket arrays shorter than n * buckets (${n} * ${P} / ${N})`);
  }
  if (n > 0 && isStaleNaN(h.sum[0])) {
    // Prometheus writes the layout of the stale marker itself (empty), and appends nothing but
    // further stale markers to such a chunk.
    if (l.schema !== 0 || l.zeroThreshold !== 0 || P !== 0 || N !== 0 || l.positiveSpans.length !== 0 || l.negativeSpans.length !== 0) {
      throw new RangeError('histogramEncode: a chunk starting with a stale marker has the empty layout (schema 0, no zero threshold, no spans)');
    }
    for (let i = 1; i < n; i++) {
      if (!isStaleNaN(h.sum[i])) throw new RangeError(`histogramEncode: sample ${i} follows a leading stale marker`);
    }
  }
  return [P, N];
}

/** Checks timestamps (integers within ±2^51) and, for integer histograms, counts and buckets. */
export function checkHistogramValues(h: HistogramSamples, P: number, N: number): void {
  const { n } = h;
  for (let i = 0; i < n; i++) {
    checkInt(h.t[i], -MAX_T, MAX_T, 't', i);
    if (h.float || isStaleNaN(h.sum[i])) continue;
    checkInt(h.count[i], 0, MAX_HISTOGRAM_COUNT, 'count', i);
    checkInt(h.zeroCount[i], 0, MAX_HISTOGRAM_COUNT, 'zeroCount', i);
    for (let j = i * P; j < (i + 1) * P; j++) checkInt(h.positive[j], -MAX_HISTOGRAM_COUNT, MAX_HISTOGRAM_COUNT, 'positive', j);
    for (let j = i * N; j < (i + 1) * N; j++) checkInt(h.negative[j], -MAX_HISTOGRAM_COUNT, MAX_HISTOGRAM_COUNT, 'negative', j);
  }
}

/** Checks the arguments; returns [P, N] (positive and negative bucket counts). */
export function checkHistogramArgs(h: HistogramSamples): [number, number] {
  const [P, N] = checkHistogramShape(h);
  checkHistogramValues(h, P, N);
  return [P, N];
}

/** Upper bound of the encoded size in bytes. */
export function histogramMaxBytes(h: HistogramSamples, P: number, N: number): number {
  const l = h.layout;
  const spans = (l.positiveSpans.length + l.negativeSpans.length) >> 1;
  return 48 + spans * 18 + l.customValues.length * 9 + h.n * (50 + 10 * (P + N));
}

function writeEmptyLayout(): void {
  w.bits(0, 8); // zero threshold 0
  w.bits(0, 3); // schema 0, no positive spans, no negative spans
}

// Per-bucket encoder state (delta-between-buckets form of the previous sample, and its delta).
let prevB = new Float64Array(64);
let prevBD = new Float64Array(64);

function encodeInt(h: HistogramSamples, P: number, N: number): void {
  const { n, t, count, zeroCount, sum, positive, negative } = h;
  const B = P + N;
  if (prevB.length < B) {
    prevB = new Float64Array(B * 2);
    prevBD = new Float64Array(B * 2);
  }
  xorSlots(1);
  const stale0 = isStaleNaN(sum[0]);
  if (stale0) writeEmptyLayout();
  else writeLayout(h.layout);
  putVarbitInt(t[0]);
  let pt = t[0];
  let cnt = stale0 ? 0 : count[0];
  let zc = stale0 ? 0 : zeroCount[0];
  putVarbitUint(cnt);
  putVarbitUint(zc);
  w.f64(sum[0]);
  xorInit(0, sum[0]);
  if (!stale0) {
    let prev = 0;
    for (let j = 0; j < P; j++) {
      const d = positive[j] - prev;
      prev = positive[j];
      putVarbitInt(d);
      prevB[j] = d;
      prevBD[j] = 0;
    }
    prev = 0;
    for (let j = 0; j < N; j++) {
      const d = negative[j] - prev;
      prev = negative[j];
      putVarbitInt(d);
      prevB[P + j] = d;
      prevBD[P + j] = 0;
    }
  }
  let tD = 0;
  let cD = 0;
  let zD = 0;
  for (let i = 1; i < n; i++) {
    const stale = isStaleNaN(sum[i]);
    const c = stale ? 0 : count[i];
    const z = stale ? 0 : zeroCount[i];
    const td = t[i] - pt;
    const cd = c - cnt;
    const zd = z - zc;
    putVarbitInt(td - tD);
    // A stale marker writes 0 for both dods, but the appender still keeps its deltas (Prometheus).
    putVarbitInt(stale ? 0 : cd - cD);
    putVarbitInt(stale ? 0 : zd - zD);
    xorWrite(0, sum[i]);
    pt = t[i];
    cnt = c;
    zc = z;
    tD = td;
    cD = cd;
    zD = zd;
    if (stale) continue;
    let prev = 0;
    const pBase = i * P;
    for (let j = 0; j < P; j++) {
      const x = positive[pBase + j];
      const d = x - prev;
      prev = x;
      const delta = d - prevB[j];
      putVarbitInt(delta - prevBD[j]);
      prevBD[j] = delta;
      prevB[j] = d;
    }
    prev = 0;
    const nBase = i * N;
    for (let j = 0; j < N; j++) {
      const x = negative[nBase + j];
      const d = x - prev;
      prev = x;
      const delta = d - prevB[P + j];
      putVarbitInt(delta - prevBD[P + j]);
      prevBD[P + j] = delta;
      prevB[P + j] = d;
    }
  }
}

function encodeFloat(h: HistogramSamples, P: number, N: number): void {
  const { n, t, count, zeroCount, sum, positive, negative } = h;
  xorSlots(3 + P + N);
  const stale0 = isStaleNaN(sum[0]);
  if (stale0) writeEmptyLayout();
  else writeLayout(h.layout);
  putVarbitInt(t[0]);
  const c0 = stale0 ? 0 : count[0];
  const z0 = stale0 ? 0 : zeroCount[0];
  w.f64(c0);
  w.f64(z0);
  w.f64(sum[0]);
  xorInit(0, c0);
  xorInit(1, z0);
  xorInit(2, sum[0]);
  if (!stale0) {
    for (let j = 0; j < P; j++) {
      w.f64(positive[j]);
      xorInit(3 + j, positive[j]);
    }
    for (let j = 0; j < N; j++) {
      w.f64(negative[j]);
      xorInit(3 + P + j, negative[j]);
    }
  }
  let pt = t[0];
  let tD = 0;
  for (let i = 1; i < n; i++) {
    const stale = isStaleNaN(sum[i]);
    const td = t[i] - pt;
    putVarbitInt(td - tD);
    pt = t[i];
    tD = td;
    xorWrite(0, stale ? 0 : count[i]);
    xorWrite(1, stale ? 0 : zeroCount[i]);
    xorWrite(2, sum[i]);
    if (stale) continue;
    const pBase = i * P;
    for (let j = 0; j < P; j++) xorWrite(3 + j, positive[pBase + j]);
    const nBase = i * N;
    for (let j = 0; j < N; j++) xorWrite(3 + P + j, negative[nBase + j]);
  }
}

/** Encodes a histogram chunk (see Core.histogramEncode). */
export function histogramEncode(h: HistogramSamples): Uint8Array {
  const [P, N] = checkHistogramArgs(h);
  w.reset(histogramMaxBytes(h, P, N));
  w.bits(h.n >>> 8, 8);
  w.bits(h.n & 0xff, 8);
  w.bits(h.header, 8);
  if (h.n === 0) return w.finish();
  if (h.float) encodeFloat(h, P, N);
  else encodeInt(h, P, N);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

function fail(msg: string): never {
  throw new CorruptChunkError(msg);
}

class BitReader {
  pos = 0;
  lim = 0;
  data: Uint8Array = new Uint8Array(0);
  what = '';
  need(n: number): void {
    if (this.pos + n > this.lim) fail(`histogram chunk truncated in ${this.what}`);
  }
  bit(): number {
    if (this.pos >= this.lim) fail(`histogram chunk truncated in ${this.what}`);
    const b = (this.data[this.pos >>> 3] >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }
  /** n (1..32) bits as an unsigned number; the caller checked the bound. */
  read(n: number): number {
    let x = 0;
    let pos = this.pos;
    const data = this.data;
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
    this.pos = pos;
    return x;
  }
  f64(): number {
    this.need(64);
    cu[1] = this.read(32);
    cu[0] = this.read(32);
    return cf[0];
  }
  /** The varbit prefix: how many payload bits follow (-1: none, value 0; 64: full width). */
  prefix(): number {
    let d = 0;
    for (let k = 0; k < 8; k++) {
      if (this.bit() === 0) break;
      d++;
    }
    // d = number of leading 1 bits before the terminating 0 (or 8)
    switch (d) {
      case 0:
        return 0;
      case 1:
        return 3;
      case 2:
        return 6;
      case 3:
        return 9;
      case 4:
        return 12;
      case 5:
        return 18;
      case 6:
        return 25;
      case 7:
        return 56;
      default:
        return 64;
    }
  }
  /** Prometheus readVarbitInt; values beyond ±(2^53 - 1) are refused. */
  varbitInt(): number {
    const sz = this.prefix();
    if (sz === 0) return 0;
    this.need(sz);
    let v: number;
    if (sz <= 25) {
      v = this.read(sz);
      if (v > 2 ** (sz - 1)) v -= 2 ** sz;
      return v;
    }
    let hi = this.read(sz - 32);
    const lo = this.read(32);
    if (sz === 56) {
      // bits > 1<<55 are negative
      if (hi > 0x800000 || (hi === 0x800000 && lo > 0)) hi -= 0x1000000;
    } else hi |= 0;
    v = hi * TWO32 + lo;
    if (!(v >= -SAFE && v <= SAFE)) fail(`histogram chunk: integer beyond ±2^53 in ${this.what}`);
    return v;
  }
  varbitUint(): number {
    const sz = this.prefix();
    if (sz === 0) return 0;
    this.need(sz);
    if (sz <= 25) return this.read(sz);
    const hi = this.read(sz - 32);
    const lo = this.read(32);
    const v = hi * TWO32 + lo;
    if (!(v <= SAFE)) fail(`histogram chunk: integer beyond 2^53 in ${this.what}`);
    return v;
  }
}

const r = new BitReader();

function readSpans(what: string): Int32Array {
  r.what = `${what} spans`;
  const num = r.varbitUint();
  // Each span takes at least 2 bits: a count beyond the remaining bits is corrupt, not a reason to allocate.
  if (num * 2 > r.lim - r.pos) fail(`histogram chunk: ${num} ${what} spans in ${r.lim - r.pos} bits`);
  const spans = new Int32Array(num * 2);
  for (let i = 0; i < num; i++) {
    const len = r.varbitUint();
    const off = r.varbitInt();
    if (len > 0x7fffffff) fail(`histogram chunk: ${what} span length ${len}`);
    if (off < -0x80000000 || off > 0x7fffffff) fail(`histogram chunk: ${what} span offset ${off} beyond int32`);
    spans[2 * i] = off;
    spans[2 * i + 1] = len;
  }
  return spans;
}

function total(spans: Int32Array): number {
  let n = 0;
  for (let i = 1; i < spans.length; i += 2) n += spans[i];
  return n;
}

function readLayout(): HistogramLayout {
  r.what = 'zero threshold';
  r.need(8);
  const b = r.read(8);
  let zeroThreshold: number;
  if (b === 0) zeroThreshold = 0;
  else if (b === 255) zeroThreshold = r.f64();
  else zeroThreshold = 2 ** (b - 244);
  r.what = 'schema';
  const schema = r.varbitInt();
  if (schema >= 9 && schema <= 52) {
    // Prometheus reads these by reducing them to schema 8 per sample; nothing writes them yet.
    throw new Error(`histogram chunk: schema ${schema} (reserved; reading it needs resolution reduction, not implemented)`);
  }
  if (!isKnownSchema(schema)) fail(`histogram chunk: unknown schema ${schema}`);
  const positiveSpans = readSpans('positive');
  const negativeSpans = readSpans('negative');
  let customValues = new Float64Array(0);
  if (schema === CUSTOM_BUCKETS_SCHEMA) {
    r.what = 'custom bounds';
    const num = r.varbitUint();
    if (num > r.lim - r.pos) fail(`histogram chunk: ${num} custom bounds in ${r.lim - r.pos} bits`);
    customValues = new Float64Array(num);
    for (let i = 0; i < num; i++) {
      const v = r.varbitUint();
      if (v === 0) customValues[i] = r.f64();
      else customValues[i] = (v - 1) / 1000;
    }
  }
  return { schema, zeroThreshold, positiveSpans, negativeSpans, customValues };
}

// Decoder XOR state per slot: value halves in xHi/xLo, leading/trailing in xLead/xTrail.
function xorRead(slot: number): void {
  if (r.bit() === 0) return;
  let mbits: number;
  let nt: number;
  if (r.bit() === 0) {
    mbits = 64 - xLead[slot] - xTrail[slot];
    nt = xTrail[slot];
  } else {
    r.need(11);
    const nl = r.read(5);
    mbits = r.read(6);
    if (mbits === 0) mbits = 64;
    if (nl + mbits > 64) fail(`histogram chunk corrupt in ${r.what}: ${nl} leading + ${mbits} significant bits`);
    nt = 64 - nl - mbits;
    xLead[slot] = nl;
    xTrail[slot] = nt;
  }
  r.need(mbits);
  let bHi = 0;
  let bLo: number;
  if (mbits > 32) {
    bHi = r.read(mbits - 32);
    bLo = r.read(32);
  } else bLo = r.read(mbits);
  if (nt >= 32) {
    bHi = bLo << (nt - 32);
    bLo = 0;
  } else if (nt > 0) {
    bHi = (bHi << nt) | (bLo >>> (32 - nt));
    bLo = bLo << nt;
  }
  xHi[slot] = (xHi[slot] ^ bHi) >>> 0;
  xLo[slot] = (xLo[slot] ^ bLo) >>> 0;
}

function slotValue(slot: number): number {
  cu[1] = xHi[slot];
  cu[0] = xLo[slot];
  return cf[0];
}

function slotSet(slot: number, x: number): void {
  cf[0] = x;
  xHi[slot] = cu[1];
  xLo[slot] = cu[0];
  xLead[slot] = 0;
  xTrail[slot] = 0;
}

function safe(x: number, what: string, i: number): number {
  if (!(x >= -SAFE && x <= SAFE)) fail(`histogram chunk: ${what} of sample ${i} beyond ±2^53`);
  return x;
}

/** Decodes a histogram chunk (see Core.histogramDecode). Never reads past `chunk`. */
export function histogramDecode(chunk: Uint8Array, float: boolean): HistogramSamples {
  if (chunk.length < 3) fail(`histogram chunk too short: ${chunk.length} bytes`);
  const n = (chunk[0] << 8) | chunk[1];
  const header = chunk[2] & 0xc0;
  r.data = chunk;
  r.pos = 24;
  r.lim = chunk.length * 8;
  const empty: HistogramLayout = {
    schema: 0,
    zeroThreshold: 0,
    positiveSpans: new Int32Array(0),
    negativeSpans: new Int32Array(0),
    customValues: new Float64Array(0),
  };
  if (n === 0) {
    const z = new Float64Array(0);
    return { float, header, layout: empty, n, t: z, count: z, zeroCount: z, sum: z, positive: z, negative: z };
  }
  const layout = readLayout();
  const P = total(layout.positiveSpans);
  const N = total(layout.negativeSpans);
  // Sample 0 spends at least one bit per bucket: more buckets than bits left is corrupt.
  if (P + N > r.lim - r.pos) fail(`histogram chunk: ${P + N} buckets in ${r.lim - r.pos} bits`);
  const t = new Float64Array(n);
  const count = new Float64Array(n);
  const zeroCount = new Float64Array(n);
  const sum = new Float64Array(n);
  const positive = new Float64Array(n * P);
  const negative = new Float64Array(n * N);
  if (float) decodeFloat(n, P, N, t, count, zeroCount, sum, positive, negative);
  else decodeInt(n, P, N, t, count, zeroCount, sum, positive, negative);
  return { float, header, layout, n, t, count, zeroCount, sum, positive, negative };
}

function decodeInt(
  n: number, P: number, N: number, t: Float64Array, count: Float64Array, zeroCount: Float64Array,
  sum: Float64Array, positive: Float64Array, negative: Float64Array,
): void {
  const B = P + N;
  if (prevB.length < B) {
    prevB = new Float64Array(B * 2);
    prevBD = new Float64Array(B * 2);
  }
  xorSlots(1);
  r.what = 'samples';
  let pt = r.varbitInt();
  let cnt = r.varbitUint();
  r.what = 'samples';
  let zc = r.varbitUint();
  const s0 = r.f64();
  slotSet(0, s0);
  t[0] = pt;
  count[0] = cnt;
  zeroCount[0] = zc;
  sum[0] = s0;
  const stale0 = isStaleNaN(s0);
  // prevB: the delta-between-buckets form of the last sample (Prometheus pBuckets), prevBD its change.
  let acc = 0;
  for (let j = 0; j < B; j++) {
    if (j === P) acc = 0;
    const d = r.varbitInt();
    prevB[j] = d;
    prevBD[j] = 0;
    acc = safe(acc + d, 'bucket', 0);
    if (j < P) positive[j] = acc;
    else negative[j - P] = acc;
  }
  if (stale0) {
    count[0] = 0;
    zeroCount[0] = 0;
    positive.fill(0, 0, P);
    negative.fill(0, 0, N);
  }
  let tD = 0;
  let cD = 0;
  let zD = 0;
  for (let i = 1; i < n; i++) {
    r.what = 'samples';
    tD = safe(tD + r.varbitInt(), 'time delta', i);
    pt = safe(pt + tD, 'timestamp', i);
    cD = safe(cD + r.varbitInt(), 'count delta', i);
    cnt = safe(cnt + cD, 'count', i);
    zD = safe(zD + r.varbitInt(), 'zero count delta', i);
    zc = safe(zc + zD, 'zero count', i);
    xorRead(0);
    const s = slotValue(0);
    t[i] = pt;
    sum[i] = s;
    // A stale marker's counts are not read back (Prometheus returns {Sum: StaleNaN}): they stay 0,
    // and only a real sample's counts must be valid uint64s.
    if (isStaleNaN(s)) continue;
    if (cnt < 0 || zc < 0) fail(`histogram chunk: negative count of sample ${i} (uint64 wrap)`);
    count[i] = cnt;
    zeroCount[i] = zc;
    acc = 0;
    const pBase = i * P - 0;
    const nBase = i * N - P;
    for (let j = 0; j < B; j++) {
      if (j === P) acc = 0;
      const dd = safe(prevBD[j] + r.varbitInt(), 'bucket delta', i);
      prevBD[j] = dd;
      const d = safe(prevB[j] + dd, 'bucket', i);
      prevB[j] = d;
      acc = safe(acc + d, 'bucket', i);
      if (j < P) positive[pBase + j] = acc;
      else negative[nBase + j] = acc;
    }
  }
}

function decodeFloat(
  n: number, P: number, N: number, t: Float64Array, count: Float64Array, zeroCount: Float64Array,
  sum: Float64Array, positive: Float64Array, negative: Float64Array,
): void {
  xorSlots(3 + P + N);
  r.what = 'samples';
  let pt = r.varbitInt();
  t[0] = pt;
  count[0] = r.f64();
  zeroCount[0] = r.f64();
  sum[0] = r.f64();
  slotSet(0, count[0]);
  slotSet(1, zeroCount[0]);
  slotSet(2, sum[0]);
  for (let j = 0; j < P; j++) slotSet(3 + j, (positive[j] = r.f64()));
  for (let j = 0; j < N; j++) slotSet(3 + P + j, (negative[j] = r.f64()));
  if (isStaleNaN(sum[0])) {
    count[0] = 0;
    zeroCount[0] = 0;
    positive.fill(0, 0, P);
    negative.fill(0, 0, N);
  }
  let tD = 0;
  for (let i = 1; i < n; i++) {
    r.what = 'samples';
    tD = safe(tD + r.varbitInt(), 'time delta', i);
    pt = safe(pt + tD, 'timestamp', i);
    t[i] = pt;
    xorRead(0);
    xorRead(1);
    xorRead(2);
    const s = slotValue(2);
    sum[i] = s;
    if (isStaleNaN(s)) continue;
    count[i] = slotValue(0);
    zeroCount[i] = slotValue(1);
    const pBase = i * P;
    for (let j = 0; j < P; j++) {
      xorRead(3 + j);
      positive[pBase + j] = slotValue(3 + j);
    }
    const nBase = i * N;
    for (let j = 0; j < N; j++) {
      xorRead(3 + P + j);
      negative[nBase + j] = slotValue(3 + P + j);
    }
  }
}
