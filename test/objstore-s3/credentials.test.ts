// The S3 credential chain when the config has no access_key, each source against a loopback
// server: web identity (IRSA) through a loopback STS at sts_endpoint, the EC2 instance profile
// through a loopback IMDSv2 (token first, refused without it), the shared credentials file, and
// the net grant applied to the chain's own requests. A loopback S3 answers only requests signed
// with the credentials the source handed out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import plugin from '../../plugins/objstore/s3/mod.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import { testCtx } from './ctx.ts';

const dir = mkdtempSync(join(tmpdir(), 's3-creds-'));
const servers: Server[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => handler(req, res, body));
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return `127.0.0.1:${(srv.address() as { port: number }).port}`;
}

test.after(async () => {
  for (const s of servers) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
});

// S3: 200 "ok" only when signed with the expected key and carrying the expected session token.
const seen: Array<{ ak: string; token: string }> = [];
let s3Endpoint = '';
const expect = { ak: '', token: '' };
test.before(async () => {
  s3Endpoint = await serve((req, res) => {
    const ak = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    const token = String(req.headers['x-amz-security-token'] ?? '');
    seen.push({ ak, token });
    if (ak !== expect.ak || token !== expect.token) {
      res.writeHead(403, { 'Content-Type': 'application/xml' });
      res.end('<Error><Code>InvalidAccessKeyId</Code><Message>unknown key</Message></Error>');
      return;
    }
    res.writeHead(200, { 'Content-Length': '2' });
    res.end('ok');
  });
});

async function getWith(env: Record<string, string>, extra: Record<string, unknown> = {}, net?: string[]): Promise<string> {
  const b = await plugin.create(testCtx({ env, net }), plugin.parseConfig({ bucket: 'b', endpoint: s3Endpoint, insecure: true, max_retries: 0, ...extra }));
  try {
    return new TextDecoder().decode(await readAll(await b.get('x')));
  } finally {
    await b.close();
  }
}

test('web identity: the token file goes to STS AssumeRoleWithWebIdentity at sts_endpoint; its keys sign the requests', async () => {
  const calls: Array<Record<string, string>> = [];
  const sts = await serve((req, res, body) => {
    const form = Object.fromEntries(new URLSearchParams(body));
    calls.push(form);
    if (form.Action !== 'AssumeRoleWithWebIdentity' || form.WebIdentityToken !== 'jwt-from-kubernetes') {
      res.writeHead(400, { 'Content-Type': 'text/xml' });
      res.end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad token</Message></Error></ErrorResponse>');
      return;
    }
    const exp = new Date(Date.now() + 3600_000).toISOString();
    res.writeHead(200, { 'Content-Type': 'text/xml' });
    res.end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>ASIAWEBID</AccessKeyId><SecretAccessKey>websecret</SecretAccessKey><SessionToken>web-session</SessionToken><Expiration>${exp}</Expiration></Credentials>
</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`);
  });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'jwt-from-kubernetes\n');
  Object.assign(expect, { ak: 'ASIAWEBID', token: 'web-session' });
  const env = { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: 'arn:aws:iam::123:role/thanos', AWS_ROLE_SESSION_NAME: 'store' };
  assert.is(await getWith(env, { sts_endpoint: `http://${sts}` }), 'ok');
  assert.is(calls.length, 1);
  assert.is(calls[0]!.RoleArn, 'arn:aws:iam::123:role/thanos');
  assert.is(calls[0]!.RoleSessionName, 'store');
  // A token STS refuses: the error says which source failed and why.
  writeFileSync(tokenFile, 'forged');
  try {
    await getWith(env, { sts_endpoint: `http://${sts}` });
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /web identity: STS AssumeRoleWithWebIdentity for arn:aws:iam::123:role\/thanos failed: InvalidIdentityToken/);
  }
});

test('EC2 instance profile: IMDSv2 token, then the role, then its credentials; a GET without the token is refused', async () => {
  const log: string[] = [];
  const imds = await serve((req, res) => {
    log.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) { res.writeHead(400); res.end(); return; }
      res.writeHead(200); res.end('imds-session-token'); return;
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session-token') { res.writeHead(401); res.end(); return; }
    if (req.url === '/latest/meta-data/iam/security-credentials/') { res.writeHead(200); res.end('thanos-role'); return; }
    if (req.url === '/latest/meta-data/iam/security-credentials/thanos-role') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ Code: 'Success', AccessKeyId: 'ASIAIMDS', SecretAccessKey: 'imdssecret', Token: 'imds-session', Expiration: new Date(Date.now() + 3600_000).toISOString() }));
      return;
    }
    res.writeHead(404); res.end();
  });
  Object.assign(expect, { ak: 'ASIAIMDS', token: 'imds-session' });
  assert.is(await getWith({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${imds}` }), 'ok');
  assert.equal(log, ['PUT /latest/api/token', 'GET /latest/meta-data/iam/security-credentials/', 'GET /latest/meta-data/iam/security-credentials/thanos-role']);
  // The chain's requests go through ctx.fetch too: without a grant for the metadata endpoint, none is made.
  log.length = 0;
  try {
    await getWith({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${imds}` }, {}, [s3Endpoint]);
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permission denied.*permissions\.net/);
  }
  assert.equal(log, [], 'nothing reached the metadata server');
});

test('shared credentials file: AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE; a profile without keys is an error naming it', async () => {
  const file = join(dir, 'credentials');
  writeFileSync(file, '[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = x\n\n# the store\'s\n[thanos]\naws_access_key_id=AKFILE\naws_secret_access_key=filesecret\naws_session_token = file-session\n[sso]\nsso_start_url = https://example\n');
  Object.assign(expect, { ak: 'AKFILE', token: 'file-session' });
  assert.is(await getWith({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'thanos' }), 'ok');
  Object.assign(expect, { ak: 'AKDEFAULT', token: '' });
  assert.is(await getWith({ AWS_SHARED_CREDENTIALS_FILE: file }), 'ok');
  try {
    await getWith({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'sso' });
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /profile sso: no aws_access_key_id\/aws_secret_access_key \(sso_start_url are not supported\)/);
  }
});

test('environment keys come first; the config\'s keys beat everything', async () => {
  Object.assign(expect, { ak: 'AKENV', token: 'env-session' });
  assert.is(await getWith({ AWS_ACCESS_KEY_ID: 'AKENV', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 'env-session', AWS_WEB_IDENTITY_TOKEN_FILE: '/nonexistent', AWS_ROLE_ARN: 'r' }), 'ok');
  Object.assign(expect, { ak: 'AKCFG', token: '' });
  assert.is(await getWith({ AWS_ACCESS_KEY_ID: 'AKENV', AWS_SECRET_ACCESS_KEY: 's' }, { access_key: 'AKCFG', secret_key: 'c' }), 'ok');
});

test.run();
