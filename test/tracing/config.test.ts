// --tracing.config(-file): Thanos's YAML (type + config) for OTLP and JAEGER, every other provider
// refused by name, unknown keys and unreproducible keys refused with the key and line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTracingConfig, REFUSED_TRACING_TYPES, type JaegerTracingConfig, type OtlpTracingConfig } from '../../lib/tracing/config.ts';
import { loadTracingYaml } from '../../host/tracing.ts';
import { readManifest } from '../../host/manifest.ts';
import { parseCommandLine } from '../../host/cli.ts';

const otlp = (y: string) => parseTracingConfig(y, 'tracing.yaml') as OtlpTracingConfig;
const jaeger = (y: string, env: Record<string, string> = {}) => parseTracingConfig(y, 'tracing.yaml', env) as JaegerTracingConfig;
const fails = (y: string, re: RegExp) => {
  try {
    parseTracingConfig(y, 'tracing.yaml', {});
  } catch (err) {
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`accepted: ${y}`);
};

test('OTLP gRPC: upstream defaults (localhost:4317 over TLS, 10s, ParentBased(ratio 1))', () => {
  const c = otlp('type: OTLP\nconfig:\n  client_type: grpc\n');
  assert.is(c.type, 'OTLP');
  assert.is(c.clientType, 'grpc');
  assert.is(c.url, 'https://localhost:4317');
  assert.is(c.timeoutMs, 10_000);
  assert.is(c.compression, 'none');
  assert.equal(c.sampler, { kind: 'parent_based', root: { kind: 'ratio', ratio: 1 } });
  assert.is(c.serviceName, '');
});

test('OTLP HTTP: endpoint is host:port, scheme from insecure, path from url_path; type is case-insensitive', () => {
  const c = otlp(`type: otlp
config:
  client_type: http
  service_name: querier
  endpoint: 127.0.0.1:4318
  insecure: true
  url_path: /custom/traces
  timeout: 1m30s
  compression: gzip
  headers: { x-scope-orgid: team-a }
  resource_attributes: { env: prod }
  sampler_type: ParentBasedTraceIDRatioBased
  sampler_param: "0.25"
`);
  assert.is(c.url, 'http://127.0.0.1:4318/custom/traces');
  assert.is(c.timeoutMs, 90_000);
  assert.is(c.compression, 'gzip');
  assert.equal(c.headers, { 'x-scope-orgid': 'team-a' });
  assert.equal(c.resourceAttributes, { env: 'prod' });
  assert.is(c.serviceName, 'querier');
  assert.equal(c.sampler, { kind: 'parent_based', root: { kind: 'ratio', ratio: 0.25 } });
  assert.is(otlp('type: OTLP\nconfig: { client_type: http }').url, 'https://localhost:4318/v1/traces');
  assert.is(otlp('type: OTLP\nconfig: { client_type: grpc, timeout: 2000000000 }').timeoutMs, 2000, 'an integer is nanoseconds, as yaml.v2 reads time.Duration');
});

test('OTLP sampler types as upstream, compared lower-cased', () => {
  const s = (t: string, p = '') => otlp(`type: OTLP\nconfig: { client_type: grpc, sampler_type: ${t}${p ? `, sampler_param: "${p}"` : ''} }`).sampler;
  assert.equal(s('alwayssample'), { kind: 'always_on' });
  assert.equal(s('NeverSample'), { kind: 'always_off' });
  assert.equal(s('traceidratiobased', '0.5'), { kind: 'ratio', ratio: 0.5 });
  assert.equal(s('parentbasedalwayssample'), { kind: 'parent_based', root: { kind: 'always_on' } });
  assert.equal(s('parentbasedneversample'), { kind: 'parent_based', root: { kind: 'always_off' } });
  fails('type: OTLP\nconfig: { client_type: grpc, sampler_type: sometimes }', /config\.sampler_type: unknown sampler_type "sometimes"/);
  fails('type: OTLP\nconfig: { client_type: grpc, sampler_type: traceidratiobased }', /config\.sampler_param: is required/);
  fails('type: OTLP\nconfig: { client_type: grpc, sampler_type: traceidratiobased, sampler_param: "2" }', /between 0 and 1/);
});

test('OTLP refusals name the key (and the line)', () => {
  fails('type: OTLP\nconfig:\n  client_type: grpc\n  endpointt: x:1\n', /^tracing\.yaml:2: config\.endpointt: unknown field "endpointt"/);
  fails('type: OTLP\nconfig:\n  client_type: udp\n', /Only 'http' and 'grpc' are accepted/);
  fails('type: OTLP\nconfig:\n  endpoint: x:1\n', /client_type/);
  fails('type: OTLP\nconfig: { client_type: grpc, endpoint: "http://collector:4317" }', /config\.endpoint: expected host:port without a scheme/);
  fails('type: OTLP\nconfig: { client_type: grpc, retry_config: { retry_enabled: true } }', /retry_config\.retry_enabled: is not implemented yet/);
  fails('type: OTLP\nconfig: { client_type: grpc, reconnection_period: 5s }', /reconnection_period: is not implemented yet/);
  fails('type: OTLP\nconfig: { client_type: grpc, compression: zstd }', /config\.compression: unsupported compression "zstd"/);
  fails('type: OTLP\nconfig: { client_type: grpc, url_path: /v1/traces }', /url_path: applies to client_type http only/);
  fails('type: OTLP\nconfig: { client_type: grpc, timeout: soon }', /config\.timeout: invalid duration/);
  fails('type: OTLP\nconfig: { client_type: grpc, tls_config: { cert_file: a.pem } }', /specified without client key file/);
  fails('type: OTLP\nconfig: { client_type: grpc, tls_config: { insecure_skip_verify: true } }', /insecure_skip_verify: is not implemented yet for client_type grpc/);
  fails('type: OTLP\nconfig: { client_type: http, insecure: true, tls_config: { ca_file: ca.pem } }', /tls_config: has no effect with insecure: true/);
  fails('type: OTLP\nconfig: { client_type: grpc }\nextra: 1\n', /^tracing\.yaml:3: extra: unknown field/);
});

test('types Thanos knows but this implementation lacks are refused by name; unknown types as upstream', () => {
  for (const t of REFUSED_TRACING_TYPES) fails(`type: ${t}\nconfig: {}`, new RegExp(`tracing with type ${t} is not implemented yet`));
  fails('type: ZIPKIN\nconfig: {}', /tracing with type ZIPKIN is not supported/);
  fails('', /empty tracing configuration/);
  fails('type: [1]', /type: must be a non-empty string/);
  fails('type: OTLP\ntype: OTLP\n', /parsing config tracing YAML/);
});

test('JAEGER: the collector endpoint, const/probabilistic samplers, tags with ${ENV:default}', () => {
  const c = jaeger(`type: JAEGER
config:
  service_name: store
  endpoint: http://127.0.0.1:14268/api/traces
  user: u
  password: p
  sampler_type: probabilistic
  sampler_param: 0.1
  sampler_parent_config: { remote_parent_sampled: true }
  tags: "dc=eu-1, pod=\${POD_NAME:unknown}, host=\${HOSTX:}, junk"
  reporter_max_queue_size: 50
  reporter_flush_interval: 2s
  traceid_128bit: true
`, { POD_NAME: 'store-0' });
  assert.is(c.endpoint, 'http://127.0.0.1:14268/api/traces');
  assert.is(c.user, 'u');
  assert.is(c.password, 'p');
  assert.equal(c.sampler, { kind: 'parent_based', root: { kind: 'ratio', ratio: 0.1 }, localParentSampled: undefined, remoteParentSampled: { kind: 'ratio', ratio: 0.1 } });
  assert.equal(c.resourceAttributes, { dc: 'eu-1', pod: 'store-0', host: '' });
  assert.is(c.maxQueueSize, 50);
  assert.is(c.flushIntervalMs, 2000);
  assert.equal(c.deprecated, ['Gen128Bit']);
  const k = jaeger('type: JAEGER\nconfig: { endpoint: "http://j:14268/api/traces", sampler_type: const, sampler_param: 1 }');
  assert.equal(k.sampler.kind === 'parent_based' && k.sampler.root, { kind: 'always_on' });
  const off = jaeger('type: JAEGER\nconfig: { endpoint: "http://j:14268/api/traces", sampler_type: const, sampler_param: 0.4 }');
  assert.equal(off.sampler.kind === 'parent_based' && off.sampler.root, { kind: 'always_off' }, 'const rounds its parameter, as upstream');
});

test('JAEGER refusals: agent reporting, remote/rate-limiting samplers, missing endpoint', () => {
  fails('type: JAEGER\nconfig: { sampler_type: const, sampler_param: 1 }', /config\.endpoint: is required here/);
  fails('type: JAEGER\nconfig: { agent_host: localhost, agent_port: 6831, sampler_type: const }', /config\.agent_host: is not implemented yet/);
  fails('type: JAEGER\nconfig: { endpoint: "http://j:14268/api/traces" }', /config\.sampler_type: empty \(upstream's default, the rate-limiting sampler\)/);
  fails('type: JAEGER\nconfig: { endpoint: "http://j:14268/api/traces", sampler_type: remote }', /remote and rate-limiting samplers are not implemented yet/);
  fails('type: JAEGER\nconfig: { endpoint: "http://j:14268/api/traces", sampler_type: const, sampling_server_url: "http://x" }', /sampling_server_url: belongs to the remote/);
  fails('type: JAEGER\nconfig: { endpoint: "udp://j:6831", sampler_type: const }', /expected an http or https URL/);
  fails('type: JAEGER\nconfig: { endpoint: "http://j:14268/api/traces", sampler_type: const, colour: red }', /config\.colour: unknown field/);
});

test('the flags: only one of --tracing.config-file and --tracing.config; an empty file means no tracing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracing-cfg-'));
  try {
    writeFileSync(join(dir, 'empty.yaml'), '\n');
    writeFileSync(join(dir, 't.yaml'), 'type: OTLP\nconfig: { client_type: grpc, endpoint: "127.0.0.1:4317", insecure: true }\n');
    assert.is(loadTracingYaml({}), undefined);
    assert.is(loadTracingYaml({ tracingConfigFile: join(dir, 'empty.yaml') }), undefined);
    assert.is(loadTracingYaml({ tracingConfigFile: join(dir, 't.yaml') })!.type, 'OTLP');
    assert.is((loadTracingYaml({ tracingConfig: 'type: OTLP\nconfig: { client_type: http, insecure: true }' }) as OtlpTracingConfig).url, 'http://localhost:4318/v1/traces');
    assert.throws(() => loadTracingYaml({ tracingConfigFile: join(dir, 'missing.yaml') }), /--tracing.config-file: cannot read .*ENOENT/);
    assert.throws(() => loadTracingYaml({ tracingConfigFile: join(dir, 't.yaml'), tracingConfig: 'type: OTLP' }), /only one of --tracing.config-file and --tracing.config/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plugins.yaml: a top-level tracing: block, errors naming the manifest line and key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracing-manifest-'));
  try {
    const file = join(dir, 'plugins.yaml');
    writeFileSync(file, 'apiVersion: 1\ntracing:\n  type: OTLP\n  config:\n    client_type: grpc\n    endpoint: 127.0.0.1:4317\n    insecure: true\ncomponents: []\n');
    const m = readManifest(file);
    assert.is((m.tracing as OtlpTracingConfig).url, 'http://127.0.0.1:4317');
    writeFileSync(file, 'apiVersion: 1\ntracing:\n  type: OTLP\n  config:\n    client_type: grpc\n    sampler: always\ncomponents: []\n');
    assert.throws(() => readManifest(file), /plugins\.yaml:6: tracing\.config\.sampler: unknown field "sampler"/);
    writeFileSync(file, 'apiVersion: 1\ntracing:\n  type: LIGHTSTEP\ncomponents: []\n');
    assert.throws(() => readManifest(file), /plugins\.yaml:3: tracing\.type: tracing with type LIGHTSTEP is not implemented yet/);
    writeFileSync(file, 'apiVersion: 1\ncomponents: []\n');
    assert.is(readManifest(file).tracing, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('command line: the tracing flags for components and tools, also before the command', async () => {
  const c = await parseCommandLine(['--tracing.config', 'type: OTLP', 'store', '--objstore.config', 'type: in-memory']);
  assert.is(c.kind === 'component' && c.host.tracingConfig, 'type: OTLP');
  const t = await parseCommandLine(['tools', 'bucket', 'ls', '--objstore.config', 'type: in-memory', '--tracing.config-file', 'x.yaml']);
  assert.is(t.kind === 'tool' && t.host.tracingConfigFile, 'x.yaml');
  let msg = '';
  await parseCommandLine(['query', '--tracing.config-file', 'a.yaml', '--tracing.config', 'type: OTLP']).catch((e: Error) => (msg = e.message));
  assert.match(msg, /give only one of --tracing.config-file and --tracing.config/);
});

test.run();
