import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeLabelNamesRequest, decodeLabelNamesResponse, decodeLabelValuesRequest, decodeLabelValuesResponse, decodeRequestHints,
  decodeResponseHints, decodeSeriesRequest, decodeSeriesResponse, decodeStoreWriteRequest, encodeLabelNamesRequest,
  encodeLabelNamesResponse, encodeLabelValuesRequest, encodeLabelValuesResponse, encodeRequestHints, encodeResponseHints,
  encodeSeriesRequest, encodeSeriesResponse, encodeStoreWriteRequest, labelNamesRequest, labelValuesRequest, seriesRequest,
  type Series, type SeriesRequest, type SeriesResponse,
} from '../../lib/proto/store.ts';
import { ProtobufError } from '../../lib/proto/wire.ts';
import { pbDecode, pbEncode } from './pbjs.ts';

const isPb = (e: unknown) => e instanceof ProtobufError;

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const series: Series = {
  labels: [{ name: '__name__', value: 'up' }, { name: 'instance', value: 'localhost:9090' }, { name: 'job', value: 'prometheus' }],
  chunks: [
    { minTime: 1700000000000, maxTime: 1700000119000, raw: { type: 0, data: bytes(300, 1) } },
    { minTime: 1700000120000, maxTime: 1700000239000, raw: { type: 0, data: bytes(20, 2), hash: 0xdeadbeefcafebabe1n & 0xffffffffffffffffn } },
    { minTime: -5, maxTime: 0, count: { type: 0, data: bytes(3, 3) }, sum: { type: 0, data: bytes(4, 4) }, min: { type: 0, data: bytes(5, 5) }, max: { type: 0, data: bytes(6, 6) }, counter: { type: 0, data: bytes(7, 7) } },
    { minTime: 1, maxTime: 2, raw: { type: 2, data: bytes(200, 8) } },
  ],
};

const request: SeriesRequest = seriesRequest({
  minTime: -9223372036854775808,
  maxTime: 9223372036854775807,
  matchers: [{ type: '=', name: '__name__', value: 'up' }, { type: '!=', name: 'a', value: '' }, { type: '=~', name: 'job', value: 'prom.*' }, { type: '!~', name: 'x', value: 'y|z' }],
  maxResolutionWindow: 300000,
  aggregates: [1, 2, 5],
  partialResponseDisabled: true,
  partialResponseStrategy: 1,
  skipChunks: true,
  hints: encodeRequestHints({ blockMatchers: [{ type: '=', name: '__block_id', value: '01ABC' }], enableQueryStats: true }),
  step: 15000,
  range: 300000,
  queryHints: { stepMillis: 15000, func: { name: 'rate' }, grouping: { by: true, labels: ['job'] }, range: { millis: 60000 }, projectionLabels: ['a'], projectionInclude: true, seriesHashLabelName: 'h' },
  shardInfo: { shardIndex: 1, totalShards: 4, by: true, labels: ['instance'] },
  withoutReplicaLabels: ['replica', 'rule_replica'],
  limit: 1000,
  responseBatchSize: 64,
});

test('SeriesBatch frames: a label through the Writer past the room kept for it, at every position near the scratch end', () => {
  // A frame whose label grows the scratch buffer past 1 MiB leaves it at its starting 64 KiB;
  // the next frame's long label (bounded as any label, written through the Writer) then pushes
  // its 60000-byte chunk across the buffer's end at every position around it.
  const reset: SeriesResponse = { type: 'batch', batch: [{ labels: [{ name: 'r', value: 'x'.repeat(1_100_000) }], chunks: [] }] };
  for (let n = 5300; n < 5700; n += 5) {
    encodeSeriesResponse(reset);
    const m: SeriesResponse = { type: 'batch', batch: [{ labels: [{ name: 'n', value: 'x'.repeat(n) }], chunks: [{ minTime: 5, maxTime: 6, raw: { type: 0, data: bytes(60_000, n) } }] }] };
    assert.equal(decodeSeriesResponse(encodeSeriesResponse(m)), m, `label of ${n}`);
  }
});

test('SeriesResponse round trips (series, warning, hints, batch)', () => {
  const msgs: SeriesResponse[] = [
    { type: 'series', series },
    { type: 'warning', warning: 'store 127.0.0.1:1 unavailable: ü' },
    { type: 'hints', hints: encodeResponseHints({ queriedBlocks: ['01A', '01B'] }) },
    { type: 'batch', batch: [series, { labels: [{ name: 'a', value: 'b' }], chunks: [] }] },
  ];
  for (const m of msgs) assert.equal(decodeSeriesResponse(encodeSeriesResponse(m)), m);
  const h = decodeSeriesResponse(encodeSeriesResponse(msgs[2]!));
  assert.equal(decodeResponseHints((h as { hints: any }).hints).queriedBlocks, ['01A', '01B']);
});

test('SeriesResponse bytes decode identically with protobufjs (field numbers from the .proto text)', async () => {
  const obj = await pbDecode('thanos.SeriesResponse', encodeSeriesResponse({ type: 'series', series }));
  assert.is(obj.result, 'series');
  assert.equal(obj.series.labels, series.labels);
  assert.is(obj.series.chunks.length, 4);
  assert.is(obj.series.chunks[0].min_time, '1700000000000');
  assert.is(obj.series.chunks[0].raw.type, 'XOR');
  assert.equal(obj.series.chunks[0].raw.data, Array.from(series.chunks[0]!.raw!.data));
  assert.is(obj.series.chunks[1].raw.hash, BigInt.asUintN(64, series.chunks[1]!.raw!.hash!).toString());
  assert.is(obj.series.chunks[2].min_time, '-5');
  assert.equal(obj.series.chunks[2].counter.data, [...bytes(7, 7)]);
  assert.is(obj.series.chunks[3].raw.type, 'FLOAT_HISTOGRAM');
  const w = await pbDecode('thanos.SeriesResponse', encodeSeriesResponse({ type: 'warning', warning: 'w' }));
  assert.is(w.result, 'warning');
  assert.is(w.warning, 'w');
  // and protobufjs -> ours
  const theirs = await pbEncode('thanos.SeriesResponse', {
    batch: { series: [{ labels: [{ name: 'a', value: 'b' }], chunks: [{ min_time: 10, max_time: 20, raw: { type: 'HISTOGRAM', data: [1, 2, 3] }, max: { data: [9] } }] }] },
  });
  const d = decodeSeriesResponse(theirs);
  assert.is(d.type, 'batch');
  const c = (d as { batch: Series[] }).batch[0]!.chunks[0]!;
  assert.is(c.minTime, 10);
  assert.is(c.raw!.type, 1);
  assert.equal([...c.raw!.data], [1, 2, 3]);
  assert.equal([...c.max!.data], [9]);
});

test('SeriesRequest round trip and protobufjs agreement', async () => {
  const enc = encodeSeriesRequest(request);
  assert.equal(decodeSeriesRequest(enc), request);
  const obj = await pbDecode('thanos.SeriesRequest', enc);
  assert.is(obj.min_time, '-9223372036854775808');
  assert.is(obj.max_time, '9223372036854775807');
  assert.equal(obj.matchers.map((m: any) => m.type), ['EQ', 'NEQ', 'RE', 'NRE']);
  assert.equal(obj.aggregates, ['COUNT', 'SUM', 'COUNTER']);
  assert.is(obj.partial_response_strategy, 'ABORT');
  assert.is(obj.skip_chunks, true);
  assert.is(obj.hints.type_url, 'type.googleapis.com/hintspb.SeriesRequestHints');
  const hints = await pbDecode('hintspb.SeriesRequestHints', obj.hints.value instanceof Uint8Array ? obj.hints.value : new Uint8Array(obj.hints.value));
  assert.is(hints.block_matchers[0].value, '01ABC');
  assert.is(hints.enable_query_stats, true);
  assert.is(obj.query_hints.func.name, 'rate');
  assert.equal(obj.query_hints.grouping.labels, ['job']);
  assert.is(obj.query_hints.range.millis, '60000');
  assert.is(obj.shard_info.total_shards, '4');
  assert.equal(obj.without_replica_labels, ['replica', 'rule_replica']);
  assert.is(obj.limit, '1000');
  assert.is(obj.response_batch_size, '64');
  // protobufjs -> ours, with unpacked aggregates the way some encoders send them
  const theirs = await pbEncode('thanos.SeriesRequest', { min_time: 5, max_time: 10, matchers: [{ type: 'RE', name: 'a', value: 'b' }], aggregates: ['MAX'], response_batch_size: 3 });
  const d = decodeSeriesRequest(theirs);
  assert.is(d.minTime, 5);
  assert.equal(d.matchers, [{ type: '=~', name: 'a', value: 'b' }]);
  assert.equal(d.aggregates, [4]);
  assert.is(d.responseBatchSize, 3);
  assert.is(decodeRequestHints(request.hints!).blockMatchers[0]!.name, '__block_id');
});

test('LabelNames / LabelValues requests and responses', async () => {
  const ln = labelNamesRequest({ partialResponseStrategy: 1, start: 1, end: 2, matchers: [{ type: '=', name: 'job', value: 'x' }], withoutReplicaLabels: ['r'], limit: 5 });
  assert.equal(decodeLabelNamesRequest(encodeLabelNamesRequest(ln)), ln);
  const lnObj = await pbDecode('thanos.LabelNamesRequest', encodeLabelNamesRequest(ln));
  assert.is(lnObj.end, '2');
  assert.is(lnObj.limit, '5');
  assert.is(lnObj.matchers[0].name, 'job');
  const lv = labelValuesRequest({ label: 'job', partialResponseDisabled: true, start: -1, end: 9, limit: 3 });
  assert.equal(decodeLabelValuesRequest(encodeLabelValuesRequest(lv)), lv);
  const lvObj = await pbDecode('thanos.LabelValuesRequest', encodeLabelValuesRequest(lv));
  assert.is(lvObj.label, 'job');
  assert.is(lvObj.partial_response_disabled, true);
  assert.is(lvObj.start, '-1');
  assert.is(lvObj.limit, '3');
  const nr = { names: ['__name__', 'job'], warnings: ['w1'] };
  assert.equal(decodeLabelNamesResponse(encodeLabelNamesResponse(nr)), nr);
  const vr = { values: ['a', 'b', ''], warnings: [] };
  assert.equal(decodeLabelValuesResponse(encodeLabelValuesResponse(vr)), vr);
  const vrObj = await pbDecode('thanos.LabelValuesResponse', encodeLabelValuesResponse(vr));
  assert.equal(vrObj.values, ['a', 'b', '']);
});

test('WriteableStore WriteRequest round trip and protobufjs agreement', async () => {
  const wr = {
    timeseries: [{ labels: [{ name: '__name__', value: 'x' }], samples: [{ value: 1.5, timestamp: 1000 }, { value: 0, timestamp: 0 }, { value: NaN, timestamp: -1 }] }],
    tenant: 'team-a',
    replica: 2,
    timeseriesTenantData: [{ timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [] }], tenant: 't2' }],
  };
  const back = decodeStoreWriteRequest(encodeStoreWriteRequest(wr));
  assert.is(back.tenant, 'team-a');
  assert.is(back.replica, 2);
  assert.equal(back.timeseries[0]!.samples.slice(0, 2), wr.timeseries[0]!.samples.slice(0, 2));
  assert.ok(Number.isNaN(back.timeseries[0]!.samples[2]!.value));
  assert.is(back.timeseriesTenantData![0]!.tenant, 't2');
  const obj = await pbDecode('thanos.WriteRequest', encodeStoreWriteRequest(wr));
  assert.is(obj.tenant, 'team-a');
  assert.is(obj.replica, '2');
  assert.is(obj.timeseries[0].samples[0].timestamp, '1000');
  assert.is(obj.timeseries[0].samples[0].value, 1.5);
  assert.is(obj.timeseriesTenantData[0].tenant, 't2');
});

test('malformed Series frames give ProtobufError, never garbage', () => {
  const buf = encodeSeriesResponse({ type: 'series', series });
  let threw = 0;
  for (let n = 0; n < buf.length; n++) {
    try {
      decodeSeriesResponse(buf.subarray(0, n));
    } catch (e) {
      assert.ok(isPb(e), `prefix ${n}: ${e}`);
      threw++;
    }
  }
  assert.is(threw, buf.length, 'every strict prefix of a single-series frame is invalid');
  // corrupt every byte in turn: must decode or throw ProtobufError, nothing else
  for (let i = 0; i < Math.min(buf.length, 400); i++) {
    const c = buf.slice();
    c[i] = c[i]! ^ 0xa5;
    try {
      decodeSeriesResponse(c);
    } catch (e) {
      assert.ok(isPb(e), `byte ${i}: ${e}`);
    }
  }
  assert.throws(() => decodeSeriesRequest(new Uint8Array([0x1a, 0x02, 0x08, 0x07])), (e: unknown) => isPb(e) && /matcher type 7/.test(String(e)));
  assert.throws(() => decodeSeriesResponse(new Uint8Array([])), (e: unknown) => isPb(e) && /no result/.test(String(e)));
  assert.throws(() => decodeSeriesRequest(new Uint8Array([0x0a, 0x00])), (e: unknown) => isPb(e) && /wire type/.test(String(e)));
});

test.run();
