// PromQL answers that differ between Prometheus 2.42 (Debian's, our reference where they agree) and
// Prometheus 3.x (whose semantics this engine follows). Each entry is one tiny example, run twice:
// through Debian's real promtool 2.42 (`promtool test rules`, via prom242.ts) with the 2.42 answer,
// and through this engine (the promqltest runner) with the 3.x answer. The list is the source of
// the README's compatibility section; `node --import tsx test/promql/compat.test.ts --markdown`
// prints it as a table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crossCheck242 } from './prom242.ts';
import { runFile } from './promqltest.ts';

interface Diff {
  what: string;
  /** Upstream change and the first release with it. */
  ref: string;
  load: string;
  at: string;
  expr: string;
  /** Expected lines in promqltest syntax; `fail` or `fail <regex>` for an error. */
  v242: string;
  v3: string;
}

const X123 = 'load 1m\n\tx 1 2 3';

export const DIFFS: Diff[] = [
  {
    what: 'Lookback is left-open: a sample exactly lookback-delta (5m) old is no longer returned',
    ref: 'prometheus#13904, 3.0.0', load: 'load 1m\n\tx 1', at: '5m', expr: 'x', v242: 'x 1', v3: '',
  },
  {
    what: 'Range selectors are left-open: a sample exactly at t - range is excluded',
    ref: 'prometheus#13904, 3.0.0', load: X123, at: '2m', expr: 'count_over_time(x[1m])', v242: '{} 2', v3: '{} 1',
  },
  {
    what: 'Subqueries are left-open too',
    ref: 'prometheus#15431, 3.0.1', load: X123, at: '2m', expr: 'count_over_time(x[2m:1m])', v242: '{} 3', v3: '{} 2',
  },
  {
    what: 'rate()/increase(): the counter zero point only shortens the extrapolation (after a gap, a restart)',
    ref: 'prometheus#13725, 2.51.0', load: 'load 15s\n\tx _ _ 6 16', at: '1m', expr: 'increase(x[1m])', v242: '{} 26', v3: '{} 25',
  },
  {
    what: 'stddev/stdvar of a group whose first value is ±Inf or NaN is NaN (2.42: 0 for a one-series group)',
    ref: 'prometheus#14941, 3.0.0', load: 'load 1m\n\tx Inf', at: '0', expr: 'stddev(x)', v242: '{} 0', v3: '{} NaN',
  },
  {
    // sort(): a fixed input order (promtool loads series in random order; Prometheus reads them in
    // label order).
    what: 'sum() uses Kahan summation',
    ref: 'prometheus#14074, 2.54.0', load: 'load 1m\n\ts{i="a"} 1e100\n\ts{i="b"} 1\n\ts{i="c"} -1e100', at: '0', expr: 'sum(sort(s))', v242: '{} 0', v3: '{} 1',
  },
  {
    what: 'avg() uses Kahan summation (direct mean, incremental only on overflow)',
    ref: 'prometheus#14413 2.55.0, #16569 3.5.0', load: 'load 1m\n\ts{i="a"} 1e100\n\ts{i="b"} 1\n\ts{i="c"} -1e100', at: '0', expr: 'avg(sort(s))', v242: '{} 0', v3: '{} 0.3333333333333333',
  },
  {
    what: 'avg_over_time() likewise',
    ref: 'prometheus#14413 2.55.0, #16569 3.5.0', load: 'load 1m\n\ty 1e100 1 -1e100', at: '2m', expr: 'avg_over_time(y[3m])', v242: '{} 0', v3: '{} 0.3333333333333333',
  },
  {
    what: 'histogram_quantile() treats bucket counts within 1e-12 (relative) as equal',
    ref: 'prometheus#13153, 2.49.0', load: 'load 1m\n\th_bucket{le="1"} 10\n\th_bucket{le="2"} 10.000000000001\n\th_bucket{le="+Inf"} 10.000000000001',
    at: '0', expr: 'histogram_quantile(1, h_bucket)', v242: '{} 2', v3: '{} 1',
  },
  {
    what: 'histogram_fraction() works on classic (le) buckets',
    ref: 'prometheus#16095, 3.4.0', load: 'load 1m\n\th_bucket{le="1"} 3\n\th_bucket{le="2"} 6\n\th_bucket{le="+Inf"} 10',
    at: '0', expr: 'histogram_fraction(0, 1, h_bucket)', v242: '', v3: '{} 0.3',
  },
  {
    what: 'Regex `.` matches a newline',
    ref: 'prometheus#14505, 3.0.0', load: 'load 1m\n\tx{l="a\\nb"} 1', at: '0', expr: 'x{l=~"a.b"}', v242: '', v3: 'x{l="a\\nb"} 1',
  },
  {
    what: 'UTF-8 metric and label names (quoted in selectors)',
    ref: 'prometheus#14705, 3.0.0', load: 'load 1m\n\tx 1', at: '0', expr: '{"x"}', v242: 'fail parse error', v3: 'x 1',
  },
  {
    what: 'UTF-8 label names in count_values()',
    ref: 'prometheus#14705, 3.0.0', load: 'load 1m\n\tx 1', at: '0', expr: 'count_values("värde", x)', v242: 'fail invalid label name', v3: '{"värde"="1"} 1',
  },
  {
    what: 'UTF-8 label names in label_replace()',
    ref: 'prometheus#15974, 3.3.0', load: 'load 1m\n\tx{l="a"} 1', at: '0', expr: 'label_replace(x, "ä", "$1", "l", "(.*)")',
    v242: 'fail invalid destination label name', v3: 'x{l="a", "ä"="a"} 1',
  },
  {
    what: 'holt_winters() is renamed double_exponential_smoothing() (3.x: behind promql-experimental-functions)',
    ref: 'prometheus#14930, 3.0.0', load: X123, at: '2m', expr: 'holt_winters(x[5m], 0.5, 0.5)', v242: '{} 3', v3: 'fail unknown function',
  },
  {
    what: 'double_exponential_smoothing() (experimental in 3.x; this querier enables experimental functions)',
    ref: 'prometheus#14930, 3.0.0', load: X123, at: '2m', expr: 'double_exponential_smoothing(x[5m], 0.5, 0.5)', v242: 'fail unknown function', v3: '{} 3',
  },
  {
    what: 'Underscores in number literals',
    ref: 'prometheus#12821, 2.54.0', load: X123, at: '0', expr: '1_000', v242: 'fail parse error', v3: '1000',
  },
  {
    what: 'Durations are numbers (seconds) and numbers are durations',
    ref: 'prometheus#9138 2.54.0, #15111 3.0.0', load: X123, at: '2m', expr: 'x offset 60', v242: 'fail parse error', v3: 'x 2',
  },
  {
    what: 'topk()/bottomk() with a NaN k: a different error',
    ref: 'prometheus#16725, 3.6.0', load: X123, at: '0', expr: 'topk(NaN, x)', v242: 'fail Scalar value NaN overflows int64', v3: 'fail Parameter value is NaN',
  },
  {
    what: 'limitk()/limit_ratio() (experimental in 3.x)',
    ref: 'prometheus#12503, 2.54.0', load: X123, at: '0', expr: 'limitk(1, x)', v242: 'fail unknown|unexpected|parse error', v3: 'x 1',
  },
  {
    what: 'sort_by_label(), mad_over_time(), ts_of_*_over_time(), first_over_time() and the other newer functions',
    ref: 'prometheus#13103 2.49.0 and later', load: X123, at: '2m', expr: 'mad_over_time(x[5m])', v242: 'fail unknown function', v3: '{} 1',
  },
];

function script(side: 'v242' | 'v3'): string {
  let s = '';
  for (const d of DIFFS) {
    s += `${d.load}\n\n`;
    const want = d[side];
    s += `eval instant at ${d.at} ${d.expr}\n`;
    if (want.startsWith('fail')) s += '\texpect fail\n';
    else if (want) s += `\t${want}\n`;
    s += '\nclear\n\n';
  }
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'compat-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('Prometheus 2.42 (promtool) gives the 2.42 answer of every difference', async () => {
  const f = join(dir, 'v242.test');
  writeFileSync(f, script('v242'));
  const r = await crossCheck242(f);
  assert.is(r.mismatches.join('\n'), '');
  assert.is(r.checked, DIFFS.length);
  const fails = DIFFS.filter((d) => d.v242.startsWith('fail'));
  assert.is(r.failures.length, fails.length);
  r.failures.forEach((x, i) => assert.match(x.got, new RegExp(fails[i]!.v242.slice(5)), `${fails[i]!.expr}: ${x.got}`));
});

test('this engine gives the 3.x answer of every difference', async () => {
  const f = join(dir, 'v3.test');
  writeFileSync(f, script('v3'));
  const r = await runFile(f, 'v3.test');
  assert.is(r.failures.map((x) => `line ${x.line} ${x.expr}: ${x.reason}`).join('\n'), '');
  assert.is(r.passed, DIFFS.length);
});

test('this engine\'s error messages for the 3.x failures', async () => {
  const { Engine, MemoryQueryable } = await import('../../lib/promql/mod.ts');
  const eng = new Engine();
  for (const d of DIFFS.filter((x) => x.v3.startsWith('fail'))) {
    let msg = '';
    try {
      await eng.instantQuery(new MemoryQueryable(), d.expr, 0);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, new RegExp(d.v3.slice(5)), d.expr);
  }
});

if (process.argv.includes('--markdown')) {
  console.log('| 2.42 ↔ 3.x | upstream | query | Prometheus 2.42 | Prometheus 3.x / Thanos-TS |\n|---|---|---|---|---|');
  const cell = (s: string) => (s === '' ? '(empty)' : s.startsWith('fail') ? `error${s.length > 4 ? ` (${s.slice(5)})` : ''}` : s).replace(/\|/g, '\\|');
  for (const d of DIFFS) {
    console.log(`| ${d.what} | ${d.ref} | \`${d.expr}\` over \`${d.load.split('\n').slice(1).map((l) => l.trim()).join('; ')}\` at ${d.at} | ${cell(d.v242)} | ${cell(d.v3)} |`);
  }
} else {
  test.run();
}
