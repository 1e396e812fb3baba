// The hand-written SigV4 S3 client the S3 plugin used before it moved to @aws-sdk/client-s3 (#12).
// Kept only as the benchmark baseline (npm run bench -- objstore): not used in production.
// The S3 Bucket: the REST API over the host's fetch capability, signed with SigV4 (or V2).
// ListObjectsV2 (or V1) with delimiter and continuation, ranged GET, HEAD, PUT, multipart upload
// (initiate, parts of part_size, complete; abort on failure), DELETE.
import { sleep, type Capabilities, type Logger } from '../../lib/sdk/mod.ts';
import { ObjectNotFoundError, isObjectNotFound, type Bucket, type IterOptions, type ObjectAttributes } from '../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../lib/objstore/util.ts';
import {
  EMPTY_SHA256, NetworkError, UNSIGNED_PAYLOAD, amzDate, arrayParts, backoffMs, canonicalQuery, childText, childrenNamed, concat,
  describeNetErr, escapeXml, fetchWithHeaderTimeout, isPermissionDenied, isRetryableStatus, md5, parseXml, rootElement, sha256Hex,
  NO_ABORT, signV2, signV4, streamParts, toBase64, uriEncode,
} from '../../lib/objstore/kit/mod.ts';
import type { S3Config } from '../../plugins/objstore/s3/config.ts';
// Address and range helpers are the production plugin's: the baseline differs only in its HTTP client.
import { sliceStream, useVirtualHost } from '../../plugins/objstore/s3/bucket.ts';

export interface Credentials {
  accessKey: string;
  secretKey: string;
  sessionToken: string;
}

/** An error answer from the S3 API. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly s3Message: string,
    readonly operation: string,
    readonly resource: string,
    readonly requestId: string,
  ) {
    super(`s3 ${operation} ${resource}: ${status} ${code}${s3Message ? `: ${s3Message}` : ''}${S3Error.hint(code)}${requestId ? ` (request id ${requestId})` : ''}`);
    this.name = 'S3Error';
  }

  static hint(code: string): string {
    switch (code) {
      case 'SignatureDoesNotMatch': return ' (check secret_key, and that the endpoint and region are right)';
      case 'InvalidAccessKeyId': return ' (check access_key)';
      case 'NoSuchBucket': return ' (check bucket; the bucket must exist)';
      case 'AccessDenied': return ' (the credentials lack permission for this bucket or object)';
      case 'RequestTimeTooSkewed': return ' (the local clock is too far from the server clock)';
      default: return '';
    }
  }
}

interface Req {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Object key; undefined for bucket-level requests. */
  key?: string;
  query?: Array<[string, string]>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  op: string;
}

const STATIC_HEADERS_DROP = new Set(['host', 'content-length']);
/** Multipart parts uploaded at once; memory use is about (this + 1) x part_size. */
const MULTIPART_CONCURRENCY = 3;

export interface S3BucketOptions {
  /** Region was configured (or implied by the endpoint), not guessed: no region redirects. */
  regionFixed: boolean;
  /** For tests: a fixed clock. */
  now?: () => Date;
  /** For tests: page size of listings (S3's max-keys; default 1000). */
  maxKeys?: number;
}

export class S3Bucket implements Bucket {
  readonly provider = 'S3';
  private region: string;
  private readonly scheme: 'http' | 'https';
  private readonly host: string;
  private readonly virtualHost: boolean;
  private readonly log: Logger;
  private closed = false;
  private readonly sseHeaders: Record<string, string> = {};
  private readonly sseCHeaders: Record<string, string> = {};
  private readonly metaHeaders: Record<string, string> = {};

  constructor(
    private readonly ctx: Capabilities,
    private readonly cfg: S3Config,
    private readonly creds: Credentials | undefined,
    region: string,
    private readonly opts: S3BucketOptions,
    sseCKey?: Uint8Array,
  ) {
    this.region = region;
    this.log = ctx.log.with({ bucket: cfg.bucket, provider: 'S3' });
    const m = /^(https?):\/\/(.*)$/i.exec(cfg.endpoint);
    this.scheme = m ? (m[1]!.toLowerCase() as 'http' | 'https') : cfg.insecure ? 'http' : 'https';
    this.host = (m ? m[2]! : cfg.endpoint).replace(/\/+$/, '');
    this.virtualHost = useVirtualHost(cfg, this.host, this.scheme);

    for (const [k, v] of Object.entries(cfg.putUserMetadata)) {
      if (k.toLowerCase() === 'x-amz-storage-class') this.metaHeaders['x-amz-storage-class'] = v;
      else this.metaHeaders[`x-amz-meta-${k.toLowerCase()}`] = v;
    }
    switch (cfg.sse.type) {
      case 'SSE-S3':
        this.sseHeaders['x-amz-server-side-encryption'] = 'AES256';
        break;
      case 'SSE-KMS':
        this.sseHeaders['x-amz-server-side-encryption'] = 'aws:kms';
        this.sseHeaders['x-amz-server-side-encryption-aws-kms-key-id'] = cfg.sse.kmsKeyId;
        if (Object.keys(cfg.sse.kmsEncryptionContext).length > 0) {
          this.sseHeaders['x-amz-server-side-encryption-context'] = toBase64(new TextEncoder().encode(JSON.stringify(cfg.sse.kmsEncryptionContext)));
        }
        break;
      case 'SSE-C':
        if (!sseCKey) throw new Error('s3: SSE-C needs the key bytes');
        this.sseCHeaders['x-amz-server-side-encryption-customer-algorithm'] = 'AES256';
        this.sseCHeaders['x-amz-server-side-encryption-customer-key'] = toBase64(sseCKey);
        this.sseCHeaders['x-amz-server-side-encryption-customer-key-md5'] = toBase64(md5(sseCKey));
        break;
    }
  }

  /** Base URL of the bucket, for logs and tests. */
  get url(): string {
    return this.virtualHost ? `${this.scheme}://${this.cfg.bucket}.${this.host}/` : `${this.scheme}://${this.host}/${this.cfg.bucket}/`;
  }

  private live(): void {
    if (this.closed) throw new Error('s3 bucket: used after close()');
  }

  // ---- requests ----------------------------------------------------------------------------

  /** One request, retried max_retries times on network errors and 500/502/503/504 (re-signed each time). */
  private async send(r: Req): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.sendOnce(r);
      } catch (err) {
        if (attempt >= this.cfg.maxRetries || isPermissionDenied(err)) throw err;
        this.log.debug('s3 request failed, retrying', { op: r.op, attempt, err: String(err) });
        await sleep(backoffMs(attempt, 5000), NO_ABORT);
        continue;
      }
      if (attempt < this.cfg.maxRetries && isRetryableStatus(res.status)) {
        await res.body?.cancel().catch(() => {});
        this.log.debug('s3 request answered with a retryable status, retrying', { op: r.op, attempt, status: res.status });
        await sleep(backoffMs(attempt, 5000), NO_ABORT);
        continue;
      }
      return res;
    }
  }

  private async sendOnce(r: Req, retried = false): Promise<Response> {
    this.live();
    const bucket = this.cfg.bucket;
    const host = this.virtualHost ? `${bucket}.${this.host}` : this.host;
    const keyPath = r.key === undefined ? '' : uriEncode(r.key, true);
    const path = this.virtualHost ? `/${keyPath}` : `/${uriEncode(bucket)}/${keyPath}`;
    const query = r.query ?? [];
    const qs = canonicalQuery(query);
    const url = `${this.scheme}://${host}${path}${qs ? `?${qs}` : ''}`;

    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    const body = r.body;
    if (this.cfg.sendContentMd5 && body && (r.method === 'PUT' || r.method === 'POST') && headers['content-md5'] === undefined) {
      headers['content-md5'] = toBase64(md5(body));
    }
    const now = this.opts.now?.() ?? new Date();
    if (this.creds && this.creds.sessionToken) headers['x-amz-security-token'] = this.creds.sessionToken;
    if (this.creds) {
      if (this.cfg.signatureV2) {
        headers['x-amz-date'] = now.toUTCString();
        const resource = `/${uriEncode(bucket)}/${keyPath}`;
        const { authorization } = await signV2({ method: r.method, resource, query, headers, accessKey: this.creds.accessKey, secretKey: this.creds.secretKey });
        headers['authorization'] = authorization;
      } else {
        headers['x-amz-date'] = amzDate(now);
        headers['x-amz-content-sha256'] = await payloadHash(this.scheme, body);
        const signed = await signV4({
          method: r.method,
          path,
          query,
          headers: { ...headers, host },
          payloadHash: headers['x-amz-content-sha256'],
          accessKey: this.creds.accessKey,
          secretKey: this.creds.secretKey,
          region: this.region,
          service: 's3',
        });
        headers['authorization'] = signed.authorization;
      }
    }
    for (const k of Object.keys(headers)) if (STATIC_HEADERS_DROP.has(k.toLowerCase())) delete headers[k];

    const started = Date.now();
    const init: RequestInit = { method: r.method, headers };
    if (body) init.body = body as Uint8Array<ArrayBuffer>;
    const what = `s3 ${r.op} ${bucket}/${r.key ?? ''}`;
    let res: Response;
    try {
      res = await fetchWithHeaderTimeout((u, i) => this.ctx.fetch(u, i), url, init, this.cfg.http.responseHeaderTimeoutMs, what);
    } catch (err) {
      if (this.cfg.trace) this.log.debug('s3 request failed', { op: r.op, method: r.method, url, err: String(err) });
      throw isPermissionDenied(err) ? err : new NetworkError(`${what}: ${describeNetErr(err)}`, err);
    }
    if (this.cfg.trace) {
      this.log.debug('s3 request', { op: r.op, method: r.method, url, status: res.status, ms: Date.now() - started, request_id: res.headers.get('x-amz-request-id') ?? '' });
    }

    // A guessed region may be wrong: S3 says which one it wants; follow that once.
    if (!retried && !this.opts.regionFixed && !this.cfg.signatureV2 && (res.status === 301 || res.status === 400)) {
      const hdrRegion = res.headers.get('x-amz-bucket-region');
      let want = hdrRegion ?? '';
      if (!want && res.status === 400 && r.method !== 'HEAD') {
        const text = await res.clone().text().catch(() => '');
        if (text.includes('AuthorizationHeaderMalformed')) want = /<Region>([^<]+)<\/Region>/.exec(text)?.[1] ?? '';
      }
      if (want && want !== this.region) {
        await res.body?.cancel().catch(() => {});
        this.log.info('s3: switching region', { from: this.region, to: want });
        this.region = want;
        return this.sendOnce(r, true);
      }
    }
    return res;
  }

  /** Turns a non-2xx answer into an S3Error (or ObjectNotFoundError for a missing key). */
  private async fail(res: Response, r: Req, name?: string): Promise<never> {
    let code = '';
    let message = '';
    let requestId = res.headers.get('x-amz-request-id') ?? '';
    if (r.method !== 'HEAD') {
      const text = await res.text().catch(() => '');
      if (text.trim().startsWith('<')) {
        try {
          const e = rootElement(parseXml(text));
          if (e?.name === 'Error') {
            code = childText(e, 'Code') ?? '';
            message = childText(e, 'Message') ?? '';
            requestId = childText(e, 'RequestId') ?? requestId;
          }
        } catch { /* not XML after all */ }
      } else if (text) {
        message = text.slice(0, 200);
      }
    } else {
      await res.body?.cancel().catch(() => {});
      if (res.status === 403) message = 'access denied or signature mismatch (a HEAD answer has no error body; check access_key, secret_key and the bucket policy)';
    }
    if (!code) code = defaultCode(res.status);
    const resource = `${this.cfg.bucket}/${r.key ?? ''}`;
    const err = new S3Error(res.status, code, message, r.op, resource, requestId);
    if (name !== undefined && (code === 'NoSuchKey' || (res.status === 404 && code !== 'NoSuchBucket'))) {
      throw new ObjectNotFoundError(name, err);
    }
    throw err;
  }

  private async call(r: Req, name?: string): Promise<Response> {
    const res = await this.send(r);
    if (!res.ok) await this.fail(res, r, name);
    return res;
  }

  /** 2xx with an <Error> document (CompleteMultipartUpload can do that) is an error too. */
  private async callXml(r: Req) {
    const res = await this.call(r);
    const text = await res.text();
    const doc = rootElement(parseXml(text));
    if (doc?.name === 'Error') {
      throw new S3Error(res.status, childText(doc, 'Code') ?? 'InternalError', childText(doc, 'Message') ?? '', r.op, `${this.cfg.bucket}/${r.key ?? ''}`, childText(doc, 'RequestId') ?? '');
    }
    return doc;
  }

  // ---- Bucket ------------------------------------------------------------------------------

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const prefix = normalizeDir(dir);
    const v1 = this.cfg.listObjectsVersion === 'v1';
    let token = '';
    for (;;) {
      const query: Array<[string, string]> = [['prefix', prefix]];
      if (!opts.recursive) query.push(['delimiter', '/']);
      if (this.opts.maxKeys) query.push(['max-keys', String(this.opts.maxKeys)]);
      if (v1) {
        if (token) query.push(['marker', token]);
      } else {
        query.push(['list-type', '2']);
        if (token) query.push(['continuation-token', token]);
      }
      const doc = await this.callXml({ method: 'GET', query, op: 'iter' });
      if (doc?.name !== 'ListBucketResult') throw new Error(`s3 iter ${this.cfg.bucket}/${prefix}: unexpected answer <${doc?.name ?? 'nothing'}>`);
      const keys = childrenNamed(doc, 'Contents').map((c) => childText(c, 'Key') ?? '');
      const prefixes = childrenNamed(doc, 'CommonPrefixes').map((c) => childText(c, 'Prefix') ?? '');
      const page = [...keys, ...prefixes].filter((k) => k !== '' && k !== prefix).sort();
      for (const k of page) yield k;
      const truncated = childText(doc, 'IsTruncated') === 'true';
      if (!truncated) return;
      let next = v1 ? (childText(doc, 'NextMarker') ?? '') : (childText(doc, 'NextContinuationToken') ?? '');
      if (v1 && !next) {
        // Without a delimiter S3 V1 omits NextMarker: continue after the last key (or prefix).
        const all = [...keys, ...prefixes].sort();
        next = all[all.length - 1] ?? '';
      }
      if (!next || next === token) throw new Error(`s3 iter ${this.cfg.bucket}/${prefix}: truncated listing without a continuation marker`);
      token = next;
    }
  }

  async get(name: string): Promise<ReadableStream<Uint8Array>> {
    return this.getRange(name, 0, -1);
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    checkObjectName(name);
    checkRangeArgs(`s3 getRange ${name}`, off, len);
    if (len === 0) {
      await this.attributes(name); // not-found still surfaces
      return emptyStream();
    }
    const toEnd = len === undefined || len < 0;
    const headers: Record<string, string> = { ...this.sseCHeaders };
    if (!toEnd) headers['range'] = `bytes=${off}-${off + len! - 1}`;
    else if (off > 0) headers['range'] = `bytes=${off}-`;
    const r: Req = { method: 'GET', key: name, headers, op: headers['range'] ? 'get_range' : 'get' };
    const res = await this.send(r);
    if (res.status === 416) {
      // The offset is at or past the end (or the object is empty): nothing to read, like S3 readers do.
      await res.body?.cancel().catch(() => {});
      return emptyStream();
    }
    if (!res.ok) await this.fail(res, r, name);
    const body = res.body ?? emptyStream();
    if (headers['range'] && res.status === 200) {
      // The server ignored Range and sent the whole object: cut the range out ourselves.
      return sliceStream(body, off, toEnd ? Infinity : len!);
    }
    return body;
  }

  private async head(name: string): Promise<Response> {
    checkObjectName(name);
    const r: Req = { method: 'HEAD', key: name, headers: { ...this.sseCHeaders }, op: 'attributes' };
    return this.call(r, name);
  }

  async exists(name: string): Promise<boolean> {
    try {
      const res = await this.head(name);
      await res.body?.cancel().catch(() => {});
      return true;
    } catch (err) {
      if (isObjectNotFound(err)) return false;
      throw err;
    }
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const res = await this.head(name);
    await res.body?.cancel().catch(() => {});
    const size = Number(res.headers.get('content-length') ?? NaN);
    const lm = res.headers.get('last-modified');
    const lastModified = lm ? new Date(lm) : new Date(NaN);
    if (!Number.isFinite(size) || Number.isNaN(lastModified.getTime())) {
      throw new Error(`s3 attributes ${this.cfg.bucket}/${name}: answer lacks Content-Length or Last-Modified`);
    }
    return { size, lastModified };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    this.live();
    const partSize = this.cfg.partSize;
    if (body instanceof Uint8Array) {
      if (this.cfg.disableMultipart || body.length <= partSize) return this.putObject(name, body);
      return this.multipart(name, arrayParts(body, partSize));
    }
    const reader = body.getReader();
    const parts = streamParts(reader, partSize);
    const first = await parts.next();
    if (first.done) return this.putObject(name, new Uint8Array(0));
    const second = await parts.next();
    if (second.done) return this.putObject(name, first.value);
    if (this.cfg.disableMultipart) {
      const chunks = [first.value, second.value];
      for (;;) {
        const n = await parts.next();
        if (n.done) break;
        chunks.push(n.value);
      }
      return this.putObject(name, concat(chunks));
    }
    async function* rest(): AsyncGenerator<Uint8Array> {
      yield first.value as Uint8Array;
      yield second.value as Uint8Array;
      yield* parts;
    }
    try {
      await this.multipart(name, rest());
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    }
  }

  private async putObject(name: string, data: Uint8Array): Promise<void> {
    const headers = { 'content-type': 'application/octet-stream', ...this.metaHeaders, ...this.sseHeaders, ...this.sseCHeaders };
    const res = await this.call({ method: 'PUT', key: name, headers, body: data, op: 'upload' });
    await res.body?.cancel().catch(() => {});
  }

  private async multipart(name: string, parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const init = await this.callXml({
      method: 'POST', key: name, query: [['uploads', '']], op: 'upload',
      headers: { 'content-type': 'application/octet-stream', ...this.metaHeaders, ...this.sseHeaders, ...this.sseCHeaders },
    });
    const uploadId = childText(init, 'UploadId');
    if (!uploadId) throw new Error(`s3 upload ${this.cfg.bucket}/${name}: InitiateMultipartUpload returned no UploadId`);
    const etags: string[] = [];
    try {
      // Up to MULTIPART_CONCURRENCY parts in flight (as minio-go does); the source is read while
      // earlier parts upload. A failure stops reading, lets in-flight parts settle, then aborts.
      const inflight = new Set<Promise<void>>();
      let failure: unknown;
      let n = 0;
      try {
        for await (const part of parts) {
          if (failure !== undefined) break;
          n++;
          if (n > 10_000) throw new Error(`s3 upload ${this.cfg.bucket}/${name}: more than 10000 parts; raise part_size`);
          const num = n;
          const p: Promise<void> = this.uploadPart(name, uploadId, num, part)
            .then((etag) => { etags[num - 1] = etag; }, (err: unknown) => { failure ??= err; })
            .finally(() => { inflight.delete(p); });
          inflight.add(p);
          if (inflight.size >= MULTIPART_CONCURRENCY) await Promise.race(inflight);
        }
      } catch (err) {
        failure ??= err;
      }
      await Promise.all(inflight);
      if (failure !== undefined) throw failure;
      const xml = '<CompleteMultipartUpload>' +
        etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(e)}</ETag></Part>`).join('') +
        '</CompleteMultipartUpload>';
      const done = await this.callXml({
        method: 'POST', key: name, query: [['uploadId', uploadId]], op: 'upload',
        headers: { 'content-type': 'application/xml' }, body: new TextEncoder().encode(xml),
      });
      if (done?.name !== 'CompleteMultipartUploadResult') {
        throw new Error(`s3 upload ${this.cfg.bucket}/${name}: CompleteMultipartUpload answered <${done?.name ?? 'nothing'}>`);
      }
    } catch (err) {
      try {
        const res = await this.send({ method: 'DELETE', key: name, query: [['uploadId', uploadId]], op: 'upload' });
        await res.body?.cancel().catch(() => {});
        if (!res.ok && res.status !== 404) this.log.warn('s3: abort multipart upload failed', { name, upload_id: uploadId, status: res.status });
      } catch (abortErr) {
        this.log.warn('s3: abort multipart upload failed', { name, upload_id: uploadId, err: String(abortErr) });
      }
      throw err;
    }
  }

  private async uploadPart(name: string, uploadId: string, num: number, part: Uint8Array): Promise<string> {
    const res = await this.call({
      method: 'PUT', key: name, body: part, op: 'upload',
      query: [['partNumber', String(num)], ['uploadId', uploadId]],
      headers: { ...this.sseCHeaders },
    });
    const etag = res.headers.get('etag');
    await res.body?.cancel().catch(() => {});
    if (!etag) throw new Error(`s3 upload ${this.cfg.bucket}/${name}: part ${num} answer has no ETag`);
    return etag;
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    const res = await this.call({ method: 'DELETE', key: name, op: 'delete' }, name);
    await res.body?.cancel().catch(() => {});
  }

  isObjNotFoundErr(err: unknown): boolean {
    return isObjectNotFound(err);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * The x-amz-content-sha256 value. Over https TLS already protects the body, so (like minio-go)
 * bodies are sent as UNSIGNED-PAYLOAD and not hashed; over plain http the body is signed.
 * Content-MD5 (send_content_md5) still lets the server check the bytes either way.
 */
export async function payloadHash(scheme: 'http' | 'https', body: Uint8Array | undefined): Promise<string> {
  if (!body || body.length === 0) return EMPTY_SHA256;
  return scheme === 'https' ? UNSIGNED_PAYLOAD : sha256Hex(body);
}

function defaultCode(status: number): string {
  switch (status) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 409: return 'Conflict';
    case 412: return 'PreconditionFailed';
    case 416: return 'InvalidRange';
    case 500: return 'InternalError';
    case 501: return 'NotImplemented';
    case 503: return 'ServiceUnavailable';
    default: return `HTTP${status}`;
  }
}
