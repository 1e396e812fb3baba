// Upstream's X-Thanos-Force-Tracing request header on a real `thanos query` whose sampler never
// samples (traceidratiobased, ratio 0), exporting to the loopback OTLP collector: requests without
// the header leave no span; one with it is exported as a server span carrying thanos.force_tracing.
// Forced queries show upstream's querier spans: query_gate_ismyturn, instant/range_query_create and _exec.
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

test('sampler ratio 0: only requests with X-Thanos-Force-Tracing are traced; the querier\'s gate and query-create spans', async () => {
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

  // Forced queries: upstream's querier spans under the server span (the gate's wait, the query's creation, its exec).
  const force = { headers: { 'X-Thanos-Force-Tracing': '1' } };
  assert.is((await fetch(`${base}/api/v1/query?query=1%2B1`, force)).status, 200);
  assert.is((await fetch(`${base}/api/v1/query_range?query=1%2B1&start=0&end=60&step=15`, force)).status, 200);

  await waitFor(async () => ['status_flags', 'instant_query_exec', 'range_query_exec'].every((n) => collector!.spans.some((s) => s.name === n)), 60_000, 'the forced spans at the collector', () => `spans: ${collector!.spans.map((s) => s.name).join(' ')}\n${q.logs()}`);
  // A clean stop flushes whatever the batch processor still holds: any span of the unforced requests would arrive now.
  await q.kill('SIGTERM');
  const names = collector.spans.map((s) => s.name).sort();
  assert.equal(names, [
    'instant_query_create', 'instant_query_exec', 'query', 'query_gate_ismyturn', 'query_gate_ismyturn', 'query_range', 'range_query_create', 'range_query_exec', 'status_flags',
  ], `only the forced requests' spans: ${JSON.stringify(names)}`);
  const flagsSpan = collector.spans.find((s) => s.name === 'status_flags')!;
  assert.is(flagsSpan.kind, 2, 'a server span');
  assert.is(flagsSpan.attributes['thanos.force_tracing'], true);
  assert.is(flagsSpan.attributes['url.path'], '/api/v1/status/flags');
  for (const [server, children] of [['query', ['query_gate_ismyturn', 'instant_query_create', 'instant_query_exec']], ['query_range', ['query_gate_ismyturn', 'range_query_create', 'range_query_exec']]] as const) {
    const root = collector.spans.find((s) => s.name === server)!;
    for (const child of children) {
      assert.ok(collector.spans.some((s) => s.name === child && s.parentSpanId === root.spanId && s.traceId === root.traceId), `${child} is a child of the ${server} server span`);
    }
  }
});

test.run();
