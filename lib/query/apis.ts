// The querier's Metadata and Targets APIs: gRPC clients for thanos.Metadata/MetricMetadata and
// thanos.Targets/Targets, the fan-out over every endpoint that advertises them in its Info answer
// (metric_metadata / targets), merging as Thanos does (pkg/metadata/metadata.go,
// pkg/targets/targets.go), and the Prometheus-shaped JSON of the answers.
import { GrpcError, grpcCodeName, type GrpcClientConn } from '../sdk/mod.ts';
import { compareLabels, type Label } from '../labels/mod.ts';
import {
  decodeMetricMetadataResponse, encodeMetricMetadataRequest, METRIC_METADATA_METHOD, type Meta, type MetadataMap,
  type MetricMetadataRequest, type MetricMetadataResponse,
} from '../proto/metadata.ts';
import {
  decodeTargetsResponse, encodeTargetsRequest, TARGETS_METHOD, type ActiveTarget, type DroppedTarget, type TargetDiscovery,
  type TargetsRequest, type TargetsResponse, type Timestamp,
} from '../proto/targets.ts';
import { formatJsonFloat, goJsonString } from './format.ts';

export interface MetadataAPI {
  metricMetadata(req: MetricMetadataRequest, signal?: AbortSignal): AsyncIterable<MetricMetadataResponse>;
}

export interface TargetsAPI {
  targets(req: TargetsRequest, signal?: AbortSignal): AsyncIterable<TargetsResponse>;
}

/**
 * gRPC client for the Metadata and Targets services of one endpoint, on a connection the caller
 * dialled (ctx.grpcDial). close() closes it (idempotent; a StoreClient may share the connection).
 */
export class ApisClient implements MetadataAPI, TargetsAPI {
  constructor(private readonly conn: GrpcClientConn) {}

  get address(): string {
    return this.conn.target;
  }

  metricMetadata(req: MetricMetadataRequest, signal?: AbortSignal): AsyncIterable<MetricMetadataResponse> {
    return this.conn.serverStream(METRIC_METADATA_METHOD, req, encodeMetricMetadataRequest, decodeMetricMetadataResponse, signal ? { signal } : {});
  }

  targets(req: TargetsRequest, signal?: AbortSignal): AsyncIterable<TargetsResponse> {
    return this.conn.serverStream(TARGETS_METHOD, req, encodeTargetsRequest, decodeTargetsResponse, signal ? { signal } : {});
  }

  close(): void {
    this.conn.close();
  }
}

export interface ApiSource<T> {
  name: string;
  api: T;
}

function errText(e: unknown): string {
  if (e instanceof GrpcError) return `rpc error: code = ${grpcCodeName(e.code)} desc = ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** Thrown when one endpoint fails and partial response is off (Thanos: ABORT strategy). */
export class FanoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FanoutError';
  }
}

/**
 * Calls every source concurrently; with partial response a failing source becomes a warning
 * ("fetching <what> from <what> client <name>: <err>", Thanos's wording), without it the whole
 * call fails. Answers are returned in source order (deterministic merging).
 */
async function fanout<T, R>(
  sources: ReadonlyArray<ApiSource<T>>, what: string, partial: boolean, signal: AbortSignal | undefined,
  call: (api: T) => AsyncIterable<R>, warningOf: (r: R) => string | undefined,
): Promise<{ answers: R[][]; warnings: string[] }> {
  const warnings: string[] = [];
  const answers = await Promise.all(sources.map(async (s) => {
    const out: R[] = [];
    try {
      for await (const r of call(s.api)) {
        const w = warningOf(r);
        if (w !== undefined) warnings.push(w);
        else out.push(r);
      }
    } catch (e) {
      if (signal?.aborted) throw e;
      const msg = `fetching ${what} from ${what} client ${s.name}: ${errText(e)}`;
      if (!partial) throw new FanoutError(msg);
      warnings.push(msg);
      return [];
    }
    return out;
  }));
  return { answers, warnings };
}

// ---- metadata ----------------------------------------------------------------------------------

/**
 * Thanos's metadataServer: the first answer for a metric takes a place in the map (while `limit`
 * allows: <0 no limit, 0 nothing); later answers for the same metric add the entries not seen yet.
 */
export function mergeMetadata(into: MetadataMap, add: MetadataMap, limit: number): void {
  if (limit === 0) return;
  for (const [name, metas] of Object.entries(add)) {
    const have = Object.prototype.hasOwnProperty.call(into, name) ? into[name] : undefined;
    if (!have) {
      if (limit < 0 || Object.keys(into).length < limit) {
        Object.defineProperty(into, name, { value: [...metas], enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    for (const m of metas) if (!have.some((h) => h.type === m.type && h.help === m.help && h.unit === m.unit)) have.push(m);
  }
}

export async function fanoutMetadata(sources: ReadonlyArray<ApiSource<MetadataAPI>>, req: MetricMetadataRequest, partial: boolean, signal?: AbortSignal): Promise<{ metadata: MetadataMap; warnings: string[] }> {
  const { answers, warnings } = await fanout(sources, 'metadata', partial, signal, (api) => api.metricMetadata(req, signal), (r) => (r.type === 'warning' ? r.warning : undefined));
  const metadata: MetadataMap = {};
  for (const list of answers) for (const r of list) if (r.type === 'metadata') mergeMetadata(metadata, r.metadata, req.limit);
  return { metadata, warnings };
}

/** Go's json of map[string][]Meta: keys sorted bytewise, every field written. */
export function metadataJson(m: MetadataMap): string {
  const keys = Object.keys(m).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const metaJson = (x: Meta) => `{"type":${goJsonString(x.type)},"help":${goJsonString(x.help)},"unit":${goJsonString(x.unit)}}`;
  return `{${keys.map((k) => `${goJsonString(k)}:[${m[k]!.map(metaJson).join(',')}]`).join(',')}}`;
}

// ---- targets -----------------------------------------------------------------------------------

function byName(ls: Label[]): Label[] {
  return [...ls].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareActive(a: ActiveTarget, b: ActiveTarget): number {
  return cmpStr(a.scrapeUrl, b.scrapeUrl) || cmpStr(a.scrapePool, b.scrapePool) ||
    compareLabels(a.discoveredLabels, b.discoveredLabels) || compareLabels(a.labels, b.labels);
}

const HEALTH_ORDER = { down: 0, up: 1, unknown: 2 } as const;

function tsCompare(a: Timestamp, b: Timestamp): number {
  return a.seconds - b.seconds || a.nanos - b.nanos;
}

/** Thanos ActiveTarget.CompareState: by health, then the most recent scrape first. */
function compareState(a: ActiveTarget, b: ActiveTarget): number {
  const d = HEALTH_ORDER[a.health] - HEALTH_ORDER[b.health];
  if (d !== 0) return d;
  return -tsCompare(a.lastScrape, b.lastScrape);
}

/**
 * Thanos's dedupTargets: sort (with replica labels), drop the replica labels, keep one target per
 * remaining identity (for active targets the healthiest, most recently scraped one).
 */
export function dedupTargets(d: TargetDiscovery, replicaLabels: readonly string[]): TargetDiscovery {
  const drop = new Set(replicaLabels);
  const strip = (ls: Label[]) => ls.filter((l) => !drop.has(l.name));
  const active = d.activeTargets.map((t) => ({ ...t, discoveredLabels: byName(t.discoveredLabels) }));
  active.sort(compareActive);
  const outA: ActiveTarget[] = [];
  for (const t0 of active) {
    const t = { ...t0, discoveredLabels: strip(t0.discoveredLabels), labels: strip(t0.labels) };
    const last = outA[outA.length - 1];
    if (!last || compareActive(last, t) !== 0) outA.push(t);
    else if (compareState(last, t) > 0) outA[outA.length - 1] = t;
  }
  const dropped = d.droppedTargets.map((t) => ({ discoveredLabels: byName(t.discoveredLabels) }));
  dropped.sort((a, b) => compareLabels(a.discoveredLabels, b.discoveredLabels));
  const outD: DroppedTarget[] = [];
  for (const t0 of dropped) {
    const t = { discoveredLabels: strip(t0.discoveredLabels) };
    const last = outD[outD.length - 1];
    if (!last || compareLabels(last.discoveredLabels, t.discoveredLabels) !== 0) outD.push(t);
  }
  return { activeTargets: outA, droppedTargets: outD };
}

export async function fanoutTargets(sources: ReadonlyArray<ApiSource<TargetsAPI>>, req: TargetsRequest, replicaLabels: readonly string[], partial: boolean, signal?: AbortSignal): Promise<{ targets: TargetDiscovery; warnings: string[] }> {
  const { answers, warnings } = await fanout(sources, 'targets', partial, signal, (api) => api.targets(req, signal), (r) => (r.type === 'warning' ? r.warning : undefined));
  const all: TargetDiscovery = { activeTargets: [], droppedTargets: [] };
  for (const list of answers) {
    for (const r of list) {
      if (r.type !== 'targets') continue;
      all.activeTargets.push(...r.targets.activeTargets);
      all.droppedTargets.push(...r.targets.droppedTargets);
    }
  }
  return { targets: dedupTargets(all, replicaLabels), warnings };
}

/** Go time.Time.MarshalJSON (RFC 3339 with nanoseconds, trailing zeros trimmed) of a UTC Timestamp. */
export function formatRfc3339Nano(t: Timestamp): string {
  const d = new Date(t.seconds * 1000);
  const y = d.getUTCFullYear();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  let s = `${pad(y, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (t.nanos > 0) s += '.' + String(t.nanos).padStart(9, '0').replace(/0+$/, '');
  return s + 'Z';
}

/** Parses an RFC 3339 time with up to nanosecond precision (Prometheus's lastScrape) into a Timestamp. */
export function parseRfc3339Nano(s: string): Timestamp {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return { seconds: -62135596800, nanos: 0 };
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return { seconds: -62135596800, nanos: 0 };
  return { seconds: Math.floor(ms / 1000), nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
}

function labelsJson(ls: readonly Label[]): string {
  return `{${byName([...ls]).map((l) => `${goJsonString(l.name)}:${goJsonString(l.value)}`).join(',')}}`;
}

/** The /api/v1/targets data, in Prometheus's (and Thanos's) field order. */
export function targetsJson(d: TargetDiscovery): string {
  const active = d.activeTargets.map((t) =>
    `{"discoveredLabels":${labelsJson(t.discoveredLabels)},"labels":${labelsJson(t.labels)},"scrapePool":${goJsonString(t.scrapePool)},` +
    `"scrapeUrl":${goJsonString(t.scrapeUrl)},"globalUrl":${goJsonString(t.globalUrl)},"lastError":${goJsonString(t.lastError)},` +
    `"lastScrape":"${formatRfc3339Nano(t.lastScrape)}","lastScrapeDuration":${formatJsonFloat(t.lastScrapeDuration)},"health":"${t.health}"}`);
  const dropped = d.droppedTargets.map((t) => `{"discoveredLabels":${labelsJson(t.discoveredLabels)}}`);
  return `{"activeTargets":[${active.join(',')}],"droppedTargets":[${dropped.join(',')}]}`;
}
