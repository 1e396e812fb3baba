// The thanos-mixin's receive metrics on two real `thanos receive` processes in one hashring
// (--receive.hashrings-file, --receive.replication-factor=2, a filesystem bucket, a limits file with
// max_concurrency and a head series limit fed by a meta-monitoring query API on loopback): remote
// writes into receiver 0 are forwarded to receiver 1; a tenant over its head series limit is refused;
// the limits file is reloaded (valid, then broken); receiver 1 is killed and writes go on. Checked:
// every metric and label the mixin reads of receive is exposed, and the values follow the traffic;
// the HTTP port serves upstream's probes and /metrics, and our status pages (`/` → /status, /flags,
// the status API; headless Chromium renders them without console errors).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import type { TimeSeries } from '../../lib/proto/prompb.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { mixinGaps, seriesOf, valueOf } from './components.ts';
import { checkStatusPages } from './statuspages.ts';

const dir = mkdtempSync(join(tmpdir(), 'mixin-receive-'));
const procs: Proc[] = [];
let meta: Server | undefined;

test.after(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await new Promise<void>((r) => (meta ? meta.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

interface Rx { i: number; rw: number; grpc: number; http: number; proc?: Proc }

const series = (n: number, t: number): TimeSeries[] =>
  Array.from({ length: n }, (_, i) => ({
    labels: [{ name: '__name__', value: 'mixin_rx' }, { name: 'i', value: String(i) }],
    samples: [{ timestamp: t, value: i }],
  }));

async function write(port: number, tenant: string, ts: TimeSeries[]): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/receive`, {
    method: 'POST', headers: { ...REMOTE_WRITE_HEADERS, 'THANOS-TENANT': tenant }, body: encodeRemoteWriteBody({ timeseries: ts }), signal: AbortSignal.timeout(30_000),
  });
  await res.text();
  return res.status;
}

const metricsOf = async (r: Rx) => (await fetch(`http://127.0.0.1:${r.http}/metrics`)).text();

test('2 receivers, RF=2: the mixin\'s receive metrics with their labels; forwards, replication, limits and reloads counted', async () => {
  // Meta-monitoring: tenant "limited" is far over its head series limit.
  meta = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { tenant: 'limited' }, value: [Date.now() / 1000, '1000'] }] } }));
  });
  const metaPort = await freePort();
  await new Promise<void>((r) => meta!.listen(metaPort, '127.0.0.1', r));

  const rxs: Rx[] = [];
  for (let i = 0; i < 2; i++) rxs.push({ i, rw: await freePort(), grpc: await freePort(), http: await freePort() });
  const ring = join(dir, 'hashrings.json');
  writeFileSync(ring, JSON.stringify([{ hashring: 'default', endpoints: rxs.map((r) => `127.0.0.1:${r.grpc}`) }]));
  const limitsFile = join(dir, 'limits.yaml');
  const limits = (maxConcurrency: number) => `write:
  global:
    max_concurrency: ${maxConcurrency}
    meta_monitoring_url: http://127.0.0.1:${metaPort}
  default:
    head_series_limit: 100
`;
  writeFileSync(limitsFile, limits(10));
  const bucket = join(dir, 'bucket');
  mkdirSync(bucket);
  for (const r of rxs) {
    r.proc = thanos(`receive-${r.i}`, [
      'receive', `--remote-write.address=127.0.0.1:${r.rw}`, `--grpc-address=127.0.0.1:${r.grpc}`, `--http-address=127.0.0.1:${r.http}`,
      `--tsdb.path=${join(dir, `r${r.i}`)}`, `--label=receive_replica="r${r.i}"`, `--receive.hashrings-file=${ring}`,
      '--receive.replication-factor=2', `--receive.local-endpoint=127.0.0.1:${r.grpc}`,
      `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${bucket}\n`,
      `--receive.limits-config-file=${limitsFile}`, '--receive.limits-config-reload-timer=1s',
    ], dir);
    procs.push(r.proc);
  }
  for (const r of rxs) await waitFor(() => httpReady(r.http), STARTUP_MS, `receiver ${r.i} ready`, () => r.proc!.logs());
  const [r0, r1] = rxs as [Rx, Rx];

  // 50 series into receiver 0: each is written locally and forwarded to receiver 1 (RF=2 on 2 nodes).
  // The first write may meet receiver 1's gRPC server still starting: quorum (1 of 2) is met locally either way.
  await waitFor(async () => (await write(r0.rw, 'default-tenant', series(50, Date.now()))) === 200, STARTUP_MS, 'a write answered 200', () => r0.proc!.logs());
  await waitFor(async () => valueOf(await metricsOf(r1), 'prometheus_tsdb_head_series', { tenant: 'default-tenant' }) === 50, STARTUP_MS, 'the forwarded series on receiver 1', () => r1.proc!.logs());
  // Remote writes into receiver 1 too (the request metrics are made by HTTP traffic), and the tenant
  // over its head series limit on both (refused once the first meta-monitoring query answered).
  await waitFor(async () => (await write(r1.rw, 'default-tenant', series(50, Date.now()))) === 200, STARTUP_MS, 'a write into receiver 1', () => r1.proc!.logs());
  for (const r of rxs) await waitFor(async () => (await write(r.rw, 'limited', series(1, Date.now()))) === 429, STARTUP_MS, 'the limited tenant refused with 429', () => r.proc!.logs());

  const m0 = await metricsOf(r0);
  assert.equal(mixinGaps('receive', m0), [], 'receiver 0 exposes what the mixin reads');
  assert.equal(mixinGaps('receive', await metricsOf(r1)), [], 'receiver 1 too');

  // Forwarding and replication (both results exist from the start, as upstream pre-initialises them).
  assert.ok(valueOf(m0, 'thanos_receive_forward_requests_total', { result: 'success' }) >= 1);
  assert.ok(valueOf(m0, 'thanos_receive_replications_total', { result: 'success' }) >= 1);
  assert.is(seriesOf(m0, 'thanos_receive_forward_requests_total', { result: 'error' }).length, 1);
  assert.is(valueOf(m0, 'thanos_receive_replication_factor'), 2);
  assert.is(valueOf(m0, 'thanos_receive_hashring_nodes', { name: 'default' }), 2);
  assert.is(valueOf(m0, 'thanos_receive_config_last_reload_successful'), 1);
  // Request sizes by code and tenant, with pkg/receive's buckets.
  const rq = { code: '200', tenant: 'default-tenant' };
  assert.ok(valueOf(m0, 'thanos_receive_write_timeseries_sum', rq) >= 50);
  assert.ok(valueOf(m0, 'thanos_receive_write_samples_count', rq) >= 1);
  assert.equal(seriesOf(m0, 'thanos_receive_write_timeseries_bucket', rq).map((s) => s.labels.le), ['10', '50', '100', '500', '1000', '5000', '10000', '+Inf']);
  // TSDB metrics per tenant, as multitsdb's tenant-wrapped registerer.
  assert.is(valueOf(m0, 'prometheus_tsdb_head_series', { tenant: 'default-tenant' }), 50);
  assert.ok(valueOf(m0, 'prometheus_tsdb_head_samples_appended_total', { tenant: 'default-tenant', type: 'float' }) >= 50);
  assert.is(seriesOf(m0, 'prometheus_tsdb_out_of_order_samples_total', { tenant: 'default-tenant', type: 'float' }).length, 1);
  // Limits: the refused tenant, the write gate (max_concurrency 10), no reload yet.
  assert.ok(valueOf(m0, 'thanos_receive_head_series_limited_requests_total', { tenant: 'limited' }) >= 1);
  assert.is(valueOf(m0, 'thanos_receive_write_request_concurrent_gate_write_requests_max'), 10);
  assert.ok(valueOf(m0, 'thanos_receive_write_request_concurrent_gate_write_requests_total') >= 2);
  assert.is(valueOf(m0, 'thanos_receive_write_request_concurrent_gate_write_requests_in_flight'), 0);
  assert.is(valueOf(m0, 'thanos_receive_limits_config_reload_total'), 0);
  assert.is(valueOf(m0, 'thanos_receive_limits_config_reload_err_total'), 0);

  // A changed limits file is reloaded; a broken one counts an error and keeps the old limits.
  writeFileSync(limitsFile, limits(20));
  await waitFor(async () => valueOf(await metricsOf(r0), 'thanos_receive_write_request_concurrent_gate_write_requests_max') === 20, STARTUP_MS, 'the reloaded max_concurrency', () => r0.proc!.logs());
  assert.ok(valueOf(await metricsOf(r0), 'thanos_receive_limits_config_reload_total') >= 1);
  writeFileSync(limitsFile, 'write: [not, a, mapping]\n');
  await waitFor(async () => valueOf(await metricsOf(r0), 'thanos_receive_limits_config_reload_err_total') >= 1, STARTUP_MS, 'a failed reload counted', () => r0.proc!.logs());

  // Upstream's receiver HTTP port has only probes, /metrics and pprof (`/` is 404 there). Ours also
  // serves the status pages and API (issue #14: an operator finds the flags and version of every
  // component at the same place); nothing a Thanos user relies on answers differently.
  assert.is((await fetch(`http://127.0.0.1:${r0.http}/-/healthy`)).status, 200);
  await checkStatusPages(`http://127.0.0.1:${r0.http}`, 'receive.replication-factor', '2');

  // Receiver 1 gone: writes still reach quorum (1 of 2) locally; the forward and the replication fail.
  await r1.proc!.kill('SIGKILL');
  await waitFor(async () => {
    assert.is(await write(r0.rw, 'default-tenant', series(50, Date.now())), 200);
    const m = await metricsOf(r0);
    return valueOf(m, 'thanos_receive_forward_requests_total', { result: 'error' }) >= 1 && valueOf(m, 'thanos_receive_replications_total', { result: 'error' }) >= 1;
  }, STARTUP_MS, 'failed forwards counted', () => r0.proc!.logs());
});

test.run();
