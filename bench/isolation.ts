// Isolation cost (issue #22): `npm run bench -- isolation [--rounds=N] [--small=N] [--concurrency=N]
// [--calls=N] [--store-series=N] [--store-blocks=N] [--only=raw|store] [--verbose]` (--verbose: every round's figures).
// The external object-store fixtures loaded through plugins.yaml twice — `isolation: inline` (with
// trust: true) and `isolation: process` (own Deno process, grant enforced by the runtime) — with the
// host's usual retry + metrics wrappers, on the store gateway's access patterns:
//   large ranged reads   8 MiB ranges of a 64 MiB object (MiB/s)
//   small reads          16 KiB ranges at random offsets, one at a time and N in flight (ops/s)
//   calls                exists() on the in-memory kv fixture: the IPC round trip alone (µs/call)
// and the store gateway itself (plugins/component/store) over the folder fixture holding real
// blocks: start-up to ready (index-headers built from ranged reads of each block's index), a
// selective and a broad Series request (postings, series and chunk reads).
// Prints each figure per mode as wall-clock throughput and as CPU time per operation (this process
// and the plugin processes, from /proc; for process mode also the plugin process's share). Each
// round runs both modes back to back, alternating which goes first, so the two see the same load:
// the "median" column is the median over rounds of that round's process/inline ratio (the steadier
// figure on a shared machine), "best" the ratio of each mode's best round. On a loaded machine the
// CPU figures are the steadier ones (wall clock there mostly measures how long each hop waits for a core).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAll, type Bucket } from '../lib/objstore/bucket.ts';
import { parseManifest } from '../host/manifest.ts';
import { buildObjstore } from '../host/main.ts';
import { createLogger } from '../host/log.ts';
import { PIECE, WINDOW_BYTES } from '../lib/isolate/wire.ts';
import { createCore, createJsCore } from '../lib/core/mod.ts';
import type { Core } from '../lib/sdk/mod.ts';
import type { Matcher } from '../lib/labels/mod.ts';
import plugin, { setupStore } from '../plugins/component/store/mod.ts';
import { ctxFor, writeBlocks } from './store.ts';

function arg(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
}

type Mode = 'inline' | 'process';
const MODES: Mode[] = ['inline', 'process'];
const repo = path.resolve(import.meta.dirname, '..');
const log = createLogger({ level: 'error' });

async function open(tmp: string, fixture: 'objstore-flat' | 'npm-objstore-kv', mode: Mode, dir = `data-${mode}`): Promise<Bucket> {
  const use = './' + path.relative(tmp, path.join(repo, 'test/fixtures/host', fixture));
  const text = `apiVersion: 1
objstore:
  - id: b
    use: ${use}
${fixture === 'objstore-flat' ? `    config: { directory: ./${dir} }\n    permissions: { read: [./${dir}], write: [./${dir}] }\n` : ''}${mode === 'inline' ? '    isolation: inline\n    trust: true\n' : '    isolation: process\n'}`;
  const file = path.join(tmp, `plugins-${fixture}-${dir}-${mode}.yaml`);
  fs.writeFileSync(file, text);
  const m = parseManifest(text, file);
  return (await buildObjstore(m, m.objstore[0]!, log)).get();
}

/**
 * CPU seconds used so far by this process and by every process below it (the plugin processes),
 * from /proc: on a machine shared with other work, wall-clock throughput mostly measures the load
 * (each hop between two processes waits for a time slice), while the CPU an operation costs barely moves.
 */
function cpuSeconds(): { self: number; children: number } {
  const self = process.cpuUsage();
  let ticks = 0;
  try {
    const parent = new Map<number, number>();
    const used = new Map<number, number>();
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        parent.set(Number(d), Number(f[1]));
        used.set(Number(d), Number(f[11]) + Number(f[12]));
      } catch { /* gone meanwhile */ }
    }
    const below = (pid: number): boolean => {
      for (let p = parent.get(pid), hops = 0; p !== undefined && p > 1 && hops < 64; p = parent.get(p), hops++) if (p === process.pid) return true;
      return false;
    };
    for (const [pid, t] of used) if (below(pid)) ticks += t;
  } catch { /* no /proc: this process only */ }
  return { self: (self.user + self.system) / 1e6, children: ticks / 100 };
}

/** One timed run: wall seconds, CPU seconds (all processes), of which the plugin processes'. */
async function timed(fn: () => Promise<void>): Promise<{ s: number; cpu: number; plugin: number }> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds();
  const plugin = c1.children - c0.children;
  return { s, cpu: c1.self - c0.self + plugin, plugin };
}

interface Row { lowerIsBetter: boolean; v: Record<Mode, number[]>; plugin: number[] }

/** Figures per workload and mode, one per round. */
class Figures {
  rows = new Map<string, Row>();
  add(k: string, mode: Mode, v: number, lowerIsBetter: boolean, plugin?: number): void {
    let row = this.rows.get(k);
    if (!row) this.rows.set(k, (row = { lowerIsBetter, v: { inline: [], process: [] }, plugin: [] }));
    row.v[mode].push(v);
    if (plugin !== undefined && mode === 'process') row.plugin.push(plugin);
  }
  /** A throughput (higher is better) and its CPU cost per operation. */
  run(name: string, unit: string, mode: Mode, r: { s: number; cpu: number; plugin: number }, ops: number, amount = ops, cpuUnit: 'ms' | 'µs' = 'µs'): void {
    const mul = cpuUnit === 'ms' ? 1e3 : 1e6;
    this.add(`${name} (${unit})`, mode, amount / r.s, false);
    this.add(`${name} (CPU ${cpuUnit}/op)`, mode, (r.cpu * mul) / ops, true, (r.plugin * mul) / ops);
  }
  print(verbose = false): void {
    const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN; };
    console.log(`  ${'workload'.padEnd(44)} ${'inline'.padStart(9)} ${'process'.padStart(9)} ${'(plugin)'.padStart(9)} ${'best'.padStart(7)} ${'median'.padStart(7)}   process/inline (1 = as fast; CPU: inline/process)`);
    for (const [k, row] of this.rows) {
      const best = (xs: number[]) => (row.lowerIsBetter ? Math.min(...xs) : Math.max(...xs));
      const ratio = (i: number, p: number) => (row.lowerIsBetter ? i / p : p / i);
      const rounds = Math.min(row.v.inline.length, row.v.process.length);
      const per = Array.from({ length: rounds }, (_, r) => ratio(row.v.inline[r]!, row.v.process[r]!));
      const bi = best(row.v.inline);
      const bp = best(row.v.process);
      const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
      const plugin = row.plugin.length ? f(median(row.plugin)) : '';
      console.log(`  ${k.padEnd(44)} ${f(bi).padStart(9)} ${f(bp).padStart(9)} ${plugin.padStart(9)} ${(ratio(bi, bp).toFixed(2) + 'x').padStart(7)} ${(median(per).toFixed(2) + 'x').padStart(7)}`);
      if (verbose) for (const m of MODES) console.log(`      ${m.padEnd(8)} ${row.v[m].map(f).join(' ')}`);
    }
  }
}

const loadNow = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');

async function rawReads(tmp: string, rounds: number, figs: Figures, small: number, conc: number, calls: number): Promise<void> {
  const BIG = 64 * 1048576;
  const RANGE = 8 * 1048576;
  const SMALL = 16 * 1024;
  const buckets = {} as Record<Mode, { flat: Bucket; kv: Bucket }>;
  const big = new Uint8Array(BIG).map((_, i) => (i * 31) & 0xff);
  for (const mode of MODES) {
    buckets[mode] = { flat: await open(tmp, 'objstore-flat', mode), kv: await open(tmp, 'npm-objstore-kv', mode) };
    await buckets[mode].flat.upload('big/index', big);
    await buckets[mode].kv.upload('x', new Uint8Array(10));
  }
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let r = 0; r < rounds; r++) {
    for (const mode of (r % 2 ? [...MODES].reverse() : MODES)) {
      const { flat, kv } = buckets[mode];
      const n = 16;
      figs.run('large ranged reads, 8 MiB', 'MiB/s', mode, await timed(async () => {
        for (let i = 0; i < n; i++) {
          const got = await readAll(await flat.getRange('big/index', (i % 7) * RANGE, RANGE));
          if (got.length !== RANGE) throw new Error(`short read ${got.length}`);
        }
      }), n, (n * RANGE) / 1048576, 'ms');
      figs.run('small reads, 16 KiB, 1 in flight', 'ops/s', mode, await timed(async () => {
        for (let i = 0; i < small; i++) await readAll(await flat.getRange('big/index', rnd() % (BIG - SMALL), SMALL));
      }), small);
      figs.run(`small reads, 16 KiB, ${conc} in flight`, 'ops/s', mode, await timed(async () => {
        let next = 0;
        await Promise.all(Array.from({ length: conc }, async () => {
          while (next++ < small) await readAll(await flat.getRange('big/index', rnd() % (BIG - SMALL), SMALL));
        }));
      }), small);
      const t = await timed(async () => { for (let i = 0; i < calls; i++) await kv.exists('x'); });
      figs.add('kv exists() (µs/call)', mode, (t.s * 1e6) / calls, true);
      figs.add('kv exists() (CPU µs/call)', mode, (t.cpu * 1e6) / calls, true, (t.plugin * 1e6) / calls);
    }
  }
  for (const mode of MODES) {
    await buckets[mode].flat.close();
    await buckets[mode].kv.close();
  }
}

const H2 = 2 * 3600_000;

/** Every file under dir, as names relative to it (a bucket's object names). */
function filesUnder(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, rel));
    else out.push(rel);
  }
  return out;
}

/**
 * The store gateway over the folder fixture: blocks written once (bench/store.ts's generator),
 * uploaded through the inline plugin into one directory both modes read. Each round and mode starts
 * a store with an empty data dir (so its index-headers are built from the bucket), runs a selective
 * and a broad Series request, and stops it.
 */
async function storeGateway(tmp: string, rounds: number, figs: Figures, nSeries: number, nBlocks: number): Promise<void> {
  let core: Core;
  try {
    core = await createCore();
  } catch {
    core = createJsCore();
  }
  const blocksDir = path.join(tmp, 'blocks');
  fs.mkdirSync(blocksDir);
  const t0 = Math.floor(Date.UTC(2026, 0, 1) / H2) * H2;
  await writeBlocks(blocksDir, core, nSeries, nBlocks, t0);
  const buckets = {} as Record<Mode, Bucket>;
  for (const mode of MODES) buckets[mode] = await open(tmp, 'objstore-flat', mode, 'store-bucket');
  let bytes = 0;
  const names = filesUnder(blocksDir);
  for (const name of names) {
    const data = fs.readFileSync(path.join(blocksDir, name));
    bytes += data.length;
    await buckets.inline.upload(name, data);
  }
  fs.rmSync(blocksDir, { recursive: true, force: true });
  console.log(`store gateway: ${nBlocks} blocks × ${nSeries} series × ${H2 / 15_000} samples, ${names.length} objects, ${(bytes / 1048576).toFixed(1)} MiB in the bucket`);
  const selective: Matcher[] = [{ type: '=', name: '__name__', value: 'metric_7' }, { type: '=', name: 'instance', value: 'host-7' }];
  const broad: Matcher[] = [{ type: '=~', name: 'job', value: 'api|db' }];
  const series = async (comp: Awaited<ReturnType<typeof setupStore>>, ms: Matcher[], mint: number, maxt: number) => {
    let n = 0;
    for await (const s of comp.store.series({ minTime: mint, maxTime: maxt, matchers: ms })) n += s.chunks.length;
    if (n === 0) throw new Error('store bench: a query returned no chunks');
    return n;
  };
  let run = 0;
  // The start-up figure is one start per round: several rounds are needed for its CPU (10 ms ticks) to mean much.
  for (let r = 0; r < rounds; r++) {
    for (const mode of (r % 2 ? [...MODES].reverse() : MODES)) {
      const dataDir = path.join(tmp, `store-data-${run++}`);
      let comp!: Awaited<ReturnType<typeof setupStore>>;
      const ac = new AbortController();
      let running!: Promise<void>;
      figs.run('store: start to ready', 'starts/s', mode, await timed(async () => {
        comp = await setupStore(ctxFor(buckets[mode], core, dataDir), plugin.parseConfig({ syncBlockDuration: '1h' }));
        running = comp.run(ac.signal);
        await comp.ready;
      }), 1, 1, 'ms');
      // Several queries per figure: the plugin process's CPU comes from /proc in 10 ms ticks.
      const q = 10;
      figs.run(`store: selective Series ×${q} (1st cold)`, 'queries/s', mode, await timed(async () => {
        for (let i = 0; i < q; i++) await series(comp, selective, t0, t0 + nBlocks * H2);
      }), q, q, 'ms');
      let chunks = 0;
      figs.run('store: broad Series ×3', 'chunks/s', mode, await timed(async () => {
        for (let i = 0; i < 3; i++) chunks += await series(comp, broad, t0, t0 + nBlocks * H2);
      }), 3, chunks, 'ms');
      ac.abort();
      await running;
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
  for (const mode of MODES) await buckets[mode].close();
}

export default async function main(args: string[]): Promise<void> {
  const rounds = arg(args, 'rounds', 3);
  const only = args.find((x) => x.startsWith('--only='))?.split('=')[1];
  // The machine is shared: the figures mean little without the load they were taken under.
  const load0 = loadNow();
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-isolation-')));
  const figs = new Figures();
  try {
    if (only !== 'store') await rawReads(tmp, rounds, figs, arg(args, 'small', 2000), arg(args, 'concurrency', 16), arg(args, 'calls', 2000));
    if (only !== 'raw') await storeGateway(tmp, rounds, figs, arg(args, 'store-series', 2000), arg(args, 'store-blocks', 4));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`isolation: ${rounds} rounds (fixtures objstore-flat, npm-objstore-kv; Deno ${await denoVersion()}; channel pieces ${PIECE / 1024} KiB, window ${WINDOW_BYTES / 1048576} MiB per stream; load average ${load0} at start, ${loadNow()} at end)`);
  figs.print(args.includes('--verbose'));
  const kv = figs.rows.get('kv exists() (µs/call)');
  const kvCpu = figs.rows.get('kv exists() (CPU µs/call)');
  if (kv && kvCpu) {
    const min = (xs: number[]) => Math.min(...xs);
    console.log(`  IPC overhead per call (kv exists, process - inline, best rounds): ${(min(kv.v.process) - min(kv.v.inline)).toFixed(0)} µs wall, ${(min(kvCpu.v.process) - min(kvCpu.v.inline)).toFixed(0)} µs CPU (host + plugin process)`);
  }
}

async function denoVersion(): Promise<string> {
  const { denoBinary } = await import('../host/isolate/host.ts');
  const { execFileSync } = await import('node:child_process');
  try {
    return /deno (\S+)/.exec(execFileSync(denoBinary(), ['--version']).toString())?.[1] ?? '?';
  } catch {
    return '?';
  }
}
