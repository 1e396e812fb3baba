// isolation: process (issue #22): the object-store acceptance suite through a plugin's own Deno
// process — the built-in filesystem provider opting in, the folder fixture and the npm fixture
// (test/host/external.test.ts runs those two by default, which is process too) — and the pieces
// that derive the process from the grant: Deno flags and an environment of granted variables only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { parseManifest } from '../../host/manifest.ts';
import { buildObjstore } from '../../host/main.ts';
import { createLogger } from '../../host/log.ts';
import { denoFlags, isolatedEnv, IsolationError } from '../../host/isolate/host.ts';
import { PermissionDenied } from '../../host/index.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'isolate-')));
const log = createLogger({ level: 'error' });
let n = 0;

async function open(entry: string) {
  const text = `apiVersion: 1\nobjstore:\n${entry}`;
  const file = path.join(tmp, `plugins-${n++}.yaml`);
  fs.writeFileSync(file, text);
  const m = parseManifest(text, file);
  return (await buildObjstore(m, m.objstore[0]!, log)).get();
}

const flatUse = './' + path.relative(tmp, path.join(repo, 'test/fixtures/host/objstore-flat'));
const builtinFs = () => {
  const d = `./fs-${n}`;
  return open(`  - id: b\n    use: filesystem\n    isolation: process\n    config: { directory: ${d} }\n    permissions: { read: [${d}], write: [${d}] }\n`);
};
const flatProcess = () => {
  const d = `./flat-${n}`;
  return open(`  - id: b\n    use: ${flatUse}\n    isolation: process\n    config: { directory: ${d} }\n    permissions: { read: [${d}], write: [${d}] }\n`);
};

registerAcceptance(test, builtinFs, { name: 'built-in filesystem, isolation: process: ' });
registerAcceptance(test, flatProcess, { name: 'folder plugin, isolation: process: ' });

test('a built-in in process mode is still held to its grant, denial naming the key', async () => {
  await open(`  - id: b\n    use: filesystem\n    isolation: process\n    config: { directory: ./elsewhere }\n    permissions: { read: [./granted], write: [./granted] }\n`)
    .then(async (b) => { await b.upload('x', new Uint8Array(1)); assert.unreachable('must be denied'); }, (err) => err)
    .catch((err) => err)
    .then((err) => {
      assert.instance(err, PermissionDenied, String(err));
      assert.is((err as PermissionDenied).manifestKey, 'objstore[0].permissions.write');
      assert.is((err as PermissionDenied).descriptor.startsWith(path.join(tmp, 'elsewhere')), true, (err as PermissionDenied).descriptor);
    });
  assert.not.ok(fs.existsSync(path.join(tmp, 'elsewhere')));
});

test('a config error from the plugin\'s process names file, line and key', async () => {
  await open(`  - id: b\n    use: ${flatUse}\n    config: { directory: ./d, bogus: 1 }\n`).then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /plugins-\d+\.yaml:\d+: objstore\[0\]\.config\.bogus: unknown field for FLAT/);
  });
});

test('Deno flags come from the operator\'s grant; what Deno cannot express is refused', () => {
  assert.equal(denoFlags({ read: ['./a', '/abs'], write: { allow: ['./a'], deny: ['./a/private'] }, net: ['127.0.0.1:9000', 'S3.example.com', '[::1]:80'], env: ['AWS_*', 'HOME'] }, '/base', 'objstore[0].permissions'), [
    '--allow-read=/base/a,/abs', '--allow-write=/base/a', '--deny-write=/base/a/private',
    '--allow-net=127.0.0.1:9000,s3.example.com,[::1]:80', '--allow-env=AWS_*,HOME',
  ]);
  assert.equal(denoFlags({}, '/base', 'k'), [], 'no grant: no permission at all');
  assert.equal(denoFlags({ net: true, env: false }, '/base', 'k'), ['--allow-net']);
  assert.throws(() => denoFlags({ net: ['*:9000'] }, '/b', 'objstore[2].permissions'), (e: unknown) => e instanceof IsolationError && e.key === 'objstore[2].permissions.net');
  assert.throws(() => denoFlags({ read: ['/a,b'] }, '/b', 'k'), /comma/);
});

test('the plugin process\'s environment holds only granted variables', () => {
  const env = isolatedEnv({ env: { allow: ['AWS_*', 'TOKEN'], deny: ['AWS_SECRET'] } }, { AWS_REGION: 'x', AWS_SECRET: 's', TOKEN: 't', HOME: '/root', DB_PASSWORD: 'p' });
  assert.equal(Object.keys(env).filter((k) => !k.startsWith('DENO_') && k !== 'NO_COLOR').sort(), ['AWS_REGION', 'TOKEN']);
  assert.equal(Object.keys(isolatedEnv({}, { HOME: '/root', SECRET: 'x' })).sort(), ['DENO_DIR', 'DENO_NO_UPDATE_CHECK', 'NO_COLOR']);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
