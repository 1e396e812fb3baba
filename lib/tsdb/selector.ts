// A PromQL series selector parser (`metric{a="b", c=~"x|y"}`), enough for tool flags such as
// promtool's --match. Strings may use "…", '…' or `…` quotes with Go escapes.
import type { Matcher, MatchType } from '../labels/mod.ts';
import { compileMatcher } from '../labels/mod.ts';

export class SelectorError extends Error {
  constructor(public readonly input: string, public readonly pos: number, msg: string) {
    super(`parse error in selector ${JSON.stringify(input)} at char ${pos + 1}: ${msg}`);
    this.name = 'SelectorError';
  }
}

export function parseSelector(input: string): Matcher[] {
  let i = 0;
  const err = (msg: string): never => { throw new SelectorError(input, i, msg); };
  const ws = () => { while (i < input.length && /\s/.test(input[i]!)) i++; };
  const ident = (re: RegExp): string => {
    const m = re.exec(input.slice(i));
    if (!m) err('expected identifier');
    i += m![0].length;
    return m![0];
  };
  const str = (): string => {
    const q = input[i];
    if (q !== '"' && q !== "'" && q !== '`') err('expected quoted string');
    i++;
    let out = '';
    while (i < input.length && input[i] !== q) {
      let c = input[i++]!;
      if (c === '\\' && q !== '`') {
        const e = input[i++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'a': c = '\x07'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'v': c = '\v'; break;
          case '\\': c = '\\'; break;
          case '"': case "'": c = e; break;
          case 'x': c = String.fromCharCode(parseInt(input.slice(i, i + 2), 16)); i += 2; break;
          case 'u': c = String.fromCodePoint(parseInt(input.slice(i, i + 4), 16)); i += 4; break;
          case 'U': c = String.fromCodePoint(parseInt(input.slice(i, i + 8), 16)); i += 8; break;
          default: err(`unknown escape sequence \\${e ?? ''}`);
        }
      }
      out += c;
    }
    if (input[i] !== q) err('unterminated quoted string');
    i++;
    return out;
  };
  const ms: Matcher[] = [];
  ws();
  if (i < input.length && input[i] !== '{') {
    const name = ident(/^[a-zA-Z_:][a-zA-Z0-9_:]*/);
    ms.push({ type: '=', name: '__name__', value: name });
    ws();
  }
  if (input[i] === '{') {
    i++;
    ws();
    while (input[i] !== '}') {
      if (i >= input.length) err('unexpected end of input, expected }');
      const name = ident(/^[a-zA-Z_][a-zA-Z0-9_]*/);
      ws();
      const op = /^(=~|!~|!=|=)/.exec(input.slice(i));
      if (!op) err('expected one of =, !=, =~, !~');
      i += op![0].length;
      ws();
      const value = str();
      const m: Matcher = { type: op![0] as MatchType, name, value };
      try {
        compileMatcher(m);
      } catch (e) {
        err((e as Error).message);
      }
      ms.push(m);
      ws();
      if (input[i] === ',') { i++; ws(); continue; }
      if (input[i] !== '}') err('expected , or }');
    }
    i++;
    ws();
  }
  if (i < input.length) err(`unexpected ${JSON.stringify(input.slice(i, i + 10))}`);
  if (ms.length === 0) err('vector selector must contain at least one matcher');
  return ms;
}
