// A handler's abort signal fires when its client cancels the call, not after the call has ended:
// grpc-js reports every call as "cancelled" once its status is sent, and the server used to turn that
// into an abort (a GrpcError with its stack trace, the signal's listeners run) on every finished call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startGrpc, RawGrpcClient } from '../../host/server/grpc.ts';
import type { GrpcServices } from '../../host/index.ts';

const encoder = new TextEncoder();
const enc = (s: string) => encoder.encode(s);
const dec = new TextDecoder();
const signals: AbortSignal[] = [];
let release: () => void = () => {};

const services: GrpcServices = {
  '/t.T/Stream': {
    kind: 'serverStream',
    requestDecode: (b) => dec.decode(b),
    responseEncode: (m) => enc(String(m)),
    async *handler(req, signal) {
      signals.push(signal);
      yield 'a';
      if (req === 'hold') await new Promise<void>((r) => { release = r; signal.addEventListener('abort', () => r(), { once: true }); });
      yield 'b';
    },
  },
  '/t.T/Unary': {
    kind: 'unary',
    requestDecode: (b) => dec.decode(b),
    responseEncode: (m) => enc(String(m)),
    async handler(req, signal) {
      signals.push(signal);
      return `ok ${req}`;
    },
  },
};

const ticks = async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };

test('finished calls leave their signal alone; a client cancel still aborts it', async () => {
  const srv = await startGrpc('127.0.0.1:0', services);
  const c = new RawGrpcClient(`127.0.0.1:${srv.port}`);
  try {
    const got: string[] = [];
    for await (const m of c.serverStream('/t.T/Stream', 'x', enc, (b) => dec.decode(b))) got.push(m);
    assert.equal(got, ['a', 'b']);
    assert.is(await c.unary('/t.T/Unary', 'y', enc, (b) => dec.decode(b)), 'ok y');
    await ticks();
    assert.is(signals.length, 2);
    assert.is(signals[0]!.aborted, false, 'stream call ended normally: signal not aborted');
    assert.is(signals[1]!.aborted, false, 'unary call ended normally: signal not aborted');
    // The client stops after the first message: the server's handler sees the cancel.
    for await (const m of c.serverStream('/t.T/Stream', 'hold', enc, (b) => dec.decode(b))) { assert.is(m, 'a'); break; }
    const deadline = Date.now() + 10_000;
    while (!signals[2]?.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(signals[2]?.aborted, 'a cancelled call aborts its signal');
    release();
  } finally {
    c.close();
    await srv.close(100);
  }
});

test.run();
