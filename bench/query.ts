// Querier benchmark: the same data in a real Prometheus 2.42 and behind our `thanos store` +
// `thanos query` (real processes, gRPC between them, HTTP API in front):
// 1. the PromQL benchmark's queries (range over one day at 60 s step), --day-series series;
// 2. a dashboard set of ~20 queries (rates, sums by, histogram_quantile, topk, ratios, joins,
//    count/avg, regex matchers, absent, label_replace, *_over_time) over --series counters and
//    gauges × 6 h at 15 s, each as a range query (6 h at 60 s) and as an instant query, at times off
//    the scrape grid;
// 3. 30 days at 60 s (--days30-series): range (step 1h) and instant queries, Prometheus on raw data,
//    ours on raw data and on the 1h-downsampled blocks.
// For each query: best-of-runs latency of both, the ratio, whether the answers agree (values
// compared to 1e-9 relative), CPU time, and our per-stage breakdown: store Series time (the store
// gateway's get_all + merge histograms), and from the querier's Server-Timing answer to the
// X-Thanos-Stage-Timings request header: Series stream wait, chunk decode, engine, JSON encode.
// Then the geo-mean and worst ratio over the raw-data comparisons, and the peak RSS (VmHWM) of
// Prometheus, the store and the querier.
//
//   npm run bench -- query [--series=10000] [--day-series=1000] [--days30-series=200] [--runs=3]
//                          [--only=day,dash,30d] [--match=<regex on "name kind">] [--json]
//   QUERY_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles our store and querier.
//
// Blocks are written with lib/tsdb (byte-identical to promtool's) and cached in $QUERY_BENCH_DIR
// (default /tmp/thanos-ts-bench-query).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createCore } from '../lib/core/mod.ts';
import type { Core } from '../lib/core/types.ts';
import { compareLabels, labelsFromRecord, type Labels } from '../lib/labels/mod.ts';
import { BlockReader, BlockWriter, downsampleBlock, memBlockFiles, memBlockSink } from '../lib/tsdb/mod.ts';
import { procCpuMs, procStatusMiB } from '../test/harness/processcpu.ts';

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
async function prepare(core: Core, final: string, series: S[], start: number, end: number, blockMs: number, downsample: number[]): Promise<void> {
  // Written beside the cache directory and renamed into place when complete: two runs preparing at
  // once (two bench processes on one QUERY_BENCH_DIR) each write their own, and the second finds
  // the first's (it once left every block twice in one directory: every series answered twice).
  const dir = `${final}.tmp-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
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
  if (existsSync(join(final, '.complete'))) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  rmSync(final, { recursive: true, force: true }); // an incomplete one (an interrupted run)
  renameSync(dir, final);
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

interface Answer {
  ms: number;
  bytes: number;
  text: string;
  /** The querier's Server-Timing stages (ms), when it sent them. */
  stages: Record<string, number>;
}

/** A range query (step set) or an instant query (step undefined: `time` = startS). */
async function apiQuery(url: string, q: string, startS: number, endS: number, step: string | undefined, extra: Record<string, string> = {}): Promise<Answer> {
  const body = step === undefined
    ? new URLSearchParams({ query: q, time: String(startS), ...extra })
    : new URLSearchParams({ query: q, start: String(startS), end: String(endS), step, ...extra });
  let t0 = 0;
  let r: Response;
  for (let attempt = 1; ; attempt++) {
    t0 = performance.now();
    try {
      r = await fetch(`${url}/api/v1/${step === undefined ? 'query' : 'query_range'}`, { method: 'POST', body, headers: { 'X-Thanos-Stage-Timings': 'true' } });
      break;
    } catch (e) {
      // A kept-alive connection closed by the server as it was reused: ask again (timed afresh).
      if (attempt >= 3) throw e;
    }
  }
  const text = await r.text();
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`${url} ${r.status}: ${text.slice(0, 300)}`);
  const stages: Record<string, number> = {};
  for (const part of (r.headers.get('server-timing') ?? '').split(',')) {
    const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (m) stages[m[1]!] = Number(m[2]);
  }
  return { ms, bytes: text.length, text, stages };
}

/** The answer's series as metric-key → values, for a comparison that ignores order and float noise. */
function answerValues(text: string): Map<string, number[]> {
  const data = (JSON.parse(text) as { data: { resultType: string; result: unknown } }).data;
  const out = new Map<string, number[]>();
  const num = (s: string) => (s === 'NaN' ? NaN : s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));
  if (data.resultType === 'scalar') out.set('', [num((data.result as [number, string])[1])]);
  else {
    for (const r of data.result as { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]) {
      // Our series carry the blocks' external label (cluster="bench"); Prometheus's do not.
      const key = JSON.stringify(Object.entries(r.metric).filter(([k]) => k !== 'cluster').sort(([a], [b]) => (a < b ? -1 : 1)));
      const vals: number[] = [];
      for (const [t, v] of r.values ?? (r.value ? [r.value] : [])) vals.push(t, num(v));
      out.set(key, vals);
    }
  }
  return out;
}

function sameAnswer(a: string, b: string): boolean {
  if (a === b) return true;
  const x = answerValues(a);
  const y = answerValues(b);
  if (x.size !== y.size) return false;
  for (const [k, xv] of x) {
    const yv = y.get(k);
    if (!yv || yv.length !== xv.length) return false;
    for (let i = 0; i < xv.length; i++) {
      const p = xv[i]!;
      const q = yv[i]!;
      if (Number.isNaN(p) && Number.isNaN(q)) continue;
      if (p !== q && Math.abs(p - q) > 1e-9 * Math.max(Math.abs(p), Math.abs(q))) return false;
    }
  }
  return true;
}

interface Stack {
  prom: string;
  query: string;
  /** The store gateway's HTTP address (its /metrics time the Series calls). */
  store: string;
  /** CPU time (user+system, ms) used so far by Prometheus and by our store + querier processes. */
  cpu(): { prom: number; ours: number; store: number; query: number };
  /** Peak resident set size (VmHWM, MiB) of each process so far. */
  peakRss(): { prom: number; store: number; query: number };
  stopAll(): Promise<void>;
}

/** Sum of the store gateway's Series time histograms (get_all + merge), in ms. */
async function storeSeriesMs(storeUrl: string): Promise<number> {
  // A kept-alive connection idle through a long query may be closed by the server as it is reused
  // ("other side closed"): ask again on a new one (as apiQuery does).
  let text = '';
  for (let attempt = 1; ; attempt++) {
    try {
      text = await (await fetch(`${storeUrl}/metrics`)).text();
      break;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
  let sum = 0;
  for (const line of text.split('\n')) {
    if (/^thanos_bucket_store_series_(get_all|merge)_duration_seconds_sum[{ ]/.test(line)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum * 1000;
}

async function startStack(dir: string): Promise<Stack> {
  const running: Running[] = [];
  const pport = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  // this run's own copies (another bench process may run on the same QUERY_BENCH_DIR)
  const promData = join(dir, `promdata-${process.pid}`);
  const storeData = join(dir, `store-${process.pid}`);
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
  // QUERY_BENCH_NODE_ARGS: extra node flags for our processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.QUERY_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const store = start(process.execPath, [...nodeArgs, join(REPO, 'bin/thanos.mjs'), 'store', '--data-dir', storeData, '--objstore.config-file', join(dir, 'bucket.yaml'),
    '--grpc-address', `127.0.0.1:${sgrpc}`, '--http-address', `127.0.0.1:${shttp}`, '--log.level', 'warn'], dir);
  running.push(store);
  const qport = await freePort();
  const qgrpc = await freePort();
  const query = start(process.execPath, [...nodeArgs, join(REPO, 'bin/thanos.mjs'), 'query', '--http-address', `127.0.0.1:${qport}`, '--grpc-address', `127.0.0.1:${qgrpc}`,
    '--endpoint', `127.0.0.1:${sgrpc}`, '--query.timeout', '10m', '--query.max-samples', '500000000', '--endpoint.info-interval', '1s', '--log.level', 'warn'], dir);
  running.push(query);
  const stopAll = async () => {
    for (const r of running.reverse()) await stop(r);
    for (const d of [promData, storeData]) rmSync(d, { recursive: true, force: true });
  };
  try {
    await waitUrl(`http://127.0.0.1:${pport}/-/ready`, prom, 'prometheus');
    await waitUrl(`http://127.0.0.1:${shttp}/-/ready`, store, 'thanos store');
    // The store's blocks known to the querier (an Info answer from before the store's first sync
    // has no labels or range: the querier would prune the store and answer empty).
    await waitUrl(`http://127.0.0.1:${qport}/api/v1/stores`, query, 'thanos query', (t) => t.includes('"lastError":null') && t.includes('"cluster":"bench"'));
  } catch (e) {
    await stopAll();
    throw e;
  }
  const cpu = () => {
    const st = procCpuMs(store.proc.pid ?? 0, 0);
    const qu = procCpuMs(query.proc.pid ?? 0, 0);
    return { prom: procCpuMs(prom.proc.pid ?? 0, 0), ours: st + qu, store: st, query: qu };
  };
  const peakRss = () => ({ prom: procStatusMiB(prom.proc.pid ?? 0, 'VmHWM', 0), store: procStatusMiB(store.proc.pid ?? 0, 'VmHWM', 0), query: procStatusMiB(query.proc.pid ?? 0, 'VmHWM', 0) });
  return { prom: `http://127.0.0.1:${pport}`, query: `http://127.0.0.1:${qport}`, store: `http://127.0.0.1:${shttp}`, cpu, peakRss, stopAll };
}

interface Row {
  section: string;
  name: string;
  kind: 'range' | 'instant';
  query: string;
  oursMs: number;
  promMs: number;
  ratio: number;
  /** Same answer (to 1e-9 relative); null when ours read downsampled data on purpose. */
  same: boolean | null;
  /** Ours at this max_source_resolution ('' = default raw). */
  resolution: string;
  cpuOursMs: number;
  cpuStoreMs: number;
  cpuPromMs: number;
  /** Per-stage ms of our best run: store (store gateway Series), series (querier's wait on the stream), decode, engine, encode. */
  stages: Record<string, number>;
}

interface Case {
  section: string;
  name: string;
  q: string;
  startS: number;
  endS: number;
  /** undefined: instant query at startS. */
  step?: string;
  resolution?: string;
}

async function compare(stack: Stack, c: Case, runs: number): Promise<Row> {
  const ours: Record<string, string> = c.resolution ? { max_source_resolution: c.resolution } : {};
  await apiQuery(stack.query, c.q, c.startS, c.endS, c.step, ours); // warm-up (index-header, caches)
  await apiQuery(stack.prom, c.q, c.startS, c.endS, c.step);
  let best: Answer | undefined;
  let bestStore = 0;
  let p = Infinity;
  let same = true;
  let oCpu = 0;
  let pCpu = 0;
  let sCpu = 0;
  for (let i = 0; i < runs; i++) {
    // The store's /metrics are read outside the CPU window (serving them costs the store CPU).
    const s0 = await storeSeriesMs(stack.store);
    let c0 = stack.cpu();
    const a = await apiQuery(stack.query, c.q, c.startS, c.endS, c.step, ours);
    let c1 = stack.cpu();
    const s1 = await storeSeriesMs(stack.store);
    oCpu += c1.ours - c0.ours;
    sCpu += c1.store - c0.store;
    c0 = c1;
    const b = await apiQuery(stack.prom, c.q, c.startS, c.endS, c.step);
    c1 = stack.cpu();
    pCpu += c1.prom - c0.prom;
    if (!best || a.ms < best.ms) {
      best = a;
      bestStore = s1 - s0;
    }
    p = Math.min(p, b.ms);
    if (!c.resolution || c.resolution === '0s') same &&= sameAnswer(a.text, b.text);
  }
  return {
    section: c.section, name: c.name, kind: c.step === undefined ? 'instant' : 'range', query: c.q, oursMs: best!.ms, promMs: p, ratio: best!.ms / p,
    same: c.resolution && c.resolution !== '0s' ? null : same, resolution: c.resolution ?? '',
    cpuOursMs: oCpu / runs, cpuStoreMs: sCpu / runs, cpuPromMs: pCpu / runs, stages: { store: bestStore, ...best!.stages },
  };
}

function formatRow(r: Row): string {
  const st = ['store', 'series', 'decode', 'engine', 'encode'].map((k) => `${k} ${(r.stages[k] ?? NaN).toFixed(1)}`).join(' ');
  const tag = r.same === null ? ` (ours at max_source_resolution=${r.resolution})` : r.same ? '' : ' ANSWERS DIFFER';
  return `  ${(r.name + ' ' + r.kind).padEnd(30)} ours ${r.oursMs.toFixed(1).padStart(7)} ms  prom ${r.promMs.toFixed(1).padStart(7)} ms  ratio ${r.ratio.toFixed(2).padStart(5)}` +
    `  [${st}]  cpu ours ${r.cpuOursMs.toFixed(0)} (store ${r.cpuStoreMs.toFixed(0)}) / prom ${r.cpuPromMs.toFixed(0)} ms${tag}`;
}

function geoMean(xs: number[]): number {
  return xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : NaN;
}

/** The dashboard set: what stat panels, graphs and rules ask. */
const DASHBOARD: { name: string; q: string }[] = [
  { name: 'rate', q: 'rate(x_total[5m])' },
  { name: 'sum rate', q: 'sum(rate(x_total[5m]))' },
  { name: 'sum by job rate', q: 'sum by (job) (rate(x_total[5m]))' },
  { name: 'histogram_quantile', q: 'histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))' },
  { name: 'histogram_quantile by', q: 'histogram_quantile(0.99, sum by (le, instance) (rate(h_bucket[5m])))' },
  { name: 'topk', q: 'topk(5, rate(x_total[5m]))' },
  { name: 'ratio of rates', q: 'sum by (job) (rate(x_total{job=~"job-[1-3]"}[5m])) / sum by (job) (rate(x_total[5m]))' },
  { name: 'binary join', q: 'rate(x_total[5m]) / on(job, instance) (x_total + 1)' },
  { name: 'group_left join', q: 'g / on(job) group_left sum by (job) (g)' },
  { name: 'count by', q: 'count by (job) (x_total)' },
  { name: 'avg by', q: 'avg by (job) (g)' },
  { name: 'regex matcher', q: 'sum(g{instance=~"inst-1.*"})' },
  { name: 'negative regex', q: 'count(x_total{job!~"job-[0-4]"})' },
  { name: 'absent', q: 'absent(nonexistent_metric{job="x"})' },
  { name: 'absent present', q: 'absent(x_total{job="job-1"})' },
  { name: 'label_replace', q: 'label_replace(rate(x_total{job="job-2"}[5m]), "svc", "$1", "instance", "inst-(.*)")' },
  { name: 'max_over_time', q: 'max by (job) (max_over_time(g[10m]))' },
  { name: 'quantile_over_time', q: 'quantile_over_time(0.9, g{job="job-4"}[30m])' },
  { name: 'increase 1h', q: 'increase(x_total{job="job-3"}[1h])' },
  { name: 'one series irate', q: 'irate(x_total{instance="inst-7"}[5m])' },
];

const DASH_HOURS = 6;

export default async function main(args: string[] = []): Promise<void> {
  const opt = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
  const n = Number(opt('series', '10000'));
  const nDay = Number(opt('day-series', '1000'));
  const n30 = Number(opt('days30-series', '200'));
  const runs = Number(opt('runs', '3'));
  const only = new Set(opt('only', 'day,dash,30d').split(','));
  const json = args.includes('--json');
  // --match=<regex>: only the cases whose "<name> <range|instant>" matches (e.g. --match=instant).
  const match = new RegExp(opt('match', ''));
  const log = (s: string) => (json ? process.stderr.write(s + '\n') : console.log(s));
  const base = process.env.QUERY_BENCH_DIR ?? '/tmp/thanos-ts-bench-query';
  const core = await createCore({ backend: 'js' });
  const rows: Row[] = [];
  const rss: Record<string, { prom: number; store: number; query: number }> = {};
  const headers = new Map<string, string>();
  const run = async (section: string, dir: string, header: string, cases: Case[]) => {
    const stack = await startStack(dir);
    try {
      headers.set(section, header);
      log(header);
      for (const c of cases) {
        if (!match.test(`${c.name} ${c.step === undefined ? 'instant' : 'range'}`)) continue;
        const r = await compare(stack, { ...c, section }, runs);
        rows.push(r);
        log(formatRow(r));
      }
      rss[section] = stack.peakRss();
      log(`  peak RSS (VmHWM): prometheus ${rss[section]!.prom.toFixed(0)} MiB, store ${rss[section]!.store.toFixed(0)} MiB, query ${rss[section]!.query.toFixed(0)} MiB`);
    } finally {
      await stack.stopAll();
    }
  };

  // 1) one day at 15 s, the PromQL benchmark's queries over the day at 60 s step.
  if (only.has('day')) {
    const d1 = join(base, `day-${nDay}`);
    if (!existsSync(join(d1, '.complete'))) {
      const t0 = performance.now();
      await prepare(core, d1, makeSeries(nDay, START, START + DAY, 15_000, false), START, START + DAY, 2 * 3600_000, []);
      log(`prepared ${nDay} series × 1 day at 15s in ${((performance.now() - t0) / 1000).toFixed(1)} s (${readdirSync(join(d1, 'bucket')).length} blocks)`);
    }
    await run('day', d1, `${nDay} series (+${Math.max(1, Math.floor(nDay / 100)) * LE.length} h_bucket) × 1 day at 15s; range queries over the day, step 60s; best of ${runs}:`,
      QUERIES.map(({ name, q }) => ({ section: 'day', name, q, startS: START / 1000, endS: (START + DAY - 15_000) / 1000, step: '60' })));
  }

  // 2) the dashboard set over 6 h at 15 s: range (6 h at 60 s) and instant, off the scrape grid.
  if (only.has('dash')) {
    const dd = join(base, `dash-${n}-${DASH_HOURS}h`);
    const end = START + DASH_HOURS * 3600_000;
    if (!existsSync(join(dd, '.complete'))) {
      const t0 = performance.now();
      await prepare(core, dd, makeSeries(n, START, end, 15_000, true), START, end, 2 * 3600_000, []);
      log(`prepared ${n} x_total + ${n} g series × ${DASH_HOURS} h at 15s in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    // Off the grid: neither on a scrape (15 s) nor on a step boundary.
    const rangeStart = START / 1000 + 7.3;
    const rangeEnd = end / 1000 - 12.7;
    const instant = end / 1000 - 1234.567;
    const cases: Case[] = [];
    for (const { name, q } of DASHBOARD) {
      cases.push({ section: 'dash', name, q, startS: rangeStart, endS: rangeEnd, step: '60' });
      cases.push({ section: 'dash', name, q, startS: instant, endS: instant });
    }
    await run('dash', dd, `${n} x_total + ${n} g (+${Math.max(1, Math.floor(n / 100)) * LE.length} h_bucket) × ${DASH_HOURS} h at 15s; dashboard set, range ${DASH_HOURS} h at 60s and instant, off the scrape grid; best of ${runs}:`, cases);
  }

  // 3) 30 days at 60 s: Prometheus reads raw data; ours raw and from the 1h-downsampled blocks.
  if (only.has('30d')) {
    const d30 = join(base, `days30-${n30}`);
    const start30 = START - 30 * DAY;
    if (!existsSync(join(d30, '.complete'))) {
      const t0 = performance.now();
      await prepare(core, d30, makeSeries(n30, start30, START, 60_000, true), start30, START, 2 * DAY, [300_000, 3_600_000]);
      log(`prepared ${n30} series × 30 days at 60s (+5m, 1h downsampled) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const cases: Case[] = [];
    for (const { name, q } of QUERIES_30D) {
      for (const res of ['0s', '1h']) cases.push({ section: '30d', name, q, startS: start30 / 1000 + 7200 + 7.3, endS: (START - 60_000) / 1000 - 12.7, step: '3600', resolution: res });
      cases.push({ section: '30d', name, q, startS: (START - 60_000) / 1000 - 1234.567, endS: 0, resolution: '0s' });
    }
    await run('30d', d30, `${n30} x_total + ${n30} g series × 30 days at 60s; range over 30 days at step 1h (ours raw and 1h-downsampled) and instant; best of ${runs}:`, cases);
  }

  // Geo-mean and worst over the comparisons on the same (raw) data.
  const raw = rows.filter((r) => r.same !== null);
  const summary = {
    geoMean: geoMean(raw.map((r) => r.ratio)),
    geoMeanRange: geoMean(raw.filter((r) => r.kind === 'range').map((r) => r.ratio)),
    geoMeanInstant: geoMean(raw.filter((r) => r.kind === 'instant').map((r) => r.ratio)),
    // CPU (store + querier vs Prometheus, mean of the runs): steadier than latency on a shared machine.
    geoMeanCpu: geoMean(raw.filter((r) => r.cpuPromMs > 0).map((r) => Math.max(r.cpuOursMs, 1) / r.cpuPromMs)),
    worst: raw.reduce<Row | undefined>((w, r) => (!w || r.ratio > w.ratio ? r : w), undefined),
    differing: raw.filter((r) => !r.same).map((r) => `${r.section} ${r.name} ${r.kind}`),
  };
  if (json) {
    console.log(JSON.stringify({ runs, series: { day: nDay, dash: n, days30: n30 }, rows, peakRssMiB: rss, summary }, null, 2));
    return;
  }
  console.log('\nsummary');
  for (const sec of ['day', 'dash', '30d']) {
    const h = headers.get(sec);
    if (h) console.log(h);
    for (const r of rows.filter((x) => x.section === sec)) console.log(formatRow(r));
  }
  console.log(`geo-mean ratio ours/prom ${summary.geoMean.toFixed(2)} (range ${summary.geoMeanRange.toFixed(2)}, instant ${summary.geoMeanInstant.toFixed(2)}) over ${raw.length} queries on raw data; cpu geo-mean ${summary.geoMeanCpu.toFixed(2)}; ` +
    `worst ${summary.worst ? `${summary.worst.ratio.toFixed(2)} (${summary.worst.section} ${summary.worst.name} ${summary.worst.kind})` : '-'}`);
  if (summary.differing.length) console.log(`answers differ: ${summary.differing.join('; ')}`);
  for (const [sec, r] of Object.entries(rss)) console.log(`peak RSS ${sec}: prometheus ${r.prom.toFixed(0)} MiB, store ${r.store.toFixed(0)} MiB, query ${r.query.toFixed(0)} MiB`);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  await main(process.argv.slice(2));
}
