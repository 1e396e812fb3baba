// WAL benchmark: on-disk bytes per sample, replay time and memory after replay against the memory
// of the process that wrote the WAL (issue #21 item 6: replay used to end at 4.5x the pre-crash
// footprint).
//
//   npm run bench -- wal [--series=1000] [--samples=2000] [--compression=snappy|none]
//
// Each phase runs in its own `node --expose-gc` child so that heap numbers are after a full GC and
// the replaying process starts cold, as after kill -9:
//   write   HeadDB.append of Prometheus-like batches (one scrape round of every series per request,
//           realistic label sets, counters and gauges), then heap/RSS after GC and the WAL's size;
//   replay  HeadDB.open on the same directory, then heap/RSS after GC.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../host/log.ts';
import { createCore } from '../lib/core/mod.ts';
import type { Label } from '../lib/labels/mod.ts';
import { HeadDB } from '../lib/tsdb/head/db.ts';
import { nodeFs } from '../lib/tsdb/nodefs.ts';

function arg(args: string[], name: string, def: string): string {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

const MODES = ['idle', 'user', 'system', 'iowait', 'irq', 'softirq', 'steal', 'nice'];

/** Series i's label set: node-exporter-like names, 5 labels, ~90 bytes. */
export function benchLabels(i: number): Label[] {
  return [
    { name: '__name__', value: i % 3 === 0 ? 'node_cpu_seconds_total' : i % 3 === 1 ? 'node_network_receive_bytes_total' : 'node_memory_Active_bytes' },
    { name: 'cpu', value: String(i % 16) },
    { name: 'instance', value: `host-${Math.floor(i / 128)}.example.org:9100` },
    { name: 'job', value: 'node' },
    { name: 'mode', value: MODES[(i >> 4) % MODES.length]! },
  ];
}

/** Seeded values: two thirds counters (integer-ish increments), one third gauges (floats). */
export function* benchBatches(nSeries: number, nSamples: number, t0 = 1_700_000_000_000) {
  let seed = 42;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const labels = Array.from({ length: nSeries }, (_, i) => benchLabels(i));
  const val = new Float64Array(nSeries);
  for (let k = 0; k < nSamples; k++) {
    const batch = [];
    for (let s = 0; s < nSeries; s++) {
      if (s % 3 === 2) val[s] = Math.round(rnd() * 1e9) / 4;
      else val[s]! += Math.floor(rnd() * 1000) / 100;
      batch.push({ labels: labels[s]!, samples: [{ timestamp: t0 + k * 15_000, value: val[s]! }] });
    }
    yield batch;
  }
}

const gcStats = () => {
  (globalThis as { gc?: () => void }).gc!();
  (globalThis as { gc?: () => void }).gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss };
};

async function phase(mode: string, dir: string, nSeries: number, nSamples: number, compression: string): Promise<Record<string, number>> {
  const core = await createCore();
  const log = createLogger({ level: 'error' });
  const base = gcStats();
  const opts = { fs: nodeFs(), dir, core, log, blockDuration: 1000 * 86_400_000 } as ConstructorParameters<typeof HeadDB>[0];
  if (compression !== 'default') opts.walCompression = compression === 'snappy';
  const db = new HeadDB(opts);
  const t0 = performance.now();
  if (mode === 'write') {
    await db.open();
    for (const b of benchBatches(nSeries, nSamples)) await db.append(b);
  } else {
    await db.open();
  }
  const secs = (performance.now() - t0) / 1000;
  const m = gcStats();
  if (db.head.numSamples !== nSeries * nSamples) throw new Error(`head holds ${db.head.numSamples} samples, want ${nSeries * nSamples}`);
  return { secs, heap: m.heap - base.heap, rss: m.rss, peakRss: process.resourceUsage().maxRSS * 1024 };
}

export default async function main(args: string[]): Promise<void> {
  const nSeries = Number(arg(args, 'series', '1000'));
  const nSamples = Number(arg(args, 'samples', '2000'));
  const compression = arg(args, 'compression', 'default');
  const child = arg(args, 'phase', '');
  if (child) {
    const r = await phase(child, arg(args, 'dir', ''), nSeries, nSamples, compression);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-wal-'));
  const mainTs = fileURLToPath(new URL('./main.ts', import.meta.url));
  const run = (p: string) => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', mainTs, 'wal', `--phase=${p}`, `--dir=${dir}`, `--series=${nSeries}`, `--samples=${nSamples}`, `--compression=${compression}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`${p} phase failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  };
  try {
    const total = nSeries * nSamples;
    const w = run('write');
    const walDir = join(dir, 'wal');
    const walBytes = readdirSync(walDir).reduce((a, f) => a + statSync(join(walDir, f)).size, 0);
    const r = run('replay');
    const mib = (x: number) => `${(x / 1048576).toFixed(0)} MiB`;
    console.log(`WAL: ${nSeries} series x ${nSamples} samples = ${total} samples, compression ${compression}`);
    console.log(`on disk: ${mib(walBytes)} = ${(walBytes / total).toFixed(2)} bytes/sample`);
    console.log(`write:  ${w.secs!.toFixed(1)} s; after GC heap ${mib(w.heap!)}, RSS ${mib(w.rss!)} (peak ${mib(w.peakRss!)})`);
    console.log(`replay: ${r.secs!.toFixed(2)} s = ${(total / r.secs! / 1e6).toFixed(2)}M samples/s; after GC heap ${mib(r.heap!)}, RSS ${mib(r.rss!)} (peak ${mib(r.peakRss!)})`);
    console.log(`replay/pre-crash: heap ${(r.heap! / w.heap!).toFixed(2)}x, RSS ${(r.rss! / w.rss!).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
