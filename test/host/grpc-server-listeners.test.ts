// A gRPC server started with a stop signal (every component's is) hands each call a signal that
// fires when the server stops. The call's listener on the server-lifetime signal must go when the
// call ends: before, every call ever served stayed registered there (its AbortController and
// closure kept alive, and each new registration scanned all of them), memory and CPU growing with
// the number of calls served. Unary and server-stream calls, completed, failed and cancelled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEventListeners } from 'node:events';
import { dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import type { GrpcServices } from '../../lib/sdk/plugin.ts';

const stop = new AbortController();
let srv: GrpcListener;
const enc = (b: Uint8Array) => b;
const services: GrpcServices = {
  '/test.Svc/Unary': { kind: 'unary', requestDecode: enc, responseEncode: enc, handler: async (req) => req as Uint8Array },
  '/test.Svc/Fail': { kind: 'unary', requestDecode: enc, responseEncode: enc, handler: async () => { throw new Error('no'); } },
  '/test.Svc/Stream': {
    kind: 'serverStream', requestDecode: enc, responseEncode: enc,
    async *handler(req) { for (let i = 0; i < 3; i++) yield req as Uint8Array; },
  },
  '/test.Svc/Endless': {
    kind: 'serverStream', requestDecode: enc, responseEncode: enc,
    async *handler(req, signal) { while (!signal.aborted) { yield req as Uint8Array; await new Promise((r) => setTimeout(r, 5)); } },
  },
};

test.before(async () => {
  srv = await startGrpc('127.0.0.1:0', services, { signal: stop.signal });
});
test.after(async () => {
  stop.abort();
  await srv.close(100);
});

const listeners = () => getEventListeners(stop.signal, 'abort').length;

test('calls that ended leave no listener on the server stop signal', async () => {
  const before = listeners();
  const c = dialGrpc(`127.0.0.1:${srv.port}`);
  try {
    const req = new Uint8Array([1, 2, 3]);
    for (let i = 0; i < 50; i++) {
      assert.equal(await c.unary('/test.Svc/Unary', req, enc, enc), req);
      await c.unary('/test.Svc/Fail', req, enc, enc).then(() => assert.unreachable('must fail'), () => {});
      let n = 0;
      for await (const _ of c.serverStream('/test.Svc/Stream', req, enc, enc)) n++;
      assert.is(n, 3);
      // The client stops reading an endless stream: the server sees the cancellation.
      for await (const _ of c.serverStream('/test.Svc/Endless', req, enc, enc)) break;
    }
    // Cancellations reach the server asynchronously: wait until their calls have ended.
    const deadline = Date.now() + 10_000;
    while (listeners() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.is(listeners(), before, `${listeners() - before} listeners left by 200 finished calls`);
  } finally {
    c.close();
  }
});

test('a call running when the server stops is aborted', async () => {
  // Kept: the release must not detach a call that is still running from the stop signal.
  const local = new AbortController();
  const s2 = await startGrpc('127.0.0.1:0', services, { signal: local.signal });
  const c = dialGrpc(`127.0.0.1:${s2.port}`);
  try {
    let n = 0;
    const done = (async () => {
      try {
        for await (const _ of c.serverStream('/test.Svc/Endless', new Uint8Array([9]), enc, enc)) if (++n === 2) local.abort();
      } catch { /* the stream ends with an error or cleanly: either way it ended */ }
    })();
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error('the running call did not end when the server stopped')), 10_000))]);
    assert.ok(n >= 2);
  } finally {
    c.close();
    await s2.close(100);
  }
});

test.run();
