// The process an isolated plugin runs in (issue #22): started by host/isolate/host.ts as
// `deno run --no-prompt --allow-read=… --allow-net=… … host/isolate/child.ts`, with an environment
// holding only the granted variables. Deno enforces the grant on everything the plugin does (its
// own node:fs, fetch, process.env, child processes, workers, FFI); the capabilities it is handed
// (ctx.fs, ctx.fetch, ctx.env) are the host's checked ones (host/checked.ts), so a denial names
// the plugins.yaml key exactly as inline. The host talks to it over a Unix socket (host/isolate/
// wire.ts); console output goes to stderr, which the host logs.
import * as nodeFs from 'node:fs';
import { checkedFetch, checkedHttpClient, createFs, type FsPromises } from '../checked.ts';
import { Permissions } from '../permissions.ts';
import { validatePlugin } from '../loader.ts';
import { PermissionDenied } from '../../lib/sdk/errors.ts';
import type { Bucket } from '../../lib/objstore/bucket.ts';
import type { Capabilities, Logger, Metrics, ObjstorePlugin, PermissionRequest, TlsClientOptions } from '../../lib/sdk/mod.ts';
import { Peer, serializeError, type Incoming, type Outgoing } from './wire.ts';

interface DenoLike {
  args: string[];
  connect(o: { transport: 'unix'; path: string }): Promise<{ readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }>;
  exit(code?: number): never;
  createHttpClient(o: { caCerts?: string[]; cert?: string; key?: string }): object;
}
const D = (globalThis as unknown as { Deno: DenoLike }).Deno;
const proc = (globalThis as unknown as { process: { exit(code?: number): never } }).process;

// Captured before the plugin loads: the channel, the real exit, the runtime's fetch.
const realExit = D.exit.bind(D);
const runtimeFetch = globalThis.fetch.bind(globalThis);
const connect = D.connect.bind(D);
const createHttpClient = D.createHttpClient.bind(D);
const channelPath = D.args[0]!;
let label = 'plugin';

// The plugin may not end the process the host talks to; the host stops it (close()).
const refuseExit = (api: string) => (code?: number): never => {
  throw new PermissionDenied(label, api, String(code ?? 0), '(none)', 'an isolated plugin cannot end its process; the host stops it');
};
Object.defineProperty(D, 'exit', { value: refuseExit('Deno.exit'), writable: false, configurable: false });
Object.defineProperty(proc, 'exit', { value: refuseExit('process.exit'), writable: false, configurable: false });
// Console output goes to stderr, which the host logs.
for (const k of ['log', 'info', 'debug'] as const) console[k] = console.error.bind(console);

let plugin: ObjstorePlugin | undefined;
let init: { label: string; grant: PermissionRequest; grantKey: string; grantBaseDir: string; baseDir: string; cwd: string } | undefined;
let bucket: Bucket | undefined;

function hostLogger(peer: Peer, kv: Record<string, unknown>): Logger {
  const at = (level: string) => (msg: string, more?: Record<string, unknown>) => peer.note('log', [level, msg, { ...kv, ...more }]);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), with: (more) => hostLogger(peer, { ...kv, ...more }) };
}

function hostMetrics(peer: Peer): Metrics {
  const mk = (type: string) => (name: string, help: string, labelNames?: string[], buckets?: number[]) => {
    peer.note('metric', [type, name, help, labelNames, buckets]);
    return {
      inc: (labels?: Record<string, string>, v?: number) => peer.note('m.inc', [name, labels, v]),
      dec: (labels?: Record<string, string>, v?: number) => peer.note('m.dec', [name, labels, v]),
      set: (v: number, labels?: Record<string, string>) => peer.note('m.set', [name, v, labels]),
      observe: (v: number, labels?: Record<string, string>) => peer.note('m.observe', [name, v, labels]),
    };
  };
  return { counter: mk('counter'), gauge: mk('gauge'), histogram: mk('histogram') } as unknown as Metrics;
}

/**
 * ctx.fs in the plugin process on synchronous calls: Deno's asynchronous file operations cost
 * 2-5x Node's per call (measured: stat 170-310 µs async vs 45 µs sync, a 16 KiB ranged read
 * 660 µs vs 340 µs). The process serves one plugin, so blocking its loop for a syscall costs
 * nobody else.
 */
function syncFsPromises(): FsPromises {
  const fs = nodeFs;
  const handle = (fd: number) => ({
    stat: async () => fs.fstatSync(fd),
    read: async (buf: Uint8Array, off: number, len: number, pos: number) => ({ bytesRead: fs.readSync(fd, buf, off, len, pos), buffer: buf }),
    write: async (buf: Uint8Array, off: number, len: number) => ({ bytesWritten: fs.writeSync(fd, buf, off, len), buffer: buf }),
    sync: async () => fs.fsyncSync(fd),
    datasync: async () => fs.fdatasyncSync(fd),
    close: async () => fs.closeSync(fd),
  });
  const impl = {
    lstat: async (p: string) => fs.lstatSync(p),
    stat: async (p: string) => fs.statSync(p),
    realpath: async (p: string) => fs.realpathSync(p),
    mkdir: async (p: string, o?: { recursive?: boolean }) => fs.mkdirSync(p, o),
    mkdtemp: async (p: string) => fs.mkdtempSync(p),
    open: async (p: string, flags: string) => handle(fs.openSync(p, flags)),
    readFile: async (p: string) => fs.readFileSync(p),
    readdir: async (p: string, o: { withFileTypes: true }) => fs.readdirSync(p, o),
    rename: async (a: string, b: string) => fs.renameSync(a, b),
    rm: async (p: string, o?: { recursive?: boolean; force?: boolean }) => fs.rmSync(p, o),
    rmdir: async (p: string) => fs.rmdirSync(p),
    unlink: async (p: string) => fs.unlinkSync(p),
    writeFile: async (p: string, d: Uint8Array) => fs.writeFileSync(p, d),
  };
  return impl as unknown as FsPromises;
}

/**
 * ctx.httpClient's hop init under Deno: an HttpClient of its own as fetch's `client`. Deno's client
 * adds `caCerts` to its root store (Go's RootCAs, and the host's Node client, replace the roots)
 * and has no setting for the verified name or for skipping verification: those are refused here,
 * naming the way out, rather than ignored.
 */
function denoTlsInit(t: TlsClientOptions): Record<string, unknown> {
  const inline = 'run the plugin with isolation: inline and trust: true';
  if (t.serverName) throw new Error(`httpClient: a TLS server name (server_name) is not available to a plugin with isolation: process (Deno's HTTP client cannot set it); ${inline}`);
  if (t.insecureSkipVerify) throw new Error(`httpClient: skipping TLS verification (insecure_skip_verify) is not available to a plugin with isolation: process (Deno's HTTP client cannot turn it off per client); ${inline}`);
  return { client: createHttpClient({ caCerts: t.caPem ? [t.caPem] : undefined, cert: t.certPem || undefined, key: t.keyPem || undefined }) };
}

const notAvailable = (api: string) => () => {
  throw new Error(`ctx.${api} is not available to a plugin with isolation: process yet (objstore plugins use fetch, fs and env); run it with isolation: inline and trust: true`);
};

function capabilities(peer: Peer, p: ObjstorePlugin): Capabilities {
  const i = init!;
  const perms = new Permissions({ pluginId: p.manifest.id, request: p.manifest.permissions, grant: i.grant, grantKey: i.grantKey, grantBaseDir: i.grantBaseDir, requestBaseDir: i.cwd });
  return Object.freeze<Capabilities>({
    pluginId: p.manifest.id,
    fetch: checkedFetch(perms, { fetch: runtimeFetch }),
    httpClient: checkedHttpClient(perms, denoTlsInit, runtimeFetch),
    listen: notAvailable('listen'),
    connect: notAvailable('connect'),
    grpcDial: notAvailable('grpcDial'),
    fs: createFs(perms, i.baseDir, syncFsPromises()),
    env: {
      get(name: string) {
        perms.check('env', name, 'env.get');
        return (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env[name];
      },
    },
    log: hostLogger(peer, {}),
    metrics: hostMetrics(peer),
  });
}

/** A body for the host: small ones (one chunk, then the end) ride inline in the answer. */
async function body(s: ReadableStream<Uint8Array>): Promise<Outgoing> {
  const r = s.getReader();
  const first = await r.read();
  if (first.done) return { bin: new Uint8Array(0) };
  if (first.value.length <= 256 * 1024) {
    const second = await r.read();
    if (second.done) return { bin: first.value };
    const pre = [first.value, second.value];
    r.releaseLock();
    const rest = s.getReader();
    return {
      bytes: new ReadableStream<Uint8Array>({
        async pull(c) {
          if (pre.length) { c.enqueue(pre.shift()!); return; }
          const n = await rest.read();
          if (n.done) c.close(); else c.enqueue(n.value);
        },
        cancel: (why) => rest.cancel(why),
      }, { highWaterMark: 0 }),
    };
  }
  let sent = false;
  return {
    bytes: new ReadableStream<Uint8Array>({
      async pull(c) {
        if (!sent) { sent = true; c.enqueue(first.value!); return; }
        const n = await r.read();
        if (n.done) c.close(); else c.enqueue(n.value);
      },
      cancel: (why) => r.cancel(why),
    }, { highWaterMark: 0 }),
  };
}

async function handle(peer: Peer, m: string, a: unknown[], inc: Incoming): Promise<Outgoing> {
  try {
    switch (m) {
      case 'init': {
        init = a[0] as typeof init;
        label = init!.label;
        plugin = validatePlugin(pluginModule, 'objstore', label) as ObjstorePlugin;
        label = plugin.manifest.id;
        return { value: { manifest: plugin.manifest, provider: plugin.provider, retries: plugin.retries ?? 'host' } };
      }
      case 'parseConfig':
        plugin!.parseConfig(a[0]);
        return {};
      case 'create': {
        bucket = await plugin!.create(capabilities(peer, plugin!), plugin!.parseConfig(a[0]));
        return { value: { provider: bucket.provider } };
      }
    }
    const b = bucket!;
    switch (m) {
      case 'iter': return { items: b.iter(a[0] as string, a[1] as { recursive?: boolean }) };
      case 'get': return await body(await b.get(a[0] as string));
      case 'getRange': return await body(await b.getRange(a[0] as string, a[1] as number, (a[2] ?? undefined) as number | undefined));
      case 'exists': return { value: await b.exists(a[0] as string) };
      case 'attributes': {
        const at = await b.attributes(a[0] as string);
        return { value: { size: at.size, lastModified: at.lastModified.getTime() } };
      }
      case 'upload':
        await b.upload(a[0] as string, inc.bin ?? (inc.stream as ReadableStream<Uint8Array>));
        return {};
      case 'delete':
        await b.delete(a[0] as string);
        return {};
      case 'close':
        await b.close();
        setTimeout(() => realExit(0), 0);
        return {};
    }
    throw new Error(`unknown call ${m}`);
  } catch (err) {
    // The provider decides what "not found" is; the host sees an ObjectNotFoundError.
    throw Object.assign(new Error('wrapped'), { __serialized: serializeError(err, (e) => bucket?.isObjNotFoundErr(e) ?? false) });
  }
}

let pluginModule: Record<string, unknown> = {};

/**
 * Called by the generated entry module, which imports this file first (so the lines above run
 * before any plugin code) and the plugin second: a static import, which Deno loads without granting
 * the plugin read access to its own files or anything else.
 */
export async function main(mod: Record<string, unknown>): Promise<void> {
  pluginModule = mod;
  const chan = await connect({ transport: 'unix', path: channelPath });
  const writer = chan.writable.getWriter();
  const peer: Peer = new Peer(
    chan.readable,
    (f) => { writer.write(f).catch(() => realExit(1)); },
    (m, a, inc) => handle(peer, m, a, inc),
  );
  // The host went away (channel closed): nothing left to serve.
  peer.onClose = () => realExit(0);
}
