// Go formatting used by promtool output: fmt's %g for float64 and strconv.Quote for label values.
import type { Labels } from '../labels/mod.ts';

/** Go's fmt.Sprintf("%g", v) for a float64 (shortest round-trip digits). */
export function formatGoFloat(v: number): string {
  // Fast path: small integers print the same in Go's %g and JS.
  if (v > -1e6 && v < 1e6 && (v | 0) === v && (v !== 0 || !Object.is(v, -0))) return '' + v;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = v.toExponential(); // shortest digits, e.g. "-1.2345e+6"
  const k = e.indexOf('e');
  const exp = Number(e.slice(k + 1));
  if (exp < -4 || exp >= 21) {
    const sign = exp < 0 ? '-' : '+';
    const a = Math.abs(exp);
    return `${e.slice(0, k)}e${sign}${a < 10 ? '0' + a : a}`;
  }
  if (exp >= 6) {
    const sign = '+';
    return `${e.slice(0, k)}e${sign}${exp < 10 ? '0' + exp : exp}`;
  }
  return String(v); // JS uses plain decimal notation for exponents in [-6, 21)
}

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u;

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 0x07) out += '\\a';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0b) out += '\\v';
    else if (c < 0x80) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // lone surrogate: Go would have seen invalid UTF-8
    else if (PRINTABLE.test(ch)) out += ch;
    else if (c < 0x10000) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** Prometheus labels.Labels.String(): {a="b", c="d"} with __name__ as an ordinary label. */
export function formatLabelsGo(ls: Labels): string {
  let s = '{';
  for (let i = 0; i < ls.length; i++) {
    if (i > 0) s += ', ';
    s += ls[i]!.name + '=' + goQuote(ls[i]!.value);
  }
  return s + '}';
}
