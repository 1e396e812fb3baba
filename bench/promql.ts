// PromQL engine benchmark: N series × 1 day at 15 s in memory, range queries over the day at 60 s
// step, compared with a real Prometheus (/usr/bin/prometheus, Debian 2.42) holding the same data
// (imported with `promtool tsdb create-blocks-from openmetrics`).
//
//   npm run bench -- promql [--sizes=1000,10000] [--no-prom] [--runs=2]
//
// Prometheus data dirs are cached in $PROMQL_BENCH_DIR (default /tmp/thanos-ts-bench-promql) because
// importing 10k series × 5760 samples takes a few minutes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Engine, MemoryQueryable, formatSampleValue, toPromJSON } from '../lib/promql/mod.ts';
import { labelsFromRecord, labelsToRecord } from '../lib/labels/mod.ts';
import { procCpuMs } from '../test/harness/processcpu.ts';

const STEP_S = 15;
const DAY_S = 86_400;
// A fixed day so Prometheus data dirs can be cached: 2026-01-01T00:00:00Z.
const START_S = 1_767_225_600;
const END_S = START_S + DAY_S - STEP_S;
const N_SAMPLES = DAY_S / STEP_S; // 5760
const LE = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];

const QUERIES: { name: string; q: string }[] = [
  { name: 'rate', q: 'rate(x_total[5m])' },
  { name: 'sum by job rate', q: 'sum by (job) (rate(x_total[5m]))' },
  { name: 'histogram_quantile', q: 'histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))' },
  { name: 'topk', q: 'topk(5, rate(x_total[5m]))' },
  { name: 'binary join', q: 'rate(x_total[5m]) / on(job, instance) (x_total + 1)' },
];

/** Deterministic counter values: slope per series, a reset every ~6h for a few. */
function xValue(i: number, k: number): number {
  const slope = 1 + (i % 7);
  const reset = i % 5 === 0 ? Math.floor(k / 1440) * 1440 : 0;
  return (k - reset) * slope;
}
function hValue(h: number, b: number, k: number): number {
  return k * (b + 1) * (1 + (h % 3));
}

function series(n: number): { x: { job: string; instance: string }[]; h: { instance: string; le: string; b: number; h: number }[] } {
  const x = [];
  for (let i = 0; i < n; i++) x.push({ job: `job-${i % 10}`, instance: `inst-${i}` });
  const h = [];
  const nh = Math.max(1, Math.floor(n / 100));
  for (let j = 0; j < nh; j++) for (let b = 0; b < LE.length; b++) h.push({ instance: `inst-${j}`, le: LE[b]!, b, h: j });
  return { x, h };
}

function buildQueryable(n: number): { q: MemoryQueryable; samples: number } {
  const q = new MemoryQueryable();
  const t = new Float64Array(N_SAMPLES);
  for (let k = 0; k < N_SAMPLES; k++) t[k] = (START_S + k * STEP_S) * 1000;
  const { x, h } = series(n);
  x.forEach((s, i) => {
    const v = new Float64Array(N_SAMPLES);
    for (let k = 0; k < N_SAMPLES; k++) v[k] = xValue(i, k);
    q.addSeries(labelsFromRecord({ __name__: 'x_total', job: s.job, instance: s.instance }), t, v);
  });
  for (const s of h) {
    const v = new Float64Array(N_SAMPLES);
    for (let k = 0; k < N_SAMPLES; k++) v[k] = hValue(s.h, s.b, k);
    q.addSeries(labelsFromRecord({ __name__: 'h_bucket', instance: s.instance, le: s.le }), t, v);
  }
  return { q, samples: (x.length + h.length) * N_SAMPLES };
}

async function writeOpenMetrics(path: string, n: number): Promise<void> {
  const { x, h } = series(n);
  const out = createWriteStream(path);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write('# TYPE x counter\n');
  // OpenMetrics wants one metric family at a time; within it samples of each series in time order.
  for (let i = 0; i < x.length; i++) {
    const s = x[i]!;
    let buf = '';
    for (let k = 0; k < N_SAMPLES; k++) buf += `x_total{job="${s.job}",instance="${s.instance}"} ${xValue(i, k)} ${START_S + k * STEP_S}\n`;
    await write(buf);
  }
  await write('# TYPE h histogram\n');
  for (const s of h) {
    let buf = '';
    for (let k = 0; k < N_SAMPLES; k++) buf += `h_bucket{instance="${s.instance}",le="${s.le}"} ${hValue(s.h, s.b, k)} ${START_S + k * STEP_S}\n`;
    await write(buf);
  }
  await write('# EOF\n');
  await new Promise<void>((r) => out.end(() => r()));
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

async function prepareProm(dir: string, n: number): Promise<string> {
  const dataDir = join(dir, `prom-${n}`);
  if (existsSync(join(dataDir, '.complete'))) return dataDir;
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const om = join(dir, `data-${n}.om`);
  const t0 = performance.now();
  await writeOpenMetrics(om, n);
  console.log(`  wrote ${om} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = performance.now();
  const r = spawnSync('/usr/bin/promtool', ['tsdb', 'create-blocks-from', 'openmetrics', om, dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`promtool failed: ${r.stderr?.toString().slice(-2000)}`);
  console.log(`  promtool imported ${readdirSync(dataDir).length} blocks in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  rmSync(om, { force: true });
  writeFileSync(join(dataDir, '.complete'), '');
  return dataDir;
}

async function startProm(dir: string, dataDir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const cfg = join(dir, 'prometheus.yml');
  writeFileSync(cfg, 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  const proc = spawn('/usr/bin/prometheus', [
    `--config.file=${cfg}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=100y', '--storage.tsdb.min-block-duration=2h', '--storage.tsdb.max-block-duration=2h',
    '--query.max-samples=500000000', '--query.timeout=10m', '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    try {
      const r = await fetch(`${url}/-/ready`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`prometheus not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, proc };
}

async function promQuery(url: string, pid: number, q: string): Promise<{ ms: number; cpuMs: number; bytes: number }> {
  const body = new URLSearchParams({ query: q, start: String(START_S), end: String(END_S), step: '60' });
  const c0 = procCpuMs(pid, NaN);
  const t0 = performance.now();
  const r = await fetch(`${url}/api/v1/query_range`, { method: 'POST', body });
  if (!r.ok) throw new Error(`prometheus ${r.status}: ${(await r.text()).slice(0, 300)}`);
  // Read the body as bytes (a 10k-series matrix exceeds V8's maximum string length).
  let bytes = 0;
  for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
  const ms = performance.now() - t0;
  const cpuMs = procCpuMs(pid, NaN) - c0;
  return { ms, cpuMs, bytes };
}

async function ourQuery(engine: Engine, q: MemoryQueryable, expr: string): Promise<{ ms: number; cpuMs: number; engineMs: number; series: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await engine.rangeQuery(q, expr, START_S * 1000, END_S * 1000, 60_000);
  const t1 = performance.now();
  // Same output work as the Prometheus HTTP API: the JSON body (encoded series by series, like a stream).
  let bytes = 0;
  if (res.resultType === 'matrix') {
    for (const s of res.result) {
      bytes += JSON.stringify({ metric: labelsToRecord(s.metric), values: s.values.map((p) => [p.t / 1000, formatSampleValue(p.v)]) }).length + 1;
    }
  } else bytes += JSON.stringify(toPromJSON(res)).length;
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  void bytes;
  return { ms: t2 - t0, cpuMs: (c.user + c.system) / 1000, engineMs: t1 - t0, series: (res.result as unknown[]).length };
}

export default async function main(args: string[] = []): Promise<void> {
  const opt = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const sizes = (opt('sizes') ?? '1000,10000').split(',').map(Number);
  const runs = Number(opt('runs') ?? 2);
  const withProm = !args.includes('--no-prom') && existsSync('/usr/bin/prometheus') && existsSync('/usr/bin/promtool');
  const dir = process.env.PROMQL_BENCH_DIR ?? '/tmp/thanos-ts-bench-promql';
  mkdirSync(dir, { recursive: true });
  if (args.includes('--prepare-only')) {
    for (const n of sizes) console.log(`prometheus data for ${n}: ${await prepareProm(dir, n)}`);
    return;
  }
  console.log(`promql bench: series × 1 day at ${STEP_S}s, range queries over the day at 60s step (${runs} runs, best time)`);
  const rows: string[] = [];
  for (const n of sizes) {
    const tb = performance.now();
    const { q, samples } = buildQueryable(n);
    console.log(`\n${n} series (+${Math.max(1, Math.floor(n / 100)) * LE.length} h_bucket): ${samples.toLocaleString('en')} samples in memory, built in ${((performance.now() - tb) / 1000).toFixed(1)} s`);
    let prom: { url: string; proc: ChildProcess } | null = null;
    if (withProm) {
      const dataDir = await prepareProm(dir, n);
      prom = await startProm(dir, dataDir);
    }
    const engine = new Engine({ maxSamples: 500_000_000, timeoutMs: 600_000 });
    try {
      for (const { name, q: expr } of QUERIES) {
        // samples read: every series the selectors touch, over the day (+5m lookback)
        const touched = expr.includes('h_bucket') ? Math.max(1, Math.floor(n / 100)) * LE.length : n * (expr.includes('/ on') ? 2 : 1);
        const scanned = touched * N_SAMPLES;
        let best = Infinity, bestCpu = Infinity, bestEngine = Infinity, nSeries = 0;
        await ourQuery(engine, q, expr); // warm-up
        for (let i = 0; i < runs; i++) {
          const r = await ourQuery(engine, q, expr);
          best = Math.min(best, r.ms);
          bestCpu = Math.min(bestCpu, r.cpuMs);
          bestEngine = Math.min(bestEngine, r.engineMs);
          nSeries = r.series;
        }
        let line = `${String(n).padStart(6)}  ${name.padEnd(20)} ours ${best.toFixed(0).padStart(6)} ms wall ${bestCpu.toFixed(0).padStart(6)} ms cpu (engine ${bestEngine.toFixed(0)} ms; ${(scanned / (best / 1000) / 1e6).toFixed(1)} M samples/s; ${nSeries} series)`;
        if (prom) {
          let pbest = Infinity, pcpu = Infinity;
          await promQuery(prom.url, prom.proc.pid!, expr);
          for (let i = 0; i < runs; i++) {
            const r = await promQuery(prom.url, prom.proc.pid!, expr);
            pbest = Math.min(pbest, r.ms);
            pcpu = Math.min(pcpu, r.cpuMs);
          }
          line += ` | prometheus ${pbest.toFixed(0).padStart(6)} ms wall ${pcpu.toFixed(0).padStart(6)} ms cpu (${(scanned / (pbest / 1000) / 1e6).toFixed(1)} M samples/s) | ratio ours/prom wall ${(best / pbest).toFixed(2)} cpu ${(bestCpu / pcpu).toFixed(2)}`;
        }
        console.log(line);
        rows.push(line);
      }
    } finally {
      if (prom) {
        prom.proc.kill('SIGTERM');
        await new Promise((r) => prom!.proc.once('exit', r));
      }
    }
  }
  console.log('\nsummary');
  for (const r of rows) console.log(r);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  await main(process.argv.slice(2));
}
