// `thanos tools bucket replicate` as a process, between two filesystem buckets: block selection
// (matcher, resolution, compaction level, time, --id), idempotent runs, partial and deletion-marked
// blocks, flag errors, and the looping mode's probes and /metrics (the bucket-replicate dashboard's series).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, thanos } from './run.ts';
import { DELETION_MARK } from '../../lib/compact/marks.ts';
import { HOUR, DAY, tmp, fsBucket, alignedStart, putBlock, objects, freePort, bucketConfigFile } from '../compact/helpers.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import type { FilesystemBucket } from '../../plugins/objstore/filesystem/mod.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

const T0 = alignedStart();

async function setLevel(b: FilesystemBucket, id: string, level: number): Promise<void> {
  const meta = JSON.parse(text(await readAll(await b.get(`${id}/meta.json`))));
  meta.compaction.level = level;
  await b.upload(`${id}/meta.json`, new TextEncoder().encode(JSON.stringify(meta, null, '\t')));
}

/** Every object of `id`, with its bytes, in a bucket. */
async function blockObjects(b: FilesystemBucket, id: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of await objects(b)) if (n.startsWith(`${id}/`)) out.set(n, Buffer.from(await readAll(await b.get(n))).toString('base64'));
  return out;
}

async function assertSameBlock(src: FilesystemBucket, dst: FilesystemBucket, id: string): Promise<void> {
  const a = await blockObjects(src, id);
  const b = await blockObjects(dst, id);
  assert.equal([...b.keys()].sort(), [...a.keys()].filter((n) => !n.endsWith(DELETION_MARK)).sort(), `objects of ${id}`);
  for (const [n, bytes] of b) assert.ok(a.get(n) === bytes, `${n} differs`);
}

async function dstBlocks(dst: FilesystemBucket): Promise<string[]> {
  return [...new Set((await objects(dst)).map((n) => n.split('/')[0]!))].sort();
}

test('selection by matcher, resolution, compaction level and time; a second run copies nothing', async () => {
  const srcDir = tmp('rep-src'), dstDir = tmp('rep-dst');
  const src = fsBucket(srcDir), dst = fsBucket(dstDir);
  const euRaw = await putBlock(src, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'eu' } });
  const usRaw = await putBlock(src, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'us' } });
  const eu5m = await putBlock(src, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, ext: { cluster: 'eu' }, resolution: 300_000 });
  const euL3 = await putBlock(src, { minTime: T0 + 4 * HOUR, maxTime: T0 + 6 * HOUR, ext: { cluster: 'eu' } });
  await setLevel(src, euL3.ulid, 3);
  const euOld = await putBlock(src, { minTime: T0 - 10 * DAY, maxTime: T0 - 10 * DAY + 2 * HOUR, ext: { cluster: 'eu' } });
  const minTime = new Date(T0 - DAY).toISOString().replace(/\.\d+Z$/, 'Z');
  const args = ['tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(srcDir), '--objstore-to.config-file', bucketConfigFile(dstDir),
    '--matcher', '{cluster="eu"}', '--resolution', '0s', '--compaction', '1', '--compaction', '2', `--min-time=${minTime}`, '--single-run', '--log.level=debug'];
  const r = await thanos(...args);
  assert.is(r.code, 0, r.err);
  assert.equal(await dstBlocks(dst), [euRaw.ulid]);
  await assertSameBlock(src, dst, euRaw.ulid);
  for (const skipped of [usRaw, eu5m, euL3, euOld]) assert.not.ok(await dst.exists(`${skipped.ulid}/meta.json`));

  const again = await thanos(...args);
  assert.is(again.code, 0, again.err);
  assert.match(again.err, /skipping block as already replicated/);
  assert.not.match(again.err, /object replicated/);

  // Defaults (all resolutions, levels 1..4, all time) with a regex matcher without braces.
  const all = await thanos('tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(srcDir), '--objstore-to.config-file', bucketConfigFile(dstDir), '--matcher', 'cluster=~"e.*"', '--single-run');
  assert.is(all.code, 0, all.err);
  assert.equal(await dstBlocks(dst), [euRaw.ulid, eu5m.ulid, euL3.ulid, euOld.ulid].sort());
  for (const b of [eu5m, euL3, euOld]) await assertSameBlock(src, dst, b.ulid);
  // --compaction-min/--compaction-max: level 3 is outside 1..2.
  const dst2Dir = tmp('rep-dst2');
  const lv = await thanos('tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(srcDir), '--objstore-to.config-file', bucketConfigFile(dst2Dir), '--compaction-max=2', '--single-run');
  assert.is(lv.code, 0, lv.err);
  assert.equal(await dstBlocks(fsBucket(dst2Dir)), [euRaw.ulid, usRaw.ulid, eu5m.ulid, euOld.ulid].sort());
});

test('--id replicates only those blocks (other selectors ignored) and exits without --single-run', async () => {
  const srcDir = tmp('rep-id-src'), dstDir = tmp('rep-id-dst');
  const src = fsBucket(srcDir), dst = fsBucket(dstDir);
  const a = await putBlock(src, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'eu' } });
  const b = await putBlock(src, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'us' }, resolution: 3_600_000 });
  const r = await thanos('tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(srcDir), `--objstore-to.config=type: FILESYSTEM\nconfig:\n  directory: ${JSON.stringify(dstDir)}\n`,
    '--id', b.ulid, '--matcher', 'cluster="eu"', '--resolution=0s', '--http-address=127.0.0.1:1');
  assert.is(r.code, 0, r.err);
  assert.equal(await dstBlocks(dst), [b.ulid]);
  await assertSameBlock(src, dst, b.ulid);
  assert.not.ok(await dst.exists(`${a.ulid}/meta.json`));
});

test('partial uploads are skipped; deletion-marked blocks only with --ignore-marked-for-deletion; an interrupted copy is completed', async () => {
  const srcDir = tmp('rep-p-src'), dstDir = tmp('rep-p-dst');
  const src = fsBucket(srcDir), dst = fsBucket(dstDir);
  const ok = await putBlock(src, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { c: '1' } });
  const partial = await putBlock(src, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, ext: { c: '1' } });
  await src.delete(`${partial.ulid}/meta.json`);
  const marked = await putBlock(src, { minTime: T0 + 4 * HOUR, maxTime: T0 + 6 * HOUR, ext: { c: '1' } });
  await src.upload(`${marked.ulid}/${DELETION_MARK}`, new TextEncoder().encode(JSON.stringify({ id: marked.ulid, version: 1, details: 'test', deletion_time: Math.floor(Date.now() / 1000) - 60 })));
  // The destination holds an interrupted earlier copy of `ok`: its index only, no meta.json.
  await dst.upload(`${ok.ulid}/index`, await readAll(await src.get(`${ok.ulid}/index`)));
  const base = ['tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(srcDir), '--objstore-to.config-file', bucketConfigFile(dstDir), '--single-run'];
  const r = await thanos(...base, '--ignore-marked-for-deletion');
  assert.is(r.code, 0, r.err);
  assert.equal(await dstBlocks(dst), [ok.ulid]);
  await assertSameBlock(src, dst, ok.ulid);
  assert.match(r.err, new RegExp(`block meta not uploaded yet. Skipping.*${partial.ulid}`));
  const r2 = await thanos(...base);
  assert.is(r2.code, 0, r2.err);
  assert.equal(await dstBlocks(dst), [ok.ulid, marked.ulid].sort());
  await assertSameBlock(src, dst, marked.ulid);
  assert.not.ok(await dst.exists(`${marked.ulid}/${DELETION_MARK}`), 'the deletion mark is not copied');
});

test('flag errors exit 2 and name the flag', async () => {
  const d = tmp('rep-err');
  const from = ['tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(d), '--single-run'];
  const to = ['--objstore-to.config-file', bucketConfigFile(tmp('rep-err-to'))];
  const noTo = await thanos(...from);
  assert.is(noTo.code, 2, noTo.err);
  assert.match(noTo.err, /replicate to/);
  const badM = await thanos(...from, ...to, '--matcher', 'cluster=="x"');
  assert.is(badM.code, 2, badM.err);
  assert.match(badM.err, /parse block label matchers/);
  const badId = await thanos(...from, ...to, '--id', 'nope');
  assert.is(badId.code, 2, badId.err);
  assert.match(badId.err, /--id/);
  const badLv = await thanos(...from, ...to, '--compaction-min=3', '--compaction-max=2');
  assert.is(badLv.code, 2, badLv.err);
  assert.match(badLv.err, /compaction-min must be less than or equal to compaction-max/);
  const badRes = await thanos(...from, ...to, '--resolution=5x');
  assert.is(badRes.code, 2, badRes.err);
  assert.match(badRes.err, /--resolution/);
  const badTo = await thanos(...from, '--objstore-to.config=type: NOPE\n');
  assert.is(badTo.code, 2, badTo.err);
  assert.match(badTo.err, /NOPE/);
  const unknown = await thanos(...from, ...to, '--grpc-address=127.0.0.1:0');
  assert.is(unknown.code, 2, unknown.err);
  assert.match(unknown.err, /grpc-address/);
});

test('looping: probes and /metrics with the replicate metrics and both buckets\' objstore metrics; SIGTERM exits 0', async () => {
  const srcDir = tmp('rep-loop-src'), dstDir = tmp('rep-loop-dst');
  const src = fsBucket(srcDir), dst = fsBucket(dstDir);
  const a = await putBlock(src, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { c: '1' } });
  const port = await freePort();
  const p = run(['tools', 'bucket', 'replicate', '--objstore.config-file', bucketConfigFile(srcDir), '--objstore-to.config-file', bucketConfigFile(dstDir), `--http-address=127.0.0.1:${port}`]);
  let body = '';
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        if (/thanos_replicate_replication_runs_total\{result="success"\} 1\b/.test(body)) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`no successful run within 60s; last scrape:\n${body}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.is((await fetch(`http://127.0.0.1:${port}/-/ready`)).status, 200);
    assert.is((await fetch(`http://127.0.0.1:${port}/-/healthy`)).status, 200);
    assert.match(body, /thanos_replicate_replication_runs_total\{result="error"\} 0\b/);
    assert.match(body, /thanos_replicate_replication_run_duration_seconds_count\{result="success"\} 1\b/);
    assert.match(body, /thanos_replicate_replication_run_duration_seconds_bucket\{result="success",le="\+Inf"\} 1\b/);
    assert.match(body, /thanos_replicate_blocks_replicated_total 1\b/);
    assert.match(body, /thanos_replicate_blocks_already_replicated_total 0\b/);
    const objs = (await objects(dst)).filter((n) => n !== `${a.ulid}/meta.json`).length;
    assert.match(body, new RegExp(`thanos_replicate_objects_replicated_total ${objs}\\b`));
    assert.match(body, /thanos_objstore_bucket_operations_total\{[^}]*operation="upload"[^}]*replicate="to"[^}]*\} [1-9]/);
    assert.match(body, /thanos_objstore_bucket_operations_total\{[^}]*operation="get"[^}]*replicate="from"[^}]*\} [1-9]/);
    // Upstream's replicate registers its meta fetcher's metrics without the thanos_ prefix.
    assert.match(body, /^blocks_meta_synced\{state="loaded"\} 1$/m);
    assert.match(body, /^blocks_meta_syncs_total [1-9]/m);
    assert.not.match(body, /thanos_blocks_meta_/);
    await assertSameBlock(src, dst, a.ulid);
  } finally {
    p.child.kill('SIGTERM');
  }
  const r = await p.done;
  assert.is(r.code, 0, r.err);
});

test.run();
