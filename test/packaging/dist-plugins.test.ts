// A third-party TypeScript plugin run inline by the built artifact (dist/ is bundled, scripts/build.mjs)
// on Node: its imports of host/index.ts and lib/ reach the bundle's one instance of each module
// (bin/ts-plugins-hooks.mjs -> dist/host/index.js, the dist/lib/ facades), so the errors it throws
// are the host's classes; an import of a module the artifact does not expose is refused by name.
// Run by a plain Node child (as bin/thanos.mjs runs dist/: this test's own process has tsx's loader).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureDist, ROOT } from './runtimes.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'thanos-dist-plugins-'));
test.after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Loads the objstore plugin at `use` inline (trusted) through dist/, runs `body` (bucket `b`, dist modules `dist`), prints its JSON. */
function run(use: string, body: string): { out: unknown; stderr: string; status: number | null } {
  const dist = (rel: string) => JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', rel)).href);
  const script = `
const { parseManifest } = await import(${dist('host/manifest.js')});
const { buildObjstore } = await import(${dist('host/main.js')});
const dist = { index: await import(${dist('host/index.js')}), bucket: await import(${dist('lib/objstore/bucket.js')}) };
const noop = () => {};
const log = new Proxy({}, { get: (_t, k) => (k === 'child' || k === 'with' ? () => log : noop) });
const text = 'apiVersion: 1\\nobjstore:\\n  - id: p\\n    use: ${use}\\n    isolation: inline\\n    trust: true\\n    config: { directory: ./data }\\n    permissions: { read: [./data], write: [./data] }\\n';
const file = ${JSON.stringify(path.join(work, 'plugins.yaml'))};
const m = parseManifest(text, file);
let out;
try {
  const b = await (await buildObjstore(m, m.objstore[0], log)).get();
  out = await (async () => { ${body} })();
} catch (err) {
  out = { error: String(err?.message ?? err) };
}
process.stdout.write(JSON.stringify(out));
process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: work, encoding: 'utf8', timeout: 60_000, env: { ...process.env, THANOS_RUN_FROM: 'dist' } });
  let out: unknown;
  try { out = JSON.parse(r.stdout); } catch { out = r.stdout; }
  return { out, stderr: r.stderr, status: r.status };
}

test('a TypeScript plugin shares the host\'s module instances (its errors are the host\'s classes)', async () => {
  await ensureDist();
  const flat = path.join(ROOT, 'test/fixtures/host/objstore-flat');
  const r = run(flat, `
    await b.upload('a/b', new TextEncoder().encode('x'));
    const missing = await b.get('nope').then(() => undefined, (e) => e);
    return {
      provider: b.provider,
      notFound: missing instanceof dist.bucket.ObjectNotFoundError,
      notFoundIsHosts: dist.bucket.isObjectNotFound(missing),
      configError: dist.index.ConfigError === (await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/lib/sdk/errors.js')).href)})).ConfigError,
    };`);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.out, { provider: 'FLAT', notFound: true, notFoundIsHosts: true, configError: true }, r.stderr);
});

test('a plugin importing a host/ module the artifact does not expose is refused by name', async () => {
  await ensureDist();
  const dir = path.join(work, 'bad');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  fs.writeFileSync(path.join(dir, 'mod.ts'), `import { createLogger } from ${JSON.stringify(path.join(ROOT, 'host/log.ts'))};\nexport default { createLogger };\n`);
  const r = run(path.join(dir, 'mod.ts'), 'return b.provider;');
  assert.is(r.status, 0, r.stderr);
  assert.match((r.out as { error: string }).error, /host\/log\.ts \(imported by file:\/\/\S+\/bad\/mod\.ts\) is not importable from the built artifact: a plugin imports host\/index\.ts and lib\/ modules/);
});

test.run();
