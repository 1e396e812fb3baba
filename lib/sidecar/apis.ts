// The sidecar's Metadata, Targets, Rules and Exemplars APIs (thanos.Metadata/MetricMetadata,
// thanos.Targets/Targets, thanos.Rules/Rules, thanos.Exemplars/Exemplars), answered from its
// Prometheus's /api/v1/metadata, /api/v1/targets, /api/v1/rules and /api/v1/query_exemplars as Thanos's pkg/metadata/prometheus.go, pkg/targets/prometheus.go and
// pkg/rules/prometheus.go do: one answer frame per call (per group for rules); target labels,
// discovered labels, rule labels, alert labels and exemplar series labels get the external labels
// (replacing same-named ones).
import { GrpcError, GrpcStatus, type GrpcServices } from '../sdk/mod.ts';
import type { Label } from '../labels/mod.ts';
import { parseRfc3339Nano } from '../query/apis.ts';
import {
  decodeMetricMetadataRequest, encodeMetricMetadataResponse, METRIC_METADATA_METHOD, type MetadataMap, type MetricMetadataRequest,
  type MetricMetadataResponse,
} from '../proto/metadata.ts';
import {
  decodeTargetsRequest, encodeTargetsResponse, TARGET_HEALTH, TARGETS_METHOD, TargetsState, type TargetDiscovery, type TargetHealth,
  type TargetsRequest, type TargetsResponse,
} from '../proto/targets.ts';
import { ProtobufError } from '../proto/wire.ts';
import { PromError, type PromClient, type PromRules, type PromTargets } from './promclient.ts';
import { grpcDecoder } from '../store/server.ts';
import { ALERT_STATES, RulesType, ZERO_TIME, type AlertStateName, type Rule, type RuleGroup } from '../proto/rules.ts';
import { rulesServices } from '../rules/grpc.ts';
import { decodeExemplarsRequest, encodeExemplarsResponse, EXEMPLARS_METHOD, type ExemplarData, type ExemplarsRequest, type ExemplarsResponse } from '../proto/exemplars.ts';
import { parseGoFloat } from '../query/format.ts';
import type { PromExemplars } from './promclient.ts';

function grpcErr(e: unknown): unknown {
  if (e instanceof GrpcError) return e;
  if (e instanceof ProtobufError) return new GrpcError(GrpcStatus.InvalidArgument, e.message);
  if (e instanceof PromError) return new GrpcError(GrpcStatus.Unknown, e.message);
  return e;
}

/** Labels from a JSON object with the external labels set over them, sorted by name. */
export function enrichLabels(rec: Record<string, string> | undefined, ext: Record<string, string>): Label[] {
  const m = new Map<string, string>(Object.entries(rec ?? {}));
  for (const [k, v] of Object.entries(ext)) m.set(k, v);
  return [...m].map(([name, value]) => ({ name, value })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function metadataFromProm(d: Record<string, Array<{ type?: string; help?: string; unit?: string }>>): MetadataMap {
  const out: MetadataMap = {};
  for (const [name, metas] of Object.entries(d)) {
    Object.defineProperty(out, name, {
      value: (metas ?? []).map((m) => ({ type: m.type ?? '', help: m.help ?? '', unit: m.unit ?? '' })),
      enumerable: true, writable: true, configurable: true,
    });
  }
  return out;
}

export function targetsFromProm(d: PromTargets, ext: Record<string, string>): TargetDiscovery {
  return {
    activeTargets: (d.activeTargets ?? []).map((t) => ({
      discoveredLabels: enrichLabels(t.discoveredLabels, ext),
      labels: enrichLabels(t.labels, ext),
      scrapePool: t.scrapePool ?? '',
      scrapeUrl: t.scrapeUrl ?? '',
      globalUrl: t.globalUrl ?? '',
      lastError: t.lastError ?? '',
      lastScrape: parseRfc3339Nano(t.lastScrape ?? ''),
      lastScrapeDuration: t.lastScrapeDuration ?? 0,
      health: ((TARGET_HEALTH as readonly string[]).includes(t.health ?? '') ? t.health : 'unknown') as TargetHealth,
    })),
    droppedTargets: (d.droppedTargets ?? []).map((t) => ({ discoveredLabels: enrichLabels(t.discoveredLabels, ext) })),
  };
}

const alertState = (s: string | undefined): AlertStateName => ((ALERT_STATES as readonly string[]).includes(s ?? '') ? s : 'inactive') as AlertStateName;
const ts = (s: string | undefined) => (s ? parseRfc3339Nano(s) : ZERO_TIME);
const plain = (rec: Record<string, string> | undefined): Label[] => enrichLabels(rec, {});

/** Prometheus's /api/v1/rules data as thanos.Rules groups, rule and alert labels with the external labels. */
export function ruleGroupsFromProm(d: PromRules, ext: Record<string, string>): RuleGroup[] {
  return (d.groups ?? []).map((g) => ({
    name: g.name ?? '', file: g.file ?? '', interval: g.interval ?? 0, limit: g.limit ?? 0, evaluationDurationSeconds: g.evaluationTime ?? 0,
    lastEvaluation: ts(g.lastEvaluation), partialResponseStrategy: 0,
    rules: (g.rules ?? []).map((r): Rule => {
      const common = {
        name: r.name ?? '', query: r.query ?? '', labels: enrichLabels(r.labels, ext), health: r.health ?? '', lastError: r.lastError ?? '',
        evaluationDurationSeconds: r.evaluationTime ?? 0, lastEvaluation: ts(r.lastEvaluation),
      };
      if (r.type === 'recording') return { kind: 'recording', ...common };
      return {
        kind: 'alert', ...common, state: alertState(r.state), durationSeconds: r.duration ?? 0, keepFiringForSeconds: r.keepFiringFor ?? 0,
        annotations: plain(r.annotations),
        alerts: (r.alerts ?? []).map((a) => ({
          labels: enrichLabels(a.labels, ext), annotations: plain(a.annotations), state: alertState(a.state),
          ...(a.activeAt ? { activeAt: parseRfc3339Nano(a.activeAt) } : {}), value: a.value ?? '', partialResponseStrategy: 0,
        })),
      };
    }),
  }));
}

/** Prometheus's /api/v1/query_exemplars data as thanos.Exemplars data, series labels with the external labels. */
export function exemplarsFromProm(d: PromExemplars, ext: Record<string, string>): ExemplarData[] {
  return (d ?? []).map((x) => ({
    seriesLabels: enrichLabels(x.seriesLabels, ext),
    exemplars: (x.exemplars ?? []).map((e) => ({ labels: enrichLabels(e.labels, {}), value: parseGoFloat(e.value ?? '') ?? NaN, ts: Math.round((e.timestamp ?? 0) * 1000) })),
  }));
}

export interface SidecarApisOptions {
  client: PromClient;
  externalLabels: () => Record<string, string>;
}

/** gRPC services for thanos.Metadata, thanos.Targets and thanos.Rules backed by Prometheus. */
export function sidecarApiServices(o: SidecarApisOptions): GrpcServices {
  return {
    ...rulesServices(async (r, signal) => {
      const ext = o.externalLabels();
      const type = r.type === RulesType.ALERT ? 'alert' : r.type === RulesType.RECORD ? 'record' : '';
      return ruleGroupsFromProm(await o.client.rules(type, signal), ext);
    }, grpcErr),
    [METRIC_METADATA_METHOD]: {
      kind: 'serverStream',
      requestDecode: grpcDecoder(decodeMetricMetadataRequest, grpcErr),
      responseEncode: (m) => encodeMetricMetadataResponse(m as MetricMetadataResponse),
      async *handler(req, signal) {
        const r = req as MetricMetadataRequest;
        let d;
        try {
          d = await o.client.metadata(r.metric, r.limit, signal);
        } catch (e) {
          throw grpcErr(e);
        }
        yield { type: 'metadata', metadata: metadataFromProm(d) } satisfies MetricMetadataResponse;
      },
    },
    [EXEMPLARS_METHOD]: {
      kind: 'serverStream',
      requestDecode: grpcDecoder(decodeExemplarsRequest, grpcErr),
      responseEncode: (m) => encodeExemplarsResponse(m as ExemplarsResponse),
      async *handler(req, signal) {
        const r = req as ExemplarsRequest;
        let data: ExemplarData[];
        try {
          const ext = o.externalLabels();
          data = exemplarsFromProm(await o.client.exemplars(r.query, r.start, r.end, signal), ext);
        } catch (e) {
          throw grpcErr(e);
        }
        for (const d of data) yield { type: 'data', data: d } satisfies ExemplarsResponse;
      },
    },
    [TARGETS_METHOD]: {
      kind: 'serverStream',
      requestDecode: grpcDecoder(decodeTargetsRequest, grpcErr),
      responseEncode: (m) => encodeTargetsResponse(m as TargetsResponse),
      async *handler(req, signal) {
        const r = req as TargetsRequest;
        const state = r.state === TargetsState.ACTIVE ? 'active' : r.state === TargetsState.DROPPED ? 'dropped' : '';
        let d;
        let ext;
        try {
          ext = o.externalLabels();
          d = await o.client.targets(state, signal);
        } catch (e) {
          throw grpcErr(e);
        }
        yield { type: 'targets', targets: targetsFromProm(d, ext) } satisfies TargetsResponse;
      },
    },
  };
}
