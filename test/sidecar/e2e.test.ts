// End to end with real processes on loopback: Prometheus 2.42 started on promtool-made blocks (in its
// data dir before it starts) with external labels, `thanos sidecar` exactly as the reference
// deployment runs it (--tsdb.path, --prometheus.url, --objstore.config-file, --shipper.upload-compacted)
// on a FILESYSTEM bucket, and `thanos query --store <sidecar>` in front. Checks: the blocks land in
// the bucket with a Thanos section, thanos.shipper.json is written, the querier's answers equal
// Prometheus's, a restarted sidecar uploads nothing again, and a Prometheus without external labels
// makes the sidecar exit with Thanos's error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EXT, freePort, H, httpReady, MIN, openMetrics, promQuery, promtoolBlocks, startPrometheus, thanos, waitFor, writeBucketConfig,
  type Fixture, type Proc, type PromProc,
} from './harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const dir = mkdtempSync(join(tmpdir(), 'sidecar-e2e-'));
const NOW = Math.floor(Date.now() / 1000) * 1000;
const END = Math.floor((NOW - 2 * H) / MIN) * MIN;
const fx: Fixture = { start: END - 5 * H, end: END, stepMs: 15_000, offsetMs: 3217 };
const bucketDir = join(dir, 'bucket');

let prom: PromProc;
let blockIds: string[] = [];
const procs: Proc[] = [];
let sidecar: Proc;
let sidecarHttp = 0;
let sidecarGrpc = 0;
let queryHttp = 0;

async function startSidecar(name: string, promUrl: string, tsdbPath: string, extra: string[] = []): Promise<Proc> {
  sidecarHttp = await freePort();
  sidecarGrpc = await freePort();
  const p = thanos(name, ['sidecar', '--tsdb.path', tsdbPath, '--prometheus.url', promUrl, '--objstore.config-file', join(dir, 'bucket_config.yaml'),
    '--shipper.upload-compacted', '--http-address', `127.0.0.1:${sidecarHttp}`, '--grpc-address', `127.0.0.1:${sidecarGrpc}`, ...extra], dir);
  procs.push(p);
  return p;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{\\})?\\s+(\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

test.before(async () => {
  writeFileSync(join(dir, 'fx.om'), openMetrics(fx));
  blockIds = await promtoolBlocks(join(dir, 'fx.om'), join(dir, 'blocks'));
  prom = await startPrometheus(dir, { ext: EXT, blocksDir: join(dir, 'blocks'), ids: blockIds });
  mkdirSync(bucketDir);
  writeBucketConfig(join(dir, 'bucket_config.yaml'), bucketDir);
  sidecar = await startSidecar('sidecar', `http://127.0.0.1:${prom.port}`, prom.dataDir);
  await waitFor(() => httpReady(sidecarHttp), STARTUP_MS, 'sidecar ready', sidecar.logs);
});

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the sidecar uploads every Prometheus block with a Thanos section, meta.json complete, and records them', async () => {
  assert.ok(blockIds.length >= 3, `promtool made ${blockIds.length} blocks`);
  await waitFor(async () => blockIds.every((id) => existsSync(join(bucketDir, id, 'meta.json'))), 30_000, 'blocks uploaded', sidecar.logs);
  for (const id of blockIds) {
    const meta = JSON.parse(readFileSync(join(bucketDir, id, 'meta.json'), 'utf8'));
    assert.equal(meta.thanos.labels, EXT);
    assert.is(meta.thanos.source, 'sidecar');
    assert.equal(meta.thanos.downsample, { resolution: 0 });
    for (const f of meta.thanos.files) {
      if (f.rel_path === 'meta.json') continue;
      assert.is(statSync(join(bucketDir, id, f.rel_path)).size, f.size_bytes, f.rel_path);
      assert.is(statSync(join(prom.dataDir, id, f.rel_path)).size, f.size_bytes, `${f.rel_path} equals the local file`);
    }
    // meta.json is written after the data files
    const metaM = statSync(join(bucketDir, id, 'meta.json')).mtimeMs;
    assert.ok(statSync(join(bucketDir, id, 'index')).mtimeMs <= metaM);
  }
  // the state file is rewritten right after each upload's meta.json landed
  const statePath = join(prom.dataDir, 'thanos.shipper.json');
  await waitFor(async () => existsSync(statePath) && JSON.parse(readFileSync(statePath, 'utf8')).uploaded.length === blockIds.length, 10_000, 'shipper state file');
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  assert.is(state.version, 1);
  assert.equal([...state.uploaded].sort(), [...blockIds].sort());
  assert.is(await metric(sidecarHttp, 'thanos_shipper_uploads_total'), blockIds.length);
  assert.is(await metric(sidecarHttp, 'thanos_shipper_upload_failures_total'), 0);
  assert.match(sidecar.logs(), /upload new block/);
});

test('thanos query --store <sidecar> answers like Prometheus itself', async () => {
  queryHttp = await freePort();
  const q = thanos('query', ['query', '--http-address', `127.0.0.1:${queryHttp}`, '--grpc-address', `127.0.0.1:${await freePort()}`,
    '--store', `127.0.0.1:${sidecarGrpc}`, '--endpoint.info-interval', '1s'], dir);
  procs.push(q);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${queryHttp}/api/v1/stores`)).json()) as any;
    const all = (r.data?.sidecar ?? []) as Array<{ lastError: string | null; labelSets?: unknown[] }>;
    return all.some((s) => s.lastError === null && (s.labelSets?.length ?? 0) > 0);
  }, 30_000, 'querier sees the sidecar', q.logs);
  await waitFor(() => httpReady(queryHttp), STARTUP_MS, 'querier ready', q.logs);
  const params = { start: String((fx.start + 30 * MIN) / 1000), end: String((fx.end - 10 * MIN) / 1000), step: '60' };
  for (const query of ['sum by (job) (rate(sc_requests_total[5m]))', 'max_over_time(sc_temp[10m])', 'sc_ord']) {
    const want = await promQuery(prom.url, { ...params, query }, '/api/v1/query_range');
    let got: any;
    // a querier under load may answer one query before its next Info round trip; retry an empty answer
    await waitFor(async () => {
      got = await promQuery(`http://127.0.0.1:${queryHttp}`, { ...params, query }, '/api/v1/query_range');
      return got.result.length > 0;
    }, 15_000, `querier answers ${query}`, () => `${q.logs().slice(-3000)}\n${sidecar.logs().slice(-3000)}`);
    assert.ok(want.result.length > 0, query);
    // the querier adds the sidecar's external labels to each series
    const strip = (r: any[]) => r.map((s) => ({ metric: Object.fromEntries(Object.entries(s.metric).filter(([k]) => !(k in EXT))), values: s.values }))
      .sort((a, b) => JSON.stringify(a.metric) < JSON.stringify(b.metric) ? -1 : 1);
    if (!query.startsWith('sum')) for (const s of got.result) assert.equal({ cluster: s.metric.cluster, replica: s.metric.replica }, EXT);
    assert.equal(strip(got.result), strip(want.result), query);
  }
  const lv = (await (await fetch(`http://127.0.0.1:${queryHttp}/api/v1/label/cluster/values`)).json()) as any;
  assert.equal(lv.data, ['test-cluster']);
});

test('a restarted sidecar does not upload anything again', async () => {
  const before = new Map(blockIds.map((id) => [id, statSync(join(bucketDir, id, 'meta.json')).mtimeMs]));
  await sidecar.kill();
  assert.is(sidecar.proc.exitCode, 0, sidecar.logs().slice(-2000));
  sidecar = await startSidecar('sidecar2', `http://127.0.0.1:${prom.port}`, prom.dataDir);
  await waitFor(() => httpReady(sidecarHttp), STARTUP_MS, 'sidecar ready again', sidecar.logs);
  await waitFor(async () => (await metric(sidecarHttp, 'thanos_shipper_dir_syncs_total')) >= 1, 10_000, 'a shipper pass', sidecar.logs);
  await new Promise((r) => setTimeout(r, 300));
  assert.is(await metric(sidecarHttp, 'thanos_shipper_uploads_total'), 0);
  for (const id of blockIds) assert.is(statSync(join(bucketDir, id, 'meta.json')).mtimeMs, before.get(id));
  assert.equal(readdirSync(bucketDir).sort(), [...blockIds].sort());
  assert.not.match(sidecar.logs(), /upload new block/);
});

test('Prometheus without external labels: the sidecar exits 1 with Thanos\'s error and uploads nothing', async () => {
  const d2 = join(dir, 'noext');
  mkdirSync(d2);
  const p2 = await startPrometheus(d2, { ids: [] });
  try {
    const bucket2 = join(dir, 'bucket2');
    mkdirSync(bucket2);
    writeBucketConfig(join(d2, 'bucket.yaml'), bucket2);
    const s = thanos('noext', ['sidecar', '--tsdb.path', p2.dataDir, '--prometheus.url', p2.url, '--objstore.config-file', join(d2, 'bucket.yaml'),
      '--http-address', `127.0.0.1:${await freePort()}`, '--grpc-address', `127.0.0.1:${await freePort()}`], d2);
    procs.push(s);
    const code = await new Promise<number | null>((r) => (s.proc.exitCode !== null ? r(s.proc.exitCode) : s.proc.once('exit', (c) => r(c))));
    assert.is(code, 1, s.logs());
    assert.match(s.logs(), /no external labels configured on Prometheus server, uniquely identifying external labels must be configured/);
    assert.equal(readdirSync(bucket2), []);
  } finally {
    await p2.stop();
  }
});

test('bad flags: an unknown flag exits 2, a bad Prometheus URL fails at start-up, both with a clear message', async () => {
  for (const [args, re] of [
    [['--reloader.config-file', 'x.yml'], /unknown flag --reloader\.config-file/],
    [['--prometheus.url', 'localhost:9090'], /prometheus.?[uU]rl.*(invalid URL|unsupported scheme)/],
  ] as Array<[string[], RegExp]>) {
    const s = thanos('bad', ['sidecar', '--http-address', `127.0.0.1:${await freePort()}`, '--grpc-address', `127.0.0.1:${await freePort()}`, ...args], dir);
    procs.push(s);
    const code = await new Promise<number | null>((r) => (s.proc.exitCode !== null ? r(s.proc.exitCode) : s.proc.once('exit', (c) => r(c))));
    assert.ok(code === 2 || code === 1, s.logs());
    assert.match(s.logs(), re);
  }
});

test.run();
