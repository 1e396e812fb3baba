// Swift authentication: v1 (tempauth / swauth: X-Auth-User + X-Auth-Key), Keystone v2 (tokens) and
// Keystone v3 (password or application credential). Returns the token and the storage URL.
import type { SwiftConfig } from './config.ts';
import { effectiveAuthVersion } from './config.ts';

export interface SwiftSession {
  token: string;
  /** e.g. http://127.0.0.1:8080/v1/AUTH_test (no trailing slash). */
  storageUrl: string;
}

export type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

export class SwiftAuthError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'SwiftAuthError';
  }
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

async function failure(res: Response, what: string): Promise<never> {
  const body = (await res.text().catch(() => '')).slice(0, 300).trim();
  const hint = res.status === 401 ? ' (check username/password, or the application credential)' : res.status === 503 ? ' (the auth service is unavailable)' : '';
  throw new SwiftAuthError(res.status, `swift auth ${what}: ${res.status} ${res.statusText}${hint}${body ? `: ${body}` : ''}`);
}

async function authV1(cfg: SwiftConfig, f: Fetcher): Promise<SwiftSession> {
  const user = cfg.projectName && !cfg.username.includes(':') ? `${cfg.projectName}:${cfg.username}` : cfg.username;
  const res = await f(cfg.authUrl, { method: 'GET', headers: { 'X-Auth-User': user, 'X-Auth-Key': cfg.password } });
  if (!res.ok) return failure(res, `v1 ${cfg.authUrl}`);
  await res.body?.cancel().catch(() => {});
  const token = res.headers.get('x-auth-token') ?? res.headers.get('x-storage-token');
  const storageUrl = res.headers.get('x-storage-url');
  if (!token || !storageUrl) throw new SwiftAuthError(res.status, `swift auth v1 ${cfg.authUrl}: answer lacks X-Auth-Token or X-Storage-Url`);
  return { token, storageUrl: trimSlash(storageUrl) };
}

interface CatalogEndpoint { interface?: string; region?: string; region_id?: string; url?: string; publicURL?: string }
interface CatalogEntry { type?: string; endpoints?: CatalogEndpoint[] }

function pickEndpoint(catalog: CatalogEntry[] | undefined, region: string, v: 2 | 3): string {
  const stores = (catalog ?? []).filter((e) => e.type === 'object-store');
  const candidates: string[] = [];
  for (const s of stores) {
    for (const ep of s.endpoints ?? []) {
      if (v === 3 && ep.interface && ep.interface !== 'public') continue;
      if (region && ep.region !== region && ep.region_id !== region) continue;
      const url = v === 3 ? ep.url : ep.publicURL;
      if (url) candidates.push(url);
    }
  }
  if (candidates.length === 0) {
    throw new SwiftAuthError(200, `swift auth: the service catalog has no public object-store endpoint${region ? ` in region ${region}` : ''} (check region_name)`);
  }
  return trimSlash(candidates[0]!);
}

async function authV2(cfg: SwiftConfig, f: Fetcher): Promise<SwiftSession> {
  const auth: Record<string, unknown> = { passwordCredentials: { username: cfg.username, password: cfg.password } };
  if (cfg.projectId) auth.tenantId = cfg.projectId;
  else if (cfg.projectName) auth.tenantName = cfg.projectName;
  const url = `${trimSlash(cfg.authUrl)}/tokens`;
  const res = await f(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ auth }) });
  if (!res.ok) return failure(res, `v2 ${url}`);
  const doc = (await res.json()) as { access?: { token?: { id?: string }; serviceCatalog?: CatalogEntry[] } };
  const token = doc.access?.token?.id;
  if (!token) throw new SwiftAuthError(res.status, `swift auth v2 ${url}: answer has no access.token.id`);
  return { token, storageUrl: pickEndpoint(doc.access?.serviceCatalog, cfg.regionName, 2) };
}

function domainRef(id: string, name: string): Record<string, string> | undefined {
  if (id) return { id };
  if (name) return { name };
  return undefined;
}

/** The Keystone v3 token request body for this config. */
export function v3Body(cfg: SwiftConfig): unknown {
  let identity: Record<string, unknown>;
  const userDomain = domainRef(cfg.userDomainId || cfg.domainId, cfg.userDomainName || cfg.domainName);
  if (cfg.applicationCredentialId) {
    identity = { methods: ['application_credential'], application_credential: { id: cfg.applicationCredentialId, secret: cfg.applicationCredentialSecret } };
  } else if (cfg.applicationCredentialName) {
    const user: Record<string, unknown> = cfg.userId ? { id: cfg.userId } : { name: cfg.username, ...(userDomain ? { domain: userDomain } : {}) };
    identity = { methods: ['application_credential'], application_credential: { name: cfg.applicationCredentialName, secret: cfg.applicationCredentialSecret, user } };
  } else {
    const user: Record<string, unknown> = cfg.userId
      ? { id: cfg.userId, password: cfg.password }
      : { name: cfg.username, password: cfg.password, ...(userDomain ? { domain: userDomain } : {}) };
    identity = { methods: ['password'], password: { user } };
  }
  const auth: Record<string, unknown> = { identity };
  // Application credentials carry their own scope.
  if (!cfg.applicationCredentialId && !cfg.applicationCredentialName) {
    if (cfg.projectId) {
      auth.scope = { project: { id: cfg.projectId } };
    } else if (cfg.projectName) {
      const pd = domainRef(cfg.projectDomainId, cfg.projectDomainName) ?? userDomain;
      auth.scope = { project: { name: cfg.projectName, ...(pd ? { domain: pd } : {}) } };
    } else if (cfg.domainId || cfg.domainName) {
      auth.scope = { domain: domainRef(cfg.domainId, cfg.domainName) };
    }
  }
  return { auth };
}

async function authV3(cfg: SwiftConfig, f: Fetcher): Promise<SwiftSession> {
  const base = trimSlash(cfg.authUrl);
  const url = /\/auth\/tokens$/.test(base) ? base : `${base}/auth/tokens`;
  const res = await f(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(v3Body(cfg)) });
  if (!res.ok) return failure(res, `v3 ${url}`);
  const token = res.headers.get('x-subject-token');
  const doc = (await res.json()) as { token?: { catalog?: CatalogEntry[] } };
  if (!token) throw new SwiftAuthError(res.status, `swift auth v3 ${url}: answer has no X-Subject-Token header`);
  return { token, storageUrl: pickEndpoint(doc.token?.catalog, cfg.regionName, 3) };
}

export function authenticate(cfg: SwiftConfig, f: Fetcher): Promise<SwiftSession> {
  switch (effectiveAuthVersion(cfg)) {
    case 1: return authV1(cfg, f);
    case 2: return authV2(cfg, f);
    case 3: return authV3(cfg, f);
  }
}
