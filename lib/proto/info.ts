// thanos.info.Info/Info codecs (proto/thanos/info.proto; reference §2.3).
import type { ComponentInfo } from '../sdk/mod.ts';
import { labelsFromRecord, type Label } from '../labels/mod.ts';
import { readLabel, readLabelSet, writeBoolField, writeEmptyMessage, writeInt64Field, writeLabelSet, writeStringField } from './common.ts';
import { decodeMessage, Reader, Writer, WIRE_LEN } from './wire.ts';

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
  return new Uint8Array(0);
}

export function decodeInfoRequest(buf: Uint8Array): InfoRequest {
  return decodeMessage(buf, (r) => {
    while (r.pos < r.end) r.skip(r.tag() & 7);
    return {};
  });
}

/**
 * Advertised times at or beyond ±(2^53-1) ms are "no bound" sentinels (some components use
 * ±Number.MAX_SAFE_INTEGER): they go out as math.MaxInt64 / math.MinInt64, as Thanos sends them.
 */
function int64Time(v: number): number {
  if (v >= Number.MAX_SAFE_INTEGER) return 2 ** 63;
  if (v <= -Number.MAX_SAFE_INTEGER) return -(2 ** 63);
  return v;
}

function writeTimeRange(w: Writer, minTime: number, maxTime: number, minField = 1, maxField = 2): void {
  writeInt64Field(w, minField, int64Time(minTime));
  writeInt64Field(w, maxField, int64Time(maxTime));
}

export function encodeInfoResponse(m: InfoResponse): Uint8Array {
  const w = new Writer(128);
  for (const ls of m.labelSets) writeLabelSet(w, 1, ls);
  writeStringField(w, 2, m.componentType);
  if (m.store) {
    const s = m.store;
    w.tag(3, WIRE_LEN);
    const at = w.fork();
    writeTimeRange(w, s.minTime, s.maxTime);
    writeBoolField(w, 3, s.supportsSharding);
    writeBoolField(w, 5, s.supportsWithoutReplicaLabels);
    for (const t of s.tsdbInfos) {
      w.tag(6, WIRE_LEN);
      const at2 = w.fork();
      writeLabelSet(w, 1, t.labels);
      writeTimeRange(w, t.minTime, t.maxTime, 2, 3);
      w.ldelim(at2);
    }
    writeBoolField(w, 7, s.supportsProjections);
    w.ldelim(at);
  }
  if (m.rules) writeEmptyMessage(w, 4);
  if (m.metricMetadata) writeEmptyMessage(w, 5);
  if (m.targets) writeEmptyMessage(w, 6);
  if (m.exemplars) {
    w.tag(7, WIRE_LEN);
    const at = w.fork();
    writeTimeRange(w, m.exemplars.minTime, m.exemplars.maxTime);
    w.ldelim(at);
  }
  if (m.query) writeEmptyMessage(w, 8);
  if (m.status) writeEmptyMessage(w, 9);
  return w.finish();
}

function readEmpty(r: Reader): Record<string, never> {
  const n = r.len();
  const saved = r.push(n);
  while (r.pos < r.end) r.skip(r.tag() & 7);
  r.pop(saved);
  return {};
}

function readTSDBInfo(r: Reader): TSDBInfo {
  const n = r.len();
  const saved = r.push(n);
  const t: TSDBInfo = { labels: [], minTime: 0, maxTime: 0 };
  while (r.pos < r.end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: t.labels = readLabelSet(r); break;
      case 0x10: t.minTime = r.int64(); break;
      case 0x18: t.maxTime = r.int64(); break;
      default: r.skip(tag & 7);
    }
  }
  r.pop(saved);
  return t;
}

function readStoreInfo(r: Reader): StoreInfo {
  const n = r.len();
  const saved = r.push(n);
  const s: StoreInfo = { minTime: 0, maxTime: 0, supportsSharding: false, supportsWithoutReplicaLabels: false, tsdbInfos: [], supportsProjections: false };
  while (r.pos < r.end) {
    const tag = r.tag();
    switch (tag) {
      case 0x08: s.minTime = r.int64(); break;
      case 0x10: s.maxTime = r.int64(); break;
      case 0x18: s.supportsSharding = r.bool(); break;
      case 0x28: s.supportsWithoutReplicaLabels = r.bool(); break;
      case 0x32: s.tsdbInfos.push(readTSDBInfo(r)); break;
      case 0x38: s.supportsProjections = r.bool(); break;
      default: r.skip(tag & 7);
    }
  }
  r.pop(saved);
  return s;
}

function readExemplarsInfo(r: Reader): ExemplarsInfo {
  const n = r.len();
  const saved = r.push(n);
  const e: ExemplarsInfo = { minTime: 0, maxTime: 0 };
  while (r.pos < r.end) {
    const tag = r.tag();
    switch (tag) {
      case 0x08: e.minTime = r.int64(); break;
      case 0x10: e.maxTime = r.int64(); break;
      default: r.skip(tag & 7);
    }
  }
  r.pop(saved);
  return e;
}

export function decodeInfoResponse(buf: Uint8Array): InfoResponse {
  return decodeMessage(buf, (r) => {
    const m: InfoResponse = { labelSets: [], componentType: '' };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: m.labelSets.push(readLabelSet(r)); break;
        case 0x12: m.componentType = r.string(); break;
        case 0x1a: m.store = readStoreInfo(r); break;
        case 0x22: m.rules = readEmpty(r); break;
        case 0x2a: m.metricMetadata = readEmpty(r); break;
        case 0x32: m.targets = readEmpty(r); break;
        case 0x3a: m.exemplars = readExemplarsInfo(r); break;
        case 0x42: m.query = readEmpty(r); break;
        case 0x4a: m.status = readEmpty(r); break;
        default:
          if ((tag >>> 3) <= 9) r.expect(tag, WIRE_LEN);
          r.skip(tag & 7);
      }
    }
    return m;
  });
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
  writeTimeRange(w, m.minTime, m.maxTime, 2, 3);
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
