// The ruler's clients: instant queries against query APIs (our querier or any Prometheus), tried in
// order, and alerts posted to Alertmanagers' API v2.
import type { Capabilities, Logger } from '../sdk/mod.ts';
import type { AlertMetrics } from './metrics.ts';
import type { AlertmanagerAlert, QuerySample } from './eval.ts';
import type { RuleGroup } from './parse.ts';
import { parseQueryResponse } from './queryapi.ts';
import type { EndpointsResolver, ResolvedTarget } from './sdconfig.ts';
import { describeNetErr } from '../objstore/kit/errors.ts';

export interface QueryApiOptions {
  fetch: Capabilities['fetch'];
  /** Query API base URLs (--query), tried in order until one answers. */
  urls: string[];
  /** --query.config entries: their targets are tried after `urls`, in order. */
  resolvers?: EndpointsResolver[];
  httpMethod: 'GET' | 'POST';
  /** Per-attempt deadline. */
  timeoutMs: number;
  /** Called when an answer carried warnings (a partial answer): thanos_rule_evaluation_with_warnings_total. */
  onWarnings?: (group: RuleGroup | undefined, warnings: unknown[]) => void;
}

/**
 * An instant-query function for the Evaluator: the first query API that answers wins; a
 * bad_data/execution answer is the rule's fault and is not retried on another API. Groups with
 * partial_response_strategy warn ask for partial responses.
 */
export function queryApiClient(o: QueryApiOptions): (expr: string, tsMs: number, signal?: AbortSignal, group?: RuleGroup) => Promise<QuerySample[]> {
  return async function query(expr: string, tsMs: number, signal?: AbortSignal, group?: RuleGroup): Promise<QuerySample[]> {
    // Thanos: groups default to partial_response_strategy abort; warn lets a querier answer with what it has.
    const partial = group?.partialResponseStrategy === 'warn' ? 'true' : 'false';
    const params = new URLSearchParams({ query: expr, time: (tsMs / 1000).toFixed(3), dedup: 'true', partial_response: partial });
    let lastErr: Error | undefined;
    const targets: ResolvedTarget[] = o.urls.map((base) => ({ base, headers: {} }));
    for (const r of o.resolvers ?? []) targets.push(...(await r.targets()));
    for (const { base, headers, fetch = o.fetch } of targets) {
      const sig = AbortSignal.any([AbortSignal.timeout(o.timeoutMs), ...(signal ? [signal] : [])]);
      try {
        const res = o.httpMethod === 'GET'
          ? await fetch(`${base}/api/v1/query?${params}`, { signal: sig, headers })
          : await fetch(`${base}/api/v1/query`, { method: 'POST', body: params.toString(), headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' }, signal: sig });
        const text = await res.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new Error(`query API ${base} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
        }
        // A bad_data/execution answer is the rule's fault: no point asking another querier.
        if (res.status === 400 || res.status === 422) return parseQueryResponse(body);
        if (!res.ok) throw new Error(`query API ${base} answered ${res.status}: ${(body as { error?: string }).error ?? text.slice(0, 200)}`);
        const samples = parseQueryResponse(body);
        const warnings = (body as { warnings?: unknown }).warnings;
        if (Array.isArray(warnings) && warnings.length > 0) o.onWarnings?.(group, warnings);
        return samples;
      } catch (e) {
        if (signal?.aborted) throw e;
        const err = e as Error;
        // fetch says only "fetch failed"; the cause names it (a refused certificate, ECONNREFUSED).
        lastErr = err.cause && err.message === 'fetch failed' ? new Error(`query API ${base}: ${describeNetErr(err)}`, { cause: err }) : err;
        if (/^query failed: (bad_data|execution)/.test(lastErr.message)) throw lastErr;
      }
    }
    throw lastErr ?? new Error('no query API configured (or none discovered yet)');
  };
}

export interface AlertSenderOptions {
  fetch: Capabilities['fetch'];
  /** Alertmanager base URLs (--alertmanagers.url, API v2); every one gets every alert. */
  urls: string[];
  /** --alertmanagers.config entries: every discovered Alertmanager gets every alert too. */
  configs?: Array<{ resolver: EndpointsResolver; apiVersion: 'v1' | 'v2'; timeoutMs: number }>;
  /** Label names dropped before sending (--alert.label-drop). */
  labelDrop: string[];
  timeoutMs: number;
  log: Logger;
  metrics: AlertMetrics;
}

/** pkg/alert's `alertmanager` label: the URL's host (host:port). */
function amHost(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return base;
  }
}

/**
 * Posts alerts to every Alertmanager; failures are counted and logged, never thrown. The metrics are
 * pkg/alert's: the batch passes the queue (pushed and popped at once: it is sent from the evaluation
 * loop, so the queue never overflows), each Alertmanager counts its sent alerts, errors and latency,
 * and a batch no Alertmanager took (none configured or discovered included) counts as dropped.
 */
export function alertSender(o: AlertSenderOptions): (alerts: AlertmanagerAlert[]) => Promise<void> {
  const m = o.metrics;
  return async function sendAlerts(alerts: AlertmanagerAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    m.queuePushed.inc(undefined, alerts.length);
    m.queuePopped.inc(undefined, alerts.length);
    const targets: Array<ResolvedTarget & { apiVersion: 'v1' | 'v2'; timeoutMs: number }> = o.urls.map((base) => ({ base, headers: {}, apiVersion: 'v2', timeoutMs: o.timeoutMs }));
    for (const c of o.configs ?? []) {
      for (const t of await c.resolver.targets()) targets.push({ ...t, apiVersion: c.apiVersion, timeoutMs: c.timeoutMs });
    }
    const drop = new Set(o.labelDrop);
    // API v1 and v2 take the same JSON list of {labels, annotations, startsAt, endsAt, generatorURL}.
    const payload = JSON.stringify(alerts.map((a) => ({ ...a, labels: Object.fromEntries(Object.entries(a.labels).filter(([k]) => !drop.has(k))) })));
    let successes = 0;
    await Promise.all(targets.map(async ({ base: am, headers, apiVersion, timeoutMs, fetch = o.fetch }) => {
      const host = amHost(am);
      const start = performance.now();
      try {
        const res = await fetch(`${am}/api/${apiVersion}/alerts`, {
          method: 'POST', body: payload, headers: { ...headers, 'Content-Type': 'application/json' }, signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`${res.status}: ${text.slice(0, 300)}`);
        m.latency.observe((performance.now() - start) / 1000, { alertmanager: host });
        m.sent.inc({ alertmanager: host }, alerts.length);
        successes++;
      } catch (e) {
        m.errors.inc({ alertmanager: host });
        o.log.warn('sending alerts to Alertmanager failed', { alertmanager: am, alerts: alerts.length, err: describeNetErr(e) });
      }
    }));
    if (successes === 0) {
      m.dropped.inc(undefined, alerts.length);
      o.log.warn('failed to send alerts to all alertmanagers', { alerts: alerts.length });
    }
  };
}
