// --receive.limits-config (Thanos's pkg/receive/limiter_config.go, request_limiter.go,
// head_series_limiter.go): YAML
//   write:
//     global: { max_concurrency, meta_monitoring_url, meta_monitoring_limit_query }
//     default: { request: { size_bytes_limit, series_limit, samples_limit }, head_series_limit }
//     tenants: { <tenant>: { request: {...}, head_series_limit } }
// Request limits (0 = none; a tenant's unset keys inherit the default's): a body (compressed by
// Content-Length, then decoded) over size_bytes_limit → 413 "write request too large"; more series
// than series_limit → 413 "too many timeseries"; more samples → 413 "too many samples".
// Head series: as Thanos, the current head series per tenant come from a meta-monitoring query
// (meta_monitoring_url, default query sum(prometheus_tsdb_head_series) by (tenant)) run every 15 s;
// a tenant at or above its limit gets 429 "tenant is above active series limit". Without
// meta_monitoring_url the head series limits have no source and are refused by name.
// max_concurrency: at most this many remote write requests are handled at once; others wait.
import { parse as parseYaml } from '../cjs/yaml.ts';
import type { Metrics, Logger } from '../sdk/mod.ts';
import { gateMetrics, type GateMetrics } from '../query/gate.ts';

export class LimitsConfigError extends Error {}

export interface RequestLimits {
  sizeBytesLimit: number;
  seriesLimit: number;
  samplesLimit: number;
}

export interface LimitsConfig {
  maxConcurrency: number;
  metaMonitoringUrl: string;
  metaMonitoringLimitQuery: string;
  defaultRequest: RequestLimits;
  defaultHeadSeriesLimit: number;
  tenants: Map<string, { request: RequestLimits; headSeriesLimit: number }>;
}

type Obj = Record<string, unknown>;

function mapping(v: unknown, where: string, keys: readonly string[]): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new LimitsConfigError(`${where}: want a mapping`);
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new LimitsConfigError(`${where}: unknown key ${JSON.stringify(k)}`);
  return v as Obj;
}

function count(o: Obj, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new LimitsConfigError(`${where}.${key}: want a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

function requestLimits(v: unknown, where: string, base: RequestLimits): RequestLimits {
  const o = mapping(v, where, ['size_bytes_limit', 'series_limit', 'samples_limit']);
  return {
    sizeBytesLimit: count(o, 'size_bytes_limit', where) ?? base.sizeBytesLimit,
    seriesLimit: count(o, 'series_limit', where) ?? base.seriesLimit,
    samplesLimit: count(o, 'samples_limit', where) ?? base.samplesLimit,
  };
}

/** Strict: unknown keys, bad values and settings we cannot honour are errors naming them. */
export function parseLimitsConfig(text: string): LimitsConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new LimitsConfigError(`parsing config YAML file: ${(e as Error).message}`);
  }
  const root = mapping(raw, 'limits config', ['write']);
  const write = mapping(root.write, 'write', ['global', 'default', 'tenants']);
  const global = mapping(write.global, 'write.global', ['max_concurrency', 'meta_monitoring_url', 'meta_monitoring_limit_query', 'meta_monitoring_http_client']);
  if (global.meta_monitoring_http_client !== undefined) throw new LimitsConfigError('write.global.meta_monitoring_http_client is not implemented yet');
  const url = global.meta_monitoring_url ?? '';
  if (typeof url !== 'string') throw new LimitsConfigError('write.global.meta_monitoring_url: want a string');
  if (url !== '') {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new LimitsConfigError(`${url} is not a valid meta-monitoring URL`);
    }
    if (!/^https?:$/.test(u.protocol) || u.host === '') throw new LimitsConfigError(`${url} is not a valid meta-monitoring URL (scheme: ${u.protocol.replace(/:$/, '')},host: ${u.host})`);
  }
  const query = global.meta_monitoring_limit_query ?? '';
  if (typeof query !== 'string') throw new LimitsConfigError('write.global.meta_monitoring_limit_query: want a string');
  const def = mapping(write.default, 'write.default', ['request', 'head_series_limit']);
  const none: RequestLimits = { sizeBytesLimit: 0, seriesLimit: 0, samplesLimit: 0 };
  const defaultRequest = requestLimits(def.request, 'write.default.request', none);
  const defaultHeadSeriesLimit = count(def, 'head_series_limit', 'write.default') ?? 0;
  const tenants = new Map<string, { request: RequestLimits; headSeriesLimit: number }>();
  const ts = mapping(write.tenants, 'write.tenants', Object.keys((write.tenants as Obj | undefined) ?? {}));
  let anyHead = defaultHeadSeriesLimit > 0;
  for (const [t, v] of Object.entries(ts)) {
    const w = `write.tenants.${t}`;
    const o = mapping(v, w, ['request', 'head_series_limit']);
    const head = count(o, 'head_series_limit', w);
    if (head !== undefined && head > 0) anyHead = true;
    tenants.set(t, { request: requestLimits(o.request, `${w}.request`, defaultRequest), headSeriesLimit: head ?? defaultHeadSeriesLimit });
  }
  if (anyHead && url === '') {
    throw new LimitsConfigError('head_series_limit needs write.global.meta_monitoring_url (the current head series of each tenant come from a meta-monitoring query, as Thanos)');
  }
  return {
    maxConcurrency: count(global, 'max_concurrency', 'write.global') ?? 0,
    metaMonitoringUrl: url,
    metaMonitoringLimitQuery: query || 'sum(prometheus_tsdb_head_series) by (tenant)',
    defaultRequest, defaultHeadSeriesLimit, tenants,
  };
}

export type LimitVerdict = { ok: true } | { ok: false; status: number; message: string };
const OK: LimitVerdict = { ok: true };

/** The limits in force (swapped whole on reload) with their metrics. */
export class Limiter {
  private cfg: LimitsConfig | undefined;
  private current = new Map<string, number>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly m;
  /** Thanos's write gate metrics (thanos_receive_write_request_concurrent_gate_write_requests_*), once max_concurrency is set. */
  private gm: GateMetrics | undefined;

  constructor(private readonly metrics: Metrics, private readonly log: Logger) {
    this.m = {
      reloads: metrics.counter('thanos_receive_limits_config_reload_total', 'How many times the limit configuration was reloaded'),
      reloadErrors: metrics.counter('thanos_receive_limits_config_reload_err_total', 'How many times the limit configuration failed to reload.'),
      hit: metrics.histogram('thanos_receive_write_limits_hit', 'How much beyond the limit a refused remote write request was.', ['tenant', 'limit'], [1, 10, 100, 1000, 10000, 100000, 1e6, 1e7]),
      limits: metrics.gauge('thanos_receive_write_limits', 'The configured write limits.', ['tenant', 'limit']),
      headLimit: metrics.gauge('thanos_receive_head_series_limit', 'The configured limit for active (head) series of tenants.', ['tenant']),
      limited: metrics.counter('thanos_receive_head_series_limited_requests_total', 'The total number of remote write requests that have been dropped due to active series limiting.', ['tenant']),
      metaErr: metrics.counter('thanos_receive_metamonitoring_failed_queries_total', 'The total number of meta-monitoring queries that failed while limiting.'),
    };
  }

  get config(): LimitsConfig | undefined {
    return this.cfg;
  }

  /** Counts one reload of a changed limits file (thanos_receive_limits_config_reload_total / _err_total). */
  reloaded(ok: boolean): void {
    this.m.reloads.inc();
    if (!ok) this.m.reloadErrors.inc();
  }

  set(cfg: LimitsConfig | undefined): void {
    this.cfg = cfg;
    if (!cfg) return;
    if (cfg.maxConcurrency > 0) this.gm = gateMetrics(this.metrics, 'thanos_receive_write_request_concurrent_', 'write_requests', cfg.maxConcurrency);
    const put = (tenant: string, r: RequestLimits) => {
      this.m.limits.set(r.sizeBytesLimit, { tenant, limit: 'body_size' });
      this.m.limits.set(r.seriesLimit, { tenant, limit: 'series' });
      this.m.limits.set(r.samplesLimit, { tenant, limit: 'samples' });
    };
    put('', cfg.defaultRequest);
    this.m.headLimit.set(cfg.defaultHeadSeriesLimit, { tenant: '' });
    for (const [t, l] of cfg.tenants) {
      put(t, l.request);
      this.m.headLimit.set(l.headSeriesLimit, { tenant: t });
    }
    while (this.waiting.length > 0 && (cfg.maxConcurrency <= 0 || this.active < cfg.maxConcurrency)) {
      this.active++;
      this.waiting.shift()!();
    }
  }

  private req(tenant: string): RequestLimits | undefined {
    const c = this.cfg;
    return c && (c.tenants.get(tenant)?.request ?? c.defaultRequest);
  }

  private over(tenant: string, limit: string, have: number, max: number, message: string): LimitVerdict {
    if (max <= 0 || have <= max) return OK;
    this.m.hit.observe(have - max, { tenant, limit });
    return { ok: false, status: 413, message };
  }

  sizeBytes(tenant: string, n: number): LimitVerdict {
    const r = this.req(tenant);
    return r ? this.over(tenant, 'body_size', n, r.sizeBytesLimit, 'write request too large') : OK;
  }

  seriesAndSamples(tenant: string, series: number, samples: number): LimitVerdict {
    const r = this.req(tenant);
    if (!r) return OK;
    const s = this.over(tenant, 'series', series, r.seriesLimit, 'too many timeseries');
    return s.ok ? this.over(tenant, 'samples', samples, r.samplesLimit, 'too many samples') : s;
  }

  /** 429 when the tenant's head series (last meta-monitoring answer) are at or above its limit. */
  headSeries(tenant: string): LimitVerdict {
    const c = this.cfg;
    if (!c || !c.metaMonitoringUrl) return OK;
    const limit = c.tenants.get(tenant)?.headSeriesLimit ?? c.defaultHeadSeriesLimit;
    if (limit <= 0) return OK;
    const v = this.current.get(tenant);
    // Unknown tenant (not in the last answer): let it in, as Thanos.
    if (v === undefined || v < limit) return OK;
    this.log.error('tenant above limit', { tenant, currentSeries: v, limit });
    this.m.limited.inc({ tenant });
    return { ok: false, status: 429, message: 'tenant is above active series limit' };
  }

  /** One meta-monitoring query (instant, now): tenant → head series. */
  async queryMetaMonitoring(fetchFn: (url: string, init?: RequestInit) => Promise<Response>, signal?: AbortSignal): Promise<void> {
    const c = this.cfg;
    if (!c || !c.metaMonitoringUrl) return;
    try {
      const u = new URL(c.metaMonitoringUrl.replace(/\/$/, '') + '/api/v1/query');
      u.searchParams.set('query', c.metaMonitoringLimitQuery);
      u.searchParams.set('dedup', 'true');
      const res = await fetchFn(u.toString(), { signal: signal ?? AbortSignal.timeout(10_000) });
      const j = (await res.json()) as { status?: string; data?: { resultType?: string; result?: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (!res.ok || j.status !== 'success' || j.data?.resultType !== 'vector') throw new Error(`meta-monitoring answered ${res.status} ${JSON.stringify(j).slice(0, 200)}`);
      const next = new Map(this.current);
      for (const e of j.data.result ?? []) if (e.metric.tenant !== undefined) next.set(e.metric.tenant, Number(e.value[1]));
      this.current = next;
    } catch (e) {
      this.m.metaErr.inc();
      this.log.error('failed to query meta-monitoring', { err: (e as Error).message });
    }
  }

  /** Waits for a write slot under max_concurrency; call the returned function when done. */
  async gate(): Promise<() => void> {
    const max = this.cfg?.maxConcurrency ?? 0;
    const gm = max > 0 ? this.gm : undefined;
    gm?.total.inc();
    const start = performance.now();
    if (max > 0 && this.active >= max) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    gm?.duration.observe((performance.now() - start) / 1000);
    gm?.inFlight.inc();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      gm?.inFlight.dec();
      this.active--;
      const m = this.cfg?.maxConcurrency ?? 0;
      if (this.waiting.length > 0 && (m <= 0 || this.active < m)) {
        this.active++;
        this.waiting.shift()!();
      }
    };
  }
}
