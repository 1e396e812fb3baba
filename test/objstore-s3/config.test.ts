// S3 config parsing: the reference deployment's bucket_config.yaml as written, today's Thanos
// fields, older spellings, and clear errors that name the field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import plugin from '../../plugins/objstore/s3/mod.ts';
import { regionFromEndpoint } from '../../plugins/objstore/s3/bucket.ts';
import { ConfigError } from '../../host/index.ts';
import { testCtx } from './ctx.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readAll } from '../../lib/objstore/bucket.ts';

// Verbatim from the reference deployment (deployment.md).
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

function configError(fn: () => unknown, key: string, re?: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError, String(err));
    assert.is((err as ConfigError).key, key, String(err));
    assert.ok((err as Error).message.includes(key), `message names the field: ${(err as Error).message}`);
    if (re) assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a ConfigError for ${key}`);
}

test('the deployment bucket_config.yaml parses exactly as written', () => {
  const doc = parseYaml(DEPLOYMENT_YAML);
  assert.is(String(doc.type).toUpperCase(), plugin.provider);
  const c = plugin.parseConfig(doc.config);
  assert.is(c.bucket, 'bucket-name');
  assert.is(c.endpoint, 's3-endpoint');
  assert.is(c.accessKey, 'access-key');
  assert.is(c.secretKey, 'secret-key');
  assert.is(c.insecure, true);
  assert.is(c.signatureV2, false);
  assert.is(c.sse.type, '', 'encrypt_sse: false means no SSE');
  assert.equal(c.putUserMetadata, {});
  assert.is(c.http.idleConnTimeoutMs, 90_000);
  assert.is(c.http.responseHeaderTimeoutMs, 120_000);
  assert.is(c.http.insecureSkipVerify, false);
  assert.is(c.trace, false);
  assert.is(c.partSize, 134217728);
  assert.is(c.listObjectsVersion, 'v2');
  assert.is(c.bucketLookupType, 'auto');
  assert.is(c.sendContentMd5, true);
});

test('the deployment config creates a bucket (http, path-style, signed) without any request', async () => {
  const ctx = testCtx({ net: ['s3-endpoint:80'] });
  const b = await plugin.create(ctx, plugin.parseConfig(parseYaml(DEPLOYMENT_YAML).config));
  assert.is(b.provider, 'S3');
  assert.is((b as unknown as { url: string }).url, 'http://s3-endpoint/bucket-name/');
  assert.is(ctx.requests.length, 0, 'create() sends nothing');
  await b.close();
});

test("today's Thanos S3 field list is accepted", () => {
  const c = plugin.parseConfig({
    bucket: 'b', endpoint: 's3.eu-west-1.amazonaws.com', region: 'eu-west-1', disable_dualstack: true,
    aws_sdk_auth: false, access_key: 'a', secret_key: 's', session_token: 't', insecure: false,
    signature_version2: false, put_user_metadata: { 'X-Amz-Storage-Class': 'STANDARD_IA', team: 'obs' },
    http_config: {
      idle_conn_timeout: '1m30s', response_header_timeout: '2m', insecure_skip_verify: false, tls_handshake_timeout: '10s',
      expect_continue_timeout: '1s', max_idle_conns: 100, max_idle_conns_per_host: 100, max_conns_per_host: 0,
      disable_compression: false, tls_config: { ca_file: '', cert_file: '', key_file: '', server_name: '', insecure_skip_verify: false },
    },
    trace: { enable: true }, list_objects_version: 'v1', bucket_lookup_type: 'virtual-hosted', send_content_md5: false,
    disable_multipart: false, part_size: 67108864,
    sse_config: { type: 'SSE-KMS', kms_key_id: 'key', kms_encryption_context: { a: 'b' } },
    sts_endpoint: '', max_retries: 3,
  });
  assert.is(c.http.idleConnTimeoutMs, 90_000);
  assert.is(c.listObjectsVersion, 'v1');
  assert.is(c.bucketLookupType, 'virtual-hosted');
  assert.is(c.sse.type, 'SSE-KMS');
  assert.is(c.trace, true);
  assert.is(c.sendContentMd5, false);
  assert.is(c.maxRetries, 3);
});

test('http_config connection-pool tuning: Thanos defaults accepted, anything else refused by name (never parsed and ignored)', () => {
  for (const [key, value] of [
    ['idle_conn_timeout', '30s'], ['tls_handshake_timeout', '3s'], ['expect_continue_timeout', '0s'], ['max_idle_conns', 10],
    ['max_idle_conns_per_host', 5], ['max_conns_per_host', 20], ['disable_compression', true],
  ] as const) {
    configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', http_config: { [key]: value } }), `http_config.${key}`, /not implemented yet/);
  }
  // The reference deployment writes the default idle_conn_timeout; that keeps working.
  assert.is(plugin.parseConfig({ bucket: 'b', endpoint: 'e', http_config: { idle_conn_timeout: '90s' } }).http.idleConnTimeoutMs, 90_000);
});

test('older spellings: encrypt_sse: true is SSE-S3; bucket_lookup_type virtual-host', () => {
  assert.is(plugin.parseConfig({ bucket: 'b', endpoint: 'e', encrypt_sse: true }).sse.type, 'SSE-S3');
  assert.is(plugin.parseConfig({ bucket: 'b', endpoint: 'e', bucket_lookup_type: 'virtual-host' }).bucketLookupType, 'virtual-hosted');
  assert.is(plugin.parseConfig({ bucket: 'b', endpoint: 'e', bucket_lookup_type: 'path' }).bucketLookupType, 'path');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', encrypt_sse: true, sse_config: { type: 'SSE-KMS', kms_key_id: 'k' } }), 'encrypt_sse');
});

test('unknown fields are rejected with the field named, at any depth', () => {
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', acces_key: 'x' }), 'acces_key', /unknown field/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', http_config: { idle_timeout: '1s' } }), 'http_config.idle_timeout', /unknown field/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', http_config: { tls_config: { ca: 'x' } } }), 'http_config.tls_config.ca');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', trace: { enabled: true } }), 'trace.enabled');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', sse_config: { kms_key: 'x' } }), 'sse_config.kms_key');
});

test('bad values name the field', () => {
  configError(() => plugin.parseConfig({ bucket: 'b' }), 'endpoint', /no s3 endpoint/);
  configError(() => plugin.parseConfig({ endpoint: 'e' }), 'bucket');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', insecure: 'yes' }), 'insecure', /true or false/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', part_size: '64MiB' }), 'part_size', /integer/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', part_size: 1024 }), 'part_size', /at least 5242880/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', http_config: { idle_conn_timeout: '90 seconds' } }), 'http_config.idle_conn_timeout', /invalid duration/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', http_config: { response_header_timeout: 120 } }), 'http_config.response_header_timeout', /duration/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', list_objects_version: 'v3' }), 'list_objects_version', /v1, v2/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', bucket_lookup_type: 'dns-ish' }), 'bucket_lookup_type');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', access_key: 'a' }), 'secret_key');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', secret_key: 's' }), 'access_key');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', aws_sdk_auth: true, access_key: 'a', secret_key: 's' }), 'aws_sdk_auth');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', sse_config: { type: 'SSE-C' } }), 'sse_config.encryption_key');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', sse_config: { type: 'SSE-KMS' } }), 'sse_config.kms_key_id');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', sse_config: { type: 'AES' } }), 'sse_config.type');
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'host/path' }), 'endpoint', /without a path/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'ftp://host' }), 'endpoint', /scheme/);
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', put_user_metadata: ['a'] }), 'put_user_metadata');
  configError(() => plugin.parseConfig('bucket: b'), '', /mapping/);
});

test('durations: model.Duration, as Thanos types objstore YAML durations (exthttp.HTTPConfig)', () => {
  const rht = (v: unknown) => plugin.parseConfig({ bucket: 'b', endpoint: 'e', http_config: { response_header_timeout: v } }).http.responseHeaderTimeoutMs;
  assert.is(rht('90s'), 90_000);
  assert.is(rht('2m'), 120_000);
  assert.is(rht('1h30m'), 5_400_000);
  assert.is(rht('500ms'), 500);
  assert.is(rht('0'), 0);
  assert.is(rht(0), 0);
  assert.is(rht('1d'), 86_400_000);
  // Thanos (model.ParseDuration) refuses these; the old hybrid parser took 1.5h and 30m1h.
  for (const bad of ['1.5h', '30m1h', '5', '1x', '', '-1m', '100us']) {
    configError(() => rht(bad), 'http_config.response_header_timeout', /invalid duration/);
  }
});

// Honoured over real TLS in test/security/outbound-tls.test.ts; a context without ctx.httpClient
// (this bare one) cannot carry them, and says so rather than ignoring them.
test('create(): custom TLS on https needs ctx.httpClient (refused clearly without it); on plain http it is irrelevant', async () => {
  const https = plugin.parseConfig({ bucket: 'b', endpoint: 'e', access_key: 'a', secret_key: 's', http_config: { insecure_skip_verify: true } });
  try {
    await plugin.create(testCtx(), https);
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /s3: http_config\.tls_config: this host offers no TLS client settings/);
  }
  const http = plugin.parseConfig({ bucket: 'b', endpoint: 'e', insecure: true, access_key: 'a', secret_key: 's', http_config: { insecure_skip_verify: true } });
  await (await plugin.create(testCtx(), http)).close();
});

test('create(): credentials from AWS_* env when the config has none; env denied surfaces the grant to add', async () => {
  const cfg = plugin.parseConfig({ bucket: 'b', endpoint: 'e', insecure: true });
  const ctx = testCtx({ env: { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' } });
  await (await plugin.create(ctx, cfg)).close();
  assert.ok(!ctx.lines.some((l) => l.level === 'warn'), 'no anonymous warning when env has keys');
  assert.ok(ctx.lines.some((l) => l.kv?.source === 'environment'), 'the source is logged');
  // Nothing anywhere and instance metadata switched off: anonymous requests, said once.
  const anon = testCtx({ env: { AWS_EC2_METADATA_DISABLED: 'true' } });
  await (await plugin.create(anon, cfg)).close();
  assert.ok(anon.lines.some((l) => l.level === 'warn' && /anonymous/.test(l.msg)), 'anonymous access is logged');
  // Nothing in env/files: the chain ends at the instance metadata service (asked lazily, not at create()).
  const imds = testCtx({ env: {} });
  await (await plugin.create(imds, cfg)).close();
  assert.ok(imds.lines.some((l) => /EC2 instance metadata \(http:\/\/169\.254\.169\.254\)/.test(String(l.kv?.source))), JSON.stringify(imds.lines));
  assert.is(imds.requests.length, 0, 'create() asks nothing');
  try {
    await plugin.create(testCtx(), cfg);
    assert.unreachable('expected a permission error');
  } catch (err) {
    assert.match(String(err), /permissions\.env/);
  }
  const sdk = plugin.parseConfig({ bucket: 'b', endpoint: 'e', aws_sdk_auth: true });
  try {
    await plugin.create(testCtx({ env: { AWS_EC2_METADATA_DISABLED: 'true' } }), sdk);
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /aws_sdk_auth: no credentials/);
  }
});

test('signature_version2: true is refused by name (the SDK signs V4 only); false, as in the deployment YAML, is accepted', () => {
  configError(() => plugin.parseConfig({ bucket: 'b', endpoint: 'e', signature_version2: true }), 'signature_version2', /Signature Version 4 only/);
  assert.is(plugin.parseConfig({ bucket: 'b', endpoint: 'e', signature_version2: false }).signatureV2, false);
});

test('addressing: auto is virtual-hosted on AWS, path elsewhere; region from the endpoint', async () => {
  const mk = async (o: Record<string, unknown>) => {
    const b = await plugin.create(testCtx(), plugin.parseConfig({ access_key: 'a', secret_key: 's', ...o }));
    return (b as unknown as { url: string }).url;
  };
  assert.is(await mk({ bucket: 'thanos', endpoint: 's3.eu-west-1.amazonaws.com' }), 'https://thanos.s3.eu-west-1.amazonaws.com/');
  assert.is(await mk({ bucket: 'my.bucket', endpoint: 's3.amazonaws.com' }), 'https://s3.amazonaws.com/my.bucket/', 'dotted names stay path-style on https');
  assert.is(await mk({ bucket: 'thanos', endpoint: '127.0.0.1:9000', insecure: true }), 'http://127.0.0.1:9000/thanos/');
  assert.is(await mk({ bucket: 'thanos', endpoint: 'minio.local:9000', bucket_lookup_type: 'virtual-hosted' }), 'https://thanos.minio.local:9000/');
  assert.is(await mk({ bucket: 'thanos', endpoint: 's3.amazonaws.com', bucket_lookup_type: 'path' }), 'https://s3.amazonaws.com/thanos/');
  assert.is(await mk({ bucket: 'thanos', endpoint: 'http://127.0.0.1:9000' }), 'http://127.0.0.1:9000/thanos/', 'an explicit scheme wins');
  assert.is(regionFromEndpoint('s3.eu-west-1.amazonaws.com'), 'eu-west-1');
  assert.is(regionFromEndpoint('s3-us-west-2.amazonaws.com'), 'us-west-2');
  assert.is(regionFromEndpoint('s3.dualstack.ap-south-1.amazonaws.com'), 'ap-south-1');
  assert.is(regionFromEndpoint('s3.amazonaws.com'), undefined);
  assert.is(regionFromEndpoint('127.0.0.1:9000'), undefined);
});

test('the manifest asks for net and env (narrowed by the grant), and no node: import is used', async () => {
  assert.is(plugin.manifest.id, 'objstore:s3');
  assert.is(plugin.manifest.apiVersion, 1);
  assert.ok(plugin.manifest.permissions.net);
  assert.is(plugin.manifest.permissions.env, true, 'env: the grant decides which variables (secrets, AWS_*)');
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = new URL('../../plugins/objstore/s3/', import.meta.url);
  for (const f of readdirSync(dir)) {
    const src = readFileSync(new URL(f, dir), 'utf8');
    assert.not.match(src, /from\s+['"]node:/, `${f} imports a node: module`);
    // The SDK is loaded when the first S3 bucket is made, not when the plugin module is imported.
    assert.not.match(src, /^import (?!type )[^;]*from '@(aws-sdk|smithy)\//m, `${f} imports the SDK eagerly`);
  }
});

async function withFakeS3(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void, fn: (endpoint: string) => Promise<void>): Promise<void> {
  let n = 0;
  const srv = createServer((req, res) => handler(req, res, n++));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    await fn(`127.0.0.1:${(srv.address() as { port: number }).port}`);
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
}

test('max_retries: 503 SlowDown is retried (re-signed) up to max_retries; without retries it surfaces', async () => {
  const flaky = (req: IncomingMessage, res: ServerResponse, n: number) => {
    if (n % 3 < 2) {
      res.writeHead(503, { 'Content-Type': 'application/xml' });
      res.end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    res.writeHead(200, { 'Content-Length': '2' });
    res.end('ok');
  };
  await withFakeS3(flaky, async (endpoint) => {
    const base = { bucket: 'b', endpoint, insecure: true, access_key: 'a', secret_key: 's' };
    const retrying = await plugin.create(testCtx(), plugin.parseConfig({ ...base, max_retries: 2 }));
    assert.is(new TextDecoder().decode(await readAll(await retrying.get('x'))), 'ok');
    // Thanos's default is 10 retries: the flaky server's two 503s are absorbed.
    assert.is(plugin.parseConfig(base).maxRetries, 10);
    assert.is(new TextDecoder().decode(await readAll(await (await plugin.create(testCtx(), plugin.parseConfig(base))).get('x'))), 'ok');
    const plain = await plugin.create(testCtx(), plugin.parseConfig({ ...base, max_retries: 0 }));
    try {
      await plain.get('x');
      assert.unreachable('expected SlowDown');
    } catch (err) {
      assert.match(String(err), /503 SlowDown: Please reduce/);
    }
  });
});

test('a guessed region follows the region S3 asks for (AuthorizationHeaderMalformed), once', async () => {
  const seen: string[] = [];
  const regional = (req: IncomingMessage, res: ServerResponse) => {
    const auth = String(req.headers.authorization ?? '');
    seen.push(/Credential=[^/]+\/\d+\/([^/]+)\//.exec(auth)?.[1] ?? '');
    if (!auth.includes('/eu-central-1/')) {
      res.writeHead(400, { 'Content-Type': 'application/xml' });
      res.end("<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'eu-central-1'</Message><Region>eu-central-1</Region></Error>");
      return;
    }
    res.writeHead(200, { 'Content-Length': '3' });
    res.end('abc');
  };
  await withFakeS3(regional, async (endpoint) => {
    const b = await plugin.create(testCtx(), plugin.parseConfig({ bucket: 'b', endpoint, insecure: true, access_key: 'a', secret_key: 's' }));
    assert.is(new TextDecoder().decode(await readAll(await b.get('x'))), 'abc');
    assert.is(new TextDecoder().decode(await readAll(await b.get('y'))), 'abc');
    assert.equal(seen, ['us-east-1', 'eu-central-1', 'eu-central-1'], 'switched once, then kept the region');
    // A configured region is the operator's word: no switching.
    const fixed = await plugin.create(testCtx(), plugin.parseConfig({ bucket: 'b', endpoint, insecure: true, access_key: 'a', secret_key: 's', region: 'us-east-1' }));
    try {
      await fixed.get('x');
      assert.unreachable('expected an error');
    } catch (err) {
      assert.match(String(err), /AuthorizationHeaderMalformed/);
    }
  });
});

test('a server that ignores Range still yields exactly the requested bytes', async () => {
  const full = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Length': '26' });
    res.end('abcdefghijklmnopqrstuvwxyz');
  };
  await withFakeS3(full, async (endpoint) => {
    const b = await plugin.create(testCtx(), plugin.parseConfig({ bucket: 'b', endpoint, insecure: true, access_key: 'a', secret_key: 's' }));
    assert.is(new TextDecoder().decode(await readAll(await b.getRange('x', 3, 4))), 'defg');
    assert.is(new TextDecoder().decode(await readAll(await b.getRange('x', 20))), 'uvwxyz');
  });
});

test('an endpoint that refuses connections: a transient (retryable) error naming the cause', async () => {
  const port = await closedPort();
  const b = await plugin.create(testCtx(), plugin.parseConfig({ bucket: 'b', endpoint: `127.0.0.1:${port}`, insecure: true, access_key: 'a', secret_key: 's', max_retries: 1 }));
  try {
    await b.get('x');
    assert.unreachable('expected an error');
  } catch (err) {
    assert.match(String(err), /s3 get b\/x: fetch failed \(ECONNREFUSED/);
    assert.is((err as { retryable?: boolean }).retryable, true);
    assert.is(b.isObjNotFoundErr(err), false);
  }
});

test('multipart: a part that fails aborts the upload after the parts in flight settle; no complete', async () => {
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  let arrived = 0;
  let twoArrived!: () => void;
  const twoParts = new Promise<void>((r) => (twoArrived = r));
  const fake = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && url.searchParams.has('uploads')) {
        events.push('initiate');
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        res.end('<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>');
      } else if (req.method === 'PUT' && url.searchParams.has('partNumber')) {
        const n = url.searchParams.get('partNumber');
        active++;
        maxActive = Math.max(maxActive, active);
        if (++arrived === 2) twoArrived();
        // No part answers before two have arrived (or 10 s have passed, when a sequential client
        // would fail the concurrency check below), whichever arrives first: part 1 only waiting for
        // another lost the race when part 2 came first and was answered before part 1 arrived.
        // Then part 1 settles last (the abort must wait for it).
        const delay = Promise.race([twoParts, new Promise((r) => setTimeout(r, 10_000))]).then(() => new Promise((r) => setTimeout(r, n === '1' ? 50 : 20)));
        void delay.then(() => {
          active--;
          events.push(`part${n}`);
          if (n === '2') {
            res.writeHead(403, { 'Content-Type': 'application/xml' });
            res.end('<Error><Code>AccessDenied</Code><Message>no</Message></Error>');
          } else {
            res.writeHead(200, { ETag: `"etag${n}"` });
            res.end();
          }
        });
      } else if (req.method === 'DELETE' && url.searchParams.get('uploadId') === 'U1') {
        events.push('abort');
        res.writeHead(204);
        res.end();
      } else {
        events.push(`unexpected ${req.method} ${req.url}`);
        res.writeHead(500);
        res.end();
      }
    });
  };
  await withFakeS3(fake, async (endpoint) => {
    const b = await plugin.create(testCtx(), plugin.parseConfig({ bucket: 'b', endpoint, insecure: true, access_key: 'a', secret_key: 's', part_size: 5 * 1024 * 1024 }));
    try {
      await b.upload('k', new Uint8Array(16 * 1024 * 1024));
      assert.unreachable('expected AccessDenied');
    } catch (err) {
      assert.match(String(err), /403 AccessDenied/);
    }
  });
  assert.is(events[0], 'initiate');
  assert.is(events[events.length - 1], 'abort', events.join(','));
  assert.ok(events.includes('part1'), 'the slow first part settled before the abort');
  assert.ok(!events.some((e) => e.startsWith('unexpected')), events.join(','));
  assert.ok(maxActive >= 2, `parts were uploaded concurrently (max ${maxActive})`);
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
