// The checked capabilities that need nothing but the file system and fetch: `fs.*` and `fetch`.
// They run in the host (inline plugins) and, unchanged, in an isolated plugin's own process
// (host/isolate/child.ts, under Deno), so this module imports no server code.
//
// Hardening against a neighbour (issue #22): the fetch every plugin's ctx.fetch ends in is captured
// here, when the host loads, before any plugin module runs, so a plugin that replaces
// globalThis.fetch changes only what its own bare `fetch` calls do, never another plugin's
// ctx.fetch. Redirects are followed here, hop by hop, and every hop is checked against the grant
// (Deno does the same): the runtime's own redirect following would reach a target never granted.
import * as nodeFsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FetchFunction, FileInfo, FsCapability, TlsClientOptions } from '../lib/sdk/mod.ts';
import type { Permissions } from './permissions.ts';
import { openAppendFd, readFully, readInto } from '../lib/tsdb/nodefs.ts';

/** The runtime's fetch and Headers, as they were when the host loaded (before any plugin). */
export const HOST_FETCH: typeof globalThis.fetch = globalThis.fetch.bind(globalThis);
const HostHeaders = globalThis.Headers;
const HostURL = globalThis.URL;
const HostRequest = globalThis.Request;

export function urlHostPort(u: URL): string {
  const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
  const host = u.hostname.startsWith('[') ? u.hostname : u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname;
  return port ? `${host}:${port}` : host;
}

export function hostPort(hostname: string, port: number): string {
  return hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * A path the plugin names is checked as given and, when a symlink on the way leads elsewhere, where
 * it really leads: a link inside a granted directory pointing outside it is denied.
 */
async function realOf(fsp: FsPromises, abs: string): Promise<string> {
  const rest: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    try {
      return path.join(await fsp.realpath(p), ...rest.reverse());
    } catch {
      if (path.dirname(p) === p) return abs;
      rest.push(path.basename(p));
    }
  }
}

/** The node:fs/promises calls createFs makes (a plugin process may pass a faster implementation). */
export type FsPromises = Pick<typeof nodeFsp, 'lstat' | 'mkdir' | 'mkdtemp' | 'open' | 'readFile' | 'readdir' | 'realpath' | 'rename' | 'rm' | 'rmdir' | 'stat' | 'unlink' | 'writeFile'>;

/** Open read handles one FsCapability keeps between readRange calls; past it the least recently used is closed. */
const READ_HANDLES_MAX = 64;
/** A kept handle unused this long is closed (a deleted file's space is not held for long). */
const READ_HANDLE_IDLE_MS = 10_000;

interface ReadHandle {
  fh: Awaited<ReturnType<FsPromises['open']>>;
  /** Identity of the opened file: a path now naming another file (replaced, re-created) is opened afresh. */
  dev: number;
  ino: number;
  lastUsed: number;
  /** readRange calls reading through it now: closed only once they are done. */
  users: number;
  dropped: boolean;
}

/**
 * readRange's open files: a store gateway makes many ranged reads of the same few block files per
 * query, and open + fstat + close + the realpath walk of the permission check were most of each
 * read's cost. A file is checked (grant, and where its symlinks really lead) and opened once; each
 * later read stats the path and reuses the handle only while the path still names that same file
 * (device and inode), so a replaced or re-created file is checked and opened again, and a deleted
 * one fails as before. Bounded (least recently used closed first), idle handles closed by an
 * unref'd timer, a handle in use closed only after its reads.
 */
class ReadHandleCache {
  private readonly open = new Map<string, ReadHandle>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly fsp: FsPromises,
    private readonly baseDir: string,
    /** The full check of a file about to be opened: grant and real path (api: the call, for the denial). */
    private readonly checkOpen: (abs: string, api: string) => Promise<void>,
    /** The grant check every read makes (synchronous, no file system calls). */
    private readonly checkPath: (abs: string, api: string) => void,
  ) {}

  async read(p: string, offset: number, length: number): Promise<Uint8Array> {
    const abs = path.resolve(this.baseDir, p);
    this.checkPath(abs, 'fs.readRange');
    const [h, size] = await this.acquire(abs, 'fs.readRange');
    try {
      return await readFully(h.fh, offset, Math.max(0, Math.min(length, size - offset)));
    } finally {
      this.release(h);
    }
  }

  /** read() into the caller's buffer: up to dst.length bytes at offset; the count read. */
  async readInto(p: string, offset: number, dst: Uint8Array): Promise<number> {
    if (!(dst instanceof Uint8Array)) throw new TypeError('fs.readRangeInto: dst must be a Uint8Array');
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`fs.readRangeInto: offset must be a non-negative integer, got ${offset}`);
    const abs = path.resolve(this.baseDir, p);
    this.checkPath(abs, 'fs.readRangeInto');
    const [h, size] = await this.acquire(abs, 'fs.readRangeInto');
    try {
      const n = Math.max(0, Math.min(dst.length, size - offset));
      return n === 0 ? 0 : await readInto(h.fh, offset, dst.subarray(0, n));
    } finally {
      this.release(h);
    }
  }

  /** The file's handle (its users counted) and size: the kept one while the path names the same file. */
  private async acquire(abs: string, api: string): Promise<[ReadHandle, number]> {
    const kept = this.open.get(abs);
    if (kept) {
      kept.users++; // not closed under this read, even if dropped meanwhile
      let st;
      try {
        st = await this.fsp.stat(abs);
      } catch (err) {
        this.release(kept);
        this.drop(abs, kept);
        throw err;
      }
      if (st.dev === kept.dev && st.ino === kept.ino) {
        // Most recently used last (Map order): eviction takes the first.
        if (this.open.get(abs) === kept) {
          this.open.delete(abs);
          this.open.set(abs, kept);
        }
        return [kept, st.size];
      }
      this.release(kept);
      this.drop(abs, kept);
    }
    await this.checkOpen(abs, api);
    const fh = await this.fsp.open(abs, 'r');
    let fst;
    try {
      fst = await fh.stat();
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    const h: ReadHandle = { fh, dev: fst.dev, ino: fst.ino, lastUsed: Date.now(), users: 1, dropped: false };
    const raced = this.open.get(abs);
    if (raced) this.drop(abs, raced); // a concurrent first read opened it too: the newer handle stays
    this.open.set(abs, h);
    if (this.open.size > READ_HANDLES_MAX) {
      const [oldest, oh] = this.open.entries().next().value as [string, ReadHandle];
      this.drop(oldest, oh);
    }
    this.sweeper ??= setInterval(() => this.sweep(), READ_HANDLE_IDLE_MS).unref();
    return [h, fst.size];
  }

  private release(h: ReadHandle): void {
    h.users--;
    h.lastUsed = Date.now();
    if (h.dropped && h.users === 0) h.fh.close().catch(() => {});
  }

  private drop(abs: string, h: ReadHandle): void {
    if (this.open.get(abs) === h) this.open.delete(abs);
    if (h.dropped) return;
    h.dropped = true;
    if (h.users === 0) h.fh.close().catch(() => {});
  }

  private sweep(): void {
    const idleSince = Date.now() - READ_HANDLE_IDLE_MS;
    for (const [abs, h] of [...this.open]) if (h.users === 0 && h.lastUsed < idleSince) this.drop(abs, h);
    if (this.open.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

export function createFs(perms: Permissions, baseDir = process.cwd(), fsp: FsPromises = nodeFsp): FsCapability {
  const checked = async (kind: 'read' | 'write', p: string, api: string) => {
    const abs = path.resolve(baseDir, p);
    perms.check(kind, abs, api);
    const real = await realOf(fsp, abs);
    if (real !== abs) perms.check(kind, real, api);
    return abs;
  };
  const r = (p: string, api: string) => checked('read', p, api);
  const w = (p: string, api: string) => checked('write', p, api);
  const readHandles = new ReadHandleCache(fsp, baseDir, async (abs, api) => {
    await checked('read', abs, api);
  }, (abs, api) => perms.check('read', abs, api));
  const info = (name: string, st: { isDirectory(): boolean; isFile(): boolean; size: number; mtimeMs: number }): FileInfo => ({
    name, isDirectory: st.isDirectory(), isFile: st.isFile(), size: st.size, mtimeMs: st.mtimeMs,
  });
  return {
    async readFile(p) {
      return new Uint8Array(await fsp.readFile(await r(p, 'fs.readFile')));
    },
    async readRange(p, offset, length) {
      return readHandles.read(p, offset, length);
    },
    async readRangeInto(p, offset, dst) {
      return readHandles.readInto(p, offset, dst);
    },
    async writeFile(p, data) {
      const abs = await w(p, 'fs.writeFile');
      if (data instanceof Uint8Array) {
        await fsp.writeFile(abs, data);
        return;
      }
      const fh = await fsp.open(abs, 'w');
      try {
        const reader = data.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          let off = 0;
          while (off < value.length) off += (await fh.write(value, off, value.length - off)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async appendFile(p, data, opts) {
      const fh = await fsp.open(await w(p, 'fs.appendFile'), 'a');
      try {
        let off = 0;
        while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
        if (opts?.sync !== false) await fh.datasync();
      } finally {
        await fh.close();
      }
    },
    async openAppend(p) {
      return openAppendFd(await w(p, 'fs.openAppend'));
    },
    async syncFile(p) {
      const fh = await fsp.open(await w(p, 'fs.syncFile'), 'r+');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    },
    async openRead(p, range) {
      const abs = await r(p, 'fs.openRead');
      const fh = await fsp.open(abs, 'r');
      const size = (await fh.stat()).size;
      let pos = range?.offset ?? 0;
      const end = range?.length === undefined || range.length < 0 ? size : Math.min(size, pos + range.length);
      let closed = false;
      const close = async () => { if (!closed) { closed = true; await fh.close(); } };
      // A byte stream: a reader that brings its own buffer (a BYOB reader: the isolation channel
      // reuses its buffers once written to its socket) has the file read into it; a default
      // reader gets a fresh 256 KiB chunk per read.
      return new ReadableStream({
        type: 'bytes',
        async pull(ctrl: ReadableByteStreamController) {
          try {
            if (pos >= end) { await close(); ctrl.close(); ctrl.byobRequest?.respond(0); return; }
            const req = ctrl.byobRequest;
            const view = req?.view;
            const buf = view ? new Uint8Array(view.buffer, view.byteOffset, Math.min(view.byteLength, end - pos)) : new Uint8Array(Math.min(256 * 1024, end - pos));
            const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
            if (bytesRead === 0) { await close(); ctrl.close(); req?.respond(0); return; }
            pos += bytesRead;
            if (req) req.respond(bytesRead);
            else ctrl.enqueue(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
          } catch (err) {
            await close();
            ctrl.error(err);
          }
        },
        async cancel() { await close(); },
      }, { highWaterMark: 0 }) as ReadableStream<Uint8Array>;
    },
    async stat(p) {
      const abs = await r(p, 'fs.stat');
      return info(path.basename(abs), await fsp.stat(abs));
    },
    async exists(p) {
      const abs = await r(p, 'fs.exists');
      try {
        await fsp.stat(abs);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
        throw err;
      }
    },
    async readDir(p) {
      const abs = await r(p, 'fs.readDir');
      const ents = await fsp.readdir(abs, { withFileTypes: true });
      const out: FileInfo[] = [];
      for (const e of ents) {
        try {
          out.push(info(e.name, await fsp.stat(path.join(abs, e.name))));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // removed meanwhile
        }
      }
      return out;
    },
    async mkdir(p, opts) {
      await fsp.mkdir(await w(p, 'fs.mkdir'), { recursive: opts?.recursive ?? false });
    },
    async rename(from, to) {
      await fsp.rename(await w(from, 'fs.rename'), await w(to, 'fs.rename'));
    },
    async remove(p, opts) {
      const abs = await w(p, 'fs.remove');
      const st = await fsp.lstat(abs);
      if (st.isDirectory()) {
        if (opts?.recursive) await fsp.rm(abs, { recursive: true, force: false });
        else await fsp.rmdir(abs);
      }
      else await fsp.unlink(abs);
    },
    resolve(...parts) {
      return path.resolve(baseDir, ...parts);
    },
    async tempDir(prefix) {
      const base = prefix.includes('/') || path.isAbsolute(prefix) ? path.resolve(baseDir, prefix) : path.join(os.tmpdir(), prefix);
      await w(base, 'fs.tempDir');
      await fsp.mkdir(path.dirname(base), { recursive: true });
      return fsp.mkdtemp(base);
    },
  };
}


const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers the fetch standard (and undici) drop when a redirect leaves the origin. */
const CROSS_ORIGIN_DROP = ['authorization', 'cookie', 'proxy-authorization'];
const MAX_REDIRECTS = 20;

export interface CheckedFetchOptions {
  /** Extra init merged into every hop (the host's per-plugin undici dispatcher). */
  hopInit?: Record<string, unknown>;
  /** The fetch that performs each hop; default the host's captured one. */
  fetch?: typeof globalThis.fetch;
}

/**
 * ctx.fetch: the URL's host:port is checked against the `net` grant, and so is every redirect hop
 * (api `fetch redirect`), before it is requested. `redirect: 'manual' | 'error'` keep their
 * meaning (no hop is followed). A 307/308 redirect of a streamed body cannot be replayed and fails,
 * as in the fetch standard.
 */
export function checkedFetch(perms: Permissions, o: CheckedFetchOptions = {}): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  const doFetch = o.fetch ?? HOST_FETCH;
  const hop = o.hopInit ?? {};
  return async function fetch(input, init) {
    const isReq = input instanceof HostRequest;
    let url = new HostURL(isReq ? (input as Request).url : String(input));
    perms.check('net', urlHostPort(url), 'fetch');
    const mode = init?.redirect ?? (isReq ? (input as Request).redirect : 'follow');
    if (mode !== 'follow') return doFetch(input, { ...init, ...hop, redirect: mode } as RequestInit);
    let res = await doFetch(input, { ...init, ...hop, redirect: 'manual' } as RequestInit);
    if (!REDIRECT_STATUSES.has(res.status) || !res.headers.has('location')) return res;
    // Following ourselves: the request's parts, so each hop can be re-issued.
    let method = (init?.method ?? (isReq ? (input as Request).method : 'GET')).toUpperCase();
    const headers = new HostHeaders(init?.headers ?? (isReq ? (input as Request).headers : undefined));
    let body: RequestInit['body'] = init?.body ?? (isReq ? (input as Request).body : undefined);
    const signal = init?.signal ?? (isReq ? (input as Request).signal : undefined);
    for (let hops = 1; ; hops++) {
      const next = new HostURL(res.headers.get('location')!, url);
      await res.body?.cancel().catch(() => {});
      if (hops > MAX_REDIRECTS) throw new TypeError(`fetch ${url.href}: more than ${MAX_REDIRECTS} redirects`);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new TypeError(`fetch ${url.href}: redirect to a ${next.protocol} URL`);
      perms.check('net', urlHostPort(next), 'fetch redirect');
      if ((res.status === 303 && method !== 'GET' && method !== 'HEAD') || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        for (const h of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(h);
      } else if (body instanceof ReadableStream) {
        throw new TypeError(`fetch ${url.href}: cannot follow a ${res.status} redirect with a streamed body`);
      }
      if (next.origin !== url.origin) for (const h of CROSS_ORIGIN_DROP) headers.delete(h);
      url = next;
      res = await doFetch(url, { ...init, ...hop, method, headers, body, signal, redirect: 'manual' } as RequestInit);
      if (!REDIRECT_STATUSES.has(res.status) || !res.headers.has('location')) {
        // What the runtime's own following would report.
        Object.defineProperty(res, 'redirected', { value: true });
        Object.defineProperty(res, 'url', { value: url.href });
        return res;
      }
    }
  };
}

/** Distinct TLS configurations one plugin's httpClient keeps pools for; past it, clients are not cached. */
const MAX_CACHED_TLS_CLIENTS = 32;

/**
 * The runtime part of ctx.httpClient: the init merged into every hop that makes its connections
 * use `tls` (the host: an undici Agent as `dispatcher`; a Deno plugin process: an HttpClient as
 * `client`). Throws when the runtime cannot honour a setting, naming it.
 */
export type TlsHopInit = (tls: TlsClientOptions) => Record<string, unknown>;

function normaliseTls(tls: TlsClientOptions): Required<TlsClientOptions> {
  if (typeof tls !== 'object' || tls === null) throw new TypeError('httpClient: TLS options must be an object');
  const s = (k: 'caPem' | 'certPem' | 'keyPem' | 'serverName'): string => {
    const v = tls[k];
    if (v !== undefined && typeof v !== 'string') throw new TypeError(`httpClient: ${k} must be a string`);
    return v ?? '';
  };
  const skip = tls.insecureSkipVerify;
  if (skip !== undefined && typeof skip !== 'boolean') throw new TypeError('httpClient: insecureSkipVerify must be a boolean');
  const t = { caPem: s('caPem'), certPem: s('certPem'), keyPem: s('keyPem'), serverName: s('serverName'), insecureSkipVerify: skip ?? false };
  if (t.certPem && !t.keyPem) throw new TypeError('httpClient: a client certificate (certPem) needs its key (keyPem)');
  if (t.keyPem && !t.certPem) throw new TypeError('httpClient: a client key (keyPem) needs its certificate (certPem)');
  if (t.caPem && !t.caPem.includes('-----BEGIN CERTIFICATE-----')) throw new TypeError('httpClient: caPem holds no PEM certificate');
  return t;
}

/**
 * ctx.httpClient: a checkedFetch (the same `net` check of the URL and of every redirect hop) whose
 * hops carry the runtime's TLS-configured connection pool. One pool per distinct configuration,
 * kept for the plugin's life (a bounded number; beyond it each call builds a pool the caller owns).
 */
export function checkedHttpClient(perms: Permissions, tlsHopInit: TlsHopInit, doFetch?: typeof globalThis.fetch): (tls: TlsClientOptions) => FetchFunction {
  const clients = new Map<string, FetchFunction>();
  return (tls) => {
    const t = normaliseTls(tls);
    const key = JSON.stringify([t.caPem, t.certPem, t.keyPem, t.serverName, t.insecureSkipVerify]);
    const known = clients.get(key);
    if (known) return known;
    const f = checkedFetch(perms, { hopInit: tlsHopInit(t), fetch: doFetch });
    if (clients.size < MAX_CACHED_TLS_CLIENTS) clients.set(key, f);
    return f;
  };
}
