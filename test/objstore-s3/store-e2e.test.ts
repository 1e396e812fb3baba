// The reference deployment's store command on an S3 bucket: blocks uploaded through the S3 plugin
// to a real S3 API (Swift s3api on loopback), then
//   thanos store --data-dir ./store --objstore.config-file bucket_config.yaml --http-address … --grpc-address …
// with the deployment's bucket_config.yaml (site values filled in) serves them over gRPC.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { seriesRequest, type Series } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import s3plugin, { createS3Bucket } from '../../plugins/objstore/s3/mod.ts';
import { decodeResult, expected, genSeries, writeRawBlock } from '../store-gateway/fixtures.ts';
import { freePort } from '../store-gateway/helpers.ts';
import { useSwift } from '../harness/swift.ts';
import { testCtx } from './ctx.ts';

const saio = useSwift(test);

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor((Date.now() - 10 * 86400_000) / H2) * H2;
const ext = { cluster: 'test-cluster', monitor: 'prometheus', replica: 'A' };
const series = genSeries(20, T0, T0 + 2 * H2, 30_000);
const root = mkdtempSync(join(tmpdir(), 's3-store-e2e-'));
const repo = new URL('../../', import.meta.url).pathname;
let proc: ChildProcess | undefined;
let client: StoreClient | undefined;
let out = '';

test.after(async () => {
  client?.close();
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

async function waitFor(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await pred()) return;
    } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('thanos store serves blocks from an S3 bucket configured by the deployment bucket_config.yaml', async () => {
  await saio.server.createContainer('bucket-name');
  const writer = await createS3Bucket(testCtx({ net: [saio.server.hostPort] }), s3plugin.parseConfig({
    bucket: 'bucket-name', endpoint: saio.server.s3Endpoint, insecure: true, access_key: saio.server.user, secret_key: saio.server.key,
  }));
  const ids = [
    await writeRawBlock(writer, core, series, T0, T0 + H2, ext),
    await writeRawBlock(writer, core, series, T0 + H2, T0 + 2 * H2, ext),
  ];
  // deployment.md's bucket_config.yaml, with this site's endpoint and keys.
  writeFileSync(join(root, 'bucket_config.yaml'), `type: S3
config:
  bucket: "bucket-name"
  endpoint: '${saio.server.s3Endpoint}'
  access_key: "${saio.server.user}"
  insecure: true   # plain http
  signature_version2: false
  encrypt_sse: false
  secret_key: "${saio.server.key}"
  put_user_metadata: {}
  http_config:
    idle_conn_timeout: 90s
    response_header_timeout: 2m
    insecure_skip_verify: false
  trace:
    enable: false
  part_size: 134217728
`);
  const grpcPort = await freePort();
  const httpPort = await freePort();
  proc = spawn(process.execPath, [join(repo, 'bin/thanos.mjs'), 'store', '--data-dir', './store',
    '--objstore.config-file', 'bucket_config.yaml', '--http-address', `127.0.0.1:${httpPort}`, '--grpc-address', `127.0.0.1:${grpcPort}`],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/-/ready`)).status === 200, 120_000, '/-/ready');
  client = new StoreClient(dialGrpc(`127.0.0.1:${grpcPort}`));
  const info = await client.info();
  assert.is(info.store!.minTime, T0);
  assert.is(info.store!.maxTime, T0 + 2 * H2);
  const ms: Matcher[] = [{ type: '=~', name: 'instance', value: 'i[0-4]' }];
  const res: Series[] = [];
  for await (const r of client.series(seriesRequest({ minTime: T0, maxTime: T0 + 2 * H2 - 1, matchers: ms }), new AbortController().signal)) {
    if (r.type === 'series') res.push(r.series);
    else if (r.type === 'batch') res.push(...r.batch);
  }
  const got = decodeResult(core, res, T0, T0 + 2 * H2 - 1);
  const want = expected(series, ext, ms, T0, T0 + 2 * H2 - 1);
  assert.ok(want.size > 0);
  assert.equal([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, w] of want) assert.equal(got.get(k), w, k);
  const blocks = (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/blocks`)).json()) as { data: { blocks: Array<{ ulid: string }> } };
  assert.equal(blocks.data.blocks.map((b) => b.ulid).sort(), [...ids].sort());
  // The bucket metrics carry the S3 provider's operations.
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assert.match(metrics, /thanos_objstore_bucket_operations_total\{[^}]*operation="get_range"[^}]*\} [1-9]/);
  const code = await new Promise<number | null>((r) => {
    proc!.once('exit', (c) => r(c));
    proc!.kill('SIGTERM');
  });
  assert.is(code, 0, out);
});

test.run();
