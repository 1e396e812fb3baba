// /api/v1/rules and /api/v1/alerts in Prometheus's JSON shape (plus Thanos's partialResponseStrategy),
// and the same state as thanos.Rules groups (ruleGroupsProto).
import type { ActiveAlert, Evaluator, RuleState } from './eval.ts';
import { labelsFromRecord, type Label } from '../labels/mod.ts';
import { ZERO_TIME, type Rule, type RuleGroup } from '../proto/rules.ts';
import type { Timestamp } from '../proto/targets.ts';

/** strconv.FormatFloat(v, 'e', -1, 64), as Prometheus writes alert values: 1e+00, 1.5e+03. */
export function formatAlertValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const [m, e] = v.toExponential().split('e');
  const x = Number(e);
  return `${m}e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`;
}

const time = (ms: number | undefined) => (ms === undefined ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString());

function withExternal(ls: Record<string, string>, ext: Record<string, string>): Record<string, string> {
  const out = { ...ls };
  for (const [k, v] of Object.entries(ext)) if (out[k] === undefined || out[k] === '') out[k] = v;
  return out;
}

function alertJSON(a: ActiveAlert, ext: Record<string, string>) {
  return {
    labels: withExternal(a.labels, ext),
    annotations: a.annotations,
    state: a.state,
    activeAt: time(a.activeAt),
    value: formatAlertValue(a.value),
    partialResponseStrategy: 'ABORT',
  };
}

function ruleState(r: RuleState): 'inactive' | 'pending' | 'firing' {
  let s: 'inactive' | 'pending' | 'firing' = 'inactive';
  for (const a of r.active.values()) {
    if (a.state === 'firing') return 'firing';
    if (a.state === 'pending') s = 'pending';
  }
  return s;
}

export function rulesJSON(ev: Evaluator, opts: { type?: 'alert' | 'record'; externalLabels: Record<string, string> }) {
  const groups = ev.groups.map((g) => ({
    name: g.group.name,
    file: g.group.file,
    rules: g.rules.filter((r) => !opts.type || r.rule.kind === opts.type).map((r) => {
      const common = {
        name: r.rule.name,
        query: r.rule.expr,
        labels: r.rule.labels,
        health: r.health,
        ...(r.lastError ? { lastError: r.lastError } : {}),
        evaluationTime: r.evaluationTimeMs / 1000,
        lastEvaluation: time(r.lastEvaluation),
      };
      if (r.rule.kind === 'record') return { ...common, type: 'recording' };
      return {
        state: ruleState(r),
        ...common,
        duration: r.rule.forMs / 1000,
        keepFiringFor: r.rule.keepFiringForMs / 1000,
        annotations: r.rule.annotations,
        alerts: [...r.active.values()].filter((a) => a.state !== 'inactive').map((a) => alertJSON(a, opts.externalLabels)),
        type: 'alerting',
      };
    }),
    interval: g.intervalMs / 1000,
    limit: g.group.limit,
    evaluationTime: g.evaluationTimeMs / 1000,
    lastEvaluation: time(g.lastEvaluation),
    partialResponseStrategy: (g.group.partialResponseStrategy ?? 'abort').toUpperCase(),
  }));
  return { groups };
}

export function alertsJSON(ev: Evaluator, ext: Record<string, string>) {
  const alerts = [];
  for (const g of ev.groups) for (const r of g.rules) for (const a of r.active.values()) if (a.state !== 'inactive') alerts.push(alertJSON(a, ext));
  return { alerts };
}

// ---- thanos.Rules (gRPC): the evaluator's state as rulespb groups -------------------------------

const msToTs = (ms: number | undefined): Timestamp => (ms === undefined ? ZERO_TIME : { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 });

/** External labels set over a label set (they win, as Thanos's enrichRulesWithExtLabels), sorted. */
function extend(ls: Record<string, string>, ext: Record<string, string>): Label[] {
  return labelsFromRecord({ ...ls, ...ext }).slice();
}

/** The evaluator's groups as thanos.Rules answers: rule and alert labels carry the external labels. */
export function ruleGroupsProto(ev: Evaluator, ext: Record<string, string>): RuleGroup[] {
  return ev.groups.map((g) => {
    const prs = (g.group.partialResponseStrategy ?? 'abort') === 'warn' ? 0 : 1;
    const rules: Rule[] = g.rules.map((r) => {
      const common = { name: r.rule.name, query: r.rule.expr, labels: extend(r.rule.labels, ext), health: r.health, lastError: r.lastError ?? '', evaluationDurationSeconds: r.evaluationTimeMs / 1000, lastEvaluation: msToTs(r.lastEvaluation) };
      if (r.rule.kind === 'record') return { kind: 'recording' as const, ...common };
      return {
        kind: 'alert' as const, ...common, state: ruleState(r), durationSeconds: r.rule.forMs / 1000, keepFiringForSeconds: r.rule.keepFiringForMs / 1000,
        annotations: labelsFromRecord(r.rule.annotations).slice(),
        alerts: [...r.active.values()].filter((a) => a.state !== 'inactive').map((a) => ({
          labels: extend(a.labels, ext), annotations: labelsFromRecord(a.annotations).slice(), state: a.state, activeAt: msToTs(a.activeAt),
          value: formatAlertValue(a.value), partialResponseStrategy: prs,
        })),
      };
    });
    return {
      name: g.group.name, file: g.group.file, rules, interval: g.intervalMs / 1000, evaluationDurationSeconds: g.evaluationTimeMs / 1000,
      lastEvaluation: msToTs(g.lastEvaluation), limit: g.group.limit, partialResponseStrategy: prs,
    };
  });
}
