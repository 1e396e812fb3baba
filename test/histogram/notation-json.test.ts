// The promqltest `{{...}}` notation (parse, print, series expansion), the HTTP API JSON of a
// histogram, and the conversions from decoded chunks and remote-write protobufs. Expected texts
// come from Prometheus: its promqltest files (test/promql/testdata), web/api/v1 json_codec_test.go,
// and its parser's rules (promql/parser lex.go / generated_parser.y / parse.go).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FloatHistogram } from '../../lib/histogram/float.ts';
import {
  expandHistogramSeries,
  HistogramNotationError,
  parseHistogramNotation,
  parseHistogramNotationWithHint,
  parseHistogramSeriesItem,
} from '../../lib/histogram/notation.ts';
import { histogramJSON } from '../../lib/histogram/json.ts';
import { almostEqual, equalsForTest } from '../../lib/histogram/compare.ts';
import { chunkSampleHint, fromChunkSample, fromPrompb } from '../../lib/histogram/convert.ts';
import { HISTOGRAM_COUNTER_RESET, HISTOGRAM_GAUGE, HISTOGRAM_NOT_COUNTER_RESET, type HistogramSamples } from '../../lib/core/types.ts';
import { isStaleNaN } from '../../lib/core/js/histogram.ts';

const h = parseHistogramNotation;

test('every key, in any order and case, into the Prometheus fields', () => {
  const x = h('{{COUNT:4 schema:1 sum:-5.5 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 -1] offset:-2 n_buckets:[3] n_offset:4 counter_reset_hint:Gauge}}');
  assert.equal(
    { ...x },
    {
      counterResetHint: 'gauge',
      schema: 1,
      zeroThreshold: 0.001,
      zeroCount: 1,
      count: 4,
      sum: -5.5,
      positiveSpans: [{ offset: -2, length: 3 }],
      negativeSpans: [{ offset: 4, length: 1 }],
      positiveBuckets: [1, 2, -1],
      negativeBuckets: [3],
      customValues: [],
    },
  );
  const nhcb = h('{{schema:-53 sum:1 count:2 custom_values:[0.1 1_000 +Inf] buckets:[1 1]}}'.replace('+Inf', 'Inf'));
  assert.equal(nhcb.customValues, [0.1, 1000, Infinity]);
  assert.equal(h('{{sum:0x10 count:NaN}}').sum, 16);
  assert.ok(Number.isNaN(h('{{sum:0x10 count:NaN}}').count));
  assert.equal({ ...h('{{}}') }, { ...new FloatHistogram({ schema: 0, count: 0, sum: 0 }) });
  assert.equal({ ...h('{{ }}') }, { ...new FloatHistogram({ schema: 0, count: 0, sum: 0 }) });
});

test('malformed literals are refused with the reason', () => {
  const bad: [string, RegExp][] = [
    ['{{sum:1 sum:2}}', /duplicate key "sum"/],
    ['{{bucket:[1]}}', /bad histogram descriptor found: "bucket"/],
    ['{{sum 1}}', /missing `:`/],
    ['{{buckets:[]}}', /empty bucket list/],
    ['{{buckets:[1 2}}', /invalid character|unterminated/],
    ['{{schema:1.5}}', /histogram description incomplete/],
    ['{{counter_reset_hint:maybe}}', /counter_reset_hint/],
    ['{{sum:1', /incomplete/],
    ['{{sum:1}} x', /unexpected text/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => h(text), (e: Error) => e instanceof HistogramNotationError && re.test(e.message), text);
  }
});

test('toNotation prints what Prometheus TestExpression prints', () => {
  // Outputs as written in native_histograms.test.
  const cases: [FloatHistogram, string][] = [
    [h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}'), '{{count:4 sum:5 buckets:[1 2 1]}}'],
    [h('{{schema:-53 custom_values:[-2 3]}}'), '{{schema:-53 custom_values:[-2 3]}}'],
    [h('{{}}'), '{{}}'],
    [
      new FloatHistogram({
        schema: 1, count: 0.6, sum: 1.2266666666666652, zeroCount: 0.06666666666666667, zeroThreshold: 0.001,
        positiveSpans: [{ offset: 0, length: 2 }, { offset: 1, length: 2 }],
        positiveBuckets: [0.06666666666666667, 0.06666666666666667, 0.06666666666666667, 0.06666666666666667],
      }),
      '{{schema:1 count:0.6 sum:1.2266666666666652 z_bucket:0.06666666666666667 z_bucket_w:0.001 buckets:[0.06666666666666667 0.06666666666666667 0 0.06666666666666667 0.06666666666666667]}}',
    ],
    [h('{{count:2.3971123370139447e-05 counter_reset_hint:not_reset offset:-3 n_offset:2 n_buckets:[0 1e6 0]}}'), '{{count:2.3971123370139447e-05 counter_reset_hint:not_reset n_offset:3 n_buckets:[1e+06]}}'],
  ];
  for (const [x, want] of cases) assert.is(x.toNotation(), want);
  // Round trip: parse(print(x)) prints the same again.
  for (const [x] of cases) assert.is(h(x.toNotation()).toNotation(), x.toNotation());
});

test('series items: xN repeats, +/- accumulate as promqltest loads them', () => {
  const rep = parseHistogramSeriesItem('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2');
  assert.is(rep.length, 3);
  assert.ok(rep[0]!.h !== rep[1]!.h, 'copies, not one shared object');
  const inc = parseHistogramSeriesItem('{{schema:0 sum:1 count:1 buckets:[1]}}+{{sum:2 count:3 buckets:[1 2] counter_reset_hint:not_reset}}x3');
  assert.equal(
    inc.map((x) => x.h.toNotation()),
    [
      '{{count:1 sum:1 buckets:[1]}}',
      '{{count:4 sum:3 buckets:[2 2]}}',
      '{{count:7 sum:5 buckets:[3 4]}}',
      '{{count:10 sum:7 buckets:[4 6]}}',
    ],
  );
  // Every value carries the delta's "hint written" flag, the first one included (Prometheus does so).
  assert.equal(inc.map((x) => x.counterResetHintSet), [true, true, true, true]);
  // unknown (base) + not_reset (delta) = unknown (Prometheus adjustCounterReset).
  assert.is(inc[1]!.h.counterResetHint, 'unknown');
  // low_res_histogram in native_histograms.test: the delta of higher resolution is merged down.
  const low = parseHistogramSeriesItem('{{schema:-1 sum:4 count:1 buckets:[1] offset:1}}+{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}x1');
  assert.is(low[1]!.h.toNotation(), '{{schema:-1 count:5 sum:8 offset:1 buckets:[5]}}');
  const dec = parseHistogramSeriesItem('{{sum:10 count:10 buckets:[5 5]}}-{{sum:1 count:2 buckets:[1 1]}}x2');
  assert.is(dec[2]!.h.toNotation(), '{{count:6 sum:8 buckets:[3 3]}}');
  assert.not.ok(parseHistogramNotationWithHint('{{sum:1}}').counterResetHintSet);
});

test('series expansion refuses what Prometheus refuses', () => {
  assert.throws(
    () => parseHistogramSeriesItem('{{schema:1 buckets:[1]}}+{{schema:0 buckets:[1]}}x2'),
    /cannot merge from schema 0 to 1/,
  );
  assert.throws(() => expandHistogramSeries(h('{{schema:-53 custom_values:[1] buckets:[1]}}'), h('{{buckets:[1]}}'), 1, '+'), /mix of exponential and custom/);
  assert.throws(() => parseHistogramSeriesItem('{{sum:1}}x99999999999'), /repetition/);
  assert.throws(() => parseHistogramSeriesItem('{{sum:1}}+{{sum:1}}'), /expected "x"/);
});

test('API JSON: the web/api/v1 json_codec_test.go histogram, byte for byte', () => {
  const x = new FloatHistogram({
    schema: 2, zeroThreshold: 0.001, zeroCount: 12, count: 10, sum: 20,
    positiveSpans: [{ offset: 3, length: 2 }, { offset: 1, length: 3 }],
    negativeSpans: [{ offset: 2, length: 2 }],
    positiveBuckets: [1, 2, 2, 1, 1],
    negativeBuckets: [2, 1],
  });
  assert.is(
    JSON.stringify(histogramJSON(x)),
    '{"count":"10","sum":"20","buckets":[[1,"-1.6817928305074288","-1.414213562373095","1"],[1,"-1.414213562373095","-1.189207115002721","2"],[3,"-0.001","0.001","12"],[0,"1.414213562373095","1.6817928305074288","1"],[0,"1.6817928305074288","2","2"],[0,"2.378414230005442","2.82842712474619","2"],[0,"2.82842712474619","3.3635856610148576","1"],[0,"3.3635856610148576","4","1"]]}',
  );
  // No buckets key when every bucket is empty; floats as the API writes them.
  assert.is(JSON.stringify(histogramJSON(h('{{count:1e-7 sum:NaN buckets:[0 0]}}'))), '{"count":"1e-07","sum":"NaN"}');
  // NHCB: the first bucket is [-Inf, b0] (closed), then (b_i, b_i+1], the last up to +Inf.
  assert.is(
    JSON.stringify(histogramJSON(h('{{schema:-53 count:3 sum:1 custom_values:[1 2] buckets:[1 1 1]}}'))),
    '{"count":"3","sum":"1","buckets":[[3,"-Inf","1","1"],[0,"1","2","1"],[0,"2","+Inf","1"]]}',
  );
});

function chunk(header: number, n: number): HistogramSamples {
  return {
    float: false,
    header,
    layout: {
      schema: 1,
      zeroThreshold: 0.125,
      positiveSpans: Int32Array.from([-1, 2, 1, 1]),
      negativeSpans: Int32Array.from([0, 1]),
      customValues: new Float64Array(0),
    },
    n,
    t: Float64Array.from({ length: n }, (_, i) => i * 1000),
    count: Float64Array.from({ length: n }, (_, i) => 10 + i),
    zeroCount: Float64Array.from({ length: n }, () => 1),
    sum: Float64Array.from({ length: n }, (_, i) => 2.5 * i),
    positive: Float64Array.from({ length: 3 * n }, (_, k) => k),
    negative: Float64Array.from({ length: n }, (_, i) => 7 + i),
  };
}

test('chunk samples: layout, absolute buckets, hints as the chunk iterator reports them', () => {
  const s = chunk(HISTOGRAM_COUNTER_RESET, 3);
  const x = fromChunkSample(s, 1);
  assert.equal(x.positiveSpans, [{ offset: -1, length: 2 }, { offset: 1, length: 1 }]);
  assert.equal(x.positiveBuckets, [3, 4, 5]);
  assert.equal(x.negativeBuckets, [8]);
  assert.is(x.count, 11);
  assert.is(x.zeroThreshold, 0.125);
  // The header's reset bit is not trusted for sample 0; later samples cannot be resets.
  assert.equal([0, 1, 2].map((i) => fromChunkSample(s, i).counterResetHint), ['unknown', 'not_reset', 'not_reset']);
  assert.equal([0, 1].map((i) => chunkSampleHint(HISTOGRAM_GAUGE, i)), ['gauge', 'gauge']);
  assert.is(chunkSampleHint(HISTOGRAM_NOT_COUNTER_RESET, 0), 'unknown');
  const stale = chunk(0, 1);
  const bits = new DataView(stale.sum.buffer);
  bits.setUint32(4, 0x7ff00000, true);
  bits.setUint32(0, 2, true);
  const st = fromChunkSample(stale, 0);
  assert.ok(isStaleNaN(st.sum) && st.positiveBuckets.length === 0 && st.count === 0, 'stale marker');
});

test('prompb: integer deltas summed, float counts taken, reset hints mapped', () => {
  const base = {
    sum: 3, schema: 0, zeroThreshold: 0.001, negativeSpans: [{ offset: 1, length: 2 }], positiveSpans: [{ offset: 0, length: 3 }],
    negativeCounts: [], positiveCounts: [], timestamp: 0, customValues: [],
  };
  const ints = fromPrompb({ ...base, countInt: 9, zeroCountInt: 2, positiveDeltas: [1, 2, -1], negativeDeltas: [3, -3], resetHint: 2 });
  assert.equal([ints.positiveBuckets, ints.negativeBuckets, ints.count, ints.zeroCount, ints.counterResetHint], [[1, 3, 2], [3, 0], 9, 2, 'not_reset']);
  const floats = fromPrompb({ ...base, countFloat: 2.5, zeroCountFloat: 0.5, positiveDeltas: [], negativeDeltas: [], positiveCounts: [1, 0.5, 0.5], negativeCounts: [0, 0], resetHint: 3 });
  assert.equal([floats.positiveBuckets, floats.count, floats.zeroCount, floats.counterResetHint], [[1, 0.5, 0.5], 2.5, 0.5, 'gauge']);
  assert.throws(() => fromPrompb({ ...base, countInt: 1, positiveDeltas: [1, 0, 0], negativeDeltas: [0, 0], resetHint: 7 }), /reset_hint 7/);
});

test('equals: layout-equivalent spans match, bit patterns decide', () => {
  const a = h('{{count:4 sum:5 buckets:[1 2 1]}}');
  const b = new FloatHistogram({ schema: 0, count: 4, sum: 5, positiveSpans: [{ offset: 0, length: 1 }, { offset: 0, length: 0 }, { offset: 0, length: 2 }], positiveBuckets: [1, 2, 1] });
  assert.not.ok(a.equals(b), 'a zero-offset split is another layout');
  const c = new FloatHistogram({ schema: 0, count: 4, sum: 5, positiveSpans: [{ offset: 0, length: 3 }, { offset: 2, length: 0 }], positiveBuckets: [1, 2, 1] });
  assert.ok(a.equals(c), 'a trailing empty span is ignored');
  assert.not.ok(a.equals(h('{{count:4 sum:-0 buckets:[1 2 1]}}'.replace('sum:-0', 'sum:5 z_bucket:1'))));
  const nan = h('{{count:4 sum:NaN}}');
  assert.ok(nan.equals(nan.copy()), 'NaN equals the same NaN');
  assert.ok(a.equals(h('{{count:4 sum:5 buckets:[1 2 1] counter_reset_hint:gauge}}')), 'the hint is not compared');
});

test('size: Prometheus Size() (float_histogram_test.go TestFloatHistogramSize)', () => {
  assert.is(h('{{}}').size(), 168);
  const exp = new FloatHistogram({
    schema: 1, zeroThreshold: 0.01, zeroCount: 5.5, count: 3493.3, sum: 2349209.324,
    positiveSpans: [{ offset: -2, length: 1 }, { offset: 2, length: 3 }], positiveBuckets: [1, 3.3, 4.2, 0.1],
    negativeSpans: [{ offset: 3, length: 2 }, { offset: 3, length: 2 }], negativeBuckets: [3.1, 3, 1.234e5, 1000],
  });
  assert.is(exp.size(), 264);
  const nhcb = new FloatHistogram({
    schema: -53, count: 3493.3, sum: 2349209.324,
    positiveSpans: [{ offset: 0, length: 1 }, { offset: 2, length: 3 }], positiveBuckets: [1, 3.3, 4.2, 0.1], customValues: [1, 2, 3],
  });
  assert.is(nhcb.size(), 240);
});

test('equalsForTest: promqltest compareNativeHistogram', () => {
  const exp = h('{{count:4 sum:5 buckets:[1 2 1]}}');
  // Layout differences that compaction removes, and float noise below 1e-6, do not matter.
  const got = new FloatHistogram({
    schema: 0, count: 4.0000000001, sum: 5, counterResetHint: 'gauge',
    positiveSpans: [{ offset: -1, length: 2 }, { offset: 0, length: 2 }, { offset: 2, length: 1 }],
    positiveBuckets: [0, 1, 2, 1, 0],
  });
  assert.ok(equalsForTest(exp, got, false));
  assert.not.ok(equalsForTest(h('{{count:4 sum:5 buckets:[1 2 1] counter_reset_hint:not_reset}}'), got, true), 'a written hint is compared');
  assert.ok(equalsForTest(h('{{count:4 sum:5 buckets:[1 2 1] counter_reset_hint:gauge}}'), got, true));
  assert.not.ok(equalsForTest(exp, h('{{count:4 sum:5 buckets:[1 2 1.001]}}'), false), 'bucket off by 1e-3');
  assert.not.ok(equalsForTest(exp, h('{{count:4 sum:5 offset:1 buckets:[1 2 1]}}'), false), 'shifted buckets');
  assert.not.ok(equalsForTest(exp, h('{{schema:1 count:4 sum:5 buckets:[1 2 1]}}'), false), 'schema');
  assert.equal(got.positiveBuckets, [0, 1, 2, 1, 0], 'arguments untouched');
  assert.ok(almostEqual(NaN, NaN) && !almostEqual(0, 1e-300) && almostEqual(1, 1 + 1e-9));
});

test.run();
