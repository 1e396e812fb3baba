// The core loads and decodes a chunk under real Deno and Bun (npm packages deno and bun), with
// both backends, through the same lib/core/mod.ts that Node uses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createJsCore } from '../../lib/core/mod.ts';
import { hex } from './helpers.ts';

const root = new URL('../../', import.meta.url).pathname;
const script = new URL('./fixtures/runtime-smoke.ts', import.meta.url).pathname;
const js = createJsCore();
const t = Float64Array.from([1700000000000, 1700000015000, 1700000030007, 1700000044990, 1700000060000]);
const v = Float64Array.from([1, 2.5, -0, Infinity, 1e-300]);
const chunk = js.xorEncode(t, v, t.length);

function check(stdout: string, runtime: string): void {
  const last = stdout.trim().split('\n').pop()!;
  const res = JSON.parse(last);
  for (const backend of ['wasm', 'js']) {
    const r = res[backend];
    assert.is(r.backend, backend, `${runtime}: backend`);
    assert.is(r.n, 5);
    assert.equal(r.t, [...t], `${runtime} ${backend}: t`);
    assert.equal(r.v, [1, 2.5, 0, null, 1e-300], `${runtime} ${backend}: v (JSON turns Infinity into null)`);
    assert.is(r.reencoded, hex(chunk), `${runtime} ${backend}: re-encode`);
    assert.equal(r.intersect, [3, 5, 11]);
  }
}

test('Deno', () => {
  const deno = root + 'node_modules/.bin/deno';
  assert.ok(existsSync(deno), 'node_modules/.bin/deno missing (npm ci)');
  const out = execFileSync(deno, ['run', '--quiet', '--allow-read', '--no-config', '--no-lock', script, hex(chunk)], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    timeout: 60_000,
  }).toString();
  check(out, 'deno');
});

test('Bun', () => {
  const bun = root + 'node_modules/.bin/bun';
  assert.ok(existsSync(bun), 'node_modules/.bin/bun missing (npm ci)');
  const out = execFileSync(bun, ['run', script, hex(chunk)], { cwd: root, timeout: 60_000 }).toString();
  check(out, 'bun');
});

test('Node (same script through tsx)', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, hex(chunk)], { cwd: root, timeout: 60_000 }).toString();
  check(out, 'node');
});

test.run();
