// Binary operators: scalar/scalar, vector/scalar, vector/vector with on/ignoring and group_left/right
// matching (a column-wise fast path for one-to-one), comparison filters and bool, set operators.
import type { BinaryExpr, VectorMatching } from '../ast.ts';
import { isComparison } from '../ast.ts';
import { ExecutionError } from '../errors.ts';
import { typeOf } from '../parser.ts';
import { getLabel, labelsEqual, METRIC_NAME, type Labels } from '../../labels/mod.ts';
import type { Evaluator } from './evaluator.ts';
import { delLabels, dropMetricName, hasDuplicateLabels, keepLabels, sameSignature, setLabel, signatureHash } from './helpers.ts';
import type { BinopState, Matrix, Vector } from './types.ts';
import { anno, warn, info } from './annotations.ts';
import { hAdd, hCompact, hDiv, hEquals, hMul, hSub, histErrorKind, type FloatHistogram } from './hist.ts';

export function evalBinary(ev: Evaluator, e: BinaryExpr): Matrix {
  const lt = typeOf(e.lhs);
  const rt = typeOf(e.rhs);
  const op = e.op;
  if (lt === 'scalar' && rt === 'scalar') {
    const l = ev.scalarSteps(e.lhs);
    const r = ev.scalarSteps(e.rhs);
    const n = ev.numSteps();
    const t: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < n; i++) {
      t.push(ev.start + i * ev.interval);
      v.push(scalarBinop(op, l[i]!, r[i]!));
    }
    return [{ metric: [], t, v, dropName: false }];
  }
  if (lt === 'vector' && rt === 'vector') {
    const lm = ev.evalMatrix(e.lhs);
    const rm = ev.evalMatrix(e.rhs);
    const matching = e.matching!;
    const sigL = signatureFn(matching);
    if (op === 'and' || op === 'or' || op === 'unless') {
      return ev.rangeEval([lm, rm], ([l, r]) => vectorSetOp(op, l!, r!, sigL));
    }
    const fast = binopOneToOneColumns(ev, e, lm, rm, matching);
    if (fast) return fast;
    const cache = new Map<Labels, Map<Labels, Labels>>();
    const names = new Set(matching.matchingLabels);
    if (!matching.on) names.add(METRIC_NAME);
    const st: BinopState = { ordOf: new Map(), names, sigOrd: new Map(), sigRep: [], sigStr: null, stamp: 0, rStamp: [], rSample: [], mStamp: [] };
    return ev.rangeEval([lm, rm], ([l, r]) => vectorBinop(ev, e, l!, r!, matching, sigL, cache, st));
  }
  // vector / scalar
  const swap = lt === 'scalar';
  const vm = ev.evalMatrix(swap ? e.rhs : e.lhs);
  const sc = ev.scalarSteps(swap ? e.lhs : e.rhs);
  const changes = changesSchema(op);
  const dropped = new Map<Labels, Labels>();
  const drop = (ls: Labels): Labels => {
    let d = dropped.get(ls);
    if (!d) {
      d = dropMetricName(ls);
      dropped.set(ls, d);
    }
    return d;
  };
  // Column-wise: every point of every series against the scalar at its step.
  {
    const out: Matrix = [];
    const start = ev.start, interval = ev.interval;
    const isCmp = isComparison(op);
    const trimOp = op === '</' || op === '>/';
    for (const s of vm) {
      ev.tick();
      const t: number[] = [];
      const v: number[] = [];
      const sh = s.h;
      let oh: (FloatHistogram | undefined)[] | undefined;
      for (let j = 0; j < s.t.length; j++) {
        const ts = s.t[j]!;
        const rv = sc[Math.round((ts - start) / interval)]!;
        const hj = sh?.[j];
        if (hj !== undefined || trimOp) {
          // Histogram sample against the scalar (Prometheus VectorscalarBinop): only * and / yield.
          const r = swap ? histElemBinop(ev, e, op, rv, NaN, undefined, hj) : histElemBinop(ev, e, op, NaN, rv, hj, undefined);
          if (r === null) continue;
          let val = r.v, hv = r.h, keep = r.keep;
          if (isCmp && swap) { val = rv; hv = hj; }
          if (e.returnBool) { val = keep ? 1 : 0; hv = undefined; keep = true; }
          if (!keep) continue;
          if (hv) (oh ??= [])[t.length] = hv;
          t.push(ts);
          v.push(val);
          continue;
        }
        let lf = s.v[j]!, rf = rv;
        if (swap) [lf, rf] = [rf, lf];
        let [val, keep] = vectorElemBinop(op, lf, rf);
        if (isCmp && swap) val = rf;
        if (e.returnBool) {
          val = keep ? 1 : 0;
          keep = true;
        }
        if (!keep) continue;
        t.push(ts);
        v.push(val);
      }
      if (!t.length) continue;
      let metric = s.metric;
      let dropName = s.dropName;
      if (changes || e.returnBool) {
        if (!ev.o.delayed) metric = drop(metric);
        dropName = true;
      }
      if (oh) {
        oh.length = t.length;
        out.push({ metric, t, v, h: oh, dropName });
      } else out.push({ metric, t, v, dropName });
    }
    if (ev.start === ev.end) {
      if (!ev.o.delayed && hasDuplicateLabels(out)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
      return out;
    }
    return hasDuplicateLabels(out) ? ev.mergeSameLabels(out) : out;
  }
  return ev.rangeEval([vm], ([vec], ts) => {
    const rv = sc[ev.stepIndex(ts)]!;
    const out: Vector = [];
    for (const s of vec!) {
      let lf = s.v, rf = rv;
      if (swap) [lf, rf] = [rf, lf];
      let [val, keep] = vectorElemBinop(op, lf, rf);
      if (isComparison(op) && swap) val = rf;
      if (e.returnBool) {
        val = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      let metric = s.metric;
      let dropName = s.dropName;
      if (changes || e.returnBool) {
        if (!ev.o.delayed) metric = drop(metric);
        dropName = true;
      }
      out.push({ metric, t: ts, v: val, dropName });
    }
    return out;
  });
}

/**
 * One-to-one arithmetic/comparison when the match signatures are unique on both sides (so no
 * per-step matching errors are possible): a merge join of each matched series pair. Returns null
 * when the general per-step path is needed.
 */
export function binopOneToOneColumns(ev: Evaluator, e: BinaryExpr, lm: Matrix, rm: Matrix, matching: VectorMatching): Matrix | null {
  if (matching.card !== 'one-to-one') return null;
  // Signatures as hashes of the matched labels, checked label by label on a match: no signature
  // string (and WeakMap entry) per series. Two series of one side with one hash (a repeated
  // signature, or two signatures colliding) leave the match to vectorBinop, as a repeated
  // signature string did.
  const matchSet = new Set(matching.matchingLabels);
  const on = matching.on;
  if (!on) matchSet.add(METRIC_NAME);
  const rIdx = new Map<number, number>();
  for (let j = 0; j < rm.length; j++) {
    const k = signatureHash(rm[j]!.metric, matchSet, on);
    if (rIdx.has(k)) return null;
    rIdx.set(k, j);
  }
  const seenL = new Set<number>();
  const lSig: number[] = new Array(lm.length);
  for (let i = 0; i < lm.length; i++) {
    const k = signatureHash(lm[i]!.metric, matchSet, on);
    if (seenL.has(k)) return null;
    seenL.add(k);
    lSig[i] = k;
  }
  if (!on) matchSet.delete(METRIC_NAME);
  const op = e.op;
  const dropName = !ev.o.delayed && e.returnBool;
  const out: Matrix = [];
  for (let i = 0; i < lm.length; i++) {
    ev.tick();
    const j = rIdx.get(lSig[i]!);
    if (j === undefined) continue;
    const ls = lm[i]!, rs = rm[j]!;
    // equal hashes of different signatures: no match (the right side's hashes are all distinct)
    if (!sameSignature(ls.metric, rs.metric, matchSet, on)) continue;
    const t: number[] = [];
    const v: number[] = [];
    let a = 0, b = 0;
    const lt = ls.t, rt = rs.t;
    const lh = ls.h, rh = rs.h;
    let oh: (FloatHistogram | undefined)[] | undefined;
    while (a < lt.length && b < rt.length) {
      const ta = lt[a]!, tb = rt[b]!;
      if (ta < tb) { a++; continue; }
      if (tb < ta) { b++; continue; }
      const ha = lh?.[a], hb = rh?.[b];
      if (ha !== undefined || hb !== undefined || op === '</' || op === '>/') {
        const r = histElemBinop(ev, e, op, ls.v[a]!, rs.v[b]!, ha, hb);
        a++;
        b++;
        if (r === null) continue;
        if (e.returnBool) {
          t.push(ta);
          v.push(r.keep ? 1 : 0);
        } else if (r.keep) {
          if (r.h) (oh ??= [])[t.length] = r.h;
          t.push(ta);
          v.push(r.v);
        }
        continue;
      }
      let [val, keep] = vectorElemBinop(op, ls.v[a]!, rs.v[b]!);
      if (e.returnBool) val = keep ? 1 : 0;
      if (keep || e.returnBool) {
        t.push(ta);
        v.push(val);
      }
      a++;
      b++;
    }
    if (!t.length) continue;
    let metric = ls.metric;
    if (dropName || changesSchema(op)) metric = dropMetricName(metric);
    metric = matching.on ? keepLabels(metric, matchSet) : delLabels(metric, matchSet);
    if (oh) {
      oh.length = t.length;
      out.push({ metric, t, v, h: oh, dropName: e.returnBool });
    } else out.push({ metric, t, v, dropName: e.returnBool });
  }
  if (ev.start === ev.end) {
    if (!ev.o.delayed && hasDuplicateLabels(out)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
    return out;
  }
  return hasDuplicateLabels(out) ? ev.mergeSameLabels(out) : out;
}

export function vectorBinop(ev: Evaluator, e: BinaryExpr, lhs: Vector, rhs: Vector, matching: VectorMatching, sig: (l: Labels) => string, cache: Map<Labels, Map<Labels, Labels>>, st: BinopState): Vector {
  if (lhs.length === 0 || rhs.length === 0) return [];
  const op = e.op;
  const oneToMany = matching.card === 'one-to-many';
  if (oneToMany) [lhs, rhs] = [rhs, lhs];
  // A match signature's ordinal, by a 52-bit hash of the matched labels checked label by label
  // against the ordinal's label set (no signature string per series); a signature whose hash an
  // earlier, different one holds (a collision) is looked up by its signature string.
  const on = matching.on;
  const newOrd = (ls: Labels): number => {
    st.sigRep.push(ls);
    st.rStamp.push(0);
    st.rSample.push(null);
    st.mStamp.push(0);
    return st.sigRep.length - 1;
  };
  const ordOf = (ls: Labels): number => {
    let o = st.ordOf.get(ls);
    if (o === undefined) {
      const h = signatureHash(ls, st.names, on);
      o = st.sigOrd.get(h);
      if (o === undefined) {
        o = newOrd(ls);
        st.sigOrd.set(h, o);
      } else if (!sameSignature(st.sigRep[o]!, ls, st.names, on)) {
        const k = sig(ls);
        const bySig = (st.sigStr ??= new Map());
        o = bySig.get(k);
        if (o === undefined) {
          o = newOrd(ls);
          bySig.set(k, o);
        }
      }
      st.ordOf.set(ls, o);
    }
    return o;
  };
  const stamp = ++st.stamp;
  for (const rs of rhs) {
    const k = ordOf(rs.metric);
    const dup = st.rStamp[k] === stamp ? st.rSample[k]! : null;
    st.rStamp[k] = stamp;
    st.rSample[k] = rs;
    if (dup) {
      const side = oneToMany ? 'left' : 'right';
      const matched = formatLabelsBraces(matchLabels(rs.metric, matching));
      throw new ExecutionError(
        `found duplicate series for the match group ${matched} on the ${side} hand-side of the operation: [${formatLabelsBraces(dup.metric)}, ${formatLabelsBraces(rs.metric)}];many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
  }
  const matchedMany = new Map<number, Map<number, Labels | Collided>>();
  const out: Vector = [];
  const include = new Set(matching.include);
  const matchSet = new Set(matching.matchingLabels);
  const multiStep = ev.start !== ev.end;
  for (const ls of lhs) {
    const k = ordOf(ls.metric);
    if (st.rStamp[k] !== stamp) continue;
    const rs = st.rSample[k]!;
    let fl = ls.v, fr = rs.v;
    let hl = ls.h, hr = rs.h;
    if (oneToMany) {
      [fl, fr] = [fr, fl];
      [hl, hr] = [hr, hl];
    }
    let val: number, keep: boolean;
    let hv: FloatHistogram | undefined;
    if (hl !== undefined || hr !== undefined || op === '</' || op === '>/') {
      const r = histElemBinop(ev, e, op, fl, fr, hl, hr);
      if (r === null) continue;
      val = r.v;
      keep = r.keep;
      hv = r.h;
    } else [val, keep] = vectorElemBinop(op, fl, fr);
    if (e.returnBool) {
      val = keep ? 1 : 0;
      hv = undefined;
    }
    const dropName = !ev.o.delayed && e.returnBool;
    // result metric (cached per pair of input label sets across steps; an instant query has one
    // step, where the cache was only a Map entry and a Map per lhs series)
    let byR: Map<Labels, Labels> | undefined;
    let metric: Labels | undefined;
    if (multiStep) {
      byR = cache.get(ls.metric);
      if (!byR) {
        byR = new Map();
        cache.set(ls.metric, byR);
      }
      metric = byR.get(rs.metric);
    }
    if (metric === undefined) {
      metric = ls.metric;
      if (dropName || changesSchema(op)) metric = dropMetricName(metric);
      if (matching.card === 'one-to-one') {
        metric = matching.on ? keepLabels(metric, matchSet) : delLabels(metric, matchSet);
      }
      for (const ln of include) metric = setLabel(metric, ln, getLabel(rs.metric, ln));
      byR?.set(rs.metric, metric);
    }
    if (matching.card === 'one-to-one') {
      if (st.mStamp[k] === stamp) throw new ExecutionError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
      st.mStamp[k] = stamp;
    } else {
      let seen = matchedMany.get(k);
      if (!seen) {
        seen = new Map();
        matchedMany.set(k, seen);
      }
      if (!firstResultOfGroup(seen, metric)) throw new ExecutionError('multiple matches for labels: grouping labels must ensure unique matches');
    }
    if (!keep && !e.returnBool) continue;
    out.push(hv ? { metric, t: ls.t, v: 0, h: hv, dropName: e.returnBool } : { metric, t: ls.t, v: val, dropName: e.returnBool });
  }
  return out;
}

/** Result label sets of one match group that share a hash (rare): kept apart from a single Labels. */
class Collided {
  constructor(readonly list: Labels[]) {}
}

/** FNV-1a over the label names and values (with separators): a group's result sets, hashed without building a key string. */
function hashLabels(ls: Labels): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ls.length; i++) {
    const { name, value } = ls[i]!;
    for (let j = 0; j < name.length; j++) h = Math.imul(h ^ name.charCodeAt(j), 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
    for (let j = 0; j < value.length; j++) h = Math.imul(h ^ value.charCodeAt(j), 0x01000193);
    h = Math.imul(h ^ 0xfe, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Records a result label set of a many-to-one / one-to-many match group; false when the group
 * already produced an equal one (Prometheus's matchedSigs[sig][insertSig] check). Keyed by a hash
 * and verified with labelsEqual: a key string per lhs series (labelsKey) and a Set per group were
 * a fifth of a 10k-series group_left join's time.
 */
function firstResultOfGroup(seen: Map<number, Labels | Collided>, metric: Labels): boolean {
  const h = hashLabels(metric);
  const prev = seen.get(h);
  if (prev === undefined) {
    seen.set(h, metric);
    return true;
  }
  if (prev instanceof Collided) {
    for (const x of prev.list) if (labelsEqual(x, metric)) return false;
    prev.list.push(metric);
    return true;
  }
  if (labelsEqual(prev, metric)) return false;
  seen.set(h, new Collided([prev, metric]));
  return true;
}

function scalarBinop(op: string, l: number, r: number): number {
  switch (op) {
    case '+': return l + r;
    case '-': return l - r;
    case '*': return l * r;
    case '/': return l / r;
    case '^': return goPow(l, r);
    case '%': return goMod(l, r);
    case '==': return l === r ? 1 : 0;
    case '!=': return l !== r ? 1 : 0;
    case '>': return l > r ? 1 : 0;
    case '<': return l < r ? 1 : 0;
    case '>=': return l >= r ? 1 : 0;
    case '<=': return l <= r ? 1 : 0;
    case 'atan2': return Math.atan2(l, r);
  }
  throw new ExecutionError(`operator ${JSON.stringify(op)} not allowed for Scalar operations`);
}

function vectorElemBinop(op: string, l: number, r: number): [number, boolean] {
  switch (op) {
    case '+': return [l + r, true];
    case '-': return [l - r, true];
    case '*': return [l * r, true];
    case '/': return [l / r, true];
    case '^': return [goPow(l, r), true];
    case '%': return [goMod(l, r), true];
    case '==': return [l, l === r];
    case '!=': return [l, l !== r];
    case '>': return [l, l > r];
    case '<': return [l, l < r];
    case '>=': return [l, l >= r];
    case '<=': return [l, l <= r];
    case 'atan2': return [Math.atan2(l, r), true];
  }
  throw new ExecutionError(`operator ${JSON.stringify(op)} not allowed for operations between Vectors`);
}

/** Go math.Pow differs from JS for a few special cases (1 ** NaN, (-1) ** ±Inf). */
function goPow(x: number, y: number): number {
  if (y === 0) return 1;
  if (x === 1) return 1;
  if ((y === Infinity || y === -Infinity) && x === -1) return 1;
  return Math.pow(x, y);
}

/** Go math.Mod: result has the sign of x (same as JS %). */
function goMod(x: number, y: number): number {
  return x % y;
}

function changesSchema(op: string): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '^' || op === '%' || op === 'atan2';
}

function signatureFn(m: VectorMatching): (l: Labels) => string {
  const names = new Set(m.matchingLabels);
  const cache = new WeakMap<Labels, string>();
  if (m.on) {
    return (ls) => {
      let s = cache.get(ls);
      if (s === undefined) {
        s = '';
        for (const l of ls) if (names.has(l.name)) s += l.name + '\xff' + l.value + '\xff';
        cache.set(ls, s);
      }
      return s;
    };
  }
  names.add(METRIC_NAME);
  return (ls) => {
    let s = cache.get(ls);
    if (s === undefined) {
      s = '';
      for (const l of ls) if (!names.has(l.name)) s += l.name + '\xff' + l.value + '\xff';
      cache.set(ls, s);
    }
    return s;
  };
}

function matchLabels(ls: Labels, m: VectorMatching): Labels {
  const names = new Set(m.matchingLabels);
  if (m.on) return ls.filter((l) => names.has(l.name));
  return ls.filter((l) => !names.has(l.name) && l.name !== METRIC_NAME);
}

function formatLabelsBraces(ls: Labels): string {
  return `{${ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ')}}`;
}

function vectorSetOp(op: string, lhs: Vector, rhs: Vector, sig: (l: Labels) => string): Vector {
  switch (op) {
    case 'and': {
      if (lhs.length === 0 || rhs.length === 0) return [];
      const rs = new Set(rhs.map((s) => sig(s.metric)));
      return lhs.filter((s) => rs.has(sig(s.metric)));
    }
    case 'or': {
      if (lhs.length === 0) return rhs;
      if (rhs.length === 0) return lhs;
      const ls = new Set(lhs.map((s) => sig(s.metric)));
      return lhs.concat(rhs.filter((s) => !ls.has(sig(s.metric))));
    }
    case 'unless': {
      if (lhs.length === 0 || rhs.length === 0) return lhs;
      const rs = new Set(rhs.map((s) => sig(s.metric)));
      return lhs.filter((s) => !rs.has(sig(s.metric)));
    }
  }
  return [];
}

/**
 * One element operation where at least one side is a native histogram (Prometheus vectorElemBinop):
 * histogram * float, float * histogram, histogram / float, histogram ± histogram, and == / != between
 * histograms. Everything else is dropped with the "incompatible sample types" info; incompatible
 * bucket layouts are dropped with a warning. Returns null for a dropped sample.
 */
export function histElemBinop(ev: Evaluator, e: BinaryExpr, op: string, lf: number, rf: number, lh: FloatHistogram | undefined, rh: FloatHistogram | undefined): { v: number; h: FloatHistogram | undefined; keep: boolean } | null {
  if (lh === undefined && rh === undefined) {
    // Only the trim operators come here with two floats: they apply to histograms only.
    info(ev, anno.incompatibleTypesBinop('float', op, 'float'), e);
    return null;
  }
  if (lh === undefined && rh !== undefined) {
    if (op === '*') return { v: 0, h: hCompact(hMul(rh.copy(), lf), 0), keep: true };
    info(ev, anno.incompatibleTypesBinop('float', op, 'histogram'), e);
    return null;
  }
  if (lh !== undefined && rh === undefined) {
    if (op === '*') return { v: 0, h: hCompact(hMul(lh.copy(), rf), 0), keep: true };
    if (op === '/') return { v: 0, h: hCompact(hDiv(lh.copy(), rf), 0), keep: true };
    if (op === '</' || op === '>/') return { v: 0, h: lh.copy().trimBuckets(rf, op === '</'), keep: true };
    info(ev, anno.incompatibleTypesBinop('histogram', op, 'float'), e);
    return null;
  }
  const l = lh!, r = rh!;
  switch (op) {
    case '+':
    case '-': {
      const res = l.copy();
      let flags;
      try {
        flags = op === '+' ? hAdd(res, r) : hSub(res, r);
      } catch (err) {
        if (histErrorKind(err) === 'incompatible-schema') {
          warn(ev, anno.incompatibleLayoutBinop(op), e);
          return null;
        }
        throw err;
      }
      if (op === '-') res.counterResetHint = 'gauge';
      if (flags.counterResetCollision) {
        // Prometheus returns the collision as the operation's error: the sample is dropped.
        warn(ev, anno.counterResetCollision(op === '+' ? 'addition' : 'subtraction'), e);
        return null;
      }
      if (flags.nhcbBoundsReconciled) info(ev, anno.mismatchedCustomBuckets(op === '+' ? 'addition' : 'subtraction'), e);
      return { v: 0, h: hCompact(res, 0), keep: true };
    }
    case '==':
      return { v: 0, h: l, keep: hEquals(l, r) };
    case '!=':
      return { v: 0, h: l, keep: !hEquals(l, r) };
  }
  info(ev, anno.incompatibleTypesBinop('histogram', op, 'histogram'), e);
  return null;
}
