// `thanos store`: the store gateway. Serves the StoreAPI over the blocks of an object store bucket,
// keeping only small per-block index state locally and reading postings, series and chunks with
// ranged GETs. Readiness turns on after the first successful block sync.
import { ConfigError, definePlugin, type ComponentContext } from '../../../lib/sdk/mod.ts';
import {
  ConsistencyDelayFilter, DeduplicateFilter, DeletionMarkFilter, LabelShardedFilter, MetaFetcher, TimePartitionFilter,
} from '../../../lib/store/blocksync/fetcher.ts';
import { parseRelabelConfigs, type RelabelConfig } from '../../../lib/store/blocksync/relabel.ts';
import { timeOrDurationClock } from '../../../lib/store/blocksync/timeflags.ts';
import { createIndexCache, parseIndexCacheConfig, type IndexCache } from '../../../lib/store/indexcache/mod.ts';
import { BucketStore } from '../../../lib/store/gateway/bucketstore.ts';
import { storeGatewayComponent, type StoreComponent } from '../../../lib/store/gateway/component.ts';
import { openBlock, removeLocal, type IndexHeaderStats, type SymbolDictionary } from '../../../lib/store/gateway/openblock.ts';
import { webPrefixFor } from '../../../lib/web/ui.ts';
import { parseStoreConfig, storeFlags, type StoreConfig } from './config.ts';

export { BucketStore } from '../../../lib/store/gateway/bucketstore.ts';
export { storeGrpc, storeServer, type StoreComponent } from '../../../lib/store/gateway/component.ts';
export type { StoreConfig } from './config.ts';

const dec = new TextDecoder();

async function readConfigFile(ctx: ComponentContext, key: string, path: string): Promise<string> {
  try {
    return dec.decode(await ctx.fs.readFile(path));
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Reads the config (and the files it names) and wires the store gateway's parts (lib/store/gateway). */
export async function setupStore(ctx: ComponentContext, cfg: StoreConfig): Promise<StoreComponent> {
  const bucket = await ctx.bucket();
  let relabelCfg: RelabelConfig[] = [];
  const relabelText = cfg.selectorRelabelConfigFile !== undefined ? await readConfigFile(ctx, 'selectorRelabelConfigFile', cfg.selectorRelabelConfigFile) : cfg.selectorRelabelConfig;
  if (relabelText !== undefined && relabelText.trim() !== '') {
    try {
      relabelCfg = parseRelabelConfigs(relabelText);
    } catch (e) {
      throw new ConfigError(cfg.selectorRelabelConfigFile !== undefined ? 'selectorRelabelConfigFile' : 'selectorRelabelConfig', (e as Error).message);
    }
  }
  const cacheText = cfg.indexCacheConfigFile !== undefined ? await readConfigFile(ctx, 'indexCacheConfigFile', cfg.indexCacheConfigFile) : cfg.indexCacheConfig;
  let indexCache: IndexCache;
  try {
    indexCache = createIndexCache(parseIndexCacheConfig(cacheText, cfg.indexCacheSizeBytes), {
      connect: (o) => ctx.connect(o),
      log: ctx.log,
      metrics: ctx.metrics,
    });
  } catch (e) {
    throw new ConfigError(cfg.indexCacheConfigFile !== undefined ? 'indexCacheConfigFile' : 'indexCacheConfig', (e as Error).message);
  }
  // Parsed once; a relative value (-2w) moves with the clock on every call.
  const minTimeAt = timeOrDurationClock(cfg.minTime);
  const maxTimeAt = timeOrDurationClock(cfg.maxTime);
  const minTime = () => minTimeAt();
  const maxTime = () => maxTimeAt();
  const fetcher = new MetaFetcher(bucket, {
    concurrency: cfg.blockMetaFetchConcurrency,
    log: ctx.log,
    metrics: ctx.metrics,
    filters: [
      new TimePartitionFilter(minTime, maxTime),
      new LabelShardedFilter(relabelCfg),
      new ConsistencyDelayFilter(cfg.consistencyDelayMs, undefined, ctx.metrics),
      new DeletionMarkFilter(cfg.ignoreDeletionMarksDelayMs, ctx.log),
      new DeduplicateFilter(),
    ],
  });
  const headerDir = cfg.cacheIndexHeader ? (ctx.dataDir ?? cfg.dataDir) : undefined;
  const headerStats: IndexHeaderStats = { built: 0, reused: 0 };
  const symbols: SymbolDictionary = {};
  const store = new BucketStore(bucket, {
    core: ctx.core,
    fetcher,
    open: (meta) => openBlock({ bucket, core: ctx.core, fs: ctx.fs, dataDir: headerDir, stats: headerStats, log: ctx.log, symbols }, meta),
    onDrop: headerDir ? (id) => removeLocal(ctx.fs, headerDir, id) : undefined,
    indexCache,
    limits: { seriesLimit: cfg.requestSeriesLimit, samplesLimit: cfg.requestSamplesLimit, bytesLimit: cfg.downloadedBytesLimit },
    blockSyncConcurrency: cfg.blockSyncConcurrency,
    seriesMaxConcurrency: cfg.seriesMaxConcurrency,
    timeRange: () => ({ minTime: minTime(), maxTime: maxTime() }),
    log: ctx.log,
    metrics: ctx.metrics,
    chunkGapBytes: cfg.partitionGapBytes,
  });
  return storeGatewayComponent({
    store, bucket, fs: ctx.fs, log: ctx.log, setReady: (r) => ctx.setReady(r), headerDir, headerStats,
    syncIntervalMs: cfg.syncBlockDurationMs, webDisable: cfg.webDisable, disableAdminOperations: cfg.disableAdminOperations,
    // Thanos's store serves its block viewer at the root; links carry --web.external-prefix, else the --web.prefix-header value.
    prefixFor: webPrefixFor(cfg.externalPrefix, cfg.prefixHeader, ''),
  });
}

export default definePlugin<StoreConfig>({
  manifest: {
    id: 'component:store',
    apiVersion: 1,
    permissions: { net: true, read: true, write: true },
    description: 'net: serve gRPC/HTTP and reach memcached; read/write: the --data-dir (index-headers) and config files (--index-cache.config-file, --selector.relabel-config-file).',
  },
  flags: storeFlags,
  parseConfig: parseStoreConfig,
  setup: (ctx, cfg) => setupStore(ctx, cfg),
});
