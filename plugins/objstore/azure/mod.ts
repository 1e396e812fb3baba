// Object-store plugin `AZURE`: Azure Blob Storage on @azure/storage-blob (imported when the first
// AZURE bucket is created). Config: Thanos's AZURE block (config.ts). The SDK's HTTP goes through
// the host's fetch capability (lib/objstore/kit/pipelinehttp.ts), so the `net` grant applies.
// Uploads go as one Put Blob up to 3 MiB, else as staged blocks of 3 MiB (4 in flight, Thanos's
// UploadStream settings) and a block list; reads are ranged downloads retried
// reader_config.max_retry_requests times; the container is created if missing (as Thanos does).
//
// Credentials: storage_connection_string, storage_account_key, else an Azure AD token
// (credential.ts: service principal, user-assigned or system-assigned managed identity, workload
// identity), sent as `Authorization: Bearer` (the blob endpoint must then be https).
//
// Permissions it asks for (the operator's grant narrows them):
//   net: https://<storage_account>.<endpoint> (or the connection string's BlobEndpoint); for Azure AD
//        the authority host (login.microsoftonline.com) or the managed-identity endpoint (169.254.169.254:80)
//   env: { env: NAME } secrets in the config (resolved by the host); the AZURE_* and managed-identity
//        variables of Azure's default credential chain
//   read: http_config.tls_config's ca_file, cert_file, key_file; AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_CERTIFICATE_PATH
import { definePlugin, type Capabilities, type Logger } from '../../../lib/sdk/mod.ts';
import { ObjectNotFoundError, existsBy, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { checkObjectName, checkRangeArgs, emptyStream, normalizeDir } from '../../../lib/objstore/util.ts';
import { NetworkError, describeNetErr, isPermissionDenied, sdkFetch, streamParts, httpConfigFetch } from '../../../lib/objstore/kit/mod.ts';
import { nodeToWebStream, pipelineHttpClient } from '../../../lib/objstore/kit/pipelinehttp.ts';
import type { ContainerClient } from '@azure/storage-blob';
import { parseAzureConfig, type AzureConfig } from './config.ts';
import { azureTokenCredential, isTokenError, permissionDeniedIn, type AzureTokenCredential } from './credential.ts';

export type { AzureConfig } from './config.ts';

/** Thanos's UploadStream settings. */
const BLOCK_SIZE = 3 * 1024 * 1024;
const BLOCK_CONCURRENCY = 4;

type Sdk = typeof import('@azure/storage-blob');

/** An error answer from Azure Blob Storage. */
export class AzureError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, op: string, resource: string, tokenSource = '') {
    super(`azure ${op} ${resource}: ${status} ${code}${message ? `: ${message}` : ''}${AzureError.hint(code, tokenSource)}`);
    this.name = 'AzureError';
  }

  get retryable(): boolean {
    return this.status === 429 || (this.status >= 500 && this.status !== 501);
  }

  static hint(code: string, tokenSource = ''): string {
    if (tokenSource && /^(AuthenticationFailed|AuthorizationFailure|AuthorizationPermissionMismatch|InvalidAuthenticationInfo)$/.test(code)) {
      return ` (${tokenSource}: check that the token's identity holds a Storage Blob Data role on the container)`;
    }
    if (code === 'AuthenticationFailed' || code === 'AuthorizationFailure') return ' (check storage_account_key / storage_connection_string)';
    if (code === 'ContainerNotFound') return ' (check container)';
    return '';
  }
}

export class AzureBucket implements Bucket {
  readonly provider = 'AZURE';
  private closed = false;
  private readonly log: Logger;

  private readonly tokenSource: string;

  /** token: the Azure AD credential when requests carry a bearer token. */
  constructor(private readonly sdk: Sdk, private readonly cc: ContainerClient, private readonly cfg: AzureConfig, ctx: Capabilities, private readonly token?: AzureTokenCredential) {
    this.tokenSource = token?.source ?? '';
    this.log = ctx.log.with({ bucket: cfg.container, provider: 'AZURE' });
  }

  private live(): void {
    if (this.closed) throw new Error('azure bucket: used after close()');
  }

  private mapError(err: unknown, op: string, name: string | undefined): Error {
    if (isPermissionDenied(err)) return err as Error;
    const e = err as { name?: string; statusCode?: number; code?: string; message?: string; details?: { errorCode?: string } };
    const resource = `${this.cfg.container}/${name ?? ''}`;
    if (isTokenError(err)) return tokenError(err, op, resource, this.token);
    if (e?.name === 'RestError' && typeof e.statusCode === 'number') {
      const code = e.code ?? e.details?.errorCode ?? '';
      if (name !== undefined && (code === 'BlobNotFound' || code === 'InvalidUri' || (e.statusCode === 404 && code !== 'ContainerNotFound'))) return new ObjectNotFoundError(name, err);
      return new AzureError(e.statusCode, code || 'Unknown', (e.message ?? '').split('\n')[0]!, op, resource, this.tokenSource);
    }
    if (e?.name === 'RestError' || e?.name === 'TypeError') return new NetworkError(`azure ${op} ${resource}: ${describeNetErr(err)}`, err);
    return err instanceof Error ? err : new Error(String(err));
  }

  private async call<T>(op: string, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    this.live();
    try {
      return await fn();
    } catch (err) {
      throw this.mapError(err, op, name);
    }
  }

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const prefix = normalizeDir(dir);
    const pages = opts.recursive
      ? this.cc.listBlobsFlat({ prefix: prefix || undefined }).byPage()
      : this.cc.listBlobsByHierarchy('/', { prefix: prefix || undefined }).byPage();
    for (;;) {
      const next = await this.call('iter', prefix, () => pages.next());
      if (next.done) return;
      const seg = next.value.segment as { blobItems?: Array<{ name: string }>; blobPrefixes?: Array<{ name: string }> };
      const names = [...(seg.blobItems ?? []).map((b) => b.name), ...(seg.blobPrefixes ?? []).map((p) => p.name)].sort();
      for (const n of names) if (n !== prefix) yield n;
    }
  }

  get(name: string): Promise<ReadableStream<Uint8Array>> {
    return this.getRange(name, 0, -1);
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    checkObjectName(name);
    checkRangeArgs('azure get_range', off, len);
    if (len === 0) {
      await this.attributes(name);
      return emptyStream();
    }
    const count = len !== undefined && len >= 0 ? len : undefined;
    let res;
    try {
      res = await this.call('get', name, () => this.cc.getBlobClient(name).download(off, count, { maxRetryRequests: this.cfg.reader.maxRetryRequests }));
    } catch (err) {
      // An offset at or past the end: 416 InvalidRange; the blob exists, there is nothing to read.
      if (err instanceof AzureError && (err.status === 416 || err.code === 'InvalidRange')) return emptyStream();
      throw err;
    }
    return res.readableStreamBody ? nodeToWebStream(res.readableStreamBody) : emptyStream();
  }

  exists(name: string): Promise<boolean> {
    return existsBy(() => this.attributes(name));
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    checkObjectName(name);
    const p = await this.call('attributes', name, () => this.cc.getBlobClient(name).getProperties());
    return { size: p.contentLength ?? 0, lastModified: p.lastModified ?? new Date(0) };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkObjectName(name);
    this.live();
    const bb = this.cc.getBlockBlobClient(name);
    const headers = { blobHTTPHeaders: { blobContentType: 'application/octet-stream' } };
    if (body instanceof Uint8Array) {
      await this.call('upload', name, () => bb.uploadData(body, { blockSize: BLOCK_SIZE, concurrency: BLOCK_CONCURRENCY, maxSingleShotSize: BLOCK_SIZE, ...headers }));
      return;
    }
    const reader = body.getReader();
    const parts = streamParts(reader, BLOCK_SIZE);
    const first = await parts.next();
    if (first.done) return void (await this.call('upload', name, () => bb.upload(new Uint8Array(0), 0, headers)));
    const second = await parts.next();
    if (second.done) return void (await this.call('upload', name, () => bb.upload(first.value, first.value.length, headers)));
    // Block list: blocks staged as they arrive (up to BLOCK_CONCURRENCY in flight), then committed.
    // Uncommitted blocks of a failed upload are discarded by the service (after a week).
    const ids: string[] = [];
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    const stage = (part: Uint8Array) => {
      const id = btoa(`block-${String(ids.length).padStart(6, '0')}`);
      ids.push(id);
      const p: Promise<void> = this.call('upload', name, () => bb.stageBlock(id, part, part.length))
        .then(() => {}, (err: unknown) => { failure ??= err; })
        .finally(() => { inflight.delete(p); });
      inflight.add(p);
      return p;
    };
    try {
      stage(first.value);
      stage(second.value);
      for (;;) {
        if (failure !== undefined) break;
        if (inflight.size >= BLOCK_CONCURRENCY) { await Promise.race(inflight); continue; }
        const n = await parts.next();
        if (n.done) break;
        stage(n.value);
      }
    } catch (err) {
      failure ??= err;
    }
    await Promise.all(inflight);
    if (failure !== undefined) {
      await reader.cancel(failure).catch(() => {});
      throw failure;
    }
    await this.call('upload', name, () => bb.commitBlockList(ids, headers));
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    await this.call('delete', name, () => this.cc.getBlobClient(name).delete({ deleteSnapshots: 'include' }));
  }

  isObjNotFoundErr(err: unknown): boolean {
    return err instanceof ObjectNotFoundError;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * A failed token request as one line naming the credential: the PermissionDenied it hit when the
 * net grant refused the authority host, else the SDK's first message line (which names the AAD
 * error, never the secret: the secret travels only in the token request's body).
 */
function tokenError(err: unknown, op: string, resource: string, token: AzureTokenCredential | undefined): Error {
  const denied = permissionDeniedIn(err) ?? token?.lastDenied();
  if (denied) return denied;
  const message = String((err as Error).message ?? err);
  // MSAL's server errors read "<code>: Error(s): ... - Description: <AAD's message> - Correlation ID: ...".
  const described = /^(.*?): Error\(s\):.* - Description: (.*?) - Correlation ID:/s.exec(message);
  const first = described ? `${described[1]}: ${described[2]}` : message.split('\n').find((l) => l.trim() !== '') ?? '';
  return new Error(`azure ${op} ${resource}: no Azure AD token from ${token?.source ?? 'the credential'}: ${first.trim()}`, { cause: err });
}

export async function createAzureBucket(ctx: Capabilities, cfg: AzureConfig): Promise<AzureBucket> {
  if (cfg.msiResource) ctx.log.warn('azure: msi_resource is deprecated and ignored (the SDK sets it), as in Thanos', { container: cfg.container });
  const sdk = await import('@azure/storage-blob');
  const httpClient = pipelineHttpClient(sdkFetch(ctx, { what: 'azure', headerTimeoutMs: cfg.http.responseHeaderTimeoutMs, fetch: await httpConfigFetch(ctx, cfg.http, 'azure: http_config') }));
  const p = cfg.pipeline;
  const options = {
    httpClient: httpClient as never,
    retryOptions: {
      maxTries: p.maxTries || undefined,
      tryTimeoutInMs: p.tryTimeoutMs || undefined,
      retryDelayInMs: p.retryDelayMs || undefined,
      maxRetryDelayInMs: p.maxRetryDelayMs || undefined,
    },
    userAgentOptions: { userAgentPrefix: 'thanos-ts' },
  };
  let service: import('@azure/storage-blob').BlobServiceClient;
  let token: AzureTokenCredential | undefined;
  if (cfg.storageConnectionString) {
    service = sdk.BlobServiceClient.fromConnectionString(cfg.storageConnectionString, options);
  } else if (cfg.storageAccountKey) {
    const cred = new sdk.StorageSharedKeyCredential(cfg.storageAccount, cfg.storageAccountKey);
    service = new sdk.BlobServiceClient(`https://${cfg.storageAccount}.${cfg.endpoint}`, cred, options);
  } else {
    const tokenFetch = sdkFetch(ctx, { what: 'azure token', headerTimeoutMs: cfg.http.responseHeaderTimeoutMs });
    token = await azureTokenCredential(ctx, cfg, tokenFetch);
    ctx.log.info('azure: using Azure AD credentials', { container: cfg.container, source: token.source });
    service = new sdk.BlobServiceClient(`https://${cfg.storageAccount}.${cfg.endpoint}`, token.credential, options);
  }
  const cc = service.getContainerClient(cfg.container);
  const b = new AzureBucket(sdk, cc, cfg, ctx, token);
  // As Thanos: the container is created when it does not exist (unless storage_create_container: false).
  if (!cfg.createContainer) return b;
  try {
    await cc.getProperties();
  } catch (err) {
    const e = err as { name?: string; statusCode?: number; code?: string };
    if (isPermissionDenied(err)) throw err;
    if (isTokenError(err)) throw tokenError(err, 'create', cfg.container, token);
    if (e?.name === 'RestError' && typeof e.statusCode === 'number' && e.code !== 'ContainerNotFound') {
      throw new AzureError(e.statusCode, e.code ?? 'Unknown', String((err as Error).message).split('\n')[0]!, 'create', cfg.container, token?.source);
    }
    if (e?.name !== 'RestError' || e.code !== 'ContainerNotFound') throw new Error(`azure: container ${cfg.container}: ${describeNetErr(err)}`, { cause: err });
    await cc.create();
    ctx.log.info('azure: blob container created', { container: cfg.container });
  }
  return b;
}

export default definePlugin<AzureConfig>({
  manifest: {
    id: 'objstore:azure',
    apiVersion: 1,
    permissions: { net: true, env: true, read: true },
    description: 'net: the storage account blob endpoint, and for Azure AD credentials the authority host or the managed-identity endpoint; env: { env: NAME } secrets in the config, the AZURE_* and managed-identity variables; read: the http_config.tls_config ca_file, cert_file and key_file, AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_CERTIFICATE_PATH',
  },
  provider: 'AZURE',
  parseConfig: (raw: unknown) => parseAzureConfig(raw),
  // The SDK's pipeline retries (pipeline_config / max_retries) and the reader retries ranged reads.
  retries: 'provider',
  async create(ctx: Capabilities, config: AzureConfig): Promise<Bucket> {
    return createAzureBucket(ctx, config);
  },
});
