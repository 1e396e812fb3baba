// Object-store plugin `ALIYUNOSS`: Alibaba Cloud OSS on ali-oss (imported when the first bucket is
// created). Config: Thanos's ALIYUNOSS block: endpoint, bucket, access_key_id, access_key_secret
// (all required, as in Thanos). The SDK's HTTP goes through the host's fetch capability
// (lib/objstore/kit/urllibfetch.ts as its `urllib`), so the `net` grant applies. Uploads as Thanos's
// provider does them: an object smaller than OSS_PART_SIZE (128 MiB, providers/oss PartSize) is one
// PutObject; a larger one goes up by OSS multipart in parts of OSS_PART_SIZE (the last one shorter),
// aborted on any failure so no parts are left behind. A stream's size is not known in advance, so the
// plugin reads up to one part before choosing: memory is bounded by about two parts, never the object.
// Reads are ranged GETs.
//
// Permissions it asks for: net (the endpoint, <bucket>.<endpoint> on OSS's virtual-hosted names);
// env ({ env: NAME } secrets in the config, resolved by the host).
import { definePlugin, ConfigError, type Capabilities } from '../../../lib/sdk/mod.ts';
import { ObjectNotFoundError, existsBy, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../../lib/objstore/util.ts';
import { join, mapping, str } from '../../../lib/config/fields.ts';
import { NetworkError, describeNetErr, isPermissionDenied, sdkFetch } from '../../../lib/objstore/kit/mod.ts';
import { urllibOverFetch } from '../../../lib/objstore/kit/urllibfetch.ts';
import { nodeToWebStream } from '../../../lib/objstore/kit/pipelinehttp.ts';

/** Thanos's providers/oss PartSize: the multipart threshold and the size of each part. */
export const OSS_PART_SIZE = 128 * 1024 * 1024;

/** Internal knobs, not config keys (Thanos has none for this); tests shrink the part size. */
export interface OssBucketOptions {
  partSize?: number;
}

export interface OssConfig {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export function parseOssConfig(raw: unknown, path = ''): OssConfig {
  const o = mapping(raw, path, ['endpoint', 'bucket', 'access_key_id', 'access_key_secret']);
  const c: OssConfig = {
    endpoint: str(o, 'endpoint', path),
    bucket: str(o, 'bucket', path),
    accessKeyId: str(o, 'access_key_id', path),
    accessKeySecret: str(o, 'access_key_secret', path),
  };
  // Thanos's checks (providers/oss validate()).
  if (c.endpoint === '') throw new ConfigError(join(path, 'endpoint'), 'no aliyun oss endpoint in config file');
  if (c.bucket === '') throw new ConfigError(join(path, 'bucket'), 'no aliyun oss bucket in config file');
  if (c.accessKeyId === '') throw new ConfigError(join(path, 'access_key_id'), 'no aliyun oss access_key_id in config file');
  if (c.accessKeySecret === '') throw new ConfigError(join(path, 'access_key_secret'), 'no aliyun oss access_key_secret in config file');
  return c;
}

/** An error answer from OSS. */
export class OssError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, op: string, resource: string) {
    super(`oss ${op} ${resource}: ${status} ${code}${message ? `: ${message}` : ''}${code === 'SignatureDoesNotMatch' ? ' (check access_key_secret)' : code === 'InvalidAccessKeyId' ? ' (check access_key_id)' : ''}`);
    this.name = 'OssError';
  }

  get retryable(): boolean {
    return this.status === 429 || (this.status >= 500 && this.status !== 501);
  }
}

// ali-oss's client, as far as this plugin uses it.
interface OssClient {
  list(q: Record<string, unknown>, o?: object): Promise<{ objects?: Array<{ name: string }>; prefixes?: string[] | null; nextMarker?: string | null; isTruncated: boolean }>;
  getStream(name: string, o?: object): Promise<{ stream: NodeJS.ReadableStream; res: { status: number; headers: Record<string, string> } }>;
  head(name: string): Promise<{ res: { headers: Record<string, string> } }>;
  put(name: string, data: Uint8Array, o?: object): Promise<unknown>;
  delete(name: string): Promise<unknown>;
  initMultipartUpload(name: string, o?: object): Promise<{ uploadId: string }>;
  uploadPart(name: string, uploadId: string, partNo: number, data: Buffer, start: number, end: number, o?: object): Promise<{ etag: string }>;
  completeMultipartUpload(name: string, uploadId: string, parts: Array<{ number: number; etag: string }>, o?: object): Promise<unknown>;
  abortMultipartUpload(name: string, uploadId: string, o?: object): Promise<unknown>;
}

/**
 * Cuts a byte stream into parts of exactly `size` bytes (the last one shorter, possibly empty), holding
 * at most one part plus one incoming chunk.
 */
class PartReader {
  private pending: Uint8Array | undefined;
  private done = false;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>, private readonly size: number) {}

  /** The next part; shorter than `size` only at the end of the stream. */
  async next(): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    let have = 0;
    while (have < this.size) {
      let chunk = this.pending;
      this.pending = undefined;
      if (!chunk) {
        if (this.done) break;
        const r = await this.reader.read();
        if (r.done) { this.done = true; break; }
        chunk = r.value;
      }
      const want = this.size - have;
      if (chunk.byteLength > want) {
        this.pending = chunk.subarray(want);
        chunk = chunk.subarray(0, want);
      }
      chunks.push(chunk);
      have += chunk.byteLength;
    }
    return Buffer.concat(chunks, have);
  }
}

export class OssBucket implements Bucket {
  readonly provider = 'ALIYUNOSS';
  private closed = false;

  private readonly partSize: number;

  constructor(private readonly client: OssClient, private readonly cfg: OssConfig, opts: OssBucketOptions = {}) {
    this.partSize = opts.partSize ?? OSS_PART_SIZE;
  }

  private async call<T>(op: string, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('oss bucket: used after close()');
    try {
      return await fn();
    } catch (err) {
      if (isPermissionDenied(err)) throw err;
      const e = err as { status?: number; code?: string; name?: string; message?: string };
      const resource = `${this.cfg.bucket}/${name ?? ''}`;
      if (typeof e?.status === 'number' && e.status > 0) {
        if (name !== undefined && (e.code === 'NoSuchKey' || e.name === 'NoSuchKeyError' || (e.status === 404 && e.code !== 'NoSuchBucket' && e.code !== 'NoSuchUpload'))) throw new ObjectNotFoundError(name, err);
        throw new OssError(e.status, e.code ?? e.name ?? 'Unknown', String(e.message ?? '').replace(/^\w+Error: /, '').split('\n')[0]!, op, resource);
      }
      const cause = (err as { cause?: unknown }).cause;
      if (isPermissionDenied(cause)) throw cause;
      throw new NetworkError(`oss ${op} ${resource}: ${describeNetErr(err)}`, err);
    }
  }

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const prefix = normalizeDir(dir);
    let marker: string | undefined;
    for (;;) {
      const q: Record<string, unknown> = { prefix, 'max-keys': 1000 };
      if (!opts.recursive) q.delimiter = '/';
      if (marker) q.marker = marker;
      const r = await this.call('iter', prefix, () => this.client.list(q, {}));
      const names = [...(r.objects ?? []).map((o) => o.name), ...(r.prefixes ?? [])].sort();
      for (const n of names) if (n !== prefix) yield n;
      if (!r.isTruncated || !r.nextMarker) return;
      marker = r.nextMarker;
    }
  }

  get(name: string) { return this.getRange(name, 0, -1); }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    checkObjectName(name);
    checkRangeArgs('oss get_range', off, len);
    if (len === 0) { await this.attributes(name); return emptyStream(); }
    const whole = off === 0 && (len === undefined || len < 0);
    const headers: Record<string, string> = whole ? {} : { Range: `bytes=${off}-${len !== undefined && len >= 0 ? off + len - 1 : ''}` };
    try {
      const r = await this.call('get', name, () => this.client.getStream(name, { headers }));
      return nodeToWebStream(r.stream);
    } catch (err) {
      if (err instanceof OssError && (err.status === 416 || err.code === 'InvalidRange')) return emptyStream();
      throw err;
    }
  }

  exists(name: string): Promise<boolean> {
    return existsBy(() => this.attributes(name));
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    checkObjectName(name);
    const r = await this.call('attributes', name, () => this.client.head(name));
    return { size: Number(r.res.headers['content-length'] ?? 0), lastModified: new Date(r.res.headers['last-modified'] ?? 0) };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    if (body instanceof Uint8Array) {
      const whole = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (whole.length < this.partSize) return this.putWhole(name, whole);
      let off = 0;
      return this.multipart(name, whole.subarray(0, this.partSize), async () => {
        off += this.partSize;
        return whole.subarray(off, off + this.partSize);
      });
    }
    const reader = body.getReader();
    try {
      const parts = new PartReader(reader, this.partSize);
      const first = await parts.next();
      if (first.length < this.partSize) return await this.putWhole(name, first);
      await this.multipart(name, first, () => parts.next());
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }

  private async putWhole(name: string, data: Buffer): Promise<void> {
    await this.call('upload', name, () => this.client.put(name, data, { mime: 'application/octet-stream' }));
  }

  /**
   * OSS multipart, parts in order and one at a time (as Thanos uploads them): `first` is part 1 (a full
   * part), `nextPart` yields the following ones until a short (possibly empty) one ends the object. Any
   * failure, including the body's, aborts the upload so OSS keeps no orphaned parts.
   */
  private async multipart(name: string, first: Buffer, nextPart: () => Promise<Buffer>): Promise<void> {
    const { uploadId } = await this.call('upload (initiate multipart)', name, () => this.client.initMultipartUpload(name, { mime: 'application/octet-stream' }));
    try {
      const done: Array<{ number: number; etag: string }> = [];
      for (let part: Buffer = first, number = 1; ; number++) {
        if (part.length > 0) {
          const data = part;
          const r = await this.call(`upload (part ${number})`, name, () => this.client.uploadPart(name, uploadId, number, data, 0, data.length));
          done.push({ number, etag: r.etag });
        }
        if (part.length < this.partSize) break;
        part = await nextPart();
      }
      await this.call('upload (complete multipart)', name, () => this.client.completeMultipartUpload(name, uploadId, done));
    } catch (err) {
      try {
        await this.call('upload (abort multipart)', name, () => this.client.abortMultipartUpload(name, uploadId));
      } catch (abortErr) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; aborting multipart upload ${uploadId} failed too (its parts stay until a lifecycle rule removes them): ${abortErr instanceof Error ? abortErr.message : String(abortErr)}`, { cause: err });
      }
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    await this.call('delete', name, () => this.client.delete(name));
  }

  isObjNotFoundErr(err: unknown): boolean { return err instanceof ObjectNotFoundError; }

  async close(): Promise<void> { this.closed = true; }
}

export async function createOssBucket(ctx: Capabilities, cfg: OssConfig, opts: OssBucketOptions = {}): Promise<OssBucket> {
  const { default: OSS } = (await import('ali-oss')) as unknown as { default: new (o: object) => OssClient };
  const endpoint = /^https?:\/\//i.test(cfg.endpoint) ? cfg.endpoint : `https://${cfg.endpoint}`;
  const client = new OSS({
    endpoint,
    bucket: cfg.bucket,
    accessKeyId: cfg.accessKeyId,
    accessKeySecret: cfg.accessKeySecret,
    secure: endpoint.startsWith('https:'),
    urllib: urllibOverFetch(sdkFetch(ctx, { what: 'oss', headerTimeoutMs: 120_000 })),
  });
  return new OssBucket(client, cfg, opts);
}

export default definePlugin<OssConfig>({
  manifest: {
    id: 'objstore:aliyunoss',
    apiVersion: 1,
    permissions: { net: true, env: true },
    description: 'net: the OSS endpoint (and <bucket>.<endpoint>); env: { env: NAME } secrets in the config',
  },
  provider: 'ALIYUNOSS',
  parseConfig: (raw: unknown) => parseOssConfig(raw),
  async create(ctx: Capabilities, config: OssConfig): Promise<Bucket> {
    return createOssBucket(ctx, config);
  },
});
