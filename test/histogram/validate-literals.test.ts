// Every histogram literal of the promqltest files parses (and prints back to itself), Validate
// refuses what Prometheus refuses with Prometheus's words, and the remote-read conversion reduces
// reserved high-resolution schemas as Prometheus's client does.
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHistogramNotation as h, parseHistogramSeriesItem } from '../../lib/histogram/notation.ts';
import { fromPrompbValidated } from '../../lib/histogram/convert.ts';
import { HistogramValidationError } from '../../lib/histogram/validate.ts';

const TESTDATA = new URL('../promql/testdata/', import.meta.url);

test('all {{...}} items of test/promql/testdata parse; printed forms parse back to themselves', () => {
  let items = 0;
  for (const f of readdirSync(TESTDATA).filter((x) => x.endsWith('.test'))) {
    const text = readFileSync(new URL(f, TESTDATA), 'utf8');
    for (const m of text.matchAll(/\{\{[^}]*\}\}(?:(?:[+-]\{\{[^}]*\}\})?x\d+)?/g)) {
      items++;
      const values = parseHistogramSeriesItem(m[0]);
      for (const { h: x } of values) {
        const printed = x.toNotation();
        // Prometheus prints an NHCB without bounds as custom_values:[], which its own grammar cannot read back.
        if (printed.includes('custom_values:[]')) continue;
        assert.is(h(printed).toNotation(), printed, `${f}: ${m[0]}`);
      }
    }
  }
  assert.ok(items > 700, `only ${items} items found`);
});

test('validate: Prometheus error texts', () => {
  const cases: [string, string][] = [
    ['{{buckets:[1 -1]}}', 'positive side: bucket number 2 has observation count of -1: histogram has a bucket whose observation count is negative'],
    ['{{schema:9}}', 'histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema 9'],
    ['{{schema:-53 custom_values:[2 1] buckets:[1]}}', 'custom buckets: previous bound is 2.000000 and current is 1.000000: histogram custom bounds must be in strictly increasing order'],
    ['{{schema:-53 custom_values:[1] offset:2 buckets:[1]}}', 'custom buckets: only 1 custom bounds defined which is insufficient to cover total span length of 3: histogram custom bounds are too few'],
    ['{{count:-1}}', "observation count is  -1: histogram's observation count is negative"],
    ['{{z_bucket:-2}}', 'zero bucket has observation count of -2: histogram has a bucket whose observation count is negative'],
    ['{{schema:-53 z_bucket:1}}', 'custom buckets: must have zero count of 0'],
    ['{{schema:0 custom_values:[1]}}', 'histogram with exponential schema must not have custom bounds'],
    ['{{schema:-53 custom_values:[1 Inf]}}', 'custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite'],
  ];
  for (const [text, msg] of cases) {
    assert.throws(() => h(text).validate(), (e: Error) => e instanceof HistogramValidationError && e.message === msg, text);
  }
  const x = h('{{schema:3 count:4 sum:5 offset:-3 buckets:[1 2 1] n_buckets:[1]}}');
  x.positiveSpans.push({ offset: 2, length: 0 });
  x.validate();
});

test('remote read: reserved schemas reduced to 8, unknown ones refused', () => {
  const ph = {
    sum: 3, schema: 10, zeroThreshold: 0, negativeSpans: [], positiveSpans: [{ offset: 1, length: 5 }], negativeCounts: [], positiveCounts: [],
    negativeDeltas: [], positiveDeltas: [1, 1, 1, 1, 1], timestamp: 0, customValues: [], countInt: 15, resetHint: 0,
  };
  // Schema 10 indices 1..4 fall into schema 8 index 1, index 5 into index 2.
  assert.is(fromPrompbValidated(ph).toNotation(), '{{schema:8 count:15 sum:3 offset:1 buckets:[10 5]}}');
  // Reserved schemas up to 52 need shifts beyond 31 bits: indices -3..0 land in 0, index 1 in 1.
  assert.is(fromPrompbValidated({ ...ph, schema: 52, positiveSpans: [{ offset: -3, length: 5 }] }).toNotation(), '{{schema:8 count:15 sum:3 buckets:[10 5]}}');
  assert.throws(() => fromPrompbValidated({ ...ph, schema: 53 }), /unknown schema.*got schema 53/);
  assert.throws(() => fromPrompbValidated({ ...ph, positiveDeltas: [1, -5, 0, 0, 0] }), /observation count is negative/);
});

test('a stray zero count on custom buckets (invalid) is ignored by the bucket walks instead of crashing', () => {
  const x = h('{{schema:-53 count:3 sum:1 z_bucket:1 custom_values:[1] buckets:[1 1]}}');
  assert.is(x.allBucketList().length, 2);
  assert.is(x.toString(), '{count:3, sum:1, [-Inf,1]:1, (1,+Inf]:1}');
  x.trimBuckets(0.5, true);
});

test.run();
