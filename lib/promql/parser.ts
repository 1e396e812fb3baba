// PromQL parser: a hand-written lexer and recursive-descent parser with Prometheus 3.x precedence,
// followed by a type checker whose messages follow Prometheus's wording.
import type {
  AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Expr, MatrixSelector, ParenExpr, PosRange,
  SubqueryExpr, ValueType, VectorMatching, VectorSelector,
} from './ast.ts';
import { isComparison, isSetOp } from './ast.ts';
import { ParseError } from './errors.ts';
import { goQuote } from './format.ts';
import { FUNCTIONS } from './functions/table.ts';
import { compileMatcher, type Matcher, type MatchType, MatcherError, METRIC_NAME } from '../labels/mod.ts';

// ---------------------------------------------------------------------------------------------
// Lexer

type TokKind =
  | 'ident' | 'number' | 'duration' | 'string'
  | '(' | ')' | '{' | '}' | '[' | ']' | ',' | ':' | '@'
  | '=' | '==' | '!=' | '=~' | '!~' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%' | '^'
  | '</' | '>/'
  | 'eof' | 'error';

interface Token {
  kind: TokKind;
  /** 'error' tokens (a lexer error, reported when the parser reaches it) and, at 'eof', the error an unclosed (, [ or { gives. */
  error?: ParseError;
  text: string;
  /** number value (seconds for durations) */
  num: number;
  /** decoded string value */
  str: string;
  start: number;
  end: number;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000,
};

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isIdentStart(c: number): boolean {
  return isAlpha(c) || c === 58; // ':'
}
function isIdentChar(c: number): boolean {
  return isAlpha(c) || isDigit(c) || c === 58;
}
function isHex(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Parses a Prometheus duration like 1h30m, 1.5h, 100ms. Returns ms or null when invalid. */
export function parseDurationMs(s: string): number | null {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)/y;
  let pos = 0;
  let total = 0;
  let lastUnit = Infinity;
  if (s.length === 0) return null;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    const unit = DURATION_UNITS[m[2]!]!;
    if (unit >= lastUnit) return null; // units must be descending and unique
    lastUnit = unit;
    total += Number(m[1]) * unit;
    pos = re.lastIndex;
  }
  return Math.round(total);
}

/** Go's %q of a rune: '"', '\\'', '\n', 'x'. */
export function goQuoteRune(ch: string): string {
  if (ch === '') return "'\\x00'";
  const q = JSON.stringify(ch).slice(1, -1);
  if (ch === '"') return `'"'`;
  if (ch === "'") return "'\\''";
  return `'${q}'`;
}

/** Go's %#U: U+007A 'z'. */
function goRuneU(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${ch}'`;
}

function decodeEscapes(body: string, quote: string, src: string, offset: number): string {
  if (!body.includes('\\')) return body;
  const bytes: number[] = [];
  const pushStr = (s: string) => {
    for (const b of new TextEncoder().encode(s)) bytes.push(b);
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      // push the full code point
      const cp = body.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      pushStr(s);
      i += s.length - 1;
      continue;
    }
    const e = body[++i];
    switch (e) {
      case 'a': bytes.push(7); break;
      case 'b': bytes.push(8); break;
      case 'f': bytes.push(12); break;
      case 'n': bytes.push(10); break;
      case 'r': bytes.push(13); break;
      case 't': bytes.push(9); break;
      case 'v': bytes.push(11); break;
      case '\\': bytes.push(92); break;
      case '"': case "'":
        if (e !== quote) throw new ParseError(`unknown escape sequence ${goRuneU(e)}`, src, offset - 1);
        bytes.push(e.charCodeAt(0));
        break;
      case 'x': {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new ParseError('illegal character in escape sequence', src, offset - 1);
        bytes.push(parseInt(h, 16));
        i += 2;
        break;
      }
      case 'u': case 'U': {
        const n = e === 'u' ? 4 : 8;
        const h = body.slice(i + 1, i + 1 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new ParseError('illegal character in escape sequence', src, offset - 1);
        const cp = parseInt(h, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) throw new ParseError('escape sequence is an invalid Unicode code point', src, offset - 1);
        pushStr(String.fromCodePoint(cp));
        i += n;
        break;
      }
      default:
        if (e !== undefined && e >= '0' && e <= '7') {
          const o = body.slice(i, i + 3);
          if (!/^[0-7]{3}$/.test(o)) throw new ParseError('illegal character in escape sequence', src, offset - 1);
          const v = parseInt(o, 8);
          if (v > 255) throw new ParseError('octal escape value > 255', src, offset - 1);
          bytes.push(v);
          i += 2;
          break;
        }
        if (e === undefined) throw new ParseError('escape sequence not terminated', src, offset - 1);
        throw new ParseError(`unknown escape sequence ${goRuneU(String.fromCodePoint(body.codePointAt(i)!))}`, src, offset - 1);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    // Invalid UTF-8: keep the bytes as latin1-ish replacement so later validation can reject it.
    return new TextDecoder('utf-8').decode(new Uint8Array(bytes));
  }
}

/**
 * Tokens up to the first lexer error, which becomes an 'error' token: as in Prometheus, a lexer
 * error is only reported if the parser gets that far (an earlier syntax error wins). The lexer keeps
 * Prometheus's state (open parentheses, brackets, braces) for its wording of those errors.
 */
function lex(src: string): Token[] {
  const toks: Token[] = [];
  try {
    lexInto(src, toks);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    toks.push({ kind: 'error', text: '', num: 0, str: '', start: e.position.start, end: e.position.end, error: e });
  }
  return toks;
}

function lexInto(src: string, toks: Token[]): void {
  let i = 0;
  let bracketDepth = 0;
  let parenDepth = 0;
  let braceOpen = false;
  let gotColon = false;
  const n = src.length;
  const charAt = (k: number) => String.fromCodePoint(src.codePointAt(k) ?? 0);
  const push = (kind: TokKind, start: number, end: number, num = 0, str = '') =>
    toks.push({ kind, text: src.slice(start, end), num, str, start, end });
  while (i < n) {
    const c = src.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    if (c === 35) {
      // '#' comment to end of line
      while (i < n && src.charCodeAt(i) !== 10) i++;
      continue;
    }
    const start = i;
    if (braceOpen) {
      // Prometheus's lexInsideBraces: identifiers, strings, matching operators, ',' and '}' only.
      if (c === 33 && src[i + 1] !== '=' && src[i + 1] !== '~') {
        throw new ParseError(`unexpected character after '!' inside braces: ${goQuoteRune(i + 1 < n ? charAt(i + 1) : '')}`, src, i);
      }
      if (c === 123) throw new ParseError("unexpected left brace '{'", src, i);
      if (!(isAlpha(c) || c === 44 || c === 34 || c === 39 || c === 96 || c === 61 || c === 33 || c === 125)) {
        throw new ParseError(`unexpected character inside braces: ${goQuoteRune(charAt(i))}`, src, i);
      }
      if (isAlpha(c)) {
        while (i < n && (isAlpha(src.charCodeAt(i)) || isDigit(src.charCodeAt(i)))) i++;
        push('ident', start, i);
        continue;
      }
    }
    if (isDigit(c) || (c === 46 && i + 1 < n && isDigit(src.charCodeAt(i + 1)))) {
      // number or duration
      if (c === 48 && (src[i + 1] === 'x' || src[i + 1] === 'X')) {
        i += 2;
        while (i < n && (isHex(src.charCodeAt(i)) || src[i] === '_')) i++;
        const text = src.slice(start + 2, i).replace(/_/g, '');
        if (text.length === 0) throw new ParseError(`error parsing number: strconv.ParseFloat: parsing ${JSON.stringify(src.slice(start, i))}: invalid syntax`, src, start);
        push('number', start, i, parseInt(text, 16));
      } else {
        while (i < n && (isDigit(src.charCodeAt(i)) || src[i] === '_')) i++;
        if (src[i] === '.') {
          i++;
          while (i < n && (isDigit(src.charCodeAt(i)) || src[i] === '_')) i++;
        }
        if ((src[i] === 'e' || src[i] === 'E') &&
          (isDigit(src.charCodeAt(i + 1)) || ((src[i + 1] === '+' || src[i + 1] === '-') && isDigit(src.charCodeAt(i + 2))))) {
          i += 2;
          while (i < n && isDigit(src.charCodeAt(i))) i++;
        }
        // duration?
        if (i < n && /[smhdwy]/.test(src[i]!)) {
          let j = i;
          while (j < n && (isAlpha(src.charCodeAt(j)) || isDigit(src.charCodeAt(j)) || src[j] === '.')) j++;
          const text = src.slice(start, j);
          const ms = parseDurationMs(text);
          if (ms === null) throw new ParseError(`bad number or duration syntax: "${text}"`, src, start, j);
          push('duration', start, j, ms / 1000);
          i = j;
          continue;
        }
        if ((src[i] === 'e' || src[i] === 'E') && !isIdentChar(src.charCodeAt(i + 1)) && !(src[i + 1] === '+' || src[i + 1] === '-')) {
          throw new ParseError(`error parsing number: strconv.ParseFloat: parsing ${JSON.stringify(src.slice(start, i + 1))}: invalid syntax`, src, start);
        }
        if (i < n && isIdentChar(src.charCodeAt(i)) && !(bracketDepth > 0 && src[i] === ':')) {
          let j = i;
          while (j < n && isIdentChar(src.charCodeAt(j))) j++;
          throw new ParseError(`bad number or duration syntax: "${src.slice(start, j)}"`, src, start, j);
        }
        const text = src.slice(start, i).replace(/_/g, '');
        let v: number;
        if (/^0[0-7]+$/.test(text)) v = parseInt(text, 8);
        else v = Number(text.endsWith('.') ? text.slice(0, -1) : text);
        if (Number.isNaN(v)) throw new ParseError(`bad number or duration syntax: "${src.slice(start, i)}"`, src, start, i);
        push('number', start, i, v);
      }
      continue;
    }
    if (isIdentStart(c) && !(c === 58 && bracketDepth > 0)) {
      while (i < n && isIdentChar(src.charCodeAt(i))) i++;
      push('ident', start, i);
      continue;
    }
    if (c === 34 || c === 39) {
      const q = src[i]!;
      i++;
      while (i < n && src[i] !== q) {
        if (src[i] === '\\') i++;
        if (src[i] === '\n') throw new ParseError('unterminated quoted string', src, start);
        i++;
      }
      if (i >= n) throw new ParseError('unterminated quoted string', src, start);
      i++;
      push('string', start, i, 0, decodeEscapes(src.slice(start + 1, i - 1), q, src, start + 1));
      continue;
    }
    if (c === 96) {
      i++;
      while (i < n && src[i] !== '`') i++;
      if (i >= n) throw new ParseError('unterminated raw string', src, start);
      i++;
      push('string', start, i, 0, src.slice(start + 1, i - 1));
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '=~' || two === '!~' || two === '<=' || two === '>=' || two === '</' || two === '>/') {
      i += 2;
      push(two as TokKind, start, i);
      continue;
    }
    const one = src[i]!;
    if ('(){}[],:@=<>+-*/%^'.includes(one)) {
      switch (one) {
        case '(':
          parenDepth++;
          break;
        case ')':
          if (parenDepth === 0) throw new ParseError("unexpected right parenthesis ')'", src, i + 1);
          parenDepth--;
          break;
        case '{':
          braceOpen = true;
          break;
        case '}':
          if (!braceOpen) throw new ParseError("unexpected character: '}'", src, i);
          braceOpen = false;
          break;
        case '[':
          if (bracketDepth > 0) throw new ParseError("unexpected left bracket '['", src, i);
          bracketDepth++;
          gotColon = false;
          break;
        case ']':
          if (bracketDepth === 0) throw new ParseError("unexpected right bracket ']'", src, i);
          bracketDepth--;
          break;
        case ':':
          if (bracketDepth > 0) {
            if (gotColon) throw new ParseError("unexpected colon ':'", src, i);
            gotColon = true;
          }
          break;
      }
      i++;
      push(one as TokKind, start, i);
      continue;
    }
    if (one === '!') throw new ParseError(`unexpected character after '!': ${goQuoteRune(i + 1 < n ? charAt(i + 1) : '')}`, src, i);
    throw new ParseError(`unexpected character: ${goQuoteRune(charAt(i))}`, src, i);
  }
  // What Prometheus's lexer says at the end of the input with something still open.
  let eofError: ParseError | undefined;
  if (braceOpen) eofError = new ParseError('unexpected end of input inside braces', src, n);
  else if (parenDepth > 0) eofError = new ParseError('unclosed left parenthesis', src, n);
  else if (bracketDepth > 0) eofError = new ParseError('unclosed left bracket', src, n);
  toks.push({ kind: 'eof', text: '', num: 0, str: '', start: n, end: n, ...(eofError ? { error: eofError } : {}) });
}

/**
 * A regexp compile error worded as Go's regexp/syntax (which Prometheus reports): the JS engine's
 * message is mapped for the common cases; matchers compile as ^(?:<value>)$.
 */
export function goRegexpError(jsMessage: string, value: string): string {
  const whole = `^(?:${value})$`;
  if (/Unterminated group/.test(jsMessage)) return `error parsing regexp: missing closing ): \`${whole}\``;
  if (/Unmatched '\)'/.test(jsMessage)) return `error parsing regexp: unexpected ): \`${whole}\``;
  if (/Unterminated character class/.test(jsMessage)) {
    let at = -1;
    let inClass = false;
    for (let i = 0; i < value.length; i++) {
      const c = value[i];
      if (c === '\\') { i++; continue; }
      if (!inClass && c === '[') { inClass = true; at = i; if (value[i + 1] === '^') i++; if (value[i + 1] === ']') i++; continue; }
      if (inClass && c === ']') inClass = false;
    }
    if (at >= 0) return `error parsing regexp: missing closing ]: \`${value.slice(at)})$\``;
  }
  if (/Nothing to repeat/.test(jsMessage)) {
    const r = repetitionError(value);
    if (r) return `error parsing regexp: ${r}`;
  }
  return jsMessage;
}

function repetitionError(v: string): string | null {
  let prev: 'none' | 'atom' | 'rep' | 'lazy' = 'none';
  let lastOpStart = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    let op = '';
    if (c === '\\') { i++; prev = 'atom'; continue; }
    if (c === '[') {
      let j = i + 1;
      if (v[j] === '^') j++;
      if (v[j] === ']') j++;
      while (j < v.length && v[j] !== ']') { if (v[j] === '\\') j++; j++; }
      i = j;
      prev = 'atom';
      continue;
    }
    if (c === '(') {
      if (v[i + 1] === '?') { const k = v.indexOf(':', i); const k2 = v.indexOf(')', i); i = k >= 0 && (k2 < 0 || k < k2) ? k : i + 1; }
      prev = 'none';
      continue;
    }
    if (c === '|') { prev = 'none'; continue; }
    if (c === '*' || c === '+' || c === '?') op = c;
    else if (c === '{') {
      const m = /^\{\d+(,\d*)?\}/.exec(v.slice(i));
      if (m) { op = m[0]; }
    }
    if (!op) { prev = 'atom'; continue; }
    if (prev === 'none') return `missing argument to repetition operator: \`${op}\``;
    if (prev === 'rep' && op === '?') { prev = 'lazy'; i += op.length - 1; continue; }
    if (prev === 'rep' || prev === 'lazy') return `invalid nested repetition operator: \`${v.slice(lastOpStart, i + op.length)}\``;
    lastOpStart = i;
    prev = 'rep';
    i += op.length - 1;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Parser

const AGGREGATORS = new Set<string>([
  'sum', 'avg', 'count', 'min', 'max', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'count_values', 'quantile',
  'limitk', 'limit_ratio',
]);
const KEYWORDS = new Set<string>([
  'and', 'or', 'unless', 'atan2', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset',
]);

const PREC: Record<string, number> = {
  or: 1, and: 2, unless: 2,
  '==': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3, '</': 3, '>/': 3,
  '+': 4, '-': 4,
  '*': 5, '/': 5, '%': 5, atan2: 5,
  '^': 6,
};

/**
 * Deepest nesting the parser accepts (parentheses, call arguments, aggregations, '^' chains). The
 * parser is recursive descent, a few JS frames per level; this stays well inside Node's default
 * stack (about 1 MB) wherever a query is parsed. Chains that are not nesting (unary signs, `a + b
 * + ...`) are not limited: they parse in loops, and every walk over the tree is iterative.
 */
export const MAX_NESTING = 1000;

export interface ParseOptions {
  /** Allow experimental functions (Prometheus --enable-feature=promql-experimental-functions). */
  experimentalFunctions?: boolean;
}

export function parseExpr(src: string, opts: ParseOptions = {}): Expr {
  const p = new Parser(src, opts);
  const e = p.parseTop();
  checkTypes(e, src);
  return e;
}

/** BinaryExpr -> its operator's offset (Prometheus reports operator errors there). */
const opStart = new WeakMap<Expr, number>();
/** BinaryExpr written with group_left/group_right on a set operator (reported by the type checker). */
const setOpGrouping = new WeakSet<Expr>();
/** Item types whose description is their spelling in quotes (Prometheus's ItemTypeStr, non-operators). */
const PUNCT = new Set<string>(['(', ')', '{', '}', '[', ']', ',', '=', ':']);
const OPERATOR_TOKENS = new Set<string>(['+', '-', '*', '/', '%', '^', '==', '!=', '<', '<=', '>', '>=', '</', '>/', '=~', '!~', '@']);

class Parser {
  private toks: Token[];
  private i = 0;
  /** > 0 while inside an aggregation (Prometheus's "... in aggregation" errors). */
  private aggDepth = 0;
  /** Active parseBinary calls below the top one: the nesting depth (limit MAX_NESTING). A parse
   *  error ends the whole parse, so only normal returns need to decrement it. */
  private depth = -1;
  constructor(private src: string, private opts: ParseOptions) {
    this.toks = lex(src);
  }

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }
  private next(): Token {
    return this.toks[this.i++]!;
  }
  private err(msg: string, t: Token = this.peek()): never {
    // A lexer error (or an unclosed bracket at the end) is what Prometheus reports once the parser reaches it.
    if (t.error) throw t.error;
    throw new ParseError(msg, this.src, t.start, t.end);
  }
  /** Prometheus's generic syntax error: "unexpected <item>", "in aggregation" inside one. */
  private unexpected(t: Token = this.peek()): never {
    return this.err(`unexpected ${this.describe(t)}${this.aggDepth > 0 ? ' in aggregation' : ''}`, t);
  }
  /** Prometheus's Item.desc(). */
  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of input';
    const q = (x: string) => {
      const cps = [...x];
      return cps.length > 10 ? `${goQuote(cps.slice(0, 10).join(''))}...` : goQuote(x);
    };
    if (t.kind === 'ident') {
      const l = t.text.toLowerCase();
      if (AGGREGATORS.has(l)) return `<aggr:${t.text}>`;
      if (l === 'and' || l === 'or' || l === 'unless' || l === 'atan2') return `<op:${t.text}>`;
      if (KEYWORDS.has(l)) return `<${t.text}>`;
      return `${t.text.includes(':') ? 'metric identifier' : 'identifier'} ${goQuote(t.text)}`;
    }
    if (t.kind === 'number') return `number ${q(t.text)}`;
    if (t.kind === 'duration') return `duration ${q(t.text)}`;
    if (t.kind === 'string') return `string ${q(t.text)}`;
    if (OPERATOR_TOKENS.has(t.kind)) return `<op:${t.kind}>`;
    if (PUNCT.has(t.kind)) return goQuote(t.kind);
    return t.text;
  }
  private expect(kind: TokKind, ctx: string): Token {
    const t = this.peek();
    if (t.kind !== kind) this.err(`unexpected ${this.describe(t)} in ${ctx}, expected ${JSON.stringify(kind)}`);
    return this.next();
  }
  private isKw(t: Token, kw: string): boolean {
    return t.kind === 'ident' && t.text.toLowerCase() === kw;
  }

  parseTop(): Expr {
    if (this.peek().kind === 'eof') this.err('no expression found in input');
    const e = this.parseBinary(0);
    const t = this.peek();
    if (t.kind !== 'eof') this.unexpected(t);
    if (t.error) throw t.error;
    return e;
  }

  private binOpOf(t: Token): BinaryOp | null {
    switch (t.kind) {
      case '+': case '-': case '*': case '/': case '%': case '^':
      case '==': case '!=': case '<': case '<=': case '>': case '>=': case '</': case '>/':
        return t.kind;
      case 'ident': {
        const l = t.text.toLowerCase();
        if (l === 'and' || l === 'or' || l === 'unless' || l === 'atan2') return l as BinaryOp;
        return null;
      }
      default:
        return null;
    }
  }

  private parseBinary(minPrec: number): Expr {
    // Every nesting level (parentheses, call arguments, aggregations, the right side of '^') passes
    // through here: past MAX_NESTING the query is refused with a clear error instead of exhausting
    // the JavaScript stack ("Maximum call stack size exceeded").
    if (++this.depth > MAX_NESTING) {
      this.err(`expression nesting too deep: more than ${MAX_NESTING} levels of parentheses, function calls, aggregations or "^"`);
    }
    let lhs = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const op = this.binOpOf(t);
      if (!op) {
        this.depth--;
        return lhs;
      }
      const prec = PREC[op]!;
      if (prec < minPrec) {
        this.depth--;
        return lhs;
      }
      this.next();
      // modifiers
      let returnBool = false;
      if (this.isKw(this.peek(), 'bool')) {
        this.next();
        if (!isComparison(op)) this.err('bool modifier can only be used on comparison operators', t);
        returnBool = true;
      }
      let matching: VectorMatching | null = null;
      let grouped = false;
      if (this.isKw(this.peek(), 'on') || this.isKw(this.peek(), 'ignoring')) {
        const on = this.isKw(this.next(), 'on');
        const labels = this.parseLabelList();
        matching = { card: 'one-to-one', matchingLabels: labels, on, include: [] };
        const g = this.peek();
        if (this.isKw(g, 'group_left') || this.isKw(g, 'group_right')) {
          this.next();
          matching.card = this.isKw(g, 'group_left') ? 'many-to-one' : 'one-to-many';
          if (this.peek().kind === '(') matching.include = this.parseLabelList();
          if (isSetOp(op)) grouped = true;
        }
      } else if (this.isKw(this.peek(), 'group_left') || this.isKw(this.peek(), 'group_right')) {
        this.unexpected();
      }
      const rhs = this.parseBinary(op === '^' ? prec : prec + 1);
      if (matching === null) matching = { card: 'one-to-one', matchingLabels: [], on: false, include: [] };
      if (isSetOp(op)) matching.card = 'many-to-many';
      const pos = { start: lhs.pos.start, end: rhs.pos.end };
      const be: BinaryExpr = { type: 'BinaryExpr', op, lhs, rhs, returnBool, matching, pos };
      opStart.set(be, t.start);
      if (grouped) setOpGrouping.add(be);
      lhs = be;
    }
  }

  private parseUnary(): Expr {
    // A run of unary operators is read in a loop (not one recursion per operator): `- - - ... x`
    // with thousands of signs parses in constant stack. Unary binds like '*': only '^' (and
    // postfix) bind tighter, so the operand is one parseBinary at '^' precedence.
    const ops: Token[] = [];
    for (let t = this.peek(); t.kind === '+' || t.kind === '-'; t = this.peek()) ops.push(this.next());
    if (ops.length === 0) return this.parsePostfix(this.parsePrimary());
    let e = this.parseBinary(PREC['^']!);
    for (let i = ops.length - 1; i >= 0; i--) {
      const t = ops[i]!;
      const pos = { start: t.start, end: e.pos.end };
      e = e.type === 'NumberLiteral'
        ? { type: 'NumberLiteral', val: t.kind === '-' ? -e.val : e.val, pos }
        : { type: 'UnaryExpr', op: t.kind as '+' | '-', expr: e, pos };
    }
    return e;
  }

  private parseDurationOrNumber(ctx: string): number {
    const t = this.next();
    if (t.kind === 'duration' || t.kind === 'number') return Math.round(t.num * 1000);
    this.i--;
    return this.err(`unexpected ${this.describe(t)} in ${ctx}, expected duration`);
  }

  private parsePostfix(e: Expr): Expr {
    for (;;) {
      const t = this.peek();
      if (t.kind === '[') {
        this.next();
        const range = this.parseDurationOrNumber(e.type === 'VectorSelector' ? 'range vector selector' : 'subquery selector');
        if (this.peek().kind === ':') {
          this.next();
          let step = 0;
          if (this.peek().kind !== ']') {
            const st = this.peek();
            if (st.kind !== 'duration' && st.kind !== 'number') this.err(`unexpected ${this.describe(st)} in subquery selector, expected duration or "]"`, st);
            step = this.parseDurationOrNumber('subquery selector');
          }
          const close = this.expect(']', 'subquery selector');
          if (range <= 0) throw new ParseError(`range duration must be greater than 0`, this.src, t.start, close.end);
          const sq: SubqueryExpr = {
            type: 'SubqueryExpr', expr: e, range, step, offset: 0, at: null, atModifier: null,
            pos: { start: e.pos.start, end: close.end },
          };
          e = sq;
          continue;
        }
        const close = this.peek();
        if (close.kind === 'eof') this.err('unclosed left bracket');
        if (close.kind !== ']') this.err(`unexpected ${this.describe(close)} in subquery or range, expected ":" or "]"`);
        this.next();
        if (e.type !== 'VectorSelector') {
          throw new ParseError('ranges only allowed for vector selectors', this.src, t.start, close.end);
        }
        if (e.offset !== 0 || e.at !== null || e.atModifier !== null) {
          throw new ParseError('no offset modifiers allowed before range', this.src, e.pos.start, close.end);
        }
        if (range <= 0) throw new ParseError(`range duration must be greater than 0`, this.src, t.start, close.end);
        const ms: MatrixSelector = { type: 'MatrixSelector', vs: e, range, pos: { start: e.pos.start, end: close.end } };
        e = ms;
        continue;
      }
      if (this.isKw(t, 'offset')) {
        this.next();
        let sign = 1;
        if (this.peek().kind === '-' || this.peek().kind === '+') {
          if (this.next().kind === '-') sign = -1;
        }
        const d = sign * this.parseDurationOrNumber('offset');
        const target = this.modTarget(e, 'offset');
        if (target.offset !== 0) throw new ParseError('offset may not be set multiple times', this.src, e.pos.start, this.toks[this.i - 1]!.end);
        target.offset = d;
        e.pos = { start: e.pos.start, end: this.toks[this.i - 1]!.end };
        continue;
      }
      if (t.kind === '@') {
        this.next();
        const target = this.modTarget(e, '@');
        if (target.at !== null || target.atModifier !== null) throw new ParseError('@ <timestamp> may not be set multiple times', this.src, e.pos.start, t.end);
        const v = this.peek();
        if (v.kind === 'ident' && (v.text === 'start' || v.text === 'end')) {
          this.next();
          this.expect('(', '@ modifier');
          this.expect(')', '@ modifier');
          target.atModifier = v.text as AtModifier;
        } else {
          let sign = 1;
          if (v.kind === '-' || v.kind === '+') {
            if (this.next().kind === '-') sign = -1;
          }
          const nt = this.next();
          if (nt.kind !== 'number' && nt.kind !== 'duration') {
            this.i--;
            this.err(`unexpected ${this.describe(nt)} in @, expected timestamp`);
          }
          const f = sign * nt.num;
          if (!Number.isFinite(f)) throw new ParseError(`timestamp out of bounds for @ modifier: ${f}`, this.src, nt.start, nt.end);
          const ms = Math.round(f * 1000);
          if (Math.abs(ms) > 9.2233720368547e18) throw new ParseError(`timestamp out of bounds for @ modifier: ${f}`, this.src, nt.start, nt.end);
          target.at = ms;
        }
        e.pos = { start: e.pos.start, end: this.toks[this.i - 1]!.end };
        continue;
      }
      return e;
    }
  }

  private modTarget(e: Expr, what: string): VectorSelector | SubqueryExpr {
    if (e.type === 'VectorSelector' || e.type === 'SubqueryExpr') return e;
    if (e.type === 'MatrixSelector') return e.vs;
    const name = what === 'offset' ? 'offset' : '@';
    return this.err(`${name} modifier must be preceded by an instant vector selector or range vector selector or a subquery`);
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'number':
      case 'duration':
        this.next();
        return { type: 'NumberLiteral', val: t.num, pos: { start: t.start, end: t.end } };
      case 'string':
        this.next();
        return { type: 'StringLiteral', val: t.str, pos: { start: t.start, end: t.end } };
      case '(': {
        this.next();
        if (this.peek().kind === ')') this.unexpected();
        const inner = this.parseBinary(0);
        const close = this.peek();
        if (close.kind !== ')') this.unexpected(close);
        this.next();
        const pe: ParenExpr = { type: 'ParenExpr', expr: inner, pos: { start: t.start, end: close.end } };
        return pe;
      }
      case '{':
        return this.parseSelector(null);
      case 'ident': {
        const lower = t.text.toLowerCase();
        const nxt = this.peek(1);
        if (AGGREGATORS.has(lower) && (nxt.kind === '(' || this.isKw(nxt, 'by') || this.isKw(nxt, 'without'))) {
          return this.parseAggregate();
        }
        if (nxt.kind === '(' && !KEYWORDS.has(lower)) return this.parseCall();
        if (lower === 'inf' || lower === 'nan') {
          this.next();
          return { type: 'NumberLiteral', val: lower === 'inf' ? Infinity : NaN, pos: { start: t.start, end: t.end } };
        }
        if (KEYWORDS.has(lower) || AGGREGATORS.has(lower)) this.unexpected(t);
        return this.parseSelector(t);
      }
      default:
        return this.unexpected(t);
    }
  }

  private parseLabelList(): string[] {
    const open = this.peek();
    if (open.kind !== '(') this.err(`unexpected ${this.describe(open)} in grouping opts, expected "("`);
    this.next();
    const out: string[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === ')') {
        this.next();
        return out;
      }
      if (t.kind === 'ident') {
        if (t.text.includes(':')) this.err(`unexpected identifier ${JSON.stringify(t.text)} in grouping opts, expected label`);
        out.push(t.text);
      } else if (t.kind === 'string') {
        out.push(t.str);
      } else {
        this.err(`unexpected ${this.describe(t)} in grouping opts, expected label`);
      }
      this.next();
      const sep = this.peek();
      if (sep.kind === ',') {
        this.next();
        continue;
      }
      if (sep.kind !== ')') this.err(`unexpected ${this.describe(sep)} in grouping opts, expected "," or ")"`);
    }
  }

  private parseAggregate(): AggregateExpr {
    this.aggDepth++;
    try {
      return this.parseAggregateBody();
    } finally {
      this.aggDepth--;
    }
  }

  private parseAggregateBody(): AggregateExpr {
    const opTok = this.next();
    const op = opTok.text.toLowerCase() as AggregateOp;
    let grouping: string[] = [];
    let without = false;
    let hasGrouping = false;
    if (this.isKw(this.peek(), 'by') || this.isKw(this.peek(), 'without')) {
      without = this.isKw(this.next(), 'without');
      grouping = this.parseLabelList();
      hasGrouping = true;
    }
    if (this.peek().kind !== '(') this.unexpected();
    this.next();
    if (this.peek().kind === ')') this.err(`no arguments for aggregate expression provided`);
    const args: Expr[] = [];
    for (;;) {
      args.push(this.parseBinary(0));
      const t = this.peek();
      if (t.kind === ',') {
        this.next();
        if (this.peek().kind === ')') this.err('trailing commas not allowed in function call args', t);
        continue;
      }
      if (t.kind === ')') break;
      this.unexpected(t);
    }
    const close = this.next();
    if (this.isKw(this.peek(), 'by') || this.isKw(this.peek(), 'without')) {
      if (hasGrouping) this.err('unexpected <by/without>');
      without = this.isKw(this.next(), 'without');
      grouping = this.parseLabelList();
    }
    const needsParam = op === 'topk' || op === 'bottomk' || op === 'quantile' || op === 'count_values' || op === 'limitk' || op === 'limit_ratio';
    let param: Expr | null = null;
    let expr: Expr;
    if (needsParam) {
      if (args.length !== 2) throw new ParseError(`wrong number of arguments for aggregate expression provided, expected 2, got ${args.length}`, this.src, opTok.start, close.end);
      param = args[0]!;
      expr = args[1]!;
    } else {
      if (args.length !== 1) throw new ParseError(`wrong number of arguments for aggregate expression provided, expected 1, got ${args.length}`, this.src, opTok.start, close.end);
      expr = args[0]!;
    }
    const end = this.toks[this.i - 1]!.end;
    return { type: 'AggregateExpr', op, expr, param, grouping, without, pos: { start: opTok.start, end } };
  }

  /** Set while parsing info()'s label-filter argument (consumed by the next selector). */
  private bypassEmptyMatcherCheck = false;

  private parseCall(): Call {
    const nameTok = this.next();
    const sig = FUNCTIONS.get(nameTok.text);
    if (!sig) this.err(`unknown function with name ${JSON.stringify(nameTok.text)}`, nameTok);
    if (sig.experimental && this.opts.experimentalFunctions === false) {
      this.err(`function ${JSON.stringify(nameTok.text)} is not enabled`, nameTok);
    }
    this.expect('(', 'function call');
    const args: Expr[] = [];
    if (this.peek().kind !== ')') {
      for (;;) {
        // info()'s second argument is a label filter: it may match the empty string (Prometheus
        // BypassEmptyMatcherCheck); it must be a bare selector.
        const infoFilter = nameTok.text === 'info' && args.length === 1;
        this.bypassEmptyMatcherCheck = infoFilter && this.peek().kind === '{';
        const argStart = this.peek();
        args.push(this.parseBinary(0));
        this.bypassEmptyMatcherCheck = false;
        if (infoFilter) {
          const a = args[1]!;
          if (a.type !== 'VectorSelector') this.err('expected label selectors only', argStart);
          else if (argStart.kind !== '{') this.err('expected label selectors only, got vector selector instead', argStart);
        }
        const t = this.peek();
        if (t.kind === ',') {
          this.next();
          if (this.peek().kind === ')') this.err('trailing commas not allowed in function call args', t);
          continue;
        }
        if (t.kind === ')') break;
        this.unexpected(t);
      }
    }
    const close = this.next();
    return { type: 'Call', func: nameTok.text, args, pos: { start: nameTok.start, end: close.end } };
  }

  private parseSelector(nameTok: Token | null): VectorSelector {
    const matchers: Matcher[] = [];
    let name = '';
    const start = nameTok ? nameTok.start : this.peek().start;
    if (nameTok) {
      this.next();
      name = nameTok.text;
      matchers.push({ type: '=', name: METRIC_NAME, value: name });
    }
    let end = nameTok ? nameTok.end : start;
    if (this.peek().kind === '{') {
      this.next();
      for (;;) {
        const t = this.peek();
        if (t.kind === '}') break;
        if (t.kind === 'eof') this.err('unexpected end of input inside braces');
        let lname: string;
        if (t.kind === 'ident') {
          lname = t.text;
          if (lname.includes(':')) this.err(`unexpected identifier ${JSON.stringify(lname)} in label matching, expected label`);
          this.next();
        } else if (t.kind === 'string') {
          this.next();
          const op = this.peek();
          if (op.kind === ',' || op.kind === '}') {
            // quoted metric name
            if (name !== '') this.err(`metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(t.str)}`, t);
            name = t.str;
            matchers.push({ type: '=', name: METRIC_NAME, value: name });
            if (op.kind === ',') this.next();
            continue;
          }
          lname = t.str;
        } else {
          this.err(`unexpected ${this.describe(t)} in label matching, expected identifier or "}"`);
        }
        const op = this.peek();
        if (op.kind !== '=' && op.kind !== '!=' && op.kind !== '=~' && op.kind !== '!~') {
          this.err(`unexpected ${this.describe(op)} in label matching, expected label matching operator`);
        }
        this.next();
        const v = this.peek();
        if (v.kind !== 'string') this.err(`unexpected ${this.describe(v)} in label matching, expected string`);
        this.next();
        const m: Matcher = { type: op.kind as MatchType, name: lname, value: v.str };
        if (m.type === '=~' || m.type === '!~') {
          try {
            compileMatcher(m);
          } catch (e) {
            if (e instanceof MatcherError) throw new ParseError(goRegexpError(e.message, m.value), this.src, t.start, v.end);
            throw e;
          }
        }
        if (lname === METRIC_NAME && m.type === '=' && name === '' && !nameTok) name = m.value;
        else if (lname === METRIC_NAME && nameTok) {
          throw new ParseError(`metric name must not be set twice: ${JSON.stringify(nameTok.text)} or ${JSON.stringify(m.value)}`, this.src, start, v.end);
        }
        matchers.push(m);
        const sep = this.peek();
        if (sep.kind === ',') {
          this.next();
          continue;
        }
        if (sep.kind === 'eof') this.err('unexpected end of input inside braces');
        if (sep.kind !== '}') this.err(`unexpected ${this.describe(sep)} in label matching, expected "," or "}"`);
      }
      end = this.next().end;
    }
    const pos: PosRange = { start, end };
    // A selector must contain at least one matcher that does not match the empty string.
    const bypass = this.bypassEmptyMatcherCheck;
    this.bypassEmptyMatcherCheck = false;
    if (!bypass && !matchers.some((m) => !compileMatcher(m).matchesEmpty)) {
      throw new ParseError('vector selector must contain at least one non-empty matcher', this.src, start, end);
    }
    return { type: 'VectorSelector', name, matchers, offset: 0, at: null, atModifier: null, pos };
  }
}

// ---------------------------------------------------------------------------------------------
// Type checking

export function typeOf(e: Expr): ValueType {
  // Without recursion: unary/paren chains are followed in a loop, binary trees by typeOfBinary.
  for (;;) {
    switch (e.type) {
      case 'NumberLiteral': return 'scalar';
      case 'StringLiteral': return 'string';
      case 'VectorSelector': return 'vector';
      case 'MatrixSelector': return 'matrix';
      case 'SubqueryExpr': return 'matrix';
      case 'Call': return FUNCTIONS.get(e.func)!.ret;
      case 'AggregateExpr': return 'vector';
      case 'BinaryExpr': return typeOfBinary(e);
      case 'UnaryExpr':
      case 'ParenExpr':
        e = e.expr;
        continue;
    }
  }
}

/** Types of binary expressions, computed once per node (a 2000-term sum asks for every sub-sum). */
const binaryTypes = new WeakMap<Expr, ValueType>();

function stripUnary(e: Expr): Expr {
  while (e.type === 'UnaryExpr' || e.type === 'ParenExpr') e = e.expr;
  return e;
}

/** The type of a binary expression: scalar only when both sides are; an explicit stack, no recursion. */
function typeOfBinary(root: BinaryExpr): ValueType {
  const known = (x: Expr): ValueType | undefined => (x.type === 'BinaryExpr' ? binaryTypes.get(x) : typeOf(x));
  const stack: BinaryExpr[] = [root];
  while (stack.length) {
    const n = stack[stack.length - 1]!;
    if (binaryTypes.has(n)) {
      stack.pop();
      continue;
    }
    const l = stripUnary(n.lhs);
    const r = stripUnary(n.rhs);
    const lt = known(l);
    if (lt === undefined) {
      stack.push(l as BinaryExpr);
      continue;
    }
    const rt = known(r);
    if (rt === undefined) {
      stack.push(r as BinaryExpr);
      continue;
    }
    binaryTypes.set(n, lt === 'scalar' && rt === 'scalar' ? 'scalar' : 'vector');
    stack.pop();
  }
  return binaryTypes.get(root)!;
}

export function documentedType(t: ValueType): string {
  switch (t) {
    case 'vector': return 'instant vector';
    case 'matrix': return 'range vector';
    default: return t;
  }
}

function checkTypes(e: Expr, src: string): void {
  const fail = (msg: string, node: Expr): never => {
    throw new ParseError(msg, src, node.pos.start, node.pos.end);
  };
  // Post-order without recursion, in the order Prometheus's checkAST reports errors: operands
  // first (left to right), a call's arguments each checked right after it is visited.
  type Step = { k: 'visit'; n: Expr } | { k: 'after'; n: Expr } | { k: 'arg'; n: Call; i: number };
  const stack: Step[] = [{ k: 'visit', n: e }];
  while (stack.length) {
    const st = stack.pop()!;
    if (st.k === 'arg') {
      const n = st.n;
      const sig = FUNCTIONS.get(n.func)!;
      const i = st.i;
      const a = n.args[i]!;
      const want = i < sig.args.length ? sig.args[i]! : sig.args[sig.args.length - 1]!;
      const got = typeOf(a);
      if (got !== want) fail(`expected type ${documentedType(want)} in call to function ${JSON.stringify(sig.name)}, got ${documentedType(got)}`, a);
      continue;
    }
    const n = st.n;
    if (st.k === 'visit') {
      switch (n.type) {
        case 'ParenExpr':
          stack.push({ k: 'visit', n: n.expr });
          break;
        case 'SubqueryExpr':
        case 'UnaryExpr':
          stack.push({ k: 'after', n }, { k: 'visit', n: n.expr });
          break;
        case 'AggregateExpr':
          stack.push({ k: 'after', n });
          if (n.param) stack.push({ k: 'visit', n: n.param });
          stack.push({ k: 'visit', n: n.expr });
          break;
        case 'BinaryExpr':
          stack.push({ k: 'after', n }, { k: 'visit', n: n.rhs }, { k: 'visit', n: n.lhs });
          break;
        case 'Call': {
          const sig = FUNCTIONS.get(n.func)!;
          const nargs = n.args.length;
          if (sig.variadic === 0) {
            if (nargs !== sig.args.length) fail(`expected ${sig.args.length} argument(s) in call to ${JSON.stringify(sig.name)}, got ${nargs}`, n);
          } else {
            const min = sig.args.length - 1;
            if (nargs < min) fail(`expected at least ${min} argument(s) in call to ${JSON.stringify(sig.name)}, got ${nargs}`, n);
            const max = min + sig.variadic;
            if (sig.variadic > 0 && nargs > max) fail(`expected at most ${max} argument(s) in call to ${JSON.stringify(sig.name)}, got ${nargs}`, n);
          }
          for (let i = nargs - 1; i >= 0; i--) stack.push({ k: 'arg', n, i }, { k: 'visit', n: n.args[i]! });
          break;
        }
        default:
          break;
      }
      continue;
    }
    // 'after': the node's own checks, its operands done.
    switch (n.type) {
      case 'SubqueryExpr': {
        const t = typeOf(n.expr);
        if (t !== 'vector') fail(`subquery is only allowed on instant vector, got ${t} instead`, n);
        break;
      }
      case 'UnaryExpr': {
        const t = typeOf(n.expr);
        if (t !== 'scalar' && t !== 'vector') fail(`unary expression only allowed on expressions of type scalar or instant vector, got ${JSON.stringify(documentedType(t))}`, n);
        break;
      }
      case 'AggregateExpr': {
        const t = typeOf(n.expr);
        if (t !== 'vector') fail(`expected type instant vector in aggregation expression, got ${documentedType(t)}`, n.expr);
        if (n.param) {
          const pt = typeOf(n.param);
          const want: ValueType = n.op === 'count_values' ? 'string' : 'scalar';
          if (pt !== want) fail(`expected type ${documentedType(want)} in aggregation parameter, got ${documentedType(pt)}`, n.param);
        }
        break;
      }
      case 'BinaryExpr': {
        const lt = typeOf(n.lhs);
        const rt = typeOf(n.rhs);
        // Prometheus's checkAST order and positions: operator errors at the operator, operand
        // type errors at the operand, the rest at the whole expression.
        const op = opStart.get(n) ?? n.pos.start;
        const failAt = (msg: string, start: number, end: number): never => {
          throw new ParseError(msg, src, start, end);
        };
        if (lt === 'scalar' && rt === 'scalar' && isComparison(n.op) && !n.returnBool) {
          failAt('comparisons between scalars must use BOOL modifier', op, op + n.op.length);
        }
        if (n.matching && n.matching.on) {
          for (const l of n.matching.include) {
            if (n.matching.matchingLabels.includes(l)) failAt(`label ${JSON.stringify(l)} must not occur in ON and GROUP clause at once`, op, op + n.op.length);
          }
        }
        if (lt !== 'scalar' && lt !== 'vector') fail('binary expression must contain only scalar and instant vector types', n.lhs);
        if (rt !== 'scalar' && rt !== 'vector') fail('binary expression must contain only scalar and instant vector types', n.rhs);
        if ((lt !== 'vector' || rt !== 'vector') && n.matching !== null) {
          if (n.matching.matchingLabels.length > 0) fail('vector matching only allowed between instant vectors', n);
        } else if (isSetOp(n.op) && setOpGrouping.has(n)) {
          fail(`no grouping allowed for "${n.op}" operation`, n);
        }
        if (isSetOp(n.op) && (lt === 'scalar' || rt === 'scalar')) {
          fail(`set operator ${JSON.stringify(n.op)} not allowed in binary scalar expression`, n);
        }
        if (!(lt === 'vector' && rt === 'vector')) n.matching = null;
        break;
      }
      default:
        break;
    }
  }
}

export { lex as _lexForTests };
