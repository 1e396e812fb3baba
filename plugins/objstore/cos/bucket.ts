// The COS Bucket: COS's XML API sent by the plugin through ctx.fetch, each request signed by the
// vendor SDK's exported signer (COS.getAuthorization: q-sign-algorithm=sha1, Host and every query
// parameter signed). The SDK's own sender (cos-request) cannot be routed through ctx.fetch.
import { ObjectNotFoundError, existsBy, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../../lib/objstore/util.ts';
import { NetworkError, childText, childrenNamed, describeNetErr, escapeXml, isPermissionDenied, isRetryableStatus, parseXml, rootElement, streamParts, type SdkFetch } from '../../../lib/objstore/kit/mod.ts';
import type { CosConfig } from './config.ts';

/** COS.getAuthorization's options, as far as used here. */
export type CosSigner = (o: { SecretId: string; SecretKey: string; Method: string; Pathname: string; Query: Record<string, string>; Headers: Record<string, string>; Expires?: number }) => string;

/** An error answer from COS (its XML Error: Code, Message). */
export class CosError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, op: string, resource: string) {
    super(`cos ${op} ${resource}: ${status} ${code}${message ? `: ${message}` : ''}${code === 'SignatureDoesNotMatch' ? ' (check secret_key)' : code === 'InvalidAccessKeyId' ? ' (check secret_id)' : ''}`);
    this.name = 'CosError';
  }

  get retryable(): boolean {
    return this.status === 429 || isRetryableStatus(this.status);
  }
}

/** Multipart part size: COS's parts are 1 MiB .. 5 GiB (the last may be smaller); 64 MiB keeps one part in memory modest. */
export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;

export class CosBucket implements Bucket {
  readonly provider = 'COS';
  private closed = false;
  private readonly base: URL;

  constructor(private readonly fetch: SdkFetch, private readonly sign: CosSigner, private readonly cfg: CosConfig, private readonly partSize = DEFAULT_PART_SIZE) {
    this.base = new URL(cfg.bucketUrl);
  }

  private async req(op: string, name: string | undefined, method: string, key: string, query: Record<string, string>, init: { headers?: Record<string, string>; body?: Uint8Array | string } = {}): Promise<Response> {
    if (this.closed) throw new Error('cos bucket: used after close()');
    const path = `${this.base.pathname.replace(/\/+$/, '')}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const authorization = this.sign({
      SecretId: this.cfg.secretId, SecretKey: this.cfg.secretKey, Method: method,
      Pathname: decodeURIComponent(url.pathname), Query: query, Headers: { host: url.host },
    });
    const resource = `${this.cfg.bucket || url.host}/${name ?? key}`;
    let res: Response;
    try {
      res = await this.fetch(url.href, { method, headers: { ...init.headers, Authorization: authorization }, body: init.body });
    } catch (err) {
      for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) if (isPermissionDenied(e)) throw e;
      throw new NetworkError(`cos ${op} ${resource}: ${describeNetErr(err)}`, err);
    }
    if (res.ok) return res;
    const text = method === 'HEAD' ? '' : await res.text().catch(() => '');
    let code = '', message = '';
    try { const e = rootElement(parseXml(text)); code = childText(e, 'Code') ?? ''; message = childText(e, 'Message') ?? ''; } catch { message = text.slice(0, 200); }
    if (res.status === 416) return res;
    if (res.status === 404 && name !== undefined && code !== 'NoSuchBucket') throw new ObjectNotFoundError(name);
    throw new CosError(res.status, code || res.statusText || 'Unknown', message, op, resource);
  }

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const prefix = normalizeDir(dir);
    let marker = '';
    for (;;) {
      const q: Record<string, string> = { prefix, 'max-keys': '1000' };
      if (!opts.recursive) q.delimiter = '/';
      if (marker) q.marker = marker;
      const res = await this.req('iter', undefined, 'GET', '', q);
      const r = rootElement(parseXml(await res.text()));
      const keys = childrenNamed(r, 'Contents').map((c) => childText(c, 'Key') ?? '');
      const prefixes = childrenNamed(r, 'CommonPrefixes').map((c) => childText(c, 'Prefix') ?? '');
      for (const n of [...keys, ...prefixes].filter((n) => n !== '' && n !== prefix).sort()) yield n;
      if (childText(r, 'IsTruncated') !== 'true') return;
      // NextMarker is sent only with a delimiter; otherwise the last key is the marker (as in S3 v1).
      const next = childText(r, 'NextMarker') || keys[keys.length - 1] || prefixes[prefixes.length - 1];
      if (!next || next === marker) return;
      marker = next;
    }
  }

  get(name: string) { return this.getRange(name, 0, -1); }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    checkObjectName(name);
    checkRangeArgs('cos get_range', off, len);
    if (len === 0) { await this.attributes(name); return emptyStream(); }
    const whole = off === 0 && (len === undefined || len < 0);
    const headers: Record<string, string> = whole ? {} : { Range: `bytes=${off}-${len !== undefined && len >= 0 ? off + len - 1 : ''}` };
    const res = await this.req('get', name, 'GET', name, {}, { headers });
    if (res.status === 416) { await res.body?.cancel(); return emptyStream(); }
    return res.body ?? emptyStream();
  }

  exists(name: string): Promise<boolean> {
    return existsBy(() => this.attributes(name));
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    checkObjectName(name);
    const res = await this.req('attributes', name, 'HEAD', name, {});
    return { size: Number(res.headers.get('content-length') ?? 0), lastModified: new Date(res.headers.get('last-modified') ?? 0) };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    if (body instanceof Uint8Array) {
      if (body.length <= this.partSize) return this.putObject(name, body);
      body = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(body as Uint8Array); c.close(); } });
    }
    const reader = body.getReader();
    try {
      const parts = streamParts(reader, this.partSize);
      const first = await parts.next();
      const second = first.done ? first : await parts.next();
      if (second.done) return await this.putObject(name, first.done ? new Uint8Array(0) : first.value);
      await this.multipart(name, [first.value, second.value], parts);
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }

  private async putObject(name: string, data: Uint8Array): Promise<void> {
    const res = await this.req('upload', name, 'PUT', name, {}, { headers: { 'Content-Type': 'application/octet-stream' }, body: data });
    await res.body?.cancel();
  }

  /** Initiate Multipart Upload, Upload Part (one at a time), Complete; Abort on failure. */
  private async multipart(name: string, firstParts: Uint8Array[], rest: AsyncGenerator<Uint8Array>): Promise<void> {
    const init = await this.req('upload', name, 'POST', name, { uploads: '' }, { headers: { 'Content-Type': 'application/octet-stream' } });
    const uploadId = childText(rootElement(parseXml(await init.text())), 'UploadId');
    if (!uploadId) throw new CosError(init.status, 'NoUploadId', 'Initiate Multipart Upload answered without an UploadId', 'upload', name);
    const etags: string[] = [];
    try {
      const send = async (part: Uint8Array) => {
        const n = etags.length + 1;
        const res = await this.req('upload', name, 'PUT', name, { partNumber: String(n), uploadId }, { body: part });
        await res.body?.cancel();
        etags.push(res.headers.get('etag') ?? '');
      };
      for (const p of firstParts) await send(p);
      for await (const p of rest) await send(p);
      const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(e)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const done = await this.req('upload', name, 'POST', name, { uploadId }, { headers: { 'Content-Type': 'application/xml' }, body: xml });
      const text = await done.text();
      // Complete can answer 200 with an Error body (as S3 does).
      const root = rootElement(parseXml(text || '<x/>'));
      if (root?.name === 'Error') throw new CosError(200, childText(root, 'Code') ?? 'Unknown', childText(root, 'Message') ?? '', 'upload', name);
    } catch (err) {
      await this.req('upload', name, 'DELETE', name, { uploadId }).then((r) => r.body?.cancel(), () => {});
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    // COS answers 204 for a missing key, as S3 does; not an error (as in Thanos's S3 and COS).
    const res = await this.req('delete', name, 'DELETE', name, {});
    await res.body?.cancel();
  }

  isObjNotFoundErr(err: unknown): boolean { return err instanceof ObjectNotFoundError; }

  async close(): Promise<void> { this.closed = true; }
}
