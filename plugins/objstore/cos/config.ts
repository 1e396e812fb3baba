// Thanos's COS block (objstore providers/cos Config): bucket, region, app_id, endpoint, secret_key,
// secret_id, http_config.
import { ConfigError } from '../../../lib/sdk/mod.ts';
import { join, mapping, str } from '../../../lib/config/fields.ts';
import { parseHttpConfig, type HttpConfig } from '../../../lib/objstore/kit/mod.ts';

export interface CosConfig {
  bucket: string;
  region: string;
  appId: string;
  endpoint: string;
  secretKey: string;
  secretId: string;
  http: HttpConfig;
  /** The bucket's base URL: endpoint when set, else https://<bucket>-<app_id>.cos.<region>.myqcloud.com (Thanos's cos.NewBucketURL). */
  bucketUrl: string;
}

const KEYS = ['bucket', 'region', 'app_id', 'endpoint', 'secret_key', 'secret_id', 'http_config'] as const;

export function parseCosConfig(raw: unknown, path = ''): CosConfig {
  const o = mapping(raw, path, KEYS);
  const c = {
    bucket: str(o, 'bucket', path),
    region: str(o, 'region', path),
    appId: str(o, 'app_id', path),
    endpoint: str(o, 'endpoint', path),
    secretKey: str(o, 'secret_key', path),
    secretId: str(o, 'secret_id', path),
    http: parseHttpConfig(o.http_config, join(path, 'http_config')),
  };
  // Thanos's validate(): with an endpoint only the secrets are required; without one, everything
  // that names the bucket's URL is. Each missing key is named.
  const need = c.endpoint !== '' ? ['secret_id', 'secret_key'] : ['bucket', 'app_id', 'region', 'secret_id', 'secret_key'];
  const val: Record<string, string> = { bucket: c.bucket, app_id: c.appId, region: c.region, secret_id: c.secretId, secret_key: c.secretKey };
  for (const k of need) {
    if (val[k] === '') throw new ConfigError(join(path, k), c.endpoint !== '' ? 'secret_id or secret_key is empty' : `insufficient cos configuration information: ${k} is empty (or set endpoint)`);
  }
  let bucketUrl: string;
  if (c.endpoint !== '') {
    let u: URL;
    try { u = new URL(c.endpoint); } catch { throw new ConfigError(join(path, 'endpoint'), `parse endpoint: not a URL: ${c.endpoint}`); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(join(path, 'endpoint'), `parse endpoint: scheme must be http or https: ${c.endpoint}`);
    bucketUrl = c.endpoint.replace(/\/+$/, '');
  } else {
    if (!/^[a-z0-9-]+$/.test(c.bucket) || !/^\d+$/.test(c.appId) || !/^[a-z0-9-]+$/.test(c.region)) {
      throw new ConfigError(join(path, 'bucket'), 'bucket, app_id and region must be DNS labels (lower case letters, digits, -; app_id digits)');
    }
    bucketUrl = `https://${c.bucket}-${c.appId}.cos.${c.region}.myqcloud.com`;
  }
  return { ...c, bucketUrl };
}
