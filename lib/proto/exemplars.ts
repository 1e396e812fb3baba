// thanos.Exemplars/Exemplars codecs (proto/thanos/exemplars.proto; Thanos pkg/exemplars/exemplarspb):
//   ExemplarsRequest{string query=1; int64 start=2; int64 end=3; PartialResponseStrategy partial_response_strategy=4}
//   ExemplarsResponse{oneof result {ExemplarData data=1; string warning=2}}
//   ExemplarData{LabelSet seriesLabels=1; repeated Exemplar exemplars=2}
//   Exemplar{LabelSet labels=1; double value=2; int64 ts=3}
// start, end and ts are milliseconds. Generated codecs (cold path).
import type { Label } from '../labels/mod.ts';
import * as pb from './gen/thanos/exemplars_pb.ts';
import { decodeGen, encodeGen, fromInt64, labelsFromGen, labelsToGen, toInt64 } from './generated.ts';

export const EXEMPLARS_METHOD = '/thanos.Exemplars/Exemplars';

export interface ExemplarsRequest {
  query: string;
  start: number;
  end: number;
  partialResponseStrategy: number;
}

export interface Exemplar {
  labels: Label[];
  value: number;
  ts: number;
}

export interface ExemplarData {
  seriesLabels: Label[];
  exemplars: Exemplar[];
}

export type ExemplarsResponse = { type: 'data'; data: ExemplarData } | { type: 'warning'; warning: string };

export function encodeExemplarsRequest(m: ExemplarsRequest): Uint8Array {
  return encodeGen(pb.ExemplarsRequestSchema, { query: m.query, start: toInt64(m.start), end: toInt64(m.end), partialResponseStrategy: m.partialResponseStrategy });
}

export function decodeExemplarsRequest(buf: Uint8Array): ExemplarsRequest {
  const g = decodeGen(pb.ExemplarsRequestSchema, buf);
  return { query: g.query, start: fromInt64(g.start), end: fromInt64(g.end), partialResponseStrategy: g.partialResponseStrategy };
}

export function encodeExemplarsResponse(m: ExemplarsResponse): Uint8Array {
  if (m.type === 'warning') return encodeGen(pb.ExemplarsResponseSchema, { result: { case: 'warning', value: m.warning } });
  return encodeGen(pb.ExemplarsResponseSchema, {
    result: {
      case: 'data',
      value: {
        seriesLabels: { labels: labelsToGen(m.data.seriesLabels) },
        exemplars: m.data.exemplars.map((e) => ({ labels: { labels: labelsToGen(e.labels) }, value: e.value, ts: toInt64(e.ts) })),
      },
    },
  });
}

export function decodeExemplarsResponse(buf: Uint8Array): ExemplarsResponse {
  const g = decodeGen(pb.ExemplarsResponseSchema, buf);
  if (g.result.case === 'warning') return { type: 'warning', warning: g.result.value };
  const d = g.result.value;
  return {
    type: 'data',
    data: {
      seriesLabels: labelsFromGen(d?.seriesLabels?.labels ?? []),
      exemplars: (d?.exemplars ?? []).map((e) => ({ labels: labelsFromGen(e.labels?.labels ?? []), value: e.value, ts: fromInt64(e.ts) })),
    },
  };
}
