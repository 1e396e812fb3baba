// The querier's endpoint set: static endpoints (--endpoint, --store), file-discovered ones
// (--endpoint.sd-config-file, --store.sd-files), Info polling, health tracking and removal of
// endpoints that stay unhealthy for --store.unhealthy-timeout (strict endpoints are kept).
import type { Label } from '../labels/mod.ts';
import type { InfoResponse } from '../proto/info.ts';
import type { ApiSource, MetadataAPI, TargetsAPI } from './apis.ts';
import type { StoreAPI } from './querier.ts';

export interface EndpointClient extends StoreAPI, Partial<MetadataAPI>, Partial<TargetsAPI> {
  info(signal?: AbortSignal): Promise<InfoResponse>;
  close(): void;
}

export type ClientFactory = (address: string) => EndpointClient;

export interface EndpointSpec {
  address: string;
  /** Strict endpoints are never removed, even when unhealthy. */
  strict: boolean;
  /** Where it came from: 'flag' | 'sd-config' | 'file-sd'. */
  source: string;
}

export interface EndpointState {
  spec: EndpointSpec;
  client: EndpointClient;
  /** Last successful Info answer (kept while the endpoint is failing, for its type and labels). */
  info: InfoResponse | null;
  lastCheck: number | null;
  lastSuccess: number | null;
  lastError: string | null;
  /** When the current run of failures began (null while healthy). */
  failingSince: number | null;
  addedAt: number;
}

/** One entry of /api/v1/stores (Thanos EndpointStatus JSON). */
export interface EndpointStatus {
  name: string;
  lastCheck: string | null;
  lastError: string | null;
  labelSets: Array<Record<string, string>>;
  minTime: number;
  maxTime: number;
}

export interface EndpointSetOptions {
  /** --store.unhealthy-timeout in ms (default 5m). */
  unhealthyTimeoutMs: number;
  /** --endpoint.info-timeout in ms (default 5s). */
  infoTimeoutMs: number;
  now?: () => number;
  onError?: (address: string, err: string) => void;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Normalises an endpoint address: strips dns+ (resolved by the client), rejects dnssrv+. */
export function parseEndpointAddress(raw: string): string {
  let a = raw.trim();
  if (a.startsWith('dns+')) a = a.slice(4);
  if (a.startsWith('dnssrv+') || a.startsWith('dnssrvnoa+')) {
    throw new Error(`endpoint ${JSON.stringify(raw)}: DNS SRV discovery is not supported; list host:port endpoints`);
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s\/]+):\d{1,5}$/.test(a)) {
    throw new Error(`endpoint ${JSON.stringify(raw)}: expected host:port`);
  }
  const port = Number(a.slice(a.lastIndexOf(':') + 1));
  if (port < 1 || port > 65535) throw new Error(`endpoint ${JSON.stringify(raw)}: port out of range`);
  return a;
}

function labelsRecord(ls: readonly Label[]): Record<string, string> {
  const r: Record<string, string> = {};
  for (const l of ls) r[l.name] = l.value;
  return r;
}

export class EndpointSet {
  private readonly states = new Map<string, EndpointState>();
  private readonly now: () => number;

  constructor(
    private readonly factory: ClientFactory,
    private readonly opts: EndpointSetOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Replaces the wanted endpoint list. New addresses get a client; addresses no longer wanted are
   * dropped (closing their client). Static endpoints should be included in every call.
   */
  setWanted(specs: readonly EndpointSpec[]): void {
    const wanted = new Map<string, EndpointSpec>();
    for (const s of specs) {
      const prev = wanted.get(s.address);
      wanted.set(s.address, prev ? { ...s, strict: prev.strict || s.strict } : s);
    }
    for (const [addr, st] of this.states) {
      if (!wanted.has(addr)) {
        st.client.close();
        this.states.delete(addr);
      }
    }
    for (const [addr, spec] of wanted) {
      const st = this.states.get(addr);
      if (st) st.spec = spec;
      else this.states.set(addr, { spec, client: this.factory(addr), info: null, lastCheck: null, lastSuccess: null, lastError: null, failingSince: null, addedAt: this.now() });
    }
  }

  /** Calls Info on every endpoint (concurrently) and updates health. */
  async update(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.states.values()].map((st) => this.check(st, signal)));
  }

  /**
   * Whether the endpoint has failed for longer than --store.unhealthy-timeout: it is then dropped
   * from the stores page (it is still probed while configured, and comes back once healthy).
   * Strict endpoints are always shown.
   */
  expired(st: EndpointState): boolean {
    return !st.spec.strict && st.failingSince !== null && this.now() - st.failingSince >= this.opts.unhealthyTimeoutMs;
  }

  private async check(st: EndpointState, parent?: AbortSignal): Promise<void> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(parent?.reason);
    parent?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(new Error(`info timeout after ${this.opts.infoTimeoutMs}ms`)), this.opts.infoTimeoutMs);
    try {
      const info = await Promise.race([
        st.client.info(ctl.signal),
        new Promise<never>((_, reject) => ctl.signal.addEventListener('abort', () => reject(ctl.signal.reason instanceof Error ? ctl.signal.reason : new Error('info aborted')), { once: true })),
      ]);
      st.info = info;
      st.lastError = null;
      st.failingSince = null;
      st.lastSuccess = this.now();
    } catch (e) {
      st.lastError = `getting metadata: ${errMessage(e)}`;
      if (st.failingSince === null) st.failingSince = st.lastSuccess ?? st.addedAt;
      this.opts.onError?.(st.spec.address, st.lastError);
    } finally {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
      st.lastCheck = this.now();
    }
  }

  /**
   * Endpoints to query: those whose last Info succeeded and that serve the StoreAPI, plus strict
   * endpoints known to serve it (they are always used, even when the health check fails).
   */
  healthyStores(): EndpointState[] {
    return [...this.states.values()].filter((s) => s.info?.store !== undefined && (s.lastError === null || s.spec.strict));
  }

  /** Healthy endpoints (or strict ones) whose last Info advertises the Metadata API. */
  metadataSources(): Array<ApiSource<MetadataAPI>> {
    const out: Array<ApiSource<MetadataAPI>> = [];
    for (const s of this.states.values()) {
      if (s.info?.metricMetadata === undefined || !(s.lastError === null || s.spec.strict) || !s.client.metricMetadata) continue;
      out.push({ name: s.spec.address, api: s.client as MetadataAPI });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Healthy endpoints (or strict ones) whose last Info advertises the Targets API. */
  targetsSources(): Array<ApiSource<TargetsAPI>> {
    const out: Array<ApiSource<TargetsAPI>> = [];
    for (const s of this.states.values()) {
      if (s.info?.targets === undefined || !(s.lastError === null || s.spec.strict) || !s.client.targets) continue;
      out.push({ name: s.spec.address, api: s.client as TargetsAPI });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  all(): EndpointState[] {
    return [...this.states.values()];
  }

  /** /api/v1/stores data: grouped by component type ("unknown" for never-reached endpoints). */
  statuses(): Record<string, EndpointStatus[]> {
    const out: Record<string, EndpointStatus[]> = {};
    const sorted = [...this.states.values()].filter((st) => !this.expired(st)).sort((a, b) => (a.spec.address < b.spec.address ? -1 : a.spec.address > b.spec.address ? 1 : 0));
    for (const st of sorted) {
      const type = st.info?.componentType || 'unknown';
      (out[type] ??= []).push({
        name: st.spec.address,
        lastCheck: st.lastCheck === null ? null : new Date(st.lastCheck).toISOString(),
        lastError: st.lastError,
        labelSets: (st.info?.labelSets ?? []).map(labelsRecord),
        minTime: st.info?.store?.minTime ?? 0,
        maxTime: st.info?.store?.maxTime ?? 0,
      });
    }
    return out;
  }

  close(): void {
    for (const st of this.states.values()) st.client.close();
    this.states.clear();
  }
}

// ---- endpoint discovery files ----------------------------------------------------------------

/** --endpoint.sd-config: YAML `endpoints: [{address, strict, group}]`. */
export function parseEndpointSdConfig(doc: unknown, where: string): EndpointSpec[] {
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${where}: expected a mapping with an endpoints list`);
  const known = new Set(['endpoints', 'default_client_config']);
  for (const k of Object.keys(doc)) if (!known.has(k)) throw new Error(`${where}: unknown field ${JSON.stringify(k)}`);
  // Thanos 0.43's per-file and per-endpoint gRPC client settings (TLS, server name, compression) are
  // not applied here: refused rather than dialled in plaintext behind the operator's back.
  const unsupported = (v: unknown) => v !== undefined && v !== null && !(typeof v === 'object' && Object.keys(v as object).length === 0) && v !== '';
  if (unsupported((doc as Record<string, unknown>).default_client_config)) {
    throw new Error(`${where}: default_client_config is not implemented yet (use the --grpc-client-tls-* flags for TLS to every endpoint)`);
  }
  const eps = (doc as Record<string, unknown>).endpoints;
  if (eps === undefined || eps === null) return [];
  if (!Array.isArray(eps)) throw new Error(`${where}: endpoints must be a list`);
  return eps.map((e, i) => {
    if (typeof e !== 'object' || e === null) throw new Error(`${where}: endpoints[${i}] must be a mapping`);
    const rec = e as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (!['address', 'strict', 'group', 'service_config', 'client_config'].includes(k)) throw new Error(`${where}: endpoints[${i}]: unknown field ${JSON.stringify(k)}`);
    }
    if (typeof rec.address !== 'string') throw new Error(`${where}: endpoints[${i}].address must be a string`);
    for (const k of ['client_config', 'service_config']) {
      if (unsupported(rec[k])) throw new Error(`${where}: endpoints[${i}].${k} is not implemented yet (use the --grpc-client-tls-* flags for TLS to every endpoint)`);
    }
    if (rec.group) throw new Error(`${where}: endpoints[${i}]: endpoint groups are not supported`);
    return { address: parseEndpointAddress(rec.address), strict: rec.strict === true, source: 'sd-config' };
  });
}

/** Prometheus file_sd format (--store.sd-files): a list of {targets: [...], labels: {...}}. */
export function parseFileSd(doc: unknown, where: string): EndpointSpec[] {
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new Error(`${where}: expected a list of target groups`);
  const out: EndpointSpec[] = [];
  doc.forEach((g, i) => {
    const targets = (g as Record<string, unknown> | null)?.targets;
    if (!Array.isArray(targets)) throw new Error(`${where}: [${i}].targets must be a list`);
    for (const t of targets) {
      if (typeof t !== 'string') throw new Error(`${where}: [${i}].targets must hold strings`);
      out.push({ address: parseEndpointAddress(t), strict: false, source: 'file-sd' });
    }
  });
  return out;
}
