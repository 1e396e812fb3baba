import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseManifest, startOrder, ManifestError } from '../../host/manifest.ts';

const F = '/etc/thanos/plugins.yaml';

function fails(text: string, re: RegExp): ManifestError {
  try {
    parseManifest(text, F);
  } catch (err) {
    assert.instance(err, ManifestError, String(err));
    assert.match((err as Error).message, re);
    return err as ManifestError;
  }
  assert.unreachable(`expected ${re}`);
  throw new Error('unreachable');
}

const good = `apiVersion: 1
log: { level: debug, format: json }
core: { backend: js }
gracePeriod: 30s
objstore:
  - id: primary
    use: filesystem
    config: { directory: ./data/bucket }
    prefix: tenant-a
    permissions: { read: [./data/bucket], write: { allow: [./data], deny: [./data/secret] } }
components:
  - id: query
    use: query
    dependsOn: [store]
    http: 127.0.0.1:10904
    grpc: 127.0.0.1:10903
    config: { endpoints: [127.0.0.1:10901] }
    permissions: { net: true }
  - id: store
    use: store
    objstore: primary
    dataDir: ./data/store
    http: 127.0.0.1:10902
    grpc: 127.0.0.1:10901
  - id: off
    use: ./plugins/thing
    enabled: false
`;

test('a full manifest parses', () => {
  const m = parseManifest(good, F);
  assert.is(m.dir, '/etc/thanos');
  assert.equal(m.log, { level: 'debug', format: 'json' });
  assert.is(m.core.backend, 'js');
  assert.is(m.gracePeriodMs, 30_000);
  assert.is(m.objstore[0]!.prefix, 'tenant-a');
  assert.equal(m.components[0]!.config, { endpoints: ['127.0.0.1:10901'] });
  assert.is(m.components[1]!.objstore, 'primary');
  assert.is(m.components[2]!.enabled, false);
  assert.is(m.lineOf('components[1].dataDir'), 22);
  assert.is(m.lineOf('components[0].permissions.net'), 18);
  assert.equal(startOrder(m.components).map((c) => c.id), ['store', 'query'], 'dependencies first, disabled left out');
});

test('unknown keys name file, line and key', () => {
  fails('apiVersion: 1\ncomponent:\n  - id: x\n', /^\/etc\/thanos\/plugins\.yaml:2: component: unknown key "component" \(expected one of: apiVersion, log, core, gracePeriod, tracing, objstore, components\)/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    confg: {}\n', /plugins\.yaml:5: components\[0\]\.confg: unknown key "confg" in components\[0\]/);
  fails('apiVersion: 1\nobjstore:\n  - id: p\n    use: s3\n    type: S3\n', /plugins\.yaml:5: objstore\[0\]\.type: unknown key "type"/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    permissions:\n      network: true\n', /plugins\.yaml:6: components\[0\]\.permissions\.network: unknown key "network".*net, read, write, env/);
  fails('apiVersion: 1\nlog: { level: info, colour: true }\n', /plugins\.yaml:2: log\.colour: unknown key/);
});

test('bad types name file, line and key', () => {
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    enabled: yes please\n', /plugins\.yaml:5: components\[0\]\.enabled: expected true or false, got string "yes please"/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    http: 10902\n', /plugins\.yaml:5: components\[0\]\.http: expected a non-empty string, got number 10902/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    http: localhost\n', /components\[0\]\.http: expected host:port, got "localhost"/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    permissions: { net: yes }\n', /plugins\.yaml:5: components\[0\]\.permissions\.net: must be true, false, a list of strings, or \{ allow, deny \}/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    permissions: { read: { allow: [a], except: [b] } }\n', /components\[0\]\.permissions\.read: unknown key "except"/);
  fails('apiVersion: 1\ncomponents:\n  id: x\n', /plugins\.yaml:2: components: expected a list, got a mapping/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    config: [1, 2]\n', /plugins\.yaml:5: components\[0\]\.config: expected a mapping, got a list/);
  fails('apiVersion: 2\n', /plugins\.yaml:1: apiVersion: must be 1, got number 2/);
  fails('components: []\n', /apiVersion: is required/);
  fails('apiVersion: 1\ngracePeriod: soon\n', /plugins\.yaml:2: gracePeriod: invalid duration "soon"/);
  fails('apiVersion: 1\ncomponents:\n  - use: store\n', /plugins\.yaml:3: components\[0\]\.id: is required/);
  fails('apiVersion: 1\ncomponents:\n  - id: x\n', /plugins\.yaml:3: components\[0\]\.use: is required/);
  fails('apiVersion: 1\ncomponents: [\n', /plugins\.yaml:\d+: invalid YAML/);
  fails('', /empty manifest/);
});

test('references: unknown objstore id, unknown dependency, duplicates', () => {
  fails('apiVersion: 1\nobjstore:\n  - id: primary\n    use: memory\ncomponents:\n  - id: s\n    use: store\n    objstore: secondary\n', /plugins\.yaml:8: components\[0\]\.objstore: unknown objstore id "secondary" \(defined: primary\)/);
  fails('apiVersion: 1\ncomponents:\n  - id: s\n    use: store\n    dependsOn: [q]\n', /plugins\.yaml:5: components\[0\]\.dependsOn\[0\]: unknown component id "q"/);
  fails('apiVersion: 1\ncomponents:\n  - id: s\n    use: store\n  - id: s\n    use: query\n', /plugins\.yaml:5: components\[1\]\.id: duplicate component id "s"/);
});

test('a dependency cycle is an error naming the cycle', () => {
  const e = fails(`apiVersion: 1
components:
  - id: a
    use: store
    dependsOn: [c]
  - id: b
    use: query
    dependsOn: [a]
  - id: c
    use: rule
    dependsOn: [b]
`, /plugins\.yaml:5: components\[0\]\.dependsOn: dependency cycle: a -> c -> b -> a/);
  assert.is(e.line, 5);
  fails('apiVersion: 1\ncomponents:\n  - id: a\n    use: store\n    dependsOn: [a]\n', /depends on itself/);
});

test('depending on a disabled component is an error', () => {
  const m = parseManifest('apiVersion: 1\ncomponents:\n  - id: a\n    use: store\n    enabled: false\n  - id: b\n    use: query\n    dependsOn: [a]\n', F);
  assert.throws(() => startOrder(m.components), /components\[1\]\.dependsOn: component "b" depends on "a", which is disabled/);
});

test.run();
