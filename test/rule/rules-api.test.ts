// The querier's /api/v1/rules and /api/v1/alerts over the thanos.Rules gRPC API, end to end with real
// processes on loopback: Prometheus 2.42 evaluating a rule file itself (scraping itself every 1s),
// `thanos sidecar` in front of it, two `thanos rule` replicas (replica="r1"/"r2") evaluating the same
// rules (a copy of the file) against that Prometheus, and `thanos query` with
// --query.replica-label=replica fanning out to all three. Checks, field by field against
// Prometheus's own /api/v1/rules and /api/v1/alerts: the sidecar's group equals Prometheus's (labels
// with the external labels added, replica label removed); the rulers' group has the same fields and
// values and appears once (deduplicated); type, rule_name[], match[] filters; bad parameters.
// Exemplars (#16 item 5) ride on the same setup: Prometheus (--enable-feature=exemplar-storage)
// also scrapes a loopback OpenMetrics endpoint with exemplars, and the querier's
// /api/v1/query_exemplars (thanos.Exemplars through the sidecar) must equal Prometheus's own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpReady, startPrometheus, thanos, waitFor, type Proc, type PromProc } from '../sidecar/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const EXT = { cluster: 'rules-e2e', replica: 'p' };
const dir = mkdtempSync(join(tmpdir(), 'rules-api-'));
let prom: PromProc;
const procs: Proc[] = [];
let q = '';
let om: Server | undefined;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;

async function getJson(url: string): Promise<J> {
  const r = await fetch(url);
  const j = (await r.json()) as J;
  if (j.status !== 'success') throw new Error(`${url}: ${JSON.stringify(j)}`);
  return j.data;
}

const RULES = `groups:
  - name: g
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: { team: a }
      - alert: UpIsUp
        expr: up{job="self"} == 1
        for: 1h
        labels: { severity: info }
        annotations: { summary: "{{ $labels.job }} is up" }
      - alert: AlwaysFiring
        expr: vector(1)
        labels: { severity: none }
        annotations: { summary: "always" }
`;

test.before(async () => { try { await before(); } catch (e) { console.error('before failed:', e); throw e; } });
async function before() {
  const omPort = await freePort();
  om = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' });
    res.end('# TYPE ex_requests counter\nex_requests_total{path="/a"} 5 # {trace_id="abc123"} 1.5\nex_requests_total{path="/b"} 7 # {trace_id="def456",span_id="s1"} 2\n# EOF\n');
  });
  await new Promise<void>((r) => om!.listen(omPort, '127.0.0.1', () => r()));
  prom = await startPrometheus(dir, { ext: EXT, args: ['--enable-feature=exemplar-storage'] });
  writeFileSync(join(dir, 'prom-rules.yml'), RULES);
  writeFileSync(join(dir, 'ruler-rules.yml'), RULES);
  const extYaml = Object.entries(EXT).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join('');
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels:\n${extYaml}` +
    `rule_files: [${JSON.stringify(join(dir, 'prom-rules.yml'))}]\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:${prom.port}']\n` +
    `  - job_name: om\n    static_configs:\n      - targets: ['127.0.0.1:${omPort}']\n`);
  prom.proc.proc.kill('SIGHUP');
  await waitFor(async () => {
    const d = await getJson(`${prom.url}/api/v1/alerts`);
    return d.alerts.length === 2;
  }, 60_000, 'prometheus evaluates its rules', prom.proc.logs);
  const sHttp = await freePort();
  const sGrpc = await freePort();
  const s = thanos('sidecar', ['sidecar', '--tsdb.path', prom.dataDir, '--prometheus.url', prom.url,
    '--http-address', `127.0.0.1:${sHttp}`, '--grpc-address', `127.0.0.1:${sGrpc}`], dir);
  procs.push(s);
  const rulerGrpc: number[] = [];
  for (const r of ['r1', 'r2']) {
    const http = await freePort();
    const grpc = await freePort();
    rulerGrpc.push(grpc);
    const p = thanos('rule', ['rule', '--rule-file', 'ruler-rules.yml', '--query', prom.url, '--label', `cluster="${EXT.cluster}"`, '--label', `replica="${r}"`,
      '--data-dir', join(dir, `rule-${r}`), '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
    procs.push(p);
    await waitFor(() => httpReady(http).catch(() => false), STARTUP_MS, `ruler ${r} ready`, p.logs);
  }
  await waitFor(() => httpReady(sHttp).catch(() => false), STARTUP_MS, 'sidecar ready', s.logs);
  const qHttp = await freePort();
  const qp = thanos('query', ['query', '--http-address', `127.0.0.1:${qHttp}`, '--grpc-address', `127.0.0.1:${await freePort()}`,
    '--endpoint', `127.0.0.1:${sGrpc}`, ...rulerGrpc.flatMap((p) => ['--endpoint', `127.0.0.1:${p}`]),
    '--endpoint.info-interval', '1s', '--query.replica-label', 'replica'], dir);
  procs.push(qp);
  q = `http://127.0.0.1:${qHttp}`;
  await waitFor(async () => {
    const d = await getJson(`${q}/api/v1/stores`).catch(() => ({}));
    return (d.sidecar ?? []).some((e: J) => e.lastError === null) && (d.rule ?? []).filter((e: J) => e.lastError === null).length === 2;
  }, STARTUP_MS, 'querier sees the sidecar and both rulers', qp.logs);
}

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  await prom?.stop();
  om?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Prometheus's labels with the external labels added and the replica label removed (what the querier shows). */
function withExt(ls: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(ls ?? {}), cluster: EXT.cluster };
  delete out.replica;
  return out;
}

/** Field-by-field comparison: every Prometheus field is there with the same value (labels: with the external labels), and ours adds only partialResponseStrategy. */
function compareRule(got: J, want: J, where: string, exact: boolean): void {
  const extra = Object.keys(got).filter((k) => !(k in want) && k !== 'partialResponseStrategy' && !(k === 'labels' && want.type === 'recording'));
  assert.equal(extra, [], `${where}: fields Prometheus does not have`);
  for (const k of Object.keys(want)) {
    assert.ok(k in got, `${where}: field ${k} missing`);
    if (k === 'labels') assert.equal(got.labels, withExt(want.labels), `${where}.labels`);
    else if (k === 'alerts') {
      assert.is(got.alerts.length, want.alerts.length, `${where}.alerts`);
      for (let i = 0; i < want.alerts.length; i++) {
        const ga = got.alerts[i];
        const wa = want.alerts[i];
        assert.equal(Object.keys(ga).filter((x) => x !== 'partialResponseStrategy').sort(), Object.keys(wa).sort(), `${where}.alerts[${i}] fields`);
        assert.equal(ga.labels, withExt(wa.labels), `${where}.alerts[${i}].labels`);
        for (const f of ['annotations', 'state', 'value']) assert.equal(ga[f], wa[f], `${where}.alerts[${i}].${f}`);
        if (exact) assert.is(ga.activeAt, wa.activeAt, `${where}.alerts[${i}].activeAt`);
      }
    } else if (k === 'lastEvaluation' || k === 'evaluationTime') {
      if (exact) assert.equal(got[k], want[k], `${where}.${k}`);
      else assert.is(typeof got[k], typeof want[k], `${where}.${k} type`);
    } else assert.equal(got[k], want[k], `${where}.${k}`);
  }
}

function compareGroup(got: J, want: J, where: string, exact: boolean): void {
  const gk = Object.keys(got).filter((k) => k !== 'partialResponseStrategy').sort();
  assert.equal(gk, Object.keys(want).sort(), `${where}: group fields`);
  for (const k of ['name', 'interval', 'limit']) assert.equal(got[k], want[k], `${where}.${k}`);
  if (exact) for (const k of ['file', 'lastEvaluation', 'evaluationTime']) assert.equal(got[k], want[k], `${where}.${k}`);
  assert.is(got.rules.length, want.rules.length, `${where}: one copy of each rule`);
  for (let i = 0; i < want.rules.length; i++) compareRule(got.rules[i], want.rules[i], `${where}.rules[${i}]`, exact);
}

test('/api/v1/rules: the sidecar\'s group equals Prometheus\'s field by field; the two rulers\' group once, same fields and values', async () => {
  // Prometheus evaluates every second: retry until both answers saw the same evaluation.
  let got: J;
  let want: J;
  await waitFor(async () => {
    [got, want] = await Promise.all([getJson(`${q}/api/v1/rules`), getJson(`${prom.url}/api/v1/rules`)]);
    const side = got.groups.find((g: J) => g.file.endsWith('prom-rules.yml'));
    return side !== undefined && side.lastEvaluation === want.groups[0].lastEvaluation;
  }, 30_000, 'the same evaluation seen through the querier and directly');
  assert.equal(got.groups.map((g: J) => [g.name, g.file.replace(/.*\//, '')]), [['g', 'prom-rules.yml'], ['g', 'ruler-rules.yml']]);
  compareGroup(got.groups[0], want.groups[0], 'sidecar group', true);
  compareGroup(got.groups[1], want.groups[0], 'ruler group', false);
  assert.is(got.groups[1].partialResponseStrategy, 'ABORT');
});

test('/api/v1/rules filters: type, rule_name[], rule_group[], match[]; bad type is bad_data', async () => {
  const names = (d: J) => d.groups.flatMap((g: J) => g.rules.map((r: J) => r.name));
  const alertOnly = await getJson(`${q}/api/v1/rules?type=alert`);
  assert.ok(alertOnly.groups.every((g: J) => g.rules.every((r: J) => r.type === 'alerting')) && names(alertOnly).length === 4, JSON.stringify(names(alertOnly)));
  const rec = await getJson(`${q}/api/v1/rules?type=record`);
  assert.equal(names(rec), ['job:up:sum', 'job:up:sum']);
  assert.equal(names(await getJson(`${q}/api/v1/rules?rule_name[]=AlwaysFiring`)), ['AlwaysFiring', 'AlwaysFiring']);
  assert.equal(names(await getJson(`${q}/api/v1/rules?match[]=${encodeURIComponent('{severity="info"}')}`)), ['UpIsUp', 'UpIsUp']);
  assert.equal((await getJson(`${q}/api/v1/rules?rule_group[]=nope`)).groups, []);
  const bad = await fetch(`${q}/api/v1/rules?type=bogus`);
  assert.is(bad.status, 400);
  assert.equal(await bad.json(), { status: 'error', errorType: 'bad_data', error: "invalid rules parameter type='bogus'" });
  const badMatch = await fetch(`${q}/api/v1/rules?match[]=${encodeURIComponent('{')}`);
  assert.is(badMatch.status, 400);
});

test('/api/v1/alerts: Prometheus\'s alerts, once per source after dedup, same fields', async () => {
  const want = await getJson(`${prom.url}/api/v1/alerts`);
  const got = await getJson(`${q}/api/v1/alerts`);
  assert.is(want.alerts.length, 2);
  assert.is(got.alerts.length, 4, 'the sidecar\'s two and the rulers\' two (r1 and r2 deduplicated)');
  const key = (a: J) => `${a.labels.alertname}/${a.state}`;
  for (const w of want.alerts) {
    const mine = got.alerts.filter((a: J) => key(a) === key(w));
    assert.is(mine.length, 2, key(w));
    for (const g of mine) {
      assert.equal(Object.keys(g).filter((x) => x !== 'partialResponseStrategy').sort(), Object.keys(w).sort());
      assert.equal(g.labels, withExt(w.labels));
      assert.equal(g.annotations, w.annotations);
      assert.is(g.value, w.value);
    }
  }
});

test('/api/v1/query_exemplars through the sidecar equals Prometheus\'s (series labels with the external labels, replica deduplicated away)', async () => {
  await waitFor(async () => (await getJson(`${prom.url}/api/v1/query_exemplars?query=ex_requests_total`)).length === 2, 60_000, 'exemplars scraped', prom.proc.logs);
  const end = (Date.now() - 1000) / 1000;
  const start = end - 3600;
  const qs = `query=${encodeURIComponent('ex_requests_total')}&start=${start.toFixed(3)}&end=${end.toFixed(3)}`;
  const want = await getJson(`${prom.url}/api/v1/query_exemplars?${qs}`);
  const got = await getJson(`${q}/api/v1/query_exemplars?${qs}`);
  assert.is(got.length, 2);
  const byPath = (l: J[]) => [...l].sort((a, b) => (a.seriesLabels.path < b.seriesLabels.path ? -1 : 1));
  const w = byPath(want);
  const g = byPath(got);
  for (let i = 0; i < 2; i++) {
    assert.equal(Object.keys(g[i]).sort(), Object.keys(w[i]).sort());
    assert.equal(g[i].seriesLabels, withExt(w[i].seriesLabels));
    assert.ok(w[i].exemplars.length >= 1);
    assert.equal(g[i].exemplars, w[i].exemplars, 'exemplars: labels, value (string), timestamp (float seconds) as Prometheus');
  }
  const filtered = await getJson(`${q}/api/v1/query_exemplars?query=${encodeURIComponent('ex_requests_total{path="/b"}')}`);
  assert.equal(filtered.map((x: J) => x.seriesLabels.path), ['/b']);
  assert.is((await fetch(`${q}/api/v1/query_exemplars?query=${encodeURIComponent('sum(')}`)).status, 400);
});

test.run();
