import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChunkedReadResponse, WriteRequest } from '../../lib/proto/prompb.ts';
import {
  decodeChunkedFrames, decodeReadRequestBody, decodeSamplesResponseBody, encodeChunkedFrame, encodeReadRequestBody,
  encodeSamplesResponseBody, FrameError, readChunkedFrames, remoteRead, STREAMED_CONTENT_TYPE, streamedResponseBody,
} from '../../lib/remote/read.ts';
import { compress } from '../../lib/remote/snappy.ts';
import { decodeRemoteWriteBody, encodeRemoteWriteBody, parseRemoteWriteRequest, RemoteError, REMOTE_WRITE_HEADERS, sendRemoteWrite } from '../../lib/remote/write.ts';
import { crc32c } from '../../lib/tsdb/encoding.ts';

const wr: WriteRequest = { timeseries: [{ labels: [{ name: '__name__', value: 'a' }], samples: [{ value: 1, timestamp: 2 }] }] };

function frames(n: number): ChunkedReadResponse[] {
  return Array.from({ length: n }, (_, i) => ({
    chunkedSeries: [{ labels: [{ name: '__name__', value: `s${i}` }], chunks: [{ minTimeMs: i, maxTimeMs: i + 10, type: 1, data: new Uint8Array(50 + i * 40).fill(i) }] }],
    queryIndex: i % 2,
  }));
}

async function* chunked(buf: Uint8Array, size: number) {
  for (let i = 0; i < buf.length; i += size) yield buf.slice(i, i + size);
}

const concat = (xs: Uint8Array[]) => {
  const out = new Uint8Array(xs.reduce((a, x) => a + x.length, 0));
  let p = 0;
  for (const x of xs) (out.set(x, p), (p += x.length));
  return out;
};

test('frame layout: uvarint length, big-endian CRC32C, message', () => {
  const f = encodeChunkedFrame(frames(1)[0]!);
  const len = f[0]!; // < 128 here
  const body = f.subarray(5);
  assert.is(body.length, len);
  const crc = ((f[1]! << 24) | (f[2]! << 16) | (f[3]! << 8) | f[4]!) >>> 0;
  assert.is(crc, crc32c(body));
});

test('streamed frames decode whole and from arbitrary chunk boundaries', async () => {
  const msgs = frames(12);
  const body = concat(msgs.map(encodeChunkedFrame));
  assert.equal(decodeChunkedFrames(body), msgs);
  for (const size of [1, 3, 7, 64, 1000, body.length]) {
    const got: ChunkedReadResponse[] = [];
    for await (const m of readChunkedFrames(chunked(body, size))) got.push(m);
    assert.equal(got, msgs, `chunk size ${size}`);
  }
  // and through a ReadableStream built by our server helper
  async function* src() {
    yield* msgs;
  }
  const got: ChunkedReadResponse[] = [];
  for await (const m of readChunkedFrames(streamedResponseBody(src()))) got.push(m);
  assert.equal(got, msgs);
});

test('corrupt frames: CRC mismatch, truncation, oversize, bad protobuf', async () => {
  const body = concat(frames(3).map(encodeChunkedFrame));
  const bad = body.slice();
  bad[10] = bad[10]! ^ 0xff;
  assert.throws(() => decodeChunkedFrames(bad), (e: unknown) => e instanceof FrameError && /CRC32C mismatch/.test((e as Error).message));
  assert.throws(() => decodeChunkedFrames(body.subarray(0, body.length - 1)), (e: unknown) => e instanceof FrameError && /truncated/.test((e as Error).message));
  assert.throws(() => decodeChunkedFrames(body, 10), (e: unknown) => e instanceof FrameError && /exceeds the limit/.test((e as Error).message));
  let err: unknown;
  try {
    for await (const _ of readChunkedFrames(chunked(body.subarray(0, body.length - 3), 5)));
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof FrameError && /stream ended inside a frame/.test(err.message));
  // a frame whose CRC matches but whose message is not protobuf
  const junk = new Uint8Array([0x0a, 0xff]);
  const crc = crc32c(junk);
  const f = new Uint8Array([2, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff, ...junk]);
  assert.throws(() => decodeChunkedFrames(f), (e: unknown) => e instanceof FrameError && /frame 0: protobuf/.test((e as Error).message));
  assert.throws(() => decodeChunkedFrames(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), (e: unknown) => e instanceof FrameError);
});

test('remote write bodies and request parsing', async () => {
  assert.equal(decodeRemoteWriteBody(encodeRemoteWriteBody(wr)), wr);
  const mk = (body: Uint8Array, headers: Record<string, string> = REMOTE_WRITE_HEADERS) => new Request('http://x/api/v1/receive', { method: 'POST', headers, body });
  assert.equal(await parseRemoteWriteRequest(mk(encodeRemoteWriteBody(wr))), wr);
  const status = async (r: Request, re: RegExp) => {
    try {
      await parseRemoteWriteRequest(r);
    } catch (e) {
      assert.ok(e instanceof RemoteError, String(e));
      assert.match((e as Error).message, re);
      return (e as RemoteError).status;
    }
    throw new Error('expected failure');
  };
  assert.is(await status(mk(new Uint8Array([9, 0])), /snappy decode error/), 400);
  assert.is(await status(mk(compress(new Uint8Array([0x0a, 0x05, 1]))), /protobuf decode error/), 400);
  assert.is(await status(mk(encodeRemoteWriteBody(wr), { ...REMOTE_WRITE_HEADERS, 'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' }), /2\.0/), 415);
  assert.is(await status(mk(encodeRemoteWriteBody(wr), { ...REMOTE_WRITE_HEADERS, 'Content-Encoding': 'gzip' }), /gzip/), 415);
  // client side surfaces the server's status and message
  const fakeFetch = async () => new Response('out of bounds', { status: 409 });
  try {
    await sendRemoteWrite(fakeFetch, 'http://r/api/v1/receive', wr);
    assert.unreachable();
  } catch (e) {
    assert.ok(e instanceof RemoteError && e.status === 409 && /out of bounds/.test(e.message));
  }
});

test('remote read request/response bodies and content-type negotiation', async () => {
  const rq = { queries: [{ startTimestampMs: 1, endTimestampMs: 2, matchers: [{ type: '=' as const, name: 'a', value: 'b' }] }], acceptedResponseTypes: [1] };
  assert.equal(decodeReadRequestBody(encodeReadRequestBody(rq)), rq);
  const resp = { results: [{ timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 3, timestamp: 4 }] }] }] };
  assert.equal(decodeSamplesResponseBody(encodeSamplesResponseBody(resp)), resp);
  const samplesFetch = async () => new Response(encodeSamplesResponseBody(resp), { headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' } });
  const a = await remoteRead(samplesFetch, 'http://p/api/v1/read', rq);
  assert.ok(a.type === 'samples' && a.response.results[0]!.timeseries[0]!.samples[0]!.value === 3);
  const msgs = frames(2);
  const streamFetch = async () => new Response(concat(msgs.map(encodeChunkedFrame)), { headers: { 'content-type': STREAMED_CONTENT_TYPE } });
  const b = await remoteRead(streamFetch, 'http://p/api/v1/read', rq);
  assert.is(b.type, 'streamed');
  const got: ChunkedReadResponse[] = [];
  if (b.type === 'streamed') for await (const m of b.frames) got.push(m);
  assert.equal(got, msgs);
  try {
    decodeReadRequestBody(new Uint8Array([3, 0]));
    assert.unreachable();
  } catch (e) {
    assert.ok(e instanceof RemoteError && e.status === 400);
  }
});

test.run();
