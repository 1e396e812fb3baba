// Out-of-process plugins (issue #22), the host's side: an object-store plugin from a path or an npm
// package runs in its own Deno process whose runtime enforces the operator's grant
// (--allow-read/--allow-write/--allow-net/--allow-env from plugins.yaml; nothing else: no run, ffi,
// sys, remote imports), with an environment holding only granted variables. Its Bucket is proxied
// over host/isolate/wire.ts; object bodies and listings stream with backpressure.
//
// Why Deno and not Node's permission model: Node 20's --experimental-permission restricts the file
// system, child processes and workers but not the network, so a plugin could still fetch any
// address (and read /etc/passwd through nothing, but send what it has anywhere). Deno enforces net,
// env, read, write, run, ffi and sys, on its own APIs and its node: compatibility layer alike
// (measured: host/README.md "Isolation").
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Bucket, IterOptions, ObjectAttributes } from '../../lib/objstore/bucket.ts';
import { isObjectNotFound } from '../../lib/objstore/bucket.ts';
import type { Capabilities, Logger, Metrics, Need, ObjstorePlugin, PermissionRequest, PluginManifest } from '../../lib/sdk/mod.ts';
import { builtinModuleFile, REPO_ROOT } from '../loader.ts';
import { splitNetEntry } from '../permissions.ts';
import { Peer, type Incoming } from './wire.ts';

const CHILD = builtinModuleFile('host/isolate/child.ts');

/** The Deno binary: THANOS_DENO, else the npm package's (devDependency `deno`). */
export function denoBinary(): string {
  const env = process.env.THANOS_DENO;
  if (env) return env;
  const local = path.join(REPO_ROOT, 'node_modules/.bin/deno');
  if (fs.existsSync(local)) return local;
  throw new Error('isolation: process needs Deno: install it (npm install deno) or set THANOS_DENO to its path; or run the plugin with isolation: inline and trust: true');
}

/** A manifest-level isolation problem: key is the plugins.yaml key to name. */
export class IsolationError extends Error {
  constructor(readonly key: string, readonly detail: string) {
    super(`${key}: ${detail}`);
    this.name = 'IsolationError';
  }
}

function parts(need: Need | undefined): { all: boolean; allow: string[]; deny: string[] } {
  if (need === undefined || need === false) return { all: false, allow: [], deny: [] };
  if (need === true) return { all: true, allow: [], deny: [] };
  if (Array.isArray(need)) return { all: false, allow: need, deny: [] };
  return { all: need.allow === true, allow: Array.isArray(need.allow) ? need.allow : [], deny: need.deny ?? [] };
}

/**
 * Deno's permission flags for an operator's grant (relative paths against baseDir). The grant is
 * the runtime's hard limit; the plugin's own manifest request narrows it further in the checked
 * capabilities. A grant Deno cannot express is refused rather than widened.
 */
export function denoFlags(grant: PermissionRequest, baseDir: string, key: string): string[] {
  const out: string[] = [];
  for (const kind of ['read', 'write', 'net', 'env'] as const) {
    const p = parts(grant[kind]);
    const norm = (e: string) => {
      if (e.includes(',')) throw new IsolationError(`${key}.${kind}`, `"${e}": a comma cannot be passed to the plugin's runtime`);
      if (kind === 'read' || kind === 'write') return path.resolve(baseDir, e);
      if (kind === 'net') {
        const { host, port } = splitNetEntry(e);
        if (host === '*' || port === '*') {
          throw new IsolationError(`${key}.${kind}`, `"${e}": a wildcard host or port cannot be enforced in an isolated process (Deno grants hosts and host:port only); list the hosts, or run the plugin with isolation: inline and trust: true`);
        }
        return host.includes(':') ? `[${host}]${port ? `:${port}` : ''}` : e.toLowerCase();
      }
      return e;
    };
    if (p.all) out.push(`--allow-${kind}`);
    else if (p.allow.length) out.push(`--allow-${kind}=${p.allow.map(norm).join(',')}`);
    if (p.deny.length) out.push(`--deny-${kind}=${p.deny.map(norm).join(',')}`);
  }
  return out;
}

/** The environment of the plugin's process: only the granted variables (and Deno's own settings, which it cannot read ungranted). */
export function isolatedEnv(grant: PermissionRequest, env: Record<string, string | undefined> = process.env): Record<string, string> {
  const p = parts(grant.env);
  const match = (pat: string, name: string) => (pat.endsWith('*') ? name.startsWith(pat.slice(0, -1)) : pat === name);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if ((p.all || p.allow.some((e) => match(e, k))) && !p.deny.some((e) => match(e, k))) out[k] = v;
  }
  out.DENO_DIR = env.DENO_DIR ?? path.join(os.homedir(), '.cache', 'deno');
  out.DENO_NO_UPDATE_CHECK = '1';
  out.NO_COLOR = '1';
  return out;
}

export interface IsolatedOptions {
  /** The plugin's module file (resolved `use:`). */
  file: string;
  /** For messages: the `use:` value. */
  label: string;
  grant: PermissionRequest;
  /** e.g. `objstore[1].permissions`. */
  grantKey: string;
  /** Relative grant paths resolve against this (the manifest's directory). */
  grantBaseDir: string;
  /** Relative ctx.fs paths resolve against this. */
  baseDir: string;
  log: Logger;
}

const live = new Set<ChildProcess>();
/** Entry directories of processes still starting (removed on exit too). */
const entryDirs = new Set<string>();
let exitHook = false;

/** One plugin process and its channel. */
class Conn {
  readonly peer: Peer;
  private exited?: string;
  private sinks: { log: Logger; metrics?: Metrics };
  private metrics = new Map<string, { inc?: Function; dec?: Function; set?: Function; observe?: Function }>();

  constructor(readonly child: ChildProcess, sock: net.Socket, o: IsolatedOptions) {
    this.sinks = { log: o.log };
    this.peer = new Peer(
      undefined,
      (f) => { sock.write(f); },
      async (m) => { throw new Error(`the host serves no calls (${m})`); },
      (m, a) => this.note(m, a),
    );
    // Referenced only while calls or streams are in flight: an idle plugin process does not keep the host alive.
    this.peer.onActive = (n) => {
      if (n > 0) { child.ref(); sock.ref(); } else { child.unref(); sock.unref(); }
    };
    child.unref();
    sock.unref();
    (child.stderr as unknown as { unref(): void }).unref();
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => this.peer.feed(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
    sock.on('close', () => this.peer.close(new Error(this.exited ?? `plugin ${o.label}: channel closed`)));
    let errText = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      errText = (errText + d).slice(-4000);
      for (const line of d.split('\n')) if (line.trim()) this.sinks.log.warn('plugin stderr', { plugin: o.label, line });
    });
    child.on('exit', (code, sig) => {
      live.delete(child);
      this.exited = `plugin ${o.label} process exited (${sig ? `signal ${sig}` : `code ${code}`})${errText ? `: ${errText.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
      this.peer.close(new Error(this.exited));
    });
  }

  bind(log: Logger, metrics: Metrics): void {
    this.sinks = { log, metrics };
  }

  private note(m: string, a: unknown[]): void {
    if (m === 'log') {
      const [level, msg, kv] = a as ['debug' | 'info' | 'warn' | 'error', string, Record<string, unknown>];
      if (['debug', 'info', 'warn', 'error'].includes(level)) this.sinks.log[level](String(msg), kv);
      return;
    }
    const reg = this.sinks.metrics;
    if (!reg) return;
    if (m === 'metric') {
      const [type, name, help, labels, buckets] = a as ['counter' | 'gauge' | 'histogram', string, string, string[] | undefined, number[] | undefined];
      if (type === 'counter' || type === 'gauge' || type === 'histogram') this.metrics.set(name, reg[type](name, help, labels, buckets) as never);
      return;
    }
    const [name, x, y] = a as [string, unknown, unknown];
    const h = this.metrics.get(name);
    if (m === 'm.inc') h?.inc?.(x, y);
    else if (m === 'm.dec') h?.dec?.(x, y);
    else if (m === 'm.set') h?.set?.(x, y);
    else if (m === 'm.observe') h?.observe?.(x, y);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/**
 * The process's main module: child.ts first (its hardening runs before any plugin code), then the
 * plugin, both static imports (Deno loads a static module graph without read grants; a dynamic
 * import would need --allow-read on the plugin's files). Removed once the plugin answered init.
 */
function entryFile(pluginFile: string): { file: string; dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thanos-isolate-'));
  const file = path.join(dir, 'entry.ts');
  const url = (f: string) => JSON.stringify(pathToFileURL(f).href);
  fs.writeFileSync(file, `import { main } from ${url(CHILD)};\nimport * as plugin from ${url(pluginFile)};\nmain(plugin);\n`);
  entryDirs.add(dir);
  return { file, dir, remove: () => { entryDirs.delete(dir); fs.rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * The channel is a Unix socket in the entry's private directory, not the child's stdin/stdout: a
 * round trip through Deno's stdin measured about twice that of a socket. The plugin process is
 * granted that one path (read, write, net unix:) on top of its grant.
 */
function withChannel(flags: string[], sock: string): string[] {
  const out = [...flags];
  for (const [kind, entry] of [['read', sock], ['write', sock], ['net', `unix:${sock}`]] as const) {
    const i = out.findIndex((f) => f === `--allow-${kind}` || f.startsWith(`--allow-${kind}=`));
    if (i < 0) out.push(`--allow-${kind}=${entry}`);
    else if (out[i] !== `--allow-${kind}`) out[i] = `${out[i]},${entry}`;
  }
  return out;
}

async function start(o: IsolatedOptions): Promise<{ conn: Conn; entry: { remove(): void } }> {
  const flags = denoFlags(o.grant, o.grantBaseDir, o.grantKey);
  const entry = entryFile(o.file);
  const sock = path.join(entry.dir, 's');
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(sock, () => resolve()); });
  const args = ['run', '--quiet', '--no-prompt', '--no-config', '--node-modules-dir=manual', ...withChannel(flags, sock), entry.file, sock];
  const child = spawn(denoBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'], env: isolatedEnv(o.grant), cwd: REPO_ROOT });
  live.add(child);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
      for (const d of entryDirs) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  let errText = '';
  const onErr = (d: Buffer) => { errText = (errText + d.toString()).slice(-2000); };
  child.stderr!.on('data', onErr);
  try {
    const s = await new Promise<net.Socket>((resolve, reject) => {
      server.once('connection', resolve);
      child.once('exit', (code, sig) => reject(new Error(`plugin ${o.label} process exited before connecting (${sig ? `signal ${sig}` : `code ${code}`})${errText ? `: ${errText.trim().split('\n').slice(-3).join(' | ')}` : ''}`)));
    });
    child.stderr!.off('data', onErr);
    return { conn: new Conn(child, s, o), entry };
  } catch (err) {
    entry.remove();
    throw err;
  } finally {
    server.close();
  }
}

async function initConn(o: IsolatedOptions): Promise<{ conn: Conn; desc: { manifest: PluginManifest; provider: string; retries: 'host' | 'provider' } }> {
  const { conn, entry } = await start(o);
  try {
    const r = await conn.peer.call('init', [{ label: o.label, grant: o.grant, grantKey: o.grantKey, grantBaseDir: o.grantBaseDir, baseDir: o.baseDir, cwd: process.cwd() }]);
    return { conn, desc: r.value as { manifest: PluginManifest; provider: string; retries: 'host' | 'provider' } };
  } catch (err) {
    conn.kill();
    throw err;
  } finally {
    entry.remove();
  }
}

function bodyOf(i: Incoming): ReadableStream<Uint8Array> {
  if (i.stream) return i.stream as ReadableStream<Uint8Array>;
  const b = i.bin ?? new Uint8Array(0);
  return new ReadableStream<Uint8Array>({
    start(c) {
      if (b.length) c.enqueue(b);
      c.close();
    },
  });
}

/** The host's view of the plugin's Bucket: every call crosses the channel. */
class IsolatedBucket implements Bucket {
  constructor(private readonly conn: Conn, readonly provider: string) {}
  private call(m: string, a: unknown[], bin?: Uint8Array, bytes?: ReadableStream<Uint8Array>) {
    return this.conn.peer.call(m, a, { bin, bytes });
  }
  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    const r = await this.call('iter', [dir, opts ?? {}]);
    const reader = (r.stream as ReadableStream<string>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
  async get(name: string) { return bodyOf(await this.call('get', [name])); }
  async getRange(name: string, off: number, len?: number) { return bodyOf(await this.call('getRange', [name, off, len ?? null])); }
  async exists(name: string) { return (await this.call('exists', [name])).value as boolean; }
  async attributes(name: string): Promise<ObjectAttributes> {
    const v = (await this.call('attributes', [name])).value as { size: number; lastModified: number };
    return { size: v.size, lastModified: new Date(v.lastModified) };
  }
  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array) {
    if (body instanceof Uint8Array) await this.call('upload', [name], body);
    else await this.call('upload', [name], undefined, body);
  }
  async delete(name: string) { await this.call('delete', [name]); }
  isObjNotFoundErr(err: unknown) { return isObjectNotFound(err); }
  async close() {
    await this.call('close', []).catch(() => {});
    const t = setTimeout(() => this.conn.kill(), 5000);
    t.unref();
  }
}

export interface IsolatedObjstore {
  /** A stand-in plugin for createBucket: parseConfig passes the config through (checkConfig checks it), create() runs in the plugin's process. */
  plugin: ObjstorePlugin;
  /** The plugin's own parseConfig, in its process (errors keep ConfigError's key). */
  checkConfig(config: unknown): Promise<void>;
  close(): void;
}

/** Starts the plugin's process, loads and checks the plugin there, and returns its stand-in. */
export async function loadIsolatedObjstore(o: IsolatedOptions): Promise<IsolatedObjstore> {
  const first = await initConn(o);
  let spare: Conn | undefined = first.conn;
  const d = first.desc;
  const plugin: ObjstorePlugin = {
    manifest: d.manifest,
    provider: d.provider,
    retries: d.retries,
    parseConfig: (raw) => raw,
    async create(ctx: Capabilities, config: unknown): Promise<Bucket> {
      const conn = spare ?? (await initConn(o)).conn;
      spare = undefined;
      conn.bind(ctx.log, ctx.metrics);
      try {
        const r = await conn.peer.call('create', [config]);
        return new IsolatedBucket(conn, (r.value as { provider: string }).provider);
      } catch (err) {
        conn.kill();
        throw err;
      }
    },
  };
  return {
    plugin,
    async checkConfig(config) {
      const conn = spare ?? (await initConn(o)).conn;
      spare ??= conn;
      await conn.peer.call('parseConfig', [config]);
    },
    close() { spare?.kill(); spare = undefined; },
  };
}
