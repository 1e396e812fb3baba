// `thanos query-frontend` flags (Thanos names and defaults, cmd/thanos/query_frontend.go) and the
// config object they fill (also accepted from plugins.yaml).
import { COMMON_FLAGS, ConfigError, notImplementedYet, refuseCommonFlags, type FlagSpec } from '../../../lib/sdk/mod.ts';
import {
  configBool as bool, configGoDuration, configInt as int, configMapping, configString as str, configStrings as strings, rejectHostKeys,
  rejectUnknownKeys, refuseUnimplemented, type RawConfig,
} from '../../../lib/config/fields.ts';
import { parseGoDuration } from '../../../lib/duration/mod.ts';
import { parseResponseCacheConfig } from '../../../lib/queryfrontend/cache.ts';

const NOT_YET = (why?: string) => notImplementedYet('thanos query-frontend', why);

export interface QueryFrontendConfig {
  downstreamUrl: string;
  disableCors: boolean;
  alignRangeWithStep: boolean;
  requestDownsampled: boolean;
  splitIntervalMs: number;
  maxRetries: number;
  instantMaxRetries: number;
  maxQueryLengthMs: number;
  maxQueryParallelism: number;
  maxFreshnessMs: number;
  partialResponse: boolean;
  /** --query-range.response-cache-config (checked here) / -file (read at setup). */
  responseCacheConfig: string;
  responseCacheConfigFile: string;
  labelsSplitIntervalMs: number;
  labelsMaxRetries: number;
  labelsMaxQueryParallelism: number;
  labelsMaxFreshnessMs: number;
  labelsPartialResponse: boolean;
  labelsDefaultTimeRangeMs: number;
  labelsResponseCacheConfig: string;
  labelsResponseCacheConfigFile: string;
  cacheCompression: '' | 'snappy';
  compressResponses: boolean;
  logQueriesLongerThanMs: number;
  forwardHeaders: string[];
  /** --query-frontend.vertical-shards (0: off). */
  verticalShards: number;
}

export const queryFrontendFlags: FlagSpec[] = [
  { name: 'web.disable-cors', key: 'webDisableCors', type: 'bool', default: false, help: 'Whether to disable CORS headers to be set by Thanos. By default Thanos sets CORS headers to be allowed by all.' },
  { name: 'query-range.align-range-with-step', key: 'queryRangeAlignRangeWithStep', type: 'bool', default: true, help: 'Mutate incoming queries to align their start and end with their step for better cache-ability. Note: Grafana dashboards do that by default.' },
  { name: 'query-range.request-downsampled', key: 'queryRangeRequestDownsampled', type: 'bool', default: true, help: 'Make additional query for downsampled data in case of empty or incomplete response to range request.' },
  { name: 'query-range.split-interval', key: 'queryRangeSplitInterval', type: 'duration', default: '24h', help: 'Split query range requests by an interval and execute in parallel, it should be greater than 0 when query-range.response-cache-config is configured.' },
  { name: 'query-range.min-split-interval', key: 'queryRangeMinSplitInterval', type: 'duration', default: '0', help: 'Split query range requests above this interval in query-range.horizontal-shards requests of equal range.', refused: NOT_YET('dynamic splitting; use --query-range.split-interval'), accept: ['0', '0s'] },
  { name: 'query-range.max-split-interval', key: 'queryRangeMaxSplitInterval', type: 'duration', default: '0', help: 'Split query range below this interval in query-range.horizontal-shards.', refused: NOT_YET('dynamic splitting; use --query-range.split-interval'), accept: ['0', '0s'] },
  { name: 'query-range.horizontal-shards', key: 'queryRangeHorizontalShards', type: 'int', default: 0, help: 'Split queries in this many requests when query duration is below query-range.max-split-interval.', refused: NOT_YET('dynamic splitting; use --query-range.split-interval'), accept: [0] },
  { name: 'query-range.max-retries-per-request', key: 'queryRangeMaxRetriesPerRequest', type: 'int', default: 5, help: 'Maximum number of retries for a single query range request; beyond this, the downstream error is returned.' },
  { name: 'query.max-retries-per-request', key: 'queryMaxRetriesPerRequest', type: 'int', default: 5, help: 'Maximum number of retries for a single instant query request; beyond this, the downstream error is returned.' },
  { name: 'query-frontend.enable-x-functions', key: 'enableXFunctions', type: 'bool', default: false, help: 'Enable experimental x- functions in query-frontend.', refused: NOT_YET('the frontend parses PromQL with the functions of lib/promql only'), accept: [false] },
  { name: 'enable-feature', key: 'enableFeatures', type: 'strings', help: 'Comma separated feature names to enable. Valid options for now: promql-experimental-functions.', refused: NOT_YET('no feature flags') },
  { name: 'query-range.max-query-length', key: 'queryRangeMaxQueryLength', type: 'duration', default: '0', help: 'Limit the query time range (end - start time) in the query-frontend, 0 disables it.' },
  { name: 'query-range.max-query-parallelism', key: 'queryRangeMaxQueryParallelism', type: 'int', default: 14, help: 'Maximum number of query range requests will be scheduled in parallel by the Frontend.' },
  { name: 'query-range.response-cache-max-freshness', key: 'queryRangeResponseCacheMaxFreshness', type: 'duration', default: '1m', help: 'Most recent allowed cacheable result for query range requests, to prevent caching very recent results that might still be in flux.' },
  { name: 'query-range.partial-response', key: 'queryRangePartialResponse', type: 'bool', default: true, help: 'Enable partial response for query range requests if no partial_response param is specified. --no-query-range.partial-response for disabling.' },
  { name: 'query-range.response-cache-config-file', key: 'queryRangeResponseCacheConfigFile', type: 'string', default: '', help: 'Path to YAML file that contains response cache configuration.' },
  { name: 'query-range.response-cache-config', key: 'queryRangeResponseCacheConfig', type: 'string', default: '', help: 'Alternative to \'query-range.response-cache-config-file\' flag (mutually exclusive). Content of YAML file that contains response cache configuration.' },
  { name: 'labels.split-interval', key: 'labelsSplitInterval', type: 'duration', default: '24h', help: 'Split labels requests by an interval and execute in parallel, it should be greater than 0 when labels.response-cache-config is configured.' },
  { name: 'labels.max-retries-per-request', key: 'labelsMaxRetriesPerRequest', type: 'int', default: 5, help: 'Maximum number of retries for a single label/series API request; beyond this, the downstream error is returned.' },
  { name: 'labels.max-query-parallelism', key: 'labelsMaxQueryParallelism', type: 'int', default: 14, help: 'Maximum number of labels requests will be scheduled in parallel by the Frontend.' },
  { name: 'labels.response-cache-max-freshness', key: 'labelsResponseCacheMaxFreshness', type: 'duration', default: '1m', help: 'Most recent allowed cacheable result for labels requests, to prevent caching very recent results that might still be in flux.' },
  { name: 'labels.partial-response', key: 'labelsPartialResponse', type: 'bool', default: true, help: 'Enable partial response for labels requests if no partial_response param is specified. --no-labels.partial-response for disabling.' },
  { name: 'labels.default-time-range', key: 'labelsDefaultTimeRange', type: 'duration', default: '24h', help: 'The default metadata time range duration for retrieving labels through Labels and Series API when the range parameters are not specified.' },
  { name: 'labels.response-cache-config-file', key: 'labelsResponseCacheConfigFile', type: 'string', default: '', help: 'Path to YAML file that contains response cache configuration.' },
  { name: 'labels.response-cache-config', key: 'labelsResponseCacheConfig', type: 'string', default: '', help: 'Alternative to \'labels.response-cache-config-file\' flag (mutually exclusive). Content of YAML file that contains response cache configuration.' },
  { name: 'cache-compression-type', key: 'cacheCompressionType', type: 'string', default: '', help: 'Use compression in results cache. Supported values are: \'snappy\' and \'\' (disable compression).' },
  { name: 'query-frontend.downstream-url', key: 'downstreamUrl', type: 'string', default: 'http://localhost:9090', help: 'URL of downstream Prometheus Query compatible API.' },
  { name: 'query-frontend.downstream-tripper-config-file', key: 'downstreamTripperConfigFile', type: 'string', help: 'Path to YAML file that contains downstream tripper configuration.', refused: NOT_YET('the downstream is reached with the host\'s HTTP client settings'), accept: [''] },
  { name: 'query-frontend.downstream-tripper-config', key: 'downstreamTripperConfig', type: 'string', help: 'Content of YAML file that contains downstream tripper configuration.', refused: NOT_YET('the downstream is reached with the host\'s HTTP client settings'), accept: [''] },
  { name: 'query-frontend.compress-responses', key: 'compressResponses', type: 'bool', default: false, help: 'Compress HTTP responses.' },
  // A Go duration that may be negative (< 0: log every query), so read as text.
  { name: 'query-frontend.log-queries-longer-than', key: 'logQueriesLongerThan', type: 'string', default: '0', help: 'Log queries that are slower than the specified duration. Set to 0 to disable. Set to < 0 to enable on all queries.' },
  { name: 'query-frontend.force-query-stats', key: 'forceQueryStats', type: 'bool', default: false, help: 'Enables query statistics for all queries and will export statistics as logs and service headers.', refused: NOT_YET('no query statistics'), accept: [false] },
  { name: 'query-frontend.org-id-header', key: 'orgIdHeaders', type: 'strings', help: 'Request header names used to identify the source of slow queries (repeated flag).', refused: NOT_YET('slow query logs carry no org id') },
  { name: 'query-frontend.forward-header', key: 'forwardHeaders', type: 'strings', default: [], help: 'List of headers forwarded by the query-frontend to downstream queriers, default is empty' },
  { name: 'query-frontend.tenant-header', key: 'tenantHeader', type: 'string', default: 'THANOS-TENANT', help: 'HTTP header to determine tenant.', refused: NOT_YET('the tenant is read from THANOS-TENANT'), accept: ['THANOS-TENANT'] },
  { name: 'query-frontend.default-tenant-id', key: 'defaultTenantId', type: 'string', default: 'default-tenant', help: 'Default tenant ID to use if tenant header is not present.', refused: NOT_YET('the tenant is passed on as the client sent it'), accept: ['default-tenant'] },
  { name: 'query-frontend.tenant-certificate-field', key: 'tenantCertificateField', type: 'string', default: '', help: 'Use TLS client\'s certificate field to determine tenant for requests.', refused: NOT_YET('no TLS'), accept: [''] },
  // As upstream: no default (0); 0 or less leaves sharding off.
  { name: 'query-frontend.vertical-shards', key: 'verticalShards', type: 'int', default: 0, help: 'Number of shards to use when distributing shardable PromQL queries. For more details, you can refer to the Vertical query sharding proposal: https://thanos.io/tip/proposals-accepted/202205-vertical-query-sharding.md' },
  { name: 'query-frontend.slow-query-logs-user-header', key: 'slowQueryLogsUserHeader', type: 'string', default: '', help: 'Set the value of the field remote_user in the slow query logs to the value of the given HTTP header.', refused: NOT_YET('slow query logs carry no remote_user'), accept: [''] },
  { name: 'enable-auto-gomemlimit', key: 'enableAutoGomemlimit', type: 'bool', default: false, help: 'Enable go runtime to automatically limit memory consumption.', refused: NOT_YET('a Go runtime setting'), accept: [false] },
  { name: 'auto-gomemlimit.ratio', key: 'autoGomemlimitRatio', type: 'float', default: 0.9, help: 'The ratio of reserved GOMEMLIMIT memory to the detected maximum container or system memory.', refused: NOT_YET('a Go runtime setting'), accept: [0.9] },
  // Every gRPC host flag but the grace period, which the host reads a default of for the stop deadline
  // (it has no effect here: no gRPC listener). The gRPC server TLS and max-connection-age flags may be absent.
  ...refuseCommonFlags(COMMON_FLAGS.filter((f) => f.name.startsWith('grpc') && f.name !== 'grpc-grace-period').map((f) => f.name), 'is not a flag of thanos query-frontend (it serves HTTP only)'),
  ...refuseCommonFlags(['objstore.config-file', 'objstore.config'], 'is not a flag of thanos query-frontend (it reads no object storage)'),
  ...refuseCommonFlags(['data-dir'], 'is not a flag of thanos query-frontend (it keeps no local state)'),
];

const HOST_KEYS = new Set(COMMON_FLAGS.map((f) => f.key));
const KNOWN = new Set(queryFrontendFlags.filter((f) => !HOST_KEYS.has(f.key)).map((f) => f.key));

function goDur(raw: RawConfig, key: string): number {
  const def = queryFrontendFlags.find((f) => f.key === key)!.default as string;
  return configGoDuration(raw, key, def, { nonNegative: true });
}

function downstreamUrl(s: string): string {
  if (s === '') throw new ConfigError('downstreamUrl', 'downstream URL should be configured');
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError('downstreamUrl', `invalid URL ${JSON.stringify(s)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('downstreamUrl', `unsupported scheme ${JSON.stringify(u.protocol.slice(0, -1))} in ${JSON.stringify(s)} (http and https only)`);
  if (u.search || u.hash) throw new ConfigError('downstreamUrl', `must not carry a query or fragment: ${JSON.stringify(s)}`);
  return s.replace(/\/+$/, '');
}

export function parseQueryFrontendConfig(input: unknown): QueryFrontendConfig {
  const r = configMapping(input, 'query-frontend');
  rejectHostKeys(r, 'query-frontend');
  rejectUnknownKeys(r, [KNOWN], 'unknown key');
  refuseUnimplemented(r, queryFrontendFlags);
  const pick = (a: string, b: string, key: string) => {
    const x = str(r, a, '');
    const y = str(r, b, '');
    if (x !== '' && y !== '') throw new ConfigError(key, `give only one of --${key} and --${key}-file`);
    return [x, y] as const;
  };
  const [responseCacheConfig, responseCacheConfigFile] = pick('queryRangeResponseCacheConfig', 'queryRangeResponseCacheConfigFile', 'query-range.response-cache-config');
  const [labelsResponseCacheConfig, labelsResponseCacheConfigFile] = pick('labelsResponseCacheConfig', 'labelsResponseCacheConfigFile', 'labels.response-cache-config');
  if (responseCacheConfig) parseResponseCacheConfig(responseCacheConfig, 'queryRangeResponseCacheConfig');
  if (labelsResponseCacheConfig) parseResponseCacheConfig(labelsResponseCacheConfig, 'labelsResponseCacheConfig');
  const compression = str(r, 'cacheCompressionType', '');
  if (compression !== '' && compression !== 'snappy') throw new ConfigError('cacheCompressionType', `unsupported compression type: ${compression}`);
  const logRaw = r.logQueriesLongerThan ?? '0';
  let logQueriesLongerThanMs: number;
  if (typeof logRaw === 'number') logQueriesLongerThanMs = logRaw;
  else {
    try {
      logQueriesLongerThanMs = parseGoDuration(String(logRaw).trim());
    } catch (e) {
      throw new ConfigError('logQueriesLongerThan', (e as Error).message);
    }
  }
  const cfg: QueryFrontendConfig = {
    downstreamUrl: downstreamUrl(str(r, 'downstreamUrl', 'http://localhost:9090')),
    disableCors: bool(r, 'webDisableCors', false),
    alignRangeWithStep: bool(r, 'queryRangeAlignRangeWithStep', true),
    requestDownsampled: bool(r, 'queryRangeRequestDownsampled', true),
    splitIntervalMs: goDur(r, 'queryRangeSplitInterval'),
    maxRetries: int(r, 'queryRangeMaxRetriesPerRequest', 5),
    instantMaxRetries: int(r, 'queryMaxRetriesPerRequest', 5),
    maxQueryLengthMs: goDur(r, 'queryRangeMaxQueryLength'),
    maxQueryParallelism: int(r, 'queryRangeMaxQueryParallelism', 14, 1),
    maxFreshnessMs: goDur(r, 'queryRangeResponseCacheMaxFreshness'),
    partialResponse: bool(r, 'queryRangePartialResponse', true),
    responseCacheConfig, responseCacheConfigFile,
    labelsSplitIntervalMs: goDur(r, 'labelsSplitInterval'),
    labelsMaxRetries: int(r, 'labelsMaxRetriesPerRequest', 5),
    labelsMaxQueryParallelism: int(r, 'labelsMaxQueryParallelism', 14, 1),
    labelsMaxFreshnessMs: goDur(r, 'labelsResponseCacheMaxFreshness'),
    labelsPartialResponse: bool(r, 'labelsPartialResponse', true),
    labelsDefaultTimeRangeMs: goDur(r, 'labelsDefaultTimeRange'),
    labelsResponseCacheConfig, labelsResponseCacheConfigFile,
    cacheCompression: compression as '' | 'snappy',
    compressResponses: bool(r, 'compressResponses', false),
    logQueriesLongerThanMs,
    forwardHeaders: strings(r, 'forwardHeaders'),
    verticalShards: Math.max(0, int(r, 'verticalShards', 0, Number.MIN_SAFE_INTEGER)),
  };
  if ((responseCacheConfig || responseCacheConfigFile) && cfg.splitIntervalMs <= 0) {
    throw new ConfigError('queryRangeSplitInterval', 'split queries or split threshold interval should be greater than 0 when caching is enabled');
  }
  if ((labelsResponseCacheConfig || labelsResponseCacheConfigFile) && cfg.labelsSplitIntervalMs <= 0) {
    throw new ConfigError('labelsSplitInterval', 'split queries interval should be greater than 0  when caching is enabled');
  }
  if (cfg.labelsDefaultTimeRangeMs === 0) throw new ConfigError('labelsDefaultTimeRange', 'labels.default-time-range cannot be set to 0');
  return cfg;
}
