// `thanos rule`: evaluates Prometheus recording and alerting rules against a query API (our querier
// or any Prometheus) with instant queries at each group's evaluation timestamp; serves recorded
// samples (and ALERTS) through the StoreAPI with the --label external labels; sends alerts to
// Alertmanager's API v2 and re-sends them every --resend-delay; answers /api/v1/rules and
// /api/v1/alerts like Prometheus. Ready after the first evaluation of every group.
// Recorded samples live in memory only (no WAL, no blocks, nothing uploaded): see README.md.
// Rule files, evaluation, the recorded head and the rules/alerts JSON are lib/rules's; this plugin
// wires them with the query API and Alertmanager clients and the group loops.
import { definePlugin, sleep, type ComponentContext, type Component } from '../../../lib/sdk/mod.ts';
import { labelsFromRecord } from '../../../lib/labels/mod.ts';
import { storeServices } from '../../../lib/store/server.ts';
import { MAX_TIME } from '../../../lib/store/api.ts';
import {
  alertSender, alertsJSON, Evaluator, loadRuleFiles, queryApiClient, RecordedHead, rulesJSON, type GroupState,
} from '../../../lib/rules/mod.ts';
import { ruleFlags, parseRuleConfig, type RuleConfig } from './config.ts';

export { parseRuleConfig, ruleFlags, type RuleConfig } from './config.ts';
export { loadRuleFiles, parseQueryResponse } from '../../../lib/rules/mod.ts';

export interface RuleComponent extends Component {
  evaluator(): Evaluator;
  head: RecordedHead;
}

export async function createRule(ctx: ComponentContext, cfg: RuleConfig): Promise<RuleComponent> {
  const log = ctx.log;
  const ext = cfg.externalLabels;
  const head = new RecordedHead(labelsFromRecord(ext), cfg.retentionMs, (t, v, n) => ctx.core.xorEncode(t, v, n));
  const queryUrl = (cfg.alertQueryUrl || (ctx.addresses?.http ? `http://${ctx.addresses.http.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}` : 'http://localhost:10902')).replace(/\/+$/, '');
  const m = ctx.metrics;
  const evalTotal = m.counter('prometheus_rule_evaluations_total', 'The total number of rule evaluations.', ['rule_group']);
  const evalFailures = m.counter('prometheus_rule_evaluation_failures_total', 'The total number of rule evaluation failures.', ['rule_group']);
  const sentTotal = m.counter('thanos_alert_sender_alerts_sent_total', 'Total number of alerts sent by alertmanager.', ['alertmanager']);
  const sendErrors = m.counter('thanos_alert_sender_errors_total', 'Total number of errors while sending alerts to alertmanager.', ['alertmanager']);
  const lastEval = m.gauge('prometheus_rule_group_last_evaluation_timestamp_seconds', 'The timestamp of the last rule group evaluation in seconds.', ['rule_group']);

  const viaCtx: typeof ctx.fetch = (input, init) => ctx.fetch(input, init);
  const query = queryApiClient({ fetch: viaCtx, urls: cfg.queries, httpMethod: cfg.queryHttpMethod, timeoutMs: Math.max(cfg.evalIntervalMs, 10_000) });
  const sendAlerts = alertSender({
    fetch: viaCtx, urls: cfg.alertmanagersUrls, labelDrop: cfg.alertLabelDrop, timeoutMs: cfg.alertmanagersSendTimeoutMs, log, sent: sentTotal, errors: sendErrors,
  });

  const evOpts = {
    query,
    record: (s: Parameters<RecordedHead['append']>[0]) => head.append(s),
    externalLabels: ext,
    externalURL: queryUrl,
    defaultIntervalMs: cfg.evalIntervalMs,
    resendDelayMs: cfg.resendDelayMs,
  };
  let ev = new Evaluator(await loadRuleFiles(ctx, cfg.ruleFiles), evOpts);
  if (ev.groups.length === 0) log.warn('no rule groups loaded', { 'rule-file': cfg.ruleFiles.join(',') });
  log.info('rules loaded', { groups: ev.groups.length, rules: ev.groups.reduce((a, g) => a + g.rules.length, 0) });

  let generation = new AbortController();
  let runSignal: AbortSignal | undefined;
  let loops: Promise<void>[] = [];

  async function groupLoop(e: Evaluator, g: GroupState, signal: AbortSignal, first: (g: GroupState) => void): Promise<void> {
    let lastTs = -Infinity;
    while (!signal.aborted) {
      const ts = Evaluator.evalTimestamp(Date.now(), g.intervalMs);
      if (ts > lastTs) {
        lastTs = ts;
        const name = `${g.group.file};${g.group.name}`;
        try {
          await e.evalGroup(g, ts, signal);
          evalTotal.inc({ rule_group: name }, g.rules.length);
          for (const r of g.rules) if (r.health === 'err') {
            evalFailures.inc({ rule_group: name });
            log.warn('rule evaluation failed', { group: g.group.name, rule: r.rule.name, err: r.lastError });
          }
          lastEval.set(ts / 1000, { rule_group: name });
          await sendAlerts(e.alertsToSend(g, ts));
        } catch (err) {
          if (signal.aborted) return;
          log.error('group evaluation failed', { group: g.group.name, err: (err as Error).message });
        }
        first(g);
      }
      await sleep(ts + g.intervalMs - Date.now(), signal);
    }
  }

  function start(e: Evaluator, signal: AbortSignal): Promise<void>[] {
    const pending = new Set(e.groups);
    if (pending.size === 0) ctx.setReady(true);
    return e.groups.map((g) => groupLoop(e, g, signal, (done) => {
      if (pending.delete(done) && pending.size === 0) ctx.setReady(true);
    }));
  }

  async function reload(): Promise<void> {
    const groups = await loadRuleFiles(ctx, cfg.ruleFiles);
    const next = new Evaluator(groups, evOpts, ev);
    generation.abort();
    await Promise.all(loops);
    ev = next;
    generation = new AbortController();
    if (runSignal && !runSignal.aborted) loops = start(ev, AbortSignal.any([runSignal, generation.signal]));
    log.info('rules reloaded', { groups: ev.groups.length });
  }

  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

  return {
    head,
    evaluator: () => ev,
    info() {
      const s = head.store();
      const minTime = head.numSeries > 0 ? s.minTime : MAX_TIME;
      const labelSets = Object.keys(ext).length > 0 ? [{ ...ext }] : [];
      return {
        componentType: 'rule',
        labelSets,
        store: { minTime, maxTime: MAX_TIME, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: labelSets.map((labels) => ({ labels, minTime, maxTime: MAX_TIME })) },
        rules: {},
      };
    },
    grpc: storeServices(head),
    async fetch(req: Request) {
      const url = new URL(req.url);
      const p = url.pathname;
      if (p === '/api/v1/rules' && (req.method === 'GET' || req.method === 'POST')) {
        const type = url.searchParams.get('type');
        if (type !== null && type !== '' && type !== 'alert' && type !== 'record') {
          return json({ status: 'error', errorType: 'bad_data', error: `invalid query parameter type='${type}': must be one of 'alert' or 'record'` }, 400);
        }
        return json({ status: 'success', data: rulesJSON(ev, { type: (type || undefined) as 'alert' | 'record' | undefined, externalLabels: ext }) });
      }
      if (p === '/api/v1/alerts' && (req.method === 'GET' || req.method === 'POST')) return json({ status: 'success', data: alertsJSON(ev, ext) });
      if (p === '/-/reload' && req.method === 'POST') {
        try {
          await reload();
          return new Response('');
        } catch (e) {
          return new Response(`failed to reload rules: ${(e as Error).message}\n`, { status: 500 });
        }
      }
      return new Response('404 page not found\n', { status: 404 });
    },
    async reload() {
      try {
        await reload();
      } catch (e) {
        log.error('reloading rules failed; keeping the previous rules', { err: (e as Error).message });
      }
    },
    async run(signal: AbortSignal) {
      runSignal = signal;
      loops = start(ev, AbortSignal.any([signal, generation.signal]));
      await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
      generation.abort();
      await Promise.all(loops);
      ctx.setReady(false);
    },
  };
}

export default definePlugin({
  manifest: {
    id: 'component:rule',
    apiVersion: 1,
    permissions: { net: true, read: true },
    description: 'Reads rule files; reaches the query APIs (--query) and Alertmanagers (--alertmanagers.url) over HTTP.',
  },
  flags: ruleFlags,
  parseConfig: parseRuleConfig,
  setup: (ctx, cfg: RuleConfig) => createRule(ctx, cfg),
});
