// The S3 config block of Thanos's objstore YAML (`type: S3`), parsed strictly: today's field list
// (objstore providers/s3) plus the older spellings found in deployed configs (`encrypt_sse`).
import { ConfigError } from '../../../lib/sdk/mod.ts';
import { bool, int, join, mapping, str, stringMap } from '../../../lib/config/fields.ts';
import { parseHttpConfig, type HttpConfig } from '../../../lib/objstore/kit/mod.ts';

export type SseType = '' | 'SSE-S3' | 'SSE-KMS' | 'SSE-C';
export type BucketLookup = 'auto' | 'virtual-hosted' | 'path';

export interface S3Config {
  bucket: string;
  /** host[:port] (a leading http:// or https:// is accepted and decides the scheme). */
  endpoint: string;
  region: string;
  disableDualstack: boolean;
  awsSdkAuth: boolean;
  accessKey: string;
  secretKey: string;
  sessionToken: string;
  insecure: boolean;
  signatureV2: boolean;
  putUserMetadata: Record<string, string>;
  http: HttpConfig;
  trace: boolean;
  listObjectsVersion: 'v1' | 'v2';
  bucketLookupType: BucketLookup;
  sendContentMd5: boolean;
  disableMultipart: boolean;
  /** Bytes per multipart part; uploads larger than this go multipart. */
  partSize: number;
  sse: { type: SseType; kmsKeyId: string; kmsEncryptionContext: Record<string, string>; encryptionKey: string };
  stsEndpoint: string;
  maxRetries: number;
}

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
export const DEFAULT_MAX_RETRIES = 10;

export const S3_KEYS = [
  'bucket', 'endpoint', 'region', 'disable_dualstack', 'aws_sdk_auth', 'access_key', 'insecure',
  'signature_version2', 'secret_key', 'session_token', 'put_user_metadata', 'http_config', 'trace',
  'list_objects_version', 'bucket_lookup_type', 'send_content_md5', 'disable_multipart', 'part_size',
  'sse_config', 'sts_endpoint', 'max_retries',
  // Older spellings (Thanos <= 0.6): encrypt_sse: true is sse_config.type: SSE-S3.
  'encrypt_sse',
] as const;
const SSE_KEYS = ['type', 'kms_key_id', 'kms_encryption_context', 'encryption_key'] as const;
const TRACE_KEYS = ['enable'] as const;

export function parseS3Config(raw: unknown, path = ''): S3Config {
  const o = mapping(raw, path, S3_KEYS);
  const tracePath = join(path, 'trace');
  const trace = mapping(o.trace, tracePath, TRACE_KEYS);
  const ssePath = join(path, 'sse_config');
  const sse = mapping(o.sse_config, ssePath, SSE_KEYS);

  const cfg: S3Config = {
    bucket: str(o, 'bucket', path),
    endpoint: str(o, 'endpoint', path),
    region: str(o, 'region', path),
    disableDualstack: bool(o, 'disable_dualstack', path),
    awsSdkAuth: bool(o, 'aws_sdk_auth', path),
    accessKey: str(o, 'access_key', path),
    secretKey: str(o, 'secret_key', path),
    sessionToken: str(o, 'session_token', path),
    insecure: bool(o, 'insecure', path),
    signatureV2: bool(o, 'signature_version2', path),
    putUserMetadata: stringMap(o, 'put_user_metadata', path),
    http: parseHttpConfig(o.http_config, join(path, 'http_config')),
    trace: bool(trace, 'enable', tracePath),
    listObjectsVersion: 'v2',
    bucketLookupType: 'auto',
    sendContentMd5: bool(o, 'send_content_md5', path, true),
    disableMultipart: bool(o, 'disable_multipart', path),
    partSize: int(o, 'part_size', path, DEFAULT_PART_SIZE, { min: 0, max: MAX_PART_SIZE }),
    sse: {
      type: '',
      kmsKeyId: str(sse, 'kms_key_id', ssePath),
      kmsEncryptionContext: stringMap(sse, 'kms_encryption_context', ssePath),
      encryptionKey: str(sse, 'encryption_key', ssePath),
    },
    stsEndpoint: str(o, 'sts_endpoint', path),
    // Thanos's default (objstore providers/s3 DefaultConfig): 10 retries, done by the SDK.
    maxRetries: int(o, 'max_retries', path, DEFAULT_MAX_RETRIES, { min: 0, max: 100 }),
  };

  const lov = str(o, 'list_objects_version', path);
  if (lov === 'v1' || lov === 'v2') cfg.listObjectsVersion = lov;
  else if (lov !== '') throw new ConfigError(join(path, 'list_objects_version'), `unsupported version ${JSON.stringify(lov)}; supported values are v1, v2`);

  const blt = str(o, 'bucket_lookup_type', path);
  if (blt === '' || blt === 'auto') cfg.bucketLookupType = 'auto';
  else if (blt === 'path') cfg.bucketLookupType = 'path';
  else if (blt === 'virtual-hosted' || blt === 'virtual-host' || blt === 'dns') cfg.bucketLookupType = 'virtual-hosted';
  else throw new ConfigError(join(path, 'bucket_lookup_type'), `unsupported bucket lookup type ${JSON.stringify(blt)}; supported values are auto, virtual-hosted, path`);

  if (cfg.partSize === 0) cfg.partSize = DEFAULT_PART_SIZE;
  if (cfg.partSize < MIN_PART_SIZE) {
    throw new ConfigError(join(path, 'part_size'), `must be at least ${MIN_PART_SIZE} bytes (5 MiB, S3's smallest multipart part), got ${cfg.partSize}`);
  }

  const sseType = str(sse, 'type', ssePath);
  if (sseType === '' || sseType === 'SSE-S3' || sseType === 'SSE-KMS' || sseType === 'SSE-C') cfg.sse.type = sseType;
  else throw new ConfigError(join(ssePath, 'type'), `unsupported type ${JSON.stringify(sseType)}; supported types are SSE-S3, SSE-KMS, SSE-C`);
  if (bool(o, 'encrypt_sse', path)) {
    if (cfg.sse.type !== '' && cfg.sse.type !== 'SSE-S3') {
      throw new ConfigError(join(path, 'encrypt_sse'), `encrypt_sse: true means SSE-S3 and conflicts with sse_config.type ${cfg.sse.type}`);
    }
    cfg.sse.type = 'SSE-S3';
  }

  // The checks Thanos makes when it builds the client.
  if (cfg.endpoint === '') throw new ConfigError(join(path, 'endpoint'), 'no s3 endpoint in config');
  if (cfg.bucket === '') throw new ConfigError(join(path, 'bucket'), 'no bucket name in config');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(cfg.endpoint) && !/^https?:\/\//i.test(cfg.endpoint)) {
    throw new ConfigError(join(path, 'endpoint'), `unsupported scheme in ${JSON.stringify(cfg.endpoint)}; write host[:port] (use insecure: true for plain http)`);
  }
  if (/\/./.test(cfg.endpoint.replace(/^https?:\/\//i, ''))) {
    throw new ConfigError(join(path, 'endpoint'), `must be host[:port] without a path, got ${JSON.stringify(cfg.endpoint)}`);
  }
  if (cfg.awsSdkAuth && cfg.accessKey !== '') {
    throw new ConfigError(join(path, 'aws_sdk_auth'), 'aws_sdk_auth and access_key are mutually exclusive');
  }
  if (cfg.accessKey === '' && cfg.secretKey !== '') {
    throw new ConfigError(join(path, 'access_key'), 'no access_key while secret_key is set; set both, or neither to use the AWS_* environment variables');
  }
  if (cfg.accessKey !== '' && cfg.secretKey === '') {
    throw new ConfigError(join(path, 'secret_key'), 'no secret_key while access_key is set; set both, or neither to use the AWS_* environment variables');
  }
  if (cfg.sse.type === 'SSE-C' && cfg.sse.encryptionKey === '') {
    throw new ConfigError(join(ssePath, 'encryption_key'), "must be set (a file holding a 32-byte key) when type is 'SSE-C'");
  }
  if (cfg.sse.type === 'SSE-KMS' && cfg.sse.kmsKeyId === '') {
    throw new ConfigError(join(ssePath, 'kms_key_id'), "must be set when type is 'SSE-KMS'");
  }
  if (cfg.signatureV2) {
    // @aws-sdk/client-s3 signs with Signature Version 4 only; every S3 service and S3-compatible
    // store of today accepts it.
    throw new ConfigError(join(path, 'signature_version2'), 'Signature Version 2 is not supported (the AWS SDK signs with Signature Version 4 only); remove it or set it to false');
  }
  return cfg;
}
