// Thanos's --tracing.config / --tracing.config-file YAML (pkg/tracing/client): `type:` and `config:`.
// OTLP (gRPC and HTTP/protobuf exporters) and JAEGER (the collector's HTTP Thrift endpoint) are
// implemented; the other providers Thanos knows are refused by name. Unlike upstream, whose
// provider blocks are decoded non-strictly, an unknown key is an error, and so is a key whose
// behaviour cannot be reproduced here (it names the key and why).
import { isMap, isScalar, LineCounter, parseDocument } from '../cjs/yaml.ts';
import { ConfigError } from '../sdk/errors.ts';
import { bool, int, join, mapping, str, stringMap, type Obj } from '../config/fields.ts';
import { tryParseGoDuration } from '../duration/mod.ts';
import { parseTlsFiles, type TlsFiles } from '../net/tlsclient.ts';

export class TracingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TracingConfigError';
  }
}

/** Providers Thanos accepts in `type:` that this implementation does not have (yet). */
export const REFUSED_TRACING_TYPES = ['STACKDRIVER', 'GOOGLE_CLOUD', 'ELASTIC_APM', 'LIGHTSTEP', 'DATADOG'] as const;

/** Span attribute that forces sampling (Thanos's migration.ForceTracingAttributeKey). */
export const FORCE_TRACING_ATTRIBUTE = 'thanos.force_tracing';

/** A tls_config block (lib/net/tlsclient.ts owns its parsing). */
export type TlsSettings = TlsFiles;

/** A sampler as the OTel SDK composes them; `parentBased` wraps the root sampler. */
export type SamplerSpec =
  | { kind: 'always_on' }
  | { kind: 'always_off' }
  | { kind: 'ratio'; ratio: number }
  | { kind: 'parent_based'; root: SamplerSpec; localParentSampled?: SamplerSpec; remoteParentSampled?: SamplerSpec };

export interface OtlpTracingConfig {
  type: 'OTLP';
  clientType: 'grpc' | 'http';
  /** "" = not set: the host uses its default (the component name). */
  serviceName: string;
  resourceAttributes: Record<string, string>;
  /** The exporter URL: http(s)://host:port for gRPC, http(s)://host:port/url_path for HTTP. */
  url: string;
  insecure: boolean;
  compression: 'gzip' | 'none';
  timeoutMs: number;
  headers: Record<string, string>;
  tls: TlsSettings;
  sampler: SamplerSpec;
}

export interface JaegerTracingConfig {
  type: 'JAEGER';
  serviceName: string;
  /** From `tags` (k=v,k2=${ENV:default}); resource attributes as upstream. */
  resourceAttributes: Record<string, string>;
  /** The collector's HTTP Thrift endpoint (e.g. http://127.0.0.1:14268/api/traces). */
  endpoint: string;
  user: string;
  password: string;
  sampler: SamplerSpec;
  maxQueueSize?: number;
  flushIntervalMs?: number;
  /** Deprecated keys that upstream accepts and ignores with an info log; logged the same way. */
  deprecated: string[];
}

export type TracingConfig = OtlpTracingConfig | JaegerTracingConfig;

const TOP_KEYS = ['type', 'config'];

/** Parses the YAML text of --tracing.config(-file). `source` names it in errors. */
export function parseTracingConfig(text: string, source: string, env: Record<string, string | undefined> = process.env): TracingConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new TracingConfigError(`${source}${line ? `:${line}` : ''}: parsing config tracing YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new TracingConfigError(`${source}: empty tracing configuration (expected "type:" and "config:")`);
  }
  if (!isMap(root)) throw new TracingConfigError(`${source}:1: tracing configuration must be a mapping with type, config`);
  const lineOf = (key: string): string => {
    const first = key.split('.')[0];
    const item = root.items.find((i) => isScalar(i.key) && String(i.key.value) === first);
    const off = (item?.key as { range?: number[] } | undefined)?.range?.[0];
    return off !== undefined ? `:${lc.linePos(off).line}` : '';
  };
  try {
    return tracingConfigFromObject(doc.toJS() as Obj, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new TracingConfigError(`${source}${lineOf(err.key)}: ${err.message}`);
    throw err;
  }
}

/** Validates an already-parsed object with the same rules; errors are ConfigErrors naming the key path. */
export function tracingConfigFromObject(obj: Obj, env: Record<string, string | undefined> = process.env): TracingConfig {
  const top = mapping(obj, '', TOP_KEYS);
  const rawType = top.type;
  if (typeof rawType !== 'string' || rawType.trim() === '') throw new ConfigError('type', 'must be a non-empty string (OTLP or JAEGER)');
  const type = rawType.trim().toUpperCase();
  if ((REFUSED_TRACING_TYPES as readonly string[]).includes(type)) {
    throw new ConfigError('type', `tracing with type ${type} is not implemented yet (implemented: OTLP, JAEGER)`);
  }
  switch (type) {
    case 'OTLP':
      return parseOtlp(top.config, 'config');
    case 'JAEGER':
      return parseJaeger(top.config, 'config', env);
    default:
      throw new ConfigError('type', `tracing with type ${rawType} is not supported`);
  }
}

/** A Go time.Duration as yaml.v2 decodes it: "10s", "1m30s", or an integer of nanoseconds. Returns ms. */
function goDuration(o: Obj, key: string, path: string, defMs: number): number {
  const v = o[key];
  if (v === undefined || v === null) return defMs;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v / 1e6;
  if (typeof v === 'string') {
    const ms = tryParseGoDuration(v.trim());
    if (ms !== null && ms >= 0) return ms;
  }
  throw new ConfigError(join(path, key), `invalid duration ${JSON.stringify(v)} (expected e.g. 10s, 500ms, 1m30s)`);
}

function float(o: Obj, key: string, path: string, def: number): number {
  const v = o[key];
  if (v === undefined || v === null) return def;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : NaN;
  if (!Number.isFinite(n)) throw new ConfigError(join(path, key), `expected a number, got ${JSON.stringify(v)}`);
  return n;
}

const OTLP_KEYS = [
  'client_type', 'service_name', 'resource_attributes', 'reconnection_period', 'compression', 'insecure', 'endpoint',
  'url_path', 'timeout', 'retry_config', 'headers', 'tls_config', 'sampler_type', 'sampler_param',
];
const RETRY_KEYS = ['retry_enabled', 'retry_initial_interval', 'retry_max_interval', 'retry_max_elapsed_time'];

/** Thanos's OTLP sampler_type values (compared lower-cased, as upstream). */
export const OTLP_SAMPLER_TYPES = [
  'alwayssample', 'neversample', 'traceidratiobased', 'parentbasedalwayssample', 'parentbasedneversample', 'parentbasedtraceidratiobased',
] as const;

function parseOtlp(v: unknown, path: string): OtlpTracingConfig {
  const o = mapping(v, path, OTLP_KEYS);
  const clientType = str(o, 'client_type', path);
  if (clientType !== 'grpc' && clientType !== 'http') {
    throw new ConfigError(join(path, 'client_type'), `otlp: invalid client type ${JSON.stringify(clientType)}. Only 'http' and 'grpc' are accepted.`);
  }
  if (goDuration(o, 'reconnection_period', path, 0) !== 0) {
    throw new ConfigError(join(path, 'reconnection_period'), 'is not implemented yet (the gRPC exporter reconnects with grpc-js\'s own backoff)');
  }
  const retry = mapping(o.retry_config, join(path, 'retry_config'), RETRY_KEYS);
  if (bool(retry, 'retry_enabled', join(path, 'retry_config'))) {
    throw new ConfigError(join(path, 'retry_config.retry_enabled'), 'is not implemented yet (the OpenTelemetry JS exporter retries with its own fixed policy; its intervals cannot be set)');
  }
  for (const k of RETRY_KEYS.slice(1)) {
    if (goDuration(retry, k, join(path, 'retry_config'), 0) !== 0) {
      throw new ConfigError(join(path, `retry_config.${k}`), 'has no effect without retry_enabled: true, which is not implemented yet');
    }
  }
  const compressionRaw = str(o, 'compression', path);
  // Upstream passes only "gzip" on; any other value means no compression there. A typo should not
  // quietly mean "none" here: only the two spellings are accepted.
  if (compressionRaw !== '' && compressionRaw !== 'gzip' && compressionRaw !== 'none') {
    throw new ConfigError(join(path, 'compression'), `unsupported compression ${JSON.stringify(compressionRaw)} (expected gzip, none or empty)`);
  }
  const insecure = bool(o, 'insecure', path);
  const tls = parseTlsFiles(o.tls_config, join(path, 'tls_config'));
  if (insecure && (tls.caFile || tls.certFile || tls.serverName || tls.insecureSkipVerify)) {
    throw new ConfigError(join(path, 'tls_config'), 'has no effect with insecure: true (plain-text connection)');
  }
  if (clientType === 'grpc' && tls.insecureSkipVerify) {
    throw new ConfigError(join(path, 'tls_config.insecure_skip_verify'), 'is not implemented yet for client_type grpc (grpc-js cannot skip certificate verification)');
  }
  const endpointRaw = str(o, 'endpoint', path) || (clientType === 'grpc' ? 'localhost:4317' : 'localhost:4318');
  // Go's WithEndpoint takes host:port; the scheme comes from `insecure`.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpointRaw) || endpointRaw.includes('/')) {
    throw new ConfigError(join(path, 'endpoint'), `expected host:port without a scheme or path, got ${JSON.stringify(endpointRaw)} (the scheme follows insecure; the HTTP path is url_path)`);
  }
  const urlPathRaw = str(o, 'url_path', path);
  if (clientType === 'grpc' && urlPathRaw !== '') throw new ConfigError(join(path, 'url_path'), 'applies to client_type http only');
  const urlPath = urlPathRaw === '' ? '/v1/traces' : urlPathRaw.startsWith('/') ? urlPathRaw : `/${urlPathRaw}`;
  const scheme = insecure ? 'http' : 'https';
  const url = clientType === 'grpc' ? `${scheme}://${endpointRaw}` : `${scheme}://${endpointRaw}${urlPath}`;
  try {
    new URL(url);
  } catch {
    throw new ConfigError(join(path, 'endpoint'), `invalid endpoint ${JSON.stringify(endpointRaw)}`);
  }
  return {
    type: 'OTLP',
    clientType,
    serviceName: str(o, 'service_name', path),
    resourceAttributes: stringMap(o, 'resource_attributes', path),
    url,
    insecure,
    compression: compressionRaw === 'gzip' ? 'gzip' : 'none',
    timeoutMs: goDuration(o, 'timeout', path, 10_000) || 10_000,
    headers: stringMap(o, 'headers', path),
    tls,
    sampler: otlpSampler(o, path),
  };
}

function ratio(o: Obj, path: string): number {
  const r = float(o, 'sampler_param', path, NaN);
  if (Number.isNaN(r)) throw new ConfigError(join(path, 'sampler_param'), 'is required by this sampler_type (a ratio between 0 and 1)');
  if (r < 0 || r > 1) throw new ConfigError(join(path, 'sampler_param'), `must be between 0 and 1, got ${r}`);
  return r;
}

function otlpSampler(o: Obj, path: string): SamplerSpec {
  const t = str(o, 'sampler_type', path).toLowerCase();
  switch (t) {
    case '':
      // Upstream's default: ParentBased(TraceIDRatioBased(1.0)).
      if (o.sampler_param !== undefined && o.sampler_param !== null && o.sampler_param !== '') {
        throw new ConfigError(join(path, 'sampler_param'), 'has no effect without sampler_type');
      }
      return { kind: 'parent_based', root: { kind: 'ratio', ratio: 1 } };
    case 'alwayssample':
      return { kind: 'always_on' };
    case 'neversample':
      return { kind: 'always_off' };
    case 'traceidratiobased':
      return { kind: 'ratio', ratio: ratio(o, path) };
    case 'parentbasedalwayssample':
      return { kind: 'parent_based', root: { kind: 'always_on' } };
    case 'parentbasedneversample':
      return { kind: 'parent_based', root: { kind: 'always_off' } };
    case 'parentbasedtraceidratiobased':
      return { kind: 'parent_based', root: { kind: 'ratio', ratio: ratio(o, path) } };
    default:
      throw new ConfigError(join(path, 'sampler_type'), `unknown sampler_type ${JSON.stringify(t)} (expected one of: ${OTLP_SAMPLER_TYPES.join(', ')})`);
  }
}

const JAEGER_KEYS = [
  'service_name', 'disabled', 'rpc_metrics', 'tags', 'sampler_type', 'sampler_param', 'sampler_manager_host_port',
  'sampler_max_operations', 'sampler_refresh_interval', 'sampler_parent_config', 'sampling_server_url',
  'operation_name_late_binding', 'initial_sampler_rate', 'reporter_max_queue_size', 'reporter_flush_interval',
  'reporter_log_spans', 'reporter_disable_attempt_reconnecting', 'reporter_attempt_reconnect_interval', 'endpoint',
  'user', 'password', 'agent_host', 'agent_port', 'traceid_128bit',
];

/** Keys of Jaeger's remote (and rate-limiting) sampler, which polls the agent's sampling endpoint. */
const REMOTE_SAMPLER_KEYS = ['sampler_manager_host_port', 'sampler_max_operations', 'sampler_refresh_interval', 'sampling_server_url', 'operation_name_late_binding', 'initial_sampler_rate'];
/** Keys of the agent (UDP) reporter. */
const AGENT_KEYS = ['agent_host', 'agent_port', 'reporter_log_spans', 'reporter_disable_attempt_reconnecting', 'reporter_attempt_reconnect_interval'];

function given(o: Obj, key: string): boolean {
  const v = o[key];
  return v !== undefined && v !== null && v !== '' && v !== 0 && v !== false && v !== '0';
}

/**
 * Jaeger's `tags`: comma-separated key=value, a value may be ${ENV:default} (upstream's parseTags:
 * pairs without "=" are skipped).
 */
export function parseJaegerTags(tags: string, env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of tags.split(',')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const k = pair.slice(0, eq).trim();
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('${') && v.endsWith('}')) {
      const inner = v.slice(2, -1);
      const colon = inner.indexOf(':');
      const name = colon < 0 ? inner : inner.slice(0, colon);
      const def = colon < 0 ? '' : inner.slice(colon + 1);
      v = env[name] ?? '';
      if (v === '' && def !== '') v = def;
    }
    out[k] = v;
  }
  return out;
}

function parseJaeger(v: unknown, path: string, env: Record<string, string | undefined>): JaegerTracingConfig {
  const o = mapping(v, path, JAEGER_KEYS);
  for (const k of AGENT_KEYS) {
    if (given(o, k)) throw new ConfigError(join(path, k), 'is not implemented yet: spans go to the collector\'s HTTP endpoint (set endpoint), not to an agent over UDP (the OpenTelemetry JS Jaeger exporter speaks binary Thrift to port 6832, upstream compact Thrift to 6831)');
  }
  const endpoint = str(o, 'endpoint', path);
  if (endpoint === '') {
    throw new ConfigError(join(path, 'endpoint'), 'is required here: without it upstream reports to a local agent over UDP, which is not implemented yet (e.g. endpoint: http://127.0.0.1:14268/api/traces)');
  }
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new ConfigError(join(path, 'endpoint'), `invalid URL ${JSON.stringify(endpoint)} (e.g. http://127.0.0.1:14268/api/traces)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(join(path, 'endpoint'), `expected an http or https URL, got ${JSON.stringify(endpoint)}`);
  const samplerType = str(o, 'sampler_type', path);
  for (const k of REMOTE_SAMPLER_KEYS) {
    if (given(o, k)) throw new ConfigError(join(path, k), 'belongs to the remote/rate-limiting sampler, which is not implemented yet');
  }
  const param = float(o, 'sampler_param', path, 0);
  let root: SamplerSpec;
  switch (samplerType) {
    case 'const':
      // Upstream rounds and clamps the parameter: 1 samples everything, anything else nothing.
      root = Math.round(Math.min(1, Math.max(0, param))) === 1 ? { kind: 'always_on' } : { kind: 'always_off' };
      break;
    case 'probabilistic':
      if (param < 0 || param > 1) throw new ConfigError(join(path, 'sampler_param'), `must be between 0 and 1 for the probabilistic sampler, got ${param}`);
      root = { kind: 'ratio', ratio: param };
      break;
    case '':
    case 'ratelimiting':
    case 'remote':
      throw new ConfigError(join(path, 'sampler_type'), `${samplerType === '' ? 'empty (upstream\'s default, the rate-limiting sampler)' : JSON.stringify(samplerType)}: Jaeger's remote and rate-limiting samplers are not implemented yet; set sampler_type: const or probabilistic`);
    default:
      throw new ConfigError(join(path, 'sampler_type'), `unknown sampler_type ${JSON.stringify(samplerType)} (expected const or probabilistic; remote and ratelimiting are not implemented yet)`);
  }
  const parentPath = join(path, 'sampler_parent_config');
  const parent = mapping(o.sampler_parent_config, parentPath, ['local_parent_sampled', 'remote_parent_sampled']);
  // Upstream: ParentBased(root), and with these options a sampled parent is decided by root too.
  const sampler: SamplerSpec = {
    kind: 'parent_based',
    root,
    localParentSampled: bool(parent, 'local_parent_sampled', parentPath) ? root : undefined,
    remoteParentSampled: bool(parent, 'remote_parent_sampled', parentPath) ? root : undefined,
  };
  const deprecated: string[] = [];
  if (bool(o, 'rpc_metrics', path)) deprecated.push('RPC Metrics');
  if (bool(o, 'traceid_128bit', path)) deprecated.push('Gen128Bit');
  if (bool(o, 'disabled', path)) deprecated.push('Disabled');
  const maxQueue = int(o, 'reporter_max_queue_size', path, 0, { min: 0 });
  const flush = goDuration(o, 'reporter_flush_interval', path, 0);
  return {
    type: 'JAEGER',
    serviceName: str(o, 'service_name', path),
    resourceAttributes: parseJaegerTags(str(o, 'tags', path), env),
    endpoint,
    user: str(o, 'user', path),
    password: str(o, 'password', path),
    sampler,
    maxQueueSize: maxQueue || undefined,
    flushIntervalMs: flush || undefined,
    deprecated,
  };
}
