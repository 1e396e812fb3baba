// A memcached client speaking the text protocol (get/set) over raw TCP connections obtained from a
// connect() function (the host's Capabilities.connect, permission checked). Requests on one
// connection are pipelined and answered in order. Failures and timeouts count as misses: a cache
// must never fail a query.
import type { TcpConnection } from '../../sdk/plugin.ts';
import type { BytesCache } from './lru.ts';

export type { TcpConnection };
export type Connect = (opts: { hostname: string; port: number }) => Promise<TcpConnection>;

export interface MemcachedOptions {
  addresses: string[];
  /** Per-request timeout (ms). */
  timeoutMs: number;
  /** Connections per server. */
  maxIdleConnections: number;
  maxItemSize: number;
  maxGetMultiBatchSize: number;
  maxAsyncConcurrency: number;
  maxAsyncBufferSize: number;
  /** Seconds; 0 = never expire. */
  expirationSec: number;
}

export const MEMCACHED_DEFAULTS: Omit<MemcachedOptions, 'addresses'> = {
  timeoutMs: 500,
  maxIdleConnections: 4,
  maxItemSize: 1024 * 1024,
  maxGetMultiBatchSize: 100,
  maxAsyncConcurrency: 20,
  maxAsyncBufferSize: 10_000,
  expirationSec: 86_400,
};

const enc = new TextEncoder();
const dec = new TextDecoder();

type Pending =
  | { kind: 'get'; values: Map<string, Uint8Array>; resolve(v: Map<string, Uint8Array>): void; reject(e: Error): void }
  | { kind: 'line'; resolve(v: string): void; reject(e: Error): void };

class Conn {
  private buf: Uint8Array = new Uint8Array(0);
  private readonly queue: Pending[] = [];
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  dead = false;

  constructor(private readonly tcp: TcpConnection, private readonly onDead: () => void) {
    this.writer = tcp.writable.getWriter();
    void this.readLoop();
  }

  private async readLoop(): Promise<void> {
    const reader = this.tcp.readable.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.append(value);
        this.parse();
      }
      this.kill(new Error('memcached closed the connection'));
    } catch (e) {
      this.kill(e as Error);
    }
  }

  private append(chunk: Uint8Array): void {
    if (this.buf.length === 0) {
      this.buf = chunk;
      return;
    }
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
  }

  private lineEnd(from: number): number {
    for (let i = from; i + 1 < this.buf.length; i++) if (this.buf[i] === 13 && this.buf[i + 1] === 10) return i;
    return -1;
  }

  private parse(): void {
    let pos = 0;
    while (this.queue.length > 0) {
      const p = this.queue[0]!;
      const e = this.lineEnd(pos);
      if (e < 0) break;
      const line = dec.decode(this.buf.subarray(pos, e));
      if (p.kind === 'line') {
        pos = e + 2;
        this.queue.shift();
        p.resolve(line);
        continue;
      }
      if (line === 'END') {
        pos = e + 2;
        this.queue.shift();
        p.resolve(p.values);
        continue;
      }
      if (line.startsWith('VALUE ')) {
        const parts = line.split(' ');
        const n = Number(parts[3]);
        const start = e + 2;
        if (this.buf.length < start + n + 2) break; // wait for the whole value
        p.values.set(parts[1]!, this.buf.slice(start, start + n));
        pos = start + n + 2;
        continue;
      }
      // ERROR / SERVER_ERROR / CLIENT_ERROR in place of a get response.
      pos = e + 2;
      this.queue.shift();
      p.reject(new Error(`memcached: ${line}`));
    }
    this.buf = pos >= this.buf.length ? new Uint8Array(0) : this.buf.subarray(pos);
  }

  kill(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    for (const p of this.queue.splice(0)) p.reject(err);
    try {
      this.tcp.close();
    } catch {
      /* already closed */
    }
    this.onDead();
  }

  async send(bytes: Uint8Array, p: Pending): Promise<void> {
    if (this.dead) throw new Error('memcached connection is closed');
    this.queue.push(p);
    await this.writer.write(bytes);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      onTimeout();
      reject(new Error(`memcached: request timed out after ${ms}ms`));
    }, ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

function parseAddr(a: string): { hostname: string; port: number } {
  const i = a.lastIndexOf(':');
  if (i <= 0) throw new Error(`memcached: address ${JSON.stringify(a)} must be host:port`);
  const port = Number(a.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`memcached: bad port in ${JSON.stringify(a)}`);
  return { hostname: a.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

function hashKey(k: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface MemcachedLogger {
  warn(msg: string, kv?: Record<string, unknown>): void;
}

export class MemcachedClient implements BytesCache {
  private readonly servers: Array<{ addr: { hostname: string; port: number }; conns: Array<Promise<Conn> | undefined>; rr: number }>;
  private asyncInFlight = 0;
  private asyncQueue: Array<() => Promise<void>> = [];
  private closed = false;
  readonly stats = { getErrors: 0, setErrors: 0, setDropped: 0 };
  readonly opts: MemcachedOptions;

  constructor(private readonly connect: Connect, opts: Partial<MemcachedOptions> & { addresses: string[] }, private readonly log?: MemcachedLogger) {
    this.opts = { ...MEMCACHED_DEFAULTS, ...opts };
    if (this.opts.addresses.length === 0) throw new Error('memcached: no addresses configured');
    this.servers = this.opts.addresses.map((a) => ({ addr: parseAddr(a), conns: new Array(Math.max(1, this.opts.maxIdleConnections)).fill(undefined), rr: 0 }));
  }

  private conn(serverIdx: number): Promise<Conn> {
    const s = this.servers[serverIdx]!;
    const slot = s.rr++ % s.conns.length;
    let c = s.conns[slot];
    if (!c) {
      c = this.connect(s.addr).then((tcp) => new Conn(tcp, () => { if (s.conns[slot] === c) s.conns[slot] = undefined; }));
      c.catch(() => { if (s.conns[slot] === c) s.conns[slot] = undefined; });
      s.conns[slot] = c;
    }
    return c;
  }

  private serverFor(key: string): number {
    return this.servers.length === 1 ? 0 : hashKey(key) % this.servers.length;
  }

  private async request<T>(serverIdx: number, bytes: Uint8Array, mk: (resolve: (v: T) => void, reject: (e: Error) => void) => Pending): Promise<T> {
    const conn = await withTimeout(this.conn(serverIdx), this.opts.timeoutMs, () => {});
    if (conn.dead) throw new Error('memcached connection is closed');
    const p = new Promise<T>((resolve, reject) => {
      void conn.send(bytes, mk(resolve, reject)).catch((e) => conn.kill(e as Error));
    });
    return withTimeout(p, this.opts.timeoutMs, () => conn.kill(new Error('memcached: timeout')));
  }

  /** Raw get of many keys on their servers, batched. Errors are logged and count as misses. */
  async getMulti(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (this.closed || keys.length === 0) return out;
    const perServer = new Map<number, string[]>();
    for (const k of keys) {
      const i = this.serverFor(k);
      let l = perServer.get(i);
      if (!l) perServer.set(i, (l = []));
      l.push(k);
    }
    const batch = this.opts.maxGetMultiBatchSize > 0 ? this.opts.maxGetMultiBatchSize : keys.length;
    const jobs: Promise<void>[] = [];
    for (const [srv, ks] of perServer) {
      for (let i = 0; i < ks.length; i += batch) {
        const part = ks.slice(i, i + batch);
        jobs.push(
          this.request<Map<string, Uint8Array>>(srv, enc.encode(`get ${part.join(' ')}\r\n`), (resolve, reject) => ({ kind: 'get', values: new Map(), resolve, reject }))
            .then((m) => { for (const [k, v] of m) out.set(k, v); })
            .catch((e) => {
              this.stats.getErrors++;
              this.log?.warn('memcached get failed', { err: (e as Error).message, keys: part.length });
            }),
        );
      }
    }
    await Promise.all(jobs);
    return out;
  }

  /** Stores synchronously (awaits the server's reply). Throws on failure. */
  async setSync(key: string, value: Uint8Array): Promise<void> {
    const head = enc.encode(`set ${key} 0 ${this.opts.expirationSec} ${value.byteLength}\r\n`);
    const msg = new Uint8Array(head.length + value.byteLength + 2);
    msg.set(head);
    msg.set(value, head.length);
    msg[msg.length - 2] = 13;
    msg[msg.length - 1] = 10;
    const line = await this.request<string>(this.serverFor(key), msg, (resolve, reject) => ({ kind: 'line', resolve, reject }));
    if (line !== 'STORED') throw new Error(`memcached set: ${line}`);
  }

  /**
   * Best-effort asynchronous store with bounded concurrency and buffer. `done`, if given, is called
   * with the seconds the write itself took (not its wait in the queue), whether or not it succeeded.
   */
  set(key: string, value: Uint8Array, done?: (seconds: number) => void): void {
    if (this.closed) return;
    if (value.byteLength > this.opts.maxItemSize) return;
    if (this.asyncQueue.length >= this.opts.maxAsyncBufferSize) {
      this.stats.setDropped++;
      return;
    }
    // Queued until sent: a view into a larger buffer (a series entry in its index read) would pin it.
    if (value.byteOffset !== 0 || value.byteLength !== value.buffer.byteLength) value = value.slice();
    this.asyncQueue.push(done
      ? () => {
        const started = performance.now();
        return this.setSync(key, value).finally(() => done((performance.now() - started) / 1000));
      }
      : () => this.setSync(key, value));
    this.pump();
  }

  private pump(): void {
    while (this.asyncInFlight < this.opts.maxAsyncConcurrency && this.asyncQueue.length > 0) {
      const job = this.asyncQueue.shift()!;
      this.asyncInFlight++;
      job()
        .catch((e) => {
          this.stats.setErrors++;
          this.log?.warn('memcached set failed', { err: (e as Error).message });
        })
        .finally(() => {
          this.asyncInFlight--;
          this.pump();
          if (this.asyncInFlight === 0 && this.asyncQueue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
  }

  private idleWaiters: Array<() => void> = [];
  /** Resolves once every queued asynchronous set has finished (tests, shutdown). */
  flush(): Promise<void> {
    if (this.asyncInFlight === 0 && this.asyncQueue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    for (const s of this.servers) {
      for (const c of s.conns) if (c) c.then((x) => x.kill(new Error('closed')), () => {});
      s.conns.fill(undefined);
    }
  }
}
