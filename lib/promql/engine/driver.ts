// The asynchronous evaluation driver. The operators and function kernels are synchronous and take
// their operands through `ev.eval(child)`; this driver computes every operand first (post-order,
// one node at a time) and hands it over through `Shared.pre`, so a kernel's `ev.eval(child)` is a
// lookup, never a recursion. That gives three properties the synchronous recursive walk lacked:
//  - the event loop is never held longer than one node's work on one chunk of steps: between nodes
//    the driver awaits, and once a time slice is used up it yields a macrotask turn (setImmediate),
//    so /-/healthy, other queries and store streams proceed while a heavy query runs;
//  - cancellation (client gone, --query.timeout) is seen between nodes and inside kernels (tick());
//  - the JavaScript stack stays shallow whatever the expression's depth: every node starts with an
//    `await`, which unwinds the stack to the microtask loop (suspended frames live on the heap).
// Why not a worker pool: evaluation would need the preloaded series copied (or transferred) to a
// worker and the result copied back, worker_threads behave differently on Node, Deno and Bun, and a
// pool does not bound a single query's work anyway; cooperative yielding does, on every runtime.
//
// Heavy levels are cut into chunks of steps: a subquery at `[1h:1ms]` or a long range query is
// evaluated a few thousand steps at a time (each step of a PromQL level is independent of the
// others, so the concatenation is the same answer), merged, and counted against --query.max-samples
// as it grows, before anything larger is materialised.
import type { Call, Expr, SubqueryExpr } from '../ast.ts';
import { TooManySamplesError } from '../errors.ts';
import type { Evaluator } from './evaluator.ts';
import { labelsKey } from './helpers.ts';
import type { Matrix, Series, Value } from './types.ts';
import { fetchInfoSeries } from '../functions/info.ts';
import type { FloatHistogram } from '../../histogram/float.ts';

/** Longest stretch of synchronous work before the driver yields to the event loop (ms). */
export const SLICE_MS = 10;
/** A level whose steps x series stay below this is evaluated in one piece (no chunking). */
const CHUNK_THRESHOLD = 1_000_000;
/** Target samples per chunk when a level is chunked. */
const CHUNK_SAMPLES = 100_000;
/** Fewest steps per chunk (chunks re-evaluate nested subquery ranges; tiny chunks would multiply that). */
const MIN_CHUNK_STEPS = 64;

const setImmediateCompat: (f: () => void) => unknown =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (f) => (globalThis as unknown as { setImmediate: (f: () => void) => unknown }).setImmediate(f)
    : (f) => setTimeout(f, 0);

/** Awaited before every node: unwinds the stack; yields a macrotask turn once the slice is used up. */
export async function pause(ev: Evaluator): Promise<void> {
  ev.checkAbort();
  const s = ev.shared;
  if (performance.now() - s.sliceStart >= SLICE_MS) {
    await new Promise<void>((r) => setImmediateCompat(r));
    s.sliceStart = performance.now();
    ev.checkAbort();
  } else {
    await undefined;
  }
}

function unwrap(e: Expr): Expr {
  while (e.type === 'ParenExpr') e = e.expr;
  return e;
}

/** The evaluator of a subquery's inner expression: its own step grid, aligned to multiples of the step. */
export function subqueryEvaluator(ev: Evaluator, e: SubqueryExpr): Evaluator {
  const step = e.step || ev.o.subqStep;
  const refStart = (e.at ?? ev.start) - e.offset;
  const refEnd = (e.at ?? ev.end) - e.offset;
  const lo = refStart - e.range;
  let newStart = step * Math.trunc(lo / step);
  if (newStart <= lo) newStart += step;
  return ev.sub(newStart, refEnd, step);
}

/**
 * A step grid with more steps than --query.max-samples cannot be answered within the limit by this
 * column-wise engine (it allocates per-step arrays), so it is refused up front with the max-samples
 * error rather than failing on an impossible allocation ("Invalid array length").
 */
export function checkSteps(ev: Evaluator): void {
  if (ev.numSteps() > ev.o.maxSamples) throw new TooManySamplesError();
}

/** Evaluates e over all steps of ev, chunked when the level is heavy. */
export async function evaluate(ev: Evaluator, e: Expr): Promise<Value> {
  checkSteps(ev);
  const n = ev.numSteps();
  const series = Math.max(1, ev.shared.seriesEstimate);
  if (n * series <= CHUNK_THRESHOLD || n < 2 * MIN_CHUNK_STEPS) return compute(ev, e);
  const per = Math.max(MIN_CHUNK_STEPS, Math.floor(CHUNK_SAMPLES / series));
  const parts: Matrix[] = [];
  let held = 0;
  const budget = ev.o.maxSamples;
  for (let i = 0; i < n; ) {
    let j = Math.min(n, i + per);
    // Never leave a one-step tail: a one-step grid takes the instant-query paths.
    if (n - j < 2) j = n;
    const sub = ev.sub(ev.start + i * ev.interval, ev.start + (j - 1) * ev.interval, ev.interval);
    const v = await compute(sub, e);
    if ('str' in v) return v;
    for (const s of v) held += s.t.length;
    // The merged result is held in full by the caller: count it as it grows.
    if (ev.shared.samples.current + held > budget) throw new TooManySamplesError();
    parts.push(v);
    i = j;
  }
  return mergeChunks(ev, parts);
}

/** Concatenates per-chunk results series by series (same labels and name state, in order of appearance). */
async function mergeChunks(ev: Evaluator, parts: Matrix[]): Promise<Matrix> {
  if (parts.length === 1) return parts[0]!;
  type Acc = { s: Series; ts: number[][]; vs: number[][]; hs: ((FloatHistogram | undefined)[] | undefined)[] };
  const byKey = new Map<string, Acc>();
  const out: Acc[] = [];
  for (const part of parts) {
    // Within one chunk, equal label sets can coexist (delayed name removal): the k-th occurrence
    // continues the k-th occurrence of the previous chunks.
    const seen = new Map<string, number>();
    for (const s of part) {
      const base = `${labelsKey(s.metric)}\xff${s.dropName ? 1 : 0}`;
      const k = (seen.get(base) ?? 0) + 1;
      seen.set(base, k);
      const key = `${base}\xff${k}`;
      let acc = byKey.get(key);
      if (!acc) {
        acc = { s, ts: [], vs: [], hs: [] };
        byKey.set(key, acc);
        out.push(acc);
      }
      acc.ts.push(s.t);
      acc.vs.push(s.v);
      acc.hs.push(s.h);
    }
  }
  // One typed array per series, filled with native copies (element-wise push of millions of samples,
  // or Array concat, takes seconds). Readers of a Series only index and read t/v, and rangeSource
  // takes Float64Arrays as they are.
  const merged: Matrix = [];
  for (const { s, ts, vs, hs } of out) {
    await pause(ev);
    const m: Series = { metric: s.metric, t: concat(ts), v: concat(vs), dropName: s.dropName };
    if (hs.some((h) => h !== undefined)) {
      const h: (FloatHistogram | undefined)[] = [];
      for (let i = 0; i < hs.length; i++) {
        const part = hs[i];
        const len = ts[i]!.length;
        for (let j = 0; j < len; j++) h.push(part?.[j]);
      }
      m.h = h;
    }
    merged.push(m);
  }
  return merged;
}

function concat(parts: number[][]): number[] {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Float64Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out as unknown as number[];
}

/** One node: its operands first (each through the driver), then the node's own synchronous kernel. */
async function compute(ev: Evaluator, e: Expr): Promise<Value> {
  const analysis = ev.shared.analysis;
  const started = analysis ? performance.now() : 0;
  await pause(ev);
  await prepare(ev, e);
  const v = ev.eval(e);
  analysis?.node(e, performance.now() - started, v);
  return v;
}

async function operand(ev: Evaluator, e: Expr): Promise<void> {
  ev.setPre(e, await compute(ev, e));
}

/** Computes the operands node e's kernel will ask for, in the order the kernel asks for them. */
async function prepare(ev: Evaluator, e: Expr): Promise<void> {
  switch (e.type) {
    case 'NumberLiteral':
    case 'StringLiteral':
    case 'VectorSelector':
    case 'MatrixSelector':
      return;
    case 'SubqueryExpr': {
      const inner = subqueryEvaluator(ev, e);
      inner.setPre(e.expr, await evaluate(inner, e.expr));
      return;
    }
    case 'Call':
      return prepareCall(ev, e);
    case 'AggregateExpr':
      if (e.param) await operand(ev, e.param);
      await operand(ev, e.expr);
      return;
    case 'BinaryExpr':
      await operand(ev, e.lhs);
      await operand(ev, e.rhs);
      return;
    case 'UnaryExpr':
    case 'ParenExpr':
      await operand(ev, e.expr);
      return;
  }
}

async function prepareCall(ev: Evaluator, e: Call): Promise<void> {
  // info(v, {selector}): the selector is not evaluated; the info series are selected once v is known.
  if (e.func === 'info') {
    const v = await compute(ev, e.args[0]!);
    ev.setPre(e.args[0]!, v);
    if (!('str' in v)) await fetchInfoSeries(ev, e, v);
    return;
  }
  // timestamp(selector) reads the selector's sample times itself.
  if (e.func === 'timestamp' && e.args[0] && unwrap(e.args[0]).type === 'VectorSelector') return;
  for (const a of e.args) {
    const u = unwrap(a);
    // Range arguments are read by the kernel (rangeSource); a subquery's inner expression is computed here.
    if (u.type === 'MatrixSelector') continue;
    if (u.type === 'SubqueryExpr') {
      await prepare(ev, u);
      continue;
    }
    await operand(ev, a);
  }
}
