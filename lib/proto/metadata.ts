// thanos.Metadata/MetricMetadata codecs (proto/thanos/metadata.proto; Thanos pkg/metadata/metadatapb):
//   MetricMetadataRequest{string metric=1; int32 limit=2; PartialResponseStrategy partial_response_strategy=3}
//   MetricMetadataResponse{oneof result {MetricMetadata metadata=1; string warning=2}}
//   MetricMetadata{map<string, MetricMetadataEntry> metadata=1}   (map entry: key=1, value=2)
//   MetricMetadataEntry{repeated Meta metas=2}
//   Meta{string type=1; string help=2; string unit=3}
import { writeStringField } from './common.ts';
import * as pb from './gen/thanos/metadata_pb.ts';
import { decodeGen, encodeGen } from './generated.ts';
import { decodeMessage, nested, Reader, Writer, WIRE_LEN } from './wire.ts';

export const METRIC_METADATA_METHOD = '/thanos.Metadata/MetricMetadata';

export interface MetricMetadataRequest {
  metric: string;
  /** <0: no limit; 0: nothing; n: at most n metrics. */
  limit: number;
  partialResponseStrategy: number;
}

export interface Meta {
  type: string;
  help: string;
  unit: string;
}

/** metric name -> its metadata entries, in the order received. */
export type MetadataMap = Record<string, Meta[]>;

export type MetricMetadataResponse = { type: 'metadata'; metadata: MetadataMap } | { type: 'warning'; warning: string };

// The request: generated codec (cold path, lib/proto/gen/thanos/metadata_pb.ts).

export function encodeMetricMetadataRequest(m: MetricMetadataRequest): Uint8Array {
  return encodeGen(pb.MetricMetadataRequestSchema, { metric: m.metric, limit: m.limit, partialResponseStrategy: m.partialResponseStrategy });
}

export function decodeMetricMetadataRequest(buf: Uint8Array): MetricMetadataRequest {
  const g = decodeGen(pb.MetricMetadataRequestSchema, buf);
  return { metric: g.metric, limit: g.limit, partialResponseStrategy: g.partialResponseStrategy };
}

// The response stays hand-written: @bufbuild/protobuf 2.13 stores map entries with `obj[key] = v`,
// so a metric named "__proto__" (a valid name) is lost and replaces the map's prototype; the
// hand-written decoder defines it as an own property. Checked against the generated codec in
// test/proto/gen-equality.test.ts (other names).

function writeMeta(w: Writer, field: number, m: Meta): void {
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  writeStringField(w, 1, m.type);
  writeStringField(w, 2, m.help);
  writeStringField(w, 3, m.unit);
  w.ldelim(at);
}

function readMeta(r: Reader): Meta {
  return nested(r, (r) => {
    const m: Meta = { type: '', help: '', unit: '' };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: m.type = r.string(); break;
        case 0x12: m.help = r.string(); break;
        case 0x1a: m.unit = r.string(); break;
        default: r.skip(tag & 7);
      }
    }
    return m;
  });
}

export function encodeMetricMetadataResponse(m: MetricMetadataResponse): Uint8Array {
  const w = new Writer(256);
  if (m.type === 'warning') {
    w.tag(2, WIRE_LEN);
    w.string(m.warning);
    return w.finish();
  }
  w.tag(1, WIRE_LEN);
  const at = w.fork();
  for (const [name, metas] of Object.entries(m.metadata)) {
    w.tag(1, WIRE_LEN); // map entry
    const at2 = w.fork();
    writeStringField(w, 1, name);
    w.tag(2, WIRE_LEN); // MetricMetadataEntry
    const at3 = w.fork();
    for (const meta of metas) writeMeta(w, 2, meta);
    w.ldelim(at3);
    w.ldelim(at2);
  }
  w.ldelim(at);
  return w.finish();
}

function readEntry(r: Reader): Meta[] {
  return nested(r, (r) => {
    const out: Meta[] = [];
    while (r.pos < r.end) {
      const tag = r.tag();
      if (tag === 0x12) out.push(readMeta(r));
      else r.skip(tag & 7);
    }
    return out;
  });
}

function readMetadataMap(r: Reader): MetadataMap {
  return nested(r, (r) => {
    const out: MetadataMap = {};
    while (r.pos < r.end) {
      const tag = r.tag();
      if (tag !== 0x0a) {
        r.skip(tag & 7);
        continue;
      }
      const [k, v] = nested(r, (r) => {
        let key = '';
        let val: Meta[] = [];
        while (r.pos < r.end) {
          const t = r.tag();
          if (t === 0x0a) key = r.string();
          else if (t === 0x12) val = readEntry(r);
          else r.skip(t & 7);
        }
        return [key, val] as const;
      });
      // A repeated map key: the last one wins (protobuf map semantics).
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

export function decodeMetricMetadataResponse(buf: Uint8Array): MetricMetadataResponse {
  return decodeMessage(buf, (r) => {
    let res: MetricMetadataResponse = { type: 'metadata', metadata: {} };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: res = { type: 'metadata', metadata: readMetadataMap(r) }; break;
        case 0x12: res = { type: 'warning', warning: r.string() }; break;
        default: r.skip(tag & 7);
      }
    }
    return res;
  });
}
