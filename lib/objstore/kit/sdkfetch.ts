// The fetch a vendor SDK is given (AWS's FetchHttpHandler customFetch, Azure's HttpClient, ...): the
// plugin's ctx.fetch (or its ctx.httpClient for http_config's TLS settings), so the `net` grant applies to every request the SDK makes, with Thanos's
// response_header_timeout and an optional trace line per request. The SDK signs, retries and
// parses; this only carries the bytes.
import type { Capabilities, FetchFunction } from '../../sdk/mod.ts';
import { fetchWithHeaderTimeout } from './http.ts';

export interface SdkFetchOptions {
  /** For error messages: "s3", "gcs", ... */
  what: string;
  /** http_config.response_header_timeout in ms (0 = none). */
  headerTimeoutMs: number;
  /** Called once per answered request (trace.enable, tests, benchmarks). */
  onResponse?: (ev: { method: string; url: string; status: number; ms: number }) => void;
  /** The checked fetch to send through (httpConfigFetch's, for http_config's TLS settings); default ctx.fetch. */
  fetch?: FetchFunction;
}

export type SdkFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A fetch function over ctx.fetch for an SDK's HTTP layer. */
export function sdkFetch(ctx: Capabilities, o: SdkFetchOptions): SdkFetch {
  const send: FetchFunction = o.fetch ?? ((u, i) => ctx.fetch(u, i));
  return async (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const url = input instanceof Request ? input.url : String(input);
    const started = Date.now();
    const res = await fetchWithHeaderTimeout(send, input as string, init ?? {}, o.headerTimeoutMs, `${o.what} ${method} ${redactUrl(url)}`);
    o.onResponse?.({ method, url: redactUrl(url), status: res.status, ms: Date.now() - started });
    return res;
  };
}

/** Query parameters that carry credentials (presigned URLs, SAS tokens) never reach a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|sig|Signature|OSSAccessKeyId|q-signature|access_token)=)[^&]*/gi, '$1REDACTED');
}
