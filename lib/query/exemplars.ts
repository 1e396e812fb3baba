// The Exemplars API on both sides: the gRPC client (thanos.Exemplars/Exemplars), the querier's
// fan-out over every endpoint advertising it in its Info answer (exemplars), with Thanos's dedup
// (pkg/exemplars/exemplars.go: replica labels removed from the series labels, equal series merged,
// their exemplars sorted and deduplicated), and /api/v1/query_exemplars's JSON in Prometheus's shape.
import type { GrpcClientConn } from '../sdk/mod.ts';
import { compareLabels, type Label } from '../labels/mod.ts';
import {
  decodeExemplarsResponse, encodeExemplarsRequest, EXEMPLARS_METHOD, type ExemplarData, type ExemplarsRequest, type ExemplarsResponse,
} from '../proto/exemplars.ts';
import { FanoutError, type ApiSource } from './apis.ts';
import { formatSampleValue, formatTimestamp, goJsonString } from './format.ts';

export interface ExemplarsAPI {
  exemplars(req: ExemplarsRequest, signal?: AbortSignal): AsyncIterable<ExemplarsResponse>;
}

export class ExemplarsClient implements ExemplarsAPI {
  constructor(private readonly conn: GrpcClientConn) {}
  exemplars(req: ExemplarsRequest, signal?: AbortSignal): AsyncIterable<ExemplarsResponse> {
    return this.conn.serverStream(EXEMPLARS_METHOD, req, encodeExemplarsRequest, decodeExemplarsResponse, signal ? { signal } : {});
  }
}

/** Healthy (or strict) endpoints whose Info advertises the Exemplars API and whose client speaks it. */
export function exemplarsSources(all: ReadonlyArray<{ spec: { address: string; strict?: boolean }; info?: { exemplars?: unknown } | null; lastError: string | null; client: unknown }>): Array<ApiSource<ExemplarsAPI>> {
  const out: Array<ApiSource<ExemplarsAPI>> = [];
  for (const s of all) {
    const api = s.client as Partial<ExemplarsAPI>;
    if (s.info?.exemplars === undefined || !(s.lastError === null || s.spec.strict) || typeof api.exemplars !== 'function') continue;
    out.push({ name: s.spec.address, api: api as ExemplarsAPI });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const byName = (ls: Label[]) => [...ls].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** Thanos's dedupExemplarsResponse. */
export function dedupExemplars(data: readonly ExemplarData[], replicaLabels: readonly string[]): ExemplarData[] {
  const drop = new Set(replicaLabels);
  const ds = data.map((d) => ({ seriesLabels: byName(d.seriesLabels.filter((l) => !drop.has(l.name))), exemplars: [...d.exemplars] }));
  ds.sort((a, b) => compareLabels(a.seriesLabels, b.seriesLabels));
  const out: ExemplarData[] = [];
  for (const d of ds) {
    const last = out[out.length - 1];
    if (last && compareLabels(last.seriesLabels, d.seriesLabels) === 0) last.exemplars.push(...d.exemplars);
    else out.push(d);
  }
  for (const d of out) {
    const ex = d.exemplars.map((e) => ({ ...e, labels: byName(e.labels) }))
      .sort((a, b) => a.ts - b.ts || compareLabels(a.labels, b.labels) || a.value - b.value);
    d.exemplars = ex.filter((e, i) => i === 0 || !(e.ts === ex[i - 1]!.ts && Object.is(e.value, ex[i - 1]!.value) && compareLabels(e.labels, ex[i - 1]!.labels) === 0));
  }
  return out;
}

export async function fanoutExemplars(
  sources: ReadonlyArray<ApiSource<ExemplarsAPI>>, req: ExemplarsRequest, replicaLabels: readonly string[], partial: boolean, signal?: AbortSignal,
): Promise<{ data: ExemplarData[]; warnings: string[] }> {
  const warnings: string[] = [];
  const answers = await Promise.all(sources.map(async (s) => {
    const out: ExemplarData[] = [];
    try {
      for await (const r of s.api.exemplars(req, signal)) {
        if (r.type === 'warning') warnings.push(r.warning);
        else out.push(r.data);
      }
    } catch (e) {
      if (signal?.aborted) throw e;
      const msg = `fetching exemplars from exemplars client ${s.name}: ${e instanceof Error ? e.message : String(e)}`;
      if (!partial) throw new FanoutError(msg);
      warnings.push(msg);
      return [];
    }
    return out;
  }));
  return { data: dedupExemplars(answers.flat(), replicaLabels), warnings };
}

function labelsJson(ls: readonly Label[]): string {
  return `{${byName([...ls]).map((l) => `${goJsonString(l.name)}:${goJsonString(l.value)}`).join(',')}}`;
}

/** The data of /api/v1/query_exemplars (Prometheus's exemplar.QueryResult list). */
export function exemplarsJson(data: readonly ExemplarData[]): string {
  return `[${data.map((d) => `{"seriesLabels":${labelsJson(d.seriesLabels)},"exemplars":[${d.exemplars.map((e) =>
    `{"labels":${labelsJson(e.labels)},"value":"${formatSampleValue(e.value)}","timestamp":${formatTimestamp(e.ts)}}`).join(',')}]}`).join(',')}]`;
}
