// The COS plugin (requests over ctx.fetch, signed by cos-nodejs-sdk-v5's COS.getAuthorization)
// against a signature-verifying COS fake on loopback (fake.ts, written from COS's API reference):
// the shared acceptance suite (small list pages, 1 MiB multipart parts), a wrong secret and a wrong
// id refused, the net grant applied, Thanos's config checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { PrefixedBucket } from '../../lib/objstore/prefix.ts';
import plugin, { createCosBucket, parseCosConfig } from '../../plugins/objstore/cos/mod.ts';
import { ConfigError } from '../../host/index.ts';
import { testCtx } from '../objstore-s3/ctx.ts';
import { startFakeCos, type FakeCos } from './fake.ts';

const CREDS = { secretId: 'AKIDtest', secretKey: 'cos-secret' };
let cos: FakeCos;
test.before(async () => { cos = await startFakeCos({ ...CREDS, pageSize: 3 }); });
test.after(async () => { await cos?.stop(); });

let seq = 0;
const cfg = (extra: Record<string, unknown> = {}) => parseCosConfig({ endpoint: cos.endpoint, secret_id: CREDS.secretId, secret_key: CREDS.secretKey, ...extra });
async function bucket(extra: Record<string, unknown> = {}) {
  return new PrefixedBucket(await createCosBucket(testCtx({ net: [cos.hostPort] }), cfg(extra), { partSize: 1024 * 1024 }), `t${++seq}`);
}

registerAcceptance(test, () => bucket(), { name: 'COS acceptance: ' });

test('a stream past one part goes up as a multipart upload', async () => {
  const before = cos.multipartCompleted;
  const b = await bucket();
  const data = new Uint8Array(2 * 1024 * 1024 + 5).map((_, i) => i & 0xff);
  await b.upload('mp', new ReadableStream({ start(c) { c.enqueue(data.slice(0, 70_000)); c.enqueue(data.slice(70_000)); c.close(); } }));
  assert.is(cos.multipartCompleted, before + 1);
  assert.equal(new Uint8Array(await new Response(await b.get('mp')).arrayBuffer()), data);
});

test('a wrong secret_key is refused (SignatureDoesNotMatch), a wrong secret_id too; neither is taken for a missing object', async () => {
  const good = await bucket();
  await good.upload('x', new TextEncoder().encode('x'));
  for (const [extra, code] of [[{ secret_key: 'wrong' }, 'SignatureDoesNotMatch'], [{ secret_id: 'nobody' }, 'InvalidAccessKeyId']] as const) {
    const b = await createCosBucket(testCtx(), cfg(extra));
    // A HEAD answer has no body, so exists() can name only the status.
    for (const [op, want] of [[() => b.get(`t${seq}/x`), `403 ${code}`], [() => b.exists(`t${seq}/x`), '403'], [() => b.upload('y', new Uint8Array(1)), `403 ${code}`]] as const) {
      try {
        await op();
        assert.unreachable('expected an error');
      } catch (err) {
        assert.match(String(err), new RegExp(want));
        assert.is(b.isObjNotFoundErr(err), false);
      }
    }
  }
});

test('requests go only through ctx.fetch: a net grant without the endpoint denies them', async () => {
  const before = cos.requests;
  const b = await createCosBucket(testCtx({ net: ['127.0.0.1:1'] }), cfg());
  try {
    await b.exists('x');
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permission denied.*permissions\.net/);
  }
  assert.is(cos.requests, before, 'nothing reached the server');
});

test("config: Thanos's keys; the bucket URL from bucket/app_id/region; missing keys named; unknown keys refused", () => {
  const c = plugin.parseConfig({ bucket: 'thanos', app_id: '1250000000', region: 'ap-beijing', secret_id: 'a', secret_key: 's' });
  assert.is(c.bucketUrl, 'https://thanos-1250000000.cos.ap-beijing.myqcloud.com');
  assert.is(plugin.parseConfig({ endpoint: 'https://b-1.cos.ap-x.myqcloud.com/', secret_id: 'a', secret_key: 's' }).bucketUrl, 'https://b-1.cos.ap-x.myqcloud.com');
  const base = { bucket: 'thanos', app_id: '1250000000', region: 'ap-beijing', secret_id: 'a', secret_key: 's' };
  for (const k of Object.keys(base)) {
    try {
      plugin.parseConfig({ ...base, [k]: '' });
      assert.unreachable(k);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.ok(String(err).includes(k), String(err));
    }
  }
  for (const [extra, key] of [[{ endpoint: 'not a url' }, 'endpoint'], [{ part_size: 5 }, 'part_size']] as const) {
    try {
      plugin.parseConfig({ ...base, ...extra });
      assert.unreachable(key);
    } catch (err) {
      assert.match(String(err), new RegExp(key));
    }
  }
});

test.run();
