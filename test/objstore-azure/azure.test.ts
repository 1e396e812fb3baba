// The AZURE plugin (@azure/storage-blob over ctx.fetch) against Azurite on loopback: the shared
// acceptance suite, block-list uploads, Thanos's config names and checks, a wrong key refused,
// the net grant applied to the SDK's requests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import plugin from '../../plugins/objstore/azure/mod.ts';
import { ConfigError } from '../../host/index.ts';
import { pattern, sameBytes, streamOf } from '../harness/bytes.ts';
import { testCtx, type TestCtx } from '../objstore-s3/ctx.ts';
import { startAzurite, ACCOUNT, type Azurite } from './azurite.ts';

let az: Azurite;
test.before(async () => { az = await startAzurite(); });
test.after(async () => { await az?.stop(); });

let seq = 0;
async function azure(extra: Record<string, unknown> = {}, ctx: TestCtx = testCtx({ net: [az.hostPort] })) {
  const container = `c${process.pid}x${++seq}`;
  const b = await plugin.create(ctx, plugin.parseConfig({ storage_account: ACCOUNT, container, storage_connection_string: az.connectionString(), ...extra }));
  return { b, ctx, container };
}

registerAcceptance(test, async () => (await azure()).b, { name: 'AZURE acceptance: ' });

test('a stream larger than a block goes up as staged blocks and a block list, and reads back intact (ranged too)', async () => {
  const { b, ctx } = await azure();
  const data = pattern(7 * 1024 * 1024 + 4321, 3);
  await b.upload('blocks/01/chunks/000001', streamOf(data, 500_000));
  const staged = ctx.requests.filter((r) => r.method === 'PUT' && r.url.includes('comp=block&'));
  assert.is(staged.length, 3, '3 MiB blocks');
  assert.ok(ctx.requests.some((r) => r.method === 'PUT' && r.url.includes('comp=blocklist')), 'block list committed');
  assert.ok(sameBytes(await readAll(await b.get('blocks/01/chunks/000001')), data));
  assert.ok(sameBytes(await readAll(await b.getRange('blocks/01/chunks/000001', 5_000_000, 100_000)), data.subarray(5_000_000, 5_100_000)));
});

test('the container is created when missing, as Thanos does', async () => {
  const { ctx, container } = await azure();
  assert.ok(ctx.requests.some((r) => r.method === 'PUT' && r.url.endsWith(`/${container}?restype=container`)), JSON.stringify(ctx.requests));
});

test('storage_create_container: false leaves a missing container alone (no create, no probe), as Thanos does', async () => {
  const { ctx } = await azure({ storage_create_container: false });
  assert.is(ctx.requests.length, 0, JSON.stringify(ctx.requests));
});

test('azure_storage_account_type: "" and "blob" are the Blob API; "datalake" (the DFS API) is refused by name', () => {
  const base = { storage_account: 'a', storage_account_key: 'k', container: 'c' };
  assert.ok(plugin.parseConfig({ ...base, azure_storage_account_type: 'blob' }));
  assert.ok(plugin.parseConfig({ ...base, azure_storage_account_type: '' }));
  assert.is(plugin.parseConfig(base).createContainer, true, 'storage_create_container defaults to true');
  for (const [v, why] of [['datalake', /datalake .*not implemented yet/], ['gen2', /must be "", "blob" or "datalake"/]] as const) {
    try {
      plugin.parseConfig({ ...base, azure_storage_account_type: v });
      assert.unreachable(v);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match(String(err), /azure_storage_account_type/);
      assert.match(String(err), why);
    }
  }
});

test('a wrong account key is refused (Azurite checks the shared-key signature), not taken for a missing blob', async () => {
  const { b, container } = await azure();
  await b.upload('x', new TextEncoder().encode('x'));
  const wrongKey = Buffer.from('not-the-key-'.repeat(6)).toString('base64');
  const bad = await plugin.create(testCtx(), plugin.parseConfig({ storage_account: ACCOUNT, container, storage_connection_string: az.connectionString(wrongKey) })).catch((e) => e);
  // Creation itself asks for the container's properties: the wrong key already fails there.
  assert.instance(bad, Error, String(bad));
  assert.match(String(bad), /azure create c\w+: 403 AuthorizationFailure: Server failed to authenticate the request.*check storage_account_key/);
});

test('config: Thanos names and defaults; its checks name the field; unknown keys refused', () => {
  const c = plugin.parseConfig({ storage_account: 'acct', storage_account_key: 'k', container: 'c', max_retries: 3 });
  assert.is(c.endpoint, 'blob.core.windows.net');
  assert.is(c.pipeline.maxTries, 3, 'max_retries fills pipeline_config.max_tries');
  assert.is(c.reader.maxRetryRequests, 3, 'and reader_config.max_retry_requests');
  const c2 = plugin.parseConfig({ storage_account: 'a', storage_account_key: 'k', container: 'c', max_retries: 3, pipeline_config: { max_tries: 5, try_timeout: '30s' }, reader_config: { max_retry_requests: 1 } });
  assert.is(c2.pipeline.maxTries, 5);
  assert.is(c2.pipeline.tryTimeoutMs, 30_000);
  assert.is(c2.reader.maxRetryRequests, 1);
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ storage_account: 'a', container: 'c', storage_account_key: 'k', storage_connection_string: 's' }, 'storage_connection_string'],
    [{ storage_account: 'a', container: 'c', storage_account_key: 'k', user_assigned_id: 'u' }, 'user_assigned_id'],
    [{ container: 'c', storage_account_key: 'k' }, 'storage_account'],
    [{ storage_account: 'a', storage_account_key: 'k' }, 'container'],
    [{ storage_account: 'a', container: 'c', storage_account_key: 'k', sas_token: 'x' }, 'sas_token'],
    [{ storage_account: 'a', container: 'c', storage_account_key: 'k', pipeline_config: { max_tries: -1 } }, 'pipeline_config.max_tries'],
  ];
  for (const [raw, key] of bad) {
    try {
      plugin.parseConfig(raw);
      assert.unreachable(`expected an error for ${key}`);
    } catch (err) {
      assert.instance(err, ConfigError, String(err));
      assert.ok(String(err).includes(key), `${key}: ${String(err)}`);
    }
  }
});

test('the SDK reaches the network only through ctx.fetch: a net grant without the endpoint denies it', async () => {
  try {
    await azure({}, testCtx({ net: ['127.0.0.1:1'] }));
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permission denied.*permissions\.net/);
  }
});

test('the SDK module is imported only when an AZURE bucket is created', async () => {
  const src = (await import('node:fs')).readFileSync(new URL('../../plugins/objstore/azure/mod.ts', import.meta.url), 'utf8');
  assert.not.match(src, /^import [^t].*from '@azure\//m, 'no static value import of the SDK');
  assert.match(src, /await import\('@azure\/storage-blob'\)/);
});

test.run();
