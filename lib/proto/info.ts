// thanos.info.Info/Info codecs (proto/thanos/info.proto; reference §2.3): generated from proto/
// (lib/proto/gen/thanos/info_pb.ts); the legacy thanos.Store/Info message (not in proto/, removed
// upstream) stays hand-written.
import type { ComponentInfo } from '../sdk/mod.ts';
import { labelsFromRecord, type Label } from '../labels/mod.ts';
import { readLabel, readLabelSet, writeInt64Field, writeLabelSet } from './common.ts';
import * as pb from './gen/thanos/info_pb.ts';
import { decodeGen, encodeGen, fromInt64, labelsFromGen, labelsToGen, toInt64 } from './generated.ts';
import { decodeMessage, Writer, WIRE_LEN } from './wire.ts';

export const INFO_METHOD = '/thanos.info.Info/Info';

// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface InfoRequest {}

export interface TSDBInfo {
  labels: Label[];
  minTime: number;
  maxTime: number;
}

export interface StoreInfo {
  minTime: number;
  maxTime: number;
  supportsSharding: boolean;
  supportsWithoutReplicaLabels: boolean;
  tsdbInfos: TSDBInfo[];
  supportsProjections: boolean;
}

export interface ExemplarsInfo {
  minTime: number;
  maxTime: number;
}

/** Presence of a sub-message means the component serves that API. */
export interface InfoResponse {
  labelSets: Label[][];
  /** Thanos component type string: sidecar, store, query, rule, receive, ... */
  componentType: string;
  store?: StoreInfo;
  rules?: Record<string, never>;
  metricMetadata?: Record<string, never>;
  targets?: Record<string, never>;
  exemplars?: ExemplarsInfo;
  query?: Record<string, never>;
  status?: Record<string, never>;
}

export function encodeInfoRequest(_req: InfoRequest = {}): Uint8Array {
  return encodeGen(pb.InfoRequestSchema, {});
}

export function decodeInfoRequest(buf: Uint8Array): InfoRequest {
  decodeGen(pb.InfoRequestSchema, buf);
  return {};
}

/**
 * Advertised times at or beyond ±(2^53-1) ms are "no bound" sentinels (some components use
 * ±Number.MAX_SAFE_INTEGER): they go out as math.MaxInt64 / math.MinInt64, as Thanos sends them.
 */
function int64Time(v: number): bigint {
  if (v >= Number.MAX_SAFE_INTEGER) return toInt64(2 ** 63);
  if (v <= -Number.MAX_SAFE_INTEGER) return toInt64(-(2 ** 63));
  return toInt64(v);
}

const zLabelSet = (ls: readonly Label[]) => ({ labels: labelsToGen(ls) });

export function encodeInfoResponse(m: InfoResponse): Uint8Array {
  return encodeGen(pb.InfoResponseSchema, {
    labelSets: m.labelSets.map(zLabelSet),
    ComponentType: m.componentType,
    store: m.store && {
      minTime: int64Time(m.store.minTime),
      maxTime: int64Time(m.store.maxTime),
      supportsSharding: m.store.supportsSharding,
      supportsWithoutReplicaLabels: m.store.supportsWithoutReplicaLabels,
      tsdbInfos: m.store.tsdbInfos.map((t) => ({ labels: zLabelSet(t.labels), minTime: int64Time(t.minTime), maxTime: int64Time(t.maxTime) })),
      supportsProjections: m.store.supportsProjections,
    },
    rules: m.rules && {},
    metricMetadata: m.metricMetadata && {},
    targets: m.targets && {},
    exemplars: m.exemplars && { minTime: int64Time(m.exemplars.minTime), maxTime: int64Time(m.exemplars.maxTime) },
    query: m.query && {},
    status: m.status && {},
  });
}

export function decodeInfoResponse(buf: Uint8Array): InfoResponse {
  const g = decodeGen(pb.InfoResponseSchema, buf);
  const m: InfoResponse = { labelSets: g.labelSets.map((ls) => labelsFromGen(ls.labels)), componentType: g.ComponentType };
  if (g.store) {
    const s = g.store;
    m.store = {
      minTime: fromInt64(s.minTime),
      maxTime: fromInt64(s.maxTime),
      supportsSharding: s.supportsSharding,
      supportsWithoutReplicaLabels: s.supportsWithoutReplicaLabels,
      tsdbInfos: s.tsdbInfos.map((t) => ({ labels: labelsFromGen(t.labels?.labels ?? []), minTime: fromInt64(t.minTime), maxTime: fromInt64(t.maxTime) })),
      supportsProjections: s.supportsProjections,
    };
  }
  if (g.rules) m.rules = {};
  if (g.metricMetadata) m.metricMetadata = {};
  if (g.targets) m.targets = {};
  if (g.exemplars) m.exemplars = { minTime: fromInt64(g.exemplars.minTime), maxTime: fromInt64(g.exemplars.maxTime) };
  if (g.query) m.query = {};
  if (g.status) m.status = {};
  return m;
}

/** Builds the Info API answer from a component's ComponentInfo (host/index.ts). */
export function infoResponseFromComponentInfo(ci: ComponentInfo): InfoResponse {
  const m: InfoResponse = {
    labelSets: (ci.labelSets ?? []).map((rec) => labelsFromRecord(rec) as Label[]),
    componentType: ci.componentType.toLowerCase(),
  };
  if (ci.store) {
    m.store = {
      minTime: ci.store.minTime,
      maxTime: ci.store.maxTime,
      supportsSharding: ci.store.supportsSharding ?? false,
      supportsWithoutReplicaLabels: ci.store.supportsWithoutReplicaLabels ?? false,
      tsdbInfos: (ci.store.tsdbInfos ?? []).map((t) => ({ labels: labelsFromRecord(t.labels) as Label[], minTime: t.minTime, maxTime: t.maxTime })),
      supportsProjections: false,
    };
  }
  if (ci.rules) m.rules = {};
  if (ci.metricMetadata) m.metricMetadata = {};
  if (ci.targets) m.targets = {};
  if (ci.exemplars) m.exemplars = { minTime: ci.exemplars.minTime, maxTime: ci.exemplars.maxTime };
  if (ci.query) m.query = {};
  return m;
}

// ---------------------------------------------------------------------------------------------
// Legacy thanos.Store/Info (removed in Thanos v0.37; older sidecars/stores only serve this one):
// InfoResponse{repeated Label labels=1 (deprecated); int64 min_time=2; int64 max_time=3;
// StoreType storeType=4; repeated LabelSet label_sets=5}.

export const LEGACY_STORE_INFO_METHOD = '/thanos.Store/Info';
export const LEGACY_STORE_TYPES = ['unknown', 'query', 'rule', 'sidecar', 'store', 'receive', 'debug'] as const;

export interface LegacyStoreInfo {
  labels: Label[];
  minTime: number;
  maxTime: number;
  storeType: number;
  labelSets: Label[][];
}

export function encodeLegacyStoreInfo(m: LegacyStoreInfo): Uint8Array {
  const w = new Writer(64);
  for (const l of m.labels) {
    w.tag(1, WIRE_LEN);
    const at = w.fork();
    if (l.name) { w.byte(0x0a); w.string(l.name); }
    if (l.value) { w.byte(0x12); w.string(l.value); }
    w.ldelim(at);
  }
  writeInt64Field(w, 2, fromInt64(int64Time(m.minTime)));
  writeInt64Field(w, 3, fromInt64(int64Time(m.maxTime)));
  if (m.storeType) { w.byte(0x20); w.int32(m.storeType); }
  for (const ls of m.labelSets) writeLabelSet(w, 5, ls);
  return w.finish();
}

export function decodeLegacyStoreInfo(buf: Uint8Array): LegacyStoreInfo {
  return decodeMessage(buf, (r) => {
    const m: LegacyStoreInfo = { labels: [], minTime: 0, maxTime: 0, storeType: 0, labelSets: [] };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: m.labels.push(readLabel(r)); break;
        case 0x10: m.minTime = r.int64(); break;
        case 0x18: m.maxTime = r.int64(); break;
        case 0x20: m.storeType = r.int32(); break;
        case 0x2a: m.labelSets.push(readLabelSet(r)); break;
        default:
          if ((tag >>> 3) <= 5) r.expect(tag, (tag >>> 3) === 1 || (tag >>> 3) === 5 ? WIRE_LEN : 0);
          r.skip(tag & 7);
      }
    }
    return m;
  });
}

/** What a legacy Store/Info answer means in today's Info API terms (a StoreAPI with that range). */
export function infoFromLegacy(m: LegacyStoreInfo): InfoResponse {
  const sets = m.labelSets.length > 0 ? m.labelSets : m.labels.length > 0 ? [m.labels] : [];
  return {
    labelSets: sets,
    componentType: LEGACY_STORE_TYPES[m.storeType] ?? 'unknown',
    store: { minTime: m.minTime, maxTime: m.maxTime, supportsSharding: false, supportsWithoutReplicaLabels: false, tsdbInfos: [], supportsProjections: false },
  };
}
