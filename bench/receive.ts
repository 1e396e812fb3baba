// Receiver benchmark (node fs in temp dirs):
//   - receive vs Prometheus (issue #18 goal 4): the same remote write bodies, encoded once, POSTed
//     one after another over loopback HTTP to `thanos receive` (bin/thanos.mjs run, its own process:
//     the host's HTTP server, the handler, decode, checks, WAL write, head append) and to Prometheus
//     2.42's own receiver (--web.enable-remote-write-receiver, when /usr/bin/prometheus exists):
//     samples/s and samples per CPU-second of each server process (utime + stime from /proc, every
//     thread: GC included), and the ratio receive / Prometheus per CPU-second (target ≥ 1.0). Both
//     WALs have the same durability: written before the answer, fsynced per segment, not per request
//     (lib/tsdb/head/WAL.md);
//   - ingest: the same requests through the receiver's HTTP handler in this process (no server):
//     requests/s and samples/s;
//   - WAL replay: opening a second receiver on the same directory (samples/s);
//   - Series over the whole head in process (series/s, samples/s);
//   - flush: cutting the whole head into a block (samples/s);
//   - router: the same requests through a hashring of 3 receivers in this process (Receiver + Router
//     each, forwarding over loopback gRPC thanos.WriteableStore/RemoteWrite): RF=1 hashmod and RF=3
//     ketama, samples/s acknowledged and per CPU-second of this process (all three receivers' work:
//     for RF=3 every sample is stored three times);
//   - Prometheus 2.42's own remote-write receiver (--web.enable-remote-write-receiver, when
//     /usr/bin/prometheus exists) on the same requests: samples/s and per CPU-second of its process;
//   - peak RSS.
//
//   npm run bench -- receive [--series=10000] [--samples=60] [--perRequest=2000] [--runs=3] [--json]
//     [--only=http] (only the receive vs Prometheus phases) [--cpuProfDir=DIR] (the receive process
//     writes a V8 CPU profile there: node --cpu-prof; window-<pid>.json beside it holds the counted
//     requests' span on the profile's monotonic clock, µs) [--core=wasm|js] (its core backend, default wasm)
//     [--no-prometheus] (thanos receive only: A/B of two builds) [--warmup=N] (the first N scrape rounds of the --samples are sent to both servers before their
//     CPU is counted: steady state, every series created and the JIT warm; default 0, a cold start)
//
// Each run uses fresh directories; the best run of each phase is printed (the machine is shared).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore } from '../lib/core/mod.ts';
import { seriesRequest } from '../lib/proto/store.ts';
import type { TimeSeries } from '../lib/proto/prompb.ts';
import plugin, { setupReceive } from '../plugins/component/receive/mod.ts';
import { receiveCtx, rwRequest } from '../test/receive/helpers.ts';
import { dialGrpc, startGrpc, type GrpcListener } from '../host/server/grpc.ts';
import { writeableStoreServices } from '../lib/store/server.ts';
import { Receiver, Router, newMultiHashring, parseHashringsConfig, receiveHttpHandler, type HashringAlgorithm } from '../lib/receive/mod.ts';
import { freePort } from '../test/harness/ports.ts';
import { procCpuSplitS } from '../test/harness/processcpu.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../lib/remote/write.ts';

function arg(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
}
function argStr(args: string[], name: string): string | undefined {
  return args.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
}

interface Phase {
  secs: number;
  /** CPU seconds of the process doing the work, where measured, and the system (kernel) part of them. */
  cpu?: number;
  sys?: number;
  samples: number;
  line: (secs: number) => string;
}
type Result = Record<string, Phase>;

export default async function main(args: string[]): Promise<void> {
  const runs = arg(args, 'runs', 3);
  const json = args.includes('--json');
  const best: Result = {};
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    const r = await once(args);
    for (const [k, v] of Object.entries(r.phases)) if (!best[k] || v.secs < best[k]!.secs) best[k] = v;
    peak = Math.max(peak, r.peak);
  }
  const perCpu = (k: string) => (best[k]?.cpu ? best[k]!.samples / best[k]!.cpu! : undefined);
  const own = perCpu('receive-http');
  const prom = perCpu('prometheus');
  const ratio = own !== undefined && prom !== undefined ? own / prom : undefined;
  const wallRatio = best['receive-http'] && best.prometheus ? best.prometheus.secs / best['receive-http'].secs : undefined;
  if (json) {
    console.log(JSON.stringify({
      bench: 'receive', runs, series: arg(args, 'series', 10000), samplesPerSeries: arg(args, 'samples', 60), perRequest: arg(args, 'perRequest', 2000), warmupRounds: arg(args, 'warmup', 0),
      phases: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, { secs: v.secs, cpuSecs: v.cpu, systemCpuSecs: v.sys, samples: v.samples, samplesPerSec: v.samples / v.secs, samplesPerCpuSec: v.cpu ? v.samples / v.cpu : undefined }])),
      ratioPerCpuSecond: ratio, ratioWall: wallRatio, peakRssBytes: peak, loadAvg: loadavg(),
    }, null, 2));
    return;
  }
  for (const v of Object.values(best)) console.log(v.line(v.secs));
  if (ratio !== undefined) console.log(`receive / Prometheus: ${ratio.toFixed(2)}× samples per CPU-second (target ≥ 1.0), ${wallRatio!.toFixed(2)}× samples/s`);
  console.log(`peak RSS (this process): ${(peak / 1048576).toFixed(0)} MiB (best of ${runs} runs shown; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
}

/** The benchmark's requests: rounds of one sample per series (a scrape round), rounds in time order. */
function makeLists(nSeries: number, nSamples: number, perReq: number): TimeSeries[][] {
  const lists: TimeSeries[][] = [];
  const seriesPerReq = Math.max(1, Math.min(nSeries, perReq));
  for (let k = 0; k < nSamples; k++) {
    for (let s0 = 0; s0 < nSeries; s0 += seriesPerReq) {
      const tsList: TimeSeries[] = [];
      for (let s = s0; s < Math.min(nSeries, s0 + seriesPerReq); s++) {
        tsList.push({
          labels: [{ name: '__name__', value: 'bench_metric' }, { name: 'instance', value: `host-${s % 50}` }, { name: 'series', value: String(s) }],
          samples: [{ timestamp: 1_700_000_000_000 + k * 15_000, value: Math.sin(k / 10 + s) * 100 + s }],
        });
      }
      lists.push(tsList);
    }
  }
  return lists;
}

async function once(args: string[]): Promise<{ phases: Result; peak: number }> {
  const phases: Result = {};
  const nSeries = arg(args, 'series', 10000);
  const nSamples = arg(args, 'samples', 60);
  const perReq = arg(args, 'perRequest', 2000);
  const only = argStr(args, 'only');
  const lists = makeLists(nSeries, nSamples, perReq);
  const warmupRounds = Math.min(arg(args, 'warmup', 0), nSamples - 1);
  // requests of the warm-up rounds (a round is ceil(nSeries / perReq) requests), sent before the servers' CPU is counted
  const warm = warmupRounds * Math.ceil(nSeries / Math.max(1, Math.min(nSeries, perReq)));
  const total = nSeries * (nSamples - warmupRounds);
  const bodies = lists.map((l) => encodeRemoteWriteBody({ timeseries: l }));
  let peak = 0;
  const rss = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    {
      const r = await ownHttpPhase(bodies, warm, argStr(args, 'cpuProfDir'), argStr(args, 'core'));
      phases['receive-http'] = {
        secs: r.secs, cpu: r.cpu, sys: r.sys, samples: total,
        line: (d) => `thanos receive (own process, HTTP): ${bodies.length - warm} requests of ~${Math.round(total / (bodies.length - warm))} samples${warm > 0 ? ` after ${warm} warm-up requests (${warmupRounds} rounds)` : ''}, ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e3).toFixed(0)}k samples/s, ${(total / r.cpu / 1e3).toFixed(0)}k samples per CPU-second (${r.cpu.toFixed(2)} CPU-s, ${r.sys.toFixed(2)} of them system)`,
      };
    }
    if (existsSync('/usr/bin/prometheus') && !args.includes('--no-prometheus')) {
      const r = await promPhase(bodies, warm);
      phases.prometheus = {
        secs: r.secs, cpu: r.cpu, sys: r.sys, samples: total,
        line: (d) => `Prometheus 2.42 remote-write receiver (own process, HTTP), same requests: ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e3).toFixed(0)}k samples/s, ${(total / r.cpu / 1e3).toFixed(0)}k samples per CPU-second (${r.cpu.toFixed(2)} CPU-s, ${r.sys.toFixed(2)} of them system)`,
      };
    }
    if (only === 'http') return { phases, peak };
    await inProcessPhases(phases, lists, nSeries * nSamples);
    return { phases, peak };
  } finally {
    clearInterval(rss);
  }
}

async function inProcessPhases(phases: Result, lists: TimeSeries[][], total: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-receive-'));
  try {
    const core = await createCore();
    const cfg = plugin.parseConfig({ tsdbPath: dir, labels: ['replica="bench"'], tsdbBlockDuration: '1000d' });
    const mk = async () => {
      const ctx = receiveCtx();
      ctx.core = core;
      return setupReceive(ctx, cfg);
    };
    const rc = await mk();
    const bodies = lists.map((l) => rwRequest(l));
    const cpu0 = process.cpuUsage();
    let t0 = performance.now();
    for (const b of bodies) {
      const r = await rc.handle(b);
      if (r.status !== 200) throw new Error(`write answered ${r.status}: ${await r.text()}`);
    }
    let dt = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 1e6;
    phases.ingest = { secs: dt, cpu, samples: total, line: (d) => `ingest (handler in process, no server): ${bodies.length} requests of ${total / bodies.length} samples, ${total} samples in ${d.toFixed(2)} s = ${(bodies.length / d).toFixed(0)} req/s, ${(total / d / 1e3).toFixed(0)}k samples/s, ${(total / cpu / 1e3).toFixed(0)}k samples per CPU-second` };

    t0 = performance.now();
    const rc2 = await mk();
    dt = (performance.now() - t0) / 1000;
    phases.replay = { secs: dt, samples: total, line: (d) => `restart with WAL replay: ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e6).toFixed(2)}M samples/s` };

    t0 = performance.now();
    let ns = 0;
    let nsmp = 0;
    for await (const r of rc2.store.series(seriesRequest({ minTime: 0, maxTime: 9e15, matchers: [{ type: '=', name: '__name__', value: 'bench_metric' }] }), new AbortController().signal)) {
      if (r.type !== 'series') continue;
      ns++;
      for (const c of r.series.chunks) nsmp += (c.raw!.data[0]! << 8) | c.raw!.data[1]!;
    }
    dt = (performance.now() - t0) / 1000;
    if (nsmp !== total) throw new Error(`Series returned ${nsmp} samples, want ${total}`);
    phases.series = { secs: dt, samples: total, line: (d) => `Series (head, in process): ${ns} series, ${nsmp} samples in ${d.toFixed(3)} s = ${(ns / d).toFixed(0)} series/s, ${(nsmp / d / 1e6).toFixed(2)}M samples/s` };

    t0 = performance.now();
    const made = await rc2.compactAndShip(true);
    dt = (performance.now() - t0) / 1000;
    phases.flush = { secs: dt, samples: total, line: (d) => `flush head → block: ${made.length} block, ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e6).toFixed(2)}M samples/s` };
    for (const [rf, algo] of [[1, 'hashmod'], [3, 'ketama']] as const) {
      const r = await routerPhase(core, lists, rf, algo);
      phases[`router-rf${rf}`] = {
        secs: r.secs, samples: total,
        line: (d) => `router RF=${rf} ${algo} over 3 receivers (loopback gRPC, one process): ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e3).toFixed(0)}k samples/s acknowledged, ${(total / r.cpu / 1e3).toFixed(0)}k samples per CPU-second`,
      };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Three receivers with routers in this process, one hashring; every request enters receiver 0. */
async function routerPhase(core: Awaited<ReturnType<typeof createCore>>, lists: TimeSeries[][], rf: number, algo: HashringAlgorithm): Promise<{ secs: number; cpu: number }> {
  const addrs = await Promise.all([0, 1, 2].map(async () => `127.0.0.1:${await freePort()}`));
  const ring = newMultiHashring(algo, rf, parseHashringsConfig(JSON.stringify([{ endpoints: addrs }])));
  const dirs: string[] = [];
  const servers: GrpcListener[] = [];
  const routers: Router[] = [];
  let handle: ((req: Request) => Promise<Response>) | undefined;
  try {
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-ring-'));
      dirs.push(dir);
      const ctx = receiveCtx();
      ctx.core = core;
      const rx = await Receiver.open({
        fs: ctx.fs, path: dir, core, log: ctx.log, metrics: ctx.metrics, labels: { replica: `r${i}` }, tenantLabelName: 'tenant_id',
        defaultTenant: 'default-tenant', replicationFactor: rf, blockDurationMs: 1000 * 86_400_000, retentionMs: 0,
      });
      const router = new Router({
        mode: 'RouterIngestor', replicationFactor: rf, localEndpoint: addrs[i]!, defaultTenant: 'default-tenant',
        local: (t, s) => rx.write(t, s), dial: dialGrpc, forwardTimeoutMs: 30_000, log: ctx.log, metrics: ctx.metrics,
      });
      router.setHashring(ring);
      routers.push(router);
      servers.push(await startGrpc(addrs[i]!, writeableStoreServices((req) => router.grpcWrite(req))));
      if (i === 0) {
        handle = receiveHttpHandler(rx, {
          tenantHeader: 'THANOS-TENANT', defaultTenant: 'default-tenant', replicaHeader: 'THANOS-REPLICA', maxBodyBytes: 1 << 26, maxDecodedBytes: 1 << 26,
          route: (rep, tenant, series) => router.handle(rep, [{ tenant, series }]),
        });
      }
    }
    const reqs = lists.map((l) => rwRequest(l));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const b of reqs) {
      const r = await handle!(b);
      if (r.status !== 200) throw new Error(`router write answered ${r.status}: ${await r.text()}`);
    }
    const secs = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(cpu0);
    return { secs, cpu: (c.user + c.system) / 1e6 };
  } finally {
    for (const r of routers) r.close();
    for (const s of servers) await s.close(0);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** utime + stime of a process (every thread), seconds; /proc's clock ticks are 1/100 s. */
function cpuOf(pid: number): number {
  const c = procCpuSplitS(pid);
  return c.user + c.system;
}

/** Polls url until it answers 200 (the server is ready), or fails naming the server's last output. */
async function untilReady(url: string, what: string, output: () => string, proc: ChildProcess): Promise<void> {
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}): ${output()}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not yet */
    }
    if (i > 1200) throw new Error(`${what} did not start: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** POSTs every body in order, one at a time (as one remote write shard); wall and server CPU seconds. */
async function sendAll(url: string, bodies: readonly Uint8Array[], pid: number, warm: number, windowFile?: string): Promise<{ secs: number; cpu: number; sys: number }> {
  const post = async (b: Uint8Array) => {
    const r = await fetch(url, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body: b });
    if (r.status !== 204 && r.status !== 200) throw new Error(`${url} answered ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
  };
  for (let i = 0; i < warm; i++) await post(bodies[i]!);
  const cpu0 = procCpuSplitS(pid);
  const t0 = performance.now();
  const mono0 = process.hrtime.bigint();
  for (let i = warm; i < bodies.length; i++) await post(bodies[i]!);
  const secs = (performance.now() - t0) / 1000;
  const cpu1 = procCpuSplitS(pid);
  // the counted requests' window on the monotonic clock (µs), which V8's CPU profiles' timestamps are on too
  if (windowFile) writeFileSync(windowFile, JSON.stringify({ startUs: Number(mono0 / 1000n), endUs: Number(process.hrtime.bigint() / 1000n) }));
  const sys = cpu1.system - cpu0.system;
  return { secs, cpu: Math.max(0.01, cpu1.user - cpu0.user + sys), sys };
}

/** `thanos receive` in its own process (the plugin host, as an operator runs it), fed over HTTP. */
async function ownHttpPhase(bodies: readonly Uint8Array[], warm: number, cpuProfDir?: string, coreBackend = 'wasm'): Promise<{ secs: number; cpu: number; sys: number }> {
  const [http, grpc, rw] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'bench-receive-http-'));
  writeFileSync(join(dir, 'plugins.yaml'), `apiVersion: 1
log: { level: warn, format: logfmt }
core: { backend: ${coreBackend} }
components:
  - id: receive
    use: receive
    grpc: 127.0.0.1:${grpc}
    http: 127.0.0.1:${http}
    config:
      remoteWriteAddress: 127.0.0.1:${rw}
      tsdbPath: ./data
      tsdbBlockDuration: 1000d
      labels: ['replica="bench"']
    permissions: { net: ["127.0.0.1"], read: [./data], write: [./data] }
`);
  const repo = join(import.meta.dirname, '..');
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, join(repo, 'bin/thanos.mjs'), 'run', '-c', 'plugins.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  try {
    await untilReady(`http://127.0.0.1:${http}/-/ready`, 'thanos receive', () => out, proc);
    return await sendAll(`http://127.0.0.1:${rw}/api/v1/receive`, bodies, proc.pid!, warm, cpuProfDir ? join(cpuProfDir, `window-${proc.pid}.json`) : undefined);
  } finally {
    // SIGTERM when profiling: node writes the profile on a clean exit (the head is flushed first)
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', r));
    proc.kill(cpuProfDir ? 'SIGTERM' : 'SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same bodies into a real Prometheus (its remote-write receiver). */
async function promPhase(bodies: readonly Uint8Array[], warm: number): Promise<{ secs: number; cpu: number; sys: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-prom-'));
  const proc = spawn('/usr/bin/prometheus', [
    `--config.file=/dev/null`, `--storage.tsdb.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  try {
    await untilReady(`http://127.0.0.1:${port}/-/ready`, 'prometheus', () => out, proc);
    return await sendAll(`http://127.0.0.1:${port}/api/v1/write`, bodies, proc.pid!, warm);
  } finally {
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
