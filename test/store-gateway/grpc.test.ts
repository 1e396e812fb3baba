// The store gateway over real gRPC on loopback: the host's gRPC server, lib/store's client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcError, GrpcStatus } from '../../host/index.ts';
import { startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { infoService } from '../../host/server/info.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import { labelNamesRequest, labelValuesRequest, seriesRequest, type Series } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import plugin, { setupStore } from '../../plugins/component/store/mod.ts';
import { storeGrpc, type StoreComponent } from '../../lib/store/gateway/component.ts';
import { decodeResult, expected, genSeries, testCtx, writeRawBlock } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const ext = { cluster: 'g', replica: 'r0' };
const series = genSeries(40, T0, T0 + 2 * H2, 15_000);
const dataDir = mkdtempSync(join(tmpdir(), 'store-grpc-'));
let comp: StoreComponent;
let srv: GrpcListener;
let client: StoreClient;
const ac = new AbortController();
let runP: Promise<void>;

test.before(async () => {
  const bucket = new MemoryBucket();
  await writeRawBlock(bucket, core, series, T0, T0 + H2, ext);
  await writeRawBlock(bucket, core, series, T0 + H2, T0 + 2 * H2, ext);
  comp = await setupStore(testCtx(bucket, core, dataDir), plugin.parseConfig({ syncBlockDuration: '1h', requestSeriesLimit: 30 }));
  runP = comp.run(ac.signal);
  await comp.ready;
  srv = await startGrpc('127.0.0.1:0', { ...storeGrpc(comp.store), ...infoService(() => comp) });
  client = new StoreClient(dialGrpc(srv.address));
});
test.after(async () => {
  client.close();
  await srv.close();
  ac.abort();
  await runP;
  rmSync(dataDir, { recursive: true, force: true });
});

async function series_(ms: Matcher[], mint: number, maxt: number, batch = 0): Promise<Series[]> {
  const out: Series[] = [];
  for await (const r of client.series(seriesRequest({ minTime: mint, maxTime: maxt, matchers: ms, responseBatchSize: batch }), new AbortController().signal)) {
    if (r.type === 'series') out.push(r.series);
    else if (r.type === 'batch') out.push(...r.batch);
  }
  return out;
}

test('Info over gRPC', async () => {
  const info = await client.info();
  assert.is(info.componentType, 'store');
  assert.equal(info.labelSets, [[{ name: 'cluster', value: 'g' }, { name: 'replica', value: 'r0' }]]);
  assert.is(info.store!.minTime, T0);
  assert.is(info.store!.maxTime, T0 + 2 * H2);
  assert.ok(info.store!.supportsWithoutReplicaLabels);
});

test('Series over gRPC equals what was written (framed one by one and in batches)', async () => {
  const ms: Matcher[] = [{ type: '=~', name: '__name__', value: 'up|http_requests_total' }, { type: '=', name: 'job', value: 'api' }];
  for (const batch of [0, 7]) {
    for (const [mint, maxt] of [[T0, T0 + 2 * H2], [T0 + H2 - 100_000, T0 + H2 + 100_000]] as const) {
      const got = decodeResult(core, await series_(ms, mint, maxt, batch), mint, maxt);
      const want = expected(series, ext, ms, mint, maxt);
      assert.ok(want.size > 5);
      assert.equal([...got.keys()].sort(), [...want.keys()].sort());
      for (const [k, w] of want) assert.equal(got.get(k), w, k);
    }
  }
});

test('label APIs over gRPC', async () => {
  assert.equal((await client.labelNames(labelNamesRequest({ start: T0, end: T0 + H2 }))).names, ['__name__', 'cluster', 'idx', 'instance', 'job', 'path', 'replica']);
  assert.equal((await client.labelValues(labelValuesRequest({ label: 'job', start: T0, end: T0 + H2 }))).values, ['api', 'db']);
});

async function code(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, GrpcError);
    return [(e as GrpcError).code, (e as Error).message];
  }
  throw new Error('expected an error');
}

test('errors keep their gRPC codes on the wire', async () => {
  let [c, m] = await code(series_([{ type: '=~', name: 'job', value: '([' }], T0, T0 + H2));
  assert.is(c, GrpcStatus.InvalidArgument);
  assert.match(m, /regexp|invalid/);
  [c, m] = await code(series_([{ type: '=~', name: '__name__', value: '.+' }], T0, T0 + 2 * H2));
  assert.is(c, GrpcStatus.ResourceExhausted);
  assert.match(m, /exceeded series limit: limit 30/);
  [c] = await code(client.labelValues(labelValuesRequest({ label: '', start: T0, end: T0 + H2 })));
  assert.is(c, GrpcStatus.InvalidArgument);
  // and the server still answers
  assert.is((await series_([{ type: '=', name: 'idx', value: '7' }], T0, T0 + H2)).length, 1);
});

test.run();
