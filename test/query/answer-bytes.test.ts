// The query API's answers written as bytes (answerBytes, JsonBytes) are byte for byte the text path's
// (resultJson in the envelope, UTF-8 encoded): escapes as Go writes them (" \ < > & control
// characters, U+2028/2029, lone surrogates), non-ASCII text, special float values, histograms,
// annotations, empty results and range results with repeated timestamps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, MemoryQueryable, type QueryResult } from '../../lib/promql/mod.ts';
import { FloatHistogram } from '../../lib/histogram/float.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { columnarMatrixSeries } from '../../lib/promql/engine/types.ts';
import { goJsonString, JsonBytes } from '../../lib/query/format.ts';
import { answerBytes, resultJson } from '../../plugins/component/query/api.ts';

const dec = new TextDecoder();

function textAnswer(r: QueryResult): string {
  let out = `{"status":"success","data":${resultJson(r)}`;
  if (r.warnings.length) out += `,"warnings":[${r.warnings.map(goJsonString).join(',')}]`;
  if (r.infos.length) out += `,"infos":[${r.infos.map(goJsonString).join(',')}]`;
  return out + '}';
}

function same(r: QueryResult): void {
  const bytes = answerBytes(r);
  const text = textAnswer(r);
  assert.equal(bytes, new TextEncoder().encode(text));
  assert.is(dec.decode(bytes), text);
}

const odd = ['plain', 'quote"d', 'back\\slash', '<tag>&amp;', 'tab\tnew\nline\r', '\u0001\u001f', '\u007f', 'héllo wörld', '日本語',
  '\u2028\u2029', 'lone \ud800 high', 'lone \udc00 low', 'pair \ud83d\ude00', '', 'a'.repeat(5000)];

test('JsonBytes.string writes goJsonString, byte for byte', () => {
  for (const s of odd) {
    const w = new JsonBytes(4); // tiny: every string grows the buffer
    w.ascii('[');
    w.string(s);
    w.ascii(',');
    w.string(s);
    w.ascii(']');
    assert.is(dec.decode(w.bytes()), `[${goJsonString(s)},${goJsonString(s)}]`, JSON.stringify(s));
  }
});

test('JsonBytes.labels writes each name and value as goJsonString does, one escape at a time', () => {
  const one = ['"', '\\', '<', '>', '&', '\u001f', '\u007f', '\u0080', '\u2028', '\ud800', ' ', '~'];
  for (const c of one) {
    for (const ls of [[{ name: 'a', value: `x${c}y` }, { name: 'b', value: 'z' }], [{ name: `n${c}`, value: 'v' }]]) {
      const w = new JsonBytes(4);
      w.labels(ls);
      assert.is(dec.decode(w.bytes()), `{${ls.map((l) => `${goJsonString(l.name)}:${goJsonString(l.value)}`).join(',')}}`, JSON.stringify(ls));
    }
  }
});

test('vector answers: labels needing escapes, special values, histograms, annotations', () => {
  const result = odd.map((s, i) => ({
    metric: labelsFromRecord({ __name__: 'm', [`l${i}`]: s, job: s.slice(0, 3) || 'x' }),
    value: { t: 1_767_225_600_123, v: [NaN, Infinity, -Infinity, -0, 0, 1e-7, 1e21, 0.1 + 0.2, -123.456, 42][i % 10]! },
  }));
  const h = new FloatHistogram({ schema: 0, count: 4, sum: 5, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1, 3] });
  result.push({ metric: labelsFromRecord({ __name__: 'h' }), value: { t: 1_767_225_600_123, v: 0, h } as never });
  same({ resultType: 'vector', result, warnings: ['w "1" <x>'], infos: ['PromQL info: ü'] });
  same({ resultType: 'vector', result: [], warnings: [], infos: [] });
});

test('matrix answers: columns and points, float and histogram series, empty series', () => {
  const t = [0, 15_000, 30_500, -1_500];
  const v = [1, NaN, 2.5e-9, -Infinity];
  const h = new FloatHistogram({ schema: 1, count: 2, sum: 1, positiveSpans: [{ offset: 1, length: 1 }], positiveBuckets: [2] });
  same({
    resultType: 'matrix',
    result: [
      columnarMatrixSeries(labelsFromRecord({ a: 'x<y', b: 'é' }), t, v),
      { metric: labelsFromRecord({ a: 'points' }), values: t.map((x, i) => ({ t: x, v: v[i]! })) },
      columnarMatrixSeries(labelsFromRecord({ a: 'hist' }), [0, 15_000], [3, 0], [undefined, h]),
      columnarMatrixSeries(labelsFromRecord({ a: 'empty' }), [], []),
    ],
    warnings: [],
    infos: ['i'],
  });
});

test('engine answers of every result type', async () => {
  const q = new MemoryQueryable();
  for (let i = 0; i < 50; i++) for (let k = 0; k <= 40; k++) q.add(labelsFromRecord({ __name__: 'x_total', instance: `i-${i}`, note: odd[i % odd.length]! }), k * 15_000, k * (i + 1));
  const e = new Engine();
  for (const expr of ['rate(x_total[1m])', 'x_total', 'x_total[1m]', 'sum(x_total)', 'scalar(sum(x_total))', '"str"', 'rate(nope[1m])']) {
    same(await e.instantQuery(q, expr, 600_000));
  }
  same(await e.rangeQuery(q, 'rate(x_total[1m])', 0, 600_000, 60_000));
  same(await e.rangeQuery(q, 'x_total{instance="i-3"}', 0, 600_000, 45_000));
});

test.run();
