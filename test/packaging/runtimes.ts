// The built artifact (dist/) under one JavaScript runtime: `thanos --version`, `tools tsdb dump`,
// `tools bucket ls` and `thanos run` (store + query) over a block made here. One test file per
// runtime (runtime-node/deno/bun.test.ts) calls runtimeSuite(); dist/ is built first if stale.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DENO = path.join(ROOT, 'node_modules/.bin/deno');
export const BUN = path.join(ROOT, 'node_modules/.bin/bun');

export type Runtime = 'node' | 'deno' | 'bun';

export async function ensureDist(): Promise<void> {
  const { ensureBuilt } = (await import(path.join(ROOT, 'scripts/build.mjs'))) as { ensureBuilt(): Promise<void> };
  await ensureBuilt();
}

/** Deno flags for a tools command: read the package and `dirs`, write `dirs` (no network). */
async function denoToolFlags(dirs: string[]): Promise<string[]> {
  const { LIBRARY_ENV } = (await import(path.join(ROOT, 'bin/deno-flags.mjs'))) as { LIBRARY_ENV: string[] };
  return [`--allow-read=${[ROOT, ...dirs].join(',')}`, ...(dirs.length ? [`--allow-write=${dirs.join(',')}`] : []), `--allow-env=${LIBRARY_ENV.join(',')}`, '--allow-sys'];
}

/** argv that runs bin/thanos.mjs under `rt` with `extraDeno` permission flags (Deno only). */
export function command(rt: Runtime, args: string[], denoFlags: string[] = []): [string, string[]] {
  const bin = path.join(app.root, 'bin/thanos.mjs');
  if (rt === 'node') return [process.execPath, [bin, ...args]];
  if (rt === 'bun') return [BUN, [bin, ...args]];
  return [DENO, ['run', '--no-prompt', '--no-config', '--node-modules-dir=manual', ...denoFlags, bin, ...args]];
}

const ENV: NodeJS.ProcessEnv = { ...process.env, THANOS_RUN_FROM: 'dist', NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' };

/** The artifact under test: this checkout's dist/ by default, or an installed layout (the image's /app). */
const app: { root: string; env: NodeJS.ProcessEnv } = { root: ROOT, env: ENV };

function runSync(rt: Runtime, args: string[], denoFlags: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const [cmd, argv] = command(rt, args, denoFlags);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: app.env, timeout: STARTUP_MS, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A 2h block of one series (edge_temp{room="attic"}, cluster="edge") ending an hour ago, made with the CLI. */
function makeBlock(work: string): { blockDir: string; ulid: string; atMs: number } {
  const start = Math.floor(Date.now() / 7_200_000) * 7_200_000 - 7_200_000;
  const lines = ['# TYPE edge_temp gauge'];
  for (let i = 0; i < 7200; i += 60) lines.push(`edge_temp{room="attic"} ${20 + (i % 7)} ${start / 1000 + i}`);
  lines.push('# EOF');
  fs.writeFileSync(path.join(work, 'in.om'), lines.join('\n') + '\n');
  const r = runSync('node', ['tools', 'tsdb', 'create-blocks-from', 'openmetrics', path.join(work, 'in.om'), path.join(work, 'blocks'), '--label=cluster=edge']);
  if (r.status !== 0) throw new Error(`create-blocks-from failed: ${r.stderr}`);
  const ulid = fs.readdirSync(path.join(work, 'blocks')).find((d) => /^[0-9A-Z]{26}$/.test(d))!;
  fs.cpSync(path.join(work, 'blocks', ulid), path.join(work, 'bucket', ulid), { recursive: true });
  return { blockDir: path.join(work, 'blocks', ulid), ulid, atMs: start + 3_600_000 };
}

async function waitReady(url: string, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    const why = exited();
    if (why !== undefined) throw new Error(`exited before ready: ${why}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${STARTUP_MS} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The suite against this checkout's dist/, or (`installed`) against an installed layout that `prepare`
 * makes: `root` holds bin/ and dist/ but no sources, so bin/thanos.mjs must pick dist/ by itself
 * (no THANOS_RUN_FROM). The block is made with the artifact under test.
 */
export function runtimeSuite(rt: Runtime, installed?: { root: string; prepare(): Promise<void> }): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `thanos-rt-${rt}-`));
  let block: ReturnType<typeof makeBlock>;

  test.before(async () => {
    await ensureDist();
    if (installed) {
      await installed.prepare();
      app.root = installed.root;
      app.env = { ...ENV, THANOS_RUN_FROM: undefined, NODE_ENV: 'production' };
    }
    fs.mkdirSync(path.join(work, 'bucket'));
    block = makeBlock(work);
  });
  test.after(() => fs.rmSync(work, { recursive: true, force: true }));

  test(`${rt}: thanos --version runs the built artifact`, async () => {
    const r = runSync(rt, ['--version'], await denoToolFlags([]));
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^thanos, version \S+ \(branch: /);
  });

  test(`${rt}: tools tsdb dump prints the block's samples`, async () => {
    const r = runSync(rt, ['tools', 'tsdb', 'dump', block.blockDir], await denoToolFlags([work]));
    assert.is(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.is(lines.length, 120);
    assert.match(lines[0]!, /^\{__name__="edge_temp", room="attic"\} 20 \d+$/);
  });

  test(`${rt}: tools bucket ls lists the block`, async () => {
    const bucket = path.join(work, 'bucket');
    const r = runSync(rt, ['tools', 'bucket', 'ls', `--objstore.config=type: FILESYSTEM\nconfig: { directory: ${bucket} }`], await denoToolFlags([work]));
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), block.ulid);
  });

  test(`${rt}: thanos run (store + query) answers a query from the bucket`, async () => {
    const [sg, sh, qg, qh] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const manifest = path.join(work, 'plugins.yaml');
    fs.writeFileSync(manifest, [
      'apiVersion: 1',
      'gracePeriod: 10s',
      'objstore:',
      '  - { id: b, use: filesystem, config: { directory: ./bucket }, permissions: { read: [./bucket], write: [./bucket] } }',
      'components:',
      `  - { id: store, use: store, objstore: b, dataDir: ./store, grpc: "127.0.0.1:${sg}", http: "127.0.0.1:${sh}", permissions: { read: [./store], write: [./store] } }`,
      `  - { id: query, use: query, dependsOn: [store], grpc: "127.0.0.1:${qg}", http: "127.0.0.1:${qh}", config: { endpoints: ["127.0.0.1:${sg}"] }, permissions: { net: ["127.0.0.1"] } }`,
      '',
    ].join('\n'));
    let denoFlags: string[] = [];
    if (rt === 'deno') {
      // The permission flags come from the manifest's grants (bin/deno-flags.mjs), nothing wider.
      const g = spawnSync(process.execPath, [path.join(ROOT, 'bin/deno-flags.mjs'), '-c', manifest], { encoding: 'utf8', env: ENV });
      assert.is(g.status, 0, g.stderr);
      denoFlags = g.stdout.trim().split('\n');
      assert.ok(denoFlags.some((f) => f.startsWith('--allow-net=') && f.includes(`127.0.0.1:${qh}`)), g.stdout);
      assert.not.ok(denoFlags.includes('--allow-all') || denoFlags.includes('-A'), g.stdout);
    }
    const [cmd, argv] = command(rt, ['run', '-c', manifest], denoFlags);
    const child = spawn(cmd, argv, { cwd: work, env: app.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let exit: string | undefined;
    child.stderr!.on('data', (d) => { err += d; });
    child.on('exit', (code, sig) => { exit = `code ${code} signal ${sig}: ${err.slice(-2000)}`; });
    try {
      await waitReady(`http://127.0.0.1:${qh}/-/ready`, () => exit);
      // The store may still be loading the block after the querier is ready: poll for the answer.
      const url = `http://127.0.0.1:${qh}/api/v1/query?query=${encodeURIComponent('edge_temp')}&time=${block.atMs / 1000}`;
      const deadline = Date.now() + STARTUP_MS;
      let body: any;
      for (;;) {
        body = await (await fetch(url)).json();
        if (body.data?.result?.length || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.is(body.status, 'success', JSON.stringify(body));
      assert.equal(body.data.result.map((s: any) => s.metric), [{ __name__: 'edge_temp', cluster: 'edge', room: 'attic' }]);
    } finally {
      if (exit === undefined) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
    assert.not.match(err, /level=error/, err);
  });

  test.run();
}
