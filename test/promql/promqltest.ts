// Conformance runner for Prometheus's PromQL `.test` scripts (format: test/promql/testdata/FORMAT.md).
// `npm run promqltest [-- file-substring ...] [--verbose]` prints passed/failed/skipped per file and overall;
// its last line is `promqltest: N passed, N failed, N skipped`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, MemoryQueryable, STALE_NAN, parseExpr, walk, FUNCTIONS, type Expr, type QueryResult } from '../../lib/promql/mod.ts';
import { compareLabels, labelsKey, formatLabels, type Label, type Labels } from '../../lib/labels/mod.ts';
import { CUSTOM_BUCKETS_SCHEMA, FloatHistogram } from '../../lib/histogram/float.ts';
import { parseHistogramSeriesItem } from '../../lib/histogram/notation.ts';
import { almostEqual, equalsForTest } from '../../lib/histogram/compare.ts';
import { isStaleHistogram } from '../../lib/promql/engine/hist.ts';

export const TESTDATA_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata');

/** Whole files that need experimental feature flags (Prometheus --enable-feature=...). */
const SKIP_FILES: Record<string, string> = {
  'duration_expression.test': 'experimental: duration arithmetic (promql-duration-expr)',
  'extended_vectors.test': 'experimental: anchored/smoothed range selectors (promql-extended-range-selectors)',
  'fill-modifier.test': 'experimental: fill() binop modifiers (promql-binop-fill-modifiers)',
  'type_and_unit.test': 'experimental: type-and-unit labels (type-and-unit-labels)',
  'start_timestamps.test': 'experimental: start timestamps (st-storage / created timestamps)',
};

/** Individual cases skipped with a reason: `file:line`. */
const SKIP_CASES: Record<string, string> = {};



// ---------------------------------------------------------------------------------------------
// Script parsing

/** A `{{...}}` histogram in a script, and whether it named its counter_reset_hint (then results must match it). */
interface HistVal { h: FloatHistogram; hintSet: boolean }
type SeqVal = number | null | 'stale' | HistVal;
interface LoadCmd { kind: 'load'; line: number; interval: number; series: { labels: Labels; values: SeqVal[] }[]; nhcb: boolean }
interface ClearCmd { kind: 'clear'; line: number }
interface EvalCmd {
  kind: 'eval';
  line: number;
  expr: string;
  range: boolean;
  at: number;
  start: number;
  end: number;
  step: number;
  fail: boolean;
  failMsg?: string;
  failRegex?: RegExp;
  ordered: boolean;
  warn: { present: boolean; none: boolean; matchers: ((s: string) => boolean)[] };
  info: { present: boolean; none: boolean; matchers: ((s: string) => boolean)[] };
  expectString?: string;
  rangeVector?: { start: number; end: number; step: number };
  scalar?: number;
  series: { labels: Labels; values: (number | null | HistVal)[] }[];
}
type Cmd = LoadCmd | ClearCmd | EvalCmd;

const DUR_RE = /^(\d+(?:y|w|d|h|m|s|ms))+$|^0$/;
function parseDur(s: string): number {
  s = s.trim();
  if (!DUR_RE.test(s)) throw new Error(`bad duration ${JSON.stringify(s)}`);
  if (s === '0') return 0;
  const units: Record<string, number> = { y: 31_536_000_000, w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const m of s.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) total += Number(m[1]) * units[m[2]!]!;
  return total;
}

function parseNumber(s: string): number {
  const l = s.toLowerCase();
  if (l === 'inf' || l === '+inf') return Infinity;
  if (l === '-inf') return -Infinity;
  if (l === 'nan' || l === '+nan' || l === '-nan') return NaN;
  const t = s.replace(/_/g, '');
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw new Error(`bad number ${JSON.stringify(s)}`);
  return Number(t);
}

function unquote(s: string): string {
  const q = s[0];
  const body = s.slice(1, -1);
  if (q === '`') return body;
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'a': return '\x07';
      case 'b': return '\b';
      case 'f': return '\f';
      case 'v': return '\v';
      case 'x': return String.fromCharCode(parseInt(e.slice(1), 16));
      case 'u': case 'U': return String.fromCodePoint(parseInt(e.slice(1), 16));
      default:
        if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
        return e;
    }
  });
}

/** Parses `metric{l="v"} rest` → labels and the rest of the line. */
function parseSeriesHead(line: string): { labels: Labels; rest: string } {
  let i = 0;
  const labels: Label[] = [];
  const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (m) {
    labels.push({ name: '__name__', value: m[0] });
    i = m[0].length;
  }
  if (line[i] === '{') {
    i++;
    const strRe = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/y;
    const nameRe = /[a-zA-Z_][a-zA-Z0-9_]*/y;
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      let name: string;
      strRe.lastIndex = i;
      nameRe.lastIndex = i;
      let mm = strRe.exec(line);
      if (mm) {
        name = unquote(mm[0]);
        i = strRe.lastIndex;
      } else {
        mm = nameRe.exec(line);
        if (!mm) throw new Error(`bad series description: ${line}`);
        name = mm[0];
        i = nameRe.lastIndex;
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '=') {
        i++;
        while (line[i] === ' ' || line[i] === '\t') i++;
        strRe.lastIndex = i;
        const vm = strRe.exec(line);
        if (!vm) throw new Error(`bad label value: ${line}`);
        labels.push({ name, value: unquote(vm[0]) });
        i = strRe.lastIndex;
      } else {
        labels.push({ name: '__name__', value: name });
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === ',') i++;
    }
  }
  const byName = new Map<string, string>();
  for (const l of labels) byName.set(l.name, l.value);
  const sorted = [...byName.entries()].filter(([, v]) => v !== '').sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([name, value]) => ({ name, value }));
  return { labels: sorted, rest: line.slice(i).trim() };
}

/** One histogram item of a series line (`{{a}}`, `{{a}}xN`, `{{a}}±{{b}}xN`), via lib/histogram's notation parser. */
function expandHistItem(it: string): HistVal[] {
  return parseHistogramSeriesItem(it).map((x) => ({ h: x.h, hintSet: x.counterResetHintSet }));
}

function expandValues(rest: string): SeqVal[] {
  const out: SeqVal[] = [];
  // Native histogram literals: keep as opaque 'hist' items.
  const items: string[] = [];
  let i = 0;
  while (i < rest.length) {
    while (rest[i] === ' ' || rest[i] === '\t') i++;
    if (i >= rest.length) break;
    let j = i;
    let depth = 0;
    while (j < rest.length && (depth > 0 || (rest[j] !== ' ' && rest[j] !== '\t'))) {
      if (rest.startsWith('{{', j)) { depth++; j += 2; continue; }
      if (rest.startsWith('}}', j)) { depth--; j += 2; continue; }
      j++;
    }
    items.push(rest.slice(i, j));
    i = j;
  }
  const num = '[+-]?(?:[0-9][0-9_]*\\.?[0-9_]*(?:[eE][+-]?[0-9]+)?|\\.[0-9]+(?:[eE][+-]?[0-9]+)?|[iI][nN][fF]|[nN][aA][nN])';
  const seqRe = new RegExp(`^(${num})(?:([+-])(${num}))?x(\\d+)$`);
  for (const it of items) {
    if (it.startsWith('{{')) {
      out.push(...expandHistItem(it));
      continue;
    }
    if (it === '_') {
      out.push(null);
      continue;
    }
    const um = /^_x(\d+)$/.exec(it);
    if (um) {
      for (let k = 0; k < Number(um[1]); k++) out.push(null);
      continue;
    }
    if (it === 'stale') {
      out.push('stale');
      continue;
    }
    const sm = seqRe.exec(it);
    if (sm) {
      let a = parseNumber(sm[1]!);
      const n = Number(sm[4]);
      if (sm[2]) {
        const b = parseNumber(sm[3]!) * (sm[2] === '-' ? -1 : 1);
        out.push(a);
        for (let k = 0; k < n; k++) {
          a += b;
          out.push(a);
        }
      } else {
        for (let k = 0; k <= n; k++) out.push(a);
      }
      continue;
    }
    out.push(parseNumber(it));
  }
  return out;
}

export function parseScript(text: string): Cmd[] {
  const lines = text.split('\n').map((l) => l.trim());
  const cmds: Cmd[] = [];
  let i = 0;
  const isBlank = (l: string | undefined) => l === undefined || l === '' || l.startsWith('#');
  while (i < lines.length) {
    const line = lines[i]!;
    if (isBlank(line)) {
      i++;
      continue;
    }
    const first = line.split(/[\t ]+/)[0]!.toLowerCase();
    const lineNo = i + 1;
    if (first === 'clear') {
      cmds.push({ kind: 'clear', line: lineNo });
      i++;
      continue;
    }
    if (first === 'load' || first === 'load_with_nhcb') {
      const m = /^load(?:_(with_nhcb))?\s+(.+?)$/.exec(line);
      if (!m) throw new Error(`line ${lineNo}: bad load`);
      const cmd: LoadCmd = { kind: 'load', line: lineNo, interval: parseDur(m[2]!), series: [], nhcb: !!m[1] };
      i++;
      while (!isBlank(lines[i])) {
        const l = lines[i]!;
        i++;
        const head = parseSeriesHead(l);
        if (/@st\b/.test(l)) {
          // start-timestamp line pairs: skip the pair marker line (experimental)
          continue;
        }
        cmd.series.push({ labels: head.labels, values: expandValues(head.rest) });
      }
      cmds.push(cmd);
      continue;
    }
    if (first.startsWith('eval')) {
      const cmd: EvalCmd = {
        kind: 'eval', line: lineNo, expr: '', range: false, at: 0, start: 0, end: 0, step: 0, fail: false, ordered: false,
        warn: { present: false, none: false, matchers: [] }, info: { present: false, none: false, matchers: [] },
        series: [],
      };
      let m = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/.exec(line);
      if (m) {
        cmd.at = m[2] ? parseDur(m[2]) : 0;
        cmd.expr = m[3]!;
        if (m[1] === 'fail') cmd.fail = true;
        if (m[1] === 'ordered') cmd.ordered = true;
        if (m[1] === 'warn') cmd.warn.present = true;
        if (m[1] === 'info') cmd.info.present = true;
      } else {
        m = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/.exec(line);
        if (!m) throw new Error(`line ${lineNo}: bad eval: ${line}`);
        cmd.range = true;
        cmd.start = parseDur(m[2]!);
        cmd.end = parseDur(m[3]!);
        cmd.step = parseDur(m[4]!);
        cmd.expr = m[5]!;
        if (m[1] === 'fail') cmd.fail = true;
        if (m[1] === 'warn') cmd.warn.present = true;
        if (m[1] === 'info') cmd.info.present = true;
      }
      i++;
      while (!isBlank(lines[i])) {
        const l = lines[i]!;
        i++;
        if (l.startsWith('expected_fail_message ')) {
          cmd.failMsg = l.slice('expected_fail_message '.length);
          break;
        }
        if (l.startsWith('expected_fail_regexp ')) {
          cmd.failRegex = new RegExp(l.slice('expected_fail_regexp '.length));
          break;
        }
        const words = l.split(' ');
        if (words[0] === 'expect') {
          const rest = l.slice('expect'.length).trim();
          const rv = /^range vector from (\S+) to (\S+) step (\S+)$/.exec(rest);
          if (rv) {
            cmd.rangeVector = { start: parseDur(rv[1]!), end: parseDur(rv[2]!), step: parseDur(rv[3]!) };
            continue;
          }
          const sv = /^string\s+(".*"|`.*`)$/.exec(rest);
          if (sv) {
            cmd.expectString = unquote(sv[1]!);
            continue;
          }
          const em = /^(fail|warn|no_warn|info|no_info|ordered)(?:\s+(msg|regex):\s*(.*))?$/.exec(rest);
          if (!em) throw new Error(`line ${i}: bad expect line: ${l}`);
          const [, type, how, text] = em;
          const matcher = how === 'msg' ? (s: string) => s === text!.trim() : how === 'regex' ? ((re: RegExp) => (s: string) => re.test(s))(new RegExp(text!.trim())) : null;
          switch (type) {
            case 'fail':
              cmd.fail = true;
              if (how === 'msg') cmd.failMsg = text!.trim();
              if (how === 'regex') cmd.failRegex = new RegExp(text!.trim());
              break;
            case 'ordered':
              cmd.ordered = true;
              break;
            case 'warn':
              cmd.warn.present = true;
              if (matcher) cmd.warn.matchers.push(matcher);
              break;
            case 'info':
              cmd.info.present = true;
              if (matcher) cmd.info.matchers.push(matcher);
              break;
            case 'no_warn':
              cmd.warn.none = true;
              break;
            case 'no_info':
              cmd.info.none = true;
              break;
          }
          continue;
        }
        // scalar?
        if (/^[+-]?(\d|\.\d|inf|nan|Inf|NaN|0x)/i.test(l) && !/\s/.test(l)) {
          try {
            cmd.scalar = parseNumber(l);
          } catch {
            cmd.scalar = Number(l);
          }
          break;
        }
        const head = parseSeriesHead(l);
        const vals = expandValues(head.rest);
        cmd.series.push({ labels: head.labels, values: vals.map((v) => (v === 'stale' ? STALE_NAN : v)) });
      }
      cmds.push(cmd);
      continue;
    }
    throw new Error(`line ${lineNo}: unknown command ${JSON.stringify(first)}`);
  }
  return cmds;
}

// ---------------------------------------------------------------------------------------------
// Running


const AT_UNSAFE = new Set(['days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'end', 'hour', 'minute', 'month', 'year',
  'predict_linear', 'range', 'start', 'step', 'time', 'timestamp']);

function withAt(src: string, ts: number): Expr | null {
  const e = parseExpr(src);
  let unsafe = false;
  walk(e, (n, path) => {
    if (path.some((p) => p.type === 'SubqueryExpr' && (p.at !== null || p.atModifier !== null))) return;
    if (n.type === 'VectorSelector' && n.at === null && n.atModifier === null) n.at = ts;
    if (n.type === 'SubqueryExpr' && n.at === null && n.atModifier === null) n.at = ts;
    if (n.type === 'Call' && AT_UNSAFE.has(n.func)) unsafe = true;
  });
  return unsafe ? null : e;
}

interface CaseResult {
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
}

function fmtVal(v: number): string {
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** A histogram in the scripts' notation, for failure messages (Prometheus TestExpression). */
function fmtHist(h: FloatHistogram): string {
  return h.toNotation();
}
function fmtPoint(p: { v: number; h?: FloatHistogram }): string {
  return p.h ? fmtHist(p.h) : fmtVal(p.v);
}

/** Prometheus promqltest compareNativeHistogram (lib/histogram/compare.ts). */
function histMatches(exp: HistVal, got: FloatHistogram): boolean {
  return equalsForTest(exp.h, got, exp.hintSet);
}

/** Null when the point matches the expected float or histogram, else why not. */
function pointMismatch(exp: number | HistVal, got: { v: number; h?: FloatHistogram }): string | null {
  if (typeof exp === 'number') {
    if (got.h) return `expected float ${fmtVal(exp)}, got histogram ${fmtHist(got.h)}`;
    return almostEqual(got.v, exp) ? null : `expected ${fmtVal(exp)}, got ${fmtVal(got.v)}`;
  }
  if (!got.h) return `expected histogram ${fmtHist(exp.h)}, got float ${fmtVal(got.v)}`;
  return histMatches(exp, got.h) ? null : `expected ${fmtHist(exp.h)}, got ${fmtHist(got.h)}`;
}

function compareInstant(cmd: EvalCmd, res: QueryResult, checkOrder: boolean): string | null {
  if (cmd.expectString !== undefined) {
    if (res.resultType !== 'string') return `expected string, got ${res.resultType}`;
    return res.result.v === cmd.expectString ? null : `expected string ${JSON.stringify(cmd.expectString)}, got ${JSON.stringify(res.result.v)}`;
  }
  if (cmd.scalar !== undefined) {
    if (res.resultType !== 'scalar') return `expected scalar, got ${res.resultType}`;
    return almostEqual(res.result.v, cmd.scalar) ? null : `expected scalar ${cmd.scalar}, got ${res.result.v}`;
  }
  if (cmd.rangeVector) {
    if (res.resultType !== 'matrix') return `expected range vector, got ${res.resultType}`;
    return compareMatrix(cmd, res.result.map((s) => ({ metric: s.metric, values: s.values })), cmd.rangeVector.start, cmd.rangeVector.step, false);
  }
  if (res.resultType === 'scalar') return `expected vector, got scalar ${res.result.v}`;
  if (res.resultType !== 'vector') return `expected vector, got ${res.resultType}`;
  const got = res.result;
  if (got.length !== cmd.series.length) {
    return `expected ${cmd.series.length} samples, got ${got.length}: ${got.map((s) => formatLabels(s.metric) + ' ' + fmtPoint(s.value)).join('; ')}`;
  }
  const exp = new Map<string, { i: number; v: number | HistVal }>();
  cmd.series.forEach((s, i) => {
    if (s.values.length !== 1) throw new Error(`expected one value per series in instant eval`);
    exp.set(labelsKey(s.labels), { i, v: s.values[0]! });
  });
  for (let j = 0; j < got.length; j++) {
    const g = got[j]!;
    const e = exp.get(labelsKey(g.metric));
    if (!e) return `unexpected metric ${formatLabels(g.metric)} in result`;
    if (checkOrder && e.i !== j) return `expected ${formatLabels(g.metric)} at position ${e.i}, got position ${j}`;
    const m = pointMismatch(e.v, g.value);
    if (m) return `${m} for ${formatLabels(g.metric)}`;
  }
  return null;
}

function compareMatrix(cmd: EvalCmd, got: { metric: Labels; values: { t: number; v: number; h?: FloatHistogram }[] }[], start: number, step: number, requireSorted = true): string | null {
  if (requireSorted) {
    for (let i = 1; i < got.length; i++) if (compareLabels(got[i - 1]!.metric, got[i]!.metric) > 0) return 'matrix is not sorted by labels';
  }
  const exp = new Map<string, (number | null | HistVal)[]>();
  for (const s of cmd.series) exp.set(labelsKey(s.labels), s.values);
  const expCount = cmd.series.filter((s) => s.values.some((v) => v !== null)).length;
  for (const g of got) {
    const e = exp.get(labelsKey(g.metric));
    if (!e) return `unexpected metric ${formatLabels(g.metric)} in result (${g.values.map((p) => `${fmtPoint(p)}@${p.t}`).join(' ')})`;
    const expPts: { t: number; v: number | HistVal }[] = [];
    e.forEach((v, i) => {
      if (v !== null) expPts.push({ t: start + i * step, v });
    });
    if (expPts.length !== g.values.length) {
      return `expected ${expPts.length} points for ${formatLabels(g.metric)}, got ${g.values.length}: ${g.values.map((p) => `${fmtPoint(p)}@${p.t}`).join(' ')}`;
    }
    for (let i = 0; i < expPts.length; i++) {
      const a = expPts[i]!, b = g.values[i]!;
      if (a.t !== b.t) return `expected point at ${a.t} for ${formatLabels(g.metric)}, got ${b.t}`;
      const m = pointMismatch(a.v, b);
      if (m) return `${m} at ${a.t} for ${formatLabels(g.metric)}`;
    }
  }
  if (got.length !== expCount) return `expected ${expCount} series, got ${got.length}`;
  return null;
}

function checkAnnotations(cmd: EvalCmd, res: QueryResult): string | null {
  for (const [kind, spec, list] of [['warn', cmd.warn, res.warnings], ['info', cmd.info, res.infos]] as const) {
    if (spec.none && list.length > 0) return `unexpected ${kind} annotations: ${list.join('; ')}`;
    if (spec.present) {
      if (list.length === 0) return `expected ${kind} annotation, got none`;
      if (spec.matchers.length > 0) {
        for (const a of list) if (!spec.matchers.some((m) => m(a))) return `unexpected ${kind} annotation ${JSON.stringify(a)}`;
      }
    }
  }
  return null;
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function checkFail(cmd: EvalCmd, err: unknown): string | null {
  const msg = errMsg(err);
  if (cmd.failMsg !== undefined && cmd.failMsg !== msg) return `expected error ${JSON.stringify(cmd.failMsg)}, got ${JSON.stringify(msg)}`;
  if (cmd.failRegex && !cmd.failRegex.test(msg)) return `expected error matching ${cmd.failRegex}, got ${JSON.stringify(msg)}`;
  return null;
}

async function runInstant(engine: Engine, q: MemoryQueryable, cmd: EvalCmd, expr: string | Expr, at: number, exprText: string): Promise<string | null> {
  let res: QueryResult;
  try {
    res = await engine.instantQuery(q, typeof expr === 'string' ? expr : structuredCloneExpr(expr), at);
  } catch (e) {
    if (cmd.fail) return checkFail(cmd, e);
    return `error evaluating ${exprText} at ${at}: ${errMsg(e)}`;
  }
  if (cmd.fail) return `expected error evaluating ${exprText}, got none`;
  const ann = checkAnnotations(cmd, res);
  if (ann) return ann;
  const c = compareInstant(cmd, res, cmd.ordered);
  if (c) return `at ${at}: ${c}`;
  if (cmd.rangeVector || cmd.expectString !== undefined) return null;
  if (/(start|end|range|step)\(\)/.test(exprText)) return null;
  let rr: QueryResult;
  try {
    rr = await engine.rangeQuery(q, typeof expr === 'string' ? expr : structuredCloneExpr(expr), at - 60_000, at + 60_000, 60_000);
  } catch (e) {
    return `error evaluating ${exprText} in range mode at ${at}: ${errMsg(e)}`;
  }
  if (cmd.ordered) return null;
  if (rr.resultType !== 'matrix') return `range mode returned ${rr.resultType}`;
  for (let i = 1; i < rr.result.length; i++) if (compareLabels(rr.result[i - 1]!.metric, rr.result[i]!.metric) > 0) return 'range mode: matrix not sorted';
  const vec = [];
  for (const s of rr.result) {
    const p = s.values.find((x) => x.t === at);
    if (p) vec.push({ metric: s.metric, value: p });
  }
  let c2: string | null;
  if (res.resultType === 'scalar') {
    c2 = compareInstant(cmd, { resultType: 'scalar', result: { t: at, v: vec[0]?.value.v ?? NaN }, warnings: [], infos: [] }, false);
  } else {
    c2 = compareInstant(cmd, { resultType: 'vector', result: vec, warnings: [], infos: [] }, false);
  }
  return c2 ? `range mode at ${at}: ${c2}` : null;
}

function structuredCloneExpr(e: Expr): Expr {
  return structuredClone(e);
}

async function runEval(engine: Engine, q: MemoryQueryable, cmd: EvalCmd): Promise<string | null> {
  if (cmd.range) {
    let res: QueryResult;
    try {
      res = await engine.rangeQuery(q, cmd.expr, cmd.start, cmd.end, cmd.step);
    } catch (e) {
      if (cmd.fail) return checkFail(cmd, e);
      return `error evaluating range query: ${errMsg(e)}`;
    }
    if (cmd.fail) return 'expected error, got none';
    const ann = checkAnnotations(cmd, res);
    if (ann) return ann;
    if (res.resultType !== 'matrix') return `expected matrix, got ${res.resultType}`;
    return compareMatrix(cmd, res.result, cmd.start, cmd.step);
  }
  const r = await runInstant(engine, q, cmd, cmd.expr, cmd.at, cmd.expr);
  if (r) return r;
  if (cmd.fail) return null;
  let atExpr: Expr | null = null;
  try {
    atExpr = withAt(cmd.expr, cmd.at);
  } catch {
    atExpr = null;
  }
  if (!atExpr) return null;
  const ts = cmd.at;
  const times = ts === 0 ? [-1000, 0, 1000] : [-10 * ts, 0, Math.trunc(ts / 5), ts, 10 * ts];
  for (const t of times) {
    const r2 = await runInstant(engine, q, cmd, atExpr, t, cmd.expr + ` @ ${ts}`);
    if (r2) return `@-rewrite: ${r2}`;
  }
  return null;
}


function exprUsesExperimental(src: string): string | null {
  if (/\b(anchored|smoothed)\b/.test(src)) return 'experimental: anchored/smoothed range selectors (promql-extended-range-selectors)';
  if (/\bfill(_left|_right)?\s*\(/.test(src)) return 'experimental: fill() binop modifiers (promql-binop-fill-modifiers)';
  let e: Expr;
  try {
    e = parseExpr(src);
  } catch {
    return null;
  }
  let found: string | null = null;
  walk(e, (n) => {
    // Experimental functions this engine implements (the table's `implemented`) run and count like core cases.
    const def = n.type === 'Call' ? FUNCTIONS.get(n.func) : undefined;
    if (n.type === 'Call' && def?.experimental && !def.implemented) found = `experimental: ${n.func}() (promql-experimental-functions)`;
    // limitk and limit_ratio are implemented (limit_ratio picks series by a label hash of its own,
    // not Prometheus's: only hash-independent cases can pass, see float_only.test).
  });
  return found;
}

export interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  failures: { line: number; expr: string; reason: string }[];
  skips: { line: number; expr: string; reason: string }[];
  /** Every case that was evaluated (passed or failed). */
  ran: { line: number; expr: string }[];
}

export async function runFile(path: string, name: string): Promise<FileResult> {
  const out: FileResult = { file: name, passed: 0, failed: 0, skipped: 0, failures: [], skips: [], ran: [] };
  const cmds = parseScript(readFileSync(path, 'utf8'));
  const fileSkip = SKIP_FILES[name];
  const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 10_000, timeoutMs: 100_000, defaultSubqueryStepMs: 60_000, delayedNameRemoval: true });
  const q = new MemoryQueryable();
  for (const cmd of cmds) {
    if (cmd.kind === 'clear') {
      q.clear();
      continue;
    }
    if (cmd.kind === 'load') {
      for (const s of cmd.series) {
        const stored = storedHints(s.values.map((v) => (v !== null && typeof v === 'object' ? v.h.copy() : v)));
        stored.forEach((v, i) => {
          if (v === null) return;
          if (typeof v === 'object') q.addHistogram(s.labels, i * cmd.interval, v);
          else q.add(s.labels, i * cmd.interval, v === 'stale' ? STALE_NAN : v);
        });
      }
      if (cmd.nhcb) loadCustomBuckets(q, cmd);
      continue;
    }
    const key = `${name}:${cmd.line}`;
    let skip: string | null = fileSkip ?? SKIP_CASES[key] ?? null;
    if (!skip) skip = exprUsesExperimental(cmd.expr);
    if (skip) {
      out.skipped++;
      out.skips.push({ line: cmd.line, expr: cmd.expr, reason: skip });
      continue;
    }
    let reason: string | null;
    out.ran.push({ line: cmd.line, expr: cmd.expr });
    try {
      reason = await runEval(engine, q, cmd);
    } catch (e) {
      reason = `harness error: ${errMsg(e)}`;
    }
    if (reason) {
      out.failed++;
      out.failures.push({ line: cmd.line, expr: cmd.expr, reason });
    } else out.passed++;
  }
  return out;
}

/**
 * The counter-reset hints histograms have when read back from Prometheus's TSDB, which the scripts'
 * expectations assume: the chunk appender cuts a chunk on a counter reset (header 'reset') or a
 * layout change (header 'unknown'), and the iterator reports the header for a chunk's first sample
 * and 'not_reset' for the others; gauge histograms stay 'gauge' (tsdb/chunkenc float_histogram.go).
 */
function storedHints<T>(vals: (T | FloatHistogram)[]): (T | FloatHistogram)[] {
  let prev: FloatHistogram | null = null;
  let prevStale = false;
  for (const v of vals) {
    if (!(v instanceof FloatHistogram)) {
      if (v !== null) prev = null;
      continue;
    }
    const h = v;
    const stale = isStaleHistogram(h);
    if (h.counterResetHint === 'gauge') {
      if (prev && prev.counterResetHint !== 'gauge') prev = null;
      prev = h;
      continue;
    }
    if (prev && prev.counterResetHint === 'gauge') prev = null;
    let hint: FloatHistogram['counterResetHint'];
    if (prev === null) hint = h.counterResetHint === 'reset' ? 'reset' : 'unknown';
    else if (h.counterResetHint === 'reset') hint = 'reset';
    else if (stale) hint = 'not_reset';
    else if (prevStale) hint = 'unknown';
    else {
      // A detected reset cuts a chunk whose first sample reads back as 'unknown' (the scripts rely
      // on it: prometheus/prometheus#15346); so does a layout change.
      const probe = h.copy();
      probe.counterResetHint = 'unknown';
      const cut = h.count < prev.count || h.schema !== prev.schema || h.zeroThreshold !== prev.zeroThreshold || probe.detectReset(prev);
      hint = cut ? 'unknown' : 'not_reset';
    }
    h.counterResetHint = hint;
    prev = h;
    prevStale = stale;
  }
  return vals;
}

/**
 * load_with_nhcb: classic histogram series (name_bucket{le}, name_count, name_sum) are also loaded
 * as native histograms with custom buckets under the base name (Prometheus util/convertnhcb).
 */
function loadCustomBuckets(q: MemoryQueryable, cmd: LoadCmd): void {
  type Temp = { buckets: { le: number; count: number }[]; count: number; hasCount: boolean; sum: number };
  const groups = new Map<string, { labels: Labels; byTs: Map<number, Temp> }>();
  for (const s of cmd.series) {
    const name = s.labels.find((l) => l.name === '__name__')?.value ?? '';
    const m = /^(.*)_(bucket|count|sum)$/.exec(name);
    if (!m) continue;
    let le = NaN;
    if (m[2] === 'bucket') {
      const leStr = s.labels.find((l) => l.name === 'le')?.value;
      if (leStr === undefined) throw new Error(`expected bucket label in metric ${formatLabels(s.labels)}`);
      try {
        le = parseNumber(leStr);
      } catch {
        continue;
      }
      if (Number.isNaN(le)) continue;
    }
    const base = s.labels.filter((l) => l.name !== 'le').map((l) => (l.name === '__name__' ? { name: l.name, value: m[1]! } : l));
    const k = labelsKey(base);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { labels: base, byTs: new Map() }));
    s.values.forEach((v, i) => {
      if (v === null || typeof v === 'object' || v === 'stale') return;
      const t = i * cmd.interval;
      let h = g!.byTs.get(t);
      if (!h) g!.byTs.set(t, (h = { buckets: [], count: 0, hasCount: false, sum: 0 }));
      if (m[2] === 'bucket') {
        if (!h.buckets.some((b) => b.le === le)) h.buckets.push({ le, count: v });
      } else if (m[2] === 'count') {
        h.count = v;
        h.hasCount = true;
      } else h.sum = v;
    });
  }
  for (const g of groups.values()) {
    const nhcb: [number, FloatHistogram][] = [];
    for (const t of [...g.byTs.keys()].sort((a, b) => a - b)) {
      const h = g.byTs.get(t)!;
      const b = h.buckets.sort((x, y) => x.le - y.le);
      let count = h.count;
      if (!h.hasCount && b.length) count = b[b.length - 1]!.count;
      if (!b.length || b[b.length - 1]!.le !== Infinity) b.push({ le: Infinity, count });
      const buckets: number[] = [];
      let prev = 0;
      for (const x of b) {
        buckets.push(x.count - prev);
        prev = x.count;
      }
      if (count !== b[b.length - 1]!.count) throw new Error(`histogram count mismatch for ${formatLabels(g.labels)} at ${t}`);
      nhcb.push([t, new FloatHistogram({
        schema: CUSTOM_BUCKETS_SCHEMA, count, sum: h.sum,
        positiveSpans: [{ offset: 0, length: buckets.length }], positiveBuckets: buckets,
        customValues: b.slice(0, -1).map((x) => x.le),
      })]);
    }
    const hs = storedHints(nhcb.map((x) => x[1]));
    nhcb.forEach(([t], i) => q.addHistogram(g.labels, t, hs[i] as FloatHistogram));
  }
}

export async function runAll(dir = TESTDATA_DIR, filters: string[] = []): Promise<FileResult[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.test')).sort()
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
  const results: FileResult[] = [];
  for (const f of files) results.push(await runFile(join(dir, f), f));
  return results;
}

/** The operators, functions and modifiers an expression uses (for `--coverage`). */
export function exprFeatures(src: string): Set<string> {
  const out = new Set<string>();
  let e: Expr;
  try {
    e = parseExpr(src);
  } catch {
    return out;
  }
  walk(e, (n) => {
    switch (n.type) {
      case 'Call':
        out.add(`${n.func}()`);
        break;
      case 'AggregateExpr':
        out.add(n.op);
        if (n.grouping.length || n.without) out.add(`${n.op} ${n.without ? 'without' : 'by'}`);
        break;
      case 'BinaryExpr':
        out.add(`${n.op}${n.returnBool ? ' bool' : ''}`);
        if (n.matching?.card === 'many-to-one' || n.matching?.card === 'one-to-many') out.add('group_left/group_right');
        break;
      case 'SubqueryExpr':
        out.add('subquery');
        break;
      case 'UnaryExpr':
        out.add(`unary ${n.op}`);
        break;
      default:
        break;
    }
  });
  return out;
}

/** Per feature: how many cases that use it ran and how many were skipped (with the skip reasons). */
export function coverage(results: FileResult[]): Map<string, { ran: number; skipped: number; reasons: Set<string>; where: string[] }> {
  const cov = new Map<string, { ran: number; skipped: number; reasons: Set<string>; where: string[] }>();
  const get = (f: string) => {
    let c = cov.get(f);
    if (!c) cov.set(f, (c = { ran: 0, skipped: 0, reasons: new Set(), where: [] }));
    return c;
  };
  for (const r of results) {
    for (const x of r.ran) for (const f of exprFeatures(x.expr)) get(f).ran++;
    for (const x of r.skips) {
      for (const f of exprFeatures(x.expr)) {
        const c = get(f);
        c.skipped++;
        c.reasons.add(x.reason);
        c.where.push(`${r.file}:${x.line}`);
      }
    }
  }
  return cov;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose') || args.includes('-v');
  const showSkips = args.includes('--skips');
  const showCoverage = args.includes('--coverage');
  const filters = args.filter((a) => !a.startsWith('-'));
  const results = await runAll(TESTDATA_DIR, filters);
  let p = 0, f = 0, s = 0;
  for (const r of results) {
    p += r.passed;
    f += r.failed;
    s += r.skipped;
    console.log(`${r.file.padEnd(28)} passed ${String(r.passed).padStart(4)}  failed ${String(r.failed).padStart(4)}  skipped ${String(r.skipped).padStart(4)}`);
    if (verbose) for (const x of r.failures) console.log(`  FAIL ${r.file}:${x.line} ${x.expr}\n       ${x.reason}`);
    if (showSkips) for (const x of r.skips) console.log(`  SKIP ${r.file}:${x.line} ${x.expr} — ${x.reason}`);
  }
  if (showCoverage) {
    // Operators/functions none of whose cases runs (every case that uses them is skipped).
    const cov = [...coverage(results).entries()].filter(([, c]) => c.ran === 0).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    console.log(`never evaluated (every case skipped): ${cov.length}`);
    for (const [f, c] of cov) console.log(`  ${f.padEnd(32)} ${String(c.skipped).padStart(4)} skipped — ${[...c.reasons].join('; ')} (${c.where.slice(0, 4).join(', ')}${c.where.length > 4 ? ', …' : ''})`);
  }
  console.log(`promqltest: ${p} passed, ${f} failed, ${s} skipped`);
  process.exitCode = f > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
