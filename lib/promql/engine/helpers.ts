// Label and series helpers shared by the evaluator, its operators and the function kernels.
import { ExecutionError } from '../errors.ts';
import type { MarkedSeriesData, SeriesData } from '../queryable.ts';
import type { FloatHistogram } from '../../histogram/float.ts';
import { compareLabels, labelsKey as labelsKeyRaw, METRIC_NAME, type Label, type Labels } from '../../labels/mod.ts';
import type { Matrix, RawSeries, Vector } from './types.ts';
import { isStaleHistogram } from './hist.ts';

const keyCache = new WeakMap<Labels, string>();
/** labelsKey with a per-object cache (label sets are shared between a series and its per-step samples). */
export function labelsKey(ls: Labels): string {
  let k = keyCache.get(ls);
  if (k === undefined) {
    k = labelsKeyRaw(ls);
    keyCache.set(ls, k);
  }
  return k;
}
const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** Marks whether sample i of v is a Prometheus staleness marker (exact NaN bit pattern). */
export function staleMask(v: Float64Array, n: number): Uint8Array | null {
  // Found by a NaN test first: the bit-pattern view is made only for a series that holds a NaN (a
  // view per series was most of this function's time and garbage on selections of many series).
  let i = 0;
  while (i < n && v[i] === v[i]) i++;
  if (i === n) return null;
  let mask: Uint8Array | null = null;
  const u = new Uint32Array(v.buffer, v.byteOffset, n * 2);
  for (; i < n; i++) {
    if (u[2 * i + 1] === STALE_HI && u[2 * i] === STALE_LO) {
      if (!mask) mask = new Uint8Array(n);
      mask[i] = 1;
    }
  }
  return mask;
}
export function dropMetricName(ls: Labels): Labels {
  for (let i = 0; i < ls.length; i++) {
    if (ls[i]!.name !== METRIC_NAME) continue;
    // Usually the first label: one packed array of the final size (slice + concat built three).
    return i === 0 ? ls.slice(1) : ls.slice(0, i).concat(ls.slice(i + 1));
  }
  return ls;
}

export function setLabel(ls: Labels, name: string, value: string): Labels {
  const out: Label[] = [];
  let done = false;
  for (const l of ls) {
    if (!done && l.name >= name) {
      if (l.name === name) {
        if (value !== '') out.push({ name, value });
        done = true;
        continue;
      }
      if (value !== '') out.push({ name, value });
      done = true;
    }
    out.push(l);
  }
  if (!done && value !== '') out.push({ name, value });
  return out;
}

export function keepLabels(ls: Labels, names: Set<string>): Labels {
  return ls.filter((l) => names.has(l.name));
}
export function delLabels(ls: Labels, names: Set<string>): Labels {
  return ls.filter((l) => !names.has(l.name));
}

export function toRaw(s: SeriesData): RawSeries {
  const h = s.h;
  // A MarkedSeriesData (the querier's raw float series) is already what the engine reads.
  if ((s as Partial<MarkedSeriesData>).dropName === false && (s as Partial<MarkedSeriesData>).stale !== undefined && !h) return s as MarkedSeriesData;
  if (!h) return { labels: s.labels, t: s.t, v: s.v, n: s.n, stale: staleMask(s.v, s.n), dropName: false };
  // Float stale markers where the sample is a float, histogram stale markers (sum = StaleNaN) where it is one.
  let stale = staleMask(s.v, s.n);
  let any = false;
  for (let i = 0; i < s.n; i++) {
    const x = h[i];
    if (x === undefined) continue;
    any = true;
    const st = isStaleHistogram(x);
    if (st) (stale ??= new Uint8Array(s.n))[i] = 1;
    else if (stale) stale[i] = 0;
  }
  return { labels: s.labels, t: s.t, v: s.v, n: s.n, h: any ? h : undefined, stale, dropName: false };
}

export function withoutStale(r: RawSeries): RawSeries {
  if (!r.stale) return r;
  // Straight into typed arrays: pushing millions of samples into JS arrays and Float64Array.from
  // (which iterates) took seconds on a raw selection.
  const t = new Float64Array(r.n);
  const v = new Float64Array(r.n);
  const rh = r.h;
  const h: (FloatHistogram | undefined)[] | undefined = rh ? [] : undefined;
  let n = 0;
  for (let i = 0; i < r.n; i++) {
    if (r.stale[i]) continue;
    t[n] = r.t[i]!;
    v[n] = r.v[i]!;
    if (h) h[n] = rh![i];
    n++;
  }
  return { labels: r.labels, t: t.subarray(0, n), v: v.subarray(0, n), n, h, stale: null, dropName: r.dropName };
}

/** First index i in [0, n) with t[i] > x. */
export function upperBound(t: Float64Array, n: number, x: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Whether the label sets are in strictly ascending order: then none repeats, and the duplicate checks
 * need no key string per series. The usual case: a selection's series come sorted from the stores,
 * and dropping one metric name from all of them (rate, abs, ...) keeps that order.
 */
function strictlyAscending(xs: ReadonlyArray<{ metric: Labels }>): boolean {
  for (let i = 1; i < xs.length; i++) if (compareLabels(xs[i - 1]!.metric, xs[i]!.metric) >= 0) return false;
  return true;
}

export function checkDuplicates(v: Vector): void {
  if (v.length < 2 || strictlyAscending(v)) return;
  const seen = new Set<string>();
  for (const s of v) {
    const k = labelsKey(s.metric);
    if (seen.has(k)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
    seen.add(k);
  }
}

export function hasDuplicateLabels(m: Matrix): boolean {
  if (m.length < 2 || strictlyAscending(m)) return false;
  const seen = new Set<string>();
  for (const s of m) {
    const k = labelsKey(s.metric);
    if (seen.has(k)) return true;
    seen.add(k);
  }
  return false;
}

export function isValidLabelName(s: string): boolean {
  if (s.length === 0) return false;
  // Prometheus 3.x accepts any valid UTF-8 label name.
  return !s.includes('\ufffd');
}

/**
 * A hash of a match or grouping signature (binary.ts signatureFn's string, aggregate.ts's group key):
 * the labels kept by on(...)/by(...) (`on` true), or those not ignored and not the metric name (`on`
 * false: `names` then holds the metric name too): FNV-1a over names and values with a
 * separator, in 52 bits (two 32-bit lanes).
 */
function signatureHash52(ls: Labels, names: ReadonlySet<string>, on: boolean): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    if (names.has(l.name) !== on) continue;
    // the name, then the value, each closed by a separator above any UTF-16 code unit
    for (let part = 0; part < 2; part++) {
      const str = part === 0 ? l.name : l.value;
      for (let k = 0; k < str.length; k++) {
        const c = str.charCodeAt(k);
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      }
      h1 = Math.imul(h1 ^ (0x10000 + part), 0x01000193);
      h2 = Math.imul(h2 ^ (0x10000 + part), 0x5bd1e995);
    }
  }
  return (h1 >>> 0) * 0x100000 + (h2 >>> 12);
}

/** Whether a and b have one signature (signatureFn's strings equal); `names` as signatureHash has them, without the metric name. */
export function sameSignature(a: Labels, b: Labels, names: ReadonlySet<string>, on: boolean): boolean {
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && !keptBySignature(a[i]!.name, names, on)) i++;
    while (j < b.length && !keptBySignature(b[j]!.name, names, on)) j++;
    if (i === a.length || j === b.length) return i === a.length && j === b.length;
    const x = a[i]!;
    const y = b[j]!;
    if (x !== y && (x.name !== y.name || x.value !== y.value)) return false;
    i++;
    j++;
  }
}

function keptBySignature(name: string, names: ReadonlySet<string>, on: boolean): boolean {
  return on ? names.has(name) : !names.has(name) && name !== METRIC_NAME;
}

let signatureHashImpl = signatureHash52;
/**
 * signatureHash52, or (tests only) a replacement that forces collisions; callers must treat equal
 * hashes as "maybe equal" and check with sameSignature.
 */
export function signatureHash(ls: Labels, names: ReadonlySet<string>, on: boolean): number {
  return signatureHashImpl(ls, names, on);
}
/** Test hook: replaces the signature hash (null restores the real one). */
export function setSignatureHashForTest(f: ((ls: Labels, names: ReadonlySet<string>, on: boolean) => number) | null): void {
  signatureHashImpl = f ?? signatureHash52;
}
