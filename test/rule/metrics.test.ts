// lib/rules/metrics.ts: the ruler's Prometheus rule-group metrics (rule_group + strategy), created
// at 0 when a group loads and deleted when a reload drops it; missed iterations; loaded_rules with
// upstream's capitalised strategy; the reload outcome; warnings per strategy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from '../../host/metrics.ts';
import { RuleMetrics } from '../../lib/rules/metrics.ts';
import { DnsProvider, dnsMetrics, type DnsResolver } from '../../lib/rules/dns.ts';
import type { RuleGroup } from '../../lib/rules/parse.ts';

const group = (name: string, strategy?: 'warn' | 'abort'): RuleGroup => ({ file: '/r.yml', name, limit: 0, rules: [], partialResponseStrategy: strategy });
const lines = (reg: Registry, name: string) => reg.render().split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

test('groups: series at 0 on load, per strategy; a dropped group\'s series are deleted; missed iterations counted', () => {
  const reg = new Registry();
  const m = new RuleMetrics(reg);
  const a = group('a');
  const w = group('w', 'warn');
  m.loadedGroups([{ group: a, intervalMs: 30_000, rules: [1, 2] }, { group: w, intervalMs: 1000, rules: [1] }]);
  assert.equal(lines(reg, 'prometheus_rule_evaluations_total'), [
    'prometheus_rule_evaluations_total{rule_group="/r.yml;a",strategy="abort"} 0',
    'prometheus_rule_evaluations_total{rule_group="/r.yml;w",strategy="warn"} 0',
  ]);
  assert.equal(lines(reg, 'prometheus_rule_group_interval_seconds'), [
    'prometheus_rule_group_interval_seconds{rule_group="/r.yml;a",strategy="abort"} 30',
    'prometheus_rule_group_interval_seconds{rule_group="/r.yml;w",strategy="warn"} 1',
  ]);
  assert.equal(lines(reg, 'thanos_rule_loaded_rules'), [
    'thanos_rule_loaded_rules{strategy="ABORT",file="/r.yml",group="a"} 2',
    'thanos_rule_loaded_rules{strategy="WARN",file="/r.yml",group="w"} 1',
  ]);
  m.iteration(a, 0);
  m.iteration(a, 3);
  assert.equal(lines(reg, 'prometheus_rule_group_iterations_total'), [
    'prometheus_rule_group_iterations_total{rule_group="/r.yml;a",strategy="abort"} 5',
    'prometheus_rule_group_iterations_total{rule_group="/r.yml;w",strategy="warn"} 0',
  ]);
  assert.ok(lines(reg, 'prometheus_rule_group_iterations_missed_total').includes('prometheus_rule_group_iterations_missed_total{rule_group="/r.yml;a",strategy="abort"} 3'));
  m.evaluated(a, 1_700_000_000_000, 250);
  assert.ok(lines(reg, 'prometheus_rule_group_last_duration_seconds').includes('prometheus_rule_group_last_duration_seconds{rule_group="/r.yml;a",strategy="abort"} 0.25'));
  // Reload without w: its series go, a's stay (counters keep counting).
  m.loadedGroups([{ group: a, intervalMs: 30_000, rules: [1, 2] }]);
  for (const name of ['prometheus_rule_evaluations_total', 'prometheus_rule_group_interval_seconds', 'prometheus_rule_group_last_evaluation_timestamp_seconds', 'thanos_rule_loaded_rules']) {
    assert.ok(!lines(reg, name).some((l) => l.includes('"/r.yml;w"') || l.includes('group="w"')), `${name} still has w`);
  }
  assert.ok(lines(reg, 'prometheus_rule_group_iterations_total').includes('prometheus_rule_group_iterations_total{rule_group="/r.yml;a",strategy="abort"} 5'));
});

test('reload outcome and warnings per strategy', () => {
  const reg = new Registry();
  const m = new RuleMetrics(reg);
  assert.equal(lines(reg, 'thanos_rule_evaluation_with_warnings_total'), [
    'thanos_rule_evaluation_with_warnings_total{strategy="abort"} 0',
    'thanos_rule_evaluation_with_warnings_total{strategy="warn"} 0',
  ]);
  m.warned(group('w', 'warn'));
  assert.ok(lines(reg, 'thanos_rule_evaluation_with_warnings_total').includes('thanos_rule_evaluation_with_warnings_total{strategy="warn"} 1'));
  m.loadedGroups([]);
  assert.equal(lines(reg, 'thanos_rule_config_last_reload_successful'), ['thanos_rule_config_last_reload_successful 1']);
  m.reloaded(false);
  assert.equal(lines(reg, 'thanos_rule_config_last_reload_successful'), ['thanos_rule_config_last_reload_successful 0']);
});

test('DNS provider: one lookup per dns+ address per refresh, failures counted (pkg/discovery/dns)', async () => {
  const reg = new Registry();
  const fail = new Set<string>();
  const resolve = (async (name: string, type: string) => {
    if (fail.has(name)) throw Object.assign(new Error('SERVFAIL'), { code: 'ESERVFAIL' });
    return type === 'A' ? ['10.0.0.1'] : [];
  }) as unknown as DnsResolver;
  const p = new DnsProvider(resolve, () => {}, dnsMetrics(reg, 'thanos_rule_query_apis_'));
  assert.equal(lines(reg, 'thanos_rule_query_apis_dns_lookups_total'), ['thanos_rule_query_apis_dns_lookups_total 0']);
  await p.refresh(['dns+a.example:9090', 'dns+b.example:9090', 'http://plain:1']);
  fail.add('b.example');
  await p.refresh(['dns+a.example:9090', 'dns+b.example:9090']);
  assert.equal(lines(reg, 'thanos_rule_query_apis_dns_lookups_total'), ['thanos_rule_query_apis_dns_lookups_total 4']);
  assert.equal(lines(reg, 'thanos_rule_query_apis_dns_failures_total'), ['thanos_rule_query_apis_dns_failures_total 1']);
  // the failed address keeps its previous answer
  assert.equal(p.addresses(['dns+b.example:9090']), ['10.0.0.1:9090']);
});

test.run();
