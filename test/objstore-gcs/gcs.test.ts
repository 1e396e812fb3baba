// The GCS plugin (@googleapis/storage + google-auth-library over ctx.fetch) against a fake GCS JSON
// API and OAuth token endpoint on loopback (fake.ts, written from Google's API reference): the
// shared acceptance suite with small list pages and 256 KiB resumable chunks; the upload types
// used; a failed chunk resumed; a wrong key refused; the metadata-server and key-file credential
// paths; the net grant applied; Thanos's config keys.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { PrefixedBucket } from '../../lib/objstore/prefix.ts';
import plugin, { createGcsBucket, emulatorRoot, parseGcsConfig } from '../../plugins/objstore/gcs/mod.ts';
import { ConfigError } from '../../host/index.ts';
import { testCtx } from '../objstore-s3/ctx.ts';
import { startFakeGcs, type FakeGcs } from './fake.ts';

const EMAIL = 'thanos@project.iam.gserviceaccount.com';
const CHUNK = 256 * 1024;
const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const { privateKey, publicKey } = pair();
const pem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();

let gcs: FakeGcs;
let dir: string;
test.before(async () => {
  gcs = await startFakeGcs({ bucket: 'thanos', clientEmail: EMAIL, publicKey, pageSize: 3 });
  dir = await mkdtemp(join(tmpdir(), 'gcs-test-'));
});
test.after(async () => { await gcs?.stop(); if (dir) await rm(dir, { recursive: true, force: true }); });

const saJson = (key = privateKey) => JSON.stringify({
  type: 'service_account', project_id: 'project', private_key_id: 'k1', private_key: pem(key), client_email: EMAIL,
  client_id: '1', auth_uri: 'https://accounts.google.com/o/oauth2/auth', token_uri: gcs.tokenUri,
});

let seq = 0;
async function raw(extra: Record<string, unknown> = {}, ctxOpts: Parameters<typeof testCtx>[0] = {}) {
  const cfg = parseGcsConfig({ bucket: 'thanos', service_account: saJson(), chunk_size_bytes: CHUNK, max_retries: 3, ...extra });
  return createGcsBucket(testCtx({ net: [gcs.hostPort], ...ctxOpts }), cfg, { endpoint: gcs.endpoint });
}
async function bucket(extra: Record<string, unknown> = {}) {
  return new PrefixedBucket(await raw(extra), `t${++seq}`);
}
const bytes = (n: number, seed = 7) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff; return b; };
async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> { return new Uint8Array(await new Response(s).arrayBuffer()); }
function streamOf(data: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({ pull(c) { if (off >= data.length) return c.close(); c.enqueue(data.slice(off, off + piece)); off += piece; } });
}

registerAcceptance(test, () => bucket(), { name: 'GCS acceptance: ' });

test('small bodies go up in one multipart request, a stream past one chunk by the resumable protocol in 256 KiB chunks', async () => {
  const b = await bucket();
  const before = { ...gcs.uploads };
  await b.upload('small', bytes(1000));
  await b.upload('small-stream', streamOf(bytes(CHUNK), 1000));
  assert.is((gcs.uploads.multipart ?? 0) - (before.multipart ?? 0), 2);
  const big = bytes(3 * CHUNK + 123, 3);
  await b.upload('big', streamOf(big, 65_537));
  assert.is((gcs.uploads.resumable ?? 0) - (before.resumable ?? 0), 1);
  assert.is((gcs.uploads.chunk ?? 0) - (before.chunk ?? 0), 4);
  assert.equal(await readAll(await b.get('big')), big);
  assert.equal(await readAll(await b.getRange('big', CHUNK - 5, 10)), big.subarray(CHUNK - 5, CHUNK + 5));
  // A byte array larger than a chunk is sent resumably too.
  await b.upload('big-array', big);
  assert.is((gcs.uploads.resumable ?? 0) - (before.resumable ?? 0), 2);
  assert.equal(await readAll(await b.get('big-array')), big);
});

test('a chunk answered 503 is resumed from what GCS persisted; the object is whole', async () => {
  const b = await bucket();
  const big = bytes(2 * CHUNK + 9, 11);
  gcs.failNext(1, 'PUT', 'upload_id=');
  await b.upload('resumed', streamOf(big, 4096));
  assert.equal(await readAll(await b.get('resumed')), big);
});

test('reads and metadata are retried on 503 up to max_retries attempts; then the error names the status', async () => {
  const b = await bucket();
  await b.upload('r', bytes(10));
  gcs.failNext(2, 'GET', '/o/');
  assert.equal(await readAll(await b.get('r')), bytes(10));
  gcs.failNext(2, 'GET', '/o/');
  assert.is((await b.attributes('r')).size, 10);
  const once = await raw({ max_retries: 1 });
  gcs.failNext(1, 'GET', '/o/');
  try {
    await once.get('nothing-here');
    assert.unreachable('expected a 503');
  } catch (err) {
    assert.match(String(err), /503/);
    assert.is(once.isObjNotFoundErr(err), false);
  }
});

test('a key the service account does not have is refused at the token endpoint, not taken for a missing object', async () => {
  const b = await raw({ service_account: saJson(pair().privateKey) });
  for (const op of [() => b.get('x'), () => b.exists('x'), () => b.upload('y', new Uint8Array(1))]) {
    try {
      await op();
      assert.unreachable('expected an error');
    } catch (err) {
      assert.match(String(err), /invalid_grant|Invalid JWT Signature/);
      assert.is(b.isObjNotFoundErr(err), false);
    }
  }
});

test('a request without a valid token is 401 at the fake (the check the plugin passes is real)', async () => {
  const res = await fetch(`${gcs.endpoint}/storage/v1/b/thanos/o`, { headers: { Authorization: 'Bearer forged' } });
  assert.is(res.status, 401);
});

test('credentials: GOOGLE_APPLICATION_CREDENTIALS names a key file; without one, the metadata server (GCE_METADATA_HOST)', async () => {
  const file = join(dir, 'key.json');
  await writeFile(file, saJson());
  const viaFile = await raw({ service_account: '' }, { env: { GOOGLE_APPLICATION_CREDENTIALS: file } });
  await viaFile.upload('cred/file', bytes(5));
  assert.is((await viaFile.attributes('cred/file')).size, 5);

  const issued = gcs.tokensIssued;
  const viaMd = await raw({ service_account: '' }, { env: { GCE_METADATA_HOST: gcs.hostPort } });
  await viaMd.upload('cred/md', bytes(6));
  assert.is((await viaMd.attributes('cred/md')).size, 6);
  assert.ok(gcs.tokensIssued > issued);

  await writeFile(join(dir, 'user.json'), JSON.stringify({ type: 'authorized_user', client_id: 'a', client_secret: 'b', refresh_token: 'c' }));
  try {
    await raw({ service_account: '' }, { env: { GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'user.json') } });
    assert.unreachable('authorized_user');
  } catch (err) {
    assert.match(String(err), /authorized_user.*not implemented/);
  }
});

test('every request goes through ctx.fetch: a net grant without the endpoint denies it and nothing reaches the fake', async () => {
  const before = gcs.requests;
  const cfg = parseGcsConfig({ bucket: 'thanos', service_account: saJson(), max_retries: 3 });
  const b = await createGcsBucket(testCtx({ net: ['127.0.0.1:1'] }), cfg, { endpoint: gcs.endpoint });
  for (const op of [() => b.exists('x'), () => b.get('x'), () => b.upload('x', new Uint8Array(1))]) {
    try {
      await op();
      assert.unreachable('expected a permission error');
    } catch (err) {
      assert.match(String(err), /permission denied.*permissions\.net/);
    }
  }
  assert.is(gcs.requests, before, 'nothing reached the server');
});

test('STORAGE_EMULATOR_HOST (host:port, or a URL whose path is replaced) aims the plugin at an emulator, still authenticated; not granted, it is not read', async () => {
  const cfg = parseGcsConfig({ bucket: 'thanos', service_account: saJson(), max_retries: 2 });
  assert.is(emulatorRoot(testCtx({ env: { STORAGE_EMULATOR_HOST: '127.0.0.1:9023' } })), 'http://127.0.0.1:9023/');
  assert.is(emulatorRoot(testCtx({ env: { STORAGE_EMULATOR_HOST: 'https://emu.example:8443/some/path' } })), 'https://emu.example:8443/');
  assert.is(emulatorRoot(testCtx({ env: { STORAGE_EMULATOR_HOST: '' } })), undefined);
  assert.is(emulatorRoot(testCtx({ env: {} })), undefined);
  assert.is(emulatorRoot(testCtx()), undefined, 'an env grant without the variable');
  assert.throws(() => emulatorRoot(testCtx({ env: { STORAGE_EMULATOR_HOST: 'ftp://h:1' } })), /scheme must be http or https/);
  const issued = gcs.tokensIssued;
  for (const host of [gcs.hostPort, `${gcs.endpoint}/ignored/path`]) {
    const b = await createGcsBucket(testCtx({ net: [gcs.hostPort], env: { STORAGE_EMULATOR_HOST: host } }), cfg);
    await b.upload(`emu/${host.length}`, bytes(7));
    assert.equal(await readAll(await b.get(`emu/${host.length}`)), bytes(7));
  }
  assert.ok(gcs.tokensIssued > issued, 'the service account still signs in (Thanos gives the client its authenticating HTTP client)');
  // Not granted: the plugin stays on Google's API, which the net grant (the emulator only) denies.
  const google = await createGcsBucket(testCtx({ net: [gcs.hostPort] }), cfg);
  try {
    await google.exists('x');
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permission denied.*(storage|oauth2)\.googleapis\.com/);
  }
});

test("config: Thanos's keys and defaults; use_grpc, a bad service_account, unknown keys refused by name", () => {
  const c = plugin.parseConfig({ bucket: 'b' });
  assert.is(c.bucket, 'b');
  assert.is(c.chunkSize, 16 * 1024 * 1024);
  assert.is(c.serviceAccount, '');
  assert.is(parseGcsConfig({ bucket: 'b', chunk_size_bytes: 1 }).chunkSize, CHUNK);
  assert.is(parseGcsConfig({ bucket: 'b', max_retries: 1 }).maxAttempts, 1);
  for (const [cfg, key] of [
    [{ bucket: '' }, 'bucket'],
    [{ bucket: 'b', use_grpc: true }, 'use_grpc'],
    [{ bucket: 'b', grpc_conn_pool_size: 4 }, 'grpc_conn_pool_size'],
    [{ bucket: 'b', service_account: '/path/to/key.json' }, 'service_account'],
    [{ bucket: 'b', service_account: '{"type":"authorized_user"}' }, 'service_account'],
    [{ bucket: 'b', endpoint: 'x' }, 'endpoint'],
    [{ bucket: 'b', http_config: { max_idle_conns: 5 } }, 'max_idle_conns'],
  ] as const) {
    try {
      plugin.parseConfig(cfg);
      assert.unreachable(key);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.ok(String(err).includes(key), String(err));
    }
  }
});

test.run();
