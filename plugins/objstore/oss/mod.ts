// Object-store plugin `ALIYUNOSS`: Alibaba Cloud OSS on ali-oss (imported when the first bucket is
// created). Config: Thanos's ALIYUNOSS block: endpoint, bucket, access_key_id, access_key_secret
// (all required, as in Thanos). The SDK's HTTP goes through the host's fetch capability
// (lib/objstore/kit/urllibfetch.ts as its `urllib`), so the `net` grant applies. Uploads: one PUT for
// byte arrays, a streamed (chunked) PutObject for streams; reads are ranged GETs.
//
// Permissions it asks for: net (the endpoint, <bucket>.<endpoint> on OSS's virtual-hosted names);
// env ({ env: NAME } secrets in the config, resolved by the host).
import { definePlugin, ConfigError, type Capabilities } from '../../../lib/sdk/mod.ts';
import { ObjectNotFoundError, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../../lib/objstore/util.ts';
import { join, mapping, str } from '../../../lib/config/fields.ts';
import { NetworkError, describeNetErr, isPermissionDenied, sdkFetch } from '../../../lib/objstore/kit/mod.ts';
import { urllibOverFetch } from '../../../lib/objstore/kit/urllibfetch.ts';
import { nodeToWebStream, webToNodeStream } from '../../../lib/objstore/kit/pipelinehttp.ts';

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
  putStream(name: string, s: NodeJS.ReadableStream, o?: object): Promise<unknown>;
  delete(name: string): Promise<unknown>;
}

export class OssBucket implements Bucket {
  readonly provider = 'ALIYUNOSS';
  private closed = false;

  constructor(private readonly client: OssClient, private readonly cfg: OssConfig) {}

  private async call<T>(op: string, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('oss bucket: used after close()');
    try {
      return await fn();
    } catch (err) {
      if (isPermissionDenied(err)) throw err;
      const e = err as { status?: number; code?: string; name?: string; message?: string };
      const resource = `${this.cfg.bucket}/${name ?? ''}`;
      if (typeof e?.status === 'number' && e.status > 0) {
        if (name !== undefined && (e.code === 'NoSuchKey' || e.name === 'NoSuchKeyError' || (e.status === 404 && e.code !== 'NoSuchBucket'))) throw new ObjectNotFoundError(name, err);
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

  async exists(name: string): Promise<boolean> {
    try { await this.attributes(name); return true; } catch (err) { if (err instanceof ObjectNotFoundError) return false; throw err; }
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    checkObjectName(name);
    const r = await this.call('attributes', name, () => this.client.head(name));
    return { size: Number(r.res.headers['content-length'] ?? 0), lastModified: new Date(r.res.headers['last-modified'] ?? 0) };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    const mime = 'application/octet-stream';
    if (body instanceof Uint8Array) {
      await this.call('upload', name, () => this.client.put(name, Buffer.from(body.buffer, body.byteOffset, body.byteLength), { mime }));
      return;
    }
    await this.call('upload', name, () => this.client.putStream(name, webToNodeStream(body), { mime }));
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    await this.call('delete', name, () => this.client.delete(name));
  }

  isObjNotFoundErr(err: unknown): boolean { return err instanceof ObjectNotFoundError; }

  async close(): Promise<void> { this.closed = true; }
}

export async function createOssBucket(ctx: Capabilities, cfg: OssConfig): Promise<OssBucket> {
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
  return new OssBucket(client, cfg);
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
