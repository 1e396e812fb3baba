// The Rules API on both sides: the gRPC client (thanos.Rules/Rules), the querier's fan-out over
// every endpoint that advertises it in its Info answer (rules), with Thanos's dedup on replica
// labels (pkg/rules/rules.go: groups merged by name+file, rules deduplicated without the replica
// labels, a firing / more recently evaluated copy preferred), the request filters a Rules server
// applies (type, rule_name, rule_group, file, matcher_string), and the JSON of /api/v1/rules and
// /api/v1/alerts in Prometheus's shape (plus Thanos's partialResponseStrategy).
import type { GrpcClientConn } from '../sdk/mod.ts';
import { compareLabels, compileMatcher, type Label, type Matcher } from '../labels/mod.ts';
import { parseExpr } from '../promql/parser.ts';
import {
  decodeRulesResponse, encodeRulesRequest, RULES_METHOD, RulesType, type AlertingRule, type AlertInstance, type Rule, type RuleGroup,
  type RulesRequest, type RulesResponse,
} from '../proto/rules.ts';
import type { Timestamp } from '../proto/targets.ts';
import { FanoutError, formatRfc3339Nano, type ApiSource } from './apis.ts';
import { formatJsonFloat, goJsonString } from './format.ts';

export interface RulesAPI {
  rules(req: RulesRequest, signal?: AbortSignal): AsyncIterable<RulesResponse>;
}

/** thanos.Rules client on a connection the caller dialled (close() closes it). */
export class RulesClient implements RulesAPI {
  constructor(private readonly conn: GrpcClientConn) {}
  rules(req: RulesRequest, signal?: AbortSignal): AsyncIterable<RulesResponse> {
    return this.conn.serverStream(RULES_METHOD, req, encodeRulesRequest, decodeRulesResponse, signal ? { signal } : {});
  }
  close(): void {
    this.conn.close();
  }
}

/** The endpoints to ask: healthy (or strict) ones whose Info advertises the Rules API and whose client speaks it. */
export function rulesSources(all: ReadonlyArray<{ spec: { address: string; strict?: boolean }; info?: { rules?: unknown } | null; lastError: string | null; client: unknown }>): Array<ApiSource<RulesAPI>> {
  const out: Array<ApiSource<RulesAPI>> = [];
  for (const s of all) {
    const api = s.client as Partial<RulesAPI>;
    if (s.info?.rules === undefined || !(s.lastError === null || s.spec.strict) || typeof api.rules !== 'function') continue;
    out.push({ name: s.spec.address, api: api as RulesAPI });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---- filters (what a Rules server applies to its answer) ----------------------------------------

/** match[] / matcher_string: each a series selector ({a="b"} or name{...}). Throws with the parser's message. */
export function parseRuleMatchers(strs: readonly string[]): Matcher[][] {
  return strs.map((s) => {
    let e = parseExpr(s);
    while (e.type === 'ParenExpr') e = e.expr;
    if (e.type !== 'VectorSelector' || e.offset !== 0 || e.at !== null || e.atModifier) throw new Error(`1:1: parse error: expected a metric selector, got ${JSON.stringify(s)}`);
    return e.matchers;
  });
}

/** Thanos's matches: only non-templated label values count (a templated value reads as empty). */
function matchesAny(ls: readonly Label[], sets: ReadonlyArray<readonly Matcher[]>): boolean {
  if (sets.length === 0) return true;
  const get = (n: string) => {
    const v = ls.find((l) => l.name === n)?.value ?? '';
    return v.includes('{{') ? '' : v;
  };
  return sets.some((ms) => ms.every((m) => compileMatcher(m).matches(get(m.name))));
}

/**
 * Applies a RulesRequest's filters: rule_group and file select groups, type and rule_name select
 * rules, matcher_string selects rules whose labels match any of the selectors. Groups emptied by
 * rule_name or matchers are dropped; groups emptied by type are kept (Thanos's rulespb note: "the
 * implementation has to return empty rule groups as well").
 */
export function filterRuleGroups(groups: readonly RuleGroup[], req: RulesRequest): RuleGroup[] {
  const sets = parseRuleMatchers(req.matcherString);
  const names = new Set(req.ruleName);
  const gnames = new Set(req.ruleGroup);
  const files = new Set(req.file);
  const out: RuleGroup[] = [];
  for (const g of groups) {
    if (gnames.size > 0 && !gnames.has(g.name)) continue;
    if (files.size > 0 && !files.has(g.file)) continue;
    let rules = g.rules;
    if (names.size > 0 || sets.length > 0) {
      rules = rules.filter((r) => (names.size === 0 || names.has(r.name)) && matchesAny(r.labels, sets));
      if (rules.length === 0) continue;
    }
    if (req.type === RulesType.ALERT) rules = rules.filter((r) => r.kind === 'alert');
    else if (req.type === RulesType.RECORD) rules = rules.filter((r) => r.kind === 'recording');
    out.push({ ...g, rules });
  }
  return out;
}

// ---- fan-out and dedup -------------------------------------------------------------------------

const STATE_RANK = { inactive: 0, pending: 1, firing: 2 } as const;

function tsCmp(a: Timestamp, b: Timestamp): number {
  return a.seconds - b.seconds || a.nanos - b.nanos;
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rule identity for dedup: name, kind (recording first), labels without replica labels. */
function ruleCmp(a: Rule, b: Rule): number {
  return cmpStr(a.name, b.name) || (a.kind === b.kind ? 0 : a.kind === 'recording' ? -1 : 1) || compareLabels(a.labels, b.labels);
}

/** <0 when `a` is the copy to keep: same query first, then (alerts) the higher state, then the more recent evaluation. */
function preferCmp(a: Rule, b: Rule): number {
  const q = cmpStr(a.query, b.query);
  if (q !== 0) return q;
  if (a.kind === 'alert' && b.kind === 'alert') {
    const s = STATE_RANK[b.state] - STATE_RANK[a.state];
    if (s !== 0) return s;
  }
  return -tsCmp(a.lastEvaluation, b.lastEvaluation);
}

function stripRule(r: Rule, drop: ReadonlySet<string>): Rule {
  const strip = (ls: Label[]) => ls.filter((l) => !drop.has(l.name)).sort((x, y) => cmpStr(x.name, y.name));
  if (r.kind === 'recording') return { ...r, labels: strip(r.labels) };
  return { ...r, labels: strip(r.labels), alerts: r.alerts.map((a) => ({ ...a, labels: strip(a.labels) })) };
}

/**
 * Thanos's dedupRules: replica labels removed, one rule per identity (the preferred copy), in the
 * order the identities first appeared (so one source's answer keeps its rule-file order).
 */
export function dedupRules(rules: readonly Rule[], replicaLabels: readonly string[]): Rule[] {
  const drop = new Set(replicaLabels);
  const rs = rules.map((r) => stripRule(r, drop));
  const order = rs.map((_, i) => i).sort((a, b) => ruleCmp(rs[a]!, rs[b]!) || a - b);
  const keep: Array<Rule | undefined> = new Array(rs.length);
  for (let i = 0; i < order.length;) {
    let first = order[i]!;
    let best = rs[first]!;
    let j = i + 1;
    for (; j < order.length && ruleCmp(rs[order[i]!]!, rs[order[j]!]!) === 0; j++) {
      first = Math.min(first, order[j]!);
      if (preferCmp(rs[order[j]!]!, best) < 0) best = rs[order[j]!]!;
    }
    keep[first] = best;
    i = j;
  }
  return keep.filter((r): r is Rule => r !== undefined);
}

/** Thanos's dedupGroups: groups with the same name and file merged, their rules deduplicated; sorted by name, file. */
export function dedupGroups(groups: readonly RuleGroup[], replicaLabels: readonly string[]): RuleGroup[] {
  const byKey = new Map<string, RuleGroup>();
  for (const g of groups) {
    const k = `${g.name}\u0000${g.file}`;
    const have = byKey.get(k);
    if (!have) byKey.set(k, { ...g, rules: [...g.rules] });
    else {
      have.rules.push(...g.rules);
      if (tsCmp(g.lastEvaluation, have.lastEvaluation) > 0) {
        have.lastEvaluation = g.lastEvaluation;
        have.evaluationDurationSeconds = g.evaluationDurationSeconds;
      }
    }
  }
  return [...byKey.values()]
    .sort((a, b) => cmpStr(a.name, b.name) || cmpStr(a.file, b.file))
    .map((g) => ({ ...g, rules: dedupRules(g.rules, replicaLabels) }));
}

function grpcText(e: unknown): string {
  const code = (e as { code?: number }).code;
  return code !== undefined && e instanceof Error && e.name === 'GrpcError' ? `rpc error: code = ${code} desc = ${e.message}` : e instanceof Error ? e.message : String(e);
}

/**
 * Asks every source concurrently. A failing source is a warning with partial response, else the
 * call fails (FanoutError, Thanos's "fetching rules from rules client <name>: <err>").
 */
export async function fanoutRules(
  sources: ReadonlyArray<ApiSource<RulesAPI>>, req: RulesRequest, replicaLabels: readonly string[], partial: boolean, signal?: AbortSignal,
): Promise<{ groups: RuleGroup[]; warnings: string[] }> {
  const warnings: string[] = [];
  const all: RuleGroup[] = [];
  const answers = await Promise.all(sources.map(async (s) => {
    const out: RuleGroup[] = [];
    try {
      for await (const r of s.api.rules(req, signal)) {
        if (r.type === 'warning') warnings.push(r.warning);
        else out.push(r.group);
      }
    } catch (e) {
      if (signal?.aborted) throw e;
      const msg = `fetching rules from rules client ${s.name}: ${grpcText(e)}`;
      if (!partial) throw new FanoutError(msg);
      warnings.push(msg);
      return [];
    }
    return out;
  }));
  for (const a of answers) all.push(...a);
  return { groups: dedupGroups(all, replicaLabels), warnings };
}

// ---- JSON (Prometheus's field names; Go's encoding of strings and floats) ----------------------

const PRS_NAMES = ['WARN', 'ABORT'];

function labelsJson(ls: readonly Label[]): string {
  return `{${[...ls].sort((a, b) => cmpStr(a.name, b.name)).map((l) => `${goJsonString(l.name)}:${goJsonString(l.value)}`).join(',')}}`;
}

const time = (t: Timestamp) => `"${formatRfc3339Nano(t)}"`;

function alertJson(a: AlertInstance): string {
  return `{"labels":${labelsJson(a.labels)},"annotations":${labelsJson(a.annotations)},"state":"${a.state}",` +
    (a.activeAt ? `"activeAt":${time(a.activeAt)},` : '') +
    `"value":${goJsonString(a.value)},"partialResponseStrategy":"${PRS_NAMES[a.partialResponseStrategy] ?? 'WARN'}"}`;
}

function ruleJson(r: Rule): string {
  const err = r.lastError !== '' ? `"lastError":${goJsonString(r.lastError)},` : '';
  if (r.kind === 'recording') {
    return `{"name":${goJsonString(r.name)},"query":${goJsonString(r.query)},` + (r.labels.length > 0 ? `"labels":${labelsJson(r.labels)},` : '') +
      `"health":${goJsonString(r.health)},${err}"evaluationTime":${formatJsonFloat(r.evaluationDurationSeconds)},"lastEvaluation":${time(r.lastEvaluation)},"type":"recording"}`;
  }
  return `{"state":"${r.state}","name":${goJsonString(r.name)},"query":${goJsonString(r.query)},"duration":${formatJsonFloat(r.durationSeconds)},` +
    `"keepFiringFor":${formatJsonFloat(r.keepFiringForSeconds)},"labels":${labelsJson(r.labels)},"annotations":${labelsJson(r.annotations)},` +
    `"alerts":[${r.alerts.map(alertJson).join(',')}],"health":${goJsonString(r.health)},${err}` +
    `"evaluationTime":${formatJsonFloat(r.evaluationDurationSeconds)},"lastEvaluation":${time(r.lastEvaluation)},"type":"alerting"}`;
}

/** The data of /api/v1/rules. */
export function rulesJson(groups: readonly RuleGroup[]): string {
  return `{"groups":[${groups.map((g) =>
    `{"name":${goJsonString(g.name)},"file":${goJsonString(g.file)},"rules":[${g.rules.map(ruleJson).join(',')}],` +
    `"interval":${formatJsonFloat(g.interval)},"limit":${g.limit},"evaluationTime":${formatJsonFloat(g.evaluationDurationSeconds)},` +
    `"lastEvaluation":${time(g.lastEvaluation)},"partialResponseStrategy":"${PRS_NAMES[g.partialResponseStrategy] ?? 'WARN'}"}`).join(',')}]}`;
}

/** The data of /api/v1/alerts: every pending or firing alert instance of the alerting rules. */
export function alertsJson(groups: readonly RuleGroup[]): string {
  const out: string[] = [];
  for (const g of groups) for (const r of g.rules) if (r.kind === 'alert') for (const a of r.alerts) out.push(alertJson(a));
  return `{"alerts":[${out.join(',')}]}`;
}

export type { AlertingRule };

/**
 * The RulesRequest of a querier's /api/v1/rules (alerts=false: type=alert|record, rule_name[],
 * rule_group[], file[], match[]) or /api/v1/alerts (alerting rules only). Throws with Thanos's
 * message on a bad parameter.
 */
export function rulesRequestFromQuery(q: URLSearchParams, alerts: boolean, partial: boolean): RulesRequest {
  let type: number = RulesType.ALERT;
  if (!alerts) {
    const t = q.get('type') ?? '';
    const n = ({ '': RulesType.ALL, ALL: RulesType.ALL, ALERT: RulesType.ALERT, RECORD: RulesType.RECORD } as Record<string, number>)[t.toUpperCase()];
    if (n === undefined) throw new Error(`invalid rules parameter type='${t}'`);
    type = n;
  }
  const matcherString = alerts ? [] : q.getAll('match[]');
  try {
    parseRuleMatchers(matcherString);
  } catch (e) {
    throw new Error(`invalid parameter match[]: ${(e as Error).message}`);
  }
  return {
    type, partialResponseStrategy: partial ? 0 : 1, matcherString,
    ruleName: alerts ? [] : q.getAll('rule_name[]'), ruleGroup: alerts ? [] : q.getAll('rule_group[]'), file: alerts ? [] : q.getAll('file[]'),
  };
}
