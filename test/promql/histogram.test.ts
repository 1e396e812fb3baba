// Native histograms through the engine's public surface: query results carry histogram points, the
// API JSON has Prometheus's "histogram" / "histograms" fields, annotations read as Prometheus's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, MemoryQueryable, toPromJSON } from '../../lib/promql/mod.ts';
import { FloatHistogram } from '../../lib/histogram/float.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { resultJson } from '../../plugins/component/query/api.ts';

const h = (count: number, sum: number, buckets: number[]) =>
  new FloatHistogram({ schema: 0, count, sum, positiveSpans: [{ offset: 0, length: buckets.length }], positiveBuckets: buckets });

function setup(): MemoryQueryable {
  const q = new MemoryQueryable();
  const ls = labelsFromRecord({ __name__: 'req_seconds', job: 'api' });
  // A counter histogram scraped every 15 s: +4 observations per scrape.
  for (let i = 0; i <= 40; i++) q.addHistogram(ls, i * 15_000, h(4 * i, 5 * i, [i, 2 * i, i]));
  q.add(labelsFromRecord({ __name__: 'mixed', job: 'api' }), 0, 1);
  q.addHistogram(labelsFromRecord({ __name__: 'mixed', job: 'api' }), 15_000, h(4, 5, [1, 2, 1]));
  return q;
}
const engine = new Engine();

test('an instant selection answers the histogram; the API JSON is Prometheus\'s "histogram"', async () => {
  const res = await engine.instantQuery(setup(), 'req_seconds', 15_000);
  assert.is(res.resultType, 'vector');
  const json = toPromJSON(res);
  assert.equal(JSON.parse(JSON.stringify(json)), {
    resultType: 'vector',
    result: [{ metric: { __name__: 'req_seconds', job: 'api' }, histogram: [15, { count: '4', sum: '5', buckets: [[0, '0.5', '1', '1'], [0, '1', '2', '2'], [0, '2', '4', '1']] }] }],
  });
});

test('a range result puts float points in "values" and histogram points in "histograms"', async () => {
  const res = await engine.rangeQuery(setup(), 'mixed', 0, 15_000, 15_000);
  const json = JSON.parse(JSON.stringify(toPromJSON(res)));
  assert.equal(json.result, [{
    metric: { __name__: 'mixed', job: 'api' },
    values: [[0, '1']],
    histograms: [[15, { count: '4', sum: '5', buckets: [[0, '0.5', '1', '1'], [0, '1', '2', '2'], [0, '2', '4', '1']] }]],
  }]);
});

test('the querier API writes the same JSON, byte for byte as Prometheus', async () => {
  const q = setup();
  const vec = await engine.instantQuery(q, 'req_seconds', 15_000);
  assert.is(resultJson(vec),
    '{"resultType":"vector","result":[{"metric":{"__name__":"req_seconds","job":"api"},"histogram":[15,{"count":"4","sum":"5","buckets":[[0,"0.5","1","1"],[0,"1","2","2"],[0,"2","4","1"]]}]}]}');
  const mat = await engine.rangeQuery(q, 'mixed', 0, 15_000, 15_000);
  assert.is(resultJson(mat),
    '{"resultType":"matrix","result":[{"metric":{"__name__":"mixed","job":"api"},"values":[[0,"1"]],"histograms":[[15,{"count":"4","sum":"5","buckets":[[0,"0.5","1","1"],[0,"1","2","2"],[0,"2","4","1"]]}]]}]}');
});

test('rate of a counter histogram, and histogram_quantile / histogram_count over it', async () => {
  const q = setup();
  const rate = await engine.instantQuery(q, 'rate(req_seconds[1m])', 600_000);
  assert.is(rate.resultType, 'vector');
  if (rate.resultType !== 'vector') return;
  const r = rate.result[0]!.value.h!;
  // 4 observations per 15 s = 0.2667/s, split 1:2:1 over the buckets.
  assert.ok(Math.abs(r.count - 4 / 15) < 1e-12, String(r.count));
  assert.is(r.counterResetHint, 'gauge');
  const cnt = await engine.instantQuery(q, 'histogram_count(rate(req_seconds[1m]))', 600_000);
  if (cnt.resultType !== 'vector') throw new Error(cnt.resultType);
  assert.ok(Math.abs(cnt.result[0]!.value.v - 4 / 15) < 1e-12);
  assert.equal(cnt.result[0]!.metric, labelsFromRecord({ job: 'api' }));
  const med = await engine.instantQuery(q, 'histogram_quantile(0.5, rate(req_seconds[1m]))', 600_000);
  if (med.resultType !== 'vector') throw new Error(med.resultType);
  // Half of the observations lie at or below the middle bucket's midpoint rank: inside (1, 2].
  assert.ok(med.result[0]!.value.v > 1 && med.result[0]!.value.v <= 2, String(med.result[0]!.value.v));
});

test('histogram + float is dropped with the info annotation; sum over floats and histograms warns', async () => {
  const q = setup();
  const add = await engine.instantQuery(q, 'req_seconds + 1', 15_000);
  assert.is(add.resultType, 'vector');
  if (add.resultType === 'vector') assert.is(add.result.length, 0);
  assert.equal(add.infos, ['PromQL info: incompatible sample types encountered for binary operator "+": histogram + float (1:1)']);
  const sum = await engine.instantQuery(q, 'sum(req_seconds)', 0);
  assert.equal(sum.warnings, []);
  const mixed = await engine.instantQuery(q, 'sum({job="api"})', 0);
  assert.equal(mixed.warnings, ['PromQL warning: encountered a mix of histograms and floats for aggregation (1:5)']);
  if (mixed.resultType === 'vector') assert.is(mixed.result.length, 0);
});

test('a histogram stale marker ends the series like a float one', async () => {
  const q = new MemoryQueryable();
  const ls = labelsFromRecord({ __name__: 'g' });
  q.addHistogram(ls, 0, h(1, 1, [1]));
  const stale = h(0, 0, []);
  const b = new DataView(new ArrayBuffer(8));
  b.setUint32(0, 0x7ff00000);
  b.setUint32(4, 2);
  stale.sum = b.getFloat64(0);
  q.addHistogram(ls, 30_000, stale);
  const before = await engine.instantQuery(q, 'g', 15_000);
  const after = await engine.instantQuery(q, 'g', 45_000);
  assert.is(before.resultType === 'vector' && before.result.length, 1);
  assert.is(after.resultType === 'vector' && after.result.length, 0);
});

test('a histogram counts against max-samples by its size, as in Prometheus', async () => {
  const q = new MemoryQueryable();
  const buckets = Array.from({ length: 1000 }, () => 1);
  q.addHistogram(labelsFromRecord({ __name__: 'big' }), 0, h(1000, 1000, buckets));
  q.add(labelsFromRecord({ __name__: 'small' }), 0, 1);
  const limited = new Engine({ maxSamples: 100 });
  const ok = await limited.instantQuery(q, 'small', 0);
  assert.is(ok.resultType === 'vector' && ok.result.length, 1);
  // (168 + 8 + 8·1001) / 16 = 511 sample equivalents.
  await limited.instantQuery(q, 'big', 0).then(
    () => assert.unreachable('expected the max-samples error'),
    (e: Error) => assert.match(e.message, /query processing would load too many samples/),
  );
  await limited.instantQuery(q, 'rate(big[1m])', 0).then(
    () => assert.unreachable('expected the max-samples error'),
    (e: Error) => assert.match(e.message, /too many samples/),
  );
});

test.run();
