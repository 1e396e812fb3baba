// Cross-checks the expectations of a promqltest script against the real Prometheus 2.42 (Debian's
// /usr/bin/promtool): every `eval` becomes a `promtool test rules` case (range evals one case per
// step, as a range query is an instant query at each step), all in one promtool run, and promtool's
// own answer is compared with what the script expects.
//
// An eval preceded by a comment line `# not-in-2.42: <why>` is left out (a function 2.42 does not
// have, or a deliberate 3.x difference); the reason is returned with the result.
//
// Limits: one `load` per `clear` segment (promtool test groups have one interval); annotations
// (`expect warn/info`) are not checked (promtool does not print them); an expected failure only
// needs promtool to fail too (messages are returned for the caller to compare).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseScript } from './promqltest.ts';
import { formatLabels, labelsKey, type Label, type Labels } from '../../lib/labels/mod.ts';

const execFileP = promisify(execFile);
const PROMTOOL = '/usr/bin/promtool';

export interface CrossCheck {
  /** Cases (instant evals, or single steps of range evals) promtool evaluated. */
  checked: number;
  /** Cases where Prometheus 2.42 answered differently from the script's expectation. */
  mismatches: string[];
  /** Expected failures: the script's message and promtool's. */
  failures: { line: number; expected: string; got: string }[];
  /** Evals left out, with the `not-in-2.42` reason. */
  excluded: { line: number; expr: string; reason: string }[];
}

interface Case {
  line: number;
  expr: string;
  at: number;
  expect: { labels: Labels; v: number }[];
  fail: boolean;
  failMsg?: string;
}

interface Group {
  interval: number;
  series: { labels: Labels; values: (number | null | 'stale')[] }[];
  cases: Case[];
}

function yamlStr(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function promValue(v: number | null | 'stale'): string {
  if (v === null) return '_';
  if (v === 'stale') return 'stale';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

function seriesText(ls: Labels): string {
  const name = ls.find((l) => l.name === '__name__')?.value ?? '';
  const rest = ls.filter((l) => l.name !== '__name__').map((l) => `${l.name}=${JSON.stringify(l.value)}`);
  return `${name}{${rest.join(', ')}}`;
}

/** The `not-in-2.42:` reason in the comment lines right above line `line` (1-based), if any. */
function exclusion(lines: string[], line: number): string | null {
  for (let i = line - 2; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (!l.startsWith('#')) break;
    const m = /^#\s*not-in-2\.42:\s*(.*)$/.exec(l);
    if (m) return m[1]!;
  }
  return null;
}

/** Parses promtool's `got:` list: `{a="b", c="d"} 1E+00, {} NaN`. */
function parseGot(s: string): { labels: Labels; v: number }[] {
  s = s.trim();
  if (s === 'nil' || s === '') return [];
  const out: { labels: Labels; v: number }[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] !== '{') throw new Error(`bad promtool sample list at ${i}: ${s}`);
    i++;
    const labels: Label[] = [];
    while (s[i] !== '}') {
      const m = /^\s*([^=\s]+)=/.exec(s.slice(i));
      if (!m) throw new Error(`bad label at ${i}: ${s}`);
      i += m[0].length;
      // Go %q string
      let j = i + 1;
      while (s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      const raw = s.slice(i, j + 1);
      labels.push({ name: m[1]!, value: unquoteGo(raw) });
      i = j + 1;
      if (s[i] === ',') i++;
    }
    i++; // }
    const m = /^ (\S+?)(?:, |$)/.exec(s.slice(i));
    if (!m) throw new Error(`bad value at ${i}: ${s}`);
    out.push({ labels: labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), v: goFloat(m[1]!) });
    i += m[0].length;
  }
  return out;
}

function goFloat(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  return Number(s);
}

function unquoteGo(q: string): string {
  const bytes: number[] = [];
  const body = q.slice(1, -1);
  const enc = new TextEncoder();
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      if (cp > 0xffff) i++;
      bytes.push(...enc.encode(String.fromCodePoint(cp)));
      continue;
    }
    const e = body[++i]!;
    switch (e) {
      case 'n': bytes.push(10); break;
      case 't': bytes.push(9); break;
      case 'r': bytes.push(13); break;
      case '\\': bytes.push(92); break;
      case '"': bytes.push(34); break;
      case 'x': bytes.push(parseInt(body.slice(i + 1, i + 3), 16)); i += 2; break;
      case 'u': bytes.push(...enc.encode(String.fromCodePoint(parseInt(body.slice(i + 1, i + 5), 16)))); i += 4; break;
      default: bytes.push(e.charCodeAt(0));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function same(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
}

function fmt(list: { labels: Labels; v: number }[]): string {
  return list.length ? list.map((x) => `${formatLabels(x.labels)} ${x.v}`).join(', ') : '(empty)';
}

export async function crossCheck242(path: string): Promise<CrossCheck> {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const cmds = parseScript(text);
  const groups: Group[] = [];
  const res: CrossCheck = { checked: 0, mismatches: [], failures: [], excluded: [] };
  let cur: Group | null = null;
  for (const c of cmds) {
    if (c.kind === 'clear') {
      cur = null;
      continue;
    }
    if (c.kind === 'load') {
      if (cur) throw new Error(`line ${c.line}: one load per clear segment (promtool groups have one interval)`);
      cur = { interval: c.interval, series: c.series.map((s) => ({ labels: s.labels, values: s.values as (number | null | 'stale')[] })), cases: [] };
      groups.push(cur);
      continue;
    }
    const why = exclusion(lines, c.line);
    if (why !== null) {
      res.excluded.push({ line: c.line, expr: c.expr, reason: why });
      continue;
    }
    if (!cur) {
      cur = { interval: 60_000, series: [], cases: [] };
      groups.push(cur);
    }
    if (c.range) {
      for (let t = c.start, k = 0; t <= c.end; t += c.step, k++) {
        const expect: Case['expect'] = [];
        for (const s of c.series) {
          const v = s.values[k];
          if (typeof v === 'number') expect.push({ labels: s.labels, v });
        }
        cur.cases.push({ line: c.line, expr: c.expr, at: t, expect, fail: c.fail, failMsg: c.failMsg });
      }
    } else {
      const expect = c.scalar !== undefined ? [{ labels: [], v: c.scalar }] : c.series.map((s) => ({ labels: s.labels, v: s.values[0] as number }));
      cur.cases.push({ line: c.line, expr: c.expr, at: c.at, expect, fail: c.fail, failMsg: c.failMsg });
    }
  }

  // One promtool run. Each case's expression carries a PromQL comment naming it, so promtool's
  // report (which quotes the expression) maps back to the case.
  const byId = new Map<string, Case>();
  let y = 'evaluation_interval: 1m\ntests:\n';
  for (const g of groups) {
    if (!g.cases.length) continue;
    y += `  - interval: ${g.interval}ms\n    input_series:\n`;
    for (const s of g.series) y += `      - series: ${yamlStr(seriesText(s.labels))}\n        values: ${yamlStr(s.values.map(promValue).join(' '))}\n`;
    if (!g.series.length) y += `      []\n`;
    y += '    promql_expr_test:\n';
    for (const c of g.cases) {
      const id = `case${byId.size}`;
      byId.set(id, c);
      // An empty exp_samples never matches a non-empty answer, so promtool prints every answer
      // that is not empty; a case it does not print answered nothing.
      y += `      - expr: ${yamlStr(`${c.expr} # ${id}`)}\n        eval_time: ${c.at}ms\n`;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'prom242-'));
  let out = '';
  try {
    writeFileSync(join(dir, 'tests.yml'), y);
    try {
      const r = await execFileP(PROMTOOL, ['test', 'rules', join(dir, 'tests.yml')], { maxBuffer: 64 << 20 });
      out = r.stdout + r.stderr;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      if (typeof err.code !== 'number') throw e; // promtool missing or killed
      out = (err.stdout ?? '') + (err.stderr ?? '');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const answers = new Map<string, { got: { labels: Labels; v: number }[] } | { err: string }>();
  const re = /^ {4}expr: "(.*) # (case\d+)", time: [^,]*,(?: err: (.*)|\n {8}exp: .*\n {8}got: (.*))$/gm;
  for (const m of out.matchAll(re)) {
    answers.set(m[2]!, m[3] !== undefined ? { err: m[3] } : { got: parseGot(m[4]!) });
  }
  for (const [id, c] of byId) {
    res.checked++;
    const a = answers.get(id) ?? { got: [] };
    const where = `line ${c.line} ${c.expr} @ ${c.at / 1000}s`;
    if ('err' in a) {
      if (!c.fail) res.mismatches.push(`${where}: Prometheus 2.42 failed: ${a.err}`);
      else res.failures.push({ line: c.line, expected: c.failMsg ?? '', got: a.err });
      continue;
    }
    if (c.fail) {
      res.mismatches.push(`${where}: expected a failure, Prometheus 2.42 answered ${fmt(a.got)}`);
      continue;
    }
    const exp = new Map(c.expect.map((x) => [labelsKey(x.labels), x.v]));
    let ok = a.got.length === c.expect.length;
    for (const g of a.got) {
      const v = exp.get(labelsKey(g.labels));
      if (v === undefined || !same(v, g.v)) ok = false;
    }
    if (!ok) res.mismatches.push(`${where}: expected ${fmt(c.expect)}; Prometheus 2.42: ${fmt(a.got)}`);
  }
  return res;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // node --import tsx test/promql/prom242.ts test/promql/testdata/float_only.test
  for (const f of process.argv.slice(2)) {
    const r = await crossCheck242(f);
    for (const m of r.mismatches) console.log(`MISMATCH ${m}`);
    for (const x of r.failures) console.log(`FAIL-MSG line ${x.line}: expected ${JSON.stringify(x.expected)}, 2.42 ${JSON.stringify(x.got)}`);
    for (const x of r.excluded) console.log(`EXCLUDED line ${x.line} ${x.expr}: ${x.reason}`);
    console.log(`${f}: ${r.checked} cases checked against Prometheus 2.42, ${r.mismatches.length} mismatches, ${r.excluded.length} evals excluded`);
  }
}
