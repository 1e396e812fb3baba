// The GCS Bucket: Google's generated JSON API client (@googleapis/storage) for list / metadata /
// delete / one-request uploads, with every request it makes (and the OAuth token requests of
// google-auth-library behind it) sent through the plugin's fetch (ctx.fetch, so the `net` grant
// applies). Object reads (alt=media with Range) and the resumable upload protocol are done here on
// the same fetch with the same authorization headers: the generated client has no resumable
// chunking, and reading through it would buffer the body in gaxios.
import { ObjectNotFoundError, existsBy, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../../lib/objstore/util.ts';
import { sleep } from '../../../lib/sdk/mod.ts';
import { webToNodeStream } from '../../../lib/objstore/kit/pipelinehttp.ts';
import { NO_ABORT, NetworkError, backoffMs, describeNetErr, isPermissionDenied, isRetryableStatus, streamParts, type SdkFetch } from '../../../lib/objstore/kit/mod.ts';
import type { GcsConfig } from './config.ts';

/** An error answer from GCS (the JSON API's error.code / error.message). */
export class GcsError extends Error {
  constructor(readonly status: number, message: string, op: string, resource: string) {
    super(`gcs ${op} ${resource}: ${status}${message ? `: ${message}` : ''}${status === 401 ? ' (check service_account)' : ''}`);
    this.name = 'GcsError';
  }

  get retryable(): boolean {
    return this.status === 429 || this.status === 408 || isRetryableStatus(this.status);
  }
}

/** What this plugin uses of google-auth-library's clients (JWT, OAuth2Client). */
export interface GcsAuth {
  getRequestHeaders(url?: string): Promise<Headers | Record<string, string>>;
}

/** What this plugin uses of @googleapis/storage's storage_v1.Storage. */
export interface GcsApi {
  objects: {
    list(p: Record<string, unknown>, o?: object): Promise<{ data: { items?: Array<{ name?: string | null }> | null; prefixes?: string[] | null; nextPageToken?: string | null } }>;
    get(p: Record<string, unknown>, o?: object): Promise<{ data: { size?: string | null; updated?: string | null } }>;
    delete(p: Record<string, unknown>, o?: object): Promise<unknown>;
    insert(p: Record<string, unknown>, o?: object): Promise<unknown>;
  };
}

const enc = encodeURIComponent;
const MIME = 'application/octet-stream';

export class GcsBucket implements Bucket {
  readonly provider = 'GCS';
  private closed = false;

  constructor(
    private readonly api: GcsApi,
    private readonly auth: GcsAuth,
    private readonly fetch: SdkFetch,
    private readonly cfg: GcsConfig,
    /** The JSON API root, ending in '/' (https://storage.googleapis.com/). */
    private readonly root: string,
  ) {}

  /** gaxios's retry decision per request: network errors and 408/429/5xx on idempotent methods, up to max attempts; never a net denial. */
  private retryConfig() {
    const attempts = this.cfg.maxAttempts;
    return {
      retry: attempts - 1,
      noResponseRetries: attempts - 1,
      shouldRetry: (err: { config?: { method?: string; retryConfig?: { currentRetryAttempt?: number } }; status?: number; response?: { status?: number } }) => {
        if (permissionDenied(err)) return false;
        if ((err.config?.retryConfig?.currentRetryAttempt ?? 0) >= attempts - 1) return false;
        if (!['GET', 'HEAD', 'PUT', 'DELETE'].includes(String(err.config?.method ?? 'GET').toUpperCase())) return false;
        const s = err.response?.status ?? err.status;
        return s === undefined || s === 408 || s === 429 || s >= 500;
      },
    };
  }

  private opts(): object {
    // rootUrl per call: the generated client rewrites only the JSON URL from its global option, not the upload (media) URL.
    return { rootUrl: this.root, retryConfig: this.retryConfig() };
  }

  private async call<T>(op: string, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('gcs bucket: used after close()');
    try {
      return await fn();
    } catch (err) {
      throw this.mapError(err, op, name);
    }
  }

  private mapError(err: unknown, op: string, name: string | undefined): unknown {
    const pd = permissionDenied(err);
    if (pd) return pd;
    if (err instanceof GcsError || err instanceof ObjectNotFoundError || err instanceof NetworkError) return err;
    const resource = `${this.cfg.bucket}/${name ?? ''}`;
    const e = err as { status?: number; response?: { status?: number; data?: unknown }; message?: string };
    const status = e?.response?.status ?? e?.status;
    if (typeof status === 'number' && status > 0) {
      if (status === 404 && name !== undefined) return new ObjectNotFoundError(name, err);
      const data = e.response?.data as { error?: { message?: string } | string; error_description?: string } | undefined;
      const msg = typeof data?.error === 'object' ? data.error.message : data?.error_description ?? (typeof data?.error === 'string' ? data.error : e.message);
      return new GcsError(status, String(msg ?? '').split('\n')[0]!, op, resource);
    }
    return new NetworkError(`gcs ${op} ${resource}: ${describeNetErr(err)}`, err);
  }

  /** fetch with the client's authorization header; retries network errors and retryable statuses for idempotent requests. */
  private async authFetch(op: string, name: string, url: string, init: RequestInit, idempotent: boolean): Promise<Response> {
    if (this.closed) throw new Error('gcs bucket: used after close()');
    for (let attempt = 0; ; attempt++) {
      const last = !idempotent || attempt >= this.cfg.maxAttempts - 1;
      let res: Response;
      try {
        const headers = new Headers(init.headers);
        const auth = await this.auth.getRequestHeaders(url);
        new Headers(auth as ConstructorParameters<typeof Headers>[0]).forEach((v, k) => headers.set(k, v));
        res = await this.fetch(url, { ...init, headers });
      } catch (err) {
        const mapped = this.mapError(err, op, name);
        if (last || !(mapped instanceof NetworkError)) throw mapped;
        await sleep(backoffMs(attempt, 5_000), NO_ABORT);
        continue;
      }
      if (res.ok || res.status === 308 || res.status === 416) return res;
      const body = await res.text().catch(() => '');
      if (res.status === 404) throw new ObjectNotFoundError(name);
      const err = new GcsError(res.status, jsonMessage(body), op, `${this.cfg.bucket}/${name}`);
      if (last || !err.retryable) throw err;
      await sleep(backoffMs(attempt, 5_000), NO_ABORT);
    }
  }

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const prefix = normalizeDir(dir);
    let pageToken: string | undefined;
    for (;;) {
      const p: Record<string, unknown> = { bucket: this.cfg.bucket, prefix, maxResults: 1000, fields: 'items(name),prefixes,nextPageToken' };
      if (!opts.recursive) p.delimiter = '/';
      if (pageToken) p.pageToken = pageToken;
      const r = await this.call('iter', undefined, () => this.api.objects.list(p, this.opts()));
      const names = [...(r.data.items ?? []).map((o) => o.name ?? ''), ...(r.data.prefixes ?? [])].filter((n) => n !== '' && n !== prefix).sort();
      yield* names;
      if (!r.data.nextPageToken) return;
      pageToken = r.data.nextPageToken;
    }
  }

  get(name: string) { return this.getRange(name, 0, -1); }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    checkObjectName(name);
    checkRangeArgs('gcs get_range', off, len);
    if (len === 0) { await this.attributes(name); return emptyStream(); }
    const whole = off === 0 && (len === undefined || len < 0);
    const headers: Record<string, string> = whole ? {} : { Range: `bytes=${off}-${len !== undefined && len >= 0 ? off + len - 1 : ''}` };
    const url = `${this.root}storage/v1/b/${enc(this.cfg.bucket)}/o/${enc(name)}?alt=media`;
    const res = await this.authFetch('get', name, url, { method: 'GET', headers }, true);
    // 416: the range starts at or past the end (an empty object answers so for any range).
    if (res.status === 416) { await res.body?.cancel(); return emptyStream(); }
    return res.body ?? emptyStream();
  }

  exists(name: string): Promise<boolean> {
    return existsBy(() => this.attributes(name));
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    checkObjectName(name);
    const r = await this.call('attributes', name, () => this.api.objects.get({ bucket: this.cfg.bucket, object: name, fields: 'size,updated' }, this.opts()));
    return { size: Number(r.data.size ?? 0), lastModified: new Date(r.data.updated ?? 0) };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    const size = this.cfg.chunkSize;
    if (body instanceof Uint8Array) {
      if (body.length <= size) return this.insert(name, body);
      body = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(body as Uint8Array); c.close(); } });
    }
    const reader = body.getReader();
    try {
      const parts = streamParts(reader, size);
      const first = await parts.next();
      const second = first.done ? first : await parts.next();
      // Everything fits in one chunk: one multipart request, as Go's client does for small media.
      if (second.done) return await this.insert(name, first.done ? new Uint8Array(0) : first.value);
      await this.resumable(name, first.value, second.value, parts);
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }

  /** objects.insert through the generated client (uploadType=multipart: metadata + media). */
  private async insert(name: string, data: Uint8Array): Promise<void> {
    await this.call('upload', name, () => this.api.objects.insert(
      { bucket: this.cfg.bucket, requestBody: { name, contentType: MIME }, media: { mimeType: MIME, body: webToNodeStream(new ReadableStream<Uint8Array>({ start(c) { c.enqueue(data); c.close(); } })) }, fields: 'name' },
      this.opts(),
    ));
  }

  /**
   * GCS's resumable upload: POST uploadType=resumable opens a session (its URI in Location), then
   * PUT each chunk with Content-Range "bytes a-b/*" (the total only on the last). 308 = "more",
   * with Range = what GCS persisted; a failed chunk is retried from there after a status query
   * (PUT, "bytes * /*"), as the protocol describes.
   */
  private async resumable(name: string, first: Uint8Array, second: Uint8Array, rest: AsyncGenerator<Uint8Array>): Promise<void> {
    const open = `${this.root}upload/storage/v1/b/${enc(this.cfg.bucket)}/o?uploadType=resumable&name=${enc(name)}`;
    const r0 = await this.authFetch('upload', name, open, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=UTF-8', 'X-Upload-Content-Type': MIME },
      body: JSON.stringify({ name, contentType: MIME }),
    }, false);
    await r0.body?.cancel();
    const session = r0.headers.get('location');
    if (!session) throw new GcsError(r0.status, 'resumable upload: no session URI (Location) in the answer', 'upload', `${this.cfg.bucket}/${name}`);
    let off = 0;
    let cur = first;
    let next: Uint8Array | undefined = second;
    for (;;) {
      const isLast = next === undefined;
      // streamParts reuses nothing, so `cur` stays valid while `next` is read.
      await this.putChunk(name, session, off, cur, isLast);
      off += cur.length;
      if (isLast) return;
      cur = next!;
      const n = await rest.next();
      next = n.done ? undefined : n.value;
    }
  }

  private async putChunk(name: string, session: string, off: number, chunk: Uint8Array, isLast: boolean): Promise<void> {
    let sent = 0; // bytes of this chunk GCS has persisted
    for (let attempt = 0; ; attempt++) {
      const data = chunk.subarray(sent);
      const start = off + sent;
      const total = isLast ? String(off + chunk.length) : '*';
      const range = data.length > 0 ? `bytes ${start}-${start + data.length - 1}/${total}` : `bytes */${total}`;
      let res: Response | undefined;
      let failure: unknown;
      try {
        res = await this.authFetch('upload', name, session, { method: 'PUT', headers: { 'Content-Range': range }, body: data }, false);
      } catch (err) {
        failure = err;
      }
      if (res) {
        await res.body?.cancel();
        if (res.status === 200 || res.status === 201) {
          if (isLast) return;
          throw new GcsError(res.status, 'resumable upload: finished before the last chunk', 'upload', `${this.cfg.bucket}/${name}`);
        }
        if (res.status === 308) {
          const persisted = persistedEnd(res.headers.get('range'));
          if (!isLast && persisted >= off + chunk.length) return;
          if (persisted > start) { sent = persisted - off; attempt = -1; }
          failure = new GcsError(308, `resumable upload: ${persisted} of ${off + chunk.length} bytes persisted`, 'upload', `${this.cfg.bucket}/${name}`);
        } else {
          failure = new GcsError(res.status, '', 'upload', `${this.cfg.bucket}/${name}`);
        }
      }
      const retryable = failure instanceof NetworkError || (failure instanceof GcsError && (failure.retryable || failure.status === 308));
      if (!retryable || attempt >= this.cfg.maxAttempts - 1) throw failure;
      if (!(failure instanceof GcsError && failure.status === 308)) {
        await sleep(backoffMs(Math.max(0, attempt), 5_000), NO_ABORT);
        // Ask where the session stands before resending.
        const q = await this.authFetch('upload', name, session, { method: 'PUT', headers: { 'Content-Range': `bytes */${isLast ? off + chunk.length : '*'}` } }, false).catch(() => undefined);
        if (q) {
          await q.body?.cancel();
          if ((q.status === 200 || q.status === 201) && isLast) return;
          if (q.status === 308) sent = Math.max(0, Math.min(chunk.length, persistedEnd(q.headers.get('range')) - off));
        }
      }
    }
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    await this.call('delete', name, () => this.api.objects.delete({ bucket: this.cfg.bucket, object: name }, this.opts()));
  }

  isObjNotFoundErr(err: unknown): boolean { return err instanceof ObjectNotFoundError; }

  async close(): Promise<void> { this.closed = true; }
}

/** A 308's Range header "bytes=0-N" -> N+1 (0 when absent: nothing persisted). */
function persistedEnd(range: string | null): number {
  const m = /^bytes=0-(\d+)$/.exec(range ?? '');
  return m ? Number(m[1]) + 1 : 0;
}

function jsonMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: string } | string; error_description?: string };
    return (typeof j.error === 'object' ? j.error.message : j.error_description ?? j.error) ?? '';
  } catch { return body.slice(0, 200); }
}

/** The host's PermissionDenied, found on the error or its causes (gaxios wraps fetch's failure). */
function permissionDenied(err: unknown): Error | undefined {
  for (let e = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) if (isPermissionDenied(e)) return e as Error;
  return undefined;
}
