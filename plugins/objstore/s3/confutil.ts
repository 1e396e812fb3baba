// Strict config-reading helpers shared by the S3 and SWIFT plugins: typed field readers whose
// errors name the field, Go/Prometheus-style durations, and Thanos's shared `http_config` block.
import { ConfigError } from '../../../lib/sdk/mod.ts';

export type Obj = Record<string, unknown>;

export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** A mapping (null/undefined = empty); every key must be in `known`. */
export function mapping(v: unknown, path: string, known: readonly string[]): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(path, `expected a mapping, got ${describe(v)}`);
  const o = v as Obj;
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new ConfigError(join(path, k), `unknown field ${JSON.stringify(k)}${path ? ` in ${path}` : ''}; known fields: ${known.join(', ')}`);
    }
  }
  return o;
}

export function str(o: Obj, key: string, path: string, def = ''): string {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v); // YAML turns unquoted 12345 into a number; Go's yaml accepts it as a string
  throw new ConfigError(join(path, key), `expected a string, got ${describe(v)}`);
}

export function bool(o: Obj, key: string, path: string, def = false): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ConfigError(join(path, key), `expected true or false, got ${describe(v)}`);
}

export function int(o: Obj, key: string, path: string, def: number, opts: { min?: number; max?: number } = {}): number {
  const v = o[key];
  if (v === undefined || v === null) return def;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) n = Number(v.trim());
  else throw new ConfigError(join(path, key), `expected an integer, got ${describe(v)}`);
  if (!Number.isSafeInteger(n)) throw new ConfigError(join(path, key), `expected an integer, got ${v}`);
  if (opts.min !== undefined && n < opts.min) throw new ConfigError(join(path, key), `must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new ConfigError(join(path, key), `must be at most ${opts.max}, got ${n}`);
  return n;
}

export function stringMap(o: Obj, key: string, path: string): Record<string, string> {
  const v = o[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(join(path, key), `expected a mapping of strings, got ${describe(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Obj)) {
    if (typeof x === 'string') out[k] = x;
    else if (typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else throw new ConfigError(join(join(path, key), k), `expected a string, got ${describe(x)}`);
  }
  return out;
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
  d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000,
};

/** Parses a Go / Prometheus duration ("90s", "2m", "1h30m", "1.5h", "500ms", "0") to milliseconds. */
export function parseDuration(s: string): number {
  const t = s.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w|y)/y;
  let total = 0;
  let pos = 0;
  if (t === '') throw new Error('empty duration');
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (!m) throw new Error(`invalid duration ${JSON.stringify(s)} (expected e.g. 90s, 2m, 1h30m)`);
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  return total;
}

export function duration(o: Obj, key: string, path: string, defMs: number): number {
  const v = o[key];
  if (v === undefined || v === null) return defMs;
  if (typeof v === 'number' && v === 0) return 0;
  if (typeof v !== 'string') throw new ConfigError(join(path, key), `expected a duration like 90s or 2m, got ${describe(v)}`);
  try {
    return parseDuration(v);
  } catch (err) {
    throw new ConfigError(join(path, key), (err as Error).message);
  }
}

export interface TlsConfig {
  caFile: string;
  certFile: string;
  keyFile: string;
  serverName: string;
  insecureSkipVerify: boolean;
}

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
const TLS_KEYS = ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify'] as const;

export function parseHttpConfig(v: unknown, path: string): HttpConfig {
  const o = mapping(v, path, HTTP_KEYS);
  if (o.transport !== undefined && o.transport !== null) {
    throw new ConfigError(join(path, 'transport'), 'a custom transport cannot be set from YAML');
  }
  const tp = join(path, 'tls_config');
  const t = mapping(o.tls_config, tp, TLS_KEYS);
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
    tls: {
      caFile: str(t, 'ca_file', tp),
      certFile: str(t, 'cert_file', tp),
      keyFile: str(t, 'key_file', tp),
      serverName: str(t, 'server_name', tp),
      insecureSkipVerify: bool(t, 'insecure_skip_verify', tp),
    },
  };
  refuseConnectionTuning(h, path);
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
 * The host's fetch capability uses the platform's TLS settings; a config that asks for custom
 * TLS (skip verification, private CA, client certificates) against an https endpoint cannot be
 * honoured, and silently ignoring it would be worse. Returns the offending field, if any.
 */
export function unsupportedTlsField(h: HttpConfig, path: string): string | undefined {
  if (h.insecureSkipVerify) return join(path, 'insecure_skip_verify');
  const tp = join(path, 'tls_config');
  if (h.tls.insecureSkipVerify) return join(tp, 'insecure_skip_verify');
  if (h.tls.caFile) return join(tp, 'ca_file');
  if (h.tls.certFile) return join(tp, 'cert_file');
  if (h.tls.keyFile) return join(tp, 'key_file');
  if (h.tls.serverName) return join(tp, 'server_name');
  return undefined;
}

/** A request that got no HTTP answer (connection refused/reset, DNS, header timeout): transient. */
export class NetworkError extends Error {
  readonly retryable = true;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'NetworkError';
  }
}

/** fetch() failures say only "fetch failed"; the cause has the useful part (ECONNREFUSED ...). */
export function describeNetErr(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const msg = e?.message ?? String(err);
  const c = e?.cause;
  if (c && (c.code || c.message)) return `${msg} (${[c.code, c.message].filter(Boolean).join(': ')})`;
  return msg;
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
