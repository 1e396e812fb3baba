// The isolated plugin channel (host/isolate/wire.ts) between two peers in one process: calls and
// errors keep their classes, bodies and listings stream, and a reader that stops holds the sender
// back (credits) instead of the whole body piling up in memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { channelReader, encodeFrame, gatherSmall, HEADER_FIXED, PIECE, Peer, VIEW_AT_LEAST, WINDOW_BYTES, type Handler, type Header } from '../../lib/isolate/wire.ts';
import { ConfigError, PermissionDenied } from '../../host/index.ts';
import { ObjectNotFoundError, isObjectNotFound, readAll } from '../../lib/objstore/bucket.ts';

/** Two peers wired back to back; frames are delivered in random slices to exercise reassembly. */
function pair(handler: Handler): { client: Peer; server: Peer } {
  let client!: Peer;
  let server!: Peer;
  let seed = 7;
  const slices = (f: Uint8Array, to: () => Peer) => {
    for (let off = 0; off < f.length;) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = 1 + (seed % 4096);
      const part = f.slice(off, off + n);
      off += n;
      setImmediate(() => to().feed(part));
    }
  };
  client = new Peer(undefined, (pieces) => { for (const f of pieces) slices(f, () => server); });
  server = new Peer(undefined, (pieces) => { for (const f of pieces) slices(f, () => client); }, handler);
  return { client, server };
}

test('calls, inline bodies and errors that keep their class', async () => {
  const { client } = pair(async (m, a, inc) => {
    if (m === 'echo') return { value: a };
    if (m === 'bytes') return { bin: inc.bin!.map((x) => x + 1) };
    if (m === 'denied') throw new PermissionDenied('objstore:x', 'fs.readFile', '/etc/passwd', 'objstore[0].permissions.read');
    if (m === 'config') throw new ConfigError('config.bucket', 'must be set');
    if (m === 'missing') throw Object.assign(new Error('w'), { __serialized: { name: 'Error', message: 'object not found: a/b', nf: 'a/b' } });
    throw new Error(`boom ${m}`);
  });
  assert.equal((await client.call('echo', [1, 'two', { three: [3] }])).value, [1, 'two', { three: [3] }]);
  assert.equal([...(await client.call('bytes', [], { bin: new Uint8Array([1, 2, 3]) })).bin!], [2, 3, 4]);
  const err = await client.call('denied', []).catch((e) => e);
  assert.instance(err, PermissionDenied);
  assert.is(err.message, 'permission denied: plugin objstore:x called fs.readFile(/etc/passwd); grant it with objstore[0].permissions.read in plugins.yaml');
  assert.is(err.manifestKey, 'objstore[0].permissions.read');
  const ce = await client.call('config', []).catch((e) => e);
  assert.instance(ce, ConfigError);
  assert.is(ce.key, 'config.bucket');
  assert.is(ce.message, 'config.bucket: must be set');
  const nf = await client.call('missing', []).catch((e) => e);
  assert.instance(nf, ObjectNotFoundError);
  assert.ok(isObjectNotFound(nf));
  assert.is((await client.call('other', []).catch((e) => e)).message, 'boom other');
});

test('streams both ways: a 5 MiB body, an upload stream, a listing', async () => {
  const big = new Uint8Array(5 * 1048576 + 3).map((_, i) => (i * 7) & 0xff);
  const { client } = pair(async (m, _a, inc) => {
    if (m === 'get') return { bytes: new Blob([big]).stream() };
    if (m === 'upload') return { value: (await readAll(inc.stream as ReadableStream<Uint8Array>)).length };
    if (m === 'list') return { items: (async function* () { for (let i = 0; i < 1500; i++) yield `obj/${i}`; })() };
    throw new Error(m);
  });
  const got = await readAll((await client.call('get', [])).stream as ReadableStream<Uint8Array>);
  assert.is(got.length, big.length);
  assert.ok(got.every((x, i) => x === big[i]));
  assert.is((await client.call('upload', [], { bytes: new Blob([big]).stream() })).value, big.length);
  const names: unknown[] = [];
  for await (const n of (await client.call('list', [])).stream as ReadableStream<string>) names.push(n);
  assert.is(names.length, 1500);
  assert.is(names[1499], 'obj/1499');
});

test('backpressure: a reader that stops after one chunk holds the sender to the window', async () => {
  let pulled = 0;
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) { pulled++; c.enqueue(new Uint8Array(64 * 1024)); },
    cancel() { cancelled = true; },
  }, { highWaterMark: 0 });
  const { client } = pair(async () => ({ bytes: endless }));
  const s = (await client.call('get', [])).stream as ReadableStream<Uint8Array>;
  const reader = s.getReader();
  await reader.read();
  // Give the sender every chance to run ahead.
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  // At most the window's bytes, plus the chunk read ahead and the one waiting for credit.
  const bound = WINDOW_BYTES / (64 * 1024) + 2;
  assert.ok(pulled <= bound, `the source was read ${pulled} times (bound ${bound}: window ${WINDOW_BYTES} B)`);
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.ok(pulled <= bound, `and stays there (${pulled})`);
  const before = pulled;
  // Credit comes back once a quarter of the window has been read.
  let taken = 0;
  while (taken < WINDOW_BYTES / 4 + 64 * 1024) taken += (await reader.read()).value!.length;
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.ok(pulled > before && pulled <= before + taken / (64 * 1024) + 2, `reading on resumes it (${before} -> ${pulled})`);
  await reader.cancel();
  for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setImmediate(r));
  assert.ok(cancelled, 'cancel reaches the source');
});

test('a large body crosses in pieces of at most PIECE, handed to the reader as views of the input (no copy)', async () => {
  const body = new Uint8Array(3 * PIECE + 12345).map((_, i) => (i * 13) & 0xff);
  // server -> client bytes are collected and fed in two owned inputs; client -> server directly.
  const toClient: Uint8Array[] = [];
  let server!: Peer;
  const client = new Peer(undefined, (pieces) => { for (const p of pieces) setImmediate(() => server.feed(p.slice())); });
  server = new Peer(undefined, (pieces) => { for (const p of pieces) toClient.push(p.slice()); }, async () => ({ bytes: new Blob([body]).stream() }));
  const call = client.call('get', []);
  const frames = () => toClient.reduce((n, f) => n + f.length, 0);
  for (let i = 0; i < 200 && frames() < body.length; i++) await new Promise((r) => setImmediate(r));
  const all = new Uint8Array(frames());
  toClient.splice(0).reduce((off, f) => { all.set(f, off); return off + f.length; }, 0);
  // Split mid-frame: the frame spanning the cut arrives as two pieces, each a view.
  const cut = Math.floor(all.length / 2) + 7;
  client.feed(all.subarray(0, cut));
  client.feed(all.subarray(cut));
  const got: Uint8Array[] = [];
  for await (const c of (await call).stream as ReadableStream<Uint8Array>) got.push(c);
  assert.is(got.reduce((n, c) => n + c.length, 0), body.length);
  assert.ok(got.every((c) => c.length <= PIECE), `pieces of at most ${PIECE} B: ${got.map((c) => c.length).join(', ')}`);
  assert.ok(got.length > 3, `the cut frame came in two pieces (${got.length} chunks)`);
  for (const c of got) if (c.length >= VIEW_AT_LEAST) assert.ok(c.buffer === all.buffer, 'a large piece is a view of the input, not a copy');
  let off = 0;
  for (const c of got) { for (let i = 0; i < c.length; i++) if (c[i] !== body[off + i]) assert.unreachable(`byte ${off + i} differs`); off += c.length; }
});

test('a byte-stream source is read into the peer\'s pooled buffers, reused only once written', async () => {
  const total = 6 * PIECE + 4321;
  const byteAt = (i: number) => (i * 29 + (i >> 12)) & 0xff;
  let pos = 0;
  const viewSizes = new Set<number>();
  const source = new ReadableStream({
    type: 'bytes',
    pull(c: ReadableByteStreamController) {
      const v = c.byobRequest?.view;
      if (pos >= total) { c.close(); c.byobRequest?.respond(0); return; }
      // A default read (after a short piece the channel gathers instead) gets a fresh chunk.
      if (v) viewSizes.add(v.byteLength);
      const u = v ? new Uint8Array(v.buffer, v.byteOffset, Math.min(v.byteLength, total - pos)) : new Uint8Array(Math.min(1000, total - pos));
      for (let i = 0; i < u.length; i++) u[i] = byteAt(pos + i);
      pos += u.length;
      if (v) c.byobRequest!.respond(u.length);
      else c.enqueue(u);
    },
  }) as ReadableStream<Uint8Array>;
  // The writer holds the pieces by reference and delivers them (copied) a while later, only then
  // saying they are written: a buffer reused any earlier would arrive overwritten.
  let client!: Peer;
  let server!: Peer;
  client = new Peer(undefined, (pieces) => { for (const p of pieces) setImmediate(() => server.feed(p.slice())); });
  server = new Peer(undefined, (pieces) => new Promise<void>((written) => {
    setTimeout(() => { for (const p of pieces) client.feed(p.slice()); written(); }, 1);
  }), async () => ({ bytes: source }));
  const got = await readAll((await client.call('get', [])).stream as ReadableStream<Uint8Array>);
  assert.is(got.length, total);
  for (let i = 0; i < total; i++) if (got[i] !== byteAt(i)) assert.unreachable(`byte ${i} differs: a buffer was reused before it was written`);
  assert.equal([...viewSizes], [PIECE], 'every read brought a buffer of PIECE bytes');
});

test('the other side going away fails pending calls and open streams', async () => {
  const { client } = pair(async () => new Promise(() => {}));
  const p = client.call('hang', []);
  client.close(new Error('plugin objstore:x process exited (code 1)'));
  await p.then(() => assert.unreachable(), (e) => assert.match(e.message, /process exited/));
  await client.call('again', []).then(() => assert.unreachable(), (e) => assert.match(e.message, /process exited/));
});

test('input from a reused read buffer (the host\'s socket) is copied out; payloads arrive intact', async () => {
  const frames: Uint8Array[] = [];
  const sender = new Peer(undefined, (pieces) => { for (const p of pieces) frames.push(p.slice()); });
  void sender.call('put', [], { bin: new Uint8Array(100).fill(7) });
  void sender.call('put', [], { bin: new Uint8Array(200_000).fill(9) });
  await new Promise((r) => setImmediate(r));
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((off, f) => { all.set(f, off); return off + f.length; }, 0);
  for (const size of [4096, 1 << 20]) {
    const got: Uint8Array[] = [];
    const receiver = new Peer(undefined, () => {}, async (_m, _a, inc) => { got.push(inc.bin!); return {}; });
    const reused = new Uint8Array(size);
    for (let off = 0; off < all.length; off += size) {
      const n = Math.min(size, all.length - off);
      reused.set(all.subarray(off, off + n));
      receiver.feed(reused.subarray(0, n), true);
      reused.fill(0);
    }
    assert.is(got.length, 2, `read size ${size}`);
    assert.ok(got[0]!.length === 100 && got[0]!.every((x) => x === 7), `small payload, read size ${size}`);
    assert.ok(got[1]!.length === 200_000 && got[1]!.every((x) => x === 9), `large payload, read size ${size}`);
  }
});

test('credit beyond the window closes the channel instead of letting writes pile up', async () => {
  const frame = (h: Header) => { const { frame: f, headerEnd } = encodeFrame(h, 0); return f.subarray(0, headerEnd); };
  let closed: Error | undefined;
  const endless = new ReadableStream<Uint8Array>({ pull(c) { c.enqueue(new Uint8Array(PIECE)); } }, { highWaterMark: 0 });
  const sender = new Peer(undefined, () => {}, async () => ({ bytes: endless }));
  sender.onClose = (e) => { closed = e; };
  sender.feed(frame({ t: 'call', id: 1, m: 'get', a: [] }));
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.is(closed, undefined, 'within its window the stream runs');
  sender.feed(frame({ t: 'credit', s: 1, n: 0xffffffff }));
  assert.match(closed?.message ?? '', /stream 1 granted credit beyond its window: the other side is broken or hostile/);
});

test('a hostile frame length closes the channel instead of being allocated', async () => {
  const peer = new Peer(undefined, () => {});
  const p = peer.call('x', []);
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setUint32(0, 0xffffffff);
  peer.feed(huge);
  await p.then(() => assert.unreachable(), (e) => assert.match(e.message, /a frame of \d+ bytes \(at most \d+\): the other side is broken or hostile/));
});

test('binary headers: every frame type round-trips its routing fields; ids past 2^32 wrap', async () => {
  // A frame fed whole to a peer that answers a call, then the answer decoded by the caller.
  const frames: Uint8Array[] = [];
  const server = new Peer(undefined, (pieces) => { for (const p of pieces) frames.push(p.slice()); }, async (m, a) => ({ value: { m, a } }));
  const { frame, headerEnd } = encodeFrame({ t: 'call', id: 0xfffffffe, m: 'b.getRange', a: ['x/ü', 3, null] }, 0);
  server.feed(frame.subarray(0, headerEnd));
  for (let i = 0; i < 5 && frames.length === 0; i++) await new Promise((r) => setImmediate(r));
  const answer = frames[0]!;
  assert.is(answer[8], encodeFrame({ t: 'ok', id: 1 }, 0).frame[8], 'an ok frame');
  assert.is(new DataView(answer.buffer, answer.byteOffset).getUint32(10), 0xfffffffe, 'its id');
  // The caller side: ids wrap to 1 after 2^32 - 1 (u32 on the wire).
  const client = new Peer(undefined, () => {});
  (client as unknown as { nextId: number }).nextId = 0xffffffff;
  const p1 = client.call('a', []);
  const p2 = client.call('b', []);
  const ok = (id: number, v: unknown) => { const f = encodeFrame({ t: 'ok', id, v }, 0); return f.frame.subarray(0, f.headerEnd); };
  client.feed(ok(1, 'second'));
  client.feed(ok(0xffffffff, 'first'));
  assert.is((await p1).value, 'first');
  assert.is((await p2).value, 'second');
  assert.equal((await new Promise<unknown>((resolve) => {
    const c = new Peer(undefined, (pieces) => { for (const p of pieces) server.feed(p.slice()); });
    frames.length = 0;
    void c.call('m', [1, 'ü']).then((x) => resolve(x.value));
    const pump = () => { if (frames.length) { for (const f of frames.splice(0)) c.feed(f); } else setImmediate(pump); };
    pump();
  })), { m: 'm', a: [1, 'ü'] });
});

test('hostile headers close the channel: unknown type, short header, arguments that are not an array', async () => {
  const raw = (header: number[]) => {
    const f = new Uint8Array(8 + header.length);
    new DataView(f.buffer).setUint32(0, 4 + header.length);
    new DataView(f.buffer).setUint32(4, header.length);
    f.set(header, 8);
    return f;
  };
  const json = (s: string) => [...new TextEncoder().encode(s)];
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['unknown type', raw([99, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]), /no known type/],
    ['shorter than fixed', raw([1, 0, 0]), /no known type/],
    ['method past the header', raw([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 200, 65]), /shorter than its method name/],
    ['arguments not an array', raw([1, 8, 0, 0, 0, 1, 0, 0, 0, 0, 1, 120, ...json('{"a":1}')]), /not an array/],
    ['error frame without error', raw([3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]), /without its error/],
  ];
  assert.is(HEADER_FIXED, 11);
  for (const [name, frame, re] of cases) {
    const peer = new Peer(undefined, () => {}, async () => ({}));
    let closed: Error | undefined;
    peer.onClose = (e) => { closed = e; };
    peer.feed(frame);
    assert.ok(closed, `${name}: closed`);
    assert.match(closed!.message, re, name);
  }
});

test('gatherSmall: runs of small pieces become one buffer, large ones stay by reference, order kept', () => {
  const big = new Uint8Array(64 * 1024).fill(9);
  const out = gatherSmall([Uint8Array.of(1), Uint8Array.of(2, 3), big, Uint8Array.of(4), big, Uint8Array.of(5), Uint8Array.of(6)]);
  assert.is(out.length, 5);
  assert.equal([...out[0]!], [1, 2, 3]);
  assert.ok(out[1] === big && out[3] === big, 'large pieces by reference');
  assert.equal([...out[2]!], [4]);
  assert.equal([...out[4]!], [5, 6]);
});

test('channelReader: a read nothing was kept from is read into again; a kept view is never overwritten', async () => {
  const reader = channelReader();
  const got: Uint8Array[] = [];
  const peer = new Peer(undefined, () => {}, async (_m, _a, inc) => { got.push(inc.bin!); return {}; });
  const call = (n: number, fill: number) => {
    const { frame, headerEnd } = encodeFrame({ t: 'call', id: 1, m: 'x', a: [], b: 1 }, n, n);
    frame.fill(fill, headerEnd, headerEnd + n);
    return frame.subarray(0, headerEnd + n);
  };
  const deliver = (bytes: Uint8Array) => {
    const buf = reader.next(peer);
    buf.set(bytes);
    const { view, transient } = reader.read(buf, bytes.length);
    peer.feed(view, transient);
    if (!peer.takeViewed()) reader.reuse();
    return buf;
  };
  // Small payloads are copied out: the same slab part is read into each time.
  const first = deliver(call(100, 1));
  const second = deliver(call(100, 2));
  assert.is(second.byteOffset, first.byteOffset, 'read into the same part again');
  // A large payload is handed on as a view: the next read goes past it.
  const third = deliver(call(VIEW_AT_LEAST, 3));
  const fourth = deliver(call(100, 4));
  assert.ok(fourth.buffer !== third.buffer || fourth.byteOffset >= third.byteOffset + VIEW_AT_LEAST, 'not read over the kept view');
  await new Promise((r) => setImmediate(r));
  assert.is(got.length, 4);
  assert.ok(got[0]!.every((x) => x === 1) && got[1]!.every((x) => x === 2), 'copies intact');
  assert.ok(got[2]!.length === VIEW_AT_LEAST && got[2]!.every((x) => x === 3), 'the kept view intact');
  assert.ok(got[3]!.every((x) => x === 4));
});

test.run();
