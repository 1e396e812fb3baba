// The S3 plugin against a real S3-compatible server: OpenStack Swift's s3api on loopback
// (test/harness/swift.ts). The shared acceptance suite, then S3-specific behaviour: multipart,
// abort on failure, paginated listings (V2 and V1), a wrong secret, metadata.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import plugin, { createS3Bucket, S3Error, type S3Bucket } from '../../plugins/objstore/s3/mod.ts';
import { useSwift } from '../harness/swift.ts';
import { list, pattern, sameBytes, streamOf } from '../harness/bytes.ts';
import { testCtx, type TestCtx } from './ctx.ts';

const saio = useSwift(test);

let seq = 0;


async function freshBucketName(tag: string): Promise<string> {
  const name = `${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
  await saio.server.createContainer(name);
  return name;
}

function cfgFor(bucket: string, extra: Record<string, unknown> = {}) {
  return plugin.parseConfig({
    bucket,
    endpoint: saio.server.s3Endpoint,
    insecure: true,
    access_key: saio.server.user,
    secret_key: saio.server.key,
    ...extra,
  });
}

async function s3(tag: string, extra: Record<string, unknown> = {}, opts: { maxKeys?: number } = {}): Promise<{ b: Bucket; ctx: TestCtx; name: string }> {
  const name = await freshBucketName(tag);
  const ctx = testCtx({ net: [saio.server.hostPort] });
  const b = await createS3Bucket(ctx, cfgFor(name, extra), opts);
  return { b, ctx, name };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---- the shared acceptance suite ---------------------------------------------------------------
registerAcceptance(test, async () => (await s3('acc')).b, { name: 'S3 acceptance: ' });
registerAcceptance(test, async () => (await s3('accv1', { list_objects_version: 'v1' }, { maxKeys: 2 })).b, { name: 'S3 (ListObjects V1, 2-key pages) acceptance: ' });

// ---- S3-specific -------------------------------------------------------------------------------
test('multipart: an ~11 MiB stream with part_size 5 MiB goes up in 3 parts and reads back intact', async () => {
  const { b, ctx } = await s3('mp', { part_size: 5 * 1024 * 1024 });
  const data = pattern(11 * 1024 * 1024 + 12345, 9);
  await b.upload('blocks/01/chunks/000001', streamOf(data, 777_777));
  const posts = ctx.requests.filter((r) => r.method === 'POST');
  assert.is(posts.length, 2, 'initiate + complete');
  assert.ok(posts[0]!.url.endsWith('?uploads='), posts[0]!.url);
  const parts = ctx.requests.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
  assert.is(parts.length, 3);
  assert.is((await b.attributes('blocks/01/chunks/000001')).size, data.length);
  const back = await readAll(await b.get('blocks/01/chunks/000001'));
  assert.ok(sameBytes(back, data), 'round trip');
  const tail = await readAll(await b.getRange('blocks/01/chunks/000001', data.length - 100, 1000));
  assert.ok(sameBytes(tail, data.subarray(data.length - 100)), 'ranged read of the tail across the last part');
  const mid = await readAll(await b.getRange('blocks/01/chunks/000001', 5 * 1024 * 1024 - 10, 20));
  assert.ok(sameBytes(mid, data.subarray(5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10)), 'ranged read across a part boundary');
  // The ETag of a multipart object is "<md5 of md5s>-<parts>".
  const head = await (b as unknown as { head(n: string): Promise<Response> }).head('blocks/01/chunks/000001');
  assert.match(head.headers.get('etag') ?? '', /-3"?$/);
  await b.close();
});

test('multipart: a Uint8Array larger than part_size also goes multipart; disable_multipart sends one PUT', async () => {
  const { b, ctx } = await s3('mpa', { part_size: 5 * 1024 * 1024 });
  const data = pattern(6 * 1024 * 1024, 4);
  await b.upload('x', data);
  assert.is(ctx.requests.filter((r) => r.url.includes('partNumber=')).length, 2);
  assert.ok(sameBytes(await readAll(await b.get('x')), data));
  const single = await s3('mpd', { part_size: 5 * 1024 * 1024, disable_multipart: true });
  await single.b.upload('x', streamOf(data, 1 << 20));
  assert.is(single.ctx.requests.filter((r) => r.method === 'POST').length, 0, 'no multipart');
  assert.ok(sameBytes(await readAll(await single.b.get('x')), data));
});

test('multipart: a failing source aborts the upload and leaves nothing behind', async () => {
  const { b, ctx } = await s3('mpf', { part_size: 5 * 1024 * 1024 });
  const data = pattern(12 * 1024 * 1024, 5);
  let err: unknown;
  try {
    await b.upload('broken', streamOf(data, 1 << 20, 11 * 1024 * 1024));
  } catch (e) {
    err = e;
  }
  assert.match(String(err), /source broke/);
  assert.is(await b.exists('broken'), false);
  const abort = ctx.requests.find((r) => r.method === 'DELETE' && r.url.includes('uploadId='));
  assert.ok(abort, 'AbortMultipartUpload was sent');
  assert.equal(await (b as S3Bucket).openUploads(), [], 'no multipart upload left open');
});

test('listing: continuation tokens (V2) and markers (V1) across many pages, flat and recursive', async () => {
  for (const version of ['v2', 'v1']) {
    const { b } = await s3(`pg${version}`, { list_objects_version: version }, { maxKeys: 2 });
    const names: string[] = [];
    for (let i = 0; i < 7; i++) names.push(`obj_${i}`);
    for (let i = 0; i < 5; i++) names.push(`dir${i}/a`, `dir${i}/sub/b`);
    for (const n of names) await b.upload(n, enc.encode(n));
    const flat = await list(b, '');
    assert.equal(flat.slice().sort(), [...Array.from({ length: 5 }, (_, i) => `dir${i}/`), ...Array.from({ length: 7 }, (_, i) => `obj_${i}`)].sort(), version);
    assert.is(new Set(flat).size, flat.length, `${version}: no duplicates across pages`);
    const rec = await list(b, '', true);
    assert.equal(rec.slice().sort(), names.slice().sort(), `${version} recursive`);
    assert.equal(await list(b, 'dir3'), ['dir3/a', 'dir3/sub/'], `${version} sub dir`);
  }
});

test('a wrong secret surfaces SignatureDoesNotMatch clearly (not as not-found)', async () => {
  const name = await freshBucketName('badsig');
  const good = await createS3Bucket(testCtx(), cfgFor(name));
  await good.upload('x', enc.encode('x'));
  const bad = await createS3Bucket(testCtx(), cfgFor(name, { secret_key: 'not-the-secret' }));
  for (const op of [() => bad.get('x'), () => bad.upload('y', enc.encode('y')), () => list(bad, '')]) {
    try {
      await op();
      assert.unreachable('expected an error');
    } catch (err) {
      assert.instance(err, S3Error);
      assert.is((err as S3Error).code, 'SignatureDoesNotMatch', String(err));
      assert.match(String(err), /check secret_key/);
      assert.is(bad.isObjNotFoundErr(err), false);
    }
  }
  try {
    await bad.exists('x');
    assert.unreachable('exists must not answer false on an auth failure');
  } catch (err) {
    assert.match(String(err), /403 Forbidden: access denied or signature mismatch.*check access_key, secret_key/);
  }
  const wrongKey = await createS3Bucket(testCtx(), cfgFor(name, { access_key: 'nobody:none' }));
  try {
    await wrongKey.get('x');
    assert.unreachable('expected an error');
  } catch (err) {
    assert.instance(err, S3Error);
    assert.ok(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied'].includes((err as S3Error).code), String(err));
  }
});

test('a missing bucket is an S3 error naming the bucket, not a missing object', async () => {
  const b = await createS3Bucket(testCtx(), cfgFor('no-such-bucket-here'));
  try {
    await b.get('x');
    assert.unreachable('expected an error');
  } catch (err) {
    assert.is(b.isObjNotFoundErr(err), false, String(err));
    assert.match(String(err), /NoSuchBucket/);
  }
});

test('object names with reserved characters round-trip (path encoding is signed correctly)', async () => {
  const { b } = await s3('chars');
  const names = ["odd/a+b=c&d%e~f!g(h)'i*j,k;l:m@n$o.bin", 'odd/ sp ace /x', 'odd/q?x#y', 'odd/日本語/ü'];
  for (const n of names) await b.upload(n, enc.encode(n));
  for (const n of names) assert.is(dec.decode(await readAll(await b.get(n))), n, n);
  assert.equal((await list(b, 'odd', true)).sort(), names.slice().sort());
  for (const n of names) await b.delete(n);
  assert.equal(await list(b, '', true), []);
});

test('put_user_metadata is sent as x-amz-meta-*, and the Swift API sees the same object', async () => {
  const { b, name } = await s3('meta', { put_user_metadata: { team: 'observability' } });
  await b.upload('m/obj', enc.encode('hello swift'));
  const head = await (b as unknown as { head(n: string): Promise<Response> }).head('m/obj');
  assert.is(head.headers.get('x-amz-meta-team'), 'observability');
  const r = await fetch(`${saio.server.storageUrl}/${name}/m/obj`, { headers: { 'X-Auth-Token': await saio.server.token() } });
  assert.is(r.status, 200);
  assert.is(await r.text(), 'hello swift');
  assert.is(r.headers.get('x-object-meta-team'), 'observability');
});

test('send_content_md5 sends Content-MD5 the server verifies; trace logs every request', async () => {
  const { b, ctx } = await s3('md5', { trace: { enable: true } });
  await b.upload('a', pattern(1000));
  assert.is((await b.attributes('a')).size, 1000);
  const traced = ctx.lines.filter((l) => l.level === 'debug' && l.msg === 's3 request');
  assert.ok(traced.length >= 2, 'trace lines');
  assert.is(traced[0]!.kv?.status, 200);
});

test('encrypt_sse (SSE-S3) is requested on upload; a server without SSE says so clearly', async () => {
  const { b } = await s3('sse', { encrypt_sse: true });
  try {
    await b.upload('x', enc.encode('x'));
    assert.unreachable('s3api has no server-side encryption');
  } catch (err) {
    assert.instance(err, S3Error);
    assert.is((err as S3Error).code, 'NotImplemented');
    assert.match(String(err), /501 NotImplemented: Server-side encryption is not supported/);
  }
  assert.is(await b.exists('x'), false, 'nothing was written');
});

test('the net grant is enforced through ctx.fetch', async () => {
  const name = await freshBucketName('deny');
  const b = await createS3Bucket(testCtx({ net: ['127.0.0.1:1'] }), cfgFor(name));
  try {
    await b.get('x');
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permission denied.*permissions\.net/);
  }
});

test('http_config.response_header_timeout bounds a server that never answers', async () => {
  const sockets = new Set<import('node:net').Socket>();
  const srv: Server = createServer(() => { /* never answers */ });
  srv.on('connection', (s) => { sockets.add(s); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    const b = await plugin.create(testCtx(), plugin.parseConfig({
      bucket: 'b', endpoint: `127.0.0.1:${port}`, insecure: true, access_key: 'a', secret_key: 's',
      http_config: { response_header_timeout: '300ms' },
    }));
    const t0 = Date.now();
    try {
      await b.exists('x');
      assert.unreachable('expected a timeout');
    } catch (err) {
      assert.match(String(err), /response_header_timeout/);
    }
    assert.ok(Date.now() - t0 < 20_000);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});

test.run();
