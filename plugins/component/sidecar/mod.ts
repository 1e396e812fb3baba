// `thanos sidecar`: runs next to one Prometheus. Serves the StoreAPI on top of Prometheus's remote
// read and HTTP API (lib/sidecar/store.ts), and, when an object store is configured, uploads the blocks
// Prometheus writes to --tsdb.path (lib/shipper).
//
// The logic is lib/sidecar's (PromClient, PromStore, the Metadata/Targets APIs, PromPeer); this
// plugin reads the config and wires it with the shipper and the loops below.
//
// Start-up, as Thanos's cmd/thanos/sidecar.go: poll Prometheus (every 2s, up to
// --prometheus.ready_timeout) until its flags check out (uploads only: min-block-duration must equal
// max-block-duration unless --shipper.ignore-unequal-block-size; a duration other than 2h is a
// warning) and its external labels are loaded. No external labels is fatal ("no external labels
// configured on Prometheus server ..."), so nothing is ever uploaded without them. Then /-/ready turns
// 200, the shipper runs at once and every 30s, and a heartbeat refreshes the external labels and the
// advertised min time every --prometheus.get_config_interval (a failure turns /-/ready to 503 until
// the next success).
import { definePlugin, sleep, type Component, type ComponentContext } from '../../../lib/sdk/mod.ts';
import { Shipper } from '../../../lib/shipper/shipper.ts';
import { NO_EXTERNAL_LABELS, PromClient, PromPeer, PromStore, sidecarApiServices } from '../../../lib/sidecar/mod.ts';
import { optionalBucket } from '../../../lib/shipper/bucket.ts';
import { storeServices } from '../../../lib/store/server.ts';
import { parseHttpClientYaml, parseSidecarConfig, sidecarFlags, type SidecarConfig } from './config.ts';
import { httpClientFetch } from '../../../lib/net/httpclient.ts';
import { flagValuesOfConfig, rememberRawConfig, statusPages } from '../../../lib/web/status.ts';

/** The status pages are the querier's (one copy of the page code). */
const UI_DIR = new URL('../query/ui/', import.meta.url).pathname;

export { PromStore, matchersWithoutExternal, withExternalLabels, PromClient, PromError, NO_EXTERNAL_LABELS } from '../../../lib/sidecar/mod.ts';
export type { SidecarConfig } from './config.ts';

export interface SidecarComponent extends Component {
  store: PromStore;
  shipper?: Shipper;
  /** Current external labels (empty until loaded). */
  externalLabels(): Record<string, string>;
}

export async function setupSidecar(ctx: ComponentContext, cfg: SidecarConfig): Promise<SidecarComponent> {
  const log = ctx.log;
  // --prometheus.http-client(-file): auth and TLS towards Prometheus (files read through ctx.fs).
  const httpClient = cfg.httpClientFile
    ? parseHttpClientYaml(new TextDecoder().decode(await ctx.fs.readFile(cfg.httpClientFile)), cfg.httpClientFile)
    : cfg.httpClient;
  const promFetch = await httpClientFetch(ctx, httpClient, cfg.httpClientFile || 'prometheus.http-client');
  const client = new PromClient(promFetch, cfg.prometheusUrl, cfg.getConfigTimeoutMs);
  const peer = new PromPeer({ client, log, minTime: cfg.minTime, ignoreUnequalBlockSize: cfg.ignoreUnequalBlockSize });
  const promUp = ctx.metrics.gauge('thanos_sidecar_prometheus_up', 'Boolean indicator whether the sidecar can reach its Prometheus peer.');
  const heartbeat = ctx.metrics.gauge('thanos_sidecar_last_heartbeat_success_time_seconds', 'Timestamp of the last successful heartbeat in seconds.');

  const store = new PromStore({
    client,
    core: ctx.core,
    externalLabels: () => peer.requireExternalLabels(),
    seriesLimit: cfg.requestSeriesLimit,
    samplesLimit: cfg.requestSamplesLimit,
    minTime: () => peer.minTimeFlag(),
  });

  const bucket = await optionalBucket(ctx);
  const tsdbPath = ctx.fs.resolve(cfg.tsdbPath);
  let shipper: Shipper | undefined;
  if (bucket) {
    shipper = new Shipper({
      bucket, fs: ctx.fs, dir: tsdbPath, labels: () => peer.currentExternalLabels(), source: 'sidecar', uploadCompacted: cfg.uploadCompacted,
      metaFileName: cfg.shipperMetaFileName, log: log.with({ component: 'shipper' }), metrics: ctx.metrics,
    });
  } else {
    log.info('no supported bucket was configured, uploads will be disabled');
  }

  // Not upstream's (its sidecar serves only probes, /metrics and pprof): the querier's /status and
  // /flags pages and the status API, so an operator sees the sidecar's flags and version.
  const web = statusPages({
    readFile: (p) => ctx.fs.readFile(p), uiDir: UI_DIR, build: ctx.build,
    flags: () => flagValuesOfConfig(cfg, sidecarFlags, ctx.addresses),
  });

  return {
    store,
    shipper,
    fetch: web.fetch,
    http: web.http,
    externalLabels: () => peer.externalLabels(),
    info: () => peer.info(),
    grpc: {
      ...storeServices(store),
      ...sidecarApiServices({ client, externalLabels: () => peer.requireExternalLabels() }),
    },
    async run(signal: AbortSignal) {
      const deadline = Date.now() + cfg.readyTimeoutMs;
      for (;;) {
        if (signal.aborted) return;
        try {
          if (shipper) await peer.checkFlags(signal);
          await peer.refresh(signal);
          promUp.set(1);
          break;
        } catch (e) {
          promUp.set(0);
          if (signal.aborted) return;
          log.warn('failed to fetch initial external labels. Is Prometheus running? Retrying', { err: (e as Error).message });
          if (Date.now() >= deadline) throw new Error(`Prometheus at ${cfg.prometheusUrl} not ready within --prometheus.ready_timeout: ${(e as Error).message}`);
          await sleep(Math.min(2000, Math.max(0, deadline - Date.now())), signal);
        }
      }
      const ext = peer.currentExternalLabels();
      if (Object.keys(ext).length === 0) throw new Error(NO_EXTERNAL_LABELS);
      log.info('successfully loaded prometheus external labels', { external_labels: JSON.stringify(ext) });
      heartbeat.set(Date.now() / 1000);
      ctx.setReady(true);

      const heartbeatLoop = (async () => {
        while (!signal.aborted) {
          await sleep(cfg.getConfigIntervalMs, signal);
          if (signal.aborted) break;
          try {
            await peer.refresh(signal);
            promUp.set(1);
            heartbeat.set(Date.now() / 1000);
            ctx.setReady(true);
          } catch (e) {
            if (signal.aborted) break;
            promUp.set(0);
            ctx.setReady(false);
            log.warn('heartbeat failed', { err: (e as Error).message });
          }
        }
      })();

      const shipLoop = (async () => {
        if (!shipper) return;
        while (!signal.aborted) {
          try {
            const r = await shipper.sync();
            if (r.uploaded.length > 0 || r.failed.length > 0) log.info('shipper sync done', { uploaded: r.uploaded.length, failed: r.failed.length, already_uploaded: r.already });
          } catch (e) {
            log.warn('shipper sync failed', { err: (e as Error).message });
          }
          await sleep(cfg.shipperSyncIntervalMs, signal);
        }
      })();

      await Promise.all([heartbeatLoop, shipLoop]);
      ctx.setReady(false);
    },
  };
}

export default definePlugin<SidecarConfig>({
  manifest: {
    id: 'component:sidecar',
    apiVersion: 1,
    permissions: { net: true, read: true, write: true },
    description: 'net: reach Prometheus (--prometheus.url) and serve gRPC/HTTP; read: the blocks under --tsdb.path, the --prometheus.http-client-file and the files it names (CA, client certificate and key, password and token files); write: thanos.shipper.json in --tsdb.path.',
  },
  flags: sidecarFlags,
  parseConfig: rememberRawConfig(parseSidecarConfig),
  setup: (ctx, cfg) => setupSidecar(ctx, cfg),
});
