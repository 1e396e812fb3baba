// isolation: process for a component's own gRPC services (issue #22): the fixture
// (test/fixtures/host/grpc-store-component, a StoreAPI-like service) runs in its own Deno process;
// the host serves its methods on the component's gRPC address and forwards each call over the
// channel. A grpc-js client (the host's raw client) reads it: unary with metadata, a server stream
// of thousands of frames in order, backpressure (a stalled client holds the plugin's generator
// back), client cancel and deadline reaching the plugin's AbortSignal, status codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planManifest } from '../../host/main.ts';
import { parseManifest } from '../../host/manifest.ts';
import { createLogger } from '../../host/log.ts';
import { runGroup, type RunResult } from '../../host/lifecycle.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { GrpcError, GrpcStatus, type GrpcClientConn } from '../../lib/sdk/mod.ts';
import { freePort } from '../harness/ports.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { seriesRequest } from '../../lib/proto/store.ts';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'isolate-grpc-')));
const lines: string[] = [];
const stop = new AbortController();
let done: Promise<RunResult>;
let client: GrpcClientConn;
let grpcPort = 0;
let storePort = 0;

const enc = new TextEncoder();
const dec = new TextDecoder();
const en = (m: unknown) => enc.encode(JSON.stringify(m));
const de = (b: Uint8Array) => JSON.parse(dec.decode(b)) as Record<string, unknown>;

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${lines.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function statusOf(p: Promise<unknown>): Promise<GrpcError> {
  return p.then(() => assert.unreachable('expected a gRPC error') as never, (e) => {
    assert.instance(e, GrpcError, String(e));
    return e as GrpcError;
  });
}

test.before(async () => {
  grpcPort = await freePort();
  storePort = await freePort();
  const storeUse = './' + path.relative(tmp, path.join(import.meta.dirname, '../fixtures/host/store-api-component/mod.ts'));
  const use = './' + path.relative(tmp, path.join(import.meta.dirname, '../fixtures/host/grpc-store-component/mod.js'));
  const text = `apiVersion: 1\ncomponents:\n  - id: store\n    use: ${use}\n    grpc: 127.0.0.1:${grpcPort}\n    permissions: { net: ["127.0.0.1:${grpcPort}"] }\n  - id: storeapi\n    use: ${storeUse}\n    grpc: 127.0.0.1:${storePort}\n    config: { series: 3000 }\n`;
  const file = path.join(tmp, 'plugins.yaml');
  fs.writeFileSync(file, text);
  const log = createLogger({ level: 'info', write: (l) => void lines.push(l) });
  const units = await planManifest(parseManifest(text, file), log);
  done = runGroup(units, { log, core: async () => createJsCore(), gracePeriodMs: 20_000, handleSignals: false, signal: stop.signal });
  client = dialGrpc(`127.0.0.1:${grpcPort}`);
  let early: RunResult | undefined;
  void done.then((r) => { early = r; });
  await until('the component\'s gRPC server', async () => {
    if (early) throw new Error(`the component stopped before it served: ${lines.join('')}`);
    return client.unary('/thanos.Store/Info', {}, en, de, { timeoutMs: 5000 }).then(() => true, () => false);
  }, 60_000);
});

test('unary Info across the channel, with the caller\'s metadata', async () => {
  const r = await client.unary('/thanos.Store/Info', {}, en, de, { metadata: { 'x-tenant': 'team-a' } });
  assert.equal(r, { storeType: 'fixture', tenant: 'team-a' });
});

test('unary messages larger than a channel frame (10 MiB) cross both ways', async () => {
  const r = await client.unary('/thanos.Store/Info', { echo: 'e'.repeat(10 * 1048576), bigReply: 10 * 1048576 }, en, de);
  assert.is(r.echoed, 10 * 1048576);
  assert.is((r.big as string).length, 10 * 1048576);
});

test('server-streaming Series: 5,000 frames, in order, complete; 3 MiB frames whole', async () => {
  let n = 0;
  for await (const f of client.serverStream('/thanos.Store/Series', { n: 5000, pad: 100 }, en, de)) {
    assert.is(f.i, n);
    assert.is((f.pad as string).length, 100);
    n++;
  }
  assert.is(n, 5000);
  // Messages larger than a channel chunk (1 MiB) arrive whole.
  const big: number[] = [];
  for await (const f of client.serverStream('/thanos.Store/Series', { n: 3, pad: 3 * 1048576 }, en, de)) big.push((f.pad as string).length);
  assert.equal(big, [3 * 1048576, 3 * 1048576, 3 * 1048576]);
});

test('backpressure: a client that stops reading holds the plugin\'s generator back', async () => {
  const total = 200_000;
  const ac = new AbortController();
  const it = client.serverStream('/thanos.Store/Series', { n: total, pad: 1000 }, en, de, { signal: ac.signal })[Symbol.asyncIterator]();
  assert.is((await it.next()).value?.i, 0);
  const produced = async () => (await client.unary('/thanos.Store/Produced', {}, en, de)).produced as number;
  // Wait until the producer stands still (its windows full), then check it stopped far short.
  let last = -1;
  await until('the producer to stop', async () => {
    const p = await produced();
    const still = p === last;
    last = p;
    if (!still) await new Promise((r) => setTimeout(r, 300));
    return still;
  });
  // ~1 KB frames: the channel's window (8 MiB) plus HTTP/2 and socket buffers, not 200 MB.
  assert.ok(last < 40_000, `the plugin produced ${last} of ${total} frames for a client that read one`);
  ac.abort();
  await it.return?.(undefined);
  await until('the plugin to see the cancel', () => lines.some((l) => l.includes('series signal aborted')));
});

test('client cancel mid-stream fires the plugin\'s AbortSignal', async () => {
  const before = lines.filter((l) => l.includes('series signal aborted')).length;
  const ac = new AbortController();
  let got = 0;
  await (async () => {
    for await (const _ of client.serverStream('/thanos.Store/Series', { n: 10_000_000, pad: 10 }, en, de, { signal: ac.signal })) {
      if (++got === 100) ac.abort();
    }
  })().catch(() => {});
  assert.ok(got >= 100);
  await until('the plugin to see the cancel', () => lines.filter((l) => l.includes('series signal aborted')).length > before);
});

test('a deadline reaches the plugin: DeadlineExceeded for the client, the handler\'s signal aborted', async () => {
  const e = await statusOf(client.unary('/thanos.Store/Hang', {}, en, de, { timeoutMs: 500 }));
  assert.is(e.code, GrpcStatus.DeadlineExceeded);
  await until('the plugin to see the deadline', () => lines.some((l) => l.includes('hang aborted')));
});

test('status codes: the handler\'s, a request that does not decode, a stream failing midway', async () => {
  const nf = await statusOf(client.unary('/thanos.Store/Info', { missing: 'x' }, en, de));
  assert.is(nf.code, GrpcStatus.NotFound);
  assert.match(nf.message, /no such store x/);
  const bad = await statusOf(client.unary('/thanos.Store/Info', {}, () => enc.encode('{not json'), de));
  assert.is(bad.code, GrpcStatus.InvalidArgument);
  assert.match(bad.message, /cannot decode request/);
  let n = 0;
  const mid = await statusOf((async () => {
    for await (const _ of client.serverStream('/thanos.Store/Series', { n: 100, failAfter: 10, failCode: GrpcStatus.ResourceExhausted }, en, de)) n++;
  })());
  assert.is(mid.code, GrpcStatus.ResourceExhausted);
  assert.match(mid.message, /failed after 10 frames/);
  assert.is(n, 10, 'the frames before the failure arrived');
  // The component still serves after all of the above.
  assert.is((await client.unary('/thanos.Store/Info', {}, en, de)).storeType, 'fixture');
});

test('ctx.grpcDial in the process: the host dials within the net grant and makes the calls', async () => {
  // The component dials its own gRPC address (granted) through the host.
  const ok = await client.unary('/thanos.Store/Proxy', { target: `127.0.0.1:${grpcPort}`, n: 3000 }, en, de);
  assert.equal(ok, { info: { storeType: 'fixture', tenant: 'via-proxy' }, frames: 3000 });
  // A target outside the grant: the host's check refuses it, naming the plugins.yaml key.
  const denied = await client.unary('/thanos.Store/Proxy', { target: '127.0.0.1:1', n: 1 }, en, de);
  assert.match(String(denied.error), /PermissionDenied/);
  assert.match(String(denied.error), /components\[0\]\.permissions/);
});

test('a real StoreAPI in process mode: the querier\'s store client reads Info and 3,000 series', async () => {
  const store = new StoreClient(dialGrpc(`127.0.0.1:${storePort}`));
  try {
    let info: Awaited<ReturnType<StoreClient['info']>> | undefined;
    await until('the StoreAPI component', async () => { info = await store.info().catch(() => undefined); return info !== undefined; }, 60_000);
    assert.is(info!.componentType, 'store');
    assert.equal(info!.labelSets, [[{ name: 'replica', value: 'iso' }]]);
    const got: string[] = [];
    let samples = 0;
    const req = seriesRequest({ minTime: 0, maxTime: 200_000, matchers: [{ type: '=', name: '__name__', value: 'up' }] });
    for await (const r of store.series(req, new AbortController().signal)) {
      const list = r.type === 'series' ? [r.series] : r.type === 'batch' ? r.batch : [];
      for (const s of list) {
        got.push(s.labels.find((l) => l.name === 'instance')!.value);
        samples += s.chunks.length;
      }
    }
    assert.is(got.length, 3000);
    assert.equal(got, [...got].sort(), 'in label order');
    assert.is(got[0], 'i00000');
    assert.ok(samples >= 3000, 'each series carries its chunk');
    const bad = await statusOf((async () => {
      for await (const _ of store.series(seriesRequest({ minTime: 0, maxTime: 1, matchers: [{ type: '=~', name: 'x', value: '(' }] }), new AbortController().signal)) { /* drain */ }
    })());
    assert.is(bad.code, GrpcStatus.InvalidArgument, bad.message);
  } finally {
    store.close();
  }
});

test.after(async () => {
  client?.close();
  stop.abort();
  if (done) {
    const r = await done;
    assert.is(r.code, 0, lines.join(''));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});
test.run();
