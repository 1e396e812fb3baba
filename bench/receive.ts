// Receiver benchmark (in process, node fs in a temp dir, WAL synced per request):
//   - ingest: remote write requests through the receiver's HTTP handler (snappy + protobuf decode,
//     checks, WAL append + fdatasync, head append): requests/s and samples/s;
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
//   npm run bench -- receive [--series=1000] [--samples=120] [--perRequest=2000] [--runs=3]
//
// Each run uses a fresh directory; the best run of each phase is printed (the machine is shared).
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
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

function arg(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
}

type Result = Record<string, { secs: number; line: (secs: number) => string }>;

export default async function main(args: string[]): Promise<void> {
  const runs = arg(args, 'runs', 3);
  const best: Result = {};
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    const r = await once(args);
    for (const [k, v] of Object.entries(r.phases)) if (!best[k] || v.secs < best[k]!.secs) best[k] = v;
    peak = Math.max(peak, r.peak);
  }
  for (const v of Object.values(best)) console.log(v.line(v.secs));
  console.log(`peak RSS: ${(peak / 1048576).toFixed(0)} MiB (best of ${runs} runs shown)`);
}

async function once(args: string[]): Promise<{ phases: Result; peak: number }> {
  const phases: Result = {};
  const nSeries = arg(args, 'series', 1000);
  const nSamples = arg(args, 'samples', 120);
  const perReq = arg(args, 'perRequest', 2000);
  const dir = mkdtempSync(join(tmpdir(), 'bench-receive-'));
  let peak = 0;
  const rss = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const core = await createCore();
    const cfg = plugin.parseConfig({ tsdbPath: dir, labels: ['replica="bench"'], tsdbBlockDuration: '1000d' });
    const mk = async () => {
      const ctx = receiveCtx();
      ctx.core = core;
      return setupReceive(ctx, cfg);
    };
    const rc = await mk();
    // Prometheus-like batches: samples of a scrape round for many series, rounds in time order.
    const bodies: Request[] = [];
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
        bodies.push(rwRequest(tsList));
        lists.push(tsList);
      }
    }
    const total = nSeries * nSamples;
    let t0 = performance.now();
    for (const b of bodies) {
      const r = await rc.handle(b);
      if (r.status !== 200) throw new Error(`write answered ${r.status}: ${await r.text()}`);
    }
    let dt = (performance.now() - t0) / 1000;
    phases.ingest = { secs: dt, line: (d) => `ingest (WAL synced per request): ${bodies.length} requests of ${total / bodies.length} samples, ${total} samples in ${d.toFixed(2)} s = ${(bodies.length / d).toFixed(0)} req/s, ${(total / d / 1e3).toFixed(0)}k samples/s` };

    t0 = performance.now();
    const rc2 = await mk();
    dt = (performance.now() - t0) / 1000;
    phases.replay = { secs: dt, line: (d) => `restart with WAL replay: ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e6).toFixed(2)}M samples/s` };

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
    phases.series = { secs: dt, line: (d) => `Series (head, in process): ${ns} series, ${nsmp} samples in ${d.toFixed(3)} s = ${(ns / d).toFixed(0)} series/s, ${(nsmp / d / 1e6).toFixed(2)}M samples/s` };

    t0 = performance.now();
    const made = await rc2.compactAndShip(true);
    dt = (performance.now() - t0) / 1000;
    phases.flush = { secs: dt, line: (d) => `flush head → block: ${made.length} block, ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e6).toFixed(2)}M samples/s` };
    for (const [rf, algo] of [[1, 'hashmod'], [3, 'ketama']] as const) {
      const r = await routerPhase(core, lists, rf, algo);
      phases[`router-rf${rf}`] = {
        secs: r.secs,
        line: (d) => `router RF=${rf} ${algo} over 3 receivers (loopback gRPC, one process): ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e3).toFixed(0)}k samples/s acknowledged, ${(total / r.cpu / 1e3).toFixed(0)}k samples per CPU-second`,
      };
    }
    if (existsSync('/usr/bin/prometheus')) {
      const r = await promPhase(lists);
      phases.prometheus = {
        secs: r.secs,
        line: (d) => `Prometheus 2.42 remote-write receiver, same requests: ${total} samples in ${d.toFixed(2)} s = ${(total / d / 1e3).toFixed(0)}k samples/s, ${(total / r.cpu / 1e3).toFixed(0)}k samples per CPU-second`,
      };
    }
    return { phases, peak };
  } finally {
    clearInterval(rss);
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

/** The same requests into a real Prometheus (its remote-write receiver); CPU from /proc/<pid>/stat. */
async function promPhase(lists: TimeSeries[][]): Promise<{ secs: number; cpu: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-prom-'));
  const proc = spawn('/usr/bin/prometheus', [
    `--config.file=/dev/null`, `--storage.tsdb.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver',
  ], { stdio: 'ignore' });
  const cpuOf = () => {
    const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  };
  try {
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch {
        /* not yet */
      }
      if (i > 600) throw new Error('prometheus did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const reqs = lists.map((l) => rwRequest(l));
    const cpu0 = cpuOf();
    const t0 = performance.now();
    for (const b of reqs) {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/write`, { method: 'POST', headers: b.headers, body: await b.arrayBuffer() });
      if (r.status !== 204 && r.status !== 200) throw new Error(`prometheus answered ${r.status}: ${await r.text()}`);
      await r.arrayBuffer();
    }
    const secs = (performance.now() - t0) / 1000;
    return { secs, cpu: Math.max(0.01, cpuOf() - cpu0) };
  } finally {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
