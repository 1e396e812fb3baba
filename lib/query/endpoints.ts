// The querier's endpoint set: static endpoints (--endpoint, --store), file-discovered ones
// (--endpoint.sd-config-file, --store.sd-files), Info polling, health tracking and removal of
// endpoints that stay unhealthy for --store.unhealthy-timeout (strict endpoints are kept).
import type { Label } from '../labels/mod.ts';
import type { InfoResponse } from '../proto/info.ts';
import type { ApiSource, MetadataAPI, TargetsAPI } from './apis.ts';
import type { StoreAPI } from './querier.ts';
import type { GrpcClientTlsOptions } from '../sdk/mod.ts';
import { ConfigError } from '../sdk/mod.ts';
import { bool, mapping, str, type Obj } from '../config/fields.ts';
import { clientTlsOptions, ClientTlsProblem, withTlsDefaults, type ClientTlsFields } from '../net/grpctls.ts';

export interface EndpointClient extends StoreAPI, Partial<MetadataAPI>, Partial<TargetsAPI> {
  info(signal?: AbortSignal): Promise<InfoResponse>;
  close(): void;
}

/** Makes the client of one endpoint, dialled with the spec's TLS. */
export type ClientFactory = (address: string, spec: EndpointSpec) => EndpointClient;

export interface EndpointSpec {
  address: string;
  /** Strict endpoints are never removed, even when unhealthy. */
  strict: boolean;
  /** Where it came from: 'flag' | 'sd-config' | 'file-sd'. */
  source: string;
  /** gRPC client TLS to dial it with; absent: plaintext. */
  tls?: GrpcClientTlsOptions;
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
      // Changed TLS settings (a reloaded endpoint config) need a new connection; health starts over.
      if (st && JSON.stringify(st.spec.tls ?? null) !== JSON.stringify(spec.tls ?? null)) {
        st.client.close();
        this.states.delete(addr);
      } else if (st) {
        st.spec = spec;
        continue;
      }
      this.states.set(addr, { spec, client: this.factory(addr, spec), info: null, lastCheck: null, lastSuccess: null, lastError: null, failingSince: null, addedAt: this.now() });
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

/** The TLS every endpoint without its own client_config is dialled with. */
export interface GlobalClientTls {
  /** undefined: plaintext. */
  tls?: GrpcClientTlsOptions;
  /** Complete settings the per-endpoint tls_config inherits from (the --grpc-client-tls-* flags). */
  fields: Required<ClientTlsFields>;
}

export interface EndpointSdConfig {
  endpoints: EndpointSpec[];
  /**
   * From a non-empty default_client_config: the TLS of every endpoint without its own settings,
   * including --endpoint and --store.sd-files ones (it replaces the --grpc-client-tls-* flags).
   * Undefined: the flags apply.
   */
  defaultTls?: { tls?: GrpcClientTlsOptions };
}

const TLS_KEYS: ReadonlyArray<[string, keyof ClientTlsFields]> = [
  ['enabled', 'enabled'], ['insecure_skip_verify', 'insecureSkipVerify'], ['cert_file', 'certFile'],
  ['key_file', 'keyFile'], ['ca_file', 'caFile'], ['min_version', 'minVersion'],
];

interface ClientConfig {
  fields: ClientTlsFields;
  serverName: string;
  /** Thanos's UseGlobalTLSOpts: no TLS key and no server name (compression does not count). */
  unset: boolean;
}

/** A client_config / default_client_config block (Thanos clientConfig); keys checked, TLS keys kept "absent" when absent. */
function parseClientConfig(v: unknown, path: string): ClientConfig {
  const o = mapping(v, path, ['tls_config', 'server_name', 'compression']);
  const tlsPath = `${path}.tls_config`;
  const t = mapping(o.tls_config, tlsPath, TLS_KEYS.map(([k]) => k));
  const fields: ClientTlsFields = {};
  for (const [yamlKey, key] of TLS_KEYS) {
    if (t[yamlKey] === undefined || t[yamlKey] === null) continue;
    if (key === 'enabled' || key === 'insecureSkipVerify') fields[key] = bool(t as Obj, yamlKey, tlsPath);
    else fields[key] = str(t as Obj, yamlKey, tlsPath);
  }
  const compression = str(o, 'compression', path);
  // Thanos accepts "none" and "snappy"; snappy is not implemented here and must not be ignored.
  if (compression === 'snappy') throw new ConfigError(`${path}.compression`, 'snappy compression of gRPC requests is not implemented yet (use none)');
  if (compression !== '' && compression !== 'none') throw new ConfigError(`${path}.compression`, `invalid compression: ${compression}, must be 'none' or 'snappy'`);
  const serverName = str(o, 'server_name', path);
  return { fields, serverName, unset: Object.keys(fields).length === 0 && serverName === '' };
}

const TLS_YAML_KEY: Record<keyof ClientTlsFields | 'serverName', string> = {
  enabled: 'tls_config.enabled', insecureSkipVerify: 'tls_config.insecure_skip_verify', certFile: 'tls_config.cert_file',
  keyFile: 'tls_config.key_file', caFile: 'tls_config.ca_file', minVersion: 'tls_config.min_version', serverName: 'server_name',
};

function resolveTls(f: Required<ClientTlsFields>, serverName: string, path: string): GrpcClientTlsOptions | undefined {
  try {
    return clientTlsOptions(f, serverName);
  } catch (e) {
    if (e instanceof ClientTlsProblem) throw new ConfigError(`${path}.${TLS_YAML_KEY[e.field]}`, e.message);
    throw e;
  }
}

/**
 * --endpoint.sd-config(-file): YAML `default_client_config` and `endpoints: [{address, strict, group,
 * service_config, client_config}]` (Thanos cmd/thanos/endpointset.go). TLS resolution as there: an
 * endpoint without client settings uses default_client_config (if given) else the flags; with some,
 * absent tls_config keys are inherited from default_client_config / the flags, unless it sets
 * `enabled: true` (then from the defaults); cert/key/CA/skip-verify without `enabled` mean TLS on.
 * Unlike Thanos, which logs and skips an endpoint whose TLS settings are invalid, the whole file is
 * refused (at startup a configuration error; on reload the previous endpoints are kept).
 */
export function parseEndpointSdConfig(doc: unknown, where: string, global: GlobalClientTls): EndpointSdConfig {
  try {
    return parseSdConfig(doc, global);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

function parseSdConfig(doc: unknown, global: GlobalClientTls): EndpointSdConfig {
  if (doc === null || doc === undefined) return { endpoints: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('expected a mapping with an endpoints list');
  const top = mapping(doc, '', ['endpoints', 'default_client_config']);
  const def = parseClientConfig(top.default_client_config, 'default_client_config');
  let globalTls = global.tls;
  let fallback: ClientTlsFields = global.fields;
  let defaultTls: EndpointSdConfig['defaultTls'];
  if (!def.unset) {
    const complete = withTlsDefaults(def.fields);
    globalTls = resolveTls(complete, def.serverName, 'default_client_config');
    fallback = complete;
    defaultTls = { tls: globalTls };
  }
  const eps = top.endpoints;
  if (eps === undefined || eps === null) return { endpoints: [], defaultTls };
  if (!Array.isArray(eps)) throw new Error('endpoints must be a list');
  const endpoints = eps.map((e, i): EndpointSpec => {
    const path = `endpoints[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error(`${path} must be a mapping`);
    const rec = mapping(e, path, ['address', 'strict', 'group', 'service_config', 'client_config']);
    if (typeof rec.address !== 'string') throw new Error(`${path}.address must be a string`);
    const address = parseEndpointAddress(rec.address);
    if (bool(rec, 'group', path)) throw new Error(`${path}: endpoint groups are not supported`);
    // Thanos: "<addr> service_config is only valid for endpoint groups."
    if (str(rec, 'service_config', path) !== '') throw new Error(`${path}: ${rec.address} service_config is only valid for endpoint groups.`);
    const cc = parseClientConfig(rec.client_config, `${path}.client_config`);
    let tls: GrpcClientTlsOptions | undefined;
    if (cc.unset) tls = globalTls;
    else if (cc.fields.enabled === undefined) tls = resolveTls(withTlsDefaults(cc.fields, fallback), cc.serverName, `${path}.client_config`);
    else if (cc.fields.enabled) tls = resolveTls(withTlsDefaults(cc.fields), cc.serverName, `${path}.client_config`);
    const spec: EndpointSpec = { address, strict: bool(rec, 'strict', path), source: 'sd-config' };
    if (tls) spec.tls = tls;
    return spec;
  });
  return { endpoints, defaultTls };
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
