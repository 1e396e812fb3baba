// Per-component mixin checks (test/mixin/{query,receive,rule,sidecar}.test.ts): the metrics the
// thanos-mixin reads for one component (extract.ts), looked up in one /metrics text, and a small
// exposition reader for value assertions.
import { mixinUses } from './extract.ts';

/** A metric (or one label of it) left out on purpose, with the reason. */
export interface Exempt { metric: string | RegExp; label?: string; reason: string }

/** Exemptions every component shares. */
export const COMMON_EXEMPT: Exempt[] = [
  { metric: /^go_/, reason: 'Go runtime metrics; a Node.js process exposes process_* and nodejs_* instead' },
];

export interface Series { name: string; labels: Record<string, string>; value: number }

/** The samples of a Prometheus text exposition (0.0.4). */
export function parseSamples(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3] === '+Inf' ? Infinity : m[3]) });
  }
  return out;
}

/** Series of `name` whose labels include `labels`. */
export function seriesOf(text: string, name: string, labels: Record<string, string> = {}): Series[] {
  return parseSamples(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The sum over the matching series (0 when none). */
export function valueOf(text: string, name: string, labels: Record<string, string> = {}): number {
  return seriesOf(text, name, labels).reduce((a, s) => a + s.value, 0);
}

/**
 * What the mixin reads of `component` that `text` lacks: a metric absent, or no series carrying every
 * label read on it. Empty when covered. Exempt metrics/labels are skipped.
 */
export function mixinGaps(component: string, text: string, exempt: readonly Exempt[] = []): string[] {
  const uses = mixinUses().get(component);
  if (!uses) throw new Error(`the mixin reads nothing of ${component}`);
  const all = [...COMMON_EXEMPT, ...exempt];
  const hit = (metric: string, label?: string) => all.some((e) => (typeof e.metric === 'string' ? e.metric === metric : e.metric.test(metric)) && e.label === label);
  const samples = parseSamples(text);
  const gaps: string[] = [];
  for (const u of uses.values()) {
    if (hit(u.metric)) continue;
    const series = samples.filter((s) => s.name === u.metric);
    if (series.length === 0) {
      gaps.push(`missing ${u.metric} (${u.usedBy.slice(0, 2).join('; ')})`);
      continue;
    }
    const needed = u.labels.filter((l) => !hit(u.metric, l));
    if (!series.some((s) => needed.every((l) => l in s.labels))) {
      gaps.push(`${u.metric}: reads {${needed.join(',')}}, has {${[...new Set(series.flatMap((s) => Object.keys(s.labels)))].sort().join(',')}}`);
    }
  }
  return gaps;
}
