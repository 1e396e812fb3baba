// thanos.Rules/Rules codecs (proto/thanos/rules.proto; Thanos pkg/rules/rulespb/rpc.proto):
//   RulesRequest{Type type=1 (ALL=0, ALERT=1, RECORD=2); PartialResponseStrategy partial_response_strategy=2;
//     repeated string matcher_string=3; repeated string rule_name=4; repeated string rule_group=5; repeated string file=6}
//   RulesResponse{oneof result {RuleGroup group=1; string warning=2}}
//   RuleGroup{string name=1; string file=2; repeated Rule rules=3; double interval=4;
//     double evaluation_duration_seconds=5; Timestamp last_evaluation=6; int64 limit=9; PartialResponseStrategy=8}
//   Rule{oneof result {RecordingRule recording=1; Alert alert=2}}
//   Alert{AlertState state=1; string name=2; string query=3; double duration_seconds=4; LabelSet labels=5;
//     LabelSet annotations=6; repeated AlertInstance alerts=7; string health=8; string last_error=9;
//     double evaluation_duration_seconds=10; Timestamp last_evaluation=11; double keep_firing_for_seconds=12}
//   AlertInstance{LabelSet labels=1; LabelSet annotations=2; AlertState state=3; Timestamp active_at=4;
//     string value=5; PartialResponseStrategy=6}
//   RecordingRule{string name=1; string query=2; LabelSet labels=3; string health=4; string last_error=5;
//     double evaluation_duration_seconds=6; Timestamp last_evaluation=7}
// Generated codecs (cold path: one answer per /api/v1/rules call and endpoint).
import type { Label } from '../labels/mod.ts';
import * as pb from './gen/thanos/rules_pb.ts';
import { decodeGen, encodeGen, fromInt64, labelsFromGen, labelsToGen, toInt64 } from './generated.ts';
import type { Timestamp } from './targets.ts';

export const RULES_METHOD = '/thanos.Rules/Rules';

export const RulesType = { ALL: 0, ALERT: 1, RECORD: 2 } as const;
/** AlertState numbering (Prometheus's StateInactive, StatePending, StateFiring). */
export const ALERT_STATES = ['inactive', 'pending', 'firing'] as const;
export type AlertStateName = (typeof ALERT_STATES)[number];

/** Go's zero time.Time as a Timestamp (what an unset time marshals to). */
export const ZERO_TIME: Timestamp = { seconds: -62135596800, nanos: 0 };

export interface RulesRequest {
  type: number;
  partialResponseStrategy: number;
  matcherString: string[];
  ruleName: string[];
  ruleGroup: string[];
  file: string[];
}

export interface AlertInstance {
  labels: Label[];
  annotations: Label[];
  state: AlertStateName;
  /** undefined: not set (Prometheus omits activeAt). */
  activeAt?: Timestamp;
  value: string;
  partialResponseStrategy: number;
}

export interface AlertingRule {
  kind: 'alert';
  state: AlertStateName;
  name: string;
  query: string;
  durationSeconds: number;
  labels: Label[];
  annotations: Label[];
  alerts: AlertInstance[];
  health: string;
  lastError: string;
  evaluationDurationSeconds: number;
  lastEvaluation: Timestamp;
  keepFiringForSeconds: number;
}

export interface RecordingRule {
  kind: 'recording';
  name: string;
  query: string;
  labels: Label[];
  health: string;
  lastError: string;
  evaluationDurationSeconds: number;
  lastEvaluation: Timestamp;
}

export type Rule = AlertingRule | RecordingRule;

export interface RuleGroup {
  name: string;
  file: string;
  rules: Rule[];
  interval: number;
  evaluationDurationSeconds: number;
  lastEvaluation: Timestamp;
  limit: number;
  partialResponseStrategy: number;
}

export type RulesResponse = { type: 'group'; group: RuleGroup } | { type: 'warning'; warning: string };

export function rulesRequest(p: Partial<RulesRequest> = {}): RulesRequest {
  return { type: 0, partialResponseStrategy: 0, matcherString: [], ruleName: [], ruleGroup: [], file: [], ...p };
}

export function encodeRulesRequest(m: RulesRequest): Uint8Array {
  return encodeGen(pb.RulesRequestSchema, {
    type: m.type, partialResponseStrategy: m.partialResponseStrategy, matcherString: m.matcherString, ruleName: m.ruleName, ruleGroup: m.ruleGroup, file: m.file,
  });
}

export function decodeRulesRequest(buf: Uint8Array): RulesRequest {
  const g = decodeGen(pb.RulesRequestSchema, buf);
  return { type: g.type, partialResponseStrategy: g.partialResponseStrategy, matcherString: g.matcherString, ruleName: g.ruleName, ruleGroup: g.ruleGroup, file: g.file };
}

const tsToGen = (t: Timestamp) => ({ seconds: toInt64(t.seconds), nanos: t.nanos });
const tsFromGen = (t: { seconds: bigint; nanos: number } | undefined): Timestamp => (t ? { seconds: fromInt64(t.seconds), nanos: t.nanos } : ZERO_TIME);
const stateNum = (s: AlertStateName) => Math.max(0, ALERT_STATES.indexOf(s));
const stateName = (n: number): AlertStateName => ALERT_STATES[n] ?? 'inactive';

function ruleToGen(r: Rule) {
  if (r.kind === 'recording') {
    return {
      result: {
        case: 'recording' as const,
        value: {
          name: r.name, query: r.query, labels: { labels: labelsToGen(r.labels) }, health: r.health, lastError: r.lastError,
          evaluationDurationSeconds: r.evaluationDurationSeconds, lastEvaluation: tsToGen(r.lastEvaluation),
        },
      },
    };
  }
  return {
    result: {
      case: 'alert' as const,
      value: {
        state: stateNum(r.state), name: r.name, query: r.query, durationSeconds: r.durationSeconds,
        labels: { labels: labelsToGen(r.labels) }, annotations: { labels: labelsToGen(r.annotations) },
        alerts: r.alerts.map((a) => ({
          labels: { labels: labelsToGen(a.labels) }, annotations: { labels: labelsToGen(a.annotations) }, state: stateNum(a.state),
          activeAt: a.activeAt ? tsToGen(a.activeAt) : undefined, value: a.value, PartialResponseStrategy: a.partialResponseStrategy,
        })),
        health: r.health, lastError: r.lastError, evaluationDurationSeconds: r.evaluationDurationSeconds,
        lastEvaluation: tsToGen(r.lastEvaluation), keepFiringForSeconds: r.keepFiringForSeconds,
      },
    },
  };
}

export function encodeRulesResponse(m: RulesResponse): Uint8Array {
  if (m.type === 'warning') return encodeGen(pb.RulesResponseSchema, { result: { case: 'warning', value: m.warning } });
  const g = m.group;
  return encodeGen(pb.RulesResponseSchema, {
    result: {
      case: 'group',
      value: {
        name: g.name, file: g.file, rules: g.rules.map(ruleToGen), interval: g.interval, evaluationDurationSeconds: g.evaluationDurationSeconds,
        lastEvaluation: tsToGen(g.lastEvaluation), limit: toInt64(g.limit), PartialResponseStrategy: g.partialResponseStrategy,
      },
    },
  });
}

export function decodeRulesResponse(buf: Uint8Array): RulesResponse {
  const g = decodeGen(pb.RulesResponseSchema, buf);
  if (g.result.case === 'warning') return { type: 'warning', warning: g.result.value };
  const x = g.result.value;
  const rules: Rule[] = [];
  for (const r of x?.rules ?? []) {
    if (r.result.case === 'recording') {
      const v = r.result.value;
      rules.push({
        kind: 'recording', name: v.name, query: v.query, labels: labelsFromGen(v.labels?.labels ?? []), health: v.health, lastError: v.lastError,
        evaluationDurationSeconds: v.evaluationDurationSeconds, lastEvaluation: tsFromGen(v.lastEvaluation),
      });
    } else if (r.result.case === 'alert') {
      const v = r.result.value;
      rules.push({
        kind: 'alert', state: stateName(v.state), name: v.name, query: v.query, durationSeconds: v.durationSeconds,
        labels: labelsFromGen(v.labels?.labels ?? []), annotations: labelsFromGen(v.annotations?.labels ?? []),
        alerts: v.alerts.map((a) => ({
          labels: labelsFromGen(a.labels?.labels ?? []), annotations: labelsFromGen(a.annotations?.labels ?? []), state: stateName(a.state),
          ...(a.activeAt ? { activeAt: tsFromGen(a.activeAt) } : {}), value: a.value, partialResponseStrategy: a.PartialResponseStrategy,
        })),
        health: v.health, lastError: v.lastError, evaluationDurationSeconds: v.evaluationDurationSeconds,
        lastEvaluation: tsFromGen(v.lastEvaluation), keepFiringForSeconds: v.keepFiringForSeconds,
      });
    }
    // A Rule with neither case set: skipped (nothing to show).
  }
  return {
    type: 'group',
    group: {
      name: x?.name ?? '', file: x?.file ?? '', rules, interval: x?.interval ?? 0, evaluationDurationSeconds: x?.evaluationDurationSeconds ?? 0,
      lastEvaluation: tsFromGen(x?.lastEvaluation), limit: fromInt64(x?.limit ?? 0n), partialResponseStrategy: x?.PartialResponseStrategy ?? 0,
    },
  };
}
