// Object bodies from an isolated object-store plugin stream across the channel in pieces with
// credits (issue #22, lib/isolate/README.md): a 512 MiB range is never held whole by the plugin's
// process or the host, a reader that stops holds the plugin's reads back to the window, and a
// reader that cancels half way releases the plugin's file. Observed from outside the plugin's Deno
// process through /proc (its file reads, peak memory and open files), so the assertions count
// bytes and descriptors, not time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import { WINDOW_BYTES } from '../../lib/isolate/wire.ts';
import { parseManifest } from '../../host/manifest.ts';
import { buildObjstore } from '../../host/main.ts';
import { createLogger } from '../../host/log.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'isolate-stream-')));
const MiB = 1 << 20;
const BIG = 512 * MiB;
let n = 0;

/** The flat fixture in its own Deno process over directory ./d<n>, with `object` made a sparse file of `size` bytes (no disk used). */
async function flatWith(object: string, size: number): Promise<{ bucket: Bucket; dir: string; file: string; pid: number }> {
  const d = `d${n++}`;
  const dir = path.join(tmp, d);
  fs.mkdirSync(dir);
  const file = path.join(dir, encodeURIComponent(object));
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  const before = new Set(denoChildren());
  const use = './' + path.relative(tmp, path.join(repo, 'test/fixtures/host/objstore-flat'));
  const text = `apiVersion: 1\nobjstore:\n  - id: b\n    use: ${use}\n    isolation: process\n    config: { directory: ./${d} }\n    permissions: { read: [./${d}], write: [./${d}] }\n`;
  const mf = path.join(tmp, `plugins-${d}.yaml`);
  fs.writeFileSync(mf, text);
  const m = parseManifest(text, mf);
  const bucket = await (await buildObjstore(m, m.objstore[0]!, createLogger({ level: 'error' }))).get();
  // The process serving this bucket: the child started for it.
  await bucket.exists(object);
  const fresh = denoChildren().filter((p) => !before.has(p));
  assert.ok(fresh.length >= 1, `a new plugin process (children: ${denoChildren().join(', ')})`);
  return { bucket, dir, file, pid: fresh[fresh.length - 1]! };
}

/** This process's child processes running Deno. */
function denoChildren(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('deno')) out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out.sort((a, b) => a - b);
}

/** Bytes the process has read through read(2) and friends (files and sockets). */
const bytesRead = (pid: number) => Number(/^rchar: (\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
/** The process's peak resident memory in bytes. */
const peakRss = (pid: number) => Number(/^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
/** Whether the process has `file` open. */
const hasOpen = (pid: number, file: string) => fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
  try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file; } catch { return false; }
});

/** Waits until `f` holds (polling; generous for a loaded machine). */
async function until(what: string, f: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `f()` stops changing (three polls 100 ms apart alike), returning its value. */
async function settled(f: () => number): Promise<number> {
  let last = f();
  for (let same = 0; same < 3;) {
    await new Promise((r) => setTimeout(r, 100));
    const v = f();
    same = v === last ? same + 1 : 0;
    last = v;
  }
  return last;
}

test('a 512 MiB range streams through: neither the plugin process nor the host holds it whole', async () => {
  const { bucket, pid } = await flatWith('big/index', BIG + MiB);
  const peakBefore = peakRss(pid);
  let hostPeak = 0;
  let total = 0;
  let chunks = 0;
  let largest = 0;
  const s = await bucket.getRange('big/index', MiB, BIG);
  for await (const c of s) {
    total += c.length;
    chunks++;
    largest = Math.max(largest, c.length);
    if (chunks % 64 === 0) hostPeak = Math.max(hostPeak, process.memoryUsage().arrayBuffers);
  }
  assert.is(total, BIG);
  assert.ok(chunks >= BIG / MiB, `the body came in pieces (${chunks} chunks, largest ${largest} B)`);
  const grew = peakRss(pid) - peakBefore;
  assert.ok(grew < 64 * MiB, `the plugin process's peak memory grew by ${(grew / MiB).toFixed(0)} MiB reading 512 MiB`);
  assert.ok(hostPeak < 128 * MiB, `the host's array buffers peaked at ${(hostPeak / MiB).toFixed(0)} MiB reading 512 MiB`);
  await bucket.close();
});

test('a reader that stops holds the plugin\'s reads to the window', async () => {
  const { bucket, pid } = await flatWith('big/index', BIG);
  const read0 = bytesRead(pid);
  const reader = (await bucket.getRange('big/index', 0, BIG)).getReader();
  const first = await reader.read();
  assert.ok(!first.done && first.value.length > 0);
  // However long the plugin is given, it reads no further ahead than the credit it was granted.
  const ahead = (await settled(() => bytesRead(pid))) - read0;
  assert.ok(ahead <= WINDOW_BYTES + 2 * MiB, `the plugin read ${(ahead / MiB).toFixed(1)} MiB ahead of a reader that took one chunk (window ${WINDOW_BYTES / MiB} MiB)`);
  // Reading on resumes it.
  let taken = first.value.length;
  while (taken < WINDOW_BYTES) taken += (await reader.read()).value!.length;
  await until('the plugin to read on', () => bytesRead(pid) - read0 > ahead);
  await reader.cancel();
  await bucket.close();
});

test('cancelling a half-read body releases the plugin\'s side (its file is closed, the channel serves on)', async () => {
  const { bucket, pid, file } = await flatWith('half/read', 64 * MiB);
  const reader = (await bucket.getRange('half/read', 0, 64 * MiB)).getReader();
  await reader.read();
  assert.ok(hasOpen(pid, file), 'while the body is being read the plugin has the object open');
  await reader.cancel();
  await until('the plugin to close the object', () => !hasOpen(pid, file));
  // The channel is whole: the next read is answered in full.
  const again = await bucket.getRange('half/read', 3, 5);
  let got = 0;
  for await (const c of again) got += c.length;
  assert.is(got, 5);
  await bucket.close();
});

test('a ranged read\'s body lands in one buffer of its length: readAll joins it without a copy', async () => {
  const { bucket, file } = await flatWith('landed/index', 20 * MiB);
  const data = new Uint8Array(20 * MiB).map((_, i) => (i * 13 + (i >> 12)) & 0xff);
  fs.writeFileSync(file, data);
  const off = 12345;
  const len = 8 * MiB + 7;
  const got = await readAll(await bucket.getRange('landed/index', off, len));
  assert.is(got.length, len);
  assert.is(got.buffer.byteLength, len, 'the whole range in one buffer, no concatenation');
  assert.ok(Buffer.from(got.buffer, got.byteOffset, got.length).equals(data.subarray(off, off + len)));
  await bucket.close();
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
