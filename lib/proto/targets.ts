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
import { readLabelSet, writeLabelSet, writeStringField } from './common.ts';
import { decodeMessage, nested, Reader, Writer, WIRE_LEN } from './wire.ts';

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

export function encodeTargetsRequest(m: TargetsRequest): Uint8Array {
  const w = new Writer(8);
  if (m.state !== 0) {
    w.tag(1, 0);
    w.int32(m.state);
  }
  if (m.partialResponseStrategy !== 0) {
    w.tag(2, 0);
    w.int32(m.partialResponseStrategy);
  }
  return w.finish();
}

export function decodeTargetsRequest(buf: Uint8Array): TargetsRequest {
  return decodeMessage(buf, (r) => {
    const m: TargetsRequest = { state: 0, partialResponseStrategy: 0 };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x08: m.state = r.int32(); break;
        case 0x10: m.partialResponseStrategy = r.int32(); break;
        default: r.skip(tag & 7);
      }
    }
    return m;
  });
}

function writeActive(w: Writer, t: ActiveTarget): void {
  w.tag(1, WIRE_LEN);
  const at = w.fork();
  // discoveredLabels and labels are non-nullable in Thanos: always written.
  writeLabelSet(w, 1, t.discoveredLabels);
  writeLabelSet(w, 2, t.labels);
  writeStringField(w, 3, t.scrapePool);
  writeStringField(w, 4, t.scrapeUrl);
  writeStringField(w, 5, t.globalUrl);
  writeStringField(w, 6, t.lastError);
  w.tag(7, WIRE_LEN);
  const at2 = w.fork();
  if (t.lastScrape.seconds !== 0) {
    w.tag(1, 0);
    w.int64(t.lastScrape.seconds);
  }
  if (t.lastScrape.nanos !== 0) {
    w.tag(2, 0);
    w.int32(t.lastScrape.nanos);
  }
  w.ldelim(at2);
  if (t.lastScrapeDuration !== 0) {
    w.tag(8, 1);
    w.double(t.lastScrapeDuration);
  }
  const h = TARGET_HEALTH.indexOf(t.health);
  if (h > 0) {
    w.tag(9, 0);
    w.int32(h);
  }
  w.ldelim(at);
}

export function encodeTargetsResponse(m: TargetsResponse): Uint8Array {
  const w = new Writer(512);
  if (m.type === 'warning') {
    w.tag(2, WIRE_LEN);
    w.string(m.warning);
    return w.finish();
  }
  w.tag(1, WIRE_LEN);
  const at = w.fork();
  for (const t of m.targets.activeTargets) writeActive(w, t);
  for (const t of m.targets.droppedTargets) {
    w.tag(2, WIRE_LEN);
    const at2 = w.fork();
    writeLabelSet(w, 1, t.discoveredLabels);
    w.ldelim(at2);
  }
  w.ldelim(at);
  return w.finish();
}

function readTimestamp(r: Reader): Timestamp {
  return nested(r, (r) => {
    const t: Timestamp = { seconds: 0, nanos: 0 };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x08: t.seconds = r.int64(); break;
        case 0x10: t.nanos = r.int32(); break;
        default: r.skip(tag & 7);
      }
    }
    return t;
  });
}

function readActive(r: Reader): ActiveTarget {
  return nested(r, (r) => {
    const t: ActiveTarget = {
      discoveredLabels: [], labels: [], scrapePool: '', scrapeUrl: '', globalUrl: '', lastError: '',
      lastScrape: { seconds: 0, nanos: 0 }, lastScrapeDuration: 0, health: 'down',
    };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: t.discoveredLabels = readLabelSet(r); break;
        case 0x12: t.labels = readLabelSet(r); break;
        case 0x1a: t.scrapePool = r.string(); break;
        case 0x22: t.scrapeUrl = r.string(); break;
        case 0x2a: t.globalUrl = r.string(); break;
        case 0x32: t.lastError = r.string(); break;
        case 0x3a: t.lastScrape = readTimestamp(r); break;
        case 0x41: t.lastScrapeDuration = r.double(); break;
        case 0x48: t.health = TARGET_HEALTH[r.int32()] ?? 'unknown'; break;
        default: r.skip(tag & 7);
      }
    }
    return t;
  });
}

function readDiscovery(r: Reader): TargetDiscovery {
  return nested(r, (r) => {
    const d: TargetDiscovery = { activeTargets: [], droppedTargets: [] };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: d.activeTargets.push(readActive(r)); break;
        case 0x12: d.droppedTargets.push(nested(r, (r) => {
          const t: DroppedTarget = { discoveredLabels: [] };
          while (r.pos < r.end) {
            const tg = r.tag();
            if (tg === 0x0a) t.discoveredLabels = readLabelSet(r);
            else r.skip(tg & 7);
          }
          return t;
        })); break;
        default: r.skip(tag & 7);
      }
    }
    return d;
  });
}

export function decodeTargetsResponse(buf: Uint8Array): TargetsResponse {
  return decodeMessage(buf, (r) => {
    let res: TargetsResponse = { type: 'targets', targets: { activeTargets: [], droppedTargets: [] } };
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: res = { type: 'targets', targets: readDiscovery(r) }; break;
        case 0x12: res = { type: 'warning', warning: r.string() }; break;
        default: r.skip(tag & 7);
      }
    }
    return res;
  });
}
