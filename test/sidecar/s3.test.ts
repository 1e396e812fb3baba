// The reference deployment's sidecar command on its S3 bucket_config.yaml (site endpoint and keys
// filled in), against a real S3 API (Swift s3api on loopback) and a real Prometheus 2.42:
//   thanos sidecar --tsdb.path <prometheus data> --prometheus.url http://… --objstore.config-file bucket_config.yaml --shipper.upload-compacted
// Every Prometheus block must arrive in the S3 bucket, byte for byte, with meta.json carrying the
// Thanos section; `thanos store` then serves them from that bucket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll } from '../../lib/objstore/bucket.ts';
import { seriesRequest } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { labelsToRecord } from '../../lib/labels/mod.ts';
import s3plugin, { createS3Bucket } from '../../plugins/objstore/s3/mod.ts';
import { useSwift } from '../harness/swift.ts';
import { testCtx } from '../objstore-s3/ctx.ts';
import { EXT, freePort, H, httpReady, MIN, openMetrics, promtoolBlocks, startPrometheus, thanos, waitFor, type Fixture, type Proc, type PromProc } from './harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const saio = useSwift(test);
const dir = mkdtempSync(join(tmpdir(), 'sidecar-s3-'));
const NOW = Math.floor(Date.now() / 1000) * 1000;
const END = Math.floor((NOW - 2 * H) / MIN) * MIN;
const fx: Fixture = { start: END - 5 * H, end: END, stepMs: 15_000, offsetMs: 3217 };
const procs: Proc[] = [];
let prom: PromProc | undefined;

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the deployment sidecar command ships Prometheus blocks to S3; thanos store serves them', async () => {
  writeFileSync(join(dir, 'fx.om'), openMetrics(fx));
  const ids = await promtoolBlocks(join(dir, 'fx.om'), join(dir, 'blocks'));
  prom = await startPrometheus(dir, { ext: EXT, blocksDir: join(dir, 'blocks'), ids });
  await saio.server.createContainer('bucket-name');
  writeFileSync(join(dir, 'bucket_config.yaml'), `type: S3
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
  const http = await freePort();
  const grpc = await freePort();
  const sc = thanos('sidecar', ['sidecar', '--tsdb.path', prom.dataDir, '--prometheus.url', prom.url, '--objstore.config-file', 'bucket_config.yaml',
    '--shipper.upload-compacted', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
  procs.push(sc);
  await waitFor(() => httpReady(http), STARTUP_MS, 'sidecar ready', sc.logs);
  const statePath = join(prom.dataDir, 'thanos.shipper.json');
  await waitFor(async () => JSON.parse(readFileSync(statePath, 'utf8')).uploaded.length === ids.length, 30_000, 'all blocks shipped', sc.logs);

  const bucket = await createS3Bucket(testCtx({ net: [saio.server.hostPort] }), s3plugin.parseConfig({
    bucket: 'bucket-name', endpoint: saio.server.s3Endpoint, insecure: true, access_key: saio.server.user, secret_key: saio.server.key,
  }));
  for (const id of ids) {
    const meta = JSON.parse(new TextDecoder().decode(await readAll(await bucket.get(`${id}/meta.json`))));
    assert.equal(meta.thanos.labels, EXT);
    assert.is(meta.thanos.source, 'sidecar');
    for (const f of meta.thanos.files) {
      if (f.rel_path === 'meta.json') continue;
      const remote = await readAll(await bucket.get(`${id}/${f.rel_path}`));
      assert.ok(Buffer.from(remote).equals(readFileSync(join(prom.dataDir, id, f.rel_path))), `${id}/${f.rel_path} byte for byte`);
    }
  }

  // the store gateway on the same bucket_config.yaml serves what the sidecar shipped
  const shttp = await freePort();
  const sgrpc = await freePort();
  const st = thanos('store', ['store', '--data-dir', join(dir, 'store'), '--objstore.config-file', 'bucket_config.yaml',
    '--http-address', `127.0.0.1:${shttp}`, '--grpc-address', `127.0.0.1:${sgrpc}`], dir);
  procs.push(st);
  await waitFor(() => httpReady(shttp), STARTUP_MS, 'store ready', st.logs);
  const a = new StoreClient(dialGrpc(`127.0.0.1:${grpc}`));
  const b = new StoreClient(dialGrpc(`127.0.0.1:${sgrpc}`));
  try {
    const req = seriesRequest({ minTime: fx.start, maxTime: fx.end, matchers: [{ type: '=', name: '__name__', value: 'sc_temp' }] });
    const take = async (c: StoreClient) => {
      const out: Array<{ labels: Record<string, string>; n: number }> = [];
      for await (const r of c.series(req)) {
        for (const s of r.type === 'series' ? [r.series] : r.type === 'batch' ? r.batch : []) out.push({ labels: labelsToRecord(s.labels), n: s.chunks.length });
      }
      return out;
    };
    const fromSidecar = await take(a);
    const fromStore = await take(b);
    assert.is(fromSidecar.length, 2);
    assert.equal(fromStore.map((s) => s.labels), fromSidecar.map((s) => s.labels));
  } finally {
    a.close();
    b.close();
  }
});

test.run();
