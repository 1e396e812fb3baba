// `thanos receive`: Prometheus remote write into a local TSDB per tenant (lib/tsdb/head: in-memory
// head + WAL, blocks cut every --tsdb.block-duration), served over the StoreAPI and uploaded to object
// storage when one is configured; with a hashring, a router that forwards each series to its
// replicas (lib/receive/forward.ts).
//
// - Mode (as Thanos): --receive.hashrings-file or --receive.hashrings and --receive.local-endpoint →
//   RouterIngestor; a hashring only → RouterOnly; neither → IngestorOnly.
// - HTTP on --remote-write.address: POST /api/v1/receive (remote write 0.1.0: snappy + prompb).
//   The tenant comes from --receive.tenant-header (default --receive.default-tenant-id). Answers:
//   200 all stored (with a hashring: every series by a quorum of its replicas); 400 malformed body,
//   invalid labels, labels over the --receive.label-*-limit flags or replica number (valid series
//   are still stored); 409 out-of-order / duplicate / out-of-bounds samples (the rest is stored);
//   413 body too big, or decoded size over --remote-write.max-decoded-bytes; 503 a series missed its
//   write quorum (Prometheus retries). The WAL record is written before the answer (fsynced per
//   segment, not per request: Prometheus's durability, lib/tsdb/head/WAL.md).
//   GET /api/v1/status/tsdb: head cardinality per tenant.
// - gRPC: thanos.WriteableStore/RemoteWrite (forwarded writes; conflicts → AlreadyExists, bad input
//   → InvalidArgument, quorum failures → Unavailable), thanos.Store Series/LabelNames/LabelValues
//   over blocks + head of every tenant, each series labelled with the external labels (they
//   override same-named labels) and <tenant-label-name>=<tenant>; Info: component "receive", one
//   label set per tenant.
// - Every tick: cut blocks, upload new ones (lib/shipper: meta.json last, thanos.labels = external
//   labels + tenant, source "receive"), apply --tsdb.retention to uploaded local blocks.
// - Hashring loaded (at start) or changed (lib/receive/hashringchange.ts, as upstream): an ingesting
//   receiver goes not ready, flushes every head into blocks up to its newest timestamp, uploads, gets ready again; after
//   the first load a ketama change keeps the head (no churn). Storage work runs one job at a time.
// - Shutdown: stop accepting writes, flush every head into a block, upload, return.
// The logic is lib/receive's; this plugin reads the config and wires it.
import { definePlugin, sleep, type Component, type ComponentContext, type HttpListener } from '../../../lib/sdk/mod.ts';
import type { TimeSeries } from '../../../lib/proto/prompb.ts';
import {
  HashringChangeHandler, HashringWatcher, Receiver, Router, serialQueue, determineMode, newMultiHashring, parseHashringsConfig, receiveHttpHandler, type WriteOutcome,
} from '../../../lib/receive/mod.ts';
import type { StoreServer } from '../../../lib/store/api.ts';
import { optionalBucket } from '../../../lib/shipper/bucket.ts';
import { storeServices, writeableStoreServices } from '../../../lib/store/server.ts';
import { splitHostPort } from '../../../lib/net/hostport.ts';
import { parseReceiveConfig, receiveFlags, type ReceiveConfig } from './config.ts';
import { Limiter, parseLimitsConfig } from '../../../lib/receive/limits.ts';
import { flagValuesOfConfig, rememberRawConfig, statusPages } from '../../../lib/web/status.ts';

/** The status pages are the querier's (one copy of the page code). */
const UI_DIR = new URL('../query/ui/', import.meta.url).pathname;

export { parseReceiveConfig, receiveFlags, parseLabelFlag, NO_EXTERNAL_LABELS, type ReceiveConfig } from './config.ts';
export type { WriteOutcome } from '../../../lib/receive/mod.ts';

export interface ReceiveComponent extends Component {
  /** The remote write HTTP handler (what --remote-write.address serves). */
  handle(req: Request): Promise<Response>;
  /** Appends to a tenant (the HTTP and gRPC paths end here). */
  write(tenant: string, series: readonly TimeSeries[]): Promise<WriteOutcome>;
  /** Cuts due blocks and uploads (what each tick does); flush=true cuts whole heads. */
  compactAndShip(flush?: boolean): Promise<string[]>;
  tenants(): string[];
  store: StoreServer;
  /** Address the remote write listener is bound to (after run() started it). */
  remoteWriteAddress(): { hostname: string; port: number } | undefined;
}

export async function setupReceive(ctx: ComponentContext, cfg: ReceiveConfig): Promise<ReceiveComponent> {
  const log = ctx.log;
  const bucket = await optionalBucket(ctx);
  if (!bucket) log.info('no supported bucket was configured, uploads will be disabled');
  const rx = await Receiver.open({
    fs: ctx.fs, path: cfg.tsdbPath, core: ctx.core, log, metrics: ctx.metrics, bucket,
    labels: cfg.labels, tenantLabelName: cfg.tenantLabelName, defaultTenant: cfg.defaultTenant,
    replicationFactor: cfg.replicationFactor, blockDurationMs: cfg.blockDurationMs, retentionMs: cfg.retentionMs,
    tooFarInFutureMs: cfg.tooFarInFutureMs, labelLimits: cfg.labelLimits, walCompression: cfg.walCompression,
  });
  const mode = determineMode(cfg.hashringsFile !== '' || cfg.hashrings !== '', cfg.localEndpoint);
  log.info('running receive', { mode, replicationFactor: cfg.replicationFactor });
  if (cfg.forwardTlsIgnored?.length) log.warn('forwarding TLS settings have no effect without --remote-write.client-tls-secure: other receivers are dialled in plaintext', { keys: cfg.forwardTlsIgnored.join(',') });
  const router = new Router({
    mode, replicationFactor: cfg.replicationFactor, localEndpoint: cfg.localEndpoint, defaultTenant: cfg.defaultTenant,
    splitTenantLabelName: cfg.splitTenantLabelName, local: (tenant, series) => rx.write(tenant, series), dial: (target, o) => ctx.grpcDial(target, cfg.forwardTls ? { ...o, tls: cfg.forwardTls } : o),
    forwardTimeoutMs: cfg.forwardTimeoutMs, log, metrics: ctx.metrics,
  });
  // Storage work (the block cutting tick, flushes on hashring changes, the flush at exit) runs one at a time.
  const serial = serialQueue();
  const ringChanges = new HashringChangeHandler({
    algorithm: cfg.hashringsAlgorithm, ingesting: mode !== 'RouterOnly',
    flush: async () => {
      for (const t of rx.tenants.list()) await t.db.flushBeforeNewest();
      await rx.compactAndShip();
    },
    setReady: (ready) => ctx.setReady(ready), serial, log, metrics: ctx.metrics,
  });
  // Changes before run() are the first load, which run() handles once the listener is up.
  let running = false;
  let watcher: HashringWatcher | undefined;
  if (cfg.hashringsFile !== '') {
    watcher = new HashringWatcher({
      fs: ctx.fs, path: cfg.hashringsFile, algorithm: cfg.hashringsAlgorithm, replicationFactor: cfg.replicationFactor,
      refreshMs: cfg.hashringsRefreshMs, log, metrics: ctx.metrics,
      onChange: (_cfg, ring) => {
        router.setHashring(ring);
        if (running) void ringChanges.changed();
      },
    });
    await watcher.load();
  } else if (cfg.hashrings !== '') {
    router.setHashring(newMultiHashring(cfg.hashringsAlgorithm, cfg.replicationFactor, parseHashringsConfig(cfg.hashrings)));
  }
  // --receive.limits-config(-file): checked at start (a bad file stops it), a file re-read every
  // reload timer and applied when it changed and is valid (else logged, the old limits stay).
  const limiter = new Limiter(ctx.metrics, log);
  let limitsText = cfg.limitsConfig;
  if (cfg.limitsConfigFile !== '') limitsText = new TextDecoder().decode(await ctx.fs.readFile(cfg.limitsConfigFile));
  if (limitsText !== '') limiter.set(parseLimitsConfig(limitsText));
  const reloadLimits = async () => {
    let text: string;
    try {
      text = new TextDecoder().decode(await ctx.fs.readFile(cfg.limitsConfigFile));
    } catch (e) {
      limiter.reloaded(false);
      log.error('failed to read limits configuration', { path: cfg.limitsConfigFile, err: (e as Error).message });
      return;
    }
    if (text === limitsText) return;
    limitsText = text;
    try {
      limiter.set(parseLimitsConfig(text));
      limiter.reloaded(true);
      log.info('limits configuration reloaded', { path: cfg.limitsConfigFile });
    } catch (e) {
      limiter.reloaded(false);
      log.error('failed to reload limits configuration, keeping the previous limits', { path: cfg.limitsConfigFile, err: (e as Error).message });
    }
  };
  const handle = receiveHttpHandler(rx, { ...cfg, limiter, route: (rep, tenant, series) => router.handle(rep, [{ tenant, series }]) });
  let listener: HttpListener | undefined;
  // Not upstream's (its receiver's HTTP port serves only probes, /metrics and pprof): the querier's
  // /status and /flags pages and the status API, so an operator sees the receiver's flags and version.
  const web = statusPages({
    readFile: (p) => ctx.fs.readFile(p), uiDir: UI_DIR, build: ctx.build,
    flags: () => flagValuesOfConfig(cfg, receiveFlags, ctx.addresses),
  });

  return {
    store: rx.store,
    fetch: web.fetch,
    // One registry holds both ports' HTTP families: the status pages take the remote-write
    // listener's tenant label and buckets, so the families agree (http_requests_total{tenant}).
    http: { ...web.http, tenant: { header: cfg.tenantHeader, default: cfg.defaultTenant }, durationBuckets: receiveDurationBuckets(cfg.forwardTimeoutMs / 1000) },
    handle,
    write: (tenant, series) => rx.write(tenant, series),
    compactAndShip: (flush) => rx.compactAndShip(flush),
    tenants: () => rx.tenants.ids(),
    remoteWriteAddress: () => listener?.address,
    info: () => rx.info(),
    grpc: { ...storeServices(rx.store), ...writeableStoreServices((req) => router.grpcWrite(req)) },
    async run(signal: AbortSignal) {
      const { hostname, port } = splitHostPort(cfg.remoteWriteAddress, '0.0.0.0');
      listener = await ctx.listen({
        hostname, port, tls: cfg.remoteWriteTls,
        // --remote-write.server-http-config: TLS, basic auth and headers through --http.config's code.
        ...(cfg.remoteWriteHttpConfig !== '' ? { webConfigFile: cfg.remoteWriteHttpConfig } : {}),
        // Thanos's receive handler instrumentation: a tenant label, its own duration buckets.
        maxBodyBytes: cfg.maxBodyBytes,
        instrument: {
          handlerName: receiveHandlerName,
          preCreate: { receive: ['post'] },
          tenant: { header: cfg.tenantHeader, default: cfg.defaultTenant },
          durationBuckets: receiveDurationBuckets(cfg.forwardTimeoutMs / 1000),
        },
      }, handle);
      log.info('listening for remote write', { address: `${listener.address.hostname}:${listener.address.port}` });
      // The first hashring load (or none: a single node) updates the storage as a change does; ready after it.
      running = true;
      await ringChanges.changed();
      const watching = watcher?.run(signal);
      const loops: Array<Promise<void>> = [];
      if (cfg.limitsConfigFile !== '') {
        loops.push((async () => {
          while (!signal.aborted) {
            await sleep(cfg.limitsReloadMs, signal);
            if (!signal.aborted) await reloadLimits();
          }
        })());
      }
      // Head series limits: the current series per tenant come from meta-monitoring every 15 s (Thanos).
      loops.push((async () => {
        while (!signal.aborted) {
          if (limiter.config?.metaMonitoringUrl) await limiter.queryMetaMonitoring((u, init) => ctx.fetch(u, init));
          await sleep(15_000, signal);
        }
      })());
      const tick = Math.max(1000, Math.min(30_000, Math.floor(cfg.blockDurationMs / 4)));
      while (!signal.aborted) {
        await sleep(tick, signal);
        if (signal.aborted) break;
        await serial(() => rx.compactAndShip());
      }
      ctx.setReady(false);
      await watching;
      await Promise.all(loops);
      rx.stopAccepting();
      await listener.close();
      log.info('flushing heads into blocks before exit');
      await serial(() => rx.compactAndShip(true));
      await rx.close();
      router.close();
    },
  };
}

/** The handler names Thanos's receive router instruments on the remote-write listener. */
function receiveHandlerName(req: Request): string | undefined {
  const p = new URL(req.url).pathname;
  if (p === '/api/v1/receive' && req.method === 'POST') return 'receive';
  if (p === '/api/v1/status/tsdb' && req.method === 'GET') return 'tsdb_status';
  return undefined;
}

/** Thanos receive's http_request_duration_seconds buckets: fine-grained up to 5 s, then every 2 s up to the forward timeout. */
function receiveDurationBuckets(forwardTimeoutSeconds: number): number[] {
  const b = [0.001, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.25, 0.5, 0.75, 1, 2, 3, 4, 5];
  for (let max = 7; max < forwardTimeoutSeconds; max += 2) b.push(max);
  if (b[b.length - 1]! < forwardTimeoutSeconds) b.push(forwardTimeoutSeconds);
  return b;
}

export default definePlugin<ReceiveConfig>({
  manifest: {
    id: 'component:receive',
    apiVersion: 1,
    permissions: { net: true, read: true, write: true },
    description: 'net: serve remote write on --remote-write.address (and gRPC/HTTP); read/write: WAL and blocks under --tsdb.path.',
  },
  flags: receiveFlags,
  parseConfig: rememberRawConfig(parseReceiveConfig),
  setup: (ctx, cfg) => setupReceive(ctx, cfg),
});
