// Prometheus rule files (rulefmt): groups of recording and alerting rules, parsed strictly with the
// checks `promtool check rules` makes. Every error names the file, and where it can the line:column
// of the offending YAML node, the group, the 1-based rule index and the rule's name, in promtool's
// wording, e.g.
//   rules.yml: 5:15: group "g1", rule 1, "job:up:sum": could not parse expression: 1:17: parse error: …
import { parseDocument, LineCounter, isMap, isSeq, isScalar, type Node, type Pair, type YAMLMap } from '../cjs/yaml.ts';
import { parseExpr, type Expr } from '../promql/mod.ts';
import { checkTemplate } from './template.ts';
// Rule files type interval / for / keep_firing_for as model.Duration.
import { parsePromDuration } from '../duration/mod.ts';

export interface RuleBase {
  expr: string;
  ast: Expr;
  labels: Record<string, string>;
  /** 1-based line of the rule's first key in its file. */
  line: number;
}
export interface RecordingRule extends RuleBase { kind: 'record'; name: string }
export interface AlertingRule extends RuleBase {
  kind: 'alert';
  name: string;
  forMs: number;
  keepFiringForMs: number;
  annotations: Record<string, string>;
}
export type Rule = RecordingRule | AlertingRule;

export interface RuleGroup {
  file: string;
  name: string;
  /** undefined: the evaluator's default (--eval-interval). */
  intervalMs?: number;
  /** 0 = no limit on the series one rule may produce. */
  limit: number;
  /** Thanos extension (groups[].partial_response_strategy): warn | abort. */
  partialResponseStrategy?: 'warn' | 'abort';
  rules: Rule[];
}

export interface ParseRulesOptions {
  /** Accept Thanos's `partial_response_strategy` group field (thanos rule, thanos tools rules-check). Default true. */
  thanosExtensions?: boolean;
}

/** Thrown by parseRuleFileOrThrow: every problem found in a file. */
export class RuleFileError extends Error {
  constructor(public readonly file: string, public readonly errors: string[]) {
    super(errors.join('\n'));
    this.name = 'RuleFileError';
  }
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidMetricName(s: string): boolean { return METRIC_NAME_RE.test(s); }
export function isValidLabelName(s: string): boolean { return LABEL_NAME_RE.test(s); }

const GROUP_KEYS = new Set(['name', 'interval', 'limit', 'rules']);
const RULE_KEYS = new Set(['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);

/** Parses one rule file; never throws: `errors` is empty when the file is valid. */
export function parseRuleFile(file: string, src: string, opts: ParseRulesOptions = {}): { groups: RuleGroup[]; errors: string[] } {
  const thanos = opts.thanosExtensions ?? true;
  const lc = new LineCounter();
  const doc = parseDocument(src, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const errors: string[] = [];
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const at = e.linePos?.[0];
      errors.push(`${file}: yaml: ${at ? `line ${at.line}: ` : ''}${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    return { groups: [], errors };
  }
  const pos = (n: Node | null | undefined): string => {
    const off = n?.range?.[0];
    if (off === undefined) return '';
    const p = lc.linePos(off);
    return `${p.line}:${p.col}`;
  };
  const lineOf = (n: Node | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 0);
  const fail = (n: Node | null | undefined, msg: string) => {
    const p = pos(n);
    errors.push(`${file}: ${p ? `${p}: ` : ''}${msg}`);
  };

  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return { groups: [], errors };
  if (!isMap(root)) {
    fail(root, 'yaml: the rule file must be a mapping with a "groups" list');
    return { groups: [], errors };
  }
  let groupsNode: Node | undefined;
  for (const p of root.items as Pair<Node, Node>[]) {
    const k = keyOf(p);
    if (k === 'groups') groupsNode = p.value ?? undefined;
    else fail(p.key, `yaml: field ${k} not found in type rulefmt.RuleGroups`);
  }
  if (errors.length > 0) return { groups: [], errors };
  if (groupsNode === undefined || (isScalar(groupsNode) && groupsNode.value === null)) return { groups: [], errors };
  if (!isSeq(groupsNode)) {
    fail(groupsNode, 'yaml: "groups" must be a list');
    return { groups: [], errors };
  }

  const groups: RuleGroup[] = [];
  const seen = new Set<string>();
  for (const gNode of groupsNode.items as Node[]) {
    if (!isMap(gNode)) {
      fail(gNode, 'yaml: each group must be a mapping (name, interval, limit, rules)');
      continue;
    }
    const g = fields(gNode as YAMLMap<Node, Node>);
    for (const [k, p] of g) {
      if (!GROUP_KEYS.has(k) && !(thanos && k === 'partial_response_strategy')) fail(p.key, `yaml: field ${k} not found in type rulefmt.RuleGroup`);
    }
    const name = scalarString(g.get('name')?.value, file, 'name', fail) ?? '';
    const group: RuleGroup = { file, name, limit: 0, rules: [] };
    if (name === '') fail(gNode, 'Groupname must not be empty');
    else if (seen.has(name)) fail(gNode, `groupname: ${JSON.stringify(name)} is repeated in the same file`);
    seen.add(name);
    const iv = g.get('interval')?.value;
    if (iv && !(isScalar(iv) && iv.value === null)) {
      const s = scalarString(iv, file, 'interval', fail);
      if (s !== undefined) {
        try {
          group.intervalMs = parsePromDuration(s);
          if (group.intervalMs === 0) group.intervalMs = undefined;
        } catch (e) {
          fail(iv, `yaml: group ${JSON.stringify(name)}: interval: ${(e as Error).message}`);
        }
      }
    }
    const lim = g.get('limit')?.value;
    if (lim && isScalar(lim) && lim.value !== null) {
      if (typeof lim.value !== 'number' || !Number.isInteger(lim.value)) fail(lim, `yaml: group ${JSON.stringify(name)}: limit: cannot unmarshal ${JSON.stringify(String(lim.source ?? lim.value))} into int`);
      else group.limit = lim.value;
    }
    const prs = g.get('partial_response_strategy')?.value;
    if (thanos && prs && isScalar(prs) && prs.value !== null) {
      const v = String(prs.value).toLowerCase();
      if (v !== 'warn' && v !== 'abort') fail(prs, `group ${JSON.stringify(name)}: partial_response_strategy: must be warn or abort, got ${JSON.stringify(prs.value)}`);
      else group.partialResponseStrategy = v;
    }
    const rulesNode = g.get('rules')?.value;
    if (rulesNode && !(isScalar(rulesNode) && rulesNode.value === null)) {
      if (!isSeq(rulesNode)) fail(rulesNode, `yaml: group ${JSON.stringify(name)}: "rules" must be a list`);
      else {
        (rulesNode.items as Node[]).forEach((rNode, i) => {
          const r = parseRule(rNode, name, i + 1, { file, errors, fail, pos, lineOf });
          if (r) group.rules.push(r);
        });
      }
    }
    groups.push(group);
  }
  return { groups: errors.length ? [] : groups, errors };
}

export function parseRuleFileOrThrow(file: string, src: string, opts?: ParseRulesOptions): RuleGroup[] {
  const r = parseRuleFile(file, src, opts);
  if (r.errors.length > 0) throw new RuleFileError(file, r.errors);
  return r.groups;
}

type Fail = (n: Node | null | undefined, msg: string) => void;

function keyOf(p: Pair<Node, Node>): string {
  const k = p.key as unknown;
  return isScalar(k) ? String(k.value) : String(k);
}

function fields(m: YAMLMap<Node, Node>): Map<string, Pair<Node, Node>> {
  const out = new Map<string, Pair<Node, Node>>();
  for (const p of m.items) out.set(keyOf(p), p);
  return out;
}

/** A scalar as the string Go's yaml would give a string field (numbers and bools keep their source text). */
function scalarString(n: Node | null | undefined, _file: string, what: string, fail: Fail): string | undefined {
  if (n === undefined || n === null) return undefined;
  if (!isScalar(n)) {
    fail(n, `yaml: ${what}: cannot unmarshal a ${isMap(n) ? 'mapping' : 'list'} into a string`);
    return undefined;
  }
  if (n.value === null) return '';
  if (typeof n.value === 'string') return n.value;
  return n.source !== undefined ? String(n.source) : String(n.value);
}

function stringMap(n: Node | null | undefined, what: string, fail: Fail): Array<{ key: string; value: string; keyNode: Node; valueNode: Node | null }> | undefined {
  if (n === undefined || n === null || (isScalar(n) && n.value === null)) return [];
  if (!isMap(n)) {
    fail(n, `yaml: ${what}: must be a mapping of strings`);
    return undefined;
  }
  const out: Array<{ key: string; value: string; keyNode: Node; valueNode: Node | null }> = [];
  for (const p of (n as YAMLMap<Node, Node>).items) {
    const v = scalarString(p.value, '', `${what}.${keyOf(p)}`, fail);
    out.push({ key: keyOf(p), value: v ?? '', keyNode: p.key, valueNode: p.value });
  }
  return out;
}

interface Ctx {
  file: string;
  errors: string[];
  fail: Fail;
  pos(n: Node | null | undefined): string;
  lineOf(n: Node | null | undefined): number;
}

function parseRule(n: Node, group: string, idx: number, cx: Ctx): Rule | undefined {
  const { file, fail, lineOf } = cx;
  if (!isMap(n)) {
    fail(n, `group ${JSON.stringify(group)}, rule ${idx}: yaml: a rule must be a mapping`);
    return undefined;
  }
  const f = fields(n as YAMLMap<Node, Node>);
  const before = cx.errors.length;
  for (const [k, p] of f) if (!RULE_KEYS.has(k)) fail(p.key, `yaml: field ${k} not found in type rulefmt.RuleNode`);
  const recordNode = f.get('record')?.value;
  const alertNode = f.get('alert')?.value;
  const exprNode = f.get('expr')?.value;
  const record = scalarString(recordNode, file, 'record', fail) ?? '';
  const alert = scalarString(alertNode, file, 'alert', fail) ?? '';
  const expr = scalarString(exprNode, file, 'expr', fail) ?? '';
  const ruleName = alert !== '' ? alert : record;
  const where = `group ${JSON.stringify(group)}, rule ${idx}, ${JSON.stringify(ruleName)}`;
  const err = (node: Node | null | undefined, msg: string, alt?: Node | null) => {
    if (alt) {
      // promtool names both nodes: "7:17: 6:16: group …"
      fail(node, `${cx.pos(alt)}: ${where}: ${msg}`);
    } else fail(node, `${where}: ${msg}`);
  };
  let forMs = 0;
  let keepMs = 0;
  const durField = (key: string): number => {
    const dn = f.get(key)?.value;
    if (!dn || (isScalar(dn) && dn.value === null)) return 0;
    const s = scalarString(dn, file, key, fail);
    if (s === undefined) return 0;
    try {
      return parsePromDuration(s);
    } catch (e) {
      fail(dn, `yaml: ${where}: ${key}: ${(e as Error).message}`);
      return 0;
    }
  };
  forMs = durField('for');
  keepMs = durField('keep_firing_for');

  if (record !== '' && alert !== '') err(recordNode, "only one of 'record' and 'alert' must be set", alertNode);
  if (record === '' && alert === '') err(recordNode ?? alertNode ?? n, "one of 'record' or 'alert' must be set");
  let ast: Expr | undefined;
  if (expr === '') err(exprNode ?? n, "field 'expr' must be set in rule");
  else {
    try {
      ast = parseExpr(expr);
    } catch (e) {
      err(exprNode, `could not parse expression: ${(e as Error).message}`);
    }
  }
  const labels = stringMap(f.get('labels')?.value, 'labels', fail);
  const annotations = stringMap(f.get('annotations')?.value, 'annotations', fail);
  if (record !== '') {
    if (annotations && annotations.length > 0) err(recordNode, "invalid field 'annotations' in recording rule");
    if (forMs !== 0) err(recordNode, "invalid field 'for' in recording rule");
    if (keepMs !== 0) err(recordNode, "invalid field 'keep_firing_for' in recording rule");
    if (!isValidMetricName(record)) err(recordNode, `invalid recording rule name: ${record}`);
  }
  for (const l of labels ?? []) {
    if (!isValidLabelName(l.key) || l.key === '__name__') cx.errors.push(`${file}: ${where}: invalid label name: ${l.key}`);
  }
  for (const a of annotations ?? []) {
    if (!isValidLabelName(a.key)) cx.errors.push(`${file}: ${where}: invalid annotation name: ${a.key}`);
  }
  if (alert !== '') {
    // promtool reports template errors without a position.
    for (const l of labels ?? []) {
      const e = checkTemplate(l.value, `__alert_${alert}`);
      if (e) cx.errors.push(`${file}: ${where}: label ${JSON.stringify(l.key)}: ${e}`);
    }
    for (const a of annotations ?? []) {
      const e = checkTemplate(a.value, `__alert_${alert}`);
      if (e) cx.errors.push(`${file}: ${where}: annotation ${JSON.stringify(a.key)}: ${e}`);
    }
  }
  if (cx.errors.length !== before || !ast) return undefined;
  const labelRec: Record<string, string> = {};
  for (const l of labels ?? []) labelRec[l.key] = l.value;
  const line = lineOf(n);
  if (record !== '') return { kind: 'record', name: record, expr, ast, labels: labelRec, line };
  const annRec: Record<string, string> = {};
  for (const a of annotations ?? []) annRec[a.key] = a.value;
  return { kind: 'alert', name: alert, expr, ast, labels: labelRec, annotations: annRec, forMs, keepFiringForMs: keepMs, line };
}

