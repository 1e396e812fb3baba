// `thanos tools bucket replicate` between providers, as issue #12 asks: a filesystem bucket →
// S3 (s3rver 3.7.1 on loopback, as test/objstore-s3/s3rver.test.ts starts it) → GCS (the
// JWT-verifying fake of test/objstore-gcs, reached by the GCS plugin through STORAGE_EMULATOR_HOST
// as Google's Go client is). Each hop is a `thanos` process; the blocks arrive byte-identical and
// each block's meta.json is written after its other objects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, thanos } from './run.ts';
import { HOUR, tmp, fsBucket, alignedStart, putBlock, objects, bucketConfigFile } from '../compact/helpers.ts';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import s3plugin, { createS3Bucket } from '../../plugins/objstore/s3/mod.ts';
import { createGcsBucket, parseGcsConfig } from '../../plugins/objstore/gcs/mod.ts';
import { startFakeGcs, type FakeGcs } from '../objstore-gcs/fake.ts';
import { testCtx } from '../objstore-s3/ctx.ts';
import { freePort } from '../harness/ports.ts';
import { startS3rver } from '../objstore-s3/s3rver.ts';

const EMAIL = 'replicate@project.iam.gserviceaccount.com';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const T0 = alignedStart();

let s3rver: ChildProcess | undefined;
let s3Endpoint = '';
let gcs: FakeGcs | undefined;
const s3Dir = mkdtempSync(join(tmpdir(), 'rep-s3rver-'));

test.before(async () => {
  const port = await freePort();
  s3Endpoint = `127.0.0.1:${port}`;
  s3rver = await startS3rver(port, s3Dir);
  gcs = await startFakeGcs({ bucket: 'thanos-gcs', clientEmail: EMAIL, publicKey });
});

test.after(async () => {
  await gcs?.stop();
  if (s3rver && s3rver.exitCode === null) {
    s3rver.kill('SIGTERM');
    await new Promise((r) => s3rver!.once('exit', r));
  }
  rmSync(s3Dir, { recursive: true, force: true });
});

const serviceAccount = () => JSON.stringify({
  type: 'service_account', project_id: 'project', private_key_id: 'k1', client_email: EMAIL,
  private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: gcs!.tokenUri,
});
const s3Keys = () => ({ bucket: 'thanos', endpoint: s3Endpoint, insecure: true, access_key: 'S3RVER', secret_key: 'S3RVER' });

/** Thanos objstore YAML files (JSON is YAML: the service-account key goes in as one quoted string). */
function configFile(type: string, config: Record<string, unknown>): string {
  const f = join(tmp('rep-cfg'), `${type}.yaml`);
  writeFileSync(f, JSON.stringify({ type, config }));
  return f;
}

async function contents(b: Bucket, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const n of b.iter(prefix, { recursive: true })) out.set(n, Buffer.from(await readAll(await b.get(n))).toString('base64'));
  return out;
}

test('filesystem → S3 (s3rver) → GCS (fake, via STORAGE_EMULATOR_HOST): blocks byte-identical, meta.json written last (idempotence and selection: replicate.test.ts)', async () => {
  const srcDir = tmp('rep-prov-src');
  const src = fsBucket(srcDir);
  const blocks = [
    await putBlock(src, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'eu' } }),
    await putBlock(src, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, ext: { cluster: 'eu' } }),
  ];
  const want = new Map<string, string>();
  for (const n of await objects(src)) want.set(n, Buffer.from(await readAll(await src.get(n))).toString('base64'));
  assert.ok(want.size >= 2 * 3, 'each block has chunks, index and meta.json');

  const s3Cfg = configFile('S3', s3Keys());
  const toS3 = await thanos('tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(srcDir), '--objstore-to.config-file', s3Cfg, '--single-run');
  assert.is(toS3.code, 0, toS3.err);
  const s3 = await createS3Bucket(testCtx({ net: [s3Endpoint] }), s3plugin.parseConfig(s3Keys()));
  assert.equal([...(await contents(s3)).entries()].sort(), [...want.entries()].sort(), 'S3 holds the same objects, byte for byte');

  const gcsYaml = configFile('GCS', { bucket: 'thanos-gcs', service_account: serviceAccount() });
  const emulator = { STORAGE_EMULATOR_HOST: gcs!.hostPort };
  const issued = gcs!.tokensIssued;
  const toGcs = await run(['tools', 'bucket', 'replicate', '--objstore.config-file', s3Cfg, '--objstore-to.config-file', gcsYaml, '--single-run'], emulator).done;
  assert.is(toGcs.code, 0, toGcs.err);
  assert.ok(gcs!.tokensIssued > issued, 'the process signed in at the fake token endpoint with the service account');
  const dst = await createGcsBucket(testCtx({ net: [gcs!.hostPort] }), parseGcsConfig({ bucket: 'thanos-gcs', service_account: serviceAccount() }), { endpoint: gcs!.endpoint });
  assert.equal([...(await contents(dst)).entries()].sort(), [...want.entries()].sort(), 'GCS holds the same objects, byte for byte');
  for (const b of blocks) {
    const meta = gcs!.generation(`${b.ulid}/meta.json`)!;
    const others = [...want.keys()].filter((n) => n.startsWith(`${b.ulid}/`) && !n.endsWith('/meta.json'));
    assert.ok(others.length >= 2, `${b.ulid} has objects besides meta.json`);
    for (const n of others) assert.ok(gcs!.generation(n)! < meta, `${n} was written before ${b.ulid}/meta.json`);
  }
});

test.run();
