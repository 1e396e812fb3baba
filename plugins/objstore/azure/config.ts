// The AZURE config block of Thanos's objstore YAML (thanos-io/objstore providers/azure), parsed
// strictly with Thanos's names and defaults (endpoint blob.core.windows.net; max_retries, when set,
// fills pipeline_config.max_tries and reader_config.max_retry_requests that are left at 0).
// Credentials, in Thanos's order: storage_connection_string, storage_account_key, the service
// principal az_tenant_id + client_id + client_secret, user_assigned_id (a user-assigned managed
// identity), else Azure's default chain (credential.ts).
import { ConfigError } from '../../../lib/sdk/mod.ts';
import { bool, duration, int, join, mapping, str } from '../../../lib/config/fields.ts';
import { parseHttpConfig, type HttpConfig } from '../../../lib/objstore/kit/mod.ts';

export interface AzureConfig {
  storageAccount: string;
  storageAccountKey: string;
  storageConnectionString: string;
  container: string;
  endpoint: string;
  userAssignedId: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  maxRetries: number;
  reader: { maxRetryRequests: number };
  pipeline: { maxTries: number; tryTimeoutMs: number; retryDelayMs: number; maxRetryDelayMs: number };
  http: HttpConfig;
  msiResource: string;
  /** storage_create_container (default true): create the container when it is missing. */
  createContainer: boolean;
}

export const AZURE_KEYS = [
  'storage_account', 'storage_account_key', 'storage_connection_string', 'container', 'endpoint', 'user_assigned_id',
  'az_tenant_id', 'client_id', 'client_secret', 'max_retries', 'reader_config', 'pipeline_config', 'http_config',
  'storage_create_container', 'azure_storage_account_type',
  // Deprecated in Thanos (the SDK sets it); accepted and warned about.
  'msi_resource',
] as const;

export function parseAzureConfig(raw: unknown, path = ''): AzureConfig {
  const o = mapping(raw, path, AZURE_KEYS);
  const rp = join(path, 'reader_config');
  const r = mapping(o.reader_config, rp, ['max_retry_requests']);
  const pp = join(path, 'pipeline_config');
  const p = mapping(o.pipeline_config, pp, ['max_tries', 'try_timeout', 'retry_delay', 'max_retry_delay']);
  const cfg: AzureConfig = {
    storageAccount: str(o, 'storage_account', path),
    storageAccountKey: str(o, 'storage_account_key', path),
    storageConnectionString: str(o, 'storage_connection_string', path),
    container: str(o, 'container', path),
    endpoint: str(o, 'endpoint', path, 'blob.core.windows.net'),
    userAssignedId: str(o, 'user_assigned_id', path),
    tenantId: str(o, 'az_tenant_id', path),
    clientId: str(o, 'client_id', path),
    clientSecret: str(o, 'client_secret', path),
    maxRetries: int(o, 'max_retries', path, 0, { min: 0, max: 100 }),
    reader: { maxRetryRequests: int(r, 'max_retry_requests', rp, 0, { min: 0 }) },
    pipeline: {
      maxTries: int(p, 'max_tries', pp, 0, { min: 0 }),
      tryTimeoutMs: duration(p, 'try_timeout', pp, 0),
      retryDelayMs: duration(p, 'retry_delay', pp, 0),
      maxRetryDelayMs: duration(p, 'max_retry_delay', pp, 0),
    },
    http: parseHttpConfig(o.http_config, join(path, 'http_config')),
    msiResource: str(o, 'msi_resource', path),
    createContainer: bool(o, 'storage_create_container', path, true),
  };
  // Thanos's azure_storage_account_type: "" (autodetect), "blob", or "datalake" (Data Lake Gen2 through
  // the DFS API). We speak the Blob API only, which Data Lake Gen2 accounts also serve, so an
  // autodetected account is used through it; an explicit "datalake" asks for what we do not do.
  const accountType = str(o, 'azure_storage_account_type', path);
  if (accountType === 'datalake') {
    throw new ConfigError(join(path, 'azure_storage_account_type'), 'datalake (the Data Lake Gen2 DFS API) is not implemented yet; use "blob" or leave it empty (the Blob API serves Data Lake Gen2 accounts too)');
  }
  if (accountType !== '' && accountType !== 'blob') throw new ConfigError(join(path, 'azure_storage_account_type'), `must be "", "blob" or "datalake", got ${JSON.stringify(accountType)}`);
  if (cfg.endpoint === '') cfg.endpoint = 'blob.core.windows.net';
  if (cfg.maxRetries > 0) {
    if (cfg.pipeline.maxTries === 0) cfg.pipeline.maxTries = cfg.maxRetries;
    if (cfg.reader.maxRetryRequests === 0) cfg.reader.maxRetryRequests = cfg.maxRetries;
  }
  // Thanos's validate(), one error per field.
  if (cfg.userAssignedId && cfg.storageAccountKey) throw new ConfigError(join(path, 'user_assigned_id'), 'cannot be set when using storage_account_key authentication');
  if (cfg.userAssignedId && cfg.storageConnectionString) throw new ConfigError(join(path, 'user_assigned_id'), 'cannot be set when using storage_connection_string authentication');
  if (cfg.userAssignedId && cfg.clientId) throw new ConfigError(join(path, 'user_assigned_id'), 'cannot be set when using client_id authentication');
  const servicePrincipal = { az_tenant_id: cfg.tenantId, client_id: cfg.clientId, client_secret: cfg.clientSecret };
  const missing = Object.entries(servicePrincipal).filter(([, v]) => v === '').map(([k]) => k);
  if (missing.length > 0 && missing.length < 3) throw new ConfigError(join(path, missing[0]!), 'az_tenant_id, client_id, and client_secret must be set together');
  // Thanos would silently prefer the shared key / connection string over a service principal
  // also given; we refuse the ambiguous pair instead of ignoring one of them.
  if (missing.length === 0 && (cfg.storageAccountKey || cfg.storageConnectionString)) {
    const other = cfg.storageAccountKey ? 'storage_account_key' : 'storage_connection_string';
    throw new ConfigError(join(path, 'client_secret'), `cannot be set when using ${other} authentication`);
  }
  if (cfg.storageAccountKey && cfg.storageConnectionString) throw new ConfigError(join(path, 'storage_connection_string'), 'storage_account_key and storage_connection_string cannot both be set');
  if (cfg.storageAccount === '') throw new ConfigError(join(path, 'storage_account'), 'storage_account_name is required but not configured');
  if (cfg.container === '') throw new ConfigError(join(path, 'container'), 'no container specified');
  return cfg;
}
