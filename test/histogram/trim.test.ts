// The `</` and `>/` operators' histogram math (FloatHistogram.trimBuckets), with the inputs and
// answers of Prometheus's promqltest native_histograms.test, compared as promqltest compares.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHistogramNotation as h } from '../../lib/histogram/notation.ts';
import { equalsForTest } from '../../lib/histogram/compare.ts';
import { readFileSync } from 'node:fs';
import type { FloatHistogram } from '../../lib/histogram/float.ts';
import { parseHistogramSeriesItem } from '../../lib/histogram/notation.ts';

const H_TEST = '{{schema:0 sum:123.75 count:34 z_bucket:1 z_bucket_w:0.001 buckets:[2 4 8 16] n_buckets:[1 2]}}';
const H_TEST_2 = '{{schema:2 sum:12.8286080906 count:28 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 4 7 3] n_buckets:[1 5 3 1]}}';

const cases: [string, '</' | '>/', number, string][] = [
  [H_TEST, '>/', -Infinity, H_TEST],
  [H_TEST, '</', Infinity, H_TEST],
  [H_TEST, '>/', Infinity, '{{schema:0 z_bucket_w:0.001}}'],
  [H_TEST, '</', -Infinity, '{{schema:0 z_bucket_w:0.001}}'],
  [H_TEST, '>/', 0, '{{schema:0 sum:120.20840280171308 count:30.5 z_bucket:0.5 z_bucket_w:0.001 buckets:[2 4 8 16]}}'],
  [H_TEST, '</', 0, '{{schema:0 sum:-3.53578390593273768 count:3.5 z_bucket:0.5 z_bucket_w:0.001 n_buckets:[1 2]}}'],
  [H_TEST, '</', 1.4142135624, '{{count:8 sum:0.2570938865989847 z_bucket:1 z_bucket_w:0.001 buckets:[2 2] n_buckets:[1 2]}}'],
  [H_TEST, '>/', 1.4142135624, '{{count:26 sum:116.50067065070982 z_bucket_w:0.001 buckets:[0 2 8 16]}}'],
  [H_TEST_2, '</', 1.13, '{{schema:2 count:13.410582181123704 sum:-9.385798726068233 z_bucket:1 z_bucket_w:0.001 buckets:[1 1.410582181123704] n_buckets:[1 5 3 1]}}'],
  [H_TEST_2, '>/', 1.13, '{{schema:2 count:14.589417818876296 sum:22.168126492693734 z_bucket_w:0.001 offset:1 buckets:[0.589417818876296 4 7 3]}}'],
  [H_TEST_2, '>/', -1.3, '{{schema:2 count:25.54213947904476 sum:16.29588491217537 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 4 7 3] n_buckets:[1 5 1.54213947904476]}}'],
  [H_TEST_2, '</', -1.3, '{{schema:2 count:2.45786052095524 sum:-3.5189307983595066 z_bucket_w:0.001 n_offset:2 n_buckets:[1.45786052095524 1]}}'],
  [H_TEST, '</', 2, '{{count:10 sum:3.5355339059327373 z_bucket:1 z_bucket_w:0.001 buckets:[2 4] n_buckets:[1 2]}}'],
  [H_TEST, '>/', 2, '{{count:24 sum:113.13708498984761 z_bucket_w:0.001 offset:2 buckets:[8 16]}}'],
  [H_TEST, '>/', -1, '{{count:32 sum:119.50104602052653 z_bucket:1 z_bucket_w:0.001 buckets:[2 4 8 16] n_buckets:[1]}}'],
  [H_TEST, '</', -1, '{{count:2 sum:-2.8284271247461903 z_bucket_w:0.001 n_offset:1 n_buckets:[2]}}'],
];

test('trim operators (native_histograms.test)', () => {
  for (const [input, op, rhs, want] of cases) {
    const x = h(input);
    const got = x.copy().trimBuckets(rhs, op === '</');
    assert.ok(equalsForTest(h(want), got, false), `${input} ${op} ${rhs}: got ${got.toNotation()}, want ${want}`);
  }
});

test('trimBuckets works in place and returns the receiver; an untouched histogram keeps count and sum', () => {
  const x = h(H_TEST);
  assert.is(x.trimBuckets(4, true), x);
  assert.is(x.count, 2 + 4 + 8 + 1 + 3, 'count re-estimated from what is kept');
  const y = h(H_TEST);
  y.trimBuckets(1000, true);
  assert.is(y.sum, 123.75, 'nothing cut: the sum is not re-estimated');
});

/**
 * Every `eval instant at T <metric> </ <number>` (and `>/`) of native_histograms.test whose operand
 * is a histogram loaded in the file: the histogram sample at T trimmed here must be the expected one.
 * (The PromQL engine wires the operator; this checks the math on its own, on all of Prometheus's cases.)
 */
test('every `metric </ x` / `metric >/ x` case of native_histograms.test', () => {
  const lines = readFileSync(new URL('../promql/testdata/native_histograms.test', import.meta.url), 'utf8').split('\n').map((l) => l.trim());
  const ms = (d: string) => {
    const m = /^(\d+)(ms|s|m|h)$/.exec(d);
    if (!m) throw new Error(`duration ${d}`);
    return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
  };
  let loaded = new Map<string, { interval: number; values: (FloatHistogram | null)[] }>();
  let checked = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === 'clear') loaded = new Map();
    const load = /^load\s+(\S+)$/.exec(line);
    if (load) {
      for (i++; i < lines.length && lines[i] !== '' && !lines[i]!.startsWith('#'); i++) {
        const m = /^(\S+?(?:\{[^}]*\})?)\s+(.*)$/.exec(lines[i]!)!;
        const values: (FloatHistogram | null)[] = [];
        for (const item of m[2]!.match(/\{\{[^}]*\}\}(?:(?:[+-]\{\{[^}]*\}\})?x\d+)?|\S+/g)!) {
          if (item.startsWith('{{')) values.push(...parseHistogramSeriesItem(item).map((x) => x.h));
          else values.push(null); // floats and gaps: not trim operands
        }
        loaded.set(m[1]!.includes('{') ? m[1]! : `${m[1]}{}`, { interval: ms(load[1]!), values });
      }
      continue;
    }
    const ev = /^eval instant at (\S+) (\w+) (<\/|>\/) ([-+]?(?:Inf|[\d.]+))$/.exec(line);
    if (!ev) continue;
    const rhs = Number(ev[4]!.replace('Inf', 'Infinity'));
    for (i++; i < lines.length && lines[i] !== ''; i++) {
      const row = /^(\w*)(\{[^}]*\})?\s+(\{\{.*\}\})$/.exec(lines[i]!);
      if (!row) continue;
      const series = [...loaded.entries()].find(([k]) => k.startsWith(`${ev[2]}{`) && (row[2] === undefined || k.endsWith(row[2])));
      if (!series) continue;
      const { interval, values } = series[1];
      const x = values[Math.min(Math.floor(ms(ev[1]!) / interval), values.length - 1)];
      if (!x) continue;
      const got = x.copy().trimBuckets(rhs, ev[3] === '</');
      assert.ok(equalsForTest(h(row[3]!), got, false), `native_histograms.test:${i + 1} ${ev[2]} ${ev[3]} ${ev[4]}: got ${got.toNotation()}, want ${row[3]}`);
      checked++;
    }
  }
  assert.ok(checked >= 100, `only ${checked} cases found`);
});

test.run();
