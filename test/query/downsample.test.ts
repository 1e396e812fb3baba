// Downsampled data through the querier: a raw 48h block plus its 5m and 1h downsampled blocks
// (lib/tsdb downsampleBlock, the compactor's path) in a FILESYSTEM bucket, a real `thanos store`
// gateway over gRPC, and the querier in process. max_source_resolution (0s, 5m, 1h, auto) picks the
// resolution; each function gets the aggregate it needs (max/min/sum/avg/counter).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { compareLabels, labelsFromRecord, type Labels } from '../../lib/labels/mod.ts';
import { BlockReader, BlockWriter, downsampleBlock, memBlockFiles, memBlockSink } from '../../lib/tsdb/mod.ts';
import { parseQueryConfig, setupQuery, type QueryComponent } from '../../plugins/component/query/mod.ts';
import { queryCtx } from './ctx.ts';
import { freePort, httpReady, thanos, waitFor, writeBucketConfig, type Proc } from './harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const core = createJsCore();
const H = 3600_000;
const T0 = Math.floor((Date.now() - 20 * 24 * H) / (2 * H)) * (2 * H);
const T1 = T0 + 48 * H;
const OFF = 7000; // samples at T0 + k*15s + 7s: never on a 5m/1h window boundary
const dir = mkdtempSync(join(tmpdir(), 'query-ds-'));
let store: Proc;
let comp: QueryComponent;
const stop = new AbortController();
let run: Promise<void>;

interface S { labels: Labels; t: Float64Array; v: Float64Array }
function gen(): S[] {
  const n = Math.floor((T1 - T0 - OFF) / 15_000);
  const out: S[] = [];
  for (let i = 0; i < 3; i++) {
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      t[k] = T0 + OFF + k * 15_000;
      v[k] = Math.round((50 + 30 * Math.sin((k + i * 100) / 90) + ((k * 7 + i) % 11)) * 100) / 100;
    }
    out.push({ labels: labelsFromRecord({ __name__: 'ds_gauge', i: String(i) }), t, v });
  }
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  let acc = 0;
  for (let k = 0; k < n; k++) {
    t[k] = T0 + OFF + k * 15_000;
    acc = k === Math.floor(n / 3) ? 5 : acc + 1 + (k % 4);
    v[k] = acc;
  }
  out.push({ labels: labelsFromRecord({ __name__: 'ds_counter_total' }), t, v });
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

async function writeBucket(files: Map<string, Uint8Array>, ulid: string): Promise<void> {
  for (const [rel, data] of files) {
    const p = join(dir, 'bucket', ulid, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (rel !== 'meta.json') writeFileSync(p, data);
  }
  writeFileSync(join(dir, 'bucket', ulid, 'meta.json'), files.get('meta.json')!);
}

test.before(async () => { try { await setup(); } catch (e) { console.error("setup failed:", e); throw e; } });
async function setup(): Promise<void> {
  const series = gen();
  const symbols = new Set<string>();
  for (const s of series) for (const l of s.labels) (symbols.add(l.name), symbols.add(l.value));
  const raw = memBlockSink();
  const w = await BlockWriter.create(raw, symbols, { core, minTime: T0, maxTime: T1, thanos: { labels: { cluster: 'ds' }, downsample: { resolution: 0 }, source: 'test' } });
  for (const s of series) await w.addSeries(s.labels, s.t, s.v, s.t.length);
  const { meta } = await w.finish();
  await writeBucket(raw.files, meta.ulid);
  const reader = await BlockReader.open(memBlockFiles(raw.files, meta.ulid), { core });
  for (const res of [300_000, 3_600_000]) {
    const sink = memBlockSink();
    const m = await downsampleBlock(reader, res, sink, core);
    await writeBucket(sink.files, m.ulid);
  }
  writeBucketConfig(join(dir, 'bucket.yaml'), join(dir, 'bucket'));
  const grpc = await freePort();
  const http = await freePort();
  store = thanos('store', ['store', '--data-dir', join(dir, 'store'), '--objstore.config-file', join(dir, 'bucket.yaml'),
    '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
  await waitFor(() => httpReady(http), STARTUP_MS, 'store ready', store.logs);
  comp = await setupQuery(queryCtx(core), parseQueryConfig({ endpoints: [`127.0.0.1:${grpc}`], endpointInfoInterval: '1s' }));
  run = comp.run(stop.signal);
  await comp.ready;
  assert.is(comp.endpoints.healthyStores().length, 1, JSON.stringify(comp.endpoints.statuses()));
}

test.after(async () => {
  stop.abort();
  await run;
  await store?.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function q(expr: string, t: number, extra = ''): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const r = await comp.fetch!(new Request(`http://q/api/v1/query?query=${encodeURIComponent(expr)}&time=${t / 1000}${extra}`));
  const body = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }; error?: string };
  assert.is(body.status, 'success', body.error);
  return body.data.result;
}
const vals = (r: Array<{ value: [number, string] }>) => r.map((x) => Number(x.value[1]));
function close(a: number[], b: number[], rel: number, what: string): void {
  assert.is(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= rel * Math.max(1, Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

const T = T0 + 30 * H; // aligned to 1h

test('the resolution used follows max_source_resolution (count of samples per hour)', async () => {
  assert.equal(vals(await q('count_over_time(ds_gauge{i="0"}[1h])', T, '&max_source_resolution=0s')), [240]);
  // With aggregates the function sees one point per 5m (or 1h) window.
  assert.equal(vals(await q('count_over_time(ds_gauge{i="0"}[1h])', T, '&max_source_resolution=5m')), [12]);
  assert.equal(vals(await q('count_over_time(ds_gauge{i="0"}[1h])', T, '&max_source_resolution=1h')), [1]);
  // Raw is the default.
  assert.equal(vals(await q('count_over_time(ds_gauge{i="0"}[1h])', T)), [240]);
});

test('max/min/sum/avg over time from the matching aggregates equal the raw answers', async () => {
  for (const res of ['5m', '1h']) {
    const range = res === '5m' ? '1h' : '3h';
    const raw = (f: string) => q(`${f}(ds_gauge[${range}])`, T, '&max_source_resolution=0s');
    const ds = (f: string) => q(`${f}(ds_gauge[${range}])`, T, `&max_source_resolution=${res}`);
    assert.equal(vals(await ds('max_over_time')), vals(await raw('max_over_time')), `max ${res}`);
    assert.equal(vals(await ds('min_over_time')), vals(await raw('min_over_time')), `min ${res}`);
    close(vals(await ds('sum_over_time')), vals(await raw('sum_over_time')), 1e-9, `sum ${res}`);
    close(vals(await ds('avg_over_time')), vals(await raw('avg_over_time')), 1e-9, `avg ${res}`);
  }
});

test('rate/increase on counter aggregates (with a counter reset) match raw closely', async () => {
  const n = Math.floor((T1 - T0 - OFF) / 15_000);
  const resetT = T0 + OFF + Math.floor(n / 3) * 15_000;
  for (const t of [T, Math.ceil(resetT / H) * H + H]) {
    const raw = vals(await q('increase(ds_counter_total[2h])', t, '&max_source_resolution=0s'));
    const ds = vals(await q('increase(ds_counter_total[2h])', t, '&max_source_resolution=5m'));
    assert.ok(raw[0]! > 0 && ds[0]! > 0, `${raw} ${ds}`);
    close(ds, raw, 0.03, `increase at ${t}`);
  }
  // rate over a short range caps the resolution to range/2: raw data, identical answer.
  assert.equal(
    await q('rate(ds_counter_total[5m])', T, '&max_source_resolution=1h'),
    await q('rate(ds_counter_total[5m])', T, '&max_source_resolution=0s'),
  );
});

test('auto downsampling: step/5 for range queries', async () => {
  const path = (res: string) => `http://q/api/v1/query_range?query=${encodeURIComponent('count_over_time(ds_gauge{i="1"}[1h])')}&start=${T / 1000}&end=${(T + 6 * H) / 1000}&step=3600&max_source_resolution=${res}`;
  const auto = (await (await comp.fetch!(new Request(path('auto')))).json()) as { data: { result: Array<{ values: [number, string][] }> } };
  // step 1h -> max resolution 12m -> the 5m blocks.
  assert.ok(auto.data.result[0]!.values.every((p) => p[1] === '12'), JSON.stringify(auto.data.result[0]!.values));
  const raw = (await (await comp.fetch!(new Request(path('0s')))).json()) as { data: { result: Array<{ values: [number, string][] }> } };
  assert.ok(raw.data.result[0]!.values.every((p) => p[1] === '240'));
});

test.run();
