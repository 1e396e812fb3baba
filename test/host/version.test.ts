// Issue #10 item 11: one version in one place (package.json, read by host/version.ts) for
// `thanos --version`, `thanos <command> --version`, the query API's /api/v1/status/buildinfo and the
// thanos_build_info metric; and Thanos's global flags before the command (kingpin accepts them there).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseCommandLine, type Invocation } from '../../host/main.ts';
import { BUILD_INFO, buildInfoOf, gitInfo } from '../../host/version.ts';
import { processMetrics } from '../../host/metrics.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { parseQueryConfig, setupQuery } from '../../plugins/component/query/mod.ts';
import { queryCtx } from '../query/ctx.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const PKG_VERSION = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const thanos = (...a: string[]) => spawnSync(process.execPath, [path.join(repo, 'bin/thanos.mjs'), ...a], { encoding: 'utf8', cwd: repo });

test('BUILD_INFO.version is package.json\'s version', () => {
  assert.is(BUILD_INFO.version, PKG_VERSION);
  assert.is(BUILD_INFO.goVersion, `node ${process.version}`);
});

test('thanos --version, thanos <command> --version: the same version, exit 0', () => {
  for (const argv of [['--version'], ['query', '--version'], ['store', '--data-dir=x', '--version'], ['tools', 'bucket', 'ls', '--version'], ['bucket', 'web', '--version'], ['run', '--version']]) {
    const r = thanos(...argv);
    assert.is(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^thanos, version ${PKG_VERSION.replace(/\./g, '\\.')} \\(branch: `), argv.join(' '));
    assert.ok(r.stdout.includes(`go version:       node ${process.version}`), r.stdout);
  }
});

test('/api/v1/status/buildinfo says the same version as the CLI', async () => {
  const core = createJsCore();
  const comp = await setupQuery(queryCtx(core), parseQueryConfig({}));
  const res = await comp.fetch!(new Request('http://q/api/v1/status/buildinfo'));
  const body = (await res.json()) as { status: string; data: Record<string, string> };
  assert.is(body.status, 'success');
  assert.equal(body.data, {
    version: PKG_VERSION, revision: BUILD_INFO.revision, branch: BUILD_INFO.branch, buildUser: '', buildDate: '', goVersion: `node ${process.version}`,
  });
  assert.match(thanos('--version').stdout, new RegExp(`version ${body.data.version.replace(/\./g, '\\.')} `));
});

test('thanos_build_info: one series with the same version, revision and branch', () => {
  const lines = processMetrics().split('\n').filter((l) => l.startsWith('thanos_build_info'));
  assert.is(lines.length, 1);
  const labels = Object.fromEntries([...lines[0]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
  assert.equal([labels.version, labels.revision, labels.branch, labels.goversion], [PKG_VERSION, BUILD_INFO.revision, BUILD_INFO.branch, `node ${process.version}`]);
  assert.match(lines[0]!, /\} 1$/);
  assert.match(processMetrics(), /^# TYPE thanos_build_info gauge$/m);
});

test('revision and branch come from the checkout (loose ref, packed ref, worktree, detached)', () => {
  const d = mkdtempSync(path.join(tmpdir(), 'version-'));
  try {
    const sha = 'a'.repeat(40);
    const sha2 = 'b'.repeat(40);
    mkdirSync(path.join(d, 'loose/.git/refs/heads'), { recursive: true });
    writeFileSync(path.join(d, 'loose/.git/HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(path.join(d, 'loose/.git/refs/heads/main'), `${sha}\n`);
    writeFileSync(path.join(d, 'loose/package.json'), '{"version":"9.8.7"}');
    assert.equal(gitInfo(path.join(d, 'loose')), { branch: 'main', revision: sha });
    assert.is(buildInfoOf(path.join(d, 'loose')).version, '9.8.7');
    mkdirSync(path.join(d, 'packed/.git'), { recursive: true });
    writeFileSync(path.join(d, 'packed/.git/HEAD'), 'ref: refs/heads/dev\n');
    writeFileSync(path.join(d, 'packed/.git/packed-refs'), `# pack-refs with: peeled\n${sha2} refs/heads/dev\n`);
    assert.equal(gitInfo(path.join(d, 'packed')), { branch: 'dev', revision: sha2 });
    // a worktree: .git is a file pointing at <main>/.git/worktrees/<name>, refs live in the common dir
    mkdirSync(path.join(d, 'loose/.git/worktrees/wt'), { recursive: true });
    writeFileSync(path.join(d, 'loose/.git/worktrees/wt/HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(path.join(d, 'loose/.git/worktrees/wt/commondir'), '../..\n');
    mkdirSync(path.join(d, 'wt'));
    writeFileSync(path.join(d, 'wt/.git'), `gitdir: ${path.join(d, 'loose/.git/worktrees/wt')}\n`);
    assert.equal(gitInfo(path.join(d, 'wt')), { branch: 'main', revision: sha });
    mkdirSync(path.join(d, 'detached/.git'), { recursive: true });
    writeFileSync(path.join(d, 'detached/.git/HEAD'), `${sha2}\n`);
    assert.equal(gitInfo(path.join(d, 'detached')), { branch: 'HEAD', revision: sha2 });
    assert.equal(gitInfo(path.join(d, 'none')), { branch: '', revision: '' });
    assert.is(buildInfoOf(path.join(d, 'none')).version, 'unknown');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('global flags before the command apply to it (thanos --log.level=debug bucket ls …)', async () => {
  const ls = await parseCommandLine(['--log.level=debug', 'bucket', 'ls', '--objstore.config-file', 'b.yaml']) as Extract<Invocation, { kind: 'tool' }>;
  assert.is(ls.kind, 'tool');
  assert.is(ls.command.name, 'bucket ls');
  assert.equal([ls.host.logLevel, ls.host.objstoreConfigFile], ['debug', 'b.yaml']);
  const q = await parseCommandLine(['--log.format=logfmt', 'query', '--endpoint=1.2.3.4:1']) as Extract<Invocation, { kind: 'component' }>;
  assert.is(q.kind, 'component');
  assert.equal([q.name, q.host.logFormat], ['query', 'logfmt']);
  const both = await parseCommandLine(['--log.level', 'warn', '--log.format', 'json', 'compact', '--data-dir=x']) as Extract<Invocation, { kind: 'component' }>;
  assert.equal([both.host.logLevel, both.host.logFormat, both.host.dataDir], ['warn', 'json', 'x']);
  const run = await parseCommandLine(['--log.level=error', 'run', '-c', 'p.yaml']);
  assert.equal(run, { kind: 'run', manifestFile: 'p.yaml', logLevel: 'error', logFormat: undefined });
  const t = await parseCommandLine(['--log.level=debug', 'tools', 'rules-check', '--rules=r.yml']) as Extract<Invocation, { kind: 'tool' }>;
  assert.equal([t.command.name, t.host.logLevel], ['rules-check', 'debug']);
  // like any flag, given twice is an error; unknown flags before the command are errors naming them
  await parseCommandLine(['--log.level=debug', 'query', '--log.level=info']).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /flag --log\.level given more than once/));
  await parseCommandLine(['--log.level=loud', 'query']).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /--log\.level: expected one of debug, info, warn, error, got "loud"/));
  await parseCommandLine(['--http-address=x', 'query']).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /unknown flag --http-address before the command/));
  // --tracing.config is one of Thanos's application flags: accepted before the command
  const traced = await parseCommandLine(['--tracing.config=type: OTLP', 'query']) as Extract<Invocation, { kind: 'component' }>;
  assert.is(traced.host.tracingConfig, 'type: OTLP');
  await parseCommandLine(['--log.level']).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /flag --log\.level needs a value/));
  // --help before the command is that command's help
  assert.is((await parseCommandLine(['--help', 'query'])).kind, 'component');
  assert.ok(((await parseCommandLine(['--help', 'query'])) as { help: boolean }).help);
  assert.is((await parseCommandLine(['--help'])).kind, 'help');
});

test('bin/thanos.mjs: a global flag before the command runs it (bucket ls on a filesystem bucket)', () => {
  const d = mkdtempSync(path.join(tmpdir(), 'version-cli-'));
  try {
    mkdirSync(path.join(d, 'bucket'));
    writeFileSync(path.join(d, 'bucket.yaml'), `type: FILESYSTEM\nconfig:\n  directory: ${path.join(d, 'bucket')}\n`);
    const r = thanos('--log.level=debug', '--log.format=logfmt', 'bucket', 'ls', '--objstore.config-file', path.join(d, 'bucket.yaml'));
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, '');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test.run();
