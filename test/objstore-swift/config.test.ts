// SWIFT config parsing (strict, errors name the field), auth-version detection and the Keystone v3
// request bodies; no server needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import plugin from '../../plugins/objstore/swift/mod.ts';
import { effectiveAuthVersion } from '../../plugins/objstore/swift/config.ts';
import { v3Body } from '../../plugins/objstore/swift/auth.ts';
import { ConfigError } from '../../host/index.ts';

function configError(fn: () => unknown, key: string, re?: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError, String(err));
    assert.is((err as ConfigError).key, key, String(err));
    if (re) assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a ConfigError for ${key}`);
}

const BASE = { auth_url: 'http://127.0.0.1:5000/v3', username: 'u', password: 'p', container_name: 'thanos' };

test("Thanos's SWIFT example config parses with every field", () => {
  const doc = parseYaml(`type: SWIFT
config:
  auth_version: 0
  auth_url: "http://keystone:5000/v3"
  username: "thanos"
  user_domain_name: "Default"
  user_domain_id: ""
  user_id: ""
  password: "secret"
  domain_id: ""
  domain_name: ""
  application_credential_id: ""
  application_credential_name: ""
  application_credential_secret: ""
  project_id: ""
  project_name: "observability"
  project_domain_id: ""
  project_domain_name: "Default"
  region_name: "RegionOne"
  container_name: "thanos"
  large_object_chunk_size: 1073741824
  large_object_segments_container_name: ""
  retries: 3
  connect_timeout: 10s
  timeout: 5m
  use_dynamic_large_objects: false
  http_config:
    idle_conn_timeout: 1m30s
    response_header_timeout: 2m
    insecure_skip_verify: false
    tls_handshake_timeout: 10s
    expect_continue_timeout: 1s
    max_idle_conns: 100
    max_idle_conns_per_host: 100
    max_conns_per_host: 0
    tls_config:
      ca_file: ""
      cert_file: ""
      key_file: ""
      server_name: ""
      insecure_skip_verify: false
    disable_compression: false
prefix: ""
`);
  assert.is(String(doc.type), plugin.provider);
  const c = plugin.parseConfig(doc.config);
  assert.is(c.authUrl, 'http://keystone:5000/v3');
  assert.is(c.projectName, 'observability');
  assert.is(c.regionName, 'RegionOne');
  assert.is(c.largeObjectChunkSize, 1073741824);
  assert.is(c.connectTimeoutMs, 10_000);
  assert.is(c.timeoutMs, 300_000);
  assert.is(c.retries, 3);
  assert.is(c.http.idleConnTimeoutMs, 90_000);
  assert.is(effectiveAuthVersion(c), 3);
});

test('defaults and older spellings (tenant_name, tenant_id)', () => {
  const c = plugin.parseConfig({ auth_url: 'http://h/auth/v1.0', username: 'test:tester', password: 'testing', container_name: 'c', tenant_name: 't' });
  assert.is(c.projectName, 't');
  assert.is(c.largeObjectChunkSize, 1024 ** 3);
  assert.is(c.retries, 3);
  assert.is(effectiveAuthVersion(c), 1);
  assert.is(effectiveAuthVersion(plugin.parseConfig({ ...BASE, auth_url: 'http://h:5000/v2.0' })), 2);
  assert.is(effectiveAuthVersion(plugin.parseConfig({ ...BASE, auth_url: 'http://h:5000/v2.0', auth_version: 3 })), 3, 'an explicit version wins');
  assert.is(plugin.parseConfig({ ...BASE, tenant_id: 'abc' }).projectId, 'abc');
  configError(() => plugin.parseConfig({ ...BASE, tenant_name: 'a', project_name: 'b' }), 'tenant_name');
});

test('unknown and bad fields are rejected, naming the field', () => {
  configError(() => plugin.parseConfig({ ...BASE, container: 'x' }), 'container', /unknown field/);
  configError(() => plugin.parseConfig({ ...BASE, http_config: { idle: '1s' } }), 'http_config.idle', /unknown field/);
  configError(() => plugin.parseConfig({ ...BASE, auth_version: 4 }), 'auth_version', /at most 3/);
  configError(() => plugin.parseConfig({ ...BASE, timeout: '5 minutes' }), 'timeout', /invalid duration/);
  configError(() => plugin.parseConfig({ ...BASE, large_object_chunk_size: 0 }), 'large_object_chunk_size', /at least 1/);
  configError(() => plugin.parseConfig({ ...BASE, use_dynamic_large_objects: 'no' }), 'use_dynamic_large_objects');
  configError(() => plugin.parseConfig({ ...BASE, auth_url: '' }), 'auth_url');
  configError(() => plugin.parseConfig({ ...BASE, auth_url: 'keystone:5000' }), 'auth_url', /http/);
  configError(() => plugin.parseConfig({ ...BASE, container_name: '' }), 'container_name');
  configError(() => plugin.parseConfig({ ...BASE, container_name: 'a/b' }), 'container_name');
  configError(() => plugin.parseConfig({ ...BASE, password: '' }), 'password');
  configError(() => plugin.parseConfig({ ...BASE, username: '' }), 'username');
  configError(() => plugin.parseConfig({ ...BASE, username: '', password: '', application_credential_id: 'x' }), 'application_credential_secret');
});

test('Keystone v3 bodies: user id, application credential by id and by name, project id scope', () => {
  const byId = plugin.parseConfig({ ...BASE, username: '', user_id: 'uid', project_id: 'pid' });
  assert.equal(v3Body(byId), { auth: { identity: { methods: ['password'], password: { user: { id: 'uid', password: 'p' } } }, scope: { project: { id: 'pid' } } } });
  const app = plugin.parseConfig({ ...BASE, username: '', password: '', application_credential_id: 'ac', application_credential_secret: 's' });
  assert.equal(v3Body(app), { auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac', secret: 's' } } } });
  assert.is(effectiveAuthVersion(plugin.parseConfig({ ...BASE, auth_url: 'http://h/identity', username: '', password: '', application_credential_id: 'ac', application_credential_secret: 's' })), 3);
  const appName = plugin.parseConfig({ ...BASE, password: '', domain_name: 'D', application_credential_name: 'n', application_credential_secret: 's' });
  assert.equal(v3Body(appName), { auth: { identity: { methods: ['application_credential'], application_credential: { name: 'n', secret: 's', user: { name: 'u', domain: { name: 'D' } } } } } });
  const projUserDomain = plugin.parseConfig({ ...BASE, user_domain_id: 'ud', project_name: 'p1' });
  assert.equal((v3Body(projUserDomain) as { auth: { scope: unknown } }).auth.scope, { project: { name: 'p1', domain: { id: 'ud' } } }, 'the project domain defaults to the user domain');
});

test('the manifest asks for net, env (for { env: NAME } secrets) and read (http_config.tls_config files), and no node: import is used', async () => {
  assert.is(plugin.manifest.id, 'objstore:swift');
  assert.equal(plugin.manifest.permissions, { net: true, env: true, read: true });
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = new URL('../../plugins/objstore/swift/', import.meta.url);
  for (const f of readdirSync(dir)) assert.not.match(readFileSync(new URL(f, dir), 'utf8'), /from\s+['"]node:/, f);
});

test('an auth service that refuses connections: a transient error naming the auth URL and the cause', async () => {
  const { createSwiftBucket } = await import('../../plugins/objstore/swift/mod.ts');
  const { testCtx } = await import('../objstore-s3/ctx.ts');
  try {
    const port = await closedPort();
    await createSwiftBucket(testCtx(), plugin.parseConfig({ ...BASE, auth_url: `http://127.0.0.1:${port}/auth/v1.0` }));
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /swift auth http:\/\/127\.0\.0\.1:\d+\/auth\/v1\.0: fetch failed \(ECONNREFUSED/);
    assert.is((err as { retryable?: boolean }).retryable, true);
  }
});

/** A loopback port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const { createServer: mk } = await import('node:net');
  return new Promise((resolve) => {
    const srv = mk();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

test.run();
