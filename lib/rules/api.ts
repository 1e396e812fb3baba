// The evaluator's state as thanos.Rules groups (ruleGroupsProto): what the ruler's gRPC Rules API
// and its /api/v1/rules|alerts (lib/query/rules.ts's JSON) answer; alert values as Prometheus's.
import type { Evaluator, RuleState } from './eval.ts';
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

function ruleState(r: RuleState): 'inactive' | 'pending' | 'firing' {
  let s: 'inactive' | 'pending' | 'firing' = 'inactive';
  for (const a of r.active.values()) {
    if (a.state === 'firing') return 'firing';
    if (a.state === 'pending') s = 'pending';
  }
  return s;
}

// ---- thanos.Rules (gRPC): the evaluator's state as rulespb groups -------------------------------

const msToTs = (ms: number | undefined): Timestamp => (ms === undefined ? ZERO_TIME : { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 });

/** External labels set over a label set (they win, as Thanos's enrichRulesWithExtLabels), sorted. */
function extend(ls: Record<string, string>, ext: Record<string, string>): Label[] {
  return labelsFromRecord({ ...ls, ...ext }).slice();
}

/**
 * The evaluator's groups as thanos.Rules answers, sorted by file then name as Prometheus's
 * RuleGroups() lists them; rule and alert labels carry the external labels.
 */
export function ruleGroupsProto(ev: Evaluator, ext: Record<string, string>): RuleGroup[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...ev.groups].sort((a, b) => cmp(a.group.file, b.group.file) || cmp(a.group.name, b.group.name)).map((g) => {
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
