// A urllib-shaped client over a fetch function, for SDKs that take one (ali-oss's `urllib`
// option): the plugin passes its ctx.fetch (via sdkFetch), so the `net` grant applies to every
// request the SDK makes. Only what those SDKs read is provided: status, lower-case headers, the
// body as a Buffer, or as a Node stream when the caller asked for the raw response
// (customResponse). Node streams are the SDK's currency, hence node:stream here in lib.
import { Readable } from 'node:stream';
import type { SdkFetch } from './sdkfetch.ts';

export interface UrllibParams {
  method?: string;
  headers?: Record<string, string | number>;
  content?: string | Uint8Array;
  stream?: NodeJS.ReadableStream;
  customResponse?: boolean;
  timeout?: number | number[];
}

export interface UrllibResult {
  status: number;
  headers: Record<string, string>;
  data?: Buffer;
  res: Record<string, unknown> | (Readable & { status: number; statusCode: number; headers: Record<string, string> });
}

/** Headers fetch sets itself (and refuses): the framing is the runtime's business. */
const DROP = new Set(['content-length', 'transfer-encoding', 'host', 'connection']);

export function urllibOverFetch(doFetch: SdkFetch): { request(url: string, params?: UrllibParams): Promise<UrllibResult> } {
  return {
    async request(url, p = {}) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.headers ?? {})) if (!DROP.has(k.toLowerCase())) headers[k] = String(v);
      const init: RequestInit & { duplex?: 'half' } = { method: p.method ?? 'GET', headers };
      if (p.content !== undefined) init.body = typeof p.content === 'string' ? p.content : (p.content as Uint8Array<ArrayBuffer>);
      else if (p.stream) {
        init.body = Readable.toWeb(p.stream as Readable) as unknown as ReadableStream<Uint8Array>;
        init.duplex = 'half';
      }
      let res: Response;
      try {
        res = await doFetch(url, init);
      } catch (err) {
        // urllib's shape for "no answer" (status -1); the SDK rebuilds its error from name and
        // message, so a permission denial keeps both.
        const e = err as Error;
        throw Object.assign(new Error(e.message, { cause: err }), { name: e.name, status: -1 });
      }
      const h: Record<string, string> = {};
      res.headers.forEach((v, k) => { h[k] = v; });
      // An error answer is read whole, so the SDK can parse the error document.
      if (p.customResponse && res.status < 300) {
        const stream = (res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([])) as Readable & { status: number; statusCode: number; headers: Record<string, string> };
        Object.assign(stream, { status: res.status, statusCode: res.status, headers: h });
        return { status: res.status, headers: h, res: stream };
      }
      const data = Buffer.from(await res.arrayBuffer());
      return {
        status: res.status,
        headers: h,
        data,
        res: { status: res.status, statusCode: res.status, headers: h, size: data.length, aborted: false, rt: 0, keepAliveSocket: false, requestUrls: [url], timing: null, remoteAddress: '', remotePort: 0 },
      };
    },
  };
}
