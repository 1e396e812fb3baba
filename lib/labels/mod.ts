// Labels and label matchers with Prometheus semantics, shared by tsdb, store, promql and query.
import { compileRegex, MatcherError } from './regex.ts';

export { compileRegex, expandTemplate, goMatchString, goReplaceAllString, MatcherError, Regex, type RegexMatch } from './regex.ts';

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
    // Decoded series share their label objects (lib/proto readLabelShared): one compare for both strings.
    if (x === y) continue;
    if (x.name !== y.name) return compareStrings(x.name, y.name);
    if (x.value !== y.value) return compareStrings(x.value, y.value);
  }
  return a.length - b.length;
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && (x.name !== y.name || x.value !== y.value)) return false;
  }
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

const KEY = Symbol('labelsKey');

/**
 * Freezes a label set (the array and its labels) and remembers its labelsKey on it: a decoder
 * that hands the same label set to many requests (lib/remote's remote write decoder) computes the
 * key once, and labelsKeyOf() finds it. Frozen, so the key cannot go stale.
 */
export function frozenLabels(ls: Label[]): Labels {
  for (const l of ls) Object.freeze(l);
  Object.defineProperty(ls, KEY, { value: labelsKey(ls) });
  return Object.freeze(ls);
}

/** labelsKey(ls), remembered by frozenLabels(). */
export function labelsKeyOf(ls: Labels): string {
  return (ls as Labels & { [KEY]?: string })[KEY] ?? labelsKey(ls);
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

/** A compiled matcher: matches(value) with Prometheus semantics (regexes fully anchored; a missing label is ""). */
export interface CompiledMatcher extends Matcher {
  matches(value: string): boolean;
  /** For =~ made only of literal alternatives (a|b|c): the set of values. */
  setMatches?: string[];
  /** True when the matcher matches the empty string (so it also selects series without the label). */
  matchesEmpty: boolean;
}

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
      // RE2 semantics, linear time, Prometheus's anchoring and shortcuts: see regex.ts.
      const re = compileRegex(value);
      const pos = re.matches;
      matches = type === '=~' ? pos : (v) => !pos(v);
      if (type === '=~' && re.setMatches) setMatches = [...re.setMatches];
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
