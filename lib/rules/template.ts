// Alert label/annotation templates: the part of Go's text/template that Prometheus rule templates use,
// with Prometheus's template data ($labels, $externalLabels, $externalURL, $value; also .Labels,
// .ExternalLabels, .ExternalURL, .Value) and functions (humanize, humanize1024, humanizeDuration,
// humanizePercentage, humanizeTimestamp, printf, toUpper, toLower, title, match, reReplaceAll,
// stripPort, stripDomain, and the text/template builtins and, or, not, eq, ne, lt, le, gt, ge, len,
// index, print, println, urlquery, html, js).
// Supported syntax: text, {{ pipeline }} with `|`, parenthesised pipelines, {{- / -}} trimming,
// {{/* comments */}}, if / else if / else / end, with / else / end, range over a map / end (with
// $k, $v :=, break, continue), define / template / block, variables and field chains. Parse errors
// use Go's wording: "template: NAME:LINE: msg". Functions that need a query engine (query, first,
// label, value, sortByLabel, …) parse but expand to an error.
import { DurationError, parsePromDurationNs } from '../duration/mod.ts';
import { goMatchString, goReplaceAllString } from '../labels/mod.ts';
import { FloatHistogram } from '../histogram/float.ts';

type Tok =
  | { t: 'text'; v: string; line: number }
  | { t: 'action'; v: string; line: number; trimL: boolean; trimR: boolean };

export interface TemplateData {
  labels: Record<string, string>;
  externalLabels: Record<string, string>;
  externalURL: string;
  /** The sample's float, or its native histogram (Prometheus: *histogram.FloatHistogram, printed as String()). */
  value: number | FloatHistogram;
}

export class TemplateError extends Error {
  constructor(name: string, line: number, msg: string) {
    super(`template: ${name}:${line}: ${msg}`);
    this.name = 'TemplateError';
  }
}

const KNOWN_FUNCS = new Set([
  // text/template builtins
  'and', 'or', 'not', 'len', 'index', 'slice', 'print', 'printf', 'println', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'html', 'js', 'urlquery', 'call',
  // Prometheus template functions
  'query', 'first', 'label', 'value', 'strvalue', 'args', 'reReplaceAll', 'safeHtml', 'match', 'title', 'toUpper', 'toLower', 'graphLink',
  'tableLink', 'sortByLabel', 'humanize', 'humanize1024', 'humanizeDuration', 'humanizePercentage', 'humanizeTimestamp', 'toTime',
  'pathPrefix', 'externalURL', 'parseDuration', 'stripPort', 'stripDomain',
]);
const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'nil']);

// ---- lexing ----------------------------------------------------------------------------------------

function split(src: string, name: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  const count = (s: string) => { for (const c of s) if (c === '\n') line++; };
  while (i < src.length) {
    const o = src.indexOf('{{', i);
    if (o < 0) {
      out.push({ t: 'text', v: src.slice(i), line });
      break;
    }
    if (o > i) {
      out.push({ t: 'text', v: src.slice(i, o), line });
      count(src.slice(i, o));
    }
    let j = o + 2;
    const trimL = src.startsWith('- ', j) || src.startsWith('-\t', j) || src.startsWith('-\n', j);
    if (trimL) j += 1;
    // comment
    const cj = trimL ? j + 1 : j;
    if (src.startsWith('/*', cj)) {
      const e = src.indexOf('*/', cj + 2);
      if (e < 0) throw new TemplateError(name, line, 'unclosed comment');
      let k = e + 2;
      let trimR = false;
      if (src.startsWith(' -}}', k)) { trimR = true; k += 4; } else if (src.startsWith('}}', k)) k += 2;
      else throw new TemplateError(name, line, 'comment ends before closing delimiter');
      out.push({ t: 'action', v: '', line, trimL, trimR });
      count(src.slice(o, k));
      i = k;
      continue;
    }
    // scan to the closing }} outside quotes
    let k = j;
    let end = -1;
    while (k < src.length) {
      const c = src[k]!;
      if (c === '"' || c === '`' || c === "'") {
        const q = c;
        k++;
        while (k < src.length && src[k] !== q) {
          if (q !== '`' && src[k] === '\\') k++;
          if (q !== '`' && src[k] === '\n') throw new TemplateError(name, line, q === "'" ? 'unterminated character constant' : 'unterminated quoted string');
          k++;
        }
        if (k >= src.length) throw new TemplateError(name, line, q === '`' ? 'unterminated raw quoted string' : 'unterminated quoted string');
        k++;
        continue;
      }
      if (c === '}' && src[k + 1] === '}') { end = k; break; }
      k++;
    }
    if (end < 0) throw new TemplateError(name, line, 'unclosed action');
    let body = src.slice(j, end);
    let trimR = false;
    if (/[ \t\n]-$/.test(body)) { trimR = true; body = body.slice(0, -1); }
    out.push({ t: 'action', v: body, line, trimL, trimR });
    count(src.slice(o, end + 2));
    i = end + 2;
  }
  // apply trim markers
  for (let n = 0; n < out.length; n++) {
    const tk = out[n]!;
    if (tk.t !== 'action') continue;
    const prev = out[n - 1];
    const next = out[n + 1];
    if (tk.trimL && prev?.t === 'text') prev.v = prev.v.replace(/[ \t\r\n]+$/, '');
    if (tk.trimR && next?.t === 'text') next.v = next.v.replace(/^[ \t\r\n]+/, '');
  }
  return out;
}

type Arg =
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'nil' }
  | { k: 'dot'; fields: string[] }
  | { k: 'var'; name: string; fields: string[] }
  | { k: 'fn'; name: string }
  | { k: 'pipe'; p: Pipeline; fields: string[] };
type Command = Arg[];
interface Pipeline { decl: string[]; cmds: Command[] }

function lexAction(s: string, name: string, line: number): string[] {
  const toks: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === '`' || c === "'") {
      let j = i + 1;
      while (j < s.length && s[j] !== c) { if (c !== '`' && s[j] === '\\') j++; j++; }
      toks.push(s.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === '|' || c === '(' || c === ')' || c === ',') { toks.push(c); i++; continue; }
    if (c === ':' && s[i + 1] === '=') { toks.push(':='); i += 2; continue; }
    if (c === '=') { toks.push('='); i++; continue; }
    const m = /^(?:\$[A-Za-z0-9_]*|\.?[A-Za-z_][A-Za-z0-9_]*|\.|[+-]?(?:0x[0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))(?:\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(s.slice(i));
    if (!m || m[0] === '') throw new TemplateError(name, line, `unexpected ${JSON.stringify(c)} in command`);
    toks.push(m[0]);
    i += m[0].length;
  }
  return toks;
}

function parsePipeline(toks: string[], name: string, line: number, vars: Set<string>, ctx: string): Pipeline {
  let pos = 0;
  const decl: string[] = [];
  // variable declarations: $x := … or $k, $v := …
  const save = pos;
  const names: string[] = [];
  while (toks[pos]?.startsWith('$') && !toks[pos]!.includes('.')) {
    names.push(toks[pos]!);
    if (toks[pos + 1] === ',') { pos += 2; continue; }
    if (toks[pos + 1] === ':=' || toks[pos + 1] === '=') {
      pos += 2;
      decl.push(...names);
      if (toks[pos - 1] === '=') for (const n of names) if (!vars.has(n)) throw new TemplateError(name, line, `undefined variable "${n}"`);
    }
    break;
  }
  if (decl.length === 0) pos = save;
  const parseOperand = (): Arg | undefined => {
    const t = toks[pos];
    if (t === undefined || t === '|' || t === ')') return undefined;
    pos++;
    if (t === '(') {
      const start = pos;
      let depth = 1;
      while (pos < toks.length && depth > 0) {
        if (toks[pos] === '(') depth++;
        else if (toks[pos] === ')') depth--;
        pos++;
      }
      if (depth > 0) throw new TemplateError(name, line, 'unclosed left paren');
      const inner = parsePipeline(toks.slice(start, pos - 1), name, line, vars, 'parenthesized pipeline');
      return { k: 'pipe', p: inner, fields: [] };
    }
    if (t[0] === '"') {
      try { return { k: 'str', v: JSON.parse(t.replace(/\\'/g, "'")) as string }; } catch { throw new TemplateError(name, line, `invalid syntax: ${t}`); }
    }
    if (t[0] === '`') return { k: 'str', v: t.slice(1, -1) };
    if (t[0] === "'") return { k: 'num', v: t.codePointAt(1) ?? 0 };
    if (t === 'true' || t === 'false') return { k: 'bool', v: t === 'true' };
    if (t === 'nil') return { k: 'nil' };
    if (t === ':=' || t === '=' || t === ',') throw new TemplateError(name, line, `unexpected "${t}" in ${ctx}`);
    if (t[0] === '$') {
      const [v, ...fields] = t.split('.');
      if (!vars.has(v!)) throw new TemplateError(name, line, `undefined variable "${v}"`);
      return { k: 'var', name: v!, fields };
    }
    if (t[0] === '.') return { k: 'dot', fields: t === '.' ? [] : t.slice(1).split('.') };
    if (/^[+\-.\d]/.test(t)) {
      const n = Number(t.replace(/_/g, ''));
      if (Number.isNaN(n)) throw new TemplateError(name, line, `bad number syntax: "${t}"`);
      return { k: 'num', v: n };
    }
    const base = t.split('.')[0]!;
    if (KEYWORDS.has(base)) throw new TemplateError(name, line, `unexpected <${base}> in ${ctx}`);
    if (!KNOWN_FUNCS.has(base)) throw new TemplateError(name, line, `function "${base}" not defined`);
    return { k: 'fn', name: base };
  };
  const cmds: Command[] = [];
  for (;;) {
    const cmd: Command = [];
    for (;;) {
      const a = parseOperand();
      if (!a) break;
      cmd.push(a);
    }
    if (cmd.length === 0) throw new TemplateError(name, line, toks.length === 0 && decl.length === 0 ? `missing value for ${ctx}` : 'missing value for command');
    cmds.push(cmd);
    if (toks[pos] === '|') { pos++; continue; }
    if (toks[pos] === ')') throw new TemplateError(name, line, 'unexpected right paren');
    break;
  }
  for (const d of decl) vars.add(d);
  return { decl, cmds };
}

type Node =
  | { n: 'text'; v: string }
  | { n: 'pipe'; p: Pipeline; line: number }
  | { n: 'if' | 'with' | 'range'; p: Pipeline; then: Node[]; else: Node[]; line: number }
  | { n: 'define'; tname: string; body: Node[] }
  | { n: 'template'; tname: string; p?: Pipeline; line: number; body?: Node[] }
  | { n: 'break' | 'continue'; line: number };

/** Parses a template; throws TemplateError with Go's wording. */
export function parseTemplate(src: string, name: string): Node[] {
  const toks = split(src, name);
  let i = 0;
  const vars = new Set(['$', '$labels', '$externalLabels', '$externalURL', '$value']);
  type Stop = 'end' | 'else' | 'eof';
  let rangeDepth = 0;
  const parseList = (inBlock: string | undefined): { nodes: Node[]; stop: Stop; elseIf?: { kw: string; rest: string[]; line: number } } => {
    const nodes: Node[] = [];
    while (i < toks.length) {
      const tk = toks[i++]!;
      if (tk.t === 'text') { if (tk.v) nodes.push({ n: 'text', v: tk.v }); continue; }
      const words = lexAction(tk.v, name, tk.line);
      if (words.length === 0) {
        if (tk.v.trim() === '') {
          if (tk.v === '' ) continue; // comment
          throw new TemplateError(name, tk.line, 'missing value for command');
        }
      }
      const kw = words[0];
      const inRange = rangeDepth > 0;
      if (kw === 'end') {
        if (!inBlock) throw new TemplateError(name, tk.line, 'unexpected {{end}}');
        return { nodes, stop: 'end' };
      }
      if (kw === 'else') {
        if (!inBlock) throw new TemplateError(name, tk.line, 'unexpected {{else}}');
        if (words.length > 1) return { nodes, stop: 'else', elseIf: { kw: words[1]!, rest: words.slice(2), line: tk.line } };
        return { nodes, stop: 'else' };
      }
      if (kw === 'if' || kw === 'with' || kw === 'range') {
        nodes.push(parseBlock(kw, words.slice(1), tk.line));
        continue;
      }
      if (kw === 'break' || kw === 'continue') {
        if (!inRange) throw new TemplateError(name, tk.line, `{{${kw}}} outside {{range}}`);
        nodes.push({ n: kw, line: tk.line });
        continue;
      }
      if (kw === 'define' || kw === 'template' || kw === 'block') {
        const tn = words[1];
        if (tn === undefined || !/^["`]/.test(tn)) throw new TemplateError(name, tk.line, `unexpected ${tn === undefined ? 'EOF' : JSON.stringify(tn)} in ${kw} clause`);
        const tname = tn.slice(1, -1);
        const rest = words.slice(2);
        const p = rest.length > 0 ? parsePipeline(rest, name, tk.line, vars, kw) : undefined;
        if (kw === 'template') { nodes.push({ n: 'template', tname, p, line: tk.line }); continue; }
        const body = parseList(kw).nodes;
        if (kw === 'define') { if (rest.length > 0) throw new TemplateError(name, tk.line, `unexpected ${JSON.stringify(rest[0])} in define clause`); nodes.push({ n: 'define', tname, body }); continue; }
        nodes.push({ n: 'template', tname, p, line: tk.line, body });
        continue;
      }
      nodes.push({ n: 'pipe', p: parsePipeline(words, name, tk.line, vars, 'command'), line: tk.line });
    }
    if (inBlock) throw new TemplateError(name, toks[toks.length - 1]?.line ?? 1, 'unexpected EOF');
    return { nodes, stop: 'eof' };
  };
  const parseBlock = (kw: 'if' | 'with' | 'range', words: string[], line: number): Node => {
    const saved = new Set(vars);
    const p = parsePipeline(words, name, line, vars, kw);
    if (kw === 'range') rangeDepth++;
    const body = parseList(kw);
    if (kw === 'range') rangeDepth--;
    let elseNodes: Node[] = [];
    if (body.stop === 'else') {
      if (body.elseIf) {
        if (body.elseIf.kw !== kw) throw new TemplateError(name, body.elseIf.line, `unexpected <${body.elseIf.kw}> in else`);
        // {{else if x}} … {{end}}: the nested block consumes the shared {{end}}
        elseNodes = [parseBlock(kw, body.elseIf.rest, body.elseIf.line)];
      } else {
        const rest = parseList(kw);
        if (rest.stop !== 'end') throw new TemplateError(name, line, 'expected end; found {{else}}');
        elseNodes = rest.nodes;
      }
    }
    vars.clear();
    for (const v of saved) vars.add(v);
    return { n: kw, p, then: body.nodes, else: elseNodes, line };
  };
  return parseList(undefined).nodes;
}

/** Returns promtool's error text for an invalid template, or undefined. */
export function checkTemplate(src: string, name: string): string | undefined {
  try {
    parseTemplate(src, name);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

// ---- execution -------------------------------------------------------------------------------------

type Val = unknown;

// Parsed templates, by name and text (rules expand the same few templates for every alert, every round).
const parsed = new Map<string, Node[]>();
function cachedParse(src: string, name: string): Node[] {
  const k = `${name}\u0000${src}`;
  let n = parsed.get(k);
  if (!n) {
    n = parseTemplate(src, name);
    if (parsed.size >= 10_000) parsed.clear();
    parsed.set(k, n);
  }
  return n;
}

/** Expands a template; on error returns Prometheus's `<error expanding template: …>` text. */
export function expandTemplate(src: string, name: string, data: TemplateData): string {
  try {
    const nodes = cachedParse(src, name);
    const dot: Record<string, Val> = { Labels: data.labels, ExternalLabels: data.externalLabels, ExternalURL: data.externalURL, Value: data.value };
    const vars = new Map<string, Val>([['$', dot], ['$labels', data.labels], ['$externalLabels', data.externalLabels], ['$externalURL', data.externalURL], ['$value', data.value]]);
    let out = '';
    const defines = new Map<string, Node[]>();
    const collect = (list: Node[]) => { for (const n of list) if (n.n === 'define') defines.set(n.tname, n.body); else if (n.n === 'template' && n.body) defines.set(n.tname, n.body); };
    collect(nodes);
    class Stop { constructor(readonly kind: 'break' | 'continue') {} }
    const run = (list: Node[], d: Val) => {
      for (const n of list) {
        if (n.n === 'text') out += n.v;
        else if (n.n === 'define') continue;
        else if (n.n === 'break' || n.n === 'continue') throw new Stop(n.n);
        else if (n.n === 'template') {
          const body = defines.get(n.tname);
          if (!body) throw new TemplateError(name, n.line, `no such template ${JSON.stringify(n.tname)}`);
          run(body, n.p ? evalPipe(n.p, d, vars, name, n.line) : undefined);
        }
        else if (n.n === 'pipe') {
          const v = evalPipe(n.p, d, vars, name, n.line);
          if (n.p.decl.length === 0) out += printValue(v);
        } else if (n.n === 'if') {
          run(truth(evalPipe(n.p, d, vars, name, n.line)) ? n.then : n.else, d);
        } else if (n.n === 'with') {
          const v = evalPipe(n.p, d, vars, name, n.line);
          if (truth(v)) run(n.then, v);
          else run(n.else, d);
        } else if (n.n === 'range') {
          const v = evalPipe({ decl: [], cmds: n.p.cmds }, d, vars, name, n.line);
          const entries: Array<[Val, Val]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => [k, (v as Record<string, Val>)[k]]) : [];
          if (entries.length === 0) run(n.else, d);
          for (const [k, x] of entries) {
            if (n.p.decl.length === 1) vars.set(n.p.decl[0]!, x);
            if (n.p.decl.length === 2) { vars.set(n.p.decl[0]!, k); vars.set(n.p.decl[1]!, x); }
            try {
              run(n.then, x);
            } catch (e) {
              if (!(e instanceof Stop)) throw e;
              if (e.kind === 'break') break;
            }
          }
        }
      }
    };
    run(nodes, dot);
    return out;
  } catch (e) {
    return `<error expanding template: ${(e as Error).message}>`;
  }
}

function truth(v: Val): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function printValue(v: Val): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'number') return goFloat(v);
  if (v instanceof FloatHistogram) return v.toString();
  if (typeof v === 'object') return `map[${Object.keys(v as object).sort().map((k) => `${k}:${printValue((v as Record<string, Val>)[k])}`).join(' ')}]`;
  return String(v);
}

/** The exported fields of Prometheus's FloatHistogram a template can read (.Value.Count, …). */
const HISTOGRAM_FIELDS: Record<string, keyof FloatHistogram> = { Count: 'count', Sum: 'sum', Schema: 'schema', ZeroCount: 'zeroCount', ZeroThreshold: 'zeroThreshold' };

function field(v: Val, fields: string[]): Val {
  let cur = v;
  for (const f of fields) {
    if (cur instanceof FloatHistogram) {
      const k = HISTOGRAM_FIELDS[f];
      if (k === undefined) return undefined;
      cur = cur[k];
      continue;
    }
    // label maps are map[string]string in Prometheus: a missing key is the zero value ""
    if (cur && typeof cur === 'object' && !Array.isArray(cur)) cur = (cur as Record<string, Val>)[f] ?? '';
    else return undefined;
  }
  return cur;
}

function evalPipe(p: Pipeline, dot: Val, vars: Map<string, Val>, name: string, line: number): Val {
  let prev: Val = undefined;
  let first = true;
  for (const cmd of p.cmds) {
    const argv = (a: Arg): Val => {
      switch (a.k) {
        case 'str': case 'num': case 'bool': return a.v;
        case 'nil': return null;
        case 'dot': return field(dot, a.fields);
        case 'var': return field(vars.get(a.name), a.fields);
        case 'pipe': return field(evalPipe(a.p, dot, vars, name, line), a.fields);
        case 'fn': return callFn(a.name, [], name, line);
      }
    };
    const head = cmd[0]!;
    let v: Val;
    if (head.k === 'fn') {
      const args = cmd.slice(1).map(argv);
      if (!first) args.push(prev);
      v = callFn(head.name, args, name, line);
    } else {
      if (cmd.length > 1 || !first) throw new TemplateError(name, line, `can't give argument to non-function ${head.k === 'var' ? head.name : '.'}`);
      v = argv(head);
    }
    prev = v;
    first = false;
  }
  if (p.decl.length > 0) vars.set(p.decl[p.decl.length - 1]!, prev);
  return prev;
}

function num(v: Val, fn: string, name: string, line: number): number {
  if (typeof v === 'number') return v;
  // Prometheus's ConvertToFloat knows no histograms.
  if (v instanceof FloatHistogram) throw new TemplateError(name, line, `error calling ${fn}: can't convert *histogram.FloatHistogram to float`);
  if (typeof v === 'string') {
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
    if (/^[+-]?(inf|Inf|NaN)$/.test(v)) return v.toLowerCase().includes('nan') ? NaN : v.startsWith('-') ? -Infinity : Infinity;
  }
  throw new TemplateError(name, line, `error calling ${fn}: strconv.ParseFloat: parsing ${JSON.stringify(printValue(v))}: invalid syntax`);
}

function cmp(a: Val, b: Val): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function callFn(fn: string, args: Val[], name: string, line: number): Val {
  const a0 = args[0];
  switch (fn) {
    case 'humanize': return humanize(num(a0, fn, name, line));
    case 'humanize1024': return humanize1024(num(a0, fn, name, line));
    case 'humanizeDuration': return humanizeDuration(num(a0, fn, name, line));
    case 'humanizePercentage': return `${fmtG(num(a0, fn, name, line) * 100, 4)}%`;
    case 'humanizeTimestamp': {
      const v = num(a0, fn, name, line);
      if (!Number.isFinite(v)) return fmtG(v, 4);
      return new Date(v * 1000).toISOString().replace('T', ' ').replace(/\.?0*Z$/, ' +0000 UTC').replace(/\.(\d*?)0+ \+/, '.$1 +');
    }
    case 'toUpper': return String(a0 ?? '').toUpperCase();
    case 'toLower': return String(a0 ?? '').toLowerCase();
    case 'title': return String(a0 ?? '').replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase());
    case 'stripPort': { const s = String(a0 ?? ''); const m = /^(.*):\d+$/.exec(s); return m ? m[1]!.replace(/^\[(.*)\]$/, '$1') : s; }
    case 'stripDomain': { const s = String(a0 ?? ''); const m = /^([^.:]+)[^:]*(:\d+)?$/.exec(s); return m && !/^\d+\.\d+\.\d+\.\d+/.test(s) ? m[1]! + (m[2] ?? '') : s; }
    case 'match': return goMatchString(String(a0), String(args[1] ?? ''));
    case 'reReplaceAll': return goReplaceAllString(String(a0), String(args[2] ?? ''), String(args[1] ?? ''));
    case 'printf': return sprintf(String(a0 ?? ''), args.slice(1));
    case 'print': return args.map((x, i) => (i > 0 && typeof x !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + printValue(x)).join('');
    case 'println': return args.map(printValue).join(' ') + '\n';
    case 'and': { let r: Val = a0; for (const x of args) { r = x; if (!truth(x)) break; } return r; }
    case 'or': { let r: Val = a0; for (const x of args) { r = x; if (truth(x)) break; } return r; }
    case 'not': return !truth(a0);
    case 'eq': return args.slice(1).some((b) => cmp(a0, b) === 0);
    case 'ne': return cmp(a0, args[1]) !== 0;
    case 'lt': return cmp(a0, args[1]) < 0;
    case 'le': return cmp(a0, args[1]) <= 0;
    case 'gt': return cmp(a0, args[1]) > 0;
    case 'ge': return cmp(a0, args[1]) >= 0;
    case 'len': return typeof a0 === 'string' ? new TextEncoder().encode(a0).length : Array.isArray(a0) ? a0.length : a0 && typeof a0 === 'object' ? Object.keys(a0).length : 0;
    case 'index': return field(a0, args.slice(1).map(String));
    case 'urlquery': return encodeURIComponent(args.map(printValue).join('')).replace(/%20/g, '+');
    case 'html': return args.map(printValue).join('').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
    case 'js': return JSON.stringify(args.map(printValue).join('')).slice(1, -1);
    case 'safeHtml': return String(a0 ?? '');
    case 'parseDuration': {
      // Prometheus: model.ParseDuration, then float64(time.Duration(v)) / float64(time.Second).
      try {
        return Number(parsePromDurationNs(String(a0))) / 1e9;
      } catch (e) {
        if (!(e instanceof DurationError)) throw e;
        throw new TemplateError(name, line, `error calling parseDuration: ${e.message}`);
      }
    }
    default:
      throw new TemplateError(name, line, `error calling ${fn}: not supported by this ruler`);
  }
}

/** Go's fmt %.Ng (shortest, trailing zeros removed, exponent as e+06). */
export function fmtG(v: number, prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = Number(v.toExponential(prec - 1).split('e')[1]);
  if (e < -4 || e >= prec) {
    const [m, x] = v.toExponential(prec - 1).split('e');
    const mant = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
    const ex = Number(x);
    return `${mant}e${ex < 0 ? '-' : '+'}${String(Math.abs(ex)).padStart(2, '0')}`;
  }
  const s = v.toFixed(Math.max(0, prec - 1 - e));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** Go's %v for a float64: strconv 'g' shortest (exponent form below 1e-4 and from 1e6 up: 1.2345675e+06). */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [m, x] = v.toExponential().split('e');
  const exp = Number(x);
  if (exp < -4 || exp >= 6) return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(v);
}

export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return fmtG(v, 4);
  if (Math.abs(v) >= 1) {
    let prefix = '';
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return fmtG(v, 4) + prefix;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return fmtG(v, 4) + prefix;
}

export function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return fmtG(v, 4);
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return fmtG(v, 4) + prefix;
}

export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return fmtG(v, 4);
  if (v === 0) return `${fmtG(v, 4)}s`;
  if (Math.abs(v) >= 1) {
    let sign = '';
    if (v < 0) { sign = '-'; v = -v; }
    const d = Math.trunc(v);
    const s = d % 60;
    const m = Math.trunc(d / 60) % 60;
    const h = Math.trunc(d / 3600) % 24;
    const days = Math.trunc(d / 86400);
    if (days !== 0) return `${sign}${days}d ${h}h ${m}m ${s}s`;
    if (h !== 0) return `${sign}${h}h ${m}m ${s}s`;
    if (m !== 0) return `${sign}${m}m ${s}s`;
    return `${sign}${fmtG(v, 4)}s`;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${fmtG(v, 4)}${prefix}s`;
}

/** Go's %.Nf: like toFixed, but exact ties round half to even (Go: printf "%.1f" 2.25 = 2.2). */
export function goFixed(v: number, digits: number): string {
  if (Math.abs(v) >= 1e21 || digits > 60) return v.toFixed(Math.min(digits, 100));
  const exact = Math.abs(v).toFixed(Math.min(100, digits + 40));
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 1 + digits);
  if (/^50*$/.test(tail)) {
    const keep = exact.slice(0, dot + 1 + digits).replace(/\.$/, '');
    const last = Number(keep[keep.length - 1]);
    if (last % 2 === 0) return (v < 0 ? '-' : '') + keep;
  }
  return v.toFixed(digits);
}

/** A small Go fmt.Sprintf: %s %v %d %f %g %e %q %x %% with width/precision. */
export function sprintf(format: string, args: Val[]): string {
  let ai = 0;
  return format.replace(/%([-+ 0#]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g, (whole, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    let s: string;
    const p = prec === undefined ? undefined : Number(prec);
    switch (verb) {
      case 'd': s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeof a}=${printValue(a)})`; break;
      case 'f': case 'F': s = typeof a === 'number' ? (Number.isFinite(a) ? goFixed(a, p ?? 6) : goFloat(a)) : `%!f(${typeof a}=${printValue(a)})`; break;
      case 'e': s = typeof a === 'number' ? a.toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2') : printValue(a); break;
      case 'g': s = typeof a === 'number' ? (p === undefined ? goFloat(a) : fmtG(a, p)) : printValue(a); break;
      case 'q': s = JSON.stringify(printValue(a)); break;
      case 'x': s = typeof a === 'number' ? Math.trunc(a).toString(16) : [...new TextEncoder().encode(String(a))].map((b) => b.toString(16).padStart(2, '0')).join(''); break;
      case 's': case 'v': s = printValue(a); if (p !== undefined && verb === 's') s = s.slice(0, p); break;
      default: return whole;
    }
    if (flags.includes('+') && typeof a === 'number' && a >= 0 && 'dfeg'.includes(verb)) s = '+' + s;
    if (width !== undefined && s.length < Number(width)) s = flags.includes('-') ? s.padEnd(Number(width)) : flags.includes('0') && typeof a === 'number' ? s.padStart(Number(width), '0') : s.padStart(Number(width));
    return s;
  });
}
