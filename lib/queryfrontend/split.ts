// Range query shaping, as Thanos's query-frontend does it: step alignment, splitting at interval
// boundaries (multiples of the interval since the epoch: UTC days for the default 24h), `@ start()`
// / `@ end()` fixed to the original range before splitting (each piece would otherwise read its
// own start and end), and the checks that keep an answer out of the results cache.
import { parseExpr, walk, type Expr } from '../promql/mod.ts';
import { exprString } from '../promql/format.ts';
import { ParamError, withStartEnd, type LabelsRequest, type RangeRequest } from './request.ts';

/** --query-range.align-range-with-step: start and end rounded down to multiples of the step. */
export function alignToStep(r: RangeRequest): RangeRequest {
  return withStartEnd(r, Math.floor(r.start / r.step) * r.step, Math.floor(r.end / r.step) * r.step);
}

/** The last time before the next interval boundary that is a whole number of steps from t. */
export function nextIntervalBoundary(t: number, step: number, interval: number): number {
  const startOfNext = (Math.floor(t / interval) + 1) * interval;
  let target = startOfNext - ((startOfNext - t) % step);
  if (target === startOfNext) target -= step;
  return target;
}

function parseOrBad(query: string): Expr {
  try {
    return parseExpr(query);
  } catch (e) {
    throw new ParamError((e as Error).message);
  }
}

/** The query with `@ start()` / `@ end()` replaced by the request's own start and end (unchanged text when it has none). */
export function evaluateAtModifiers(query: string, start: number, end: number): string {
  if (!query.includes('@')) return query;
  const e = parseOrBad(query);
  let changed = false;
  walk(e, (n) => {
    if ((n.type === 'VectorSelector' || n.type === 'SubqueryExpr') && n.atModifier) {
      n.at = n.atModifier === 'start' ? start : end;
      n.atModifier = null;
      changed = true;
    }
  });
  return changed ? exprString(e, query) : query;
}

/** Pieces of a range query, each within one interval, steps continuing across pieces. */
export function splitRangeRequest(r: RangeRequest, interval: number): RangeRequest[] {
  const query = evaluateAtModifiers(r.query, r.start, r.end);
  if (r.start === r.end) return [{ ...r, splitInterval: interval, start: r.start, end: r.start }];
  const out: RangeRequest[] = [];
  for (let start = r.start; start < r.end; start = nextIntervalBoundary(start, r.step, interval) + r.step) {
    let end = nextIntervalBoundary(start, r.step, interval);
    if (end + r.step >= r.end) end = r.end;
    out.push({ ...r, query, splitInterval: interval, start, end });
  }
  return out;
}

/** Labels and series requests: fixed-length pieces from the start. */
export function splitLabelsRequest(r: LabelsRequest, interval: number): LabelsRequest[] {
  const out: LabelsRequest[] = [];
  for (let start = r.start; start < r.end; start += interval) out.push({ ...r, splitInterval: interval, start, end: Math.min(start + interval, r.end) });
  return out;
}

/**
 * Whether a range answer may be cached (Cortex's isAtModifierCachable and isOffsetCachable): not
 * when an @ time lies after the request's end or inside the freshness window (its data may still
 * change), nor with a negative offset (it reads the future).
 */
export function isCacheableQuery(query: string, end: number, maxCacheTime: number): boolean {
  const hasAt = query.includes('@');
  const hasOffset = query.includes('offset');
  if (!hasAt && !hasOffset) return true;
  let e: Expr;
  try {
    e = parseExpr(query);
  } catch {
    return false;
  }
  let ok = true;
  walk(e, (n) => {
    if (!ok) return false;
    const node = n.type === 'MatrixSelector' ? n.vs : n;
    if (node.type === 'VectorSelector' || node.type === 'SubqueryExpr') {
      if (node.at !== null && (node.at > end || node.at > maxCacheTime)) ok = false;
      if (node.offset < 0) ok = false;
    }
  });
  return ok;
}
