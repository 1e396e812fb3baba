// The ruler's --alertmanagers.config(-file) and --query.config(-file) (Thanos's pkg/alert
// AlertingConfig and pkg/httpconfig Config): per entry an http_config (basic auth, bearer token),
// static_configs (host:port) and file_sd_configs (Prometheus file SD: YAML/JSON lists of
// {targets, labels}, re-read every refresh_interval), scheme, path_prefix, and for Alertmanagers a
// timeout and api_version (v1 or v2; Thanos's default v1). Keys are checked strictly; what is not
// implemented is refused with an error naming it (proxy_url, transport tuning). tls_config is
// honoured: the plugin builds the fetch for it (lib/net/httpclient.ts) and hands it in. Addresses
// may carry Thanos's DNS service discovery prefixes (dns+, dnssrv+, dnssrvnoa+; lib/rules/dns.ts),
// resolved through the plugin's ctx.resolve every --query/--alertmanagers.sd-dns-interval.
import { parse as parseYaml } from '../cjs/yaml.ts';
import { ConfigError, type FetchFunction, type FsCapability } from '../sdk/mod.ts';
import { authorizationHeader, parseHttpClientConfig, type HttpClientConfig } from '../net/httpclient.ts';
import { parsePromDuration } from '../duration/mod.ts';
import { glob } from './glob.ts';
import { DnsProvider, isDnsAddr, parseDnsAddr, type DnsMetrics } from './dns.ts';

export class SdConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdConfigError';
  }
}

export type { HttpClientConfig } from '../net/httpclient.ts';

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

/** http_config: Thanos's httpconfig.ClientConfig (lib/net/httpclient.ts), errors as SdConfigErrors. */
function httpConfig(v: unknown, where: string): HttpClientConfig {
  try {
    return parseHttpClientConfig(v, where);
  } catch (e) {
    if (e instanceof ConfigError) throw new SdConfigError(e.message);
    throw e;
  }
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

/** A resolved target: the base URL (scheme://host:port/path_prefix), the request headers, and the fetch carrying its http_config's TLS settings (none: the caller's). */
export interface ResolvedTarget {
  base: string;
  headers: Record<string, string>;
  fetch?: FetchFunction;
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
  /**
   * `fetch`: the one for this config's http_config TLS settings (lib/net/httpclient.ts's
   * httpClientFetch, or tlsFetch); handed out with every target.
   */
  constructor(
    private readonly c: EndpointsConfig, private readonly fs: FsCapability, private readonly onError: (msg: string) => void = () => {},
    resolve?: ConstructorParameters<typeof DnsProvider>[0], dnsMetrics?: DnsMetrics, private readonly fetch?: FetchFunction,
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
    const auth = await authorizationHeader(this.fs, this.c.http);
    return auth ? { Authorization: auth } : {};
  }

  async targets(now = Date.now()): Promise<ResolvedTarget[]> {
    const raw = await this.addrs(now);
    const addrs = this.dns ? this.dns.addresses(raw) : raw.filter((a) => !isDnsAddr(a));
    const headers = await this.headers();
    return [...new Set(addrs)].map((a) => ({ base: `${this.c.scheme}://${a}${this.c.pathPrefix}`, headers, ...(this.fetch ? { fetch: this.fetch } : {}) }));
  }
}
