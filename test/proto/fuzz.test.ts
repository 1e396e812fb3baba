// Every decoder, fed random bytes and mutated valid messages, either decodes or throws
// ProtobufError: never a RangeError/TypeError, never a hang.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeInfoResponse, encodeInfoResponse } from '../../lib/proto/info.ts';
import {
  decodeChunkedReadResponse, decodeReadRequest, decodeReadResponse, decodeWriteRequest, encodeChunkedReadResponse,
  encodeReadRequest, encodeWriteRequest,
} from '../../lib/proto/prompb.ts';
import {
  decodeLabelNamesRequest, decodeLabelValuesRequest, decodeSeriesRequest, decodeSeriesResponse, decodeStoreWriteRequest,
  encodeSeriesRequest, encodeSeriesResponse, seriesRequest,
} from '../../lib/proto/store.ts';
import { ProtobufError } from '../../lib/proto/wire.ts';

let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
  ['SeriesResponse', decodeSeriesResponse], ['SeriesRequest', decodeSeriesRequest], ['LabelNamesRequest', decodeLabelNamesRequest],
  ['LabelValuesRequest', decodeLabelValuesRequest], ['StoreWriteRequest', decodeStoreWriteRequest], ['InfoResponse', decodeInfoResponse],
  ['WriteRequest', decodeWriteRequest], ['ReadRequest', decodeReadRequest], ['ReadResponse', decodeReadResponse],
  ['ChunkedReadResponse', decodeChunkedReadResponse],
];

const seeds: Uint8Array[] = [
  encodeSeriesResponse({ type: 'series', series: { labels: [{ name: 'a', value: 'b' }], chunks: [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array(30).fill(3) }, sum: { type: 0, data: new Uint8Array(5) } }] } }),
  encodeSeriesRequest(seriesRequest({ minTime: -5, maxTime: 1e12, matchers: [{ type: '=~', name: 'job', value: 'a.*' }], aggregates: [1, 2], queryHints: { stepMillis: 1, func: { name: 'rate' }, projectionLabels: [], projectionInclude: false, seriesHashLabelName: '' } })),
  encodeInfoResponse({ labelSets: [[{ name: 'x', value: 'y' }]], componentType: 'store', store: { minTime: 0, maxTime: 1, supportsSharding: true, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } }),
  encodeWriteRequest({ timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 1, timestamp: 2 }], histograms: [{ countInt: 1, sum: 2, schema: 1, zeroThreshold: 0, negativeSpans: [{ offset: 1, length: 2 }], negativeDeltas: [1, -1], negativeCounts: [], positiveSpans: [], positiveDeltas: [], positiveCounts: [1.5], resetHint: 1, timestamp: 3, customValues: [] }] }] }),
  encodeReadRequest({ queries: [{ startTimestampMs: 1, endTimestampMs: 2, matchers: [{ type: '!=', name: 'a', value: 'b' }] }], acceptedResponseTypes: [0, 1] }),
  encodeChunkedReadResponse({ chunkedSeries: [{ labels: [{ name: 'a', value: 'b' }], chunks: [{ minTimeMs: 1, maxTimeMs: 2, type: 1, data: new Uint8Array(9) }] }], queryIndex: 1 }),
];

function tryDecode(name: string, f: (b: Uint8Array) => unknown, b: Uint8Array): void {
  try {
    f(b);
  } catch (e) {
    if (!(e instanceof ProtobufError)) assert.unreachable(`${name} threw ${(e as Error)?.name}: ${(e as Error)?.message} on [${Array.from(b).join(',')}]`);
  }
}

test('random bytes', () => {
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256));
    for (const [n, f] of decoders) tryDecode(n, f, b);
  }
});

test('mutated valid messages (bit flips, truncation, splices) across all decoders', () => {
  for (let i = 0; i < 2000; i++) {
    const src = seeds[Math.floor(rnd() * seeds.length)]!;
    const b = src.slice();
    const k = 1 + Math.floor(rnd() * 3);
    for (let j = 0; j < k; j++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
    const cut = rnd() < 0.3 ? b.subarray(0, Math.floor(rnd() * b.length)) : b;
    for (const [n, f] of decoders) tryDecode(n, f, cut);
  }
});

test.run();
