// An in-memory Queryable: series held as sorted sample arrays. Used by tests, the conformance runner,
// benchmarks, and anything that wants to query a small set of series without a store.
import { compileMatcher, labelsKey, matchLabels, compareLabels, type Labels, type Matcher } from '../labels/mod.ts';
import type { Queryable, SelectHints, SelectResult, SeriesData } from './queryable.ts';
import type { FloatHistogram } from '../histogram/float.ts';

interface MemSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  n: number;
  /** Histogram samples by index (absent until the series holds one). */
  h?: (FloatHistogram | undefined)[];
}

export class MemoryQueryable implements Queryable {
  private series = new Map<string, MemSeries>();
  private sorted: MemSeries[] | null = null;

  /** Appends a native histogram sample (same ordering rules as add). */
  addHistogram(labels: Labels, t: number, h: FloatHistogram): void {
    const i = this.add(labels, t, 0);
    const s = this.series.get(labelsKey(labels))!;
    (s.h ??= [])[i] = h;
  }

  /** Appends samples (must be in time order per series; an equal timestamp replaces the last sample). Returns the sample's index. */
  add(labels: Labels, t: number, v: number): number {
    const k = labelsKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, t: new Float64Array(16), v: new Float64Array(16), n: 0 };
      this.series.set(k, s);
      this.sorted = null;
    }
    if (s.n > 0 && s.t[s.n - 1]! >= t) {
      if (s.t[s.n - 1] === t) {
        s.v[s.n - 1] = v;
        if (s.h) s.h[s.n - 1] = undefined;
        return s.n - 1;
      }
      // out of order: insert in place (rare; tests only)
      let i = s.n - 1;
      while (i >= 0 && s.t[i]! > t) i--;
      if (i >= 0 && s.t[i] === t) {
        s.v[i] = v;
        if (s.h) s.h[i] = undefined;
        return i;
      }
      this.grow(s);
      s.t.copyWithin(i + 2, i + 1, s.n);
      s.v.copyWithin(i + 2, i + 1, s.n);
      s.t[i + 1] = t;
      s.v[i + 1] = v;
      if (s.h) s.h.splice(i + 1, 0, undefined);
      s.n++;
      return i + 1;
    }
    this.grow(s);
    s.t[s.n] = t;
    s.v[s.n] = v;
    s.n++;
    return s.n - 1;
  }

  /** Adds a whole series at once (arrays are used as given). */
  addSeries(labels: Labels, t: Float64Array, v: Float64Array, n = t.length): void {
    this.series.set(labelsKey(labels), { labels, t, v, n });
    this.sorted = null;
  }

  private grow(s: MemSeries): void {
    if (s.n < s.t.length) return;
    const t = new Float64Array(s.t.length * 2);
    const v = new Float64Array(s.v.length * 2);
    t.set(s.t);
    v.set(s.v);
    s.t = t;
    s.v = v;
  }

  clear(): void {
    this.series.clear();
    this.sorted = null;
  }

  get size(): number {
    return this.series.size;
  }

  async select(matchers: readonly Matcher[], hints: SelectHints): Promise<SelectResult> {
    const ms = matchers.map(compileMatcher);
    if (!this.sorted) this.sorted = [...this.series.values()].sort((a, b) => compareLabels(a.labels, b.labels));
    const out: SeriesData[] = [];
    for (const s of this.sorted) {
      if (!matchLabels(ms, s.labels)) continue;
      // cut to [start, end]
      let lo = 0;
      let hi = s.n;
      while (lo < hi && s.t[lo]! < hints.start) lo++;
      while (hi > lo && s.t[hi - 1]! > hints.end) hi--;
      if (hi <= lo) continue;
      const sd: SeriesData = { labels: s.labels, t: s.t.subarray(lo, hi), v: s.v.subarray(lo, hi), n: hi - lo };
      if (s.h) {
        const h = s.h.slice(lo, hi);
        h.length = hi - lo;
        sd.h = h;
      }
      out.push(sd);
    }
    return { series: out };
  }

  async labelNames(matchers: readonly Matcher[]): Promise<string[]> {
    const ms = matchers.map(compileMatcher);
    const names = new Set<string>();
    for (const s of this.series.values()) if (matchLabels(ms, s.labels)) for (const l of s.labels) names.add(l.name);
    return [...names].sort();
  }

  async labelValues(name: string, matchers: readonly Matcher[]): Promise<string[]> {
    const ms = matchers.map(compileMatcher);
    const vals = new Set<string>();
    for (const s of this.series.values()) {
      if (!matchLabels(ms, s.labels)) continue;
      for (const l of s.labels) if (l.name === name) vals.add(l.value);
    }
    return [...vals].sort();
  }
}

/** The Prometheus staleness marker as a float64 (bit pattern 0x7ff0000000000002). */
export const STALE_NAN: number = (() => {
  const b = new ArrayBuffer(8);
  const u = new Uint32Array(b);
  u[0] = 2;
  u[1] = 0x7ff00000;
  return new Float64Array(b)[0]!;
})();
