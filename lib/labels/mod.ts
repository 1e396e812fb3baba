// Labels and label matchers with Prometheus semantics, shared by tsdb, store, promql and query.

export interface Label {
  name: string;
  value: string;
}

/** A label set sorted by name, names unique. */
export type Labels = readonly Label[];

export const METRIC_NAME = '__name__';

export function labelsFromRecord(rec: Record<string, string>): Labels {
  return Object.keys(rec)
    .sort(compareStrings)
    .map((name) => ({ name, value: rec[name]! }));
}

export function labelsToRecord(ls: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of ls) out[l.name] = l.value;
  return out;
}

/** Byte-wise (UTF-8 order equals UTF-16 code unit order only for BMP; Prometheus compares Go strings byte-wise). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  // Fast path: ASCII strings compare identically by code units.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) {
      if (ca < 0x80 && cb < 0x80) return ca - cb;
      return compareUtf8(a.slice(i), b.slice(i));
    }
  }
  return a.length - b.length;
}

const enc = new TextEncoder();
function compareUtf8(a: string, b: string): number {
  const ea = enc.encode(a);
  const eb = enc.encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i]! - eb[i]!;
  return ea.length - eb.length;
}

/** Prometheus labels.Compare: by name then value, pairwise; shorter set first on a tie. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name) return compareStrings(x.name, y.name);
    if (x.value !== y.value) return compareStrings(x.value, y.value);
  }
  return a.length - b.length;
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.name !== b[i]!.name || a[i]!.value !== b[i]!.value) return false;
  return true;
}

export function getLabel(ls: Labels, name: string): string {
  for (const l of ls) if (l.name === name) return l.value;
  return '';
}

/** A stable string key for maps: \xff separated (Prometheus uses the same separator for hashing). */
export function labelsKey(ls: Labels): string {
  let s = '';
  for (const l of ls) s += l.name + '\xff' + l.value + '\xff';
  return s;
}

/** Prometheus text form: {a="b", c="d"} (with __name__ in front as metric name). */
export function formatLabels(ls: Labels): string {
  let name = '';
  const parts: string[] = [];
  for (const l of ls) {
    if (l.name === METRIC_NAME) name = l.value;
    else parts.push(`${l.name}=${JSON.stringify(l.value)}`);
  }
  return parts.length === 0 && name ? name : `${name}{${parts.join(', ')}}`;
}

export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  type: MatchType;
  name: string;
  value: string;
}

export class MatcherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatcherError';
  }
}

/** A compiled matcher: matches(value) with Prometheus semantics (regexes fully anchored; a missing label is ""). */
export interface CompiledMatcher extends Matcher {
  matches(value: string): boolean;
  /** For =~ made only of literal alternatives (a|b|c): the set of values. */
  setMatches?: string[];
  /** True when the matcher matches the empty string (so it also selects series without the label). */
  matchesEmpty: boolean;
}

/** Translates a Go RE2 regex to a JS RegExp source, anchored. Rejects constructs JS would read differently. */
export function compileRegex(src: string): RegExp {
  let flags = 's'; // Prometheus regexes: . matches \n (they compile with (?s))
  let body = translateRe2(src);
  // A leading (?i) applies to the whole pattern: use the JS flag.
  const m = /^\(\?([imsU]+)\)/.exec(src);
  if (m && !m[1]!.includes('i')) {
    if (m[1]!.includes('m')) flags += 'm';
  }
  try {
    return new RegExp(`^(?:${body})$`, flags + 'u');
  } catch {
    try {
      return new RegExp(`^(?:${body})$`, flags);
    } catch (e) {
      throw new MatcherError(`error parsing regexp: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}: \`${src}\``);
    }
  }
}

function caseVariants(ch: string): string {
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  return lo !== up && lo.length === 1 && up.length === 1 ? lo + up : ch;
}

/**
 * Rewrites RE2 syntax JS lacks: inline flag groups (?i:...) and (?i) anywhere (case folding is
 * expanded into character classes), (?P<name>...), \A and \z.
 */
function translateRe2(src: string): string {
  let out = '';
  const stack: boolean[] = []; // case-insensitive state saved per open group
  let ci = false;
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === '\\') {
      const nx = src[i + 1] ?? '';
      if (nx === 'A') out += '^';
      else if (nx === 'z') out += '$';
      else if (nx === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        const lit = src.slice(i + 2, end < 0 ? n : end);
        out += lit.replace(/[.*+?^${}()|[\]\\\/-]/g, '\\$&');
        i = end < 0 ? n : end + 2;
        continue;
      } else out += c + nx;
      i += 2;
      continue;
    }
    if (c === '[') {
      // character class: copy up to the closing ], folding case when needed
      let j = i + 1;
      let cls = '[';
      if (src[j] === '^') { cls += '^'; j++; }
      if (src[j] === ']') { cls += '\\]'; j++; }
      while (j < n && src[j] !== ']') {
        if (src[j] === '[' && src[j + 1] === ':') {
          const end = src.indexOf(':]', j + 2);
          const name = src.slice(j + 2, end);
          const posix: Record<string, string> = {
            alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: ci ? 'A-Za-z' : 'A-Z', lower: ci ? 'A-Za-z' : 'a-z',
            space: '\\s', punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', word: '\\w', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f',
            print: ' -~', graph: '!-~', ascii: '\\x00-\\x7f',
          };
          cls += posix[name] ?? '';
          j = end + 2;
          continue;
        }
        if (src[j] === '\\') {
          cls += src[j]! + (src[j + 1] ?? '');
          j += 2;
          continue;
        }
        const ch = src[j]!;
        if (src[j + 1] === '-' && src[j + 2] !== undefined && src[j + 2] !== ']') {
          const hi = src[j + 2]!;
          cls += ch + '-' + hi;
          if (ci && /[a-zA-Z]/.test(ch) && /[a-zA-Z]/.test(hi)) {
            const swap = (x: string) => (x === x.toLowerCase() ? x.toUpperCase() : x.toLowerCase());
            cls += swap(ch) + '-' + swap(hi);
          }
          j += 3;
          continue;
        }
        cls += ci ? caseVariants(ch) : ch === '[' ? '\\[' : ch;
        j++;
      }
      out += cls + ']';
      i = j + 1;
      continue;
    }
    if (c === '(') {
      if (src.startsWith('(?P<', i)) {
        stack.push(ci);
        out += '(?<';
        i += 4;
        continue;
      }
      const fm = /^\(\?([imsU]*)(?:-([imsU]*))?(:|\))/.exec(src.slice(i));
      if (fm && (fm[1] || fm[2])) {
        const on = fm[1] ?? '';
        const off = fm[2] ?? '';
        if (fm[3] === ')') {
          // flags for the rest of the current group
          if (on.includes('i')) ci = true;
          if (off.includes('i')) ci = false;
          i += fm[0].length;
          continue;
        }
        stack.push(ci);
        if (on.includes('i')) ci = true;
        if (off.includes('i')) ci = false;
        out += '(?:';
        i += fm[0].length;
        continue;
      }
      stack.push(ci);
      out += c;
      i++;
      continue;
    }
    if (c === ')') {
      ci = stack.pop() ?? false;
      out += c;
      i++;
      continue;
    }
    out += ci && /[a-zA-Z]/.test(c) ? `[${caseVariants(c)}]` : c;
    i++;
  }
  return out;
}

const literalAlternatives = /^[A-Za-z0-9_:\-\/ ]+(\|[A-Za-z0-9_:\-\/ ]+)*$/;

export function compileMatcher(m: Matcher): CompiledMatcher {
  const { type, name, value } = m;
  let matches: (v: string) => boolean;
  let setMatches: string[] | undefined;
  switch (type) {
    case '=':
      matches = (v) => v === value;
      break;
    case '!=':
      matches = (v) => v !== value;
      break;
    case '=~':
    case '!~': {
      let pos: (v: string) => boolean;
      if (value === '.*') pos = () => true;
      else if (value === '.+') pos = (v) => v.length > 0;
      else if (literalAlternatives.test(value)) {
        const set = new Set(value.split('|'));
        setMatches = [...set];
        pos = (v) => set.has(v);
      } else {
        const re = compileRegex(value);
        pos = (v) => re.test(v);
      }
      matches = type === '=~' ? pos : (v) => !pos(v);
      if (type === '!~') setMatches = undefined;
      break;
    }
    default:
      throw new MatcherError(`unknown matcher type ${JSON.stringify(type)}`);
  }
  return { type, name, value, matches, setMatches, matchesEmpty: matches('') };
}

export function matchLabels(ms: readonly CompiledMatcher[], ls: Labels): boolean {
  for (const m of ms) if (!m.matches(getLabel(ls, m.name))) return false;
  return true;
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.type}${JSON.stringify(m.value)}`;
}
