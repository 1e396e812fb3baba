// The AZURE plugin with Azure AD credentials (plugins/objstore/azure/credential.ts on
// @azure/identity), against loopback fakes of the token services (aad.ts: the identity platform
// over HTTPS, IMDS) and azurite over HTTPS with `--oauth basic`: the service principal's form
// (tenant, client_id, client_secret) checked and a wrong secret refused, managed identity
// (user-assigned and system-assigned; the Metadata header, client_id), workload identity's
// federated token, every blob request carrying the issued bearer token, the net and env grants
// applied to the token requests, secrets absent from logs and errors, Thanos's config checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import plugin from '../../plugins/objstore/azure/mod.ts';
import { ConfigError } from '../../host/index.ts';
import { makeTestPki, type TestPki } from '../security/certs.ts';
import { startAzurite, ACCOUNT, type Azurite } from './azurite.ts';
import { startAad, startImds, type FakeTokenService } from './aad.ts';
import { aadCtx, BLOB_DOMAIN, type AadTestCtx } from './aadctx.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const APP = { tenant: TENANT, clientId: 'app-1', secret: 'sp-secret-Zq8~very-secret' };
const WORKLOAD = { tenant: TENANT, clientId: 'wl-app', assertion: 'eyJ.federated-token.sig' };
const USER_ASSIGNED = 'uai-1';

let pki: TestPki;
let az: Azurite;
let aad: FakeTokenService;
let imds: FakeTokenService;
let caPem: string;

test.before(async () => {
  pki = makeTestPki();
  caPem = fs.readFileSync(pki.ca, 'utf8');
  aad = await startAad(pki.server, [APP, WORKLOAD]);
  imds = await startImds(TENANT, [USER_ASSIGNED, 'uai-denied']);
  az = await startAzurite({ tls: pki.server, oauth: true });
  // MSAL finds the IMDS endpoint in the process environment itself (the plugin reads the same
  // name through ctx.env first, so the env grant decides); the test ctx's env map mirrors it.
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = imds.base;
});
test.after(async () => {
  delete process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
  await Promise.all([az?.stop(), aad?.close(), imds?.close()]);
  pki?.cleanup();
});

let seq = 0;
const blobHostPort = () => `${ACCOUNT}.${BLOB_DOMAIN}:${az.port}`;

const LOGIN = 'login.microsoftonline.com:443';

function ctxFor(o: { net?: string[]; env?: Record<string, string> | null } = {}): AadTestCtx {
  const env = o.env === null ? undefined : { AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.base, ...o.env };
  return aadCtx({ net: o.net ?? [blobHostPort(), LOGIN, aad.hostPort, imds.hostPort], env, caPem, account: ACCOUNT, resolve: { [LOGIN]: aad.hostPort } });
}

async function bucket(extra: Record<string, unknown>, ctx: AadTestCtx): Promise<{ b: Bucket; container: string }> {
  const container = `id${process.pid}x${++seq}`;
  const b = await plugin.create(ctx, plugin.parseConfig({ storage_account: ACCOUNT, container, endpoint: `${BLOB_DOMAIN}:${az.port}`, ...extra }));
  return { b, container };
}

/** A round trip through the bucket, then: every blob request carried `Bearer <token>`. */
async function roundTrip(b: Bucket, ctx: AadTestCtx, token: string): Promise<void> {
  const data = new TextEncoder().encode('hello from a bearer token');
  await b.upload('dir/obj', data);
  assert.equal(await readAll(await b.get('dir/obj')), data);
  const names: string[] = [];
  for await (const n of b.iter('dir/')) names.push(n);
  assert.equal(names, ['dir/obj']);
  await b.delete('dir/obj');
  assert.not.ok(await b.exists('dir/obj'));
  const blobRequests = ctx.sent.filter((r) => r.url.includes(BLOB_DOMAIN));
  assert.ok(blobRequests.length >= 5, JSON.stringify(blobRequests));
  for (const r of blobRequests) assert.is(r.authorization, `Bearer ${token}`, `${r.method} ${r.url}`);
}

test('service principal: the token request names the tenant, client_id and client_secret; blob requests carry its token', async () => {
  const ctx = ctxFor({ env: {} });
  const before = aad.tokenRequests.length;
  const { b } = await bucket({ az_tenant_id: TENANT, client_id: APP.clientId, client_secret: APP.secret }, ctx);
  const reqs = aad.tokenRequests.slice(before);
  assert.is(reqs.length, 1, 'one token request (then cached)');
  assert.is(reqs[0]!.path, `/${TENANT}/oauth2/v2.0/token`);
  assert.is(reqs[0]!.form.client_id, APP.clientId);
  assert.is(reqs[0]!.form.client_secret, APP.secret);
  assert.is(reqs[0]!.form.grant_type, 'client_credentials');
  assert.is(reqs[0]!.form.scope, 'https://storage.azure.com/.default');
  await roundTrip(b, ctx, aad.issued.at(-1)!);
  assert.ok(ctx.lines.some((l) => l.msg === 'azure: using Azure AD credentials' && String(l.kv?.source).includes(`client_id ${APP.clientId}`)));
  assert.not.ok(JSON.stringify(ctx.lines).includes(APP.secret), 'the secret is never logged');
});

test('service principal: a wrong client secret is refused by the token endpoint; the error names the AAD error, not the secret', async () => {
  const ctx = ctxFor({ env: {} });
  const wrong = 'not-the-secret-5150';
  const err = await bucket({ az_tenant_id: TENANT, client_id: APP.clientId, client_secret: wrong }, ctx).then(() => undefined, (e: unknown) => e);
  assert.instance(err, Error);
  const msg = String(err);
  assert.match(msg, /^Error: azure create id\d+x\d+: no Azure AD token from service principal client_id app-1 .*AADSTS7000215/);
  assert.not.ok(msg.includes(wrong), msg);
  assert.not.ok(JSON.stringify(ctx.lines).includes(wrong));
  assert.not.ok(ctx.sent.some((r) => r.url.includes(BLOB_DOMAIN)), 'no blob request without a token');
});

test('service principal: the net grant applies to the token request (authority host not granted: denied)', async () => {
  const ctx = ctxFor({ net: [blobHostPort()], env: {} });
  const err = await bucket({ az_tenant_id: TENANT, client_id: APP.clientId, client_secret: APP.secret }, ctx).then(() => undefined, (e: unknown) => e);
  assert.match(String(err), /permission denied.*fetch\(login\.microsoftonline\.com:443\).*permissions\.net/);
});

test('user-assigned managed identity: IMDS is asked with Metadata: true and client_id; blob requests carry its token', async () => {
  const ctx = ctxFor();
  const before = imds.tokenRequests.length;
  const { b } = await bucket({ user_assigned_id: USER_ASSIGNED }, ctx);
  const reqs = imds.tokenRequests.slice(before);
  assert.is(reqs.length, 1);
  assert.is(reqs[0]!.headers.metadata, 'true');
  assert.is(reqs[0]!.query.client_id, USER_ASSIGNED);
  assert.is(reqs[0]!.query.resource, 'https://storage.azure.com');
  await roundTrip(b, ctx, imds.issued.at(-1)!);
});

test('no key, connection string or client secret: the system-assigned managed identity (IMDS without client_id)', async () => {
  const ctx = ctxFor();
  const before = imds.tokenRequests.length;
  const { b } = await bucket({}, ctx);
  const reqs = imds.tokenRequests.slice(before);
  assert.is(reqs.length, 1);
  assert.is(reqs[0]!.headers.metadata, 'true');
  assert.is(reqs[0]!.query.client_id, undefined);
  await roundTrip(b, ctx, imds.issued.at(-1)!);
  assert.ok(ctx.lines.some((l) => l.kv?.source === 'system-assigned managed identity'));
});

test('managed identity: the net grant applies to the IMDS request', async () => {
  const ctx = ctxFor({ net: [blobHostPort(), aad.hostPort] });
  const err = await bucket({ user_assigned_id: 'uai-denied' }, ctx).then(() => undefined, (e: unknown) => e);
  assert.match(String(err), new RegExp(`permission denied.*fetch\\(${imds.hostPort.replace(/\./g, '\\.')}\\).*permissions\\.net`));
});

test('managed identity: the env grant applies to the variables the SDK reads', async () => {
  const err = await bucket({ user_assigned_id: USER_ASSIGNED }, ctxFor({ env: null })).then(() => undefined, (e: unknown) => e);
  assert.match(String(err), /permission denied.*env\.get\(\w+\).*permissions\.env/);
});

test('workload identity (the default chain): AZURE_FEDERATED_TOKEN_FILE is read through ctx.fs and sent as client_assertion to AZURE_AUTHORITY_HOST', async () => {
  const file = path.join(pki.dir, 'federated-token');
  fs.writeFileSync(file, `${WORKLOAD.assertion}\n`);
  const ctx = ctxFor({ env: { AZURE_AUTHORITY_HOST: aad.base, AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: WORKLOAD.clientId, AZURE_FEDERATED_TOKEN_FILE: file } });
  const before = aad.tokenRequests.length;
  const { b } = await bucket({}, ctx);
  const reqs = aad.tokenRequests.slice(before);
  assert.is(reqs.length, 1);
  assert.is(reqs[0]!.form.client_id, WORKLOAD.clientId);
  assert.is(reqs[0]!.form.client_assertion, WORKLOAD.assertion);
  assert.is(reqs[0]!.form.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  await roundTrip(b, ctx, aad.issued.at(-1)!);
});

test('the default chain: AZURE_CLIENT_SECRET in the environment is a service principal; a wrong one is refused', async () => {
  const env = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: APP.clientId };
  const ctx = ctxFor({ env: { ...env, AZURE_CLIENT_SECRET: APP.secret } });
  const { b } = await bucket({}, ctx);
  await roundTrip(b, ctx, aad.issued.at(-1)!);
  const err = await bucket({}, ctxFor({ env: { ...env, AZURE_CLIENT_SECRET: 'wrong-env-secret' } })).then(() => undefined, (e: unknown) => e);
  assert.match(String(err), /no Azure AD token from service principal app-1 \(AZURE_CLIENT_SECRET\).*AADSTS7000215/);
  assert.not.ok(String(err).includes('wrong-env-secret'));
});

test("config: Thanos's checks of the Azure AD keys name the key; a shared key beside a client secret is refused", () => {
  const base = { storage_account: 'a', container: 'c' };
  const ok = plugin.parseConfig({ ...base, az_tenant_id: 't', client_id: 'c', client_secret: 's' });
  assert.equal([ok.tenantId, ok.clientId, ok.clientSecret], ['t', 'c', 's']);
  assert.is(plugin.parseConfig({ ...base, user_assigned_id: 'u' }).userAssignedId, 'u');
  const bad: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ client_id: 'c', client_secret: 's' }, 'az_tenant_id', /must be set together/],
    [{ az_tenant_id: 't', client_secret: 's' }, 'client_id', /must be set together/],
    [{ az_tenant_id: 't', client_id: 'c' }, 'client_secret', /must be set together/],
    [{ user_assigned_id: 'u', az_tenant_id: 't', client_id: 'c', client_secret: 's' }, 'user_assigned_id', /client_id authentication/],
    [{ storage_account_key: 'k', az_tenant_id: 't', client_id: 'c', client_secret: 's' }, 'client_secret', /storage_account_key/],
    [{ storage_connection_string: 'x', az_tenant_id: 't', client_id: 'c', client_secret: 's' }, 'client_secret', /storage_connection_string/],
  ];
  for (const [raw, key, why] of bad) {
    try {
      plugin.parseConfig({ ...base, ...raw });
      assert.unreachable(key);
    } catch (err) {
      assert.instance(err, ConfigError, String(err));
      assert.ok(String(err).includes(key), `${key}: ${String(err)}`);
      assert.match(String(err), why);
    }
  }
});

test('@azure/identity is imported only when a token credential is needed', () => {
  const src = fs.readFileSync(new URL('../../plugins/objstore/azure/credential.ts', import.meta.url), 'utf8');
  assert.not.match(src, /^import [^t].*from '@azure\//m, 'no static value import of the SDK');
  assert.match(src, /await import\('@azure\/identity'\)/);
});

test.run();
