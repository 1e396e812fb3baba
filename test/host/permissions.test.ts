// Each capability checks on every call: fetch, listen, connect, grpcDial, resolve, fs.* (read and write), env.get.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Permissions } from '../../host/permissions.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { PermissionDenied, type PermissionRequest } from '../../host/index.ts';
import { resolveSecrets } from '../../host/secrets.ts';
import { grpcTargetHostPorts, startGrpc } from '../../host/server/grpc.ts';
import { GrpcError, GrpcStatus } from '../../host/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'perm-'));
fs.mkdirSync(path.join(tmp, 'data/private'), { recursive: true });
fs.writeFileSync(path.join(tmp, 'data/a.txt'), 'hello');
fs.writeFileSync(path.join(tmp, 'data/private/key'), 'secret');
fs.writeFileSync(path.join(tmp, 'outside.txt'), 'x');

function caps(grant: PermissionRequest, request: PermissionRequest = { net: true, read: true, write: true, env: true }) {
  const permissions = new Permissions({ pluginId: 'component:test', request, grant, grantKey: 'components[2].permissions', grantBaseDir: tmp });
  return createCapabilities({ permissions, log: createLogger({ level: 'error' }), metrics: new Registry(), baseDir: tmp });
}

async function denied(p: Promise<unknown> | (() => unknown), api: string, descriptor: string, key: string, reason?: RegExp) {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.instance(err, PermissionDenied, String(err));
    const e = err as PermissionDenied;
    assert.is(e.pluginId, 'component:test');
    assert.is(e.api, api);
    assert.is(e.descriptor, descriptor);
    assert.is(e.manifestKey, key);
    assert.ok(e.message.includes('component:test') && e.message.includes(api) && e.message.includes(descriptor), e.message);
    if (reason) assert.match(e.message, reason);
    return;
  }
  assert.unreachable(`${api}(${descriptor}) should be denied`);
}

// a real loopback server to prove granted calls go through
const server = net.createServer((s) => s.end('pong'));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as net.AddressInfo).port;

test('fetch: denied without a net grant, allowed for the granted host:port', async () => {
  const c = caps({ net: [`127.0.0.1:${port + 1}`] });
  await denied(c.fetch(`http://127.0.0.1:${port}/x`), 'fetch', `127.0.0.1:${port}`, 'components[2].permissions.net');
  await denied(caps({}).fetch('https://example.com/'), 'fetch', 'example.com:443', 'components[2].permissions.net');
  await denied(caps({ net: ['example.com'] }).fetch(new Request('http://evil.test/')), 'fetch', 'evil.test:80', 'components[2].permissions.net');
});

test('listen: denied, then allowed and serving on loopback', async () => {
  await denied(caps({ net: ['10.0.0.1'] }).listen({ hostname: '127.0.0.1', port: 0 }, () => new Response('x')), 'listen', '127.0.0.1:0', 'components[2].permissions.net');
  const c = caps({ net: ['127.0.0.1'] });
  const l = await c.listen({ hostname: '127.0.0.1', port: 0 }, () => new Response('served'));
  try {
    assert.ok(l.address.port > 0);
    const res = await c.fetch(`http://127.0.0.1:${l.address.port}/`);
    assert.is(await res.text(), 'served');
  } finally {
    await l.close();
  }
});

test('connect: denied, then allowed to a real TCP server', async () => {
  await denied(caps({ net: { allow: true, deny: ['127.0.0.1'] } }).connect({ hostname: '127.0.0.1', port }), 'connect', `127.0.0.1:${port}`, 'components[2].permissions.net', /denied by components\[2\]\.permissions\.net\.deny/);
  const conn = await caps({ net: [`127.0.0.1:${port}`] }).connect({ hostname: '127.0.0.1', port });
  const r = conn.readable.getReader();
  let got = '';
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  assert.is(got, 'pong');
  conn.close();
});

test('grpcDial: denied without a net grant (naming plugin, target, key); granted, it calls unary and streams', async () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  const g = await startGrpc('127.0.0.1:0', {
    '/test.Echo/Say': { kind: 'unary', requestDecode: dec, responseEncode: (m) => enc(String(m)), handler: async (req, _s, md) => `${req}${md.who ? ` ${md.who}` : ''}` },
    '/test.Echo/Slow': { kind: 'unary', requestDecode: dec, responseEncode: (m) => enc(String(m)), handler: (req, signal) => new Promise((resolve, reject) => {
      const t = setTimeout(() => resolve(req), 5000);
      signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); }, { once: true });
    }) },
    '/test.Echo/Count': { kind: 'serverStream', requestDecode: dec, responseEncode: (m) => enc(String(m)), handler: async function* (req) { for (let i = 0; i < Number(req); i++) yield i; } },
  });
  const target = `127.0.0.1:${g.port}`;
  try {
    // no grant at all, a grant for another port, an explicit deny, and the dns:/// spelling
    await denied(() => caps({}).grpcDial(target), 'grpcDial', target, 'components[2].permissions.net');
    await denied(() => caps({ net: [`127.0.0.1:${g.port + 1}`] }).grpcDial(target), 'grpcDial', target, 'components[2].permissions.net');
    await denied(() => caps({ net: { allow: true, deny: ['127.0.0.1'] } }).grpcDial(`dns:///${target}`), 'grpcDial', target, 'components[2].permissions.net', /denied by components\[2\]\.permissions\.net\.deny/);
    // the plugin's own manifest must ask for net too
    await denied(() => caps({ net: true }, { net: ['10.0.0.1'] }).grpcDial(target), 'grpcDial', target, 'components[2].permissions.net', /plugin's own manifest does not ask for net access/);
    try {
      caps({}).grpcDial(target);
    } catch (e) {
      assert.match((e as Error).message, `permission denied: plugin component:test called grpcDial(${target}); grant it with components[2].permissions.net in plugins.yaml`);
    }

    const conn = caps({ net: ['127.0.0.1'] }).grpcDial(target);
    try {
      assert.is(conn.target, target);
      assert.is(await conn.unary('/test.Echo/Say', 'hi', enc, dec, { metadata: { who: 'there' } }), 'hi there');
      const got: string[] = [];
      for await (const m of conn.serverStream('/test.Echo/Count', '3', enc, dec)) got.push(m);
      assert.equal(got, ['0', '1', '2']);
      // deadline and AbortSignal
      const late = await conn.unary('/test.Echo/Slow', 'x', enc, dec, { timeoutMs: 50 }).then(() => null, (e) => e);
      assert.ok(late instanceof GrpcError && late.code === GrpcStatus.DeadlineExceeded, String(late));
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      const cancelled = await conn.unary('/test.Echo/Slow', 'x', enc, dec, { signal: ac.signal }).then(() => null, (e) => e);
      assert.ok(cancelled instanceof GrpcError && cancelled.code === GrpcStatus.Cancelled, String(cancelled));
    } finally {
      conn.close();
      conn.close(); // idempotent
    }
  } finally {
    await g.close(100);
  }
});

test('resolve: denied unless the grant covers the name on every port (a host:port grant is not enough); granted, it answers from the hosts file', async () => {
  await denied(caps({}).resolve!('localhost', 'A'), 'resolve', 'localhost', 'components[2].permissions.net');
  await denied(caps({ net: ['localhost:9093'] }).resolve!('localhost', 'SRV'), 'resolve', 'localhost', 'components[2].permissions.net');
  await denied(caps({ net: ['localhost'] }, { net: ['localhost:1'] }).resolve!('localhost', 'A'), 'resolve', 'localhost', 'components[2].permissions.net', /manifest does not ask/);
  assert.ok((await caps({ net: ['localhost:*'] }).resolve!('localhost', 'A')).includes('127.0.0.1'));
});

test('grpcDial targets: the host:port checked for each spelling; non-network schemes refused', () => {
  assert.equal(grpcTargetHostPorts('127.0.0.1:10901'), ['127.0.0.1:10901']);
  assert.equal(grpcTargetHostPorts('store.internal:10901'), ['store.internal:10901']);
  assert.equal(grpcTargetHostPorts('store.internal'), ['store.internal:443']);
  assert.equal(grpcTargetHostPorts('dns:store.internal:1'), ['store.internal:1']);
  assert.equal(grpcTargetHostPorts('dns:///store.internal:1'), ['store.internal:1']);
  assert.equal(grpcTargetHostPorts('dns://8.8.8.8/store.internal:1'), ['store.internal:1']);
  assert.equal(grpcTargetHostPorts('[::1]:10901'), ['[::1]:10901']);
  assert.equal(grpcTargetHostPorts('ipv4:10.0.0.1:1,10.0.0.2:2'), ['10.0.0.1:1', '10.0.0.2:2']);
  assert.throws(() => grpcTargetHostPorts('unix:/tmp/grpc.sock'), /scheme unix: is not supported/);
  // a list is checked address by address
  assert.throws(() => caps({ net: ['10.0.0.1'] }).grpcDial('ipv4:10.0.0.1:1,10.0.0.2:2'), (e: unknown) => e instanceof PermissionDenied && e.descriptor === '10.0.0.2:2');
});

test('fs reads: every read API checks the read grant', async () => {
  const c = caps({ read: ['./data'], write: [] });
  const out = path.join(tmp, 'outside.txt');
  await denied(c.fs.readFile('outside.txt'), 'fs.readFile', out, 'components[2].permissions.read');
  await denied(c.fs.readRange(out, 0, 1), 'fs.readRange', out, 'components[2].permissions.read');
  await denied(c.fs.openRead(out), 'fs.openRead', out, 'components[2].permissions.read');
  await denied(c.fs.stat(out), 'fs.stat', out, 'components[2].permissions.read');
  await denied(c.fs.exists(out), 'fs.exists', out, 'components[2].permissions.read');
  await denied(c.fs.readDir(tmp), 'fs.readDir', tmp, 'components[2].permissions.read');
  await denied(c.fs.readFile('./data/../outside.txt'), 'fs.readFile', out, 'components[2].permissions.read');
  assert.is(new TextDecoder().decode(await c.fs.readFile('data/a.txt')), 'hello');
  assert.is(new TextDecoder().decode(await c.fs.readRange('data/a.txt', 1, 3)), 'ell');
  assert.equal((await c.fs.readDir('data')).map((e) => e.name).sort(), ['a.txt', 'private']);
});

test('fs writes: every write API checks the write grant; deny carves out', async () => {
  const c = caps({ read: true, write: { allow: ['./data'], deny: ['./data/private'] } });
  const key = path.join(tmp, 'data/private/key');
  await denied(c.fs.writeFile('outside.txt', new Uint8Array(1)), 'fs.writeFile', path.join(tmp, 'outside.txt'), 'components[2].permissions.write');
  await denied(c.fs.writeFile(key, new Uint8Array(1)), 'fs.writeFile', key, 'components[2].permissions.write', /deny/);
  await denied(c.fs.mkdir(path.join(tmp, 'newdir')), 'fs.mkdir', path.join(tmp, 'newdir'), 'components[2].permissions.write');
  await denied(c.fs.rename('data/a.txt', 'moved.txt'), 'fs.rename', path.join(tmp, 'moved.txt'), 'components[2].permissions.write');
  await denied(c.fs.remove(key), 'fs.remove', key, 'components[2].permissions.write');
  await denied(c.fs.tempDir(path.join(tmp, 'tmp-')), 'fs.tempDir', path.join(tmp, 'tmp-'), 'components[2].permissions.write');
  assert.is(fs.readFileSync(key, 'utf8'), 'secret', 'nothing was touched');
  await c.fs.writeFile('data/new.txt', new TextEncoder().encode('ok'));
  assert.is(fs.readFileSync(path.join(tmp, 'data/new.txt'), 'utf8'), 'ok');
});

test('env.get: checks the env grant (names and NAME_* prefixes)', async () => {
  process.env.PERM_TEST_A = 'a';
  process.env.OTHER_VAR = 'o';
  const c = caps({ env: ['PERM_TEST_*'] });
  assert.is(c.env.get('PERM_TEST_A'), 'a');
  await denied(() => c.env.get('OTHER_VAR'), 'env.get', 'OTHER_VAR', 'components[2].permissions.env');
  await denied(() => caps({}).env.get('PERM_TEST_A'), 'env.get', 'PERM_TEST_A', 'components[2].permissions.env');
});

test('effective = grant ∩ request: a grant cannot widen what the plugin asked for', async () => {
  const c = caps({ net: true, read: true, write: true, env: true }, { net: ['127.0.0.1'], read: false, env: ['HOME'] });
  await denied(c.fetch('http://10.1.2.3/'), 'fetch', '10.1.2.3:80', 'components[2].permissions.net', /plugin's own manifest does not ask for net access/);
  await denied(c.fs.readFile('data/a.txt'), 'fs.readFile', path.join(tmp, 'data/a.txt'), 'components[2].permissions.read', /manifest\.permissions\.read/);
  await denied(() => c.env.get('PATH'), 'env.get', 'PATH', 'components[2].permissions.env');
  const p = new Permissions({ pluginId: 'x', request: { net: ['127.0.0.1'] }, grant: { net: true }, grantKey: 'k', grantBaseDir: '/' });
  assert.is(p.query('net', '127.0.0.1:80'), 'granted');
  assert.is(p.query('net', '127.0.0.2:80'), 'denied');
});

test('net descriptors: host grants every port, host:port one, IPv6 in brackets', () => {
  const p = (grant: string[]) => new Permissions({ pluginId: 'x', request: { net: true }, grant: { net: grant }, grantKey: 'k', grantBaseDir: '/' });
  assert.is(p(['127.0.0.1']).query('net', '127.0.0.1:9090'), 'granted');
  assert.is(p(['127.0.0.1:9090']).query('net', '127.0.0.1:9091'), 'denied');
  assert.is(p(['[::1]:80']).query('net', '[::1]:80'), 'granted');
  assert.is(p(['*:11211']).query('net', 'cache.internal:11211'), 'granted');
  assert.is(p(['Example.COM']).query('net', 'example.com:443'), 'granted');
});

test('secrets: { env: NAME } resolved only when granted', () => {
  process.env.PERM_SECRET = 'hunter2';
  const ok = new Permissions({ pluginId: 'objstore:s3', request: { env: true }, grant: { env: ['PERM_SECRET'] }, grantKey: 'objstore[0].permissions', grantBaseDir: '/' });
  assert.equal(resolveSecrets({ a: { secret_key: { env: 'PERM_SECRET' } }, list: [{ env: 'PERM_SECRET' }], keep: { env: 'x', other: 1 } }, ok, 'objstore[0].config'),
    { a: { secret_key: 'hunter2' }, list: ['hunter2'], keep: { env: 'x', other: 1 } });
  const no = new Permissions({ pluginId: 'objstore:s3', request: { env: true }, grant: {}, grantKey: 'objstore[0].permissions', grantBaseDir: '/' });
  assert.throws(() => resolveSecrets({ secret_key: { env: 'PERM_SECRET' } }, no, 'objstore[0].config'),
    /objstore\[0\]\.config\.secret_key: secret \{ env: PERM_SECRET \} needs an env grant: plugin objstore:s3 is not allowed to read PERM_SECRET \(add PERM_SECRET to objstore\[0\]\.permissions\.env/);
});

test.after(() => {
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
test.run();
