// Outbound HTTPS with Thanos's tls_config (issue #13 item 3): ctx.httpClient, and the objstore
// http_config that reaches it, against real TLS on loopback. A TLS terminator of this file (node:tls,
// certificates from scripts/make-certs.sh via certs.ts) fronts a real s3rver; the S3 plugin runs on
// the host's real capabilities, so the `net` and `read` grants are the host's own checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Permissions } from '../../host/permissions.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import type { Capabilities, PermissionRequest } from '../../host/index.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import plugin, { createS3Bucket } from '../../plugins/objstore/s3/mod.ts';
import { freePort } from '../harness/ports.ts';
import { parseManifest } from '../../host/manifest.ts';
import { tlsFetch } from '../../lib/net/tlsclient.ts';
import { buildObjstore } from '../../host/main.ts';
import { makeTestPki, type CertPair } from './certs.ts';
import { startS3rver } from '../objstore-s3/s3rver.ts';

const pki = makeTestPki();
// Only DNS:s3.test: reachable at 127.0.0.1 only with server_name s3.test.
const named = pki.issue('s3name', ['DNS:s3.test']);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outbound-tls-'));
const s3dir = path.join(work, 's3rver');
let s3rver: ChildProcess | undefined;
let s3port = 0;
const closers: Array<() => Promise<void>> = [];

/** A TLS terminator in front of 127.0.0.1:backend; `clientCa` makes it require a client certificate. */
async function terminator(pair: CertPair, backend: number, clientCa?: string): Promise<number> {
  const port = await freePort();
  const srv = tls.createServer({
    cert: fs.readFileSync(pair.cert), key: fs.readFileSync(pair.key),
    ...(clientCa ? { ca: fs.readFileSync(clientCa), requestCert: true, rejectUnauthorized: true } : {}),
  }, (sock) => {
    const up = net.connect(backend, '127.0.0.1');
    sock.pipe(up).pipe(sock);
    const end = () => { sock.destroy(); up.destroy(); };
    sock.on('error', end);
    up.on('error', end);
  });
  srv.on('tlsClientError', () => {}); // refused handshakes are the point of some cases
  await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(port, '127.0.0.1', () => res()); });
  closers.push(() => new Promise((res) => srv.close(() => res())));
  return port;
}

function caps(grant: PermissionRequest, request: PermissionRequest = plugin.manifest.permissions): Capabilities {
  const permissions = new Permissions({ pluginId: plugin.manifest.id, request, grant, grantKey: 'objstore[0].permissions', grantBaseDir: work });
  return createCapabilities({ permissions, log: createLogger({ level: 'error' }), metrics: new Registry(), baseDir: work });
}

let seq = 0;
async function roundTrip(port: number, http_config: Record<string, unknown>, grant: PermissionRequest = { net: [`127.0.0.1:${port}`], read: [path.dirname(pki.dir)] }): Promise<void> {
  const cfg = plugin.parseConfig({ bucket: 'thanos', endpoint: `127.0.0.1:${port}`, access_key: 'S3RVER', secret_key: 'S3RVER', max_retries: 0, http_config });
  const b = await createS3Bucket(caps(grant), cfg);
  const name = `tls-${process.pid}-${++seq}`;
  await b.upload(name, new TextEncoder().encode('over tls'));
  assert.is(new TextDecoder().decode(await readAll(await b.get(name))), 'over tls');
  await b.delete(name);
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const parts: string[] = [];
    for (let e: unknown = err; e && parts.length < 6; e = (e as { cause?: unknown }).cause) parts.push(`${(e as Error).name}: ${(e as Error).message} ${(e as { code?: string }).code ?? ''}`);
    return parts.join(' <- ');
  }
  throw new Error('expected a failure');
}

let plainTls = 0;
let namedTls = 0;
let mutualTls = 0;

test.before(async () => {
  s3port = await freePort();
  s3rver = await startS3rver(s3port, s3dir);
  plainTls = await terminator(pki.server, s3port);
  namedTls = await terminator(named, s3port);
  mutualTls = await terminator(pki.server, s3port, pki.ca);
});

test.after(async () => {
  for (const c of closers) await c();
  if (s3rver && s3rver.exitCode === null) {
    s3rver.kill('SIGTERM');
    await new Promise((r) => s3rver!.once('exit', r));
  }
  pki.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

test('s3 over https with http_config.tls_config.ca_file: round-trips', async () => {
  await roundTrip(plainTls, { tls_config: { ca_file: pki.ca } });
});

test('s3 over https without the CA: fails, naming the certificate problem', async () => {
  const msg = await failure(roundTrip(plainTls, {}));
  assert.match(msg, /certificate/i, msg);
});

test('s3 over https with a CA that did not issue the server certificate: fails', async () => {
  const msg = await failure(roundTrip(plainTls, { tls_config: { ca_file: pki.other.ca } }));
  assert.match(msg, /certificate/i, msg);
});

test('s3: http_config.insecure_skip_verify skips verification; tls_config.insecure_skip_verify alone is refused (Thanos ignores it)', async () => {
  await roundTrip(plainTls, { insecure_skip_verify: true });
  await roundTrip(plainTls, { insecure_skip_verify: true, tls_config: { insecure_skip_verify: true } });
  assert.throws(() => plugin.parseConfig({ bucket: 'b', endpoint: 'x:1', http_config: { tls_config: { insecure_skip_verify: true } } }), /http_config\.tls_config\.insecure_skip_verify: .*http_config\.insecure_skip_verify/);
});

test('s3: tls_config.server_name is the name verified (and sent): the right one works, another fails, none fails on an IP', async () => {
  await roundTrip(namedTls, { tls_config: { ca_file: pki.ca, server_name: 's3.test' } });
  const wrong = await failure(roundTrip(namedTls, { tls_config: { ca_file: pki.ca, server_name: 'other.test' } }));
  assert.match(wrong, /other\.test|altname|does not match/i, wrong);
  const none = await failure(roundTrip(namedTls, { tls_config: { ca_file: pki.ca } }));
  assert.match(none, /127\.0\.0\.1|altname|does not match/i, none);
});

test('s3: a server requiring a client certificate: cert_file/key_file work, none fails', async () => {
  await roundTrip(mutualTls, { tls_config: { ca_file: pki.ca, cert_file: pki.client.cert, key_file: pki.client.key } });
  await failure(roundTrip(mutualTls, { tls_config: { ca_file: pki.ca } }));
  assert.throws(() => plugin.parseConfig({ bucket: 'b', endpoint: 'x:1', http_config: { tls_config: { cert_file: pki.client.cert } } }), /tls_config\.key_file: client cert file .* specified without client key file/);
});

test('s3: a ca_file outside the plugin\'s read grant is denied by the grant (and so is a key file)', async () => {
  const outside = path.join(work, 'ca-copy.crt');
  fs.copyFileSync(pki.ca, outside);
  const grant = { net: [`127.0.0.1:${plainTls}`], read: [pki.dir] };
  const msg = await failure(roundTrip(plainTls, { tls_config: { ca_file: outside } }, grant));
  assert.match(msg, /^PermissionDenied: permission denied: plugin objstore:s3 called fs\.readFile\(.*ca-copy\.crt\); grant it with objstore\[0\]\.permissions\.read/, msg);
  // The plugin's own manifest request narrows the grant the same way.
  const c = caps({ net: true, read: true }, { net: true });
  const denied = await failure(createS3Bucket(c, plugin.parseConfig({ bucket: 'thanos', endpoint: `127.0.0.1:${plainTls}`, http_config: { tls_config: { ca_file: pki.ca } } })));
  assert.match(denied, /^PermissionDenied: .*fs\.readFile/, denied);
});

test('ctx.httpClient: the net grant still applies to the URL and to every redirect hop', async () => {
  const c = caps({ net: [`127.0.0.1:${plainTls}`] }, { net: true });
  const f = c.httpClient!({ caPem: fs.readFileSync(pki.ca, 'utf8') });
  assert.is(c.httpClient!({ caPem: fs.readFileSync(pki.ca, 'utf8') }), f, 'one client per configuration');
  const direct = await failure(f(`https://127.0.0.1:${mutualTls}/`));
  assert.match(direct, /^PermissionDenied: .*fetch\(127\.0\.0\.1:\d+\)/, direct);
  // A redirecting https server (the granted one) pointing at an ungranted port.
  const redirPort = await freePort();
  const target = `https://127.0.0.1:${mutualTls}/elsewhere`;
  const srv = http.createServer((_req, res) => { res.writeHead(302, { location: target }); res.end(); });
  await new Promise<void>((r) => srv.listen(redirPort, '127.0.0.1', () => r()));
  closers.push(() => new Promise((r) => srv.close(() => r())));
  const front = await terminator(pki.server, redirPort);
  const c2 = caps({ net: [`127.0.0.1:${front}`] }, { net: true });
  const hop = await failure(c2.httpClient!({ caPem: fs.readFileSync(pki.ca, 'utf8') })(`https://127.0.0.1:${front}/`));
  assert.match(hop, /^PermissionDenied: .*fetch redirect\(127\.0\.0\.1:\d+\)/, hop);
});

test('ctx.httpClient: unusable settings fail when the client is made', () => {
  const c = caps({ net: true }, { net: true });
  assert.throws(() => c.httpClient!({ caPem: 'not a certificate' }), /caPem holds no PEM certificate/);
  assert.throws(() => c.httpClient!({ certPem: fs.readFileSync(pki.client.cert, 'utf8') }), /needs its key/);
  assert.throws(() => c.httpClient!({ certPem: fs.readFileSync(pki.client.cert, 'utf8'), keyPem: fs.readFileSync(pki.server.key, 'utf8') }), /unusable TLS settings/);
});

test('tls_config files are re-read: a rotated ca_file is used from the next check on', async () => {
  const ca = path.join(work, 'rotating-ca.crt');
  fs.copyFileSync(pki.other.ca, ca);
  const c = caps({ net: [`127.0.0.1:${plainTls}`], read: [work] }, { net: true, read: true });
  const f = await tlsFetch(c, { caFile: ca, certFile: '', keyFile: '', serverName: '', insecureSkipVerify: false }, 'test.tls_config', { reloadCheckMs: 0 });
  const before = await failure(f(`https://127.0.0.1:${plainTls}/`));
  assert.match(before, /certificate/i, before);
  fs.writeFileSync(ca, 'half a rotation');
  await failure(f(`https://127.0.0.1:${plainTls}/`)); // unusable new contents: the previous settings stay
  fs.copyFileSync(pki.ca, ca);
  const res = await f(`https://127.0.0.1:${plainTls}/`);
  await res.arrayBuffer();
  assert.ok(res.status > 0, 'answered over TLS with the rotated CA');
});

// A plugin in its own Deno process (isolation: process; the S3 SDK needs sys access Deno's grant
// does not give, so a fixture that fetches one URL through a tls_config block): ctx.httpClient there
// is Deno's HttpClient. ca_file works, without it the certificate is refused, server_name is refused
// by name (Deno cannot set it per client), and the read grant still decides which ca_file it may read.
const probeUse = './' + path.relative(work, path.resolve(import.meta.dirname, '../fixtures/security/objstore-tlsprobe'));
async function isolatedProbe(config: Record<string, unknown>, read: string[] = [path.dirname(pki.dir)]) {
  const text = `apiVersion: 1\nobjstore:\n  - id: probe\n    use: ${probeUse}\n    config: ${JSON.stringify(config)}\n` +
    `    permissions: { net: ["127.0.0.1:${probePort}"], read: ${JSON.stringify(read)} }\n`;
  const file = path.join(work, `plugins-${++seq}.yaml`);
  fs.writeFileSync(file, text);
  const m = parseManifest(text, file);
  const b = await (await buildObjstore(m, m.objstore[0]!, createLogger({ level: 'error' }))).get();
  try {
    return new TextDecoder().decode(await readAll(await b.get('x')));
  } finally {
    await b.close();
  }
}

let probePort = 0;
test('isolation: process: tls_config through the plugin\'s Deno client: ca_file works, none fails, server_name refused, client certificates work, read grant applies', async () => {
  const backend = await freePort();
  const srv = http.createServer((_req, res) => res.end('probe-ok'));
  await new Promise<void>((r) => srv.listen(backend, '127.0.0.1', () => r()));
  closers.push(() => new Promise((r) => srv.close(() => r())));
  probePort = await terminator(pki.server, backend);
  const url = `https://127.0.0.1:${probePort}/`;
  assert.is(await isolatedProbe({ url, ca_file: pki.ca }), 'probe-ok');
  const none = await failure(isolatedProbe({ url }));
  assert.match(none, /certificate|UnknownIssuer|invalid peer/i, none);
  const named = await failure(isolatedProbe({ url, ca_file: pki.ca, server_name: 'localhost' }));
  assert.match(named, /server_name\) is not available to a plugin with isolation: process/, named);
  // A server asking for a client certificate: Deno's client presents cert_file/key_file.
  const mutualPort = await terminator(pki.server, backend, pki.ca);
  const mutual = `https://127.0.0.1:${mutualPort}/`;
  probePort = mutualPort;
  assert.is(await isolatedProbe({ url: mutual, ca_file: pki.ca, cert_file: pki.client.cert, key_file: pki.client.key }), 'probe-ok');
  await failure(isolatedProbe({ url: mutual, ca_file: pki.ca }));
  probePort = await terminator(pki.server, backend);
  const url2 = `https://127.0.0.1:${probePort}/`;
  const denied = await failure(isolatedProbe({ url: url2, ca_file: pki.ca }, [work]));
  assert.match(denied, /permission denied: plugin objstore:tlsprobe called fs\.readFile\(.*ca\.crt\); grant it with objstore\[0\]\.permissions\.read/, denied);
});

test.run();
