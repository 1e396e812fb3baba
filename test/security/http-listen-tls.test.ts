// ctx.listen with TLS (a plugin's own port, e.g. receive's remote write; host/server/http.ts
// listenChecked over host/server/tls.ts): Thanos's --*-server-tls-* rules (client CA = client
// certificates required and verified; minimum version 1.3 by default), certificate files checked
// against the plugin's read grant, a rotated certificate served to new connections without a
// restart, and the listener's requests instrumented into the plugin's registry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as tls from 'node:tls';
import * as http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { serveFetch } from '../../host/server/listen.ts';
import { listenChecked } from '../../host/server/http.ts';
import { Permissions } from '../../host/permissions.ts';
import { Registry } from '../../host/metrics.ts';
import { createLogger } from '../../host/log.ts';
import { PermissionDenied } from '../../host/index.ts';
import { freePort } from '../harness/ports.ts';
import { makeTestPki, type TestPki } from './certs.ts';

let pki: TestPki;
test.before(() => {
  pki = makeTestPki();
});
test.after(() => pki?.cleanup());

const log = createLogger({ level: 'error' });

function get(port: number, o: { ca: string; cert?: string; key?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<{ status: number; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: '/api/v1/receive', method: 'POST', agent: false, maxVersion: o.maxVersion,
      ca: fs.readFileSync(o.ca), cert: o.cert ? fs.readFileSync(o.cert) : undefined, key: o.key ? fs.readFileSync(o.key) : undefined,
    }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, serial }));
    });
    req.on('error', reject);
    req.end('x');
  });
}

test('mTLS on a plugin listener: client CA enforced, TLS 1.3 minimum, rotation, read grant, instrumentation', async () => {
  const port = await freePort();
  const reg = new Registry();
  const perms = Permissions.all('component:receive', { net: true, read: [pki.dir] });
  const l = await listenChecked(perms, { metrics: reg, log }, {
    hostname: '127.0.0.1', port,
    tls: { certFile: pki.server.cert, keyFile: pki.server.key, clientCaFile: pki.ca },
    instrument: { handlerName: (r) => (new URL(r.url).pathname === '/api/v1/receive' ? 'receive' : undefined), tenant: { header: 'THANOS-TENANT', default: 'default-tenant' } },
  }, () => new Response('ok'));
  try {
    const c = { ca: pki.ca, cert: pki.client.cert, key: pki.client.key };
    const first = await get(port, c);
    assert.is(first.status, 200);
    assert.not.ok(await get(port, { ca: pki.ca }).then(() => true, () => false), 'no client certificate');
    assert.not.ok(await get(port, { ca: pki.ca, cert: pki.other.client.cert, key: pki.other.client.key }).then(() => true, () => false), 'certificate of another CA');
    assert.not.ok(await get(port, { ...c, maxVersion: 'TLSv1.2' }).then(() => true, () => false), 'TLS 1.2 client refused (default minimum 1.3)');
    pki.issue('server');
    fs.utimesSync(pki.server.cert, new Date(), new Date(Date.now() + 5000));
    let serial = first.serial;
    for (let i = 0; i < 200 && serial === first.serial; i++) {
      await new Promise((r) => setTimeout(r, 50));
      serial = (await get(port, c)).serial;
    }
    assert.is.not(serial, first.serial, 'new connections get the re-issued certificate');
    assert.match(reg.render(), /^http_requests_total\{code="200",handler="receive",method="post",tenant="default-tenant"\} ([2-9]|\d{2,})$/m, 'every served request counted');
  } finally {
    await l.close();
  }
  // Certificate files outside the plugin's read grant: denied before anything is read.
  const narrow = Permissions.all('component:receive', { net: true, read: ['/nonexistent'] });
  await listenChecked(narrow, { metrics: reg, log }, { hostname: '127.0.0.1', port, tls: { certFile: pki.server.cert, keyFile: pki.server.key } }, () => new Response('ok'))
    .then(() => assert.unreachable(), (e: Error) => assert.instance(e, PermissionDenied));
});

test('ctx.listen TLS: Go cipher suite names restrict TLS 1.2 (--remote-write.server-tls-ciphers)', async () => {
  const port = await freePort();
  const perms = Permissions.all('component:receive', { net: true, read: [pki.dir] });
  const l = await listenChecked(perms, { metrics: new Registry(), log }, {
    hostname: '127.0.0.1', port, tls: { certFile: pki.server.cert, keyFile: pki.server.key, minVersion: '1.2', cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'] },
  }, () => new Response('ok'));
  const hello = (ciphers: string) => new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(pki.ca), maxVersion: 'TLSv1.2', ciphers }, () => { const c = s.getCipher().name; s.destroy(); resolve(c); });
    s.on('error', reject);
  });
  try {
    assert.is(await hello('ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384'), 'ECDHE-ECDSA-AES256-GCM-SHA384');
    assert.not.ok(await hello('ECDHE-ECDSA-AES128-GCM-SHA256').then(() => true, () => false), 'a suite outside the list is refused');
  } finally {
    await l.close();
  }
});

test('HTTP/1.1 clients of the TLS + HTTP/2 listener (the web config default) get the header deadline too; an HTTP/2 client is served meanwhile', async () => {
  const l = await serveFetch('127.0.0.1', await freePort(), () => new Response('ok'), {
    tls: { serverOptions: () => ({ cert: fs.readFileSync(pki.server.cert), key: fs.readFileSync(pki.server.key) }) },
    http2: true, limits: { headersTimeoutMs: 1500 }, log,
  });
  try {
    const started = Date.now();
    let closedAt = 0;
    const slow = tls.connect({ host: '127.0.0.1', port: l.address.port, ca: fs.readFileSync(pki.ca), ALPNProtocols: ['http/1.1'] });
    slow.on('error', () => {});
    const closed = new Promise<void>((r) => slow.on('close', () => { closedAt = Date.now(); r(); }));
    await new Promise<void>((r) => slow.once('secureConnect', () => r()));
    slow.write('GET / HTTP/1.1\r\nHost: a\r\n');
    const drip = setInterval(() => { if (!slow.destroyed) slow.write('X-A: b\r\n'); }, 200);
    try {
      const h2 = http2.connect(`https://127.0.0.1:${l.address.port}`, { ca: fs.readFileSync(pki.ca) });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const st = h2.request({ ':path': '/' });
          st.on('response', (h) => { resolve(Number(h[':status'])); st.resume(); });
          st.on('error', reject);
          st.end();
        });
        assert.is(status, 200);
      } finally {
        h2.close();
      }
      await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('slow HTTP/1.1 client never cut off')), 30_000))]);
    } finally {
      clearInterval(drip);
    }
    assert.ok(closedAt - started >= 1000, 'not before the deadline');
  } finally {
    await l.close();
  }
});

test.run();
