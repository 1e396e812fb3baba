// One heavy query must not freeze the querier (#21 item 4). Real servers on loopback: a StoreAPI
// over gRPC in this process (MemoryStore, optionally slowed down) and `thanos query` as a process
// (so the polling client below does not share the querier's event loop). A heavy subquery runs while a second client polls /-/healthy and
// runs a cheap query; client aborts must stop evaluation and the store stream; the max-samples and
// timeout errors are Prometheus's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { MemoryStore, type SampleSeries } from '../../lib/store/memory.ts';
import type { StoreServer } from '../../lib/store/api.ts';
import { infoServices, storeServices } from '../../lib/store/server.ts';
import type { SeriesRequest, SeriesResponse } from '../../lib/proto/store.ts';
import { Engine, MemoryQueryable, STALE_NAN, type MatrixSeries } from '../../lib/promql/mod.ts';
import { matrixColumns, matrixLength } from '../../lib/promql/engine/types.ts';
import { resultJson } from '../../plugins/component/query/api.ts';
import { startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STARTUP_MS } from '../harness/startup.ts';
import { freePort, httpReady, thanos, waitFor } from './harness.ts';

const core = createJsCore();
const T = 1_700_000_000_000;
const NSERIES = 20;

/** 10 series x 100k raw samples (1 s apart) ending at T: a 1M-sample raw selection. */
function bigData(): SampleSeries[] {
  const out: SampleSeries[] = [];
  for (let s = 0; s < 10; s++) {
    const n = 100_000;
    const t: number[] = new Array(n);
    const v: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      t[i] = T - (n - 1 - i) * 1000;
      v[i] = (i % 13) + s;
    }
    out.push({ labels: labelsFromRecord({ __name__: 'big', i: String(s).padStart(2, '0') }), t, v });
  }
  return out;
}

function data(): SampleSeries[] {
  const out: SampleSeries[] = [];
  for (let s = 0; s < NSERIES; s++) {
    const t: number[] = [];
    const v: number[] = [];
    for (let ts = T - 2 * 3600_000; ts <= T; ts += 15_000) {
      t.push(ts);
      v.push(s * 1000 + ((ts / 15_000) % 100));
    }
    out.push({ labels: labelsFromRecord({ __name__: 'x', i: String(s).padStart(2, '0') }), t, v });
  }
  return out;
}

/** A StoreServer that can pace its Series stream and records how each stream ended. */
class PacedStore implements StoreServer {
  delayMs = 0;
  streams: { aborted: boolean; endedAt: number }[] = [];
  constructor(private readonly inner: MemoryStore) {}
  info() {
    return this.inner.info();
  }
  async *series(req: SeriesRequest, signal: AbortSignal): AsyncIterable<SeriesResponse> {
    const rec = { aborted: false, endedAt: 0 };
    this.streams.push(rec);
    try {
      for await (const r of this.inner.series(req, signal)) {
        if (this.delayMs) await new Promise((res) => setTimeout(res, this.delayMs));
        if (signal.aborted) break;
        yield r;
      }
    } finally {
      rec.aborted = signal.aborted;
      rec.endedAt = performance.now();
    }
  }
  labelNames(req: Parameters<StoreServer['labelNames']>[0], signal: AbortSignal) {
    return this.inner.labelNames(req, signal);
  }
  labelValues(req: Parameters<StoreServer['labelValues']>[0], signal: AbortSignal) {
    return this.inner.labelValues(req, signal);
  }
}

interface Env {
  base: string;
  store: PacedStore;
  close(): Promise<void>;
}

/** The store in this process (gRPC on loopback), `thanos query` as a real process in front of it. */
async function start(flags: string[] = [], big = false): Promise<Env> {
  const series = big ? [...data(), ...bigData()] : data();
  const store = new PacedStore(MemoryStore.fromSamples(series, core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'c1' }) }));
  const grpcSrv: GrpcListener = await startGrpc('127.0.0.1:0', { ...storeServices(store), ...infoServices(() => store.info()) });
  const http = await freePort();
  const grpc = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'heavy-'));
  const proc = thanos('query', ['query', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`,
    '--endpoint', grpcSrv.address, ...flags], dir);
  const base = `http://127.0.0.1:${http}`;
  const env: Env = {
    base,
    store,
    async close() {
      await proc.kill();
      await grpcSrv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(() => httpReady(http), STARTUP_MS, 'querier ready', proc.logs);
    await waitFor(async () => (await getJson(base, q('count(x)'))).body.data.result[0]?.value[1] === String(NSERIES), STARTUP_MS, 'store connected', proc.logs);
  } catch (e) {
    await env.close();
    throw e;
  }
  store.streams.length = 0;
  return env;
}

const q = (expr: string, extra = '') => `/api/v1/query?query=${encodeURIComponent(expr)}&time=${T / 1000}${extra}`;

async function getJson(base: string, path: string, signal?: AbortSignal): Promise<{ status: number; body: any }> {
  const r = await fetch(base + path, { signal });
  const text = await r.text();
  return { status: r.status, body: JSON.parse(text) };
}

async function inFlight(env: Env): Promise<number> {
  const text = await (await fetch(`${env.base}/metrics`)).text();
  const m = /^thanos_query_concurrent_gate_queries_in_flight (\S+)$/m.exec(text);
  if (!m) throw new Error('thanos_query_concurrent_gate_queries_in_flight not exported');
  return Number(m[1]);
}

async function until(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

// 20 series at 1 ms resolution over 5 minutes: 6M samples, seconds of evaluation.
const HEAVY = 'max_over_time(x[5m:1ms])';

/** Runs `heavy` while polling /-/healthy and a cheap query; returns its answer, its duration and the poll latencies. */
async function whilePolling<T>(env: Env, heavy: Promise<T>): Promise<{ res: T; heavyMs: number; lat: number[] }> {
  const t0 = performance.now();
  let heavyDone = false;
  const h = heavy.finally(() => (heavyDone = true));
  const lat: number[] = [];
  while (!heavyDone) {
    const a = performance.now();
    const r = await fetch(`${env.base}/-/healthy`);
    await r.text();
    assert.is(r.status, 200);
    const c = await getJson(env.base, q('1 + 1'));
    assert.is(c.status, 200);
    assert.is(c.body.data.result[1], '2');
    lat.push(performance.now() - a);
    await new Promise((r) => setTimeout(r, 25));
  }
  const res = await h;
  return { res, heavyMs: performance.now() - t0, lat };
}

function assertResponsive(what: string, heavyMs: number, lat: number[]): void {
  const max = Math.max(...lat);
  console.log(`  ${what}: ${Math.round(heavyMs)} ms; ${lat.length} polls, max latency ${Math.round(max)} ms`);
  assert.ok(lat.length >= 3, `only ${lat.length} polls completed during a ${Math.round(heavyMs)} ms query`);
  // Before #21 the evaluation held the event loop for its whole run, so a poll waited about as long
  // as the heavy query itself. Now the worst wait is one slice of synchronous work: under 1 s, or a
  // small fraction of the heavy query when the machine is loaded enough to stretch both (a poll is
  // two requests, each waiting out at most one slice; a third of the query leaves room for both on a
  // machine at load 30, where a quarter failed once by 5%, and still fails a loop held throughout).
  // A third failed once by 1.5% (2134 ms of a 6311 ms raw selection, a fresh-clone CI run at load
  // ~10 beside two benchmarks); the same build alone at load 8-10 waited 351-564 ms. Half: a loop
  // held for the query's evaluation still waits well over half of it (the store stream is short).
  const bound = Math.max(1000, heavyMs / 2);
  assert.ok(max < bound, `/-/healthy + cheap query took ${Math.round(max)} ms while the heavy query ran (${Math.round(heavyMs)} ms)`);
}

test('a heavy subquery does not hold /-/healthy or a cheap query', async () => {
  const env = await start();
  try {
    const { res, heavyMs, lat } = await whilePolling(env, getJson(env.base, q(HEAVY)));
    assert.is(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    assert.is(res.body.data.result.length, NSERIES);
    // The window holds 20 raw samples of a sawtooth ((ts/15s) % 100): its max is the largest of them.
    const win: number[] = [];
    for (let ts = T - 300_000 + 15_000; ts <= T; ts += 15_000) win.push((ts / 15_000) % 100);
    const r7 = res.body.data.result.find((s: any) => s.metric.i === '07');
    assert.is(Number(r7.value[1]), 7000 + Math.max(...win));
    assertResponsive('heavy subquery', heavyMs, lat);
  } finally {
    await env.close();
  }
});

test('a 1M-sample raw selection does not hold /-/healthy or a cheap query', async () => {
  const env = await start([], true);
  try {
    const { res, heavyMs, lat } = await whilePolling(env, getJson(env.base, q('big[100000s]')));
    assert.is(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    assert.is(res.body.data.result.length, 10);
    const s3 = res.body.data.result.find((s: any) => s.metric.i === '03');
    assert.is(s3.values.length, 100_000);
    assert.equal(s3.values[99_999], [T / 1000, String((99_999 % 13) + 3)]);
    assertResponsive('raw selection', heavyMs, lat);
  } finally {
    await env.close();
  }
});

test('a raw selection is answered from typed-array columns: no per-point objects, same bytes', async () => {
  // 9M per-point objects made a >1 GB heap whose major GCs held the loop for seconds: the engine's
  // matrix answer keeps its columns and the JSON writer reads them without building `values`.
  const q = new MemoryQueryable();
  for (let i = 0; i < 2_000; i++) {
    for (const s of ['a', 'b']) {
      // A stale marker in series b (dropped from the answer), odd values to exercise formatting.
      const v = s === 'b' && i === 700 ? STALE_NAN : i % 7 === 0 ? i / 3 : i;
      q.add(labelsFromRecord({ __name__: 'raw', s }), T - (1_999 - i) * 1000, v);
    }
  }
  const r = await new Engine().instantQuery(q, 'raw[1500s]', T);
  assert.is(r.resultType, 'matrix');
  const series = r.result as MatrixSeries[];
  assert.is(series.length, 2);
  for (const s of series) assert.ok(matrixColumns(s), 'engine answer built per-point objects');
  assert.is(matrixLength(series[0]!), 1_500);
  assert.is(matrixLength(series[1]!), 1_499);
  const json = resultJson(r);
  for (const s of series) assert.ok(matrixColumns(s), 'writer built per-point objects');
  // The same answer as plain points writes the same bytes.
  const plain = { ...r, result: series.map((s) => ({ metric: s.metric, values: s.values.map((p) => ({ t: p.t, v: p.v })) })) };
  assert.is(resultJson(plain as typeof r), json);
  assert.equal(series[1]!.values[199], { t: T - 1_300_000, v: 699 });
  assert.equal(series[1]!.values[200], { t: T - 1_298_000, v: 701 });
  assert.equal(series[0]!.values[1_499], { t: T, v: 1_999 });
});

test('a client that goes away stops the evaluation (the query slot is released)', async () => {
  const env = await start();
  try {
    const ac = new AbortController();
    const heavy = getJson(env.base, q(HEAVY), ac.signal).catch((e) => e);
    assert.ok(await until(async () => (await inFlight(env)) === 1, 30_000), 'heavy query never started');
    await new Promise((r) => setTimeout(r, 300));
    const t = performance.now();
    ac.abort();
    await heavy;
    // The evaluation notices within one time slice; 5 s is generous for a loaded machine.
    const stopped = await until(async () => (await inFlight(env)) === 0, 5_000);
    assert.ok(stopped, `evaluation still running ${Math.round(performance.now() - t)} ms after the client went away`);
  } finally {
    await env.close();
  }
});

test('a client that goes away cancels the StoreAPI Series stream', async () => {
  const env = await start();
  try {
    env.store.delayMs = 200; // 20 series: a 4 s stream
    const ac = new AbortController();
    const p = getJson(env.base, q('x'), ac.signal).catch((e) => e);
    assert.ok(await until(async () => env.store.streams.length > 0, 30_000), 'no Series call reached the store');
    await new Promise((r) => setTimeout(r, 300));
    const t = performance.now();
    ac.abort();
    await p;
    assert.ok(await until(async () => env.store.streams.every((s) => s.endedAt > 0), 3_000), 'the store kept streaming after the client went away');
    assert.ok(env.store.streams.every((s) => s.aborted), 'stream ended without cancellation');
    assert.ok(env.store.streams[0]!.endedAt - t < 3_000);
    assert.ok(await until(async () => (await inFlight(env)) === 0, 3_000));
  } finally {
    await env.close();
  }
});

test('max-samples and timeout answer with the Prometheus errors', async () => {
  const env = await start(['--query.max-samples=1000000']);
  try {
    const t0 = performance.now();
    const r = await getJson(env.base, q('max_over_time(x[1h:1ms])'));
    assert.is(r.status, 422);
    assert.is(r.body.errorType, 'execution');
    assert.is(r.body.error, 'query processing would load too many samples into memory in query execution');
    // Counted while chunks are produced: far below the 72M samples the subquery would hold.
    assert.ok(performance.now() - t0 < 30_000);
    // A step grid longer than max-samples (31.5e9 steps) is the same error, not "Invalid array length".
    for (const expr of ['max_over_time(vector(1)[1y:1ms])', 'max_over_time(x[1y:1ms])', 'x[1y:1ms]']) {
      const y = await getJson(env.base, q(expr));
      assert.is(y.status, 422, expr);
      assert.is(y.body.error, 'query processing would load too many samples into memory in query execution', expr);
    }
  } finally {
    await env.close();
  }
  const env2 = await start();
  try {
    const t0 = performance.now();
    const r = await getJson(env2.base, q(HEAVY, '&timeout=500ms'));
    const ms = performance.now() - t0;
    assert.is(r.status, 503);
    assert.is(r.body.errorType, 'timeout');
    assert.match(r.body.error, /^query timed out in (expression evaluation|query preparation)$/);
    assert.ok(ms < 10_000, `timeout answered after ${Math.round(ms)} ms`);
  } finally {
    await env2.close();
  }
});

test.run();
