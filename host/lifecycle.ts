// The run group: set up components in dependency order, serve their HTTP and gRPC listeners, run
// them under one AbortSignal, and stop them all on SIGINT/SIGTERM (within a grace period), on the
// first component that fails, or when one returns. SIGHUP calls component.reload().
import * as fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { Bucket, Component, ComponentContext, ComponentPlugin, Core, Logger } from './index.ts';
import { createCapabilities } from './capabilities.ts';
import { BUILD_INFO } from './version.ts';
import { NoObjectStorageError } from '../lib/objstore/kit/errors.ts';
import { MetricsBucket } from '../lib/objstore/metrics.ts';
import type { RequestLogging } from '../lib/web/reqlog.ts';
import { Registry, processMetrics, renderAll } from './metrics.ts';
import type { Permissions } from './permissions.ts';
import { resolveSecrets } from './secrets.ts';
import { buildHttpApp, startHttp } from './server/http.ts';
import type { HttpLimits } from './server/listen.ts';
import { WebConfigSource } from './server/webconfig.ts';
import { startGrpc, type GrpcListener } from './server/grpc.ts';
import type { ServerTlsFiles } from './server/tls.ts';
import { infoService, INFO_METHOD } from './server/info.ts';
import type { HttpListener } from './index.ts';
import { enterComponentScope } from './tracing.ts';

/**
 * One object store instance shared by the components bound to it. The bucket it creates carries
 * no thanos_objstore_bucket_* metrics: each component wraps it in its own MetricsBucket registered
 * in that component's registry, so a bucket shared by several components of `thanos run` counts
 * each operation once, on the /metrics of the component that made it (as upstream's one process
 * per component would).
 */
export interface ObjstoreHandle {
  id: string;
  /** Metrics the provider plugin registered itself (through its ctx.metrics). */
  registry: Registry;
  /** The `bucket` label of the thanos_objstore_bucket_* metrics. */
  bucketName: string;
  /** Creates the bucket on first use. */
  get(): Promise<Bucket>;
  close(): Promise<void>;
}

export function objstoreHandle(id: string, registry: Registry, create: () => Promise<Bucket>, bucketName = id): ObjstoreHandle {
  let p: Promise<Bucket> | undefined;
  return {
    id,
    registry,
    bucketName,
    get: () => (p ??= create().catch((err) => { p = undefined; throw err; })),
    close: async () => {
      if (p) await (await p.catch(() => undefined))?.close();
    },
  };
}

export interface UnitSpec {
  id: string;
  /** Manifest key (`components[1]`) or `thanos store` for the command line, for messages. */
  key: string;
  plugin: ComponentPlugin;
  /** Raw config (may contain `{ env: NAME }` secrets); parsed by plugin.parseConfig. */
  config: unknown;
  permissions: Permissions;
  http?: string;
  /** --http.config: the web configuration file of the HTTP listener (absolute path). */
  httpConfig?: string;
  /** Overrides of the HTTP listener's limits (DEFAULT_HTTP_LIMITS). */
  httpLimits?: Partial<HttpLimits>;
  grpc?: string;
  /** The gRPC listener's TLS (--grpc-server-tls-*, the manifest's grpcTls; paths absolute). */
  grpcTls?: ServerTlsFiles;
  /** --grpc-server-max-connection-age (0 or absent: connections live as long as they are used). */
  grpcMaxConnectionAgeMs?: number;
  /** --request.logging-config(-file), parsed: which HTTP and gRPC requests are logged. */
  requestLogging?: RequestLogging;
  /** Serve gRPC only when the component has gRPC services (true for the command line's default address). */
  grpcOnlyIfServices?: boolean;
  dataDir?: string;
  /** Relative paths of the plugin's fs calls resolve against this (the manifest's directory). */
  baseDir?: string;
  objstore?: ObjstoreHandle;
  /** How to explain a missing object store binding. */
  objstoreHint?: string;
}

export interface RunOptions {
  log: Logger;
  core: () => Promise<Core>;
  /** Deadline for a graceful stop after a signal or a failure. */
  gracePeriodMs: number;
  /** Shared process-level registry (process metrics are added to it). */
  processRegistry?: Registry;
  /** Install SIGINT/SIGTERM/SIGHUP handlers (default true). */
  handleSignals?: boolean;
  /** Stops the group from outside (tests). */
  signal?: AbortSignal;
}

export interface RunResult {
  code: number;
  /** The grace period ran out with components still running. */
  timedOut: boolean;
  cause?: unknown;
}

interface Running {
  spec: UnitSpec;
  component?: Component;
  ready: boolean;
  http?: HttpListener;
  grpc?: GrpcListener;
  done?: Promise<void>;
  finished?: boolean;
  log: Logger;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error && !err.message.includes(err.cause.message) ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}

export async function runGroup(units: UnitSpec[], o: RunOptions): Promise<RunResult> {
  const log = o.log;
  const ac = new AbortController();
  // Every component, server and in-flight request listens on the one process signal.
  setMaxListeners(0, ac.signal);
  const procReg = o.processRegistry ?? new Registry();
  procReg.addCollector(processMetrics);
  const running: Running[] = [];
  // A provider's own metrics are shown once: on the first component bound to its object store.
  const providerMetricsShown = new Set<ObjstoreHandle>();
  let failure: { err: unknown; id: string } | undefined;
  let stopReason = '';
  let wake!: () => void;
  const stopped = new Promise<void>((r) => (wake = r));
  const stop = (why: string) => {
    if (ac.signal.aborted) return;
    stopReason = why;
    for (const r of running) r.ready = false;
    ac.abort(new Error(why));
    wake();
  };

  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      log.warn('second signal, exiting now', { signal: sig });
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    log.info('caught signal, shutting down', { signal: sig });
    stop(`signal ${sig}`);
  };
  const onHup = () => {
    log.info('caught SIGHUP, reloading');
    for (const r of running) {
      r.component?.reload?.().then(() => r.log.info('reloaded'), (err) => r.log.error('reload failed', { err: describe(err) }));
    }
  };
  const handle = o.handleSignals !== false;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onHup);
  }
  const onOuter = () => stop('stopped by the caller');
  o.signal?.addEventListener('abort', onOuter, { once: true });

  try {
    let core: Core | undefined;
    for (const spec of units) {
      if (ac.signal.aborted) break;
      // What the component starts from here on (servers, timers, requests) is traced as its own.
      enterComponentScope(spec.id);
      const ulog = log.with({ component: spec.id });
      const r: Running = { spec, ready: false, log: ulog };
      running.push(r);
      try {
        core ??= await o.core();
        const reg = new Registry();
        let bucket: Promise<Bucket> | undefined;
        const handle = spec.objstore;
        const componentBucket = (h: ObjstoreHandle) =>
          (bucket ??= h.get().then((b) => new MetricsBucket(b, reg, h.bucketName) as Bucket).catch((err) => { bucket = undefined; throw err; }));
        if (spec.dataDir) fs.mkdirSync(spec.dataDir, { recursive: true });
        const caps = createCapabilities({ permissions: spec.permissions, log: ulog, metrics: reg, baseDir: spec.baseDir });
        const ctx: ComponentContext = {
          ...caps,
          core,
          dataDir: spec.dataDir,
          signal: ac.signal,
          addresses: { http: spec.http, grpc: spec.grpc },
          build: BUILD_INFO,
          stdout: { write: (t) => void process.stdout.write(t) },
          stderr: { write: (t) => void process.stderr.write(t) },
          setReady: (v) => {
            if (ac.signal.aborted && v) return;
            if (v !== r.ready) ulog.info(v ? 'changing probe status to ready' : 'changing probe status to not ready');
            r.ready = v;
          },
          bucket: async (id) => {
            if (!spec.objstore) throw new NoObjectStorageError(spec.id, spec.objstoreHint ?? 'set objstore:');
            if (id !== undefined && id !== spec.objstore.id) throw new Error(`${spec.id}: not bound to object storage "${id}" (bound: ${spec.objstore.id})`);
            return componentBucket(spec.objstore);
          },
        };
        const providerReg = handle && !providerMetricsShown.has(handle) ? handle.registry : undefined;
        if (handle) providerMetricsShown.add(handle);
        const regs = () => [procReg, reg, ...(providerReg ? [providerReg] : [])];
        const config = spec.plugin.parseConfig(resolveSecrets(spec.config, spec.permissions, `${spec.key}.config`));
        // HTTP first, like Thanos: /-/healthy and /metrics answer while setup runs (/-/ready stays 503,
        // other routes 503 until the component exists).
        if (spec.http) {
          // --http.config is checked before anything listens (a bad file stops the component, as Thanos's Validate).
          const webConfig = spec.httpConfig ? new WebConfigSource(spec.httpConfig, ulog) : undefined;
          const app = buildHttpApp({ component: () => r.component, ready: () => r.ready, metrics: () => renderAll(regs()), registry: reg, log: ulog, webConfig, requestLog: spec.requestLogging?.http });
          r.http = await startHttp(spec.http, app, { webConfig, limits: spec.httpLimits, log: ulog });
          if (webConfig) ulog.info(webConfig.tlsEnabled ? 'TLS is enabled.' : 'TLS is disabled.', { service: 'http/server', http2: webConfig.http2 });
          ulog.info('listening for requests and metrics', { service: 'http/server', address: `${r.http.address.hostname}:${r.http.address.port}` });
        }
        r.component = await spec.plugin.setup(ctx, config);
        const services = r.component.grpc ?? {};
        if (spec.grpc && (!spec.grpcOnlyIfServices || Object.keys(services).length > 0)) {
          const all = { ...infoService(() => r.component), ...services };
          r.grpc = await startGrpc(spec.grpc, all, { log: ulog, signal: ac.signal, tls: spec.grpcTls, metrics: reg, maxConnectionAgeMs: spec.grpcMaxConnectionAgeMs, requestLog: spec.requestLogging?.grpc });
          ulog.info('listening for serving gRPC', { service: 'gRPC/server', address: r.grpc.address, info: INFO_METHOD in services ? 'component' : 'host' });
        }
        const comp = r.component;
        r.done = comp.run(ac.signal).then(
          () => {
            if (!ac.signal.aborted) {
              ulog.info('component finished');
              stop(`component ${spec.id} finished`);
            }
          },
          (err) => {
            if (ac.signal.aborted && (err as Error)?.name === 'AbortError') return;
            if (!failure) failure = { err, id: spec.id };
            ulog.error('component failed', { err: describe(err) });
            stop(`component ${spec.id} failed`);
          },
        ).finally(() => { r.finished = true; });
      } catch (err) {
        failure = { err, id: spec.id };
        ulog.error('component failed to start', { err: describe(err) });
        stop(`component ${spec.id} failed to start`);
        break;
      }
    }

    enterComponentScope(undefined);
    if (!ac.signal.aborted) await stopped;

    // Graceful stop: wait for every run() to return, then close listeners; all within the grace period.
    log.info('stopping', { reason: stopReason, grace_period: `${o.gracePeriodMs}ms` });
    let timedOut = false;
    const graceful = (async () => {
      await Promise.all(running.map((r) => r.done ?? Promise.resolve()));
      await Promise.all(running.map(async (r) => {
        await r.http?.close();
        await r.grpc?.close(Math.max(100, o.gracePeriodMs / 2));
      }));
      await Promise.all([...new Set(running.map((r) => r.spec.objstore).filter(Boolean))].map((h) => h!.close().catch(() => {})));
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      graceful,
      new Promise<void>((r) => { timer = setTimeout(() => { timedOut = true; r(); }, o.gracePeriodMs); }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const busy = running.filter((r) => r.done && !r.finished).map((r) => r.spec.id);
      log.error('grace period exceeded, forcing exit', { grace_period: `${o.gracePeriodMs}ms`, components: busy.join(',') });
      return { code: 1, timedOut: true, cause: failure?.err };
    }
    if (failure) {
      log.error('exiting with error', { component: failure.id, err: describe(failure.err) });
      return { code: 1, timedOut: false, cause: failure.err };
    }
    log.info('exiting');
    return { code: 0, timedOut: false };
  } finally {
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onHup);
    }
    o.signal?.removeEventListener('abort', onOuter);
  }
}
