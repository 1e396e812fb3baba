// Ruler benchmark: rule-file parsing (with promtool's checks) vs `promtool check rules` on the same
// file, template expansion, and one evaluation round of an alerting + recording group over N series
// (the query answered from memory, so this measures the ruler's own work: state machine, labels,
// templates, the TSDB append (WAL + head) and a StoreAPI snapshot).
//
//   npm run bench -- rule [--rules=2000] [--series=10000]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Evaluator, expandTemplate, parseRuleFile, type QuerySample } from '../lib/rules/mod.ts';
import { RuleTSDB } from '../lib/rules/head.ts';
import { nodeFs } from '../lib/tsdb/nodefs.ts';
import { createLogger } from '../host/log.ts';
import { createJsCore } from '../lib/core/mod.ts';
import { seriesRequest } from '../lib/proto/store.ts';

function arg(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
}

function best(runs: number, f: () => void): number {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

export default async function main(args: string[]): Promise<void> {
  const nRules = arg(args, 'rules', 2000);
  const nSeries = arg(args, 'series', 10000);
  let yaml = 'groups:\n';
  for (let g = 0; g < nRules / 20; g++) {
    yaml += `  - name: g${g}\n    interval: 30s\n    rules:\n`;
    for (let r = 0; r < 10; r++) yaml += `      - record: job:m${r}:rate5m\n        expr: sum by (job) (rate(http_requests_total{code=~"5..", handler="/api/${r}"}[5m])) / sum by (job) (rate(http_requests_total[5m]))\n`;
    for (let r = 0; r < 10; r++) yaml += `      - alert: A${r}\n        expr: job:m${r}:rate5m > 0.05\n        for: 5m\n        labels: { severity: page }\n        annotations:\n          summary: "{{ $labels.job }} error ratio {{ $value | humanizePercentage }}"\n`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-rule-'));
  const file = join(dir, 'rules.yml');
  writeFileSync(file, yaml);
  const parseMs = best(5, () => {
    const r = parseRuleFile(file, yaml);
    if (r.errors.length) throw new Error(r.errors[0]);
  });
  console.log(`parse+check ${nRules} rules (${(yaml.length / 1024).toFixed(0)} KiB): ${parseMs.toFixed(1)} ms`);
  if (existsSync('/usr/bin/promtool')) {
    const t = performance.now();
    execFileSync('/usr/bin/promtool', ['check', 'rules', file], { stdio: 'ignore' });
    console.log(`promtool check rules (same file, whole process): ${(performance.now() - t).toFixed(1)} ms`);
  }
  rmSync(dir, { recursive: true, force: true });

  const data = { labels: { job: 'api', instance: 'h:9090' }, externalLabels: {}, externalURL: '', value: 0.0734 };
  const n = 100_000;
  const tplMs = best(3, () => {
    for (let i = 0; i < n; i++) expandTemplate('{{ $labels.job }} error ratio {{ $value | humanizePercentage }}', 'x', data);
  });
  console.log(`template expansion: ${(n / tplMs * 1000 / 1e6).toFixed(2)} M/s (${(tplMs * 1e6 / n).toFixed(0)} ns each)`);

  const samples: QuerySample[] = Array.from({ length: nSeries }, (_, i) => ({ metric: { __name__: 'x', job: `j${i % 50}`, instance: `i${i}` }, value: i % 3 }));
  const groups = parseRuleFile('b.yml', `groups:\n  - name: g\n    rules:\n      - record: x:copy\n        expr: x\n      - alert: Hi\n        expr: x > 0\n        for: 1m\n        annotations: { s: "{{ $labels.instance }} {{ $value }}" }\n`).groups;
  const core = createJsCore();
  const tsdbDir = mkdtempSync(join(tmpdir(), 'bench-rule-tsdb-'));
  const { tsdb: head } = await RuleTSDB.open({ fs: nodeFs(), dir: tsdbDir, core, log: createLogger({ level: 'error', write: () => {} }), externalLabels: { cluster: 'c' }, blockDurationMs: 7200_000, retentionMs: 0 });
  const ev = new Evaluator(groups, { query: async () => samples, record: (s) => head.append(s), externalLabels: { cluster: 'c' }, externalURL: 'http://q', defaultIntervalMs: 30_000, resendDelayMs: 60_000 });
  const rounds = 5;
  let evalMs = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    await ev.evalGroup(ev.groups[0]!, 30_000 * (r + 1));
    ev.alertsToSend(ev.groups[0]!, 30_000 * (r + 1));
    evalMs = Math.min(evalMs, performance.now() - t);
  }
  console.log(`evaluation round, ${nSeries} series (record + alert with templates + ALERTS series + TSDB append through the WAL): ${evalMs.toFixed(1)} ms`);
  const t = performance.now();
  let got = 0;
  for await (const r of head.series(seriesRequest({ minTime: 0, maxTime: 1e13, matchers: [{ type: '=', name: '__name__', value: 'x:copy' }] }), new AbortController().signal)) if (r.type === 'series') got++;
  console.log(`StoreAPI Series over the head (snapshot build + ${got} series): ${(performance.now() - t).toFixed(1)} ms`);
  rmSync(tsdbDir, { recursive: true, force: true });
}
