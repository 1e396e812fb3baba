// `thanos rule`: evaluates Prometheus recording and alerting rules against a query API (our querier
// or any Prometheus) with instant queries at each group's evaluation timestamp; writes recorded
// samples (and ALERTS/ALERTS_FOR_STATE) to a local TSDB with a WAL under --data-dir, serves it
// through the StoreAPI with the --label external labels, cuts it into --tsdb.block-duration blocks
// and uploads them when object storage is configured; restores alerts' `for` state from
// ALERTS_FOR_STATE after a restart; sends alerts to Alertmanager's API v2 and re-sends them every
// --resend-delay; answers /api/v1/rules and /api/v1/alerts like Prometheus. Ready after the first
// evaluation of every group. With --remote-write.config(-file) the ruler is stateless (as Thanos's):
// no TSDB, no StoreAPI, no block uploads; what it records is remote-written (lib/rules/remotewrite.ts)
// and alerts' `for` state is not restored (nothing local to restore it from). Rule files, evaluation, the TSDB and the rules/alerts JSON are
// lib/rules's; this plugin wires them with the query API and Alertmanager clients and the loops.
import { ConfigError, definePlugin, sleep, type ComponentContext, type Component } from '../../../lib/sdk/mod.ts';
import { REACT_UI_ROUTES, RULE_API_ROUTES, routeInstrumentation } from '../../../lib/web/handlers.ts';
import { storeServices } from '../../../lib/store/server.ts';
import { MAX_TIME } from '../../../lib/store/api.ts';
import { optionalBucket } from '../../../lib/shipper/bucket.ts';
import { alertsJson, filterRuleGroups, rulesJson, rulesRequestFromQuery } from '../../../lib/query/rules.ts';
import {
  alertMetrics, alertSender, dnsMetrics, EndpointsResolver, isDnsAddr, parseDnsAddr, Evaluator, groupLabels, RuleMetrics, loadRuleFiles, parseRemoteWriteConfig, RemoteWriteQueue, parseAlertmanagersConfig, parseQueryEndpointsConfig, queryApiClient, ruleGroupsProto, rulesServices, RuleTSDB, type GroupState, type RecordedSample,
} from '../../../lib/rules/mod.ts';
import { ruleFlags, parseRuleConfig, type RuleConfig } from './config.ts';
// The alerts and rules pages are the querier's (one copy of the page code; the ruler serves two of them).
import { underRoutePrefix, uiRoutes, webPrefixFor } from '../../../lib/web/ui.ts';
import { statusApi } from '../../../lib/web/status.ts';
import { formatPromDuration } from '../../../lib/duration/mod.ts';
import { customTls, tlsFetch, type TlsFiles } from '../../../lib/net/tlsclient.ts';

const UI_DIR = new URL('../query/ui/', import.meta.url).pathname;
const UI_PATHS = new Set(['/', '/alerts', '/rules', '/graph', '/flags', '/status']);

export { parseRuleConfig, ruleFlags, type RuleConfig } from './config.ts';
export { loadRuleFiles, parseQueryResponse } from '../../../lib/rules/mod.ts';

export interface RuleComponent extends Component {
  evaluator(): Evaluator;
  /** The local TSDB; undefined in stateless mode (--remote-write.config*). */
  tsdb: RuleTSDB | undefined;
  /** The remote-write queues in stateless mode. */
  remoteWrite: RemoteWriteQueue[];
}

export async function createRule(ctx: ComponentContext, cfg: RuleConfig): Promise<RuleComponent> {
  const log = ctx.log;
  const ext = cfg.externalLabels;
  const dataDir = ctx.dataDir ?? ctx.fs.resolve('data');
  const readText = async (p: string) => new TextDecoder().decode(await ctx.fs.readFile(ctx.fs.resolve(p)));
  // Stateless mode: Thanos ignores an empty remote-write config and runs with its TSDB.
  const rwText = cfg.remoteWriteConfigFile ? await readText(cfg.remoteWriteConfigFile) : cfg.remoteWriteConfig;
  const rwConfigs = rwText.trim() !== '' ? parseRemoteWriteConfig(rwText) : [];
  const stateless = rwConfigs.length > 0;
  const bucket = await optionalBucket(ctx);
  if (stateless && bucket) throw new Error('--objstore.config(-file) has no effect with --remote-write.config(-file): a stateless ruler has no TSDB blocks to upload');
  if (bucket && Object.keys(ext).length === 0) log.warn('object storage configured but no --label external labels: blocks will not be uploaded (Thanos refuses blocks without external labels)');
  let tsdb: RuleTSDB | undefined;
  if (!stateless) {
    const opened = await RuleTSDB.open({
      fs: ctx.fs, dir: dataDir, core: ctx.core, log, metrics: ctx.metrics, externalLabels: ext,
      blockDurationMs: cfg.blockDurationMs, retentionMs: cfg.retentionMs, bucket,
    });
    tsdb = opened.tsdb;
    const replay = opened.replay;
    log.info('rule TSDB opened', { dir: dataDir, blocks: replay.blocks, wal_records: replay.walRecords, samples: replay.samples, upload: bucket !== undefined });
  }
  const queryUrl = (cfg.alertQueryUrl || (ctx.addresses?.http ? `http://${ctx.addresses.http.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}` : 'http://localhost:10902')).replace(/\/+$/, '');
  const m = ctx.metrics;
  const ruleMetrics = new RuleMetrics(m);
  // pkg/discovery/dns providers of the ruler: thanos_rule_query_apis_dns_* and thanos_rule_alertmanagers_dns_*.
  const queryDns = dnsMetrics(m, 'thanos_rule_query_apis_');
  const amDns = dnsMetrics(m, 'thanos_rule_alertmanagers_');

  const viaCtx: typeof ctx.fetch = (input, init) => ctx.fetch(input, init);
  const rwLabels = ['remote_name', 'url'];
  const rwMetrics = stateless ? {
    sent: m.counter('prometheus_remote_storage_samples_total', 'Total number of samples sent to remote storage.', rwLabels),
    failed: m.counter('prometheus_remote_storage_samples_failed_total', 'Total number of samples which failed on send to remote storage, non-recoverable errors.', rwLabels),
    retried: m.counter('prometheus_remote_storage_samples_retried_total', 'Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.', rwLabels),
    dropped: m.counter('prometheus_remote_storage_samples_dropped_total', 'Total number of samples which were dropped because the in-memory queue was full.', rwLabels),
    pending: m.gauge('prometheus_remote_storage_samples_pending', 'The number of samples pending in the queue to be sent to the remote storage.', rwLabels),
  } : undefined;
  // A remote's tls_config: a fetch of its own (files read through ctx.fs, the read grant).
  const queues = await Promise.all(rwConfigs.map(async (c, i) => new RemoteWriteQueue(
    c, c.tls && customTls(c.tls) ? await tlsFetch(ctx, c.tls, `remote_write[${i}].tls_config`) : viaCtx, ext, rwMetrics, log,
  )));
  if (stateless) log.info('stateless mode: recorded samples are remote-written', { remotes: rwConfigs.map((c) => c.name).join(',') });
  // --query.config(-file) / --alertmanagers.config(-file): read and checked once at start.
  const sdError = (what: string) => (msg: string) => log.warn(`${what} service discovery`, { err: msg });
  const queryText = cfg.queryConfigFile ? await readText(cfg.queryConfigFile) : cfg.queryConfig;
  const resolve = ctx.resolve ? ctx.resolve.bind(ctx) as NonNullable<typeof ctx.resolve> : undefined;
  // An entry's http_config.tls_config: a fetch of its own (files read through ctx.fs, the read grant).
  const tlsOf = async (c: { http: { tls?: TlsFiles } }, where: string) => (c.http.tls && customTls(c.http.tls) ? tlsFetch(ctx, c.http.tls, `${where}.http_config.tls_config`) : undefined);
  const queryResolvers = queryText
    ? await Promise.all(parseQueryEndpointsConfig(queryText).map(async (c, i) => new EndpointsResolver(c, ctx.fs, sdError('query'), resolve, queryDns, await tlsOf(c, `query config[${i}]`))))
    : [];
  // dns+ --query / --alertmanagers.url values: each one a resolver of its own (tried after the plain URLs).
  const dnsUrl = (u: string, what: 'query' | 'alertmanager') => {
    // `dns+http://host:port/prefix`: the scheme and path become the entry's scheme and path_prefix.
    const d = parseDnsAddr(u);
    const hp = d.host.includes(':') ? `[${d.host}]` : d.host;
    return new EndpointsResolver({
      http: {}, staticConfigs: [`${d.qtype}+${hp}${d.port ? `:${d.port}` : ''}`], fileSdConfigs: [], scheme: d.scheme === 'https:' ? 'https' : 'http', pathPrefix: d.rest,
    }, ctx.fs, sdError(what), resolve, what === 'query' ? queryDns : amDns);
  };
  queryResolvers.push(...cfg.queries.filter(isDnsAddr).map((u) => dnsUrl(u, 'query')));
  const amText = cfg.alertmanagersConfigFile ? await readText(cfg.alertmanagersConfigFile) : cfg.alertmanagersConfig;
  const amConfigs = amText
    ? await Promise.all(parseAlertmanagersConfig(amText).map(async (c, i) => ({
      resolver: new EndpointsResolver(c, ctx.fs, sdError('alertmanager'), resolve, amDns, await tlsOf(c, `alertmanagers[${i}]`)), apiVersion: c.apiVersion, timeoutMs: c.timeoutMs,
    })))
    : [];
  amConfigs.push(...cfg.alertmanagersUrls.filter(isDnsAddr).map((u) => ({ resolver: dnsUrl(u, 'alertmanager'), apiVersion: 'v2' as const, timeoutMs: cfg.alertmanagersSendTimeoutMs })));
  if ((cfg.queries.some(isDnsAddr) || cfg.alertmanagersUrls.some(isDnsAddr)) && !resolve) {
    throw new ConfigError(cfg.queries.some(isDnsAddr) ? 'queries' : 'alertmanagersUrls', 'DNS service discovery (dns+, dnssrv+, dnssrvnoa+) needs the host\'s resolve capability, which this plugin host does not offer');
  }
  // First lookups before the first evaluation; then every sd-dns-interval (Thanos's ruler does the same).
  await Promise.all([...queryResolvers, ...amConfigs.map((c) => c.resolver)].map((r) => r.refreshDns()));
  const query = queryApiClient({ fetch: viaCtx, urls: cfg.queries.filter((u) => !isDnsAddr(u)), resolvers: queryResolvers, httpMethod: cfg.queryHttpMethod, timeoutMs: Math.max(cfg.evalIntervalMs, 10_000),
    onWarnings: (group) => ruleMetrics.warned(group),
  });
  const sendAlerts = alertSender({
    fetch: viaCtx, urls: cfg.alertmanagersUrls.filter((u) => !isDnsAddr(u)), configs: amConfigs, labelDrop: cfg.alertLabelDrop, timeoutMs: cfg.alertmanagersSendTimeoutMs, log, metrics: alertMetrics(m),
  });

  const evOpts = {
    query,
    record: async (s: RecordedSample[]) => {
      if (!tsdb) {
        for (const q of queues) q.append(s);
        return;
      }
      const r = await tsdb.append(s);
      if (r.refused > 0) {
        // Prometheus's rules manager logs these (out of order, duplicate, out of bounds) and counts nothing.
        log.debug('rule samples refused by the TSDB', { refused: r.refused });
      }
    },
    restoreForState: !stateless,
    externalLabels: ext,
    externalURL: queryUrl,
    defaultIntervalMs: cfg.evalIntervalMs,
    resendDelayMs: cfg.resendDelayMs,
  };
  let ev = new Evaluator(await loadRuleFiles(ctx, cfg.ruleFiles), evOpts);
  ruleMetrics.loadedGroups(ev.groups);
  if (ev.groups.length === 0) log.warn('no rule groups loaded', { 'rule-file': cfg.ruleFiles.join(',') });
  log.info('rules loaded', { groups: ev.groups.length, rules: ev.groups.reduce((a, g) => a + g.rules.length, 0) });

  let generation = new AbortController();
  let runSignal: AbortSignal | undefined;
  let loops: Promise<void>[] = [];

  async function groupLoop(e: Evaluator, g: GroupState, signal: AbortSignal, first: (g: GroupState) => void): Promise<void> {
    let lastTs = -Infinity;
    let evaluations = 0;
    while (!signal.aborted) {
      const ts = Evaluator.evalTimestamp(Date.now(), g.intervalMs);
      if (ts > lastTs) {
        // Prometheus: iterations the previous evaluation overran are missed (and still scheduled).
        const missed = Number.isFinite(lastTs) ? Math.max(0, Math.round((ts - lastTs) / g.intervalMs) - 1) : 0;
        lastTs = ts;
        ruleMetrics.iteration(g.group, missed);
        const labels = groupLabels(g.group);
        try {
          await e.evalGroup(g, ts, signal);
          ruleMetrics.evaluations.inc(labels, g.rules.length);
          for (const r of g.rules) if (r.health === 'err') {
            ruleMetrics.failures.inc(labels);
            log.warn('rule evaluation failed', { group: g.group.name, rule: r.rule.name, err: r.lastError });
          }
          ruleMetrics.evaluated(g.group, ts, g.evaluationTimeMs);
          await sendAlerts(e.alertsToSend(g, ts));
          // Prometheus restores `for` state after the second evaluation since the start, so that
          // recording rules the alerts depend on have caught up.
          if (++evaluations >= 2 && tsdb && Evaluator.needsRestore(g)) {
            await e.restoreForState(g, Date.now(), (ls, mint, maxt) => tsdb!.lastSample(ls, mint, maxt), cfg.forOutageToleranceMs, cfg.forGracePeriodMs);
          }
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
    let groups;
    try {
      groups = await loadRuleFiles(ctx, cfg.ruleFiles);
    } catch (e) {
      ruleMetrics.reloaded(false);
      throw e;
    }
    const next = new Evaluator(groups, evOpts, ev);
    generation.abort();
    await Promise.all(loops);
    ev = next;
    ruleMetrics.loadedGroups(ev.groups);
    generation = new AbortController();
    if (runSignal && !runSignal.aborted) loops = start(ev, AbortSignal.any([runSignal, generation.signal]));
    log.info('rules reloaded', { groups: ev.groups.length });
  }

  // Thanos's ruler UI: /alerts and /rules. generatorURL is <alert.query-url>/graph?g0.expr=…, and
  // alert.query-url defaults to the ruler itself, so /graph here shows the rules with that expression;
  // expression links go to alert.query-url's /graph (a querier's graph page when it points at one).
  const ui = uiRoutes({
    readFile: (p) => ctx.fs.readFile(p), uiDir: UI_DIR, uplotDir: UI_DIR,
    // --web.external-prefix / --web.prefix-header / --web.route-prefix, as the querier.
    linkPrefix: cfg.externalPrefix || cfg.routePrefix, prefixFor: webPrefixFor(cfg.externalPrefix, cfg.prefixHeader, cfg.routePrefix),
    pages: ['alerts', 'rules', 'flags', 'status'], aliases: { graph: 'rules' }, home: 'alerts', graphUrl: `${queryUrl}/graph`,
  });
  // Thanos's BaseAPI under /api/v1: status/flags (every flag as its string value), buildinfo, runtimeinfo.
  const startedAtMs = Date.now();
  const d = formatPromDuration;
  const flagsMap: Record<string, string> = {
    'rule-file': cfg.ruleFiles.join(','), 'eval-interval': d(cfg.evalIntervalMs), query: cfg.queries.join(','), 'query.http-method': cfg.queryHttpMethod,
    'query.config-file': cfg.queryConfigFile, 'query.sd-dns-interval': d(cfg.queryDnsIntervalMs), 'alertmanagers.url': cfg.alertmanagersUrls.join(','),
    'alertmanagers.config-file': cfg.alertmanagersConfigFile, 'alertmanagers.send-timeout': d(cfg.alertmanagersSendTimeoutMs),
    'alertmanagers.sd-dns-interval': d(cfg.alertmanagersDnsIntervalMs), label: Object.entries(ext).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(','),
    'alert.query-url': cfg.alertQueryUrl, 'alert.label-drop': cfg.alertLabelDrop.join(','), 'resend-delay': d(cfg.resendDelayMs),
    'tsdb.retention': d(cfg.retentionMs), 'tsdb.block-duration': d(cfg.blockDurationMs), 'tsdb.enable-native-histograms': String(cfg.enableNativeHistograms), 'for-outage-tolerance': d(cfg.forOutageToleranceMs),
    'for-grace-period': d(cfg.forGracePeriodMs), 'remote-write.config-file': cfg.remoteWriteConfigFile, 'data-dir': dataDir,
    'http-address': ctx.addresses?.http ?? '', 'grpc-address': ctx.addresses?.grpc ?? '',
    'web.route-prefix': cfg.routePrefix, 'web.external-prefix': cfg.externalPrefix, 'web.prefix-header': cfg.prefixHeader,
  };
  const status = statusApi({ flags: () => flagsMap, build: ctx.build, startedAtMs });
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

  async function maintenanceLoop(signal: AbortSignal): Promise<void> {
    // Prometheus checks for compactable head data every minute, the shipper syncs every 30s; short
    // block durations (tests) get a tick that keeps up with them.
    const every = Math.min(30_000, Math.max(500, cfg.blockDurationMs / 4));
    while (!signal.aborted && tsdb) {
      await sleep(every, signal);
      if (signal.aborted) return;
      const r = await tsdb.maintain();
      if (r.cut.length > 0 || r.uploaded.length > 0) log.info('rule TSDB maintenance', { blocks_cut: r.cut.length, blocks_uploaded: r.uploaded.length });
    }
  }

  async function dnsLoop(rs: EndpointsResolver[], every: number, signal: AbortSignal): Promise<void> {
    if (rs.length === 0) return;
    while (!signal.aborted) {
      await sleep(every, signal);
      if (signal.aborted) return;
      await Promise.all(rs.map((r) => r.refreshDns().catch((e: Error) => log.warn('DNS service discovery', { err: e.message }))));
    }
  }

  return {
    tsdb,
    remoteWrite: queues,
    evaluator: () => ev,
    info() {
      const labelSets = Object.keys(ext).length > 0 ? [{ ...ext }] : [];
      // Stateless: no StoreAPI (the samples live in the remote storage), as Thanos's ruler.
      if (!tsdb) return { componentType: 'rule', labelSets, rules: {} };
      const minTime = tsdb.timeRange()?.minTime ?? MAX_TIME;
      return {
        componentType: 'rule',
        labelSets,
        store: { minTime, maxTime: MAX_TIME, supportsSharding: true, supportsWithoutReplicaLabels: true, tsdbInfos: labelSets.map((labels) => ({ labels, minTime, maxTime: MAX_TIME })) },
        rules: {},
      };
    },
    grpc: {
      ...(tsdb ? storeServices(tsdb) : {}),
      // thanos.Rules, advertised by info().rules: the querier's /api/v1/rules and /api/v1/alerts fan out to it.
      ...rulesServices(async () => ruleGroupsProto(ev, ext)),
    },
    http: routeInstrumentation([...RULE_API_ROUTES, ...REACT_UI_ROUTES], undefined, cfg.routePrefix),
    async fetch(outer: Request) {
      // Everything sits under --web.route-prefix; its root redirects to the alerts page.
      const req = underRoutePrefix(outer, cfg.routePrefix);
      if (!req) return new Response('404 page not found\n', { status: 404 });
      const url = new URL(req.url);
      const p = url.pathname;
      // Thanos's ruler answers these from its own Rules API (rule and alert labels with the external
      // labels; type, rule_name[], rule_group[], file[], match[]), in the querier's JSON.
      if ((p === '/api/v1/rules' || p === '/api/v1/alerts') && (req.method === 'GET' || req.method === 'POST')) {
        const alerts = p === '/api/v1/alerts';
        let r;
        try {
          r = rulesRequestFromQuery(url.searchParams, alerts, false);
        } catch (e) {
          return json({ status: 'error', errorType: 'bad_data', error: (e as Error).message }, 400);
        }
        const groups = filterRuleGroups(ruleGroupsProto(ev, ext), r);
        return new Response(`{"status":"success","data":${alerts ? alertsJson(groups) : rulesJson(groups)}}`, { headers: { 'Content-Type': 'application/json' } });
      }
      const statusRes = status(req);
      if (statusRes) return statusRes;
      if (p === '/-/reload' && req.method === 'POST') {
        try {
          await reload();
          return new Response('');
        } catch (e) {
          return new Response(`failed to reload rules: ${(e as Error).message}\n`, { status: 500 });
        }
      }
      if (req.method === 'GET' && (UI_PATHS.has(p) || p.startsWith('/static/'))) return ui.fetch(req);
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
      const maint = maintenanceLoop(signal);
      const dnsLoops = [
        dnsLoop(queryResolvers, cfg.queryDnsIntervalMs, signal),
        dnsLoop(amConfigs.map((c) => c.resolver), cfg.alertmanagersDnsIntervalMs, signal),
      ];
      const senders = queues.map((q) => q.run(signal));
      await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
      generation.abort();
      await Promise.all(loops);
      await maint;
      await Promise.all(dnsLoops);
      // Stateless: each queue had its last flush attempt (bounded) when the signal aborted.
      await Promise.all(senders);
      // The head stays in the WAL (replayed at the next start), as Prometheus's TSDB does on close;
      // blocks already cut get a last upload attempt.
      if (tsdb?.shipper) await tsdb.shipper.sync().catch((e: Error) => log.warn('final shipper sync failed', { err: e.message }));
      ctx.setReady(false);
    },
  };
}

export default definePlugin({
  manifest: {
    id: 'component:rule',
    apiVersion: 1,
    permissions: { net: true, read: true, write: true },
    description: 'Reads rule files; reaches the query APIs (--query) and Alertmanagers (--alertmanagers.url) over HTTP; read/write: the TSDB (WAL and blocks) under --data-dir.',
  },
  flags: ruleFlags,
  parseConfig: parseRuleConfig,
  setup: (ctx, cfg: RuleConfig) => createRule(ctx, cfg),
});
