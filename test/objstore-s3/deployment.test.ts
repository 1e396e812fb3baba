// The reference deployment's bucket_config.yaml through the same path the CLI takes
// (lib/objstore factory -> host registry -> S3 plugin -> host capabilities), and through a
// plugins.yaml-style narrow grant, against a real S3 API (Swift s3api on loopback).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBucket, parseBucketConfig } from '../../lib/objstore/factory.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import { loadBuiltinObjstore } from '../../host/loader.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { Permissions } from '../../host/permissions.ts';
import { Registry } from '../../host/metrics.ts';
import { resolveSecrets } from '../../host/secrets.ts';
import { createLogger } from '../../host/log.ts';
import type { ObjstorePlugin } from '../../host/index.ts';
import { useSwift } from '../harness/swift.ts';

const saio = useSwift(test);


// Verbatim from deployment.md; only the four site-specific values are replaced for the test.
const DEPLOYMENT_YAML = `type: S3
config:
  bucket: "bucket-name"
  endpoint: 's3-endpoint'
  access_key: "access-key"
  insecure: true   # plain http
  signature_version2: false
  encrypt_sse: false
  secret_key: "secret-key"
  put_user_metadata: {}
  http_config:
    idle_conn_timeout: 90s
    response_header_timeout: 2m
    insecure_skip_verify: false
  trace:
    enable: false
  part_size: 134217728
`;

function siteYaml(bucket: string): string {
  return DEPLOYMENT_YAML
    .replace('"bucket-name"', `"${bucket}"`)
    .replace("'s3-endpoint'", `'${saio.server.s3Endpoint}'`)
    .replace('"access-key"', `"${saio.server.user}"`)
    .replace('"secret-key"', `"${saio.server.key}"`);
}

const log = createLogger({ level: 'error' });

test('the verbatim deployment YAML parses through the factory and the registry (type S3 -> plugins/objstore/s3)', async () => {
  const cfg = parseBucketConfig(DEPLOYMENT_YAML, 'bucket_config.yaml');
  assert.is(cfg.type, 'S3');
  const plugin = await loadBuiltinObjstore(cfg.type);
  assert.is(plugin.provider, 'S3');
  const parsed = plugin.parseConfig(cfg.config) as { partSize: number; http: { idleConnTimeoutMs: number } };
  assert.is(parsed.partSize, 134217728);
  assert.is(parsed.http.idleConnTimeoutMs, 90_000);
});

test('a typo in the deployment YAML is an error naming the file and the field', async () => {
  const bad = DEPLOYMENT_YAML.replace('part_size:', 'partsize:');
  try {
    await createBucket(parseBucketConfig(bad, 'bucket_config.yaml'), {
      loadProvider: loadBuiltinObjstore,
      capabilities: (p: ObjstorePlugin) => createCapabilities({ permissions: Permissions.all(p.manifest.id, p.manifest.permissions), log, metrics: new Registry() }),
    });
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /bucket_config\.yaml: type S3: partsize: unknown field/);
  }
});

test('CLI path: deployment YAML (site values filled in) -> wrapped bucket that works against S3', async () => {
  const bucket = 'thanos-deploy';
  await saio.server.createContainer(bucket);
  const reg = new Registry();
  const b = await createBucket(parseBucketConfig(siteYaml(bucket), 'bucket_config.yaml'), {
    loadProvider: loadBuiltinObjstore,
    capabilities: (p: ObjstorePlugin) => createCapabilities({ permissions: Permissions.all(p.manifest.id, p.manifest.permissions), log, metrics: reg }),
    metrics: reg,
    name: 's3',
  });
  const meta = new TextEncoder().encode(JSON.stringify({ ulid: '01ARZ3NDEKTSV4RRFFQ69G5FAV', version: 1 }));
  await b.upload('01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json', meta);
  assert.equal(new TextDecoder().decode(await readAll(await b.get('01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json'))), new TextDecoder().decode(meta));
  const top: string[] = [];
  for await (const n of b.iter('')) top.push(n);
  assert.equal(top, ['01ARZ3NDEKTSV4RRFFQ69G5FAV/']);
  assert.is(await b.exists('nope/meta.json'), false);
  await b.delete('01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json');
  await b.close();
});

test('plugins.yaml path: a narrow net grant allows the endpoint and nothing else', async () => {
  const bucket = 'thanos-narrow';
  await saio.server.createContainer(bucket);
  const mk = (net: string[]) => (p: ObjstorePlugin) => createCapabilities({
    permissions: new Permissions({ pluginId: p.manifest.id, request: p.manifest.permissions, grant: { net }, grantKey: 'objstore[0].permissions', grantBaseDir: process.cwd() }),
    log, metrics: new Registry(),
  });
  const ok = await createBucket(parseBucketConfig(siteYaml(bucket), 'x.yaml'), { loadProvider: loadBuiltinObjstore, capabilities: mk([saio.server.hostPort]), retry: false });
  await ok.upload('a', new Uint8Array([1, 2, 3]));
  assert.is((await ok.attributes('a')).size, 3);
  const denied = await createBucket(parseBucketConfig(siteYaml(bucket), 'x.yaml'), { loadProvider: loadBuiltinObjstore, capabilities: mk(['127.0.0.1:1']), retry: false });
  try {
    await denied.exists('a');
    assert.unreachable('expected a denial');
  } catch (err) {
    assert.match(String(err), /objstore:s3 called fetch\(127\.0\.0\.1:\d+\).*objstore\[0\]\.permissions\.net/);
  }
});

test('plugins.yaml secrets: secret_key: { env: NAME } resolves only with an env grant for NAME', async () => {
  const bucket = 'thanos-secret';
  await saio.server.createContainer(bucket);
  const yaml = siteYaml(bucket).replace(`secret_key: "${saio.server.key}"`, 'secret_key: { env: S3_TEST_SECRET }');
  assert.match(yaml, /secret_key: \{ env: S3_TEST_SECRET \}/);
  const env = { S3_TEST_SECRET: saio.server.key };
  const perms = (p: ObjstorePlugin, grantEnv: string[]) => new Permissions({
    pluginId: p.manifest.id, request: p.manifest.permissions, grant: { net: [saio.server.hostPort], env: grantEnv },
    grantKey: 'objstore[0].permissions', grantBaseDir: process.cwd(),
  });
  const build = (grantEnv: string[]) => createBucket(parseBucketConfig(yaml, 'plugins.yaml'), {
    loadProvider: loadBuiltinObjstore,
    capabilities: (p) => createCapabilities({ permissions: perms(p, grantEnv), log, metrics: new Registry() }),
    transformConfig: (raw, p) => resolveSecrets(raw, perms(p, grantEnv), 'objstore[0].config', env),
    retry: false,
  });
  const b = await build(['S3_TEST_SECRET']);
  await b.upload('s', new Uint8Array([7]));
  assert.is((await b.attributes('s')).size, 1);
  try {
    await build([]);
    assert.unreachable('expected a secret error');
  } catch (err) {
    assert.match(String(err), /objstore\[0\]\.config\.secret_key: secret \{ env: S3_TEST_SECRET \} needs an env grant/);
  }
});

test.run();
