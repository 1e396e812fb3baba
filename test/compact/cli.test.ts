// `node bin/thanos.mjs compact …` as a process: one iteration and exit 0; --wait serving probes,
// metrics and the block viewer until SIGTERM; exit 1 with "halting" on overlapping blocks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { DELETION_MARK } from '../../lib/compact/marks.ts';
import { HOUR, tmp, fsBucket, alignedStart, putBlock, objects, freePort, bucketConfigFile } from './helpers.ts';

function run(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; out: string; err: string }> } {
  const child = spawn(process.execPath, ['bin/thanos.mjs', ...args], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
  return { child, done };
}

async function waitFor(url: string, ms = 20_000): Promise<Response> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return r;
    } catch {}
    if (Date.now() > end) throw new Error(`timeout waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('thanos compact: one iteration, then exit 0', async () => {
  const dir = tmp('cli-bucket');
  const bucket = fsBucket(dir);
  const T0 = alignedStart();
  const srcs = [];
  for (let i = 0; i < 5; i++) srcs.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'eu' } }));
  const port = await freePort();
  const { done } = run(['compact', '--objstore.config-file', bucketConfigFile(dir), '--data-dir', tmp('cli-data'), '--http-address', `127.0.0.1:${port}`, '--consistency-delay=0s']);
  const r = await done;
  assert.is(r.code, 0, r.err + r.out);
  assert.match(r.err + r.out, /compacting group 1\/1: 4\/5 blocks/);
  for (const s of srcs.slice(0, 4)) assert.ok(await bucket.exists(`${s.ulid}/${DELETION_MARK}`), s.ulid);
  const metas = (await objects(bucket)).filter((n) => n.endsWith('/meta.json'));
  assert.is(metas.length, 6);
});

test('thanos compact --selector.relabel-config: only the selected group is compacted', async () => {
  const dir = tmp('cli-bucket');
  const bucket = fsBucket(dir);
  const T0 = alignedStart();
  const eu: Awaited<ReturnType<typeof putBlock>>[] = [], us: Awaited<ReturnType<typeof putBlock>>[] = [];
  for (let i = 0; i < 5; i++) {
    eu.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'eu' } }));
    us.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'us' } }));
  }
  const relabel = '- action: keep\n  source_labels: [cluster]\n  regex: us\n';
  const { done } = run(['compact', '--objstore.config-file', bucketConfigFile(dir), '--data-dir', tmp('cli-data'), `--http-address=127.0.0.1:${await freePort()}`, '--consistency-delay=0s', `--selector.relabel-config=${relabel}`]);
  const r = await done;
  assert.is(r.code, 0, r.err);
  for (const b of us.slice(0, 4)) assert.ok(await bucket.exists(`${b.ulid}/${DELETION_MARK}`));
  for (const b of eu) assert.not.ok(await bucket.exists(`${b.ulid}/${DELETION_MARK}`));
  const bad = await run(['compact', '--objstore.config-file', bucketConfigFile(dir), '--data-dir', tmp('cli-data'), '--selector.relabel-config=- action: nope']).done;
  assert.is(bad.code, 1);
  assert.match(bad.err, /selectorRelabelConfig/);
});

test('thanos compact --wait: ready, metrics, block viewer; SIGTERM stops it', async () => {
  const dir = tmp('cli-bucket');
  const bucket = fsBucket(dir);
  const T0 = alignedStart();
  for (let i = 0; i < 5; i++) await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'eu' } });
  const port = await freePort();
  const { child, done } = run(['compact', '--wait', '--wait-interval=1h', '--objstore.config-file', bucketConfigFile(dir), '--data-dir', tmp('cli-data'), `--http-address=127.0.0.1:${port}`, '--consistency-delay=0s']);
  try {
    await waitFor(`http://127.0.0.1:${port}/-/ready`);
    let text = '';
    const end = Date.now() + 20_000;
    while (!/thanos_compact_iterations_total(\{[^}]*\})? 1/.test(text) && Date.now() < end) {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /thanos_compact_group_compactions_total\{resolution="0"\} 1/);
    assert.match(text, /thanos_compact_halted 0/);
    const api = (await (await fetch(`http://127.0.0.1:${port}/api/v1/blocks?refresh=true`)).json()) as { status: string; data: { blocks: { compaction: { level: number } }[] } };
    assert.is(api.status, 'success');
    assert.ok(api.data.blocks.some((b) => b.compaction.level === 2));
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.match(page, /\{cluster=&quot;eu&quot;\}/);
    assert.match(page, /<svg /);
  } finally {
    child.kill('SIGTERM');
  }
  const r = await done;
  assert.is(r.code, 0, r.err);
});

test('thanos compact halts on overlapping blocks (exit 1, "critical error detected; halting")', async () => {
  const dir = tmp('cli-bucket');
  const bucket = fsBucket(dir);
  const T0 = alignedStart();
  await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'eu' } });
  await putBlock(bucket, { minTime: T0 + HOUR, maxTime: T0 + 3 * HOUR, ext: { cluster: 'eu' } });
  const { done } = run(['compact', '--objstore.config-file', bucketConfigFile(dir), '--data-dir', tmp('cli-data'), `--http-address=127.0.0.1:${await freePort()}`, '--consistency-delay=0s']);
  const r = await done;
  assert.is(r.code, 1, r.err);
  assert.match(r.err + r.out, /critical error detected; halting/);
  assert.match(r.err + r.out, /overlaps found while gathering blocks/);
  assert.not.ok((await objects(bucket)).some((n) => n.endsWith(DELETION_MARK)));
});

test('thanos compact --wait halts on overlaps but stays up with thanos_compact_halted 1', async () => {
  const dir = tmp('cli-bucket');
  const bucket = fsBucket(dir);
  const T0 = alignedStart();
  await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'eu' } });
  await putBlock(bucket, { minTime: T0 + HOUR, maxTime: T0 + 3 * HOUR, ext: { cluster: 'eu' } });
  const port = await freePort();
  const { child, done } = run(['compact', '--wait', '--objstore.config-file', bucketConfigFile(dir), '--data-dir', tmp('cli-data'), `--http-address=127.0.0.1:${port}`, '--consistency-delay=0s']);
  try {
    await waitFor(`http://127.0.0.1:${port}/-/ready`);
    let text = '';
    const end = Date.now() + 20_000;
    while (!/thanos_compact_halted 1/.test(text) && Date.now() < end) {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /thanos_compact_halted 1/);
    assert.is(child.exitCode, null);
  } finally {
    child.kill('SIGTERM');
  }
  const r = await done;
  assert.is(r.code, 0, r.err);
  assert.match(r.err + r.out, /critical error detected; halting/);
});

test('thanos compact: bad retention flags are a usage error naming the flag', async () => {
  const dir = tmp('cli-bucket');
  const { done } = run(['compact', '--objstore.config-file', bucketConfigFile(dir), '--data-dir', tmp('cli-data'), '--retention.resolution-raw=1d']);
  const r = await done;
  assert.is(r.code, 1, r.err);
  assert.match(r.err, /--retention\.resolution-raw: raw resolution must be higher .* \(40 hours\)/);
});

/** Three sidecar-style blocks uploaded just now (ULID time = now): inside the default 30m consistency delay. */
async function freshBlocks(bucket: ReturnType<typeof fsBucket>) {
  const T0 = alignedStart();
  const now = Date.now();
  const out = [];
  for (let i = 0; i < 3; i++) out.push(await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'eu' }, ulidTime: now - i * 60_000 }));
  return { out, now };
}

const TOO_FRESH = /level=info (?:\S+ )*msg="blocks are too fresh, waiting for consistency delay" count=3 until=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/;

test('thanos compact as the reference deployment runs it: fresh blocks are reported (count, until), not silently skipped', async () => {
  const dir = tmp('cli-bucket');
  const bucket = fsBucket(dir);
  const { now } = await freshBlocks(bucket);
  // Exactly the reference deployment's flags (no --consistency-delay: the default 30m applies).
  const { done } = run(['compact', '--data-dir', tmp('cli-data'), '--http-address', `127.0.0.1:${await freePort()}`, '--objstore.config-file', bucketConfigFile(dir)]);
  const r = await done;
  assert.is(r.code, 0, r.err + r.out);
  const lines = (r.err + r.out).split('\n').filter((l) => TOO_FRESH.test(l));
  // Once per change, not once per internal sync of the iteration.
  assert.is(lines.length, 1, r.err + r.out);
  const until = Date.parse(TOO_FRESH.exec(lines[0]!)![1]!);
  // The youngest block (ULID time `now`) becomes visible 30m later.
  assert.ok(Math.abs(until - (now + 30 * 60_000)) <= 1000, `until ${new Date(until).toISOString()}`);
  assert.not.ok((await objects(bucket)).some((n) => n.endsWith(DELETION_MARK)));
});

test('thanos compact --wait: thanos_blocks_meta_synced has every Thanos state, too-fresh counting the fresh blocks', async () => {
  const dir = tmp('cli-bucket');
  const bucket = fsBucket(dir);
  await freshBlocks(bucket);
  const port = await freePort();
  const { child, done } = run(['compact', '--wait', '--wait-interval=1h', '--data-dir', tmp('cli-data'), '--http-address', `127.0.0.1:${port}`, '--objstore.config-file', bucketConfigFile(dir)]);
  let text = '';
  try {
    await waitFor(`http://127.0.0.1:${port}/-/ready`);
    const end = Date.now() + 20_000;
    while (!/thanos_compact_iterations_total(\{[^}]*\})? 1/.test(text) && Date.now() < end) {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    child.kill('SIGTERM');
  }
  const r = await done;
  assert.is(r.code, 0, r.err);
  assert.match(r.err, TOO_FRESH);
  assert.match(text, /# TYPE thanos_blocks_meta_synced gauge/);
  assert.match(text, /thanos_blocks_meta_synced\{state="too-fresh"\} 3\n/);
  assert.match(text, /thanos_blocks_meta_synced\{state="loaded"\} 0\n/);
  for (const st of ['corrupted-meta-json', 'no-meta-json', 'failed', 'label-excluded', 'time-excluded', 'duplicate', 'marked-for-deletion', 'marked-for-no-compact', 'marked-for-no-downsample', 'parquet-migrated']) {
    assert.match(text, new RegExp(`thanos_blocks_meta_synced\\{state="${st}"\\} 0\\n`), st);
  }
  assert.match(text, /thanos_blocks_meta_modified\{modified="replica-label-removed"\} 0\n/);
  assert.match(text, /thanos_blocks_meta_syncs_total [1-9]/);
  assert.match(text, /thanos_blocks_meta_sync_failures_total 0\n/);
  assert.match(text, /thanos_blocks_meta_sync_duration_seconds_count [1-9]/);
});

test.run();
