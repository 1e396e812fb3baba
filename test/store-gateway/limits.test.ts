import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcError, GrpcStatus } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import plugin, { setupStore } from '../../plugins/component/store/mod.ts';
import type { StoreComponent } from '../../lib/store/gateway/component.ts';
import { genSeries, writeRawBlock, testCtx } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const bucket = new MemoryBucket();
const dataDir = mkdtempSync(join(tmpdir(), 'store-lim-'));
const running: Array<() => Promise<void>> = [];
test.after(async () => {
  for (const s of running) await s();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The registry of the store started last. */
let metrics = '';
let lastCtx: ReturnType<typeof testCtx> | undefined;
const dropped = (reason: string) => {
  metrics = lastCtx!.registry.render();
  return Number(new RegExp(`^thanos_bucket_store_queries_dropped_total\\{reason="${reason}",tenant="default-tenant"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
};

async function start(cfg: Record<string, unknown>): Promise<StoreComponent> {
  lastCtx = testCtx(bucket, core, dataDir);
  const comp = await setupStore(lastCtx, plugin.parseConfig({ syncBlockDuration: '1h', ...cfg }));
  const ac = new AbortController();
  const p = comp.run(ac.signal);
  running.push(async () => { ac.abort(); await p; });
  await comp.ready;
  return comp;
}

async function run(comp: StoreComponent, re: string, maxt = T0 + 2 * H2): Promise<number> {
  let n = 0;
  for await (const _ of comp.store.series({ minTime: T0, maxTime: maxt, matchers: [{ type: '=~', name: '__name__', value: re }] })) n++;
  return n;
}

async function fails(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, GrpcError);
    assert.is((e as GrpcError).code, GrpcStatus.ResourceExhausted);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('expected a limit error');
}

test.before(async () => {
  const s = genSeries(60, T0, T0 + 2 * H2, 15_000); // 480 samples per 2h → 4+ chunks per series per block
  await writeRawBlock(bucket, core, s, T0, T0 + H2, { c: '1' });
  await writeRawBlock(bucket, core, s, T0 + H2, T0 + 2 * H2, { c: '1' });
});

test('series limit fails the request with a clear message; smaller requests pass', async () => {
  const comp = await start({ requestSeriesLimit: 25 });
  assert.is(await run(comp, 'up'), 20);
  await fails(run(comp, '.+'), /exceeded series limit: limit 25 violated \(got (at least )?\d+\).*--store.limits.request-series/);
  assert.is(dropped('series'), 1, `a request dropped by the series limit is counted (Thanos's thanos_bucket_store_queries_dropped_total)\n${metrics}`);
  // the deprecated flag name works the same
  const c2 = await start({ touchedSeriesLimit: 10 });
  await fails(run(c2, 'up'), /exceeded series limit: limit 10/);
});

test('samples limit counts chunks × 120', async () => {
  const comp = await start({ requestSamplesLimit: 120 * 50 });
  assert.is(await run(comp, 'up', T0 + 10 * 60_000), 20, 'one chunk per series fits');
  await fails(run(comp, 'up'), /exceeded samples limit: limit 6000 violated/);
  assert.is(dropped('chunks'), 1);
});

test('downloaded bytes limit', async () => {
  const comp = await start({ downloadedBytesLimit: '64KB' });
  assert.is(await run(comp, 'up', T0 + 60_000), 20);
  await fails(run(comp, '.+'), /exceeded bytes limit: limit 65536 violated/);
  assert.is(dropped('bytes'), 1);
});

test('a failed request leaves the store serving', async () => {
  const comp = await start({ requestSeriesLimit: 5 });
  await fails(run(comp, '.+'), /series limit/);
  let n = 0;
  for await (const _ of comp.store.series({ minTime: T0, maxTime: T0 + H2, matchers: [{ type: '=', name: 'idx', value: '3' }] })) n++;
  assert.is(n, 1);
});

test('concurrency gate: more requests than slots queue instead of failing', async () => {
  const comp = await start({ seriesMaxConcurrency: 1 });
  const counts = await Promise.all([run(comp, 'up'), run(comp, 'http_requests_total'), run(comp, '.+')]);
  assert.equal(counts, [20, 20, 60]);
});

test.run();
