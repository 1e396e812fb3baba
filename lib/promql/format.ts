// Prints an Expr back to PromQL text (the shape of Prometheus's Expr.String()).
import type { Expr, VectorSelector } from './ast.ts';
import { METRIC_NAME, type Matcher } from '../labels/mod.ts';
import { goQuote } from '../tsdb/gofmt.ts';
import { children, foldExpr, walk } from './walk.ts';

/** Go strconv.FormatFloat(v, 'f', -1, 64) with Prometheus's Inf/NaN spelling. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  if (!/e/i.test(s)) return s;
  // expand exponent notation
  const [mant, expS] = s.split('e');
  const exp = Number(expS);
  const neg = mant!.startsWith('-');
  const digits = mant!.replace('-', '');
  const [ip, fp = ''] = digits.split('.');
  let all = ip! + fp;
  let point = ip!.length + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + all;
  else if (point >= all.length) out = all + '0'.repeat(point - all.length);
  else out = all.slice(0, point) + '.' + all.slice(point);
  void (all = '');
  void point;
  return (neg ? '-' : '') + out;
}

/** Prometheus model.Duration.String(): 1y2w3d4h5m6s7ms, "0s" for zero. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let neg = '';
  if (ms < 0) {
    neg = '-';
    ms = -ms;
  }
  const units: [string, number][] = [['y', 31_536_000_000], ['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let out = '';
  for (const [u, size] of units) {
    const n = Math.floor(ms / size);
    if (n > 0) {
      out += n + u;
      ms -= n * size;
    }
  }
  return neg + out;
}

const identRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelRe = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function quote(s: string): string {
  return JSON.stringify(s);
}

function formatLabelName(n: string): string {
  return labelRe.test(n) ? n : quote(n);
}

function formatMatcherP(m: Matcher): string {
  return `${formatLabelName(m.name)}${m.type}${quote(m.value)}`;
}

function formatSelectorBody(vs: VectorSelector): string {
  let name = '';
  const ms: string[] = [];
  for (const m of vs.matchers) {
    if (m.name === METRIC_NAME && m.type === '=' && name === '' && vs.name === m.value) {
      name = m.value;
      continue;
    }
    ms.push(formatMatcherP(m));
  }
  if (name !== '' && !identRe.test(name)) {
    ms.unshift(quote(name));
    name = '';
  }
  if (ms.length === 0) return name;
  return `${name}{${ms.join(', ')}}`;
}

function formatModifiers(offset: number, at: number | null, atModifier: string | null): string {
  let s = '';
  if (at !== null) s += ` @ ${(at / 1000).toFixed(3)}`;
  else if (atModifier) s += ` @ ${atModifier}()`;
  if (offset > 0) s += ` offset ${formatDuration(offset)}`;
  else if (offset < 0) s += ` offset -${formatDuration(-offset)}`;
  return s;
}

function formatGrouping(g: string[]): string {
  return `(${g.map(formatLabelName).join(', ')})`;
}

export function formatExpr(e: Expr): string {
  // A fold over children(e) (walk.ts): no recursion, any depth the parser accepts prints.
  return foldExpr<string>(e, (e, k) => {
    switch (e.type) {
      case 'NumberLiteral':
        return formatFloat(e.val);
      case 'StringLiteral':
        return quote(e.val);
      case 'VectorSelector':
        return formatSelectorBody(e) + formatModifiers(e.offset, e.at, e.atModifier);
      case 'MatrixSelector':
        return `${formatSelectorBody(e.vs)}[${formatDuration(e.range)}]` + formatModifiers(e.vs.offset, e.vs.at, e.vs.atModifier);
      case 'SubqueryExpr':
        return `${k[0]}[${formatDuration(e.range)}:${e.step ? formatDuration(e.step) : ''}]` + formatModifiers(e.offset, e.at, e.atModifier);
      case 'Call':
        return `${e.func}(${k.join(', ')})`;
      case 'AggregateExpr': {
        let s = e.op;
        if (e.without) s += ` without ${formatGrouping(e.grouping)} `;
        else if (e.grouping.length > 0) s += ` by ${formatGrouping(e.grouping)} `;
        s += '(';
        if (e.param) s += k[0] + ', ';
        return s + k[k.length - 1] + ')';
      }
      case 'BinaryExpr': {
        let mod = '';
        if (e.returnBool) mod += ' bool';
        const m = e.matching;
        if (m) {
          if (m.on || m.matchingLabels.length > 0) mod += ` ${m.on ? 'on' : 'ignoring'} ${formatGrouping(m.matchingLabels)}`;
          if (m.card === 'many-to-one' || m.card === 'one-to-many') {
            mod += ` ${m.card === 'many-to-one' ? 'group_left' : 'group_right'}`;
            if (m.include.length > 0) mod += ` ${formatGrouping(m.include)}`;
          }
        }
        return `${k[0]} ${e.op}${mod} ${k[1]}`;
      }
      case 'UnaryExpr':
        return `${e.op}${k[0]}`;
      case 'ParenExpr':
        return `(${k[0]})`;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Prometheus's Node.String() and parser.Prettify (promql/parser/printer.go, prettier.go), as the
// /api/v1/format_query endpoint of Prometheus 2.x answers: matchers sorted and joined by ",",
// numbers as Go's %v, `on (x) group_left ()` spelled out, lines split past 100 characters.

// Go strconv.Quote (the %q verb) for the strings PromQL prints: one owner, lib/tsdb/gofmt.ts.
export { goQuote };

/** Go's fmt %v of a float64: strconv 'g' with the shortest digits (exponent form below 1e-4 and from 1e6). */
export function formatGoFloatV(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(v.toExponential())!; // shortest round-trip digits
  const [, sign, d0, rest = '', expS] = m;
  const exp = Number(expS);
  if (exp < -4 || exp >= 6) {
    const a = Math.abs(exp);
    return `${sign}${d0}${rest ? '.' + rest : ''}e${exp < 0 ? '-' : '+'}${a < 10 ? '0' + a : a}`;
  }
  return formatFloat(v);
}

function matcherString(m: Matcher): string {
  return `${m.name}${m.type}${goQuote(m.value)}`;
}

/** The metric name written outside the braces (Prometheus keeps `{__name__="x"}` as written). */
function outsideName(vs: VectorSelector, src: string | undefined): string {
  if (vs.name === '') return '';
  if (src !== undefined && src[vs.pos.start] === '{') return '';
  if (!identRe.test(vs.name)) return '';
  return vs.name;
}

function selectorString(vs: VectorSelector, src: string | undefined): string {
  const name = outsideName(vs, src);
  const ms: string[] = [];
  let skipped = false;
  for (const m of vs.matchers) {
    if (!skipped && name !== '' && m.name === METRIC_NAME && m.type === '=' && m.value === name) {
      skipped = true;
      continue;
    }
    ms.push(matcherString(m));
  }
  if (ms.length === 0) return name;
  ms.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `${name}{${ms.join(',')}}`;
}

function groupingString(g: string[]): string {
  return `(${g.join(', ')})`;
}

function aggOpString(e: Extract<Expr, { type: 'AggregateExpr' }>): string {
  let s: string = e.op;
  if (e.without) s += ` without ${groupingString(e.grouping)} `;
  else if (e.grouping.length > 0) s += ` by ${groupingString(e.grouping)} `;
  return s;
}

function matchingString(e: Extract<Expr, { type: 'BinaryExpr' }>): string {
  const m = e.matching;
  if (!m || !(m.matchingLabels.length > 0 || m.on)) return '';
  let s = ` ${m.on ? 'on' : 'ignoring'} ${groupingString(m.matchingLabels)}`;
  if (m.card === 'many-to-one' || m.card === 'one-to-many') s += ` group_${m.card === 'many-to-one' ? 'left' : 'right'} ${groupingString(m.include)}`;
  return s;
}

function subquerySuffix(e: Extract<Expr, { type: 'SubqueryExpr' }>): string {
  return `[${formatDuration(e.range)}:${e.step ? formatDuration(e.step) : ''}]${formatModifiers(e.offset, e.at, e.atModifier)}`;
}

/** Prometheus's Expr.String() (2.x printer). `src` tells selectors written as {__name__="x"} apart. */
export function exprString(e: Expr, src?: string): string {
  return foldExpr<string>(e, (e, k) => exprStringNode(e, k, src));
}

/** One node's String() from its children's (in children() order). */
function exprStringNode(e: Expr, k: string[], src: string | undefined): string {
  switch (e.type) {
    case 'NumberLiteral':
      return formatGoFloatV(e.val);
    case 'StringLiteral':
      return goQuote(e.val);
    case 'VectorSelector':
      return selectorString(e, src) + formatModifiers(e.offset, e.at, e.atModifier);
    case 'MatrixSelector':
      return `${selectorString(e.vs, src)}[${formatDuration(e.range)}]${formatModifiers(e.vs.offset, e.vs.at, e.vs.atModifier)}`;
    case 'SubqueryExpr':
      return k[0] + subquerySuffix(e);
    case 'Call':
      return `${e.func}(${k.join(', ')})`;
    case 'AggregateExpr':
      return `${aggOpString(e)}(${e.param ? k[0] + ', ' : ''}${k[k.length - 1]})`;
    case 'BinaryExpr':
      return `${k[0]} ${e.op}${e.returnBool ? ' bool' : ''}${matchingString(e)} ${k[1]}`;
    case 'UnaryExpr':
      return `${e.op}${k[0]}`;
    case 'ParenExpr':
      return `(${k[0]})`;
  }
}

const MAX_LINE = 100;

function indent(n: number): string {
  return '  '.repeat(n);
}

/** Prometheus's parser.Prettify: the expression split over lines, two-space indents. */
export function prettify(e: Expr, src?: string, level = 0): string {
  // Without recursion: levels top-down (pre-order), then one fold bottom-up carrying each node's
  // String() (to decide the split) and its prettified form.
  const levels = new Map<Expr, number>();
  levels.set(e, level);
  walk(e, (n) => {
    const l = levels.get(n)!;
    const inner = n.type === 'SubqueryExpr' || n.type === 'UnaryExpr' ? l : l + 1;
    for (const c of children(n)) levels.set(c, inner);
  });
  // Each result keeps its leading indent apart from the rest (pretty = ind + body), so a unary
  // operator drops its operand's indent without re-scanning it (trim() on a long chain of unary
  // operators would copy the whole string at every level: quadratic).
  type P = { str: string; ind: string; body: string };
  const full = (x: P) => x.ind + x.body;
  const r = foldExpr<P>(e, (n, k) => {
    const str = exprStringNode(n, k.map((x) => x.str), src);
    const lvl = levels.get(n)!;
    const ind = indent(lvl);
    if (n.type === 'UnaryExpr') return { str, ind, body: n.op + k[0]!.body };
    if (str.length <= MAX_LINE) return { str, ind, body: str };
    switch (n.type) {
      case 'AggregateExpr': {
        let s = aggOpString(n) + '(\n';
        if (n.param) s += full(k[0]!) + ',\n';
        return { str, ind, body: s + full(k[k.length - 1]!) + '\n' + ind + ')' };
      }
      case 'BinaryExpr':
        return { str, ind: k[0]!.ind, body: `${k[0]!.body}\n${ind}${n.op}${n.returnBool ? ' bool' : ''}${matchingString(n)}\n${full(k[1]!)}` };
      case 'Call':
        return { str, ind, body: `${n.func}(\n${k.map(full).join(',\n')}\n${ind})` };
      case 'ParenExpr':
        return { str, ind, body: `(\n${full(k[0]!)}\n${ind})` };
      case 'SubqueryExpr':
        return { str, ind: k[0]!.ind, body: k[0]!.body + subquerySuffix(n) };
      default:
        return { str, ind, body: str };
    }
  });
  return full(r);
}
