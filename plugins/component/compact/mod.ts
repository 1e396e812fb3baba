// `thanos compact`: the singleton that compacts (2h → 8h → 2d → 14d per group of external labels
// and resolution), downsamples (raw → 5m → 1h), applies retention and deletes marked blocks.
// Runs one iteration and exits unless --wait; halts on overlapping blocks like Thanos. The work
// itself is lib/compact; this file wires flags, metrics, /-/ready and the block viewer.
import { definePlugin, sleep, type ComponentContext, type Component } from '../../../lib/sdk/mod.ts';
import { BLOCKS_API_ROUTES, REACT_UI_ROUTES, routeInstrumentation } from '../../../lib/web/handlers.ts';
import { Compactor, HaltError } from '../../../lib/compact/compactor.ts';
import { DEFAULT_RANGES } from '../../../lib/compact/plan.ts';
import { bucketWebHandler } from '../../../lib/compact/web.ts';
import { underRoutePrefix, webPrefixFor } from '../../../lib/web/ui.ts';
import { MetaFetcher, TimePartitionFilter, LabelShardedFilter, type MetaFilter } from '../../../lib/store/blocksync/fetcher.ts';
import { parseRelabelConfigs } from '../../../lib/store/blocksync/relabel.ts';
import { parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';
import { ConfigError } from '../../../lib/sdk/mod.ts';
import { compactFlags, parseCompactConfig, type CompactConfig } from './config.ts';


export async function setupCompact(ctx: ComponentContext, cfg: CompactConfig): Promise<Component> {
  const bucket = await ctx.bucket();
  const dataDir = ctx.fs.resolve(ctx.dataDir ?? cfg.dataDir);
  await ctx.fs.mkdir(dataDir, { recursive: true });
  const log = ctx.log;
  const filters: MetaFilter[] = [new TimePartitionFilter(() => parseTimeOrDuration(cfg.minTime), () => parseTimeOrDuration(cfg.maxTime))];
  let relabelText = cfg.selectorRelabelConfig;
  if (cfg.selectorRelabelConfigFile !== undefined) {
    try {
      relabelText = new TextDecoder().decode(await ctx.fs.readFile(ctx.fs.resolve(cfg.selectorRelabelConfigFile)));
    } catch (e) {
      throw new ConfigError('selectorRelabelConfigFile', `cannot read ${cfg.selectorRelabelConfigFile}: ${(e as Error).message}`);
    }
  }
  if (relabelText !== undefined) {
    try {
      filters.push(new LabelShardedFilter(parseRelabelConfigs(relabelText)));
    } catch (e) {
      throw new ConfigError(cfg.selectorRelabelConfigFile !== undefined ? 'selectorRelabelConfigFile' : 'selectorRelabelConfig', (e as Error).message);
    }
  }
  const compactor = new Compactor({
    filters,
    bucket, fs: ctx.fs, core: ctx.core, dataDir, log, metrics: ctx.metrics,
    ranges: DEFAULT_RANGES.slice(0, cfg.maxCompactionLevel + 1),
    consistencyDelayMs: cfg.consistencyDelayMs,
    deleteDelayMs: cfg.deleteDelayMs,
    retention: { raw: cfg.retentionRawMs, m5: cfg.retention5mMs, h1: cfg.retention1hMs },
    downsampling: !cfg.downsamplingDisable,
    concurrency: cfg.concurrency,
    downsampleConcurrency: cfg.downsampleConcurrency,
    metaFetchConcurrency: cfg.metaFetchConcurrency,
    enableVerticalCompaction: cfg.enableVerticalCompaction,
    replicaLabels: cfg.replicaLabels,
  });
  const halted = ctx.metrics.gauge('thanos_compact_halted', 'Set to 1 if the compactor halted due to an unexpected error.');
  const iterations = ctx.metrics.counter('thanos_compact_iterations_total', 'Total number of iterations that were executed successfully.');
  const retries = ctx.metrics.counter('thanos_compact_retries_total', 'Total number of retries after retriable compactor error.');
  halted.set(0);
  ctx.metrics.gauge('thanos_delete_delay_seconds', 'Configured delete delay in seconds.').set(cfg.deleteDelayMs / 1000);
  const viewer = cfg.webDisable
    ? undefined
    : bucketWebHandler(() => new MetaFetcher(bucket, { log, concurrency: cfg.metaFetchConcurrency }).fetch(), {
      refreshMs: cfg.blockViewerSyncIntervalMs, label: cfg.bucketWebLabel, bucket, disableAdminOperations: cfg.disableAdminOperations,
      prefix: cfg.routePrefix, prefixFor: webPrefixFor(cfg.externalPrefix, cfg.prefixHeader, cfg.routePrefix),
    });

  return {
    info: () => ({ componentType: 'compact' }),
    http: routeInstrumentation([...BLOCKS_API_ROUTES, ...REACT_UI_ROUTES], undefined, cfg.routePrefix),
    fetch: viewer
      ? async (outer) => {
          // The viewer sits under --web.route-prefix; the bare root redirects there (as the ruler and querier do).
          if (cfg.routePrefix && new URL(outer.url).pathname === '/') return new Response(null, { status: 302, headers: { location: `${webPrefixFor(cfg.externalPrefix, cfg.prefixHeader, cfg.routePrefix)(outer)}/` } });
          const req = underRoutePrefix(outer, cfg.routePrefix);
          const p = req ? new URL(req.url).pathname : '';
          if (p === '/' || p === '/blocks' || p === '/loaded' || p === '/global' || p === '/api/v1/blocks' || p === '/api/v1/blocks/mark') return viewer(outer);
          return new Response('not found\n', { status: 404 });
        }
      : undefined,
    async run(signal) {
      ctx.setReady(true);
      log.info('starting compact node', { wait: cfg.wait, data_dir: dataDir });
      for (;;) {
        const t0 = Date.now();
        try {
          const r = await compactor.runOnce(signal);
          iterations.inc();
          log.info('compaction iteration done', { ...r, duration_ms: Date.now() - t0 });
        } catch (e) {
          if (signal.aborted) break;
          if (e instanceof HaltError) {
            halted.set(1);
            log.error('critical error detected; halting', { err: e.message });
            if (!cfg.wait || !cfg.haltOnError) throw e;
            // Thanos keeps the process (and its metrics) up but does nothing more.
            while (!signal.aborted) await sleep(2 ** 31 - 1, signal);
            break;
          }
          if (!cfg.wait) throw e;
          retries.inc();
          log.error('retriable error', { err: (e as Error).message });
        }
        if (!cfg.wait || signal.aborted) break;
        await sleep(cfg.waitIntervalMs, signal);
        if (signal.aborted) break;
      }
      ctx.setReady(false);
    },
  };
}

export default definePlugin<CompactConfig>({
  manifest: {
    id: 'component:compact',
    apiVersion: 1,
    permissions: { net: true, read: true, write: true },
    description: 'net: serve HTTP (probes, metrics, block viewer); read/write: the --data-dir scratch space where blocks are downloaded, merged and downsampled.',
  },
  flags: compactFlags,
  parseConfig: parseCompactConfig,
  setup: (ctx, cfg) => setupCompact(ctx, cfg),
});
