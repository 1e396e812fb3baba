// The repository's plugins.yaml (the README's `npx thanos run -c plugins.yaml`): it parses, its
// built-in plugins load by name, and the stack starts and stops cleanly (on free ports, in a temp
// dir). A built-in that does not exist yet must fail clearly instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseManifest, startOrder } from '../../host/manifest.ts';
import { planManifest } from '../../host/main.ts';
import { createLogger } from '../../host/log.ts';
import { sendRemoteWrite } from '../../lib/remote/write.ts';
import { freePort } from '../harness/ports.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const text = fs.readFileSync(path.join(repo, 'plugins.yaml'), 'utf8');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-'));

test('plugins.yaml parses: filesystem bucket; store and receive before query; compact; scrape after receive', () => {
  const m = parseManifest(text, path.join(repo, 'plugins.yaml'));
  assert.equal(m.objstore.map((o) => [o.id, o.use]), [['primary', 'filesystem']]);
  const order = startOrder(m.components).map((c) => c.id);
  assert.equal([...order].sort(), ['compact', 'query', 'receive', 'scrape', 'store']);
  assert.ok(order.indexOf('query') > order.indexOf('store') && order.indexOf('query') > order.indexOf('receive'), order.join(','));
  assert.ok(order.indexOf('scrape') > order.indexOf('receive'), order.join(','));
  const store = m.components.find((c) => c.id === 'store')!;
  const receive = m.components.find((c) => c.id === 'receive')!;
  const query = m.components.find((c) => c.id === 'query')!;
  assert.is(store.objstore, 'primary');
  assert.is(receive.objstore, 'primary');
  assert.equal([store.grpc, store.http, query.http], ['127.0.0.1:10901', '127.0.0.1:10902', '127.0.0.1:10904']);
  assert.equal((query.config as { endpoints: string[] }).endpoints, [store.grpc, receive.grpc]);
});

test('plugins.yaml: built-in plugins load by name', async () => {
  const m = parseManifest(text, path.join(tmp, 'plugins.yaml'));
  const units = await planManifest(m, createLogger({ level: 'error' }));
  assert.equal(units.map((u) => u.plugin.manifest.id).sort(), ['component:compact', 'component:query', 'component:receive', 'component:scrape', 'component:store']);
  const store = units.find((u) => u.id === 'store')!;
  assert.is(store.objstore?.id, 'primary');
  assert.is(store.dataDir, path.join(tmp, 'data/store'));
});

test('npx thanos run -c plugins.yaml: the stack becomes ready and stops on SIGTERM', async () => {
  const ports = new Map<string, number>();
  for (const [, p] of text.matchAll(/127\.0\.0\.1:(\d{4,5})/g)) if (!ports.has(p!)) ports.set(p!, await freePort());
  const local = text
    .replace(/127\.0\.0\.1:(\d{4,5})/g, (_, p: string) => `127.0.0.1:${ports.get(p)}`)
    // The UI asset grants are relative to the repository; this copy of the manifest lives elsewhere.
    .replace(/\.\/(plugins|node_modules)\//g, (_, d: string) => `${repo}/${d}/`);
  const file = path.join(tmp, 'plugins.yaml');
  fs.writeFileSync(file, local);
  const child = spawn(process.execPath, [path.join(repo, 'bin/thanos.mjs'), 'run', '-c', file], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  try {
    const ready = async (port: number) => {
      for (let i = 0; i < 400; i++) {
        if (child.exitCode !== null) return false;
        try {
          const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
          await r.text();
          if (r.status === 200) return true;
        } catch { /* starting */ }
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    assert.ok(await ready(ports.get('10902')!), `store ready:\n${out}`);
    assert.ok(await ready(ports.get('10909')!), `receive ready:\n${out}`);
    assert.ok(await ready(ports.get('10912')!), `compact ready:\n${out}`);
    assert.ok(await ready(ports.get('10904')!), `query ready:\n${out}`);
    assert.ok(fs.existsSync(path.join(tmp, 'data/bucket')), 'the bucket directory is relative to the manifest');
    // The UI works under the manifest's grants (its assets are read through ctx.fs).
    const q = `http://127.0.0.1:${ports.get('10904')}`;
    assert.is((await fetch(`${q}/graph`)).status, 200, `GET /graph:\n${out}`);
    const js = await fetch(`${q}/static/uPlot.iife.min.js`);
    assert.is(js.status, 200, `uPlot asset:\n${out}`);
    await js.text();
    // Remote write into the receiver, read back through the querier (the all-in-one path).
    const now = Date.now();
    await sendRemoteWrite(fetch, `http://127.0.0.1:${ports.get('19291')}/api/v1/receive`, {
      timeseries: [{ labels: [{ name: '__name__', value: 'stack_probe' }, { name: 'job', value: 'readme' }], samples: [{ value: 42, timestamp: now - 1000 }] }],
    });
    let result: unknown[] = [];
    for (let i = 0; i < 100 && result.length === 0; i++) {
      const r = await (await fetch(`${q}/api/v1/query?query=stack_probe&time=${now / 1000}`)).json() as { data: { result: unknown[] } };
      result = r.data.result;
      if (result.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(result, [{ metric: { __name__: 'stack_probe', job: 'readme', receive_replica: '0', tenant_id: 'default-tenant' }, value: [now / 1000, '42'] }], out);
    const m = await (await fetch(`http://127.0.0.1:${ports.get('10902')}/metrics`)).text();
    assert.match(m, /^thanos_objstore_bucket_operations_total\{bucket="primary",operation="iter"\} [1-9]/m, 'the store used the bucket');
    child.kill('SIGTERM');
    assert.is(await exit, 0, out);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('thanos store with --objstore.config-file (the deployment spelling) serves Info over gRPC', async () => {
  const bucketDir = path.join(tmp, 'cli-bucket');
  fs.writeFileSync(path.join(tmp, 'bucket_config.yaml'), `type: filesystem\nconfig:\n  directory: ${bucketDir}\nprefix: ""\n`);
  const [hp, gp] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [path.join(repo, 'bin/thanos.mjs'), 'store', '--data-dir', path.join(tmp, 'cli-store'),
    '--objstore.config-file', 'bucket_config.yaml', '--http-address', `127.0.0.1:${hp}`, '--grpc-address', `127.0.0.1:${gp}`,
    '--http-grace-period=5s', '--grpc-grace-period=5s'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  try {
    let ok = false;
    for (let i = 0; i < 400 && !ok && child.exitCode === null; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${hp}/-/ready`);
        await r.text();
        ok = r.status === 200;
      } catch { /* starting */ }
      if (!ok) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ok, `thanos store ready:\n${out}`);
    const { RawGrpcClient } = await import('../../host/server/grpc.ts');
    const { INFO_METHOD, encodeInfoRequest, decodeInfoResponse } = await import('../../lib/proto/info.ts');
    const c = new RawGrpcClient(`127.0.0.1:${gp}`);
    try {
      const info = await c.unary(INFO_METHOD, {}, encodeInfoRequest, decodeInfoResponse, { timeoutMs: 5000 });
      assert.is(info.componentType, 'store');
      assert.ok(info.store, 'a store advertises StoreInfo');
    } finally {
      c.close();
    }
    assert.ok(fs.existsSync(bucketDir), 'the FILESYSTEM bucket from the objstore YAML was used');
    child.kill('SIGTERM');
    assert.is(await exit, 0, out);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
