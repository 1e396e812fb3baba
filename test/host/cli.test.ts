// The command line: the reference deployment's commands parse as written (with the real registry,
// whatever exists today, and with fixture plugins for exact flag mapping), flag syntax, errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseCommandLine, execute, reportError, type Invocation } from '../../host/main.ts';
import { parseFlags, parseFlagDuration, FlagError } from '../../lib/sdk/flags.ts';
import { definePlugin, type ComponentPlugin, type FlagSpec } from '../../host/index.ts';
import { BUILTIN_COMPONENTS } from '../../host/registry.ts';
import { loadBuiltinComponent, NotImplementedError } from '../../host/loader.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const words = (s: string) => s.trim().split(/\s+/).slice(1); // drop "./thanos"

// The reference deployment (../shared/reference/deployment.md), verbatim.
const DEPLOYMENT = {
  sidecar: words(`./thanos sidecar --tsdb.path /data1/deploy/prometheus2.0.0.data.metrics
    --prometheus.url http://localhost:9090 --objstore.config-file bucket_config.yaml --shipper.upload-compacted`),
  store: words(`./thanos store --data-dir /service/thanos-0.9.0.linux-amd64/store --objstore.config-file bucket_config.yaml
    --http-address 0.0.0.0:19191 --grpc-address 0.0.0.0:19090`),
  query: words(`./thanos query --http-address 0.0.0.0:19193 --grpc-address 0.0.0.0:19091
    --store 1.2.3.4:19090 --store 1.1.1.1:10901`),
  compact: words(`./thanos compact --data-dir /service/thanos-0.9.0.linux-amd64/compact --http-address 0.0.0.0:19192
    --objstore.config-file bucket_config.yaml`),
  bucketWeb: words(`./thanos bucket web --http-address=0.0.0.0:19194 --objstore.config-file bucket_config.yaml`),
};

function deepValues(v: unknown, out: unknown[] = []): unknown[] {
  out.push(v);
  if (v && typeof v === 'object') for (const x of Object.values(v)) deepValues(x, out);
  return out;
}
const hasValue = (cfg: unknown, want: unknown) => deepValues(cfg).some((x) => JSON.stringify(x) === JSON.stringify(want));

function hostOf(inv: Invocation) {
  assert.ok(inv.kind === 'component' || inv.kind === 'tool' || inv.kind === 'notImplemented', `unexpected ${inv.kind}`);
  return (inv as Extract<Invocation, { host: unknown }>).host;
}

test('deployment: sidecar parses (or is reported not implemented) with the real registry', async () => {
  const inv = await parseCommandLine(DEPLOYMENT.sidecar);
  assert.is(hostOf(inv).objstoreConfigFile, 'bucket_config.yaml');
  if (inv.kind === 'notImplemented') {
    assert.is(inv.name, 'sidecar');
    assert.equal(inv.unknownFlags, ['--tsdb.path', '--prometheus.url', '--shipper.upload-compacted']);
  } else {
    assert.is(inv.kind, 'component');
    const c = (inv as Extract<Invocation, { kind: 'component' }>).config;
    assert.ok(hasValue(c, '/data1/deploy/prometheus2.0.0.data.metrics') && hasValue(c, 'http://localhost:9090'), JSON.stringify(c));
  }
});

test('deployment: store, query, compact parse with the real registry', async () => {
  const store = await parseCommandLine(DEPLOYMENT.store);
  assert.equal([hostOf(store).http, hostOf(store).grpc, hostOf(store).dataDir, hostOf(store).objstoreConfigFile],
    ['0.0.0.0:19191', '0.0.0.0:19090', '/service/thanos-0.9.0.linux-amd64/store', 'bucket_config.yaml']);
  assert.ok(hostOf(store).grpcGiven);

  const query = await parseCommandLine(DEPLOYMENT.query);
  assert.equal([hostOf(query).http, hostOf(query).grpc], ['0.0.0.0:19193', '0.0.0.0:19091']);
  if (query.kind === 'component') assert.ok(hasValue(query.config, ['1.2.3.4:19090', '1.1.1.1:10901']), JSON.stringify(query.config));
  else assert.equal((query as Extract<Invocation, { kind: 'notImplemented' }>).unknownFlags, ['--store', '--store']);

  const compact = await parseCommandLine(DEPLOYMENT.compact);
  assert.equal([hostOf(compact).http, hostOf(compact).dataDir, hostOf(compact).objstoreConfigFile],
    ['0.0.0.0:19192', '/service/thanos-0.9.0.linux-amd64/compact', 'bucket_config.yaml']);
});

test('deployment: `bucket web` is tools bucket web (implemented or not)', async () => {
  const inv = await parseCommandLine(DEPLOYMENT.bucketWeb);
  assert.is(hostOf(inv).http, '0.0.0.0:19194');
  assert.is(hostOf(inv).objstoreConfigFile, 'bucket_config.yaml');
  if (inv.kind === 'notImplemented') assert.match(inv.name, /^tools( bucket web)?$/);
  else {
    assert.is(inv.kind, 'tool');
    assert.equal((inv as Extract<Invocation, { kind: 'tool' }>).words, ['bucket', 'web']);
  }
});

// Fixture plugins with the real Thanos flag names, to check the exact mapping onto config keys.
const fakeFlags: Record<string, FlagSpec[]> = {
  sidecar: [
    { name: 'tsdb.path', key: 'tsdbPath', type: 'string', default: './data', help: '' },
    { name: 'prometheus.url', key: 'prometheus.url', type: 'string', default: 'http://localhost:9090', help: '' },
    { name: 'shipper.upload-compacted', key: 'shipper.uploadCompacted', type: 'bool', default: false, help: '' },
    { name: 'prometheus.ready_timeout', key: 'prometheus.readyTimeout', type: 'duration', default: '10m', help: '' },
  ],
  query: [
    { name: 'endpoint', key: 'endpoints', type: 'strings', default: [], help: '' },
    { name: 'store', key: 'endpoints', type: 'strings', help: '' },
    { name: 'query.replica-label', key: 'replicaLabels', type: 'strings', default: [], help: '' },
    { name: 'query.partial-response', key: 'partialResponse', type: 'bool', default: true, help: '' },
    { name: 'query.max-concurrent', key: 'maxConcurrent', type: 'int', default: 20, help: '' },
  ],
  compact: [{ name: 'wait', key: 'wait', type: 'bool', default: false, help: '' }, { name: 'data-dir', key: 'ignored', type: 'string', help: 'host handles it' }],
};
const seen: string[] = [];
const tools = definePlugin({
  manifest: { id: 'component:tools', apiVersion: 1, permissions: {} },
  parseConfig: (r: unknown) => r,
  setup: async () => { throw new Error('one-shot only'); },
  commands: [
    { name: 'bucket web', help: 'UI', flags: [{ name: 'refresh', key: 'refresh', type: 'duration', default: '30m', help: '' }], run: async (_c, argv) => { seen.push(argv.join(' ')); return 0; } },
    { name: 'bucket', help: 'group', run: async () => 0 },
    { name: 'bucket downsample', help: 'downsample', run: async () => 0 },
    { name: 'rules-check', help: 'check', flags: [{ name: 'rules', key: 'rules', type: 'strings', help: '' }], run: async () => 0 },
    {
      name: 'bucket ls', help: 'list', flags: [{ name: 'output', short: 'o', key: 'output', type: 'string', default: '', help: '' }],
      run: async (ctx, argv) => {
        const { parseFlags, COMMON_FLAGS } = await import('../../host/index.ts');
        const p = parseFlags(argv, [...COMMON_FLAGS, { name: 'output', short: 'o', key: 'output', type: 'string', default: '', help: '' }]);
        const b = await ctx.bucket();
        await b.upload('01ABC/meta.json', new TextEncoder().encode('{}'));
        for await (const n of b.iter('')) await ctx.stdout!.write(`${p.values.output}:${n}\n`);
        return ctx.signal?.aborted ? 1 : 0;
      },
    },
  ],
}) as ComponentPlugin;
const loadComponent = async (name: string): Promise<ComponentPlugin> => {
  if (name === 'tools') return tools;
  if (!fakeFlags[name]) throw new NotImplementedError('component', name, `plugins/component/${name}/mod.ts`);
  return definePlugin({ manifest: { id: `component:${name}`, apiVersion: 1, permissions: {} }, flags: fakeFlags[name], parseConfig: (r: unknown) => r, setup: async () => ({ info: () => ({ componentType: name }), run: async () => {} }) });
};

test('deployment with fixture plugins: flags map onto config keys exactly', async () => {
  const sc = await parseCommandLine(DEPLOYMENT.sidecar, { loadComponent });
  assert.is(sc.kind, 'component');
  assert.equal((sc as Extract<Invocation, { kind: 'component' }>).config, {
    tsdbPath: '/data1/deploy/prometheus2.0.0.data.metrics', prometheus: { url: 'http://localhost:9090', readyTimeout: '10m' }, shipper: { uploadCompacted: true },
  });
  const q = await parseCommandLine(DEPLOYMENT.query, { loadComponent }) as Extract<Invocation, { kind: 'component' }>;
  assert.equal(q.config, { endpoints: ['1.2.3.4:19090', '1.1.1.1:10901'], replicaLabels: [], partialResponse: true, maxConcurrent: 20 });
  assert.equal([q.host.http, q.host.grpc, q.host.logLevel, q.host.logFormat, q.host.httpGracePeriod], ['0.0.0.0:19193', '0.0.0.0:19091', 'info', 'logfmt', '2m']);
  const c = await parseCommandLine(DEPLOYMENT.compact, { loadComponent }) as Extract<Invocation, { kind: 'component' }>;
  assert.is(c.host.dataDir, '/service/thanos-0.9.0.linux-amd64/compact', 'the host keeps --data-dir even if a plugin declares it');
  assert.equal(c.config, { wait: false });
  const st = await parseCommandLine(DEPLOYMENT.store, { loadComponent });
  assert.is(st.kind, 'notImplemented');
});

test('tools: longest match, older spellings, flags after the words', async () => {
  const w = await parseCommandLine(DEPLOYMENT.bucketWeb, { loadComponent }) as Extract<Invocation, { kind: 'tool' }>;
  assert.is(w.kind, 'tool');
  assert.is(w.command.name, 'bucket web');
  assert.equal(w.config, { refresh: '30m' });
  assert.equal(w.argv, ['--http-address=0.0.0.0:19194', '--objstore.config-file', 'bucket_config.yaml']);
  const ds = await parseCommandLine(['downsample', '--objstore.config-file=b.yaml'], { loadComponent }) as Extract<Invocation, { kind: 'tool' }>;
  assert.is(ds.command.name, 'bucket downsample');
  const rc = await parseCommandLine(['check', 'rules', '--rules', 'a.yml', '--rules=b.yml'], { loadComponent }) as Extract<Invocation, { kind: 'tool' }>;
  assert.is(rc.command.name, 'rules-check');
  assert.equal(rc.config, { rules: ['a.yml', 'b.yml'] });
  const t = await parseCommandLine(['tools', 'bucket', 'web', '--refresh', '5m'], { loadComponent }) as Extract<Invocation, { kind: 'tool' }>;
  assert.equal(t.config, { refresh: '5m' });
  await parseCommandLine(['tools', 'bucket', 'web', '--refrsh', '5m'], { loadComponent }).then(() => assert.unreachable(), (err) =>
    assert.match(err.message, /thanos tools bucket web: unknown flag --refrsh \(did you mean --refresh\?\)/));
  await parseCommandLine(['tools', 'nope'], { loadComponent }).then(() => assert.unreachable(), (err) => assert.match(err.message, /unknown command "nope"/));
  const help = await parseCommandLine(['tools'], { loadComponent });
  assert.is(help.kind, 'toolsHelp');
  assert.match((help as { text: string }).text, /bucket web\s+UI/);
});

test('execute: a tool gets the bucket from --objstore.config, stdout, and its argv', async () => {
  const inv = await parseCommandLine(['bucket', 'ls', '-o', 'wide', '--objstore.config', 'type: in-memory\nprefix: t1'], { loadComponent });
  assert.is(inv.kind, 'tool');
  const out: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  (process.stdout as { write: unknown }).write = (chunk: string) => { out.push(String(chunk)); return true; };
  let code: number;
  try {
    code = await execute(inv);
  } finally {
    (process.stdout as { write: unknown }).write = orig;
  }
  assert.is(code, 0);
  assert.equal(out, ['wide:01ABC/\n']);
  const noBucket = await parseCommandLine(['bucket', 'ls'], { loadComponent });
  const errs: string[] = [];
  const origErr = process.stderr.write.bind(process.stderr);
  (process.stderr as { write: unknown }).write = (chunk: string) => { errs.push(String(chunk)); return true; };
  try {
    assert.is(await execute(noBucket).catch(reportError), 2);
  } finally {
    (process.stderr as { write: unknown }).write = origErr;
  }
  assert.match(errs.join(''), /thanos tools bucket ls: no object storage configured \(pass --objstore\.config-file or --objstore\.config\)/);
});

test('flag syntax: --f=v, --f v, bools, --no-, repeats, durations, errors name the flag', () => {
  const specs: FlagSpec[] = [
    { name: 'a', key: 'a', type: 'string', help: '' },
    { name: 'n', key: 'deep.n', type: 'int', help: '' },
    { name: 'f', key: 'f', type: 'float', help: '' },
    { name: 'b', key: 'b', type: 'bool', default: true, help: '' },
    { name: 'd', key: 'd', type: 'duration', help: '' },
    { name: 'l', key: 'l', type: 'strings', help: '' },
    { name: 'output', short: 'o', key: 'out', type: 'string', help: '' },
  ];
  const p = parseFlags(['--a=x=y', '--n', '-3', '--f=1.5', '--no-b', '--d', '1h30m', '--l', 'p', '--l=q', '-o', 'json'], specs);
  assert.equal(p.values, { a: 'x=y', deep: { n: -3 }, f: 1.5, b: false, d: '1h30m', l: ['p', 'q'], out: 'json' });
  assert.equal(parseFlags(['--b=false'], specs).values, { b: false });
  assert.equal(parseFlags([], specs).values, { b: true });
  const e = (argv: string[], re: RegExp) => assert.throws(() => parseFlags(argv, specs, { context: 'thanos x' }), (err: Error) => err instanceof FlagError && re.test(err.message));
  e(['--nope'], /^thanos x: unknown flag --nope$/);
  e(['--a'], /flag --a needs a value/);
  e(['--a', 'x', '--a', 'y'], /flag --a given more than once/);
  e(['--n', '1.5'], /--n: expected an integer, got "1.5"/);
  e(['--d', '5 minutes'], /--d: invalid duration "5 minutes"/);
  e(['--b=maybe'], /--b: expected true or false/);
  e(['stray'], /unexpected argument "stray"/);
  assert.is(parseFlagDuration('1h30m'), 5_400_000);
  assert.is(parseFlagDuration('500ms'), 500);
  assert.is(parseFlagDuration('2d'), 172_800_000);
});

test('command-line errors: unknown flag of a real component names it; unknown command; bad log format', async () => {
  const exists = await loadBuiltinComponent('store').then(() => true, (err) => { if (err instanceof NotImplementedError) return false; throw err; });
  if (exists) {
    await parseCommandLine(['store', '--objstore.config-fil', 'x']).then(() => assert.unreachable(), (err) =>
      assert.match(err.message, /^thanos store: unknown flag --objstore\.config-fil \(did you mean --objstore\.config-file\?\)/));
  } else {
    const inv = await parseCommandLine(['store', '--objstore.config-fil', 'x']);
    assert.is(inv.kind, 'notImplemented');
  }
  await parseCommandLine(['frobnicate']).then(() => assert.unreachable(), (err) => assert.match(err.message, /unknown command "frobnicate"/));
  await parseCommandLine(['query', '--log.format=xml'], { loadComponent }).then(() => assert.unreachable(), (err) => assert.match(err.message, /--log\.format: expected logfmt or json, got "xml"/));
  await parseCommandLine(['query', '--objstore.config=a', '--objstore.config-file=b'], { loadComponent }).then(() => assert.unreachable(), (err) => assert.match(err.message, /only one of --objstore\.config-file and --objstore\.config/));
  assert.is((await parseCommandLine(['--version'])).kind, 'version');
  assert.is((await parseCommandLine(['--help'])).kind, 'help');
  const run = await parseCommandLine(['run', '-c', 'x.yaml', '--log.level=debug']);
  assert.equal(run, { kind: 'run', manifestFile: 'x.yaml', logLevel: 'debug', logFormat: undefined });
  assert.equal(await parseCommandLine(['run']), { kind: 'run', manifestFile: 'plugins.yaml', logLevel: undefined, logFormat: undefined });
});

test('a missing built-in module is "not implemented yet" (exit 2); a broken one is not', async () => {
  BUILTIN_COMPONENTS.__missing = 'plugins/component/__missing/mod.ts';
  BUILTIN_COMPONENTS.__broken = 'test/fixtures/host/broken/mod.ts';
  try {
    await loadBuiltinComponent('__missing').then(() => assert.unreachable(), (err) => {
      assert.instance(err, NotImplementedError);
      assert.is(err.message, 'thanos __missing: not implemented yet');
    });
    await loadBuiltinComponent('__broken').then(() => assert.unreachable(), (err) => {
      assert.not.instance(err, NotImplementedError);
      assert.match(String(err), /does-not-exist/);
    });
    // in a manifest: a clear error naming file, line and key, before anything starts
    const { parseManifest } = await import('../../host/manifest.ts');
    const { planManifest } = await import('../../host/main.ts');
    const { createLogger } = await import('../../host/log.ts');
    const m = parseManifest('apiVersion: 1\ncomponents:\n  - id: later\n    use: __missing\n', '/srv/plugins.yaml');
    await planManifest(m, createLogger({ level: 'error' })).then(() => assert.unreachable(), (err) =>
      assert.is(err.message, '/srv/plugins.yaml:4: components[0].use: thanos __missing: not implemented yet (set enabled: false on "later" to run the rest)'));
  } finally {
    delete BUILTIN_COMPONENTS.__missing;
    delete BUILTIN_COMPONENTS.__broken;
  }
});

test('bin/thanos.mjs: --version, --help, unknown flag exit codes', () => {
  const run = (...a: string[]) => spawnSync(process.execPath, [path.join(repo, 'bin/thanos.mjs'), ...a], { encoding: 'utf8', cwd: repo });
  const v = run('--version');
  assert.is(v.status, 0);
  assert.match(v.stdout, /^thanos, version \d+\.\d+\.\d+/);
  const h = run('--help');
  assert.is(h.status, 0);
  assert.match(h.stdout, /run \[-c plugins\.yaml\]/);
  const u = run('run', '--bogus');
  assert.is(u.status, 2);
  assert.match(u.stderr, /thanos run: unknown flag --bogus/);
  const none = run();
  assert.is(none.status, 2);
});

test.run();
