// No silent acceptance (issue #10 item 9): a flag or config key that is parsed but has no effect is
// refused with an error that names it. Table-driven over the real components and tools: every
// refused flag errors naming itself (on the command line and, for components, as a plugins.yaml
// config key); the values a refused flag still accepts pass; the reference deployment still parses;
// and every flag a component does not refuse changes its parsed config.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommandLine, planManifest, type Invocation } from '../../host/main.ts';
import { FlagError } from '../../lib/sdk/flags.ts';
import { ConfigError, type ComponentPlugin, type FlagSpec } from '../../host/index.ts';
import { loadBuiltinComponent } from '../../host/loader.ts';
import { ManifestError, parseManifest } from '../../host/manifest.ts';
import { createLogger } from '../../host/log.ts';
import { parseQueryConfig } from '../../plugins/component/query/config.ts';

// [command line, the flag the error must name]
const REFUSED: Array<[string, string]> = [
  // query
  ['query --objstore.config-file=bucket.yaml', 'objstore.config-file'],
  ['query --objstore.config=x', 'objstore.config'],
  ['query --data-dir=./q', 'data-dir'],
  ['query --store.sd-dns-interval=1m', 'store.sd-dns-interval'],
  ['query --alert.query-url=http://q', 'alert.query-url'],
  ['query --query.mode=distributed', 'query.mode'],
  ['query --grpc-compression=snappy', 'grpc-compression'],
  // sidecar, receive
  ['sidecar --data-dir=./d', 'data-dir'],
  ['receive --label=a="b" --data-dir=./d', 'data-dir'],
  // store
  ['store --chunk-pool-size=1GB', 'chunk-pool-size'],
  ['store --no-store.enable-index-header-lazy-reader', 'store.enable-index-header-lazy-reader'],
  ['store --block-discovery-strategy=recursive', 'block-discovery-strategy'],
  // compact
  ['compact --compact.blocks-fetch-concurrency=4', 'compact.blocks-fetch-concurrency'],
  ['compact --compact.cleanup-interval=10m', 'compact.cleanup-interval'],
  ['compact --compact.progress-interval=1m', 'compact.progress-interval'],
  ['compact --block-files-concurrency=4', 'block-files-concurrency'],
  ['compact --hash-func=SHA256', 'hash-func'],
  ['compact --block-viewer.global.sync-block-timeout=1m', 'block-viewer.global.sync-block-timeout'],
  ['compact --deduplication.func=penalty', 'deduplication.func'],
  // tools: host flags a command has no use for, and its own no-op flags
  ['tools bucket ls --objstore.config-file=b.yaml --http-address=0.0.0.0:1', 'http-address'],
  ['bucket ls --objstore.config-file=b.yaml --data-dir=./x', 'data-dir'],
  ['bucket ls --objstore.config-file=b.yaml --grpc-address=0.0.0.0:1', 'grpc-address'],
  ['bucket inspect --objstore.config-file=b.yaml --timeout=1m', 'timeout'],
  ['bucket verify --objstore.config-file=b.yaml --delete-delay=1h', 'delete-delay'],
  ['bucket cleanup --objstore.config-file=b.yaml --block-sync-concurrency=4', 'block-sync-concurrency'],
  ['bucket cleanup --objstore.config-file=b.yaml --data-dir=./x', 'data-dir'],
  ['bucket retention --objstore.config-file=b.yaml --http-grace-period=1m', 'http-grace-period'],
  ['downsample --objstore.config-file=b.yaml --wait-interval=1m', 'wait-interval'],
  ['downsample --objstore.config-file=b.yaml --hash-func=SHA256', 'hash-func'],
  ['downsample --objstore.config-file=b.yaml --block-files-concurrency=2', 'block-files-concurrency'],
  ['downsample --objstore.config-file=b.yaml --http-address=0.0.0.0:1', 'http-address'],
  ['bucket upload-blocks --objstore.config-file=b.yaml --label=a="b" --shipper.upload-concurrency=5', 'shipper.upload-concurrency'],
  ['bucket rewrite --objstore.config-file=b.yaml --prom-blocks=false', 'prom-blocks'],
  ['bucket rewrite --objstore.config-file=b.yaml --hash-func=SHA256', 'hash-func'],
  ['bucket web --objstore.config-file=b.yaml --timeout=1m', 'timeout'],
  ['bucket web --objstore.config-file=b.yaml --http-grace-period=1m', 'http-grace-period'],
  ['bucket web --objstore.config-file=b.yaml --grpc-address=0.0.0.0:1', 'grpc-address'],
  ['tools tsdb dump ./block --data-dir=./x', 'data-dir'],
  ['tools tsdb create-blocks-from openmetrics in.txt out --http-address=0.0.0.0:1', 'http-address'],
  ['check rules r.yml --objstore.config-file=b.yaml', 'objstore.config-file'],
  ['tools rules-check --rules=r.yml --data-dir=./x', 'data-dir'],
  ['tools bucket ls --http.config=web.yml', 'http.config'],
  ['tools rules-check --rules=r.yml --grpc-server-tls-cert=x.crt', 'grpc-server-tls-cert'],
  ['query-frontend --grpc-server-tls-min-version=1.2', 'grpc-server-tls-min-version'],
  ['query-frontend --grpc-server-max-connection-age=5m', 'grpc-server-max-connection-age'],
];

// Values of refused flags that ask for what the component does anyway: accepted.
const ACCEPTED: string[] = [
  'query --query.mode=local --grpc-compression=none --no-grpc-client-tls-secure --web.prefix-header=',
  'query --store.response-timeout=150ms',
  'receive --label=a="b" --receive.replication-factor=1',
  'store --store.enable-index-header-lazy-reader --block-discovery-strategy=concurrent',
  'compact --compact.blocks-fetch-concurrency=1 --block-files-concurrency=1 --hash-func= --deduplication.func=',
  'downsample --objstore.config-file=b.yaml --hash-func= --block-files-concurrency=1 --data-dir=./x',
  'bucket upload-blocks --objstore.config-file=b.yaml --label=a="b" --shipper.upload-concurrency=1',
  'bucket rewrite --objstore.config-file=b.yaml --prom-blocks --hash-func=',
  'bucket web --objstore.config-file=b.yaml --http-address=127.0.0.1:1 --disable-admin-operations --web.external-prefix=',
  'tools rules-check --rules=r.yml --log.level=debug',
];

const argvOf = (line: string): string[] => line.split(' ');

async function parseError(line: string): Promise<Error> {
  try {
    await parseCommandLine(argvOf(line));
  } catch (e) {
    return e as Error;
  }
  throw new Error(`${line}: accepted, want a refusal`);
}

test('every refused flag is an error (exit 2) naming the flag and saying it is refused', async () => {
  for (const [line, flag] of REFUSED) {
    const err = await parseError(line);
    assert.instance(err, FlagError, `${line}: ${err.message}`);
    assert.ok(err.message.includes(`flag --${flag}`), `${line}: the error names --${flag}: ${err.message}`);
    assert.match(err.message, /is not implemented yet by thanos|is not a flag of thanos|is not accepted by thanos/, `${line}: ${err.message}`);
  }
});

test('thanos rule takes --objstore.config-file and --data-dir (its TSDB and block uploads, #16)', async () => {
  const inv = await parseCommandLine(argvOf('rule --query=http://q:9090 --objstore.config-file=bucket_config.yaml --data-dir=./rule')) as Extract<Invocation, { kind: 'component' }>;
  assert.is(inv.kind, 'component');
  assert.is(inv.host.objstoreConfigFile, 'bucket_config.yaml');
  assert.is(inv.host.dataDir, './rule');
});

test('values a refused flag still accepts parse', async () => {
  for (const line of ACCEPTED) {
    const inv = await parseCommandLine(argvOf(line)).catch((e: Error) => assert.unreachable(`${line}: ${e.message}`));
    assert.ok(inv && (inv.kind === 'component' || inv.kind === 'tool'), line);
  }
});

test('--store.response-timeout is implemented: the flag reaches the querier\'s config', async () => {
  const inv = await parseCommandLine(['query', '--store.response-timeout=150ms']) as Extract<Invocation, { kind: 'component' }>;
  assert.is(parseQueryConfig(inv.config).responseTimeoutMs, 150);
});

test('refused flags are listed apart in --help, not as usable flags', async () => {
  const inv = await parseCommandLine(['rule', '--help']);
  assert.is(inv.kind, 'component');
  const { execute } = await import('../../host/main.ts');
  const out: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  (process.stdout as { write: unknown }).write = (c: string) => { out.push(String(c)); return true; };
  try {
    await execute(inv);
  } finally {
    (process.stdout as { write: unknown }).write = orig;
  }
  const text = out.join('');
  // #16: the ruler uses --data-dir and --objstore.config(-file) now; they are usable flags, not refused ones.
  assert.not.match(text, /Refused[^\n]*\n\s+[^\n]*--objstore\.config-file/);
  assert.match(text, /^\s+--objstore\.config-file=<string>/m);
});

// ---- plugins.yaml: the same refusals as config keys and component entry keys ----

const COMPONENTS = ['sidecar', 'receive', 'store', 'query', 'compact', 'rule'];
const BASE: Record<string, Record<string, unknown>> = {
  rule: { queries: ['http://q:9090'] },
  receive: { labels: ['a="b"'] },
};

function refusedExample(f: FlagSpec): unknown {
  if (f.type === 'bool') return f.accept?.includes(true) ? false : true;
  if (f.type === 'int') return 7;
  if (f.type === 'duration') return '7m';
  return f.accept?.includes('x') ? 'y' : 'x';
}

test('plugins.yaml: a refused flag\'s config key is a ConfigError naming the key and the flag', async () => {
  let n = 0;
  for (const name of COMPONENTS) {
    const p = await loadBuiltinComponent(name);
    for (const f of p.flags ?? []) {
      if (f.refused === undefined || f.key.includes('.')) continue; // host flags: see the entry-key test
      const v = refusedExample(f);
      const raw = { ...BASE[name], [f.key]: v };
      try {
        p.parseConfig(raw);
        assert.unreachable(`${name}: config ${f.key}=${JSON.stringify(v)} accepted`);
      } catch (e) {
        assert.instance(e, ConfigError, `${name} ${f.key}: ${(e as Error).message}`);
        assert.ok((e as ConfigError).key.startsWith(f.key), `${name}: key ${(e as ConfigError).key}`);
        n++;
      }
    }
  }
  assert.ok(n >= 15, `checked ${n} refused config keys`);
});

test('plugins.yaml: host settings under config: are refused, not ignored', async () => {
  for (const name of COMPONENTS) {
    const p = await loadBuiltinComponent(name);
    for (const k of ['http', 'grpc', 'objstore', 'logLevel', 'httpGracePeriod']) {
      assert.throws(() => p.parseConfig({ ...BASE[name], [k]: '127.0.0.1:1' }), (e: Error) => e instanceof ConfigError && e.message.startsWith(`${k}: is a host setting`), `${name} config.${k}`);
    }
  }
  // dataDir is read from config by the store and the compactor only
  for (const name of ['sidecar', 'receive', 'query', 'rule']) {
    const p = await loadBuiltinComponent(name);
    assert.throws(() => p.parseConfig({ ...BASE[name], dataDir: './d' }), /dataDir( \(--data-dir\))?: is a host setting/, name);
  }
  for (const name of ['store', 'compact']) (await loadBuiltinComponent(name)).parseConfig({ dataDir: './d' });
});

test('plugins.yaml: entry keys the component refuses as flags (dataDir) name file, line and key; the ruler takes objstore (#16)', async () => {
  const m = parseManifest(`apiVersion: 1
objstore:
  - id: primary
    use: memory
components:
  - id: rule
    use: rule
    objstore: primary
    config: { queries: ['http://q:9090'] }
`, '/srv/plugins.yaml');
  await planManifest(m, createLogger({ level: 'error' }));
  const q = parseManifest('apiVersion: 1\ncomponents:\n  - id: q\n    use: query\n    dataDir: ./q\n', '/srv/plugins.yaml');
  await planManifest(q, createLogger({ level: 'error' })).then(() => assert.unreachable(), (err: Error) =>
    assert.match(err.message, /plugins\.yaml:5: components\[0\]\.dataDir: dataDir is the manifest's --data-dir, which is not a flag of thanos query/));
});

test('plugins.yaml: per-component grace periods (parsed, never used) are refused', () => {
  for (const k of ['httpGracePeriod', 'grpcGracePeriod']) {
    assert.throws(() => parseManifest(`apiVersion: 1\ncomponents:\n  - id: s\n    use: store\n    ${k}: 1m\n`, '/srv/plugins.yaml'),
      (e: Error) => e instanceof ManifestError && e.message.startsWith(`/srv/plugins.yaml:5: components[0].${k}: is not implemented yet`), k);
  }
});

// ---- every flag a component keeps has an effect on its parsed config ----

/** Valid, non-default values for flags whose type alone does not give one. */
const SAMPLES: Record<string, unknown> = {
  // sidecar
  'sidecar:prometheusUrl': 'http://prom:9090', 'sidecar:httpClient': 'bearer_token: x\n', 'sidecar:tsdbPath': './tsdb', 'sidecar:shipperMetaFileName': 'x.json', 'sidecar:minTime': '-2w',
  // receive
  'receive:remoteWriteAddress': '127.0.0.1:1', 'receive:tsdbPath': './tsdb', 'receive:labels': ['b="c"'], 'receive:tenantHeader': 'X-T',
  'receive:defaultTenant': 't1', 'receive:tenantLabelName': 'tenant', 'receive:replicaHeader': 'X-R',
  'receive:hashrings': '[{"endpoints": ["127.0.0.1:1"]}]', 'receive:hashringsAlgorithm': 'ketama',
  'receive:limitsConfig': 'write:\n  global:\n    max_concurrency: 3\n',
  'receive:rwClientTlsMinVersion': '1.2',
  'receive:rwServerTlsMinVersion': '1.2', 'receive:rwServerTlsCiphers': ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], 'receive:rwServerTlsCurves': ['X25519'],
  // store
  'store:minTime': '-2w', 'store:maxTime': '-1d', 'store:selectorRelabelConfig': '[]', 'store:selectorRelabelConfigFile': 'r.yaml',
  'store:indexCacheConfig': 'type: IN-MEMORY', 'store:indexCacheConfigFile': 'c.yaml', 'store:indexCacheSize': '1MB',
  'store:downloadedBytesLimit': '1MB', 'store:partitionGap': '1KB', 'store:webExternalPrefix': '/e',
  // query
  'query:endpoints': ['1.2.3.4:1'], 'query:stores': ['1.2.3.4:1'], 'query:strictEndpoints': ['1.2.3.4:1'], 'query:strictStores': ['1.2.3.4:1'],
  'query:endpointSdConfig': 'endpoints: []', 'query:endpointSdConfigFile': 'sd.yaml', 'query:storeSdFiles': ['sd.json'],
  'query:grpcClientTlsMinVersion': '1.2',
  'query:replicaLabels': ['replica'], 'query:deduplicationFunc': 'chain', 'query:promqlEngine': 'thanos', 'query:webRoutePrefix': '/p', 'query:webExternalPrefix': '/e', 'query:maxMemory': '1GiB',
  // compact
  'compact:minTime': '-2w', 'compact:maxTime': '-1d', 'compact:selectorRelabelConfig': '[]', 'compact:selectorRelabelConfigFile': 'r.yaml',
  'compact:replicaLabels': ['replica'], 'compact:bucketWebLabel': 'cluster', 'compact:maxCompactionLevel': 2,
  'compact:webRoutePrefix': '/p', 'compact:webExternalPrefix': '/e',
  // rule
  'rule:ruleFiles': ['r.yml'], 'rule:queries': ['http://q2:9090'], 'rule:queryHttpMethod': 'GET', 'rule:alertmanagersUrls': ['http://am:9093'],
  'rule:webRoutePrefix': '/p', 'rule:webExternalPrefix': '/e',
  'rule:labels': ['a="b"'], 'rule:alertQueryUrl': 'http://q', 'rule:alertLabelDrop': ['replica'],
  'rule:alertmanagersConfig': 'alertmanagers: [{ static_configs: ["am:9093"] }]', 'rule:queryConfig': '- static_configs: ["q:9090"]',
  'rule:remoteWriteConfig': 'remote_write: [{ url: "http://rw:19291/api/v1/receive" }]',
};
/** Flags whose non-default value must also turn on another one to be valid. */
const WITH: Record<string, Record<string, unknown>> = {
  'compact:replicaLabels': { enableVerticalCompaction: true },
  'compact:retentionResolutionRaw': { downsamplingDisable: true },
  'compact:retentionResolution5m': { downsamplingDisable: true },
  // --query.config* replace --query (Thanos refuses both at once): the base has another value of them
  'rule:queryConfig': { queries: [], queryConfig: '- static_configs: ["q:1"]' },
  'rule:queryConfigFile': { queries: [], queryConfigFile: 'other.yml' },
  // --remote-write.server-tls-*: TLS needs both certificate and key (Thanos's NewServerConfig)
  'receive:rwServerTlsCert': { rwServerTlsCert: 'c0.pem', rwServerTlsKey: 'k.pem' },
  'receive:rwServerTlsKey': { rwServerTlsCert: 'c.pem', rwServerTlsKey: 'k0.pem' },
  'receive:rwServerTlsClientCa': { rwServerTlsCert: 'c.pem', rwServerTlsKey: 'k.pem' },
  'receive:rwServerTlsMinVersion': { rwServerTlsCert: 'c.pem', rwServerTlsKey: 'k.pem' },
  'receive:rwServerTlsCiphers': { rwServerTlsCert: 'c.pem', rwServerTlsKey: 'k.pem' },
  'receive:rwServerTlsCurves': { rwServerTlsCert: 'c.pem', rwServerTlsKey: 'k.pem' },
};
/**
 * Kept although the parsed config does not change, with the reason. Nothing else may be here:
 * a flag that changes nothing is refused (or implemented).
 */
const NO_CONFIG_CHANGE: Record<string, string> = {
  'query:promqlEngine': 'selects a PromQL engine: both values run the one engine we have, with Prometheus\'s semantics',
  'receive:tsdbEnableNativeHistograms': 'deprecated no-op in Thanos since the Prometheus 3.8 upgrade (thanos-io/thanos#8661): native histograms are always ingested; kept so existing command lines start',
};

function sample(name: string, f: FlagSpec): unknown {
  const k = `${name}:${f.key}`;
  if (k in SAMPLES) return SAMPLES[k];
  switch (f.type) {
    case 'bool': return !(f.default ?? false);
    case 'int': return (typeof f.default === 'number' ? f.default : 0) + 3;
    case 'float': return (typeof f.default === 'number' ? f.default : 0) + 0.5;
    case 'duration': return '999h';
    case 'strings': return ['x'];
    case 'string': return 'x';
  }
}

test('every flag a component keeps changes its parsed config (or is listed with a reason)', async () => {
  for (const name of COMPONENTS) {
    const p: ComponentPlugin = await loadBuiltinComponent(name);
    for (const f of p.flags ?? []) {
      if (f.refused !== undefined) continue;
      const k = `${name}:${f.key}`;
      const base = { ...BASE[name], ...WITH[k] };
      const before = JSON.stringify(p.parseConfig(base));
      let after: string;
      try {
        after = JSON.stringify(p.parseConfig({ ...base, [f.key]: sample(name, f) }));
      } catch (e) {
        throw new Error(`${k} (--${f.name}): sample ${JSON.stringify(sample(name, f))} rejected: ${(e as Error).message} (add a SAMPLES entry)`);
      }
      if (k in NO_CONFIG_CHANGE) {
        assert.is(after, before, `${k} is listed as changing nothing`);
        continue;
      }
      assert.is.not(after, before, `--${f.name} (${k}) is accepted but changes nothing in the parsed config: refuse it or implement it`);
    }
  }
});

test('the reference deployment still parses with the real registry', async () => {
  const lines = [
    'sidecar --tsdb.path /data1/deploy/prometheus2.0.0.data.metrics --prometheus.url http://localhost:9090 --objstore.config-file bucket_config.yaml --shipper.upload-compacted',
    'store --data-dir /service/thanos-0.9.0.linux-amd64/store --objstore.config-file bucket_config.yaml --http-address 0.0.0.0:19191 --grpc-address 0.0.0.0:19090',
    'query --http-address 0.0.0.0:19193 --grpc-address 0.0.0.0:19091 --store 1.2.3.4:19090 --store 1.1.1.1:10901',
    'compact --data-dir /service/thanos-0.9.0.linux-amd64/compact --http-address 0.0.0.0:19192 --objstore.config-file bucket_config.yaml',
    'bucket web --http-address=0.0.0.0:19194 --objstore.config-file bucket_config.yaml',
  ];
  for (const line of lines) {
    const inv = await parseCommandLine(argvOf(line));
    assert.ok(inv.kind === 'component' || inv.kind === 'tool', line);
    if (inv.kind === 'component') inv.plugin.parseConfig(inv.config);
  }
});

test.run();
