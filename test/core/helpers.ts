// Shared helpers for the core suites: seeded RNG, bit-exact comparisons, sample generators.
import type { Samples } from '../../lib/core/types.ts';

/** mulberry32: small deterministic PRNG, returns [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const STALE_HI = 0x7ff00000;
export const STALE_LO = 0x00000002;

/** A value from raw 64-bit halves (bit-exact, including NaN payloads). */
export function fromBits(hi: number, lo: number): number {
  const u = new Uint32Array([lo >>> 0, hi >>> 0]);
  return new Float64Array(u.buffer)[0];
}

export function setBits(arr: Float64Array, i: number, hi: number, lo: number): void {
  const u = new Uint32Array(arr.buffer, arr.byteOffset, arr.length * 2);
  u[2 * i] = lo >>> 0;
  u[2 * i + 1] = hi >>> 0;
}

/** First index where a and b differ bitwise over n entries, or -1. */
export function bitDiff(a: Float64Array, b: Float64Array, n: number): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, n * 2);
  const ub = new Uint32Array(b.buffer, b.byteOffset, n * 2);
  for (let i = 0; i < 2 * n; i++) if (ua[i] !== ub[i]) return i >> 1;
  return -1;
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Our chunk (Prometheus >= 3.0 bytes) vs one written by promtool/Prometheus 2.42, which leaves one
 * spare 0x00 after some byte-aligned chunks: equal, or theirs is "ours + 0x00".
 */
export function chunkBytesEqual(ours: Uint8Array, theirs: Uint8Array): boolean {
  if (bytesEqual(ours, theirs)) return true;
  return theirs.length === ours.length + 1 && theirs[ours.length] === 0 && bytesEqual(ours, theirs.subarray(0, ours.length));
}

export function samplesEqual(a: Samples, b: Samples): string | null {
  if (a.n !== b.n) return `n ${a.n} != ${b.n}`;
  for (let i = 0; i < a.n; i++) if (a.t[i] !== b.t[i]) return `t[${i}] ${a.t[i]} != ${b.t[i]}`;
  const d = bitDiff(a.v, b.v, a.n);
  if (d >= 0) return `v[${d}] ${a.v[d]} != ${b.v[d]} (bits)`;
  return null;
}

export interface Case {
  name: string;
  t: Float64Array;
  v: Float64Array;
  n: number;
}

/** Seeded sample sets that hit every dod bucket and the special values. */
export function xorCases(seed: number): Case[] {
  const r = rng(seed);
  const cases: Case[] = [];
  const mk = (name: string, n: number, ft: (i: number, prev: number) => number, fv: (i: number, arr: Float64Array) => void): void => {
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let prev = 0;
    for (let i = 0; i < n; i++) t[i] = prev = ft(i, prev);
    for (let i = 0; i < n; i++) fv(i, v);
    cases.push({ name, t, v, n });
  };
  const base = 1_700_000_000_000 + Math.floor(r() * 1e9);
  const jitter = (i: number) => base + i * 15000 + Math.floor(r() * 1001) - 500;
  const randBits = (i: number, v: Float64Array) => setBits(v, i, Math.floor(r() * 2 ** 32), Math.floor(r() * 2 ** 32));
  // the dod bucket edges: 14 bits covers -8191..8192, 17 bits -65535..65536, 20 bits -524287..524288
  const edges = [0, 1, -1, 8192, -8191, 8193, -8192, 65536, -65535, 65537, -65536, 524288, -524287, 524289, -524288, 2 ** 40, -(2 ** 40), 123456789];
  mk('one sample', 1, () => base, (i, v) => (v[i] = 42.5));
  mk('two samples', 2, (i) => base + i * 30000, (i, v) => (v[i] = i));
  mk('counter 120 jitter', 120, jitter, (i, v) => (v[i] = i === 0 ? 0 : v[i - 1] + Math.floor(r() * 100)));
  mk('gauge 120 random floats', 120, jitter, (i, v) => (v[i] = (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20)));
  mk('constant 120', 120, (i) => base + i * 15000, (i, v) => (v[i] = 7));
  mk('random bits 120', 120, jitter, randBits);
  mk('dod edges', edges.length * 3 + 2, (i, prev) => {
    if (i < 2) return base + i * 15000;
    const dod = edges[(i - 2) % edges.length];
    const lastDelta = 15000; // the generator re-centres: delta alternates 15000+dod and 15000
    return prev + lastDelta + ((i - 2) % 2 === 0 ? dod : 0);
  }, (i, v) => (v[i] = i));
  {
    // explicit dods: t[i] = t[i-1] + delta[i], delta[i] = delta[i-1] + dod
    const n = edges.length + 2;
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    t[0] = base;
    t[1] = base + 15000;
    let d = 15000;
    for (let i = 2; i < n; i++) {
      d += edges[i - 2];
      t[i] = t[i - 1] + d;
      v[i] = i * 0.25;
    }
    cases.push({ name: 'dod sequence', t, v, n });
  }
  mk('negative and huge deltas', 60, (i, prev) => (i === 0 ? base : prev + (i % 3 === 0 ? -(2 ** 35) - i : i % 3 === 1 ? 2 ** 36 + 7 * i : -1)), (i, v) => (v[i] = -i));
  mk('negative first timestamp', 30, (i) => -5_000_000_000 + i * 1000 + (i % 4) * 3, (i, v) => (v[i] = i % 3));
  mk('zero timestamps', 5, () => 0, (i, v) => (v[i] = i));
  mk('specials', 40, jitter, (i, v) => {
    const k = i % 10;
    if (k === 0) v[i] = NaN;
    else if (k === 1) v[i] = Infinity;
    else if (k === 2) v[i] = -Infinity;
    else if (k === 3) setBits(v, i, STALE_HI, STALE_LO);
    else if (k === 4) v[i] = -0;
    else if (k === 5) v[i] = 0;
    else if (k === 6) v[i] = Number.MIN_VALUE;
    else if (k === 7) v[i] = Number.MAX_VALUE;
    else if (k === 8) setBits(v, i, 0xfff80000, 0x12345); // negative NaN with payload
    else v[i] = -1.5;
  });
  mk('stale markers only', 10, (i) => base + i * 15000, (i, v) => setBits(v, i, STALE_HI, STALE_LO));
  mk('240 samples', 240, jitter, (i, v) => (v[i] = Math.round(r() * 1000) / 8));
  mk('max 65535 samples', 65535, jitter, (i, v) => (v[i] = i % 97 === 0 ? r() : i));
  // random chunk shapes
  for (let k = 0; k < 40; k++) {
    const n = 1 + Math.floor(r() * 200);
    const step = [1, 15000, 60000, 1e7][k % 4];
    mk(`random #${k}`, n, (i, prev) => (i === 0 ? base - Math.floor(r() * 1e12) : prev + Math.floor(step * (0.5 + r())) * (r() < 0.05 ? -1 : 1)), (i, v) => {
      const p = r();
      if (p < 0.3) v[i] = i > 0 ? v[i - 1] : 1;
      else if (p < 0.6) v[i] = Math.floor(r() * 1e6);
      else if (p < 0.9) v[i] = r() * 1e3;
      else randBits(i, v);
    });
  }
  return cases;
}
