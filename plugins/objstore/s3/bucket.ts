// The S3 Bucket on @aws-sdk/client-s3: the SDK signs (SigV4), retries (max_retries), parses and
// resolves credentials; its HTTP layer is the plugin's ctx.fetch (lib/objstore/kit/sdkfetch.ts), so
// the `net` grant applies to every request. ListObjectsV2 (or V1) with delimiter and continuation,
// ranged GetObject, HeadObject, PutObject, multipart upload (parts of part_size, 3 in flight, abort
// on failure), DeleteObject. The SDK module is imported only when an S3 bucket is created.
import type { Capabilities, FetchFunction, Logger } from '../../../lib/sdk/mod.ts';
import { ObjectNotFoundError, existsBy, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../../lib/objstore/util.ts';
import { NetworkError, arrayParts, concat, describeNetErr, isPermissionDenied, md5, sdkFetch, streamParts, toBase64 } from '../../../lib/objstore/kit/mod.ts';
import type { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { S3Config } from './config.ts';

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

  /** 5xx and throttling answers are worth another try (the retry wrapper reads this). */
  get retryable(): boolean {
    return this.status === 429 || (this.status >= 500 && this.status !== 501) || this.code === 'SlowDown';
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

/** Multipart parts uploaded at once; memory use is about (this + 1) x part_size. */
const MULTIPART_CONCURRENCY = 3;

export interface S3BucketOptions {
  /** Region was configured (or implied by the endpoint), not guessed: no region redirects. */
  regionFixed: boolean;
  /** For tests: page size of listings (S3's max-keys; default 1000). */
  maxKeys?: number;
  /** Where credentials come from; undefined = anonymous (unsigned) requests. */
  credentials?: AwsCredentialIdentityProvider;
  /** The SSE-C key bytes (sse_config.type SSE-C). */
  sseCKey?: Uint8Array;
  /** The checked fetch requests go through (http_config's TLS settings applied); default ctx.fetch. */
  fetch?: FetchFunction;
}

type Sdk = typeof import('@aws-sdk/client-s3');

const AWS_LIKE = /(^|\.)(amazonaws\.com|amazonaws\.com\.cn|aliyuncs\.com|storage\.googleapis\.com)(:\d+)?$/i;

export class S3Bucket implements Bucket {
  readonly provider = 'S3';
  private region: string;
  private readonly scheme: 'http' | 'https';
  private readonly host: string;
  private readonly virtualHost: boolean;
  private readonly log: Logger;
  private closed = false;
  private client: S3Client;
  private readonly putParams: Record<string, unknown> = {};
  private readonly sseCParams: Record<string, unknown> = {};

  constructor(
    private readonly sdk: Sdk,
    private readonly ctx: Capabilities,
    private readonly cfg: S3Config,
    region: string,
    private readonly opts: S3BucketOptions,
  ) {
    this.region = region;
    this.log = ctx.log.with({ bucket: cfg.bucket, provider: 'S3' });
    const m = /^(https?):\/\/(.*)$/i.exec(cfg.endpoint);
    this.scheme = m ? (m[1]!.toLowerCase() as 'http' | 'https') : cfg.insecure ? 'http' : 'https';
    this.host = (m ? m[2]! : cfg.endpoint).replace(/\/+$/, '');
    this.virtualHost = useVirtualHost(cfg, this.host, this.scheme);

    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(cfg.putUserMetadata)) {
      if (k.toLowerCase() === 'x-amz-storage-class') this.putParams.StorageClass = v;
      else meta[k.toLowerCase()] = v;
    }
    if (Object.keys(meta).length > 0) this.putParams.Metadata = meta;
    this.putParams.ContentType = 'application/octet-stream';
    switch (cfg.sse.type) {
      case 'SSE-S3':
        this.putParams.ServerSideEncryption = 'AES256';
        break;
      case 'SSE-KMS':
        this.putParams.ServerSideEncryption = 'aws:kms';
        this.putParams.SSEKMSKeyId = cfg.sse.kmsKeyId;
        if (Object.keys(cfg.sse.kmsEncryptionContext).length > 0) {
          this.putParams.SSEKMSEncryptionContext = toBase64(new TextEncoder().encode(JSON.stringify(cfg.sse.kmsEncryptionContext)));
        }
        break;
      case 'SSE-C':
        if (!opts.sseCKey) throw new Error('s3: SSE-C needs the key bytes');
        // The SDK base64-encodes the key and adds its MD5 itself.
        this.sseCParams.SSECustomerAlgorithm = 'AES256';
        this.sseCParams.SSECustomerKey = opts.sseCKey;
        break;
    }
    this.client = this.makeClient();
  }

  private makeClient(): S3Client {
    const { S3Client: Client } = this.sdk;
    const cfg = this.cfg;
    const trace = cfg.trace;
    const doFetch = sdkFetch(this.ctx, {
      what: 's3',
      headerTimeoutMs: cfg.http.responseHeaderTimeoutMs,
      fetch: this.opts.fetch,
      onResponse: trace ? (ev) => this.log.debug('s3 request', { method: ev.method, url: ev.url, status: ev.status, duration_ms: ev.ms }) : undefined,
    });
    const client = new Client({
      region: this.region,
      endpoint: `${this.scheme}://${this.host}`,
      forcePathStyle: !this.virtualHost,
      // Anonymous: the SDK still wants an identity; the middleware below drops the signature.
      credentials: this.opts.credentials ?? (async () => ({ accessKeyId: 'anonymous', secretAccessKey: 'anonymous' })),
      maxAttempts: cfg.maxRetries + 1,
      // aws-chunked uploads with trailing checksums are refused by s3api and stored framed by
      // s3rver; Content-MD5 (send_content_md5) is the integrity check Thanos sends.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      useDualstackEndpoint: false,
      followRegionRedirects: false,
      // Lazily: the SDK's fetch handler over ctx.fetch (the module is loaded with the SDK).
      requestHandler: new (fetchHandlerClass!)({ customFetch: doFetch as never }),
    });
    if (!this.opts.credentials) {
      client.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { headers?: Record<string, string> };
          if (req.headers) for (const h of ['authorization', 'x-amz-security-token']) delete req.headers[h];
          return next(args);
        },
        { step: 'finalizeRequest', priority: 'low', name: 'thanosAnonymous' },
      );
    }
    return client;
  }

  /** Base URL of the bucket, for logs and tests. */
  get url(): string {
    return this.virtualHost ? `${this.scheme}://${this.cfg.bucket}.${this.host}/` : `${this.scheme}://${this.host}/${this.cfg.bucket}/`;
  }

  private live(): void {
    if (this.closed) throw new Error('s3 bucket: used after close()');
  }

  /** One SDK command; errors become S3Error / NetworkError / ObjectNotFoundError. Follows a region hint once. */
  private async send<T>(op: string, name: string | undefined, make: () => object, notFoundOk = false, regionRetry = true): Promise<T> {
    this.live();
    try {
      return (await this.client.send(make() as never)) as T;
    } catch (err) {
      const region = this.regionHint(err);
      if (regionRetry && region) {
        this.log.info('s3: the bucket is in another region; switching', { from: this.region, to: region });
        this.region = region;
        this.client.destroy();
        this.client = this.makeClient();
        return this.send(op, name, make, notFoundOk, false);
      }
      throw this.mapError(err, op, name);
    }
  }

  private regionHint(err: unknown): string | undefined {
    if (this.opts.regionFixed) return undefined;
    const e = err as { name?: string; Region?: string; $response?: { headers?: Record<string, string> } };
    if (e?.name !== 'AuthorizationHeaderMalformed' && e?.name !== 'PermanentRedirect') return undefined;
    const r = e.Region ?? e.$response?.headers?.['x-amz-bucket-region'];
    return r && r !== this.region ? r : undefined;
  }

  private mapError(err: unknown, op: string, name: string | undefined): Error {
    const resource = `${this.cfg.bucket}/${name ?? ''}`;
    if (isPermissionDenied(err)) return err as Error;
    const e = err as S3ServiceException & { Code?: string };
    const status = e?.$metadata?.httpStatusCode;
    if (typeof status === 'number' && e.$fault !== undefined) {
      let code = e.Code ?? e.name ?? 'UnknownError';
      let message = e.message && e.message !== 'UnknownError' && e.message !== code ? e.message : '';
      // HEAD answers carry no body: say what a bare status means.
      if (code === 'NotFound' || code === 'NoSuchKey' || (status === 404 && code !== 'NoSuchBucket' && name !== undefined && !message)) {
        return new ObjectNotFoundError(name ?? '', err);
      }
      if (status === 403 && (code === 'Forbidden' || code === 'UnknownError' || code === 'Unknown' || !message)) {
        code = code === 'UnknownError' || code === 'Unknown' ? 'Forbidden' : code;
        message = message || 'access denied or signature mismatch (check access_key, secret_key, and that the endpoint and region are right)';
      }
      return new S3Error(status, code, message, op, resource, e.$metadata?.requestId ?? '');
    }
    if (err instanceof ObjectNotFoundError || err instanceof S3Error || err instanceof NetworkError) return err;
    const msg = describeNetErr(err);
    if (/response_header_timeout/.test(msg)) return new NetworkError(`s3 ${op} ${resource}: ${msg}`, err);
    const e2 = err as { name?: string; cause?: unknown };
    if (e2?.name === 'TypeError' || e2?.cause !== undefined || e2?.name === 'TimeoutError') return new NetworkError(`s3 ${op} ${resource}: ${msg}`, err);
    return new Error(`s3 ${op} ${resource}: ${msg}`, { cause: err });
  }

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const prefix = normalizeDir(dir);
    const delimiter = opts.recursive ? undefined : '/';
    const maxKeys = this.opts.maxKeys;
    const { ListObjectsV2Command, ListObjectsCommand } = this.sdk;
    let token: string | undefined;
    for (;;) {
      if (this.cfg.listObjectsVersion === 'v1') {
        const out = await this.send<import('@aws-sdk/client-s3').ListObjectsCommandOutput>('iter', prefix, () => new ListObjectsCommand({
          Bucket: this.cfg.bucket, Prefix: prefix, Delimiter: delimiter, Marker: token, MaxKeys: maxKeys,
        }));
        const names = mergeSorted((out.Contents ?? []).map((c) => c.Key!), (out.CommonPrefixes ?? []).map((p) => p.Prefix!));
        for (const n of names) if (n !== prefix) yield n;
        if (!out.IsTruncated) return;
        token = out.NextMarker ?? names[names.length - 1];
        if (!token) return;
      } else {
        const out = await this.send<import('@aws-sdk/client-s3').ListObjectsV2CommandOutput>('iter', prefix, () => new ListObjectsV2Command({
          Bucket: this.cfg.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token, MaxKeys: maxKeys,
        }));
        const names = mergeSorted((out.Contents ?? []).map((c) => c.Key!), (out.CommonPrefixes ?? []).map((p) => p.Prefix!));
        for (const n of names) if (n !== prefix) yield n;
        if (!out.IsTruncated || !out.NextContinuationToken) return;
        token = out.NextContinuationToken;
      }
    }
  }

  async get(name: string): Promise<ReadableStream<Uint8Array>> {
    return this.getRange(name, 0, -1);
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    checkObjectName(name);
    checkRangeArgs('s3 get_range', off, len);
    if (len === 0) {
      await this.attributes(name);
      return emptyStream();
    }
    const whole = off === 0 && (len === undefined || len < 0);
    const range = whole ? undefined : `bytes=${off}-${len !== undefined && len >= 0 ? off + len - 1 : ''}`;
    const { GetObjectCommand } = this.sdk;
    let out: import('@aws-sdk/client-s3').GetObjectCommandOutput;
    try {
      out = await this.send('get', name, () => new GetObjectCommand({ Bucket: this.cfg.bucket, Key: name, Range: range, ...this.sseCParams }));
    } catch (err) {
      // An offset at or past the end: S3 answers 416; the object exists, there is nothing to read.
      if (err instanceof S3Error && (err.status === 416 || err.code === 'InvalidRange')) return emptyStream();
      throw err;
    }
    const body = out.Body ? (out.Body as unknown as { transformToWebStream(): ReadableStream<Uint8Array> }).transformToWebStream() : emptyStream();
    // A server that ignores Range answers 200 with the whole object: cut the asked part out.
    if (range && out.$metadata.httpStatusCode === 200 && !out.ContentRange) {
      return sliceStream(body, off, len !== undefined && len >= 0 ? len : Infinity);
    }
    return body;
  }

  /** HeadObject, for attributes/exists and tests (headers as a Response). */
  async head(name: string): Promise<Response> {
    checkObjectName(name);
    const { HeadObjectCommand } = this.sdk;
    const out = await this.send<import('@aws-sdk/client-s3').HeadObjectCommandOutput>('attributes', name, () => new HeadObjectCommand({ Bucket: this.cfg.bucket, Key: name, ...this.sseCParams }));
    const h = new Headers();
    if (out.ContentLength !== undefined) h.set('content-length', String(out.ContentLength));
    if (out.LastModified) h.set('last-modified', out.LastModified.toUTCString());
    if (out.ETag) h.set('etag', out.ETag);
    for (const [k, v] of Object.entries(out.Metadata ?? {})) h.set(`x-amz-meta-${k}`, v);
    return new Response(null, { status: 200, headers: h });
  }

  exists(name: string): Promise<boolean> {
    return existsBy(() => this.head(name));
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const h = await this.head(name);
    return { size: Number(h.headers.get('content-length') ?? 0), lastModified: new Date(h.headers.get('last-modified') ?? 0) };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    this.live();
    const partSize = this.cfg.partSize;
    if (body instanceof Uint8Array) {
      if (body.length <= partSize || this.cfg.disableMultipart) return this.putObject(name, body);
      return this.multipart(name, arrayParts(body, partSize));
    }
    const reader = body.getReader();
    const parts = streamParts(reader, partSize);
    const first = await parts.next();
    if (first.done) return this.putObject(name, new Uint8Array(0));
    const second = await parts.next();
    if (second.done) return this.putObject(name, first.value);
    if (this.cfg.disableMultipart) {
      // One PUT needs the length up front: the stream is gathered (Thanos does the same).
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

  private md5Of(data: Uint8Array): { ContentMD5?: string } {
    return this.cfg.sendContentMd5 ? { ContentMD5: toBase64(md5(data)) } : {};
  }

  private async putObject(name: string, data: Uint8Array): Promise<void> {
    const { PutObjectCommand } = this.sdk;
    await this.send('upload', name, () => new PutObjectCommand({
      Bucket: this.cfg.bucket, Key: name, Body: data, ContentLength: data.length, ...this.md5Of(data), ...this.putParams, ...this.sseCParams,
    }));
  }

  private async multipart(name: string, parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand } = this.sdk;
    const bucket = this.cfg.bucket;
    const init = await this.send<{ UploadId?: string }>('upload', name, () => new CreateMultipartUploadCommand({ Bucket: bucket, Key: name, ...this.putParams, ...this.sseCParams }));
    const uploadId = init.UploadId;
    if (!uploadId) throw new Error(`s3 upload ${bucket}/${name}: CreateMultipartUpload returned no UploadId`);
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
          if (n > 10_000) throw new Error(`s3 upload ${bucket}/${name}: more than 10000 parts; raise part_size`);
          const num = n;
          const p: Promise<void> = this.send<{ ETag?: string }>('upload', name, () => new UploadPartCommand({
            Bucket: bucket, Key: name, UploadId: uploadId, PartNumber: num, Body: part, ContentLength: part.length, ...this.md5Of(part), ...this.sseCParams,
          }), false, false)
            .then((out) => { etags[num - 1] = out.ETag ?? ''; }, (err: unknown) => { failure ??= err; })
            .finally(() => { inflight.delete(p); });
          inflight.add(p);
          if (inflight.size >= MULTIPART_CONCURRENCY) await Promise.race(inflight);
        }
      } catch (err) {
        failure ??= err;
      }
      await Promise.all(inflight);
      if (failure !== undefined) throw failure;
      await this.send('upload', name, () => new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: name, UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((e, i) => ({ PartNumber: i + 1, ETag: e })) },
      }), false, false);
    } catch (err) {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: name, UploadId: uploadId }));
      } catch (abortErr) {
        if ((abortErr as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode !== 404) {
          this.log.warn('s3: abort multipart upload failed', { name, upload_id: uploadId, err: String(abortErr) });
        }
      }
      throw err;
    }
  }

  /** Multipart uploads still open under prefix (an interrupted upload leaves one until aborted). */
  async openUploads(prefix = ''): Promise<Array<{ key: string; uploadId: string }>> {
    const { ListMultipartUploadsCommand } = this.sdk;
    const out = await this.send<import('@aws-sdk/client-s3').ListMultipartUploadsCommandOutput>('list_uploads', prefix, () => new ListMultipartUploadsCommand({ Bucket: this.cfg.bucket, Prefix: prefix || undefined }));
    return (out.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '' }));
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    // S3 answers 204 for a missing key; Thanos's Delete of a missing object is not an error either.
    const { DeleteObjectCommand } = this.sdk;
    await this.send('delete', name, () => new DeleteObjectCommand({ Bucket: this.cfg.bucket, Key: name }));
  }

  isObjNotFoundErr(err: unknown): boolean {
    return err instanceof ObjectNotFoundError;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }
}

/** The SDK's fetch handler class, loaded with the SDK (createS3Sdk). */
let fetchHandlerClass: (new (o: { customFetch: never }) => object) | undefined;

/** Imports the SDK (and its fetch handler) the first time an S3 bucket is made. */
export async function loadS3Sdk(): Promise<Sdk> {
  const [sdk, fh] = await Promise.all([import('@aws-sdk/client-s3'), import('@smithy/fetch-http-handler')]);
  fetchHandlerClass = fh.FetchHttpHandler as unknown as typeof fetchHandlerClass;
  return sdk;
}

function mergeSorted(a: string[], b: string[]): string[] {
  return [...a, ...b].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

export function useVirtualHost(cfg: S3Config, host: string, scheme: string): boolean {
  if (cfg.bucketLookupType === 'path') return false;
  if (cfg.bucketLookupType === 'virtual-hosted') return true;
  const dnsSafe = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(cfg.bucket) && !cfg.bucket.includes('..') && !(scheme === 'https' && cfg.bucket.includes('.'));
  return AWS_LIKE.test(host) && dnsSafe;
}

/** The region an AWS endpoint names (s3.eu-west-1.amazonaws.com, s3-eu-west-1..., s3.dualstack.X...). */
export function regionFromEndpoint(host: string): string | undefined {
  const h = host.toLowerCase().replace(/:\d+$/, '');
  const m = /(?:^|\.)s3[.-](?:dualstack\.)?([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com(?:\.cn)?$/.exec(h);
  return m?.[1];
}

/** Skips `skip` bytes of a stream and passes at most `take` bytes on. */
export function sliceStream(src: ReadableStream<Uint8Array>, skip: number, take: number): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  let toSkip = skip;
  let left = take;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        if (left <= 0) { await reader.cancel().catch(() => {}); c.close(); return; }
        const { done, value } = await reader.read();
        if (done) { c.close(); return; }
        let v = value;
        if (toSkip > 0) {
          const n = Math.min(toSkip, v.length);
          v = v.subarray(n);
          toSkip -= n;
        }
        if (v.length === 0) continue;
        if (v.length > left) v = v.subarray(0, left);
        left -= v.length;
        c.enqueue(v);
        return;
      }
    },
    cancel(reason) { return reader.cancel(reason); },
  });
}
