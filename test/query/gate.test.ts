import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Gate } from '../../lib/query/gate.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('at most `limit` run at once, the rest wait in order', async () => {
  const g = new Gate(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    [0, 1, 2, 3, 4].map((i) =>
      g.run(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await sleep(10);
        running--;
      }),
    ),
  );
  assert.is(peak, 2);
  assert.equal(order, [0, 1, 2, 3, 4]);
  assert.is(g.inFlight, 0);
});

test('a failing run frees its slot; an abort while waiting rejects without running', async () => {
  const g = new Gate(1);
  const first = g.run(async () => {
    await sleep(20);
    throw new Error('boom');
  });
  const ctl = new AbortController();
  let ran = false;
  const waiting = g.run(async () => {
    ran = true;
  }, ctl.signal);
  ctl.abort(new Error('client went away'));
  await waiting.then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'client went away'));
  await first.then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'boom'));
  assert.not.ok(ran);
  assert.is(await g.run(async () => 7), 7);
  assert.is(g.inFlight, 0);
  assert.throws(() => new Gate(0), /limit/);
});

test.run();
