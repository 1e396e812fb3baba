// Upstream's X-Thanos-Force-Tracing request header on a real `thanos query` whose sampler never
// samples (traceidratiobased, ratio 0), exporting to the loopback OTLP collector: requests without
// the header leave no span; one with it is exported as a server span carrying thanos.force_tracing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { startCollector, type Collector } from './collector.ts';

const dir = mkdtempSync(join(tmpdir(), 'tracing-force-'));
let collector: Collector | undefined;
let query: Proc | undefined;
test.after(async () => {
  await query?.kill('SIGKILL');
  await collector?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('sampler ratio 0: only the request with X-Thanos-Force-Tracing is traced', async () => {
  collector = await startCollector();
  writeFileSync(join(dir, 'tracing.yaml'), `type: OTLP\nconfig:\n  client_type: http\n  endpoint: 127.0.0.1:${collector.port}\n  insecure: true\n  sampler_type: traceidratiobased\n  sampler_param: 0\n`);
  const [http, grpc] = [await freePort(), await freePort()];
  const q = thanos('query', ['query', '--tracing.config-file', 'tracing.yaml', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
  query = q;
  await waitFor(() => httpReady(http), STARTUP_MS, 'querier ready', q.logs);
  const base = `http://127.0.0.1:${http}`;

  for (let i = 0; i < 3; i++) assert.is((await fetch(`${base}/api/v1/status/buildinfo`)).status, 200);
  const forced = await fetch(`${base}/api/v1/status/flags`, { headers: { 'X-Thanos-Force-Tracing': 'true' } });
  assert.is(forced.status, 200);

  await waitFor(async () => collector!.spans.some((s) => s.name === 'status_flags'), 60_000, 'the forced span at the collector', q.logs);
  // A clean stop flushes whatever the batch processor still holds: any span of the unforced requests would arrive now.
  await q.kill('SIGTERM');
  const names = collector.spans.map((s) => s.name);
  assert.equal(names, ['status_flags'], `only the forced request's span: ${JSON.stringify(names)}`);
  const span = collector.spans[0]!;
  assert.is(span.kind, 2, 'a server span');
  assert.is(span.attributes['thanos.force_tracing'], true);
  assert.is(span.attributes['url.path'], '/api/v1/status/flags');
});

test.run();
