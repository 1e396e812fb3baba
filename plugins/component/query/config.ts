// `thanos query` flags and the config object they fill (also accepted from plugins.yaml).
import { ConfigError, notImplementedYet, refuseCommonFlags, type FlagSpec, type GrpcClientTlsOptions } from '../../../lib/sdk/mod.ts';
import {
  configBool as bool, configDuration as dur, configInt as int, configMapping, configString as str, configStrings as strings, rejectHostKeys,
  rejectUnknownKeys, refuseUnimplemented,
} from '../../../lib/config/fields.ts';
import { DEDUP_ALGORITHMS, type DedupAlgorithm } from '../../../lib/store/dedup.ts';
import { parseEndpointAddress } from '../../../lib/query/endpoints.ts';
import { isTenantValid } from '../../../lib/query/tenancy.ts';
import { grpcClientTlsConfig, type ClientTlsFields } from '../../../lib/net/grpctls.ts';
import type { SeriesSelectLimits } from '../../../lib/query/limits.ts';
import { parseBytes } from '../../../lib/store/blocksync/timeflags.ts';
import { normalizeWebPrefix } from '../../../lib/web/ui.ts';

export interface QueryConfig {
  endpoints: string[];
  strictEndpoints: string[];
  endpointSdConfig?: string;
  endpointSdConfigFile?: string;
  endpointSdConfigReloadIntervalMs: number;
  storeSdFiles: string[];
  storeSdIntervalMs: number;
  unhealthyTimeoutMs: number;
  infoTimeoutMs: number;
  /** How often Info is called on every endpoint (Thanos: 5s). */
  infoIntervalMs: number;
  responseTimeoutMs: number;
  replicaLabels: string[];
  dedupAlgorithm: DedupAlgorithm;
  autoDownsampling: boolean;
  partialResponse: boolean;
  timeoutMs: number;
  maxConcurrent: number;
  maxConcurrentSelect: number;
  lookbackDeltaMs: number;
  dynamicLookbackDelta: boolean;
  defaultStepMs: number;
  maxSamples: number;
  /** --query.max-memory (our extension): bytes one query may hold in the querier; 0 = no limit. */
  maxMemoryBytes: number;
  instantDefaultMaxSourceResolutionMs: number;
  routePrefix: string;
  externalPrefix: string;
  /** --web.prefix-header: request header whose value prefixes the UI's links (ignored with --web.external-prefix). */
  prefixHeader: string;
  /** --query.tenant-header: the HTTP header naming the tenant (THANOS-TENANT is read when it is absent). */
  tenantHeader: string;
  /** --query.default-tenant-id: the tenant of a request that names none. */
  defaultTenant: string;
  /** --query.enforce-tenancy: every selector of the query APIs gets <tenantLabel>="<tenant>". */
  enforceTenancy: boolean;
  /** --query.tenant-label-name. */
  tenantLabel: string;
  /** --store.limits.request-series / --store.limits.request-samples (0: no limit). */
  storeLimits: SeriesSelectLimits;
  /** --grpc-client-tls-*: TLS to the endpoints (undefined: plaintext). */
  grpcClientTls?: GrpcClientTlsOptions;
  /** Client TLS keys given while --grpc-client-tls-secure is off (no effect, as in Thanos; logged). */
  grpcClientTlsIgnored?: string[];
  /** The --grpc-client-tls-* values, inherited by an endpoint config's per-endpoint tls_config (absent: the defaults). */
  grpcClientTlsFields?: Required<ClientTlsFields>;
}

const NOT_YET = (why?: string) => notImplementedYet('thanos query', why);

export const queryFlags: FlagSpec[] = [
  { name: 'endpoint', key: 'endpoints', type: 'strings', default: [], help: 'Addresses of statically configured Thanos API servers (repeatable). The scheme may be prefixed with dns+ to resolve the host name.' },
  { name: 'store', key: 'stores', type: 'strings', default: [], help: 'Deprecated alias of --endpoint (older Thanos releases): addresses of statically configured store API servers (repeatable).' },
  { name: 'endpoint-strict', key: 'strictEndpoints', type: 'strings', default: [], help: 'Addresses of statically configured Thanos API servers that are always used, even if the health check fails (repeatable).' },
  { name: 'store-strict', key: 'strictStores', type: 'strings', default: [], help: 'Deprecated alias of --endpoint-strict.' },
  { name: 'endpoint.sd-config', key: 'endpointSdConfig', type: 'string', help: 'Alternative to endpoint.sd-config-file flag (mutually exclusive). Content of the config file that contains the endpoints (YAML: default_client_config, endpoints: [{address, strict, client_config}]).' },
  { name: 'endpoint.sd-config-file', key: 'endpointSdConfigFile', type: 'string', help: 'Path to the config file that contains the endpoints (YAML: default_client_config, endpoints: [{address, strict, client_config}]); re-read every --endpoint.sd-config-reload-interval.' },
  { name: 'endpoint.sd-config-reload-interval', key: 'endpointSdConfigReloadInterval', type: 'duration', default: '5m', help: 'Interval between endpoint config refreshes.' },
  { name: 'store.sd-files', key: 'storeSdFiles', type: 'strings', default: [], help: 'Path to files that contain addresses of store API servers in Prometheus file_sd format (repeatable).' },
  { name: 'store.sd-interval', key: 'storeSdInterval', type: 'duration', default: '5m', help: 'Refresh interval to re-read file SD files.' },
  { name: 'store.unhealthy-timeout', key: 'storeUnhealthyTimeout', type: 'duration', default: '5m', help: 'Timeout before an unhealthy store is cleaned from the store UI page.' },
  { name: 'endpoint.info-timeout', key: 'endpointInfoTimeout', type: 'duration', default: '5s', help: 'Timeout of the Info call to each endpoint.' },
  { name: 'endpoint.info-interval', key: 'endpointInfoInterval', type: 'duration', default: '5s', help: 'How often every endpoint is asked for its Info (health, time range, external labels).' },
  { name: 'store.response-timeout', key: 'storeResponseTimeout', type: 'duration', default: '0ms', help: 'If a Store doesn\'t send any data in this specified duration then a Store will be ignored and partial data will be returned if it\'s enabled. 0 disables timeout.' },
  { name: 'query.replica-label', key: 'replicaLabels', type: 'strings', default: [], help: 'Labels to treat as a replica indicator along which data is deduplicated (repeatable; comma separated lists accepted).' },
  { name: 'deduplication.func', key: 'deduplicationFunc', type: 'string', default: 'penalty', help: 'Deduplication algorithm for merging overlapping series: penalty (for HA Prometheus pairs) or chain (1:1 merge, for Receive replication).' },
  { name: 'query.auto-downsampling', key: 'autoDownsampling', type: 'bool', default: false, help: 'Enable automatic adjustment (step / 5) to what source of data should be used in store gateways if no max_source_resolution param is specified.' },
  { name: 'query.partial-response', key: 'partialResponse', type: 'bool', default: true, help: 'Enable partial response for queries if no partial_response param is specified. --no-query.partial-response for disabling.' },
  { name: 'query.timeout', key: 'timeout', type: 'duration', default: '2m', help: 'Maximum time to process query by query node.' },
  { name: 'query.max-concurrent', key: 'maxConcurrent', type: 'int', default: 20, help: 'Maximum number of queries processed concurrently by query node.' },
  { name: 'query.max-concurrent-select', key: 'maxConcurrentSelect', type: 'int', default: 4, help: 'Maximum number of select requests made concurrently per a query.' },
  { name: 'query.lookback-delta', key: 'lookbackDelta', type: 'duration', default: '0s', help: 'The maximum lookback duration for retrieving metrics during expression evaluations (0 = PromQL default 5m).' },
  { name: 'query.dynamic-lookback-delta', key: 'dynamicLookbackDelta', type: 'bool', default: true, help: 'Allow for larger lookback duration for queries based on resolution.' },
  { name: 'query.default-step', key: 'defaultStep', type: 'duration', default: '1s', help: 'Set default step for range queries. Default step is only used when step is not set in UI.' },
  { name: 'query.max-samples', key: 'maxSamples', type: 'int', default: 50_000_000, help: 'Maximum number of samples a single query can load into memory (Prometheus --query.max-samples).' },
  {
    name: 'query.max-memory', key: 'maxMemory', type: 'string', default: '0',
    help: 'Not in Thanos (a thanos-ts extension): maximum bytes of series, chunks and decoded samples a single query may hold in the querier, e.g. 512MB or 1GiB. A query going over fails with a resource exhausted error instead of growing. 0 means no limit.',
  },
  { name: 'query.instant.default.max_source_resolution', key: 'instantDefaultMaxSourceResolution', type: 'duration', default: '0s', help: 'default value for max_source_resolution for instant queries. If not set, defaults to 0s only taking raw resolution into account.' },
  { name: 'web.route-prefix', key: 'webRoutePrefix', type: 'string', default: '', help: 'Prefix for API and UI endpoints. This allows thanos UI to be served on a sub-path.' },
  { name: 'query.tenant-header', key: 'tenantHeader', type: 'string', default: 'THANOS-TENANT', help: 'HTTP header to determine tenant.' },
  { name: 'query.default-tenant-id', key: 'defaultTenantId', type: 'string', default: 'default-tenant', help: 'Default tenant ID to use if tenant header is not present' },
  { name: 'query.enforce-tenancy', key: 'enforceTenancy', type: 'bool', default: false, help: 'Enforce tenancy on Query APIs. Responses are returned only if the label value of the configured tenant-label-name and the value of the tenant header matches.' },
  { name: 'query.tenant-label-name', key: 'tenantLabelName', type: 'string', default: 'tenant_id', help: 'Label name to use when enforcing tenancy (if --query.enforce-tenancy is enabled).' },
  {
    name: 'query.tenant-certificate-field', key: 'tenantCertificateField', type: 'string', default: '',
    help: "Use TLS client's certificate field to determine tenant for write requests. Must be one of organization, organizationalUnit or commonName. This setting will cause the query.tenant-header flag value to be ignored.",
    refused: NOT_YET('the tenant comes from --query.tenant-header: client certificates do not reach the query API'), accept: [''],
  },
  { name: 'store.limits.request-series', key: 'requestSeriesLimit', type: 'int', default: 0, help: 'The maximum series allowed for a single Series request. The Series call fails if this limit is exceeded. 0 means no limit.' },
  { name: 'store.limits.request-samples', key: 'requestSamplesLimit', type: 'int', default: 0, help: "The maximum samples allowed for a single Series request, The Series call fails if this limit is exceeded. 0 means no limit. NOTE: For efficiency the limit is internally implemented as 'chunks limit' considering each chunk contains a maximum of 120 samples." },
  { name: 'web.external-prefix', key: 'webExternalPrefix', type: 'string', default: '', help: 'Static prefix for all HTML links and redirect URLs in the UI query web interface.' },
  // Thanos flags of which only the values that ask for what this querier does are accepted.
  { name: 'query.promql-engine', key: 'promqlEngine', type: 'string', default: 'prometheus', help: 'PromQL engine to use: prometheus or thanos (both run our engine, which follows Prometheus\'s semantics).' },
  { name: 'query.mode', key: 'queryMode', type: 'string', default: 'local', help: 'PromQL query mode. One of: local, distributed.', refused: NOT_YET('distributed mode: no pushdown of sub-queries to remote engines over the Query API; a querier can still be an --endpoint of another querier, as a StoreAPI'), accept: ['local'] },
  // Thanos's grpcClientConfig: TLS to every endpoint (lib/net/grpctls.ts; the host dials with host/server/tls.ts).
  { name: 'grpc-client-tls-secure', key: 'grpcClientTlsSecure', type: 'bool', default: false, help: 'Deprecated after v0.43.0: Use TLS when talking to the gRPC server' },
  { name: 'grpc-client-tls-skip-verify', key: 'grpcClientTlsSkipVerify', type: 'bool', default: false, help: 'Deprecated after v0.43.0: Disable TLS certificate verification i.e self signed, signed by fake CA' },
  { name: 'grpc-client-tls-cert', key: 'grpcClientTlsCert', type: 'string', help: 'Deprecated after v0.43.0: TLS Certificates to use to identify this client to the server' },
  { name: 'grpc-client-tls-key', key: 'grpcClientTlsKey', type: 'string', help: "Deprecated after v0.43.0: TLS Key for the client's certificate" },
  { name: 'grpc-client-tls-ca', key: 'grpcClientTlsCa', type: 'string', help: 'Deprecated after v0.43.0: TLS CA Certificates to use to verify gRPC servers' },
  { name: 'grpc-client-server-name', key: 'grpcClientServerName', type: 'string', help: 'Deprecated after v0.43.0: Server name to verify the hostname on the returned gRPC certificates. See https://tools.ietf.org/html/rfc4366#section-3.1' },
  { name: 'grpc-client-tls-min-version', key: 'grpcClientTlsMinVersion', type: 'string', default: '1.3', help: 'Deprecated after v0.43.0: TLS supported minimum version for gRPC client. If no version is specified, it\'ll default to 1.3. Allowed values: ["1.0", "1.1", "1.2", "1.3"]' },
  { name: 'grpc-compression', key: 'grpcCompression', type: 'string', default: 'none', help: 'Compression algorithm to use for gRPC requests to other clients.', refused: NOT_YET('gRPC requests are not compressed'), accept: ['none'] },
  { name: 'web.prefix-header', key: 'webPrefixHeader', type: 'string', default: '', help: 'Name of HTTP request header used for dynamic prefixing of UI links and redirects. This option is ignored if web.external-prefix argument is set. Security risk: enable this option only if a reverse proxy in front of thanos is resetting the header.' },
  // Thanos flags with no effect here yet: refused when given.
  { name: 'store.sd-dns-interval', key: 'storeSdDnsInterval', type: 'duration', help: 'Interval between DNS resolutions.', refused: NOT_YET('dns+ endpoints are resolved when the gRPC client connects') },
  { name: 'alert.query-url', key: 'alertQueryUrl', type: 'string', help: 'The external Thanos Query URL that would be set in all alerts \'Source\' field.', refused: NOT_YET('the querier serves no alerts') },
  // Host flags the querier has no use for (Thanos's querier has none of them either).
  ...refuseCommonFlags(['objstore.config-file', 'objstore.config'], 'is not a flag of thanos query (the querier reads no object storage: point --endpoint at a store gateway)'),
  ...refuseCommonFlags(['data-dir'], 'is not a flag of thanos query (the querier keeps no local state)'),
];

const KNOWN = new Set(queryFlags.map((f) => f.key));

function endpointList(raw: Record<string, unknown>, key: string): string[] {
  const out: string[] = [];
  for (const s of strings(raw, key)) {
    try {
      out.push(parseEndpointAddress(s));
    } catch (e) {
      throw new ConfigError(key, (e as Error).message);
    }
  }
  return out;
}

function normalizePrefix(key: string, p: string): string {
  try {
    return normalizeWebPrefix(p);
  } catch (e) {
    throw new ConfigError(key, (e as Error).message);
  }
}

function bytesOption(raw: Record<string, unknown>, key: string, def: string): number {
  try {
    return parseBytes(raw[key] ?? def, key);
  } catch (e) {
    throw new ConfigError(key, (e as Error).message.replace(`${key}: `, ''));
  }
}

/** Strict: unknown keys and bad values are ConfigErrors naming the key. */
export function parseQueryConfig(input: unknown): QueryConfig {
  const raw = configMapping(input, 'query');
  rejectHostKeys(raw, 'query');
  rejectUnknownKeys(raw, [KNOWN], 'unknown query option');
  const algo = str(raw, 'deduplicationFunc', 'penalty');
  if (!(DEDUP_ALGORITHMS as readonly string[]).includes(algo)) {
    throw new ConfigError('deduplicationFunc', `unknown deduplication algorithm ${JSON.stringify(algo)} (expected one of ${DEDUP_ALGORITHMS.join(', ')})`);
  }
  if (raw.endpointSdConfig !== undefined && raw.endpointSdConfigFile !== undefined) {
    throw new ConfigError('endpointSdConfig', '--endpoint.sd-config and --endpoint.sd-config-file are mutually exclusive');
  }
  const replicaLabels = strings(raw, 'replicaLabels').flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  for (const l of replicaLabels) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l)) throw new ConfigError('replicaLabels', `invalid label name ${JSON.stringify(l)}`);
  const cfg: QueryConfig = {
    endpoints: [...endpointList(raw, 'endpoints'), ...endpointList(raw, 'stores')],
    strictEndpoints: [...endpointList(raw, 'strictEndpoints'), ...endpointList(raw, 'strictStores')],
    endpointSdConfig: raw.endpointSdConfig === undefined ? undefined : str(raw, 'endpointSdConfig', ''),
    endpointSdConfigFile: raw.endpointSdConfigFile === undefined ? undefined : str(raw, 'endpointSdConfigFile', ''),
    endpointSdConfigReloadIntervalMs: dur(raw, 'endpointSdConfigReloadInterval', '5m'),
    storeSdFiles: strings(raw, 'storeSdFiles'),
    storeSdIntervalMs: dur(raw, 'storeSdInterval', '5m'),
    unhealthyTimeoutMs: dur(raw, 'storeUnhealthyTimeout', '5m'),
    infoTimeoutMs: dur(raw, 'endpointInfoTimeout', '5s'),
    infoIntervalMs: dur(raw, 'endpointInfoInterval', '5s'),
    responseTimeoutMs: dur(raw, 'storeResponseTimeout', '0ms'),
    replicaLabels,
    dedupAlgorithm: algo as DedupAlgorithm,
    autoDownsampling: bool(raw, 'autoDownsampling', false),
    partialResponse: bool(raw, 'partialResponse', true),
    timeoutMs: dur(raw, 'timeout', '2m'),
    maxConcurrent: int(raw, 'maxConcurrent', 20, 1),
    maxConcurrentSelect: int(raw, 'maxConcurrentSelect', 4, 1),
    lookbackDeltaMs: dur(raw, 'lookbackDelta', '0s') || 300_000,
    dynamicLookbackDelta: bool(raw, 'dynamicLookbackDelta', true),
    defaultStepMs: dur(raw, 'defaultStep', '1s'),
    maxSamples: int(raw, 'maxSamples', 50_000_000, 1),
    maxMemoryBytes: bytesOption(raw, 'maxMemory', '0'),
    instantDefaultMaxSourceResolutionMs: dur(raw, 'instantDefaultMaxSourceResolution', '0s'),
    // As Thanos's querier: an empty --web.route-prefix is --web.external-prefix ('/' serves on the root).
    routePrefix: normalizePrefix('webRoutePrefix', str(raw, 'webRoutePrefix', '') || str(raw, 'webExternalPrefix', '')),
    externalPrefix: normalizePrefix('webExternalPrefix', str(raw, 'webExternalPrefix', '')),
    prefixHeader: str(raw, 'webPrefixHeader', ''),
    tenantHeader: str(raw, 'tenantHeader', 'THANOS-TENANT'),
    defaultTenant: str(raw, 'defaultTenantId', 'default-tenant'),
    enforceTenancy: bool(raw, 'enforceTenancy', false),
    tenantLabel: str(raw, 'tenantLabelName', 'tenant_id'),
    storeLimits: { seriesPerRequest: int(raw, 'requestSeriesLimit', 0, 0), samplesPerRequest: int(raw, 'requestSamplesLimit', 0, 0) },
  };
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(cfg.tenantLabel)) throw new ConfigError('tenantLabelName', `invalid label name ${JSON.stringify(cfg.tenantLabel)}`);
  if (cfg.tenantHeader === '') throw new ConfigError('tenantHeader', 'must not be empty');
  // Thanos checks the tenant of every request; a default that can never pass is a configuration error here.
  if (!isTenantValid(cfg.defaultTenant)) throw new ConfigError('defaultTenantId', `tenant name not valid: ${JSON.stringify(cfg.defaultTenant)}`);
  if (cfg.infoIntervalMs <= 0) throw new ConfigError('endpointInfoInterval', 'must be positive');
  const engine = str(raw, 'promqlEngine', 'prometheus');
  if (engine !== 'prometheus' && engine !== 'thanos') throw new ConfigError('promqlEngine', `unknown engine ${JSON.stringify(engine)} (expected prometheus or thanos)`);
  if (str(raw, 'queryMode', 'local') !== 'local') throw new ConfigError('queryMode', 'only local query mode is supported (distributed mode is not implemented)');
  const clientTls = grpcClientTlsConfig(raw, {
    secure: 'grpcClientTlsSecure', skipVerify: 'grpcClientTlsSkipVerify', cert: 'grpcClientTlsCert', key: 'grpcClientTlsKey',
    ca: 'grpcClientTlsCa', serverName: 'grpcClientServerName', minVersion: 'grpcClientTlsMinVersion',
  });
  cfg.grpcClientTls = clientTls.tls;
  cfg.grpcClientTlsIgnored = clientTls.ignored;
  cfg.grpcClientTlsFields = clientTls.fields;
  const comp = str(raw, 'grpcCompression', 'none');
  if (comp !== 'none') throw new ConfigError('grpcCompression', `gRPC compression ${JSON.stringify(comp)} is not supported (only none)`);
  if (cfg.timeoutMs <= 0) throw new ConfigError('timeout', 'must be positive');
  refuseUnimplemented(raw, queryFlags);
  return cfg;
}
