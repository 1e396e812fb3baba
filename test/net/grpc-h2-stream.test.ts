// The lean server-streaming client (lib/net/grpc-h2-stream.ts, used by RawGrpcClient for Series)
// against grpc-js as the oracle: the same calls through RawGrpcClient on the lean path and on the
// grpc-js path (any channel option selects grpc-js) must give the same messages, codes and
// details, against our grpc-js server (startGrpc) and against a raw HTTP/2 server that answers as
// Go's gRPC does (trailers, percent-encoded grpc-message, trailers-only errors) or cuts a stream.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http2 from 'node:http2';
import { once } from 'node:events';
import { dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { GrpcError, GrpcStatus, type GrpcClientConn, type GrpcServices } from '../../host/index.ts';
import { grpcTimeout, statusOfHttp } from '../../lib/net/grpc-h2-stream.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const ident = (b: Uint8Array) => b;
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

let ours: GrpcListener;
let raw: http2.Http2Server;
let rawPort = 0;
const hang = new Set<() => void>();

/** Our server (grpc-js underneath): a method per case; the request's text picks the case's argument. */
const services: GrpcServices = {
  '/t.S/Sizes': {
    kind: 'serverStream', requestDecode: (b) => dec.decode(b), responseEncode: (m) => m as Uint8Array,
    async *handler(req) {
      // zero-length, small, one spanning many HTTP/2 frames, and more than the client's queue
      for (const [i, n] of (req as string).split(',').map(Number).entries()) yield bytes(n, i);
    },
  },
  '/t.S/Fail': {
    kind: 'serverStream', requestDecode: (b) => dec.decode(b), responseEncode: (m) => m as Uint8Array,
    async *handler(req) {
      const [before, code] = (req as string).split(',').map(Number);
      for (let i = 0; i < before!; i++) {
        yield bytes(10, i);
        await new Promise((r) => setTimeout(r, 20)); // each message taken before the error comes
      }
      throw new GrpcError(code!, 'limit 100% reached: ü / %2F "quoted"');
    },
  },
  '/t.S/Echo': {
    kind: 'serverStream', requestDecode: (b) => dec.decode(b), responseEncode: (m) => enc.encode(JSON.stringify(m)),
    async *handler(req, _signal, md) {
      yield { req, tenant: md['thanos-tenant'] ?? null, timeout: md['grpc-timeout'] === undefined ? 'none' : 'set' };
    },
  },
  '/t.S/Hang': {
    kind: 'serverStream', requestDecode: (b) => b, responseEncode: (m) => m as Uint8Array,
    async *handler(_req, signal) {
      yield bytes(3, 1);
      await new Promise<void>((r) => { hang.add(r); signal.addEventListener('abort', () => r(), { once: true }); });
    },
  },
};

/** A raw HTTP/2 server: Go-style answers and broken streams, by path. */
function rawHandler(st: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const frame = (b: Uint8Array) => { const f = Buffer.alloc(5 + b.length); f.writeUInt32BE(b.length, 1); f.set(b, 5); return f; };
  const p = headers[':path'];
  st.on('error', () => {});
  st.resume();
  if (p === '/go/Err') {
    // Go: messages, then the status in trailers, grpc-message percent-encoded
    st.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    st.on('wantTrailers', () => st.sendTrailers({ 'grpc-status': '8', 'grpc-message': 'exceeded the limit: 100%25 %C3%BC' }));
    st.write(frame(bytes(7, 1)));
    setTimeout(() => st.end(frame(bytes(9, 2))), 20);
  } else if (p === '/go/IllegalMessage') {
    st.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13', 'grpc-message': 'bad ü' }, { endStream: true });
  } else if (p === '/go/Echo') {
    st.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    st.on('wantTrailers', () => st.sendTrailers({ 'grpc-status': '0' }));
    const h = { timeout: headers['grpc-timeout'] ?? 'none', tenant: headers['thanos-tenant'] ?? null, te: headers.te, ct: headers['content-type'], method: headers[':method'] };
    st.end(frame(enc.encode(JSON.stringify(h))));
  } else if (p === '/go/TrailersOnly') {
    st.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no%20such%20thing' }, { endStream: true });
  } else if (p === '/go/Http503') {
    st.respond({ ':status': 503, 'content-type': 'text/plain' });
    st.end('overloaded');
  } else if (p === '/go/NoStatus') {
    st.respond({ ':status': 200, 'content-type': 'application/grpc' });
    st.end(frame(bytes(4, 3)));
  } else if (p === '/go/CutMidMessage') {
    // half a message, then the connection goes away
    st.respond({ ':status': 200, 'content-type': 'application/grpc' });
    st.write(frame(bytes(4, 4)));
    const f = frame(bytes(1000, 5));
    st.write(f.subarray(0, 300), () => setTimeout(() => st.session?.destroy(), 30));
  } else if (p === '/go/Reset') {
    st.respond({ ':status': 200, 'content-type': 'application/grpc' });
    st.write(frame(bytes(4, 6)), () => setTimeout(() => st.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM), 30));
  } else {
    st.respond({ ':status': 404 });
    st.end();
  }
}

test.before(async () => {
  ours = await startGrpc('127.0.0.1:0', services);
  raw = http2.createServer();
  raw.on('stream', rawHandler);
  raw.listen(0, '127.0.0.1');
  await once(raw, 'listening');
  rawPort = (raw.address() as { port: number }).port;
});
test.after(async () => {
  for (const r of hang) r();
  await ours.close(100);
  raw.close();
});

/** A lean connection and a grpc-js one (a channel option keeps RawGrpcClient on grpc-js). */
function pair(target: string): [GrpcClientConn, GrpcClientConn] {
  return [dialGrpc(target), dialGrpc(target, { channelOptions: { 'grpc.max_receive_message_length': -1 } })];
}

interface Outcome { messages: string[]; code: number; details: string }

async function run(c: GrpcClientConn, path: string, req: string, o: Parameters<GrpcClientConn['serverStream']>[4] = {}, stopAfter = Infinity): Promise<Outcome> {
  const messages: string[] = [];
  try {
    for await (const m of c.serverStream(path, req, (s: string) => enc.encode(s), (b) => Buffer.from(b).toString('hex'), o)) {
      messages.push(m);
      if (messages.length >= stopAfter) break;
    }
    return { messages, code: GrpcStatus.OK, details: '' };
  } catch (e) {
    assert.instance(e, GrpcError, String(e));
    return { messages, code: (e as GrpcError).code, details: (e as GrpcError).message };
  }
}

async function both(target: string, path: string, req: string, o: Parameters<GrpcClientConn['serverStream']>[4] = {}): Promise<[Outcome, Outcome]> {
  const [lean, gjs] = pair(target);
  try {
    return [await run(lean, path, req, o), await run(gjs, path, req, o)];
  } finally {
    lean.close();
    gjs.close();
  }
}

test('messages of every size arrive as grpc-js delivers them', async () => {
  const sizes = [0, 1, 5, 100, 16_379, 16_384, 70_000, 2_500_000, 3, ...Array.from({ length: 100 }, (_, i) => i * 37)].join(',');
  const [lean, gjs] = await both(`127.0.0.1:${ours.port}`, '/t.S/Sizes', sizes);
  assert.is(lean.code, GrpcStatus.OK);
  assert.is(lean.messages.length, 109);
  assert.equal(lean, gjs);
});

test('an error after messages: every message, then the same code and details', async () => {
  for (const code of [GrpcStatus.ResourceExhausted, GrpcStatus.Internal, GrpcStatus.Unknown]) {
    const [lean, gjs] = await both(`127.0.0.1:${ours.port}`, '/t.S/Fail', `2,${code}`);
    assert.is(lean.code, code);
    assert.is(lean.details, 'limit 100% reached: ü / %2F "quoted"');
    assert.is(lean.messages.length, 2);
    assert.equal(lean, gjs);
  }
  // trailers-only (no message before the error)
  const [lean, gjs] = await both(`127.0.0.1:${ours.port}`, '/t.S/Fail', `0,${GrpcStatus.InvalidArgument}`);
  assert.equal(lean, gjs);
  assert.is(lean.code, GrpcStatus.InvalidArgument);
});

test('metadata and a deadline reach the server', async () => {
  const [lean, gjs] = await both(`127.0.0.1:${ours.port}`, '/t.S/Echo', 'hi', { metadata: { 'THANOS-TENANT': 'team-a' } });
  assert.equal(lean, gjs);
  assert.equal(JSON.parse(Buffer.from(lean.messages[0]!, 'hex').toString()), { req: 'hi', tenant: 'team-a', timeout: 'none' });
  // the headers as sent (grpc-timeout in ms, rounded up, as grpc-js)
  const [l2, g2] = await both(`127.0.0.1:${rawPort}`, '/go/Echo', 'x', { metadata: { 'THANOS-TENANT': 'team-b' }, timeoutMs: 60_000 });
  const hl = JSON.parse(Buffer.from(l2.messages[0]!, 'hex').toString());
  const hg = JSON.parse(Buffer.from(g2.messages[0]!, 'hex').toString());
  assert.match(hl.timeout, /^(59\d\d\d|60000)m$/);
  assert.match(hg.timeout, /^(59\d\d\d|60000)m$/);
  assert.equal({ ...hl, timeout: 0 }, { ...hg, timeout: 0 });
  assert.equal({ ...hl, timeout: 0 }, { timeout: 0, tenant: 'team-b', te: 'trailers', ct: 'application/grpc', method: 'POST' });
});

test('unknown method, deadline, abort and an early stop end as with grpc-js', async () => {
  const t = `127.0.0.1:${ours.port}`;
  let [lean, gjs] = await both(t, '/t.S/Nope', '');
  assert.equal([lean.code, lean.messages], [gjs.code, gjs.messages]);
  assert.is(lean.code, GrpcStatus.Unimplemented);
  [lean, gjs] = await both(t, '/t.S/Hang', '', { timeoutMs: 150 });
  assert.equal([lean.code, lean.messages], [gjs.code, gjs.messages]);
  assert.is(lean.code, GrpcStatus.DeadlineExceeded);
  for (const c of pair(t)) {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await run(c, '/t.S/Hang', '', { signal: ac.signal });
    c.close();
    assert.equal([r.code, r.messages.length], [GrpcStatus.Cancelled, 1]);
  }
  // the consumer stops after the first message: the server's handler sees the cancel
  for (const c of pair(t)) {
    const before = hang.size;
    const r = await run(c, '/t.S/Hang', '', {}, 1);
    assert.equal([r.code, r.messages.length], [GrpcStatus.OK, 1]);
    c.close();
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(hang.size > before);
  }
});

test('Go-style answers and broken streams: the same messages and codes as grpc-js', async () => {
  const t = `127.0.0.1:${rawPort}`;
  for (const p of ['/go/Err', '/go/TrailersOnly', '/go/Http503', '/go/NoStatus', '/go/Reset']) {
    const [lean, gjs] = await both(t, p, 'x');
    assert.equal(lean, gjs, p);
  }
  const [lean] = await both(t, '/go/Err', 'x');
  assert.equal([lean.code, lean.details, lean.messages.length], [GrpcStatus.ResourceExhausted, 'exceeded the limit: 100% ü', 2]);
  // a grpc-message that is not printable ASCII is not legal metadata: dropped, as grpc-js does
  const [il, ig] = await both(t, '/go/IllegalMessage', 'x');
  assert.equal(il, ig);
  assert.equal([il.code, il.details], [GrpcStatus.Internal, '13 INTERNAL: ']);
  // a connection cut inside a message: the message before it, then Unavailable, on both
  const [cl, cg] = await both(t, '/go/CutMidMessage', 'x');
  assert.equal([cl.code, cl.messages], [cg.code, cg.messages]);
  assert.is(cl.code, GrpcStatus.Unavailable);
  assert.is(cl.messages.length, 1);
});

test('no server: Unavailable on both', async () => {
  const s = http2.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  const [lean, gjs] = await both(`127.0.0.1:${port}`, '/t.S/Sizes', '1');
  assert.equal([lean.code, gjs.code], [GrpcStatus.Unavailable, GrpcStatus.Unavailable]);
  assert.match(lean.details, /ECONNREFUSED/);
});

test('a connection is re-dialled after the server restarts', async () => {
  const srv = await startGrpc('127.0.0.1:0', services);
  const port = srv.port;
  const [lean] = pair(`127.0.0.1:${port}`);
  try {
    assert.is((await run(lean, '/t.S/Sizes', '1')).code, GrpcStatus.OK);
    await srv.close(0);
    assert.is((await run(lean, '/t.S/Sizes', '1')).code, GrpcStatus.Unavailable);
    const again = await startGrpc(`127.0.0.1:${port}`, services);
    try {
      assert.equal(await run(lean, '/t.S/Sizes', '2'), { messages: [Buffer.from(bytes(2, 0)).toString('hex')], code: GrpcStatus.OK, details: '' });
    } finally {
      await again.close(0);
    }
  } finally {
    lean.close();
  }
});

test('grpc-timeout and HTTP status mapping as grpc-js', () => {
  assert.is(grpcTimeout(1500), '1500m');
  assert.is(grpcTimeout(99_999_999), '99999999m');
  assert.is(grpcTimeout(100_000_000), '100000S');
  assert.is(grpcTimeout(-5), '0m');
  assert.equal([400, 401, 403, 404, 429, 502, 503, 504, 500].map((c) => statusOfHttp(c).code),
    [GrpcStatus.Internal, GrpcStatus.Unauthenticated, GrpcStatus.PermissionDenied, GrpcStatus.Unimplemented, GrpcStatus.Unavailable, GrpcStatus.Unavailable, GrpcStatus.Unavailable, GrpcStatus.Unavailable, GrpcStatus.Unknown]);
});

test.run();
