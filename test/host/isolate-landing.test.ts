// Landing (lib/isolate/wire.ts, channelReader): the host reads the channel
// where its peer says, so a byte stream's payloads land in the stream's own buffer — a ranged read's
// body in one buffer of its length, handed on as adjacent views that readAll joins without a copy —
// and only what a header read brought along is copied. Two peers in one process; the host's side
// reads through the host's own channelReader from a simulated socket that hands out what was written
// in reads of random sizes (as a Unix socket does, at most ~200 KiB at a time).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame, HEADER_READ, MAX_FRAME, PIECE, Peer, WINDOW_BYTES, type Handler, type Header } from '../../lib/isolate/wire.ts';
import { channelReader } from '../../lib/isolate/wire.ts';
import { readAll } from '../../lib/objstore/bucket.ts';

interface Wire {
  client: Peer;
  /** Bytes the client's reads put into buffers other than the ones readTarget named (copied, or views of a slab). */
  elsewhere: number;
  /** Credit frames the client (the receiver) sent. */
  credits: number;
  /** Reads the client made. */
  reads: number;
}

/**
 * A landing client (the host) and a plain server (the plugin process). The server's frames queue on
 * a simulated socket the client reads through channelReader, each read of at most a random size.
 */
function landingPair(handler: Handler, seed = 11): Wire {
  const queue: Uint8Array[] = [];
  let queued = 0;
  let draining = false;
  const reader = channelReader();
  const w: Wire = { client: undefined as unknown as Peer, elsewhere: 0, credits: 0, reads: 0 };
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  // One read per turn of the event loop, as a socket's reads come, so the consumer reads meanwhile.
  const drain = () => {
    draining = false;
    if (queued > 0) {
      const target = w.client.readTarget();
      const buf = reader.next(w.client);
      const n = Math.min(buf.length, queued, 1 + (rnd() % (208 * 1024)));
      for (let off = 0; off < n;) {
        const head = queue[0]!;
        const k = Math.min(head.length, n - off);
        buf.set(head.subarray(0, k), off);
        off += k;
        if (k === head.length) queue.shift();
        else queue[0] = head.subarray(k);
      }
      queued -= n;
      w.reads++;
      if (!target || buf.buffer !== target.buffer || buf.byteOffset !== target.byteOffset) w.elsewhere += n;
      const { view, transient } = reader.read(buf, n);
      w.client.feed(view, transient);
    }
    if (queued > 0) { draining = true; setImmediate(drain); }
  };
  let server!: Peer;
  w.client = new Peer(undefined, (pieces) => {
    for (const p of pieces) {
      w.credits += countCredits(p);
      const copy = p.slice();
      setImmediate(() => server.feed(copy));
    }
  }, undefined, undefined, { landing: (n) => Buffer.allocUnsafeSlow(n) });
  server = new Peer(undefined, (pieces) => {
    for (const p of pieces) { queue.push(p.slice()); queued += p.length; }
    if (!draining) { draining = true; setImmediate(drain); }
  }, handler);
  return w;
}

/** Credit frames in a write of the client's (whole frames: it sends calls, credits and cancels, no payloads). */
function countCredits(b: Uint8Array): number {
  let n = 0;
  for (let off = 0; off + 8 < b.length;) {
    const dv = new DataView(b.buffer, b.byteOffset + off);
    if (b[off + 8] === CREDIT_CODE) n++;
    off += 4 + dv.getUint32(0);
  }
  return n;
}
const CREDIT_CODE = encodeFrame({ t: 'credit', s: 1, n: 1 }, 0).frame[8];

/** A byte stream of `n` bytes (content i*7+i>>10), in chunks of `chunk` bytes. */
function body(n: number, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= n) { c.close(); return; }
      const k = Math.min(chunk, n - at);
      c.enqueue(Uint8Array.from({ length: k }, (_, i) => ((at + i) * 7 + ((at + i) >> 10)) & 0xff));
      at += k;
    },
  }, { highWaterMark: 0 });
}
const expected = (i: number) => (i * 7 + (i >> 10)) & 0xff;

async function chunksOf(s: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of s) out.push(c);
  return out;
}

test('a body with an expected length lands in one buffer of it: adjacent views, joined by readAll without a copy', async () => {
  const len = 5 * 1048576 + 12345;
  const w = landingPair(async () => ({ bytes: body(len) }));
  const parts = await chunksOf((await w.client.call('get', [], {}, len)).stream as ReadableStream<Uint8Array>);
  const buf = parts[0]!.buffer;
  assert.is(buf.byteLength, len, 'one buffer of the expected length');
  let end = parts[0]!.byteOffset;
  for (const p of parts) {
    assert.ok(p.buffer === buf && p.byteOffset === end, 'each chunk follows the one before in the same buffer');
    end += p.length;
  }
  assert.is(end, len);
  // The consumer gets the sender's pieces, not each socket read.
  assert.ok(parts.length <= Math.ceil(len / (256 * 1024)) + 1, `${parts.length} chunks`);
  const again = await readAll((await w.client.call('get', [], {}, len)).stream as ReadableStream<Uint8Array>);
  assert.is(again.length, len);
  assert.is(again.buffer.byteLength, len, 'readAll joined the views: no copy');
  for (let i = 0; i < len; i += 4093) assert.is(again[i], expected(i));
  assert.is(again[len - 1], expected(len - 1));
});

test('payloads are read into their buffer directly: only what header reads bring along goes elsewhere', async () => {
  const len = 8 * 1048576;
  const w = landingPair(async () => ({ bytes: body(len, PIECE) }));
  const got = await readAll((await w.client.call('get', [], {}, len)).stream as ReadableStream<Uint8Array>);
  assert.is(got.length, len);
  for (let i = 0; i < len; i += 8191) assert.is(got[i], expected(i));
  // Per piece at most one header read (HEADER_READ bytes), plus the first read (the answer's
  // frame and whatever follows it, up to one socket read).
  const pieces = len / PIECE;
  assert.ok(w.elsewhere <= pieces * HEADER_READ + 208 * 1024 + 1024, `${w.elsewhere} of ${len} bytes read outside the landing buffer`);
});

test('credit: none while the sender has enough for the expected rest (at most one at its end); a body longer than expected still arrives', async () => {
  const w = landingPair(async (m) => ({ bytes: body(m === 'exact' ? WINDOW_BYTES : 3 * WINDOW_BYTES) }));
  const exact = await readAll((await w.client.call('exact', [], {}, WINDOW_BYTES)).stream as ReadableStream<Uint8Array>);
  assert.is(exact.length, WINDOW_BYTES);
  // (At most one: once all expected bytes have come the receiver cannot tell the end frame on its
  // way from a sender with more, so it grants as usual.)
  assert.ok(w.credits <= 1, `a body of the window took ${w.credits} credit frames`);
  // Expected 1 MiB, sent three windows: credit resumes once the expected bytes have come.
  const longer = await readAll((await w.client.call('longer', [], {}, 1048576)).stream as ReadableStream<Uint8Array>);
  assert.is(longer.length, 3 * WINDOW_BYTES);
  for (let i = 0; i < longer.length; i += 65521) assert.is(longer[i], expected(i));
  assert.ok(w.credits > 0);
});

test('without an expectation each piece lands in a buffer of its size; interleaved streams and calls arrive intact', async () => {
  const w = landingPair(async (m, a) => {
    if (m === 'echo') return { value: a };
    if (m === 'small') return { bin: new Uint8Array(40 * 1024).fill(5) };
    return { bytes: body(Number(a[0]), 100_000) };
  }, 3);
  const sizes = [3 * 1048576 + 1, 700_001, 12 * 1048576];
  const [a, b, c, echoes, smalls] = await Promise.all([
    ...sizes.map(async (n) => chunksOf((await w.client.call('get', [n])).stream as ReadableStream<Uint8Array>)),
    Promise.all(Array.from({ length: 50 }, (_, i) => w.client.call('echo', [i]).then((r) => r.value))),
    Promise.all(Array.from({ length: 20 }, () => w.client.call('small', []).then((r) => r.bin!))),
  ]) as [Uint8Array[], Uint8Array[], Uint8Array[], unknown[], Uint8Array[]];
  for (const [parts, n] of [[a, sizes[0]], [b, sizes[1]], [c, sizes[2]]] as const) {
    let at = 0;
    for (const p of parts) {
      assert.ok(p.buffer.byteLength <= Math.max(PIECE, 100_000), 'a buffer per piece, not per body');
      for (let i = 0; i < p.length; i += 997) assert.is(p[i], expected(at + i));
      at += p.length;
    }
    assert.is(at, n);
  }
  assert.equal(echoes, Array.from({ length: 50 }, (_, i) => [i]));
  for (const s of smalls) assert.ok(s.length === 40 * 1024 && s.every((x) => x === 5));
});

test('a sender beyond its credit closes a landing channel too, before a window more is allocated', async () => {
  const reader = channelReader();
  const client = new Peer(undefined, () => {}, undefined, undefined, { landing: (n) => Buffer.allocUnsafeSlow(n) });
  let closed: Error | undefined;
  client.onClose = (e) => { closed = e; };
  const answer = client.call('get', [], {}, 1048576);
  const frame = (h: Header, payload = 0) => { const { frame: f, headerEnd } = encodeFrame(h, payload); return f.subarray(0, headerEnd); };
  const feed = (bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length && !closed;) {
      const buf = reader.next(client);
      const n = Math.min(buf.length, bytes.length - off);
      buf.set(bytes.subarray(off, off + n));
      off += n;
      const { view, transient } = reader.read(buf, n);
      client.feed(view, transient);
    }
  };
  feed(frame({ t: 'ok', id: 1, s: 1, sk: 'bytes' }));
  const s = (await answer).stream as ReadableStream<Uint8Array>;
  const piece = new Uint8Array(PIECE);
  let sent = 0;
  while (!closed && sent < WINDOW_BYTES + 4 * PIECE) {
    feed(frame({ t: 'chunk', s: 1 }, PIECE));
    feed(piece);
    sent += PIECE;
  }
  assert.ok(closed, 'the channel closed');
  assert.match(closed!.message, /beyond its credit/);
  assert.ok(sent <= WINDOW_BYTES + PIECE, `closed after ${sent} bytes`);
  assert.ok(MAX_FRAME > PIECE);
  await s.cancel().catch(() => {});
});

test.run();
