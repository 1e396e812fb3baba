// histogram_quantile / histogram_fraction / histogram_stddev / histogram_stdvar on single
// histograms, with the inputs and answers of Prometheus's promqltest native_histograms.test
// (test/promql/testdata), compared exactly: Prometheus prints the float64 it computed, and ours must
// be that float64 (Go's Exp2/Log2 are reproduced for this: JS's 2**0.5 is one ulp off).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHistogramNotation, parseHistogramSeriesItem } from '../../lib/histogram/notation.ts';
import {
  histogramFraction,
  histogramFractionWithInfo,
  histogramQuantile,
  histogramQuantileWithInfo,
  histogramStdDev,
  histogramStdVar,
} from '../../lib/histogram/quantile.ts';
import { goExp2, goLog2 } from '../../lib/histogram/gomath.ts';
import { fractionBelow, getBoundExponential } from '../../lib/histogram/buckets.ts';

const h = parseHistogramNotation;
/** The last value of a series item such as `{{a}}+{{b}}x1` (what an eval at its last step sees). */
const last = (item: string) => parseHistogramSeriesItem(item).at(-1)!.h;

const same = (got: number, want: number, what: string) => assert.ok(Object.is(got, want), `${what}: got ${got}, want ${want}`);

test('histogram_quantile (native_histograms.test)', () => {
  const single = h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}');
  same(histogramQuantile(0.5, single), 1.414213562373095, 'median of [1 2 1]');
  same(histogramQuantile(0.5, h('{{schema:0 z_bucket:1 z_bucket_w:0.5 sum:0.25 count:1}}')), 0, 'zero bucket only');
  same(histogramQuantile(0.5, h('{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}')), -1.414213562373095, 'negative');
  same(
    histogramQuantile(0.5, last('{{schema:0 sum:4 count:4 buckets:[1 2 1]}}+{{schema:0 sum:-4 count:4 n_buckets:[1 2 1]}}x1')),
    0.5,
    'balanced',
  );
});

test('histogram_quantile edge rules: q outside [0,1], NaN, empty', () => {
  const single = h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}');
  same(histogramQuantile(-0.1, single), -Infinity, 'q<0');
  same(histogramQuantile(1.1, single), Infinity, 'q>1');
  same(histogramQuantile(NaN, single), NaN, 'q NaN');
  same(histogramQuantile(0.5, h('{{}}')), NaN, 'empty');
  // Custom buckets: the -Inf and +Inf buckets answer with their finite bound.
  const nhcb = h('{{schema:-53 sum:5 count:4 custom_values:[1 2] buckets:[1 2 1]}}');
  same(histogramQuantile(1, nhcb), 2, 'q=1 in the +Inf bucket');
  same(histogramQuantile(0.125, nhcb), 0.5, 'first bucket interpolated from 0');
  same(histogramQuantile(0.5, nhcb), 1.5, 'linear in (1,2]');
});

test('NaN observations: the quantile says so instead of guessing', () => {
  // count 5 but only 4 observations in buckets: the 5th is NaN (sum NaN).
  const withNaN = h('{{schema:0 sum:NaN count:5 buckets:[1 2 1]}}');
  const top = histogramQuantileWithInfo(0.99, withNaN);
  assert.ok(Number.isNaN(top.value) && top.nanResult, JSON.stringify(top));
  const mid = histogramQuantileWithInfo(0.5, withNaN);
  assert.ok(Number.isFinite(mid.value) && mid.nanSkew && !mid.nanResult, JSON.stringify(mid));
  const frac = histogramFractionWithInfo(0, 8, withNaN);
  assert.ok(frac.nanObservations, 'fraction notes NaN observations');
  same(frac.value, 4 / 5, 'fraction of all observations');
  assert.not.ok(histogramFractionWithInfo(0, 8, h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}')).nanObservations);
});

test('histogram_fraction (native_histograms.test)', () => {
  same(histogramFraction(1, 2, h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}')), 0.5, 'single');
  same(histogramFraction(0, 8, h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}')), 1, 'single, all');
  same(histogramFraction(-Infinity, Infinity, h('{{}}')), NaN, 'empty');
  same(histogramFraction(0, 8, h('{{schema:-53 custom_values:[-2 3]}}')), NaN, 'empty NHCB');
  same(histogramFraction(1, 4, last('{{schema:-1 sum:4 count:1 buckets:[1] offset:1}}+{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}x1')), 1, 'low res');
  same(histogramFraction(-0.5, 0.5, h('{{schema:0 z_bucket:1 z_bucket_w:0.5 sum:0.25 count:1}}')), 1, 'zero bucket');
  same(histogramFraction(-2, -1, h('{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}')), 0.5, 'negative');
  same(
    histogramFraction(0, 4, last('{{schema:0 sum:4 count:4 buckets:[1 2 1]}}+{{schema:0 sum:-4 count:4 n_buckets:[1 2 1]}}x1')),
    0.5,
    'balanced',
  );
  same(histogramFraction(2, 1, h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}')), 0, 'lower >= upper');
});

test('histogram_stddev / histogram_stdvar (native_histograms.test)', () => {
  const cases: [string, number, number][] = [
    ['{{schema:2 count:4 sum:10 buckets:[1 0 0 0 1 0 0 1 1]}}', 1.0787993180043811, 1.163807968526718],
    ['{{schema:8 count:10 sum:10 buckets:[1 2 3 4]}}', 0.0048960313898237465, 2.3971123370139447e-5],
    [
      '{{schema:3 count:7 sum:62 z_bucket:1 buckets:[0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 ] n_buckets:[0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 ]}}',
      42.94723640026,
      1844.4651144196398,
    ],
    ['{{schema:0 count:10 sum:-112946 z_bucket:0 n_buckets:[0 0 1 1 1 0 1 1 0 0 3 0 0 0 1 0 0 1]}}', 27556.344499842, 759352122.1939945],
  ];
  for (const [text, stddev, stdvar] of cases) {
    const x = h(text);
    // The test file prints some with fewer digits (promqltest compares with 1e-6 tolerance).
    const close = (got: number, want: number, what: string) =>
      assert.ok(Math.abs(got - want) <= 1e-12 * Math.abs(want), `${what} of ${text}: got ${got}, want ${want}`);
    close(histogramStdDev(x), stddev, 'stddev');
    close(histogramStdVar(x), stdvar, 'stdvar');
  }
  same(histogramStdVar(h('{{schema:2 count:4 sum:10 buckets:[1 0 0 0 1 0 0 1 1]}}')), 1.163807968526718, 'stdvar exact');
});

test("Go's Exp2 and Log2, not the JS engine's", () => {
  same(goExp2(0.5), 1.414213562373095, 'Exp2(0.5)');
  same(goLog2(1024), 10, 'Log2 of a power of two is exact');
  same(goExp2(-1074), 5e-324, 'smallest subnormal');
  same(goExp2(1024), Infinity, 'overflow');
});

test('bucket bounds and FractionBelow (generic_test.go TestGetBoundExponential, TestBucketFractionBelow)', () => {
  const bounds: [number, number, number][] = [
    [-1, -1, 0.25], [0, -1, 1], [1, -1, 4], [512, -1, Number.MAX_VALUE], [513, -1, Infinity],
    [-1, 0, 0.5], [0, 0, 1], [1, 0, 2], [1024, 0, Number.MAX_VALUE], [1025, 0, Infinity],
    [-1, 2, 0.8408964152537144], [0, 2, 1], [1, 2, 1.189207115002721], [4096, 2, Number.MAX_VALUE], [4097, 2, Infinity],
  ];
  for (const [idx, schema, want] of bounds) same(getBoundExponential(idx, schema), want, `bound ${idx} of schema ${schema}`);
  const b = (lower: number, upper: number) => ({ lower, upper, lowerInclusive: false, upperInclusive: true, count: 100, index: 0 });
  const fractions: [number, number, number, boolean, number][] = [
    [0, 10, 5, true, 0.5], [2, 6, 3, true, 0.25], [-10, -5, -6, true, 0.8],
    [2, 8, 4, false, 0.5], [1, 16, 2, false, 0.25], [-8, -2, -4, false, 0.5], [-4, -2, -3, false, 0.41503749927884383],
  ];
  for (const [lo, hi, v, linear, want] of fractions) {
    const got = fractionBelow(b(lo, hi), v, linear);
    assert.ok(Math.abs(got - want) <= 1e-12, `(${lo},${hi}] below ${v}: ${got}, want ${want}`);
  }
});

test.run();
