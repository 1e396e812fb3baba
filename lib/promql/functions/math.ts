// Math on instant vectors: per-sample functions (abs, ln, sin, ...) for the elementwise kernel, and
// clamp/clamp_min/clamp_max/round with their scalar arguments.
import type { Call } from '../ast.ts';
import type { Evaluator } from '../engine/evaluator.ts';
import type { Matrix, Vector } from '../engine/types.ts';
import { dropHistogramSamples, type CallKernel } from '../engine/calls.ts';

export const sgn = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : x);
export const deg = (x: number): number => (x * 180) / Math.PI;
export const rad = (x: number): number => (x * Math.PI) / 180;

/** clamp(v, min, max), clamp_min(v, min), clamp_max(v, max), round(v, to_nearest=1). */
export function clampOrRound(ev: Evaluator, e: Call): Matrix {
  const name = e.func;
  // Prometheus's clamp/round skip histogram samples.
  const m = dropHistogramSamples(ev.evalMatrix(e.args[0]!));
  const s1 = e.args[1] ? ev.scalarSteps(e.args[1]) : null;
  const s2 = e.args[2] ? ev.scalarSteps(e.args[2]) : null;
  return ev.rangeEval([m], ([vec], ts) => {
    const i = ev.stepIndex(ts);
    const a = s1 ? s1[i]! : 1;
    const b = s2 ? s2[i]! : 0;
    if (name === 'clamp' && b < a) return [];
    const out: Vector = [];
    for (const s of vec!) {
      let f: number;
      if (name === 'clamp') f = Math.max(a, Math.min(b, s.v));
      else if (name === 'clamp_min') f = Math.max(a, s.v);
      else if (name === 'clamp_max') f = Math.min(a, s.v);
      else {
        const inv = 1 / a;
        f = Math.floor(s.v * inv + 0.5) / inv;
      }
      if (name !== 'round' && (Number.isNaN(a) || Number.isNaN(b))) f = NaN;
      out.push(ev.mapName(s, f));
    }
    return out;
  });
}

/** min_of(a, b) / max_of(a, b) over two scalars (experimental; Go math.Min/Max: NaN wins). */
export function scalarPair(f: (a: number, b: number) => number): CallKernel {
  return (ev, e) => {
    const a = ev.scalarSteps(e.args[0]!);
    const b = ev.scalarSteps(e.args[1]!);
    const t: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < a.length; i++) {
      t.push(ev.start + i * ev.interval);
      v.push(f(a[i]!, b[i]!));
    }
    return [{ metric: [], t, v, dropName: false }];
  };
}
