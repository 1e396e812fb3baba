// Prometheus remote read: snappy-compressed prompb.ReadRequest; responses either
//   SAMPLES             snappy-compressed ReadResponse (Content-Type application/x-protobuf), or
//   STREAMED_XOR_CHUNKS a stream of frames: uvarint(len) + 4-byte big-endian CRC32C of the message +
//                       ChunkedReadResponse (Content-Type application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse).
import {
  decodeChunkedReadResponse, decodeReadRequest, decodeReadResponse, encodeChunkedReadResponse, encodeReadRequest,
  encodeReadResponse, type ChunkedReadResponse, type ReadRequest, type ReadResponse,
} from '../proto/prompb.ts';
import { ProtobufError } from '../proto/wire.ts';
import { crc32c } from '../tsdb/encoding.ts';
import { compress, decompress, SnappyError } from './snappy.ts';
import { RemoteError, type FetchFn } from './write.ts';

export const SAMPLES_CONTENT_TYPE = 'application/x-protobuf';
export const STREAMED_CONTENT_TYPE = 'application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse';
export const REMOTE_READ_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'application/x-protobuf',
  'Content-Encoding': 'snappy',
  'X-Prometheus-Remote-Read-Version': '0.1.0',
};
/** Prometheus's client limit for one streamed frame (config.DefaultChunkedReadLimit). */
export const DEFAULT_MAX_FRAME_BYTES = 50_000_000;

function wrapDecode<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SnappyError) throw new RemoteError(400, `${what}: snappy decode error: ${e.message}`);
    if (e instanceof ProtobufError) throw new RemoteError(400, `${what}: protobuf decode error: ${e.message}`);
    throw e;
  }
}

export function encodeReadRequestBody(req: ReadRequest): Uint8Array {
  return compress(encodeReadRequest(req));
}

export function decodeReadRequestBody(body: Uint8Array): ReadRequest {
  return wrapDecode('remote read request', () => decodeReadRequest(decompress(body)));
}

export function encodeSamplesResponseBody(resp: ReadResponse): Uint8Array {
  return compress(encodeReadResponse(resp));
}

export function decodeSamplesResponseBody(body: Uint8Array, opts: { maxDecodedBytes?: number } = {}): ReadResponse {
  return wrapDecode('remote read response', () => decodeReadResponse(decompress(body, opts)));
}

/** One streamed frame: uvarint(len) + BE CRC32C(message) + message. */
export function encodeChunkedFrame(msg: ChunkedReadResponse): Uint8Array {
  const body = encodeChunkedReadResponse(msg);
  let n = body.length;
  const head: number[] = [];
  while (n > 0x7f) {
    head.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  head.push(n);
  const out = new Uint8Array(head.length + 4 + body.length);
  out.set(head, 0);
  const crc = crc32c(body);
  const p = head.length;
  out[p] = crc >>> 24;
  out[p + 1] = (crc >>> 16) & 0xff;
  out[p + 2] = (crc >>> 8) & 0xff;
  out[p + 3] = crc & 0xff;
  out.set(body, p + 4);
  return out;
}

export class FrameError extends RemoteError {
  constructor(message: string) {
    super(502, `streamed remote read: ${message}`);
    this.name = 'FrameError';
  }
}

/** Tries to parse one frame header at buf[pos]: returns null when more bytes are needed. */
function frameHeader(buf: Uint8Array, pos: number, end: number, maxFrame: number): { len: number; bodyAt: number } | null {
  let len = 0;
  let mul = 1;
  let p = pos;
  for (let i = 0; ; i++) {
    if (p >= end) return null;
    if (i >= 10) throw new FrameError('frame length varint longer than 10 bytes');
    const c = buf[p++]!;
    len += (c & 0x7f) * mul;
    mul *= 128;
    if (c < 0x80) break;
  }
  if (len > maxFrame) throw new FrameError(`frame of ${len} bytes exceeds the limit of ${maxFrame} bytes`);
  return { len, bodyAt: p + 4 };
}

function checkFrame(buf: Uint8Array, bodyAt: number, len: number, index: number): ChunkedReadResponse {
  const want = ((buf[bodyAt - 4]! << 24) | (buf[bodyAt - 3]! << 16) | (buf[bodyAt - 2]! << 8) | buf[bodyAt - 1]!) >>> 0;
  const got = crc32c(buf, bodyAt, bodyAt + len);
  if (got !== want) throw new FrameError(`frame ${index}: CRC32C mismatch (header ${want.toString(16)}, computed ${got.toString(16)})`);
  try {
    return decodeChunkedReadResponse(buf.subarray(bodyAt, bodyAt + len));
  } catch (e) {
    if (e instanceof ProtobufError) throw new FrameError(`frame ${index}: ${e.message}`);
    throw e;
  }
}

/** Decodes every frame of a complete streamed body. */
export function decodeChunkedFrames(buf: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): ChunkedReadResponse[] {
  const out: ChunkedReadResponse[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const h = frameHeader(buf, pos, buf.length, maxFrameBytes);
    if (!h || h.bodyAt + h.len > buf.length) throw new FrameError(`frame ${out.length}: truncated (body ends before the frame is complete)`);
    out.push(checkFrame(buf, h.bodyAt, h.len, out.length));
    pos = h.bodyAt + h.len;
  }
  return out;
}

/** Decodes frames from a byte stream as they arrive, holding at most one frame in memory. */
export async function* readChunkedFrames(
  stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): AsyncGenerator<ChunkedReadResponse> {
  const source: AsyncIterable<Uint8Array> =
    Symbol.asyncIterator in stream ? (stream as AsyncIterable<Uint8Array>) : streamIterable(stream as ReadableStream<Uint8Array>);
  let buf = new Uint8Array(0);
  let pos = 0;
  let end = 0;
  let index = 0;
  // Decoded messages keep views into buf, so bytes before `end` are never overwritten: new data is
  // appended after `end` or into a fresh buffer holding the unread tail.
  const append = (chunk: Uint8Array) => {
    if (buf.length - end >= chunk.length) {
      buf.set(chunk, end);
      end += chunk.length;
      return;
    }
    const left = end - pos;
    const nb = new Uint8Array(Math.max(left + chunk.length, Math.min(buf.length * 2, left + chunk.length + (1 << 20))));
    nb.set(buf.subarray(pos, end), 0);
    nb.set(chunk, left);
    buf = nb;
    pos = 0;
    end = left + chunk.length;
  };
  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const h = frameHeader(buf, pos, end, maxFrameBytes);
      if (h && h.bodyAt + h.len <= end) {
        const msg = checkFrame(buf, h.bodyAt, h.len, index++);
        pos = h.bodyAt + h.len;
        yield msg;
        continue;
      }
      const r = await it.next();
      if (r.done) {
        if (end > pos) throw new FrameError(`frame ${index}: truncated (stream ended inside a frame)`);
        return;
      }
      append(r.value);
    }
  } finally {
    await it.return?.();
  }
}

async function* streamIterable(s: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = s.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

export type RemoteReadResult =
  | { type: 'samples'; response: ReadResponse }
  | { type: 'streamed'; frames: AsyncGenerator<ChunkedReadResponse> };

/** Client: POSTs a ReadRequest and decodes whichever response type the server chose. */
export async function remoteRead(
  fetchFn: FetchFn,
  url: string,
  req: ReadRequest,
  opts: { headers?: Record<string, string>; signal?: AbortSignal; maxFrameBytes?: number; maxDecodedBytes?: number } = {},
): Promise<RemoteReadResult> {
  const init: RequestInit = { method: 'POST', body: encodeReadRequestBody(req), headers: { ...REMOTE_READ_HEADERS, ...opts.headers } };
  if (opts.signal) init.signal = opts.signal;
  const res = await fetchFn(url, init);
  if (!res.ok) {
    const text = (await res.text().catch(() => '')).trim();
    throw new RemoteError(res.status, `remote read from ${url}: ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`);
  }
  const ct = res.headers.get('content-type') ?? '';
  if (ct.startsWith('application/x-streamed-protobuf')) {
    if (!/proto=prometheus\.ChunkedReadResponse/.test(ct)) throw new RemoteError(502, `remote read from ${url}: unexpected streamed message type in ${ct}`);
    if (!res.body) throw new RemoteError(502, `remote read from ${url}: empty body`);
    return { type: 'streamed', frames: readChunkedFrames(res.body, opts.maxFrameBytes) };
  }
  const body = new Uint8Array(await res.arrayBuffer());
  const dopts: { maxDecodedBytes?: number } = {};
  if (opts.maxDecodedBytes !== undefined) dopts.maxDecodedBytes = opts.maxDecodedBytes;
  return { type: 'samples', response: decodeSamplesResponseBody(body, dopts) };
}

/** Server: a streamed response body from an async source of ChunkedReadResponse messages. */
export function streamedResponseBody(frames: AsyncIterable<ChunkedReadResponse>): ReadableStream<Uint8Array> {
  const it = frames[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        const r = await it.next();
        if (r.done) ctl.close();
        else ctl.enqueue(encodeChunkedFrame(r.value));
      } catch (e) {
        ctl.error(e);
      }
    },
    async cancel() {
      await it.return?.();
    },
  });
}
