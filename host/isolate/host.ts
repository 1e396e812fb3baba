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
import type { Logger, PermissionRequest, Need } from '../../lib/sdk/mod.ts';
import { builtinModuleFile, REPO_ROOT } from '../loader.ts';
import { splitNetEntry } from '../permissions.ts';
import { channelReader, Peer, type Handler } from '../../lib/isolate/wire.ts';
import { componentStandIn, noteRouter, objstoreStandIn, type ComponentDesc, type IsolatedComponent, type IsolatedObjstore, type ObjstoreDesc, type PluginConn, type PluginSinks } from '../../lib/isolate/plugin.ts';
import { DEFAULT_WASM_URL } from '../../lib/core/wasm.ts';
import { IsolationError } from './errors.ts';

export { IsolationError };

const CHILD = builtinModuleFile('host/isolate/child.ts');

/** The Deno binary: THANOS_DENO, else the npm package's (devDependency `deno`). */
export function denoBinary(): string {
  const env = process.env.THANOS_DENO;
  if (env) return env;
  const local = path.join(REPO_ROOT, 'node_modules/.bin/deno');
  if (fs.existsSync(local)) return local;
  throw new Error('isolation: process needs Deno: install it (npm install deno) or set THANOS_DENO to its path; or run the plugin with isolation: inline and trust: true');
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
class Conn implements PluginConn {
  readonly peer: Peer;
  private exited?: string;
  private sinks: PluginSinks;
  serveCall?: Handler;
  onNote?: (m: string, a: unknown[]) => void;

  constructor(readonly child: ChildProcess, sock: net.Socket, input: ChannelInput, o: IsolatedOptions) {
    this.sinks = { log: o.log };
    this.peer = new Peer(
      undefined,
      (pieces, wait) => {
        // One piece nobody waits for (a call, an answer, a credit): a plain write, no cork and no callback.
        if (pieces.length === 1 && !wait) { sock.write(pieces[0]!); return; }
        return new Promise<void>((written) => {
          // One writev for the pieces of a flush; resolved once they are written (their buffers may be reused).
          sock.cork();
          pieces.forEach((p, i) => sock.write(p, i === pieces.length - 1 ? () => written() : undefined));
          sock.uncork();
        });
      },
      (m, a, inc) => {
        if (!this.serveCall) throw new Error(`the host serves no call ${m} to this plugin`);
        return this.serveCall(m, a, inc);
      },
      noteRouter(() => this.sinks, (m, a) => this.onNote?.(m, a)),
      // The socket's reads go where the peer says (readTarget): a byte stream's payloads into the
      // stream's own buffers. Not zeroed: only bytes a read has written are handed on.
      { landing: (n) => Buffer.allocUnsafeSlow(n), schedule: setImmediate },
    );
    // Referenced only while calls or streams are in flight: an idle plugin process does not keep the host alive.
    this.peer.onActive = (n) => {
      if (n > 0) { child.ref(); sock.ref(); } else { child.unref(); sock.unref(); }
    };
    child.unref();
    sock.unref();
    (child.stderr as unknown as { unref(): void }).unref();
    sock.on('error', () => {});
    input.attach(this.peer);
    // The channel closes a moment before the exit is reported: wait for it, so the error says why.
    sock.on('close', () => {
      if (this.exited) return this.peer.close(new Error(this.exited));
      const t = setTimeout(() => this.peer.close(new Error(this.exited ?? `plugin ${o.label}: channel closed`)), 1000);
      child.once('exit', () => clearTimeout(t));
    });
    let errText = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      errText = (errText + d).slice(-4000);
      for (const line of d.split('\n')) if (line.trim()) this.sinks.log.warn('plugin stderr', { plugin: o.label, line });
    });
    child.on('exit', (code, sig) => {
      live.delete(child);
      // Deno prints an uncaught error as `error: …` followed by its stack: that line says why.
      const lines = errText.trim().split('\n');
      const why = lines.filter((l) => l.startsWith('error: ')).pop() ?? lines.slice(-3).join(' | ');
      this.exited = `plugin ${o.label} process exited (${sig ? `signal ${sig}` : `code ${code}`})${errText ? `: ${why}` : ''}`;
      this.peer.close(new Error(this.exited));
    });
  }

  bind(sinks: PluginSinks): void {
    this.sinks = sinks;
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** The process was asked to exit: killed if it has not within 5 s. */
  killLater(): void {
    const t = setTimeout(() => this.kill(), 5000);
    t.unref();
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

/** The socket's reads, handed to the peer once it exists (nothing is expected before; kept if it comes). */
interface ChannelInput { attach(peer: Peer): void }

/**
 * Connects to the plugin process's socket once it listens. The process needs Deno's start-up
 * (tens of ms, seconds on a loaded machine) before it listens: retried until it does, exits, or
 * START_TIMEOUT_MS passes.
 */
async function connectChannel(sockPath: string, child: ChildProcess, exited: () => Error | undefined): Promise<{ sock: net.Socket; input: ChannelInput }> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    let peer: Peer | undefined;
    const early: Uint8Array[] = [];
    // Not zeroed: only bytes a read has written are ever handed on.
    const reader = channelReader((n) => Buffer.allocUnsafeSlow(n));
    const sock = net.connect({
      path: sockPath,
      onread: {
        buffer: () => reader.next(peer),
        callback: (n: number, buf: Uint8Array) => {
          const { view, transient } = reader.read(buf, n);
          if (peer) {
            peer.feed(view, transient);
            if (!peer.takeViewed()) reader.reuse();
          } else early.push(view);
          return true;
        },
      },
    } as net.NetConnectOpts);
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('connect', () => resolve(true));
      sock.once('error', () => resolve(false));
    });
    if (ok) {
      return { sock, input: { attach(p) { peer = p; for (const b of early.splice(0)) p.feed(b); sock.on('end', () => sock.end()); } } };
    }
    sock.destroy();
    const why = exited();
    if (why) throw why;
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`plugin process did not open its channel within ${START_TIMEOUT_MS / 1000}s`); }
    await new Promise((r) => setTimeout(r, wait));
  }
}

const START_TIMEOUT_MS = 60_000;

async function start(o: IsolatedOptions): Promise<{ conn: Conn; entry: { remove(): void } }> {
  const flags = denoFlags(o.grant, o.grantBaseDir, o.grantKey);
  const entry = entryFile(o.file);
  const sock = path.join(entry.dir, 's');
  const args = ['run', '--quiet', '--no-prompt', '--no-config', '--node-modules-dir=manual', ...withChannel(flags, sock), entry.file, sock];
  // A process group of its own: a terminal's Ctrl-C (SIGINT to the foreground group) reaches the
  // host only, which stops the plugin in order (abort, then exit); the plugin also exits when its
  // channel closes, so it does not outlive a host that was killed.
  const child = spawn(denoBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'], env: isolatedEnv(o.grant), cwd: REPO_ROOT, detached: true });
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
  let exit: Error | undefined;
  child.once('exit', (code, sig) => {
    exit = new Error(`plugin ${o.label} process exited before connecting (${sig ? `signal ${sig}` : `code ${code}`})${errText ? `: ${errText.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
  });
  child.once('error', (err) => { exit = new Error(`plugin ${o.label}: cannot start Deno: ${err.message}`); });
  try {
    const { sock: s, input } = await connectChannel(sock, child, () => exit);
    child.stderr!.off('data', onErr);
    return { conn: new Conn(child, s, input, o), entry };
  } catch (err) {
    child.kill('SIGKILL');
    entry.remove();
    throw err;
  }
}

async function initConn<D>(o: IsolatedOptions, kind: 'objstore' | 'component'): Promise<{ conn: Conn; desc: D }> {
  const { conn, entry } = await start(o);
  try {
    const r = await conn.peer.call('init', [{ kind, label: o.label, grant: o.grant, grantKey: o.grantKey, grantBaseDir: o.grantBaseDir, baseDir: o.baseDir, cwd: process.cwd() }]);
    return { conn, desc: r.value as D };
  } catch (err) {
    conn.kill();
    throw err;
  } finally {
    entry.remove();
  }
}

export type { IsolatedComponent, IsolatedObjstore };

/** Starts the plugin's process, loads and checks the plugin there, and returns its stand-in (lib/isolate/plugin.ts). */
export async function loadIsolatedObjstore(o: IsolatedOptions): Promise<IsolatedObjstore> {
  const first = await initConn<ObjstoreDesc>(o, 'objstore');
  return objstoreStandIn(first.conn, first.desc, async () => (await initConn(o, 'objstore')).conn);
}

/** Starts a component plugin's process, loads and checks the plugin there, and returns its stand-in. */
export async function loadIsolatedComponent(o: IsolatedOptions): Promise<IsolatedComponent> {
  const first = await initConn<ComponentDesc>(o, 'component');
  // The wasm core's module goes with setup: the process needs no read grant for it.
  return componentStandIn(first.conn, first.desc, async () => (await initConn(o, 'component')).conn, () => new Uint8Array(fs.readFileSync(DEFAULT_WASM_URL)));
}
