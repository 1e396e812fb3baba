import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Gate, gateMetrics, GATE_DURATION_BUCKETS } from '../../lib/query/gate.ts';
import { Registry } from '../../host/metrics.ts';

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

test('Thanos gate metrics: max set at creation, total counts every start, in_flight the runs holding a slot, duration every wait', async () => {
  const reg = new Registry();
  const m = gateMetrics(reg, 'thanos_query_concurrent_', 'queries', 1);
  const g = new Gate(1, m);
  const text = () => reg.render();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text())?.[1]);
  assert.is(value('thanos_query_concurrent_gate_queries_max'), 1);
  assert.is(value('thanos_query_concurrent_gate_queries_total'), 0);
  assert.is(value('thanos_query_concurrent_gate_queries_in_flight'), 0);
  let release!: () => void;
  const holding = g.run(() => new Promise<void>((r) => (release = r)));
  const ctl = new AbortController();
  const waiting = g.run(async () => {}, ctl.signal);
  assert.is(value('thanos_query_concurrent_gate_queries_in_flight'), 1);
  assert.is(value('thanos_query_concurrent_gate_queries_total'), 2);
  ctl.abort(new Error('gone'));
  await waiting.catch(() => {});
  release();
  await holding;
  await g.run(async () => {});
  assert.is(value('thanos_query_concurrent_gate_queries_in_flight'), 0);
  assert.is(value('thanos_query_concurrent_gate_queries_total'), 3);
  // the canceled wait is observed too, as pkg/gate's InstrumentGateDuration does
  assert.is(value('thanos_query_concurrent_gate_queries_duration_seconds_count'), 3);
  const les = [...text().matchAll(/thanos_query_concurrent_gate_queries_duration_seconds_bucket\{le="([^"]+)"\}/g)].map((x) => x[1]);
  assert.equal(les, [...GATE_DURATION_BUCKETS.map(String), '+Inf']);
  // a second gate of the same factory shares the families
  const again = gateMetrics(reg, 'thanos_query_concurrent_', 'queries', 1);
  assert.is(again.total, m.total);
});

test.run();
