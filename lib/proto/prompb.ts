// Prometheus remote read/write messages (proto/prometheus/{types,remote}.proto; reference §2.5).
// Also used inside thanos.WriteableStore/RemoteWrite (Thanos's prometheus_copy has identical numbers).
import type { Label, Matcher, MatchType } from '../labels/mod.ts';
import { readLabel, sizeLabel, writeLabelBody, writeLabels, writeStrings } from './common.ts';
import * as remotepb from './gen/prometheus/remote_pb.ts';
import { decodeGen, encodeGen, fromInt64, matchersFromGen, matchersToGen, toInt64 } from './generated.ts';
import { decodeMessage, ProtobufError, Reader, Writer, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, sizeInt64, sizeVarint32 } from './wire.ts';

export interface Sample {
  value: number;
  timestamp: number;
}

export interface Exemplar {
  labels: Label[];
  value: number;
  timestamp: number;
}

export interface BucketSpan {
  offset: number;
  length: number;
}

export const HistogramResetHint = { UNKNOWN: 0, YES: 1, NO: 2, GAUGE: 3 } as const;

/** prompb.Histogram. Integer histograms set countInt/zeroCountInt and *Deltas; float ones the *Float and *Counts fields. */
export interface Histogram {
  countInt?: number;
  countFloat?: number;
  sum: number;
  schema: number;
  zeroThreshold: number;
  zeroCountInt?: number;
  zeroCountFloat?: number;
  negativeSpans: BucketSpan[];
  negativeDeltas: number[];
  negativeCounts: number[];
  positiveSpans: BucketSpan[];
  positiveDeltas: number[];
  positiveCounts: number[];
  resetHint: number;
  timestamp: number;
  customValues: number[];
}

export interface TimeSeries {
  labels: Label[];
  samples: Sample[];
  exemplars?: Exemplar[];
  histograms?: Histogram[];
}

export const MetricType = { UNKNOWN: 0, COUNTER: 1, GAUGE: 2, HISTOGRAM: 3, GAUGEHISTOGRAM: 4, SUMMARY: 5, INFO: 6, STATESET: 7 } as const;

export interface MetricMetadata {
  type: number;
  metricFamilyName: string;
  help: string;
  unit: string;
}

export interface WriteRequest {
  timeseries: TimeSeries[];
  metadata?: MetricMetadata[];
}

export interface ReadHints {
  stepMs: number;
  func: string;
  startMs: number;
  endMs: number;
  grouping: string[];
  by: boolean;
  rangeMs: number;
}

export interface Query {
  startTimestampMs: number;
  endTimestampMs: number;
  matchers: Matcher[];
  hints?: ReadHints;
}

export const ResponseType = { SAMPLES: 0, STREAMED_XOR_CHUNKS: 1 } as const;

export interface ReadRequest {
  queries: Query[];
  acceptedResponseTypes: number[];
}

export interface QueryResult {
  timeseries: TimeSeries[];
}

export interface ReadResponse {
  results: QueryResult[];
}

/** prompb.Chunk encoding numbers (XOR=1 here, unlike thanos.Chunk where XOR=0). */
export const PromChunkEncoding = { UNKNOWN: 0, XOR: 1, HISTOGRAM: 2, FLOAT_HISTOGRAM: 3, XOR2: 4, HISTOGRAM_ST: 5, FLOAT_HISTOGRAM_ST: 6 } as const;

export interface PromChunk {
  minTimeMs: number;
  maxTimeMs: number;
  type: number;
  data: Uint8Array;
}

export interface ChunkedSeries {
  labels: Label[];
  chunks: PromChunk[];
}

export interface ChunkedReadResponse {
  chunkedSeries: ChunkedSeries[];
  queryIndex: number;
}

// ---------------------------------------------------------------------------------------------
// Matchers (thanos.LabelMatcher and prometheus.LabelMatcher share numbers: type=1 name=2 value=3,
// EQ=0 NEQ=1 RE=2 NRE=3).

const matchTypes: readonly MatchType[] = ['=', '!=', '=~', '!~'];

export function matchTypeNumber(t: MatchType): number {
  switch (t) {
    case '=': return 0;
    case '!=': return 1;
    case '=~': return 2;
    case '!~': return 3;
    default: throw new ProtobufError(`unknown matcher type ${JSON.stringify(t)}`);
  }
}

export function writeMatcher(w: Writer, field: number, m: Matcher): void {
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  const t = matchTypeNumber(m.type);
  if (t !== 0) {
    w.byte(0x08);
    w.uint32(t);
  }
  if (m.name.length > 0) {
    w.byte(0x12);
    w.string(m.name);
  }
  if (m.value.length > 0) {
    w.byte(0x1a);
    w.string(m.value);
  }
  w.ldelim(at);
}

export function readMatcher(r: Reader): Matcher {
  const n = r.len();
  const saved = r.push(n);
  let type = 0;
  let name = '';
  let value = '';
  let typeAt = 0;
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x08: typeAt = r.pos; type = r.int32(); break;
      case 0x12: name = r.string(); break;
      case 0x1a: value = r.string(); break;
      default: r.skip(t & 7);
    }
  }
  r.pop(saved);
  const mt = matchTypes[type];
  if (mt === undefined) throw new ProtobufError(`unknown label matcher type ${type}`, typeAt);
  return { type: mt, name, value };
}

// ---------------------------------------------------------------------------------------------
// Writers

function writeSample(w: Writer, s: Sample): void {
  // value=1 (fixed64), timestamp=2 (varint); proto3 omits zero values
  const v = s.value;
  const t = s.timestamp;
  const hasV = v !== 0 || Object.is(v, -0);
  const size = (hasV ? 9 : 0) + (t !== 0 ? 1 + sizeInt64(t) : 0);
  w.byte(0x12);
  w.uint32(size);
  if (hasV) {
    w.byte(0x09);
    w.double(v);
  }
  if (t !== 0) {
    w.byte(0x10);
    w.int64(t);
  }
}

function writeSpans(w: Writer, field: number, spans: readonly BucketSpan[]): void {
  for (const s of spans) {
    w.tag(field, WIRE_LEN);
    const at = w.fork();
    if (s.offset !== 0) {
      w.byte(0x08);
      w.sint32(s.offset);
    }
    if (s.length !== 0) {
      w.byte(0x10);
      w.uint32(s.length);
    }
    w.ldelim(at);
  }
}

function writePackedSint64(w: Writer, field: number, xs: readonly number[]): void {
  if (xs.length === 0) return;
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  for (const x of xs) w.sint64(x);
  w.ldelim(at);
}

function writePackedDouble(w: Writer, field: number, xs: readonly number[]): void {
  if (xs.length === 0) return;
  w.tag(field, WIRE_LEN);
  w.uint32(xs.length * 8);
  for (const x of xs) w.double(x);
}

function writeDoubleField(w: Writer, field: number, v: number): void {
  if (v !== 0 || Object.is(v, -0)) {
    w.tag(field, WIRE_FIXED64);
    w.double(v);
  }
}

function writeHistogram(w: Writer, field: number, h: Histogram): void {
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  // oneof members are written when set, even if zero
  if (h.countInt !== undefined) {
    w.byte(0x08);
    w.uint64(h.countInt);
  } else if (h.countFloat !== undefined) {
    w.byte(0x11);
    w.double(h.countFloat);
  }
  writeDoubleField(w, 3, h.sum);
  if (h.schema !== 0) {
    w.byte(0x20);
    w.sint32(h.schema);
  }
  writeDoubleField(w, 5, h.zeroThreshold);
  if (h.zeroCountInt !== undefined) {
    w.byte(0x30);
    w.uint64(h.zeroCountInt);
  } else if (h.zeroCountFloat !== undefined) {
    w.byte(0x39);
    w.double(h.zeroCountFloat);
  }
  writeSpans(w, 8, h.negativeSpans);
  writePackedSint64(w, 9, h.negativeDeltas);
  writePackedDouble(w, 10, h.negativeCounts);
  writeSpans(w, 11, h.positiveSpans);
  writePackedSint64(w, 12, h.positiveDeltas);
  writePackedDouble(w, 13, h.positiveCounts);
  if (h.resetHint !== 0) {
    w.byte(0x70);
    w.uint32(h.resetHint);
  }
  if (h.timestamp !== 0) {
    w.byte(0x78);
    w.int64(h.timestamp);
  }
  writePackedDouble(w, 16, h.customValues);
  w.ldelim(at);
}

function writeExemplar(w: Writer, e: Exemplar): void {
  w.byte(0x1a);
  const at = w.fork();
  writeLabels(w, 1, e.labels);
  writeDoubleField(w, 2, e.value);
  if (e.timestamp !== 0) {
    w.byte(0x18);
    w.int64(e.timestamp);
  }
  w.ldelim(at);
}

/** Writes the body of a TimeSeries (no tag/length). */
export function writeTimeSeriesBody(w: Writer, ts: TimeSeries): void {
  writeLabels(w, 1, ts.labels);
  const samples = ts.samples;
  for (let i = 0; i < samples.length; i++) writeSample(w, samples[i]!);
  if (ts.exemplars) for (const e of ts.exemplars) writeExemplar(w, e);
  if (ts.histograms) for (const h of ts.histograms) writeHistogram(w, 4, h);
}

export function writeTimeSeries(w: Writer, field: number, ts: TimeSeries): void {
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  writeTimeSeriesBody(w, ts);
  w.ldelim(at);
}

function writeMetadata(w: Writer, field: number, m: MetricMetadata): void {
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  if (m.type !== 0) {
    w.byte(0x08);
    w.uint32(m.type);
  }
  if (m.metricFamilyName) {
    w.byte(0x12);
    w.string(m.metricFamilyName);
  }
  if (m.help) {
    w.byte(0x22);
    w.string(m.help);
  }
  if (m.unit) {
    w.byte(0x2a);
    w.string(m.unit);
  }
  w.ldelim(at);
}

export function encodeWriteRequest(m: WriteRequest): Uint8Array {
  const w = new Writer(estimateTimeSeriesSize(m.timeseries));
  for (const ts of m.timeseries) writeTimeSeries(w, 1, ts);
  if (m.metadata) for (const md of m.metadata) writeMetadata(w, 3, md);
  return w.finish();
}

function estimateTimeSeriesSize(tss: readonly TimeSeries[]): number {
  let n = 64;
  for (const ts of tss) n += 16 + ts.labels.length * 24 + ts.samples.length * 20;
  return n;
}

// Remote-read ReadRequest: generated codec (cold path, lib/proto/gen/prometheus/remote_pb.ts).

export function encodeReadRequest(m: ReadRequest): Uint8Array {
  return encodeGen(remotepb.ReadRequestSchema, {
    queries: m.queries.map((q) => ({
      startTimestampMs: toInt64(q.startTimestampMs),
      endTimestampMs: toInt64(q.endTimestampMs),
      matchers: matchersToGen(q.matchers),
      hints: q.hints && {
        stepMs: toInt64(q.hints.stepMs), func: q.hints.func, startMs: toInt64(q.hints.startMs), endMs: toInt64(q.hints.endMs),
        grouping: [...q.hints.grouping], by: q.hints.by, rangeMs: toInt64(q.hints.rangeMs),
      },
    })),
    acceptedResponseTypes: [...m.acceptedResponseTypes],
  });
}

export function encodeReadResponse(m: ReadResponse): Uint8Array {
  let est = 64;
  for (const r of m.results) est += estimateTimeSeriesSize(r.timeseries);
  const w = new Writer(est);
  for (const r of m.results) {
    w.byte(0x0a);
    const at = w.fork();
    for (const ts of r.timeseries) writeTimeSeries(w, 1, ts);
    w.ldelim(at);
  }
  return w.finish();
}

function sizePromChunk(c: PromChunk): number {
  return (
    (c.minTimeMs !== 0 ? 1 + sizeInt64(c.minTimeMs) : 0) +
    (c.maxTimeMs !== 0 ? 1 + sizeInt64(c.maxTimeMs) : 0) +
    (c.type !== 0 ? 1 + sizeVarint32(c.type) : 0) +
    (c.data.length > 0 ? 1 + sizeVarint32(c.data.length) + c.data.length : 0)
  );
}

export function encodeChunkedReadResponse(m: ChunkedReadResponse): Uint8Array {
  // exact size first: chunk payloads dominate, so avoid shifting them
  let total = m.queryIndex !== 0 ? 1 + sizeInt64(m.queryIndex) : 0;
  const seriesSizes: number[] = [];
  for (const s of m.chunkedSeries) {
    let n = 0;
    for (const l of s.labels) {
      const ls = sizeLabel(l);
      n += 1 + sizeVarint32(ls) + ls;
    }
    for (const c of s.chunks) {
      const cs = sizePromChunk(c);
      n += 1 + sizeVarint32(cs) + cs;
    }
    seriesSizes.push(n);
    total += 1 + sizeVarint32(n) + n;
  }
  const w = new Writer(total);
  for (let i = 0; i < m.chunkedSeries.length; i++) {
    const s = m.chunkedSeries[i]!;
    w.byte(0x0a);
    w.uint32(seriesSizes[i]!);
    for (const l of s.labels) {
      w.byte(0x0a);
      w.uint32(sizeLabel(l));
      writeLabelBody(w, l);
    }
    for (const c of s.chunks) {
      w.byte(0x12);
      w.uint32(sizePromChunk(c));
      if (c.minTimeMs !== 0) { w.byte(0x08); w.int64(c.minTimeMs); }
      if (c.maxTimeMs !== 0) { w.byte(0x10); w.int64(c.maxTimeMs); }
      if (c.type !== 0) { w.byte(0x18); w.uint32(c.type); }
      if (c.data.length > 0) { w.byte(0x22); w.bytes(c.data); }
    }
  }
  if (m.queryIndex !== 0) {
    w.byte(0x10);
    w.int64(m.queryIndex);
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Readers

function readSample(r: Reader): Sample {
  const n = r.len();
  const saved = r.push(n);
  let value = 0;
  let timestamp = 0;
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x09) value = r.double();
    else if (t === 0x10) timestamp = r.int64();
    else r.skip(t & 7);
  }
  r.pop(saved);
  return { value, timestamp };
}

function readSpan(r: Reader): BucketSpan {
  const n = r.len();
  const saved = r.push(n);
  const s: BucketSpan = { offset: 0, length: 0 };
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x08) s.offset = r.sint32();
    else if (t === 0x10) s.length = r.uint32();
    else r.skip(t & 7);
  }
  r.pop(saved);
  return s;
}

function readHistogram(r: Reader): Histogram {
  const n = r.len();
  const saved = r.push(n);
  const h: Histogram = {
    sum: 0, schema: 0, zeroThreshold: 0, negativeSpans: [], negativeDeltas: [], negativeCounts: [],
    positiveSpans: [], positiveDeltas: [], positiveCounts: [], resetHint: 0, timestamp: 0, customValues: [],
  };
  while (r.pos < r.end) {
    const t = r.tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1: r.expect(t, WIRE_VARINT); h.countInt = r.uint64(); delete h.countFloat; break;
      case 2: r.expect(t, WIRE_FIXED64); h.countFloat = r.double(); delete h.countInt; break;
      case 3: r.expect(t, WIRE_FIXED64); h.sum = r.double(); break;
      case 4: r.expect(t, WIRE_VARINT); h.schema = r.sint32(); break;
      case 5: r.expect(t, WIRE_FIXED64); h.zeroThreshold = r.double(); break;
      case 6: r.expect(t, WIRE_VARINT); h.zeroCountInt = r.uint64(); delete h.zeroCountFloat; break;
      case 7: r.expect(t, WIRE_FIXED64); h.zeroCountFloat = r.double(); delete h.zeroCountInt; break;
      case 8: r.expect(t, WIRE_LEN); h.negativeSpans.push(readSpan(r)); break;
      case 9: r.repeatedVarint(wt, r.sint64, h.negativeDeltas); break;
      case 10: r.repeatedDouble(wt, h.negativeCounts); break;
      case 11: r.expect(t, WIRE_LEN); h.positiveSpans.push(readSpan(r)); break;
      case 12: r.repeatedVarint(wt, r.sint64, h.positiveDeltas); break;
      case 13: r.repeatedDouble(wt, h.positiveCounts); break;
      case 14: r.expect(t, WIRE_VARINT); h.resetHint = r.int32(); break;
      case 15: r.expect(t, WIRE_VARINT); h.timestamp = r.int64(); break;
      case 16: r.repeatedDouble(wt, h.customValues); break;
      default: r.skip(wt);
    }
  }
  r.pop(saved);
  return h;
}

function readExemplar(r: Reader): Exemplar {
  const n = r.len();
  const saved = r.push(n);
  const e: Exemplar = { labels: [], value: 0, timestamp: 0 };
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) e.labels.push(readLabel(r));
    else if (t === 0x11) e.value = r.double();
    else if (t === 0x18) e.timestamp = r.int64();
    else r.skip(t & 7);
  }
  r.pop(saved);
  return e;
}

/** Reads a length-delimited TimeSeries at the reader's position. */
export function readTimeSeries(r: Reader): TimeSeries {
  const n = r.len();
  const saved = r.push(n);
  const ts: TimeSeries = { labels: [], samples: [] };
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x0a: ts.labels.push(readLabel(r)); break;
      case 0x12: ts.samples.push(readSample(r)); break;
      case 0x1a: (ts.exemplars ??= []).push(readExemplar(r)); break;
      case 0x22: (ts.histograms ??= []).push(readHistogram(r)); break;
      default:
        if ((t >>> 3) <= 4) r.expect(t, WIRE_LEN);
        r.skip(t & 7);
    }
  }
  r.pop(saved);
  return ts;
}

function readMetadata(r: Reader): MetricMetadata {
  const n = r.len();
  const saved = r.push(n);
  const m: MetricMetadata = { type: 0, metricFamilyName: '', help: '', unit: '' };
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x08: m.type = r.int32(); break;
      case 0x12: m.metricFamilyName = r.string(); break;
      case 0x22: m.help = r.string(); break;
      case 0x2a: m.unit = r.string(); break;
      default: r.skip(t & 7);
    }
  }
  r.pop(saved);
  return m;
}

export function decodeWriteRequest(buf: Uint8Array): WriteRequest {
  return decodeMessage(buf, (r) => {
    const m: WriteRequest = { timeseries: [] };
    while (r.pos < r.end) {
      const t = r.tag();
      if (t === 0x0a) m.timeseries.push(readTimeSeries(r));
      else if (t === 0x1a) (m.metadata ??= []).push(readMetadata(r));
      else {
        if ((t >>> 3) === 1 || (t >>> 3) === 3) r.expect(t, WIRE_LEN);
        r.skip(t & 7);
      }
    }
    return m;
  });
}

export function decodeReadRequest(buf: Uint8Array): ReadRequest {
  const g = decodeGen(remotepb.ReadRequestSchema, buf);
  return {
    queries: g.queries.map((q) => {
      const out: Query = { startTimestampMs: fromInt64(q.startTimestampMs), endTimestampMs: fromInt64(q.endTimestampMs), matchers: matchersFromGen(q.matchers) };
      const h = q.hints;
      if (h) {
        out.hints = {
          stepMs: fromInt64(h.stepMs), func: h.func, startMs: fromInt64(h.startMs), endMs: fromInt64(h.endMs),
          grouping: h.grouping, by: h.by, rangeMs: fromInt64(h.rangeMs),
        };
      }
      return out;
    }),
    acceptedResponseTypes: g.acceptedResponseTypes,
  };
}

export function decodeReadResponse(buf: Uint8Array): ReadResponse {
  return decodeMessage(buf, (r) => {
    const m: ReadResponse = { results: [] };
    while (r.pos < r.end) {
      const t = r.tag();
      if (t === 0x0a) {
        const n = r.len();
        const saved = r.push(n);
        const qr: QueryResult = { timeseries: [] };
        while (r.pos < r.end) {
          const t2 = r.tag();
          if (t2 === 0x0a) qr.timeseries.push(readTimeSeries(r));
          else r.skip(t2 & 7);
        }
        r.pop(saved);
        m.results.push(qr);
      } else r.skip(t & 7);
    }
    return m;
  });
}

function readPromChunk(r: Reader): PromChunk {
  const n = r.len();
  const saved = r.push(n);
  const c: PromChunk = { minTimeMs: 0, maxTimeMs: 0, type: 0, data: new Uint8Array(0) };
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x08: c.minTimeMs = r.int64(); break;
      case 0x10: c.maxTimeMs = r.int64(); break;
      case 0x18: c.type = r.int32(); break;
      case 0x22: c.data = r.bytes(); break;
      default: r.skip(t & 7);
    }
  }
  r.pop(saved);
  return c;
}

export function decodeChunkedReadResponse(buf: Uint8Array): ChunkedReadResponse {
  return decodeMessage(buf, (r) => {
    const m: ChunkedReadResponse = { chunkedSeries: [], queryIndex: 0 };
    while (r.pos < r.end) {
      const t = r.tag();
      if (t === 0x0a) {
        const n = r.len();
        const saved = r.push(n);
        const s: ChunkedSeries = { labels: [], chunks: [] };
        while (r.pos < r.end) {
          const t2 = r.tag();
          if (t2 === 0x0a) s.labels.push(readLabel(r));
          else if (t2 === 0x12) s.chunks.push(readPromChunk(r));
          else r.skip(t2 & 7);
        }
        r.pop(saved);
        m.chunkedSeries.push(s);
      } else if (t === 0x10) m.queryIndex = r.int64();
      else r.skip(t & 7);
    }
    return m;
  });
}
