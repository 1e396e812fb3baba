// Compactor throughput and memory: `npm run bench -- compact [--series=10000] [--json] [--cpu-prof=DIR]`.
// 1) four raw 2h blocks (series × 480 samples each, 15 s scrape) compacted into one 8h block
//    (download, merge, upload, mark) from a filesystem bucket;
// 2) one raw 48h block (series/4 × 5760 samples, 30 s) downsampled to 5m.
// Each step runs in a child process so that its peak RSS (getrusage maxrss) is its own, not the
// setup's; "base" is the child's RSS after loading the modules, before any work. promtool 2.42 has
// no compaction or downsampling command, so there is no side-by-side run for these two steps.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createCore } from '../lib/core/mod.ts';
import { Compactor } from '../lib/compact/compactor.ts';
import { HOUR, tmp, alignedStart, putBlock, type SeriesSpec } from '../test/compact/helpers.ts';
import { FilesystemBucket } from '../plugins/objstore/filesystem/mod.ts';
import { createFs } from '../host/checked.ts';
import { Permissions } from '../host/permissions.ts';

// The file system capability `thanos compact` gets from the host (checked, 256 KiB reads).
const fs = createFs(Permissions.all('component:compact', { read: true, write: true }));
const fsBucket = (dir: string) => new FilesystemBucket(fs, dir);

function series(n: number, step: number): SeriesSpec[] {
  const out: SeriesSpec[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ labels: { __name__: `metric_${i % 50}`, instance: `host-${Math.floor(i / 50)}`, job: 'bench' }, step, value: i % 2 ? (t) => Math.floor(t / step) * (i % 7) : (t) => Math.round(Math.sin(t / 1e7 + i) * 1e4) / 100 });
  }
  return out;
}

interface StepResult {
  ms: number;
  /** CPU time of the child during the step (on a busy machine, wall time counts others' work too) */
  cpu_ms: number;
  /** peak RSS of the child (MiB) */
  peak_rss_mib: number;
  /** the child's RSS before the step, modules loaded (MiB) */
  base_rss_mib: number;
  result: number;
}

/** The child side: runs one step on a prepared bucket and prints its timing and RSS as JSON. */
async function child(step: string, bucketDir: string): Promise<void> {
  const core = await createCore();
  const bucket = fsBucket(bucketDir);
  const data = tmp('bench-data');
  const base = process.memoryUsage().rss;
  const c = new Compactor({ bucket, fs, core, dataDir: data, consistencyDelayMs: 0, downsampling: step === 'downsample' });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const result = step === 'compact' ? await c.compactAll() : await c.downsamplePass();
  const ms = performance.now() - t0;
  rmSync(data, { recursive: true, force: true });
  const cpu = process.cpuUsage(cpu0);
  const r: StepResult = { ms, cpu_ms: (cpu.user + cpu.system) / 1000, peak_rss_mib: (process.resourceUsage().maxRSS * 1024) / 2 ** 20, base_rss_mib: base / 2 ** 20, result };
  console.log(JSON.stringify(r));
}

function runChild(step: string, bucketDir: string, cpuProf: string | undefined): StepResult {
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const node = ['--import', 'tsx', ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []), main, 'compact', `--child=${step}`, `--bucket=${bucketDir}`];
  const out = execFileSync(process.execPath, node, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as StepResult;
}

export default async function main(args: string[]): Promise<void> {
  const opt = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const step = opt('child');
  if (step) return child(step, opt('bucket')!);
  const json = args.includes('--json');
  const n = Number(opt('series') ?? args.find((a) => /^\d+$/.test(a)) ?? 10_000);
  const cpuProf = opt('cpu-prof');
  const T0 = alignedStart();
  const out: Record<string, StepResult & { series: number; samples: number; samples_per_s: number }> = {};
  {
    const dir = tmp('bench-bucket');
    const bucket = fsBucket(dir);
    const specs = series(n, 15_000);
    // the fifth block (one series) makes the four 2h blocks an older, complete 8h range
    for (let i = 0; i < 5; i++) await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'bench' }, series: i < 4 ? specs : specs.slice(0, 1) });
    const samples = n * 480 * 4;
    const r = runChild('compact', dir, cpuProf);
    out.compact = { ...r, series: n, samples, samples_per_s: samples / (r.ms / 1000) };
    if (!json) console.log(`compact 4×2h → 8h: ${n} series, ${samples} samples: ${r.ms.toFixed(0)} ms (${(samples / r.ms / 1000).toFixed(2)} M samples/s; CPU ${r.cpu_ms.toFixed(0)} ms, ${(samples / r.cpu_ms / 1000).toFixed(2)} M samples/CPU-s), peak RSS ${r.peak_rss_mib.toFixed(0)} MiB (base ${r.base_rss_mib.toFixed(0)} MiB), compactions=${r.result}`);
    rmSync(dir, { recursive: true, force: true });
  }
  {
    const dir = tmp('bench-bucket');
    const bucket = fsBucket(dir);
    const m = Math.max(1, Math.floor(n / 4));
    await putBlock(bucket, { minTime: T0, maxTime: T0 + 48 * HOUR, ext: { cluster: 'bench' }, series: series(m, 30_000) });
    const samples = m * 5760;
    const r = runChild('downsample', dir, cpuProf);
    out.downsample = { ...r, series: m, samples, samples_per_s: samples / (r.ms / 1000) };
    if (!json) console.log(`downsample raw 48h → 5m: ${m} series, ${samples} samples: ${r.ms.toFixed(0)} ms (${(samples / r.ms / 1000).toFixed(2)} M samples/s; CPU ${r.cpu_ms.toFixed(0)} ms, ${(samples / r.cpu_ms / 1000).toFixed(2)} M samples/CPU-s), peak RSS ${r.peak_rss_mib.toFixed(0)} MiB (base ${r.base_rss_mib.toFixed(0)} MiB), blocks=${r.result}`);
    rmSync(dir, { recursive: true, force: true });
  }
  if (json) {
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const fmt = (s: (typeof out)[string]) => ({ series: s.series, samples: s.samples, ms: r3(s.ms), cpu_ms: r3(s.cpu_ms), samples_per_s: Math.round(s.samples_per_s), samples_per_cpu_s: Math.round(s.samples / (s.cpu_ms / 1000)), peak_rss_mib: r3(s.peak_rss_mib), base_rss_mib: r3(s.base_rss_mib) });
    console.log(JSON.stringify({ compact: fmt(out.compact!), downsample: fmt(out.downsample!) }));
  }
}
