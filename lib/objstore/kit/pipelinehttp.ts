// An Azure SDK HttpClient (@azure/storage-blob's `httpClient` pipeline option, core-http's v1
// shape: WebResourceLike in, HttpOperationResponse out) over a fetch function:
// the plugin passes its ctx.fetch (via sdkFetch), so the `net` grant applies to every request the
// Azure SDK makes. The SDK keeps its own policies (signing, retries, parsing); this only carries bytes.
// Node's Azure SDK reads download bodies as Node streams (readableStreamBody), hence node:stream here
// in lib (plugins themselves stay free of node: imports).
import { Readable } from 'node:stream';
import type { SdkFetch } from './sdkfetch.ts';

/** The parts of core-http's WebResourceLike this client reads. */
interface PipelineRequestLike {
  url: string;
  method: string;
  headers: { rawHeaders(): Record<string, string> };
  body?: unknown;
  abortSignal?: { aborted: boolean; addEventListener?: unknown } | null;
  streamResponseStatusCodes?: Set<number>;
}

/** core-http's HttpHeadersLike, as far as the SDK reads a response's headers. */
interface HeadersLike {
  toJson(o?: { preserveCase?: boolean }): Record<string, string>;
  get(name: string): string | undefined;
  contains(name: string): boolean;
  rawHeaders(): Record<string, string>;
}

function responseHeaders(h: Headers): HeadersLike {
  const map: Record<string, string> = {};
  h.forEach((v, k) => { map[k] = v; });
  return {
    toJson: () => ({ ...map }),
    rawHeaders: () => ({ ...map }),
    get: (n) => map[n.toLowerCase()],
    contains: (n) => n.toLowerCase() in map,
  };
}

export interface PipelineHttpClient {
  sendRequest(request: PipelineRequestLike): Promise<{
    request: PipelineRequestLike;
    status: number;
    headers: HeadersLike;
    bodyAsText?: string | null;
    readableStreamBody?: NodeJS.ReadableStream;
  }>;
}

async function toBody(body: unknown): Promise<NonNullable<RequestInit['body']> | undefined> {
  let b = body;
  if (typeof b === 'function') b = (b as () => unknown)();
  if (b === undefined || b === null) return undefined;
  if (typeof b === 'string' || b instanceof Uint8Array || b instanceof ArrayBuffer || b instanceof Blob || b instanceof ReadableStream) return b as NonNullable<RequestInit['body']>;
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength) as NonNullable<RequestInit['body']>;
  if (b instanceof Readable) return Readable.toWeb(b) as unknown as NonNullable<RequestInit['body']>;
  throw new Error(`pipeline http client: unsupported request body type ${Object.prototype.toString.call(b)}`);
}

export function pipelineHttpClient(doFetch: SdkFetch): PipelineHttpClient {
  return {
    async sendRequest(request) {
      const body = await toBody(request.body);
      const init: RequestInit & { duplex?: 'half' } = {
        method: request.method,
        headers: request.headers.rawHeaders(),
        body,
        signal: (request.abortSignal as AbortSignal | undefined) ?? undefined,
      };
      if (body instanceof ReadableStream) init.duplex = 'half';
      const res = await doFetch(request.url, init);
      const headers = responseHeaders(res.headers);
      const streamed = request.streamResponseStatusCodes?.has(res.status) || request.streamResponseStatusCodes?.has(Number.POSITIVE_INFINITY);
      if (streamed) {
        const readable = res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([]);
        return { request, status: res.status, headers, readableStreamBody: readable };
      }
      return { request, status: res.status, headers, bodyAsText: await res.text() };
    },
  };
}

/** A Node stream (an Azure SDK download body) as a web stream, for the Bucket interface. */
export function nodeToWebStream(s: NodeJS.ReadableStream): ReadableStream<Uint8Array> {
  return Readable.toWeb(s instanceof Readable ? s : Readable.from(s as AsyncIterable<Uint8Array>)) as unknown as ReadableStream<Uint8Array>;
}

/** A web stream (a Bucket upload body) as a Node stream, for SDKs that take one. */
export function webToNodeStream(s: ReadableStream<Uint8Array>): NodeJS.ReadableStream {
  return Readable.fromWeb(s as import('node:stream/web').ReadableStream<Uint8Array>);
}
