// `thanos store` flags and the config object they fill (also accepted from plugins.yaml).
import { ConfigError, notImplementedYet, type FlagSpec } from '../../../lib/sdk/mod.ts';
import { parseBytes, parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';
import { normalizeWebPrefix } from '../../../lib/web/ui.ts';
import {
  configBool as bool, configInt as int, configMapping, configGoDuration, configPromDuration as dur, configString as str, rejectHostKeys, rejectUnknownKeys,
  refuseUnimplemented,
} from '../../../lib/config/fields.ts';

export interface StoreConfig {
  dataDir: string;
  syncBlockDurationMs: number;
  blockSyncConcurrency: number;
  blockMetaFetchConcurrency: number;
  ignoreDeletionMarksDelayMs: number;
  consistencyDelayMs: number;
  /** Absolute ms, or relative (resolved at each sync) when given as a duration. */
  minTime: string;
  maxTime: string;
  selectorRelabelConfig?: string;
  selectorRelabelConfigFile?: string;
  indexCacheConfig?: string;
  indexCacheConfigFile?: string;
  indexCacheSizeBytes: number;
  seriesMaxConcurrency: number;
  requestSeriesLimit: number;
  requestSamplesLimit: number;
  downloadedBytesLimit: number;
  cacheIndexHeader: boolean;
  webDisable: boolean;
  /** --web.external-prefix / --web.prefix-header: the prefix of the block viewer's links (lib/web/ui.ts webPrefixFor); routes stay at the root, as in Thanos. */
  externalPrefix: string;
  prefixHeader: string;
  /** undefined = not given: admin operations stay off until --no-disable-admin-operations (no HTTP auth here). */
  disableAdminOperations?: boolean;
  /** Gap (bytes) under which two ranged GETs of the same object are merged into one. */
  partitionGapBytes: number;
}

const NOT_YET = (why?: string) => notImplementedYet('thanos store', why);

export const storeFlags: FlagSpec[] = [
  { name: 'sync-block-duration', key: 'syncBlockDuration', type: 'duration', default: '15m', help: 'Repeat interval for syncing the blocks between local and remote view.' },
  { name: 'block-sync-concurrency', key: 'blockSyncConcurrency', type: 'int', default: 20, help: 'Number of goroutines to use when constructing index-cache.json blocks from object storage.' },
  { name: 'block-meta-fetch-concurrency', key: 'blockMetaFetchConcurrency', type: 'int', default: 32, help: 'Number of goroutines to use when fetching block metadata from object storage.' },
  { name: 'ignore-deletion-marks-delay', key: 'ignoreDeletionMarksDelay', type: 'duration', default: '24h', help: 'Duration after which the blocks marked for deletion will be filtered out while fetching blocks.' },
  { name: 'consistency-delay', key: 'consistencyDelay', type: 'duration', default: '0s', help: 'Minimum age of all blocks before they are being read. Set it to safe value (e.g 30m) if your object storage is eventually consistent.' },
  { name: 'min-time', key: 'minTime', type: 'string', default: '0000-01-01T00:00:00Z', help: 'Start of time range limit to serve. Option can be a constant time in RFC3339 format or time duration relative to current time, such as -1d or 2h45m.' },
  { name: 'max-time', key: 'maxTime', type: 'string', default: '9999-12-31T23:59:59Z', help: 'End of time range limit to serve. Option can be a constant time in RFC3339 format or time duration relative to current time, such as -1d or 2h45m.' },
  { name: 'selector.relabel-config', key: 'selectorRelabelConfig', type: 'string', help: 'Alternative to selector.relabel-config-file flag (mutually exclusive). Content of YAML file with relabeling configuration that allows selecting blocks (keep, drop, hashmod on external labels and __block_id).' },
  { name: 'selector.relabel-config-file', key: 'selectorRelabelConfigFile', type: 'string', help: 'Path to YAML file with relabeling configuration that allows selecting blocks.' },
  { name: 'index-cache.config', key: 'indexCacheConfig', type: 'string', help: 'Alternative to index-cache.config-file flag (mutually exclusive). Content of YAML file that contains index cache configuration (IN-MEMORY or MEMCACHED).' },
  { name: 'index-cache.config-file', key: 'indexCacheConfigFile', type: 'string', help: 'Path to YAML file that contains index cache configuration.' },
  { name: 'index-cache-size', key: 'indexCacheSize', type: 'string', default: '250MB', help: 'Maximum size of items held in the in-memory index cache. Ignored if --index-cache.config or --index-cache.config-file option is specified.' },
  { name: 'chunk-pool-size', key: 'chunkPoolSize', type: 'string', help: 'Maximum size of concurrently allocatable bytes reserved strictly to reuse for chunks in memory.', refused: NOT_YET('chunk buffers are not pooled') },
  { name: 'store.grpc.series-max-concurrency', key: 'seriesMaxConcurrency', type: 'int', default: 20, help: 'Maximum number of concurrent Series calls.' },
  { name: 'store.limits.request-series', key: 'requestSeriesLimit', type: 'int', default: 0, help: 'The maximum series allowed for a single Series request. The Series call fails if this limit is exceeded. 0 means no limit.' },
  { name: 'store.limits.request-samples', key: 'requestSamplesLimit', type: 'int', default: 0, help: 'The maximum samples allowed for a single Series request, The Series call fails if this limit is exceeded. 0 means no limit. NOTE: For efficiency the limit is internally implemented as \'chunks limit\' considering each chunk contains a maximum of 120 samples.' },
  { name: 'store.grpc.touched-series-limit', key: 'touchedSeriesLimit', type: 'int', help: 'DEPRECATED: use store.limits.request-series.' },
  { name: 'store.grpc.series-sample-limit', key: 'seriesSampleLimit', type: 'int', help: 'DEPRECATED: use store.limits.request-samples.' },
  { name: 'store.grpc.downloaded-bytes-limit', key: 'downloadedBytesLimit', type: 'string', default: '0', help: 'Maximum amount of downloaded (either fetched or touched) bytes in a single Series/LabelNames/LabelValues call. The Series call fails if this limit is exceeded. 0 means no limit.' },
  { name: 'cache-index-header', key: 'cacheIndexHeader', type: 'bool', default: true, help: 'Cache TSDB index-headers on disk to reduce startup time.' },
  { name: 'store.enable-index-header-lazy-reader', key: 'enableIndexHeaderLazyReader', type: 'bool', help: 'If true, Store Gateway will lazy memory map index-header only once the block is required by a query.', refused: NOT_YET('index-headers are always read lazily from the local file'), accept: [true] },
  { name: 'block-discovery-strategy', key: 'blockDiscoveryStrategy', type: 'string', default: 'concurrent', help: 'How blocks are discovered in the bucket: concurrent (list the top level, fetch the metas concurrently).', refused: NOT_YET('blocks are listed one level deep'), accept: ['concurrent'] },
  { name: 'web.disable', key: 'webDisable', type: 'bool', default: false, help: 'Disable Block Viewer UI.' },
  { name: 'web.external-prefix', key: 'webExternalPrefix', type: 'string', default: '', help: 'Static prefix for all HTML links and redirect URLs in the bucket web UI interface. Actual endpoints are still served on / or the web.route-prefix. This allows thanos bucket web UI to be served behind a reverse proxy that strips a URL sub-path.' },
  { name: 'web.prefix-header', key: 'webPrefixHeader', type: 'string', default: '', help: 'Name of HTTP request header used for dynamic prefixing of UI links and redirects. This option is ignored if web.external-prefix argument is set. Security risk: enable this option only if a reverse proxy in front of thanos is resetting the header. The --web.prefix-header=X-Forwarded-Prefix option can be useful, for example, if Thanos UI is served via Traefik reverse proxy with PathPrefixStrip option enabled, which sends the stripped prefix value in X-Forwarded-Prefix header. This allows thanos UI to be served on a sub-path.' },
  { name: 'disable-admin-operations', key: 'disableAdminOperations', type: 'bool', help: 'Disable UI/API admin operations like marking blocks for deletion and no compaction. Unlike Thanos they are off unless --no-disable-admin-operations is given, as this server has no HTTP authentication.' },
  { name: 'store.partition-gap', key: 'partitionGap', type: 'string', default: '512KB', help: 'Ranged GETs of the same object closer than this are merged into one request.' },
];

/** --data-dir is a host flag (ctx.dataDir); `dataDir` is still accepted in plugins.yaml config. */
const KNOWN = new Set([...storeFlags.map((f) => f.key), 'dataDir']);

function bytes(raw: Record<string, unknown>, key: string, def: string): number {
  try {
    return parseBytes(raw[key] ?? def, key);
  } catch (e) {
    throw new ConfigError(key, (e as Error).message.replace(`${key}: `, ''));
  }
}

const FLAG_OF = new Map(storeFlags.map((f) => [f.key, f.name]));

/** Strict: unknown keys, bad values and conflicting flags are ConfigErrors naming the key and its flag. */
export function parseStoreConfig(input: unknown): StoreConfig {
  try {
    return parseStrict(input);
  } catch (e) {
    if (e instanceof ConfigError && FLAG_OF.has(e.key)) throw new ConfigError(`${e.key} (--${FLAG_OF.get(e.key)})`, e.message.slice(e.key.length + 2));
    throw e;
  }
}

function webPrefix(key: string, p: string): string {
  try {
    return normalizeWebPrefix(p);
  } catch (e) {
    throw new ConfigError(key, (e as Error).message);
  }
}

function parseStrict(input: unknown): StoreConfig {
  const raw = configMapping(input, 'store');
  rejectHostKeys(raw, 'store', ['dataDir']);
  rejectUnknownKeys(raw, [KNOWN], 'unknown store option');
  const minTime = str(raw, 'minTime', '0000-01-01T00:00:00Z');
  const maxTime = str(raw, 'maxTime', '9999-12-31T23:59:59Z');
  for (const [k, v] of [['minTime', minTime], ['maxTime', maxTime]] as const) {
    try {
      parseTimeOrDuration(v);
    } catch (e) {
      throw new ConfigError(k, (e as Error).message);
    }
  }
  if (parseTimeOrDuration(minTime) > parseTimeOrDuration(maxTime)) throw new ConfigError('minTime', `--min-time (${minTime}) must not be after --max-time (${maxTime})`);
  const cfg: StoreConfig = {
    dataDir: str(raw, 'dataDir', './data'),
    syncBlockDurationMs: configGoDuration(raw, 'syncBlockDuration', '15m'), // time.Duration in Thanos; the others model.Duration
    blockSyncConcurrency: int(raw, 'blockSyncConcurrency', 20, 1),
    blockMetaFetchConcurrency: int(raw, 'blockMetaFetchConcurrency', 32, 1),
    ignoreDeletionMarksDelayMs: dur(raw, 'ignoreDeletionMarksDelay', '24h'),
    consistencyDelayMs: dur(raw, 'consistencyDelay', '0s'),
    minTime,
    maxTime,
    selectorRelabelConfig: raw.selectorRelabelConfig === undefined ? undefined : str(raw, 'selectorRelabelConfig', ''),
    selectorRelabelConfigFile: raw.selectorRelabelConfigFile === undefined ? undefined : str(raw, 'selectorRelabelConfigFile', ''),
    indexCacheConfig: raw.indexCacheConfig === undefined ? undefined : str(raw, 'indexCacheConfig', ''),
    indexCacheConfigFile: raw.indexCacheConfigFile === undefined ? undefined : str(raw, 'indexCacheConfigFile', ''),
    indexCacheSizeBytes: bytes(raw, 'indexCacheSize', '250MB'),
    seriesMaxConcurrency: int(raw, 'seriesMaxConcurrency', 20, 1),
    requestSeriesLimit: int(raw, 'requestSeriesLimit', 0) || int(raw, 'touchedSeriesLimit', 0),
    requestSamplesLimit: int(raw, 'requestSamplesLimit', 0) || int(raw, 'seriesSampleLimit', 0),
    downloadedBytesLimit: bytes(raw, 'downloadedBytesLimit', '0'),
    cacheIndexHeader: bool(raw, 'cacheIndexHeader', true),
    webDisable: bool(raw, 'webDisable', false),
    externalPrefix: webPrefix('webExternalPrefix', str(raw, 'webExternalPrefix', '')),
    prefixHeader: str(raw, 'webPrefixHeader', ''),
    disableAdminOperations: raw.disableAdminOperations === undefined ? undefined : bool(raw, 'disableAdminOperations', false),
    partitionGapBytes: bytes(raw, 'partitionGap', '512KB'),
  };
  bool(raw, 'enableIndexHeaderLazyReader', true);
  const strat = str(raw, 'blockDiscoveryStrategy', 'concurrent');
  if (strat !== 'concurrent' && strat !== 'recursive') throw new ConfigError('blockDiscoveryStrategy', `must be concurrent or recursive, got ${JSON.stringify(strat)}`);
  refuseUnimplemented(raw, storeFlags);
  if (cfg.selectorRelabelConfig !== undefined && cfg.selectorRelabelConfigFile !== undefined) throw new ConfigError('selectorRelabelConfig', '--selector.relabel-config and --selector.relabel-config-file are mutually exclusive');
  if (cfg.indexCacheConfig !== undefined && cfg.indexCacheConfigFile !== undefined) throw new ConfigError('indexCacheConfig', '--index-cache.config and --index-cache.config-file are mutually exclusive');
  if (cfg.syncBlockDurationMs <= 0) throw new ConfigError('syncBlockDuration', 'must be > 0');
  return cfg;
}
