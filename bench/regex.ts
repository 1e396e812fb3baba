// Regex matcher benchmark (issue #21 item 1): `npm run bench -- regex [--json] [--reps=N] [--filter=substr]`.
// Prometheus's BenchmarkFastRegexMatcher cases (bench/regex-cases.json, from model/labels/regexp_test.go)
// matched against a value corpus, through lib/labels (RE2 via re2js with Prometheus's shortcuts)
// beside the JavaScript RegExp path lib/labels had before (bench/regex-legacy.ts). The issue's bar:
// ordinary matchers no more than 1.5x slower than the RegExp path.
//
// Corpus: as Prometheus's generateRandomValues (10 random strings of 10 characters, 5 of 30, 1 of
// 100, "foo" + 50 random and 50 random + "foo", over [a-zA-Z0-9_-], seeded) plus the values its
// TestFastRegexMatcher_MatchString checks, so matching values are in the mix too.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { compileMatcher, compileRegex } from '../lib/labels/mod.ts';
import { legacyRegexMatcher } from './regex-legacy.ts';

interface Cases { regexes: string[]; values: string[] }

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
function corpus(values: string[]): string[] {
  const r = rng(1);
  const rs = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += ASCII[Math.floor(r() * ASCII.length)];
    return s;
  };
  const out: string[] = [];
  for (let i = 0; i < 10; i++) out.push(rs(10));
  for (let i = 0; i < 5; i++) out.push(rs(30));
  out.push(rs(100), 'foo' + rs(50), rs(50) + 'foo');
  return [...out, ...values];
}

/**
 * CPU ns per match of each matcher: best of reps, each rep long enough (~20 ms) to be measurable;
 * the matchers take turns within each rep, so a busy spell of the (shared) machine hits both.
 */
function nsPerMatch(fns: Array<((v: string) => boolean) | null>, texts: string[], reps: number): Array<number | null> {
  let sink = 0;
  const iters = fns.map((fn) => {
    if (!fn) return 0;
    let n = 1;
    for (;;) {
      const t = performance.now();
      for (let i = 0; i < n; i++) for (const s of texts) if (fn(s)) sink++;
      if (performance.now() - t > 20 || n > 1 << 20) return n;
      n *= 2;
    }
  });
  const best: Array<number | null> = fns.map((fn) => (fn ? Infinity : null));
  for (let k = 0; k < reps; k++) {
    fns.forEach((fn, j) => {
      if (!fn) return;
      const t0 = process.cpuUsage();
      for (let i = 0; i < iters[j]!; i++) for (const s of texts) if (fn(s)) sink++;
      const d = process.cpuUsage(t0);
      best[j] = Math.min(best[j]!, ((d.user + d.system) * 1000) / (iters[j]! * texts.length));
    });
  }
  if (sink < 0) console.log(sink);
  return best;
}

const label = (re: string) => {
  const s = JSON.stringify(re);
  return s.length > 48 ? `${s.slice(0, 40)}…(${re.length} ch)` : s;
};

export default async function main(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const opt = (name: string) => args.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
  const reps = Number(opt('reps') ?? 5);
  const filter = opt('filter');
  const cases = JSON.parse(readFileSync(new URL('./regex-cases.json', import.meta.url), 'utf8')) as Cases;
  // Beyond Prometheus's list: patterns no shortcut covers (classes, counted repeats), where RE2
  // itself runs and its cost against V8's compiled RegExp shows.
  const extra = ['[a-z]+-[0-9]{2,4}', '(\\w+)@(\\w+)\\.com', '[0-9a-f]{8}', 'api-[0-9]+-(a|b)[xyz]?', '.*[0-9]$'];
  const texts = corpus(cases.values);
  const log = (s: string) => { if (!json) console.log(s); };
  log(`regex matcher benchmark — CPU: ${cpus()[0]?.model?.trim() ?? 'unknown'}, node ${process.version}`);
  log(`${cases.regexes.length} cases from Prometheus's BenchmarkFastRegexMatcher (then ${extra.length} of ours that need the engine) × ${texts.length} values; CPU ns per match, best of ${reps}`);
  log('path: set = literal set, fast = shortcut without the engine, prefilter = literal checks then RE2, engine = RE2 only');
  log('');
  log(`${'regex'.padEnd(52)} ${'path'.padEnd(9)} ${'RE2+shortcuts'.padStart(13)} ${'old RegExp'.padStart(10)} ${'ratio'.padStart(6)}`);
  const rows: Array<{ regex: string; path: string; new_ns: number; old_ns: number | null; ratio: number | null; disagree: number }> = [];
  for (const re of [...cases.regexes, ...extra]) {
    if (filter && !re.includes(filter)) continue;
    const path = compileRegex(re).path;
    const m = compileMatcher({ type: '=~', name: 'l', value: re });
    let old: ((v: string) => boolean) | null = null;
    try {
      old = legacyRegexMatcher(re);
    } catch {
      old = null; // the old translation could not compile it
    }
    // The old path's answers differ where its translation was wrong (e.g. (?i) on ſ); counted, not hidden.
    const disagree = old ? texts.filter((v) => old!(v) !== m.matches(v)).length : 0;
    const [newNs, oldNs] = nsPerMatch([m.matches, old], texts, reps) as [number, number | null];
    const ratio = oldNs ? newNs / oldNs : null;
    rows.push({ regex: re, path, new_ns: newNs, old_ns: oldNs, ratio, disagree });
    log(`${label(re).padEnd(52)} ${path.padEnd(9)} ${newNs.toFixed(1).padStart(13)} ${(oldNs?.toFixed(1) ?? 'n/a').padStart(10)} ${(ratio === null ? '' : ratio.toFixed(2) + 'x').padStart(6)}${ratio !== null && ratio > 1.5 ? '  > 1.5x' : ''}${disagree ? `  (old path wrong on ${disagree} values)` : ''}`);
  }
  const isExtra = new Set(extra);
  const extraRows = rows.filter((r) => isExtra.has(r.regex) && r.ratio !== null);
  const withRatio = rows.filter((r) => r.ratio !== null && !isExtra.has(r.regex));
  const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / Math.max(1, xs.length));
  const ordinary = withRatio.filter((r) => r.path !== 'engine');
  const summary = {
    cases: rows.length,
    extra_cases: extraRows.map((r) => ({ regex: r.regex, path: r.path, ratio: r.ratio })),
    geomean_ratio: geo(withRatio.map((r) => r.ratio!)),
    ordinary_cases: ordinary.length,
    ordinary_geomean_ratio: geo(ordinary.map((r) => r.ratio!)),
    ordinary_over_1_5x: ordinary.filter((r) => r.ratio! > 1.5).map((r) => r.regex),
    engine_cases: withRatio.length - ordinary.length,
    engine_geomean_ratio: geo(withRatio.filter((r) => r.path === 'engine').map((r) => r.ratio!)),
    old_path_failed_to_compile: rows.filter((r) => r.old_ns === null).map((r) => r.regex),
  };

  // The case the issue is about: the old path doubles per character; 24 keeps it to about a second.
  const evil = 'a'.repeat(24) + 'b';
  const catastrophic: Record<string, number> = {};
  for (const [name, fn] of [['new', compileMatcher({ type: '=~', name: 'l', value: '(a+)+$' }).matches], ['old', legacyRegexMatcher('(a+)+$')]] as const) {
    const t0 = performance.now();
    fn(evil);
    catastrophic[`${name}_ms`] = performance.now() - t0;
  }
  const t0 = performance.now();
  compileMatcher({ type: '=~', name: 'l', value: '(a+)+$' }).matches('a'.repeat(100_000) + 'b');
  catastrophic.new_100k_chars_ms = performance.now() - t0;

  log('');
  log(`Prometheus's cases, geometric mean ratio (RE2 path / old RegExp path): all ${summary.geomean_ratio.toFixed(2)}x over ${withRatio.length}; ` +
    `ordinary matchers (set/fast/prefilter) ${summary.ordinary_geomean_ratio.toFixed(2)}x over ${ordinary.length}; engine-only ${summary.engine_geomean_ratio.toFixed(2)}x over ${summary.engine_cases}`);
  if (extraRows.length) log(`our cases outside the shortcuts: ${extraRows.map((r) => `${r.regex} ${r.ratio!.toFixed(2)}x`).join(', ')}`);
  log(`ordinary matchers over 1.5x: ${summary.ordinary_over_1_5x.length ? summary.ordinary_over_1_5x.map(label).join(', ') : 'none'}`);
  log(`(a+)+$ on 24 "a"s + "b": new ${catastrophic.new_ms!.toFixed(2)} ms, old ${catastrophic.old_ms!.toFixed(0)} ms (doubling per character); new on 100k characters: ${catastrophic.new_100k_chars_ms!.toFixed(1)} ms`);
  if (json) {
    const r3 = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
    console.log(JSON.stringify({
      cpu: cpus()[0]?.model?.trim() ?? 'unknown',
      values: texts.length,
      cases: rows.map((r) => ({ regex: r.regex.length > 200 ? `${r.regex.slice(0, 200)}…` : r.regex, path: r.path, new_ns: r3(r.new_ns), old_ns: r3(r.old_ns), ratio: r3(r.ratio), old_disagrees: r.disagree })),
      summary: { ...summary, geomean_ratio: r3(summary.geomean_ratio), ordinary_geomean_ratio: r3(summary.ordinary_geomean_ratio), engine_geomean_ratio: r3(summary.engine_geomean_ratio) },
      catastrophic: Object.fromEntries(Object.entries(catastrophic).map(([k, v]) => [k, r3(v)])),
    }));
  }
}
