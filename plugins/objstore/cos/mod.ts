// Object-store plugin `COS`: Tencent Cloud Object Storage over its XML API. Requests are sent by
// the plugin through the host's fetch capability (the `net` grant applies) and signed with the
// vendor SDK's exported signer, COS.getAuthorization (cos-nodejs-sdk-v5, imported when the first
// bucket is created); the SDK's own sender (cos-request) has no hook to route it through fetch.
// Config: Thanos's COS block (config.ts). Uploads: one PUT Object up to a part (64 MiB), multipart
// beyond; reads are ranged GET Object.
//
// Permissions it asks for: net (https://<bucket>-<app_id>.cos.<region>.myqcloud.com or endpoint);
// env ({ env: NAME } secrets in the config, resolved by the host); read (http_config.tls_config's
// ca_file, cert_file, key_file).
import { definePlugin, type Capabilities } from '../../../lib/sdk/mod.ts';
import type { Bucket } from '../../../lib/objstore/bucket.ts';
import { httpConfigFetch, sdkFetch } from '../../../lib/objstore/kit/mod.ts';
import { parseCosConfig, type CosConfig } from './config.ts';
import { CosBucket, DEFAULT_PART_SIZE, type CosSigner } from './bucket.ts';

export { parseCosConfig, type CosConfig } from './config.ts';
export { CosBucket, CosError } from './bucket.ts';

export async function createCosBucket(ctx: Capabilities, cfg: CosConfig, o: { partSize?: number } = {}): Promise<CosBucket> {
  const mod = (await import('cos-nodejs-sdk-v5')) as unknown as { default?: { getAuthorization: CosSigner }; getAuthorization?: CosSigner };
  const sign = mod.getAuthorization ?? mod.default?.getAuthorization;
  if (!sign) throw new Error('cos: cos-nodejs-sdk-v5 exports no getAuthorization');
  return new CosBucket(sdkFetch(ctx, { what: 'cos', headerTimeoutMs: cfg.http.responseHeaderTimeoutMs, fetch: await httpConfigFetch(ctx, cfg.http, 'cos: http_config') }), sign, cfg, o.partSize ?? DEFAULT_PART_SIZE);
}

export default definePlugin<CosConfig>({
  manifest: {
    id: 'objstore:cos',
    apiVersion: 1,
    permissions: { net: true, env: true, read: true },
    description: 'net: the bucket URL (<bucket>-<app_id>.cos.<region>.myqcloud.com or endpoint); env: { env: NAME } secrets in the config; read: the http_config.tls_config ca_file, cert_file and key_file',
  },
  provider: 'COS',
  parseConfig: (raw: unknown) => parseCosConfig(raw),
  async create(ctx: Capabilities, config: CosConfig): Promise<Bucket> {
    return createCosBucket(ctx, config);
  },
});
