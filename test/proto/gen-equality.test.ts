// Every hand-written codec kept in lib/proto (README.md lists them: Series request/response frames
// and chunk payloads, thanos.WriteRequest, LabelNames/LabelValues responses, MetricMetadata
// response; remote-write WriteRequest, ReadResponse, ChunkedReadResponse) against the codec
// generated from proto/ (lib/proto/gen, @bufbuild/protobuf), on a corpus of random and edge-case
// messages (empty, int64 extremes, NaN/±Inf, empty strings/bytes, unknown fields):
//   - byte-equality: hand encode(m) === generated toBinary(m)
//   - decode-equality: hand decode(bytes) equals generated fromBinary(bytes) (unknown fields are
//     skipped by the hand-written decoders, kept by the generated ones; `equals` ignores them).
// PROTO_EQ_N sets the random corpus size per message (default 300).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create, equals, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { Label, Matcher, MatchType } from '../../lib/labels/mod.ts';
import type { AnyMessage } from '../../lib/proto/common.ts';
import {
  decodeChunkedReadResponse, decodeReadResponse, decodeWriteRequest, encodeChunkedReadResponse, encodeReadResponse, encodeWriteRequest, matchTypeNumber,
  type ChunkedReadResponse, type Exemplar, type Histogram, type ReadResponse, type TimeSeries, type WriteRequest,
} from '../../lib/proto/prompb.ts';
import {
  decodeLabelNamesResponse, decodeLabelValuesResponse, decodeSeriesRequest, decodeSeriesResponse, decodeStoreWriteRequest,
  encodeLabelNamesResponse, encodeLabelValuesResponse, encodeSeriesRequest, encodeSeriesResponse, encodeStoreWriteRequest,
  type AggrChunk, type LabelNamesResponse, type LabelValuesResponse, type Chunk, type Series, type SeriesRequest, type SeriesResponse, type StoreWriteRequest,
} from '../../lib/proto/store.ts';
import { decodeMetricMetadataResponse, encodeMetricMetadataResponse, type MetricMetadataResponse } from '../../lib/proto/metadata.ts';
import { MetricMetadataResponseSchema } from '../../lib/proto/gen/thanos/metadata_pb.ts';
import {
  ChunkedReadResponseSchema, ReadResponseSchema, WriteRequestSchema as PromWriteRequestSchema,
} from '../../lib/proto/gen/prometheus/remote_pb.ts';
import {
  LabelNamesResponseSchema, LabelValuesResponseSchema, SeriesRequestSchema, SeriesResponseSchema, WriteRequestSchema as StoreWriteRequestSchema,
} from '../../lib/proto/gen/thanos/store_pb.ts';

// ---------------------------------------------------------------------------------------------
// Hand-written shapes -> generated init objects (int64 as bigint; the hand-written codecs use
// doubles and write |v| >= 2^63 as the int64 extremes).

const MAX_I64 = 0x7fffffffffffffffn;
const MIN_I64 = -0x8000000000000000n;
function i64(v: number): bigint {
  if (v >= 2 ** 63) return MAX_I64;
  if (v <= -(2 ** 63)) return MIN_I64;
  return BigInt(v);
}
const labels = (ls: readonly Label[]) => ls.map((l) => ({ name: l.name, value: l.value }));
const matchers = (ms: readonly Matcher[]) => ms.map((m) => ({ type: matchTypeNumber(m.type), name: m.name, value: m.value }));
const any = (a: AnyMessage | undefined) => (a ? { typeUrl: a.typeUrl, value: a.value } : undefined);
const chunk = (c: Chunk | undefined) => (c ? { type: c.type, data: c.data, hash: c.hash ?? 0n } : undefined);
const aggrChunk = (a: AggrChunk) => ({
  minTime: i64(a.minTime), maxTime: i64(a.maxTime),
  raw: chunk(a.raw), count: chunk(a.count), sum: chunk(a.sum), min: chunk(a.min), max: chunk(a.max), counter: chunk(a.counter),
});
const series = (s: Series) => ({ labels: labels(s.labels), chunks: s.chunks.map(aggrChunk) });

function seriesRequestInit(m: SeriesRequest) {
  return {
    minTime: i64(m.minTime), maxTime: i64(m.maxTime), matchers: matchers(m.matchers), maxResolutionWindow: i64(m.maxResolutionWindow),
    aggregates: m.aggregates, partialResponseDisabled: m.partialResponseDisabled, partialResponseStrategy: m.partialResponseStrategy,
    skipChunks: m.skipChunks, hints: any(m.hints), step: i64(m.step), range: i64(m.range),
    queryHints: m.queryHints && {
      stepMillis: i64(m.queryHints.stepMillis), func: m.queryHints.func, grouping: m.queryHints.grouping,
      range: m.queryHints.range && { millis: i64(m.queryHints.range.millis) },
      projectionLabels: m.queryHints.projectionLabels, projectionInclude: m.queryHints.projectionInclude, seriesHashLabelName: m.queryHints.seriesHashLabelName,
    },
    shardInfo: m.shardInfo && { shardIndex: i64(m.shardInfo.shardIndex), totalShards: i64(m.shardInfo.totalShards), by: m.shardInfo.by, labels: m.shardInfo.labels },
    withoutReplicaLabels: m.withoutReplicaLabels, limit: i64(m.limit), responseBatchSize: i64(m.responseBatchSize),
  };
}

function seriesResponseInit(m: SeriesResponse) {
  switch (m.type) {
    case 'series': return { result: { case: 'series' as const, value: series(m.series) } };
    case 'warning': return { result: { case: 'warning' as const, value: m.warning } };
    case 'hints': return { result: { case: 'hints' as const, value: any(m.hints)! } };
    case 'batch': return { result: { case: 'batch' as const, value: { series: m.batch.map(series) } } };
  }
}

const histogram = (h: Histogram) => ({
  count: h.countInt !== undefined ? { case: 'countInt' as const, value: BigInt(h.countInt) }
    : h.countFloat !== undefined ? { case: 'countFloat' as const, value: h.countFloat } : { case: undefined },
  sum: h.sum, schema: h.schema, zeroThreshold: h.zeroThreshold,
  zeroCount: h.zeroCountInt !== undefined ? { case: 'zeroCountInt' as const, value: BigInt(h.zeroCountInt) }
    : h.zeroCountFloat !== undefined ? { case: 'zeroCountFloat' as const, value: h.zeroCountFloat } : { case: undefined },
  negativeSpans: h.negativeSpans, negativeDeltas: h.negativeDeltas.map(i64), negativeCounts: h.negativeCounts,
  positiveSpans: h.positiveSpans, positiveDeltas: h.positiveDeltas.map(i64), positiveCounts: h.positiveCounts,
  resetHint: h.resetHint, timestamp: i64(h.timestamp), customValues: h.customValues,
});
const exemplar = (e: Exemplar) => ({ labels: labels(e.labels), value: e.value, timestamp: i64(e.timestamp) });
const timeSeries = (ts: TimeSeries) => ({
  labels: labels(ts.labels), samples: ts.samples.map((s) => ({ value: s.value, timestamp: i64(s.timestamp) })),
  exemplars: (ts.exemplars ?? []).map(exemplar), histograms: (ts.histograms ?? []).map(histogram),
});
const promWriteRequestInit = (m: WriteRequest) => ({ timeseries: m.timeseries.map(timeSeries), metadata: m.metadata ?? [] });
const storeWriteRequestInit = (m: StoreWriteRequest) => ({
  timeseries: m.timeseries.map(timeSeries), tenant: m.tenant, replica: i64(m.replica),
  timeseriesTenantData: (m.timeseriesTenantData ?? []).map((t) => ({ timeseries: t.timeseries.map(timeSeries), tenant: t.tenant })),
});

// ---------------------------------------------------------------------------------------------
// Corpus

let seed = 0x2545f491;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const many = <T>(n: number, f: () => T): T[] => Array.from({ length: int(n + 1) }, f);
const STRINGS = ['', 'a', '__name__', 'http_requests_total', 'ü-tenant', '😀 emoji', 'x'.repeat(200), 'quote"\\'];
const str = () => pick(STRINGS);
const INTS = [0, 1, -1, 127, 128, 16383, 16384, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, 2 ** 35 - 1, 2 ** 35, 2 ** 42 - 1, 2 ** 42, 2 ** 49, 1_700_000_000_000, -1_700_000_000_000, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 63, -(2 ** 63)];
const i = () => (rnd() < 0.5 ? pick(INTS) : int(2 ** 40) - 2 ** 39);
const u32 = () => pick([0, 1, 127, 128, 2 ** 31 - 1, int(1 << 20)]);
const DOUBLES = [0, 1, -1, 0.5, 1e-300, 1e300, Infinity, -Infinity, NaN, Number.MAX_VALUE, Number.MIN_VALUE];
const dbl = () => (rnd() < 0.5 ? pick(DOUBLES) : (rnd() - 0.5) * 1e6);
const bool = () => rnd() < 0.5;
const bytes = () => Uint8Array.from({ length: pick([0, 1, 3, 130]) }, () => int(256));
const label = (): Label => ({ name: str(), value: str() });
const matcher = (): Matcher => ({ type: pick<MatchType>(['=', '!=', '=~', '!~']), name: str(), value: str() });
const anyMsg = (): AnyMessage => ({ typeUrl: str(), value: bytes() });
const opt = <T>(f: () => T): T | undefined => (bool() ? f() : undefined);
const chunkR = (): Chunk => {
  const c: Chunk = { type: pick([0, 1, 2]), data: bytes() };
  if (bool()) c.hash = pick([1n, 0xffffffffffffffffn, BigInt(int(2 ** 48))]);
  return c;
};
const aggrChunkR = (): AggrChunk => ({ minTime: i(), maxTime: i(), raw: opt(chunkR), count: opt(chunkR), sum: opt(chunkR), min: opt(chunkR), max: opt(chunkR), counter: opt(chunkR) });
const seriesR = (): Series => ({ labels: many(4, label), chunks: many(3, aggrChunkR) });

function seriesRequestR(): SeriesRequest {
  return {
    minTime: i(), maxTime: i(), matchers: many(3, matcher), maxResolutionWindow: i(), aggregates: many(3, () => int(6)),
    partialResponseDisabled: bool(), partialResponseStrategy: int(2), skipChunks: bool(), hints: opt(anyMsg), step: i(), range: i(),
    queryHints: opt(() => ({
      stepMillis: i(), func: opt(() => ({ name: str() })), grouping: opt(() => ({ by: bool(), labels: many(2, str) })),
      range: opt(() => ({ millis: i() })), projectionLabels: many(2, str), projectionInclude: bool(), seriesHashLabelName: str(),
    })),
    shardInfo: opt(() => ({ shardIndex: i(), totalShards: i(), by: bool(), labels: many(2, str) })),
    withoutReplicaLabels: many(2, str), limit: i(), responseBatchSize: i(),
  };
}

function seriesResponseR(): SeriesResponse {
  switch (int(4)) {
    case 0: return { type: 'series', series: seriesR() };
    case 1: return { type: 'warning', warning: str() };
    case 2: return { type: 'hints', hints: anyMsg() };
    default: return { type: 'batch', batch: many(3, seriesR) };
  }
}

function histogramR(): Histogram {
  const h: Histogram = {
    sum: dbl(), schema: pick([0, -4, 8, -53]), zeroThreshold: dbl(),
    negativeSpans: many(2, () => ({ offset: pick([0, -3, 5, -(2 ** 31)]), length: u32() })), negativeDeltas: many(3, i), negativeCounts: many(3, dbl),
    positiveSpans: many(2, () => ({ offset: pick([0, 2, -1]), length: u32() })), positiveDeltas: many(3, i), positiveCounts: many(3, dbl),
    resetHint: int(4), timestamp: i(), customValues: many(2, dbl),
  };
  const c = int(3);
  if (c === 1) h.countInt = pick([0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER]);
  if (c === 2) h.countFloat = dbl();
  const z = int(3);
  if (z === 1) h.zeroCountInt = pick([0, 7, 2 ** 33]);
  if (z === 2) h.zeroCountFloat = dbl();
  return h;
}
function timeSeriesR(): TimeSeries {
  const ts: TimeSeries = { labels: many(4, label), samples: many(4, () => ({ value: dbl(), timestamp: i() })) };
  if (bool()) ts.exemplars = many(2, () => ({ labels: many(2, label), value: dbl(), timestamp: i() }));
  if (bool()) ts.histograms = many(2, histogramR);
  return ts;
}
function promWriteRequestR(): WriteRequest {
  const m: WriteRequest = { timeseries: many(4, timeSeriesR) };
  if (bool()) m.metadata = many(2, () => ({ type: int(8), metricFamilyName: str(), help: str(), unit: str() }));
  return m;
}
function storeWriteRequestR(): StoreWriteRequest {
  const m: StoreWriteRequest = { timeseries: many(3, timeSeriesR), tenant: str(), replica: i() };
  if (bool()) m.timeseriesTenantData = many(2, () => ({ timeseries: many(2, timeSeriesR), tenant: str() }));
  return m;
}

// Unknown fields of every wire type, appended at top level (field numbers unused by these messages).
const UNKNOWN = Uint8Array.from([
  0xf8, 0x07, 0x96, 0x01, // field 127 varint 150
  0x81, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, // field 128 fixed64
  0x8a, 0x08, 0x03, 0x61, 0x62, 0x63, // field 129 len "abc"
  0x95, 0x08, 9, 9, 9, 9, // field 130 fixed32
]);
const withUnknown = (b: Uint8Array) => {
  const out = new Uint8Array(b.length + UNKNOWN.length);
  out.set(b);
  out.set(UNKNOWN, b.length);
  return out;
};

// ---------------------------------------------------------------------------------------------

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const N = Number(process.env.PROTO_EQ_N ?? 300);

function check<H, D extends DescMessage>(
  name: string, schema: D, init: (m: H) => unknown, enc: (m: H) => Uint8Array, dec: (b: Uint8Array) => H, edge: H[], random: () => H,
): void {
  test(`${name}: hand-written == generated (bytes and decodes; ${edge.length} edge + ${N} random)`, () => {
    const corpus = [...edge, ...Array.from({ length: N }, random)];
    corpus.forEach((m, k) => {
      const gen = create(schema, init(m) as never) as MessageShape<D>;
      const ours = enc(m);
      const theirs = toBinary(schema, gen);
      assert.equal(hex(ours), hex(theirs), `${name} #${k}: encodings differ`);
      for (const b of [ours, withUnknown(ours)]) {
        const g = fromBinary(schema, b);
        const h = create(schema, init(dec(b)) as never) as MessageShape<D>;
        // equals() (=== on doubles) would call NaN != NaN; compare field by field through the
        // generated encoder instead, which is canonical (and leaves out the kept unknown fields).
        const same = equals(schema, h, g) || hex(toBinary(schema, h)) === hex(toBinary(schema, g, { writeUnknownFields: false }));
        assert.ok(same, `${name} #${k}: decodes differ${b === ours ? '' : ' (with unknown fields)'}`);
      }
    });
  });
}

const emptySeriesRequest: SeriesRequest = {
  minTime: 0, maxTime: 0, matchers: [], maxResolutionWindow: 0, aggregates: [], partialResponseDisabled: false, partialResponseStrategy: 0,
  skipChunks: false, step: 0, range: 0, withoutReplicaLabels: [], limit: 0, responseBatchSize: 0,
};
check('thanos.SeriesRequest', SeriesRequestSchema, seriesRequestInit, encodeSeriesRequest, decodeSeriesRequest,
  [emptySeriesRequest, { ...emptySeriesRequest, minTime: -(2 ** 63), maxTime: 2 ** 63, limit: Number.MAX_SAFE_INTEGER }], seriesRequestR);

check('thanos.SeriesResponse', SeriesResponseSchema, seriesResponseInit, encodeSeriesResponse, decodeSeriesResponse,
  [
    { type: 'series', series: { labels: [], chunks: [] } },
    { type: 'warning', warning: '' },
    { type: 'hints', hints: { typeUrl: '', value: new Uint8Array() } },
    { type: 'batch', batch: [] },
    { type: 'series', series: { labels: [{ name: '', value: '' }], chunks: [{ minTime: -(2 ** 63), maxTime: 2 ** 63, raw: { type: 0, data: new Uint8Array() } }] } },
    { type: 'series', series: { labels: [], chunks: [{ minTime: 0, maxTime: 0, raw: { type: 2, data: Uint8Array.of(0), hash: 0xffffffffffffffffn } }] } },
    // a batch frame's one-pass writing: labels of 127 and 128 bytes (a 1- and a 2-byte length),
    // series of 1-, 2- and 3-byte lengths
    {
      type: 'batch',
      batch: [
        { labels: [{ name: 'n', value: 'v'.repeat(122) }], chunks: [] },
        { labels: [{ name: 'n', value: 'v'.repeat(123) }, { name: 'ü', value: '' }], chunks: [] },
        { labels: [{ name: 'a', value: 'b' }], chunks: [{ minTime: 1, maxTime: 1_700_000_000_000, raw: { type: 0, data: new Uint8Array(20000).fill(7) } }] },
      ],
    },
    // the series' length written before its labels when ASCII labels cannot change its size, moved
    // when a label through the Writer makes it longer (by 1 and by 2 bytes), or when it straddles
    // a size (labels written after room for 3 bytes)
    {
      type: 'batch',
      batch: [
        { labels: [{ name: 'n', value: 'x'.repeat(20000) }], chunks: [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array(190).fill(3) } }] },
        { labels: [{ name: 'a', value: 'b' }, { name: 'n', value: 'ü'.repeat(1_100_000) }], chunks: [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array(190).fill(4) } }] },
        { labels: [{ name: 'a', value: 'b' }], chunks: [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array(100).fill(5) } }] },
        { labels: [{ name: 'a', value: 'b' }], chunks: [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array(16200).fill(6) } }] },
        { labels: [], chunks: [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array(120).fill(6) } }] },
      ],
    },
    // a frame over half a slab (sized by its labels' lengths): non-ASCII labels take more than that
    {
      type: 'batch',
      batch: [
        { labels: [{ name: 'a', value: 'ü'.repeat(3000) }, { name: 'b', value: 'é'.repeat(3000) }], chunks: [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array((1 << 20) + 100).fill(9) } }] },
        { labels: [{ name: 'c', value: '😀'.repeat(3000) }], chunks: [] },
      ],
    },
    // label objects shared by the series of a frame: at the same and at other positions, written
    // through the Writer (non-ASCII, long), in series whose labels were moved after writing
    (() => {
      const a = { name: '__name__', value: 'x_total' };
      const u = { name: 'n', value: 'ü'.repeat(70) };
      const x = { name: 'long', value: 'x'.repeat(200) };
      const c = (n: number) => [{ minTime: 1, maxTime: 2, raw: { type: 0, data: new Uint8Array(n).fill(n & 0xff) } }];
      return {
        type: 'batch' as const,
        batch: [
          { labels: [a, u, x], chunks: [] },
          { labels: [a, u, x], chunks: [] },
          { labels: [u, a], chunks: c(3) },
          { labels: [a, u, x], chunks: c(100) },
          { labels: [a], chunks: c(190) },
          { labels: [a, x], chunks: c(16200) },
          { labels: [a, u, x, { name: 'z', value: '1' }], chunks: c(16200) },
          { labels: [a, u, x, { name: 'z', value: '1' }], chunks: c(5) },
        ],
      };
    })(),
  ],
  seriesResponseR);

check('prometheus.WriteRequest', PromWriteRequestSchema, promWriteRequestInit, encodeWriteRequest, decodeWriteRequest,
  [
    { timeseries: [] },
    { timeseries: [{ labels: [], samples: [] }] },
    { timeseries: [{ labels: [{ name: 'a', value: '' }], samples: [{ value: 0, timestamp: 0 }, { value: NaN, timestamp: 2 ** 63 }, { value: -Infinity, timestamp: -(2 ** 63) }] }] },
    { timeseries: [{ labels: [], samples: [], histograms: [{ countInt: 0, zeroCountFloat: 0, sum: 0, schema: 0, zeroThreshold: 0, negativeSpans: [], negativeDeltas: [], negativeCounts: [], positiveSpans: [], positiveDeltas: [], positiveCounts: [], resetHint: 0, timestamp: 0, customValues: [] }] }] },
    // sint64 at the int64 extremes (was written as -1 for -2^63 before the zigzag clamp)
    { timeseries: [{ labels: [], samples: [], histograms: [{ countFloat: -0.5, sum: 1, schema: -53, zeroThreshold: 1e-128, negativeSpans: [{ offset: -(2 ** 31), length: 2 ** 32 - 1 }], negativeDeltas: [-(2 ** 63), 2 ** 63, -1, 0], negativeCounts: [], positiveSpans: [], positiveDeltas: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], positiveCounts: [NaN], resetHint: 3, timestamp: -(2 ** 63), customValues: [Infinity] }] }] },
  ],
  promWriteRequestR);

check('thanos.WriteRequest', StoreWriteRequestSchema, storeWriteRequestInit, encodeStoreWriteRequest, decodeStoreWriteRequest,
  [{ timeseries: [], tenant: '', replica: 0 }, { timeseries: [], tenant: 'ü', replica: 2 ** 63, timeseriesTenantData: [{ timeseries: [], tenant: '' }] }],
  storeWriteRequestR);

const namesInit = (m: LabelNamesResponse) => ({ names: m.names, warnings: m.warnings, hints: any(m.hints) });
const valuesInit = (m: LabelValuesResponse) => ({ values: m.values, warnings: m.warnings, hints: any(m.hints) });
check('thanos.LabelNamesResponse', LabelNamesResponseSchema, namesInit, encodeLabelNamesResponse, decodeLabelNamesResponse,
  [{ names: [], warnings: [] }, { names: [''], warnings: [''], hints: { typeUrl: '', value: new Uint8Array() } }],
  () => { const m: LabelNamesResponse = { names: many(30, str), warnings: many(2, str) }; if (bool()) m.hints = anyMsg(); return m; });
check('thanos.LabelValuesResponse', LabelValuesResponseSchema, valuesInit, encodeLabelValuesResponse, decodeLabelValuesResponse,
  [{ values: [], warnings: [] }, { values: ['', '😀'], warnings: [] }],
  () => { const m: LabelValuesResponse = { values: many(30, str), warnings: many(2, str) }; if (bool()) m.hints = anyMsg(); return m; });

// MetricMetadataResponse stays hand-written (metadata.ts: a "__proto__" metric name breaks the
// generated map handling), so that name is left out of this corpus; so is the empty name, whose
// map entry the generated encoder (like Thanos's gogo code) writes with an explicit empty key
// (0a 00) and the hand-written one without (decodes are the same).
const metadataInit = (m: MetricMetadataResponse) =>
  m.type === 'warning'
    ? { result: { case: 'warning' as const, value: m.warning } }
    : { result: { case: 'metadata' as const, value: { metadata: Object.fromEntries(Object.entries(m.metadata).map(([k, v]) => [k, { metas: v }])) } } };
const metaNames = ['up', 'http_requests_total', 'ü', 'a:b', 'x'.repeat(100)];
check('thanos.MetricMetadataResponse', MetricMetadataResponseSchema, metadataInit, encodeMetricMetadataResponse, decodeMetricMetadataResponse,
  [{ type: 'metadata', metadata: {} }, { type: 'warning', warning: '' }, { type: 'metadata', metadata: { up: [] } }],
  (): MetricMetadataResponse => {
    if (int(4) === 0) return { type: 'warning', warning: str() };
    const md: Record<string, Array<{ type: string; help: string; unit: string }>> = {};
    for (const n of many(4, () => pick(metaNames))) md[n] = many(2, () => ({ type: pick(['counter', 'gauge', '']), help: str(), unit: str() }));
    return { type: 'metadata', metadata: md };
  });

check('prometheus.ReadResponse', ReadResponseSchema, (m: ReadResponse) => ({ results: m.results.map((r) => ({ timeseries: r.timeseries.map(timeSeries) })) }),
  encodeReadResponse, decodeReadResponse,
  [{ results: [] }, { results: [{ timeseries: [] }] }],
  (): ReadResponse => ({ results: many(3, () => ({ timeseries: many(3, timeSeriesR) })) }));

const chunkedInit = (m: ChunkedReadResponse) => ({
  chunkedSeries: m.chunkedSeries.map((cs) => ({
    labels: labels(cs.labels),
    chunks: cs.chunks.map((c) => ({ minTimeMs: i64(c.minTimeMs), maxTimeMs: i64(c.maxTimeMs), type: c.type, data: c.data })),
  })),
  queryIndex: i64(m.queryIndex),
});
check('prometheus.ChunkedReadResponse', ChunkedReadResponseSchema, chunkedInit, encodeChunkedReadResponse, decodeChunkedReadResponse,
  [{ chunkedSeries: [], queryIndex: 0 }, { chunkedSeries: [{ labels: [], chunks: [{ minTimeMs: -(2 ** 63), maxTimeMs: 2 ** 63, type: 0, data: new Uint8Array() }] }], queryIndex: 2 ** 63 }],
  (): ChunkedReadResponse => ({
    chunkedSeries: many(3, () => ({ labels: many(3, label), chunks: many(3, () => ({ minTimeMs: i(), maxTimeMs: i(), type: int(7), data: bytes() })) })),
    queryIndex: pick([0, 1, 7, 2 ** 31]),
  }));

test.run();
