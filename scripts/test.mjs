#!/usr/bin/env node
// Runs every uvu suite (test/**/*.test.ts) in its own Node process, two at a time, and ends with
// one line `N passed, N failed`. Arguments filter files by substring: `npm test -- tsdb objstore`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2);
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 240_000);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

function runFile(file, workerIndex) {
  return new Promise((resolve) => {
    const started = Date.now();
    // Each file gets its own TMPDIR, removed when it ends: suites make temp buckets and data dirs with
    // mkdtemp(os.tmpdir()) and a failing or killed file never reaches its own cleanup, so a CI machine
    // would otherwise collect hundreds of dirs per run.
    const fileTmp = mkdtempSync(join(tmpdir(), 'thanos-test-'));
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      // TEST_WORKER gives each concurrently running file its own port block (test/harness/ports.ts).
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', TEST_WORKER: String(workerIndex), TMPDIR: fileTmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[test runner] ${file} timed out after ${fileTimeoutMs} ms\n`;
      child.kill('SIGKILL');
    }, fileTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        rmSync(fileTmp, { recursive: true, force: true, maxRetries: 3 });
      } catch (e) {
        out += `\n[test runner] could not remove ${fileTmp}: ${e.message}\n`;
      }
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      let p = 0, f = 0;
      if (Number.isFinite(total) && Number.isFinite(passed)) {
        p = passed;
        f = total - passed - skipped;
        if (code !== 0 && f === 0) f = 1; // crashed after its summary, or a leaked handle killed it
      } else {
        f = 1; // no summary at all: the file crashed or hung
      }
      resolve({ file, code, out, passed: p, failed: f, skipped, ms: Date.now() - started });
    });
  });
}

const results = [];
let next = 0;
async function worker(_, workerIndex) {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file, workerIndex);
    results.push(r);
    const status = r.failed === 0 ? 'ok  ' : 'FAIL';
    console.log(`${status} ${file}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)}s)`);
    if (r.failed > 0) console.log(r.out.split('\n').map((l) => '     | ' + l).join('\n'));
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && files.length > 0 ? 0 : 1;
