// The thanos-mixin's dashboards and alerts work against our components: every metric the mixin reads
// (test/mixin/extract.ts) is on the component's /metrics with the labels the mixin reads on it.
// One `thanos run` starts store, compact, receive, query, rule and sidecar (a real Prometheus
// 2.42 behind it, a real Alertmanager for the ruler) on one filesystem bucket seeded with blocks;
// real traffic (remote write, instant and range queries reaching the store and the receiver,
// rule evaluations, alerts, a compaction) runs before each /metrics is scraped. The coverage table
// is printed per component; each component must reach its minimum (raised as metrics land), and
// what we leave out on purpose is listed in EXEMPT with its reason.
//
// The same run checks the all-in-one's accounting: a bucket shared by several components counts each
// operation once, on the /metrics of the component that made it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mixinUses, type MetricUse } from './extract.ts';
import { freePort, httpReady, startProc, thanos, waitFor, type Proc } from '../query/harness.ts';
import { startPrometheus, type PromProc } from '../sidecar/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { fsBucket, putBlock, HOUR } from '../compact/helpers.ts';
import { sendRemoteWrite } from '../../lib/remote/write.ts';

/** Series in one exposition: name → label sets. */
export type Exposition = Map<string, Array<Map<string, string>>>;

/** Parses the Prometheus text format (0.0.4) into series names and label sets; HELP/TYPE skipped. */
export function parseExposition(text: string): Exposition {
  const out: Exposition = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels.set(l[1]!, l[2]!);
    let arr = out.get(m[1]!);
    if (!arr) out.set(m[1]!, (arr = []));
    arr.push(labels);
  }
  return out;
}

/**
 * What we do not expose, on purpose, with the reason. `label` set: only that label of the metric
 * is exempt. `component` unset: every component.
 */
interface Exemption { component?: string; metric: string | RegExp; label?: string; reason: string }
const EXEMPT: Exemption[] = [
  { metric: /^go_/, reason: 'Go runtime metrics; a Node.js process exposes process_* and nodejs_heap_size_*_bytes / nodejs_external_memory_bytes instead' },
  // The mixin's own slips: upstream exposes these exactly as we do.
  { component: 'store', metric: /^thanos_bucket_store_series_(blocks_queried|data_fetched|data_touched|result_series)$/, reason: 'mixin reads the histogram without _bucket (histogram_quantile over the family name); upstream exposes only _bucket/_sum/_count too' },
  { component: 'store', metric: 'thanos_bucket_store_block_drops_total', label: 'operation', reason: 'upstream\'s counter has no labels; the mixin\'s by (operation) groups into one empty value' },
  { component: 'store', metric: /^thanos_bucket_store_series_data_(fetched|touched)_(count|sum)$/, label: 'data_type', reason: 'present once traffic touched each data type; see thanos_bucket_store_series_data_*_bucket' },
  { component: 'store', metric: /^thanos_bucket_store_series_gate_duration_seconds_(bucket|count)$/, reason: 'a name from before pkg/gate named its metrics by operation: upstream (and we) expose thanos_bucket_store_series_gate_queries_duration_seconds' },
  ...['code', 'handler'].map((label) => ({ component: 'query-frontend', metric: 'thanos_query_frontend_queries_total', label, reason: 'upstream\'s counter (pkg/queryfrontend/roundtrip.go) has only `op`; the dashboard\'s by (handler, code) groups into one empty value' })),
  { component: 'compact', metric: 'thanos_compact_blocks_marked_for_deletion_total', reason: 'no longer in upstream: deletion marks are thanos_compact_blocks_marked_total{marker="deletion-mark.json"}' },
  { component: 'compact', metric: 'thanos_compact_downsample_failed_total', reason: 'no longer in upstream: thanos_compact_downsample_failures_total{resolution}' },
  { component: 'query', metric: /^thanos_query_store_apis_dns_(lookups|failures)_total$/, reason: 'the querier does no DNS lookups of its own: a dns+ endpoint is resolved by the gRPC channel, dnssrv+ is refused (upstream now names these thanos_query_endpoints_dns_*)' },
  { component: 'rule', metric: /^prometheus_rule_group_(interval_seconds|last_evaluation_timestamp_seconds)$/, label: 'group', reason: 'ThanosRuleNoEvaluationFor10Intervals groups by `group`; Prometheus\'s (and so upstream\'s) label is rule_group' },
  { component: 'rule', metric: 'thanos_alert_sender_alerts_dropped_total', label: 'alertmanager', reason: 'pkg/alert\'s counter has no labels; the dashboard sums by alertmanager anyway' },
  // Exposed only in some configurations or after some event, as upstream; test/mixin/{receive,rule}.test.ts cover them.
  { component: 'rule', metric: 'thanos_alert_sender_errors_total', reason: 'a series per Alertmanager from its first failed send (upstream does not pre-create it); test/mixin/rule.test.ts' },
  { component: 'receive', metric: /^thanos_receive_(config_last_reload_successful|hashring_nodes|hashrings_file_(errors|refreshes)_total)$/, reason: 'registered by the --receive.hashrings-file watcher (upstream\'s ConfigWatcher); test/mixin/receive.test.ts' },
  { component: 'receive', metric: 'thanos_receive_head_series_limited_requests_total', reason: 'a series per tenant once it is limited (head_series_limit with meta-monitoring, as upstream); test/mixin/receive.test.ts' },
  { component: 'sidecar', metric: 'prometheus_tsdb_data_replay_duration_seconds', reason: 'a Prometheus metric: upstream\'s dashboard reads it from the Prometheus job next to the sidecar' },
];

function exemption(component: string, metric: string, label?: string): Exemption | undefined {
  return EXEMPT.find((e) => (e.component === undefined || e.component === component)
    && (typeof e.metric === 'string' ? e.metric === metric : e.metric.test(metric))
    && (e.label === undefined || e.label === label));
}

/** Components of the mixin we do not have at all (no dashboards or alerts to satisfy). */
const ABSENT_COMPONENTS: Record<string, string> = {};

/**
 * Per component: how many of the mixin's metrics must be present with all their labels (exempt ones
 * count as covered). A ratchet: raise it as metrics land, never lower it.
 */
const MINIMUM: Record<string, number> = { store: 42, compact: 25, query: 19, 'query-frontend': 15, receive: 31, rule: 29, sidecar: 15, 'bucket-replicate': 6 };

interface Row { metric: string; status: 'ok' | 'exempt' | 'missing' | 'labels'; detail: string }

function coverage(component: string, uses: Map<string, MetricUse>, expo: Exposition): Row[] {
  const rows: Row[] = [];
  for (const u of [...uses.values()].sort((a, b) => a.metric.localeCompare(b.metric))) {
    const whole = exemption(component, u.metric);
    if (whole && whole.label === undefined) { rows.push({ metric: u.metric, status: 'exempt', detail: whole.reason }); continue; }
    const series = expo.get(u.metric);
    if (!series) { rows.push({ metric: u.metric, status: 'missing', detail: u.usedBy.slice(0, 2).join('; ') }); continue; }
    const needed = u.labels.filter((l) => !exemption(component, u.metric, l));
    // One series carrying every label read (a by(a, b) needs both on the same series).
    const ok = series.some((ls) => needed.every((l) => ls.has(l)));
    if (ok) rows.push({ metric: u.metric, status: 'ok', detail: '' });
    else {
      const seen = new Set(series.flatMap((ls) => [...ls.keys()]));
      rows.push({ metric: u.metric, status: 'labels', detail: `reads {${needed.join(',')}}, has {${[...seen].sort().join(',')}}` });
    }
  }
  return rows;
}

// ---- the stack ---------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'mixin-'));
const bucketDir = join(dir, 'bucket');
const ports: Record<string, number> = {};
let run: Proc | undefined;
let prom: PromProc | undefined;
let am: Proc | undefined;
const AM = '/usr/bin/prometheus-alertmanager';
const EXT = { cluster: 'mixin', replica: 'a' };
const scraped = new Map<string, { text: string; expo: Exposition }>();
/** Component ids of the stack = the mixin's component names. */
const COMPONENTS = ['store', 'compact', 'receive', 'sidecar', 'query', 'rule', 'query-frontend'];

const httpPort = (component: string) => ports[component === 'query-frontend' ? 'qfe_http' : `${component}_http`]!;

async function metricsOf(component: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${httpPort(component)}/metrics`);
  return r.text();
}

/** One sample of `name{labels...}` in an exposition text (sum over matching series). */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

// uvu reports a failing before hook only as failed tests, without the error: say it here.
test.before(async () => {
  try {
    await startStack();
  } catch (e) {
    console.error('the stack did not come up:', e);
    throw e;
  }
});

async function startStack(): Promise<void> {
  // Five 2h blocks of one stream, old enough that the first four are compacted into one 8h block at
  // once (the planner leaves the newest block of a stream alone, as upstream's does).
  const bucket = fsBucket(bucketDir);
  const t0 = Math.floor((Date.now() - 10 * 24 * HOUR) / (8 * HOUR)) * 8 * HOUR;
  for (let i = 0; i < 5; i++) await putBlock(bucket, { minTime: t0 + i * 2 * HOUR, maxTime: t0 + (i + 1) * 2 * HOUR, ext: { cluster: 'seeded' } });

  for (const k of ['store_http', 'store_grpc', 'compact_http', 'receive_http', 'receive_grpc', 'receive_rw', 'query_http', 'query_grpc', 'rule_http', 'rule_grpc', 'qfe_http', 'sidecar_http', 'sidecar_grpc', 'am']) ports[k] = await freePort();

  mkdirSync(join(dir, 'prom'));
  prom = await startPrometheus(join(dir, 'prom'), { ext: EXT });

  mkdirSync(join(dir, 'am'));
  writeFileSync(join(dir, 'am.yml'), 'route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n');
  am = startProc('alertmanager', AM, [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${ports.am}`, '--cluster.listen-address='], dir);
  await waitFor(() => httpReady(ports.am!), STARTUP_MS, 'alertmanager ready', am.logs);

  writeFileSync(join(dir, 'rules.yml'), `groups:
  - name: mixin
    interval: 1s
    rules:
      - record: mixin:up:sum
        expr: sum(up)
      - alert: MixinAlwaysFiring
        expr: vector(1)
        labels: { severity: none }
`);
  const all = '{ net: true, read: true, write: true }';
  const a = (k: string) => `127.0.0.1:${ports[k]}`;
  writeFileSync(join(dir, 'plugins.yaml'), `apiVersion: 1
log: { level: info, format: logfmt }
gracePeriod: 20s
objstore:
  - id: primary
    use: filesystem
    config: { directory: ${JSON.stringify(bucketDir)} }
    permissions: { read: [${JSON.stringify(bucketDir)}], write: [${JSON.stringify(bucketDir)}] }
components:
  - id: store
    use: store
    objstore: primary
    dataDir: ./data/store
    grpc: ${a('store_grpc')}
    http: ${a('store_http')}
    permissions: ${all}
  - id: compact
    use: compact
    objstore: primary
    dataDir: ./data/compact
    http: ${a('compact_http')}
    config: { wait: true, waitInterval: 5m }
    permissions: ${all}
  - id: receive
    use: receive
    objstore: primary
    grpc: ${a('receive_grpc')}
    http: ${a('receive_http')}
    config: { remoteWriteAddress: ${a('receive_rw')}, tsdbPath: ./data/receive, labels: ['receive_replica="0"'] }
    permissions: ${all}
  - id: sidecar
    use: sidecar
    objstore: primary
    grpc: ${a('sidecar_grpc')}
    http: ${a('sidecar_http')}
    config: { prometheusUrl: ${JSON.stringify(prom.url)}, tsdbPath: ${JSON.stringify(prom.dataDir)} }
    permissions: ${all}
  - id: query
    use: query
    dependsOn: [store, receive, sidecar]
    grpc: ${a('query_grpc')}
    http: ${a('query_http')}
    config: { endpoints: [${a('store_grpc')}, ${a('receive_grpc')}, ${a('sidecar_grpc')}] }
    permissions: ${all}
  - id: rule
    use: rule
    dependsOn: [query]
    dataDir: ./data/rule
    grpc: ${a('rule_grpc')}
    http: ${a('rule_http')}
    config:
      ruleFiles: [${JSON.stringify(join(dir, 'rules.yml'))}]
      queries: ['http://${a('query_http')}']
      alertmanagersUrls: ['http://${a('am')}']
      evalInterval: 1s
      labels: ['rule_replica="0"']
    permissions: ${all}
  - id: query-frontend
    use: query-frontend
    dependsOn: [query]
    http: ${a('qfe_http')}
    config:
      downstreamUrl: 'http://${a('query_http')}'
      queryRangeResponseCacheConfig: ${JSON.stringify('type: IN-MEMORY\nconfig: { max_size: 10MB }')}
    permissions: ${all}
`);
  run = thanos('run', ['run', '-c', join(dir, 'plugins.yaml')], dir);
  for (const c of COMPONENTS) {
    await waitFor(async () => {
      if (run!.proc.exitCode !== null) throw new Error(`thanos run exited (${run!.proc.exitCode}):\n${run!.logs().slice(-4000)}`);
      return httpReady(httpPort(c));
    }, STARTUP_MS, `${c} ready`, run.logs).catch((e) => { throw run!.proc.exitCode !== null ? new Error(`thanos run exited (${run!.proc.exitCode}):\n${run!.logs().slice(-4000)}`) : e; });
  }

  // Traffic: remote write into the receiver; queries through the querier reaching every store.
  const now = Date.now();
  await sendRemoteWrite(fetch, `http://${a('receive_rw')}/api/v1/receive`, {
    timeseries: [{ labels: [{ name: '__name__', value: 'mixin_probe' }, { name: 'job', value: 'mixin' }], samples: [{ value: 1, timestamp: now - 1000 }] }],
  });
  const q = `http://${a('query_http')}`;
  await waitFor(async () => {
    const r = await (await fetch(`${q}/api/v1/query?query=mixin_probe&time=${now / 1000}`)).json() as { data: { result: unknown[] } };
    return r.data.result.length > 0;
  }, STARTUP_MS, 'the remote-written sample through the querier', run.logs);
  // The seeded blocks through the store gateway (chunks fetched, series merged).
  await waitFor(async () => {
    const p = new URLSearchParams({ query: 'requests_total', start: String(t0 / 1000), end: String((t0 + 8 * HOUR) / 1000), step: '300' });
    const r = await (await fetch(`${q}/api/v1/query_range?${p}`)).json() as { data: { result: unknown[] } };
    return r.data.result.length > 0;
  }, STARTUP_MS, 'the seeded blocks through the querier', run.logs);
  // The same range query twice through the query frontend (split, then served from its cache).
  for (let i = 0; i < 2; i++) {
    const p = new URLSearchParams({ query: 'sum(requests_total)', start: String(t0 / 1000), end: String((t0 + 8 * HOUR) / 1000), step: '300' });
    const r = await fetch(`http://${a('qfe_http')}/api/v1/query_range?${p}`);
    assert.is(r.status, 200, await r.text());
  }
  await fetch(`${q}/api/v1/labels`).then((r) => r.text());
  await fetch(`${q}/api/v1/label/job/values`).then((r) => r.text());
  await fetch(`${q}/api/v1/series?match[]=up`).then((r) => r.text());
  // The compactor's first iteration (it compacts the four seeded blocks), the ruler's evaluations
  // and one alert sent.
  await waitFor(async () => valueOf(await metricsOf('compact'), 'thanos_compact_iterations_total') >= 1, STARTUP_MS, 'a compaction iteration', run.logs);
  await waitFor(async () => valueOf(await metricsOf('rule'), 'prometheus_rule_evaluations_total') >= 2, STARTUP_MS, 'rule evaluations', run.logs);
  await waitFor(async () => {
    const r = await (await fetch(`http://${a('am')}/api/v2/alerts`)).json() as unknown[];
    return r.length > 0;
  }, STARTUP_MS, 'an alert at the Alertmanager', () => run!.logs() + am!.logs());

  for (const c of COMPONENTS) {
    const text = await metricsOf(c);
    scraped.set(c, { text, expo: parseExposition(text) });
  }
  await scrapeBucketReplicate();
}

/** `thanos tools bucket replicate` (looping, not --single-run) from the stack's bucket into another, scraped after its first run. */
async function scrapeBucketReplicate(): Promise<void> {
  const port = await freePort();
  const toDir = join(dir, 'replica-bucket');
  mkdirSync(toDir);
  const cfg = (d: string) => `type: FILESYSTEM\nconfig:\n  directory: ${JSON.stringify(d)}\n`;
  const rep = thanos('bucket-replicate', ['tools', 'bucket', 'replicate', `--objstore.config=${cfg(bucketDir)}`, `--objstore-to.config=${cfg(toDir)}`, `--http-address=127.0.0.1:${port}`], dir);
  try {
    let text = '';
    await waitFor(async () => {
      if (rep.proc.exitCode !== null) throw new Error(`bucket replicate exited (${rep.proc.exitCode}):\n${rep.logs().slice(-4000)}`);
      text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
      return /^thanos_replicate_replication_runs_total\{result="success"\} 1$/m.test(text);
    }, STARTUP_MS, 'a bucket replicate run', rep.logs);
    assert.match(text, /^thanos_replicate_blocks_replicated_total [1-9]/m);
    scraped.set('bucket-replicate', { text, expo: parseExposition(text) });
  } finally {
    await rep.kill();
  }
}

test.after(async () => {
  await run?.kill();
  await am?.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('every metric the mixin reads is on its component\'s /metrics with the labels read', () => {
  const uses = mixinUses();
  const report: string[] = [];
  const below: string[] = [];
  for (const [component, metrics] of [...uses].sort()) {
    if (ABSENT_COMPONENTS[component]) {
      report.push(`${component}: ${metrics.size} metrics, not covered (${ABSENT_COMPONENTS[component]})`);
      continue;
    }
    const s = scraped.get(component);
    assert.ok(s, `the mixin has a component we did not start: ${component}`);
    const rows = coverage(component, metrics, s!.expo);
    const covered = rows.filter((r) => r.status === 'ok' || r.status === 'exempt').length;
    report.push(`${component}: ${covered}/${rows.length} (${rows.filter((r) => r.status === 'ok').length} present, ${rows.filter((r) => r.status === 'exempt').length} exempt)`);
    for (const r of rows) if (r.status === 'missing' || r.status === 'labels') report.push(`    ${r.status.padEnd(7)} ${r.metric}  ${r.detail}`);
    if (covered < (MINIMUM[component] ?? 0)) below.push(`${component}: ${covered} < minimum ${MINIMUM[component]}`);
  }
  console.log(`\nthanos-mixin coverage (metrics read by its alerts, rules and dashboards):\n${report.join('\n')}\n`);
  assert.equal(below, [], 'a component lost mixin coverage');
});

test('an exemption names a metric the mixin reads (no stale entries)', () => {
  const uses = mixinUses();
  for (const e of EXEMPT) {
    const hit = [...uses].some(([c, ms]) => (e.component === undefined || e.component === c)
      && [...ms.keys()].some((m) => (typeof e.metric === 'string' ? e.metric === m : e.metric.test(m))));
    assert.ok(hit, `exemption ${String(e.metric)} matches nothing the mixin reads`);
  }
});

test('thanos run: a shared bucket counts each operation once, on the component that made it', () => {
  const store = scraped.get('store')!.text;
  const compact = scraped.get('compact')!.text;
  const query = scraped.get('query')!.text;
  const op = (t: string, operation: string) => valueOf(t, 'thanos_objstore_bucket_operations_total', { bucket: 'primary', operation });
  // The compactor uploaded its compacted block; the store gateway never uploads.
  assert.ok(op(compact, 'upload') > 0, `the compactor uploaded\n${run!.logs().split('\n').filter((l) => l.includes('compact')).join('\n')}\n${compact}`);
  assert.is(op(store, 'upload'), 0, 'the store shows only its own operations');
  assert.ok(op(store, 'get_range') > 0, 'the store read chunks and index ranges');
  assert.ok(valueOf(compact, 'thanos_objstore_bucket_last_successful_upload_time', { bucket: 'primary' }) > 0);
  assert.is(valueOf(store, 'thanos_objstore_bucket_last_successful_upload_time', { bucket: 'primary' }), 0);
  // The querier has no bucket: no bucket metrics at all.
  assert.not.match(query, /^thanos_objstore_bucket_/m);
  // Each family once per exposition; process metrics on every component (one process).
  for (const [c, { text }] of scraped) {
    const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    assert.equal(types.filter((t, i) => types.indexOf(t) !== i), [], `${c}: a family twice`);
    assert.match(text, /^process_resident_memory_bytes \d/m, `${c}: process metrics`);
    assert.match(text, /^thanos_build_info\{/m, `${c}: thanos_build_info`);
  }
});

test.run();
