import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sleep } from '../../lib/sdk/mod.ts';
import { httpDate, isoUtc } from '../../lib/sdk/time.ts';

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

test('isoUtc and httpDate are the text of toISOString and toUTCString, every year and edge included', () => {
  const times = [0, -1, 1, 999, 1000, 951782400000, 1_700_000_000_123, Date.UTC(0, 0, 1), Date.UTC(-1, 11, 31, 23, 59, 59, 999),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -62198755200000, 8.64e15, -8.64e15];
  for (let i = 0; i < 20_000; i++) times.push(Math.round((Math.random() * 2 - 1) * 8.64e15));
  for (let i = 0; i < 20_000; i++) times.push(Math.round(Math.random() * 253402300800000)); // years 1970-9999
  for (const t of times) {
    const d = new Date(t);
    d.setUTCFullYear(d.getUTCFullYear() % 3 === 0 ? d.getUTCFullYear() % 10_000 : d.getUTCFullYear());
    assert.is(isoUtc(d), d.toISOString(), String(t));
    assert.is(httpDate(d), d.toUTCString(), String(t));
  }
  const invalid = new Date(NaN);
  assert.throws(() => isoUtc(invalid), (e: unknown) => e instanceof RangeError);
  assert.is(httpDate(invalid), invalid.toUTCString());
});

test.run();
