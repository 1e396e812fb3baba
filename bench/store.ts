// Store gateway benchmark (`npm run bench -- store`): a FILESYSTEM bucket of 24 blocks (2h each,
// 10k series × 15 s by default), then: time to first ready (index-headers built) and after a
// restart (reused), Series throughput for a selective and a broad selector (series/s, samples/s;
// chunks are streamed, not decoded, and encoded as gRPC frames), bytes fetched from the bucket per
// sample returned, and peak RSS during the broad query (with and without a samples limit).
// The broad queries run in a fresh child process holding only the store (not the parent's block
// generation or earlier stores), and their peak is that process's VmHWM, reset before each query
// (/proc/self/clear_refs), next to its RSS when the store is ready. Then the same broad queries
// against the program operators run: `bin/thanos.mjs store` (dist/ when built and current, else the
// sources through tsx: the run says which), its Series over gRPC as a querier asks (SeriesBatch
// frames), and that process's VmHWM; the in-process figures carry the bench's TypeScript loader
// (~40 MiB of RSS the built program does not have).
//
// `--json` prints one JSON object at the end with the figures of the thanos store process, with its JS
// heap (committed, used) and external memory (/metrics nodejs_* gauges) when ready and after each
// query: what its RSS is made of besides the runtime's own ~40 MiB.
//
// Scale with env: STORE_BENCH_SERIES (default 10000), STORE_BENCH_BLOCKS (default 24),
// STORE_BENCH_DIR (reuse a bucket between runs; default a temp dir, removed at the end),
// STORE_BENCH_INDEX_CACHE (--index-cache-size, default Thanos's 250MB: the in-memory index cache
// is part of the peak RSS a broad query reports).
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bucket, ComponentContext, Core } from '../host/index.ts';
import { createLogger } from '../host/log.ts';
import { Registry } from '../host/metrics.ts';
import { createCore, createJsCore } from '../lib/core/mod.ts';
import { labelsFromRecord, compareLabels, type Labels, type Matcher } from '../lib/labels/mod.ts';
import { encodeSeriesResponse, type SeriesRequest } from '../lib/proto/store.ts';
import { nodeFs } from '../lib/tsdb/nodefs.ts';
import { BlockWriter, fsBlockSink } from '../lib/tsdb/writer.ts';
import { FilesystemBucket } from '../plugins/objstore/filesystem/mod.ts';
import { StoreClient } from '../lib/store/client.ts';
import { dialGrpc } from '../host/server/grpc.ts';
import { freePort } from '../test/harness/ports.ts';
import { procCpuMs, procStatusMiB } from '../test/harness/processcpu.ts';
// @ts-expect-error: plain JavaScript module without types (shared with bin/thanos.mjs)
import { distIsCurrent } from '../bin/dist.mjs';
import plugin, { setupStore, type StoreComponent } from '../plugins/component/store/mod.ts';

const H2 = 2 * 3600_000;
const STEP = 15_000;

/** Counts bytes read through get/getRange. */
function countingBucket(b: Bucket): Bucket & { bytes: number; requests: number } {
  const c = Object.create(b) as Bucket & { bytes: number; requests: number };
  c.bytes = 0;
  c.requests = 0;
  const wrap = (s: ReadableStream<Uint8Array>) =>
    s.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, ctl) => { c.bytes += chunk.byteLength; ctl.enqueue(chunk); } }));
  c.get = async (name) => { c.requests++; return wrap(await b.get(name)); };
  c.getRange = async (name, off, len) => { c.requests++; return wrap(await b.getRange(name, off, len)); };
  return c;
}

export async function writeBlocks(dir: string, core: Core, nSeries: number, nBlocks: number, t0: number): Promise<void> {
  const fs = nodeFs();
  const labels: Labels[] = [];
  for (let i = 0; i < nSeries; i++) {
    labels.push(labelsFromRecord({ __name__: `metric_${i % 50}`, instance: `host-${i % 100}`, job: i % 4 === 0 ? 'db' : 'api', shard: String(Math.floor(i / 5000)), id: String(i) }));
  }
  labels.sort(compareLabels);
  const symbols = new Set<string>();
  for (const ls of labels) for (const l of ls) { symbols.add(l.name); symbols.add(l.value); }
  const per = H2 / STEP;
  const t = new Float64Array(per);
  const v = new Float64Array(per);
  for (let b = 0; b < nBlocks; b++) {
    const start = t0 + b * H2;
    const w = await BlockWriter.create(fsBlockSink(fs, dir), symbols, { core, minTime: start, maxTime: start + H2, thanos: { labels: { cluster: 'bench', replica: '0' }, downsample: { resolution: 0 }, source: 'test' } });
    for (let i = 0; i < labels.length; i++) {
      let acc = i;
      for (let k = 0; k < per; k++) {
        t[k] = start + k * STEP;
        acc += (k * 7 + i) % 13;
        v[k] = i % 3 === 0 ? acc : Math.round(Math.sin(k / 20 + i) * 1000) / 10;
      }
      await w.addSeries(labels[i]!, t, v, per);
    }
    await w.finish();
    process.stdout.write(`  block ${b + 1}/${nBlocks} written\r`);
  }
  process.stdout.write('\n');
}

export function ctxFor(bucket: Bucket, core: Core, dataDir: string): ComponentContext {
  return {
    pluginId: 'component:store',
    fetch: (i, init) => fetch(i, init),
    listen: async () => { throw new Error('no listen in bench'); },
    connect: async () => { throw new Error('no connect in bench'); },
    grpcDial: () => { throw new Error('no grpcDial in bench'); },
    fs: nodeFs(),
    env: { get: (n) => process.env[n] },
    log: createLogger({ level: 'warn' }),
    metrics: new Registry(),
    bucket: async () => bucket,
    core,
    setReady: () => {},
    dataDir,
  };
}

async function start(bucket: Bucket, core: Core, dataDir: string, cfg: Record<string, unknown> = {}): Promise<{ comp: StoreComponent; ms: number; stop(): Promise<void> }> {
  const t = performance.now();
  const comp = await setupStore(ctxFor(bucket, core, dataDir), plugin.parseConfig({ syncBlockDuration: '1h', indexCacheSize: process.env.STORE_BENCH_INDEX_CACHE ?? '250MB', ...cfg }));
  const ac = new AbortController();
  const p = comp.run(ac.signal);
  await comp.ready;
  return { comp, ms: performance.now() - t, stop: async () => { ac.abort(); await p; } };
}

interface QueryResult { series: number; samples: number; chunks: number; frameBytes: number; ms: number; cpuMs: number; peakRss: number; startRss: number; bucketBytes: number; requests: number; error?: string }

/** This process's peak RSS (VmHWM) in bytes; undefined without /proc. */
function rssHighWater(): number | undefined {
  const hwm = procStatusMiB('self', 'VmHWM', NaN);
  return Number.isNaN(hwm) ? undefined : hwm * 2 ** 20;
}

/** Restarts VmHWM from the current RSS (Linux: "5" > /proc/self/clear_refs); false when not possible. */
function resetRssHighWater(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function query(comp: StoreComponent, bucket: ReturnType<typeof countingBucket>, ms: Matcher[], mint: number, maxt: number): Promise<QueryResult> {
  const b0 = bucket.bytes;
  const r0 = bucket.requests;
  const hwm = resetRssHighWater();
  // Without a resettable VmHWM, sampled RSS (misses short peaks).
  let peak = process.memoryUsage.rss();
  const startRss = peak;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 20);
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const res: QueryResult = { series: 0, samples: 0, chunks: 0, frameBytes: 0, ms: 0, cpuMs: 0, peakRss: 0, startRss: 0, bucketBytes: 0, requests: 0 };
  try {
    for await (const s of comp.store.series({ minTime: mint, maxTime: maxt, matchers: ms })) {
      res.series++;
      for (const c of s.chunks) {
        res.chunks++;
        const d = c.raw!.data;
        res.samples += (d[0]! << 8) | d[1]!; // XOR header: sample count (no decoding)
      }
      res.frameBytes += encodeSeriesResponse({ type: 'series', series: s }).byteLength;
    }
  } catch (e) {
    res.error = (e as Error).message;
  }
  res.ms = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  res.cpuMs = (cpu.user + cpu.system) / 1000;
  clearInterval(timer);
  res.startRss = startRss;
  res.peakRss = Math.max(peak, process.memoryUsage.rss(), (hwm && rssHighWater()) || 0);
  res.bucketBytes = bucket.bytes - b0;
  res.requests = bucket.requests - r0;
  return res;
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function report(name: string, r: QueryResult): void {
  const s = r.ms / 1000;
  console.log(`${name}: ${r.series} series, ${r.samples} samples, ${r.chunks} chunks in ${r.ms.toFixed(0)} ms (${r.cpuMs.toFixed(0)} ms CPU) → ${(r.series / s).toFixed(0)} series/s, ${(r.samples / s / 1e6).toFixed(2)}M samples/s (${r.cpuMs ? (r.samples / r.cpuMs / 1e3).toFixed(2) : '-'}M per CPU-second); ` +
    `bucket ${mb(r.bucketBytes)} in ${r.requests} GETs (${r.samples ? (r.bucketBytes / r.samples).toFixed(3) : '-'} B/sample); frames ${mb(r.frameBytes)}; peak RSS ${mb(r.peakRss)} (+${mb(r.peakRss - r.startRss)} over the RSS at its start)` + (r.error ? `; FAILED: ${r.error}` : ''));
}

/** The broad queries, in a child process of their own: its RSS is the store's alone. */
async function broadQueries(bucketDir: string, dataDir: string, core: Core, nBlocks: number, t0: number): Promise<void> {
  const bucket = countingBucket(new FilesystemBucket(nodeFs(), bucketDir));
  const all = [t0, t0 + nBlocks * H2] as const;
  // A broad query against a store with limits fails early, before memory grows with the query.
  const limited = await start(bucket, core, dataDir, { requestSamplesLimit: 1_000_000, requestSeriesLimit: 5000 });
  console.log(`store process RSS when ready (limited store): ${mb(process.memoryUsage().rss)}`);
  report('broad with --store.limits.request-samples=1000000 --store.limits.request-series=5000', await query(limited.comp, bucket, [{ type: '=~', name: '__name__', value: '.+' }], ...all));
  await limited.stop();
  const big = await start(bucket, core, dataDir);
  console.log(`store process RSS when ready (unlimited store, --index-cache-size=${process.env.STORE_BENCH_INDEX_CACHE ?? '250MB'}): ${mb(process.memoryUsage().rss)}`);
  report('broad, last 2 blocks', await query(big.comp, bucket, [{ type: '=~', name: 'job', value: 'api|db' }], t0 + (nBlocks - 2) * H2, all[1]));
  report('broad {__name__=~".+"} all blocks', await query(big.comp, bucket, [{ type: '=~', name: '__name__', value: '.+' }], ...all));
  report('broad {__name__=~".+"} all blocks (again, warm index cache)', await query(big.comp, bucket, [{ type: '=~', name: '__name__', value: '.+' }], ...all));
  await big.stop();
}

/** Runs broadQueries in a fresh process (this file under the same node flags), its output inline. */
function broadQueriesInChild(bucketDir: string, dataDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, ['store'], {
      execArgv: process.execArgv,
      env: { ...process.env, STORE_BENCH_CHILD_BUCKET: bucketDir, STORE_BENCH_CHILD_DATA: dataDir },
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`broad-query child exited with ${code ?? sig}`))));
  });
}

interface BinaryQuery { name: string; series: number; chunks: number; ms: number; cpuMs: number; peakRssMiB: number; startRssMiB: number; after?: HeapMiB }

/** The process's JS heap and external memory (its /metrics nodejs_* gauges) at one moment, in MiB. */
interface HeapMiB { heapTotal: number; heapUsed: number; external: number }

/** What makes up a store process's RSS besides the runtime: heap committed, heap used, external (ArrayBuffers, WASM). */
async function heapOf(httpPort: number): Promise<HeapMiB | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const g = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    const h = { heapTotal: g('nodejs_heap_size_total_bytes'), heapUsed: g('nodejs_heap_size_used_bytes'), external: g('nodejs_external_memory_bytes') };
    return Object.values(h).some(Number.isNaN) ? undefined : { heapTotal: +h.heapTotal.toFixed(1), heapUsed: +h.heapUsed.toFixed(1), external: +h.external.toFixed(1) };
  } catch {
    return undefined;
  }
}
const heapText = (h: HeapMiB | undefined) => (h ? `JS heap ${h.heapTotal} MiB (${h.heapUsed} used), external ${h.external} MiB` : 'no /metrics');

/**
 * The broad queries against `thanos store` as operators run it (its own process, gRPC), each with
 * the process's VmHWM restarted before it ("5" > /proc/<pid>/clear_refs).
 */
async function broadQueriesThroughBinary(root: string, bucketDir: string, nBlocks: number, t0: number): Promise<{ runFrom: string; readyRssMiB: number; ready?: HeapMiB; queries: BinaryQuery[] }> {
  const repo = new URL('..', import.meta.url).pathname;
  const dataDir = join(root, 'data-binary');
  rmSync(dataDir, { recursive: true, force: true });
  const objstore = join(root, 'bucket.yaml');
  writeFileSync(objstore, `type: FILESYSTEM\nconfig:\n  directory: ${bucketDir}\n`);
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const runFrom = distIsCurrent() ? 'dist' : 'sources';
  const cache = process.env.STORE_BENCH_INDEX_CACHE ?? '250MB';
  const proc = spawn(process.execPath, [join(repo, 'bin/thanos.mjs'), 'store', '--data-dir', dataDir, '--objstore.config-file', objstore,
    '--grpc-address', `127.0.0.1:${grpcPort}`, '--http-address', `127.0.0.1:${httpPort}`, '--index-cache-size', cache, '--log.level', 'warn'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-8000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-8000)));
  const pid = proc.pid!;
  const client = new StoreClient(dialGrpc(`127.0.0.1:${grpcPort}`));
  try {
    for (const deadline = Date.now() + 120_000; ;) {
      if (proc.exitCode !== null) throw new Error(`thanos store exited with ${proc.exitCode}:\n${out}`);
      if (Date.now() > deadline) throw new Error(`thanos store not ready in 120 s:\n${out}`);
      try {
        const r = await fetch(`http://127.0.0.1:${httpPort}/-/ready`);
        await r.text();
        if (r.status === 200) break;
      } catch { /* starting */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    const readyRssMiB = procStatusMiB(pid, 'VmRSS');
    const ready = await heapOf(httpPort);
    console.log(`thanos store process (bin/thanos.mjs from ${runFrom}, --index-cache-size=${cache}) RSS when ready: ${readyRssMiB.toFixed(1)} MiB; ${heapText(ready)}`);
    const all = [t0, t0 + nBlocks * H2] as const;
    const runs: Array<[string, Matcher[], number, number]> = [
      ['broad, last 2 blocks', [{ type: '=~', name: 'job', value: 'api|db' }], t0 + (nBlocks - 2) * H2, all[1]],
      ['broad {__name__=~".+"} all blocks', [{ type: '=~', name: '__name__', value: '.+' }], ...all],
      ['broad {__name__=~".+"} all blocks (again, warm index cache)', [{ type: '=~', name: '__name__', value: '.+' }], ...all],
    ];
    const queries: BinaryQuery[] = [];
    for (const [name, matchers, minTime, maxTime] of runs) {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      const startRssMiB = procStatusMiB(pid, 'VmRSS');
      const c0 = procCpuMs(pid);
      const t = performance.now();
      let series = 0, chunks = 0;
      const req: SeriesRequest = {
        minTime, maxTime, matchers, maxResolutionWindow: 0, aggregates: [], partialResponseDisabled: true, partialResponseStrategy: 0,
        skipChunks: false, step: 0, range: 0, withoutReplicaLabels: [], limit: 0, responseBatchSize: 0, // the client's default batch, as the querier
      };
      for await (const r of client.series(req)) {
        const got = r.type === 'batch' ? r.batch : r.type === 'series' ? [r.series] : [];
        for (const x of got) { series++; chunks += x.chunks.length; }
      }
      const q: BinaryQuery = { name, series, chunks, ms: performance.now() - t, cpuMs: procCpuMs(pid) - c0, peakRssMiB: procStatusMiB(pid, 'VmHWM'), startRssMiB };
      q.after = await heapOf(httpPort);
      queries.push(q);
      console.log(`thanos store: ${name}: ${series} series, ${chunks} chunks in ${q.ms.toFixed(0)} ms (${q.cpuMs} ms store CPU); peak RSS ${q.peakRssMiB.toFixed(1)} MiB (+${(q.peakRssMiB - startRssMiB).toFixed(1)} over its start); after it: ${heapText(q.after)}`);
    }
    return { runFrom, readyRssMiB, ready, queries };
  } finally {
    client.close();
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const k = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(k);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export default async function main(args: string[]): Promise<void> {
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length > 0) throw new Error(`store bench: unknown argument(s) ${unknown.join(' ')} (only --json; scale with STORE_BENCH_* env)`);
  const json = args.includes('--json');
  const nSeries = Number(process.env.STORE_BENCH_SERIES ?? 10_000);
  const nBlocks = Number(process.env.STORE_BENCH_BLOCKS ?? 24);
  let core: Core;
  try {
    core = await createCore();
  } catch {
    core = createJsCore();
  }
  const t0 = Math.floor(Date.UTC(2026, 0, 1) / H2) * H2;
  const childBucket = process.env.STORE_BENCH_CHILD_BUCKET;
  if (childBucket) return broadQueries(childBucket, process.env.STORE_BENCH_CHILD_DATA!, core, nBlocks, t0);
  const keep = !!process.env.STORE_BENCH_DIR;
  const root = process.env.STORE_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'bench-store-'));
  const bucketDir = join(root, `bucket-${nSeries}x${nBlocks}`);
  console.log(`store bench: ${nBlocks} blocks × ${nSeries} series × ${H2 / STEP} samples (${((nSeries * nBlocks * H2) / STEP / 1e6).toFixed(1)}M samples), core=${core.backend}, dir=${root}`);
  if (!existsSync(bucketDir)) {
    mkdirSync(bucketDir, { recursive: true });
    const t = performance.now();
    await writeBlocks(bucketDir, core, nSeries, nBlocks, t0);
    console.log(`wrote blocks in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const bucket = countingBucket(new FilesystemBucket(nodeFs(), bucketDir));
  const dataDir = join(root, 'data');
  rmSync(dataDir, { recursive: true, force: true });
  try {
    const first = await start(bucket, core, dataDir);
    console.log(`time to first ready (index-headers built): ${first.ms.toFixed(0)} ms, ${mb(bucket.bytes)} read in ${bucket.requests} GETs`);
    await first.stop();
    const b0 = bucket.bytes;
    const again = await start(bucket, core, dataDir);
    console.log(`time to ready after restart (index-headers reused): ${again.ms.toFixed(0)} ms, ${mb(bucket.bytes - b0)} read`);
    const { comp } = again;
    const all = [t0, t0 + nBlocks * H2] as const;
    const selective: Matcher[] = [{ type: '=', name: '__name__', value: 'metric_7' }, { type: '=', name: 'instance', value: 'host-7' }];
    report('selective {__name__="metric_7",instance="host-7"} (cold)', await query(comp, bucket, selective, ...all));
    report('selective (warm index cache)', await query(comp, bucket, selective, ...all));
    await again.stop();
    await broadQueriesInChild(bucketDir, dataDir);
    const binary = await broadQueriesThroughBinary(root, bucketDir, nBlocks, t0);
    if (json) console.log(JSON.stringify({ bench: 'store', series: nSeries, blocks: nBlocks, indexCacheSize: process.env.STORE_BENCH_INDEX_CACHE ?? '250MB', thanosStore: binary }));
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}
