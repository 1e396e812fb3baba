import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import { InvalidObjectNameError } from '../../lib/objstore/util.ts';
import filesystem from '../../plugins/objstore/filesystem/mod.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { Permissions } from '../../host/permissions.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { PermissionDenied } from '../../host/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bucket-'));
let n = 0;

function caps(grantDir: string) {
  return createCapabilities({
    permissions: new Permissions({
      pluginId: 'objstore:filesystem', request: filesystem.manifest.permissions,
      grant: { read: [grantDir], write: [grantDir] }, grantKey: 'objstore[0].permissions', grantBaseDir: tmp,
    }),
    log: createLogger({ level: 'error' }), metrics: new Registry(),
  });
}

async function make(dir = path.join(tmp, `b${n++}`)) {
  return filesystem.create(caps(dir), filesystem.parseConfig({ directory: dir }));
}

registerAcceptance(test, () => make(), { name: 'filesystem: ' });

test('filesystem: names cannot escape the directory', async () => {
  const b = await make();
  for (const name of ['../escape', '/etc/passwd', 'a/../../x', 'nul\0byte', '.objstore-tmp-x']) {
    for (const op of [() => b.upload(name, new Uint8Array([1])), () => b.get(name), () => b.exists(name), () => b.delete(name)]) {
      try {
        await op();
        assert.unreachable(`${JSON.stringify(name)} should be refused`);
      } catch (err) {
        assert.instance(err, InvalidObjectNameError, String(err));
        assert.is(b.isObjNotFoundErr(err), false);
      }
    }
  }
  assert.not.ok(fs.existsSync(path.join(tmp, 'escape')));
});

test('filesystem: atomic upload leaves no temp files and keeps the old version on a failed stream', async () => {
  const dir = path.join(tmp, 'atomic');
  const b = await make(dir);
  await b.upload('x/obj', new TextEncoder().encode('old'));
  const failing = new ReadableStream<Uint8Array>({
    start(c) { c.enqueue(new Uint8Array(1000)); },
    pull(c) { c.error(new Error('network reset')); },
  });
  await b.upload('x/obj', failing).then(() => assert.unreachable('upload must fail'), (err) => assert.match(String(err), /network reset/));
  assert.is(new TextDecoder().decode(await readAll(await b.get('x/obj'))), 'old');
  assert.equal(fs.readdirSync(path.join(dir, 'x')), ['obj'], 'no temp file left behind');
});

test('filesystem: getRange past the end is an InvalidRange error, like S3', async () => {
  const b = await make();
  await b.upload('o', new Uint8Array(10));
  await b.getRange('o', 11, 1).then(() => assert.unreachable(), (err) => {
    assert.match(String(err), /offset 11 is past the object's size 10/);
    assert.is(b.isObjNotFoundErr(err), false);
  });
  await b.getRange('o', -1, 1).then(() => assert.unreachable(), (err) => assert.instance(err, RangeError));
});

test('filesystem: the read/write grant bounds the bucket', async () => {
  const granted = path.join(tmp, 'granted');
  const other = path.join(tmp, 'other');
  const c = caps(granted);
  await filesystem.create(c, { directory: other }).then(() => assert.unreachable(), (err) => {
    assert.instance(err, PermissionDenied);
    assert.match(String(err), /objstore:filesystem called fs\.mkdir\(.*other\); grant it with objstore\[0\]\.permissions\.write/);
  });
});

test('filesystem: config is strict', () => {
  assert.throws(() => filesystem.parseConfig({ directory: '/x', dir: 'y' }), /config\.dir: unknown field/);
  assert.throws(() => filesystem.parseConfig({}), /config\.directory: must be a non-empty string/);
  assert.throws(() => filesystem.parseConfig('x'), /config: FILESYSTEM config must be a mapping/);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
