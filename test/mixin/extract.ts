// What the thanos-mixin (test/fixtures/mixin: upstream's generated alerts, recording rules and
// dashboards) asks of each component's /metrics: every metric name its PromQL reads, and the labels
// it reads on that metric (matchers, by(...), on(...), group_left/right(...), label_replace sources).
// The component comes from the job matchers, as a Prometheus scraping Thanos would see it: an alert's
// or rule's own `job=~".*thanos-<component>.*"`, a dashboard's `$job` variable query, or for the
// overview dashboard the component dashboard each panel links to.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseExpr } from '../../lib/promql/parser.ts';
import type { Expr } from '../../lib/promql/ast.ts';

export const MIXIN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mixin');

/**
 * Labels Prometheus attaches at scrape time (target labels), never part of a component's exposition.
 * `job` is how the mixin selects components; the others appear in by(...) lists of some panels.
 */
export const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'cluster']);

/** Series Prometheus itself produces (not scraped from the component). */
export const PROMETHEUS_SERIES = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds', 'scrape_samples_scraped']);

export interface MetricUse {
  /** A series name as exposed: histograms as `<name>_bucket`, `_sum`, `_count`. */
  metric: string;
  /** Label names the mixin reads on it (sorted; target labels left out). */
  labels: string[];
  /** Where: `alert ThanosCompactHalted`, `rule :grpc_client_failures_per_unary:sum_rate`, `dashboard Thanos / Store: <panel>`. */
  usedBy: string[];
}

export interface SelectorUse {
  metric: string;
  labels: string[];
  /** The job regex of this selector's `job=~"..."` matcher, if any. */
  job: string | undefined;
}

/** Grafana variables → values PromQL accepts (ranges become a duration, others a plain string). */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range|\$interval/g, '5m')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, 'x');
}

/**
 * The selectors of one PromQL expression, each with the labels read on it. A label an enclosing
 * aggregation groups by, an on(...) names, or a group_left/right(...) copies must exist on the series
 * below, except one created on the way by label_replace/label_join (their source labels are read).
 */
export function selectorsOf(promql: string): SelectorUse[] {
  const root = parseExpr(substituteGrafanaVariables(promql));
  const out: SelectorUse[] = [];
  const stack: { e: Expr; required: ReadonlySet<string> }[] = [{ e: root, required: new Set() }];
  while (stack.length) {
    const { e, required } = stack.pop()!;
    const push = (child: Expr, req: ReadonlySet<string> = required) => stack.push({ e: child, required: req });
    switch (e.type) {
      case 'VectorSelector': {
        const labels = new Set(required);
        let metric = e.name;
        let job: string | undefined;
        for (const m of e.matchers) {
          if (m.name === '__name__') { metric = m.value; continue; }
          if (m.name === 'job') job = m.value;
          labels.add(m.name);
        }
        for (const t of TARGET_LABELS) labels.delete(t);
        out.push({ metric, labels: [...labels].sort(), job });
        break;
      }
      case 'MatrixSelector': push(e.vs); break;
      case 'SubqueryExpr': case 'UnaryExpr': case 'ParenExpr': push(e.expr); break;
      case 'AggregateExpr': {
        const req = e.without ? new Set<string>() : new Set([...required, ...e.grouping]);
        push(e.expr, req);
        if (e.param) push(e.param, new Set());
        break;
      }
      case 'BinaryExpr': {
        const m = e.matching;
        const both = new Set(required);
        if (m?.on) for (const l of m.matchingLabels) both.add(l);
        const lhs = new Set(both);
        const rhs = new Set(both);
        // group_left(x): x is copied from the right ("one") side; group_right: from the left.
        if (m?.card === 'many-to-one') for (const l of m.include) rhs.add(l);
        if (m?.card === 'one-to-many') for (const l of m.include) lhs.add(l);
        push(e.lhs, lhs);
        push(e.rhs, rhs);
        break;
      }
      case 'Call': {
        if ((e.func === 'label_replace' || e.func === 'label_join') && e.args.length >= 3) {
          const str = (a: Expr | undefined) => (a?.type === 'StringLiteral' ? a.val : undefined);
          const req = new Set(required);
          const dst = str(e.args[1]);
          if (dst) req.delete(dst);
          const sources = e.func === 'label_replace' ? [str(e.args[3])] : e.args.slice(3).map(str);
          for (const s of sources) if (s) req.add(s);
          push(e.args[0]!, req);
          break;
        }
        for (const a of e.args) push(a);
        break;
      }
      default: break;
    }
  }
  return out;
}

/** `.*thanos-compact.*` → `compact`; anything else → undefined. */
export function componentOfJobRegex(re: string | undefined): string | undefined {
  return re ? /^\.\*thanos-([a-z-]+)\.\*$/.exec(re)?.[1] : undefined;
}

/** component → metric → use. */
export type MixinUses = Map<string, Map<string, MetricUse>>;

function record(uses: MixinUses, component: string, sel: SelectorUse, where: string): void {
  if (PROMETHEUS_SERIES.has(sel.metric)) return;
  let byMetric = uses.get(component);
  if (!byMetric) uses.set(component, (byMetric = new Map()));
  let u = byMetric.get(sel.metric);
  if (!u) byMetric.set(sel.metric, (u = { metric: sel.metric, labels: [], usedBy: [] }));
  u.labels = [...new Set([...u.labels, ...sel.labels])].sort();
  if (!u.usedBy.includes(where)) u.usedBy.push(where);
}

interface RuleFile { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] }

function addRuleFile(uses: MixinUses, file: string): void {
  const doc = parseYaml(fs.readFileSync(file, 'utf8')) as RuleFile;
  for (const g of doc.groups) {
    const groupComponent = componentOfJobRegex(`.*${g.name.replace(/\.rules$/, '')}.*`);
    for (const r of g.rules) {
      const where = r.alert ? `alert ${r.alert}` : `rule ${r.record}`;
      const sels = selectorsOf(r.expr);
      // A rule reads one component: its own job matcher says which (absent(up{...}) alerts are
      // grouped together but each names its component).
      const component = sels.map((s) => componentOfJobRegex(s.job)).find(Boolean) ?? groupComponent;
      if (!component) throw new Error(`${file}: ${where}: no component (no thanos job matcher, group ${g.name})`);
      for (const s of sels) record(uses, component, s, where);
    }
  }
}

interface Panel { title?: string; targets?: { expr?: string }[]; links?: { dashboard?: string; title?: string }[] }
interface Dashboard {
  title: string;
  rows?: { title?: string; panels?: Panel[] }[];
  panels?: Panel[];
  templating?: { list?: { name: string; query?: unknown }[] };
}

function panelsOf(d: Dashboard): Panel[] {
  return [...(d.panels ?? []), ...(d.rows ?? []).flatMap((r) => r.panels ?? [])];
}

function addDashboards(uses: MixinUses, dir: string): void {
  const dashboards = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => ({ file: f, d: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Dashboard }));
  const componentOfTitle = new Map<string, string>();
  for (const { d } of dashboards) {
    const q = d.templating?.list?.find((v) => v.name === 'job')?.query;
    const re = typeof q === 'string' ? /up\{job=~"([^"]+)"\}/.exec(q)?.[1] : undefined;
    const c = componentOfJobRegex(re);
    if (c) componentOfTitle.set(d.title, c);
  }
  for (const { file, d } of dashboards) {
    for (const p of panelsOf(d)) {
      const component = componentOfTitle.get(d.title)
        ?? p.links?.map((l) => componentOfTitle.get(l.dashboard ?? l.title ?? '')).find(Boolean);
      for (const t of p.targets ?? []) {
        if (!t.expr) continue;
        if (!component) throw new Error(`${file}: panel "${p.title}": no component (no $job variable, no link to a component dashboard)`);
        for (const s of selectorsOf(t.expr)) record(uses, component, s, `dashboard ${d.title}: ${p.title}`);
      }
    }
  }
}

/** Everything the mixin in `dir` reads, per component (`store`, `compact`, `query`, `query-frontend`, …). */
export function mixinUses(dir = MIXIN_DIR): MixinUses {
  const uses: MixinUses = new Map();
  addRuleFile(uses, path.join(dir, 'alerts', 'alerts.yaml'));
  addRuleFile(uses, path.join(dir, 'alerts', 'rules.yaml'));
  addDashboards(uses, path.join(dir, 'dashboards'));
  return uses;
}

// `node --import tsx test/mixin/extract.ts` prints the table.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  for (const [c, metrics] of [...mixinUses()].sort()) {
    console.log(`## ${c}`);
    for (const u of [...metrics.values()].sort((a, b) => a.metric.localeCompare(b.metric))) {
      console.log(`${u.metric}{${u.labels.join(',')}}  (${u.usedBy.length} uses)`);
    }
  }
}
