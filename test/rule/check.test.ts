// `thanos tools rules-check` (and `thanos check rules`) against Debian's `promtool check rules`
// (Prometheus 2.42) on the same good and bad files: same verdict per file, and the same error text
// where our messages are meant to match promtool's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { rulesCheck } from '../../plugins/component/tools/rules.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import type { ComponentContext } from '../../host/index.ts';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const PROMTOOL = '/usr/bin/promtool';
const dir = mkdtempSync(join(tmpdir(), 'rules-check-'));

async function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(cmd, args, { cwd: dir });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
/** The same command in process (cheaper than a process per file); cwd-relative paths resolve against `dir`. */
async function inProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const fs = nodeFs();
  const ctx = { fs: { ...fs, resolve: (...p: string[]) => fs.resolve(dir, ...p) }, stdout: { write: (t: string) => void (stdout += t) }, stderr: { write: (t: string) => void (stderr += t) } } as unknown as ComponentContext;
  const code = await rulesCheck.run(ctx, argv);
  return { code, stdout, stderr };
}
const thanos = (args: string[]) => sh(process.execPath, [join(REPO, 'bin/thanos.mjs'), ...args]);

const CASES: Record<string, { ok: boolean; yaml: string }> = {
  'good_basic.yml': { ok: true, yaml: `groups:
  - name: g1
    interval: 30s
    limit: 10
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: { team: infra }
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
          instance: "{{ $labels.instance }}"
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value | humanize }})"
          description: '{{ if gt $value 0.5 }}high{{ else }}low{{ end }} {{ printf "%.2f" $value }} {{ $externalLabels.cluster }}'
  - name: g2
    rules:
      - record: "instance_path:requests:rate5m"
        expr: |
          rate(http_requests_total[5m])
` },
  'good_empty.yml': { ok: true, yaml: 'groups: []\n' },
  'good_templates.yml': { ok: true, yaml: `groups:
  - name: t
    rules:
      - alert: A
        expr: vector(1)
        annotations:
          a: "{{- range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end -}}"
          b: "{{ with $labels.x }}{{ . }}{{ else }}none{{ end }}"
          c: "{{/* comment */}}{{ $value | humanizeDuration }} {{ humanizePercentage 0.5 }} {{ toUpper \\"x\\" }}"
          d: "{{ if eq $labels.a \\"1\\" }}one{{ else if eq $labels.a \\"2\\" }}two{{ end }}"
` },
  'good_empty_file.yml': { ok: true, yaml: '' },
  'good_numeric_label.yml': { ok: true, yaml: 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: { sev: 1 }\n' },
  'good_define_template.yml': { ok: true, yaml: 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          a: "{{ define \\"x\\" }}X{{ end }}{{ template \\"x\\" . }} {{ range $labels }}{{ break }}{{ end }}"\n          b: "{{ template \\"undefined_is_only_an_execution_error\\" }}"\n' },
  'bad_keep_firing_on_record.yml': { ok: false, yaml: 'groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        keep_firing_for: 1m\n' },
  'bad_limit.yml': { ok: false, yaml: 'groups:\n  - name: g\n    limit: abc\n    rules: []\n' },
  'bad_top_level_field.yml': { ok: false, yaml: 'foo: 1\ngroups: []\n' },
  'bad_interval.yml': { ok: false, yaml: 'groups:\n  - name: g\n    interval: 1.5m\n    rules: []\n' },
  'bad_name_label.yml': { ok: false, yaml: 'groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        labels: { __name__: x }\n' },
  'bad_break_outside_range.yml': { ok: false, yaml: 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: { a: "{{ break }}" }\n' },
  'bad_expr.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: x
        expr: sum by (job) (up
` },
  'bad_record_name.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: "job:up sum"
        expr: up
` },
  'bad_both.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: x
        alert: Y
        expr: up
` },
  'bad_neither.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - expr: up
` },
  'bad_dup_group.yml': { ok: false, yaml: `groups:
  - name: g
    rules: []
  - name: g
    rules: []
` },
  'bad_template.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - alert: Y
        expr: up
        annotations:
          s: "{{ $labels.x "
` },
  'bad_template_func.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - alert: Y
        expr: up
        labels:
          s: "{{ nosuchfunc $value }}"
` },
  'bad_template_end.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - alert: Y
        expr: up
        annotations:
          s: "{{ if $value }}x"
` },
  'bad_unknown_field.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: x
        expr: up
        exprr: up
` },
  'bad_for_on_record.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: x
        expr: up
        for: 5m
` },
  'bad_annotations_on_record.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: x
        expr: up
        annotations: { a: b }
` },
  'bad_label_name.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: up
        labels: { "bad-name": x }
` },
  'bad_missing_expr.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: x
` },
  'bad_empty_group_name.yml': { ok: false, yaml: `groups:
  - name: ""
    rules: []
` },
  'bad_duration.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: up
        for: 5 minutes
` },
  'bad_yaml.yml': { ok: false, yaml: 'groups:\n  - name: g\n   rules: [\n' },
  'bad_type_error.yml': { ok: false, yaml: `groups:
  - name: g
    rules:
      - record: x
        expr: rate(up)
` },
};

for (const [name, c] of Object.entries(CASES)) writeFileSync(join(dir, name), c.yaml);

test('promtool is installed', () => {
  assert.ok(existsSync(PROMTOOL), `${PROMTOOL} missing: apt-get install -y prometheus`);
});

test('every file: thanos tools rules-check and promtool check rules give the same verdict', async () => {
  const names = Object.keys(CASES);
  const results = await Promise.all(names.map(async (n) => ({ n, ours: await thanos(['tools', 'rules-check', '--rules', n]), theirs: await sh(PROMTOOL, ['check', 'rules', n]) })));
  for (const { n, ours, theirs } of results) {
    const want = CASES[n]!.ok ? 0 : 1;
    assert.is(theirs.code, want, `promtool on ${n}: ${theirs.stdout}${theirs.stderr}`);
    assert.is(ours.code, want, `ours on ${n}: ${ours.stdout}${ours.stderr}`);
    assert.ok(ours.stdout.includes(`Checking ${n}`), ours.stdout);
    if (want === 0) {
      const m = /SUCCESS: (\d+) rules found/.exec(theirs.stdout);
      assert.ok(m, theirs.stdout);
      assert.ok(ours.stdout.includes(`SUCCESS: ${m![1]} rules found`), `${n}: ${ours.stdout} vs ${theirs.stdout}`);
    } else {
      assert.ok(ours.stderr.includes('FAILED:'), ours.stderr);
    }
  }
});

test('error text matches promtool line for line where positions and wording are modelled (command in process)', async () => {
  for (const n of ['bad_expr.yml', 'bad_record_name.yml', 'bad_both.yml', 'bad_dup_group.yml', 'bad_template.yml', 'bad_template_func.yml', 'bad_template_end.yml', 'bad_for_on_record.yml', 'bad_label_name.yml', 'bad_empty_group_name.yml', 'bad_type_error.yml', 'bad_name_label.yml', 'bad_keep_firing_on_record.yml']) {
    const ours = await inProcess([n]);
    const theirs = await sh(PROMTOOL, ['check', 'rules', n]);
    const lines = (s: string) => s.split('\n').filter((l) => l.startsWith(`${n}:`)).sort();
    assert.ok(lines(theirs.stderr).length > 0, theirs.stderr);
    assert.equal(lines(ours.stderr), lines(theirs.stderr), n);
  }
});

test('several globs in one run: exit 1 if any fails, every file reported; a glob without matches fails', async () => {
  const r = await thanos(['tools', 'rules-check', '--rules', 'good_*.yml', '--rules', 'bad_expr.yml']);
  assert.is(r.code, 1);
  for (const n of ['good_basic.yml', 'good_empty.yml', 'good_templates.yml', 'good_empty_file.yml', 'bad_expr.yml']) assert.ok(r.stdout.includes(`Checking ${n}`), r.stdout);
  assert.is((r.stdout.match(/SUCCESS/g) ?? []).length, 6);
  const ok = await thanos(['tools', 'rules-check', '--rules', 'good_*.yml']);
  assert.is(ok.code, 0, ok.stderr);
  const none = await thanos(['tools', 'rules-check', '--rules', 'nothing_*.yml']);
  assert.is(none.code, 1);
  assert.match(none.stderr, 'matching file not found');
  const usage = await thanos(['tools', 'rules-check']);
  assert.is(usage.code, 2);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
