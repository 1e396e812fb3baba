// The querier's per-request Series limits (Thanos's --store.limits.request-series and
// --store.limits.request-samples, samples counted as chunks x 120), on loopback: a StoreAPI over gRPC
// in this process and `thanos query` as a process. A selection over a limit fails with Thanos's
// text and counts thanos_store_selects_dropped_total{reason}; under the limits it is answered; the
// querier's own gRPC StoreAPI is limited too. Also Prometheus's 11,000 points per series limit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { MemoryStore, type SampleSeries } from '../../lib/store/memory.ts';
import { infoServices, storeServices } from '../../lib/store/server.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { seriesRequest } from '../../lib/proto/store.ts';
import { dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { freePort, httpReady, thanos, waitFor, type Proc } from './harness.ts';

const core = createJsCore();
const T = 1_700_000_000_000;
const NSERIES = 20;

/** 20 series, 2 h at 15 s: 481 samples each, 5 XOR chunks (4 x 120 + 1). */
function data(): SampleSeries[] {
  const out: SampleSeries[] = [];
  for (let s = 0; s < NSERIES; s++) {
    const t: number[] = [];
    const v: number[] = [];
    for (let ts = T - 2 * 3600_000; ts <= T; ts += 15_000) {
      t.push(ts);
      v.push(s);
    }
    out.push({ labels: labelsFromRecord({ __name__: 'x', i: String(s).padStart(2, '0') }), t, v });
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'query-limits-'));
let store: GrpcListener | undefined;
let proc: Proc | undefined;
let client: StoreClient | undefined;
test.after(async () => {
  client?.close();
  await proc?.kill();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function getJson(base: string, path: string): Promise<{ status: number; body: any }> {
  const r = await fetch(base + path, { signal: AbortSignal.timeout(60_000) });
  return { status: r.status, body: JSON.parse(await r.text()) };
}
const q = (expr: string) => `/api/v1/query?query=${encodeURIComponent(expr)}&time=${T / 1000}`;

test('--store.limits.request-series / --store.limits.request-samples stop a Series fan-out that goes over them', async () => {
  const mem = MemoryStore.fromSamples(data(), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'c1' }) });
  const grpcPort = await freePort();
  store = await startGrpc(`127.0.0.1:${grpcPort}`, { ...storeServices(mem), ...infoServices(() => mem.info()) });
  const http = await freePort();
  const grpc = await freePort();
  proc = thanos('query', ['query', `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${grpc}`, `--endpoint=127.0.0.1:${grpcPort}`,
    '--endpoint.info-interval=1s', '--store.limits.request-series=10', '--store.limits.request-samples=3000'], dir);
  const base = `http://127.0.0.1:${http}`;
  await waitFor(() => httpReady(http), STARTUP_MS, 'querier ready', proc.logs);
  await waitFor(async () => (await getJson(base, q('count(x{i=~"0[0-4]"})'))).body.data.result[0]?.value[1] === '5', STARTUP_MS, 'store connected', proc.logs);

  // 5 series x 5 chunks = 3000 samples as counted: exactly at the limit, answered
  const ok = await getJson(base, q('count_over_time(x{i=~"0[0-4]"}[2h])'));
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  assert.is(ok.body.data.result.length, 5);
  // 20 series > 10
  const tooMany = await getJson(base, q('count(x)'));
  assert.is(tooMany.status, 422, JSON.stringify(tooMany.body));
  assert.is(tooMany.body.errorType, 'execution');
  assert.match(tooMany.body.error, /failed to send series: limit 10 violated \(got \d+\)/);
  // 6 series x 5 chunks x 120 = 3600 > 3000
  const tooBig = await getJson(base, q('count_over_time(x{i=~"0[0-5]"}[2h])'));
  assert.is(tooBig.status, 422, JSON.stringify(tooBig.body));
  assert.match(tooBig.body.error, /failed to send samples: limit 3000 violated \(got 3600\)/);
  // series and labels APIs select without chunks: 20 series over the series limit still fail
  const ser = await getJson(base, `/api/v1/series?match[]=x`);
  assert.is(ser.status >= 400, true, JSON.stringify(ser.body));
  assert.match(ser.body.error, /failed to send series: limit 10 violated/);

  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^thanos_store_selects_dropped_total\{reason="series"\} [1-9]/m);
  assert.match(metrics, /^thanos_store_selects_dropped_total\{reason="chunks"\} 1$/m);

  // the querier's own StoreAPI (a querier stacked on this one) is limited the same way
  client = new StoreClient(dialGrpc(`127.0.0.1:${grpc}`));
  const it = client.series(seriesRequest({ minTime: T - 3600_000, maxTime: T, matchers: [{ type: '=', name: '__name__', value: 'x' }] }), AbortSignal.timeout(60_000));
  let err: Error | undefined;
  try {
    for await (const _ of it) { /* drain */ }
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, 'the gRPC Series call over the limit did not fail');
  assert.match(err!.message, /failed to send (series|samples): limit/);

  // Prometheus's resolution limit: > 11,000 steps is refused before anything is selected
  const res = await getJson(base, `/api/v1/query_range?query=x&start=0&end=110010&step=10`);
  assert.is(res.status, 400);
  assert.equal([res.body.errorType, res.body.error], ['bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)']);
  assert.is((await getJson(base, `/api/v1/query_range?query=vector(1)&start=0&end=110000&step=10`)).status, 200);
});

test.run();
