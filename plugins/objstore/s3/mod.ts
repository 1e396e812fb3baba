// Object-store plugin `S3`: Amazon S3 and S3-compatible stores (MinIO, Ceph RGW, OpenStack Swift's
// s3api, ...) on @aws-sdk/client-s3 (imported when the first S3 bucket is made). Config: Thanos's S3
// block (see config.ts). The SDK's HTTP goes through the host's fetch capability. No node: imports.
//
// Permissions it asks for (the operator's grant narrows them):
//   net:  the endpoint's host:port (and the bucket's virtual host on AWS-like endpoints); STS, ECS or
//         instance-metadata endpoints when credentials come from them
//   env:  any variable the operator grants: secrets written as `secret_key: { env: NAME }` (resolved by
//         the host), and the AWS default chain's variables when the config has no access_key
//         (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,
//         HOME, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME, AWS_ENDPOINT_URL_STS,
//         AWS_CONTAINER_CREDENTIALS_*, AWS_EC2_METADATA_*, AWS_REGION / AWS_DEFAULT_REGION)
//   read: the sse_config.encryption_key file (SSE-C), the shared credentials file, the web identity token file
import { definePlugin, type Capabilities } from '../../../lib/sdk/mod.ts';
import type { Bucket } from '../../../lib/objstore/bucket.ts';
import { httpConfigFetch, sdkFetch } from '../../../lib/objstore/kit/mod.ts';
import { S3Bucket, loadS3Sdk, regionFromEndpoint } from './bucket.ts';
import { parseS3Config, type S3Config } from './config.ts';
import { NoCredentials, defaultChain } from './credentials.ts';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

export type { S3Config } from './config.ts';
export { S3Bucket, S3Error } from './bucket.ts';

export const ENV_VARS = [
  'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'AWS_REGION', 'AWS_DEFAULT_REGION',
  'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'HOME', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_ROLE_SESSION_NAME',
  'AWS_ENDPOINT_URL_STS', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_EC2_METADATA_DISABLED', 'AWS_EC2_METADATA_SERVICE_ENDPOINT',
];

function envGet(ctx: Capabilities, name: string): string {
  return ctx.env.get(name) ?? '';
}

/** Static keys from the config, else the AWS default chain (credentials.ts); undefined = anonymous. */
async function resolveCredentials(ctx: Capabilities, cfg: S3Config, region: string): Promise<AwsCredentialIdentityProvider | undefined> {
  if (cfg.accessKey) {
    const c = { accessKeyId: cfg.accessKey, secretAccessKey: cfg.secretKey, sessionToken: cfg.sessionToken || undefined };
    return async () => c;
  }
  const fetch = sdkFetch(ctx, { what: 's3 credentials', headerTimeoutMs: cfg.http.responseHeaderTimeoutMs });
  try {
    const found = await defaultChain(ctx, { region, stsEndpoint: cfg.stsEndpoint, fetch });
    ctx.log.info('s3: credentials from the AWS default chain', { bucket: cfg.bucket, source: found.source });
    if (cfg.sessionToken) {
      const inner = found.provider;
      return async () => ({ ...(await inner()), sessionToken: cfg.sessionToken });
    }
    return found.provider;
  } catch (err) {
    if (!(err instanceof NoCredentials) || !err.nothingConfigured || cfg.awsSdkAuth) throw new Error(`s3: ${cfg.awsSdkAuth ? 'aws_sdk_auth: ' : ''}${(err as Error).message}`, { cause: err });
    ctx.log.warn(`s3: ${err.message}; sending anonymous requests`, { bucket: cfg.bucket });
    return undefined;
  }
}

export async function createS3Bucket(ctx: Capabilities, cfg: S3Config, opts: { maxKeys?: number } = {}): Promise<S3Bucket> {
  const https = /^https:\/\//i.test(cfg.endpoint) || (!/^http:\/\//i.test(cfg.endpoint) && !cfg.insecure);
  // TLS settings only matter to an https endpoint (Go's transport uses them for TLS connections only).
  const fetch = https ? await httpConfigFetch(ctx, cfg.http, 's3: http_config') : undefined;
  const host = cfg.endpoint.replace(/^https?:\/\//i, '');
  let region = cfg.region;
  let regionFixed = region !== '';
  if (!region) {
    const fromEndpoint = regionFromEndpoint(host);
    if (fromEndpoint) { region = fromEndpoint; regionFixed = true; }
  }
  if (!region && (cfg.awsSdkAuth || !cfg.accessKey)) region = envGet(ctx, 'AWS_REGION') || envGet(ctx, 'AWS_DEFAULT_REGION');
  if (!region) region = 'us-east-1';
  let sseCKey: Uint8Array | undefined;
  if (cfg.sse.type === 'SSE-C') {
    sseCKey = await ctx.fs.readFile(cfg.sse.encryptionKey);
    if (sseCKey.length !== 32) throw new Error(`s3: sse_config.encryption_key: ${cfg.sse.encryptionKey} must hold exactly 32 bytes, it has ${sseCKey.length}`);
    if (!https) throw new Error('s3: SSE-C needs an https endpoint (S3 refuses customer keys over plain http)');
  }
  const credentials = await resolveCredentials(ctx, cfg, region);
  const sdk = await loadS3Sdk();
  return new S3Bucket(sdk, ctx, cfg, region, { regionFixed, maxKeys: opts.maxKeys, credentials, sseCKey, fetch });
}

export default definePlugin<S3Config>({
  manifest: {
    id: 'objstore:s3',
    apiVersion: 1,
    permissions: { net: true, env: true, read: true },
    description: 'net: the S3 endpoint from the config (and STS / container / instance-metadata endpoints of the credential chain); env: { env: NAME } secrets in the config, and the AWS default chain variables when the config has no access_key; read: the SSE-C key file, the shared credentials file, the web identity token file, the http_config.tls_config ca_file, cert_file and key_file',
  },
  provider: 'S3',
  // The SDK retries (max_retries, Thanos default 10): no second retry layer on top.
  retries: 'provider',
  parseConfig: (raw: unknown) => parseS3Config(raw),
  async create(ctx: Capabilities, config: S3Config): Promise<Bucket> {
    return createS3Bucket(ctx, config);
  },
});
