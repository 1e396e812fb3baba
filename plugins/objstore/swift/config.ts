// The SWIFT config block of Thanos's objstore YAML, parsed strictly (objstore providers/swift
// field list, plus tenant_id / tenant_name from early Thanos releases).
import { ConfigError } from '../../../lib/sdk/mod.ts';
import { bool, duration, int, join, mapping, str } from '../../../lib/config/fields.ts';
import { parseHttpConfig, type HttpConfig } from '../../../lib/objstore/kit/mod.ts';

export interface SwiftConfig {
  /** 0 = detect from auth_url (/v3 → 3, /v2 → 2, else 1). */
  authVersion: 0 | 1 | 2 | 3;
  authUrl: string;
  username: string;
  userDomainName: string;
  userDomainId: string;
  userId: string;
  password: string;
  domainId: string;
  domainName: string;
  applicationCredentialId: string;
  applicationCredentialName: string;
  applicationCredentialSecret: string;
  projectId: string;
  projectName: string;
  projectDomainId: string;
  projectDomainName: string;
  regionName: string;
  containerName: string;
  /** Uploads of at least this many bytes become large objects (SLO, or DLO). */
  largeObjectChunkSize: number;
  largeObjectSegmentsContainerName: string;
  retries: number;
  connectTimeoutMs: number;
  timeoutMs: number;
  useDynamicLargeObjects: boolean;
  http: HttpConfig;
}

export const SWIFT_KEYS = [
  'auth_version', 'auth_url', 'username', 'user_domain_name', 'user_domain_id', 'user_id', 'password',
  'domain_id', 'domain_name', 'application_credential_id', 'application_credential_name',
  'application_credential_secret', 'project_id', 'project_name', 'project_domain_id', 'project_domain_name',
  'region_name', 'container_name', 'large_object_chunk_size', 'large_object_segments_container_name',
  'retries', 'connect_timeout', 'timeout', 'use_dynamic_large_objects', 'http_config',
  // Older spellings.
  'tenant_id', 'tenant_name',
] as const;

export const DEFAULT_CHUNK_SIZE = 1024 * 1024 * 1024;

export function parseSwiftConfig(raw: unknown, path = ''): SwiftConfig {
  const o = mapping(raw, path, SWIFT_KEYS);
  const av = int(o, 'auth_version', path, 0, { min: 0, max: 3 });
  const cfg: SwiftConfig = {
    authVersion: av as SwiftConfig['authVersion'],
    authUrl: str(o, 'auth_url', path),
    username: str(o, 'username', path),
    userDomainName: str(o, 'user_domain_name', path),
    userDomainId: str(o, 'user_domain_id', path),
    userId: str(o, 'user_id', path),
    password: str(o, 'password', path),
    domainId: str(o, 'domain_id', path),
    domainName: str(o, 'domain_name', path),
    applicationCredentialId: str(o, 'application_credential_id', path),
    applicationCredentialName: str(o, 'application_credential_name', path),
    applicationCredentialSecret: str(o, 'application_credential_secret', path),
    projectId: str(o, 'project_id', path) || str(o, 'tenant_id', path),
    projectName: str(o, 'project_name', path) || str(o, 'tenant_name', path),
    projectDomainId: str(o, 'project_domain_id', path),
    projectDomainName: str(o, 'project_domain_name', path),
    regionName: str(o, 'region_name', path),
    containerName: str(o, 'container_name', path),
    largeObjectChunkSize: int(o, 'large_object_chunk_size', path, DEFAULT_CHUNK_SIZE, { min: 1 }),
    largeObjectSegmentsContainerName: str(o, 'large_object_segments_container_name', path),
    retries: int(o, 'retries', path, 3, { min: 0, max: 100 }),
    connectTimeoutMs: duration(o, 'connect_timeout', path, 10_000),
    timeoutMs: duration(o, 'timeout', path, 300_000),
    useDynamicLargeObjects: bool(o, 'use_dynamic_large_objects', path),
    http: parseHttpConfig(o.http_config, join(path, 'http_config')),
  };
  if (str(o, 'tenant_id', path) && str(o, 'project_id', path)) throw new ConfigError(join(path, 'tenant_id'), 'tenant_id is the old name of project_id; set only one');
  if (str(o, 'tenant_name', path) && str(o, 'project_name', path)) throw new ConfigError(join(path, 'tenant_name'), 'tenant_name is the old name of project_name; set only one');

  if (cfg.authUrl === '') throw new ConfigError(join(path, 'auth_url'), 'no auth_url in config');
  if (!/^https?:\/\/[^/]/i.test(cfg.authUrl)) throw new ConfigError(join(path, 'auth_url'), `must be an http:// or https:// URL, got ${JSON.stringify(cfg.authUrl)}`);
  if (cfg.containerName === '') throw new ConfigError(join(path, 'container_name'), 'no container_name in config');
  if (cfg.containerName.includes('/')) throw new ConfigError(join(path, 'container_name'), 'a container name cannot contain "/"');
  if (cfg.largeObjectSegmentsContainerName.includes('/')) throw new ConfigError(join(path, 'large_object_segments_container_name'), 'a container name cannot contain "/"');
  const appCred = cfg.applicationCredentialId !== '' || cfg.applicationCredentialName !== '';
  if (appCred) {
    if (cfg.applicationCredentialSecret === '') throw new ConfigError(join(path, 'application_credential_secret'), 'must be set with an application credential');
  } else {
    if (cfg.username === '' && cfg.userId === '') throw new ConfigError(join(path, 'username'), 'set username (or user_id, or an application credential)');
    if (cfg.password === '') throw new ConfigError(join(path, 'password'), 'no password in config');
  }
  return cfg;
}

/** The auth version to speak: the configured one, or detected from the URL as ncw/swift does. */
export function effectiveAuthVersion(cfg: SwiftConfig): 1 | 2 | 3 {
  if (cfg.authVersion !== 0) return cfg.authVersion;
  if (cfg.applicationCredentialId || cfg.applicationCredentialName) return 3;
  if (cfg.authUrl.includes('v3')) return 3;
  if (cfg.authUrl.includes('v2')) return 2;
  return 1;
}
