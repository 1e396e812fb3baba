// --http.config (exporter-toolkit web configuration) on a component's HTTP listener, over real TLS on
// loopback: the parser's refusals; basic auth (401 without or with a wrong password, 200 with the
// right one, probes and /metrics behind it as in Thanos, the configured headers on every answer);
// client certificates (RequireAndVerifyClientCert: no certificate or one from another CA refused;
// RequireAnyClientCert; client_allowed_sans); a changed file takes effect without a restart; the
// Thanos HTTP metrics with handler names and pre-created series; the server span continuing an
// incoming traceparent. Certificates from scripts/make-certs.sh (test/security/certs.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as http2 from 'node:http2';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import bcrypt from 'bcryptjs';
import { runGroup, type UnitSpec } from '../../host/lifecycle.ts';
import { Permissions } from '../../host/permissions.ts';
import { createLogger } from '../../host/log.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { definePlugin, type Component } from '../../host/index.ts';
import { parseWebConfig, WebConfigError, BasicAuthenticator, checkClientCert, RateLimiter, type WebTlsConfig } from '../../lib/web/webconfig.ts';
import { handlerNamer, QUERY_API_ROUTES } from '../../lib/web/handlers.ts';
import { WebConfigSource } from '../../host/server/webconfig.ts';
import { freePort } from '../harness/ports.ts';
import { makeTestPki, type TestPki } from './certs.ts';

let pki: TestPki;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'webcfg-'));
const HASH = bcrypt.hashSync('s3cret', 4);

test.before(() => {
  pki = makeTestPki();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
test.after(() => {
  pki?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
  context.disable();
  propagation.disable();
});

/** A component that names /api/v1/query like the querier and answers with what it saw. */
const echo = definePlugin<Record<string, never>>({
  manifest: { id: 'component:echo', apiVersion: 1, permissions: {} },
  parseConfig: () => ({}),
  async setup(ctx): Promise<Component> {
    ctx.setReady(true);
    return {
      info: () => ({ componentType: 'query' }),
      http: { handlerName: handlerNamer(QUERY_API_ROUTES), preCreate: { query: ['get', 'post'], query_range: ['get', 'post'] } },
      fetch: async (req) => {
        const body = req.body ? (await req.arrayBuffer()).byteLength : 0;
        const span = trace.getActiveSpan()?.spanContext();
        return Response.json({ path: new URL(req.url).pathname, body, traceId: span?.traceId ?? '' });
      },
      run: (signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })),
    };
  },
});

async function start(webConfigYaml: string | undefined, extra: Partial<UnitSpec> = {}) {
  const port = await freePort();
  let httpConfig: string | undefined;
  if (webConfigYaml !== undefined) {
    httpConfig = path.join(tmp, `web-${port}.yml`);
    fs.writeFileSync(httpConfig, webConfigYaml);
  }
  const stop = new AbortController();
  const lines: string[] = [];
  const unit: UnitSpec = {
    id: 'echo', key: 'components[0]', plugin: echo, config: {},
    permissions: Permissions.all(echo.manifest.id, echo.manifest.permissions),
    http: `127.0.0.1:${port}`, httpConfig, ...extra,
  };
  const done = runGroup([unit], {
    log: createLogger({ level: 'debug', write: (l) => void lines.push(l) }),
    core: async () => createJsCore(), gracePeriodMs: 5000, handleSignals: false, signal: stop.signal,
  });
  return { port, httpConfig, done, lines, stop: () => { stop.abort(); return done; } };
}

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One HTTPS request with explicit TLS client settings (no keep-alive: every call is a new handshake). */
function get(port: number, p: string, o: { ca?: string; cert?: string; key?: string; auth?: string; headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: p, method: o.method ?? 'GET', agent: false,
      ca: o.ca ? fs.readFileSync(o.ca) : undefined, cert: o.cert ? fs.readFileSync(o.cert) : undefined, key: o.key ? fs.readFileSync(o.key) : undefined,
      headers: { ...(o.auth ? { authorization: `Basic ${Buffer.from(o.auth).toString('base64')}` } : {}), ...o.headers },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

async function waitReady(fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (i > 600) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test('parser: exporter-toolkit keys and checks; unknown or unimplementable keys refused by name', () => {
  const ok = parseWebConfig(`tls_server_config:\n  cert_file: s.crt\n  key_file: /abs/s.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  alice: ${HASH}\n`, 'web.yml', '/etc/thanos');
  assert.is(ok.tls!.certFile, '/etc/thanos/s.crt', 'relative paths are joined with the file\'s directory');
  assert.is(ok.tls!.keyFile, '/abs/s.key');
  assert.is(ok.tls!.clientCaFile, '/etc/thanos/ca.crt');
  assert.is(ok.tls!.minVersion, 'TLSv1.3');
  assert.is(ok.tls!.maxVersion, 'TLSv1.3');
  assert.equal(ok.tls!.cipherSuites, ['ECDHE-RSA-AES128-GCM-SHA256'], 'TLS 1.3 suites are accepted and not configurable (Go)');
  assert.equal(ok.tls!.curvePreferences, ['X25519', 'P-256']);
  assert.is(ok.http2, true, 'http2 defaults to true');
  assert.is(ok.users.get('alice'), HASH);
  assert.is(parseWebConfig('basic_auth_users:\n  bob: ' + HASH + '\n', 'w').tls, undefined, 'no TLS keys: plain HTTP');
  assert.is(parseWebConfig('', 'w').users.size, 0, 'an empty file is valid');

  const bad: Array<[string, RegExp]> = [
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  bogus: 1\n', /tls_server_config\.bogus/],
    ['nope: 1\n', /nope: field nope not found/],
    ['http_server_config:\n  headers:\n    X-Powered-By: me\n', /HTTP header "X-Powered-By" can not be configured/],
    ['http_server_config:\n  headers:\n    X-Frame-Options: allow\n', /invalid value for X-Frame-Options/],
    ['basic_auth_users:\n  alice: plaintext-password\n', /basic_auth_users\.alice: crypto\/bcrypt/],
    ['tls_server_config:\n  cert_file: a\n', /missing one of key or key_file/],
    ['tls_server_config:\n  key_file: a\n', /missing one of cert or cert_file/],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n', /client CA's have been configured without a Client Auth Policy/],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n', /invalid ClientAuth: Maybe/],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n', /unknown TLS version: TLS14/],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n', /unknown cipher: TLS_RSA_WITH_RC4_128_SHA/],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [CurveP999]\n', /unknown curve: CurveP999/],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n', /min_version TLSv1\.3 is above max_version/],
    ['rate_limit:\n  interval: soon\n', /rate_limit\.interval/],
    ['basic_auth_users:\n  a: x\nbasic_auth_users:\n  b: y\n', /invalid YAML/],
  ];
  for (const [yaml, re] of bad) {
    assert.throws(() => parseWebConfig(yaml, 'web.yml'), (e: Error) => e instanceof WebConfigError && re.test(e.message), yaml);
  }
});

test('the same verdicts as upstream: promtool 2.42 check web-config (exporter-toolkit) and ours agree on good and bad files', () => {
  if (!fs.existsSync('/usr/bin/promtool')) throw new Error('/usr/bin/promtool missing');
  const tls = `tls_server_config:\n  cert_file: ${pki.server.cert}\n  key_file: ${pki.server.key}\n`;
  const cases = [
    '',
    tls,
    `${tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.ca}\n  min_version: TLS13\n`,
    `${tls}  client_auth_type: VerifyClientCertIfGiven\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  curve_preferences: [CurveP384]\n  prefer_server_cipher_suites: false\n`,
    `${tls}  client_ca_file: ${pki.ca}\n`,
    `${tls}  client_auth_type: Sometimes\n`,
    `${tls}  max_version: TLS11\n  min_version: TLS10\n`,
    `${tls}  min_version: TLS9\n`,
    `${tls}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n`,
    `${tls}  curve_preferences: [CurveP224]\n`,
    `tls_server_config:\n  cert_file: ${pki.server.cert}\n`,
    `tls_server_config:\n  cert_file: ${pki.server.cert}\n  key_file: ${path.join(tmp, 'missing.key')}\n`,
    `tls_server_config:\n  cert_file: ${pki.server.cert}\n  key_file: ${pki.client.key}\n`,
    `tls_server_config:\n  cert_file: ${pki.server.cert}\n  key_file: ${pki.server.key}\n  unknown: 1\n`,
    `http_server_config:\n  http2: false\n  headers:\n    X-Content-Type-Options: nosniff\n    Content-Security-Policy: default-src 'self'\n`,
    'http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n',
    'http_server_config:\n  headers:\n    Server: me\n',
    `basic_auth_users:\n  alice: ${HASH}\n  bob: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\n`,
    'basic_auth_users:\n  alice: secret\n',
    'basic_auth_users:\n  alice: $2y$99$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\n',
    'bogus: true\n',
  ];
  cases.forEach((yaml, i) => {
    const file = path.join(tmp, `compat-${i}.yml`);
    fs.writeFileSync(file, yaml);
    const upstream = spawnSync('/usr/bin/promtool', ['check', 'web-config', file], { encoding: 'utf8' });
    let ours: string | undefined;
    try {
      new WebConfigSource(file).close();
    } catch (err) {
      ours = (err as Error).message;
    }
    assert.is(ours === undefined, upstream.status === 0, `case ${i}:\n${yaml}\nupstream: ${upstream.stdout}${upstream.stderr}\nours: ${ours ?? 'ok'}`);
  });
});

test('basic auth: cached verified results, unknown users compared against a decoy, bcrypt queue bounded', async () => {
  let compares = 0;
  const a = new BasicAuthenticator(async (p, h) => { compares++; return bcrypt.compare(p, h); });
  const users = new Map([['alice', HASH]]);
  const hdr = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  assert.is(await a.check(users, hdr('alice', 's3cret')), 'ok');
  assert.is(await a.check(users, hdr('alice', 's3cret')), 'ok');
  assert.is(compares, 1, 'the second identical request is answered from the cache');
  assert.is(await a.check(users, hdr('alice', 'wrong')), 'denied');
  assert.is(await a.check(users, hdr('mallory', 's3cret')), 'denied');
  assert.is(compares, 3, 'an unknown user still costs a comparison (no user enumeration by timing)');
  assert.is(await a.check(users, null), 'denied');
  assert.is(await a.check(users, 'Basic !!!'), 'denied');
  assert.is(await a.check(users, `basic ${Buffer.from('alice:s3cret').toString('base64')}`), 'ok', 'the scheme is case-insensitive (Go)');
  // A flood of distinct wrong passwords: waiting comparisons are bounded, the rest get 'busy'.
  const slow = new BasicAuthenticator(() => new Promise((r) => setTimeout(() => r(false), 5)));
  const results = await Promise.all(Array.from({ length: 400 }, (_, i) => slow.check(users, hdr('alice', `p${i}`))));
  assert.ok(results.includes('busy'), 'past the bound requests are turned away');
  assert.ok(results.filter((r) => r === 'denied').length >= 200);
});

test('rate_limit: a token bucket like x/time/rate (burst, one token per interval)', () => {
  let now = 0;
  const r = new RateLimiter(2, 1000, () => now);
  assert.equal([r.allow(), r.allow(), r.allow()], [true, true, false], 'the burst, then refused');
  now = 500;
  assert.is(r.allow(), false, 'half a token');
  now = 1000;
  assert.is(r.allow(), true, 'one interval: one token');
  now = 60_000;
  assert.equal([r.allow(), r.allow(), r.allow()], [true, true, false], 'never more than the burst saved up');
  assert.is(new RateLimiter(0, 1000, () => now).allow(), false, 'burst 0 allows nothing (as rate.NewLimiter)');
  assert.equal(parseWebConfig('rate_limit:\n  burst: 5\n  interval: 250ms\n', 'w').rateLimit, { burst: 5, intervalMs: 250 });
  assert.is(parseWebConfig('rate_limit:\n  burst: 5\n', 'w').rateLimit, undefined, 'interval 0: off');
});

test('client certificate policies and client_allowed_sans (after the handshake)', () => {
  const base: WebTlsConfig = { certFile: 'c', keyFile: 'k', cert: '', key: '', clientCa: '', clientCaFile: '', clientAuthType: 'NoClientCert', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', cipherSuites: [], curvePreferences: [], preferServerCipherSuites: true };
  assert.is(checkClientCert({ ...base, clientAuthType: 'RequireAnyClientCert' }, false, false, undefined), "tls: client didn't provide a certificate");
  assert.is(checkClientCert({ ...base, clientAuthType: 'RequireAnyClientCert' }, true, false, 'DNS:x'), undefined, 'any certificate, unverified');
  assert.is(checkClientCert({ ...base, clientAuthType: 'VerifyClientCertIfGiven' }, false, false, undefined), undefined);
  assert.is(checkClientCert({ ...base, clientAuthType: 'VerifyClientCertIfGiven' }, true, false, 'DNS:x'), 'tls: failed to verify certificate');
  const sans = { ...base, clientAuthType: 'RequireAndVerifyClientCert' as const, clientAllowedSans: ['client.example', '::1'] };
  assert.is(checkClientCert(sans, true, true, 'DNS:client.example, IP Address:127.0.0.1'), undefined);
  assert.is(checkClientCert(sans, true, true, 'DNS:other, IP Address:0:0:0:0:0:0:0:1'), undefined, 'IPv6 compared canonically');
  assert.match(checkClientCert(sans, true, true, 'DNS:other, IP Address:127.0.0.1') ?? '', /could not find allowed SANs/);
});

test('basic auth over TLS: 401 without or with a wrong password, 200 with the right one; probes and /metrics behind it; headers on every answer', async () => {
  const s = await start([
    'tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`,
    'http_server_config:', '  headers:', '    X-Frame-Options: deny', '    Strict-Transport-Security: max-age=31536000',
    'basic_auth_users:', `  alice: ${HASH}`, '',
  ].join('\n'));
  try {
    await waitReady(() => get(s.port, '/-/healthy', { ca: pki.ca }));
    const none = await get(s.port, '/api/v1/query?query=up', { ca: pki.ca });
    assert.is(none.status, 401);
    assert.is(none.headers['www-authenticate'], 'Basic');
    assert.is(none.headers['x-frame-options'], 'deny', 'configured headers on a 401 too');
    assert.is((await get(s.port, '/api/v1/query?query=up', { ca: pki.ca, auth: 'alice:nope' })).status, 401);
    assert.is((await get(s.port, '/api/v1/query?query=up', { ca: pki.ca, auth: 'bob:s3cret' })).status, 401);
    for (const p of ['/-/healthy', '/-/ready', '/metrics']) assert.is((await get(s.port, p, { ca: pki.ca })).status, 401, `${p} is behind auth as in Thanos`);
    const ok = await get(s.port, '/api/v1/query?query=up', { ca: pki.ca, auth: 'alice:s3cret' });
    assert.is(ok.status, 200);
    assert.is(ok.headers['strict-transport-security'], 'max-age=31536000');
    assert.is(JSON.parse(ok.body).path, '/api/v1/query');
    assert.is((await get(s.port, '/-/ready', { ca: pki.ca, auth: 'alice:s3cret' })).status, 200);
    assert.ok(s.lines.some((l) => /msg="TLS is enabled\."/.test(l)), 'logs TLS as exporter-toolkit does');
    // http2 defaults to true: an HTTP/2 client (ALPN h2) is served too, behind the same auth.
    const h2 = http2.connect(`https://127.0.0.1:${s.port}`, { ca: fs.readFileSync(pki.ca) });
    try {
      const status = (auth?: string) => new Promise<number>((resolve, reject) => {
        const st = h2.request({ ':path': '/api/v1/query?query=up', ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}) });
        st.on('response', (h) => { resolve(Number(h[':status'])); st.resume(); });
        st.on('error', reject);
        st.end();
      });
      assert.is(await status(), 401);
      assert.is(await status('alice:s3cret'), 200);
      assert.is(h2.alpnProtocol, 'h2');
    } finally {
      h2.close();
    }
  } finally {
    assert.is((await s.stop()).code, 0);
  }
});

test('RequireAndVerifyClientCert: no client certificate refused, one from another CA refused, the right one served', async () => {
  const s = await start([
    'tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`,
    '  client_auth_type: RequireAndVerifyClientCert', `  client_ca_file: ${pki.ca}`, '',
  ].join('\n'));
  try {
    await waitReady(() => get(s.port, '/-/healthy', { ca: pki.ca, cert: pki.client.cert, key: pki.client.key }));
    assert.is((await get(s.port, '/-/healthy', { ca: pki.ca, cert: pki.client.cert, key: pki.client.key })).status, 200);
    await assert.not.ok(await get(s.port, '/-/healthy', { ca: pki.ca }).then(() => true, () => false), 'no client certificate: refused');
    await assert.not.ok(await get(s.port, '/-/healthy', { ca: pki.ca, cert: pki.other.client.cert, key: pki.other.client.key }).then(() => true, () => false), 'client certificate from another CA: refused');
    // The client checks the server too: a client trusting only the other CA refuses our server.
    await assert.not.ok(await get(s.port, '/-/healthy', { ca: pki.other.ca, cert: pki.client.cert, key: pki.client.key }).then(() => true, () => false));
  } finally {
    assert.is((await s.stop()).code, 0);
  }
});

test('RequireAnyClientCert with client_allowed_sans; a changed file (new user, rotated certificate) takes effect without a restart', async () => {
  const cfg = (users: string) => [
    'tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`,
    '  client_auth_type: RequireAnyClientCert', '  client_allowed_sans: [client, localhost]', users, '',
  ].join('\n');
  const s = await start(cfg(''));
  try {
    const c = { ca: pki.ca, cert: pki.client.cert, key: pki.client.key };
    await waitReady(() => get(s.port, '/-/healthy', c));
    assert.is((await get(s.port, '/-/healthy', { ...c, cert: pki.other.client.cert, key: pki.other.client.key })).status, 200, 'any certificate will do (not verified), its SANs allowed');
    await assert.not.ok(await get(s.port, '/-/healthy', { ca: pki.ca }).then(() => true, () => false), 'a certificate is required');
    const odd = pki.issue('odd', ['DNS:odd.example']);
    await assert.not.ok(await get(s.port, '/-/healthy', { ca: pki.ca, cert: odd.cert, key: odd.key }).then(() => true, () => false), 'SAN not allowed');

    // Basic auth switched on by editing the file.
    fs.writeFileSync(s.httpConfig!, cfg(`basic_auth_users:\n  alice: ${HASH}`));
    await waitReady(async () => { if ((await get(s.port, '/-/healthy', c)).status !== 401) throw new Error('not yet'); });
    assert.is((await get(s.port, '/-/healthy', { ...c, auth: 'alice:s3cret' })).status, 200);

    // The server certificate re-issued in place: new connections see the new one.
    const before = await serverCertSerial(s.port, c);
    pki.issue('server');
    fs.utimesSync(pki.server.cert, new Date(), new Date(Date.now() + 5000));
    await waitReady(async () => { if ((await serverCertSerial(s.port, c)) === before) throw new Error('not yet'); });

    // An invalid file: 500 until it is fixed (exporter-toolkit's answer), then served again.
    fs.writeFileSync(s.httpConfig!, 'nope: 1\n');
    await waitReady(async () => { if ((await get(s.port, '/-/healthy', c)).status !== 500) throw new Error('not yet'); });
    fs.writeFileSync(s.httpConfig!, cfg(''));
    await waitReady(async () => { if ((await get(s.port, '/-/healthy', c)).status !== 200) throw new Error('not yet'); });
  } finally {
    assert.is((await s.stop()).code, 0);
  }
});

function serverCertSerial(port: number, c: { ca: string; cert: string; key: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/-/healthy', agent: false, ca: fs.readFileSync(c.ca), cert: fs.readFileSync(c.cert), key: fs.readFileSync(c.key) }, (res) => {
      const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => resolve(serial));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a web config that does not load stops the component before it listens', async () => {
  const missing = await start(`tls_server_config:\n  cert_file: ${path.join(tmp, 'nope.crt')}\n  key_file: ${pki.server.key}\n`);
  const r = await missing.done;
  assert.is(r.code, 1);
  assert.match(String((r.cause as Error).message), /failed to read cert_file/);
  const badKey = await start(`tls_server_config:\n  cert_file: ${pki.server.cert}\n  key_file: ${pki.client.key}\n`);
  const r2 = await badKey.done;
  assert.is(r2.code, 1);
  assert.match(String((r2.cause as Error).message), /failed to load X509KeyPair/);
});

test('Thanos HTTP metrics: handler names, labels, buckets, pre-created series; unnamed routes and probes not instrumented; server span continues traceparent', async () => {
  const s = await start(undefined);
  const base = `http://127.0.0.1:${s.port}`;
  try {
    await waitReady(() => fetch(`${base}/-/ready`).then((r) => r.text()));
    const m0 = await (await fetch(`${base}/metrics`)).text();
    for (const h of ['query', 'query_range']) {
      for (const m of ['get', 'post']) assert.match(m0, new RegExp(`^http_requests_total\\{code="200",handler="${h}",method="${m}"\\} 0$`, 'm'), `${h} ${m} pre-created`);
      assert.match(m0, new RegExp(`^http_inflight_requests\\{handler="${h}",method="GET"\\} 0$`, 'm'));
      assert.match(m0, new RegExp(`^http_request_duration_seconds_bucket\\{code="200",handler="${h}",method="get",le="0.001"\\} 0$`, 'm'), 'duration histogram pre-created');
      assert.match(m0, new RegExp(`^http_request_size_bytes_count\\{code="200",handler="${h}",method="post"\\} 0$`, 'm'));
    }
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await fetch(`${base}/api/v1/query?query=up`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    assert.is((await r.json() as { traceId: string }).traceId, traceId, 'the handler runs in a span of the incoming trace');
    await (await fetch(`${base}/api/v1/query_range`, { method: 'POST', body: 'query=up&start=1&end=2&step=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).text();
    await (await fetch(`${base}/api/v1/label/job/values`)).text();
    await (await fetch(`${base}/not/a/thanos/route`)).text();
    const m = await (await fetch(`${base}/metrics`)).text();
    assert.match(m, /^http_requests_total\{code="200",handler="query",method="get"\} 1$/m);
    assert.match(m, /^http_requests_total\{code="200",handler="query_range",method="post"\} 1$/m);
    assert.match(m, /^http_requests_total\{code="200",handler="label_values",method="get"\} 1$/m);
    assert.match(m, /^# TYPE http_request_duration_seconds histogram$/m);
    const les = [...m.matchAll(/^http_request_duration_seconds_bucket\{code="200",handler="query",method="get",le="([^"]+)"\}/gm)].map((x) => x[1]);
    assert.equal(les, ['0.001', '0.01', '0.1', '0.3', '0.6', '1', '3', '6', '9', '20', '30', '60', '90', '120', '240', '360', '720', '+Inf'], 'Thanos duration buckets');
    const sizeLes = [...m.matchAll(/^http_response_size_bytes_bucket\{code="200",handler="query",method="get",le="([^"]+)"\}/gm)].map((x) => x[1]);
    assert.equal(sizeLes, ['64', '128', '256', '512', '1024', '2048', '4096', '8192', '16384', '32768', '+Inf']);
    assert.match(m, /^http_request_size_bytes_count\{code="200",handler="query_range",method="post"\} 1$/m);
    assert.match(m, /^http_inflight_requests\{handler="query",method="GET"\} 0$/m);
    assert.not.match(m, /handler="\/-\/ready"|handler="component"|route/, 'unnamed routes and probes are not instrumented');
  } finally {
    assert.is((await s.stop()).code, 0);
  }
});

test.run();
