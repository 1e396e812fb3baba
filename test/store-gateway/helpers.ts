// Test helpers for the store gateway suites: node:net TcpConnection, memcached on loopback, free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import type { TcpConnection } from '../../lib/sdk/plugin.ts';
import { freePort } from '../harness/ports.ts';
export { freePort };

export function tcpConnect(opts: { hostname: string; port: number }): Promise<TcpConnection> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    sock.once('error', reject);
    sock.connect(opts.port, opts.hostname, () => {
      sock.off('error', reject);
      const readable = new ReadableStream<Uint8Array>({
        start(c) {
          sock.on('data', (d: Buffer) => c.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
          sock.on('end', () => { try { c.close(); } catch { /* closed */ } });
          sock.on('error', (e) => { try { c.error(e); } catch { /* closed */ } });
          sock.on('close', () => { try { c.close(); } catch { /* closed */ } });
        },
        cancel() { sock.destroy(); },
      });
      const writable = new WritableStream<Uint8Array>({
        write(chunk) {
          return new Promise((res, rej) => sock.write(chunk, (e) => (e ? rej(e) : res())));
        },
        close() { sock.end(); },
      });
      resolve({ readable, writable, close: () => sock.destroy() });
    });
  });
}

export async function waitPort(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const c = await tcpConnect({ hostname: '127.0.0.1', port });
      c.close();
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface Memcached { port: number; proc: ChildProcess; stop(): Promise<void> }

export async function startMemcached(): Promise<Memcached> {
  const port = await freePort();
  const proc = spawn('/usr/bin/memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '64', '-u', 'root'], { stdio: 'ignore' });
  await waitPort(port);
  return {
    port,
    proc,
    stop: () => new Promise<void>((r) => {
      if (proc.exitCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    }),
  };
}
