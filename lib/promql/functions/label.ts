// Label functions: label_replace, label_join, sort_by_label, sort_by_label_desc.
import type { Call } from '../ast.ts';
import { ExecutionError } from '../errors.ts';
import type { Evaluator } from '../engine/evaluator.ts';
import { hasDuplicateLabels, isValidLabelName, setLabel } from '../engine/helpers.ts';
import type { Matrix } from '../engine/types.ts';
import { compareLabels, compileRegex, getLabel, METRIC_NAME, type Labels, type Regex } from '../../labels/mod.ts';

export function labelReplace(ev: Evaluator, e: Call): Matrix {
  const delayed = ev.o.delayed;
  const m = ev.evalMatrix(e.args[0]!);
  const [dst, repl, src, regex] = e.args.slice(1).map((a) => (ev.eval(a) as { str: string }).str) as [string, string, string, string];
  let re: Regex;
  try {
    re = compileRegex(regex);
  } catch {
    throw new ExecutionError(`invalid regular expression in label_replace(): ${regex}`);
  }
  if (!isValidLabelName(dst)) throw new ExecutionError(`invalid destination label name in label_replace(): ${dst}`);
  const cache = new Map<Labels, Labels>();
  for (const s of m) {
    let out = cache.get(s.metric);
    if (!out) {
      const srcVal = getLabel(s.metric, src);
      const match = re.exec(srcVal);
      out = s.metric;
      if (match) {
        const res = re.expand(repl, match);
        out = setLabel(s.metric, dst, res);
      }
      cache.set(s.metric, out);
    }
    if (dst === METRIC_NAME && out !== s.metric) s.dropName = false;
    s.metric = out;
  }
  if (!delayed && hasDuplicateLabels(m)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
  return m;
}

export function labelJoin(ev: Evaluator, e: Call): Matrix {
  const delayed = ev.o.delayed;
  const m = ev.evalMatrix(e.args[0]!);
  const strs = e.args.slice(1).map((a) => (ev.eval(a) as { str: string }).str);
  const [dst, sep, ...srcs] = strs as [string, string, ...string[]];
  if (!isValidLabelName(dst)) throw new ExecutionError(`invalid destination label name in label_join(): ${dst}`);
  for (const l of srcs) if (!isValidLabelName(l)) throw new ExecutionError(`invalid source label name in label_join(): ${l}`);
  for (const s of m) {
    const val = srcs.map((l) => getLabel(s.metric, l)).join(sep);
    const nm = setLabel(s.metric, dst, val);
    if (dst === METRIC_NAME) s.dropName = false;
    s.metric = nm;
  }
  if (!delayed && hasDuplicateLabels(m)) throw new ExecutionError('vector cannot contain metrics with the same labelset');
  return m;
}

/** sort_by_label / sort_by_label_desc (experimental): natural order of the given labels, then all labels. */
export function sortByLabel(ev: Evaluator, e: Call): Matrix {
  const name = e.func;
  if (ev.o.queryStart !== ev.o.queryEnd) ev.warnings.add(`PromQL warning: sort is ineffective for range queries since results are always ordered by labels${ev.pos(e)}`);
  const m = ev.evalMatrix(e.args[0]!);
  const labels = e.args.slice(1).map((a) => (ev.eval(a) as { str: string }).str);
  const desc = name === 'sort_by_label_desc';
  return ev.rangeEval([m], ([vec]) => {
    const out = vec!.slice();
    out.sort((a, b) => {
      for (const l of labels) {
        const c = naturalCompare(getLabel(a.metric, l), getLabel(b.metric, l));
        if (c !== 0) return desc ? -c : c;
      }
      const c = compareLabels(a.metric, b.metric);
      return desc ? -c : c;
    });
    return out;
  });
}

function naturalCompare(a: string, b: string): number {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!, y = pb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x), ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
