// `thanos tools bucket verify|mark|cleanup|retention` and `thanos downsample` as processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, thanos } from './run.ts';
import { DELETION_MARK, NO_COMPACT_MARK } from '../../lib/compact/marks.ts';
import { HOUR, DAY, tmp, fsBucket, alignedStart, putBlock, objects, freePort, bucketConfigFile } from '../compact/helpers.ts';
import { readAll } from '../../lib/objstore/bucket.ts';


const dir = tmp('tb-bucket');
const bucket = fsBucket(dir);
const cfg = bucketConfigFile(dir);
const T0 = alignedStart();
let blocks: Awaited<ReturnType<typeof putBlock>>[] = [];

test.before(async () => {
  blocks = [
    await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'eu', replica: '0' } }),
    await putBlock(bucket, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, ext: { cluster: 'eu', replica: '0' } }),
    await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'us' } }),
  ];
});

test('bucket verify: clean bucket passes; an overlap and a broken chunk are reported', async () => {
  const ok = await thanos('bucket', 'verify', '--objstore.config-file', cfg);
  assert.is(ok.code, 0, ok.err + ok.out);
  assert.match(ok.out, /verified 3 blocks .*: 0 issue\(s\)/);
  const d2 = tmp('tb-verify');
  const b2 = fsBucket(d2);
  const x = await putBlock(b2, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { c: '1' } });
  const y = await putBlock(b2, { minTime: T0 + HOUR, maxTime: T0 + 3 * HOUR, ext: { c: '1' } });
  // Corrupt y's chunk segment (flip bytes in the middle of the data).
  const seg = (await objects(b2)).find((n) => n.startsWith(`${y.ulid}/chunks/`))!;
  const bytes = await readAll(await b2.get(seg));
  for (let i = 20; i < Math.min(bytes.length, 400); i += 3) bytes[i] = bytes[i]! ^ 0x5a;
  await b2.upload(seg, bytes);
  const r = await thanos('bucket', 'verify', '--objstore.config-file', bucketConfigFile(d2));
  assert.is(r.code, 1, r.err + r.out);
  assert.match(r.out, new RegExp(`issue=overlapped_blocks .*${x.ulid}.*${y.ulid}`));
  assert.match(r.out, new RegExp(`issue=index_known_issues block ${y.ulid}: `));
  assert.not.match(r.out, new RegExp(`issue=index_known_issues block ${x.ulid}`));
  const only = await thanos('bucket', 'verify', '-i', 'overlapped_blocks', '--objstore.config-file', bucketConfigFile(d2));
  assert.is(only.code, 1);
  assert.not.match(only.out, /index_known_issues block/);
  const bad = await thanos('bucket', 'verify', '--issues=bogus', '--objstore.config-file', cfg);
  assert.is(bad.code, 2);
  assert.match(bad.err, /unknown issue "bogus"/);
});

test('bucket mark and cleanup', async () => {
  const d = tmp('tb-mark');
  const b = fsBucket(d);
  const c = bucketConfigFile(d);
  const x = await putBlock(b, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { c: '1' } });
  const y = await putBlock(b, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, ext: { c: '1' } });
  const m = await thanos('bucket', 'mark', '--id', x.ulid, '--marker', 'deletion-mark.json', '--details', 'test run', '--objstore.config-file', c);
  assert.is(m.code, 0, m.err);
  const mark = JSON.parse(new TextDecoder().decode(await readAll(await b.get(`${x.ulid}/${DELETION_MARK}`))));
  assert.is(mark.id, x.ulid);
  assert.is(mark.details, 'test run');
  assert.is(mark.version, 1);
  const nc = await thanos('bucket', 'mark', `--id=${y.ulid}`, '--marker=no-compact-mark.json', '--details=keep', '--objstore.config-file', c);
  assert.is(nc.code, 0, nc.err);
  assert.ok(await b.exists(`${y.ulid}/${NO_COMPACT_MARK}`));
  const rm = await thanos('bucket', 'mark', `--id=${y.ulid}`, '--marker=no-compact-mark.json', '--remove', '--objstore.config-file', c);
  assert.is(rm.code, 0, rm.err);
  assert.not.ok(await b.exists(`${y.ulid}/${NO_COMPACT_MARK}`));
  const badMarker = await thanos('bucket', 'mark', `--id=${y.ulid}`, '--marker=nope.json', '--details=x', '--objstore.config-file', c);
  assert.is(badMarker.code, 2);
  const missing = await thanos('bucket', 'mark', '--id=01ARZ3NDEKTSV4RRFFQ69G5FAV', '--marker=deletion-mark.json', '--details=x', '--objstore.config-file', c);
  assert.is(missing.code, 2);
  assert.match(missing.err, /not found/);
  // Just marked: the default 48h delete delay keeps it; --delete-delay=0s deletes it.
  const keep = await thanos('bucket', 'cleanup', '--objstore.config-file', c);
  assert.is(keep.code, 0, keep.err);
  assert.ok(await b.exists(`${x.ulid}/meta.json`));
  await new Promise((r) => setTimeout(r, 1100));
  const del = await thanos('bucket', 'cleanup', '--delete-delay=0s', '--objstore.config-file', c);
  assert.is(del.code, 0, del.err);
  assert.match(del.out, /deleted 1 block/);
  const left = await objects(b);
  assert.not.ok(left.some((n) => n.startsWith(x.ulid)));
  assert.ok(left.includes(`${y.ulid}/meta.json`));
});

test('thanos downsample (older spelling) and bucket retention', async () => {
  const d = tmp('tb-ds');
  const b = fsBucket(d);
  const c = bucketConfigFile(d);
  const big = await putBlock(b, { minTime: T0, maxTime: T0 + 48 * HOUR, ext: { c: '1' } });
  const r = await thanos('downsample', '--objstore.config-file', c, '--data-dir', tmp('tb-ds-data'));
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /downsampled 1 block/);
  const ls = await thanos('bucket', 'ls', '-o', 'json', '--objstore.config-file', c);
  const metas = ls.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(metas.length, 2);
  assert.ok(metas.some((m) => m.thanos.downsample.resolution === 300000 && m.compaction.sources.includes(big.ulid)));
  const ret = await thanos('bucket', 'retention', '--retention.resolution-raw=30d', '--objstore.config-file', c);
  assert.is(ret.code, 0, ret.err);
  assert.match(ret.out, /marked 1 block/);
  assert.ok(await b.exists(`${big.ulid}/${DELETION_MARK}`));
  void DAY;
});

test('bucket upload-blocks: promtool-made blocks uploaded with external labels, once', async () => {
  const { genOpenMetrics, promtool } = await import('../tsdb/helpers.ts');
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const work = tmp('tb-upload');
  writeFileSync(join(work, 'in.om'), genOpenMetrics(T0, 4, 5));
  mkdirSync(join(work, 'data'));
  const pr = promtool('tsdb', 'create-blocks-from', 'openmetrics', join(work, 'in.om'), join(work, 'data'));
  assert.is(pr.code, 0, pr.stderr);
  const d = tmp('tb-up-bucket');
  const b = fsBucket(d);
  const c = bucketConfigFile(d);
  const noLabel = await thanos('bucket', 'upload-blocks', '--path', join(work, 'data'), '--objstore.config-file', c);
  assert.is(noLabel.code, 2);
  assert.match(noLabel.err, /--label is required/);
  const r = await thanos('bucket', 'upload-blocks', '--path', join(work, 'data'), '--label', 'cluster="up"', '--label=env=test', '--objstore.config-file', c);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /uploaded 2 block\(s\), skipped 0/);
  const ls = await thanos('bucket', 'ls', '-o', 'json', '--objstore.config-file', c);
  const metas = ls.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(metas.length, 2);
  for (const m of metas) {
    assert.equal(m.thanos.labels, { cluster: 'up', env: 'test' });
    assert.is(m.thanos.source, 'bucketupload');
    assert.ok(m.thanos.files.some((f: { rel_path: string }) => f.rel_path === 'index'));
  }
  const again = await thanos('bucket', 'upload-blocks', '--path', join(work, 'data'), '--label', 'cluster="up"', '--objstore.config-file', c);
  assert.is(again.code, 0, again.err);
  assert.match(again.out, /uploaded 0 block\(s\), skipped 2/);
  // The uploaded promtool blocks read back sample for sample (verify reads every chunk).
  const v = await thanos('bucket', 'verify', '--objstore.config-file', c);
  assert.is(v.code, 0, v.out + v.err);
  void b;
});

test.run();
