// `thanos store`: the store gateway. Serves the StoreAPI over the blocks of an object store bucket,
// keeping only small per-block index state locally and reading postings, series and chunks with
// ranged GETs. Readiness turns on after the first successful block sync.
import { ConfigError, definePlugin, type Component, type ComponentContext, type GrpcServices } from '../../../lib/sdk/mod.ts';
import {
  ConsistencyDelayFilter, DeduplicateFilter, DeletionMarkFilter, LabelShardedFilter, MetaFetcher, TimePartitionFilter,
} from '../../../lib/store/blocksync/fetcher.ts';
import { parseRelabelConfigs, type RelabelConfig } from '../../../lib/store/blocksync/relabel.ts';
import { parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';
import { createIndexCache, parseIndexCacheConfig, type IndexCache } from '../../../lib/store/indexcache/mod.ts';
import type {
  LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, SeriesRequest, SeriesResponse,
} from '../../../lib/proto/store.ts';
import type { StoreServer } from '../../../lib/store/api.ts';
import { storeServices } from '../../../lib/store/server.ts';
import { BucketStore } from './bucketstore.ts';
import { parseStoreConfig, storeFlags, type StoreConfig } from './config.ts';
import { storeHttp } from './http.ts';
import { openBlock, removeLocal, type IndexHeaderStats } from './indexheader.ts';
import { isULID } from '../../../lib/store/blocksync/meta.ts';

export { BucketStore } from './bucketstore.ts';
export type { StoreConfig } from './config.ts';

const dec = new TextDecoder();

async function readConfigFile(ctx: ComponentContext, key: string, path: string): Promise<string> {
  try {
    return dec.decode(await ctx.fs.readFile(path));
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as Error).message}`);
  }
}

export interface StoreComponent extends Component {
  store: BucketStore;
  /** Resolves after the first successful sync. */
  ready: Promise<void>;
  /** Index-headers built from the bucket vs reused from --data-dir. */
  headerStats: IndexHeaderStats;
}

/** The BucketStore as a StoreServer (lib/store's contract; its server helper applies response_batch_size). */
export function storeServer(store: BucketStore): StoreServer {
  return {
    async *series(req: SeriesRequest, signal: AbortSignal): AsyncIterable<SeriesResponse> {
      for await (const s of store.series(req, signal)) yield { type: 'series', series: s };
    },
    async labelNames(req: LabelNamesRequest): Promise<LabelNamesResponse> {
      return { names: await store.labelNames(req), warnings: [] };
    },
    async labelValues(req: LabelValuesRequest): Promise<LabelValuesResponse> {
      return { values: await store.labelValues(req), warnings: [] };
    },
  };
}

/** The StoreAPI gRPC methods over a BucketStore (Info is served by the host from info()). */
export function storeGrpc(store: BucketStore): GrpcServices {
  return storeServices(storeServer(store));
}

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
  const minTime = () => parseTimeOrDuration(cfg.minTime);
  const maxTime = () => parseTimeOrDuration(cfg.maxTime);
  const deletionFilter = new DeletionMarkFilter(cfg.ignoreDeletionMarksDelayMs, ctx.log);
  const fetcher = new MetaFetcher(bucket, {
    concurrency: cfg.blockMetaFetchConcurrency,
    log: ctx.log,
    metrics: ctx.metrics,
    filters: [
      new TimePartitionFilter(minTime, maxTime),
      new LabelShardedFilter(relabelCfg),
      new ConsistencyDelayFilter(cfg.consistencyDelayMs),
      deletionFilter,
      new DeduplicateFilter(),
    ],
  });
  const dataDir = ctx.dataDir ?? cfg.dataDir;
  const headerDir = cfg.cacheIndexHeader ? dataDir : undefined;
  const headerStats: IndexHeaderStats = { built: 0, reused: 0 };
  const store = new BucketStore(bucket, {
    core: ctx.core,
    fetcher,
    open: (meta) => openBlock({ bucket, core: ctx.core, fs: ctx.fs, dataDir: headerDir, stats: headerStats, log: ctx.log }, meta),
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
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const http = storeHttp(store, { webDisable: cfg.webDisable, bucket, disableAdminOperations: cfg.disableAdminOperations });

  async function syncOnce(): Promise<boolean> {
    try {
      await store.sync();
      const r = store.lastSync!;
      ctx.log.info('synced blocks', { loaded: store.blocks.size, partial: r.partial.size, corrupted: r.corrupted.size, filtered: r.filtered.size, failed: store.loadFailures.size });
      return true;
    } catch (e) {
      ctx.log.error('block sync failed', { err: (e as Error).message });
      return false;
    }
  }

  const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
  });

  /** Removes local state of blocks that are no longer served (after the first sync). */
  async function cleanDataDir(): Promise<void> {
    if (!headerDir || !(await ctx.fs.exists(headerDir))) return;
    for (const f of await ctx.fs.readDir(headerDir)) {
      if (f.isDirectory && isULID(f.name) && !store.blocks.has(f.name)) {
        await removeLocal(ctx.fs, headerDir, f.name).catch((e) => ctx.log.warn('removing stale local block state failed', { id: f.name, err: (e as Error).message }));
      }
    }
  }

  return {
    store,
    ready,
    headerStats,
    info: () => {
      const tr = store.timeRange();
      return {
        componentType: 'store',
        labelSets: store.labelSets(),
        store: { minTime: tr.minTime, maxTime: tr.maxTime, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: store.tsdbInfos() },
      };
    },
    fetch: http,
    grpc: storeGrpc(store),
    async run(signal: AbortSignal) {
      // Initial sync: retried until it succeeds; /-/ready stays false until then.
      while (!signal.aborted && !(await syncOnce())) await sleep(5000, signal);
      if (signal.aborted) return store.close();
      await cleanDataDir();
      ctx.setReady(true);
      resolveReady();
      while (!signal.aborted) {
        await sleep(cfg.syncBlockDurationMs, signal);
        if (signal.aborted) break;
        await syncOnce();
      }
      ctx.setReady(false);
      await store.close();
    },
    async reload() {
      await syncOnce();
    },
  };
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
