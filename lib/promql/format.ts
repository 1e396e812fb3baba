// Prints an Expr back to PromQL text (the shape of Prometheus's Expr.String()).
import type { Expr, VectorSelector } from './ast.ts';
import { METRIC_NAME, type Matcher } from '../labels/mod.ts';

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
      return `${formatExpr(e.expr)}[${formatDuration(e.range)}:${e.step ? formatDuration(e.step) : ''}]` + formatModifiers(e.offset, e.at, e.atModifier);
    case 'Call':
      return `${e.func}(${e.args.map(formatExpr).join(', ')})`;
    case 'AggregateExpr': {
      let s = e.op;
      if (e.without) s += ` without ${formatGrouping(e.grouping)} `;
      else if (e.grouping.length > 0) s += ` by ${formatGrouping(e.grouping)} `;
      s += '(';
      if (e.param) s += formatExpr(e.param) + ', ';
      return s + formatExpr(e.expr) + ')';
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
      return `${formatExpr(e.lhs)} ${e.op}${mod} ${formatExpr(e.rhs)}`;
    }
    case 'UnaryExpr':
      return `${e.op}${formatExpr(e.expr)}`;
    case 'ParenExpr':
      return `(${formatExpr(e.expr)})`;
  }
}
