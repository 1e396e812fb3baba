// The SWIFT Bucket: OpenStack Swift's object API over the host's fetch capability. Listing with
// ?format=json&prefix=&delimiter=/ and markers, ranged GET, HEAD, PUT, DELETE; uploads of at least
// large_object_chunk_size become Static Large Objects (or Dynamic ones) with their segments under
// segments/ in the segments container. A 401 re-authenticates once.
import { sleep, type Capabilities, type FetchFunction, type Logger } from '../../../lib/sdk/mod.ts';
import { ObjectNotFoundError, existsBy, isObjectNotFound, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../../lib/objstore/util.ts';
import {
  NetworkError, arrayParts, backoffMs, describeNetErr, fetchWithHeaderTimeout, isPermissionDenied, isRetryableStatus, md5, NO_ABORT,
  streamParts, toHex, uriEncode,
} from '../../../lib/objstore/kit/mod.ts';
import { authenticate, type SwiftSession } from './auth.ts';
import type { SwiftConfig } from './config.ts';

export const SEGMENTS_DIR = 'segments/';

export class SwiftError extends Error {
  constructor(readonly status: number, readonly operation: string, readonly resource: string, detail: string) {
    super(`swift ${operation} ${resource}: ${status}${detail ? ` ${detail}` : ''}${SwiftError.hint(status)}`);
    this.name = 'SwiftError';
  }

  static hint(status: number): string {
    switch (status) {
      case 401: return ' (the token was refused; check the credentials)';
      case 403: return ' (the user lacks access to this container)';
      case 413: return ' (object too large for a single PUT; lower large_object_chunk_size)';
      default: return '';
    }
  }
}

interface Req {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST';
  container: string;
  name?: string;
  query?: Array<[string, string]>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  op: string;
}

export interface SwiftBucketOptions {
  /** For tests: listing page size (Swift's limit; default 10000). */
  pageSize?: number;
  /** The checked fetch auth and object requests go through (http_config's TLS settings applied); default ctx.fetch. */
  fetch?: FetchFunction;
}

export class SwiftBucket implements Bucket {
  readonly provider = 'SWIFT';
  private session: SwiftSession | undefined;
  private authing: Promise<SwiftSession> | undefined;
  private readonly log: Logger;
  private readonly segmentsContainer: string;
  private closed = false;
  private readonly headerTimeoutMs: number;

  constructor(private readonly ctx: Capabilities, private readonly cfg: SwiftConfig, private readonly opts: SwiftBucketOptions = {}) {
    this.log = ctx.log.with({ container: cfg.containerName, provider: 'SWIFT' });
    this.segmentsContainer = cfg.largeObjectSegmentsContainerName || cfg.containerName;
    const limits = [cfg.timeoutMs, cfg.http.responseHeaderTimeoutMs].filter((x) => x > 0);
    this.headerTimeoutMs = limits.length ? Math.min(...limits) : 0;
  }

  private fetcher(what: string, timeoutMs: number) {
    return (url: string, init: RequestInit) => fetchWithHeaderTimeout((u, i) => (this.opts.fetch ? this.opts.fetch(u, i) : this.ctx.fetch(u, i)), url, init, timeoutMs, what);
  }

  /** Authenticates (once at a time); `force` drops the current token. */
  async auth(force = false): Promise<SwiftSession> {
    if (force) this.session = undefined;
    if (this.session) return this.session;
    if (!this.authing) {
      const deadline = this.cfg.connectTimeoutMs + this.cfg.timeoutMs;
      this.authing = authenticate(this.cfg, this.fetcher('swift auth', deadline))
        .catch((err: unknown) => {
          if (isPermissionDenied(err) || (err instanceof Error && err.name === 'SwiftAuthError')) throw err;
          throw new NetworkError(`swift auth ${this.cfg.authUrl}: ${describeNetErr(err)}`, err);
        })
        .finally(() => { this.authing = undefined; });
    }
    this.session = await this.authing;
    return this.session;
  }

  /** Checks that the container (and the segments container) exist, as Thanos does at start. */
  async verify(): Promise<void> {
    for (const c of new Set([this.cfg.containerName, this.segmentsContainer])) {
      const res = await this.send({ method: 'HEAD', container: c, op: 'verify' });
      await res.body?.cancel().catch(() => {});
      if (res.status === 404) throw new Error(`swift: container ${JSON.stringify(c)} does not exist (create it first; check container_name)`);
      if (!res.ok) throw new SwiftError(res.status, 'verify', c, res.statusText);
    }
  }

  private url(session: SwiftSession, r: Req): string {
    let u = `${session.storageUrl}/${uriEncode(r.container)}`;
    if (r.name !== undefined) u += `/${uriEncode(r.name, true)}`;
    if (r.query && r.query.length) u += '?' + r.query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&');
    return u;
  }

  private async send(r: Req): Promise<Response> {
    if (this.closed) throw new Error('swift bucket: used after close()');
    const what = `swift ${r.op} ${r.container}/${r.name ?? ''}`;
    let reauthed = false;
    for (let attempt = 0; ; attempt++) {
      const session = await this.auth();
      const init: RequestInit = { method: r.method, headers: { ...(r.headers ?? {}), 'X-Auth-Token': session.token } };
      if (r.body) init.body = r.body as Uint8Array<ArrayBuffer>;
      let res: Response;
      try {
        res = await this.fetcher(what, this.headerTimeoutMs)(this.url(session, r), init);
      } catch (err) {
        if (isPermissionDenied(err)) throw err;
        // Network failures are retried (requests are idempotent; bodies are buffered).
        if (attempt < this.cfg.retries) {
          this.log.debug('swift request failed, retrying', { op: r.op, err: String(err), attempt });
          await sleep(backoffMs(attempt), NO_ABORT);
          continue;
        }
        throw new NetworkError(`${what}: ${describeNetErr(err)}`, err);
      }
      if (res.status === 401 && !reauthed) {
        await res.body?.cancel().catch(() => {});
        reauthed = true;
        await this.auth(true);
        continue;
      }
      if (isRetryableStatus(res.status) && attempt < this.cfg.retries) {
        await res.body?.cancel().catch(() => {});
        await sleep(backoffMs(attempt), NO_ABORT);
        continue;
      }
      return res;
    }
  }

  private async fail(res: Response, r: Req, name?: string): Promise<never> {
    let detail = res.statusText;
    if (r.method !== 'HEAD') {
      const text = (await res.text().catch(() => '')).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
      if (text) detail = text.slice(0, 200);
    } else {
      await res.body?.cancel().catch(() => {});
    }
    const err = new SwiftError(res.status, r.op, `${r.container}/${r.name ?? ''}`, detail);
    if (res.status === 404 && name !== undefined) throw new ObjectNotFoundError(name, err);
    throw err;
  }

  private async call(r: Req, name?: string): Promise<Response> {
    const res = await this.send(r);
    if (!res.ok) await this.fail(res, r, name);
    return res;
  }

  // ---- Bucket ------------------------------------------------------------------------------

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const prefix = normalizeDir(dir);
    const limit = this.opts.pageSize ?? 10_000;
    const sameContainerSegments = this.segmentsContainer === this.cfg.containerName;
    let marker = '';
    for (;;) {
      const query: Array<[string, string]> = [['format', 'json'], ['limit', String(limit)], ['prefix', prefix]];
      if (!opts.recursive) query.push(['delimiter', '/']);
      if (marker) query.push(['marker', marker]);
      const r: Req = { method: 'GET', container: this.cfg.containerName, query, op: 'iter' };
      const res = await this.call(r);
      const entries = res.status === 204 ? [] : ((await res.json()) as Array<{ name?: string; subdir?: string }>);
      if (!Array.isArray(entries)) throw new Error(`swift iter ${this.cfg.containerName}/${prefix}: the listing is not a JSON array`);
      for (const e of entries) {
        const n = e.subdir ?? e.name ?? '';
        if (n === '' || n === prefix) continue;
        if (sameContainerSegments && (n === SEGMENTS_DIR || (prefix === '' && n.startsWith(SEGMENTS_DIR)))) continue;
        yield n;
      }
      if (entries.length < limit) return;
      const last = entries[entries.length - 1]!;
      const next = last.subdir ?? last.name ?? '';
      if (!next || next === marker) throw new Error(`swift iter ${this.cfg.containerName}/${prefix}: listing did not advance`);
      marker = next;
    }
  }

  async get(name: string): Promise<ReadableStream<Uint8Array>> {
    return this.getRange(name, 0, -1);
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    checkObjectName(name);
    checkRangeArgs(`swift getRange ${name}`, off, len);
    if (len === 0) {
      await this.attributes(name);
      return emptyStream();
    }
    const toEnd = len === undefined || len < 0;
    const headers: Record<string, string> = {};
    if (!toEnd) headers['Range'] = `bytes=${off}-${off + len! - 1}`;
    else if (off > 0) headers['Range'] = `bytes=${off}-`;
    const r: Req = { method: 'GET', container: this.cfg.containerName, name, headers, op: headers['Range'] ? 'get_range' : 'get' };
    const res = await this.send(r);
    if (res.status === 416) {
      await res.body?.cancel().catch(() => {});
      return emptyStream();
    }
    if (!res.ok) await this.fail(res, r, name);
    return res.body ?? emptyStream();
  }

  private async head(name: string): Promise<Response> {
    checkObjectName(name);
    const res = await this.call({ method: 'HEAD', container: this.cfg.containerName, name, op: 'attributes' }, name);
    await res.body?.cancel().catch(() => {});
    return res;
  }

  exists(name: string): Promise<boolean> {
    return existsBy(() => this.head(name));
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const res = await this.head(name);
    const size = Number(res.headers.get('content-length') ?? NaN);
    const lm = res.headers.get('last-modified');
    const lastModified = lm ? new Date(lm) : new Date(NaN);
    if (!Number.isFinite(size) || Number.isNaN(lastModified.getTime())) {
      throw new Error(`swift attributes ${this.cfg.containerName}/${name}: answer lacks Content-Length or Last-Modified`);
    }
    return { size, lastModified };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    const chunk = this.cfg.largeObjectChunkSize;
    if (body instanceof Uint8Array) {
      if (body.length < chunk) return this.putObject(name, body);
      return this.largeObject(name, arrayParts(body, chunk));
    }
    const reader = body.getReader();
    const parts = streamParts(reader, chunk);
    const first = await parts.next();
    if (first.done) return this.putObject(name, new Uint8Array(0));
    if (first.value.length < chunk) {
      const more = await parts.next();
      if (more.done) return this.putObject(name, first.value);
    }
    async function* all(): AsyncGenerator<Uint8Array> {
      yield first.value as Uint8Array;
      yield* parts;
    }
    try {
      await this.largeObject(name, all());
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    }
  }

  private async putObject(name: string, data: Uint8Array): Promise<void> {
    const res = await this.call({
      method: 'PUT', container: this.cfg.containerName, name, body: data, op: 'upload',
      headers: { 'Content-Type': 'application/octet-stream', ETag: toHex(md5(data)) },
    });
    await res.body?.cancel().catch(() => {});
  }

  /** Segments, then the manifest (SLO by default, DLO with use_dynamic_large_objects). */
  private async largeObject(name: string, parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const stamp = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const segPrefix = `${SEGMENTS_DIR}${name}/${stamp}/`;
    const segments: Array<{ path: string; name: string; etag: string; size_bytes: number }> = [];
    try {
      let n = 0;
      for await (const part of parts) {
        const segName = `${segPrefix}${String(++n).padStart(8, '0')}`;
        const etag = toHex(md5(part));
        const res = await this.call({
          method: 'PUT', container: this.segmentsContainer, name: segName, body: part, op: 'upload',
          headers: { 'Content-Type': 'application/octet-stream', ETag: etag },
        });
        await res.body?.cancel().catch(() => {});
        segments.push({ path: `/${this.segmentsContainer}/${segName}`, name: segName, etag, size_bytes: part.length });
      }
      if (this.cfg.useDynamicLargeObjects) {
        const res = await this.call({
          method: 'PUT', container: this.cfg.containerName, name, body: new Uint8Array(0), op: 'upload',
          headers: { 'Content-Type': 'application/octet-stream', 'X-Object-Manifest': `${uriEncode(this.segmentsContainer)}/${uriEncode(segPrefix, true)}` },
        });
        await res.body?.cancel().catch(() => {});
      } else {
        const manifest = JSON.stringify(segments.map((s) => ({ path: s.path, etag: s.etag, size_bytes: s.size_bytes })));
        const res = await this.call({
          method: 'PUT', container: this.cfg.containerName, name, body: new TextEncoder().encode(manifest), op: 'upload',
          query: [['multipart-manifest', 'put']], headers: { 'Content-Type': 'application/octet-stream' },
        });
        await res.body?.cancel().catch(() => {});
      }
    } catch (err) {
      for (const s of segments) {
        try {
          const res = await this.send({ method: 'DELETE', container: this.segmentsContainer, name: s.name, op: 'upload' });
          await res.body?.cancel().catch(() => {});
        } catch (e) {
          this.log.warn('swift: could not remove a segment of a failed upload', { segment: s.name, err: String(e) });
        }
      }
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    // HEAD first: a missing object is a not-found error, and large objects lose their segments too.
    const head = await this.head(name);
    const dlo = head.headers.get('x-object-manifest');
    const slo = (head.headers.get('x-static-large-object') ?? '').toLowerCase() === 'true';
    if (slo) {
      const r: Req = {
        method: 'DELETE', container: this.cfg.containerName, name, op: 'delete',
        query: [['multipart-manifest', 'delete']], headers: { Accept: 'application/json' },
      };
      const res = await this.call(r, name);
      // The SLO delete is a bulk operation: 200 with a per-item report in the body.
      const text = await res.text();
      let report: { 'Response Status'?: string; Errors?: unknown[] } = {};
      try { report = JSON.parse(text); } catch { /* older proxies answer in plain text */ }
      const status = report['Response Status'] ?? '';
      if (status && !/^2\d\d/.test(status) && !/^404/.test(status)) {
        throw new SwiftError(Number(status.slice(0, 3)) || 500, 'delete', `${this.cfg.containerName}/${name}`, `${status} ${JSON.stringify(report.Errors ?? [])}`);
      }
      return;
    }
    if (dlo) await this.deleteDloSegments(dlo);
    const res = await this.call({ method: 'DELETE', container: this.cfg.containerName, name, op: 'delete' }, name);
    await res.body?.cancel().catch(() => {});
  }

  private async deleteDloSegments(manifest: string): Promise<void> {
    const decoded = decodeURIComponent(manifest);
    const slash = decoded.indexOf('/');
    if (slash < 0) return;
    const container = decoded.slice(0, slash);
    const prefix = decoded.slice(slash + 1);
    if (!prefix.startsWith(SEGMENTS_DIR)) return; // only ever remove what this plugin wrote
    const res = await this.call({ method: 'GET', container, query: [['format', 'json'], ['prefix', prefix]], op: 'delete' });
    const entries = res.status === 204 ? [] : ((await res.json()) as Array<{ name: string }>);
    for (const e of entries) {
      const d = await this.send({ method: 'DELETE', container, name: e.name, op: 'delete' });
      await d.body?.cancel().catch(() => {});
    }
  }

  isObjNotFoundErr(err: unknown): boolean {
    return isObjectNotFound(err);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
