// Object-store plugin `S3`: Amazon S3 and S3-compatible stores (MinIO, Ceph RGW, OpenStack Swift's
// s3api, ...). Config: Thanos's S3 block (see config.ts); requests signed with our own SigV4 over
// the host's fetch capability. No node: imports.
//
// Permissions it asks for (the operator's grant narrows them):
//   net:  the endpoint's host:port (and the bucket's virtual host on AWS-like endpoints)
//   env:  any variable the operator grants: secrets written as `secret_key: { env: NAME }` (resolved by
//         the host), and AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (also the older
//         AWS_ACCESS_KEY / AWS_SECRET_KEY), AWS_REGION / AWS_DEFAULT_REGION when the config has no access_key
//   read: the sse_config.encryption_key file, only for SSE-C
import { definePlugin, type Capabilities } from '../../../lib/sdk/mod.ts';
import type { Bucket } from '../../../lib/objstore/bucket.ts';
import { S3Bucket, regionFromEndpoint, type Credentials } from './bucket.ts';
import { parseS3Config, type S3Config } from './config.ts';
import { unsupportedTlsField } from '../../../lib/objstore/kit/mod.ts';

export type { S3Config } from './config.ts';
export { S3Bucket, S3Error } from './bucket.ts';

export const ENV_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'AWS_REGION', 'AWS_DEFAULT_REGION'];

function envGet(ctx: Capabilities, name: string): string {
  return ctx.env.get(name) ?? '';
}

/** Static keys from the config, else the AWS_* environment (as minio's EnvAWS provider reads it). */
function resolveCredentials(ctx: Capabilities, cfg: S3Config): Credentials | undefined {
  if (cfg.accessKey) return { accessKey: cfg.accessKey, secretKey: cfg.secretKey, sessionToken: cfg.sessionToken };
  const accessKey = envGet(ctx, 'AWS_ACCESS_KEY_ID') || envGet(ctx, 'AWS_ACCESS_KEY');
  const secretKey = envGet(ctx, 'AWS_SECRET_ACCESS_KEY') || envGet(ctx, 'AWS_SECRET_KEY');
  if (accessKey && secretKey) return { accessKey, secretKey, sessionToken: envGet(ctx, 'AWS_SESSION_TOKEN') || cfg.sessionToken };
  if (cfg.awsSdkAuth) {
    throw new Error('s3: aws_sdk_auth: no credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (instance-profile and shared-file credentials are not supported)');
  }
  return undefined;
}

export async function createS3Bucket(ctx: Capabilities, cfg: S3Config, opts: { now?: () => Date; maxKeys?: number } = {}): Promise<S3Bucket> {
  const https = /^https:\/\//i.test(cfg.endpoint) || (!/^http:\/\//i.test(cfg.endpoint) && !cfg.insecure);
  if (https) {
    const bad = unsupportedTlsField(cfg.http, 'http_config');
    if (bad) {
      throw new Error(`s3: ${bad} is set, but custom TLS settings cannot be applied through the host's fetch capability; use a certificate the system trusts (NODE_EXTRA_CA_CERTS for a private CA)`);
    }
  }
  if (cfg.stsEndpoint) ctx.log.warn('s3: sts_endpoint is ignored: IAM/STS credentials are not supported; use access_key/secret_key or AWS_* variables', { bucket: cfg.bucket });
  const creds = resolveCredentials(ctx, cfg);
  if (!creds) ctx.log.warn('s3: no access_key and no AWS_* credentials in the environment; sending anonymous requests', { bucket: cfg.bucket });
  const host = cfg.endpoint.replace(/^https?:\/\//i, '');
  let region = cfg.region;
  let regionFixed = region !== '';
  if (!region) {
    const fromEndpoint = regionFromEndpoint(host);
    if (fromEndpoint) { region = fromEndpoint; regionFixed = true; }
  }
  if (!region && cfg.awsSdkAuth) region = envGet(ctx, 'AWS_REGION') || envGet(ctx, 'AWS_DEFAULT_REGION');
  if (!region) region = 'us-east-1';
  let sseCKey: Uint8Array | undefined;
  if (cfg.sse.type === 'SSE-C') {
    sseCKey = await ctx.fs.readFile(cfg.sse.encryptionKey);
    if (sseCKey.length !== 32) throw new Error(`s3: sse_config.encryption_key: ${cfg.sse.encryptionKey} must hold exactly 32 bytes, it has ${sseCKey.length}`);
    if (!https) throw new Error('s3: SSE-C needs an https endpoint (S3 refuses customer keys over plain http)');
  }
  return new S3Bucket(ctx, cfg, creds, region, { regionFixed, now: opts.now, maxKeys: opts.maxKeys }, sseCKey);
}

export default definePlugin<S3Config>({
  manifest: {
    id: 'objstore:s3',
    apiVersion: 1,
    permissions: { net: true, env: true, read: true },
    description: 'net: the S3 endpoint from the config; env: { env: NAME } secrets in the config, and AWS_* credentials when the config has no access_key; read: the SSE-C key file (sse_config.encryption_key) only',
  },
  provider: 'S3',
  parseConfig: (raw: unknown) => parseS3Config(raw),
  async create(ctx: Capabilities, config: S3Config): Promise<Bucket> {
    return createS3Bucket(ctx, config);
  },
});
