// The host's OpenTelemetry SDK (host/tracing.ts) against real loopback receivers: OTLP over gRPC
// (a grpc-js server decoding the ExportTraceServiceRequest), JAEGER to an HTTP Thrift collector
// (decoded with thriftrw and Jaeger's own IDL), the thanos.force_tracing override of the sampler,
// and the object-store span wrapper (span per operation, a get's span ending when its body is drained).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import protobuf from 'protobufjs';
import { parseTracingConfig } from '../../lib/tracing/config.ts';
import { doInSpan, FORCE_TRACING_ATTRIBUTE, tracer } from '../../lib/tracing/mod.ts';
import { TracingBucket } from '../../lib/objstore/kit/tracing.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { createLogger } from '../../host/log.ts';
import { setupTracing } from '../../host/tracing.ts';
import { freePort } from '../harness/ports.ts';

const require = createRequire(import.meta.url);
const log = createLogger({ level: 'error' });

// opentelemetry-proto's ExportTraceServiceRequest, the fields read here.
const Request = protobuf.Root.fromJSON({
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Span: { fields: { name: { type: 'string', id: 5 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: { fields: { stringValue: { type: 'string', id: 1 } } },
  },
}).lookupType('ExportTraceServiceRequest');

test('OTLP over gRPC (insecure): spans, resource attributes, service name and headers reach the collector', async () => {
  const got: Array<{ service: string; env: string; names: string[]; header: unknown }> = [];
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  server.addService({
    Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
  }, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const req = Request.toObject(Request.decode(call.request)) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue: string } }> }; scopeSpans: Array<{ spans: Array<{ name: string }> }> }> };
      for (const rs of req.resourceSpans) {
        const attr = (k: string) => rs.resource.attributes.find((a) => a.key === k)?.value.stringValue ?? '';
        got.push({ service: attr('service.name'), env: attr('env'), names: rs.scopeSpans.flatMap((s) => s.spans.map((x) => x.name)), header: call.metadata.get('x-scope-orgid')[0] });
      }
      cb(null, Buffer.alloc(0));
    },
  });
  const port = await freePort();
  await new Promise<void>((res, rej) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  try {
    const cfg = parseTracingConfig(`type: OTLP
config:
  client_type: grpc
  endpoint: 127.0.0.1:${port}
  insecure: true
  compression: gzip
  headers: { x-scope-orgid: team-a }
  resource_attributes: { env: test }
  sampler_type: alwayssample
`, 'test');
    const h = await setupTracing(cfg, { defaultServiceName: 'thanos-sidecar', log });
    await doInSpan('outer', undefined, async () => {
      await doInSpan('inner', undefined, async () => {});
    });
    await h.shutdown(); // flushes the batch
    assert.is(got.length, 1, 'one export');
    assert.equal(got[0], { service: 'thanos-sidecar', env: 'test', names: ['inner', 'outer'], header: 'team-a' });
  } finally {
    server.forceShutdown();
  }
});

test('JAEGER: the collector endpoint receives Thrift batches with the service name, tags and basic auth', async () => {
  const bodies: Array<{ body: Buffer; type?: string; auth?: string; url?: string }> = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      bodies.push({ body: Buffer.concat(parts), type: req.headers['content-type'], auth: req.headers.authorization, url: req.url });
      res.writeHead(202).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  try {
    const cfg = parseTracingConfig(`type: JAEGER
config:
  service_name: my-store
  endpoint: http://127.0.0.1:${port}/api/traces
  user: u
  password: p
  sampler_type: const
  sampler_param: 1
  tags: "dc=eu-1"
`, 'test');
    const h = await setupTracing(cfg, { defaultServiceName: 'thanos-store', log });
    await doInSpan('bucket_store_series', { blocks: 2 }, async () => {});
    await h.shutdown();
    assert.ok(bodies.length >= 1, 'a batch was posted');
    assert.is(bodies[0]!.url, '/api/traces');
    assert.is(bodies[0]!.type, 'application/x-thrift');
    assert.is(bodies[0]!.auth, `Basic ${Buffer.from('u:p').toString('base64')}`);
    const { Thrift } = require('thriftrw') as { Thrift: new (o: object) => { Batch: { fromBuffer(b: Buffer): { process: { serviceName: string; tags: Array<{ key: string; vStr: string }> }; spans: Array<{ operationName: string; tags: Array<{ key: string; vStr?: string; vLong?: unknown }> }> } } } };
    const idl = readFileSync(require.resolve('jaeger-client/dist/src/jaeger-idl/thrift/jaeger.thrift'), 'utf8');
    const batch = new Thrift({ source: idl, allowOptionalArguments: true }).Batch.fromBuffer(bodies[0]!.body);
    assert.is(batch.process.serviceName, 'my-store');
    assert.equal(batch.spans.map((s) => s.operationName), ['bucket_store_series']);
    const tags = [...batch.process.tags, ...batch.spans[0]!.tags];
    assert.ok(tags.some((t) => t.key === 'dc' && t.vStr === 'eu-1'), `tags carry dc=eu-1: ${JSON.stringify(tags.map((t) => t.key))}`);
  } finally {
    server.close();
  }
});

test('a span with thanos.force_tracing is sampled even by neversample; one provider per process', async () => {
  let posts = 0;
  const names: string[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      posts++;
      const r = Request.toObject(Request.decode(Buffer.concat(parts))) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> };
      for (const rs of r.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) names.push(s.name);
      res.writeHead(200).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  try {
    const cfg = parseTracingConfig(`type: OTLP\nconfig: { client_type: http, endpoint: "127.0.0.1:${port}", insecure: true, sampler_type: neversample }`, 'test');
    const h = await setupTracing(cfg, { defaultServiceName: 'thanos-query', log });
    assert.match(await setupTracing(cfg, { defaultServiceName: 'x', log }).then(() => '', (e: Error) => e.message), /already registered/);
    tracer().startSpan('not_sampled').end();
    tracer().startSpan('forced', { attributes: { [FORCE_TRACING_ATTRIBUTE]: true } }).end();
    await h.shutdown();
    assert.equal(names, ['forced']);
    assert.is(posts, 1);
  } finally {
    server.close();
  }
});

test('object-store spans: one per operation, a get lasts until its body is drained or cancelled', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  try {
    const b = new TracingBucket(new MemoryBucket());
    await doInSpan('parent', undefined, async () => {
      await b.upload('a/obj', new Uint8Array(1000).fill(7));
      assert.ok(await b.exists('a/obj'));
      const names: string[] = [];
      for await (const n of b.iter('a/')) names.push(n);
      assert.equal(names, ['a/obj']);
      const body = await b.getRange('a/obj', 100, 300);
      assert.not.ok(exporter.getFinishedSpans().some((s) => s.name === 'bucket_getrange'), 'still open while the body is unread');
      const bytes = new Uint8Array(await new Response(body).arrayBuffer());
      assert.is(bytes.length, 300);
      const cancelled = await b.get('a/obj');
      await cancelled.cancel();
      assert.ok(await b.get('missing').then(() => false, (e) => b.isObjNotFoundErr(e)), 'a missing object fails as not found');
      await b.delete('a/obj');
    });
    const spans = exporter.getFinishedSpans();
    const parent = spans.find((s) => s.name === 'parent')!;
    const ops = spans.filter((s) => s.name.startsWith('bucket_'));
    assert.equal(ops.map((s) => s.name).sort(), ['bucket_delete', 'bucket_exists', 'bucket_get', 'bucket_get', 'bucket_getrange', 'bucket_iter', 'bucket_upload']);
    for (const s of ops) assert.is(s.parentSpanContext?.spanId, parent.spanContext().spanId, `${s.name} is a child of the active span`);
    const range = ops.find((s) => s.name === 'bucket_getrange')!;
    assert.equal([range.attributes.name, range.attributes.offset, range.attributes.length, range.attributes.read], ['a/obj', 100, 300, 300]);
    const gets = ops.filter((s) => s.name === 'bucket_get');
    assert.ok(gets.some((s) => s.attributes.not_found === true), 'a missing object is marked, not an error');
    assert.ok(gets.some((s) => s.attributes.read === 0 && s.attributes.name === 'a/obj'), 'a cancelled body ends its span');
  } finally {
    await provider.shutdown();
    trace.disable();
    context.disable();
  }
});

test.run();
