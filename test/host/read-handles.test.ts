// fs.readRange keeps a file's handle between reads (host/checked.ts ReadHandleCache): the kept
// handle is used only while the path still names the file it opened, so replaced, rewritten,
// deleted and symlinked-away files read as a fresh open would, the grant still holds, and the
// number of handles is bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Permissions } from '../../host/permissions.ts';
import { createFs } from '../../host/checked.ts';
import { PermissionDenied } from '../../host/index.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const newDir = tempDirs('read-handles-');
const dec = new TextDecoder();

/** A checked FsCapability that may read and write only `granted` (below base). */
function checkedFs(base: string, granted: string) {
  const perms = new Permissions({ pluginId: 'objstore:test', request: { read: true, write: true }, grant: { read: [granted], write: [granted] }, grantKey: 'objstore[0].permissions', grantBaseDir: base });
  return createFs(perms, base);
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

test('repeated ranged reads of one file answer its bytes, clamped at its end', async () => {
  const base = newDir();
  fs.mkdirSync(path.join(base, 'b'));
  fs.writeFileSync(path.join(base, 'b/f'), '0123456789');
  const cfs = checkedFs(base, 'b');
  for (let i = 0; i < 3; i++) assert.is(dec.decode(await cfs.readRange('b/f', 2, 3)), '234');
  assert.is(dec.decode(await cfs.readRange(path.join(base, 'b/f'), 8, 100)), '89');
  assert.is((await cfs.readRange('b/f', 20, 5)).length, 0);
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => cfs.readRange('b/f', i % 10, 1)));
  assert.equal(all.map((b) => dec.decode(b)).join(''), '01234567890123456789');
});

test('a file replaced (rename over it), rewritten in place or deleted reads as a fresh open would', async () => {
  const base = newDir();
  fs.mkdirSync(path.join(base, 'b'));
  const f = path.join(base, 'b/obj');
  fs.writeFileSync(f, 'first-version');
  const cfs = checkedFs(base, 'b');
  assert.is(dec.decode(await cfs.readRange('b/obj', 0, 5)), 'first');
  // An object store's upload: a new file renamed over the old one (another inode).
  fs.writeFileSync(path.join(base, 'b/tmp'), 'SECOND-VERSION');
  fs.renameSync(path.join(base, 'b/tmp'), f);
  assert.is(dec.decode(await cfs.readRange('b/obj', 0, 6)), 'SECOND');
  // The same inode rewritten (shorter): the new bytes and the new size.
  fs.writeFileSync(f, 'third');
  assert.is(dec.decode(await cfs.readRange('b/obj', 0, 100)), 'third');
  fs.unlinkSync(f);
  try {
    await cfs.readRange('b/obj', 0, 1);
    assert.unreachable('read a deleted file');
  } catch (err) {
    assert.is((err as NodeJS.ErrnoException).code, 'ENOENT');
  }
  fs.writeFileSync(f, 'fourth');
  assert.is(dec.decode(await cfs.readRange('b/obj', 0, 100)), 'fourth');
});

test('a kept file swapped for a symlink leading outside the grant is denied, not read through the kept handle', async () => {
  const base = newDir();
  fs.mkdirSync(path.join(base, 'b'));
  fs.writeFileSync(path.join(base, 'b/obj'), 'granted');
  fs.writeFileSync(path.join(base, 'secret'), 'outside');
  const cfs = checkedFs(base, 'b');
  assert.is(dec.decode(await cfs.readRange('b/obj', 0, 7)), 'granted');
  fs.unlinkSync(path.join(base, 'b/obj'));
  fs.symlinkSync(path.join(base, 'secret'), path.join(base, 'b/obj'));
  try {
    await cfs.readRange('b/obj', 0, 7);
    assert.unreachable('read through a symlink leaving the grant');
  } catch (err) {
    assert.instance(err, PermissionDenied, String(err));
  }
  // And a path outside the grant is denied before any file is touched.
  try {
    await cfs.readRange('secret', 0, 1);
    assert.unreachable('read outside the grant');
  } catch (err) {
    assert.instance(err, PermissionDenied, String(err));
  }
});

test('kept handles are bounded: reading many files does not keep a descriptor per file', async () => {
  const base = newDir();
  fs.mkdirSync(path.join(base, 'b'));
  const n = 200;
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(base, `b/f${i}`), `file ${i}`);
  const cfs = checkedFs(base, 'b');
  const before = openFds();
  for (let i = 0; i < n; i++) assert.is(dec.decode(await cfs.readRange(`b/f${i}`, 5, 10)), String(i));
  // Closing a dropped handle is asynchronous: wait for the descriptors to go (well under the 10 s
  // after which idle handles are closed anyway, which would hide a missing bound).
  const deadline = Date.now() + 5_000;
  while (openFds() - before > 64 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(openFds() - before <= 64, `${openFds() - before} descriptors kept for ${n} files`);
  // The most recently read files are still answered (from kept handles) correctly.
  assert.is(dec.decode(await cfs.readRange(`b/f${n - 1}`, 0, 100)), `file ${n - 1}`);
  assert.is(dec.decode(await cfs.readRange('b/f0', 0, 100)), 'file 0');
});

test.run();
