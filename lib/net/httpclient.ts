// Thanos's pkg/httpconfig ClientConfig: the HTTP client block of the sidecar's
// --prometheus.http-client(-file) and of the ruler's --query.config / --alertmanagers.config
// `http_config`. basic_auth, bearer_token(_file) and tls_config are honoured; proxy_url and
// transport tuning other than Thanos's defaults are refused by name (our fetch has no proxy or pool
// settings), never parsed and ignored.
import { ConfigError, type Capabilities, type FetchFunction, type FsCapability } from '../sdk/mod.ts';
import { bool, int, join, mapping, str, type Obj } from '../config/fields.ts';
import { NO_TLS, parseTlsFiles, tlsFetch, type TlsFiles } from './tlsclient.ts';

export interface HttpClientConfig {
  basicAuth?: { username: string; password?: string; passwordFile?: string };
  bearerToken?: string;
  bearerTokenFile?: string;
  /** tls_config (absent: the platform's defaults). */
  tls?: TlsFiles;
}

const CLIENT_KEYS = ['basic_auth', 'bearer_token', 'bearer_token_file', 'proxy_url', 'tls_config', 'transport_config'] as const;

/** httpconfig.defaultTransportConfig (durations are Go nanoseconds in this YAML). */
const TRANSPORT_DEFAULTS: ReadonlyArray<[string, number | boolean]> = [
  ['max_idle_conns', 100], ['max_idle_conns_per_host', 2], ['idle_conn_timeout', 90e9], ['response_header_timeout', 0],
  ['expect_continue_timeout', 10e9], ['max_conns_per_host', 0], ['disable_compression', false], ['tls_handshake_timeout', 10e9],
  ['dialer_timeout', 5e9],
];

/** Parses a ClientConfig mapping; errors are ConfigErrors naming the dotted path under `where`. */
export function parseHttpClientConfig(v: unknown, where: string): HttpClientConfig {
  const o = mapping(v, where, CLIENT_KEYS);
  if (str(o, 'proxy_url', where) !== '') throw new ConfigError(join(where, 'proxy_url'), 'is not implemented yet (no HTTP proxy support in the fetch capability)');
  const tw = join(where, 'transport_config');
  const t = mapping(o.transport_config, tw, TRANSPORT_DEFAULTS.map(([k]) => k));
  for (const [k, def] of TRANSPORT_DEFAULTS) {
    const got = typeof def === 'boolean' ? bool(t, k, tw, def) : int(t, k, tw, def);
    if (got !== def) throw new ConfigError(join(tw, k), `only Thanos's default (${String(def)}) is supported: transport tuning is not implemented yet`);
  }
  const tp = join(where, 'tls_config');
  const tls = parseTlsFiles(o.tls_config, tp);
  const out: HttpClientConfig = { tls };
  if (o.basic_auth !== undefined && o.basic_auth !== null) {
    const bw = join(where, 'basic_auth');
    const ba: Obj = mapping(o.basic_auth, bw, ['username', 'password', 'password_file']);
    const username = str(ba, 'username', bw);
    const password = str(ba, 'password', bw);
    const passwordFile = str(ba, 'password_file', bw);
    if (password !== '' && passwordFile !== '') throw new ConfigError(bw, 'at most one of password and password_file must be configured');
    if (username !== '' || password !== '' || passwordFile !== '') out.basicAuth = { username, ...(password ? { password } : {}), ...(passwordFile ? { passwordFile } : {}) };
  }
  const bt = str(o, 'bearer_token', where);
  const btf = str(o, 'bearer_token_file', where);
  if (bt !== '' && btf !== '') throw new ConfigError(where, 'at most one of bearer_token and bearer_token_file must be configured');
  if ((bt !== '' || btf !== '') && out.basicAuth) throw new ConfigError(where, 'at most one of basic_auth, bearer_token and bearer_token_file must be configured');
  if (bt) out.bearerToken = bt;
  if (btf) out.bearerTokenFile = btf;
  return out;
}

const utf8 = new TextDecoder();

/**
 * The Authorization header the config asks for, files read now through `fs` (the plugin's read
 * grant), as Prometheus's round trippers re-read them on every request. undefined: none.
 */
export async function authorizationHeader(fs: Pick<FsCapability, 'readFile'>, c: HttpClientConfig): Promise<string | undefined> {
  if (c.basicAuth) {
    const pw = c.basicAuth.passwordFile ? utf8.decode(await fs.readFile(c.basicAuth.passwordFile)).trim() : c.basicAuth.password ?? '';
    const bytes = new TextEncoder().encode(`${c.basicAuth.username}:${pw}`);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return `Basic ${btoa(bin)}`;
  }
  if (c.bearerToken || c.bearerTokenFile) {
    return `Bearer ${c.bearerTokenFile ? utf8.decode(await fs.readFile(c.bearerTokenFile)).trim() : c.bearerToken}`;
  }
  return undefined;
}

/**
 * A fetch for the config: its TLS settings (ctx.httpClient; files read through ctx.fs) and its
 * Authorization header on every request that does not carry one already (Go's round trippers
 * leave a request's own header alone). The net grant and redirect checks are ctx.fetch's.
 */
export async function httpClientFetch(ctx: Pick<Capabilities, 'fetch' | 'httpClient' | 'fs'>, c: HttpClientConfig, where: string): Promise<FetchFunction> {
  const base = await tlsFetch(ctx, c.tls ?? NO_TLS, join(where, 'tls_config'));
  if (!c.basicAuth && !c.bearerToken && !c.bearerTokenFile) return base;
  return async (input, init) => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has('authorization')) {
      const auth = await authorizationHeader(ctx.fs, c);
      if (auth) headers.set('authorization', auth);
    }
    return base(input, { ...init, headers });
  };
}
