// One HTTP listener per component: /-/healthy, /-/ready (200 only once the component called
// ctx.setReady(true)), /metrics (Prometheus text format), and everything else goes to the
// component's fetch().
//
// In front of all of it, as Thanos's exporter-toolkit wrapper does for its whole mux (probes and
// /metrics included), the `--http.config` web configuration: response headers, rate limit, basic
// auth. Requests the component names (Component.http.handlerName) are instrumented like Thanos's
// extprom/http middleware (http_requests_total, http_request_duration_seconds,
// http_request_size_bytes, http_response_size_bytes, http_inflight_requests; labels code, handler,
// method, plus tenant for receive) and run inside an OpenTelemetry server span named after the
// handler, continuing a W3C traceparent from the request. Probes and /metrics are not instrumented
// (Thanos registers them without the middleware).
import { context, propagation, SpanKind, SpanStatusCode, trace, type TextMapGetter } from '../../lib/cjs/otel-api.ts';
import * as path from 'node:path';
import type { Component, HttpInstrumentation, HttpListener, ListenOptions, Logger, Metrics } from '../index.ts';
import { ConfigError } from '../index.ts';
import type { Registry } from '../metrics.ts';
import { serveFetch, type FetchHandler, type HttpLimits, type HttpTls, type RequestInfo } from './listen.ts';
import { logHttpRequests, type HttpRequestLogging } from '../../lib/web/reqlog.ts';
import { loadServerTls, TlsConfigError, type ServerTls } from './tls.ts';
import { WebConfigSource } from './webconfig.ts';
import { FORCE_TRACING_ATTRIBUTE, tracingOff } from '../../lib/tracing/mod.ts';

/** Upstream's tracing.ForceTracingBaggageKey: a request header that forces its trace to be sampled. */
const FORCE_TRACING_HEADER = 'X-Thanos-Force-Tracing';

/** Thanos's default http_request_duration_seconds buckets (pkg/extprom/http). */
export const HTTP_DURATION_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120, 240, 360, 720];
/** prometheus.ExponentialBuckets(64, 2, 10): the request and response size buckets. */
export const HTTP_SIZE_BUCKETS: readonly number[] = Array.from({ length: 10 }, (_, i) => 64 * 2 ** i);

const KNOWN_METHODS = new Set(['get', 'put', 'head', 'post', 'delete', 'connect', 'options', 'notify', 'trace', 'patch']);

/** client_golang's sanitizeMethod: the standard methods lower-cased, anything else "unknown". */
function sanitizeMethod(m: string): string {
  const l = m.toLowerCase();
  return KNOWN_METHODS.has(l) ? l : 'unknown';
}

/**
 * promhttp's computeApproximateRequestSize: URL, method, protocol, headers (each name once, each of
 * its values, Host apart), host, declared body length. From the listener's raw header list when it
 * gives one: going through req.headers.forEach made the server's lightweight request build a full
 * Headers object for every instrumented request (~0.05 ms).
 */
function approximateRequestSize(req: Request, url: URL, raw?: readonly string[]): number {
  let s = url.pathname.length + url.search.length + req.method.length + 'HTTP/1.1'.length;
  if (raw) {
    let seen: string[] | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i]!;
      if (k.charCodeAt(0) === 58 /* ':' HTTP/2 pseudo-header */) continue;
      const l = k.toLowerCase();
      if (l === 'host') continue;
      s += raw[i + 1]!.length;
      if (seen?.includes(l)) continue;
      (seen ??= []).push(l);
      s += k.length;
    }
  } else {
    req.headers.forEach((v, k) => {
      if (k !== 'host') s += k.length + v.length;
    });
  }
  s += url.host.length;
  const cl = Number(req.headers.get('content-length') ?? '');
  if (Number.isFinite(cl) && cl > 0) s += cl;
  return s;
}

const HEADER_GETTER: TextMapGetter<Headers> = {
  keys: (h) => [...h.keys()],
  get: (h, k) => h.get(k) ?? undefined,
};

/** The http_* metric families of one registry (get-or-create, so a listener and the host app share them). */
function httpMetrics(m: Metrics, tenant: boolean, durationBuckets: readonly number[]) {
  const extra = tenant ? ['tenant'] : [];
  const labels = ['code', 'handler', 'method', ...extra];
  return {
    requests: m.counter('http_requests_total', 'Tracks the number of HTTP requests.', labels),
    duration: m.histogram('http_request_duration_seconds', 'Tracks the latencies for HTTP requests.', labels, [...durationBuckets]),
    requestSize: m.histogram('http_request_size_bytes', 'Tracks the size of HTTP requests.', labels, [...HTTP_SIZE_BUCKETS]),
    responseSize: m.histogram('http_response_size_bytes', 'Tracks the size of HTTP responses.', labels, [...HTTP_SIZE_BUCKETS]),
    inflight: m.gauge('http_inflight_requests', 'Current number of HTTP requests the handler is responding to.', ['handler', 'method', ...extra]),
  };
}

/**
 * Wraps a handler with Thanos's HTTP instrumentation for the requests `ins` names: metrics observed
 * when the response body has been sent (as Go's handler returns after writing it), a server span
 * around the handler. Series named in `ins.preCreate` exist at 0 from now on.
 */
export function instrumentHandler(handler: FetchHandler, ins: () => HttpInstrumentation | undefined, metrics: Metrics, log?: Logger): FetchHandler {
  const families = new Map<string, ReturnType<typeof httpMetrics>>();
  const familiesOf = (i: HttpInstrumentation) => {
    const key = `${i.tenant ? 't' : ''}:${(i.durationBuckets ?? HTTP_DURATION_BUCKETS).join(',')}`;
    let f = families.get(key);
    if (!f) {
      f = httpMetrics(metrics, !!i.tenant, i.durationBuckets ?? HTTP_DURATION_BUCKETS);
      families.set(key, f);
      for (const [handler, methods] of Object.entries(i.preCreate ?? {})) {
        for (const method of methods) {
          const t: Record<string, string> = i.tenant ? { tenant: i.tenant.default } : {};
          const labels = { code: '200', handler, method, ...t };
          f.requests.inc(labels, 0);
          f.duration.init?.(labels);
          f.requestSize.init?.(labels);
          f.responseSize.init?.(labels);
          f.inflight.inc({ handler, method: method.toUpperCase(), ...t }, 0);
        }
      }
    }
    return f;
  };
  // Per instrumentation object (a component's is one object for its life): the key above joins the
  // duration buckets, which cost every request two number-to-string joins.
  const byIns = new WeakMap<HttpInstrumentation, ReturnType<typeof httpMetrics>>();
  const familiesFor = (i: HttpInstrumentation) => {
    let f = byIns.get(i);
    if (!f) byIns.set(i, (f = familiesOf(i)));
    return f;
  };
  const tracer = trace.getTracer('thanos');
  const first = ins();
  if (first) familiesFor(first);
  return async (req, info) => {
    const i = ins();
    // The families (and pre-created series) exist from the first request on, even an unnamed one
    // (e.g. the first scrape of /metrics after the component is set up).
    if (i) familiesFor(i);
    let name: string | undefined;
    try {
      name = i?.handlerName(req);
    } catch (err) {
      log?.warn('handler name failed', { err: (err as Error).message });
    }
    if (!i || !name) return handler(req, info);
    const f = familiesFor(i);
    const url = new URL(req.url);
    const tenant: Record<string, string> = i.tenant ? { tenant: req.headers.get(i.tenant.header) || i.tenant.default } : {};
    const inflightLabels = { handler: name, method: req.method, ...tenant };
    const start = performance.now();
    // Tracing off: no span (nothing to extract, nothing recorded); the handler runs in the current context.
    const off = tracingOff();
    const parent = off ? undefined : propagation.extract(context.active(), req.headers, HEADER_GETTER);
    const span = off ? undefined : tracer.startSpan(name, {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': req.method,
        'url.path': url.pathname,
        'url.scheme': url.protocol.replace(/:$/, ''),
        'server.address': url.hostname,
        ...(req.headers.get('user-agent') ? { 'user_agent.original': req.headers.get('user-agent')! } : {}),
        // Upstream's X-Thanos-Force-Tracing: a request carrying it is traced whatever the sampler's
        // ratio (the sampler, host/tracing.ts, samples a span started with this attribute).
        ...(req.headers.get(FORCE_TRACING_HEADER) ? { [FORCE_TRACING_ATTRIBUTE]: true } : {}),
      },
    }, parent);
    f.inflight.inc(inflightLabels);
    let done = false;
    const finish = (status: number, responseBytes: number, err?: unknown) => {
      if (done) return;
      done = true;
      f.inflight.dec(inflightLabels);
      const code = String(status);
      const labels = { code, handler: name!, method: sanitizeMethod(req.method), ...tenant };
      f.requests.inc(labels);
      f.duration.observe((performance.now() - start) / 1000, { ...labels, method: req.method.toLowerCase() });
      f.requestSize.observe(approximateRequestSize(req, url, info.rawHeaders), labels);
      f.responseSize.observe(responseBytes, labels);
      if (!span) return;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: err ? (err as Error).message : undefined });
      span.end();
    };
    let res: Response;
    try {
      res = await (span ? context.with(trace.setSpan(parent!, span), () => handler(req, info)) : handler(req, info));
    } catch (err) {
      finish(500, 0, err);
      throw err;
    }
    // A body of declared length (an answer built in memory), where the listener tells when the answer
    // is done: passed on untouched, so the server writes headers and body in one go (behind a
    // counting stream every answer was streamed: headers flushed, then the body pumped through web
    // streams, ~0.5 ms of every small request under load). Its size is the declared length. Decided
    // before `res.body` is read: reading it turns the server's lightweight Response into a full one
    // whose body the listener then pumps through a web stream.
    const declared = info.onResponseDone ? res.headers.get('content-length') : null;
    if (declared !== null && /^\d+$/.test(declared)) {
      info.onResponseDone!(() => finish(res.status, Number(declared)));
      return res;
    }
    if (!res.body) {
      finish(res.status, 0);
      return res;
    }
    // Counted as it is sent; the request ends when the body is done, fails, or is cancelled (a HEAD
    // answer, a client that went away), so the in-flight gauge always comes back down.
    let bytes = 0;
    const reader = res.body.getReader();
    const counted = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish(res.status, bytes);
            ctrl.close();
            return;
          }
          bytes += value.byteLength;
          ctrl.enqueue(value);
        } catch (err) {
          finish(res.status, bytes, err);
          ctrl.error(err);
        }
      },
      cancel(reason) {
        finish(res.status, bytes);
        return reader.cancel(reason);
      },
    });
    req.signal?.addEventListener('abort', () => finish(res.status, bytes), { once: true });
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

export interface HttpAppOptions {
  component(): Component | undefined;
  ready(): boolean;
  /** Renders /metrics. */
  metrics(): string;
  /** Registry for the http_* metrics. */
  registry?: Registry;
  log?: Logger;
  /** --http.config: headers, rate limit and basic auth for every request. */
  webConfig?: WebConfigSource;
  /** --request.logging-config's HTTP part: the component's named requests are logged. */
  requestLog?: HttpRequestLogging;
}

/** Go's r.RemoteAddr: "ip:port" ("[v6]:port"). */
function remoteAddr(info: RequestInfo): string | undefined {
  const s = info.socket;
  if (!s?.remoteAddress) return undefined;
  return s.remoteAddress.includes(':') ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

function plain(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers } });
}

/** The component listener's handler: web config, then probes, /metrics, the component's fetch (instrumented). */
export function buildHttpApp(o: HttpAppOptions): FetchHandler {
  const routes: FetchHandler = async (req) => {
    const p = new URL(req.url).pathname;
    if (p === '/-/healthy' && (req.method === 'GET' || req.method === 'HEAD')) return plain(200, 'OK');
    if (p === '/-/ready' && (req.method === 'GET' || req.method === 'HEAD')) return o.ready() ? plain(200, 'OK') : plain(503, 'NOT READY');
    if (p === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) return new Response(o.metrics(), { status: 200, headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } });
    const comp = o.component();
    if (!comp) return plain(503, 'starting up');
    if (!comp.fetch) return plain(404, '404 page not found');
    return comp.fetch(req);
  };
  const instrumented = o.registry ? instrumentHandler(routes, () => o.component()?.http, o.registry, o.log) : routes;
  const guarded: FetchHandler = async (req, info) => {
    try {
      return await instrumented(req, info);
    } catch (err) {
      o.log?.error('http handler failed', { path: new URL(req.url).pathname, err: (err as Error).message });
      return plain(500, `internal error: ${(err as Error).message}`);
    }
  };
  const logged = o.requestLog && o.log ? logHttpRequests(o.requestLog, guarded, (req) => o.component()?.http?.handlerName(req), remoteAddr, o.log) : guarded;
  return o.webConfig ? webConfigGuard(o.webConfig, logged) : logged;
}

/** The web configuration in front of a handler: 500 while the file is invalid, rate limit, basic auth, response headers. */
export function webConfigGuard(wc: WebConfigSource, next: FetchHandler): FetchHandler {
  return async (req, info) => {
    const cur = wc.current();
    if ('error' in cur) return plain(500, 'Internal Server Error\n');
    const { config, limiter } = cur;
    const withHeaders = (res: Response): Response => {
      const entries = Object.entries(config.headers);
      if (entries.length === 0) return res;
      const h = new Headers(res.headers);
      for (const [k, v] of entries) h.set(k, v);
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers: h });
    };
    if (limiter && !limiter.allow()) return withHeaders(plain(429, 'Too Many Requests\n'));
    if (config.users.size > 0) {
      const r = await wc.auth.check(config.users, req.headers.get('authorization'));
      if (r === 'busy') return withHeaders(plain(429, 'Too Many Requests\n'));
      if (r !== 'ok') return withHeaders(plain(401, 'Unauthorized\n', { 'www-authenticate': 'Basic' }));
    }
    return withHeaders(await next(req, info));
  };
}

/** "host:port", ":port", "[::1]:port" -> parts; ":port" listens on all interfaces like Go. */
export function parseAddress(addr: string, what = 'address'): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  if (!m) throw new Error(`invalid ${what} "${addr}" (expected host:port)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid ${what} "${addr}": port out of range`);
  return { hostname: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface StartHttpOptions {
  webConfig?: WebConfigSource;
  limits?: Partial<HttpLimits>;
  log?: Logger;
  connectionsCheckingIntervalMs?: number;
}

export async function startHttp(addr: string, app: FetchHandler, o: StartHttpOptions = {}): Promise<HttpListener> {
  const { hostname, port } = parseAddress(addr, 'HTTP address');
  const tls = o.webConfig?.httpTls();
  const l = await serveFetch(hostname, port, app, { tls, http2: o.webConfig?.http2, limits: o.limits, log: o.log, connectionsCheckingIntervalMs: o.connectionsCheckingIntervalMs });
  return {
    address: l.address,
    close: async () => {
      await l.close();
      o.webConfig?.close();
    },
  };
}

/** Who may read what: the plugin's grant (host/permissions.ts Permissions.check). */
interface ReadChecker {
  check(kind: 'read', descriptor: string, api: string): void;
}

/**
 * ctx.listen: a plugin's own listener (e.g. receive's remote-write port) with the host's hardening,
 * optional TLS from PEM files (Thanos's --*-server-tls-* semantics, host/server/tls.ts; the files
 * are checked against the plugin's read grant) and optional Thanos HTTP instrumentation in the
 * plugin's registry.
 */
export async function listenChecked(
  perms: ReadChecker,
  o: { metrics: Metrics; log: Logger; baseDir?: string },
  opts: ListenOptions,
  handler: (req: Request) => Response | Promise<Response>,
): Promise<HttpListener> {
  let httpTls: HttpTls | undefined;
  let serverTls: ServerTls | undefined;
  const t = opts.tls;
  if (t && opts.webConfigFile) throw new ConfigError('tls', 'give either tls or a web configuration file, not both');
  // A web configuration (--http.config, receive's --remote-write.server-http-config) is checked before
  // anything listens, as for a component listener. The host reads it and the files it names for the
  // plugin, so the plugin's read grant must cover them, at start and at each reload (a version naming
  // a file outside it is invalid: 500s, as a broken file); a relative path is the manifest's, as in ctx.fs.
  let wc: WebConfigSource | undefined;
  if (opts.webConfigFile) {
    const file = path.resolve(o.baseDir ?? process.cwd(), opts.webConfigFile);
    perms.check('read', file, 'listen webConfigFile');
    wc = new WebConfigSource(file, o.log, (files) => { for (const f of files) perms.check('read', f, 'listen webConfigFile'); });
    httpTls = wc.httpTls();
  }
  if (t) {
    for (const f of [t.certFile, t.keyFile, t.clientCaFile]) if (f) perms.check('read', path.resolve(f), 'listen tls');
    try {
      serverTls = loadServerTls({ certFile: t.certFile, keyFile: t.keyFile, clientCaFile: t.clientCaFile, minVersion: t.minVersion, curves: t.curves, ciphers: t.cipherSuites, log: o.log, what: 'HTTP server' });
    } catch (err) {
      if (err instanceof TlsConfigError) throw new ConfigError('tls', err.message);
      throw err;
    }
    if (serverTls) {
      const st = serverTls;
      httpTls = { serverOptions: () => st.serverOptions(), onReload: (l) => st.onReload(l) };
    }
  }
  const limits = { maxBodyBytes: opts.maxBodyBytes ?? 64 << 20 };
  const ins = opts.instrument;
  const instrumented: FetchHandler = ins ? instrumentHandler((req) => handler(req), () => ins, o.metrics, o.log) : (req) => handler(req);
  const h = wc ? webConfigGuard(wc, instrumented) : instrumented;
  let l: HttpListener;
  try {
    l = await serveFetch(opts.hostname, opts.port, h, { tls: httpTls, http2: wc?.http2, limits, log: o.log });
  } catch (err) {
    wc?.close();
    throw err;
  }
  if (wc) o.log.info(wc.tlsEnabled ? 'TLS is enabled.' : 'TLS is disabled.', { http2: wc.http2, address: `${l.address.hostname}:${l.address.port}` });
  return {
    address: l.address,
    close: async () => {
      await l.close();
      serverTls?.close();
      wc?.close();
    },
  };
}
