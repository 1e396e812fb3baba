// info(v [, data-label-selector]) (experimental, Prometheus promql/info.go): adds the data labels of
// the info series (default target_info) that share v's identifying labels (instance, job). The info
// series are selected during evaluation, once v is known (fetchInfoSeries, called by the driver),
// with the identifying label values of v as matchers, as Prometheus does.
import type { Call, Expr, VectorSelector } from '../ast.ts';
import { ExecutionError } from '../errors.ts';
import type { Evaluator } from '../engine/evaluator.ts';
import { labelsKey, toRaw } from '../engine/helpers.ts';
import { evalVectorSelector } from '../engine/selectors.ts';
import type { Matrix, Sample, Vector } from '../engine/types.ts';
import { compileMatcher, getLabel, METRIC_NAME, type CompiledMatcher, type Label, type Labels, type Matcher } from '../../labels/mod.ts';
import { walk } from '../walk.ts';

const TARGET_INFO = 'target_info';
const IDENTIFYING = ['instance', 'job'];

/** Per info() call: the synthetic selector its info series were loaded under, and how to combine. */
export interface InfoPlan {
  vs: VectorSelector | null;
  ignore: Set<string>;
  dataMatchers: Map<string, CompiledMatcher[]>;
}

function effectiveNameMatchers(ms: Matcher[]): Matcher[] {
  if (ms.some((m) => m.type === '=' || m.type === '=~')) return ms;
  if (ms.length) return [{ type: '=~', name: METRIC_NAME, value: '.+_info' }, ...ms];
  return [{ type: '=', name: METRIC_NAME, value: TARGET_INFO }];
}

/** The @ time and offset of the first selector in the info() argument (Prometheus infoSelectTimestampAndOffset). */
function timestampAndOffset(e: Expr): { at: number | null; offset: number } {
  let res: { at: number | null; offset: number } | null = null;
  walk(e, (n, path) => {
    if (res || n.type !== 'VectorSelector') return res ? false : undefined;
    let at = n.at;
    let offset = n.offset;
    for (let i = path.length - 1; at === null && i >= 0; i--) {
      const p = path[i]!;
      if (p.type === 'SubqueryExpr') {
        offset += p.offset;
        at = p.at;
      }
    }
    res = { at, offset };
    return false;
  });
  return res ?? { at: null, offset: 0 };
}

const quoteMeta = (s: string) => s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');

/** Selects the info series for call e once its first argument `mat` is computed (async: a storage read). */
export async function fetchInfoSeries(ev: Evaluator, e: Call, mat: Matrix): Promise<void> {
  const dataMatchers = new Map<string, CompiledMatcher[]>();
  let nameMatchers: Matcher[] = [];
  let u = e.args[1];
  while (u && u.type === 'ParenExpr') u = u.expr;
  if (u && u.type === 'VectorSelector') {
    for (const m of u.matchers) {
      const list = dataMatchers.get(m.name) ?? [];
      list.push(compileMatcher(m));
      dataMatchers.set(m.name, list);
      if (m.name === METRIC_NAME) nameMatchers.push(m);
    }
  } else nameMatchers = [{ type: '=', name: METRIC_NAME, value: TARGET_INFO }];
  const effective = effectiveNameMatchers(nameMatchers).map(compileMatcher);
  const ignore = new Set<string>();
  for (const s of mat) {
    const name = getLabel(s.metric, METRIC_NAME);
    if (effective.every((m) => m.matches(name))) ignore.add(labelsKey(s.metric));
  }
  const idValues = new Map<string, Set<string>>();
  for (const s of mat) {
    if (ignore.has(labelsKey(s.metric))) continue;
    for (const l of IDENTIFYING) {
      const v = getLabel(s.metric, l);
      if (v === '') continue;
      let set = idValues.get(l);
      if (!set) idValues.set(l, (set = new Set()));
      set.add(v);
    }
  }
  // Data-label matchers on __name__ only pick the info metric.
  const plainData = new Map<string, CompiledMatcher[]>();
  for (const [k, v] of dataMatchers) if (k !== METRIC_NAME) plainData.set(k, v);
  const plan: InfoPlan = { vs: null, ignore, dataMatchers: plainData };
  ev.shared.infoPlans.set(e, plan);
  if (idValues.size === 0) return;
  const matchers: Matcher[] = [];
  for (const [name, vals] of idValues) matchers.push({ type: '=~', name, value: [...vals].map(quoteMeta).join('|') });
  const names: Matcher[] = [];
  for (const ms of dataMatchers.values()) {
    for (const m of ms) {
      if (m.name === METRIC_NAME) names.push({ type: m.type, name: m.name, value: m.value });
      else matchers.push({ type: m.type, name: m.name, value: m.value });
    }
  }
  matchers.push(...effectiveNameMatchers(names));
  const { at, offset } = timestampAndOffset(e.args[0]!);
  const q = ev.shared.queryable;
  if (!q) throw new ExecutionError('info(): no storage to select info series from');
  const start = (at ?? ev.start) - (ev.o.lookback - 1) - offset;
  const end = (at ?? ev.end) - offset;
  const res = await q.select(matchers, { start, end, step: ev.interval, func: 'info' }, ev.o.signal);
  for (const w of res.warnings ?? []) ev.shared.warnings.add(w);
  const vs: VectorSelector = { type: 'VectorSelector', name: '', matchers, offset, at, atModifier: null, pos: e.pos };
  ev.shared.data.set(vs, res.series.map((s) => toRaw(s)));
  plan.vs = vs;
}

function sigOf(name: string, ls: Labels): string {
  let k = `${name}\xff`;
  for (const l of IDENTIFYING) {
    const v = getLabel(ls, l);
    if (v !== '') k += `${l}\xff${v}\xff`;
  }
  return k;
}

/** The info() kernel: per step, the base samples with the data labels of their info series. */
export function infoKernel(ev: Evaluator, e: Call): Matrix {
  const mat = ev.evalMatrix(e.args[0]!);
  const plan = ev.shared.infoPlans.get(e);
  if (!plan) throw new ExecutionError('info(): info series were not selected');
  if (plan.vs) {
    // Info series hold float samples; a histogram among them is an error (as in Prometheus).
    for (const r of ev.shared.data.get(plan.vs) ?? []) if (r.h) throw new ExecutionError('info sample should be float');
  }
  const infoMat = plan.vs ? evalVectorSelector(ev, plan.vs, true) : [];
  const infoNames = new Set(infoMat.map((s) => getLabel(s.metric, METRIC_NAME)));
  const baseSigs = new Map<Labels, [string, string][]>();
  for (const s of mat) baseSigs.set(s.metric, [...infoNames].map((n) => [n, sigOf(n, s.metric)]));
  const infoSig = new Map<Labels, string>();
  for (const s of infoMat) infoSig.set(s.metric, sigOf(getLabel(s.metric, METRIC_NAME), s.metric));
  const dm = plan.dataMatchers;
  const allMatchEmpty = [...dm.values()].every((ms) => ms.every((m) => m.matchesEmpty));
  const out = ev.rangeEval([mat, infoMat], ([base, info]) => {
    if (base!.length === 0) return [];
    const bySig = new Map<string, Sample>();
    for (const s of info!) {
      const origT = Math.round(s.v * 1000);
      const sig = infoSig.get(s.metric)!;
      const existing = bySig.get(sig);
      if (!existing) bySig.set(sig, s);
      else {
        const exT = Math.round(existing.v * 1000);
        if (exT < origT) bySig.set(sig, s);
        else if (exT === origT) {
          throw new ExecutionError(`found duplicate series for info metric: existing ${fmt(existing.metric)} @ ${exT}, new ${fmt(s.metric)} @ ${origT}`);
        }
      }
    }
    const res: Vector = [];
    for (const bs of base!) {
      if (plan.ignore.has(labelsKey(bs.metric))) {
        res.push(bs);
        continue;
      }
      const add = new Map<string, string>();
      const seen = new Set<string>();
      for (const [infoName, sig] of baseSigs.get(bs.metric) ?? []) {
        const is = bySig.get(sig);
        if (!is || seen.has(infoName)) continue;
        for (const l of is.metric) {
          if (l.name === METRIC_NAME) continue;
          if (dm.size > 0 && !dm.has(l.name)) continue;
          const cur = add.get(l.name);
          if (cur !== undefined && cur !== l.value) throw new ExecutionError(`conflicting label: ${l.name}`);
          if (getLabel(bs.metric, l.name) !== '') continue;
          add.set(l.name, l.value);
        }
        seen.add(infoName);
      }
      if (seen.size === 0 && !allMatchEmpty) continue;
      let metric = bs.metric;
      if (add.size) {
        const ls: Label[] = [...bs.metric];
        for (const [name, value] of add) ls.push({ name, value });
        ls.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        metric = ls;
      }
      res.push({ ...bs, metric });
    }
    return res;
  });
  return out;
}

function fmt(ls: Labels): string {
  return `{${ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ')}}`;
}
