// The read-into-the-caller's-buffer path (fs.readRangeInto, Bucket.getRangeInto over the FILESYSTEM
// provider) is held to the plugin's read grant exactly as readRange/getRange: a path outside the
// grant, a symlink inside it leading out, a kept handle whose path now leads out, a denied
// subdirectory, and object names escaping the bucket are all refused, and the caller's buffer never
// receives a byte of what was refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Permissions } from '../../host/permissions.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { PermissionDenied, type PermissionRequest } from '../../host/index.ts';
import { getRangeInto } from '../../lib/objstore/bucket.ts';
import filesystem from '../../plugins/objstore/filesystem/mod.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'read-into-'));
const SECRET = 'top-secret-bytes';
fs.mkdirSync(path.join(tmp, 'bucket/blk/private'), { recursive: true });
fs.writeFileSync(path.join(tmp, 'bucket/blk/obj'), 'granted-bytes');
fs.writeFileSync(path.join(tmp, 'bucket/blk/private/key'), SECRET);
fs.writeFileSync(path.join(tmp, 'secret'), SECRET);
fs.symlinkSync(path.join(tmp, 'secret'), path.join(tmp, 'bucket/blk/link'));

function ctx(grant: PermissionRequest) {
  const permissions = new Permissions({ pluginId: 'objstore:filesystem', request: { read: true, write: true }, grant, grantKey: 'objstore[0].permissions', grantBaseDir: tmp });
  return createCapabilities({ permissions, log: createLogger({ level: 'error' }), metrics: new Registry(), baseDir: tmp });
}

const grant: PermissionRequest = { read: { allow: ['./bucket'], deny: ['./bucket/blk/private'] }, write: ['./bucket'] };

/** The promise rejects with PermissionDenied for api, and dst holds none of the secret. */
async function refused(p: Promise<unknown>, api: string, dst: Uint8Array): Promise<void> {
  try {
    await p;
    assert.unreachable(`${api}: read outside the grant`);
  } catch (err) {
    assert.instance(err, PermissionDenied, String(err));
    assert.is((err as PermissionDenied).api, api);
  }
  assert.ok(dst.every((b) => b === 0), 'nothing was written into the caller\'s buffer');
}

test('fs.readRangeInto: outside the grant, a denied subdirectory and a symlink leading out are refused', async () => {
  const c = ctx(grant);
  assert.ok(c.fs.readRangeInto, 'the host\'s fs offers readRangeInto');
  const dst = new Uint8Array(64);
  const n = await c.fs.readRangeInto!('bucket/blk/obj', 8, dst);
  assert.is(new TextDecoder().decode(dst.subarray(0, n)), 'bytes');
  dst.fill(0);
  await refused(c.fs.readRangeInto!('secret', 0, dst), 'fs.readRangeInto', dst);
  await refused(c.fs.readRangeInto!(path.join(tmp, 'secret'), 0, dst), 'fs.readRangeInto', dst);
  await refused(c.fs.readRangeInto!('bucket/../secret', 0, dst), 'fs.readRangeInto', dst);
  await refused(c.fs.readRangeInto!('bucket/blk/private/key', 0, dst), 'fs.readRangeInto', dst);
  await refused(c.fs.readRangeInto!('bucket/blk/link', 0, dst), 'fs.readRangeInto', dst);
});

test('fs.readRangeInto: a handle kept by readRange is not read through once its path leads outside the grant', async () => {
  const c = ctx(grant);
  const file = path.join(tmp, 'bucket/blk/swapped');
  fs.writeFileSync(file, 'granted');
  assert.is(new TextDecoder().decode(await c.fs.readRange('bucket/blk/swapped', 0, 7)), 'granted');
  const dst = new Uint8Array(32);
  assert.is(await c.fs.readRangeInto!('bucket/blk/swapped', 0, dst), 7);
  dst.fill(0);
  fs.unlinkSync(file);
  fs.symlinkSync(path.join(tmp, 'secret'), file);
  await refused(c.fs.readRangeInto!('bucket/blk/swapped', 0, dst), 'fs.readRangeInto', dst);
  // and the other way round: a handle kept by readRangeInto is not read through by readRange
  fs.unlinkSync(file);
  fs.writeFileSync(file, 'granted');
  assert.is(await c.fs.readRangeInto!('bucket/blk/swapped', 0, dst), 7);
  dst.fill(0);
  fs.unlinkSync(file);
  fs.symlinkSync(path.join(tmp, 'secret'), file);
  await refused(c.fs.readRange('bucket/blk/swapped', 0, 7), 'fs.readRange', dst);
});

test('fs.readRangeInto: a buffer that is not a Uint8Array and a negative offset are refused', async () => {
  const c = ctx(grant);
  const rejects = async (p: Promise<unknown>, re: RegExp) => {
    try {
      await p;
      assert.unreachable(String(re));
    } catch (err) {
      assert.match(String(err), re);
    }
  };
  await rejects(c.fs.readRangeInto!('bucket/blk/obj', 0, new DataView(new ArrayBuffer(8)) as unknown as Uint8Array), /dst must be a Uint8Array/);
  await rejects(c.fs.readRangeInto!('bucket/blk/obj', -1, new Uint8Array(8)), /offset must be a non-negative integer/);
});

test('FILESYSTEM getRangeInto: names leaving the bucket and objects whose files lead out of the grant are refused', async () => {
  const c = ctx(grant);
  const b = await filesystem.create(c, { directory: 'bucket' });
  assert.ok(b.getRangeInto, 'the FILESYSTEM provider reads into the caller\'s buffer');
  const dst = new Uint8Array(64);
  const n = await getRangeInto(b, 'blk/obj', 0, dst);
  assert.is(new TextDecoder().decode(dst.subarray(0, n)), 'granted-bytes');
  dst.fill(0);
  for (const name of ['../secret', 'blk/../../secret', '/etc/passwd', 'blk//obj']) {
    try {
      await getRangeInto(b, name, 0, dst);
      assert.unreachable(name);
    } catch (err) {
      assert.match(String(err), /invalid object name/, name);
    }
    assert.ok(dst.every((x) => x === 0), name);
  }
  await refused(getRangeInto(b, 'blk/link', 0, dst), 'fs.stat', dst);
  await refused(getRangeInto(b, 'blk/private/key', 0, dst), 'fs.stat', dst);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
