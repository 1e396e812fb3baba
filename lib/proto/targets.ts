// thanos.Targets/Targets codecs (proto/thanos/targets.proto; Thanos pkg/targets/targetspb):
//   TargetsRequest{State state=1 (ANY=0, ACTIVE=1, DROPPED=2); PartialResponseStrategy partial_response_strategy=2}
//   TargetsResponse{oneof result {TargetDiscovery targets=1; string warning=2}}
//   TargetDiscovery{repeated ActiveTarget activeTargets=1; repeated DroppedTarget droppedTargets=2}
//   ActiveTarget{LabelSet discoveredLabels=1; LabelSet labels=2; string scrapePool=3; string scrapeUrl=4;
//     string globalUrl=5; string lastError=6; google.protobuf.Timestamp lastScrape=7;
//     double lastScrapeDuration=8; TargetHealth health=9 (DOWN=0, UP=1, UNKNOWN=2)}
//   DroppedTarget{LabelSet discoveredLabels=1}
//   google.protobuf.Timestamp{int64 seconds=1; int32 nanos=2}
import type { Label } from '../labels/mod.ts';
import * as pb from './gen/thanos/targets_pb.ts';
import { decodeGen, encodeGen, fromInt64, labelsFromGen, labelsToGen, toInt64 } from './generated.ts';

export const TARGETS_METHOD = '/thanos.Targets/Targets';

export const TargetsState = { ANY: 0, ACTIVE: 1, DROPPED: 2 } as const;
export const TARGET_HEALTH = ['down', 'up', 'unknown'] as const;
export type TargetHealth = (typeof TARGET_HEALTH)[number];

export interface TargetsRequest {
  state: number;
  partialResponseStrategy: number;
}

/** google.protobuf.Timestamp. Go's zero time.Time is seconds=-62135596800. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface ActiveTarget {
  discoveredLabels: Label[];
  labels: Label[];
  scrapePool: string;
  scrapeUrl: string;
  globalUrl: string;
  lastError: string;
  lastScrape: Timestamp;
  lastScrapeDuration: number;
  health: TargetHealth;
}

export interface DroppedTarget {
  discoveredLabels: Label[];
}

export interface TargetDiscovery {
  activeTargets: ActiveTarget[];
  droppedTargets: DroppedTarget[];
}

export type TargetsResponse = { type: 'targets'; targets: TargetDiscovery } | { type: 'warning'; warning: string };

// Generated codecs (cold path): lib/proto/gen/thanos/targets_pb.ts.

export function encodeTargetsRequest(m: TargetsRequest): Uint8Array {
  return encodeGen(pb.TargetsRequestSchema, { state: m.state, partialResponseStrategy: m.partialResponseStrategy });
}

export function decodeTargetsRequest(buf: Uint8Array): TargetsRequest {
  const g = decodeGen(pb.TargetsRequestSchema, buf);
  return { state: g.state, partialResponseStrategy: g.partialResponseStrategy };
}

export function encodeTargetsResponse(m: TargetsResponse): Uint8Array {
  if (m.type === 'warning') return encodeGen(pb.TargetsResponseSchema, { result: { case: 'warning', value: m.warning } });
  return encodeGen(pb.TargetsResponseSchema, {
    result: {
      case: 'targets',
      value: {
        // discoveredLabels, labels and lastScrape are non-nullable in Thanos: always written.
        activeTargets: m.targets.activeTargets.map((t) => ({
          discoveredLabels: { labels: labelsToGen(t.discoveredLabels) },
          labels: { labels: labelsToGen(t.labels) },
          scrapePool: t.scrapePool,
          scrapeUrl: t.scrapeUrl,
          globalUrl: t.globalUrl,
          lastError: t.lastError,
          lastScrape: { seconds: toInt64(t.lastScrape.seconds), nanos: t.lastScrape.nanos },
          lastScrapeDuration: t.lastScrapeDuration,
          health: Math.max(0, TARGET_HEALTH.indexOf(t.health)),
        })),
        droppedTargets: m.targets.droppedTargets.map((t) => ({ discoveredLabels: { labels: labelsToGen(t.discoveredLabels) } })),
      },
    },
  });
}

export function decodeTargetsResponse(buf: Uint8Array): TargetsResponse {
  const g = decodeGen(pb.TargetsResponseSchema, buf);
  if (g.result.case === 'warning') return { type: 'warning', warning: g.result.value };
  const d = g.result.value;
  return {
    type: 'targets',
    targets: {
      activeTargets: (d?.activeTargets ?? []).map((t) => ({
        discoveredLabels: labelsFromGen(t.discoveredLabels?.labels ?? []),
        labels: labelsFromGen(t.labels?.labels ?? []),
        scrapePool: t.scrapePool,
        scrapeUrl: t.scrapeUrl,
        globalUrl: t.globalUrl,
        lastError: t.lastError,
        lastScrape: { seconds: fromInt64(t.lastScrape?.seconds ?? 0n), nanos: t.lastScrape?.nanos ?? 0 },
        lastScrapeDuration: t.lastScrapeDuration,
        health: TARGET_HEALTH[t.health] ?? 'unknown',
      })),
      droppedTargets: (d?.droppedTargets ?? []).map((t) => ({ discoveredLabels: labelsFromGen(t.discoveredLabels?.labels ?? []) })),
    },
  };
}
