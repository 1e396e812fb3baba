// Azure AD (Entra ID) token credentials for the AZURE plugin when the config has neither
// storage_account_key nor storage_connection_string, chosen as thanos-io/objstore's
// getTokenCredential chooses them (providers/azure/helpers.go), on @azure/identity (imported lazily):
//   1. az_tenant_id + client_id + client_secret: a service principal (ClientSecretCredential);
//   2. user_assigned_id: that user-assigned managed identity (ManagedIdentityCredential);
//   3. else Azure's default chain, as Go's DefaultAzureCredential walks it:
//      a. AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET, or + AZURE_CLIENT_CERTIFICATE_PATH
//         (a PEM file holding the certificate and its unencrypted key);
//      b. workload identity: AZURE_FEDERATED_TOKEN_FILE + AZURE_CLIENT_ID + AZURE_TENANT_ID (the
//         token file exchanged for an access token, re-read when older than 5 minutes as the SDK does);
//      c. managed identity: user-assigned AZURE_CLIENT_ID if set, else system-assigned (IMDS, App
//         Service, Arc, ... as @azure/identity detects it from IDENTITY_ENDPOINT and its siblings).
//      Go's chain ends with the Azure CLI / Azure Developer CLI credentials; those run `az` / `azd`
//      as child processes, outside the plugin's capabilities, so they are not part of ours.
// Every token request goes through the plugin's fetch (the `net` grant applies: the authority host,
// AZURE_AUTHORITY_HOST else login.microsoftonline.com, or the managed-identity endpoint); every
// variable and file we read goes through ctx.env / ctx.fs. Managed identity is the exception the SDK
// forces: MSAL reads its endpoint variables from the process environment itself, so we read the same
// names through ctx.env first, which makes the `env` grant decide whether they may be used.
// Token requests use the plain fetch (system roots), not http_config's tls_config, as Thanos's
// azidentity clients use Go's default transport: a private CA for the blob endpoint must not make
// the public authority host untrusted.
import type { Capabilities } from '../../../lib/sdk/mod.ts';
import { isPermissionDenied, type SdkFetch } from '../../../lib/objstore/kit/mod.ts';
import type { TokenCredential } from '@azure/identity';
import type { AzureConfig } from './config.ts';

export interface AzureTokenCredential {
  /** Where the credential comes from, for logs and errors (never a secret). */
  source: string;
  credential: TokenCredential;
  /**
   * The last PermissionDenied one of its token requests hit: MSAL turns every transport error into
   * its own "network_error" and drops the cause, so the denial is kept here to be reported.
   */
  lastDenied(): Error | undefined;
}

/** The variables MSAL's managed-identity source detection reads from process.env. */
const MANAGED_IDENTITY_ENV = [
  'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'MSI_SECRET',
  'AZURE_POD_IDENTITY_AUTHORITY_HOST',
] as const;

/** How long a federated token file's content is reused before it is read again (the SDK's 5 minutes). */
const ASSERTION_REREAD_MS = 5 * 60_000;

/** core-rest-pipeline's HttpHeaders, as far as @azure/identity and MSAL read a response's headers. */
function pipelineHeaders(from: Headers) {
  const m = new Map<string, string>();
  from.forEach((v, k) => m.set(k.toLowerCase(), v));
  return {
    get: (n: string) => m.get(n.toLowerCase()),
    has: (n: string) => m.has(n.toLowerCase()),
    set: (n: string, v: string | number | boolean) => void m.set(n.toLowerCase(), String(v)),
    delete: (n: string) => void m.delete(n.toLowerCase()),
    toJSON: () => Object.fromEntries(m),
    [Symbol.iterator]: () => m.entries(),
  };
}

interface IdentityRequest {
  url: string;
  method: string;
  headers: { toJSON(o?: { preserveCase?: boolean }): Record<string, string> };
  body?: unknown;
  abortSignal?: AbortSignal;
}

/**
 * A core-rest-pipeline HttpClient over a fetch function, for @azure/identity's `httpClient` option
 * (token requests are small form posts or GETs with JSON answers: no streaming either way).
 */
export function identityHttpClient(send: SdkFetch) {
  return {
    async sendRequest(request: IdentityRequest) {
      const body = request.body;
      if (body !== undefined && body !== null && typeof body !== 'string') {
        throw new Error(`azure token request: unsupported body type ${Object.prototype.toString.call(body)}`);
      }
      const res = await send(request.url, {
        method: request.method,
        headers: request.headers.toJSON({ preserveCase: true }),
        body: body ?? undefined,
        signal: request.abortSignal ?? undefined,
      });
      return { request, status: res.status, headers: pipelineHeaders(res.headers), bodyAsText: await res.text() };
    },
  };
}

// MSAL keeps the managed-identity source it picks in a static field, with the HTTP client of the
// first credential that asked: a later credential's token requests would go through the first
// one's fetch (another plugin instance's net grant). So every managed-identity credential gets the
// same routing client, and each token request is sent through the fetch of the credential asking,
// one request at a time (tokens are cached for about an hour, so this never queues in practice).
// MSAL's managed-identity token cache is static too: a second bucket on the same identity in one
// process reuses the first one's token without a request of its own.
let managedIdentitySend: SdkFetch | undefined;
let managedIdentityQueue: Promise<unknown> = Promise.resolve();

const managedIdentityFetch: SdkFetch = (input, init) => {
  if (!managedIdentitySend) return Promise.reject(new Error('azure: managed-identity token request outside a getToken call'));
  return managedIdentitySend(input, init);
};

class RoutedManagedIdentity implements TokenCredential {
  constructor(private readonly inner: TokenCredential, private readonly send: SdkFetch) {}

  getToken(...args: Parameters<TokenCredential['getToken']>): ReturnType<TokenCredential['getToken']> {
    const run = managedIdentityQueue.then(async () => {
      managedIdentitySend = this.send;
      try {
        return await this.inner.getToken(...args);
      } finally {
        managedIdentitySend = undefined;
      }
    });
    managedIdentityQueue = run.catch(() => {});
    return run;
  }
}

/** The credential Thanos would use for this config (see the top of this file). */
export async function azureTokenCredential(ctx: Capabilities, cfg: AzureConfig, sendAny: SdkFetch): Promise<AzureTokenCredential> {
  const env = (name: string) => ctx.env.get(name) ?? '';
  const id = await import('@azure/identity');
  let denied: Error | undefined;
  const send: SdkFetch = async (input, init) => {
    try {
      return await sendAny(input, init);
    } catch (err) {
      if (isPermissionDenied(err)) denied = err as Error;
      throw err;
    }
  };
  const lastDenied = () => denied;
  const httpClient = identityHttpClient(send) as never;
  const options = () => ({ httpClient, authorityHost: env('AZURE_AUTHORITY_HOST') || undefined });
  const made = (source: string, credential: TokenCredential): AzureTokenCredential => ({ source, credential, lastDenied });

  const managed = (clientId: string, source: string): AzureTokenCredential => {
    for (const name of MANAGED_IDENTITY_ENV) env(name);
    const inner = new id.ManagedIdentityCredential({ clientId: clientId || undefined, httpClient: identityHttpClient(managedIdentityFetch) as never });
    return made(source, new RoutedManagedIdentity(inner, send));
  };

  if (cfg.clientSecret) {
    return made(`service principal client_id ${cfg.clientId} (az_tenant_id ${cfg.tenantId})`, new id.ClientSecretCredential(cfg.tenantId, cfg.clientId, cfg.clientSecret, options()));
  }
  if (cfg.userAssignedId) return managed(cfg.userAssignedId, `user-assigned managed identity ${cfg.userAssignedId} (user_assigned_id)`);

  const tenant = env('AZURE_TENANT_ID');
  const client = env('AZURE_CLIENT_ID');
  if (tenant && client) {
    const secret = env('AZURE_CLIENT_SECRET');
    if (secret) {
      return made(`service principal ${client} (AZURE_CLIENT_SECRET)`, new id.ClientSecretCredential(tenant, client, secret, options()));
    }
    const certPath = env('AZURE_CLIENT_CERTIFICATE_PATH');
    if (certPath) {
      if (env('AZURE_CLIENT_CERTIFICATE_PASSWORD')) {
        throw new Error('azure: AZURE_CLIENT_CERTIFICATE_PASSWORD: password-protected client certificates are not supported; give AZURE_CLIENT_CERTIFICATE_PATH a PEM file with the certificate and its unencrypted key');
      }
      const certificate = new TextDecoder().decode(await ctx.fs.readFile(certPath));
      return made(`service principal ${client} (AZURE_CLIENT_CERTIFICATE_PATH ${certPath})`, new id.ClientCertificateCredential(tenant, client, { certificate }, options()));
    }
    if (env('AZURE_USERNAME')) {
      throw new Error('azure: AZURE_USERNAME: username/password credentials are not supported (Azure deprecates them); use a service principal, workload identity or a managed identity');
    }
    const tokenFile = env('AZURE_FEDERATED_TOKEN_FILE');
    if (tokenFile) {
      let cached = { assertion: '', readAt: 0 };
      const readAssertion = async () => {
        if (!cached.assertion || Date.now() - cached.readAt >= ASSERTION_REREAD_MS) {
          const assertion = new TextDecoder().decode(await ctx.fs.readFile(tokenFile)).trim();
          if (!assertion) throw new Error(`azure: AZURE_FEDERATED_TOKEN_FILE ${tokenFile} is empty`);
          cached = { assertion, readAt: Date.now() };
        }
        return cached.assertion;
      };
      return made(`workload identity ${client} (AZURE_FEDERATED_TOKEN_FILE ${tokenFile})`, new id.ClientAssertionCredential(tenant, client, readAssertion, options()));
    }
  }
  return client ? managed(client, `user-assigned managed identity ${client} (AZURE_CLIENT_ID)`) : managed('', 'system-assigned managed identity');
}

/** The PermissionDenied a token request hit, however deep @azure/identity and MSAL wrapped it. */
export function permissionDeniedIn(err: unknown): Error | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    if (e.name === 'PermissionDenied') return e;
    const inner = (e as { cause?: unknown; originalError?: unknown; errors?: unknown[] });
    e = inner.cause ?? inner.originalError ?? inner.errors?.[0];
  }
  return undefined;
}

/** Errors @azure/identity raises when no token could be had. */
export function isTokenError(err: unknown): boolean {
  const name = (err as { name?: string })?.name ?? '';
  return ['AuthenticationError', 'CredentialUnavailableError', 'AggregateAuthenticationError', 'AuthenticationRequiredError'].includes(name);
}
