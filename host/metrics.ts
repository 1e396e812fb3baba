// A small Prometheus metrics registry (counter, gauge, histogram) and the text exposition format
// (version 0.0.4), plus the usual process_* and nodejs_* metrics and thanos_build_info.
import * as fs from 'node:fs';
import type { Counter, Gauge, Histogram, Metrics } from './index.ts';
import { buildInfoMetric } from './version.ts';
import { formatGoFloat } from '../lib/tsdb/gofmt.ts';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function escLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
function escHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
/**
 * A sample value or `le` bound as client_golang's text format writes it (strconv 'g', shortest):
 * `1.6e-05`, `4.194304e+06`. The `le` strings must be the ones a Go Thanos exposes, or series of
 * ours and theirs would not aggregate `by (le)` together.
 */
export function formatValue(v: number): string {
  return formatGoFloat(v);
}

type Kind = 'counter' | 'gauge' | 'histogram';

abstract class Family {
  constructor(readonly name: string, readonly help: string, readonly kind: Kind, readonly labelNames: string[]) {}
  /** The last frozen label object seen and its key: hot paths pass one constant object per call site. */
  private frozenLabels?: Record<string, string>;
  private frozenKey = '';
  protected keyOf(labels: Record<string, string> | undefined): string {
    if (labels !== undefined && labels === this.frozenLabels) return this.frozenKey;
    const key = this.computeKey(labels);
    if (labels !== undefined && Object.isFrozen(labels)) {
      this.frozenLabels = labels;
      this.frozenKey = key;
    }
    return key;
  }
  private computeKey(labels: Record<string, string> | undefined): string {
    const ls = labels ?? {};
    for (const k of Object.keys(ls)) {
      if (!this.labelNames.includes(k)) throw new Error(`metric ${this.name}: unknown label "${k}" (declared: ${this.labelNames.join(', ') || 'none'})`);
    }
    return JSON.stringify(this.labelNames.map((n) => ls[n] ?? ''));
  }
  protected labelStr(key: string, extra?: [string, string]): string {
    const vals = JSON.parse(key) as string[];
    const parts = this.labelNames.map((n, i) => `${n}="${escLabel(vals[i]!)}"`);
    if (extra) parts.push(`${extra[0]}="${escLabel(extra[1])}"`);
    return parts.length ? `{${parts.join(',')}}` : '';
  }
  abstract samples(): string[];
  render(): string {
    const s = this.samples();
    return `# HELP ${this.name} ${escHelp(this.help)}\n# TYPE ${this.name} ${this.kind}\n${s.join('')}`;
  }
}

class CounterFamily extends Family implements Counter, Gauge {
  private values = new Map<string, number>();
  inc(labels?: Record<string, string>, v = 1): void {
    if (this.kind === 'counter' && v < 0) throw new Error(`counter ${this.name}: cannot decrease (inc by ${v})`);
    const k = this.keyOf(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + v);
  }
  dec(labels?: Record<string, string>, v = 1): void {
    this.inc(labels, -v);
  }
  set(v: number, labels?: Record<string, string>): void {
    this.values.set(this.keyOf(labels), v);
  }
  get(labels?: Record<string, string>): number {
    return this.values.get(this.keyOf(labels)) ?? 0;
  }
  /** Drops one series (client_golang's DeleteLabelValues: e.g. a rule group that was unloaded). */
  remove(labels?: Record<string, string>): void {
    this.values.delete(this.keyOf(labels));
  }
  samples(): string[] {
    if (this.values.size === 0 && this.labelNames.length === 0) return [`${this.name} 0\n`];
    return [...this.values].map(([k, v]) => `${this.name}${this.labelStr(k)} ${formatValue(v)}\n`);
  }
}

class HistogramFamily extends Family implements Histogram {
  private series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, labelNames: string[], readonly buckets: number[]) {
    super(name, help, 'histogram', labelNames);
  }
  /** Creates the series with zero counts, so it is exported before its first observation. */
  init(labels?: Record<string, string>): void {
    const k = this.keyOf(labels);
    if (!this.series.has(k)) this.series.set(k, { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
  }
  observe(v: number, labels?: Record<string, string>): void {
    const k = this.keyOf(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  samples(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${this.labelStr(k, ['le', formatValue(b)])} ${s.counts[i]}\n`));
      out.push(`${this.name}_bucket${this.labelStr(k, ['le', '+Inf'])} ${s.count}\n`);
      out.push(`${this.name}_sum${this.labelStr(k)} ${formatValue(s.sum)}\n`);
      out.push(`${this.name}_count${this.labelStr(k)} ${s.count}\n`);
    }
    return out;
  }
}

/** A registry; get-or-create by name, so two registrations of the same metric share it. */
export class Registry implements Metrics {
  private families = new Map<string, Family>();
  private collectors: Array<() => string> = [];

  private getOrCreate<F extends Family>(name: string, kind: Kind, labelNames: string[], make: () => F): F {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name "${name}"`);
    for (const l of labelNames) if (!LABEL_RE.test(l) || l.startsWith('__')) throw new Error(`metric ${name}: invalid label name "${l}"`);
    const ex = this.families.get(name);
    if (ex) {
      if (ex.kind !== kind || ex.labelNames.join(',') !== labelNames.join(',')) {
        throw new Error(`metric ${name} already registered as ${ex.kind} with labels [${ex.labelNames.join(',')}]`);
      }
      return ex as F;
    }
    const f = make();
    this.families.set(name, f);
    return f;
  }

  counter(name: string, help: string, labelNames: string[] = []): CounterFamily {
    return this.getOrCreate(name, 'counter', labelNames, () => new CounterFamily(name, help, 'counter', labelNames));
  }
  gauge(name: string, help: string, labelNames: string[] = []): CounterFamily {
    return this.getOrCreate(name, 'gauge', labelNames, () => new CounterFamily(name, help, 'gauge', labelNames));
  }
  histogram(name: string, help: string, labelNames: string[] = [], buckets: number[] = DEFAULT_BUCKETS): HistogramFamily {
    const b = [...buckets].sort((x, y) => x - y);
    return this.getOrCreate(name, 'histogram', labelNames, () => new HistogramFamily(name, help, labelNames, b));
  }
  /** Adds a collector that renders whole families at scrape time (e.g. process metrics). */
  addCollector(fn: () => string): void {
    this.collectors.push(fn);
  }
  names(): string[] {
    return [...this.families.keys()];
  }
  render(): string {
    return [...this.collectors.map((c) => c()), ...[...this.families.values()].map((f) => f.render())].join('');
  }
}

/** Renders several registries as one exposition; a family name appears once (first wins). */
export function renderAll(regs: Registry[]): string {
  const seen = new Set<string>();
  let out = '';
  for (const r of regs) {
    for (const block of r.render().split(/(?=^# HELP )/m)) {
      const name = /^# HELP (\S+)/.exec(block)?.[1];
      if (!name) { out += block; continue; }
      if (seen.has(name)) continue;
      seen.add(name);
      out += block;
    }
  }
  return out;
}

function gaugeText(name: string, help: string, value: number, kind: Kind = 'gauge', labels = ''): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${kind}\n${name}${labels} ${formatValue(value)}\n`;
}

const startTime = Date.now() / 1000 - process.uptime();

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** process_* and nodejs_* metrics, computed at scrape time. */
export function processMetrics(): string {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  let out = '';
  out += gaugeText('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6, 'counter');
  out += gaugeText('process_resident_memory_bytes', 'Resident memory size in bytes.', mem.rss);
  out += gaugeText('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', Math.round(startTime * 1000) / 1000);
  try {
    const n = fs.readdirSync('/proc/self/fd').length;
    out += gaugeText('process_open_fds', 'Number of open file descriptors.', n);
  } catch { /* not Linux */ }
  const limits = readProc('/proc/self/limits');
  const maxFds = limits && /Max open files\s+(\d+)/.exec(limits)?.[1];
  if (maxFds) out += gaugeText('process_max_fds', 'Maximum number of open file descriptors.', Number(maxFds));
  const stat = readProc('/proc/self/stat');
  if (stat) {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const vsize = Number(fields[20]);
    if (Number.isFinite(vsize)) out += gaugeText('process_virtual_memory_bytes', 'Virtual memory size in bytes.', vsize);
  }
  out += gaugeText('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', mem.heapTotal);
  out += gaugeText('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', mem.heapUsed);
  out += gaugeText('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', mem.external);
  out += gaugeText('nodejs_version_info', 'Node.js version info.', 1, 'gauge', `{version="${process.version}"}`);
  out += buildInfoMetric();
  return out;
}
