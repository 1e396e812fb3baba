// The web configuration file of Thanos's `--http.config` (Prometheus exporter-toolkit's web-config
// format, exporter-toolkit v0.15 as Thanos vendors it): `tls_server_config`, `http_server_config`,
// `rate_limit`, `basic_auth_users`. Parsing is strict like yaml.UnmarshalStrict (unknown keys and
// duplicate keys are errors) and checks what exporter-toolkit's Validate checks before the server
// starts (header names and values, bcrypt hashes, the TLS block's required pairs, client auth types).
//
// This module is pure: the host reads the files (the config, certificates, CAs), builds the TLS
// context and re-reads them when they change. It also holds the per-request pieces the host runs:
// basic auth with exporter-toolkit's verified-result cache, the rate limiter, the SAN check.
import { isMap, isScalar, LineCounter, parseDocument } from '../cjs/yaml.ts';
import bcrypt from 'bcryptjs';
import { parseGoDurationNs } from '../duration/mod.ts';

export class WebConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebConfigError';
  }
}

/** Go's tls.ClientAuthType names as exporter-toolkit accepts them ("RequireClientCert" is its old spelling of RequireAnyClientCert). */
export type ClientAuthType = 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';

/** Node's names of TLS protocol versions. */
export type NodeTlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface WebTlsConfig {
  /** Absolute (joined with the config file's directory) or '' when the inline form is used. */
  certFile: string;
  keyFile: string;
  /** Inline PEM (`cert`, `key`, `client_ca`). */
  cert: string;
  key: string;
  clientCa: string;
  clientCaFile: string;
  clientAuthType: ClientAuthType;
  minVersion: NodeTlsVersion;
  maxVersion: NodeTlsVersion;
  /** OpenSSL names of the TLS ≤1.2 suites (empty: Node's defaults); TLS 1.3 suites are not configurable, as in Go. */
  cipherSuites: string[];
  /** OpenSSL group names (P-256, X25519, ...); empty: Node's defaults. */
  curvePreferences: string[];
  preferServerCipherSuites: boolean;
  /** When set, a client certificate must carry one of these SAN values (DNS, email, IP or URI). */
  clientAllowedSans?: string[];
}

export interface WebConfig {
  /** Where it came from (file path or a label), for messages. */
  source: string;
  /** undefined: the file enables no TLS (plain HTTP, like exporter-toolkit's errNoTLSConfig). */
  tls?: WebTlsConfig;
  /** http_server_config.http2 (default true; only with TLS). */
  http2: boolean;
  /** http_server_config.headers, set on every response. */
  headers: Record<string, string>;
  /** rate_limit (interval 0: off). */
  rateLimit?: { burst: number; intervalMs: number };
  /** basic_auth_users: user → bcrypt hash. Empty: no authentication. */
  users: Map<string, string>;
}

/** exporter-toolkit's fixed list: only these response headers can be configured, some with fixed values. */
export const CONFIGURABLE_HEADERS: Readonly<Record<string, readonly string[] | null>> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};

const TLS_VERSIONS: Readonly<Record<string, NodeTlsVersion>> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const VERSION_ORDER: readonly NodeTlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Go's secure cipher suites (tls.CipherSuites()) → OpenSSL names; '' for TLS 1.3 suites (accepted, not configurable). */
export const GO_CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_AES_128_GCM_SHA256: '',
  TLS_AES_256_GCM_SHA384: '',
  TLS_CHACHA20_POLY1305_SHA256: '',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};

/** Go's curve names (exporter-toolkit's list) → OpenSSL group names. */
export const GO_CURVES: Readonly<Record<string, string>> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/**
 * The TLS 1.3 suites Node offers by default; a `ciphers` string replaces them too, so they are
 * appended to a configured TLS ≤1.2 list (Go never lets the TLS 1.3 suites be configured).
 */
export const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

const TOP = ['tls_server_config', 'http_server_config', 'rate_limit', 'basic_auth_users'];
const TLS_KEYS = ['cert', 'key', 'client_ca', 'cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'cipher_suites', 'curve_preferences', 'min_version', 'max_version', 'prefer_server_cipher_suites', 'client_allowed_sans'];
const HTTP_KEYS = ['http2', 'headers'];
const RATE_KEYS = ['burst', 'interval'];
const CLIENT_AUTH: Readonly<Record<string, ClientAuthType>> = {
  '': 'NoClientCert', NoClientCert: 'NoClientCert', RequestClientCert: 'RequestClientCert', RequireAnyClientCert: 'RequireAnyClientCert',
  RequireClientCert: 'RequireAnyClientCert', VerifyClientCertIfGiven: 'VerifyClientCertIfGiven', RequireAndVerifyClientCert: 'RequireAndVerifyClientCert',
};

type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Joins a relative path with the config file's directory, as exporter-toolkit's SetDirectory does (config_util.JoinDir). */
export function joinDir(dir: string, p: string): string {
  if (p === '' || p.startsWith('/') || dir === '') return p;
  return `${dir.replace(/\/+$/, '')}/${p}`;
}

/**
 * Parses web-config YAML text. `dir` is the directory relative file names resolve against (the
 * config file's directory). Throws WebConfigError naming the source and the key.
 */
export function parseWebConfig(text: string, source: string, dir = ''): WebConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new WebConfigError(`${source}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (root !== null && !(isScalar(root) && (root.value === null || root.value === '')) && !isMap(root)) {
    throw new WebConfigError(`${source}: the web configuration must be a mapping (${TOP.join(', ')})`);
  }
  const fail = (key: string, msg: string): never => {
    throw new WebConfigError(`${source}: ${key}: ${msg}`);
  };
  const mapping = (v: unknown, path: string, known: readonly string[]): Obj => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) return fail(path, `expected a mapping, got ${describe(v)}`);
    for (const k of Object.keys(v)) {
      if (!known.includes(k)) fail(path ? `${path}.${k}` : k, `field ${k} not found in the web configuration${path ? ` (${path})` : ''}; known fields: ${known.join(', ')}`);
    }
    return v as Obj;
  };
  const str = (o: Obj, k: string, path: string): string => {
    const v = o[k];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return fail(`${path}.${k}`, `expected a string, got ${describe(v)}`);
  };
  const bool = (o: Obj, k: string, path: string, def: boolean): boolean => {
    const v = o[k];
    if (v === undefined || v === null) return def;
    if (typeof v === 'boolean') return v;
    return fail(`${path}.${k}`, `expected true or false, got ${describe(v)}`);
  };
  const strList = (o: Obj, k: string, path: string): string[] | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return fail(`${path}.${k}`, `expected a list of strings, got ${describe(v)}`);
    return v.map((x, i) => (typeof x === 'string' ? x : fail(`${path}.${k}[${i}]`, `expected a string, got ${describe(x)}`)));
  };

  const top = mapping(doc.toJS({ maxAliasCount: 100 }), '', TOP);

  // http_server_config
  const h = mapping(top.http_server_config, 'http_server_config', HTTP_KEYS);
  const http2 = bool(h, 'http2', 'http_server_config', true);
  const headers: Record<string, string> = {};
  const hv = h.headers;
  if (hv !== undefined && hv !== null) {
    if (typeof hv !== 'object' || Array.isArray(hv)) fail('http_server_config.headers', `expected a mapping of strings, got ${describe(hv)}`);
    for (const [k, v] of Object.entries(hv as Obj)) {
      const value = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : fail(`http_server_config.headers.${k}`, `expected a string, got ${describe(v)}`);
      if (!Object.prototype.hasOwnProperty.call(CONFIGURABLE_HEADERS, k)) fail('http_server_config.headers', `HTTP header ${JSON.stringify(k)} can not be configured (configurable: ${Object.keys(CONFIGURABLE_HEADERS).join(', ')})`);
      const allowed = CONFIGURABLE_HEADERS[k];
      if (allowed && !allowed.includes(value)) fail('http_server_config.headers', `invalid value for ${k}. Expected one of: ${JSON.stringify(allowed)}, but got: ${JSON.stringify(value)}`);
      // A header value with a line break would split the response (Go's Header.Set refuses it at write time).
      if (/[\r\n\0]/.test(value)) fail(`http_server_config.headers.${k}`, 'a header value cannot contain line breaks');
      headers[k] = value;
    }
  }

  // rate_limit (interval: a Go duration string or integer nanoseconds, as yaml.v2 decodes time.Duration)
  const r = mapping(top.rate_limit, 'rate_limit', RATE_KEYS);
  let rateLimit: WebConfig['rateLimit'];
  {
    const bv = r.burst ?? 0;
    if (typeof bv !== 'number' || !Number.isSafeInteger(bv)) fail('rate_limit.burst', `expected an integer, got ${describe(bv)}`);
    const iv = r.interval ?? 0;
    let intervalNs: bigint;
    if (typeof iv === 'number' && Number.isSafeInteger(iv)) intervalNs = BigInt(iv);
    else if (typeof iv === 'string') {
      try {
        intervalNs = parseGoDurationNs(iv);
      } catch {
        return fail('rate_limit.interval', `time: invalid duration ${JSON.stringify(iv)}`);
      }
    } else return fail('rate_limit.interval', `expected a duration such as 1s, got ${describe(iv)}`);
    if (intervalNs !== 0n) rateLimit = { burst: bv as number, intervalMs: Number(intervalNs) / 1e6 };
  }

  // basic_auth_users: bcrypt hashes, checked as bcrypt.Cost does
  const users = new Map<string, string>();
  const uv = top.basic_auth_users;
  if (uv !== undefined && uv !== null) {
    if (typeof uv !== 'object' || Array.isArray(uv)) fail('basic_auth_users', `expected a mapping of user names to bcrypt hashes, got ${describe(uv)}`);
    for (const [user, hash] of Object.entries(uv as Obj)) {
      if (typeof hash !== 'string') fail(`basic_auth_users.${user}`, `expected a bcrypt hash, got ${describe(hash)}`);
      const bad = bcryptHashProblem(hash as string);
      if (bad) fail(`basic_auth_users.${user}`, bad);
      users.set(user, hash as string);
    }
  }

  // tls_server_config
  const t = mapping(top.tls_server_config, 'tls_server_config', TLS_KEYS);
  const P = 'tls_server_config';
  const certFile = joinDir(dir, str(t, 'cert_file', P));
  const keyFile = joinDir(dir, str(t, 'key_file', P));
  const clientCaFile = joinDir(dir, str(t, 'client_ca_file', P));
  const cert = str(t, 'cert', P);
  const key = str(t, 'key', P);
  const clientCa = str(t, 'client_ca', P);
  const authRaw = str(t, 'client_auth_type', P);
  const version = (k: string, def: NodeTlsVersion): NodeTlsVersion => {
    const v = str(t, k, P);
    if (v === '') return def;
    return TLS_VERSIONS[v] ?? fail(`${P}.${k}`, `unknown TLS version: ${v} (one of ${Object.keys(TLS_VERSIONS).join(', ')})`);
  };
  const minVersion = version('min_version', 'TLSv1.2');
  const maxVersion = version('max_version', 'TLSv1.3');
  const cipherSuites: string[] = [];
  for (const c of strList(t, 'cipher_suites', P) ?? []) {
    const n = GO_CIPHER_SUITES[c];
    if (n === undefined) fail(`${P}.cipher_suites`, `unknown cipher: ${c}`);
    if (n) cipherSuites.push(n);
  }
  const curvePreferences = (strList(t, 'curve_preferences', P) ?? []).map((c) => GO_CURVES[c] ?? fail(`${P}.curve_preferences`, `unknown curve: ${c}`));
  const preferServerCipherSuites = bool(t, 'prefer_server_cipher_suites', P, true);
  const clientAllowedSans = strList(t, 'client_allowed_sans', P);

  let tls: WebTlsConfig | undefined;
  // exporter-toolkit's validateTLSPaths: nothing of these set means plain HTTP.
  const anyTls = certFile !== '' || cert !== '' || keyFile !== '' || key !== '' || clientCaFile !== '' || clientCa !== '' || authRaw !== '';
  if (anyTls) {
    if (certFile === '' && cert === '') fail(P, 'missing one of cert or cert_file');
    if (keyFile === '' && key === '') fail(P, 'missing one of key or key_file');
    const clientAuthType = CLIENT_AUTH[authRaw] ?? fail(`${P}.client_auth_type`, `invalid ClientAuth: ${authRaw} (one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)`);
    if ((clientCaFile !== '' || clientCa !== '') && clientAuthType === 'NoClientCert') fail(P, "client CA's have been configured without a Client Auth Policy");
    if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) fail(P, `min_version ${minVersion} is above max_version ${maxVersion}`);
    tls = {
      certFile, keyFile, cert, key, clientCa, clientCaFile, clientAuthType, minVersion, maxVersion, cipherSuites, curvePreferences,
      preferServerCipherSuites, clientAllowedSans,
    };
  }
  return { source, tls, http2, headers, rateLimit, users };
}

/**
 * Why a string is not a bcrypt hash Go's bcrypt.Cost accepts ($2a$/$2b$/$2y$, a two-digit cost in
 * 4..31, 53 characters of salt and hash), or undefined if it is one.
 */
export function bcryptHashProblem(hash: string): string | undefined {
  if (hash.length < 59) return 'crypto/bcrypt: hashedSecret too short to be a bcrypted password';
  if (hash[0] !== '$') return `crypto/bcrypt: bcrypt hashes must start with '$', but hashedSecret started with '${hash[0]}'`;
  if (hash[1] !== '2') return `crypto/bcrypt: bcrypt algorithm version '${hash[1]}' requested is newer than current version '2'`;
  const m = /^\$2([aby])?\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(hash);
  if (!m) return 'not a bcrypt hash ($2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash)';
  const cost = Number(m[2]);
  if (cost < 4 || cost > 31) return `crypto/bcrypt: cost ${cost} is outside allowed inclusive range 4..31`;
  return undefined;
}

/** The handshake settings of a web-config TLS block as Node's tls options (certificates are the host's to read). */
export function nodeTlsSettings(t: WebTlsConfig): {
  requestCert: boolean; rejectUnauthorized: boolean; minVersion: NodeTlsVersion; maxVersion: NodeTlsVersion;
  ciphers?: string; ecdhCurve?: string; honorCipherOrder: boolean;
} {
  return {
    requestCert: t.clientAuthType !== 'NoClientCert',
    // Only RequireAndVerifyClientCert fails the handshake itself; the others are checked after it (checkClientCert).
    rejectUnauthorized: t.clientAuthType === 'RequireAndVerifyClientCert',
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    ciphers: t.cipherSuites.length > 0 ? `${t.cipherSuites.join(':')}:${TLS13_SUITES}` : undefined,
    ecdhCurve: t.curvePreferences.length > 0 ? t.curvePreferences.join(':') : undefined,
    honorCipherOrder: t.preferServerCipherSuites,
  };
}

/**
 * After the handshake: whether the client's certificate satisfies the client auth type and the SAN
 * allow-list. `hasCert`: the client sent one; `verified`: it chains to the client CA; `sans`: its
 * subjectAltName as Node prints it ("DNS:a, IP Address:127.0.0.1, ..."). Returns why it is refused.
 */
export function checkClientCert(t: WebTlsConfig, hasCert: boolean, verified: boolean, sans: string | undefined): string | undefined {
  switch (t.clientAuthType) {
    case 'RequireAnyClientCert':
      if (!hasCert) return 'tls: client didn\'t provide a certificate';
      break;
    case 'VerifyClientCertIfGiven':
    case 'RequireAndVerifyClientCert':
      if (hasCert && !verified) return 'tls: failed to verify certificate';
      if (!hasCert && t.clientAuthType === 'RequireAndVerifyClientCert') return 'tls: client didn\'t provide a certificate';
      break;
    default:
      break;
  }
  if (t.clientAllowedSans && hasCert) {
    const have = parseSubjectAltName(sans ?? '');
    if (!have.some((v) => t.clientAllowedSans!.some((a) => sanEqual(v, a)))) return `could not find allowed SANs in client cert, found: [${t.clientAllowedSans.join(' ')}]`;
  }
  return undefined;
}

/** The values of Node's subjectAltName text (DNS, email, IP Address, URI entries), in order. */
export function parseSubjectAltName(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/(?:^|,\s*)(DNS|email|IP Address|URI):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2]!.trim();
    out.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return out;
}

function canonicalIp(s: string): string | undefined {
  if (!s.includes(':')) return undefined;
  try {
    return new URL(`http://[${s}]/`).hostname;
  } catch {
    return undefined;
  }
}

/** SAN comparison as Go's (exact strings; IPv6 addresses in their canonical form, as net.IP.String prints them). */
function sanEqual(have: string, allowed: string): boolean {
  if (have === allowed) return true;
  const a = canonicalIp(have);
  return a !== undefined && a === canonicalIp(allowed);
}

/** A token bucket like golang.org/x/time/rate's Limiter(Every(interval), burst), for rate_limit. */
export class RateLimiter {
  private tokens: number;
  private last: number;
  constructor(private readonly burst: number, private readonly intervalMs: number, private readonly now: () => number = () => performance.now()) {
    this.tokens = burst;
    this.last = now();
  }
  allow(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) / this.intervalMs);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * A bcrypt hash of a password nobody has, compared against when the user name is unknown so the
 * answer takes as long as for a known user (no user enumeration by timing), as exporter-toolkit does.
 */
const DECOY_HASH = '$2b$10$t0AClNV97bT3P4vyvdbf/unKlDnIsuZCJ/1O.hrYjNzGqskqUoon6';

/** Entries in the verified-result cache before some are evicted (exporter-toolkit's size). */
export const AUTH_CACHE_SIZE = 100;
/** Requests waiting for a bcrypt comparison before more are turned away (429): the queue stays bounded. */
export const MAX_BCRYPT_WAITERS = 256;

export type AuthResult = 'ok' | 'denied' | 'busy';

/**
 * HTTP basic authentication against `basic_auth_users`. bcrypt is slow by design, so verified
 * results are cached (user, hash and password → ok or not; 100 entries, a tenth evicted at random
 * when full) and comparisons run one at a time, like exporter-toolkit's cache and mutex; the number
 * of requests waiting for one is bounded.
 */
export class BasicAuthenticator {
  private readonly cache = new Map<string, boolean>();
  private chain: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  constructor(private readonly compare: (password: string, hash: string) => Promise<boolean> = (p, h) => bcrypt.compare(p, h)) {}

  /** `authorization`: the request's Authorization header. */
  async check(users: ReadonlyMap<string, string>, authorization: string | null): Promise<AuthResult> {
    const creds = parseBasicAuth(authorization);
    if (!creds) return 'denied';
    const known = users.get(creds.user);
    const hash = known ?? DECOY_HASH;
    const key = `${hex(creds.user)}:${hex(hash)}:${hex(creds.password)}`;
    let ok = this.cache.get(key);
    if (ok === undefined) {
      if (this.waiting >= MAX_BCRYPT_WAITERS) return 'busy';
      this.waiting++;
      try {
        const run = this.chain.then(() => this.verify(creds.password, hash));
        this.chain = run.catch(() => {});
        ok = (await run) && known !== undefined;
      } finally {
        this.waiting--;
      }
      this.remember(key, ok);
    }
    return ok && known !== undefined ? 'ok' : 'denied';
  }

  private async verify(password: string, hash: string): Promise<boolean> {
    // bcrypt only looks at 72 bytes; a longer password must not match a hash of its prefix.
    if (new TextEncoder().encode(password).length > 72) return false;
    try {
      return await this.compare(password, hash);
    } catch {
      return false;
    }
  }

  private remember(key: string, ok: boolean): void {
    if (this.cache.size >= AUTH_CACHE_SIZE) {
      const keys = [...this.cache.keys()];
      const n = Math.max(1, Math.floor(keys.length / 10));
      for (let i = 0; i <= n && keys.length > 0; i++) {
        const j = Math.floor(Math.random() * keys.length);
        this.cache.delete(keys[j]!);
        keys.splice(j, 1);
      }
    }
    this.cache.set(key, ok);
  }
}

function hex(s: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(s)) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Go's Request.BasicAuth: "Basic " (any case) + base64(user:password); undefined if malformed. */
export function parseBasicAuth(header: string | null): { user: string; password: string } | undefined {
  if (!header || header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const b64 = header.slice(6);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}
