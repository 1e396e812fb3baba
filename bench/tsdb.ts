// Block write/read benchmark: `npm run bench -- tsdb [--series=N] [--hours=H] [--keep]`
// (or TSDB_BENCH_SERIES / TSDB_BENCH_HOURS env). Default: 10k series × 24h at 15s ≈ 57.6M samples.
// Measures write MB/s and samples/s, index open time, postings lookups (selective and broad),
// series+chunks read and decode throughput, index-header build/load, peak RSS; then compares the
// full read against the real `promtool tsdb dump` (both printing every sample) and prints the ratio.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore } from '../lib/core/mod.ts';
import { BlockWriter, BlockReader, fsBlockFiles, fsBlockSink, fsSource, IndexReader, buildIndexHeader, openIndexHeader, bytesSource, dumpSamples } from '../lib/tsdb/mod.ts';
import { nodeFs } from '../lib/tsdb/nodefs.ts';
import { labelsFromRecord, type Labels, type Matcher } from '../lib/labels/mod.ts';

const MB = 1024 * 1024;
const rssMB = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);
const fmtN = (n: number) => (n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : String(n));

function dirSize(d: string): number {
  let s = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) s += e.isDirectory() ? dirSize(join(d, e.name)) : statSync(join(d, e.name)).size;
  return s;
}

async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

export default async function main(args: string[]): Promise<void> {
  const arg = (k: string) => args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
  const nSeries = Number(arg('series') ?? process.env.TSDB_BENCH_SERIES ?? 10_000);
  const hours = Number(arg('hours') ?? process.env.TSDB_BENCH_HOURS ?? 24);
  const keep = args.includes('--keep');
  const skipPromtool = args.includes('--no-promtool');
  const core = await createCore();
  const fs = nodeFs();
  const STEP = 15_000;
  const T0 = Date.UTC(2026, 10, 1);
  const n = Math.floor((hours * 3_600_000) / STEP);
  const total = nSeries * n;
  console.log(`tsdb bench: ${fmtN(nSeries)} series × ${hours}h at 15s = ${fmtN(total)} samples (core=${core.backend})`);
  const work = mkdtempSync(join(tmpdir(), 'tsdb-bench-'));
  const db = join(work, 'db');
  mkdirSync(join(db, 'wal'), { recursive: true });

  // Series: 10 metric names × 100 instances × 5 jobs × ids.
  const labels: Labels[] = [];
  for (let i = 0; i < nSeries; i++) labels.push(labelsFromRecord({ __name__: `metric_${i % 10}`, instance: `host-${Math.floor(i / 10) % 100}`, job: `job-${i % 5}`, id: String(i).padStart(6, '0') }));
  labels.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  const { compareLabels } = await import('../lib/labels/mod.ts');
  labels.sort(compareLabels);
  const syms = new Set<string>();
  for (const ls of labels) for (const l of ls) { syms.add(l.name); syms.add(l.value); }

  // ---- write
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  const [meta, writeMs] = await time(async () => {
    const w = await BlockWriter.create(fsBlockSink(fs, db), syms, { core, minTime: T0, maxTime: T0 + hours * 3_600_000 });
    let seed = 1;
    for (const ls of labels) {
      let c = 0;
      for (let i = 0; i < n; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        // Scrape jitter on 1 in 10 samples; counters for even ids, slowly moving gauges for odd ones.
        t[i] = T0 + i * STEP + (i > 0 && i < n - 1 && seed % 10 === 0 ? ((seed >> 4) % 9) - 4 : 0);
        c += (seed >> 8) % 20;
        v[i] = (Number(ls[1]!.value) & 1) ? Math.round(100 + 50 * Math.sin(i / 200) + ((seed >> 8) % 10) / 10) : c;
      }
      await w.addSeries(ls, t, v);
    }
    return (await w.finish()).meta;
  });
  const blockDir = join(db, meta.ulid);
  const bytes = dirSize(blockDir);
  console.log(`write:   ${(writeMs / 1000).toFixed(2)} s, ${(bytes / MB).toFixed(1)} MB (${(bytes / total).toFixed(2)} B/sample), ${(bytes / MB / (writeMs / 1000)).toFixed(1)} MB/s, ${fmtN(total / (writeMs / 1000))} samples/s, ${meta.stats!.numChunks} chunks; peak RSS ${rssMB()} MB`);

  // ---- index open, postings
  const indexPath = join(blockDir, 'index');
  const [ir, openMs] = await time(() => IndexReader.open(fsSource(fs, indexPath), { core, block: meta.ulid }));
  console.log(`index:   open ${openMs.toFixed(1)} ms (${(statSync(indexPath).size / MB).toFixed(2)} MB, ${ir.symbols.length} symbols)`);
  const irMem = await IndexReader.open(bytesSource(await fs.readFile(indexPath)), { core, block: meta.ulid });
  const selective: Matcher[] = [{ type: '=', name: '__name__', value: 'metric_3' }, { type: '=', name: 'instance', value: 'host-7' }];
  const broad: Matcher[] = [{ type: '=~', name: 'job', value: 'job-.*' }, { type: '!=', name: '__name__', value: 'metric_0' }];
  for (const [name, ms] of [['selective', selective], ['broad', broad]] as const) {
    const reps = name === 'selective' ? 200 : 20;
    let refs: Uint32Array = new Uint32Array();
    const [, ms1] = await time(async () => { for (let i = 0; i < reps; i++) refs = await irMem.postingsForMatchers(ms); });
    const [, ms2] = await time(async () => { for (let i = 0; i < Math.min(reps, 20); i++) await ir.postingsForMatchers(ms); });
    console.log(`postings ${name.padEnd(9)}: ${refs.length} series, ${(ms1 / reps).toFixed(3)} ms in memory, ${(ms2 / Math.min(reps, 20)).toFixed(3)} ms from file`);
  }

  // ---- index-header
  const rss0 = process.memoryUsage().rss;
  const [hdr, hbMs] = await time(() => buildIndexHeader(fsSource(fs, indexPath), meta.ulid));
  const [info, hlMs] = await time(() => openIndexHeader(bytesSource(hdr), { block: meta.ulid }));
  const rss1 = process.memoryUsage().rss;
  console.log(`index-header: build ${hbMs.toFixed(1)} ms, load ${hlMs.toFixed(1)} ms, ${(hdr.length / 1024).toFixed(1)} KiB, RSS +${((rss1 - rss0) / MB).toFixed(1)} MB`);
  const hir = IndexReader.fromParts(fsSource(fs, indexPath), statSync(indexPath).size, info.toc, info.symbols, info.offsets, { core, block: meta.ulid });
  for (const [name, ms] of [['selective', selective], ['broad', broad]] as const) {
    let refs: Uint32Array = new Uint32Array();
    const [, hms] = await time(async () => { for (let i = 0; i < 20; i++) refs = await hir.postingsForMatchers(ms); });
    console.log(`postings ${name.padEnd(9)} via index-header: ${refs.length} series, ${(hms / 20).toFixed(3)} ms`);
  }

  // ---- read series + chunks, decode
  const block = await BlockReader.open(fsBlockFiles(fs, blockDir), { core });
  const all: Matcher[] = [{ type: '=~', name: '__name__', value: '.+' }];
  let chunkBytes = 0, nChunks = 0;
  const [, rawMs] = await time(async () => { for await (const s of block.selectChunks(all)) for (const c of s.chunks) { chunkBytes += c.data.length; nChunks++; } });
  console.log(`read raw: ${nChunks} chunks, ${(chunkBytes / MB).toFixed(1)} MB in ${(rawMs / 1000).toFixed(2)} s = ${(chunkBytes / MB / (rawMs / 1000)).toFixed(1)} MB/s`);
  let got = 0;
  const [, decMs] = await time(async () => { for await (const s of block.select(all)) got += s.n; });
  if (got !== total) throw new Error(`read ${got} samples, wrote ${total}`);
  console.log(`read+decode: ${fmtN(got)} samples in ${(decMs / 1000).toFixed(2)} s = ${fmtN(got / (decMs / 1000))} samples/s; peak RSS ${rssMB()} MB`);

  // ---- dump vs promtool (both format every sample as text)
  let outBytes = 0;
  const [, dumpMs] = await time(() => dumpSamples([block], { matchers: all }, (s) => { outBytes += s.length; }));
  console.log(`dump (ours): ${(dumpMs / 1000).toFixed(2)} s, ${(outBytes / MB).toFixed(0)} MB of text, ${fmtN(total / (dumpMs / 1000))} samples/s`);
  if (!skipPromtool) {
    const [pBytes, pMs] = await time(() => new Promise<number>((res, rej) => {
      const p = spawn('/usr/bin/promtool', ['tsdb', 'dump', db], { stdio: ['ignore', 'pipe', 'inherit'] });
      let b = 0;
      p.stdout.on('data', (d: Buffer) => (b += d.length));
      p.on('error', rej);
      p.on('close', (code) => (code === 0 ? res(b) : rej(new Error(`promtool exited ${code}`))));
    }));
    console.log(`dump (promtool 2.42): ${(pMs / 1000).toFixed(2)} s, ${(pBytes / MB).toFixed(0)} MB of text, ${fmtN(total / (pMs / 1000))} samples/s`);
    console.log(`ratio ours/promtool dump time: ${(dumpMs / pMs).toFixed(2)} (${dumpMs < pMs ? 'faster' : 'slower'}); read+decode without text vs promtool dump: ${(decMs / pMs).toFixed(2)}`);
  }
  console.log(`peak RSS (whole run): ${rssMB()} MB`);
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
