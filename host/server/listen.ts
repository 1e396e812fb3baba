// Serves a fetch handler on host:port (node:http, node:https, or node:http2 with HTTP/1.1 fallback,
// through @hono/node-server's request listener); resolves once listening (rejects on EADDRINUSE
// etc.), close() stops accepting and ends open connections.
//
// Every listener is hardened the same way (values in DEFAULT_HTTP_LIMITS, documented in
// host/README.md): a header size limit (431), a URL length limit (414), a request body limit counted
// while the body streams (413; a declared Content-Length over it is refused before any byte is
// read), a deadline for the request headers and one for the whole request (slow clients cannot hold
// a connection forever), and an idle keep-alive timeout. TLS comes from an HttpTls source that may
// hand over new certificates at any time (new connections get them).
import { getRequestListener } from '@hono/node-server';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type * as tls from 'node:tls';
import type { HttpListener, Logger } from '../index.ts';
import { httpDate } from '../../lib/sdk/time.ts';

export interface HttpLimits {
  /** Largest request head (request line + headers), bytes; 431 beyond. Go's DefaultMaxHeaderBytes. */
  maxHeaderBytes: number;
  /** Longest request target (path and query), bytes; 414 beyond. */
  maxUrlBytes: number;
  /** Largest request body, bytes; 413 beyond. 0: no limit. */
  maxBodyBytes: number;
  /** Time for a client to send the request headers (Node's headersTimeout); 408 and close beyond. */
  headersTimeoutMs: number;
  /** Time for a client to send the whole request, body included (Node's requestTimeout); 0: none. */
  requestTimeoutMs: number;
  /** Idle time after which a keep-alive connection is closed. */
  keepAliveTimeoutMs: number;
  /** Requests served on one connection before it is closed (0: no limit, as Go). */
  maxRequestsPerSocket: number;
}

/**
 * The defaults. Thanos's (Go's) http.Server sets no deadlines at all, so a client that sends one
 * header byte a minute holds its connection forever; here headers must arrive within 60 s and the
 * whole request within 5 min (Node's own defaults), idle keep-alive connections close after 65 s
 * (longer than the 60 s idle timeout of common load balancers and proxies, so they close first).
 * Headers up to 1 MiB as Go; URLs up to 64 KiB (long PromQL goes in a POST form: Grafana and the
 * Prometheus UI do so); bodies up to 10 MiB, Go's limit for the POSTed forms the query APIs read.
 */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  maxHeaderBytes: 1 << 20,
  maxUrlBytes: 64 << 10,
  maxBodyBytes: 10 << 20,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 65_000,
  maxRequestsPerSocket: 0,
};

/** A TLS source for a server: its options now, new ones when the certificates change, a check after each handshake. */
export interface HttpTls {
  /** Options for https/http2 createServer: cert, key, ca, requestCert, rejectUnauthorized, versions, ciphers... */
  serverOptions(): tls.TlsOptions;
  /** Calls back with new context options after a reload; returns the unsubscribe function. */
  onReload?(listener: (o: tls.SecureContextOptions) => void): () => void;
  /** After the handshake: a reason to drop the connection (client auth type, SAN allow-list), or undefined. */
  checkPeer?(socket: tls.TLSSocket): string | undefined;
}

export interface ServeOptions {
  limits?: Partial<HttpLimits>;
  tls?: HttpTls;
  /** With TLS: offer HTTP/2 by ALPN (HTTP/1.1 clients still served). Default false. */
  http2?: boolean;
  log?: Logger;
  /** How often Node checks headers/request deadlines (ms; default Node's 30 s). Tests shorten it. */
  connectionsCheckingIntervalMs?: number;
}

/** The request as a handler sees it, plus what only the server knows. */
export interface RequestInfo {
  /** The TLS socket of the connection, if it is TLS. */
  tlsSocket?: tls.TLSSocket;
  /** The connection's socket (its remote address, for request logging). */
  socket?: { readonly remoteAddress?: string; readonly remotePort?: number };
  /**
   * Calls back once the answer to this request is done: written out, or its connection gone (at
   * once when it already is). Given by listeners that can tell; absent elsewhere.
   */
  onResponseDone?: (cb: () => void) => void;
  /** The request's header lines as received (name, value, name, value...; HTTP/2 pseudo-headers included), when the listener has them. */
  rawHeaders?: readonly string[];
}

/** RequestInfo.onResponseDone over a Node response; undefined where the runtime's response cannot say it is closed. */
function responseDoneOf(res: http.ServerResponse | http2.Http2ServerResponse): RequestInfo['onResponseDone'] {
  const r = res as { closed?: unknown; once(ev: 'close', cb: () => void): unknown };
  if (typeof r.closed !== 'boolean') return undefined;
  return (cb) => {
    if (r.closed) queueMicrotask(cb);
    else r.once('close', cb);
  };
}

export type FetchHandler = (req: Request, info: RequestInfo) => Response | Promise<Response>;

function text(status: number, body: string, close = false): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...(close ? { connection: 'close' } : {}) } });
}

/**
 * Wraps a handler with the URL and body limits. The body is counted as it streams; once it goes past
 * the limit the stream fails (the handler's read rejects) and the answer is 413 whatever the handler
 * made of it, with `Connection: close` so the rest of the body is not read.
 */
export function limitRequests(handler: FetchHandler, limits: Pick<HttpLimits, 'maxUrlBytes' | 'maxBodyBytes'>): FetchHandler {
  return async (req, info) => {
    const target = req.url.length - new URL(req.url).origin.length;
    if (limits.maxUrlBytes > 0 && target > limits.maxUrlBytes) return text(414, `request URI too long (limit ${limits.maxUrlBytes} bytes)\n`, true);
    const max = limits.maxBodyBytes;
    // GET and HEAD have no body; a declared length is checked without touching req.body (the
    // server's lightweight request would build a full Request and a web stream for it)
    if (max <= 0 || req.method === 'GET' || req.method === 'HEAD') return handler(req, info);
    const declared = req.headers.get('content-length');
    const tooLarge = () => text(413, `request body too large (limit ${max} bytes)\n`, true);
    if (declared !== null) {
      // Node's parser delivers exactly Content-Length bytes, so a declared length within the limit needs no counting.
      if (!/^\d+$/.test(declared.trim()) || Number(declared) > max) return tooLarge();
      return handler(req, info);
    }
    if (req.body === null) return handler(req, info);
    let seen = 0;
    let exceeded = false;
    const counted = req.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctrl) {
        seen += chunk.byteLength;
        if (seen > max) {
          exceeded = true;
          ctrl.error(new RangeError(`request body too large (limit ${max} bytes)`));
          return;
        }
        ctrl.enqueue(chunk);
      },
    }));
    const limited = new Request(req.url, { method: req.method, headers: req.headers, body: counted, signal: req.signal, duplex: 'half' } as RequestInit);
    let res: Response;
    try {
      res = await handler(limited, info);
    } catch (err) {
      if (exceeded) return tooLarge();
      throw err;
    }
    if (exceeded) {
      await res.body?.cancel().catch(() => {});
      return tooLarge();
    }
    return res;
  };
}

/**
 * HTTP/1.1 clients of an HTTP/2 server (allowHTTP1) get none of node:http's deadlines: Node applies
 * headersTimeout/requestTimeout to http.Server connections only. The same deadlines by hand: the
 * request headers must arrive within headersTimeout of the connection (or of the previous answer,
 * then with the keep-alive timeout as well), the body within requestTimeout; else the socket is closed.
 */
function http1Deadlines(server: http2.Http2SecureServer, limits: HttpLimits): void {
  const timers = new WeakMap<Socket, NodeJS.Timeout>();
  const arm = (sock: Socket, ms: number, stillNeeded: () => boolean = () => true) => {
    clearTimeout(timers.get(sock));
    if (ms <= 0) return;
    const t = setTimeout(() => { if (stillNeeded()) sock.destroy(); }, ms);
    t.unref();
    timers.set(sock, t);
  };
  server.on('secureConnection', (sock: tls.TLSSocket) => {
    if (sock.alpnProtocol === 'h2') return;
    arm(sock, limits.headersTimeoutMs);
    sock.once('close', () => clearTimeout(timers.get(sock)));
  });
  server.on('request', (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (req.httpVersionMajor >= 2) return;
    const sock = req.socket as Socket;
    // `complete`: the parser has the whole request (headers and body), whether or not the handler read it;
    // a long-running answer is not cut off.
    arm(sock, limits.requestTimeoutMs, () => !(req as http.IncomingMessage).complete);
    res.once('finish', () => arm(sock, limits.keepAliveTimeoutMs + limits.headersTimeoutMs));
  });
}

let dateSecond = -1;
let dateText = '';
/**
 * The Date header of a response, set before the handler runs (Node's own writes it only when the
 * response has none): the same text, but formatted without Date.prototype.toUTCString, which loads
 * ICU's time-zone data (lib/sdk/time.ts). Cached per second, as Node caches its own.
 */
function responseDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = httpDate(new Date(now));
  }
  return dateText;
}

export async function serveFetch(
  hostname: string,
  port: number,
  handler: (req: Request, info: RequestInfo) => Response | Promise<Response>,
  opts: ServeOptions = {},
): Promise<HttpListener> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const limited = limitRequests(handler, limits);
  const honoListener = getRequestListener((req, env) => {
    const e = env as { incoming: http.IncomingMessage | http2.Http2ServerRequest; outgoing: http.ServerResponse | http2.Http2ServerResponse };
    const socket = e.incoming.socket as Socket;
    return limited(req, { tlsSocket: opts.tls ? (socket as tls.TLSSocket) : undefined, socket, onResponseDone: responseDoneOf(e.outgoing), rawHeaders: e.incoming.rawHeaders });
  }, { hostname });
  const listener: typeof honoListener = (req, res) => {
    res.setHeader('Date', responseDate());
    return honoListener(req, res);
  };
  const http1: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: opts.connectionsCheckingIntervalMs,
  };
  let server: http.Server | https.Server | http2.Http2SecureServer;
  if (!opts.tls) {
    server = http.createServer(http1, listener);
  } else if (opts.http2) {
    server = http2.createSecureServer({
      ...opts.tls.serverOptions(),
      // A handshake that never completes holds a socket: it gets the header deadline.
      handshakeTimeout: limits.headersTimeoutMs,
      allowHTTP1: true,
      maxSessionMemory: 10,
      settings: { maxHeaderListSize: limits.maxHeaderBytes },
    }, listener);
  } else {
    server = https.createServer({ ...http1, ...opts.tls.serverOptions(), handshakeTimeout: limits.headersTimeoutMs }, listener);
  }
  if ('maxRequestsPerSocket' in server && limits.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  if (opts.tls) {
    const t = opts.tls;
    const s = server as https.Server | http2.Http2SecureServer;
    const unsubscribe = t.onReload?.((o) => s.setSecureContext({ ...t.serverOptions(), ...o }));
    server.once('close', () => unsubscribe?.());
    if (t.checkPeer) {
      server.on('secureConnection', (sock: tls.TLSSocket) => {
        const why = t.checkPeer!(sock);
        if (why) {
          opts.log?.debug('TLS client refused', { remote: sock.remoteAddress, err: why });
          sock.destroy();
        }
      });
    }
    server.on('tlsClientError', (err: Error) => opts.log?.debug('TLS handshake failed', { err: err.message }));
  }
  // HTTP/2 sessions have none of HTTP/1's header/request deadlines: an idle session closes after the
  // keep-alive timeout, and close() ends the sessions still open.
  const sessions = new Set<http2.ServerHttp2Session>();
  if (opts.tls && opts.http2) {
    const h2 = server as http2.Http2SecureServer;
    h2.setTimeout(limits.keepAliveTimeoutMs);
    http1Deadlines(h2, limits);
    h2.on('session', (sess: http2.ServerHttp2Session) => {
      sessions.add(sess);
      sess.once('close', () => sessions.delete(sess));
    });
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`listen on ${hostname}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, hostname, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: { hostname: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        for (const sess of sessions) sess.close();
        setTimeout(() => {
          if ('closeAllConnections' in server) server.closeAllConnections();
          for (const sess of sessions) sess.destroy();
        }, 100).unref();
      }),
  };
}
