// FloatHistogram against Prometheus's own unit-test tables (model/histogram/float_histogram_test.go
// at the version of test/promql/testdata, converted to JSON: see testdata/SOURCE.txt), asserted as
// the Go tests assert them: Compact and Mul/Div/CopyToSchema/ReduceResolution layouts exactly,
// Add/Sub/KahanAdd after Compact(0) on both sides, plus their collision/reconciliation flags.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CounterResetHint, FloatHistogram } from '../../lib/histogram/float.ts';

type Json = any;
const tables: Record<string, Json> = JSON.parse(
  readFileSync(new URL('./testdata/float_histogram_tables.json', import.meta.url), 'utf8'),
);

const num = (v: Json): number => (v === '__NaN' ? NaN : v === '__Inf' ? Infinity : v === '__-Inf' ? -Infinity : v);

function fh(o: Json): FloatHistogram {
  const f = o.__fh;
  return new FloatHistogram({
    counterResetHint: (f.CounterResetHint?.__hint ?? 'unknown') as CounterResetHint,
    schema: f.Schema ?? 0,
    zeroThreshold: num(f.ZeroThreshold ?? 0),
    zeroCount: num(f.ZeroCount ?? 0),
    count: num(f.Count ?? 0),
    sum: num(f.Sum ?? 0),
    positiveSpans: f.PositiveSpans ?? [],
    negativeSpans: f.NegativeSpans ?? [],
    positiveBuckets: (f.PositiveBuckets ?? []).map(num),
    negativeBuckets: (f.NegativeBuckets ?? []).map(num),
    customValues: (f.CustomValues ?? []).map(num),
  });
}

/** Every field as text (String keeps NaN and -0 apart from 0 the way Go's require.Equal does). */
function fields(h: FloatHistogram): string {
  return JSON.stringify({
    hint: h.counterResetHint,
    schema: h.schema,
    zeroThreshold: String(h.zeroThreshold),
    zeroCount: String(h.zeroCount),
    count: String(h.count),
    sum: String(h.sum),
    positiveSpans: h.positiveSpans,
    positiveBuckets: h.positiveBuckets.map(String),
    negativeSpans: h.negativeSpans,
    negativeBuckets: h.negativeBuckets.map(String),
    customValues: h.customValues,
  });
}

test('the tables are all there (a failed conversion would silently test nothing)', () => {
  const sizes = Object.fromEntries(Object.entries(tables).map(([k, v]) => [k, Array.isArray(v) ? v.length : Object.keys(v).length]));
  for (const [k, n] of Object.entries(sizes)) assert.ok((n as number) >= 2, `${k}: ${n} cases`);
  assert.ok(sizes.TestFloatHistogramAdd >= 20 && sizes.TestFloatHistogramDetectReset >= 30 && sizes.TestFloatHistogramCompact >= 20, JSON.stringify(sizes));
});

test('Mul: in place, negative factors make a gauge', () => {
  for (const [name, input, factor, expected] of tables.TestFloatHistogramMul) {
    const h = fh(input);
    assert.is(h.mul(num(factor)), h, name);
    assert.is(fields(h), fields(fh(expected)), name);
  }
});

test('Div: in place, division by zero drops the buckets', () => {
  for (const [name, input, divisor, expected] of tables.TestFloatHistogramDiv) {
    const h = fh(input);
    assert.is(h.div(num(divisor)), h, name);
    assert.is(fields(h), fields(fh(expected)), name);
  }
});

test('DetectReset', () => {
  for (const [name, previous, current, reset] of tables.TestFloatHistogramDetectReset) {
    assert.is(fh(current).detectReset(fh(previous)), reset, name);
  }
});

test('Compact: the exact span layout', () => {
  for (const [name, input, maxEmpty, expected] of tables.TestFloatHistogramCompact) {
    const h = fh(input);
    assert.is(h.compact(maxEmpty), h, name);
    assert.is(fields(h), fields(fh(expected)), name);
  }
});

for (const [table, op] of [
  ['TestFloatHistogramAdd', 'add'],
  ['TestFloatHistogramSub', 'sub'],
] as const) {
  test(`${op === 'add' ? 'Add' : 'Sub'}: result, flags, errors, argument untouched`, () => {
    for (const c of tables[table]) {
      const a = fh(c.in1);
      const b = fh(c.in2);
      const bBefore = fields(b);
      if (c.expErrMsg) {
        assert.throws(() => a[op](b), (e: Error) => e.message === c.expErrMsg, c.name);
        continue;
      }
      const r = a[op](b);
      assert.equal(r, { counterResetCollision: !!c.expCounterResetCollision, nhcbBoundsReconciled: !!c.expNHCBBoundsReconciled }, c.name);
      // A few cases only check the flags.
      if (c.expected) assert.is(fields(a.compact(0)), fields(fh(c.expected).compact(0)), c.name);
      assert.is(fields(b), bBefore, `${c.name}: argument mutated`);
    }
  });
}

test('KahanAdd: value plus compensation equals the expected sum', () => {
  for (const c of tables.TestKahanAddWithCompHistogram) {
    const a = fh(c.in1);
    const comp = c.comp ? fh(c.comp) : null;
    const b = fh(c.in2);
    if (c.expErrMsg) {
      assert.throws(() => a.kahanAdd(b, comp), undefined, c.name);
      continue;
    }
    const r = a.kahanAdd(b, comp);
    assert.is(r.counterResetCollision, !!c.expCounterResetCollision, c.name);
    assert.is(r.nhcbBoundsReconciled, !!c.expNHCBBoundsReconciled, c.name);
    if (!c.expectedSum) continue;
    a.add(r.c);
    assert.is(fields(a.compact(0)), fields(fh(c.expectedSum).compact(0)), c.name);
  }
});

test('CopyToSchema: a merged copy, the original untouched', () => {
  for (const [name, target, input, expected] of tables.TestFloatHistogramCopyToSchema) {
    const h = fh(input);
    const before = fields(h);
    assert.is(fields(h.copyToSchema(target)), fields(fh(expected)), name);
    assert.is(fields(h), before, name);
  }
});

test('ReduceResolution: in place, or the error Prometheus gives', () => {
  for (const [name, c] of Object.entries<Json>(tables.TestFloatHistogramReduceResolution)) {
    const h = fh(c.origin);
    if (c.errorMsg) {
      assert.throws(() => h.reduceResolution(c.targetSchema), (e: Error) => e.message === c.errorMsg, name);
      continue;
    }
    h.reduceResolution(c.targetSchema);
    assert.is(fields(h), fields(fh(c.target)), name);
  }
});

test('String', () => {
  for (const [name, input, expected] of tables.TestFloatHistogramString) assert.is(fh(input).toString(), expected, name);
});

test.run();
