// Series responses decode repeated labels to one shared object per distinct label (readLabelShared):
// the answers must equal a plain decode whatever the encoding (canonical, fields reversed, an
// unknown field, an empty value, non-ASCII, long values) and whatever two labels share a table slot.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSeriesResponse, encodeSeriesResponse, type Series } from '../../lib/proto/store.ts';
import { Writer } from '../../lib/proto/wire.ts';
import { pbDecode } from './pbjs.ts';

const chunk = { minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array([0, 1, 2]) } };

function batchOf(series: Series[]): Uint8Array {
  return encodeSeriesResponse({ type: 'batch', batch: series });
}

function decodedBatch(b: Uint8Array): Series[] {
  const r = decodeSeriesResponse(b);
  if (r.type !== 'batch') throw new Error(`want a batch, got ${r.type}`);
  return r.batch;
}

test('equal labels of different series decode to one object; values as encoded', async () => {
  const series: Series[] = [];
  for (let i = 0; i < 50; i++) {
    series.push({ labels: [{ name: '__name__', value: 'x_total' }, { name: 'instance', value: `inst-${i}` }, { name: 'job', value: `job-${i % 3}` }], chunks: [chunk] });
  }
  const out = decodedBatch(batchOf(series));
  assert.equal(out.map((s) => s.labels), series.map((s) => s.labels));
  assert.ok(out[0]!.labels[0] === out[49]!.labels[0], '__name__ label shared');
  assert.ok(out[1]!.labels[2] === out[4]!.labels[2], 'job-1 label shared');
  assert.ok(out[1]!.labels[2] !== out[2]!.labels[2], 'job-1 and job-2 are different objects');
  // what an independent protobuf implementation reads from the same bytes
  const frame = encodeSeriesResponse({ type: 'series', series: series[7]! });
  const ref = await pbDecode('thanos.SeriesResponse', frame);
  const ours = decodeSeriesResponse(frame);
  assert.equal(ours.type === 'series' && ours.series.labels, ref.series.labels);
});

test('every label distinct through a small table: no answer taken from another label', () => {
  // 20k distinct labels in a 65536-slot table: thousands share a slot, each must still decode to itself.
  const series: Series[] = [];
  for (let i = 0; i < 20_000; i++) series.push({ labels: [{ name: `n${i % 7}`, value: `v${i}` }], chunks: [] });
  const b = batchOf(series);
  for (let round = 0; round < 2; round++) {
    const out = decodedBatch(b);
    for (let i = 0; i < series.length; i++) {
      const l = out[i]!.labels[0]!;
      if (l.name !== `n${i % 7}` || l.value !== `v${i}`) assert.unreachable(`series ${i}: got ${l.name}=${l.value}`);
    }
  }
  // lengths differ by one, same prefix: never taken for each other
  const near = decodedBatch(batchOf([{ labels: [{ name: 'a', value: 'bc' }], chunks: [] }, { labels: [{ name: 'ab', value: 'c' }], chunks: [] }, { labels: [{ name: 'a', value: 'bc' }], chunks: [] }]));
  assert.equal(near.map((s) => s.labels[0]), [{ name: 'a', value: 'bc' }, { name: 'ab', value: 'c' }, { name: 'a', value: 'bc' }]);
});

/** A Series message whose label is written field by field as given (tags and raw strings). */
function seriesWithLabelFields(fields: Array<[number, string]>): Uint8Array {
  const w = new Writer();
  w.tag(1, 2); // SeriesResponse.series
  const s = w.fork();
  w.tag(1, 2); // Series.labels
  const l = w.fork();
  for (const [f, v] of fields) {
    w.tag(f, 2);
    w.string(v);
  }
  w.ldelim(l);
  w.ldelim(s);
  return w.finish();
}

function decodedLabel(b: Uint8Array): { name: string; value: string } {
  const r = decodeSeriesResponse(b);
  if (r.type !== 'series') throw new Error(`want a series, got ${r.type}`);
  return r.series.labels[0]!;
}

test('labels not in the canonical form decode as before, and do not poison the table', () => {
  // value first, then name (valid protobuf)
  assert.equal(decodedLabel(seriesWithLabelFields([[2, 'v'], [1, 'n']])), { name: 'n', value: 'v' });
  // an unknown field 3 after the value: skipped
  assert.equal(decodedLabel(seriesWithLabelFields([[1, 'n'], [2, 'v'], [3, 'zzz']])), { name: 'n', value: 'v' });
  // name repeated: the last wins
  assert.equal(decodedLabel(seriesWithLabelFields([[1, 'a'], [1, 'n'], [2, 'v']])), { name: 'n', value: 'v' });
  // no value field (empty value)
  assert.equal(decodedLabel(seriesWithLabelFields([[1, 'n']])), { name: 'n', value: '' });
  // non-ASCII and a value longer than 127 bytes
  assert.equal(decodedLabel(seriesWithLabelFields([[1, 'ñame'], [2, 'välue']])), { name: 'ñame', value: 'välue' });
  const long = 'x'.repeat(300);
  assert.equal(decodedLabel(seriesWithLabelFields([[1, 'n'], [2, long]])), { name: 'n', value: long });
  // then the canonical n=v still decodes right
  assert.equal(decodedLabel(seriesWithLabelFields([[1, 'n'], [2, 'v']])), { name: 'n', value: 'v' });
});

/** A batch of series, each label written as given: [name, value bytes] (raw bytes, any encoding). */
function batchWithRawLabels(series: Array<Array<[string, Uint8Array]>>): Uint8Array {
  const w = new Writer();
  w.tag(4, 2); // SeriesResponse.batch
  const b = w.fork();
  for (const ls of series) {
    w.tag(1, 2); // SeriesBatch.series
    const s = w.fork();
    for (const [name, value] of ls) {
      w.tag(1, 2); // Series.labels
      const l = w.fork();
      w.tag(1, 2);
      w.string(name);
      w.tag(2, 2);
      w.bytes(value);
      w.ldelim(l);
    }
    w.ldelim(s);
  }
  w.ldelim(b);
  return w.finish();
}

test('a label taken from the previous series only when its bytes are that label', () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  const out = decodedBatch(batchWithRawLabels([
    [['a', ascii('x')], ['b', ascii('yy')], ['c', ascii('\u00e9')]],
    // same name and lengths, one byte differs at the end
    [['a', ascii('x')], ['b', ascii('yz')], ['c', ascii('\u00e9')]],
    // name and value lengths swapped (same total): not the previous label
    [['a', ascii('x')], ['bb', ascii('z')], ['c', ascii('\u00e9')]],
    // a byte 0xE9 (invalid UTF-8 alone) where the previous value was the string "\u00e9" (one code unit 0xE9)
    [['a', ascii('x')], ['bb', ascii('z')], ['c', new Uint8Array([0xe9])]],
    [['a', ascii('x')], ['bb', ascii('z')], ['c', new Uint8Array([0xe9])]],
  ]));
  assert.equal(out.map((s) => s.labels.map((l) => `${l.name}=${l.value}`).join(',')), [
    'a=x,b=yy,c=\u00e9', 'a=x,b=yz,c=\u00e9', 'a=x,bb=z,c=\u00e9', 'a=x,bb=z,c=\ufffd', 'a=x,bb=z,c=\ufffd',
  ]);
  assert.ok(out[1]!.labels[0] === out[0]!.labels[0], 'an equal neighbour label is the same object');
  // bytes that read as the previous label (a="\x12\x00") only if the name's own length byte is ignored:
  // name "a\x12\x02" with an empty value written out (0x12 0x00)
  const tricky = decodedBatch(batchWithRawLabels([[['a', new Uint8Array([0x12, 0x00])]], [['a\u0012\u0002', new Uint8Array(0)]]]));
  assert.equal(tricky.map((s) => s.labels[0]), [{ name: 'a', value: '\u0012\u0000' }, { name: 'a\u0012\u0002', value: '' }]);
});

test.run();
