// Deduplication of series that differ only in replica labels (Thanos querier semantics).
//
// penalty (default): two replicas are walked together; each step both are advanced to the last
// emitted timestamp + 1 + that replica's penalty, the earlier sample wins (the first replica on a
// tie); the replica not picked gets a penalty of twice the gap since the previous emitted sample (5000
// ms before any sample was emitted), the picked one none. More than two replicas are chained
// pairwise: dedup(dedup(r0, r1), r2) ... For counter functions (rate, increase, irate, resets) every
// replica carries an offset that grows whenever, after a switch, its value is below the last value
// emitted, so the merged counter never drops because of a switch.
//
// chain: a 1:1 merge: all samples ordered by time, one sample per timestamp (the earliest replica's).
//
// Native histogram samples (h[i] defined, see SeriesData) are picked by the same steps; as in
// Thanos's dedupSeriesIterator, the counter adjustment is made only from a float sample to float
// samples (a histogram is passed on as the replica has it).
import { compareLabels, type Label, type Labels } from '../labels/mod.ts';
import type { SeriesData } from '../promql/queryable.ts';
import type { FloatHistogram } from '../histogram/float.ts';

export type DedupAlgorithm = 'penalty' | 'chain';

export const DEDUP_ALGORITHMS: readonly DedupAlgorithm[] = ['penalty', 'chain'];

/** Penalty applied to the replica not picked when no sample was emitted yet (ms). */
export const INITIAL_PENALTY = 5000;

/** Functions whose input is treated as a counter when replicas are switched. */
export function isCounterFunc(func: string | undefined): boolean {
  return func === 'increase' || func === 'rate' || func === 'irate' || func === 'resets';
}

export interface DedupOptions {
  algorithm?: DedupAlgorithm;
  /** The PromQL function around the selector (SelectHints.func); picks the counter adjustment. */
  func?: string;
}

export interface Samples {
  t: Float64Array;
  v: Float64Array;
  n: number;
  /** h[i] defined ⇒ sample i is that native histogram (v[i] meaningless). */
  h?: ReadonlyArray<FloatHistogram | undefined>;
}

interface AdjustableIterator {
  /** Advances by one; false when exhausted. */
  next(): boolean;
  /** Advances to the first sample with time >= t (no-op if already there); false when exhausted. */
  seek(t: number): boolean;
  atT(): number;
  atV(): number;
  /** The histogram at the current sample, undefined for a float sample. */
  atH(): FloatHistogram | undefined;
  adjustAtValue(lastValue: number): void;
}

class ArrayIterator implements AdjustableIterator {
  private i = -1;
  /** Offset added to every value (counter replicas only). */
  private errAdjust = 0;
  constructor(private readonly s: Samples, private readonly counter: boolean) {}
  next(): boolean {
    if (this.i < this.s.n) this.i++;
    return this.i < this.s.n;
  }
  seek(t: number): boolean {
    if (this.i < 0) this.i = 0;
    const ts = this.s.t;
    const n = this.s.n;
    while (this.i < n && ts[this.i]! < t) this.i++;
    return this.i < n;
  }
  atT(): number {
    return this.s.t[this.i]!;
  }
  atV(): number {
    return this.s.v[this.i]! + this.errAdjust;
  }
  atH(): FloatHistogram | undefined {
    return this.s.h?.[this.i];
  }
  adjustAtValue(lastValue: number): void {
    if (!this.counter || this.atH()) return;
    const v = this.atV();
    // This replica missed the true end of the counter (e.g. it restarted): lift it.
    if (lastValue > v) this.errAdjust += lastValue - v;
  }
}

class PenaltyIterator implements AdjustableIterator {
  private aok: boolean;
  private bok: boolean;
  private lastT = -Infinity;
  private useA = true;
  private lastIter: AdjustableIterator;
  private penA = 0;
  private penB = 0;

  constructor(private readonly a: AdjustableIterator, private readonly b: AdjustableIterator) {
    this.lastIter = a;
    this.aok = a.next();
    this.bok = b.next();
  }

  next(): boolean {
    // The value the previous step produced (before this step), for the counter adjustment on a switch.
    const hasLast = (this.useA ? this.aok : this.bok) && !this.lastIter.atH();
    const lastV = hasLast ? this.lastIter.atV() : 0;
    const lastUseA = this.useA;
    const ok = this.step();
    if (this.useA !== lastUseA && hasLast) this.adjustAtValue(lastV);
    return ok;
  }

  private step(): boolean {
    const { a, b } = this;
    if (this.aok) this.aok = a.seek(this.lastT + 1 + this.penA);
    if (this.bok) this.bok = b.seek(this.lastT + 1 + this.penB);

    if (!this.aok) {
      this.useA = false;
      if (this.bok) {
        this.lastT = b.atT();
        this.lastIter = b;
        this.penB = 0;
      }
      return this.bok;
    }
    if (!this.bok) {
      this.useA = true;
      this.lastT = a.atT();
      this.lastIter = a;
      this.penA = 0;
      return true;
    }
    const ta = a.atT();
    const tb = b.atT();
    this.useA = ta <= tb;
    if (this.useA) {
      this.penB = this.lastT !== -Infinity ? 2 * (ta - this.lastT) : INITIAL_PENALTY;
      this.penA = 0;
      this.lastT = ta;
      this.lastIter = a;
      return true;
    }
    this.penA = this.lastT !== -Infinity ? 2 * (tb - this.lastT) : INITIAL_PENALTY;
    this.penB = 0;
    this.lastT = tb;
    this.lastIter = b;
    return true;
  }

  adjustAtValue(lastValue: number): void {
    if (this.aok) this.a.adjustAtValue(lastValue);
    if (this.bok) this.b.adjustAtValue(lastValue);
  }

  seek(t: number): boolean {
    // Walk with next() rather than seeking the replicas, so that gaps are not skipped.
    for (;;) {
      if (!(this.useA ? this.aok : this.bok)) return false;
      if (this.atT() >= t) return true;
      if (!this.next()) return false;
    }
  }

  atT(): number {
    return this.useA ? this.a.atT() : this.b.atT();
  }

  atV(): number {
    return this.lastIter.atV();
  }

  atH(): FloatHistogram | undefined {
    return this.lastIter.atH();
  }
}

function collect(it: AdjustableIterator, capacity: number, histograms: boolean): Samples {
  let t = new Float64Array(Math.max(capacity, 1));
  let v = new Float64Array(Math.max(capacity, 1));
  const h: (FloatHistogram | undefined)[] | undefined = histograms ? [] : undefined;
  let n = 0;
  while (it.next()) {
    if (n === t.length) {
      const nt = new Float64Array(n * 2);
      nt.set(t);
      t = nt;
      const nv = new Float64Array(n * 2);
      nv.set(v);
      v = nv;
    }
    t[n] = it.atT();
    v[n] = it.atV();
    if (h) h.push(it.atH());
    n++;
  }
  return h ? { t, v, n, h } : { t, v, n };
}

/**
 * The two-replica case (an HA pair) without iterator objects: the same steps as PenaltyIterator over
 * two ArrayIterators, on indices. penaltyMergeGeneric is the reference it is tested against.
 */
function penaltyMerge2(a: Samples, b: Samples, counter: boolean): Samples {
  const at = a.t, av = a.v, na = a.n;
  const bt = b.t, bv = b.v, nb = b.n;
  const cap = Math.max(na, nb, 1);
  let ot = new Float64Array(cap);
  let ov = new Float64Array(cap);
  let n = 0;
  let ia = 0, ib = 0;
  let aok = na > 0, bok = nb > 0;
  let errA = 0, errB = 0;
  let lastT = -Infinity;
  let useA = true;
  let penA = 0, penB = 0;
  for (;;) {
    const hasLast: boolean = useA ? aok : bok;
    const lastV = hasLast ? (useA ? av[ia]! + errA : bv[ib]! + errB) : 0;
    const lastUseA: boolean = useA;
    if (aok) {
      const s = lastT + 1 + penA;
      while (ia < na && at[ia]! < s) ia++;
      aok = ia < na;
    }
    if (bok) {
      const s = lastT + 1 + penB;
      while (ib < nb && bt[ib]! < s) ib++;
      bok = ib < nb;
    }
    let ok = true;
    if (!aok) {
      useA = false;
      if (bok) {
        lastT = bt[ib]!;
        penB = 0;
      } else ok = false;
    } else if (!bok) {
      useA = true;
      lastT = at[ia]!;
      penA = 0;
    } else {
      const ta = at[ia]!;
      const tb = bt[ib]!;
      useA = ta <= tb;
      if (useA) {
        penB = lastT !== -Infinity ? 2 * (ta - lastT) : INITIAL_PENALTY;
        penA = 0;
        lastT = ta;
      } else {
        penA = lastT !== -Infinity ? 2 * (tb - lastT) : INITIAL_PENALTY;
        penB = 0;
        lastT = tb;
      }
    }
    if (counter && useA !== lastUseA && hasLast) {
      if (aok && lastV > av[ia]! + errA) errA += lastV - (av[ia]! + errA);
      if (bok && lastV > bv[ib]! + errB) errB += lastV - (bv[ib]! + errB);
    }
    if (!ok) break;
    if (n === ot.length) {
      const nt = new Float64Array(n * 2);
      nt.set(ot);
      ot = nt;
      const nv = new Float64Array(n * 2);
      nv.set(ov);
      ov = nv;
    }
    ot[n] = lastT;
    ov[n] = useA ? av[ia]! + errA : bv[ib]! + errB;
    n++;
  }
  return { t: ot, v: ov, n };
}

/** Penalty-based merge of replicas of one series (order matters: the earlier replica wins ties). */
export function penaltyMerge(replicas: readonly Samples[], func?: string): Samples {
  if (replicas.length === 2 && !replicas[0]!.h && !replicas[1]!.h) return penaltyMerge2(replicas[0]!, replicas[1]!, isCounterFunc(func));
  return penaltyMergeGeneric(replicas, func);
}

/** The iterator-based penalty merge for any number of replicas (pairwise chaining). */
export function penaltyMergeGeneric(replicas: readonly Samples[], func?: string): Samples {
  if (replicas.length === 0) return { t: new Float64Array(0), v: new Float64Array(0), n: 0 };
  const counter = isCounterFunc(func);
  let it: AdjustableIterator = new ArrayIterator(replicas[0]!, counter);
  let cap = replicas[0]!.n;
  for (let i = 1; i < replicas.length; i++) {
    it = new PenaltyIterator(it, new ArrayIterator(replicas[i]!, counter));
    cap = Math.max(cap, replicas[i]!.n);
  }
  if (replicas.length === 1) return replicas[0]!; // a lone replica is passed through untouched
  return collect(it, cap, replicas.some((r) => r.h));
}

/** 1:1 merge: every timestamp once, taking the sample of the earliest replica that has it. */
export function chainMerge(replicas: readonly Samples[]): Samples {
  if (replicas.length === 1) return replicas[0]!;
  let total = 0;
  for (const r of replicas) total += r.n;
  const t = new Float64Array(Math.max(total, 1));
  const v = new Float64Array(Math.max(total, 1));
  const h: (FloatHistogram | undefined)[] | undefined = replicas.some((r) => r.h) ? [] : undefined;
  const pos = new Array<number>(replicas.length).fill(0);
  let n = 0;
  for (;;) {
    let best = -1;
    let bestT = Infinity;
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[i]!;
      if (pos[i]! < r.n && r.t[pos[i]!]! < bestT) {
        bestT = r.t[pos[i]!]!;
        best = i;
      }
    }
    if (best < 0) break;
    t[n] = bestT;
    v[n] = replicas[best]!.v[pos[best]!]!;
    if (h) h.push(replicas[best]!.h?.[pos[best]!]);
    n++;
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[i]!;
      while (pos[i]! < r.n && r.t[pos[i]!]! <= bestT) pos[i]!++;
    }
  }
  return h ? { t: t.subarray(0, n), v: v.subarray(0, n), n, h } : { t: t.subarray(0, n), v: v.subarray(0, n), n };
}

/** Merges the samples of replicas of one series with the chosen algorithm. */
export function mergeReplicas(replicas: readonly Samples[], opts: DedupOptions = {}): Samples {
  return (opts.algorithm ?? 'penalty') === 'chain' ? chainMerge(replicas) : penaltyMerge(replicas, opts.func);
}

/** Splits a label set into (labels without replica labels, replica labels). */
export function splitReplicaLabels(ls: Labels, replicaLabels: ReadonlySet<string>): { rest: Label[]; replica: Label[] } {
  const rest: Label[] = [];
  const replica: Label[] = [];
  for (const l of ls) (replicaLabels.has(l.name) ? replica : rest).push(l);
  return { rest, replica };
}

/**
 * Deduplicates a set of series: drops the replica labels, groups series whose remaining labels are
 * equal (replicas ordered by their replica label values) and merges each group. The result is
 * sorted by labels. A series without any replica label takes part like any other replica.
 */
export function dedupSeriesSet(series: readonly SeriesData[], replicaLabels: Iterable<string>, opts: DedupOptions = {}): SeriesData[] {
  const rl = new Set(replicaLabels);
  if (rl.size === 0) return [...series].sort((a, b) => compareLabels(a.labels, b.labels));
  const items = series.map((s) => ({ s, ...splitReplicaLabels(s.labels, rl) }));
  items.sort((x, y) => compareLabels(x.rest, y.rest) || compareLabels(x.replica, y.replica));
  const out: SeriesData[] = [];
  for (let i = 0; i < items.length; ) {
    let j = i + 1;
    while (j < items.length && compareLabels(items[i]!.rest, items[j]!.rest) === 0) j++;
    const group = items.slice(i, j).map((x) => x.s);
    const merged = group.length === 1 ? group[0]! : mergeReplicas(group, opts);
    const d: SeriesData = { labels: items[i]!.rest, t: merged.t, v: merged.v, n: merged.n };
    if (merged.h) d.h = merged.h;
    out.push(d);
    i = j;
  }
  return out;
}
