// Loopback fakes of the Azure AD token services @azure/identity talks to, written from Microsoft's
// public protocol docs:
//   - the Microsoft identity platform (an authority host) over HTTPS, as MSAL requires:
//       GET  /<tenant>/v2.0/.well-known/openid-configuration   (authority metadata)
//       GET  /common/discovery/instance                         (instance discovery)
//       POST /<tenant>/oauth2/v2.0/token, client_credentials grant, form body with client_id and
//            client_secret (a service principal) or client_assertion (workload identity's federated
//            token, jwt-bearer type); the registered app's secret / assertion is checked, a wrong
//            one answers 401 invalid_client (AADSTS7000215) as AAD does.
//   - the Azure Instance Metadata Service's token endpoint over HTTP:
//       GET /metadata/identity/oauth2/token?api-version=...&resource=...[&client_id=...]
//       with `Metadata: true` required (400 without it, as IMDS answers).
// Issued tokens are JWTs with the claims Azure Storage (and azurite's --oauth basic) checks: iss
// https://sts.windows.net/<tenant>/, aud https://storage.azure.com, nbf, exp. Unsigned for azurite
// ("basic" checks claims, not signatures), so the tests check the exact token on each blob request.
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { freePort } from '../harness/ports.ts';

export interface TokenRequest {
  path: string;
  form: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string>;
}

export interface FakeTokenService {
  /** https://127.0.0.1:<port> (AAD) or http://127.0.0.1:<port> (IMDS). */
  base: string;
  hostPort: string;
  /** Token requests received (metadata requests not included). */
  tokenRequests: TokenRequest[];
  /** Access tokens issued, in order. */
  issued: string[];
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function jwt(tenant: string, subject: string): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { aud: 'https://storage.azure.com', iss: `https://sts.windows.net/${tenant}/`, iat: now, nbf: now - 60, exp: now + 3600, oid: subject, sub: subject, tid: tenant, jti: randomBytes(8).toString('hex') };
  return `${b64({ typ: 'JWT', alg: 'RS256' })}.${b64(claims)}.${randomBytes(16).toString('base64url')}`;
}

async function body(req: IncomingMessage): Promise<string> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

function json(res: ServerResponse, status: number, o: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(o));
}

async function listen(server: Server, scheme: 'http' | 'https'): Promise<Pick<FakeTokenService, 'base' | 'hostPort' | 'close'>> {
  const port = await freePort();
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve()); });
  return {
    base: `${scheme}://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

export interface AadApp {
  tenant: string;
  clientId: string;
  /** The app's client secret, or the federated token it accepts as client_assertion. */
  secret?: string;
  assertion?: string;
}

/** The identity platform for the registered apps, over HTTPS with the given server certificate (PEM files). */
export async function startAad(tls: { cert: string; key: string }, apps: AadApp[]): Promise<FakeTokenService> {
  const tokenRequests: TokenRequest[] = [];
  const issued: string[] = [];
  let base = '';
  const server = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'https://aad.invalid');
      const segs = url.pathname.split('/').filter(Boolean);
      if (req.method === 'GET' && url.pathname === '/common/discovery/instance') {
        const host = new URL(base).host;
        return json(res, 200, {
          tenant_discovery_endpoint: `${base}/common/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
        });
      }
      if (req.method === 'GET' && segs.length === 4 && segs[1] === 'v2.0' && segs[2] === '.well-known' && segs[3] === 'openid-configuration') {
        const t = segs[0]!;
        return json(res, 200, {
          token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
          device_authorization_endpoint: `${base}/${t}/oauth2/v2.0/devicecode`,
          jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
          issuer: `${base}/${t}/v2.0`,
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        });
      }
      if (req.method === 'POST' && segs.length === 4 && segs[1] === 'oauth2' && segs[2] === 'v2.0' && segs[3] === 'token') {
        const form = Object.fromEntries(new URLSearchParams(await body(req)));
        tokenRequests.push({ path: url.pathname, form, headers: req.headers, query: Object.fromEntries(url.searchParams) });
        const tenant = segs[0]!;
        const app = apps.find((a) => a.tenant === tenant && a.clientId === form.client_id);
        if (form.grant_type !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type', error_description: 'AADSTS70003: unsupported grant type' });
        if (!app) return json(res, 400, { error: 'unauthorized_client', error_description: `AADSTS700016: Application with identifier '${form.client_id}' was not found in the directory '${tenant}'.`, error_codes: [700016] });
        const ok = app.secret !== undefined
          ? form.client_secret === app.secret
          : form.client_assertion_type === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' && form.client_assertion === app.assertion;
        if (!ok) return json(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.', error_codes: [7000215] });
        if (form.scope !== 'https://storage.azure.com/.default') return json(res, 400, { error: 'invalid_scope', error_description: `AADSTS70011: The provided value for scope ${form.scope} is not valid.` });
        const token = jwt(tenant, app.clientId);
        issued.push(token);
        return json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
      }
      json(res, 404, { error: 'not_found', error_description: `${req.method} ${url.pathname}` });
    })().catch((err) => { if (!res.headersSent) json(res, 400, { error: 'invalid_request', error_description: String(err) }); else res.destroy(); });
  });
  const l = await listen(server, 'https');
  base = l.base;
  return { ...l, tokenRequests, issued };
}

/**
 * IMDS's managed-identity token endpoint. `identities` are the user-assigned client ids attached to
 * the "VM"; a request without client_id gets the system-assigned identity's token.
 */
export async function startImds(tenant: string, identities: string[]): Promise<FakeTokenService> {
  const tokenRequests: TokenRequest[] = [];
  const issued: string[] = [];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://imds.invalid');
    if (url.pathname.replace(/\/$/, '') !== '/metadata/identity/oauth2/token') return json(res, 404, { error: 'not_found' });
    const query = Object.fromEntries(url.searchParams);
    tokenRequests.push({ path: url.pathname, form: {}, headers: req.headers, query });
    if (req.headers.metadata !== 'true') return json(res, 400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    if (!query['api-version']) return json(res, 400, { error: 'invalid_request', error_description: 'Required query variable api-version is missing' });
    if (query.resource !== 'https://storage.azure.com') return json(res, 400, { error: 'invalid_resource', error_description: `AADSTS500011: The resource principal named ${query.resource} was not found` });
    const clientId = query.client_id ?? 'system-assigned';
    if (query.client_id !== undefined && !identities.includes(query.client_id)) return json(res, 400, { error: 'invalid_request', error_description: 'Identity not found' });
    const token = jwt(tenant, clientId);
    issued.push(token);
    const now = Math.floor(Date.now() / 1000);
    json(res, 200, { access_token: token, client_id: clientId, expires_in: '3599', expires_on: String(now + 3599), ext_expires_in: '3599', not_before: String(now), resource: query.resource, token_type: 'Bearer' });
  });
  const l = await listen(server, 'http');
  return { ...l, tokenRequests, issued };
}
