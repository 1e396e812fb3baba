// Object-store plugin `GCS`: Google Cloud Storage over its JSON API, on Google's generated client
// (@googleapis/storage) and google-auth-library, both imported when the first bucket is created and
// both sending their HTTP through the host's fetch capability (the `net` grant applies).
//
// Credentials, in the order Go's google.FindDefaultCredentials (Thanos's default) tries them:
// service_account (the key's JSON content, as in Thanos) -> the key file GOOGLE_APPLICATION_CREDENTIALS
// names -> the GCE/GKE metadata server's token for the instance's default service account
// (GCE_METADATA_HOST overrides metadata.google.internal, as in Google's libraries). gcloud's
// user credentials (authorized_user) are refused as not implemented.
//
// STORAGE_EMULATOR_HOST (read as Go's storage.NewClient reads it) aims every storage request at an
// emulator: `host:port` means http://host:port, a value with a scheme (`https://host:port`) is
// used with its scheme; any path is replaced by the API's own. Credentials still apply: Go's
// client alone would send none (option.WithoutAuthentication), but Thanos hands it an HTTP
// client that authenticates itself (service_account or the default chain), so Thanos does too.
//
// Permissions it asks for: net (storage.googleapis.com, oauth2.googleapis.com or the key's
// token_uri, the metadata server); env (GOOGLE_APPLICATION_CREDENTIALS, GCE_METADATA_HOST, { env: NAME }
// secrets, STORAGE_EMULATOR_HOST); fs read (the GOOGLE_APPLICATION_CREDENTIALS file).
import { definePlugin, type Capabilities } from '../../../lib/sdk/mod.ts';
import type { Bucket } from '../../../lib/objstore/bucket.ts';
import { describeNetErr, httpConfigFetch, isPermissionDenied, sdkFetch, type SdkFetch } from '../../../lib/objstore/kit/mod.ts';
import { parseGcsConfig, type GcsConfig } from './config.ts';
import { GcsBucket, type GcsApi, type GcsAuth } from './bucket.ts';

export { parseGcsConfig, type GcsConfig } from './config.ts';
export { GcsBucket, GcsError } from './bucket.ts';

/** Thanos asks for storage.ScopeFullControl. */
const SCOPE = 'https://www.googleapis.com/auth/devstorage.full_control';
/** gtoken posts to this fixed URL (and uses it as the JWT's aud) whatever the key's token_uri says. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

interface ServiceAccountKey { type?: string; client_email?: string; private_key?: string; private_key_id?: string; token_uri?: string }

export interface GcsCreateOptions {
  /** The JSON API root (tests: a loopback fake). Not a Thanos key: Thanos's GCS always talks to Google. */
  endpoint?: string;
  onResponse?: Parameters<typeof sdkFetch>[1]['onResponse'];
}

export async function createGcsBucket(ctx: Capabilities, cfg: GcsConfig, o: GcsCreateOptions = {}): Promise<GcsBucket> {
  // http_config (its TLS settings included) is the storage transport; tokens come over the
  // default one, as in Thanos (Go's oauth2 token source uses its own client).
  const storageFetch = sdkFetch(ctx, { what: 'gcs', headerTimeoutMs: cfg.http.responseHeaderTimeoutMs, onResponse: o.onResponse, fetch: await httpConfigFetch(ctx, cfg.http, 'gcs: http_config') });
  const base = sdkFetch(ctx, { what: 'gcs', headerTimeoutMs: cfg.http.responseHeaderTimeoutMs, onResponse: o.onResponse });
  const key = await findServiceAccount(ctx, cfg);
  // The key's token_uri is honoured (Go's JWT config does); gtoken would always post to Google's.
  const tokenUri = key?.token_uri || GOOGLE_TOKEN_URL;
  const fetch: SdkFetch = (input, init) => String(input instanceof Request ? input.url : input) === GOOGLE_TOKEN_URL
    ? base(tokenUri, init)
    : storageFetch(input, init);
  const gal = await import('google-auth-library');
  const transporterOptions = { fetchImplementation: fetch as typeof globalThis.fetch };
  let auth: GcsAuth;
  if (key) {
    auth = new gal.JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: [SCOPE], transporterOptions });
  } else {
    const client = new gal.OAuth2Client({ transporterOptions });
    client.refreshHandler = () => metadataToken(ctx, base);
    auth = client;
  }
  const { storage } = await import('@googleapis/storage');
  const root = (o.endpoint ?? emulatorRoot(ctx) ?? 'https://storage.googleapis.com').replace(/\/*$/, '/');
  const api = storage({ version: 'v1', auth: auth as never, rootUrl: root }) as unknown as GcsApi;
  return new GcsBucket(api, auth, fetch, cfg, root);
}

/**
 * The JSON API root STORAGE_EMULATOR_HOST names, or undefined when it is unset, empty or not
 * granted (an env grant without it keeps the plugin on Google's API: the operator's grant decides).
 */
export function emulatorRoot(ctx: Pick<Capabilities, 'env'>): string | undefined {
  let host: string | undefined;
  try {
    host = ctx.env.get('STORAGE_EMULATOR_HOST');
  } catch (err) {
    if (isPermissionDenied(err)) return undefined;
    throw err;
  }
  if (!host) return undefined;
  let u: URL;
  try {
    u = new URL(host.includes('://') ? host : `http://${host}`);
  } catch {
    throw new Error(`gcs: STORAGE_EMULATOR_HOST=${JSON.stringify(host)} is neither host:port nor a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`gcs: STORAGE_EMULATOR_HOST=${JSON.stringify(host)}: the scheme must be http or https`);
  return `${u.protocol}//${u.host}/`;
}

async function findServiceAccount(ctx: Capabilities, cfg: GcsConfig): Promise<ServiceAccountKey | undefined> {
  if (cfg.serviceAccount) return JSON.parse(cfg.serviceAccount) as ServiceAccountKey;
  const file = ctx.env.get('GOOGLE_APPLICATION_CREDENTIALS');
  if (!file) return undefined;
  let key: ServiceAccountKey;
  try {
    key = JSON.parse(new TextDecoder().decode(await ctx.fs.readFile(file))) as ServiceAccountKey;
  } catch (err) {
    throw new Error(`gcs: GOOGLE_APPLICATION_CREDENTIALS=${file}: ${(err as Error).message}`, { cause: err });
  }
  if (key.type === 'service_account' && key.client_email && key.private_key) return key;
  throw new Error(`gcs: GOOGLE_APPLICATION_CREDENTIALS=${file}: credentials of type "${String(key.type)}" are not implemented; only service-account keys are`);
}

/** The metadata server's token for the default service account (what Go's ComputeTokenSource asks for). */
async function metadataToken(ctx: Capabilities, fetch: SdkFetch): Promise<{ access_token: string; expiry_date: number }> {
  const host = ctx.env.get('GCE_METADATA_HOST') || 'metadata.google.internal';
  const url = `http://${host}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${encodeURIComponent(SCOPE)}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { 'Metadata-Flavor': 'Google' } });
  } catch (err) {
    throw new Error(`gcs: no credentials: service_account is empty, GOOGLE_APPLICATION_CREDENTIALS is unset, and the metadata server (${host}) did not answer: ${describeNetErr(err)}`, { cause: err });
  }
  const body = await res.text();
  if (!res.ok) throw new Error(`gcs: metadata server ${host}: ${res.status}: ${body.slice(0, 200)}`);
  const j = JSON.parse(body) as { access_token?: string; expires_in?: number };
  if (!j.access_token) throw new Error(`gcs: metadata server ${host}: no access_token in the answer`);
  return { access_token: j.access_token, expiry_date: Date.now() + (j.expires_in ?? 0) * 1000 };
}

export default definePlugin<GcsConfig>({
  manifest: {
    id: 'objstore:gcs',
    apiVersion: 1,
    permissions: { net: true, env: true, read: true },
    description: 'net: storage.googleapis.com (or STORAGE_EMULATOR_HOST), the token endpoint, the metadata server; env: GOOGLE_APPLICATION_CREDENTIALS, GCE_METADATA_HOST, STORAGE_EMULATOR_HOST, { env: NAME } secrets; fs read: the GOOGLE_APPLICATION_CREDENTIALS file, the http_config.tls_config ca_file, cert_file and key_file',
  },
  provider: 'GCS',
  // The plugin retries each request (max_retries; gaxios's retry for the generated client's calls).
  retries: 'provider',
  parseConfig: (raw: unknown) => parseGcsConfig(raw),
  async create(ctx: Capabilities, config: GcsConfig): Promise<Bucket> {
    return createGcsBucket(ctx, config);
  },
});
