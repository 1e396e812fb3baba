// Real HTTP and gRPC on loopback: /-/healthy, /-/ready (only after setReady), /metrics, the
// component's fetch, the Info API, GrpcError status mapping, streaming, and client cancel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runGroup, type UnitSpec } from '../../host/lifecycle.ts';
import { Permissions } from '../../host/permissions.ts';
import { createLogger } from '../../host/log.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { RawGrpcClient } from '../../host/server/grpc.ts';
import { GrpcError, GrpcStatus, definePlugin, type ComponentPlugin } from '../../host/index.ts';
import { INFO_METHOD, decodeInfoResponse, encodeInfoRequest } from '../../lib/proto/info.ts';
import sleepy from '../fixtures/host/sleepy/mod.ts';
import { freePort } from '../harness/ports.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const str = { enc: (s: string) => enc.encode(s), dec: (b: Uint8Array) => dec.decode(b) };

async function start(plugin: ComponentPlugin, config: unknown) {
  const [hp, gp] = [await freePort(), await freePort()];
  const stop = new AbortController();
  const lines: string[] = [];
  const unit: UnitSpec = {
    id: 'sleepy', key: 'components[0]', plugin, config,
    permissions: Permissions.all(plugin.manifest.id, plugin.manifest.permissions),
    http: `127.0.0.1:${hp}`, grpc: `127.0.0.1:${gp}`,
  };
  const done = runGroup([unit], {
    log: createLogger({ level: 'debug', write: (l) => void lines.push(l) }),
    core: async () => createJsCore(), gracePeriodMs: 5000, handleSignals: false, signal: stop.signal,
  });
  const base = `http://127.0.0.1:${hp}`;
  for (let i = 0; i < 100; i++) {
    try { await fetch(`${base}/-/healthy`); break; } catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  return { base, grpc: `127.0.0.1:${gp}`, stop: () => { stop.abort(); return done; }, lines };
}

test('HTTP: /-/healthy at once, /-/ready only after setReady(true), /metrics, component routes', async () => {
  // Ready 5 s after start: the two probes before it come well within that on a loaded machine (at
  // 400 ms, load ~40 once made the first /-/ready come after the component was ready).
  const s = await start(sleepy, { readyAfterMs: 5000 });
  try {
    const h = await fetch(`${s.base}/-/healthy`);
    assert.is(h.status, 200);
    assert.is(await h.text(), 'OK');
    const r1 = await fetch(`${s.base}/-/ready`);
    assert.is(r1.status, 503, 'not ready before the component says so');
    await r1.text();
    let ready = 0;
    for (let i = 0; i < 600 && ready !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await fetch(`${s.base}/-/ready`);
      ready = r.status;
      await r.text();
    }
    assert.is(ready, 200);
    const hello = await fetch(`${s.base}/hello`);
    assert.is(await hello.text(), 'hello reloads=0');
    const m = await fetch(`${s.base}/metrics`);
    assert.is(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await m.text();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds', 'nodejs_heap_size_used_bytes']) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)\\n${name} [0-9.e+]+$`, 'm'), name);
    }
    // As Thanos: probes and /metrics are served without the HTTP instrumentation (only named handlers are counted).
    assert.not.match(text, /^http_requests_total\{[^}]*handler="\/-\/ready"/m);
    assert.match(text, /^# TYPE sleepy_hello_requests_total counter\nsleepy_hello_requests_total\{code="200"\} 1$/m, 'metrics registered by the plugin through ctx.metrics');
    const start = Number(/^process_start_time_seconds (\S+)$/m.exec(text)![1]);
    assert.ok(Math.abs(start - (Date.now() / 1000 - process.uptime())) < 5, 'start time is plausible');
  } finally {
    assert.is((await s.stop()).code, 0);
  }
  assert.ok(s.lines.some((l) => /level=info component=sleepy msg="changing probe status to ready"/.test(l)), s.lines.join(''));
});

test('gRPC: Info over a real connection, built from component.info()', async () => {
  const s = await start(sleepy, {});
  const c = new RawGrpcClient(s.grpc);
  try {
    const info = await c.unary(INFO_METHOD, {}, encodeInfoRequest, decodeInfoResponse, { timeoutMs: 5000 });
    assert.is(info.componentType, 'store');
    assert.equal(info.labelSets, [[{ name: 'fixture', value: 'sleepy' }]]);
    assert.is(info.store?.minTime, 1000);
    assert.is(info.store?.maxTime, 2000);
    assert.is(info.store?.supportsSharding, true);
    assert.is(info.rules, undefined);
  } finally {
    c.close();
    await s.stop();
  }
});

test('gRPC: unary with metadata, GrpcError -> status, streaming, status after items, cancel', async () => {
  const s = await start(sleepy, {});
  const c = new RawGrpcClient(s.grpc);
  try {
    assert.is(await c.unary('/test.Echo/Echo', 'hi', str.enc, str.dec, { metadata: { 'x-tenant': 't1' } }), 'echo:hi:t1');
    await c.unary('/test.Echo/Fail', 'x', str.enc, str.dec).then(() => assert.unreachable(), (err) => {
      assert.instance(err, GrpcError);
      assert.is(err.code, GrpcStatus.InvalidArgument);
      assert.is(err.message, 'bad request from fixture');
    });
    await c.unary('/test.Echo/Nope', 'x', str.enc, str.dec).then(() => assert.unreachable(), (err) => assert.is(err.code, GrpcStatus.Unimplemented));
    const got: string[] = [];
    for await (const m of c.serverStream('/test.Echo/Count', '5', str.enc, str.dec)) got.push(m);
    assert.equal(got, ['0', '1', '2', '3', '4']);
    const part: string[] = [];
    try {
      for await (const m of c.serverStream('/test.Echo/Count', '3', str.enc, str.dec)) part.push(m);
      assert.unreachable();
    } catch (err) {
      assert.equal(part, ['0', '1', '2'], 'items before the error arrive');
      assert.is((err as GrpcError).code, GrpcStatus.ResourceExhausted);
    }
    // cancel a long stream after a few messages
    const ac = new AbortController();
    let n = 0;
    try {
      for await (const _ of c.serverStream('/test.Echo/Count', '100000000', str.enc, str.dec, { signal: ac.signal })) {
        if (++n === 10) ac.abort();
      }
    } catch (err) {
      assert.is((err as GrpcError).code, GrpcStatus.Cancelled);
    }
    assert.ok(n >= 10 && n < 100000, `stopped after cancel (${n})`);
    assert.is(await c.unary('/test.Echo/Echo', 'still-alive', str.enc, str.dec), 'echo:still-alive:');
  } finally {
    c.close();
    await s.stop();
  }
});

test('gRPC: a handler sees the client cancel as an aborted signal', async () => {
  let aborted!: () => void;
  const sawAbort = new Promise<void>((r) => (aborted = r));
  let called!: () => void;
  const handlerCalled = new Promise<void>((r) => (called = r));
  const plugin = definePlugin({
    manifest: { id: 'component:hang', apiVersion: 1, permissions: {} },
    parseConfig: () => ({}),
    setup: async () => ({
      info: () => ({ componentType: 'query' }),
      grpc: {
        '/test.Hang/Hang': {
          kind: 'unary', requestDecode: () => null, responseEncode: () => new Uint8Array(),
          handler: (_r, signal) => new Promise((_, reject) => {
            signal.addEventListener('abort', () => { aborted(); reject(new Error('aborted')); });
            called();
          }),
        },
      },
      run: (signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r())),
    }),
  }) as ComponentPlugin;
  const s = await start(plugin, {});
  const c = new RawGrpcClient(s.grpc);
  try {
    const ac = new AbortController();
    const p = c.unary('/test.Hang/Hang', null, () => new Uint8Array(), () => null, { signal: ac.signal });
    // cancelled once the handler runs (a fixed 100 ms could come before the call reached it)
    void handlerCalled.then(() => ac.abort());
    await p.then(() => assert.unreachable(), (err) => assert.is(err.code, GrpcStatus.Cancelled));
    await Promise.race([sawAbort, new Promise((_, rej) => setTimeout(() => rej(new Error('handler never saw the cancel')), 30_000))]);
  } finally {
    c.close();
    await s.stop();
  }
});

test('HTTP is up during a slow setup: healthy 200, ready 503, routes 503; then the component serves', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = definePlugin({
    manifest: { id: 'component:slow', apiVersion: 1, permissions: {} },
    parseConfig: () => ({}),
    setup: async (ctx) => {
      await gate;
      return {
        info: () => ({ componentType: 'query' }),
        fetch: () => new Response('up'),
        run: async (signal) => { ctx.setReady(true); await new Promise<void>((r) => signal.addEventListener('abort', () => r())); },
      };
    },
  }) as ComponentPlugin;
  const s = await start(slow, {});
  try {
    const h = await fetch(`${s.base}/-/healthy`);
    assert.is(h.status, 200);
    await h.text();
    const r = await fetch(`${s.base}/-/ready`);
    assert.is(r.status, 503);
    await r.text();
    const x = await fetch(`${s.base}/x`);
    assert.is(x.status, 503);
    assert.is(await x.text(), 'starting up');
    release();
    let body = '';
    for (let i = 0; i < 100 && body !== 'up'; i++) {
      await new Promise((res) => setTimeout(res, 20));
      body = await (await fetch(`${s.base}/x`)).text();
    }
    assert.is(body, 'up');
  } finally {
    release();
    await s.stop();
  }
});

test.run();
