// End to end: `node bin/thanos.mjs store --objstore.config-file bucket_config.yaml --data-dir ./store
// --grpc-address …` over a FILESYSTEM bucket of lib/tsdb blocks, with a memcached index cache;
// queried over gRPC and HTTP; a deleted block disappears after the next sync; SIGTERM exits cleanly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import { labelValuesRequest, seriesRequest, type Series } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { FilesystemBucket } from '../../plugins/objstore/filesystem/mod.ts';
import { decodeResult, expected, genSeries, writeRawBlock } from './fixtures.ts';
import { freePort, startMemcached, type Memcached } from './helpers.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor((Date.now() - 30 * 86400_000) / H2) * H2;
const ext = { cluster: 'e2e', replica: 'A' };
const series = genSeries(30, T0, T0 + 3 * H2, 30_000);
const root = mkdtempSync(join(tmpdir(), 'store-e2e-'));
const repo = new URL('../../', import.meta.url).pathname;
let proc: ChildProcess | undefined;
let mc: Memcached | undefined;
let client: StoreClient | undefined;
let httpPort = 0;
let out = '';
const ids: string[] = [];

test.after(async () => {
  client?.close();
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  await mc?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function waitFor(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await pred()) return;
    } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('thanos store serves a real bucket over gRPC', async () => {
  const bucket = new FilesystemBucket(nodeFs(), join(root, 'bucket'));
  for (let b = 0; b < 3; b++) ids.push(await writeRawBlock(bucket, core, series, T0 + b * H2, T0 + (b + 1) * H2, ext));
  writeFileSync(join(root, 'bucket_config.yaml'), `type: FILESYSTEM\nconfig:\n  directory: ${join(root, 'bucket')}\n`);
  mc = await startMemcached();
  writeFileSync(join(root, 'cache.yaml'), `type: MEMCACHED\nconfig:\n  addresses: ["127.0.0.1:${mc.port}"]\n  timeout: 2s\n`);
  const grpcPort = await freePort();
  httpPort = await freePort();
  proc = spawn(process.execPath, [join(repo, 'bin/thanos.mjs'), 'store',
    '--objstore.config-file', 'bucket_config.yaml', '--data-dir', './store',
    '--grpc-address', `127.0.0.1:${grpcPort}`, '--http-address', `127.0.0.1:${httpPort}`,
    '--index-cache.config-file', 'cache.yaml', '--sync-block-duration', '1s'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/-/ready`)).status === 200, STARTUP_MS, '/-/ready');
  for (const id of ids) assert.ok(existsSync(join(root, 'store', id, 'index-header')), `index-header for ${id} under --data-dir`);
  client = new StoreClient(dialGrpc(`127.0.0.1:${grpcPort}`));
  const info = await client.info();
  assert.is(info.componentType, 'store');
  assert.is(info.store!.minTime, T0);
  assert.is(info.store!.maxTime, T0 + 3 * H2);
  const ms: Matcher[] = [{ type: '=', name: 'job', value: 'api' }, { type: '=~', name: 'instance', value: 'i[1-5]' }];
  for (let round = 0; round < 2; round++) {
    const res: Series[] = [];
    for await (const r of client.series(seriesRequest({ minTime: T0 + 1000, maxTime: T0 + 3 * H2 - 1000, matchers: ms }), new AbortController().signal)) {
      if (r.type === 'series') res.push(r.series);
      else if (r.type === 'batch') res.push(...r.batch);
    }
    const got = decodeResult(core, res, T0 + 1000, T0 + 3 * H2 - 1000);
    const want = expected(series, ext, ms, T0 + 1000, T0 + 3 * H2 - 1000);
    assert.ok(want.size > 3);
    assert.equal([...got.keys()].sort(), [...want.keys()].sort(), `round ${round}`);
    for (const [k, w] of want) assert.equal(got.get(k), w);
  }
  assert.equal((await client.labelValues(labelValuesRequest({ label: 'cluster', start: T0, end: T0 + H2 }))).values, ['e2e']);
  // the second round was served from memcached
  await waitFor(async () => /thanos_store_index_cache_hits_total\{item_type="(Series|ExpandedPostings)",tenant="default-tenant"\} [1-9]/.test(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()), 5000, 'index cache hits in /metrics');
  const blocks = (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/blocks`)).json()) as { data: { blocks: Array<{ ulid: string }> } };
  assert.equal(blocks.data.blocks.map((b) => b.ulid).sort(), [...ids].sort());
});

test('a block deleted from the bucket disappears after the next sync', async () => {
  rmSync(join(root, 'bucket', ids[2]!), { recursive: true });
  await waitFor(async () => {
    const b = (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/blocks`)).json()) as { data: { blocks: Array<{ ulid: string }> } };
    // The block leaves the served set first; its local index-header is removed right after (the
    // drop closes the block, then deletes its files), so wait for both rather than race the cleanup.
    return b.data.blocks.length === 2 && !readdirSync(join(root, 'store')).includes(ids[2]!);
  }, 10_000, 'block drop');
  assert.is((await client!.info()).store!.maxTime, T0 + 2 * H2);
});

test('SIGTERM shuts down cleanly', async () => {
  const code = await new Promise<number | null>((r) => {
    proc!.once('exit', (c) => r(c));
    proc!.kill('SIGTERM');
  });
  assert.is(code, 0, out);
});

test.run();
