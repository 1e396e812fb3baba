// ctx.fetch checks every redirect hop against the grant (issue #22 item 3), and in-process
// hardening: a plugin replacing globalThis.fetch or the undici dispatcher slot cannot see a
// neighbour's requests (item 2). Real loopback servers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http from 'node:http';
import { Permissions } from '../../host/permissions.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { PermissionDenied, type PermissionRequest } from '../../host/index.ts';

interface Seen { url: string; method: string; auth?: string; body: string }

async function server(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ url: req.url!, method: req.method!, auth: req.headers.authorization, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as { port: number }).port, seen, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

const target = await server((req, res) => res.end(`target ${req.method} ${req.url}`));
let targetPort = target.port;
const redirector = await server((req, res) => {
  const m = /^\/(\d{3})(\/.*)$/.exec(req.url!);
  if (m) {
    const [, status, rest] = m;
    res.writeHead(Number(status), { location: rest!.startsWith('/same') ? rest!.slice(5) : `http://127.0.0.1:${targetPort}${rest}` });
    res.end();
    return;
  }
  res.end(`redirector ${req.method} ${req.url}`);
});

function caps(id: string, grant: PermissionRequest) {
  const permissions = new Permissions({ pluginId: id, request: { net: true }, grant, grantKey: 'objstore[0].permissions', grantBaseDir: process.cwd() });
  return createCapabilities({ permissions, log: createLogger({ level: 'error' }), metrics: new Registry() });
}

test('redirect to a host:port outside the grant is denied before it is requested', async () => {
  const c = caps('objstore:a', { net: [`127.0.0.1:${redirector.port}`] });
  const before = target.seen.length;
  try {
    await c.fetch(`http://127.0.0.1:${redirector.port}/302/secret`);
    assert.unreachable('must be denied');
  } catch (err) {
    assert.instance(err, PermissionDenied, String(err));
    const e = err as PermissionDenied;
    assert.is(e.api, 'fetch redirect');
    assert.is(e.descriptor, `127.0.0.1:${target.port}`);
    assert.is(e.manifestKey, 'objstore[0].permissions.net');
  }
  assert.is(target.seen.length, before, 'the ungranted target was never contacted');
  // every status that redirects
  for (const s of [301, 303, 307, 308]) {
    await c.fetch(`http://127.0.0.1:${redirector.port}/${s}/x`).then(() => assert.unreachable(`${s}`), (err) => assert.instance(err, PermissionDenied));
  }
  assert.is(target.seen.length, before);
});

test('granted redirects are followed like fetch does: Authorization dropped across origins, 303 turns POST into GET', async () => {
  const c = caps('objstore:a', { net: ['127.0.0.1'] });
  let res = await c.fetch(`http://127.0.0.1:${redirector.port}/302/a`, { headers: { authorization: 'Bearer t' } });
  assert.is(await res.text(), 'target GET /a');
  assert.ok(res.redirected);
  assert.is(res.url, `http://127.0.0.1:${target.port}/a`);
  assert.is(target.seen.at(-1)!.auth, undefined, 'credentials do not follow a cross-origin redirect');
  res = await c.fetch(`http://127.0.0.1:${redirector.port}/303/b`, { method: 'POST', body: 'payload' });
  assert.is(await res.text(), 'target GET /b');
  res = await c.fetch(`http://127.0.0.1:${redirector.port}/307/c`, { method: 'PUT', body: 'again' });
  assert.is(await res.text(), 'target PUT /c');
  assert.is(target.seen.at(-1)!.body, 'again', '307 re-sends the body');
  res = await c.fetch(`http://127.0.0.1:${redirector.port}/302/same/here`, { headers: { authorization: 'Bearer t' } });
  assert.is(await res.text(), 'redirector GET /here');
  assert.is(redirector.seen.at(-1)!.auth, 'Bearer t', 'same origin keeps credentials');
  res = await c.fetch(`http://127.0.0.1:${redirector.port}/302/d`, { redirect: 'manual' });
  assert.is(res.status, 302, 'manual: no hop followed');
  await res.body?.cancel();
});

test('a plugin replacing globalThis.fetch does not see a neighbour\'s ctx.fetch (Authorization stays private)', async () => {
  const neighbour = caps('objstore:s3', { net: [`127.0.0.1:${target.port}`] });
  const captured: string[] = [];
  const original = globalThis.fetch;
  // what a hostile inline plugin would do
  globalThis.fetch = async (input, init) => {
    captured.push(`${String(input)} ${JSON.stringify(init?.headers ?? {})}`);
    return original(input, init);
  };
  try {
    const res = await neighbour.fetch(`http://127.0.0.1:${target.port}/signed`, { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=secret' } });
    assert.is(await res.text(), 'target GET /signed');
  } finally {
    globalThis.fetch = original;
  }
  assert.equal(captured, []);
  assert.is(target.seen.at(-1)!.auth, 'AWS4-HMAC-SHA256 Credential=secret');
});

test('the process-wide undici dispatcher cannot be replaced once the host has loaded a plugin', async () => {
  caps('objstore:x', {});
  const sym = Symbol.for('undici.globalDispatcher.1');
  assert.throws(() => Object.defineProperty(globalThis, sym, { value: { dispatch() { return false; } } }), /Cannot redefine/);
  assert.throws(() => { (globalThis as Record<symbol, unknown>)[sym] = {}; }, /read only|read-only/);
  const c = caps('objstore:y', {});
  assert.ok(Object.isFrozen(c), 'capabilities are frozen');
  assert.throws(() => { (c as { fetch: unknown }).fetch = () => {}; });
});

test.after(async () => {
  await target.close();
  await redirector.close();
});
test.run();
