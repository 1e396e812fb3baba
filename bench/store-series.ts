// Store gateway Series CPU on the dashboard instant set (`npm run bench -- store-series`): the store
// component over the query bench's dash bucket ($QUERY_BENCH_DIR/dash-10000-6h/bucket, prepared by
// `npm run bench -- query --only=dash`), the gRPC Series handler (response batching + frame
// encoding) for the 17 Series requests the dashboard's instant queries send per round (broad
// selectors over [t-5m, t] on 10k series, a few narrow ones), in this process, over the host's
// checked file system as `thanos store` gets it (open files kept between ranged reads); CPU time
// per round, and a hash of the frames (old and new checkouts must answer byte for byte).
//
//   npm run bench -- store-series [--rounds=6] [--bucket=<dir>] [--old=<checkout> --pairs=4]
//
// With --old (another checkout, e.g. a detached worktree of the base commit, its wasm/build built),
// each pair runs the old and this checkout's code in fresh processes of their own, alternated (two
// stores in one process measured the second one loaded ~0.7x of the first, whatever its code), and
// prints the median CPU per round of each and the ratio new/old per pair. The child processes
// import the store's modules from the checkout they measure; this file drives them.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));

interface RunResult { repo: string; frameBytes: number; frameHash: string; cpuMsPerRound: number[]; median: number; min: number }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The rounds in this process, with the store modules of checkout `repo`. */
async function measure(repo: string, bucketDir: string, rounds: number): Promise<RunResult> {
  const { ctxFor } = await import(join(repo, 'bench/store.ts'));
  const { createCore } = await import(join(repo, 'lib/core/mod.ts'));
  const { FilesystemBucket } = await import(join(repo, 'plugins/objstore/filesystem/mod.ts'));
  const storeMod = await import(join(repo, 'plugins/component/store/mod.ts'));
  const { createFs } = await import(join(repo, 'host/checked.ts'));
  const { Permissions } = await import(join(repo, 'host/permissions.ts'));
  const { storeGrpc } = await import(join(repo, 'lib/store/gateway/component.ts'));
  const { SERIES_METHOD } = await import(join(repo, 'lib/proto/store.ts'));
  const core = await createCore({ wasmUrl: new URL(`file://${repo}/wasm/build/core.wasm`) });
  const dataDir = mkdtempSync(join(tmpdir(), 'store-series-'));
  // the host's checked file system, as `thanos store` gets it: open files kept between ranged reads
  const fs = createFs(Permissions.all('component:store', { read: true, write: true }));
  const ctx = { ...ctxFor(new FilesystemBucket(fs, bucketDir), core, dataDir), fs };
  const comp = await storeMod.setupStore(ctx, storeMod.default.parseConfig({ syncBlockDuration: '1h' }));
  const ac = new AbortController();
  const running = comp.run(ac.signal);
  await comp.ready;
  try {
    // the query bench's instant time: 1234.567 s before the data's end, off the scrape grid
    let maxT = 0;
    for (const d of readdirSync(bucketDir)) {
      try { maxT = Math.max(maxT, JSON.parse(readFileSync(join(bucketDir, d, 'meta.json'), 'utf8')).maxTime); } catch { /* not a block */ }
    }
    const t = Math.round((maxT / 1000 - 1234.567) * 1000);
    const m = (name: string, value: string, type = '=') => ({ type, name, value });
    const reqs = [
      { ms: [m('__name__', 'x_total')], range: 300_000, n: 8 },
      { ms: [m('__name__', 'g')], range: 300_000, n: 3 },
      { ms: [m('__name__', 'h_bucket')], range: 300_000, n: 2 },
      { ms: [m('__name__', 'x_total'), m('job', 'job-[1-3]', '=~')], range: 300_000, n: 1 },
      { ms: [m('__name__', 'g'), m('instance', 'inst-1.*', '=~')], range: 300_000, n: 1 },
      { ms: [m('__name__', 'x_total'), m('job', 'job-1')], range: 300_000, n: 1 },
      { ms: [m('__name__', 'g')], range: 600_000, n: 1 },
    ];
    const svc = storeGrpc(comp.store)[SERIES_METHOD];
    // a hash of every frame of the warm-up round: old and new checkouts must answer byte for byte
    let hash: ReturnType<typeof createHash> | undefined;
    const one = async (ms: unknown[], range: number): Promise<number> => {
      const req = { minTime: t - range, maxTime: t, matchers: ms, maxResolutionWindow: 0, aggregates: [], partialResponseDisabled: false, partialResponseStrategy: 0, skipChunks: false, step: 0, range: 0, withoutReplicaLabels: [], limit: 0, responseBatchSize: 64 };
      let bytes = 0;
      for await (const r of svc.handler(req, ac.signal, {})) {
        const f = svc.responseEncode(r) as Uint8Array;
        bytes += f.byteLength;
        if (hash) {
          hash.update(Uint32Array.of(f.byteLength));
          hash.update(f);
        }
      }
      return bytes;
    };
    const round = async (): Promise<{ ms: number; bytes: number }> => {
      const c0 = process.cpuUsage();
      let bytes = 0;
      for (const q of reqs) for (let i = 0; i < q.n; i++) bytes += await one(q.ms, q.range);
      const c = process.cpuUsage(c0);
      return { ms: (c.user + c.system) / 1000, bytes };
    };
    hash = createHash('sha256');
    await round(); // warm-up: index cache, JIT
    const frameHash = hash.digest('hex').slice(0, 16);
    hash = undefined;
    await round();
    const ms: number[] = [];
    let frameBytes = 0;
    for (let k = 0; k < rounds; k++) {
      const r = await round();
      ms.push(r.ms);
      frameBytes = r.bytes;
    }
    return { repo, frameBytes, frameHash, cpuMsPerRound: ms, median: median(ms), min: Math.min(...ms) };
  } finally {
    ac.abort();
    await running.catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** measure() in a fresh process (this file under the same node flags) for checkout `repo`. */
function measureInChild(repo: string, bucketDir: string, rounds: number): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = fork(process.argv[1]!, ['store-series'], {
      execArgv: process.execArgv,
      env: { ...process.env, STORE_SERIES_CHILD: JSON.stringify({ repo, bucketDir, rounds }) },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.on('error', rej);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) res(JSON.parse(line) as RunResult);
      else rej(new Error(`store-series child for ${repo} exited with ${code}: ${out.slice(-500)}`));
    });
  });
}

export default async function main(args: string[]): Promise<void> {
  const childSpec = process.env.STORE_SERIES_CHILD;
  if (childSpec) {
    const { repo, bucketDir, rounds } = JSON.parse(childSpec) as { repo: string; bucketDir: string; rounds: number };
    console.log(JSON.stringify(await measure(repo, bucketDir, rounds)));
    process.exit(0);
  }
  const known = ['rounds', 'bucket', 'old', 'pairs'];
  for (const a of args) {
    const name = /^--([\w-]+)=/.exec(a)?.[1];
    if (!name || !known.includes(name)) throw new Error(`store-series: unknown argument ${JSON.stringify(a)} (known: ${known.map((k) => `--${k}=`).join(' ')})`);
  }
  const opt = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
  const rounds = Number(opt('rounds', '6'));
  const bucketDir = resolve(opt('bucket', join(process.env.QUERY_BENCH_DIR ?? '/tmp/thanos-ts-bench-query', 'dash-10000-6h', 'bucket')));
  const old = args.some((a) => a.startsWith('--old=')) ? resolve(opt('old', '')) : undefined;
  if (!old) {
    const r = await measure(REPO, bucketDir, rounds);
    console.log(`store Series, dashboard instant set (17 requests a round): CPU per round median ${r.median.toFixed(0)} ms, min ${r.min.toFixed(0)} ms over ${rounds} rounds; frames ${r.frameBytes} bytes a round (sha256 ${r.frameHash})`);
    return;
  }
  const pairs = Number(opt('pairs', '4'));
  const runs: Array<{ old: RunResult; cur: RunResult }> = [];
  for (let i = 0; i < pairs; i++) {
    const o = await measureInChild(old, bucketDir, rounds);
    const c = await measureInChild(REPO, bucketDir, rounds);
    if (o.frameBytes !== c.frameBytes || o.frameHash !== c.frameHash) console.log(`pair ${i + 1}: FRAMES DIFFER: old ${o.frameBytes} bytes (sha256 ${o.frameHash}), new ${c.frameBytes} bytes (${c.frameHash}) a round`);
    runs.push({ old: o, cur: c });
    console.log(`pair ${i + 1}: CPU per round median old ${o.median.toFixed(0)} ms, new ${c.median.toFixed(0)} ms (${(c.median / o.median).toFixed(2)}); min old ${o.min.toFixed(0)} ms, new ${c.min.toFixed(0)} ms (${(c.min / o.min).toFixed(2)})`);
  }
  // under load the fastest round of a process is the one least disturbed: its ratio is printed too
  console.log(`store Series, dashboard instant set: median CPU per round old ${median(runs.map((r) => r.old.median)).toFixed(0)} ms, new ${median(runs.map((r) => r.cur.median)).toFixed(0)} ms; ` +
    `new/old per pair ${runs.map((r) => (r.cur.median / r.old.median).toFixed(2)).join(' ')}, median ${median(runs.map((r) => r.cur.median / r.old.median)).toFixed(2)}; ` +
    `fastest rounds new/old per pair ${runs.map((r) => (r.cur.min / r.old.min).toFixed(2)).join(' ')}, median ${median(runs.map((r) => r.cur.min / r.old.min)).toFixed(2)}`);
}
