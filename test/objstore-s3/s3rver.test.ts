// The S3 plugin against a second real server, s3rver 3.7.1 (npm), started once for this file: the
// shared acceptance suite (paginated V2 listings need s3rver's DES tokens: --openssl-legacy-provider),
// streaming multipart, and an unknown access key refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import { createS3Bucket, S3Error } from '../../plugins/objstore/s3/mod.ts';
import plugin from '../../plugins/objstore/s3/mod.ts';
import { freePort } from '../harness/ports.ts';
import { pattern, sameBytes, streamOf } from '../harness/bytes.ts';
import { testCtx } from './ctx.ts';
import { startS3rver } from './s3rver.ts';

let child: ChildProcess | undefined;
let endpoint = '';
const dir = mkdtempSync(join(tmpdir(), 's3rver-'));

test.before(async () => {
  const port = await freePort();
  endpoint = `127.0.0.1:${port}`;
  child = await startS3rver(port, dir);
});

test.after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
async function s3(extra: Record<string, unknown> = {}, opts: { maxKeys?: number } = {}): Promise<Bucket> {
  const b = await createS3Bucket(testCtx({ net: [endpoint] }), plugin.parseConfig({ bucket: 'thanos', endpoint, insecure: true, access_key: 'S3RVER', secret_key: 'S3RVER', ...extra }), opts);
  // One bucket, a fresh prefix per test: s3rver has no CreateBucket-per-test cost this way.
  const { PrefixedBucket } = await import('../../lib/objstore/prefix.ts');
  return new PrefixedBucket(b, `t${process.pid}-${++seq}`);
}

// s3rver's one deviation the suite finds: a directory holding only deeper directories
// (id1/sub/deeper/obj) is not reported as a common prefix (id1/sub/) of a delimited listing, a
// bug of its filesystem store (Swift's s3api, in s3.test.ts, passes these). Those two cases are
// left out here, by name.
const S3RVER_DEVIATIONS = ['iter: flat and recursive', 'nested names and unusual characters'];
const suite = Object.assign(
  (name: string, fn: Parameters<typeof test>[1]) => { if (!S3RVER_DEVIATIONS.some((d) => name.includes(d))) test(name, fn); },
  test,
) as unknown as typeof test;
registerAcceptance(suite, () => s3(), { name: 's3rver acceptance: ' });
registerAcceptance(suite, () => s3({}, { maxKeys: 2 }), { name: 's3rver (2-key pages) acceptance: ' });

test('s3rver: a streamed 11 MiB upload with part_size 5 MiB round-trips (multipart, no aws-chunked framing stored)', async () => {
  const b = await s3({ part_size: 5 * 1024 * 1024 });
  const data = pattern(11 * 1024 * 1024 + 17, 4);
  await b.upload('big', streamOf(data, 300_000));
  assert.is((await b.attributes('big')).size, data.length);
  assert.ok(sameBytes(await readAll(await b.get('big')), data));
  const small = pattern(1000, 2);
  await b.upload('small', streamOf(small, 100));
  assert.is((await b.attributes('small')).size, 1000, 'a streamed single PUT is stored as sent');
});

// s3rver checks the access key only (its SigV4 verification is unimplemented); a wrong secret is
// tested against Swift's s3api, which verifies signatures (s3.test.ts).
test('s3rver: an unknown access key is refused, not taken for a missing object', async () => {
  const good = await s3();
  await good.upload('there', new TextEncoder().encode('x'));
  const key = `t${process.pid}-${seq}/there`;
  for (const [ak, sk, code] of [['NOBODY', 'S3RVER', 'InvalidAccessKeyId']]) {
    const b = await createS3Bucket(testCtx(), plugin.parseConfig({ bucket: 'thanos', endpoint, insecure: true, access_key: ak, secret_key: sk, max_retries: 0 }));
    try {
      await b.get(key);
      assert.unreachable('expected an error');
    } catch (err) {
      assert.instance(err, S3Error, String(err));
      assert.is((err as S3Error).code, code, String(err));
      assert.is(b.isObjNotFoundErr(err), false);
    }
  }
});

test.run();
