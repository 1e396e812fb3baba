// Querier benchmark: the same data in a real Prometheus 2.42 and behind our `thanos store` +
// `thanos query` (real processes, gRPC between them, HTTP API in front), for the queries of the
// PromQL benchmark (range queries over one day at 60 s step); and a 30-day query that our querier
// answers from 1h-downsampled blocks while Prometheus reads raw data.
//
//   npm run bench -- query [--series=1000] [--runs=3] [--days30-series=200]
//
// Blocks are written with lib/tsdb (byte-identical to promtool's) and cached in $QUERY_BENCH_DIR
// (default /tmp/thanos-ts-bench-query).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createCore } from '../lib/core/mod.ts';
import type { Core } from '../lib/core/types.ts';
import { compareLabels, labelsFromRecord, type Labels } from '../lib/labels/mod.ts';
import { BlockReader, BlockWriter, downsampleBlock, memBlockFiles, memBlockSink } from '../lib/tsdb/mod.ts';

const REPO = new URL('../', import.meta.url).pathname;
const DAY = 86_400_000;
const LE = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
// A fixed day so the data can be cached: 2026-01-01T00:00:00Z (as bench/promql.ts).
const START = 1_767_225_600_000;

const QUERIES: { name: string; q: string }[] = [
  { name: 'rate', q: 'rate(x_total[5m])' },
  { name: 'sum by job rate', q: 'sum by (job) (rate(x_total[5m]))' },
  { name: 'histogram_quantile', q: 'histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))' },
  { name: 'topk', q: 'topk(5, rate(x_total[5m]))' },
  { name: 'binary join', q: 'rate(x_total[5m]) / on(job, instance) (x_total + 1)' },
];

const QUERIES_30D: { name: string; q: string }[] = [
  { name: 'sum rate 30d', q: 'sum by (job) (rate(x_total[2h]))' },
  { name: 'max_over_time 30d', q: 'max by (job) (max_over_time(g[2h]))' },
  { name: 'avg gauge 30d', q: 'avg by (job) (g)' },
];

interface S {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
}

/** x_total counters (resets every ~6h for some), h_bucket histograms, g gauges; sorted by labels. */
function makeSeries(n: number, start: number, end: number, stepMs: number, withGauge: boolean): S[] {
  const count = Math.floor((end - start) / stepMs);
  const t = new Float64Array(count);
  for (let k = 0; k < count; k++) t[k] = start + k * stepMs;
  const out: S[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float64Array(count);
    const slope = 1 + (i % 7);
    const period = Math.round((6 * 3600_000) / stepMs);
    for (let k = 0; k < count; k++) v[k] = (k - (i % 5 === 0 ? Math.floor(k / period) * period : 0)) * slope;
    out.push({ labels: labelsFromRecord({ __name__: 'x_total', job: `job-${i % 10}`, instance: `inst-${i}` }), t, v });
    if (withGauge) {
      const g = new Float64Array(count);
      for (let k = 0; k < count; k++) g[k] = Math.round((50 + 40 * Math.sin(k / 97 + i)) * 100) / 100;
      out.push({ labels: labelsFromRecord({ __name__: 'g', job: `job-${i % 10}`, instance: `inst-${i}` }), t, v: g });
    }
  }
  const nh = Math.max(1, Math.floor(n / 100));
  for (let j = 0; j < nh; j++) {
    for (let b = 0; b < LE.length; b++) {
      const v = new Float64Array(count);
      for (let k = 0; k < count; k++) v[k] = k * (b + 1) * (1 + (j % 3));
      out.push({ labels: labelsFromRecord({ __name__: 'h_bucket', instance: `inst-${j}`, le: LE[b]! }), t, v });
    }
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

async function writeFiles(files: Map<string, Uint8Array>, dir: string): Promise<void> {
  for (const [rel, data] of files) {
    if (rel === 'meta.json') continue;
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), data);
  }
  writeFileSync(join(dir, 'meta.json'), files.get('meta.json')!);
}

/** Writes 2h raw blocks over [start, end) into promDir and the bucket (with Thanos labels); optionally downsampled copies. */
async function prepare(core: Core, dir: string, series: S[], start: number, end: number, blockMs: number, downsample: number[]): Promise<void> {
  const promDir = join(dir, 'prom');
  const bucket = join(dir, 'bucket');
  mkdirSync(promDir, { recursive: true });
  mkdirSync(bucket, { recursive: true });
  const symbols = new Set<string>();
  for (const s of series) for (const l of s.labels) (symbols.add(l.name), symbols.add(l.value));
  for (let b0 = start; b0 < end; b0 += blockMs) {
    const b1 = Math.min(end, b0 + blockMs);
    const sink = memBlockSink();
    const w = await BlockWriter.create(sink, symbols, { core, minTime: b0, maxTime: b1, thanos: { labels: { cluster: 'bench' }, downsample: { resolution: 0 }, source: 'test' } });
    for (const s of series) {
      let lo = 0;
      while (lo < s.t.length && s.t[lo]! < b0) lo++;
      let hi = lo;
      while (hi < s.t.length && s.t[hi]! < b1) hi++;
      if (hi > lo) await w.addSeries(s.labels, s.t.subarray(lo, hi), s.v.subarray(lo, hi), hi - lo);
    }
    const { meta } = await w.finish();
    // Prometheus ignores the thanos section of meta.json.
    await writeFiles(sink.files, join(promDir, meta.ulid));
    await writeFiles(sink.files, join(bucket, meta.ulid));
    if (downsample.length) {
      const reader = await BlockReader.open(memBlockFiles(sink.files, meta.ulid), { core });
      for (const res of downsample) {
        const ds = memBlockSink();
        const m = await downsampleBlock(reader, res, ds, core);
        await writeFiles(ds.files, join(bucket, m.ulid));
      }
    }
  }
  writeFileSync(join(dir, '.complete'), '');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
}

interface Running {
  proc: ChildProcess;
  logs: () => string;
}

function start(cmd: string, args: string[], cwd: string): Running {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-8000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-8000)));
  return { proc, logs: () => out };
}

async function stop(r: Running): Promise<void> {
  if (r.proc.exitCode !== null) return;
  const done = new Promise((res) => r.proc.once('exit', res));
  r.proc.kill('SIGTERM');
  const t = setTimeout(() => r.proc.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

async function waitUrl(url: string, r: Running, what: string, ok: (text: string) => boolean = () => true): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (r.proc.exitCode !== null) throw new Error(`${what} exited: ${r.logs()}`);
    try {
      const res = await fetch(url);
      if (res.ok && ok(await res.text())) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${what} not ready: ${r.logs()}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function rangeQuery(url: string, q: string, startS: number, endS: number, step: string, extra: Record<string, string> = {}): Promise<{ ms: number; bytes: number; text: string }> {
  const body = new URLSearchParams({ query: q, start: String(startS), end: String(endS), step, ...extra });
  const t0 = performance.now();
  const r = await fetch(`${url}/api/v1/query_range`, { method: 'POST', body });
  const text = await r.text();
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`${url} ${r.status}: ${text.slice(0, 300)}`);
  return { ms, bytes: text.length, text };
}

interface Stack {
  prom: string;
  query: string;
  /** CPU time (user+system, ms) used so far by Prometheus and by our store + querier processes. */
  cpu(): { prom: number; ours: number; store: number; query: number };
  stopAll(): Promise<void>;
}

/** utime+stime of a process from /proc (clock ticks of 10 ms), summed over its threads. */
function procCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

async function startStack(dir: string): Promise<Stack> {
  const running: Running[] = [];
  const pport = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  const promData = join(dir, 'promdata');
  rmSync(promData, { recursive: true, force: true });
  cpSync(join(dir, 'prom'), promData, { recursive: true });
  const prom = start('/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${promData}`, `--web.listen-address=127.0.0.1:${pport}`,
    '--storage.tsdb.retention.time=100y', '--storage.tsdb.min-block-duration=2h', '--storage.tsdb.max-block-duration=2h',
    '--query.max-samples=500000000', '--query.timeout=10m', '--log.level=warn',
  ], dir);
  running.push(prom);
  writeFileSync(join(dir, 'bucket.yaml'), `type: FILESYSTEM\nconfig:\n  directory: ${join(dir, 'bucket')}\n`);
  const sgrpc = await freePort();
  const shttp = await freePort();
  const store = start(process.execPath, [join(REPO, 'bin/thanos.mjs'), 'store', '--data-dir', join(dir, 'store'), '--objstore.config-file', join(dir, 'bucket.yaml'),
    '--grpc-address', `127.0.0.1:${sgrpc}`, '--http-address', `127.0.0.1:${shttp}`, '--log.level', 'warn'], dir);
  running.push(store);
  const qport = await freePort();
  const qgrpc = await freePort();
  const query = start(process.execPath, [join(REPO, 'bin/thanos.mjs'), 'query', '--http-address', `127.0.0.1:${qport}`, '--grpc-address', `127.0.0.1:${qgrpc}`,
    '--endpoint', `127.0.0.1:${sgrpc}`, '--query.timeout', '10m', '--query.max-samples', '500000000', '--endpoint.info-interval', '1s', '--log.level', 'warn'], dir);
  running.push(query);
  const stopAll = async () => {
    for (const r of running.reverse()) await stop(r);
  };
  try {
    await waitUrl(`http://127.0.0.1:${pport}/-/ready`, prom, 'prometheus');
    await waitUrl(`http://127.0.0.1:${shttp}/-/ready`, store, 'thanos store');
    await waitUrl(`http://127.0.0.1:${qport}/api/v1/stores`, query, 'thanos query', (t) => t.includes('"lastError":null'));
  } catch (e) {
    await stopAll();
    throw e;
  }
  const cpu = () => {
    const st = procCpuMs(store.proc.pid);
    const qu = procCpuMs(query.proc.pid);
    return { prom: procCpuMs(prom.proc.pid), ours: st + qu, store: st, query: qu };
  };
  return { prom: `http://127.0.0.1:${pport}`, query: `http://127.0.0.1:${qport}`, cpu, stopAll };
}

async function compare(stack: Stack, name: string, q: string, startS: number, endS: number, step: string, runs: number, ours: Record<string, string> = {}): Promise<string> {
  await rangeQuery(stack.query, q, startS, endS, step, ours); // warm-up (index-header, caches)
  await rangeQuery(stack.prom, q, startS, endS, step);
  let o = Infinity;
  let p = Infinity;
  let same = true;
  let oCpu = 0;
  let pCpu = 0;
  let sCpu = 0;
  for (let i = 0; i < runs; i++) {
    let c0 = stack.cpu();
    const a = await rangeQuery(stack.query, q, startS, endS, step, ours);
    let c1 = stack.cpu();
    oCpu += c1.ours - c0.ours;
    sCpu += c1.store - c0.store;
    c0 = c1;
    const b = await rangeQuery(stack.prom, q, startS, endS, step);
    c1 = stack.cpu();
    pCpu += c1.prom - c0.prom;
    o = Math.min(o, a.ms);
    p = Math.min(p, b.ms);
    if (!ours.max_source_resolution) same &&= a.text === b.text;
  }
  const tag = ours.max_source_resolution ? ` (ours at max_source_resolution=${ours.max_source_resolution})` : same ? ' (same answer)' : ' (answers differ in float rounding)';
  const cpu = `cpu ours ${(oCpu / runs).toFixed(0)} ms [store ${(sCpu / runs).toFixed(0)} + query ${((oCpu - sCpu) / runs).toFixed(0)}] / prom ${(pCpu / runs).toFixed(0)} ms`;
  return `  ${name.padEnd(20)} ours ${o.toFixed(0).padStart(6)} ms   prometheus ${p.toFixed(0).padStart(6)} ms   ratio ours/prom ${(o / p).toFixed(2)}   (${cpu})${tag}`;
}

export default async function main(args: string[] = []): Promise<void> {
  const opt = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
  const n = Number(opt('series', '1000'));
  const n30 = Number(opt('days30-series', '200'));
  const runs = Number(opt('runs', '3'));
  const base = process.env.QUERY_BENCH_DIR ?? '/tmp/thanos-ts-bench-query';
  const core = await createCore({ backend: 'js' });
  const lines: string[] = [];

  // 1) one day at 15 s, the PromQL benchmark's queries over the day at 60 s step.
  const d1 = join(base, `day-${n}`);
  if (!existsSync(join(d1, '.complete'))) {
    rmSync(d1, { recursive: true, force: true });
    const t0 = performance.now();
    await prepare(core, d1, makeSeries(n, START, START + DAY, 15_000, false), START, START + DAY, 2 * 3600_000, []);
    console.log(`prepared ${n} series × 1 day at 15s in ${((performance.now() - t0) / 1000).toFixed(1)} s (${readdirSync(join(d1, 'bucket')).length} blocks)`);
  }
  let stack = await startStack(d1);
  try {
    lines.push(`${n} series (+${Math.max(1, Math.floor(n / 100)) * LE.length} h_bucket) × 1 day at 15s; range queries over the day, step 60s; best of ${runs}; full store → querier path over gRPC + HTTP:`);
    for (const { name, q } of QUERIES) {
      const l = await compare(stack, name, q, START / 1000, (START + DAY - 15_000) / 1000, '60', runs);
      console.log(l);
      lines.push(l);
    }
  } finally {
    await stack.stopAll();
  }

  // 2) 30 days at 60 s: Prometheus reads raw data; our querier reads the 1h-downsampled blocks.
  const d30 = join(base, `days30-${n30}`);
  const start30 = START - 30 * DAY;
  if (!existsSync(join(d30, '.complete'))) {
    rmSync(d30, { recursive: true, force: true });
    const t0 = performance.now();
    await prepare(core, d30, makeSeries(n30, start30, START, 60_000, true), start30, START, 2 * DAY, [300_000, 3_600_000]);
    console.log(`prepared ${n30} series × 30 days at 60s (+5m, 1h downsampled) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  stack = await startStack(d30);
  try {
    lines.push(`${n30} x_total + ${n30} g series × 30 days at 60s; range queries over 30 days, step 1h; best of ${runs}:`);
    for (const { name, q } of QUERIES_30D) {
      for (const res of ['0s', '1h']) {
        const l = await compare(stack, name, q, start30 / 1000 + 7200, (START - 60_000) / 1000, '3600', runs, { max_source_resolution: res });
        console.log(l);
        lines.push(l);
      }
    }
  } finally {
    await stack.stopAll();
  }
  console.log('\nsummary');
  for (const l of lines) console.log(l);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  await main(process.argv.slice(2));
}
