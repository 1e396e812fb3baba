// The regex path lib/labels had before issue #21 (a JavaScript RegExp translated from RE2 syntax,
// which backtracks), kept only as the benchmark's baseline: `npm run bench -- regex`.
export class MatcherError extends Error {}

/** Translates a Go RE2 regex to a JS RegExp source, anchored. Rejects constructs JS would read differently. */
export function legacyCompileRegex(src: string): RegExp {
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

/** The old =~ matcher: .* and .+ shortcuts, a Set for plain literal alternations, else the RegExp. */
export function legacyRegexMatcher(value: string): (v: string) => boolean {
  if (value === '.*') return () => true;
  if (value === '.+') return (v) => v.length > 0;
  if (literalAlternatives.test(value)) {
    const set = new Set(value.split('|'));
    return (v) => set.has(v);
  }
  const re = legacyCompileRegex(value);
  return (v) => re.test(v);
}
