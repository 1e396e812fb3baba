// Bench-only object-store plugin: the GCS plugin aimed at a loopback GCS fake
// (test/objstore-gcs/fake.ts). Thanos's GCS config has no endpoint key (Google's API only), so a
// spawned `thanos` cannot otherwise reach a fake; the cold-start benchmark loads this through
// plugins.yaml (`use: ./…/gcs-fake-plugin.ts`, isolation inline) with config
// { endpoint: <the fake's JSON API root>, gcs: <Thanos's GCS block> }. Not a plugin of the product.
import { definePlugin, type Capabilities } from '../../lib/sdk/mod.ts';
import type { Bucket } from '../../lib/objstore/bucket.ts';
import { createGcsBucket, parseGcsConfig, type GcsConfig } from '../../plugins/objstore/gcs/mod.ts';

interface Config { endpoint: string; gcs: GcsConfig }

export default definePlugin<Config>({
  manifest: {
    id: 'objstore:gcs-bench',
    apiVersion: 1,
    permissions: { net: true },
    description: 'net: the GCS fake (bench only)',
  },
  provider: 'GCS',
  retries: 'provider',
  parseConfig: (raw: unknown) => {
    const o = (raw ?? {}) as { endpoint?: unknown; gcs?: unknown };
    if (typeof o.endpoint !== 'string' || !o.endpoint) throw new Error('gcs-bench: config.endpoint (the fake JSON API root) is required');
    return { endpoint: o.endpoint, gcs: parseGcsConfig(o.gcs) };
  },
  async create(ctx: Capabilities, c: Config): Promise<Bucket> {
    return createGcsBucket(ctx, c.gcs, { endpoint: c.endpoint });
  },
});
