// Prometheus remote write 1.0: a snappy block-compressed prompb.WriteRequest over HTTP POST.
import { decodeWriteRequest, encodeWriteRequest, type WriteRequest } from '../proto/prompb.ts';
import { ProtobufError } from '../proto/wire.ts';
import { compress, decodedLength, decompress, SnappyError } from './snappy.ts';
import type { WriteRequestDecoder } from './writedecode.ts';

export const REMOTE_WRITE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'application/x-protobuf',
  'Content-Encoding': 'snappy',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
};

/** An HTTP-level remote read/write failure with the status a server should answer. */
export class RemoteError extends Error {
  constructor(public readonly status: number, message: string) {
    super(message);
    this.name = 'RemoteError';
  }
}

export function encodeRemoteWriteBody(req: WriteRequest): Uint8Array {
  return compress(encodeWriteRequest(req));
}

/** Decodes a remote write body; malformed snappy or protobuf raise RemoteError(400) naming the cause. */
export function decodeRemoteWriteBody(body: Uint8Array, opts: { maxDecodedBytes?: number; decoder?: WriteRequestDecoder } = {}): WriteRequest {
  let raw: Uint8Array;
  try {
    // A receiver's decoder decompresses into memory it reuses (its core's, or its own buffer):
    // decode() keeps nothing of the bytes, and a fresh buffer of a request's decoded size per
    // request cost more than decompressing into it.
    raw = opts.decoder ? opts.decoder.decompress(body, opts.maxDecodedBytes) : decompress(body, { maxDecodedBytes: opts.maxDecodedBytes });
  } catch (e) {
    if (e instanceof SnappyError) throw new RemoteError(400, `snappy decode error: ${e.message}`);
    throw e;
  }
  try {
    return opts.decoder ? opts.decoder.decode(raw) : decodeWriteRequest(raw);
  } catch (e) {
    if (e instanceof ProtobufError) throw new RemoteError(400, `protobuf decode error: ${e.message}`);
    throw e;
  }
}

export interface RemoteWriteLimits {
  /** Longest accepted body as sent (compressed), bytes; default 64 MiB. Over it: 413. */
  maxBodyBytes?: number;
  /** Largest decoded (uncompressed) body, bytes, as the snappy header declares it; default 32 MiB. Over it: 413. */
  maxDecodedBytes?: number;
  /** Named in the 413 messages, e.g. the flags that set the limits. */
  maxBodyHint?: string;
  maxDecodedHint?: string;
  /** A receiver's decoder (label sets cached across requests); default: lib/proto's decodeWriteRequest. */
  decoder?: WriteRequestDecoder;
}

export const DEFAULT_MAX_BODY_BYTES = 64 << 20;
export const DEFAULT_MAX_DECODED_BYTES = 32 << 20;

/**
 * Reads a snappy body under the limits without ever holding more than them: a Content-Length
 * over the limit is refused before reading; the stream is read chunk by chunk and abandoned as
 * soon as it passes the limit; the snappy header (the decoded length, in the first bytes) is
 * checked as soon as it has arrived, so a body declaring 400 MB is refused after 5 bytes, before
 * the rest is read or anything the size of the output is allocated.
 */
export async function readSnappyBody(req: Request, lim: RemoteWriteLimits = {}): Promise<Uint8Array> {
  const maxBody = lim.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxDecoded = lim.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  const bodyHint = lim.maxBodyHint ? ` (${lim.maxBodyHint})` : '';
  const tooBig = (n?: string) => new RemoteError(413, `request body ${n === undefined ? '' : `of ${n} bytes `}exceeds the limit of ${maxBody} bytes${bodyHint}`);
  const cl = req.headers.get('content-length');
  if (cl !== null && /^\d+$/.test(cl) && Number(cl) > maxBody) throw tooBig(cl);
  if (cl !== null && /^\d+$/.test(cl) && Number(cl) <= WHOLE_BODY_BYTES) {
    // A body of a declared, small length (a remote write request as Prometheus sends them) is read
    // whole, then its header checked: the server's request reads it without a stream (Node's
    // HTTP parser holds the body to the declared length).
    const body = new Uint8Array(await req.arrayBuffer());
    if (body.length > maxBody) throw tooBig(String(body.length));
    checkDecodedLength(body, maxDecoded, lim.maxDecodedHint);
    return body;
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let headerChecked = false;
  const refuse = async (e: RemoteError): Promise<never> => {
    // Stop reading: the rest of the body is never buffered (the connection may be closed under the sender).
    await reader.cancel(e.message).catch(() => undefined);
    throw e;
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value.length === 0) continue;
    total += value.length;
    if (total > maxBody) await refuse(tooBig());
    chunks.push(value);
    if (!headerChecked) {
      const head = chunks.length === 1 ? value : concat(chunks, total);
      let declared: number | undefined;
      try {
        declared = decodedLength(head.subarray(0, 5)).length;
      } catch (e) {
        // Still a truncated header: wait for more bytes. Anything else is malformed.
        if (!(e instanceof SnappyError)) throw e;
        if (head.length >= 5 || !/truncated/.test(e.message)) await refuse(new RemoteError(400, `snappy decode error: ${e.message}`));
      }
      if (declared !== undefined) {
        headerChecked = true;
        if (declared > maxDecoded) {
          await refuse(new RemoteError(413, `decoded request of ${declared} bytes (snappy header) exceeds the limit of ${maxDecoded} bytes${lim.maxDecodedHint ? ` (${lim.maxDecodedHint})` : ''}`));
        }
      }
    }
  }
  return chunks.length === 1 ? chunks[0]! : concat(chunks, total);
}

/** Bodies declaring at most this length (bytes) are read whole before the snappy header is checked. */
const WHOLE_BODY_BYTES = 1 << 20;

/** The snappy header of a whole body: 400 when malformed, 413 when it declares more than maxDecoded. */
function checkDecodedLength(body: Uint8Array, maxDecoded: number, hint: string | undefined): void {
  if (body.length === 0) return;
  let declared: number;
  try {
    declared = decodedLength(body.subarray(0, 5)).length;
  } catch (e) {
    if (e instanceof SnappyError) throw new RemoteError(400, `snappy decode error: ${e.message}`);
    throw e;
  }
  if (declared > maxDecoded) throw new RemoteError(413, `decoded request of ${declared} bytes (snappy header) exceeds the limit of ${maxDecoded} bytes${hint ? ` (${hint})` : ''}`);
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Server side: checks headers and decodes a remote write request under the size limits (see
 * readSnappyBody). Remote write 2.0 bodies (proto=io.prometheus.write.v2.Request) get 415, as
 * Prometheus answers when it does not accept them.
 */
export async function parseRemoteWriteRequest(req: Request, opts: RemoteWriteLimits = {}): Promise<WriteRequest> {
  if (req.method !== 'POST') throw new RemoteError(405, `method ${req.method} not allowed, use POST`);
  const ct = req.headers.get('content-type') ?? '';
  if (/proto\s*=\s*io\.prometheus\.write\.v2\.Request/i.test(ct)) throw new RemoteError(415, `unsupported content type ${ct}: remote write 2.0 is not supported`);
  const ce = (req.headers.get('content-encoding') ?? 'snappy').toLowerCase();
  if (ce !== 'snappy') throw new RemoteError(415, `unsupported content encoding ${ce}, expected snappy`);
  const body = await readSnappyBody(req, opts);
  return decodeRemoteWriteBody(body, { maxDecodedBytes: opts.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES, decoder: opts.decoder });
}

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Client side: POSTs a WriteRequest. Non-2xx answers raise RemoteError with the server's message. */
export async function sendRemoteWrite(
  fetchFn: FetchFn,
  url: string,
  req: WriteRequest,
  opts: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const body = encodeRemoteWriteBody(req);
  const init: RequestInit = { method: 'POST', body, headers: { ...REMOTE_WRITE_HEADERS, ...opts.headers } };
  if (opts.signal) init.signal = opts.signal;
  const res = await fetchFn(url, init);
  if (!res.ok) {
    const text = (await res.text().catch(() => '')).trim();
    throw new RemoteError(res.status, `remote write to ${url}: ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`);
  }
  return res;
}
