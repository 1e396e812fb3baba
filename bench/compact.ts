// Compactor throughput and memory: `npm run bench -- compact [--series=10000] [--json] [--cpu-prof=DIR]`.
// 1) four raw 2h blocks (series × 480 samples each, 15 s scrape) merged into one 8h block:
//    a) "merge": lib/tsdb's mergeBlocks on the blocks in place (local files → local block), the
//       counterpart of Prometheus's own compaction (LeveledCompactor.Compact), which runs beside it
//       on copies of the same blocks when /usr/bin/prometheus exists (see promCompaction below);
//    b) "compact": the compactor's whole iteration (download, merge, upload, mark) from a
//       filesystem bucket;
// 2) one raw 48h block (series/4 × 5760 samples, 30 s) downsampled to 5m.
// Each step runs in a child process so that its peak RSS is its own, not the
// setup's (VmHWM, see peakRssMib); "base" is the child's RSS after loading the modules, before any work. promtool 2.42 has
// no compaction or downsampling command; Prometheus has no downsampling.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore } from '../lib/core/mod.ts';
import { Compactor } from '../lib/compact/compactor.ts';
import { HOUR, tmp, alignedStart, putBlock, type SeriesSpec } from '../test/compact/helpers.ts';
import { FilesystemBucket } from '../plugins/objstore/filesystem/mod.ts';
import { BlockReader, fsBlockFiles, fsBlockSink, mergeBlocks } from '../lib/tsdb/mod.ts';
import { isULID } from '../lib/tsdb/ulid.ts';
import { freePort } from '../test/harness/ports.ts';
import { procCpuMs, procStatusMiB } from '../test/harness/processcpu.ts';
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
async function child(step: string, bucketDir: string, outDir: string | undefined): Promise<void> {
  const core = await createCore();
  const bucket = fsBucket(bucketDir);
  const data = tmp('bench-data');
  const base = process.memoryUsage().rss;
  const c = new Compactor({ bucket, fs, core, dataDir: data, consistencyDelayMs: 0, downsampling: step === 'downsample' });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const result = step === 'compact' ? await c.compactAll() : step === 'merge' ? await mergeInPlace(bucketDir, outDir ?? data, core) : await c.downsamplePass();
  const ms = performance.now() - t0;
  rmSync(data, { recursive: true, force: true });
  const cpu = process.cpuUsage(cpu0);
  const r: StepResult = { ms, cpu_ms: (cpu.user + cpu.system) / 1000, peak_rss_mib: peakRssMib(), base_rss_mib: base / 2 ** 20, result };
  console.log(JSON.stringify(r));
}

/**
 * This process's peak RSS (MiB): VmHWM, the high-water mark of its own address space, which starts
 * afresh at exec. getrusage's maxrss does not: Linux carries it over from the forked copy of the
 * parent, so a child of a bench holding a 240 MB block in memory reported 500 MiB it never used.
 */
function peakRssMib(): number {
  const hwm = procStatusMiB('self', 'VmHWM', NaN);
  return Number.isNaN(hwm) ? (process.resourceUsage().maxRSS * 1024) / 2 ** 20 : hwm; // not Linux: getrusage
}

/** The four 2h blocks of the bucket (a filesystem bucket: block directories) merged into one in dataDir; returns its samples. */
async function mergeInPlace(bucketDir: string, dataDir: string, core: Awaited<ReturnType<typeof createCore>>): Promise<number> {
  const ids = readdirSync(bucketDir).filter(isULID).sort().slice(0, 4);
  const readers: BlockReader[] = [];
  for (const id of ids) readers.push(await BlockReader.open(fsBlockFiles(fs, join(bucketDir, id)), { core }));
  const meta = await mergeBlocks(readers, fsBlockSink(fs, dataDir), core, { thanos: { ...readers[0]!.meta.thanos!, source: 'compactor' } });
  return meta.stats?.numSamples ?? 0;
}

/** One sample value of a Prometheus /metrics text (no labels), or NaN. */
function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Whether two blocks hold the same bytes in chunks/ and index (meta.json differs: ULIDs, thanos section). */
function sameBlockFiles(a: string, b: string): boolean {
  const files = (d: string) => [...readdirSync(join(d, 'chunks')).sort().map((f) => `chunks/${f}`), 'index'];
  const fa = files(a);
  if (fa.join() !== files(b).join()) return false;
  const x = Buffer.alloc(1 << 20), y = Buffer.alloc(1 << 20);
  for (const f of fa) {
    const da = openSync(join(a, f), 'r'), db = openSync(join(b, f), 'r');
    try {
      for (let off = 0; ; off += x.length) {
        const n = readSync(da, x, 0, x.length, off), m = readSync(db, y, 0, y.length, off);
        if (n !== m || !x.subarray(0, n).equals(y.subarray(0, m))) return false;
        if (n === 0) break;
      }
    } finally {
      closeSync(da);
      closeSync(db);
    }
  }
  return true;
}

interface PromCompaction {
  /** prometheus_tsdb_compaction_duration_seconds_sum (ms): LeveledCompactor.Compact, fsyncs included */
  ms: number;
  /** the process's CPU from its last idle poll before the compaction was triggered until it was done */
  cpu_ms: number;
  /** VmHWM of the process (MiB): its whole life, file pages of the mmapped blocks included */
  peak_rss_mib: number;
  /** samples in the block it wrote (meta.json) */
  samples: number;
  /** the block it wrote (removed by stop()) */
  blockDir?: string;
}

/**
 * Prometheus 2.42 compacting copies of the same four 2h blocks (and the fifth, newest one, which its
 * planner always leaves out). Its block ranges are min-block-duration × 3^k up to
 * max-block-duration: 2h40m gives [2h40m, 8h], so the 2h blocks are merged straight into one 8h
 * block as ours are (2h would give [2h, 6h]: three blocks into 6h). An empty head compacts on
 * the DB's one-minute tick: Prometheus starts at once, done() waits for that compaction, stop() kills it.
 */
function promCompaction(bucketDir: string): { done(): Promise<PromCompaction>; stop(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-prom-compact-'));
  for (const id of readdirSync(bucketDir).filter(isULID)) cpSync(join(bucketDir, id), join(dir, id), { recursive: true });
  let proc: ChildProcess | undefined;
  let out = '';
  const started = (async () => {
    const port = await freePort();
    proc = spawn('/usr/bin/prometheus', [
      '--config.file=/dev/null', `--storage.tsdb.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.min-block-duration=2h40m', '--storage.tsdb.max-block-duration=8h',
      // the blocks are weeks old: the default 15d retention would delete them instead
      '--storage.tsdb.retention.time=100y',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
    return `http://127.0.0.1:${port}/metrics`;
  })();
  const done = async (): Promise<PromCompaction> => {
    const url = await started;
    const p = proc!;
    let idleCpu = NaN;
    for (const deadline = Date.now() + 300_000; ; ) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`prometheus exited (${p.exitCode ?? p.signalCode}): ${out}`);
      if (Date.now() > deadline) throw new Error(`prometheus did not compact within 5 minutes: ${out}`);
      const cpu = procCpuMs(p.pid!);
      let text = '';
      try {
        text = await (await fetch(url)).text();
      } catch {
        // not listening yet
      }
      if (metricValue(text, 'prometheus_tsdb_compactions_failed_total') > 0) throw new Error(`prometheus compaction failed: ${out}`);
      if (metricValue(text, 'prometheus_tsdb_compactions_total') >= 1) {
        const newBlock = readdirSync(dir).filter(isULID).map((id) => JSON.parse(readFileSync(join(dir, id, 'meta.json'), 'utf8'))).find((m) => m.compaction?.level > 1);
        return { ms: metricValue(text, 'prometheus_tsdb_compaction_duration_seconds_sum') * 1000, cpu_ms: procCpuMs(p.pid!) - idleCpu, peak_rss_mib: procStatusMiB(p.pid!, 'VmHWM', NaN), samples: newBlock?.stats?.numSamples ?? 0, blockDir: newBlock ? join(dir, newBlock.ulid) : undefined };
      }
      if (text && !(metricValue(text, 'prometheus_tsdb_compactions_triggered_total') >= 1)) idleCpu = cpu;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async () => {
    await started.catch(() => {});
    const p = proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { done, stop };
}

function runChild(step: string, bucketDir: string, cpuProf: string | undefined, outDir?: string): StepResult {
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const node = ['--import', 'tsx', ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []), main, 'compact', `--child=${step}`, `--bucket=${bucketDir}`, ...(outDir ? [`--out=${outDir}`] : [])];
  const out = execFileSync(process.execPath, node, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as StepResult;
}

type Row = StepResult & { series: number; samples: number; samples_per_s: number };

export default async function main(args: string[]): Promise<void> {
  const opt = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const step = opt('child');
  if (step) return child(step, opt('bucket')!, opt('out'));
  const json = args.includes('--json');
  const n = Number(opt('series') ?? args.find((a) => /^\d+$/.test(a)) ?? 10_000);
  const cpuProf = opt('cpu-prof');
  const T0 = alignedStart();
  const out: Record<string, Row> = {};
  let prom: PromCompaction | undefined;
  let identical: boolean | undefined;
  const line = (what: string, r: Row, extra: string) =>
    console.log(`${what}: ${r.series} series, ${r.samples} samples: ${r.ms.toFixed(0)} ms (${(r.samples / r.ms / 1000).toFixed(2)} M samples/s; CPU ${r.cpu_ms.toFixed(0)} ms, ${(r.samples / r.cpu_ms / 1000).toFixed(2)} M samples/CPU-s), peak RSS ${r.peak_rss_mib.toFixed(0)} MiB (base ${r.base_rss_mib.toFixed(0)} MiB)${extra}`);
  {
    const dir = tmp('bench-bucket');
    const bucket = fsBucket(dir);
    const specs = series(n, 15_000);
    // the fifth block (one series) makes the four 2h blocks an older, complete 8h range
    for (let i = 0; i < 5; i++) await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'bench' }, series: i < 4 ? specs : specs.slice(0, 1) });
    const samples = n * 480 * 4;
    // Prometheus idles until its first compaction (a minute after start) while ours run.
    const promRun = existsSync('/usr/bin/prometheus') ? promCompaction(dir) : undefined;
    const mergeOut = tmp('bench-merge-out');
    try {
      const m = runChild('merge', dir, cpuProf, mergeOut);
      if (m.result !== samples) throw new Error(`merge wrote ${m.result} samples, want ${samples}`);
      out.merge = { ...m, series: n, samples, samples_per_s: samples / (m.ms / 1000) };
      const r = runChild('compact', dir, cpuProf);
      out.compact = { ...r, series: n, samples, samples_per_s: samples / (r.ms / 1000) };
      if (promRun) {
        prom = await promRun.done();
        if (prom.samples !== samples) throw new Error(`prometheus's compacted block holds ${prom.samples} samples, want ${samples}`);
        const ours = readdirSync(mergeOut).filter(isULID)[0];
        identical = !!ours && !!prom.blockDir && sameBlockFiles(join(mergeOut, ours), prom.blockDir);
      }
    } finally {
      await promRun?.stop();
      rmSync(mergeOut, { recursive: true, force: true });
    }
    const vsProm = prom ? `; Prometheus 2.42: ${prom.ms.toFixed(0)} ms, CPU ${prom.cpu_ms.toFixed(0)} ms (${(samples / prom.cpu_ms / 1000).toFixed(2)} M samples/CPU-s), CPU ratio ours/Prometheus ${(out.merge.cpu_ms / prom.cpu_ms).toFixed(2)}; chunks and index ${identical ? 'byte-identical to' : 'DIFFERENT from'} Prometheus's` : '; (no /usr/bin/prometheus to compare with)';
    if (!json) line('merge 4×2h → 8h (local blocks)', out.merge, vsProm);
    if (!json) line('compact 4×2h → 8h (bucket: download, merge, upload, mark)', out.compact, `, compactions=${out.compact.result}`);
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
    if (!json) line('downsample raw 48h → 5m', out.downsample, `, blocks=${r.result}`);
    rmSync(dir, { recursive: true, force: true });
  }
  if (json) {
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const fmt = (s: Row) => ({ series: s.series, samples: s.samples, ms: r3(s.ms), cpu_ms: r3(s.cpu_ms), samples_per_s: Math.round(s.samples_per_s), samples_per_cpu_s: Math.round(s.samples / (s.cpu_ms / 1000)), peak_rss_mib: r3(s.peak_rss_mib), base_rss_mib: r3(s.base_rss_mib) });
    const merge = {
      ...fmt(out.merge!),
      prometheus: prom ? { ms: r3(prom.ms), cpu_ms: r3(prom.cpu_ms), samples_per_cpu_s: Math.round(prom.samples / (prom.cpu_ms / 1000)), peak_rss_mib: r3(prom.peak_rss_mib) } : null,
      cpu_ratio_vs_prometheus: prom ? r3(out.merge!.cpu_ms / prom.cpu_ms) : null,
      identical_to_prometheus: identical ?? null,
    };
    console.log(JSON.stringify({ merge, compact: fmt(out.compact!), downsample: fmt(out.downsample!), load: loadavg().map((x) => Math.round(x * 100) / 100) }));
  }
}
