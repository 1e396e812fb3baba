// deploy/Dockerfile without a container engine: this machine kind has the docker client but no
// daemon, so the image cannot be built here. Instead the build stage's own RUN commands run, word
// for word, in a copy of the build context (the repository minus Dockerfile.dockerignore), with two
// stand-ins: `npm ci` becomes a view of this checkout's node_modules (one symlink per package, so the
// stage's `rm -rf node_modules/...` cannot touch the real tree), and `npm prune --omit=dev` removes
// from that view every package package-lock.json marks dev-only. The runtime stage's COPYs assemble
// /app from the stage's /out; then the runtime suite (--version, tools tsdb dump, tools bucket ls,
// thanos run store + query) runs against /app, which has no sources, no TypeScript loader and no
// development packages: a file the artifact reads but the image does not copy, or a runtime import
// of a devDependency, fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, runtimeSuite } from './runtimes.ts';

const DOCKERFILE = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'thanos-image-'));
const ctx = path.join(work, 'src');
const out = path.join(work, 'out');
const app = path.join(work, 'app');

interface Instruction { stage: number; op: string; args: string }

/** The Dockerfile's instructions, continuation lines joined, comments and the parser directive dropped. */
function instructions(): Instruction[] {
  const joined = DOCKERFILE.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  const list: Instruction[] = [];
  let stage = -1;
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'FROM') stage++;
    list.push({ stage, op: m[1]!, args: m[2]!.trim() });
  }
  return list;
}

/** The build context: tracked files minus the .dockerignore patterns (which only name top-level paths and *.log). */
function makeContext(): void {
  const ignore = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const ignored = (f: string) => ignore.some((p) => p.startsWith('*.') ? f.endsWith(p.slice(1)) : p.endsWith('*') ? f.startsWith(p.slice(0, -1)) : f === p || f.startsWith(`${p}/`));
  const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter((f) => f && !ignored(f));
  for (const f of files) {
    const from = path.join(ROOT, f);
    if (!fs.existsSync(from)) continue; // deleted in the working tree, not yet in git
    fs.mkdirSync(path.dirname(path.join(ctx, f)), { recursive: true });
    fs.copyFileSync(from, path.join(ctx, f));
  }
}

/** Top-level package names of package-lock.json, with whether npm marks them development-only. */
function lockPackages(): Map<string, boolean> {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const m = new Map<string, boolean>();
  for (const [k, v] of Object.entries(lock.packages)) {
    if (!k.startsWith('node_modules/') || k.includes('/node_modules/', 1)) continue;
    m.set(k.slice('node_modules/'.length), v.dev === true);
  }
  return m;
}

/** `npm ci`'s stand-in: node_modules as one symlink per installed package, and .bin as copied links. */
function installView(): void {
  const nm = path.join(ctx, 'node_modules');
  for (const name of lockPackages().keys()) {
    const real = path.join(ROOT, 'node_modules', name);
    if (!fs.existsSync(real)) continue; // an optional package for another platform
    fs.mkdirSync(path.dirname(path.join(nm, name)), { recursive: true });
    fs.symlinkSync(real, path.join(nm, name));
  }
  fs.mkdirSync(path.join(nm, '.bin'));
  for (const b of fs.readdirSync(path.join(ROOT, 'node_modules/.bin'))) {
    fs.symlinkSync(fs.readlinkSync(path.join(ROOT, 'node_modules/.bin', b)), path.join(nm, '.bin', b));
  }
}

/** `npm prune --omit=dev`'s stand-in: the dev-only packages leave the view. */
function pruneView(): void {
  for (const [name, dev] of lockPackages()) if (dev) fs.rmSync(path.join(ctx, 'node_modules', name), { force: true });
}

function sh(cmd: string, cwd: string): void {
  const r = spawnSync('sh', ['-ec', cmd], { cwd, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, CI: 'true' } });
  assert.is(r.status, 0, `${cmd}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
}

/** Runs the build stage and assembles the runtime stage's /app. */
async function buildImage(): Promise<void> {
  const list = instructions();
  const last = Math.max(...list.map((i) => i.stage));
  makeContext();
  for (const ins of list.filter((i) => i.stage < last)) {
    if (ins.op === 'RUN') {
      // Absolute paths of the image (/out, /var-thanos) move under the work directory.
      let cmd = ins.args.replace(/(^|[\s=])\/(out|var-thanos)\b/g, (_m, pre: string, dir: string) => `${pre}${path.join(work, dir)}`);
      if (/^npm ci\b/.test(cmd)) { installView(); continue; }
      cmd = cmd.replace(/npm prune --omit=dev[^&;]*/, 'true');
      const pruneAt = ins.args.includes('npm prune --omit=dev');
      if (pruneAt) {
        // The prune runs between the build commands and the copies: split the chain there.
        const [before, after] = cmd.split(/&&\s*true\s*&&/);
        sh(before!, ctx);
        pruneView();
        sh(after!, ctx);
      } else sh(cmd, ctx);
    } else if (ins.op === 'COPY' && ins.stage < last) {
      // COPY package.json package-lock.json ./ and COPY . . : the context is already the workdir.
      continue;
    }
  }
  // The runtime stage: COPY --from=build <src> <dest> into /app.
  for (const ins of list.filter((i) => i.stage === last && i.op === 'COPY')) {
    const m = /^(?:--\S+\s+)*(\S+)\s+(\S+)$/.exec(ins.args)!;
    assert.match(ins.args, /--from=build/, 'the runtime stage copies only from the build stage');
    const src = path.join(work, m[1]!.replace(/^\/(out|var-thanos)/, '$1'));
    const dest = m[2] === '/app/' ? app : path.join(work, 'rootfs', m[2]!);
    fs.mkdirSync(dest, { recursive: true });
    fs.cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
  }
}

test('the image layout: no sources, no development packages, dist/ and the WASM core present', () => {
  for (const p of ['bin/thanos.mjs', 'dist/host/main.js', 'dist/.build.json', 'package.json']) assert.ok(fs.existsSync(path.join(app, p)), p);
  assert.ok(fs.readdirSync(path.join(app, 'wasm/build')).some((f) => f.endsWith('.wasm')), 'wasm/build/*.wasm');
  for (const p of ['host', 'lib', 'plugins/component/query/mod.ts', 'tsconfig.json']) assert.not.ok(fs.existsSync(path.join(app, p)), `${p} must not be in the image`);
  const dev = [...lockPackages()].filter(([, d]) => d).map(([n]) => n);
  assert.ok(dev.includes('typescript') && dev.includes('assemblyscript'), 'the compilers are development packages');
  for (const n of dev) assert.not.ok(fs.existsSync(path.join(app, 'node_modules', n)), `${n} (dev) in the image`);
  assert.not.ok(fs.existsSync(path.join(app, 'node_modules/bun')), 'bun is removed from the image');
});

test.after(() => fs.rmSync(work, { recursive: true, force: true }));

runtimeSuite('node', { root: app, prepare: buildImage });
