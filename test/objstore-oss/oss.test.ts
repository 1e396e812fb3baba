// The ALIYUNOSS plugin (ali-oss over ctx.fetch) against a signature-verifying OSS fake on loopback
// (fake.ts, written from OSS's API reference: no OSS server runs here): the shared acceptance suite,
// a wrong secret and a wrong key id refused, the net grant applied to the SDK, Thanos's config checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { PrefixedBucket } from '../../lib/objstore/prefix.ts';
import plugin from '../../plugins/objstore/oss/mod.ts';
import { ConfigError } from '../../host/index.ts';
import { testCtx } from '../objstore-s3/ctx.ts';
import { startFakeOss, type FakeOss } from './fake.ts';

const CREDS = { bucket: 'thanos', accessKeyId: 'LTAI-test', secret: 'oss-secret' };
let oss: FakeOss;
test.before(async () => { oss = await startFakeOss(CREDS); });
test.after(async () => { await oss?.stop(); });

let seq = 0;
async function bucket(extra: Record<string, unknown> = {}, net?: string[]) {
  const b = await plugin.create(testCtx({ net: net ?? [oss.hostPort] }), plugin.parseConfig({ endpoint: oss.endpoint, bucket: 'thanos', access_key_id: CREDS.accessKeyId, access_key_secret: CREDS.secret, ...extra }));
  return new PrefixedBucket(b, `t${++seq}`);
}

registerAcceptance(test, () => bucket(), { name: 'ALIYUNOSS acceptance: ' });

test('a wrong secret is refused (SignatureDoesNotMatch), a wrong key id too; neither is taken for a missing object', async () => {
  const good = await bucket();
  await good.upload('x', new TextEncoder().encode('x'));
  for (const [extra, code] of [[{ access_key_secret: 'wrong' }, 'SignatureDoesNotMatch'], [{ access_key_id: 'nobody' }, 'InvalidAccessKeyId']] as const) {
    const base: Record<string, unknown> = { endpoint: oss.endpoint, bucket: 'thanos', access_key_id: CREDS.accessKeyId, access_key_secret: CREDS.secret };
    const b = await plugin.create(testCtx(), plugin.parseConfig({ ...base, ...extra }));
    for (const op of [() => b.get(`t${seq}/x`), () => b.upload('y', new Uint8Array(1))]) {
      try {
        await op();
        assert.unreachable('expected an error');
      } catch (err) {
        assert.match(String(err), new RegExp(`403 ${code}`));
        assert.is(b.isObjNotFoundErr(err), false);
      }
    }
  }
});

test('the SDK reaches the network only through ctx.fetch: a net grant without the endpoint denies it', async () => {
  const before = oss.requests;
  const b = await bucket({}, ['127.0.0.1:1']);
  try {
    await b.exists('x');
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permission denied.*permissions\.net/);
  }
  assert.is(oss.requests, before, 'nothing reached the server');
});

test("config: Thanos's four keys, each required (named), unknown keys refused", () => {
  const base = { endpoint: 'oss-cn-hangzhou.aliyuncs.com', bucket: 'b', access_key_id: 'a', access_key_secret: 's' };
  assert.equal(plugin.parseConfig(base), { endpoint: base.endpoint, bucket: 'b', accessKeyId: 'a', accessKeySecret: 's' });
  for (const k of Object.keys(base)) {
    try {
      plugin.parseConfig({ ...base, [k]: '' });
      assert.unreachable(k);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.ok(String(err).includes(k), String(err));
    }
  }
  try {
    plugin.parseConfig({ ...base, region: 'x' });
    assert.unreachable('region');
  } catch (err) {
    assert.match(String(err), /region/);
  }
});

test.run();
