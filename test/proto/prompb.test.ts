import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeChunkedReadResponse, decodeReadRequest, decodeReadResponse, decodeWriteRequest, encodeChunkedReadResponse,
  encodeReadRequest, encodeReadResponse, encodeWriteRequest, type Histogram, type WriteRequest,
} from '../../lib/proto/prompb.ts';
import { ProtobufError } from '../../lib/proto/wire.ts';
import { pbDecode, pbEncode } from './pbjs.ts';

const hist: Histogram = {
  countInt: 10, sum: 12.5, schema: -2, zeroThreshold: 0.001, zeroCountInt: 1,
  negativeSpans: [{ offset: -3, length: 2 }], negativeDeltas: [1, -1], negativeCounts: [],
  positiveSpans: [{ offset: 0, length: 3 }, { offset: 2, length: 1 }], positiveDeltas: [2, 0, -1, 3], positiveCounts: [],
  resetHint: 2, timestamp: 1700000000000, customValues: [0.5, 1],
};

const wr: WriteRequest = {
  timeseries: [
    {
      labels: [{ name: '__name__', value: 'http_requests_total' }, { name: 'code', value: '200' }],
      samples: [{ value: 1, timestamp: 1700000000000 }, { value: 2.5, timestamp: 1700000015000 }, { value: -Infinity, timestamp: 1700000030000 }],
      exemplars: [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: 1700000000001 }],
      histograms: [hist, { ...hist, countInt: undefined, countFloat: 3.5, zeroCountInt: undefined, zeroCountFloat: 0.25, negativeDeltas: [], positiveDeltas: [], positiveCounts: [1, 2], negativeCounts: [0.5] }],
    },
    { labels: [{ name: '__name__', value: 'up' }], samples: [] },
  ],
  metadata: [{ type: 1, metricFamilyName: 'http_requests_total', help: 'Total requests.', unit: '' }],
};

function clean(h: Histogram): Histogram {
  const o: any = { ...h };
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

test('WriteRequest round trip', () => {
  const back = decodeWriteRequest(encodeWriteRequest(wr));
  const exp = structuredClone(wr);
  exp.timeseries[0]!.histograms = exp.timeseries[0]!.histograms!.map(clean);
  assert.equal(back, exp);
});

test('WriteRequest agrees with protobufjs both ways', async () => {
  const obj = await pbDecode('prometheus.WriteRequest', encodeWriteRequest(wr));
  const ts = obj.timeseries[0];
  assert.is(ts.labels[0].value, 'http_requests_total');
  assert.is(ts.samples[1].value, 2.5);
  assert.is(ts.samples[1].timestamp, '1700000015000');
  assert.is(ts.samples[2].value, -Infinity);
  assert.is(ts.exemplars[0].labels[0].name, 'trace_id');
  const h = ts.histograms[0];
  assert.is(h.count_int, '10');
  assert.is(h.schema, -2);
  assert.equal(h.negative_spans, [{ offset: -3, length: 2 }]);
  assert.equal(h.positive_deltas.map(Number), [2, 0, -1, 3]);
  assert.equal(h.negative_deltas.map(Number), [1, -1]);
  assert.is(h.reset_hint, 'NO');
  assert.equal(h.custom_values, [0.5, 1]);
  assert.is(ts.histograms[1].count_float, 3.5);
  assert.is(ts.histograms[1].zero_count_float, 0.25);
  assert.equal(ts.histograms[1].positive_counts, [1, 2]);
  assert.is(obj.metadata[0].type, 'COUNTER');
  assert.is(obj.metadata[0].help, 'Total requests.');
  const theirs = await pbEncode('prometheus.WriteRequest', {
    timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 3, timestamp: 5 }], histograms: [{ count_int: 4, positive_deltas: [1, -2], positive_spans: [{ offset: 1, length: 2 }] }] }],
  });
  const d = decodeWriteRequest(theirs);
  assert.equal(d.timeseries[0]!.samples, [{ value: 3, timestamp: 5 }]);
  assert.equal(d.timeseries[0]!.histograms![0]!.positiveDeltas, [1, -2]);
  assert.is(d.timeseries[0]!.histograms![0]!.countInt, 4);
});

test('ReadRequest / ReadResponse / ChunkedReadResponse round trips and protobufjs agreement', async () => {
  const rr = {
    queries: [{ startTimestampMs: 1, endTimestampMs: 1700000000000, matchers: [{ type: '=~' as const, name: '__name__', value: 'up|x' }], hints: { stepMs: 0, func: 'series', startMs: 1, endMs: 2, grouping: ['a'], by: true, rangeMs: 0 } }],
    acceptedResponseTypes: [1, 0],
  };
  assert.equal(decodeReadRequest(encodeReadRequest(rr)), rr);
  const obj = await pbDecode('prometheus.ReadRequest', encodeReadRequest(rr));
  assert.equal(obj.accepted_response_types, ['STREAMED_XOR_CHUNKS', 'SAMPLES']);
  assert.is(obj.queries[0].matchers[0].type, 'RE');
  assert.is(obj.queries[0].hints.func, 'series');
  const resp = { results: [{ timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 1, timestamp: 2 }] }] }, { timeseries: [] }] };
  assert.equal(decodeReadResponse(encodeReadResponse(resp)), resp);
  const robj = await pbDecode('prometheus.ReadResponse', encodeReadResponse(resp));
  assert.is(robj.results.length, 2);
  const data = new Uint8Array(500).map((_, i) => i & 0xff);
  const cr = { chunkedSeries: [{ labels: [{ name: '__name__', value: 'up' }], chunks: [{ minTimeMs: 10, maxTimeMs: 20, type: 1, data }, { minTimeMs: 0, maxTimeMs: 0, type: 0, data: new Uint8Array(0) }] }], queryIndex: 3 };
  assert.equal(decodeChunkedReadResponse(encodeChunkedReadResponse(cr)), cr);
  const cobj = await pbDecode('prometheus.ChunkedReadResponse', encodeChunkedReadResponse(cr));
  assert.is(cobj.query_index, '3');
  assert.is(cobj.chunked_series[0].chunks[0].type, 'XOR');
  assert.is(cobj.chunked_series[0].chunks[0].data.length, 500);
});

test('malformed prompb input gives ProtobufError', () => {
  const buf = encodeWriteRequest(wr);
  for (let n = 1; n < buf.length; n += 3) {
    try {
      decodeWriteRequest(buf.subarray(0, n));
    } catch (e) {
      assert.instance(e, ProtobufError);
    }
  }
  assert.throws(() => decodeWriteRequest(new Uint8Array([0x0a, 0x05, 0x12, 0x10])), (e: unknown) => e instanceof ProtobufError);
  assert.throws(() => decodeWriteRequest(new Uint8Array([0x08, 0x01])), (e: unknown) => e instanceof ProtobufError && /wire type/.test(String(e)));
  assert.throws(() => decodeReadRequest(new Uint8Array([0x0a, 0x04, 0x1a, 0x02, 0x08, 0x09])), (e: unknown) => e instanceof ProtobufError && /matcher type 9/.test(String(e)));
});

test.run();
