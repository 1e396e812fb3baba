// Object-store plugin `SWIFT`: OpenStack Swift. Config: Thanos's SWIFT block (see config.ts).
// Auth v1 (tempauth), Keystone v2 and v3 (password or application credential); the object API
// over the host's fetch capability. No node: imports.
//
// Permissions it asks for (the operator's grant narrows them):
//   net: the auth_url host:port and the storage URL the auth service hands out
//   env: only for secrets written as `password: { env: NAME }` (resolved by the host)
import { definePlugin, type Capabilities } from '../../../lib/sdk/mod.ts';
import type { Bucket } from '../../../lib/objstore/bucket.ts';
import { unsupportedTlsField } from '../../../lib/objstore/kit/mod.ts';
import { SwiftBucket, type SwiftBucketOptions } from './bucket.ts';
import { parseSwiftConfig, type SwiftConfig } from './config.ts';

export type { SwiftConfig } from './config.ts';
export { SwiftBucket, SwiftError } from './bucket.ts';

/** Authenticates and checks the container exists (Thanos fails at start-up otherwise). */
export async function createSwiftBucket(ctx: Capabilities, cfg: SwiftConfig, opts: SwiftBucketOptions = {}): Promise<SwiftBucket> {
  if (/^https:/i.test(cfg.authUrl)) {
    const bad = unsupportedTlsField(cfg.http, 'http_config');
    if (bad) {
      throw new Error(`swift: ${bad} is set, but custom TLS settings cannot be applied through the host's fetch capability; use a certificate the system trusts (NODE_EXTRA_CA_CERTS for a private CA)`);
    }
  }
  const b = new SwiftBucket(ctx, cfg, opts);
  await b.auth();
  await b.verify();
  return b;
}

export default definePlugin<SwiftConfig>({
  manifest: {
    id: 'objstore:swift',
    apiVersion: 1,
    permissions: { net: true, env: true },
    description: 'net: the Swift auth_url and the storage endpoint from the service catalog; env: { env: NAME } secrets in the config',
  },
  provider: 'SWIFT',
  parseConfig: (raw: unknown) => parseSwiftConfig(raw),
  async create(ctx: Capabilities, config: SwiftConfig): Promise<Bucket> {
    return createSwiftBucket(ctx, config);
  },
});
