// Receiver benchmark (in process, node fs in a temp dir, WAL synced per request):
//   - ingest: remote write requests through the receiver's HTTP handler (snappy + protobuf decode,
//     checks, WAL append + fdatasync, head append): requests/s and samples/s;
//   - WAL replay: opening a second receiver on the same directory (samples/s);
//   - Series over the whole head in process (series/s, samples/s);
//   - flush: cutting the whole head into a block (samples/s);
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
    return { phases, peak };
  } finally {
    clearInterval(rss);
    rmSync(dir, { recursive: true, force: true });
  }
}
