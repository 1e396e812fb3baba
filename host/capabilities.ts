// The capabilities handed to one plugin: fetch, listen, connect, grpcDial, fs, env, log, metrics. Every call
// checks the plugin's effective Permissions first and throws PermissionDenied otherwise.
//
// A policy boundary, not a sandbox (see permissions.ts): plugins share the process with the host.
// File system errors keep Node's `code` (ENOENT, EEXIST, ENOTDIR, ...), so providers can recognise
// a missing file with `err.code === 'ENOENT'`.
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Capabilities, FileInfo, FsCapability, Logger, Metrics, TcpConnection } from './index.ts';
import type { Permissions } from './permissions.ts';
import { serveFetch } from './server/listen.ts';
import { dialGrpc, grpcTargetHostPorts } from './server/grpc.ts';
import { readFully } from '../lib/tsdb/nodefs.ts';

export interface CapabilityOptions {
  permissions: Permissions;
  log: Logger;
  metrics: Metrics;
  /** Relative paths given to fs.* resolve against this (the manifest's directory); default cwd. */
  baseDir?: string;
}

function urlHostPort(u: URL): string {
  const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
  const host = u.hostname.startsWith('[') ? u.hostname : u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname;
  return port ? `${host}:${port}` : host;
}

function hostPort(hostname: string, port: number): string {
  return hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

export function createFs(perms: Permissions, baseDir = process.cwd()): FsCapability {
  const r = (p: string, api: string) => { const abs = path.resolve(baseDir, p); perms.check('read', abs, api); return abs; };
  const w = (p: string, api: string) => { const abs = path.resolve(baseDir, p); perms.check('write', abs, api); return abs; };
  const info = (name: string, st: import('node:fs').Stats): FileInfo => ({
    name, isDirectory: st.isDirectory(), isFile: st.isFile(), size: st.size, mtimeMs: st.mtimeMs,
  });
  return {
    async readFile(p) {
      return new Uint8Array(await fsp.readFile(r(p, 'fs.readFile')));
    },
    async readRange(p, offset, length) {
      const fh = await fsp.open(r(p, 'fs.readRange'), 'r');
      try {
        const size = (await fh.stat()).size;
        return await readFully(fh, offset, Math.max(0, Math.min(length, size - offset)));
      } finally {
        await fh.close();
      }
    },
    async writeFile(p, data) {
      const abs = w(p, 'fs.writeFile');
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
    async appendFile(p, data) {
      const fh = await fsp.open(w(p, 'fs.appendFile'), 'a');
      try {
        let off = 0;
        while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
        await fh.datasync();
      } finally {
        await fh.close();
      }
    },
    async openRead(p, range) {
      const abs = r(p, 'fs.openRead');
      const fh = await fsp.open(abs, 'r');
      const size = (await fh.stat()).size;
      let pos = range?.offset ?? 0;
      const end = range?.length === undefined || range.length < 0 ? size : Math.min(size, pos + range.length);
      let closed = false;
      const close = async () => { if (!closed) { closed = true; await fh.close(); } };
      return new ReadableStream<Uint8Array>({
        async pull(ctrl) {
          try {
            if (pos >= end) { await close(); ctrl.close(); return; }
            const buf = new Uint8Array(Math.min(256 * 1024, end - pos));
            const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
            if (bytesRead === 0) { await close(); ctrl.close(); return; }
            pos += bytesRead;
            ctrl.enqueue(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
          } catch (err) {
            await close();
            ctrl.error(err);
          }
        },
        async cancel() { await close(); },
      }, { highWaterMark: 0 });
    },
    async stat(p) {
      const abs = r(p, 'fs.stat');
      return info(path.basename(abs), await fsp.stat(abs));
    },
    async exists(p) {
      const abs = r(p, 'fs.exists');
      try {
        await fsp.stat(abs);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
        throw err;
      }
    },
    async readDir(p) {
      const abs = r(p, 'fs.readDir');
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
      await fsp.mkdir(w(p, 'fs.mkdir'), { recursive: opts?.recursive ?? false });
    },
    async rename(from, to) {
      await fsp.rename(w(from, 'fs.rename'), w(to, 'fs.rename'));
    },
    async remove(p, opts) {
      const abs = w(p, 'fs.remove');
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
      w(base, 'fs.tempDir');
      await fsp.mkdir(path.dirname(base), { recursive: true });
      return fsp.mkdtemp(base);
    },
  };
}

export function createCapabilities(o: CapabilityOptions): Capabilities {
  const perms = o.permissions;
  return {
    pluginId: perms.pluginId,
    async fetch(input, init) {
      const url = new URL(input instanceof Request ? input.url : String(input));
      perms.check('net', urlHostPort(url), 'fetch');
      return globalThis.fetch(input, init);
    },
    async listen(opts, handler) {
      perms.check('net', hostPort(opts.hostname, opts.port), 'listen');
      return serveFetch(opts.hostname, opts.port, handler);
    },
    async connect(opts) {
      perms.check('net', hostPort(opts.hostname, opts.port), 'connect');
      return tcpConnect(opts.hostname, opts.port);
    },
    grpcDial(target, options) {
      for (const hp of grpcTargetHostPorts(target)) perms.check('net', hp, 'grpcDial');
      return dialGrpc(target, options);
    },
    fs: createFs(perms, o.baseDir),
    env: {
      get(name) {
        perms.check('env', name, 'env.get');
        return process.env[name];
      },
    },
    log: o.log,
    metrics: o.metrics,
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
