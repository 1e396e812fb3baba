// The thanos-mixin's sidecar metrics on a real `thanos sidecar` next to a real Prometheus 2.42 (a
// filesystem bucket, so the shipper and bucket metrics exist; a heartbeat every second). Checked:
// every metric and label the mixin reads of sidecar is exposed; thanos_sidecar_prometheus_up is 1
// while Prometheus answers and turns 0 once it is gone, the heartbeat time stops moving; and the
// sidecar's HTTP port serves upstream's probes and /metrics, and our status pages (`/` → /status,
// /flags, the status API; headless Chromium renders them without console errors).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { startPrometheus, type PromProc } from '../sidecar/harness.ts';
import { mixinGaps, valueOf, type Exempt } from './components.ts';
import { checkStatusPages } from './statuspages.ts';

const dir = mkdtempSync(join(tmpdir(), 'mixin-sidecar-'));
let prom: PromProc | undefined;
let sidecar: Proc | undefined;
test.after(async () => {
  await sidecar?.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const SIDECAR_EXEMPT: Exempt[] = [
  { metric: 'prometheus_tsdb_data_replay_duration_seconds', reason: 'a Prometheus metric: the alert reads it from the Prometheus job next to the sidecar' },
];

test('thanos sidecar: the mixin\'s sidecar metrics; prometheus_up follows Prometheus; probes and status pages', async () => {
  mkdirSync(join(dir, 'prom'));
  prom = await startPrometheus(join(dir, 'prom'), { ext: { cluster: 'mixin', replica: 'a' } });
  const bucket = join(dir, 'bucket');
  mkdirSync(bucket);
  const http = await freePort();
  const grpc = await freePort();
  sidecar = thanos('sidecar', [
    'sidecar', `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${grpc}`, `--prometheus.url=${prom.url}`, `--tsdb.path=${prom.dataDir}`,
    `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${bucket}\n`, '--prometheus.get_config_interval=1s',
  ], dir);
  await waitFor(() => httpReady(http), STARTUP_MS, 'sidecar ready', sidecar.logs);
  const base = `http://127.0.0.1:${http}`;
  const metrics = async () => (await fetch(`${base}/metrics`)).text();

  const m = await metrics();
  assert.equal(mixinGaps('sidecar', m, SIDECAR_EXEMPT), [], 'the sidecar exposes what the mixin reads');
  assert.is(valueOf(m, 'thanos_sidecar_prometheus_up'), 1);
  assert.ok(valueOf(m, 'thanos_sidecar_last_heartbeat_success_time_seconds') > Date.now() / 1000 - 60);

  // Upstream's sidecar HTTP server has only probes, /metrics and pprof (`/` is 404 there). Ours also
  // serves the status pages and API (issue #14: an operator finds the flags and version of every
  // component at the same place); nothing a Thanos user relies on answers differently.
  assert.is((await fetch(`${base}/-/healthy`)).status, 200);
  await checkStatusPages(base, 'prometheus.get_config_interval', '1s');

  // Prometheus gone: the next heartbeat fails.
  await prom.stop();
  prom = undefined;
  await waitFor(async () => valueOf(await metrics(), 'thanos_sidecar_prometheus_up') === 0, STARTUP_MS, 'prometheus_up 0', sidecar.logs);
  const beat = valueOf(await metrics(), 'thanos_sidecar_last_heartbeat_success_time_seconds');
  await new Promise((r) => setTimeout(r, 2500));
  assert.is(valueOf(await metrics(), 'thanos_sidecar_last_heartbeat_success_time_seconds'), beat, 'no successful heartbeat without Prometheus');
});

test.run();
