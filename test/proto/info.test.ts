import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeInfoRequest, decodeInfoResponse, decodeLegacyStoreInfo, encodeInfoRequest, encodeInfoResponse, encodeLegacyStoreInfo, infoFromLegacy,
  infoResponseFromComponentInfo, type InfoResponse,
} from '../../lib/proto/info.ts';
import { ProtobufError } from '../../lib/proto/wire.ts';
import { pbDecode, pbEncode } from './pbjs.ts';

const full: InfoResponse = {
  labelSets: [[{ name: 'cluster', value: 'eu' }, { name: 'replica', value: 'a' }], [{ name: 'tenant_id', value: 'ü-tenant' }]],
  componentType: 'store',
  store: {
    minTime: -9223372036854775808,
    maxTime: 9223372036854775807,
    supportsSharding: true,
    supportsWithoutReplicaLabels: true,
    tsdbInfos: [{ labels: [{ name: 'cluster', value: 'eu' }], minTime: 1700000000000, maxTime: 1700007200000 }],
    supportsProjections: false,
  },
  rules: {},
  exemplars: { minTime: 5, maxTime: 1234567890123 },
  query: {},
};

test('InfoResponse round trip', () => {
  const back = decodeInfoResponse(encodeInfoResponse(full));
  assert.equal(back, full);
});

test('InfoRequest is empty; unknown fields skipped', () => {
  assert.is(encodeInfoRequest().length, 0);
  assert.equal(decodeInfoRequest(new Uint8Array([0x08, 0x01])), {});
});

test('InfoResponse matches protobufjs from the .proto text', async () => {
  const ours = encodeInfoResponse(full);
  const obj = await pbDecode('thanos.info.InfoResponse', ours);
  assert.is(obj.ComponentType, 'store');
  assert.equal(obj.label_sets[0].labels, [{ name: 'cluster', value: 'eu' }, { name: 'replica', value: 'a' }]);
  assert.is(obj.label_sets[1].labels[0].value, 'ü-tenant');
  assert.is(obj.store.min_time, '-9223372036854775808');
  assert.is(obj.store.max_time, '9223372036854775807');
  assert.is(obj.store.supports_sharding, true);
  assert.is(obj.store.supports_without_replica_labels, true);
  assert.is(obj.store.tsdb_infos[0].max_time, '1700007200000');
  assert.ok(obj.rules);
  assert.is(obj.targets, null);
  assert.is(obj.exemplars.max_time, '1234567890123');
  assert.ok(obj.query);
  assert.is(obj.status, null);
  // and the other direction
  const theirs = await pbEncode('thanos.info.InfoResponse', {
    label_sets: [{ labels: [{ name: 'a', value: 'b' }] }],
    ComponentType: 'sidecar',
    store: { min_time: 10, max_time: '9223372036854775807', supports_without_replica_labels: true, tsdb_infos: [] },
    metric_metadata: {},
    targets: {},
    status: {},
  });
  const m = decodeInfoResponse(theirs);
  assert.equal(m.labelSets, [[{ name: 'a', value: 'b' }]]);
  assert.is(m.componentType, 'sidecar');
  assert.is(m.store!.minTime, 10);
  assert.is(m.store!.maxTime, 9223372036854775807);
  assert.is(m.store!.supportsWithoutReplicaLabels, true);
  assert.ok(m.metricMetadata && m.targets && m.status);
  assert.is(m.rules, undefined);
});

test('from ComponentInfo', () => {
  const m = infoResponseFromComponentInfo({ componentType: 'Store', labelSets: [{ b: '2', a: '1' }], store: { minTime: 1, maxTime: 2 } });
  assert.is(m.componentType, 'store');
  assert.equal(m.labelSets, [[{ name: 'a', value: '1' }, { name: 'b', value: '2' }]]);
  assert.is(m.store!.maxTime, 2);
});

test('truncated / malformed InfoResponse gives ProtobufError', () => {
  const buf = encodeInfoResponse(full);
  for (let n = 1; n < buf.length; n++) {
    let err: unknown;
    try {
      decodeInfoResponse(buf.subarray(0, n));
    } catch (e) {
      err = e;
    }
    // Some prefixes end exactly at a field boundary and are valid messages; others must throw cleanly.
    if (err) assert.instance(err, ProtobufError, `prefix ${n}: ${err}`);
  }
  // The codec is generated (@bufbuild/protobuf): its reasons ("premature EOF", ...) come wrapped in ProtobufError.
  assert.throws(() => decodeInfoResponse(new Uint8Array([0x0a, 0x7f])), (e: unknown) => e instanceof ProtobufError && /InfoResponse/.test((e as Error).message));
  assert.throws(() => decodeInfoResponse(new Uint8Array([0x1a, 0x80, 0x80])), (e: unknown) => e instanceof ProtobufError);
  assert.throws(() => decodeInfoResponse(new Uint8Array([0x12, 0x01])), (e: unknown) => e instanceof ProtobufError);
  // componentType field with varint wire type
  assert.throws(() => decodeInfoResponse(new Uint8Array([0x10, 0x01])), (e: unknown) => e instanceof ProtobufError);
});

test('legacy thanos.Store/Info InfoResponse: codec vs protobufjs-independent bytes, and mapping', () => {
  const m = { labels: [{ name: 'old', value: '1' }], minTime: -9223372036854775808, maxTime: 9223372036854775807, storeType: 3, labelSets: [[{ name: 'cluster', value: 'a' }]] };
  const enc = encodeLegacyStoreInfo(m);
  assert.equal(decodeLegacyStoreInfo(enc), m);
  // hand-made bytes following the old rpc.proto numbers: labels=1, min_time=2, max_time=3, storeType=4, label_sets=5
  const bytes = new Uint8Array([0x0a, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x10, 0x05, 0x18, 0x07, 0x20, 0x04]);
  const d = decodeLegacyStoreInfo(bytes);
  assert.equal(d, { labels: [{ name: 'a', value: 'b' }], minTime: 5, maxTime: 7, storeType: 4, labelSets: [] });
  const info = infoFromLegacy(d);
  assert.is(info.componentType, 'store');
  assert.equal(info.labelSets, [[{ name: 'a', value: 'b' }]]);
  assert.is(info.store!.maxTime, 7);
  assert.is(infoFromLegacy(m).componentType, 'sidecar');
  assert.equal(infoFromLegacy(m).labelSets, [[{ name: 'cluster', value: 'a' }]]);
});

test.run();
