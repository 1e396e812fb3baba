// A receiver's storage on hashring changes, as upstream's startTSDBAndUpload: the first load and
// every hashmod change make it not ready, flush every head whole into blocks (uploaded) and make it
// ready again; a ketama change keeps the head (no churn); a router-only receiver only gets ready.
// Unit cases on HashringChangeHandler, then the receive plugin in process over a hashrings file
// changed on disk, with a FILESYSTEM bucket receiving the flushed blocks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HashringChangeHandler, serialQueue, type HashringAlgorithm } from '../../lib/receive/mod.ts';
import { Registry } from '../../host/metrics.ts';
import { createLogger } from '../../host/log.ts';
import plugin, { setupReceive } from '../../plugins/component/receive/mod.ts';
import { freePort } from '../harness/ports.ts';
import { fsBucket, receiveCtx, rwRequest, ts } from './helpers.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const tmp = tempDirs('rcv-ringchange-');

function handler(algorithm: HashringAlgorithm, ingesting = true, failFlush = false) {
  const events: string[] = [];
  const metrics = new Registry();
  const h = new HashringChangeHandler({
    algorithm, ingesting, serial: serialQueue(), metrics, log: createLogger({ level: 'error', write: () => {} }),
    setReady: (r) => void events.push(r ? 'ready' : 'not-ready'),
    flush: async () => {
      events.push('flush');
      await new Promise((r) => setTimeout(r, 5));
      if (failFlush) throw new Error('disk full');
    },
  });
  const count = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics.render())?.[1] ?? 'NaN');
  return { h, events, count };
}

test('hashmod: the first load and every change flush the head, not ready meanwhile', async () => {
  const { h, events, count } = handler('hashmod');
  await h.changed();
  await h.changed();
  assert.equal(events, ['not-ready', 'flush', 'ready', 'not-ready', 'flush', 'ready']);
  assert.is(count('thanos_receive_multi_db_updates_attempted_total'), 2);
  assert.is(count('thanos_receive_multi_db_updates_completed_total'), 2);
});

test('ketama: only the first load flushes; a router-only receiver just gets ready', async () => {
  const k = handler('ketama');
  await k.h.changed();
  await k.h.changed();
  await k.h.changed();
  assert.equal(k.events, ['not-ready', 'flush', 'ready']);
  assert.is(k.count('thanos_receive_multi_db_updates_attempted_total'), 1);
  const r = handler('hashmod', false);
  await r.h.changed();
  await r.h.changed();
  assert.equal(r.events, ['ready', 'ready']);
  assert.is(r.count('thanos_receive_multi_db_updates_attempted_total'), 0);
});

test('changes run one at a time, in order; a failed flush is not completed but readiness comes back', async () => {
  const { h, events } = handler('hashmod');
  await Promise.all([h.changed(), h.changed(), h.changed()]);
  assert.equal(events, ['not-ready', 'flush', 'ready', 'not-ready', 'flush', 'ready', 'not-ready', 'flush', 'ready']);
  const f = handler('hashmod', true, true);
  await f.h.changed();
  assert.equal(f.events, ['not-ready', 'flush', 'ready']);
  assert.is(f.count('thanos_receive_multi_db_updates_attempted_total'), 1);
  assert.is(f.count('thanos_receive_multi_db_updates_completed_total'), 0);
  // the storage queue serializes with other storage work: a flush waits for the job before it
  const serial = serialQueue();
  const order: string[] = [];
  const slow = serial(async () => {
    await new Promise((r) => setTimeout(r, 30));
    order.push('tick');
  });
  const q = new HashringChangeHandler({
    algorithm: 'hashmod', ingesting: true, serial, metrics: new Registry(), log: createLogger({ level: 'error', write: () => {} }),
    setReady: () => {}, flush: async () => void order.push('flush'),
  });
  await Promise.all([slow, q.changed()]);
  assert.equal(order, ['tick', 'flush']);
});

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The receive plugin in process with a hashrings file; returns what the test needs to drive it. */
async function startReceiver(algorithm: HashringAlgorithm) {
  const dir = tmp();
  const bucketDir = join(dir, 'bucket');
  const self = `127.0.0.1:${await freePort()}`;
  const other = `127.0.0.1:${await freePort()}`;
  const ringFile = join(dir, 'hashrings.json');
  const ring = (eps: string[]) => writeFileSync(ringFile, JSON.stringify([{ hashring: 'default', endpoints: eps }]));
  ring([self]);
  const ctx = receiveCtx(await fsBucket(bucketDir));
  const cfg = plugin.parseConfig({
    tsdbPath: join(dir, 'tsdb'), labels: ['replica="r1"'], remoteWriteAddress: '127.0.0.1:0', hashringsFile: ringFile,
    localEndpoint: self, hashringsAlgorithm: algorithm,
  });
  const comp = await setupReceive(ctx, cfg);
  const stop = new AbortController();
  const running = comp.run(stop.signal);
  const uploaded = () => (existsSync(bucketDir) ? readdirSync(bucketDir).filter((d) => /^[0-9A-Z]{26}$/.test(d)) : []);
  const count = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec((ctx.metrics as Registry).render())?.[1] ?? 'NaN');
  return {
    ctx, comp, ring, self, other, uploaded, count,
    async close() {
      stop.abort();
      await running;
    },
  };
}

test('receive plugin, hashmod: a hashrings file change flushes the head into an uploaded block', async () => {
  const r = await startReceiver('hashmod');
  try {
    await until(() => r.ctx.ready, 'ready after the first load');
    assert.is(r.count('thanos_receive_multi_db_updates_attempted_total'), 1, 'the first load updates the storage');
    const now = Date.now();
    const series = Array.from({ length: 20 }, (_, i) => ts({ __name__: 'ring_change', i: String(i) }, [[now - 60_000, i], [now - 30_000, i + 1]]));
    const res = await r.comp.handle(rwRequest(series));
    assert.is(res.status, 200, await res.text());
    assert.is(r.uploaded().length, 0, 'nothing cut yet');
    r.ring([r.self, r.other]);
    await until(() => r.count('thanos_receive_multi_db_updates_completed_total') === 2, 'the change flushed');
    assert.is(r.uploaded().length, 1, 'the head became one uploaded block');
    assert.ok(r.ctx.ready);
    assert.ok(r.ctx.logs.some((l) => l.includes('hashring has changed; server is not ready to receive requests')));
  } finally {
    await r.close();
  }
});

test('receive plugin, ketama: a hashrings file change keeps the head', async () => {
  const r = await startReceiver('ketama');
  try {
    await until(() => r.ctx.ready, 'ready after the first load');
    const now = Date.now();
    const res = await r.comp.handle(rwRequest([ts({ __name__: 'ring_change', i: '1' }, [[now - 60_000, 1]])]));
    assert.is(res.status, 200);
    r.ring([r.self, r.other]);
    await until(() => r.count('thanos_receive_hashrings_file_changes_total') === 2, 'the change applied');
    // give a (wrong) flush every chance to happen
    await new Promise((res2) => setTimeout(res2, 500));
    assert.is(r.count('thanos_receive_multi_db_updates_attempted_total'), 1);
    assert.is(r.uploaded().length, 0, 'no block cut on a ketama change');
  } finally {
    await r.close();
  }
});

test.run();
