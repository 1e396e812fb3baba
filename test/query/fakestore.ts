// An in-memory StoreAPI for querier tests: series with raw samples (cut into XOR chunks of 120) or
// prebuilt AggrChunks; honours matchers, time range, external labels and without_replica_labels.
import type { Core } from '../../lib/core/types.ts';
import { compareLabels, compileMatcher, labelsFromRecord, matchLabels, type Labels } from '../../lib/labels/mod.ts';
import type {
  AggrChunk, LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, SeriesRequest, SeriesResponse,
} from '../../lib/proto/store.ts';
import type { StoreAPI } from '../../lib/query/querier.ts';

export interface FakeSeries {
  labels: Labels;
  chunks: AggrChunk[];
}

export function rawChunks(core: Core, t: number[], v: number[], perChunk = 120): AggrChunk[] {
  const out: AggrChunk[] = [];
  for (let i = 0; i < t.length; i += perChunk) {
    const tt = Float64Array.from(t.slice(i, i + perChunk));
    const vv = Float64Array.from(v.slice(i, i + perChunk));
    out.push({ minTime: tt[0]!, maxTime: tt[tt.length - 1]!, raw: { type: 0, data: core.xorEncode(tt, vv, tt.length) } });
  }
  return out;
}

export function fakeSeries(core: Core, rec: Record<string, string>, t: number[], v: number[]): FakeSeries {
  return { labels: labelsFromRecord(rec), chunks: rawChunks(core, t, v) };
}

export class FakeStore implements StoreAPI {
  requests: SeriesRequest[] = [];
  fail: Error | null = null;
  constructor(public data: FakeSeries[], public honourWithoutReplicaLabels = false) {}

  async *series(req: SeriesRequest): AsyncIterable<SeriesResponse> {
    this.requests.push(req);
    if (this.fail) throw this.fail;
    const ms = req.matchers.map(compileMatcher);
    const drop = new Set(this.honourWithoutReplicaLabels ? req.withoutReplicaLabels : []);
    const out: FakeSeries[] = [];
    for (const s of this.data) {
      if (!matchLabels(ms, s.labels)) continue;
      const chunks = s.chunks.filter((c) => c.maxTime >= req.minTime && c.minTime <= req.maxTime);
      if (chunks.length === 0) continue;
      out.push({ labels: s.labels.filter((l) => !drop.has(l.name)), chunks: req.skipChunks ? [] : chunks });
    }
    out.sort((a, b) => compareLabels(a.labels, b.labels));
    for (const s of out) yield { type: 'series', series: { labels: [...s.labels], chunks: s.chunks } };
  }

  async labelNames(req: LabelNamesRequest): Promise<LabelNamesResponse> {
    const ms = req.matchers.map(compileMatcher);
    const names = new Set<string>();
    for (const s of this.data) if (matchLabels(ms, s.labels)) for (const l of s.labels) names.add(l.name);
    return { names: [...names].sort(), warnings: [] };
  }

  async labelValues(req: LabelValuesRequest): Promise<LabelValuesResponse> {
    const ms = req.matchers.map(compileMatcher);
    const vals = new Set<string>();
    for (const s of this.data) {
      if (!matchLabels(ms, s.labels)) continue;
      for (const l of s.labels) if (l.name === req.label) vals.add(l.value);
    }
    return { values: [...vals].sort(), warnings: [] };
  }
}
