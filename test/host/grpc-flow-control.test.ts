// Flow control of server streams (Series) between our gRPC server and client: a server stream may
// run ahead of a client that is busy (decoding what came before) by the client's HTTP/2 window
// (CLIENT_FLOW_CONTROL_WINDOW, not HTTP/2's default 64 KiB) and by the server's byte bound on
// messages not yet written (SERVER_STREAM_UNFLUSHED_BYTES, not grpc-js's 16 messages). Before,
// store and querier worked in turn on a 10k-series instant query. Conditions, not timings: each
// test waits for the server to have produced a number of messages while the client reads none.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_FLOW_CONTROL_WINDOW, dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { SERVER_STREAM_UNFLUSHED_BYTES } from '../../lib/net/stream-pacer.ts';
import type { GrpcServices } from '../../lib/sdk/plugin.ts';

let srv: GrpcListener;
const enc = (b: Uint8Array) => b;
/** Messages the handler of the current call has produced. */
let produced = 0;
const services: GrpcServices = {
  // request: [count / 256, count % 256, KiB per message]
  '/test.Svc/Stream': {
    kind: 'serverStream', requestDecode: enc, responseEncode: enc,
    async *handler(req) {
      const [hi, lo, kib] = req as Uint8Array;
      for (let i = 0; i < hi! * 256 + lo!; i++) {
        produced++;
        yield new Uint8Array(kib! << 10);
      }
    },
  },
  // A handler that never waits: `count` messages of 100 bytes; notes how many it had produced when
  // an immediate queued at its start ran.
  '/test.Svc/Busy': {
    kind: 'serverStream', requestDecode: enc, responseEncode: enc,
    async *handler(req) {
      const [hi, lo] = req as Uint8Array;
      setImmediate(() => (turnAt = produced));
      for (let i = 0; i < hi! * 256 + lo!; i++) {
        produced++;
        yield new Uint8Array(100);
      }
    },
  },
};
let turnAt = -1;

test.before(async () => {
  srv = await startGrpc('127.0.0.1:0', services);
});
test.after(async () => {
  await srv.close(100);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until produced reaches n (true) or stops growing for `quietMs` (false). */
async function producedReaches(n: number, quietMs = 1500): Promise<boolean> {
  let last = -1;
  let since = performance.now();
  while (produced < n) {
    if (produced !== last) {
      last = produced;
      since = performance.now();
    } else if (performance.now() - since > quietMs) return false;
    await sleep(5);
  }
  return true;
}

test('a server stream runs ahead of a client that reads nothing yet, by the client\'s window', async () => {
  produced = 0;
  const c = dialGrpc(`127.0.0.1:${srv.port}`);
  try {
    // 800 messages of 1 KiB: far more than grpc-js's buffers on both sides (16 messages each),
    // the 64 KiB default window and the server's unwritten bytes; less than CLIENT_FLOW_CONTROL_WINDOW.
    const count = 800;
    assert.ok(CLIENT_FLOW_CONTROL_WINDOW >= (count + 100) << 10);
    const it = c.serverStream('/test.Svc/Stream', Uint8Array.of(count >> 8, count & 255, 1), enc, enc)[Symbol.asyncIterator]();
    assert.ok(!(await it.next()).done);
    assert.ok(await producedReaches(count), `the server produced ${produced} of ${count} messages while the client read one`);
    let n = 1;
    while (!(await it.next()).done) n++;
    assert.is(n, count);
  } finally {
    c.close();
  }
});

test('the handler is paused by unwritten bytes, not by a count of messages', async () => {
  produced = 0;
  // The HTTP/2 default window, so that what stays unwritten is the server's.
  const c = dialGrpc(`127.0.0.1:${srv.port}`, { channelOptions: { 'grpc-node.flow_control_window': 65535 } });
  try {
    const count = 400;
    const it = c.serverStream('/test.Svc/Stream', Uint8Array.of(count >> 8, count & 255, 4), enc, enc)[Symbol.asyncIterator]();
    assert.ok(!(await it.next()).done);
    const bound = SERVER_STREAM_UNFLUSHED_BYTES >> 12; // messages of 4 KiB under the bound (128)
    // grpc-js's 16 messages, the window's 16, the client's 16 and its stream's buffer: ~52 before
    assert.ok(await producedReaches(bound), `the server produced ${produced} messages, expected at least ${bound}`);
    await producedReaches(count, 300);
    // ... and bounded: the bound, the 64 KiB window, the client's 16 messages and its stream buffer
    assert.ok(produced < bound + 60, `the server produced ${produced} messages for a client that reads none`);
    let n = 1;
    while (!(await it.next()).done) n++;
    assert.is(n, count);
  } finally {
    c.close();
  }
});

test('a handler that never waits yields the event loop every few messages', async () => {
  produced = 0;
  turnAt = -1;
  const c = dialGrpc(`127.0.0.1:${srv.port}`);
  try {
    let n = 0;
    for await (const _ of c.serverStream('/test.Svc/Busy', Uint8Array.of(4000 >> 8, 4000 & 255), enc, enc)) n++;
    assert.is(n, 4000);
    // 16 messages between turns (100 bytes each: under SERVER_STREAM_UNFLUSHED_BYTES for all 4000)
    assert.ok(turnAt >= 0 && turnAt <= 20, `the event loop turned after ${turnAt} messages`);
  } finally {
    c.close();
  }
});

test.run();
