// Prometheus remote write 1.0: a snappy block-compressed prompb.WriteRequest over HTTP POST.
import { decodeWriteRequest, encodeWriteRequest, type WriteRequest } from '../proto/prompb.ts';
import { ProtobufError } from '../proto/wire.ts';
import { compress, decompress, SnappyError } from './snappy.ts';

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
export function decodeRemoteWriteBody(body: Uint8Array, opts: { maxDecodedBytes?: number } = {}): WriteRequest {
  let raw: Uint8Array;
  try {
    raw = decompress(body, opts);
  } catch (e) {
    if (e instanceof SnappyError) throw new RemoteError(400, `snappy decode error: ${e.message}`);
    throw e;
  }
  try {
    return decodeWriteRequest(raw);
  } catch (e) {
    if (e instanceof ProtobufError) throw new RemoteError(400, `protobuf decode error: ${e.message}`);
    throw e;
  }
}

/**
 * Server side: checks headers and decodes a remote write request. Remote write 2.0 bodies
 * (proto=io.prometheus.write.v2.Request) get 415, as Prometheus answers when it does not accept them.
 */
export async function parseRemoteWriteRequest(req: Request, opts: { maxBodyBytes?: number; maxDecodedBytes?: number } = {}): Promise<WriteRequest> {
  if (req.method !== 'POST') throw new RemoteError(405, `method ${req.method} not allowed, use POST`);
  const ct = req.headers.get('content-type') ?? '';
  if (/proto\s*=\s*io\.prometheus\.write\.v2\.Request/i.test(ct)) throw new RemoteError(415, `unsupported content type ${ct}: remote write 2.0 is not supported`);
  const ce = (req.headers.get('content-encoding') ?? 'snappy').toLowerCase();
  if (ce !== 'snappy') throw new RemoteError(415, `unsupported content encoding ${ce}, expected snappy`);
  const body = new Uint8Array(await req.arrayBuffer());
  const maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  if (body.length > maxBody) throw new RemoteError(413, `request body of ${body.length} bytes exceeds ${maxBody}`);
  return decodeRemoteWriteBody(body, opts);
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
