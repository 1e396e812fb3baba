// Thanos's status API (pkg/api BaseAPI under /api/v1: status/flags, status/buildinfo,
// status/runtimeinfo) and the /flags and /status pages that read it. One implementation for every
// component that serves them: the querier answers the API through its own router (flagsJson,
// buildInfoJson, runtimeInfoJson), the ruler through statusApi(), and the sidecar and receiver —
// which upstream serves only probes, /metrics and pprof on — through statusPages(), so an operator
// finds the flags and version of any of our components at the same place.
import type { BuildInfo, FlagSpec, HttpInstrumentation } from '../sdk/plugin.ts';
import { goJsonString } from '../query/format.ts';
import { compareStrings } from '../labels/mod.ts';
import { BASE_API_ROUTES, routeInstrumentation, type HandlerRoute } from './handlers.ts';
import { uiRoutes } from './ui.ts';

/** The fields of /api/v1/status/buildinfo (Prometheus's PrometheusVersion, in its order). */
export type BuildInfoFields = Pick<BuildInfo, 'version' | 'revision' | 'branch' | 'buildUser' | 'buildDate' | 'goVersion'>;

/**
 * Flags whose value is an inline configuration that can carry credentials. Thanos masks
 * objstore.config and objstore-to.config (getFlagsMap); we also mask the other inline configs that
 * hold passwords, tokens or auth headers, since the flags page is often served without auth.
 */
const REDACTED_FLAGS = new Set([
  'objstore.config', 'objstore-to.config', 'prometheus.http-client', 'alertmanagers.config', 'query.config',
  'remote-write.config', 'tracing.config', 'query-range.response-cache-config', 'labels.response-cache-config',
  'index-cache.config', 'store.caching-bucket.config',
]);

/** The API's data for status/flags: every flag as its string value, keys in byte order (Go's map encoding). */
export function flagsJson(flags: Record<string, string>): string {
  const keys = Object.keys(flags).sort(compareStrings);
  const value = (k: string) => (REDACTED_FLAGS.has(k) && flags[k] !== '' ? '<REDACTED>' : flags[k]!);
  return `{${keys.map((k) => `${goJsonString(k)}:${goJsonString(value(k))}`).join(',')}}`;
}

/** status/buildinfo's data; `build` undefined (a bare test context without the host's build) reads as version "unknown". */
export function buildInfoJson(build: BuildInfoFields | undefined): string {
  const b = build ?? { version: 'unknown', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' };
  const { version, revision, branch, buildUser, buildDate, goVersion } = b;
  return JSON.stringify({ version, revision, branch, buildUser, buildDate, goVersion });
}

/** status/runtimeinfo's data (Go's runtime fields have no Node counterpart: zero values). */
export function runtimeInfoJson(startedAtMs: number): string {
  return JSON.stringify({ startTime: new Date(startedAtMs).toISOString(), CWD: '', goroutineCount: 0, GOMAXPROCS: 0, GOGC: '', GODEBUG: '' });
}

/**
 * The flag values a component runs with, for status/flags, from its flag specs and the raw config
 * (keyed by FlagSpec.key, as the host hands it to parseConfig): a value given, else the flag's
 * default; refused flags are left out (the component does not have them). `addresses` adds
 * http-address/grpc-address, which the host owns.
 */
export function flagValuesOf(specs: readonly FlagSpec[], raw: unknown, addresses?: { http?: string; grpc?: string }): Record<string, string> {
  const given = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const out: Record<string, string> = {};
  for (const s of specs) {
    if (s.refused !== undefined) continue;
    const v = Object.hasOwn(given, s.key) ? given[s.key] : s.default;
    out[s.name] = v === undefined || v === null ? '' : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  if (addresses) {
    out['http-address'] = addresses.http ?? '';
    out['grpc-address'] = addresses.grpc ?? '';
  }
  return out;
}

/** The raw config each parsed config came from (see rememberRawConfig). */
const rawConfigs = new WeakMap<object, unknown>();

/**
 * Wraps a plugin's parseConfig so that flagValuesOfConfig() can later show the flags the parsed
 * config came from (the parsed config's fields are the component's, not the flags').
 */
export function rememberRawConfig<C extends object>(parse: (raw: unknown) => C): (raw: unknown) => C {
  return (raw) => {
    const cfg = parse(raw);
    rawConfigs.set(cfg, raw);
    return cfg;
  };
}

/** flagValuesOf() for a config parsed through rememberRawConfig (one made otherwise shows the defaults). */
export function flagValuesOfConfig(cfg: object, specs: readonly FlagSpec[], addresses?: { http?: string; grpc?: string }): Record<string, string> {
  return flagValuesOf(specs, rawConfigs.get(cfg), addresses);
}

export interface StatusApiOptions {
  flags(): Record<string, string>;
  build: BuildInfoFields | undefined;
  /** When the component started (ms since the epoch); default: when statusApi() was called. */
  startedAtMs?: number;
}

/** A handler for GET /api/v1/status/{flags,buildinfo,runtimeinfo}; undefined for any other request. */
export function statusApi(opts: StatusApiOptions): (req: Request) => Response | undefined {
  const startedAtMs = opts.startedAtMs ?? Date.now();
  const data: Record<string, () => string> = {
    '/api/v1/status/flags': () => flagsJson(opts.flags()),
    '/api/v1/status/buildinfo': () => buildInfoJson(opts.build),
    '/api/v1/status/runtimeinfo': () => runtimeInfoJson(startedAtMs),
  };
  return (req) => {
    if (req.method !== 'GET') return undefined;
    const d = data[new URL(req.url).pathname];
    if (!d) return undefined;
    return new Response(`{"status":"success","data":${d()}}`, { headers: { 'Content-Type': 'application/json' } });
  };
}

/** The handler names of statusPages(): the base API's, and the UI pages as pkg/ui's react-static. */
export const STATUS_PAGES_ROUTES: readonly HandlerRoute[] = [
  ...BASE_API_ROUTES,
  ...['/', '/flags', '/status'].map((path) => ({ methods: ['GET'], path, name: 'react-static' })),
];

export interface StatusPagesOptions extends StatusApiOptions {
  readFile(path: string): Promise<Uint8Array>;
  /** The directory of the UI pages and assets (the querier plugin's ui/). */
  uiDir: string;
}

/**
 * The status pages of a component with no other UI (sidecar, receive): `/` redirects to /status;
 * /status and /flags, their assets, and the status API; everything else 404 as before.
 */
export function statusPages(opts: StatusPagesOptions): { fetch(req: Request): Promise<Response>; http: HttpInstrumentation } {
  const api = statusApi(opts);
  const ui = uiRoutes({ readFile: opts.readFile, uiDir: opts.uiDir, uplotDir: opts.uiDir, linkPrefix: '', pages: ['status', 'flags'], home: 'status' });
  const uiPaths = new Set(['/', '/status', '/flags']);
  return {
    http: routeInstrumentation(STATUS_PAGES_ROUTES),
    async fetch(req) {
      const res = api(req);
      if (res) return res;
      const p = new URL(req.url).pathname;
      if (req.method === 'GET' && (uiPaths.has(p) || p.startsWith('/static/'))) return ui.fetch(req);
      return new Response('404 page not found\n', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    },
  };
}
