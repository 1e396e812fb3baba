import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { ObjectNotFoundError, getRangeInto, readAll, streamInto, type Bucket } from '../../lib/objstore/bucket.ts';
import { TracingBucket } from '../../lib/objstore/kit/tracing.ts';
import { PrefixedBucket } from '../../lib/objstore/prefix.ts';
import { MetricsBucket } from '../../lib/objstore/metrics.ts';
import { RetryBucket, isRetryableError } from '../../lib/objstore/retry.ts';
import { parseBucketConfig, createBucket } from '../../lib/objstore/factory.ts';
import memory, { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { Registry } from '../../host/metrics.ts';

const enc = new TextEncoder();

// The whole acceptance suite through all three wrappers, under a prefix.
registerAcceptance(test, async () => new MetricsBucket(new RetryBucket(new PrefixedBucket(new MemoryBucket(), 'tenant/a/')), new Registry(), 'acc'), { name: 'wrapped: ' });

test('prefix: objects live under the prefix; iter names are relative', async () => {
  const inner = new MemoryBucket();
  const b = new PrefixedBucket(inner, '/p1/p2/');
  await b.upload('dir/x', enc.encode('1'));
  assert.ok(await inner.exists('p1/p2/dir/x'));
  const names: string[] = [];
  for await (const n of b.iter('')) names.push(n);
  assert.equal(names, ['dir/']);
  for await (const n of b.iter('dir', { recursive: true })) names.push(n);
  assert.equal(names, ['dir/', 'dir/x']);
});

test('metrics: operations, failures (not-found is expected), bytes', async () => {
  const reg = new Registry();
  const b = new MetricsBucket(new MemoryBucket(), reg, 'primary');
  await b.upload('a', enc.encode('hello'));
  await readAll(await b.get('a'));
  await readAll(await b.getRange('a', 1, 2));
  await b.get('missing').catch(() => {});
  await b.exists('a');
  await b.upload('../bad', enc.encode('x')).catch(() => {});
  const text = reg.render();
  assert.match(text, /thanos_objstore_bucket_operations_total\{bucket="primary",operation="get"\} 2\n/);
  assert.match(text, /thanos_objstore_bucket_operations_total\{bucket="primary",operation="upload"\} 2\n/);
  assert.match(text, /thanos_objstore_bucket_operation_failures_total\{bucket="primary",operation="get"\} 0\n/);
  assert.match(text, /thanos_objstore_bucket_operation_failures_total\{bucket="primary",operation="upload"\} 1\n/);
  assert.match(text, /thanos_objstore_bucket_operation_fetched_bytes_total\{bucket="primary",operation="get"\} 5\n/);
  assert.match(text, /thanos_objstore_bucket_operation_fetched_bytes_total\{bucket="primary",operation="get_range"\} 2\n/);
  assert.match(text, /thanos_objstore_bucket_operation_duration_seconds_count\{bucket="primary",operation="exists"\} 1\n/);
  assert.match(text, /thanos_objstore_bucket_last_successful_upload_time\{bucket="primary"\} \d/);
});

test('metrics: every series objstore\'s WrapWithMetrics creates exists before the first operation, with its buckets', () => {
  const reg = new Registry();
  new MetricsBucket(new MemoryBucket(), reg, 'b');
  const lines = reg.render().split('\n');
  for (const op of ['iter', 'get', 'get_range', 'exists', 'upload', 'delete', 'attributes']) {
    for (const m of ['operations_total', 'operation_failures_total', 'operation_fetched_bytes_total', 'operation_duration_seconds_count']) {
      assert.ok(lines.includes(`thanos_objstore_bucket_${m}{bucket="b",operation="${op}"} 0`), `${m} ${op}`);
    }
  }
  for (const op of ['get', 'get_range', 'upload']) {
    // ExponentialBuckets(32 KiB, 2, 16): the last finite bucket is 1 GiB.
    assert.ok(lines.includes(`thanos_objstore_bucket_operation_transferred_bytes_bucket{bucket="b",operation="${op}",le="1.073741824e+09"} 0`), op);
    assert.ok(lines.includes(`thanos_objstore_bucket_operation_transferred_bytes_bucket{bucket="b",operation="${op}",le="32768"} 0`), op);
  }
  assert.ok(lines.includes('thanos_objstore_bucket_operation_duration_seconds_bucket{bucket="b",operation="get",le="120"} 0'));
  assert.ok(lines.includes('thanos_objstore_bucket_last_successful_upload_time{bucket="b"} 0'));
});

class Flaky extends MemoryBucket {
  failures = 0;
  calls = 0;
  constructor(private n: number, private err: () => unknown) { super(); }
  override async exists(name: string) {
    this.calls++;
    if (this.failures < this.n) { this.failures++; throw this.err(); }
    return super.exists(name);
  }
  override async get(name: string) {
    this.calls++;
    if (this.failures < this.n) { this.failures++; throw this.err(); }
    return super.get(name);
  }
  override async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array) {
    this.calls++;
    if (this.failures < this.n) { this.failures++; throw this.err(); }
    return super.upload(name, body);
  }
}
const noSleep = { sleep: async () => {} };

test('retry: transient errors are retried with backoff, then succeed', async () => {
  const inner = new Flaky(2, () => Object.assign(new Error('503'), { status: 503 }));
  const delays: number[] = [];
  const b = new RetryBucket(inner, { baseDelayMs: 100, sleep: async (ms) => { delays.push(ms); } });
  assert.is(await b.exists('x'), false);
  assert.is(inner.calls, 3);
  assert.is(delays.length, 2);
  assert.ok(delays[0]! >= 50 && delays[0]! <= 100 && delays[1]! >= 100 && delays[1]! <= 200, `exponential: ${delays}`);
});

/** A memory bucket that reads into the caller's buffer itself, failing the first `fails` times. */
class IntoBucket extends MemoryBucket {
  into = 0;
  constructor(private fails = 0) { super(); }
  async getRangeInto(name: string, off: number, dst: Uint8Array): Promise<number> {
    this.into++;
    if (this.fails-- > 0) throw Object.assign(new Error('503'), { status: 503 });
    const data = await readAll(await this.getRange(name, off, dst.length));
    dst.set(data);
    return data.length;
  }
}

test('getRangeInto through prefix, retry, metrics and tracing: the provider\'s own is used, retried and counted as get_range', async () => {
  const inner = new IntoBucket(1);
  const reg = new Registry();
  const b = new TracingBucket(new MetricsBucket(new RetryBucket(new PrefixedBucket(inner, 'p'), noSleep), reg, 'into'));
  await b.upload('obj', enc.encode('0123456789'));
  const dst = new Uint8Array(8);
  assert.is(await getRangeInto(b, 'obj', 4, dst), 6);
  assert.is(new TextDecoder().decode(dst.subarray(0, 6)), '456789');
  assert.is(inner.into, 2, 'the provider\'s own read, once failed and retried');
  const text = reg.render();
  assert.match(text, /thanos_objstore_bucket_operations_total\{bucket="into",operation="get_range"\} 1\n/);
  assert.match(text, /thanos_objstore_bucket_operation_fetched_bytes_total\{bucket="into",operation="get_range"\} 6\n/);
  await getRangeInto(b, 'missing', 0, dst).then(() => assert.unreachable(), (err) => assert.ok(b.isObjNotFoundErr(err)));
  assert.match(reg.render(), /thanos_objstore_bucket_operation_failures_total\{bucket="into",operation="get_range"\} 0\n/);
});

test('getRangeInto over a provider without it: getRange copied into the buffer, a longer body cut at its end', async () => {
  const m = new MemoryBucket();
  await m.upload('obj', enc.encode('0123456789'));
  assert.is((m as Bucket).getRangeInto, undefined);
  const dst = new Uint8Array(4);
  assert.is(await getRangeInto(new RetryBucket(m, noSleep), 'obj', 3, dst), 4);
  assert.is(new TextDecoder().decode(dst), '3456');
  // a stream handing out more than fits (a provider ignoring the length) is cut, not overrun
  const long = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(enc.encode('abcdef')); c.enqueue(enc.encode('ghi')); c.close(); } });
  const small = new Uint8Array(5);
  assert.is(await streamInto(long, small), 5);
  assert.is(new TextDecoder().decode(small), 'abcde');
});

test('retry: gives up after the configured retries', async () => {
  const inner = new Flaky(10, () => Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
  const b = new RetryBucket(inner, { retries: 2, ...noSleep });
  await b.exists('x').then(() => assert.unreachable(), (err) => assert.match(String(err), /reset/));
  assert.is(inner.calls, 3);
});

test('retry: not-found and permanent errors are never retried', async () => {
  const inner = new Flaky(1, () => new ObjectNotFoundError('x'));
  const b = new RetryBucket(inner, noSleep);
  await b.get('x').then(() => assert.unreachable(), (err) => assert.ok(b.isObjNotFoundErr(err)));
  assert.is(inner.calls, 1);
  const inner2 = new Flaky(1, () => Object.assign(new Error('forbidden'), { status: 403 }));
  await new RetryBucket(inner2, noSleep).exists('x').catch(() => {});
  assert.is(inner2.calls, 1);
  assert.is(isRetryableError(new Error('plain')), false);
});

test('retry: a streamed upload is not retried (its body is consumed), bytes are', async () => {
  const inner = new Flaky(1, () => Object.assign(new Error('503'), { status: 503 }));
  const b = new RetryBucket(inner, noSleep);
  const s = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(enc.encode('x')); c.close(); } });
  await b.upload('a', s).then(() => assert.unreachable(), () => {});
  assert.is(inner.calls, 1);
  const inner2 = new Flaky(1, () => Object.assign(new Error('503'), { status: 503 }));
  await new RetryBucket(inner2, noSleep).upload('a', enc.encode('x'));
  assert.is(inner2.calls, 2);
});

test('factory: type is case-insensitive, config and prefix are applied', async () => {
  const cfg = parseBucketConfig('type: memory\nconfig: {}\nprefix: /tenant-1/\n', 'bucket.yaml');
  assert.is(cfg.type, 'MEMORY');
  assert.is(cfg.prefix, 'tenant-1');
  const reg = new Registry();
  let inner: Bucket | undefined;
  const b = await createBucket(cfg, {
    loadProvider: async (t) => {
      assert.is(t, 'MEMORY');
      return { ...memory, create: async () => (inner = new MemoryBucket()) };
    },
    capabilities: () => ({}) as never,
    metrics: reg,
    name: 'primary',
  });
  await b.upload('o', enc.encode('1'));
  assert.ok(await inner!.exists('tenant-1/o'));
  assert.match(reg.render(), /operation="upload"\} 1/);
});

test('factory: the retry layer is added unless the provider retries itself', async () => {
  const cfg = parseBucketConfig('type: MEMORY\n', 'b.yaml');
  for (const [retries, calls] of [[undefined, 2], ['provider', 1]] as const) {
    const inner = new Flaky(1, () => Object.assign(new Error('503'), { status: 503 }));
    const b = await createBucket(cfg, { loadProvider: async () => ({ ...memory, retries, create: async () => inner }), capabilities: () => ({}) as never, retry: { sleep: async () => {} } });
    await b.exists('x').catch(() => {});
    assert.is(inner.calls, calls, `retries: ${retries}`);
  }
});

test('factory: strict errors name the source and line', () => {
  assert.throws(() => parseBucketConfig('type: S3\nconfig:\n  bucket: x\nprefx: a\n', 'bucket_config.yaml'), /bucket_config\.yaml:4: unknown key "prefx"/);
  assert.throws(() => parseBucketConfig('config: {}\n', 'b.yaml'), /b\.yaml: "type" must be a non-empty string/);
  assert.throws(() => parseBucketConfig('', 'b.yaml'), /b\.yaml: empty object storage configuration/);
  assert.throws(() => parseBucketConfig('type: S3\nconfig: [1]\n', 'b.yaml'), /"config" must be a mapping/);
  assert.throws(() => parseBucketConfig('type: [S3\n', 'b.yaml'), /b\.yaml:\d+: invalid YAML/);
  assert.throws(() => parseBucketConfig('type: S3\ntype: GCS\n', 'b.yaml'), /invalid YAML/);
});

test('factory: a provider config error names the source and field', async () => {
  const cfg = parseBucketConfig('type: MEMORY\nconfig:\n  directory: /x\n', 'b.yaml');
  await createBucket(cfg, { loadProvider: async () => memory, capabilities: () => ({}) as never }).then(
    () => assert.unreachable(),
    (err) => assert.match(String(err), /b\.yaml: type MEMORY: config\.directory: unknown field/),
  );
});

test('factory: the reference deployment\'s bucket_config.yaml parses as written', async () => {
  const yaml = `type: S3
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
  const cfg = parseBucketConfig(yaml, 'bucket_config.yaml');
  assert.is(cfg.type, 'S3');
  assert.is(cfg.prefix, '');
  const c = cfg.config as Record<string, unknown>;
  assert.is(c.bucket, 'bucket-name');
  assert.is(c.insecure, true);
  assert.is(c.part_size, 134217728);
  assert.equal(c.http_config, { idle_conn_timeout: '90s', response_header_timeout: '2m', insecure_skip_verify: false });
  // If the S3 plugin exists, it must accept this config as written.
  const { loadBuiltinObjstore, NotImplementedError } = await import('../../host/loader.ts');
  try {
    const s3 = await loadBuiltinObjstore('s3');
    s3.parseConfig(cfg.config);
  } catch (err) {
    if (!(err instanceof NotImplementedError)) throw err;
  }
});

test.run();
