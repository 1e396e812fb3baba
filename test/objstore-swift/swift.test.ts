// The SWIFT plugin against a real OpenStack Swift all-in-one on loopback (tempauth v1), plus
// Keystone v2/v3 through a small fake identity service that hands out the real tempauth token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import plugin, { createSwiftBucket, SwiftBucket } from '../../plugins/objstore/swift/mod.ts';
import { useSwift } from '../harness/swift.ts';
import { list, pattern, sameBytes, streamOf } from '../harness/bytes.ts';
import { testCtx, type TestCtx } from '../objstore-s3/ctx.ts';

const saio = useSwift(test);

let seq = 0;


async function freshContainer(tag: string): Promise<string> {
  const name = `${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
  await saio.server.createContainer(name);
  return name;
}

function cfgFor(container: string, extra: Record<string, unknown> = {}) {
  return plugin.parseConfig({ auth_url: saio.server.authUrl, username: saio.server.user, password: saio.server.key, container_name: container, ...extra });
}

async function sw(tag: string, extra: Record<string, unknown> = {}, pageSize?: number): Promise<{ b: SwiftBucket; ctx: TestCtx; name: string }> {
  const name = await freshContainer(tag);
  const ctx = testCtx({ net: [saio.server.hostPort] });
  const b = await createSwiftBucket(ctx, cfgFor(name, extra), { pageSize });
  return { b, ctx, name };
}

/** Lists a container through the raw Swift API (sees segments too). */
async function rawList(container: string, prefix = ''): Promise<string[]> {
  const r = await fetch(`${saio.server.storageUrl}/${encodeURIComponent(container)}?format=json&prefix=${encodeURIComponent(prefix)}`, { headers: { 'X-Auth-Token': await saio.server.token() } });
  if (r.status === 204) return [];
  return ((await r.json()) as Array<{ name: string }>).map((e) => e.name);
}

const enc = new TextEncoder();


// ---- the shared acceptance suite ---------------------------------------------------------------
registerAcceptance(test, async () => (await sw('acc')).b, { name: 'SWIFT acceptance: ' });
registerAcceptance(test, async () => (await sw('accslo', { large_object_chunk_size: 1024 * 1024 }, 2)).b, { name: 'SWIFT (SLO 1 MiB segments, 2-entry pages) acceptance: ' });

// ---- Swift-specific ----------------------------------------------------------------------------
test('large objects: a 3.5 MiB stream with 1 MiB chunks is an SLO of 4 segments, hidden from listings, removed on delete', async () => {
  const { b, name } = await sw('slo', { large_object_chunk_size: 1024 * 1024 });
  const data = pattern(3.5 * 1024 * 1024, 3);
  await b.upload('01BLOCK/chunks/000001', streamOf(data, 300_001));
  const segs = await rawList(name, 'segments/');
  assert.is(segs.length, 4, `segments: ${segs.join(', ')}`);
  assert.ok(segs.every((s) => s.startsWith('segments/01BLOCK/chunks/000001/')));
  assert.is((await b.attributes('01BLOCK/chunks/000001')).size, data.length);
  assert.ok(sameBytes(await readAll(await b.get('01BLOCK/chunks/000001')), data));
  const across = await readAll(await b.getRange('01BLOCK/chunks/000001', 1024 * 1024 - 5, 10));
  assert.ok(sameBytes(across, data.subarray(1024 * 1024 - 5, 1024 * 1024 + 5)), 'range across a segment boundary');
  assert.equal(await list(b, ''), ['01BLOCK/'], 'segments/ is not listed');
  assert.equal(await list(b, '', true), ['01BLOCK/chunks/000001'], 'segments are not listed recursively');
  await b.delete('01BLOCK/chunks/000001');
  assert.equal(await rawList(name, 'segments/'), [], 'segments deleted with the manifest');
  assert.is(await b.exists('01BLOCK/chunks/000001'), false);
});

test('large objects: a separate segments container; DLO with use_dynamic_large_objects', async () => {
  const segc = await freshContainer('segs');
  const { b, name } = await sw('slo2', { large_object_chunk_size: 1024 * 1024, large_object_segments_container_name: segc });
  const data = pattern(2 * 1024 * 1024 + 7, 5);
  await b.upload('obj', data);
  assert.is((await rawList(segc)).length, 3);
  assert.equal(await rawList(name), ['obj']);
  assert.ok(sameBytes(await readAll(await b.get('obj')), data));
  await b.delete('obj');
  assert.equal(await rawList(segc), []);

  const dlo = await sw('dlo', { large_object_chunk_size: 1024 * 1024, use_dynamic_large_objects: true });
  await dlo.b.upload('d/obj', streamOf(data, 65536));
  await dlo.b.upload('d/ünï cödé', data);
  assert.ok(sameBytes(await readAll(await dlo.b.get('d/ünï cödé')), data), 'DLO with a non-ASCII name');
  await dlo.b.delete('d/ünï cödé');
  assert.is((await rawList(dlo.name, 'segments/')).length, 3);
  assert.is((await dlo.b.attributes('d/obj')).size, data.length);
  assert.ok(sameBytes(await readAll(await dlo.b.get('d/obj')), data));
  assert.equal(await list(dlo.b, '', true), ['d/obj']);
  await dlo.b.delete('d/obj');
  assert.equal(await rawList(dlo.name), [], 'DLO segments deleted too');
});

test('large objects: a failing source removes the uploaded segments and leaves no object', async () => {
  const { b, name } = await sw('slofail', { large_object_chunk_size: 1024 * 1024 });
  try {
    await b.upload('broken', streamOf(pattern(4 * 1024 * 1024), 256 * 1024, 3 * 1024 * 1024));
    assert.unreachable('expected the upload to fail');
  } catch (err) {
    assert.match(String(err), /source broke/);
  }
  assert.is(await b.exists('broken'), false);
  assert.equal(await rawList(name), [], 'no segments left behind');
});

test('listing pages with markers (limit 2), flat and recursive', async () => {
  const { b } = await sw('pages', {}, 2);
  const names = ['a', 'b', 'c', 'd/1', 'd/2', 'e/f/g', 'h', 'i/j'];
  for (const n of names) await b.upload(n, enc.encode(n));
  assert.equal(await list(b, ''), ['a', 'b', 'c', 'd/', 'e/', 'h', 'i/']);
  assert.equal(await list(b, '', true), names);
  assert.equal(await list(b, 'e/'), ['e/f/']);
});

test('delete of a missing object is a not-found error (as Thanos Swift)', async () => {
  const { b } = await sw('delmiss');
  try {
    await b.delete('nope');
    assert.unreachable('expected an error');
  } catch (err) {
    assert.ok(b.isObjNotFoundErr(err), String(err));
  }
});

test('an expired token is renewed transparently (401 → re-auth once)', async () => {
  const { b, ctx } = await sw('reauth');
  await b.upload('x', enc.encode('1'));
  (b as unknown as { session: { token: string } }).session.token = 'AUTH_tk_expired';
  assert.is(new TextDecoder().decode(await readAll(await b.get('x'))), '1');
  assert.ok(ctx.requests.filter((r) => r.url === saio.server.authUrl).length >= 2, 'authenticated again');
});

test('bad credentials, a missing container and a denied net grant fail clearly at create', async () => {
  const name = await freshContainer('errs');
  try {
    await createSwiftBucket(testCtx(), cfgFor(name, { password: 'wrong' }));
    assert.unreachable('expected an auth error');
  } catch (err) {
    assert.match(String(err), /swift auth v1 .*401.*check username\/password/);
  }
  try {
    await createSwiftBucket(testCtx(), cfgFor('no-such-container'));
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /container "no-such-container" does not exist/);
  }
  try {
    await createSwiftBucket(testCtx({ net: ['127.0.0.1:1'] }), cfgFor(name));
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permission denied.*permissions\.net/);
  }
});

// ---- Keystone v2 / v3 through a fake identity service ----------------------------------------

async function body(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += c;
  return s;
}

async function withKeystone(fn: (url: string, seen: unknown[]) => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const srv: Server = createServer(async (req, res) => {
    const parsed = JSON.parse((await body(req)) || '{}');
    seen.push({ path: req.url, body: parsed });
    const token = await saio.server.token();
    if (req.method === 'POST' && req.url === '/v3/auth/tokens') {
      const user = parsed?.auth?.identity?.password?.user;
      if (user?.password !== 'secret') { res.writeHead(401); res.end('{"error":{"code":401}}'); return; }
      res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': token });
      res.end(JSON.stringify({ token: { catalog: [
        { type: 'identity', endpoints: [{ interface: 'public', region: 'RegionOne', url: 'http://127.0.0.1:1/v3' }] },
        { type: 'object-store', endpoints: [
          { interface: 'internal', region: 'RegionOne', url: 'http://127.0.0.1:2/v1/AUTH_x' },
          { interface: 'public', region: 'RegionTwo', url: 'http://127.0.0.1:3/v1/AUTH_x' },
          { interface: 'public', region: 'RegionOne', url: saio.server.storageUrl },
        ] },
      ] } }));
      return;
    }
    if (req.method === 'POST' && req.url === '/v2.0/tokens') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ access: { token: { id: token }, serviceCatalog: [
        { type: 'object-store', endpoints: [{ region: 'RegionOne', publicURL: saio.server.storageUrl }] },
      ] } }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    await fn(`http://127.0.0.1:${(srv.address() as { port: number }).port}`, seen);
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

test('Keystone v3: password auth scoped to a project, public endpoint of region_name from the catalog', async () => {
  const name = await freshContainer('ks3');
  await withKeystone(async (url, seen) => {
    const b = await plugin.create(testCtx(), plugin.parseConfig({
      auth_url: `${url}/v3`, username: 'thanos', password: 'secret', user_domain_name: 'Default',
      project_name: 'obs', project_domain_name: 'Default', region_name: 'RegionOne', container_name: name,
    }));
    await b.upload('k/v3', enc.encode('via keystone v3'));
    assert.is(new TextDecoder().decode(await readAll(await b.get('k/v3'))), 'via keystone v3');
    assert.equal((seen[0] as { body: unknown }).body, { auth: {
      identity: { methods: ['password'], password: { user: { name: 'thanos', password: 'secret', domain: { name: 'Default' } } } },
      scope: { project: { name: 'obs', domain: { name: 'Default' } } },
    } });
    try {
      await plugin.create(testCtx(), plugin.parseConfig({ auth_url: `${url}/v3`, username: 'thanos', password: 'secret', region_name: 'Nowhere', container_name: name }));
      assert.unreachable('expected a catalog error');
    } catch (err) {
      assert.match(String(err), /no public object-store endpoint in region Nowhere/);
    }
    try {
      await plugin.create(testCtx(), plugin.parseConfig({ auth_url: `${url}/v3`, username: 'thanos', password: 'bad', container_name: name }));
      assert.unreachable('expected an auth error');
    } catch (err) {
      assert.match(String(err), /swift auth v3 .* 401/);
    }
  });
});

test('Keystone v2: tenantName + passwordCredentials', async () => {
  const name = await freshContainer('ks2');
  await withKeystone(async (url, seen) => {
    const b = await plugin.create(testCtx(), plugin.parseConfig({
      auth_url: `${url}/v2.0`, username: 'thanos', password: 'secret', tenant_name: 'obs', container_name: name,
    }));
    await b.upload('k/v2', enc.encode('v2'));
    assert.equal(await list(b, 'k'), ['k/v2']);
    assert.equal((seen[0] as { body: unknown }).body, { auth: { passwordCredentials: { username: 'thanos', password: 'secret' }, tenantName: 'obs' } });
  });
});

test.run();
