// The capabilities handed to one plugin: fetch (and httpClient: fetch with TLS settings), listen, connect, grpcDial, resolve (DNS), fs, env, log, metrics. Every call
// checks the plugin's effective Permissions first and throws PermissionDenied otherwise.
//
// In-process (built-ins, and third-party plugins run with `isolation: inline` + `trust: true`) this
// is a policy boundary hardened against neighbours, not a sandbox (README "Security model"): each
// plugin gets its own fetch function and its own HTTP connection pool (an undici Agent of its own),
// the runtime's fetch is captured before plugins load (host/checked.ts), and the process-wide
// undici dispatcher slot is locked so no plugin can swap in a dispatcher that sees every request.
// Out-of-process plugins get the same capabilities inside their own Deno process (host/isolate/).
// File system errors keep Node's `code` (ENOENT, EEXIST, ENOTDIR, ...), so providers can recognise
// a missing file with `err.code === 'ENOENT'`.
import * as dns from 'node:dns/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { Capabilities, Logger, Metrics, TcpConnection } from './index.ts';
import type { DnsRecordType, SrvRecord, TlsClientOptions } from '../lib/sdk/mod.ts';
import type { Permissions } from './permissions.ts';
import { listenChecked } from './server/http.ts';
import { ClientTlsCache, dialGrpc, grpcTargetHostPorts } from './server/grpc.ts';
import { checkedFetch, checkedHttpClient, createFs, HOST_FETCH, hostPort } from './checked.ts';

export { createFs } from './checked.ts';

const DISPATCHER = Symbol.for('undici.globalDispatcher.1');
let agentClass: (new (opts?: Record<string, unknown>) => object) | undefined | null;

/**
 * Node's fetch keeps its connection pool (an undici Agent) in a global slot that undici's
 * setGlobalDispatcher replaces: a plugin doing that would see every other plugin's requests,
 * Authorization headers included. The slot is made read-only once it exists, and the Agent class
 * is kept so every plugin gets a pool of its own. Not under Node (no slot): nothing to do.
 */
function pluginAgent(): object | undefined {
  findAgentClass();
  return agentClass ? new agentClass() : undefined;
}

function findAgentClass(): void {
  if (agentClass === undefined) {
    agentClass = null;
    if (!(DISPATCHER in globalThis)) HOST_FETCH('data:,').then((r) => r.arrayBuffer(), () => {}); // creates the slot synchronously
    const d = Object.getOwnPropertyDescriptor(globalThis, DISPATCHER);
    if (d && 'value' in d && d.value && typeof d.value === 'object') {
      if (d.writable) Object.defineProperty(globalThis, DISPATCHER, { writable: false });
      agentClass = (d.value as { constructor: new () => object }).constructor;
    }
  }
}

/**
 * The hop init of ctx.httpClient under Node: a pool of its own (the runtime's undici Agent class,
 * so it matches the fetch that uses it) whose TLS connections use the settings, as Go's tls.Config
 * would: `ca` replaces the system roots, `servername` is both the SNI and the name verified.
 * Parsed here first, so a bad PEM or a key not matching its certificate fails when the client is
 * made, not on the first request.
 */
function tlsAgentInit(t: TlsClientOptions): Record<string, unknown> {
  findAgentClass();
  if (!agentClass) throw new Error('httpClient: this runtime has no undici Agent to carry TLS settings');
  const connect: Record<string, unknown> = { rejectUnauthorized: !t.insecureSkipVerify };
  if (t.caPem) connect.ca = t.caPem;
  if (t.certPem) { connect.cert = t.certPem; connect.key = t.keyPem; }
  if (t.serverName) connect.servername = t.serverName;
  try {
    tls.createSecureContext({ ca: t.caPem || undefined, cert: t.certPem || undefined, key: t.keyPem || undefined });
  } catch (err) {
    throw new Error(`httpClient: unusable TLS settings: ${(err as Error).message}`, { cause: err });
  }
  return { dispatcher: new agentClass({ connect }) };
}

export interface CapabilityOptions {
  permissions: Permissions;
  log: Logger;
  metrics: Metrics;
  /** Relative paths given to fs.* resolve against this (the manifest's directory); default cwd. */
  baseDir?: string;
}

export function createCapabilities(o: CapabilityOptions): Capabilities {
  const perms = o.permissions;
  const agent = pluginAgent();
  const grpcTls = new ClientTlsCache(o.log);
  // Frozen, so code holding this object (a plugin, a library it hands ctx to) cannot swap a method.
  return Object.freeze<Capabilities>({
    pluginId: perms.pluginId,
    fetch: checkedFetch(perms, { hopInit: agent ? { dispatcher: agent } : undefined }),
    httpClient: checkedHttpClient(perms, tlsAgentInit),
    async listen(opts, handler) {
      perms.check('net', hostPort(opts.hostname, opts.port), 'listen');
      return listenChecked(perms, o, opts, handler);
    },
    async connect(opts) {
      perms.check('net', hostPort(opts.hostname, opts.port), 'connect');
      return tcpConnect(opts.hostname, opts.port);
    },
    grpcDial(target, options) {
      for (const hp of grpcTargetHostPorts(target)) perms.check('net', hp, 'grpcDial');
      // TLS files are read by the host for the plugin: its read grant must cover each.
      const t = options?.tls;
      const file = (p: string | undefined) => {
        if (!p) return undefined;
        const abs = path.resolve(o.baseDir ?? process.cwd(), p);
        perms.check('read', abs, 'grpcDial');
        return abs;
      };
      const clientTls = t ? grpcTls.get({ ...t, certFile: file(t.certFile), keyFile: file(t.keyFile), caFile: file(t.caFile) }) : undefined;
      return dialGrpc(target, { channelOptions: options?.channelOptions, clientTls, metrics: o.metrics });
    },
    resolve: resolveChecked(perms) as Capabilities['resolve'],
    fs: createFs(perms, o.baseDir),
    env: {
      get(name) {
        perms.check('env', name, 'env.get');
        return process.env[name];
      },
    },
    log: o.log,
    metrics: o.metrics,
  });
}

/**
 * ctx.resolve: the name is checked as a host without a port, so only a grant covering the name on
 * every port (`name`, `name:*`, `*`) lets a plugin send DNS queries for it (a query is traffic too,
 * and can carry data out). A/AAAA go through getaddrinfo (node:dns lookup) so the hosts file counts,
 * as with Go's resolver in Thanos; SRV asks the configured DNS servers.
 */
function resolveChecked(perms: Permissions): (name: string, type: DnsRecordType) => Promise<string[] | SrvRecord[]> {
  return async (name, type) => {
    if (typeof name !== 'string' || name === '' || /[\s/:@[\]]/.test(name)) throw new TypeError(`resolve: invalid host name ${JSON.stringify(name)}`);
    perms.check('net', name, 'resolve');
    if (type === 'SRV') return (await dns.resolveSrv(name)).map((r) => ({ name: r.name, port: r.port, priority: r.priority, weight: r.weight }));
    if (type !== 'A' && type !== 'AAAA') throw new TypeError(`resolve: unsupported record type ${JSON.stringify(type)} (A, AAAA or SRV)`);
    const res = await dns.lookup(name, { all: true, family: type === 'A' ? 4 : 6 });
    return [...new Set(res.map((r) => r.address))];
  };
}

function tcpConnect(hostname: string, port: number): Promise<TcpConnection> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host: hostname, port });
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      const readable = new ReadableStream<Uint8Array>({
        start(ctrl) {
          sock.on('data', (d: Buffer) => {
            ctrl.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
            if ((ctrl.desiredSize ?? 1) <= 0) sock.pause();
          });
          sock.on('end', () => { try { ctrl.close(); } catch { /* already closed */ } });
          sock.on('error', (e) => { try { ctrl.error(e); } catch { /* already closed */ } });
        },
        pull() { sock.resume(); },
        cancel() { sock.destroy(); },
      }, { highWaterMark: 16 });
      const writable = new WritableStream<Uint8Array>({
        write: (chunk) => new Promise<void>((res, rej) => sock.write(chunk, (e) => (e ? rej(e) : res()))),
        close: () => new Promise<void>((res) => sock.end(() => res())),
        abort: () => { sock.destroy(); },
      });
      resolve({ readable, writable, close: () => sock.destroy() });
    });
  });
}
