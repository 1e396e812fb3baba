// lib/rules evaluation and templates, and the rule component in process: its query client talks to a
// query API served by our PromQL engine (ctx.fetch routed to a handler), alerts go to a recording
// fake Alertmanager. Timestamps are driven by the test (evalGroup at chosen times).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, MemoryQueryable, toPromJSON, STALE_NAN } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { Evaluator, expandTemplate, parseRuleFileOrThrow, RuleFileError, humanize, humanizeDuration, type QuerySample, type RecordedSample } from '../../lib/rules/mod.ts';
import { createRule, parseRuleConfig, parseQueryResponse } from '../../plugins/component/rule/mod.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { Registry } from '../../host/metrics.ts';
import { seriesRequest, type Series } from '../../lib/proto/store.ts';
import type { ComponentContext } from '../../host/index.ts';
import { stubComponentCtx } from '../harness/componentctx.ts';

const core = createJsCore();
const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 1_000_000, timeoutMs: 10_000 });

function rulesOf(yaml: string) {
  return parseRuleFileOrThrow('r.yml', yaml);
}

test('templates: labels, value, humanize family, printf, conditionals, errors expand to Prometheus text', () => {
  const d = { labels: { instance: 'h:9100', job: 'node' }, externalLabels: { cluster: 'eu' }, externalURL: 'http://q', value: 0.000123 };
  assert.is(expandTemplate('{{ $labels.instance }}/{{ .Labels.job }} {{ $value | humanize }}', 'x', d), 'h:9100/node 123u');
  assert.is(expandTemplate('{{ humanize 1234567 }} {{ humanize1024 2048 }} {{ humanizeDuration 90061 }} {{ humanizePercentage 0.256 }}', 'x', d), '1.235M 2ki 1d 1h 1m 1s 25.6%');
  assert.is(expandTemplate('{{ printf "%.1f" 2.25 }}|{{ printf "%d-%s" 3 "x" }}|{{ $externalLabels.cluster }}|{{ $externalURL }}', 'x', d), '2.2|3-x|eu|http://q');
  assert.is(expandTemplate('{{ if eq $labels.job "node" }}N{{ else }}O{{ end }}{{ if gt $value 1.0 }}big{{ end }}', 'x', d), 'N');
  // parseDuration is Prometheus's: model.ParseDuration (y w d h m s ms, integers, `0`), in float seconds
  assert.is(expandTemplate('{{ parseDuration "1h30m" }}|{{ parseDuration "500ms" }}|{{ parseDuration "0" }}|{{ parseDuration "2w" }}', 'x', d), '5400|0.5|0|1.2096e+06');
  assert.match(expandTemplate('{{ parseDuration "1.5s" }}', 'x', d), /error calling parseDuration: unknown unit "." in duration "1.5s"/);
  assert.match(expandTemplate('{{ parseDuration "x" }}', 'x', d), /error calling parseDuration: not a valid duration string: "x"/);
  assert.is(expandTemplate('{{ $labels.missing }}', 'x', d), '');
  assert.is(expandTemplate('{{ $value }}', 'x', { ...d, value: 2500000 }), '2.5e+06');
  assert.match(expandTemplate('{{ query "up" }}', 'x', d), /^<error expanding template: /);
  assert.is(humanize(0), '0');
  assert.is(humanize(1500), '1.5k');
  assert.is(humanizeDuration(0.5), '500ms');
});

test('rule file errors name file, line:column, group, rule index and rule name', () => {
  try {
    rulesOf('groups:\n  - name: g\n    rules:\n      - record: ok\n        expr: up\n      - alert: Bad\n        expr: up +\n');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, RuleFileError);
    assert.match((e as Error).message, /^r\.yml: 7:15: group "g", rule 2, "Bad": could not parse expression: /);
  }
  const [g] = rulesOf('groups:\n  - name: g\n    interval: 15s\n    limit: 3\n    partial_response_strategy: warn\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1m\n        keep_firing_for: 30s\n');
  assert.is(g!.intervalMs, 15_000);
  assert.is(g!.limit, 3);
  assert.is(g!.partialResponseStrategy, 'warn');
  const r = g!.rules[0]!;
  assert.ok(r.kind === 'alert' && r.forMs === 60_000 && r.keepFiringForMs === 30_000 && r.line === 7);
});

function memQuery(q: MemoryQueryable) {
  return async (expr: string, ts: number): Promise<QuerySample[]> => {
    const res = await engine.instantQuery(q, expr, ts);
    return parseQueryResponse({ status: 'success', data: toPromJSON(res) });
  };
}

test('alert state machine: pending → firing after for, keep_firing_for, resolved; resend timing', async () => {
  const q = new MemoryQueryable();
  const up = (inst: string) => labelsFromRecord({ __name__: 'up', instance: inst });
  for (let t = 0; t <= 120_000; t += 10_000) q.add(up('a'), t, t < 60_000 ? 0 : 1);
  const groups = rulesOf('groups:\n  - name: g\n    interval: 10s\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 20s\n        keep_firing_for: 15s\n        labels: { sev: "{{ $labels.instance }}-x" }\n        annotations: { s: "{{ $value }}" }\n');
  const rec: RecordedSample[] = [];
  const ev = new Evaluator(groups, { query: memQuery(q), record: (s) => rec.push(...s), externalLabels: { cluster: 'c' }, externalURL: 'http://q', defaultIntervalMs: 60_000, resendDelayMs: 25_000 });
  const g = ev.groups[0]!;
  const rs = g.rules[0]!;
  const state = () => [...rs.active.values()].map((a) => a.state).join(',');
  await ev.evalGroup(g, 0);
  assert.is(state(), 'pending');
  assert.equal(ev.alertsToSend(g, 0), [], 'pending alerts are not sent');
  await ev.evalGroup(g, 10_000);
  assert.is(state(), 'pending');
  await ev.evalGroup(g, 20_000);
  assert.is(state(), 'firing');
  const sent = ev.alertsToSend(g, 20_000);
  assert.is(sent.length, 1);
  assert.equal(sent[0]!.labels, { alertname: 'Down', instance: 'a', sev: 'a-x', cluster: 'c' });
  assert.is(sent[0]!.startsAt, new Date(20_000).toISOString());
  assert.is(sent[0]!.endsAt, new Date(20_000 + 4 * 25_000).toISOString());
  assert.is(sent[0]!.annotations.s, '0');
  await ev.evalGroup(g, 30_000);
  assert.equal(ev.alertsToSend(g, 30_000), [], 'not re-sent before --resend-delay');
  await ev.evalGroup(g, 50_000);
  assert.is(ev.alertsToSend(g, 50_000).length, 1, 're-sent after --resend-delay');
  await ev.evalGroup(g, 60_000); // up is 1 now: keep_firing_for holds it
  assert.is(state(), 'firing');
  await ev.evalGroup(g, 70_000);
  assert.is(state(), 'firing');
  await ev.evalGroup(g, 80_000); // 20s since the series vanished > 15s
  assert.is(state(), 'inactive');
  const resolved = ev.alertsToSend(g, 80_000);
  assert.is(resolved.length, 1);
  assert.is(resolved[0]!.endsAt, new Date(80_000).toISOString(), 'resolved alerts end at the resolve time');
  // ALERTS series were written while pending and firing
  const alerts = rec.filter((s) => s.labels.__name__ === 'ALERTS');
  assert.equal([...new Set(alerts.map((s) => s.labels.alertstate))].sort(), ['firing', 'pending']);
  assert.ok(rec.some((s) => s.labels.__name__ === 'ALERTS_FOR_STATE' && s.v === 0));
});

test('recording rules: labels applied, stale markers for vanished series, duplicate label sets and limits are errors', async () => {
  const q = new MemoryQueryable();
  q.add(labelsFromRecord({ __name__: 'm', k: 'a' }), 0, 1);
  q.add(labelsFromRecord({ __name__: 'm', k: 'b' }), 0, 2);
  q.add(labelsFromRecord({ __name__: 'm', k: 'a' }), 400_000, 3);
  const groups = rulesOf('groups:\n  - name: g\n    rules:\n      - record: m:copy\n        expr: m\n        labels: { extra: "1" }\n      - record: m:flat\n        expr: m\n        labels: { k: same }\n  - name: lim\n    limit: 1\n    rules:\n      - record: m:lim\n        expr: m\n');
  const rec: RecordedSample[] = [];
  const ev = new Evaluator(groups, { query: memQuery(q), record: (s) => rec.push(...s), externalLabels: {}, externalURL: '', defaultIntervalMs: 1000, resendDelayMs: 60_000 });
  await ev.evalGroup(ev.groups[0]!, 1000);
  assert.equal(rec.map((s) => [s.labels.__name__, s.labels.k, s.labels.extra, s.v]), [['m:copy', 'a', '1', 1], ['m:copy', 'b', '1', 2]]);
  assert.is(ev.groups[0]!.rules[1]!.health, 'err');
  assert.match(ev.groups[0]!.rules[1]!.lastError!, 'same labelset');
  rec.length = 0;
  await ev.evalGroup(ev.groups[0]!, 400_000); // m{k="b"} is beyond the 5m lookback now
  const b = rec.find((s) => s.labels.k === 'b')!;
  assert.ok(Number.isNaN(b.v), 'stale marker for the vanished series');
  const bits = (x: number) => [...new Uint32Array(new Float64Array([x]).buffer)];
  assert.equal(bits(b.v), bits(STALE_NAN));
  await ev.evalGroup(ev.groups[1]!, 1000);
  assert.is(ev.groups[1]!.rules[0]!.health, 'err');
  assert.match(ev.groups[1]!.rules[0]!.lastError!, 'exceeded limit of 1 with 2 series');
});

// ---- the component in process -------------------------------------------------------------------

function ctxWith(handler: (req: Request) => Promise<Response>, ready: { v: boolean }, dataDir?: string): ComponentContext {
  return stubComponentCtx({
    dataDir,
    pluginId: 'component:rule',
    fetch: (input, init) => handler(new Request(input as string, init)),
    core,
    setReady: (r) => { ready.v = r; },
    addresses: { http: '0.0.0.0:10902' },
  });
}

test('component: queries over HTTP (POST form, failover to the next --query), Alertmanager posts, APIs, StoreAPI, reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rule-unit-'));
  try {
    writeFileSync(join(dir, 'a.yml'), 'groups:\n  - name: g\n    rules:\n      - record: job:x:sum\n        expr: sum by (job) (x)\n      - alert: XHigh\n        expr: x > 1\n        annotations: { d: "{{ $labels.job }} {{ $value }}" }\n      - record: broken\n        expr: x + on() x\n');
    const q = new MemoryQueryable();
    const now = Date.now();
    q.add(labelsFromRecord({ __name__: 'x', job: 'j', i: '1' }), now - 1000, 2);
    q.add(labelsFromRecord({ __name__: 'x', job: 'j', i: '2' }), now - 1000, 0.5);
    const calls: string[] = [];
    const amPosts: unknown[] = [];
    const ready = { v: false };
    const ctx = ctxWith(async (req) => {
      const u = new URL(req.url);
      calls.push(`${req.method} ${u.host}${u.pathname}`);
      if (u.host === 'down:1') return new Response('bad gateway', { status: 502 });
      if (u.pathname === '/api/v1/query') {
        const form = new URLSearchParams(await req.text());
        try {
          const res = await engine.instantQuery(q, form.get('query')!, Number(form.get('time')) * 1000);
          return Response.json({ status: 'success', data: toPromJSON(res) });
        } catch (e) {
          const t = (e as { errorType?: string }).errorType ?? 'internal';
          return Response.json({ status: 'error', errorType: t, error: (e as Error).message }, { status: t === 'execution' ? 422 : t === 'bad_data' ? 400 : 500 });
        }
      }
      if (u.pathname === '/api/v2/alerts') {
        amPosts.push(...((await req.json()) as unknown[]));
        return new Response('', { status: 200 });
      }
      return new Response('nope', { status: 404 });
    }, ready, join(dir, 'data'));
    const cfg = parseRuleConfig({ ruleFiles: [join(dir, '*.yml')], evalInterval: '100ms', queries: ['http://down:1', 'http://q:9090'], alertmanagersUrls: ['http://am:9093'], labels: ['replica="r0"'], resendDelay: '1m' });
    const comp = await createRule(ctx, cfg);
    const ac = new AbortController();
    const running = comp.run(ac.signal);
    try {
    for (let i = 0; i < 50 && !ready.v; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(ready.v, 'ready after the first evaluation');
    assert.ok(calls.includes('POST down:1/api/v1/query') && calls.includes('POST q:9090/api/v1/query'), calls.join('\n'));
    const rules = (await (await comp.fetch!(new Request('http://x/api/v1/rules'))).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const byName = Object.fromEntries(rules.data.groups[0]!.rules.map((r) => [r.name, r]));
    assert.is(byName['job:x:sum']!.health, 'ok');
    assert.is(byName.broken!.health, 'err');
    assert.match(byName.broken!.lastError!, 'execution');
    assert.is(amPosts.length, 1, 'for: 0 fires at once and is sent once');
    const a = amPosts[0] as { labels: Record<string, string>; annotations: Record<string, string>; generatorURL: string };
    assert.equal(a.labels, { alertname: 'XHigh', i: '1', job: 'j', replica: 'r0' });
    assert.is(a.annotations.d, 'j 2');
    assert.ok(a.generatorURL.startsWith('http://127.0.0.1:10902/graph?g0.expr=x+%3E+1'), a.generatorURL);
    // StoreAPI over the recorded head
    const got: Series[] = [];
    for await (const r of comp.tsdb!.series(seriesRequest({ minTime: now - 60_000, maxTime: now + 60_000, matchers: [{ type: '=', name: '__name__', value: 'job:x:sum' }] }), ac.signal)) if (r.type === 'series') got.push(r.series);
    assert.is(got.length, 1);
    assert.equal(got[0]!.labels.map((l) => l.name), ['__name__', 'job', 'replica']);
    assert.is(core.xorDecode(got[0]!.chunks[0]!.raw!.data).v[0], 2.5);
    assert.equal(comp.info().labelSets, [{ replica: 'r0' }]);
    // reload: an invalid file keeps the old rules; a valid change takes effect
    writeFileSync(join(dir, 'a.yml'), 'groups:\n  - name: g\n    rules:\n      - record: "bad name"\n        expr: x\n');
    const bad = await comp.fetch!(new Request('http://x/-/reload', { method: 'POST' }));
    assert.is(bad.status, 500);
    assert.match(await bad.text(), 'invalid recording rule name');
    assert.is(comp.evaluator().groups[0]!.rules.length, 3);
    writeFileSync(join(dir, 'a.yml'), 'groups:\n  - name: g2\n    rules:\n      - record: only\n        expr: x\n');
    assert.is((await comp.fetch!(new Request('http://x/-/reload', { method: 'POST' }))).status, 200);
    assert.equal(comp.evaluator().groups.map((g) => g.group.name), ['g2']);
    } finally {
      ac.abort();
      await running;
    }
    assert.is(ready.v, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('component: every query API down → rules unhealthy with the cause, still ready; Alertmanager errors are counted, not fatal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rule-unit-'));
  try {
    writeFileSync(join(dir, 'a.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: Always\n        expr: vector(1)\n');
    let queryUp = false;
    let amCalls = 0;
    const ready = { v: false };
    const ctx = ctxWith(async (req) => {
      const u = new URL(req.url);
      if (u.pathname === '/api/v2/alerts') {
        amCalls++;
        return new Response('am says no', { status: 500 });
      }
      if (!queryUp) throw new TypeError('fetch failed: connect ECONNREFUSED');
      return Response.json({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '1'] }] } });
    }, ready, join(dir, 'data'));
    const registry = ctx.metrics as Registry;
    const comp = await createRule(ctx, parseRuleConfig({ ruleFiles: [join(dir, 'a.yml')], evalInterval: '50ms', queries: ['http://q1:1', 'http://q2:1'], alertmanagersUrls: ['http://am:1'], resendDelay: '0s' }));
    const ac = new AbortController();
    const running = comp.run(ac.signal);
    try {
      for (let i = 0; i < 50 && !ready.v; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(ready.v);
      const rs = comp.evaluator().groups[0]!.rules[0]!;
      assert.is(rs.health, 'err');
      assert.match(rs.lastError!, 'ECONNREFUSED');
      queryUp = true;
      for (let i = 0; i < 50 && amCalls < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(amCalls >= 2, 'sending is retried on later evaluations');
      assert.is(rs.health, 'ok');
      assert.match(registry.render(), /thanos_alert_sender_errors_total\{alertmanager="am:1"\} [1-9]/);
    } finally {
      ac.abort();
      await running;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config: flags are checked with clear errors', () => {
  assert.throws(() => parseRuleConfig({ ruleFiles: ['x'] }), /queries: no --query given/);
  assert.throws(() => parseRuleConfig({ queries: ['http://q'], labels: ['a=b'] }), /labels: unsupported format for label a=b/);
  assert.throws(() => parseRuleConfig({ queries: ['ftp://q'] }), /queries: unsupported scheme/);
  assert.throws(() => parseRuleConfig({ queries: ['dns+http://q'] }), /queries: missing port in address given for dns lookup/);
  assert.throws(() => parseRuleConfig({ queries: ['http://q'], evalInterval: '0s' }), /evalInterval: must be a positive duration/);
  assert.throws(() => parseRuleConfig({ queries: ['http://q'], bogus: 1 }), /bogus: unknown key/);
  const c = parseRuleConfig({ queries: ['127.0.0.1:9090'], labels: ['cluster="eu-1"'] });
  assert.is(c.queries[0], 'http://127.0.0.1:9090');
  assert.equal(c.externalLabels, { cluster: 'eu-1' });
  assert.is(c.evalIntervalMs, 60_000);
  assert.is(c.resendDelayMs, 60_000);
});

test.run();
