// The ruler's clients: instant queries against query APIs (our querier or any Prometheus), tried in
// order, and alerts posted to Alertmanagers' API v2.
import type { Capabilities, Logger, Metrics } from '../sdk/mod.ts';
import type { AlertmanagerAlert, QuerySample } from './eval.ts';
import type { RuleGroup } from './parse.ts';
import { parseQueryResponse } from './queryapi.ts';

export interface QueryApiOptions {
  fetch: Capabilities['fetch'];
  /** Query API base URLs (--query), tried in order until one answers. */
  urls: string[];
  httpMethod: 'GET' | 'POST';
  /** Per-attempt deadline. */
  timeoutMs: number;
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
    for (const base of o.urls) {
      const sig = AbortSignal.any([AbortSignal.timeout(o.timeoutMs), ...(signal ? [signal] : [])]);
      try {
        const res = o.httpMethod === 'GET'
          ? await o.fetch(`${base}/api/v1/query?${params}`, { signal: sig })
          : await o.fetch(`${base}/api/v1/query`, { method: 'POST', body: params.toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, signal: sig });
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
        return parseQueryResponse(body);
      } catch (e) {
        if (signal?.aborted) throw e;
        lastErr = e as Error;
        if (/^query failed: (bad_data|execution)/.test(lastErr.message)) throw lastErr;
      }
    }
    throw lastErr ?? new Error('no query API configured');
  };
}

export interface AlertSenderOptions {
  fetch: Capabilities['fetch'];
  /** Alertmanager base URLs (--alertmanagers.url); every one gets every alert. */
  urls: string[];
  /** Label names dropped before sending (--alert.label-drop). */
  labelDrop: string[];
  timeoutMs: number;
  log: Logger;
  sent: ReturnType<Metrics['counter']>;
  errors: ReturnType<Metrics['counter']>;
}

/** Posts alerts to every Alertmanager; failures are counted and logged, never thrown. */
export function alertSender(o: AlertSenderOptions): (alerts: AlertmanagerAlert[]) => Promise<void> {
  return async function sendAlerts(alerts: AlertmanagerAlert[]): Promise<void> {
    if (alerts.length === 0 || o.urls.length === 0) return;
    const drop = new Set(o.labelDrop);
    const payload = JSON.stringify(alerts.map((a) => ({ ...a, labels: Object.fromEntries(Object.entries(a.labels).filter(([k]) => !drop.has(k))) })));
    await Promise.all(o.urls.map(async (am) => {
      try {
        const res = await o.fetch(`${am}/api/v2/alerts`, {
          method: 'POST', body: payload, headers: { 'Content-Type': 'application/json' }, signal: AbortSignal.timeout(o.timeoutMs),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`${res.status}: ${text.slice(0, 300)}`);
        o.sent.inc({ alertmanager: am }, alerts.length);
      } catch (e) {
        o.errors.inc({ alertmanager: am });
        o.log.warn('sending alerts to Alertmanager failed', { alertmanager: am, alerts: alerts.length, err: (e as Error).message });
      }
    }));
  };
}
