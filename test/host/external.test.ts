// "Add a vendor as a plugin" without touching host/: an object store from a fixture folder
// (use: ./relative/path) and one installed as an npm package (use: <package>) both pass the
// acceptance suite through plugins.yaml, and both are denied what they were not granted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { parseManifest, ManifestError } from '../../host/manifest.ts';
import { buildObjstore } from '../../host/main.ts';
import { createLogger } from '../../host/log.ts';
import { PermissionDenied } from '../../host/index.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ext-plugins-'));
const pkgDir = path.join(tmp, 'node_modules', 'thanos-objstore-kv');
fs.mkdirSync(pkgDir, { recursive: true });
for (const f of ['package.json', 'mod.js']) fs.copyFileSync(path.join(repo, 'test/fixtures/host/npm-objstore-kv', f), path.join(pkgDir, f));
const flatUse = path.relative(tmp, path.join(repo, 'test/fixtures/host/objstore-flat'));
assert.ok(flatUse.startsWith('../'), flatUse);
const log = createLogger({ level: 'error' });
const file = path.join(tmp, 'plugins.yaml');

function manifest(objstoreYaml: string) {
  const text = `apiVersion: 1\nobjstore:\n${objstoreYaml}`;
  fs.writeFileSync(file, text);
  return parseManifest(text, file);
}

let n = 0;
async function flat(dir = `./flat-data/b${n++}`, grant = './flat-data') {
  const m = manifest(`  - id: flat
    use: ./${flatUse}
    config: { directory: ${dir} }
    permissions: { read: [${grant}], write: [${grant}] }
`);
  return (await buildObjstore(m, m.objstore[0]!, log)).get();
}

async function kv(extra = '', perms = '') {
  const m = manifest(`  - id: other
    use: memory
  - id: kv
    use: thanos-objstore-kv
    config: {${extra}}
${perms ? `    permissions: ${perms}\n` : ''}`);
  return (await buildObjstore(m, m.objstore[1]!, log)).get();
}

registerAcceptance(test, () => flat(), { name: 'folder plugin (use: ./path): ' });
registerAcceptance(test, () => kv(), { name: 'npm plugin (use: package): ' });

test('folder plugin: objects land in the manifest-relative directory', async () => {
  const b = await flat('./flat-data/check');
  await b.upload('a/b', new TextEncoder().encode('x'));
  assert.ok(fs.existsSync(path.join(tmp, 'flat-data/check', encodeURIComponent('a/b'))));
  assert.is(b.provider, 'FLAT');
});

test('folder plugin: denied a directory outside its write grant', async () => {
  await flat('./elsewhere', './flat-data').then(() => assert.unreachable('must be denied'), (err) => {
    assert.instance(err, PermissionDenied);
    const e = err as PermissionDenied;
    assert.is(e.pluginId, 'objstore:flat');
    assert.is(e.api, 'fs.mkdir');
    assert.is(e.descriptor, path.join(tmp, 'elsewhere'));
    assert.is(e.manifestKey, 'objstore[0].permissions.write');
    assert.match(e.message, /grant it with objstore\[0\]\.permissions\.write in plugins\.yaml/);
  });
  assert.not.ok(fs.existsSync(path.join(tmp, 'elsewhere')), 'nothing was created');
});

test('npm plugin: denied network access it was not granted (fetch names host:port and key)', async () => {
  await kv(' endpoint: "http://127.0.0.1:9"', '{ net: ["127.0.0.1:10"] }').then(() => assert.unreachable('must be denied'), (err) => {
    assert.instance(err, PermissionDenied);
    const e = err as PermissionDenied;
    assert.is(e.pluginId, 'objstore:kv');
    assert.is(e.api, 'fetch');
    assert.is(e.descriptor, '127.0.0.1:9');
    assert.is(e.manifestKey, 'objstore[1].permissions.net');
  });
  // no grant at all
  await kv(' endpoint: "http://127.0.0.1:9"').then(() => assert.unreachable(), (err) => assert.instance(err, PermissionDenied));
});

test('npm plugin: allowed network access reaches a real server', async () => {
  const srv = http.createServer((req, res) => res.end(req.url === '/health' && req.headers.authorization === 'Bearer s3cr3t' ? 'ok' : 'no'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  process.env.KV_TOKEN = 's3cr3t';
  try {
    const b = await kv(` endpoint: "http://127.0.0.1:${port}", token: { env: KV_TOKEN }`, `{ net: ["127.0.0.1:${port}"], env: [KV_TOKEN] }`);
    assert.is(b.provider, 'KV');
  } finally {
    srv.close();
  }
});

test('npm plugin: a secret is resolved only with an env grant (clear error with line)', async () => {
  process.env.KV_TOKEN = 's3cr3t';
  await kv(' token: { env: KV_TOKEN }').then(() => assert.unreachable(), (err) => {
    assert.instance(err, ManifestError);
    assert.match(err.message, /plugins\.yaml:\d+: objstore\[1\]\.config\.token: secret \{ env: KV_TOKEN \} needs an env grant: plugin objstore:kv is not allowed to read KV_TOKEN/);
  });
  // granted, but the plugin itself only asks for KV_*: HOME stays out of reach
  await kv(' token: { env: HOME }', '{ env: true }').then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /does not ask for env access to HOME/);
  });
  delete process.env.KV_MISSING;
  await kv(' token: { env: KV_MISSING }', '{ env: [KV_MISSING] }').then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /environment variable KV_MISSING is not set/);
  });
});

test('missing plugins: path and package errors name file, line and key', async () => {
  let m = manifest(`  - id: x\n    use: ./no/such/plugin\n`);
  await buildObjstore(m, m.objstore[0]!, log).then(() => assert.unreachable(), (err) => {
    assert.instance(err, ManifestError);
    assert.match(err.message, /plugins\.yaml:4: objstore\[0\]\.use: cannot find plugin "\.\/no\/such\/plugin"/);
  });
  m = manifest(`  - id: x\n    use: thanos-objstore-nope\n`);
  await buildObjstore(m, m.objstore[0]!, log).then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /plugins\.yaml:4: objstore\[0\]\.use: cannot find plugin "thanos-objstore-nope".*npm install thanos-objstore-nope/);
  });
  m = manifest(`  - id: x\n    use: ./${path.relative(tmp, path.join(repo, 'test/fixtures/host/sleepy'))}\n`);
  await buildObjstore(m, m.objstore[0]!, log).then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /objstore\[0\]\.use: .*not a objstore plugin: manifest\.id must start with "objstore:"/);
  });
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
