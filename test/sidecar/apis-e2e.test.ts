// The sidecar's Metadata and Targets APIs end to end with real processes on loopback: Prometheus
// 2.42 scraping itself (plus a dropped target), `thanos sidecar` in front of it and `thanos query`
// fanning out to the sidecar. /api/v1/metadata and /api/v1/targets of the querier must carry what
// Prometheus's own API says (targets with the sidecar's external labels added).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXT, freePort, httpReady, startPrometheus, thanos, waitFor, type Proc, type PromProc } from './harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'sidecar-apis-'));
let prom: PromProc;
const procs: Proc[] = [];
let queryHttp = 0;

async function getJson(url: string): Promise<any> {
  const r = await fetch(url);
  const j = (await r.json()) as any;
  if (j.status !== 'success') throw new Error(`${url}: ${JSON.stringify(j)}`);
  return j.data;
}

test.before(async () => {
  prom = await startPrometheus(dir, { ext: EXT });
  // scrape itself every second and keep one dropped target; then reload the configuration
  const extYaml = Object.entries(EXT).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join('');
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  external_labels:\n${extYaml}scrape_configs:\n` +
    `  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:${prom.port}']\n` +
    `  - job_name: dropped\n    static_configs:\n      - targets: ['127.0.0.1:1']\n    relabel_configs:\n      - action: drop\n        source_labels: [__address__]\n        regex: '.*'\n`);
  prom.proc.proc.kill('SIGHUP');
  await waitFor(async () => {
    const d = await getJson(`${prom.url}/api/v1/targets`);
    return d.activeTargets.some((t: any) => t.health === 'up') && d.droppedTargets.length === 1;
  }, 60_000, 'prometheus scrapes itself', prom.proc.logs);
  await waitFor(async () => Object.keys(await getJson(`${prom.url}/api/v1/metadata?metric=prometheus_build_info`)).length > 0, 30_000, 'metadata');
  const sHttp = await freePort();
  const sGrpc = await freePort();
  const s = thanos('sidecar', ['sidecar', '--tsdb.path', prom.dataDir, '--prometheus.url', prom.url,
    '--http-address', `127.0.0.1:${sHttp}`, '--grpc-address', `127.0.0.1:${sGrpc}`], dir);
  procs.push(s);
  await waitFor(() => httpReady(sHttp), 120_000, 'sidecar ready', s.logs);
  queryHttp = await freePort();
  const q = thanos('query', ['query', '--http-address', `127.0.0.1:${queryHttp}`, '--grpc-address', `127.0.0.1:${await freePort()}`,
    '--endpoint', `127.0.0.1:${sGrpc}`, '--endpoint.info-interval', '1s', '--query.replica-label', 'replica'], dir);
  procs.push(q);
  await waitFor(async () => {
    const d = await getJson(`http://127.0.0.1:${queryHttp}/api/v1/stores`);
    return (d.sidecar ?? []).some((e: any) => e.lastError === null && e.labelSets.length > 0);
  }, 120_000, 'querier sees the sidecar', q.logs);
});

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('/api/v1/metadata through sidecar and querier equals Prometheus\'s, with metric and limit', async () => {
  const q = `http://127.0.0.1:${queryHttp}`;
  const want = await getJson(`${prom.url}/api/v1/metadata?metric=prometheus_build_info`);
  const got = await getJson(`${q}/api/v1/metadata?metric=prometheus_build_info`);
  assert.equal(got, want);
  assert.equal(Object.keys(got), ['prometheus_build_info']);
  const all = await getJson(`${q}/api/v1/metadata`);
  const promAll = await getJson(`${prom.url}/api/v1/metadata`);
  assert.ok(Object.keys(all).length > 20);
  for (const k of ['prometheus_http_requests_total', 'go_goroutines']) assert.equal(all[k], promAll[k], k);
  assert.is(Object.keys(await getJson(`${q}/api/v1/metadata?limit=3`)).length, 3);
  const text = await (await fetch(`${q}/api/v1/metadata?limit=0`)).text();
  assert.is(text, '{"status":"success","data":{}}');
});

test('/api/v1/targets through sidecar and querier: Prometheus\'s targets with external labels (replica label deduplicated away), state filter', async () => {
  const q = `http://127.0.0.1:${queryHttp}`;
  const want = await getJson(`${prom.url}/api/v1/targets`);
  const got = await getJson(`${q}/api/v1/targets`);
  assert.is(got.activeTargets.length, want.activeTargets.length);
  const w = want.activeTargets[0];
  const g = got.activeTargets[0];
  // the querier drops its replica label (--query.replica-label replica); the other external labels stay
  const ext = { cluster: EXT.cluster };
  assert.equal(g.labels, { ...w.labels, ...ext });
  assert.equal(g.discoveredLabels, { ...w.discoveredLabels, ...ext });
  for (const k of ['scrapePool', 'scrapeUrl', 'globalUrl']) assert.is(g[k], w[k], k);
  assert.is(g.health, 'up');
  assert.match(g.lastScrape, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.type(g.lastScrapeDuration, 'number');
  assert.equal(Object.keys(g), ['discoveredLabels', 'labels', 'scrapePool', 'scrapeUrl', 'globalUrl', 'lastError', 'lastScrape', 'lastScrapeDuration', 'health']);
  assert.equal(got.droppedTargets, want.droppedTargets.map((t: any) => ({ discoveredLabels: { ...t.discoveredLabels, ...ext } })));
  const act = await getJson(`${q}/api/v1/targets?state=active`);
  assert.is(act.activeTargets.length, 1);
  assert.equal(act.droppedTargets, []);
  const dr = await getJson(`${q}/api/v1/targets?state=dropped`);
  assert.equal(dr.activeTargets, []);
  assert.is(dr.droppedTargets.length, 1);
});

test.run();
