// The one regex engine for user-supplied patterns (label matchers, label_replace, relabelling,
// rule templates): RE2 syntax and semantics through re2js, a pure-JS port of RE2 that matches in
// time linear in the input. JavaScript's RegExp backtracks, so a pattern like (a+)+$ against a
// 32-character value held the event loop for 22 s (issue #21).
//
// Matchers are anchored as Prometheus 3 anchors them, ^(?s:re)$ (so `.` also matches "\n"), and
// take Prometheus's FastRegexMatcher shortcuts (model/labels/regexp.go): literals, sets of
// alternated literals (also case-insensitive), prefix/suffix/contains literals around `.*`, `.+`,
// `.?`, and literal prefilters in front of the engine. The shortcuts are found by a small parser
// below that understands only the shapes it can shortcut; anything else is "opaque" and left to
// the engine, so a shortcut never has to be right about syntax it does not model.
import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';

export class MatcherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatcherError';
  }
}

/** Prometheus's limit on the number of values a regex may be expanded into (maxSetMatches). */
const MAX_SET_MATCHES = 256;

/** One anchored match: groups[0] is the whole value, groups[i] a capture (undefined when it took no part). */
export interface RegexMatch {
  groups: (string | undefined)[];
}

/** A regex compiled for full-value matching: ^(?s:source)$ with RE2 semantics. */
export class Regex {
  /** Exact values this regex matches when it is a (case-sensitive) finite set of literals, as Prometheus's SetMatches. */
  readonly setMatches: string[] | undefined;
  /** Does the whole value match? Uses a shortcut when the pattern has one. */
  readonly matches: (value: string) => boolean;
  /** Which shortcut `matches` takes (for tests and the benchmark): 'set', 'fast', 'prefilter' or 'engine'. */
  readonly path: 'set' | 'fast' | 'prefilter' | 'engine';
  private engine: RE2JS | undefined;

  /** Use compileRegex (cached) rather than this constructor. */
  constructor(readonly source: string) {
    const lits = literalAlternatives(source);
    if (lits) {
      // Only literals: no engine needed at all (and nothing that can fail to parse).
      this.setMatches = lits;
      this.matches = setMatcher(lits);
      this.path = 'set';
      return;
    }
    this.engine = compileEngine(source, RE2JS.DOTALL, true);
    const engine = this.engine;
    const full = (v: string): boolean => engine.testExact(v);
    let tree: Node | null = null;
    try {
      tree = stripAnchors(simplify(new ShapeParser(source).parse()));
    } catch {
      tree = null; // the shape parser gave up: the engine alone decides
    }
    const fast = tree ? build(tree) : null;
    if (fast) {
      this.setMatches = fast.set;
      this.matches = fast.fn;
      this.path = fast.set ? 'set' : 'fast';
      return;
    }
    this.setMatches = undefined;
    const pre = tree ? prefilter(tree) : null;
    this.matches = pre ? (v) => pre(v) && full(v) : full;
    this.path = pre ? 'prefilter' : 'engine';
  }

  /** The general engine, compiled on first use for patterns that took the literal shortcut. */
  private re(): RE2JS {
    return (this.engine ??= compileEngine(this.source, RE2JS.DOTALL, true));
  }

  /** Matches the whole value through the engine (no shortcut): the reference the shortcuts must agree with. */
  engineMatches(value: string): boolean {
    return this.re().testExact(value);
  }

  /** The anchored match with its capture groups, or null (Go's FindStringSubmatch on ^(?s:re)$). */
  exec(value: string): RegexMatch | null {
    if (!this.matches(value)) return null;
    const m = this.re().matcher(value);
    if (!m.matches()) return null;
    const groups: (string | undefined)[] = [];
    for (let i = 0; i <= m.groupCount(); i++) groups.push(m.group(i) ?? undefined);
    return { groups };
  }

  /** Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$ in template from a match of this regex. */
  expand(template: string, m: RegexMatch): string {
    return expandTemplate(template, m.groups, this.re().namedGroups());
  }

  /** The whole value (Go's test/RegExp-like alias kept for callers that used RegExp.test). */
  test(value: string): boolean {
    return this.matches(value);
  }
}

// A bounded cache: the same matcher is compiled once per block, store and query otherwise.
const cache = new Map<string, Regex>();
const CACHE_SIZE = 1000;

/** Compiles a Prometheus regex (anchored, RE2). Errors are MatcherError worded as Go's regexp/syntax. */
export function compileRegex(source: string): Regex {
  let r = cache.get(source);
  if (r) {
    cache.delete(source); // LRU: move to the back
    cache.set(source, r);
    return r;
  }
  r = new Regex(source);
  cache.set(source, r);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return r;
}

/**
 * Compiles with re2js. The error text is Go's ("error parsing regexp: <what>: `<where>`"); for a
 * matcher it is worded for the pattern as Prometheus 2.42 compiled it, ^(?:re)$, as the recorded
 * API answers have it, except where that form would hide the error (a)|(b is valid once wrapped).
 */
function compileEngine(source: string, flags: number, anchoredWording: boolean): RE2JS {
  try {
    return RE2JS.compile(source, flags);
  } catch (e) {
    if (!(e instanceof RE2JSException)) throw e;
    let msg = syntaxMessage(e, source);
    if (anchoredWording) {
      try {
        RE2JS.compile(`^(?:${source})$`, flags);
      } catch (e2) {
        if (e2 instanceof RE2JSException) msg = syntaxMessage(e2, `^(?:${source})$`);
      }
    }
    throw new MatcherError(msg);
  }
}

function syntaxMessage(e: RE2JSException, source: string): string {
  if (e instanceof RE2JSSyntaxException) {
    // re2js puts the flags it prepends ((?s)) into the quoted input; Go quotes the pattern as given.
    let input = e.input ?? '';
    if (input.startsWith('(?s)') && input.slice(4) === source) input = source;
    return input ? `error parsing regexp: ${e.error}: \`${input}\`` : `error parsing regexp: ${e.error}`;
  }
  return `error parsing regexp: ${e.message}`;
}

/**
 * Go's Regexp.Expand over capture groups: $$ is "$"; $name or ${name} is a group, by number when
 * the name is all digits without a leading zero, else by name; a missing or unmatched group is "";
 * a "$" that starts no valid reference is copied as is. $name takes the longest run of letters,
 * digits and "_" ("$1x" is the group named "1x", which does not exist, not group 1 then "x").
 */
export function expandTemplate(template: string, groups: readonly (string | undefined)[], names: Readonly<Record<string, number>>): string {
  let out = '';
  let i = 0;
  const n = template.length;
  while (i < n) {
    const d = template.indexOf('$', i);
    if (d < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, d);
    i = d + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const brace = template[i] === '{';
    const nameStart = brace ? i + 1 : i;
    nameChar.lastIndex = nameStart;
    const m = nameChar.exec(template);
    const name = m ? m[0] : '';
    let end = nameStart + name.length;
    if (name === '' || (brace && template[end] !== '}')) {
      out += '$';
      continue;
    }
    if (brace) end++;
    i = end;
    let num = -1;
    if (/^\d+$/.test(name) && !(name.length > 1 && name[0] === '0') && name.length <= 8) num = Number(name);
    if (num >= 0) out += groups[num] ?? '';
    else {
      const idx = names[name];
      if (idx !== undefined) out += groups[idx] ?? '';
    }
  }
  return out;
}
const nameChar = /[\p{L}\p{Nd}_]+/uy;

// --- Unanchored Go regexp for rule templates (match, reReplaceAll): regexp.MatchString and
// Regexp.ReplaceAllString, no implicit (?s) and no anchoring.

const goCache = new Map<string, RE2JS>();
function compileGo(pattern: string): RE2JS {
  let r = goCache.get(pattern);
  if (!r) {
    r = compileEngine(pattern, 0, false);
    if (goCache.size >= CACHE_SIZE) goCache.delete(goCache.keys().next().value!);
    goCache.set(pattern, r);
  }
  return r;
}

/** Go's regexp.MatchString(pattern, s): does the pattern match anywhere in s. */
export function goMatchString(pattern: string, s: string): boolean {
  return compileGo(pattern).test(s);
}

/** Go's regexp.MustCompile(pattern).ReplaceAllString(src, repl), with Expand semantics for repl. */
export function goReplaceAllString(pattern: string, src: string, repl: string): string {
  const re = compileGo(pattern);
  const names = re.namedGroups();
  const m = re.matcher(src);
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  const end = src.length;
  while (searchPos <= end) {
    if (!m.find(searchPos)) break;
    const a0 = m.start(0);
    const a1 = m.end(0);
    out += src.slice(lastMatchEnd, a0);
    // As Go: no replacement for an empty match right after the previous match.
    if (a1 > lastMatchEnd || a0 === 0) {
      const groups: (string | undefined)[] = [];
      for (let g = 0; g <= m.groupCount(); g++) groups.push(m.group(g) ?? undefined);
      out += expandTemplate(repl, groups, names);
    }
    lastMatchEnd = a1;
    // Advance past this match, always by at least one character (a code point, as Go a rune).
    const cp = src.codePointAt(searchPos);
    const width = cp === undefined ? 1 : cp > 0xffff ? 2 : 1;
    if (searchPos + width > a1) searchPos += width;
    else if (searchPos + 1 > a1) searchPos++;
    else searchPos = a1;
  }
  return out + src.slice(lastMatchEnd);
}

// --- Shortcuts ---------------------------------------------------------------------------------

/** The QuoteMeta test: a string with none of RE2's metacharacters is its own literal. */
const META = /[\\.+*?()|[\]{}^$]/;

/** Prometheus's optimizeAlternatingLiterals: "", "lit" or "a|b|c" of plain literals, else null. */
function literalAlternatives(s: string): string[] | null {
  const parts = s.split('|');
  for (const p of parts) if (META.test(p)) return null;
  return [...new Set(parts)];
}

function setMatcher(values: readonly string[]): (v: string) => boolean {
  if (values.length === 1) {
    const only = values[0]!;
    return (v) => v === only;
  }
  const set = new Set(values);
  return (v) => set.has(v);
}

/** Number of code points in s, counting no further than limit+1. */
function cpCount(s: string, limit: number): number {
  let n = 0;
  for (let i = 0; i < s.length && n <= limit; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** A node of the shape tree. 'opaque' is anything the shortcuts do not model. */
type Node =
  | { k: 'lit'; s: string; ci: boolean } // ci: ASCII case-insensitive (only ASCII-foldable text)
  | { k: 'any'; min: number; max: number } // `.` repeated min..max times (max may be Infinity), dot matching \n
  | { k: 'alt'; subs: Node[] }
  | { k: 'cat'; subs: Node[] }
  | { k: 'bot' } // ^ or \A: the beginning of the value
  | { k: 'eot' } // $ or \z: the end of the value
  | { k: 'opaque' };

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
}

const OPAQUE: Node = { k: 'opaque' };
const REPEAT = /\{(\d+)(?:(,)(\d*))?\}/y;

/**
 * Reads the pattern (already accepted by re2js) into a shape tree. It must find the same extents as
 * RE2's parser for what it marks opaque; within those it need not understand anything.
 */
class ShapeParser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.alt({ i: false, s: true, m: false });
    if (this.pos !== this.src.length) throw new Error('shape parser: trailing input');
    return node;
  }

  private alt(flags: Flags): Node {
    const subs = [this.cat(flags)];
    while (this.src[this.pos] === '|') {
      this.pos++;
      subs.push(this.cat(flags));
    }
    return subs.length === 1 ? subs[0]! : { k: 'alt', subs };
  }

  private cat(flags: Flags): Node {
    const subs: Node[] = [];
    const src = this.src;
    while (this.pos < src.length && src[this.pos] !== '|' && src[this.pos] !== ')') {
      let atom = this.atom(flags);
      if (atom === null) continue; // a flag group such as (?i)
      for (;;) {
        const c = src[this.pos];
        let min: number;
        let max: number;
        if (c === '*') [min, max] = [0, Infinity];
        else if (c === '+') [min, max] = [1, Infinity];
        else if (c === '?') [min, max] = [0, 1];
        else if (c === '{') {
          REPEAT.lastIndex = this.pos;
          const m = REPEAT.exec(src);
          if (!m) break; // a literal "{"
          this.pos += m[0].length - 1;
          min = Number(m[1]);
          max = m[2] ? (m[3] ? Number(m[3]) : Infinity) : min;
        } else break;
        this.pos++;
        if (src[this.pos] === '?') this.pos++; // non-greedy: the same set of matching values
        atom = atom.k === 'any' && atom.min === 1 && atom.max === 1 ? { k: 'any', min, max } : OPAQUE;
      }
      subs.push(atom);
    }
    return { k: 'cat', subs };
  }

  private atom(flags: Flags): Node | null {
    const src = this.src;
    const c = src[this.pos]!;
    switch (c) {
      case '(':
        return this.group(flags);
      case '.':
        this.pos++;
        return flags.s ? { k: 'any', min: 1, max: 1 } : OPAQUE;
      case '^':
      case '$':
        this.pos++;
        // Without (?m) these are \A and \z (Go's $ does not match before a final \n).
        return flags.m ? OPAQUE : { k: c === '^' ? 'bot' : 'eot' };
      case '[':
        this.skipClass();
        return OPAQUE;
      case '\\':
        return this.escape(flags);
      default: {
        const cp = src.codePointAt(this.pos)!;
        const ch = String.fromCodePoint(cp);
        this.pos += ch.length;
        return this.literal(ch, flags);
      }
    }
  }

  private literal(ch: string, flags: Flags): Node {
    if (!flags.i) return { k: 'lit', s: ch, ci: false };
    // ſ and K (Kelvin) fold to ASCII s and k; other case folding beyond ASCII is left to the engine.
    if (ch === '\u017f' || ch === '\u212a') return { k: 'lit', s: fold(ch), ci: true };
    if (ch.charCodeAt(0) > 0x7f && (ch.toLowerCase() !== ch || ch.toUpperCase() !== ch)) return OPAQUE;
    return { k: 'lit', s: fold(ch), ci: true };
  }

  private group(flags: Flags): Node | null {
    const src = this.src;
    let inner: Flags = { ...flags };
    if (src.startsWith('(?P<', this.pos) || src.startsWith('(?<', this.pos)) {
      this.pos = src.indexOf('>', this.pos) + 1;
    } else if (src.startsWith('(?', this.pos)) {
      let j = this.pos + 2;
      let neg = false;
      const f = { ...flags };
      for (; j < src.length; j++) {
        const ch = src[j];
        if (ch === '-') neg = true;
        else if (ch === 'i') f.i = !neg;
        else if (ch === 's') f.s = !neg;
        else if (ch === 'm') f.m = !neg;
        else if (ch === 'U') continue; // greediness does not change the values matched
        else break;
      }
      if (src[j] === ')') {
        // (?flags): applies to the rest of the enclosing group
        flags.i = f.i;
        flags.s = f.s;
        flags.m = f.m;
        this.pos = j + 1;
        return null;
      }
      if (src[j] !== ':') throw new Error('shape parser: unknown group');
      inner = f;
      this.pos = j + 1;
    } else this.pos++;
    const node = this.alt(inner);
    if (src[this.pos] !== ')') throw new Error('shape parser: missing )');
    this.pos++;
    return node;
  }

  private skipClass(): void {
    const src = this.src;
    let j = this.pos + 1;
    if (src[j] === '^') j++;
    if (src[j] === ']') j++; // a leading ] is literal
    while (j < src.length && src[j] !== ']') {
      if (src[j] === '\\') j += 2;
      else if (src.startsWith('[:', j)) {
        const e = src.indexOf(':]', j + 2);
        j = e >= 0 ? e + 2 : j + 1;
      } else j++;
    }
    if (j >= src.length) throw new Error('shape parser: unterminated class');
    this.pos = j + 1;
  }

  private escape(flags: Flags): Node {
    const src = this.src;
    const c = src[this.pos + 1] ?? '';
    if (c === 'Q') {
      const e = src.indexOf('\\E', this.pos + 2);
      const text = src.slice(this.pos + 2, e < 0 ? src.length : e);
      this.pos = e < 0 ? src.length : e + 2;
      // A quantifier after \Q...\E applies to its last character only: keep it one opaque unit then.
      const next = src[this.pos];
      if (next === '*' || next === '+' || next === '?' || next === '{') return OPAQUE;
      return { k: 'cat', subs: [...text].map((ch) => this.literal(ch, flags)) };
    }
    this.pos += 2;
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07' };
    if (simple[c] !== undefined) return this.literal(simple[c], flags);
    if (c === 'A') return { k: 'bot' };
    if (c === 'z') return { k: 'eot' };
    if (c.charCodeAt(0) < 0x80 && !/[A-Za-z0-9]/.test(c)) return this.literal(c, flags); // \. \\ \- ...
    // Anything else (classes, anchors, hex/octal/unicode escapes) is opaque; only its extent matters.
    if ((c === 'x' || c === 'p' || c === 'P') && src[this.pos] === '{') this.pos = src.indexOf('}', this.pos) + 1;
    else if (c === 'x') this.pos += 2;
    else if (c === 'p' || c === 'P') this.pos += 1;
    else if (c >= '0' && c <= '7') {
      // an octal escape: up to two more octal digits
      for (let k = 0; k < 2 && /[0-7]/.test(src[this.pos] ?? ''); k++) this.pos++;
    }
    return OPAQUE;
  }
}

/** Flattens concatenations, merges adjacent literals (of the same case mode) and adjacent `.` runs. */
function simplify(n: Node): Node {
  if (n.k === 'alt') return { k: 'alt', subs: n.subs.map(simplify) };
  if (n.k !== 'cat') return n;
  const flat: Node[] = [];
  const push = (x: Node): void => {
    if (x.k === 'cat') {
      for (const y of x.subs) push(y);
      return;
    }
    const last = flat[flat.length - 1];
    if (x.k === 'lit' && last?.k === 'lit' && last.ci === x.ci) flat[flat.length - 1] = { k: 'lit', s: last.s + x.s, ci: x.ci };
    else if (x.k === 'any' && last?.k === 'any') flat[flat.length - 1] = { k: 'any', min: last.min + x.min, max: last.max + x.max };
    else flat.push(x);
  };
  for (const s of n.subs) push(simplify(s));
  if (flat.length === 1) return flat[0]!;
  return { k: 'cat', subs: flat };
}

/**
 * Drops ^ at the start and $ at the end of the whole pattern (and of its top-level alternatives):
 * the match is anchored there anyway (Prometheus's clearBeginEndText). Any other ^ or $ stays and
 * is opaque to the shortcuts.
 */
function stripAnchors(n: Node): Node {
  if (n.k === 'alt') return { k: 'alt', subs: n.subs.map(stripAnchors) };
  if (n.k === 'bot' || n.k === 'eot') return { k: 'cat', subs: [] };
  if (n.k !== 'cat') return n;
  let subs = n.subs;
  while (subs[0]?.k === 'bot') subs = subs.slice(1);
  while (subs[subs.length - 1]?.k === 'eot') subs = subs.slice(0, -1);
  if (subs.length === 1) return subs[0]!;
  return { k: 'cat', subs };
}

// Case-insensitive comparison: both sides folded by ASCII lower-casing plus ſ -> s and K -> k, the
// only characters outside ASCII whose RE2 case-folding orbit includes ASCII letters. The fold keeps
// every UTF-16 unit in place, so positions and lengths carry over to the original value.
const NEEDS_FOLD = /[A-Z\u017f\u212a]/;
const ASCII_ONLY = /^[\x00-\x7f]*$/;
function fold(v: string): string {
  if (!NEEDS_FOLD.test(v)) return v;
  if (ASCII_ONLY.test(v)) return v.toLowerCase();
  return v.replace(/[A-Z\u017f\u212a]/g, (c) => (c === '\u017f' ? 's' : c === '\u212a' ? 'k' : String.fromCharCode(c.charCodeAt(0) + 32)));
}

function foldUnit(c: number): number {
  if (c >= 65 && c <= 90) return c + 32;
  if (c === 0x17f) return 115; // s
  if (c === 0x212a) return 107; // k
  return c;
}

/** Does v hold the folded literal x at p, case-insensitively? (No copy of v is made.) */
function eqFoldAt(v: string, p: number, x: string): boolean {
  if (p < 0 || p + x.length > v.length) return false;
  for (let i = 0; i < x.length; i++) {
    const c = v.charCodeAt(p + i);
    const d = x.charCodeAt(i);
    if (c !== d && foldUnit(c) !== d) return false;
  }
  return true;
}

/**
 * The first place at or after from where v holds the folded literal x, or -1. The search is a
 * case-insensitive JS RegExp made of the literal alone (a literal cannot backtrack beyond its own
 * length), with the u flag so that it folds as RE2 does: ſ ~ s, K ~ k. Literals with surrogate
 * pairs take the plain loop (a u-flag search resumed mid-pair would step back onto the same match).
 */
const foldSearchers = new Map<string, RegExp | null>();
function indexFold(v: string, x: string, from: number): number {
  let re = foldSearchers.get(x);
  if (re === undefined) {
    re = /[\ud800-\udfff]/.test(x) || x.length === 0 ? null : new RegExp(x.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), 'giu');
    if (foldSearchers.size >= 10_000) foldSearchers.clear();
    foldSearchers.set(x, re);
  }
  if (re) {
    re.lastIndex = from;
    return re.test(v) ? re.lastIndex - x.length : -1;
  }
  if (x.length === 0) return from <= v.length ? from : -1;
  // Jump between the places the first character occurs in any of its cases (native searches).
  const firsts = caseVariants(x.charCodeAt(0));
  for (let p = from; p + x.length <= v.length; p++) {
    let next = -1;
    for (const f of firsts) {
      const q = v.indexOf(f, p);
      if (q >= 0 && (next < 0 || q < next)) next = q;
    }
    if (next < 0) return -1;
    p = next;
    if (eqFoldAt(v, p, x)) return p;
  }
  return -1;
}

/** The characters that fold to the folded unit c. */
function caseVariants(c: number): string[] {
  const out = [String.fromCharCode(c)];
  if (c >= 97 && c <= 122) out.push(String.fromCharCode(c - 32));
  if (c === 115) out.push('\u017f');
  if (c === 107) out.push('\u212a');
  return out;
}

const startsAt = (v: string, p: number, x: string, ci: boolean): boolean => (ci ? eqFoldAt(v, p, x) : v.startsWith(x, p));
const indexAt = (v: string, x: string, from: number, ci: boolean): number => (ci ? indexFold(v, x, from) : v.indexOf(x, from));

type Match = (v: string) => boolean;
type Range = { min: number; max: number };

interface Fast {
  fn: Match;
  /** Bounds on the length (UTF-16 units) of the values it can match, when known. */
  minLen?: number;
  maxLen?: number;
  /** The values matched, when a finite case-sensitive set. */
  set?: string[];
}

/** Literal strings an alternation, concatenation or literal stands for, all with one case mode; else null. */
function literalSet(n: Node): { values: string[]; ci: boolean } | null {
  if (n.k === 'lit') return { values: [n.s], ci: n.ci };
  if (n.k !== 'alt' && n.k !== 'cat') return null;
  let values: string[] = n.k === 'alt' ? [] : [''];
  let ci: boolean | undefined;
  for (const s of n.subs) {
    const r = literalSet(s);
    if (!r) return null;
    if (r.values.some((v) => v !== '')) {
      if (ci !== undefined && ci !== r.ci) return null;
      ci = r.ci;
    }
    if (n.k === 'alt') values.push(...r.values);
    else {
      // the product, as Prometheus's findSetMatches (api_(v1|v2) is two values)
      if (values.length * r.values.length > MAX_SET_MATCHES) return null;
      values = values.flatMap((a) => r.values.map((b) => a + b));
    }
    if (values.length > MAX_SET_MATCHES) return null;
  }
  return { values: [...new Set(values)], ci: ci ?? false };
}

/** Does v[from, to) hold between min and max characters (code points, as RE2 counts runes)? */
type RangeCheck = (v: string, from: number, to: number) => boolean;
function rangeCheck(a: Range): RangeCheck {
  if (a.max === Infinity) {
    if (a.min === 0) return () => true;
    if (a.min === 1) return (_v, from, to) => to > from;
  } else if (a.min === 0 && a.max === 1) {
    return (v, from, to) => to - from <= 1 || (to - from === 2 && isPair(v, from));
  }
  return (v, from, to) => {
    const n = cpCount(v.slice(from, to), a.max === Infinity ? a.min : a.max);
    return n >= a.min && n <= a.max;
  };
}

function isPair(v: string, p: number): boolean {
  const h = v.charCodeAt(p);
  return h >= 0xd800 && h <= 0xdbff && (v.charCodeAt(p + 1) & 0xfc00) === 0xdc00;
}

function build(n: Node): Fast | null {
  if (n.k === 'opaque' || n.k === 'bot' || n.k === 'eot') return null;
  if (n.k === 'any') {
    const c = rangeCheck(n);
    if (n.min === 0 && n.max === Infinity) return { fn: () => true };
    if (n.min === 1 && n.max === Infinity) return { fn: (v) => v.length > 0 };
    return { fn: (v) => c(v, 0, v.length) };
  }
  const ls = literalSet(n);
  if (ls) return buildSet(ls.values, ls.ci);
  if (n.k === 'alt') {
    const grouped = buildAffixAlternation(n.subs);
    if (grouped) return grouped;
    const subs = n.subs.map(build);
    if (subs.some((s) => s === null)) return null;
    const fns = subs.map((s) => s!.fn);
    if (fns.length === 2) {
      const [a, b] = fns as [Match, Match];
      return { fn: (v) => a(v) || b(v) };
    }
    return {
      fn: (v) => {
        for (const f of fns) if (f(v)) return true;
        return false;
      },
    };
  }
  if (n.k === 'cat') return buildCat(n.subs);
  return null;
}

function buildSet(values: string[], ci: boolean): Fast {
  if (!ci) {
    if (values.length === 1) {
      const only = values[0]!;
      return { fn: (v) => v === only, set: values };
    }
    const set = new Set(values);
    return { fn: (v) => set.has(v), set: values };
  }
  // Folding keeps lengths: a value of another length cannot match, and needs no folding.
  const lens = new Set(values.map((x) => x.length));
  if (values.length === 1) {
    const only = values[0]!;
    return { fn: (v) => eqFoldAt(v, 0, only) && v.length === only.length };
  }
  // Compared in place, among the values that start with the value's first character (folded).
  const byFirst = bucket(values, (x) => x.charCodeAt(0));
  return {
    fn: (v) => {
      if (!lens.has(v.length)) return false;
      const cands = byFirst.get(foldUnit(v.charCodeAt(0)));
      if (cands) for (const x of cands) if (x.length === v.length && eqFoldAt(v, 0, x)) return true;
      return false;
    },
  };
}

/** One alternative of the form literal-set .run, .run literal-set, or .run literal-set .run. */
interface Affix {
  values: string[];
  ci: boolean;
  left?: Range;
  right?: Range;
}

function affix(items: Node[]): Affix | null {
  let left: Range | undefined;
  let right: Range | undefined;
  let core = items;
  if (core[0]?.k === 'any') {
    left = core[0];
    core = core.slice(1);
  }
  const last = core[core.length - 1];
  if (last?.k === 'any' && core.length > 1) {
    right = last;
    core = core.slice(0, -1);
  }
  if (core.length === 0 || (!left && !right)) return null;
  const ls = literalSet({ k: 'cat', subs: core });
  if (!ls) return null;
  return { values: ls.values, ci: ls.ci, ...(left ? { left } : {}), ...(right ? { right } : {}) };
}

function buildAffix(a: Affix): Fast {
  const { values, ci } = a;
  const lc = a.left ? rangeCheck(a.left) : null;
  const rc = a.right ? rangeCheck(a.right) : null;
  // The (folded) characters the literals start and end with: a quick no for most values.
  const heads = new Set(values.map((x) => x.charCodeAt(0)));
  const tails = new Set(values.map((x) => x.charCodeAt(x.length - 1)));
  const unit = ci ? foldUnit : (c: number) => c;
  if (!lc) {
    // prefix: foo.*, (foo|bar).+, foo.?
    return {
      fn: (v) => {
        if (!heads.has(unit(v.charCodeAt(0)))) return values.includes('') && rc!(v, 0, v.length);
        for (const x of values) if (startsAt(v, 0, x, ci) && rc!(v, x.length, v.length)) return true;
        return false;
      },
    };
  }
  if (!rc) {
    // suffix: .*foo, .?(foo|bar)
    return {
      fn: (v) => {
        if (!tails.has(unit(v.charCodeAt(v.length - 1)))) return values.includes('') && lc(v, 0, v.length);
        for (const x of values) if (startsAt(v, v.length - x.length, x, ci) && lc(v, 0, v.length - x.length)) return true;
        return false;
      },
    };
  }
  // .?foo.+: a bounded left run leaves the literal only a few places to start (a `.` is 1-2 units)
  if (a.left!.max !== Infinity) {
    const maxStart = 2 * a.left!.max;
    return {
      fn: (v) => {
        for (const x of values) {
          for (let p = 0; p <= maxStart && p + x.length <= v.length; p++) {
            if (startsAt(v, p, x, ci) && lc(v, 0, p) && rc(v, p + x.length, v.length)) return true;
          }
        }
        return false;
      },
    };
  }
  // contains: .*foo.*, .+foo.?: try each place the literal occurs
  return {
    fn: (v) => {
      for (const x of values) {
        for (let p = indexAt(v, x, 0, ci); p >= 0; p = indexAt(v, x, p + 1, ci)) {
          if (lc(v, 0, p) && rc(v, p + x.length, v.length)) return true;
        }
      }
      return false;
    },
  };
}

/**
 * Many alternatives that are all prefixes (foo.*|bar.*|...) or all suffixes (.*foo|.*bar|...),
 * with the same run and case mode: one lookup keyed by the value's first (last) few characters
 * instead of trying each alternative (Prometheus's optimizeEqualOrPrefixStringMatchers).
 */
function bucket(values: readonly string[], key: (x: string) => number): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const x of values) {
    const k = key(x);
    const l = m.get(k);
    if (l) l.push(x);
    else m.set(k, [x]);
  }
  return m;
}

function buildAffixAlternation(subs: Node[]): Fast | null {
  if (subs.length < 2) return null;
  const as = subs.map((s) => (s.k === 'cat' ? affix(s.subs) : null));
  if (as.some((a) => a === null)) return null;
  const all = as as Affix[];
  const first = all[0]!;
  const same = (x?: Range, y?: Range) => (x === undefined && y === undefined) || (x !== undefined && y !== undefined && x.min === y.min && x.max === y.max);
  if (!all.every((a) => a.ci === first.ci && same(a.left, first.left) && same(a.right, first.right))) return null;
  const isPrefix = !first.left && !!first.right;
  const isSuffix = !!first.left && !first.right;
  const values = all.flatMap((a) => a.values);
  // A few alternatives of one shape: a single affix matcher trying each literal in turn.
  if (values.length < 4 || (!isPrefix && !isSuffix)) return buildAffix({ ...first, values });
  if (values.some((x) => x.length === 0)) return null;
  // Keyed by the first (last) two characters, or one when some literal is a single character: one
  // lookup, then only the alternatives that can match.
  const w = values.every((x) => x.length >= 2) ? 2 : 1;
  const keyOf = (x: string, f: (c: number) => number): number => {
    const a = f(x.charCodeAt(isPrefix ? 0 : x.length - 1));
    return w === 1 ? a : a * 65536 + f(x.charCodeAt(isPrefix ? 1 : x.length - 2));
  };
  const ident = (c: number) => c;
  const byKey = bucket(values, (x) => keyOf(x, ident));
  const check = rangeCheck((isPrefix ? first.right : first.left)!);
  const ci = first.ci;
  return {
    fn: (v) => {
      if (v.length < w) return false;
      const cands = byKey.get(keyOf(v, ci ? foldUnit : ident));
      if (!cands) return false;
      for (const x of cands) {
        if (isPrefix ? startsAt(v, 0, x, ci) && check(v, x.length, v.length) : startsAt(v, v.length - x.length, x, ci) && check(v, 0, v.length - x.length)) return true;
      }
      return false;
    },
  };
}

type Lit = { k: 'lit'; s: string; ci: boolean };
type Piece = Lit | { k: 'any'; min: number; max: number };
const isRun = (x: Node): boolean => x.k === 'any' && x.max === Infinity && x.min <= 1;

/** Concatenations: literals with `.` runs around them (prefix, suffix, contains, and globs). */
function buildCat(items: Node[]): Fast | null {
  const a = affix(items);
  if (a) return buildAffix(a);
  const g = buildGlob(items);
  if (g) return g;
  // f.?o: a short bounded run inside is a few fixed-count alternatives (fo, f.o), each a glob.
  let variants: Node[][] = [[]];
  for (const x of items) {
    if (x.k === 'any' && x.max !== Infinity && x.min !== x.max && x.max - x.min <= 2) {
      const next: Node[][] = [];
      for (let c = x.min; c <= x.max; c++) for (const v of variants) next.push(c === 0 ? v : [...v, { k: 'any', min: c, max: c }]);
      variants = next;
      if (variants.length > 8) return null;
    } else variants = variants.map((v) => [...v, x]);
  }
  if (variants.length < 2) return null;
  const subs = variants.map((v) => buildGlob((simplify({ k: 'cat', subs: v }) as { subs?: Node[] }).subs ?? [simplify({ k: 'cat', subs: v })]));
  if (subs.some((x) => x === null)) return null;
  const fns = subs.map((x) => x!.fn);
  const minLen = Math.min(...subs.map((x) => x!.minLen ?? 0));
  const maxLen = Math.max(...subs.map((x) => x!.maxLen ?? Infinity));
  return {
    fn: (v) => {
      if (v.length < minLen || v.length > maxLen) return false;
      for (const f of fns) if (f(v)) return true;
      return false;
    },
  };
}

/**
 * A glob: blocks of literals and fixed counts of `.`, separated by unbounded `.` runs that need at
 * most one character (.* or .+). With unbounded runs between them, placing each block at its
 * leftmost possible place is never worse than any other placement, so one left-to-right pass decides.
 */
function buildGlob(items: Node[]): Fast | null {
  if (items.length === 0) return null;
  const blocks: Piece[][] = [];
  const gaps: number[] = []; // gaps[i]: characters the runs before blocks[i] need
  let cur: Piece[] | null = null;
  let gap = 0;
  for (const x of items) {
    if (isRun(x)) {
      if (cur) blocks.push(cur);
      cur = null;
      gap += (x as Range).min;
      if (gap > 1) return null; // .+.+ : would need counting in code points
      continue;
    }
    if (x.k === 'lit' || (x.k === 'any' && x.min === x.max)) {
      if (!cur) {
        cur = [];
        gaps.push(gap);
        gap = 0;
      }
      cur.push(x as Piece);
      continue;
    }
    return null;
  }
  if (cur) blocks.push(cur);
  if (blocks.length === 0) return null;
  const tailGap = gap;
  const leadRun = isRun(items[0]!);
  const tailRun = isRun(items[items.length - 1]!);
  const literalOnly = blocks.map((b) => (b.length === 1 && b[0]!.k === 'lit' ? (b[0] as Lit) : null));
  const k = blocks.length - 1;
  // Length bounds in UTF-16 units (a `.` is one or two): a quick no for most values.
  const fixed = blocks.flat();
  const minLen = fixed.reduce((a, x) => a + (x.k === 'lit' ? x.s.length : x.min), 0) + gaps.reduce((a, g) => a + g, 0) + tailGap;
  const maxLen = leadRun || tailRun || blocks.length > 1 ? Infinity : fixed.reduce((a, x) => a + (x.k === 'lit' ? x.s.length : 2 * x.min), 0);
  return {
    minLen,
    maxLen,
    fn: (v) => {
      const n = v.length;
      if (n < minLen || n > maxLen) return false;
      let pos = 0;
      for (let i = 0; i <= k; i++) {
        const b = blocks[i]!;
        const lit = literalOnly[i];
        const from = pos + gaps[i]!;
        if (i === 0 && !leadRun) {
          const e = matchBlock(v, 0, b);
          if (e < 0 || (i === k && !tailRun && e !== n)) return false;
          pos = e;
          continue;
        }
        if (i === k && !tailRun) {
          // anchored at the end
          if (lit) {
            const p = n - lit.s.length;
            return p >= from && startsAt(v, p, lit.s, lit.ci);
          }
          for (let p = from; p < n; p++) if (!midPair(v, p) && matchBlock(v, p, b) === n) return true;
          return false;
        }
        if (lit) {
          const p = indexAt(v, lit.s, from, lit.ci);
          if (p < 0) return false;
          pos = p + lit.s.length;
        } else {
          let e = -1;
          for (let p = from; p < n && e < 0; p++) if (!midPair(v, p)) e = matchBlock(v, p, b);
          if (e < 0) return false;
          pos = e;
        }
      }
      return n - pos >= tailGap;
    },
  };
}

/** p is the second half of a surrogate pair (not a place a character starts). */
function midPair(v: string, p: number): boolean {
  return p > 0 && (v.charCodeAt(p) & 0xfc00) === 0xdc00 && (v.charCodeAt(p - 1) & 0xfc00) === 0xd800;
}

/** Matches a block of literals and fixed counts of `.` at p; returns where it ends or -1. */
function matchBlock(v: string, p: number, b: readonly Piece[]): number {
  for (const x of b) {
    if (x.k === 'lit') {
      if (!startsAt(v, p, x.s, x.ci)) return -1;
      p += x.s.length;
      continue;
    }
    for (let c = 0; c < x.min; c++) {
      if (p >= v.length) return -1;
      p += isPair(v, p) ? 2 : 1;
    }
  }
  return p;
}

/** Necessary conditions in front of the engine: a literal prefix, suffix and inner literals in order. */
function prefilter(n: Node): Match | null {
  if (n.k !== 'cat' || n.subs.length < 2) return null;
  const items = n.subs;
  const first = items[0]!;
  const last = items[items.length - 1]!;
  const prefix = first.k === 'lit' && !first.ci ? first.s : '';
  const suffix = last.k === 'lit' && !last.ci ? last.s : '';
  const inner = items.slice(1, -1).flatMap((x) => (x.k === 'lit' && !x.ci ? [x.s] : []));
  if (!prefix && !suffix && inner.length === 0) return null;
  const min = prefix.length + suffix.length + inner.reduce((a, s) => a + s.length, 0);
  return (v) => {
    if (v.length < min) return false;
    if (prefix && !v.startsWith(prefix)) return false;
    if (suffix && !v.endsWith(suffix)) return false;
    let pos = prefix.length;
    const end = v.length - suffix.length;
    for (const s of inner) {
      const p = v.indexOf(s, pos);
      if (p < 0 || p + s.length > end) return false;
      pos = p + s.length;
    }
    return true;
  };
}
