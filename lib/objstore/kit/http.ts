// Thanos's shared exthttp `http_config` block (S3, SWIFT, GCS, COS ... all embed it) and the fetch
// helper every HTTP vendor sends its requests through.
import { ConfigError, type Capabilities, type FetchFunction } from '../../sdk/mod.ts';
import { bool, duration, int, join, mapping } from '../../config/fields.ts';
import { parseTlsFiles, tlsFetch, type TlsFiles } from '../../net/tlsclient.ts';

/** http_config.tls_config (Thanos's exthttp.TLSConfig). */
export type TlsConfig = TlsFiles;

/** Thanos's exthttp.HTTPConfig (shared by S3, SWIFT, GCS, COS ...). Durations in ms. */
export interface HttpConfig {
  idleConnTimeoutMs: number;
  responseHeaderTimeoutMs: number;
  insecureSkipVerify: boolean;
  tlsHandshakeTimeoutMs: number;
  expectContinueTimeoutMs: number;
  maxIdleConns: number;
  maxIdleConnsPerHost: number;
  maxConnsPerHost: number;
  disableCompression: boolean;
  tls: TlsConfig;
}

const HTTP_KEYS = [
  'idle_conn_timeout', 'response_header_timeout', 'insecure_skip_verify', 'tls_handshake_timeout',
  'expect_continue_timeout', 'max_idle_conns', 'max_idle_conns_per_host', 'max_conns_per_host',
  'tls_config', 'disable_compression', 'transport',
] as const;

export function parseHttpConfig(v: unknown, path: string): HttpConfig {
  const o = mapping(v, path, HTTP_KEYS);
  if (o.transport !== undefined && o.transport !== null) {
    throw new ConfigError(join(path, 'transport'), 'a custom transport cannot be set from YAML');
  }
  const tp = join(path, 'tls_config');
  const h: HttpConfig = {
    idleConnTimeoutMs: duration(o, 'idle_conn_timeout', path, 90_000),
    responseHeaderTimeoutMs: duration(o, 'response_header_timeout', path, 120_000),
    insecureSkipVerify: bool(o, 'insecure_skip_verify', path),
    tlsHandshakeTimeoutMs: duration(o, 'tls_handshake_timeout', path, 10_000),
    expectContinueTimeoutMs: duration(o, 'expect_continue_timeout', path, 1_000),
    maxIdleConns: int(o, 'max_idle_conns', path, 100, { min: 0 }),
    maxIdleConnsPerHost: int(o, 'max_idle_conns_per_host', path, 100, { min: 0 }),
    maxConnsPerHost: int(o, 'max_conns_per_host', path, 0, { min: 0 }),
    disableCompression: bool(o, 'disable_compression', path),
    tls: parseTlsFiles(o.tls_config, tp),
  };
  refuseConnectionTuning(h, path);
  // Thanos's exthttp.DefaultTransport sets the TLS config's InsecureSkipVerify from the top-level
  // key, so tls_config.insecure_skip_verify alone changes nothing there: refused rather than
  // honoured differently or ignored.
  if (h.tls.insecureSkipVerify && !h.insecureSkipVerify) {
    throw new ConfigError(join(tp, 'insecure_skip_verify'), `Thanos's object-store transport ignores this key (${join(path, 'insecure_skip_verify')} decides); set that one to skip certificate verification`);
  }
  return h;
}

/**
 * Go's transport tuning (connection pool sizes and timeouts, compression) has no counterpart in
 * the fetch capability the plugins reach the network through, so a value other than Thanos's
 * default would be parsed and ignored. The default itself asks for nothing (the reference
 * deployment's `idle_conn_timeout: 90s` is one), so it is accepted; anything else is refused.
 */
function refuseConnectionTuning(h: HttpConfig, path: string): void {
  const defaults: Array<[keyof HttpConfig, string, unknown]> = [
    ['idleConnTimeoutMs', 'idle_conn_timeout', 90_000],
    ['tlsHandshakeTimeoutMs', 'tls_handshake_timeout', 10_000],
    ['expectContinueTimeoutMs', 'expect_continue_timeout', 1_000],
    ['maxIdleConns', 'max_idle_conns', 100],
    ['maxIdleConnsPerHost', 'max_idle_conns_per_host', 100],
    ['maxConnsPerHost', 'max_conns_per_host', 0],
    ['disableCompression', 'disable_compression', false],
  ];
  for (const [field, key, def] of defaults) {
    if (h[field] !== def) {
      throw new ConfigError(join(path, key), `only Thanos's default (${String(def)}${typeof def === 'number' && key.endsWith('timeout') ? ' ms' : ''}) is supported: connection-pool tuning is not implemented yet`);
    }
  }
}

/**
 * The fetch an object-store vendor sends its requests through: ctx.fetch, or, when http_config asks
 * for TLS settings (tls_config's ca_file, cert_file, key_file, server_name; the top-level
 * insecure_skip_verify, which Thanos's transport applies), ctx.httpClient with them. The files are
 * read through ctx.fs, under the plugin's `read` grant.
 */
export function httpConfigFetch(ctx: Pick<Capabilities, 'fetch' | 'httpClient' | 'fs'>, h: HttpConfig, path: string): Promise<FetchFunction> {
  return tlsFetch(ctx, { ...h.tls, insecureSkipVerify: h.insecureSkipVerify }, join(path, 'tls_config'));
}

/**
 * fetch() with a response-header timeout: the timer runs until the headers arrive (like Go's
 * ResponseHeaderTimeout); the body is then read without a deadline. `signal` aborts both.
 */
export async function fetchWithHeaderTimeout(
  doFetch: (url: string, init: RequestInit) => Promise<Response>,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  what: string,
): Promise<Response> {
  if (!(timeoutMs > 0)) return doFetch(url, init);
  const ac = new AbortController();
  const outer = init.signal;
  const onOuter = () => ac.abort(outer?.reason);
  if (outer) {
    if (outer.aborted) ac.abort(outer.reason);
    else outer.addEventListener('abort', onOuter, { once: true });
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new Error(`${what}: no response headers within ${timeoutMs} ms (http_config.response_header_timeout)`));
  }, timeoutMs);
  try {
    return await doFetch(url, { ...init, signal: ac.signal });
  } catch (err) {
    if (timedOut) throw new Error(`${what}: no response headers within ${timeoutMs} ms (http_config.response_header_timeout)`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}
