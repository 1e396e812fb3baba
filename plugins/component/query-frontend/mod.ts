// `thanos query-frontend`: a caching, splitting, retrying HTTP front for a Prometheus-compatible
// query API (our querier, or Prometheus) at --query-frontend.downstream-url. The request path is
// lib/queryfrontend's; this plugin reads the cache configs, builds the caches (IN-MEMORY, or
// MEMCACHED over the host's connect capability), serves the handler on --http-address, and
// follows the downstream's /-/ready every 10s for its own readiness (as Thanos does).
import { definePlugin, sleep, type Component, type ComponentContext } from '../../../lib/sdk/mod.ts';
import { createResponseCache, parseResponseCacheConfig, QueryFrontend, type InstrumentedCache } from '../../../lib/queryfrontend/mod.ts';
import { queryFrontendInstrumentation } from '../../../lib/web/handlers.ts';
import { parseQueryFrontendConfig, queryFrontendFlags, type QueryFrontendConfig } from './config.ts';

export { parseQueryFrontendConfig, queryFrontendFlags, type QueryFrontendConfig } from './config.ts';

const READY_CHECK_INTERVAL_MS = 10_000;

/** The HTTP metrics' tenant label: the tenant flags take only their defaults so far (config.ts refuses others). */
const flagDefault = (name: string) => String(queryFrontendFlags.find((f) => f.name === name)!.default);
const TENANT = { header: flagDefault('query-frontend.tenant-header'), default: flagDefault('query-frontend.default-tenant-id') };

export interface QueryFrontendComponent extends Component {
  frontend: QueryFrontend;
  caches: { queryRange?: InstrumentedCache; labels?: InstrumentedCache };
}

export async function createQueryFrontend(ctx: ComponentContext, cfg: QueryFrontendConfig): Promise<QueryFrontendComponent> {
  const log = ctx.log;
  const readText = async (p: string) => new TextDecoder().decode(await ctx.fs.readFile(ctx.fs.resolve(p)));
  const cacheFor = async (text: string, file: string, key: string, tripperware: string): Promise<InstrumentedCache | undefined> => {
    const yaml = file ? await readText(file) : text;
    const parsed = parseResponseCacheConfig(yaml, key, (msg) => log.warn(msg, { tripperware }));
    if (!parsed) return undefined;
    return createResponseCache(parsed, {
      connect: (o) => ctx.connect(o), log, metrics: ctx.metrics, tripperware, compression: cfg.cacheCompression,
    });
  };
  const queryRange = await cacheFor(cfg.responseCacheConfig, cfg.responseCacheConfigFile, 'queryRangeResponseCacheConfig', 'query_range');
  const labels = await cacheFor(cfg.labelsResponseCacheConfig, cfg.labelsResponseCacheConfigFile, 'labelsResponseCacheConfig', 'labels');
  const stop = new AbortController();
  const frontend = new QueryFrontend({
    downstreamUrl: cfg.downstreamUrl,
    range: {
      splitIntervalMs: cfg.splitIntervalMs, alignRangeWithStep: cfg.alignRangeWithStep, requestDownsampled: cfg.requestDownsampled,
      maxRetries: cfg.maxRetries, maxQueryLengthMs: cfg.maxQueryLengthMs, maxQueryParallelism: cfg.maxQueryParallelism,
      maxFreshnessMs: cfg.maxFreshnessMs, partialResponse: cfg.partialResponse, cache: queryRange,
    },
    labels: {
      splitIntervalMs: cfg.labelsSplitIntervalMs, maxRetries: cfg.labelsMaxRetries, maxQueryParallelism: cfg.labelsMaxQueryParallelism,
      maxFreshnessMs: cfg.labelsMaxFreshnessMs, partialResponse: cfg.labelsPartialResponse, defaultTimeRangeMs: cfg.labelsDefaultTimeRangeMs, cache: labels,
    },
    instantMaxRetries: cfg.instantMaxRetries,
    forwardHeaders: cfg.forwardHeaders,
    compressResponses: cfg.compressResponses,
    logQueriesLongerThanMs: cfg.logQueriesLongerThanMs,
    disableCors: cfg.disableCors,
    verticalShards: cfg.verticalShards,
    fetch: (input, init) => ctx.fetch(input, init),
    log, metrics: ctx.metrics, signal: stop.signal,
  });
  log.info('starting query frontend', { downstream: cfg.downstreamUrl, split_interval_ms: cfg.splitIntervalMs, query_range_cache: queryRange?.backend.name ?? 'none', labels_cache: labels?.backend.name ?? 'none' });

  const checkDownstream = async (): Promise<void> => {
    const url = `${cfg.downstreamUrl}/-/ready`;
    try {
      const res = await ctx.fetch(url, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 400) throw new Error(`downstream URL ${url} returned an error: ${res.status}`);
      ctx.setReady(true);
    } catch (e) {
      log.warn('downstream not ready', { err: (e as Error).message });
      ctx.setReady(false);
    }
  };

  return {
    frontend,
    caches: { queryRange, labels },
    info: () => ({ componentType: 'query-frontend' }),
    http: queryFrontendInstrumentation(TENANT),
    fetch: (req) => frontend.handle(req),
    async run(signal: AbortSignal) {
      signal.addEventListener('abort', () => stop.abort(), { once: true });
      try {
        while (!signal.aborted) {
          await checkDownstream();
          await sleep(READY_CHECK_INTERVAL_MS, signal);
        }
      } finally {
        ctx.setReady(false);
        await Promise.all([queryRange?.backend.close(), labels?.backend.close()]);
      }
    },
  };
}

export default definePlugin<QueryFrontendConfig>({
  manifest: {
    id: 'component:query-frontend',
    apiVersion: 1,
    permissions: { net: true, read: true },
    description: 'net: the downstream query API, memcached (response cache) and the HTTP listener; read: the --*.response-cache-config-file files.',
  },
  flags: queryFrontendFlags,
  parseConfig: parseQueryFrontendConfig,
  setup: (ctx, cfg) => createQueryFrontend(ctx, cfg),
});
