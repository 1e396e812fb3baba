// The ruler's --alertmanagers.config(-file) and --query.config(-file) (Thanos's pkg/alert
// AlertingConfig and pkg/httpconfig Config): per entry an http_config (basic auth, bearer token),
// static_configs (host:port) and file_sd_configs (Prometheus file SD: YAML/JSON lists of
// {targets, labels}, re-read every refresh_interval), scheme, path_prefix, and for Alertmanagers a
// timeout and api_version (v1 or v2; Thanos's default v1). Keys are checked strictly; what is not
// implemented is refused with an error naming it: TLS settings (tls_config) and proxy_url. Addresses
// may carry Thanos's DNS service discovery prefixes (dns+, dnssrv+, dnssrvnoa+; lib/rules/dns.ts),
// resolved through the plugin's ctx.resolve every --query/--alertmanagers.sd-dns-interval.
import { parse as parseYaml } from 'yaml';
import type { FsCapability } from '../sdk/mod.ts';
import { parsePromDuration } from '../duration/mod.ts';
import { glob } from './glob.ts';
import { DnsProvider, isDnsAddr, parseDnsAddr, type DnsMetrics } from './dns.ts';

export class SdConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdConfigError';
  }
}

export interface HttpClientConfig {
  basicAuth?: { username: string; password?: string; passwordFile?: string };
  bearerToken?: string;
  bearerTokenFile?: string;
}

export interface FileSdConfig {
  files: string[];
  refreshMs: number;
}

export interface EndpointsConfig {
  http: HttpClientConfig;
  staticConfigs: string[];
  fileSdConfigs: FileSdConfig[];
  scheme: 'http' | 'https';
  pathPrefix: string;
}

export interface AlertmanagerConfig extends EndpointsConfig {
  timeoutMs: number;
  apiVersion: 'v1' | 'v2';
}

type Obj = Record<string, unknown>;

function obj(v: unknown, where: string): Obj {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new SdConfigError(`${where}: expected a mapping`);
  return v as Obj;
}

function keys(o: Obj, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new SdConfigError(`${where}: field ${k} not found in type (unknown key)`);
}

function str(o: Obj, k: string, where: string, def = ''): string {
  const v = o[k];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new SdConfigError(`${where}.${k}: expected a string`);
  return v;
}

function strs(o: Obj, k: string, where: string): string[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new SdConfigError(`${where}.${k}: expected a list of strings`);
  return v as string[];
}

function dur(o: Obj, k: string, where: string, def: number): number {
  const v = o[k];
  if (v === undefined || v === null) return def;
  try {
    return parsePromDuration(String(v));
  } catch (e) {
    throw new SdConfigError(`${where}.${k}: ${(e as Error).message}`);
  }
}

function checkAddr(a: string, where: string): string {
  if (isDnsAddr(a)) {
    try {
      const d = parseDnsAddr(a);
      // The config's scheme and path_prefix apply; a scheme or path in the address would be doubled.
      if (d.scheme !== '' || d.rest !== '') throw new Error(`${JSON.stringify(a)} is not a host:port address`);
    } catch (e) {
      throw new SdConfigError(`${where}: ${(e as Error).message}`);
    }
    return a;
  }
  if (a === '' || /\s|\/|^[a-z][a-z0-9+.-]*:\/\//i.test(a)) throw new SdConfigError(`${where}: ${JSON.stringify(a)} is not a host:port address`);
  return a;
}

function httpConfig(v: unknown, where: string): HttpClientConfig {
  const o = obj(v, where);
  keys(o, ['basic_auth', 'bearer_token', 'bearer_token_file', 'proxy_url', 'tls_config'], where);
  if (str(o, 'proxy_url', where) !== '') throw new SdConfigError(`${where}.proxy_url: is not implemented yet by thanos rule`);
  const tls = obj(o.tls_config, `${where}.tls_config`);
  keys(tls, ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify'], `${where}.tls_config`);
  for (const [k, val] of Object.entries(tls)) {
    if (val !== '' && val !== false && val !== null) throw new SdConfigError(`${where}.tls_config.${k}: TLS settings are not implemented yet by thanos rule (https uses the system's trust store)`);
  }
  const out: HttpClientConfig = {};
  if (o.basic_auth !== undefined && o.basic_auth !== null) {
    const ba = obj(o.basic_auth, `${where}.basic_auth`);
    keys(ba, ['username', 'password', 'password_file'], `${where}.basic_auth`);
    const username = str(ba, 'username', `${where}.basic_auth`);
    const password = str(ba, 'password', `${where}.basic_auth`);
    const passwordFile = str(ba, 'password_file', `${where}.basic_auth`);
    if (password !== '' && passwordFile !== '') throw new SdConfigError(`${where}.basic_auth: at most one of password and password_file must be configured`);
    if (username !== '' || password !== '' || passwordFile !== '') out.basicAuth = { username, ...(password ? { password } : {}), ...(passwordFile ? { passwordFile } : {}) };
  }
  const bt = str(o, 'bearer_token', where);
  const btf = str(o, 'bearer_token_file', where);
  if (bt !== '' && btf !== '') throw new SdConfigError(`${where}: at most one of bearer_token and bearer_token_file must be configured`);
  if ((bt !== '' || btf !== '') && out.basicAuth) throw new SdConfigError(`${where}: at most one of basic_auth, bearer_token and bearer_token_file must be configured`);
  if (bt) out.bearerToken = bt;
  if (btf) out.bearerTokenFile = btf;
  return out;
}

function endpoints(o: Obj, where: string): EndpointsConfig {
  const scheme = str(o, 'scheme', where, 'http');
  if (scheme !== 'http' && scheme !== 'https') throw new SdConfigError(`${where}.scheme: must be http or https, got ${JSON.stringify(scheme)}`);
  const fileSd = o.file_sd_configs ?? [];
  if (!Array.isArray(fileSd)) throw new SdConfigError(`${where}.file_sd_configs: expected a list`);
  return {
    http: httpConfig(o.http_config, `${where}.http_config`),
    staticConfigs: strs(o, 'static_configs', where).map((a, i) => checkAddr(a, `${where}.static_configs[${i}]`)),
    fileSdConfigs: fileSd.map((f, i) => {
      const w = `${where}.file_sd_configs[${i}]`;
      const fo = obj(f, w);
      keys(fo, ['files', 'refresh_interval'], w);
      const files = strs(fo, 'files', w);
      if (files.length === 0) throw new SdConfigError(`${w}.files: file service discovery config must contain at least one path name`);
      const r = dur(fo, 'refresh_interval', w, 5 * 60_000);
      return { files, refreshMs: r > 0 ? r : 5 * 60_000 };
    }),
    scheme,
    pathPrefix: str(o, 'path_prefix', where).replace(/\/+$/, '').replace(/^(?=[^/])/, '/'),
  };
}

function load(text: string, what: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new SdConfigError(`${what}: invalid YAML: ${(e as Error).message}`);
  }
}

/** --alertmanagers.config: `alertmanagers: [ ... ]`. */
export function parseAlertmanagersConfig(text: string): AlertmanagerConfig[] {
  const root = obj(load(text, 'alertmanagers config'), 'alertmanagers config');
  keys(root, ['alertmanagers'], 'alertmanagers config');
  const list = root.alertmanagers ?? [];
  if (!Array.isArray(list)) throw new SdConfigError('alertmanagers: expected a list');
  return list.map((e, i) => {
    const w = `alertmanagers[${i}]`;
    const o = obj(e, w);
    keys(o, ['http_config', 'static_configs', 'file_sd_configs', 'scheme', 'path_prefix', 'timeout', 'api_version'], w);
    const api = str(o, 'api_version', w, 'v1');
    if (api !== 'v1' && api !== 'v2') throw new SdConfigError(`${w}.api_version: unsupported Alertmanager API version ${JSON.stringify(api)} (v1 or v2)`);
    return { ...endpoints(o, w), timeoutMs: dur(o, 'timeout', w, 10_000), apiVersion: api };
  });
}

/** --query.config: a list of endpoint configs. */
export function parseQueryEndpointsConfig(text: string): EndpointsConfig[] {
  const list = load(text, 'query config') ?? [];
  if (!Array.isArray(list)) throw new SdConfigError('query config: expected a list of endpoint configs');
  return list.map((e, i) => {
    const w = `query config[${i}]`;
    const o = obj(e, w);
    keys(o, ['http_config', 'static_configs', 'file_sd_configs', 'scheme', 'path_prefix'], w);
    return endpoints(o, w);
  });
}

/** A resolved target: the base URL (scheme://host:port/path_prefix) and the request headers. */
export interface ResolvedTarget {
  base: string;
  headers: Record<string, string>;
}

const dec = new TextDecoder();

/**
 * Resolves an endpoints config to base URLs: static_configs plus the targets of the file SD files
 * (globs), each file re-read at most every refresh_interval; a file that fails to read or parse
 * keeps its previous targets (logged by the caller through onError), as Prometheus's file SD does.
 */
export class EndpointsResolver {
  private cache = new Map<string, { at: number; targets: string[] }>();
  private dns: DnsProvider | undefined;

  /** `resolve` (ctx.resolve) is needed only when an address has a DNS prefix; without it such an address finds nothing (logged). */
  constructor(
    private readonly c: EndpointsConfig, private readonly fs: FsCapability, private readonly onError: (msg: string) => void = () => {},
    resolve?: ConstructorParameters<typeof DnsProvider>[0], dnsMetrics?: DnsMetrics,
  ) {
    if (resolve) this.dns = new DnsProvider(resolve, onError, dnsMetrics);
  }

  private async addrs(now: number): Promise<string[]> {
    const addrs = [...this.c.staticConfigs];
    for (const f of this.c.fileSdConfigs) addrs.push(...(await this.fileTargets(f, now)));
    return addrs;
  }

  /** Re-resolves the DNS addresses (static and file SD ones), as Thanos does every sd-dns-interval. */
  async refreshDns(now = Date.now()): Promise<void> {
    const addrs = await this.addrs(now);
    if (!addrs.some(isDnsAddr)) return;
    if (!this.dns) {
      this.onError('DNS service discovery addresses given but the plugin host offers no resolve capability');
      return;
    }
    await this.dns.refresh(addrs);
  }

  private async fileTargets(f: FileSdConfig, now: number): Promise<string[]> {
    const out: string[] = [];
    for (const pattern of f.files) {
      let paths: string[];
      try {
        paths = await glob(this.fs, pattern);
      } catch (e) {
        this.onError(`file SD ${pattern}: ${(e as Error).message}`);
        continue;
      }
      for (const p of paths) {
        const hit = this.cache.get(p);
        if (hit && now - hit.at < f.refreshMs) {
          out.push(...hit.targets);
          continue;
        }
        try {
          const raw = parseYaml(dec.decode(await this.fs.readFile(p))) ?? [];
          if (!Array.isArray(raw)) throw new Error('expected a list of target groups');
          const targets: string[] = [];
          raw.forEach((g, i) => {
            const go = obj(g, `${p}[${i}]`);
            keys(go, ['targets', 'labels'], `${p}[${i}]`);
            for (const t of strs(go, 'targets', `${p}[${i}]`)) targets.push(checkAddr(t, `${p}[${i}].targets`));
          });
          this.cache.set(p, { at: now, targets });
          out.push(...targets);
        } catch (e) {
          this.onError(`file SD ${p}: ${(e as Error).message}`);
          if (hit) out.push(...hit.targets);
        }
      }
    }
    return out;
  }

  async headers(): Promise<Record<string, string>> {
    const h: Record<string, string> = {};
    const { basicAuth, bearerToken, bearerTokenFile } = this.c.http;
    if (basicAuth) {
      const pw = basicAuth.passwordFile ? dec.decode(await this.fs.readFile(basicAuth.passwordFile)).trim() : basicAuth.password ?? '';
      h.Authorization = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${basicAuth.username}:${pw}`)))}`;
    } else if (bearerToken || bearerTokenFile) {
      const tok = bearerTokenFile ? dec.decode(await this.fs.readFile(bearerTokenFile)).trim() : bearerToken!;
      h.Authorization = `Bearer ${tok}`;
    }
    return h;
  }

  async targets(now = Date.now()): Promise<ResolvedTarget[]> {
    const raw = await this.addrs(now);
    const addrs = this.dns ? this.dns.addresses(raw) : raw.filter((a) => !isDnsAddr(a));
    const headers = await this.headers();
    return [...new Set(addrs)].map((a) => ({ base: `${this.c.scheme}://${a}${this.c.pathPrefix}`, headers }));
  }
}
