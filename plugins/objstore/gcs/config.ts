// Thanos's GCS block (objstore providers/gcs Config): bucket, service_account, use_grpc,
// grpc_conn_pool_size, http_config, chunk_size_bytes, max_retries.
import { ConfigError } from '../../../lib/sdk/mod.ts';
import { bool, int, join, mapping, str } from '../../../lib/config/fields.ts';
import { parseHttpConfig, type HttpConfig } from '../../../lib/objstore/kit/mod.ts';

/** Go's storage.Writer default ChunkSize (googleapi.DefaultUploadChunkSize), used when chunk_size_bytes is 0 as in Thanos. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
/** GCS's resumable protocol: every chunk but the last is a multiple of 256 KiB (Go rounds up to one). */
export const CHUNK_GRANULE = 256 * 1024;
/** Attempts per request when max_retries is 0 (Go's client retries until the context ends; we bound it). */
export const DEFAULT_ATTEMPTS = 4;

export interface GcsConfig {
  bucket: string;
  /** The service-account JSON key itself (not a path), as in Thanos. '' = the default credential chain. */
  serviceAccount: string;
  http: HttpConfig;
  /** Resumable-upload chunk size in bytes (a multiple of 256 KiB). */
  chunkSize: number;
  /** Attempts per idempotent request (Thanos: max_retries > 0 overrides the client default; 1 disables retries). */
  maxAttempts: number;
}

const KEYS = ['bucket', 'service_account', 'use_grpc', 'grpc_conn_pool_size', 'http_config', 'chunk_size_bytes', 'max_retries'] as const;

export function parseGcsConfig(raw: unknown, path = ''): GcsConfig {
  const o = mapping(raw, path, KEYS);
  const bucket = str(o, 'bucket', path);
  // Thanos: "missing Google Cloud Storage bucket name for stored blocks".
  if (bucket === '') throw new ConfigError(join(path, 'bucket'), 'missing Google Cloud Storage bucket name for stored blocks');
  if (bool(o, 'use_grpc', path)) throw new ConfigError(join(path, 'use_grpc'), 'the gRPC API is not implemented; only the JSON API over HTTP is');
  if (int(o, 'grpc_conn_pool_size', path, 0, { min: 0 }) !== 0) throw new ConfigError(join(path, 'grpc_conn_pool_size'), 'the gRPC API is not implemented (use_grpc), so there is no pool to size');
  const chunk = int(o, 'chunk_size_bytes', path, 0, { min: 0 });
  const serviceAccount = str(o, 'service_account', path);
  if (serviceAccount !== '') {
    let j: unknown;
    try { j = JSON.parse(serviceAccount); } catch (err) {
      throw new ConfigError(join(path, 'service_account'), `not a service-account JSON key (the key's content, not its path): ${(err as Error).message}`);
    }
    const k = j as Record<string, unknown>;
    if (typeof k !== 'object' || k === null || k.type !== 'service_account' || typeof k.client_email !== 'string' || typeof k.private_key !== 'string') {
      throw new ConfigError(join(path, 'service_account'), 'not a service-account JSON key: needs "type": "service_account", "client_email" and "private_key"');
    }
  }
  const maxRetries = int(o, 'max_retries', path, 0, { min: 0 });
  return {
    bucket,
    serviceAccount,
    http: parseHttpConfig(o.http_config, join(path, 'http_config')),
    chunkSize: chunk === 0 ? DEFAULT_CHUNK_SIZE : Math.ceil(chunk / CHUNK_GRANULE) * CHUNK_GRANULE,
    maxAttempts: maxRetries > 0 ? maxRetries : DEFAULT_ATTEMPTS,
  };
}
