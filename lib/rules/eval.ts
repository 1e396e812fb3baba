// Rule evaluation as Prometheus's rules manager does it, with the I/O left to the caller: a query
// function (instant query at the group's evaluation timestamp), a sink for recorded samples, and the
// alerts to send. Alert state machine: inactive → pending (expr returns the series) → firing (after
// `for`) → resolved (inactive, sent with endsAt; kept 15m), `keep_firing_for` holds firing alerts
// after their series disappear. Recording rules write their samples (and stale markers for series
// that vanished); alerting rules write ALERTS{alertstate} and ALERTS_FOR_STATE like Prometheus.
import { STALE_NAN } from '../promql/mod.ts';
import type { FloatHistogram } from '../histogram/float.ts';
import { expandTemplate } from './template.ts';
import type { AlertingRule, RecordingRule, Rule, RuleGroup } from './parse.ts';

export interface QuerySample {
  metric: Record<string, string>;
  /** The float value; 0 for a histogram sample (promql.Sample's F beside its H). */
  value: number;
  histogram?: FloatHistogram;
}
/** An instant query at tsMs; `group` lets the caller apply per-group settings (partial_response_strategy). */
export type QueryFn = (expr: string, tsMs: number, signal?: AbortSignal, group?: RuleGroup) => Promise<QuerySample[]>;

export interface RecordedSample {
  labels: Record<string, string>;
  t: number;
  v: number;
  /** A native histogram sample (then `v` is unused); stale markers are always float StaleNaN. */
  h?: FloatHistogram;
}

export type AlertState = 'inactive' | 'pending' | 'firing';

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: AlertState;
  value: number;
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
  lastSentAt?: number;
  validUntil?: number;
  keepFiringSince?: number;
}

/** What Alertmanager's API v2 takes (POST /api/v2/alerts). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export type Health = 'unknown' | 'ok' | 'err';

export interface RuleState {
  rule: Rule;
  health: Health;
  lastError?: string;
  lastEvaluation?: number;
  evaluationTimeMs: number;
  /** Alerting rules: active alerts by label key. */
  active: Map<string, ActiveAlert>;
  /** Label keys written at the previous evaluation (for stale markers): recorded series, or ALERTS/ALERTS_FOR_STATE. */
  lastSeries: Map<string, Record<string, string>>;
  /**
   * Alerting rules: `for` state restored (Prometheus's rule.restored). Until then the rule writes
   * no ALERTS/ALERTS_FOR_STATE samples, so the restore reads what was written before the restart.
   */
  restored: boolean;
}

export interface GroupState {
  group: RuleGroup;
  intervalMs: number;
  rules: RuleState[];
  lastEvaluation?: number;
  evaluationTimeMs: number;
}

export interface EvaluatorOptions {
  query: QueryFn;
  /** Receives every recorded sample of one group evaluation at once (awaited: the WAL write). */
  record(samples: RecordedSample[]): unknown;
  externalLabels: Record<string, string>;
  /** Base of generatorURL and $externalURL (Thanos: --alert.query-url). */
  externalURL: string;
  defaultIntervalMs: number;
  resendDelayMs: number;
  /** How long resolved alerts stay and keep being sent (Prometheus: 15m). */
  resolvedRetentionMs?: number;
  /** Alerting rules start unrestored and wait for restoreForState (first load after a start). */
  restoreForState?: boolean;
}

/** Where restoreForState reads ALERTS_FOR_STATE: the newest sample of exactly these labels in [mint, maxt]. */
export type LastSampleFn = (labels: Record<string, string>, mint: number, maxt: number) => Promise<{ t: number; v: number } | undefined>;

const RESOLVED_RETENTION = 15 * 60_000;

export function labelKey(ls: Record<string, string>): string {
  return Object.keys(ls).sort().map((k) => `${k}\u0000${ls[k]}`).join('\u0001');
}

export class Evaluator {
  readonly groups: GroupState[];

  constructor(groups: RuleGroup[], private readonly opts: EvaluatorOptions, previous?: Evaluator) {
    this.groups = groups.map((g) => ({
      group: g,
      intervalMs: g.intervalMs ?? opts.defaultIntervalMs,
      evaluationTimeMs: 0,
      rules: g.rules.map((rule) => ({
        rule, health: 'unknown' as Health, evaluationTimeMs: 0, active: new Map(), lastSeries: new Map(),
        restored: !(opts.restoreForState && rule.kind === 'alert'),
      })),
    }));
    // Reload: carry alert state and series of rules that stayed the same (same file, group, name, expr).
    if (previous) {
      const old = new Map<string, RuleState>();
      for (const g of previous.groups) for (const r of g.rules) old.set(`${g.group.file}\u0000${g.group.name}\u0000${r.rule.kind}\u0000${r.rule.name}\u0000${r.rule.expr}`, r);
      for (const g of this.groups) for (const r of g.rules) {
        const o = old.get(`${g.group.file}\u0000${g.group.name}\u0000${r.rule.kind}\u0000${r.rule.name}\u0000${r.rule.expr}`);
        if (o) { r.active = o.active; r.lastSeries = o.lastSeries; r.health = o.health; r.lastError = o.lastError; r.lastEvaluation = o.lastEvaluation; r.restored = o.restored; }
      }
    }
  }

  /** The aligned evaluation timestamp of a group at wall time `now` (ms). */
  static evalTimestamp(now: number, intervalMs: number): number {
    return now - (now % intervalMs);
  }

  /** Evaluates every rule of a group at `ts` (in order, so later rules see earlier ones' output once stored). */
  async evalGroup(g: GroupState, ts: number, signal?: AbortSignal): Promise<void> {
    const start = Date.now();
    const out: RecordedSample[] = [];
    for (const rs of g.rules) {
      signal?.throwIfAborted();
      const t0 = Date.now();
      try {
        if (rs.rule.kind === 'record') await this.evalRecording(rs, rs.rule, g.group, ts, out, signal);
        else await this.evalAlerting(rs, rs.rule, g, ts, out, signal);
        rs.health = 'ok';
        rs.lastError = undefined;
      } catch (e) {
        if (signal?.aborted) throw e;
        rs.health = 'err';
        rs.lastError = (e as Error).message;
      }
      rs.lastEvaluation = ts;
      rs.evaluationTimeMs = Date.now() - t0;
    }
    g.lastEvaluation = ts;
    g.evaluationTimeMs = Date.now() - start;
    if (out.length > 0) await this.opts.record(out);
  }

  private async evalRecording(rs: RuleState, rule: RecordingRule, group: RuleGroup, ts: number, out: RecordedSample[], signal?: AbortSignal): Promise<void> {
    let res: QuerySample[];
    try {
      res = await this.opts.query(rule.expr, ts, signal, group);
    } catch (e) {
      this.staleAll(rs, ts, out);
      throw e;
    }
    const seen = new Map<string, Record<string, string>>();
    const samples: RecordedSample[] = [];
    for (const s of res) {
      const ls: Record<string, string> = { ...s.metric, __name__: rule.name };
      for (const [k, v] of Object.entries(rule.labels)) {
        if (v === '') delete ls[k];
        else ls[k] = v;
      }
      const key = labelKey(ls);
      if (seen.has(key)) throw new Error('vector contains metrics with the same labelset after applying rule labels');
      seen.set(key, ls);
      samples.push(s.histogram ? { labels: ls, t: ts, v: 0, h: s.histogram } : { labels: ls, t: ts, v: s.value });
    }
    if (group.limit > 0 && samples.length > group.limit) {
      this.staleAll(rs, ts, out);
      throw new Error(`exceeded limit of ${group.limit} with ${samples.length} series`);
    }
    out.push(...samples);
    for (const [k, ls] of rs.lastSeries) if (!seen.has(k)) out.push({ labels: ls, t: ts, v: STALE_NAN });
    rs.lastSeries = seen;
  }

  private staleAll(rs: RuleState, ts: number, out: RecordedSample[]): void {
    for (const ls of rs.lastSeries.values()) out.push({ labels: ls, t: ts, v: STALE_NAN });
    rs.lastSeries = new Map();
  }

  private async evalAlerting(rs: RuleState, rule: AlertingRule, g: GroupState, ts: number, out: RecordedSample[], signal?: AbortSignal): Promise<void> {
    const res = await this.opts.query(rule.expr, ts, signal, g.group);
    const seen = new Set<string>();
    const tmplName = `__alert_${rule.name}`;
    for (const s of res) {
      const metric: Record<string, string> = { ...s.metric };
      delete metric.__name__;
      // Prometheus's AlertTemplateData: $value is the histogram itself for a histogram sample (printed
      // as its String()); the alert's own value stays the sample's float, 0.
      const data = { labels: metric, externalLabels: this.opts.externalLabels, externalURL: this.opts.externalURL, value: s.histogram ?? s.value };
      const ls: Record<string, string> = { ...metric };
      for (const [k, v] of Object.entries(rule.labels)) {
        const x = expandTemplate(v, tmplName, data);
        if (x === '') delete ls[k];
        else ls[k] = x;
      }
      ls.alertname = rule.name;
      const ann: Record<string, string> = {};
      for (const [k, v] of Object.entries(rule.annotations)) ann[k] = expandTemplate(v, tmplName, data);
      const key = labelKey(ls);
      if (seen.has(key)) throw new Error('vector contains metrics with the same labelset after applying alert labels');
      seen.add(key);
      const a = rs.active.get(key);
      if (a && a.state !== 'inactive') {
        a.value = s.value;
        a.annotations = ann;
        a.labels = ls;
        a.keepFiringSince = undefined;
        continue;
      }
      rs.active.set(key, { labels: ls, annotations: ann, state: 'pending', value: s.value, activeAt: ts });
    }
    if (g.group.limit > 0 && seen.size > g.group.limit) {
      rs.active.clear();
      throw new Error(`exceeded limit of ${g.group.limit} with ${seen.size} alerts`);
    }
    const retention = this.opts.resolvedRetentionMs ?? RESOLVED_RETENTION;
    for (const [key, a] of rs.active) {
      if (!seen.has(key)) {
        if (a.state === 'pending' || (a.resolvedAt !== undefined && ts - a.resolvedAt > retention)) {
          rs.active.delete(key);
          continue;
        }
        if (a.state !== 'inactive') {
          if (rule.keepFiringForMs > 0 && a.state === 'firing') {
            a.keepFiringSince ??= ts;
            if (ts - a.keepFiringSince < rule.keepFiringForMs) continue;
          }
          a.state = 'inactive';
          a.resolvedAt = ts;
        }
        continue;
      }
      if (a.state === 'pending' && ts - a.activeAt >= rule.forMs) {
        a.state = 'firing';
        a.firedAt = ts;
      }
    }
    // ALERTS / ALERTS_FOR_STATE series, as Prometheus writes them (once the rule's state is restored).
    // Series written at the previous evaluation and not now (a resolved alert, pending -> firing)
    // get a stale marker, as Prometheus's group does for every rule's output.
    if (!rs.restored) return;
    const written = new Map<string, Record<string, string>>();
    const emit = (labels: Record<string, string>, v: number) => {
      written.set(labelKey(labels), labels);
      out.push({ labels, t: ts, v });
    };
    for (const a of rs.active.values()) {
      if (a.state === 'inactive') continue;
      emit({ ...a.labels, __name__: 'ALERTS', alertstate: a.state }, 1);
      // Whole seconds, as Prometheus writes float64(ActiveAt.Unix()).
      emit({ ...a.labels, __name__: 'ALERTS_FOR_STATE' }, Math.floor(a.activeAt / 1000));
    }
    for (const [k, ls] of rs.lastSeries) if (!written.has(k)) out.push({ labels: ls, t: ts, v: STALE_NAN });
    rs.lastSeries = written;
  }

  /** Whether a group still has alerting rules waiting for restoreForState. */
  static needsRestore(g: GroupState): boolean {
    return g.rules.some((r) => !r.restored);
  }

  /**
   * Prometheus's RestoreForState, run at `ts` after the group's second evaluation after a start:
   * for each active alert of an unrestored rule, the newest ALERTS_FOR_STATE sample within
   * [ts - outageTolerance, ts] gives the original activeAt (its value, in seconds) and the time the
   * ruler went down (its timestamp). An alert that had already fired gets its activeAt back; one
   * that was pending gets it shifted by the downtime, but never so that it fires within
   * gracePeriod of `ts`. Rules whose `for` is shorter than gracePeriod are not restored at all.
   */
  async restoreForState(g: GroupState, ts: number, lastSample: LastSampleFn, outageToleranceMs: number, gracePeriodMs: number): Promise<void> {
    const mint = ts - outageToleranceMs;
    for (const rs of g.rules) {
      if (rs.restored || rs.rule.kind !== 'alert') continue;
      const hold = rs.rule.forMs;
      if (hold < gracePeriodMs) {
        rs.restored = true;
        continue;
      }
      for (const a of rs.active.values()) {
        if (a.state === 'inactive') continue;
        const s = await lastSample({ ...a.labels, __name__: 'ALERTS_FOR_STATE' }, mint, ts);
        if (!s || !Number.isFinite(s.v)) continue;
        // Prometheus works in whole seconds here (time.Unix(int64(v), 0), time.Unix(t/1000, 0)).
        let activeAt = Math.trunc(s.v) * 1000;
        const downAt = Math.trunc(s.t / 1000) * 1000;
        const remaining = hold - (downAt - activeAt);
        if (remaining <= 0) {
          // It was firing when the ruler went down: the next evaluation fires it again.
        } else if (remaining < gracePeriodMs) {
          activeAt = ts + gracePeriodMs - hold;
        } else {
          activeAt += ts - downAt;
        }
        a.activeAt = activeAt;
      }
      rs.restored = true;
    }
  }

  /** Alerts of a group due for (re)sending at `ts` (Prometheus sendAlerts); marks them sent. */
  alertsToSend(g: GroupState, ts: number): AlertmanagerAlert[] {
    const out: AlertmanagerAlert[] = [];
    const resend = this.opts.resendDelayMs;
    for (const rs of g.rules) {
      if (rs.rule.kind !== 'alert') continue;
      for (const a of rs.active.values()) {
        if (a.state === 'pending') continue;
        const due = (a.resolvedAt !== undefined && (a.lastSentAt === undefined || a.resolvedAt > a.lastSentAt)) || a.lastSentAt === undefined || a.lastSentAt + resend <= ts;
        if (!due) continue;
        a.lastSentAt = ts;
        const delta = Math.max(resend, g.intervalMs);
        a.validUntil = ts + 4 * delta;
        const labels = { ...a.labels };
        for (const [k, v] of Object.entries(this.opts.externalLabels)) if (labels[k] === undefined || labels[k] === '') labels[k] = v;
        out.push({
          labels,
          annotations: a.annotations,
          startsAt: new Date(a.firedAt ?? a.activeAt).toISOString(),
          endsAt: new Date(a.resolvedAt ?? a.validUntil).toISOString(),
          generatorURL: generatorURL(this.opts.externalURL, rs.rule.expr),
        });
      }
    }
    return out;
  }
}

/** Prometheus/Thanos generatorURL: <query url>/graph?g0.expr=<expr>&g0.tab=1. */
export function generatorURL(base: string, expr: string): string {
  return `${base.replace(/\/+$/, '')}/graph?g0.expr=${encodeURIComponent(expr).replace(/%20/g, '+')}&g0.tab=1`;
}
