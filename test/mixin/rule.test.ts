// The thanos-mixin's rule metrics and the ruler's pages on a real `thanos rule`: it evaluates two
// groups (partial_response_strategy abort and warn) against a real Prometheus 2.42 reached through
// `--query=dns+localhost:<port>` (so the ruler's DNS provider looks it up), sends its firing alert to a
// real Alertmanager 0.25 and to a second Alertmanager address nobody listens on, and is reloaded
// (a group removed, then a broken file). Checked: every metric and label the mixin reads of rule is
// exposed and follows the evaluations, sends and reloads; `/` redirects to /alerts as upstream's UI;
// /flags and /status render the status API (/api/v1/status/{flags,buildinfo,runtimeinfo}) in
// headless Chromium without console errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, startProc, thanos, waitFor, type Proc } from '../query/harness.ts';
import { startPrometheus, type PromProc } from '../sidecar/harness.ts';
import { mixinGaps, seriesOf, valueOf, type Exempt } from './components.ts';
import { checkStatusPages } from './statuspages.ts';

const dir = mkdtempSync(join(tmpdir(), 'mixin-rule-'));
let prom: PromProc | undefined;
let am: Proc | undefined;
let rule: Proc | undefined;

test.after(async () => {
  await rule?.kill();
  await am?.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The mixin's slips: labels upstream's ruler does not have either. */
const RULE_EXEMPT: Exempt[] = [
  { metric: 'prometheus_rule_group_interval_seconds', label: 'group', reason: 'ThanosRuleNoEvaluationFor10Intervals groups by `group`; Prometheus\'s label is rule_group' },
  { metric: 'prometheus_rule_group_last_evaluation_timestamp_seconds', label: 'group', reason: 'likewise' },
  { metric: 'thanos_alert_sender_alerts_dropped_total', label: 'alertmanager', reason: 'pkg/alert\'s counter has no labels; the dashboard sums by alertmanager anyway' },
];

const RULES = (withWarnGroup: boolean) => `groups:
  - name: mixin-abort
    interval: 1s
    rules:
      - record: mixin:one
        expr: vector(1)
      - alert: MixinFiring
        expr: vector(1)
        labels: { severity: none }
${withWarnGroup ? `  - name: mixin-warn
    interval: 1s
    partial_response_strategy: warn
    rules:
      - record: mixin:two
        expr: vector(2)
` : ''}`;

test('thanos rule: the mixin\'s rule metrics with their labels; evaluations, sends, DNS lookups and reloads counted; its pages', async () => {
  mkdirSync(join(dir, 'prom'));
  prom = await startPrometheus(join(dir, 'prom'));
  const amPort = await freePort();
  const deadAm = await freePort();
  mkdirSync(join(dir, 'am'));
  writeFileSync(join(dir, 'am.yml'), 'route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n');
  am = startProc('alertmanager', '/usr/bin/prometheus-alertmanager', [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], dir);
  await waitFor(() => httpReady(amPort), STARTUP_MS, 'alertmanager ready', am.logs);

  const rulesFile = join(dir, 'rules.yml');
  writeFileSync(rulesFile, RULES(true));
  const http = await freePort();
  const grpc = await freePort();
  rule = thanos('rule', [
    'rule', `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${grpc}`, `--data-dir=${join(dir, 'data')}`, `--rule-file=${rulesFile}`,
    `--query=dns+localhost:${prom.port}`, `--alertmanagers.url=http://127.0.0.1:${amPort}`, `--alertmanagers.url=http://127.0.0.1:${deadAm}`,
    '--eval-interval=1s', '--label=rule_replica="0"', '--alertmanagers.send-timeout=2s',
  ], dir);
  await waitFor(() => httpReady(http), STARTUP_MS, 'ruler ready', rule.logs);
  const base = `http://127.0.0.1:${http}`;
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  const abort = { rule_group: `${rulesFile};mixin-abort`, strategy: 'abort' };
  const warn = { rule_group: `${rulesFile};mixin-warn`, strategy: 'warn' };
  await waitFor(async () => {
    const m = await metrics();
    return valueOf(m, 'prometheus_rule_evaluations_total', abort) >= 4 && valueOf(m, 'prometheus_rule_evaluations_total', warn) >= 2
      && valueOf(m, 'thanos_alert_sender_alerts_sent_total', { alertmanager: `127.0.0.1:${amPort}` }) >= 1
      && valueOf(m, 'thanos_alert_sender_errors_total', { alertmanager: `127.0.0.1:${deadAm}` }) >= 1;
  }, STARTUP_MS, 'evaluations and sends', rule.logs);

  const m = await metrics();
  assert.equal(mixinGaps('rule', m, RULE_EXEMPT), [], 'the ruler exposes what the mixin reads');
  // Prometheus's group metrics, one series per group and strategy (Thanos's per-strategy managers).
  assert.is(valueOf(m, 'prometheus_rule_evaluation_failures_total', abort), 0);
  assert.is(valueOf(m, 'prometheus_rule_group_interval_seconds', warn), 1);
  assert.is(valueOf(m, 'prometheus_rule_group_rules', abort), 2);
  assert.ok(valueOf(m, 'prometheus_rule_group_iterations_total', abort) >= 2);
  assert.is(seriesOf(m, 'prometheus_rule_group_iterations_missed_total', abort).length, 1);
  assert.ok(valueOf(m, 'prometheus_rule_group_last_evaluation_timestamp_seconds', abort) > Date.now() / 1000 - 60);
  assert.is(seriesOf(m, 'prometheus_rule_group_last_duration_seconds', warn).length, 1);
  assert.is(valueOf(m, 'thanos_rule_loaded_rules', { strategy: 'ABORT', file: rulesFile, group: 'mixin-abort' }), 2);
  assert.is(valueOf(m, 'thanos_rule_loaded_rules', { strategy: 'WARN', file: rulesFile, group: 'mixin-warn' }), 1);
  assert.equal(seriesOf(m, 'thanos_rule_evaluation_with_warnings_total').map((s) => s.labels.strategy).sort(), ['abort', 'warn']);
  assert.is(valueOf(m, 'thanos_rule_config_last_reload_successful'), 1);
  // pkg/alert: the batch passed the queue, one Alertmanager took it (none dropped), latency by host.
  assert.ok(valueOf(m, 'thanos_alert_queue_alerts_pushed_total') >= 1);
  assert.is(valueOf(m, 'thanos_alert_queue_alerts_dropped_total'), 0);
  assert.is(valueOf(m, 'thanos_alert_sender_alerts_dropped_total'), 0);
  assert.ok(valueOf(m, 'thanos_alert_sender_latency_seconds_count', { alertmanager: `127.0.0.1:${amPort}` }) >= 1);
  // The DNS provider of --query looked localhost up.
  assert.ok(valueOf(m, 'thanos_rule_query_apis_dns_lookups_total') >= 1);
  assert.is(valueOf(m, 'thanos_rule_query_apis_dns_failures_total'), 0);
  assert.is(valueOf(m, 'thanos_rule_alertmanagers_dns_lookups_total'), 0);

  // Reload without the warn group: its series are gone (as Prometheus deletes a stopped group's);
  // then a broken file: the reload fails and says so.
  writeFileSync(rulesFile, RULES(false));
  assert.is((await fetch(`${base}/-/reload`, { method: 'POST' })).status, 200);
  let after = await metrics();
  assert.is(seriesOf(after, 'prometheus_rule_group_interval_seconds', warn).length, 0);
  assert.is(seriesOf(after, 'thanos_rule_loaded_rules', { group: 'mixin-warn' }).length, 0);
  assert.is(valueOf(after, 'prometheus_rule_group_interval_seconds', abort), 1);
  writeFileSync(rulesFile, 'groups: [{ name: broken, rules: [{ record: x }] }]\n');
  assert.is((await fetch(`${base}/-/reload`, { method: 'POST' })).status, 500);
  after = await metrics();
  assert.is(valueOf(after, 'thanos_rule_config_last_reload_successful'), 0);
  assert.ok(valueOf(after, 'thanos_rule_config_last_reload_success_timestamp_seconds') > 0);

  // Pages: `/` redirects to /alerts (upstream's UI home for the ruler); /flags and /status are
  // served and read the status API.
  await checkStatusPages(base, 'eval-interval', '1s', '/alerts');
  const flags = (await (await fetch(`${base}/api/v1/status/flags`)).json()) as { data: Record<string, string> };
  assert.is(flags.data['rule-file'], rulesFile);
});

test.run();
