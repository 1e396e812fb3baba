// The receiver's remote write decoder (lib/remote/writedecode.ts): the same WriteRequest as lib/proto's
// decodeWriteRequest for every input (label sets from its cache on repeat, frozen, their labelsKey
// remembered), the same errors for malformed input, and a cache that stays within its bounds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { labelsKey, labelsKeyOf } from '../../lib/labels/mod.ts';
import { decodeWriteRequest, encodeWriteRequest, type TimeSeries, type WriteRequest } from '../../lib/proto/prompb.ts';
import { WriteRequestDecoder } from '../../lib/remote/writedecode.ts';

const series = (i: number, t: number, extra: Record<string, string> = {}): TimeSeries => ({
  labels: Object.entries({ __name__: 'm', instance: `host-${i % 7}`, series: String(i), ...extra }).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, value]) => ({ name, value })),
  samples: [{ timestamp: t, value: i * 1.5 }, { timestamp: t + 15_000, value: -i }],
});

/** Plain objects (drops the frozen-ness and hidden key) for deep comparison. */
const plain = (w: WriteRequest) => JSON.parse(JSON.stringify(w)) as WriteRequest;

test('decoder: the same requests as decodeWriteRequest; repeated label sets come from the cache, frozen, keyed', () => {
  const d = new WriteRequestDecoder();
  for (let round = 0; round < 3; round++) {
    const body = encodeWriteRequest({ timeseries: Array.from({ length: 50 }, (_, i) => series(i, 1000 * round)) });
    const got = d.decode(body);
    assert.equal(plain(got), plain(decodeWriteRequest(body)));
    for (const ts of got.timeseries) {
      assert.ok(Object.isFrozen(ts.labels));
      assert.is(labelsKeyOf(ts.labels), labelsKey(ts.labels));
    }
  }
  assert.is(d.misses, 50);
  assert.is(d.hits, 100);
  assert.is(d.size, 50);
  // the same label set in a later request is the same array
  const a = d.decode(encodeWriteRequest({ timeseries: [series(3, 5)] })).timeseries[0]!.labels;
  const b = d.decode(encodeWriteRequest({ timeseries: [series(3, 9)] })).timeseries[0]!.labels;
  assert.ok(a === b);
});

test('decoder: special values, negative and large timestamps, empty label sets, non-ASCII labels', () => {
  const d = new WriteRequestDecoder();
  const bits = new DataView(new ArrayBuffer(8));
  bits.setBigUint64(0, 0x7ff0000000000002n); // Prometheus's stale marker
  const stale = bits.getFloat64(0);
  const req: WriteRequest = {
    timeseries: [
      { labels: [{ name: '__name__', value: 'ünïcödé' }, { name: 'job', value: '日本' }], samples: [{ timestamp: -5, value: Infinity }, { timestamp: 2 ** 52, value: stale }] },
      { labels: [], samples: [{ timestamp: 0, value: 0 }] },
      { labels: [{ name: '__name__', value: 'no_samples' }], samples: [] },
    ],
  };
  const body = encodeWriteRequest(req);
  for (let i = 0; i < 2; i++) {
    const got = d.decode(body);
    assert.equal(plain(got), plain(decodeWriteRequest(body)));
    bits.setFloat64(0, got.timeseries[0]!.samples[1]!.value);
    assert.is(bits.getBigUint64(0), 0x7ff0000000000002n);
  }
});

test('decoder: metadata, exemplars, histograms and unusual field order go through decodeWriteRequest', () => {
  const d = new WriteRequestDecoder();
  const withMeta: WriteRequest = { timeseries: [series(1, 1)], metadata: [{ type: 1, metricFamilyName: 'm', help: 'h', unit: '' }] };
  const withExemplar: WriteRequest = { timeseries: [{ ...series(2, 1), exemplars: [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: 1 }] }] };
  for (const req of [withMeta, withExemplar]) {
    const body = encodeWriteRequest(req);
    assert.equal(plain(d.decode(body)), plain(decodeWriteRequest(body)));
  }
  // a sample field before the labels (valid protobuf): same answer
  const lab = encodeWriteRequest({ timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [] }] });
  const smp = encodeWriteRequest({ timeseries: [{ labels: [], samples: [{ timestamp: 7, value: 3 }] }] });
  // each is 0x0a <len> <TimeSeries body>; splice the bodies sample-first
  const inner = (b: Uint8Array) => b.subarray(2);
  const ts = new Uint8Array([...inner(smp), ...inner(lab)]);
  const body = new Uint8Array([0x0a, ts.length, ...ts]);
  assert.equal(plain(d.decode(body)), { timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 3, timestamp: 7 }] }] });
});

test('decoder: malformed input fails as decodeWriteRequest does', () => {
  const d = new WriteRequestDecoder();
  const good = encodeWriteRequest({ timeseries: [series(1, 1), series(2, 2)] });
  for (const bad of [good.subarray(0, good.length - 3), good.subarray(0, 5), new Uint8Array([0x0a, 0x7f, 1, 2]), new Uint8Array([0xff, 0xff, 0xff])]) {
    let want = '';
    try {
      decodeWriteRequest(bad);
    } catch (e) {
      want = (e as Error).message;
    }
    let got = '';
    try {
      d.decode(bad);
    } catch (e) {
      got = (e as Error).message;
    }
    assert.ok(want !== '', 'the reference decoder fails');
    assert.is(got, want);
  }
});

test('decoder: 20k label sets are all kept (the table grows) and answered from the cache on the next requests', () => {
  const d = new WriteRequestDecoder();
  const bodies = Array.from({ length: 10 }, (_, r) => encodeWriteRequest({ timeseries: Array.from({ length: 2000 }, (_, i) => series(r * 2000 + i, 1)) }));
  for (const b of bodies) d.decode(b);
  assert.is(d.misses, 20_000);
  assert.is(d.size, 20_000);
  for (const b of bodies) assert.equal(plain(d.decode(b)), plain(decodeWriteRequest(b)));
  assert.is(d.hits, 20_000);
  assert.is(d.misses, 20_000);
});

test('decoder: the order seen before is guessed first, and a wrong guess of the same length is never taken', () => {
  const d = new WriteRequestDecoder();
  const order = Array.from({ length: 30 }, (_, i) => i);
  const body = (ids: number[], t: number) => encodeWriteRequest({ timeseries: ids.map((i) => series(i, t)) });
  d.decode(body(order, 0));
  // the same order again, then reversed, then a rotated order: every answer as decodeWriteRequest's
  for (const [k, ids] of [order, [...order].reverse(), [...order.slice(7), ...order.slice(0, 7)], order].entries()) {
    const b = body(ids, 1000 * (k + 1));
    const got = d.decode(b);
    assert.equal(plain(got), plain(decodeWriteRequest(b)));
    got.timeseries.forEach((ts, j) => assert.is(ts.labels.find((l) => l.name === 'series')!.value, String(ids[j])));
  }
  assert.is(d.misses, 30);
  // series 10 and 11 have label bytes of the same length (host-3/host-4, 10/11): after 10 the cache
  // guesses 11; a request sending 12 then a series only its value tells apart must not get 11's labels
  const other = { ...series(11, 0), labels: series(11, 0).labels.map((l) => (l.name === 'instance' ? { name: l.name, value: 'host-9' } : l)) };
  const b = encodeWriteRequest({ timeseries: [series(10, 9000), other] });
  assert.equal(plain(d.decode(b)), plain(decodeWriteRequest(b)));
  assert.is(d.misses, 31);
});

test('decoder: the cache stays within its entry and byte bounds and keeps answering correctly', () => {
  const d = new WriteRequestDecoder({ maxEntries: 10, maxBytes: 600 });
  for (let round = 0; round < 5; round++) {
    const body = encodeWriteRequest({ timeseries: Array.from({ length: 40 }, (_, i) => series(i, round)) });
    assert.equal(plain(d.decode(body)), plain(decodeWriteRequest(body)));
    assert.ok(d.size <= 10, `size ${d.size}`);
  }
  // a label set over 4 KiB is decoded every time, never kept
  const big = encodeWriteRequest({ timeseries: [series(1, 1, { z: 'x'.repeat(5000) })] });
  const before = d.size;
  d.decode(big);
  d.decode(big);
  assert.ok(d.size <= before);
});

test('decoder: columns sized by the last request grow for a larger one; every value bit exact (NaN payloads), earlier series included', () => {
  const d = new WriteRequestDecoder();
  const bits = new DataView(new ArrayBuffer(8));
  // a value with a distinct NaN payload per sample: a lost or misplaced byte shows
  const valueOf = (i: number, k: number) => {
    bits.setBigUint64(0, 0x7ff0000000000000n | BigInt(i * 1000 + k + 1));
    return bits.getFloat64(0);
  };
  for (const nSeries of [3, 40, 5, 300, 300, 1]) {
    const req: WriteRequest = {
      timeseries: Array.from({ length: nSeries }, (_, i) => ({
        labels: [{ name: '__name__', value: 'm' }, { name: 's', value: String(i) }],
        samples: Array.from({ length: 1 + (i % 4) }, (_, k) => ({ timestamp: 1000 * k + i, value: valueOf(i, k) })),
      })),
    };
    const got = d.decode(encodeWriteRequest(req));
    assert.is(got.timeseries.length, nSeries);
    got.timeseries.forEach((ts, i) => {
      assert.is(ts.samples.length, 1 + (i % 4));
      ts.samples.forEach((smp, k) => {
        assert.is(smp.timestamp, 1000 * k + i);
        bits.setFloat64(0, smp.value);
        assert.is(bits.getBigUint64(0), 0x7ff0000000000000n | BigInt(i * 1000 + k + 1), `series ${i} sample ${k} of ${nSeries}`);
      });
    });
  }
});

test.run();
