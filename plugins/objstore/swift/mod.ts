// Object-store plugin `SWIFT`: OpenStack Swift. Config: Thanos's SWIFT block (see config.ts).
// Auth v1 (tempauth), Keystone v2 and v3 (password or application credential); the object API
// over the host's fetch capability. No node: imports.
//
// Permissions it asks for (the operator's grant narrows them):
//   net: the auth_url host:port and the storage URL the auth service hands out
//   env: only for secrets written as `password: { env: NAME }` (resolved by the host)
//   read: http_config.tls_config's ca_file, cert_file, key_file
import { definePlugin, type Capabilities } from '../../../lib/sdk/mod.ts';
import type { Bucket } from '../../../lib/objstore/bucket.ts';
import { httpConfigFetch } from '../../../lib/objstore/kit/mod.ts';
import { SwiftBucket, type SwiftBucketOptions } from './bucket.ts';
import { parseSwiftConfig, type SwiftConfig } from './config.ts';

export type { SwiftConfig } from './config.ts';
export { SwiftBucket, SwiftError } from './bucket.ts';

/** Authenticates and checks the container exists (Thanos fails at start-up otherwise). */
export async function createSwiftBucket(ctx: Capabilities, cfg: SwiftConfig, opts: SwiftBucketOptions = {}): Promise<SwiftBucket> {
  const b = new SwiftBucket(ctx, cfg, { ...opts, fetch: opts.fetch ?? await httpConfigFetch(ctx, cfg.http, 'swift: http_config') });
  await b.auth();
  await b.verify();
  return b;
}

export default definePlugin<SwiftConfig>({
  manifest: {
    id: 'objstore:swift',
    apiVersion: 1,
    permissions: { net: true, env: true, read: true },
    description: 'net: the Swift auth_url and the storage endpoint from the service catalog; env: { env: NAME } secrets in the config; read: the http_config.tls_config ca_file, cert_file and key_file',
  },
  provider: 'SWIFT',
  parseConfig: (raw: unknown) => parseSwiftConfig(raw),
  async create(ctx: Capabilities, config: SwiftConfig): Promise<Bucket> {
    return createSwiftBucket(ctx, config);
  },
});
