// The ruler's metrics as Thanos exposes them: Prometheus's rules-manager group metrics (Thanos runs
// one manager per partial response strategy, so each carries strategy="abort"|"warn" next to
// rule_group="<file>;<group>"), thanos_rule_loaded_rules, thanos_rule_config_last_reload_*,
// thanos_rule_evaluation_with_warnings_total, and pkg/alert's queue and sender metrics.
import type { Counter, Gauge, Histogram, Metrics } from '../sdk/mod.ts';
import type { RuleGroup } from './parse.ts';

type Strategy = 'abort' | 'warn';
type GroupLabels = { rule_group: string; strategy: string };

/** Prometheus's GroupKey (file;name) and Thanos's strategy label of a group (default abort). */
export function groupLabels(g: RuleGroup): GroupLabels {
  return { rule_group: `${g.file};${g.name}`, strategy: strategyOf(g) };
}

function strategyOf(g: RuleGroup): Strategy {
  return g.partialResponseStrategy === 'warn' ? 'warn' : 'abort';
}

/** The registry's per-series delete (host/metrics.ts), when the registry has one. */
function removeSeries(m: Counter | Gauge, labels: Record<string, string>): void {
  (m as { remove?: (labels: Record<string, string>) => void }).remove?.(labels);
}

export class RuleMetrics {
  readonly evaluations: Counter;
  readonly failures: Counter;
  private readonly missed: Counter;
  private readonly iterations: Counter;
  private readonly interval: Gauge;
  private readonly lastEval: Gauge;
  private readonly lastDuration: Gauge;
  private readonly rules: Gauge;
  private readonly loadedRules: Gauge;
  private readonly reloadOk: Gauge;
  private readonly reloadOkTime: Gauge;
  private readonly warnings: Counter;
  private groups = new Map<string, GroupLabels>();
  private loaded: Array<Record<string, string>> = [];

  constructor(m: Metrics) {
    const gl = ['rule_group', 'strategy'];
    this.evaluations = m.counter('prometheus_rule_evaluations_total', 'The total number of rule evaluations.', gl);
    this.failures = m.counter('prometheus_rule_evaluation_failures_total', 'The total number of rule evaluation failures.', gl);
    this.missed = m.counter('prometheus_rule_group_iterations_missed_total', 'The total number of rule group evaluations missed due to slow rule group evaluation.', gl);
    this.iterations = m.counter('prometheus_rule_group_iterations_total', 'The total number of scheduled rule group evaluations, whether executed or missed.', gl);
    this.interval = m.gauge('prometheus_rule_group_interval_seconds', 'The interval of a rule group.', gl);
    this.lastEval = m.gauge('prometheus_rule_group_last_evaluation_timestamp_seconds', 'The timestamp of the last rule group evaluation in seconds.', gl);
    this.lastDuration = m.gauge('prometheus_rule_group_last_duration_seconds', 'The duration of the last rule group evaluation.', gl);
    this.rules = m.gauge('prometheus_rule_group_rules', 'The number of rules.', gl);
    this.loadedRules = m.gauge('thanos_rule_loaded_rules', 'Loaded rules partitioned by file and group.', ['strategy', 'file', 'group']);
    this.reloadOk = m.gauge('thanos_rule_config_last_reload_successful', 'Whether the last configuration reload attempt was successful.');
    this.reloadOkTime = m.gauge('thanos_rule_config_last_reload_success_timestamp_seconds', 'Timestamp of the last successful configuration reload.');
    this.warnings = m.counter('thanos_rule_evaluation_with_warnings_total', 'The total number of rule evaluation that were successful but had non PromQL warnings which can indicate partial error.', ['strategy']);
    for (const strategy of ['abort', 'warn']) this.warnings.inc({ strategy }, 0);
  }

  /**
   * A (re)load of the rule files: Prometheus creates each group's series (counters at 0, interval
   * and rule count set) and deletes those of groups that are gone; Thanos resets thanos_rule_loaded_rules
   * (strategy in capitals there: ABORT / WARN) and records the reload outcome.
   */
  loadedGroups(groups: ReadonlyArray<{ group: RuleGroup; intervalMs: number; rules: readonly unknown[] }>): void {
    const next = new Map<string, GroupLabels>();
    for (const g of groups) {
      const l = groupLabels(g.group);
      next.set(JSON.stringify(l), l);
      for (const c of [this.evaluations, this.failures, this.missed, this.iterations]) c.inc(l, 0);
      this.interval.set(g.intervalMs / 1000, l);
      this.rules.set(g.rules.length, l);
      this.lastEval.inc(l, 0);
      this.lastDuration.inc(l, 0);
    }
    for (const [k, l] of this.groups) {
      if (next.has(k)) continue;
      for (const m of [this.evaluations, this.failures, this.missed, this.iterations, this.interval, this.rules, this.lastEval, this.lastDuration]) removeSeries(m, l);
    }
    this.groups = next;
    for (const l of this.loaded) removeSeries(this.loadedRules, l);
    this.loaded = groups.map((g) => ({ strategy: strategyOf(g.group).toUpperCase(), file: g.group.file, group: g.group.name }));
    groups.forEach((g, i) => this.loadedRules.inc(this.loaded[i]!, g.rules.length));
    this.reloaded(true);
  }

  /** The outcome of a configuration (rule files) reload. */
  reloaded(ok: boolean): void {
    this.reloadOk.set(ok ? 1 : 0);
    if (ok) this.reloadOkTime.set(Date.now() / 1000);
  }

  /** One scheduled iteration that ran, after `missed` that could not (the previous one overran). */
  iteration(g: RuleGroup, missed: number): void {
    const l = groupLabels(g);
    this.iterations.inc(l, 1 + missed);
    if (missed > 0) this.missed.inc(l, missed);
  }

  /** A finished group evaluation: its timestamp and how long it took. */
  evaluated(g: RuleGroup, tsMs: number, durationMs: number): void {
    const l = groupLabels(g);
    this.lastEval.set(tsMs / 1000, l);
    this.lastDuration.set(durationMs / 1000, l);
  }

  /** A rule query answered with warnings (a partial answer) under the group's strategy. */
  warned(g: RuleGroup | undefined): void {
    this.warnings.inc({ strategy: g ? strategyOf(g) : 'abort' });
  }
}

/** pkg/alert's Queue and Sender metrics. */
export interface AlertMetrics {
  queuePushed: Counter;
  queuePopped: Counter;
  queueDropped: Counter;
  sent: Counter;
  errors: Counter;
  dropped: Counter;
  latency: Histogram;
}

export function alertMetrics(m: Metrics): AlertMetrics {
  return {
    queueDropped: m.counter('thanos_alert_queue_alerts_dropped_total', 'Total number of alerts that were dropped from the queue.'),
    queuePushed: m.counter('thanos_alert_queue_alerts_pushed_total', 'Total number of alerts pushed to the queue.'),
    queuePopped: m.counter('thanos_alert_queue_alerts_popped_total', 'Total number of alerts popped from the queue.'),
    sent: m.counter('thanos_alert_sender_alerts_sent_total', 'Total number of alerts sent by alertmanager.', ['alertmanager']),
    errors: m.counter('thanos_alert_sender_errors_total', 'Total number of errors while sending alerts to alertmanager.', ['alertmanager']),
    dropped: m.counter('thanos_alert_sender_alerts_dropped_total', 'Total number of alerts dropped in case of all sends to alertmanagers failed.'),
    latency: m.histogram('thanos_alert_sender_latency_seconds', 'Latency for sending alert notifications (not including dropped notifications).', ['alertmanager']),
  };
}
