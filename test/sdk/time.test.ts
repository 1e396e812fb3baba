import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sleep } from '../../lib/sdk/mod.ts';

test('sleep waits ms', async () => {
  const t0 = Date.now();
  await sleep(30, new AbortController().signal);
  assert.ok(Date.now() - t0 >= 25);
});

test('sleep resolves on abort and at once when already aborted', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = sleep(60_000, ac.signal);
  setTimeout(() => ac.abort(), 10);
  await p;
  assert.ok(Date.now() - t0 < 5_000);
  await sleep(60_000, ac.signal);
  assert.ok(Date.now() - t0 < 5_000);
});

test('sleep with a negative ms resolves', async () => {
  await sleep(-5, new AbortController().signal);
});

test.run();
