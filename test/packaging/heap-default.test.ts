// bin/heap.mjs: `thanos` runs with V8's heap growth between full collections set to Go's default
// (GOGC=100: collect when the heap has doubled), unless the operator set the factor themselves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

const MODULE = new URL('../../bin/heap.mjs', import.meta.url).href;
const { heapGrowingFlag, HEAP_GROWING_PERCENT } = (await import(MODULE)) as {
  heapGrowingFlag(execArgv: string[]): string | undefined;
  HEAP_GROWING_PERCENT: number;
};

test('the default is GOGC=100', () => {
  assert.is(HEAP_GROWING_PERCENT, 100);
  assert.is(heapGrowingFlag([]), '--heap-growing-percent=100');
  assert.is(heapGrowingFlag(['--enable-source-maps', '--max-old-space-size=512']), '--heap-growing-percent=100', 'other flags do not count');
});

test("an operator's own factor given to node wins (- or _ spelling)", () => {
  assert.is(heapGrowingFlag(['--heap-growing-percent=300']), undefined);
  assert.is(heapGrowingFlag(['--max-old-space-size=512', '--heap_growing_percent=0']), undefined);
});

test('the binary leaves an operator-given factor alone and runs', () => {
  const r = spawnSync(process.execPath, ['--heap-growing-percent=0', new URL('../../bin/thanos.mjs', import.meta.url).pathname, '--version'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
});

test('applyHeapDefaults is accepted by this Node (the flag exists and may be set at run time)', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(MODULE)}); await m.applyHeapDefaults(); console.log('ok')`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'ok');
  assert.not.match(r.stderr, /unrecognized|bad option|Error/i);
});

test.run();
