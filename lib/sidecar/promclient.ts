// A small client for the Prometheus HTTP API the sidecar needs: external labels (status/config),
// flags (status/flags), the lowest timestamp (/metrics), label names/values and series, and remote
// read. Everything goes through the fetch capability the host hands the plugin.
import { describeNetErr } from '../objstore/kit/errors.ts';
import { parse as parseYaml } from '../cjs/yaml.ts';
import type { Matcher } from '../labels/mod.ts';
import { formatMatcher } from '../labels/mod.ts';
import { remoteRead, type RemoteReadResult } from '../remote/read.ts';
import { ResponseType, type ReadHints } from '../proto/prompb.ts';
import type { FetchFn } from '../remote/write.ts';

/** Prometheus answered with an error (or not at all); message names the URL. */
export class PromError extends Error {
  constructor(message: string, public readonly status = 0) {
    super(message);
    this.name = 'PromError';
  }
}

/** Earliest/latest timestamps Prometheus's API parses; outside them the parameter is omitted. */
const API_MIN_MS = -62135596800000; // 0001-01-01
const API_MAX_MS = 253402300799000; // 9999-12-31

function timeParam(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms <= API_MIN_MS || ms >= API_MAX_MS) return undefined;
  return (ms / 1000).toFixed(3);
}

/** A PromQL series selector for match[]: {a="b",c=~"d"}. */
export function selectorString(ms: readonly Matcher[]): string {
  return `{${ms.map(formatMatcher).join(',')}}`;
}

/** Prometheus's /api/v1/targets data (the fields the Targets API carries). */
export interface PromTargets {
  activeTargets?: Array<{
    discoveredLabels?: Record<string, string>; labels?: Record<string, string>; scrapePool?: string; scrapeUrl?: string;
    globalUrl?: string; lastError?: string; lastScrape?: string; lastScrapeDuration?: number; health?: string;
  }> | null;
  droppedTargets?: Array<{ discoveredLabels?: Record<string, string> }> | null;
}

/** Prometheus's /api/v1/query_exemplars data (exemplar.QueryResult list; timestamp in float seconds). */
export type PromExemplars = Array<{ seriesLabels?: Record<string, string>; exemplars?: Array<{ labels?: Record<string, string>; value?: string; timestamp?: number }> }>;

/** Prometheus's /api/v1/rules data (web/api/v1 RuleGroup, AlertingRule, RecordingRule, Alert). */
export interface PromRules {
  groups?: Array<{
    name?: string; file?: string; interval?: number; limit?: number; evaluationTime?: number; lastEvaluation?: string;
    rules?: Array<{
      type?: string; name?: string; query?: string; health?: string; lastError?: string; evaluationTime?: number; lastEvaluation?: string;
      labels?: Record<string, string>; state?: string; duration?: number; keepFiringFor?: number; annotations?: Record<string, string>;
      alerts?: Array<{ labels?: Record<string, string>; annotations?: Record<string, string>; state?: string; activeAt?: string; value?: string }>;
    }>;
  }>;
}

export class PromClient {
  readonly base: string;

  constructor(private readonly fetchFn: FetchFn, base: string, private readonly timeoutMs = 30_000) {
    this.base = base.replace(/\/+$/, '');
  }

  private async get(path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<Response> {
    const url = `${this.base}${path}`;
    const sigs = [AbortSignal.timeout(this.timeoutMs)];
    if (signal) sigs.push(signal);
    let res: Response;
    try {
      res = await this.fetchFn(url, { ...init, signal: AbortSignal.any(sigs) });
    } catch (e) {
      // describeNetErr: fetch says only "fetch failed"; the cause names it (a refused certificate, ECONNREFUSED).
      throw new PromError(`request to Prometheus ${url} failed: ${describeNetErr(e)}`);
    }
    return res;
  }

  /** Calls an /api/v1 endpoint and returns its `data`. */
  private async api<T>(path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<T> {
    const res = await this.get(path, init, signal);
    const text = await res.text().catch(() => '');
    let body: { status?: string; data?: T; error?: string; errorType?: string } | undefined;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok || body?.status !== 'success') {
      const detail = body?.error ?? text.trim().slice(0, 300);
      throw new PromError(`Prometheus ${this.base}${path.split('?')[0]}: ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`, res.status);
    }
    return body.data as T;
  }

  async ready(signal?: AbortSignal): Promise<boolean> {
    try {
      const r = await this.get('/-/ready', {}, signal);
      await r.arrayBuffer();
      return r.ok;
    } catch {
      return false;
    }
  }

  /** global.external_labels from the loaded configuration (empty object when none). */
  async externalLabels(signal?: AbortSignal): Promise<Record<string, string>> {
    const data = await this.api<{ yaml?: string }>('/api/v1/status/config', {}, signal);
    if (typeof data?.yaml !== 'string') throw new PromError(`Prometheus ${this.base}/api/v1/status/config: response has no "yaml" field`);
    let cfg: unknown;
    try {
      cfg = parseYaml(data.yaml);
    } catch (e) {
      throw new PromError(`Prometheus ${this.base}/api/v1/status/config: parse YAML: ${(e as Error).message}`);
    }
    const ext = (cfg as { global?: { external_labels?: unknown } } | null)?.global?.external_labels;
    if (ext === undefined || ext === null) return {};
    if (typeof ext !== 'object' || Array.isArray(ext)) throw new PromError(`Prometheus ${this.base}: global.external_labels is not a mapping`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(ext as Record<string, unknown>)) out[k] = String(v);
    return out;
  }

  /** Prometheus's command-line flags (name without dashes -> value). */
  flags(signal?: AbortSignal): Promise<Record<string, string>> {
    return this.api<Record<string, string>>('/api/v1/status/flags', {}, signal);
  }

  /**
   * The oldest sample time Prometheus holds (ms), from its own /metrics: prometheus_tsdb_lowest_timestamp
   * (ms in Prometheus), else prometheus_tsdb_lowest_timestamp_seconds (what Thanos reads; whole seconds).
   */
  async lowestTimestamp(signal?: AbortSignal): Promise<number> {
    const res = await this.get('/metrics', {}, signal);
    const text = await res.text();
    if (!res.ok) throw new PromError(`Prometheus ${this.base}/metrics: ${res.status} ${res.statusText}`, res.status);
    const ms = /^prometheus_tsdb_lowest_timestamp\s+(\S+)/m.exec(text);
    if (ms && Number.isFinite(Number(ms[1]))) return Number(ms[1]);
    const sec = /^prometheus_tsdb_lowest_timestamp_seconds\s+(\S+)/m.exec(text);
    if (sec && Number.isFinite(Number(sec[1]))) return Math.floor(Number(sec[1])) * 1000;
    throw new PromError(`Prometheus ${this.base}/metrics: no prometheus_tsdb_lowest_timestamp_seconds metric`);
  }

  private form(matchers: readonly Matcher[], startMs: number, endMs: number): URLSearchParams {
    const p = new URLSearchParams();
    if (matchers.length > 0) p.append('match[]', selectorString(matchers));
    const s = timeParam(startMs);
    const e = timeParam(endMs);
    if (s !== undefined) p.set('start', s);
    if (e !== undefined) p.set('end', e);
    return p;
  }

  labelNames(matchers: readonly Matcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.api<string[]>('/api/v1/labels', {
      method: 'POST', body: this.form(matchers, startMs, endMs), headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }, signal).then((d) => d ?? []);
  }

  labelValues(name: string, matchers: readonly Matcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const q = this.form(matchers, startMs, endMs).toString();
    return this.api<string[]>(`/api/v1/label/${encodeURIComponent(name)}/values${q ? `?${q}` : ''}`, {}, signal).then((d) => d ?? []);
  }

  /** /api/v1/series: the label sets of the matching series (used for skip_chunks). */
  series(matchers: readonly Matcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Array<Record<string, string>>> {
    return this.api<Array<Record<string, string>>>('/api/v1/series', {
      method: 'POST', body: this.form(matchers, startMs, endMs), headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }, signal).then((d) => d ?? []);
  }

  /** /api/v1/metadata (metric: one metric or all; limit < 0: no limit), as Thanos's MetricMetadataInGRPC asks it. */
  metadata(metric: string, limit: number, signal?: AbortSignal): Promise<Record<string, Array<{ type?: string; help?: string; unit?: string }>>> {
    const q = new URLSearchParams();
    if (metric !== '') q.set('metric', metric);
    if (limit >= 0) q.set('limit', String(limit));
    const qs = q.toString();
    return this.api<Record<string, Array<{ type?: string; help?: string; unit?: string }>>>(`/api/v1/metadata${qs ? `?${qs}` : ''}`, {}, signal).then((d) => d ?? {});
  }

  /** /api/v1/targets, optionally only the active or dropped ones. */
  targets(state: '' | 'active' | 'dropped', signal?: AbortSignal): Promise<PromTargets> {
    return this.api<PromTargets>(`/api/v1/targets${state ? `?state=${state}` : ''}`, {}, signal).then((d) => d ?? { activeTargets: [], droppedTargets: [] });
  }

  /** /api/v1/rules (type: alert, record or all), as Thanos's RulesInGRPC asks it (#16: the sidecar's Rules API). */
  rules(type: '' | 'alert' | 'record', signal?: AbortSignal): Promise<PromRules> {
    return this.api<PromRules>(`/api/v1/rules${type ? `?type=${type}` : ''}`, {}, signal).then((d) => d ?? { groups: [] });
  }

  /**
   * /api/v1/query_exemplars (Thanos's ExemplarsInGRPC); start/end in ms, left out (Prometheus's
   * own defaults) when outside the safe-integer range (the querier's "no bound").
   */
  exemplars(query: string, startMs: number, endMs: number, signal?: AbortSignal): Promise<PromExemplars> {
    const q = new URLSearchParams({ query });
    if (Number.isSafeInteger(startMs) && startMs > Number.MIN_SAFE_INTEGER) q.set('start', (startMs / 1000).toFixed(3));
    if (Number.isSafeInteger(endMs) && endMs < Number.MAX_SAFE_INTEGER) q.set('end', (endMs / 1000).toFixed(3));
    return this.api<PromExemplars>(`/api/v1/query_exemplars?${q}`, {}, signal).then((d) => d ?? []);
  }

  /** POST /api/v1/read asking for STREAMED_XOR_CHUNKS first, SAMPLES as the fallback (old Prometheus). */
  async read(matchers: Matcher[], startMs: number, endMs: number, hints: ReadHints | undefined, signal?: AbortSignal): Promise<RemoteReadResult> {
    try {
      return await remoteRead(this.fetchFn, `${this.base}/api/v1/read`, {
        queries: [{ startTimestampMs: startMs, endTimestampMs: endMs, matchers, ...(hints ? { hints } : {}) }],
        acceptedResponseTypes: [ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES],
      }, signal ? { signal } : {});
    } catch (e) {
      if (e instanceof PromError) throw e;
      throw new PromError(`remote read from Prometheus ${this.base}: ${(e as Error).message}`, (e as { status?: number }).status ?? 0);
    }
  }
}
