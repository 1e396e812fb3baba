// The `</` and `>/` operators' histogram math (FloatHistogram.trimBuckets), with the inputs and
// answers of Prometheus's promqltest native_histograms.test, compared as promqltest compares.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHistogramNotation as h } from '../../lib/histogram/notation.ts';
import { equalsForTest } from '../../lib/histogram/compare.ts';

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

test.run();
