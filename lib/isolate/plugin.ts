// The host's stand-ins for a plugin that runs in its own process (issue #22): an object store's
// Bucket and a component's setup/run/fetch/gRPC, each call crossing the channel (wire.ts), and the
// plugin's notes (log lines, metrics, readiness, stdout/stderr) routed into the host's sinks.
// host/isolate/host.ts starts the process, connects the socket and hands a PluginConn here; nothing
// here knows how the process was started.
import type { Bucket } from '../objstore/bucket.ts';
import type { Capabilities, Component, ComponentContext, ComponentInfo, ComponentPlugin, FlagSpec, HttpListener, Logger, Metrics, ObjstorePlugin, PluginManifest, TextOut } from '../sdk/mod.ts';
import { GrpcError, GrpcStatus } from '../sdk/errors.ts';
import type { Handler, Peer } from './wire.ts';
import { RemoteBucket, serveBucket } from './bucket.ts';
import { proxyFetch } from './http.ts';
import { GrpcDialServe, proxyGrpcServices, type GrpcMethodList } from './grpc.ts';

/** Where a plugin process's notes go: its logger, its metrics registry, readiness, stdout/stderr. */
export interface PluginSinks { log: Logger; metrics?: Metrics; ready?(v: boolean): void; stdout?: TextOut; stderr?: TextOut }

/** One plugin process's channel, as the stand-ins use it. */
export interface PluginConn {
  readonly peer: Peer;
  /** Where its notes go from now on. */
  bind(sinks: PluginSinks): void;
  /** The plugin's calls to the host (a component's ctx.listen, ctx.bucket); none for an object store. */
  serveCall?: Handler;
  /** The plugin's notes beyond logs and metrics (a component's ctx.grpcDial call cancels). */
  onNote?: (m: string, a: unknown[]) => void;
  kill(): void;
  /** The process was asked to exit: killed if it has not soon. */
  killLater(): void;
}

type MetricHandle = { inc?: Function; dec?: Function; set?: Function; observe?: Function };

/**
 * A note handler for a plugin process: log lines, metric definitions and updates (into the sinks'
 * registry, so they show on its /metrics as inline), readiness, stdout/stderr; the rest to other().
 */
export function noteRouter(sinks: () => PluginSinks, other: (m: string, a: unknown[]) => void): (m: string, a: unknown[]) => void {
  const metrics = new Map<string, MetricHandle>();
  return (m, a) => {
    const s = sinks();
    if (m === 'ready') { s.ready?.(a[0] === true); return; }
    if (m === 'stdout' || m === 'stderr') { void s[m]?.write(String(a[0])); return; }
    if (m === 'log') {
      const [level, msg, kv] = a as ['debug' | 'info' | 'warn' | 'error', string, Record<string, unknown>];
      if (['debug', 'info', 'warn', 'error'].includes(level)) s.log[level](String(msg), kv);
      return;
    }
    if (m !== 'metric' && !m.startsWith('m.')) { other(m, a); return; }
    const reg = s.metrics;
    if (!reg) return;
    if (m === 'metric') {
      const [type, name, help, labels, buckets] = a as ['counter' | 'gauge' | 'histogram', string, string, string[] | undefined, number[] | undefined];
      if (type === 'counter' || type === 'gauge' || type === 'histogram') metrics.set(name, reg[type](name, help, labels, buckets) as never);
      return;
    }
    // JSON turns an omitted argument (undefined) into null: back to undefined, so defaults apply.
    const [name, x, y] = a.map((v) => (v === null ? undefined : v)) as [string, unknown, unknown];
    const h = metrics.get(name);
    if (m === 'm.inc') h?.inc?.(x, y);
    else if (m === 'm.dec') h?.dec?.(x, y);
    else if (m === 'm.set') h?.set?.(x, y);
    else if (m === 'm.observe') h?.observe?.(x, y);
  };
}

/**
 * A stand-in's processes: the first (already initialised) is kept for checkConfig and handed to the
 * first use (create/setup); each use after starts another, and checkConfig then keeps one spare.
 */
class SpareProcess {
  constructor(private spare: PluginConn | undefined, private readonly another: () => Promise<PluginConn>) {}

  async take(): Promise<PluginConn> {
    const conn = this.spare ?? (await this.another());
    this.spare = undefined;
    return conn;
  }

  async checkConfig(config: unknown): Promise<void> {
    const conn = this.spare ?? (await this.another());
    this.spare ??= conn;
    await conn.peer.call('parseConfig', [config]);
  }

  close(): void {
    this.spare?.kill();
    this.spare = undefined;
  }
}

/** What the plugin's process says about an object-store plugin at init. */
export interface ObjstoreDesc { manifest: PluginManifest; provider: string; retries: 'host' | 'provider' }

export interface IsolatedObjstore {
  /** A stand-in plugin for createBucket: parseConfig passes the config through (checkConfig checks it), create() runs in the plugin's process. */
  plugin: ObjstorePlugin;
  /** The plugin's own parseConfig, in its process (errors keep ConfigError's key). */
  checkConfig(config: unknown): Promise<void>;
  close(): void;
}

/**
 * An object store in its own process: the first process (already initialised, `desc` its answer)
 * serves the first create or checkConfig; another is started (`another`) for each create after.
 */
export function objstoreStandIn(first: PluginConn, d: ObjstoreDesc, another: () => Promise<PluginConn>): IsolatedObjstore {
  const procs = new SpareProcess(first, another);
  const plugin: ObjstorePlugin = {
    manifest: d.manifest,
    provider: d.provider,
    retries: d.retries,
    parseConfig: (raw) => raw,
    async create(ctx: Capabilities, config: unknown): Promise<Bucket> {
      const conn = await procs.take();
      conn.bind({ log: ctx.log, metrics: ctx.metrics });
      try {
        const r = await conn.peer.call('create', [config]);
        return new RemoteBucket(conn.peer, (r.value as { provider: string }).provider, '', async () => {
          await conn.peer.call('close', []).catch(() => {});
          conn.killLater();
        });
      } catch (err) {
        conn.kill();
        throw err;
      }
    },
  };
  return { plugin, checkConfig: (config) => procs.checkConfig(config), close: () => procs.close() };
}

/** What the plugin's process says about a component plugin at init. */
export interface ComponentDesc { manifest: PluginManifest; flags: FlagSpec[]; setup: boolean }

export interface IsolatedComponent {
  /**
   * A stand-in plugin: parseConfig passes the config through (checkConfig checks it), setup() runs
   * the component's setup in its process and returns a Component whose calls cross the channel.
   */
  plugin: ComponentPlugin;
  /** The plugin's own parseConfig, in its process (errors keep ConfigError's key). */
  checkConfig(config: unknown): Promise<void>;
  close(): void;
}

/**
 * A component in its own process, as objstoreStandIn. wasm: the host's wasm core module, sent with
 * setup when the component's core is wasm (the process needs no read grant for it).
 */
export function componentStandIn(first: PluginConn, d: ComponentDesc, another: () => Promise<PluginConn>, wasm: () => Uint8Array): IsolatedComponent {
  const procs = new SpareProcess(first, another);
  const setup = async (ctx: ComponentContext, config: unknown) => {
    const conn = await procs.take();
    try {
      return await setupComponent(conn, ctx, config, wasm);
    } catch (err) {
      conn.kill();
      throw err;
    }
  };
  // Without setup (a tools-only plugin) the stand-in has none either, and the host says so as inline.
  const plugin = { manifest: d.manifest, flags: d.flags, parseConfig: (raw: unknown) => raw, ...(d.setup ? { setup } : {}) } as ComponentPlugin;
  return { plugin, checkConfig: (config) => procs.checkConfig(config), close: () => procs.close() };
}

/**
 * The host's half of an isolated component: serves its ctx.listen (the host's checked listener,
 * each request handed to the process), its gRPC services (the host's gRPC server, each call
 * forwarded: grpc.ts), its ctx.grpcDial (the host's checked dial, calls made for it), ctx.bucket
 * (the host's bucket for it, with its metrics), readiness, stdout/stderr, log lines and metrics
 * (into the component's registry, so they show on its /metrics as inline); and stands in for its
 * Component.
 */
async function setupComponent(conn: PluginConn, ctx: ComponentContext, config: unknown, wasm: () => Uint8Array): Promise<Component> {
  const peer = conn.peer;
  const listeners = new Map<number, HttpListener>();
  let bucket: Promise<Bucket> | undefined;
  conn.bind({ log: ctx.log, metrics: ctx.metrics, ready: (v) => ctx.setReady(v), stdout: ctx.stdout, stderr: ctx.stderr });
  // Its ctx.grpcDial: the host's checked dial, each call made here for it.
  const dials = new GrpcDialServe((target, options) => ctx.grpcDial(target, options));
  conn.onNote = (m, a) => { if (m === 'd.cancel') dials.cancel(Number(a[0])); };
  conn.serveCall = async (m, a, inc) => {
    if (m.startsWith('d.')) {
      const out = await dials.handle(m, a, inc);
      if (out) return out;
    }
    if (m === 'listen') {
      const id = Number(a[0]);
      const l = await ctx.listen(a[1] as Parameters<Capabilities['listen']>[0], (req) => proxyFetch(peer, 'serve', [id], req));
      listeners.set(id, l);
      return { value: l.address };
    }
    if (m === 'unlisten') {
      const l = listeners.get(Number(a[0]));
      listeners.delete(Number(a[0]));
      await l?.close();
      return {};
    }
    if (m === 'bucket') {
      bucket ??= ctx.bucket(a[0] === null ? undefined : String(a[0])).catch((err) => { bucket = undefined; throw err; });
      return { value: { provider: (await bucket).provider } };
    }
    if (m.startsWith('b.') && bucket) {
      const out = await serveBucket(await bucket, m.slice(2), a, inc);
      if (out) return out;
    }
    throw new Error(`unknown call ${m}`);
  };
  const closeAll = async () => {
    await Promise.all([...listeners.values()].map((l) => l.close().catch(() => {})));
    listeners.clear();
    dials.close();
  };
  const backend = ctx.core.backend;
  const r = await peer.call('setup', [{ config, dataDir: ctx.dataDir, addresses: ctx.addresses, build: ctx.build, core: backend }], { bin: backend === 'wasm' ? wasm() : undefined });
  const desc = r.value as { info: ComponentInfo | { infoError: string }; fetch: boolean; reload: boolean; grpc?: GrpcMethodList };
  // Its gRPC services: registered on the host's gRPC server as inline, each call forwarded.
  const grpc = desc.grpc && desc.grpc.length > 0 ? proxyGrpcServices(peer, desc.grpc) : undefined;
  let info: ComponentInfo | { infoError: string } = desc.info;
  let refreshing = false;
  peer.onClose = () => { void closeAll(); };
  return {
    // info() is synchronous: the last answer, refreshed in the background on each call.
    info() {
      if (!refreshing) {
        refreshing = true;
        peer.call('info', []).then((x) => { info = x.value as ComponentInfo | { infoError: string }; }, () => {}).finally(() => { refreshing = false; });
      }
      if ('infoError' in info) throw new GrpcError(GrpcStatus.Unknown, info.infoError);
      return info;
    },
    fetch: desc.fetch ? (req: Request) => proxyFetch(peer, 'fetch', [], req) : undefined,
    grpc,
    reload: desc.reload ? async () => { await peer.call('reload', []); } : undefined,
    async run(signal: AbortSignal) {
      const onAbort = () => peer.note('abort', [String((signal.reason as Error | undefined)?.message ?? 'stopped')]);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      try {
        await peer.call('run', []);
      } finally {
        signal.removeEventListener('abort', onAbort);
        await closeAll();
        await peer.call('exit', []).catch(() => {});
        conn.killLater();
      }
    },
  };
}
