// `thanos tools bucket rewrite`: series and intervals deleted from a copy of a block.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DELETION_MARK } from '../../lib/compact/marks.ts';
import { parseDeleteConfig, RewriteConfigError } from '../../lib/compact/rewrite.ts';
import { BlockReader, bucketBlockFiles } from '../../lib/tsdb/mod.ts';
import { labelsToRecord } from '../../lib/labels/mod.ts';
import { core, HOUR, tmp, fsBucket, alignedStart, putBlock, objects, samplesOf, SERIES, bucketConfigFile } from '../compact/helpers.ts';

function thanos(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['bin/thanos.mjs', ...args], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

test('deletion config parsing: clear errors', () => {
  const r = parseDeleteConfig(`- matchers: '{__name__="up"}'\n- matchers: '{room=~"k.*"}'\n  intervals: [{mint: 1, maxt: 5}]\n  request_id: gdpr-1\n`);
  assert.is(r.length, 2);
  assert.equal(r[1]!.intervals, [{ mint: 1, maxt: 5 }]);
  assert.is(r[1]!.requestId, 'gdpr-1');
  assert.throws(() => parseDeleteConfig('matchers: x'), /expected a list/);
  assert.throws(() => parseDeleteConfig(`- matchers: '{__name__="up"'`), (e: unknown) => e instanceof RewriteConfigError && /\[0\]\.matchers/.test((e as Error).message));
  assert.throws(() => parseDeleteConfig(`- matchers: '{a="b"}'\n  intervals: [{mint: 5, maxt: 1}]`), /intervals\[0\]/);
  assert.throws(() => parseDeleteConfig(`- matcher: '{a="b"}'`), /unknown key "matcher"/);
});

test('rewrite: dry run changes nothing; --no-dry-run writes a block without the deleted data', async () => {
  const dir = tmp('rw-bucket');
  const bucket = fsBucket(dir);
  const cfg = bucketConfigFile(dir);
  const T0 = alignedStart();
  const src = await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'eu' } });
  const cut = { mint: T0 + 30 * 60_000, maxt: T0 + 60 * 60_000 };
  const conf = join(tmp('rw-cfg'), 'delete.yaml');
  writeFileSync(conf, `- matchers: '{__name__="up"}'\n- matchers: '{room="kitchen"}'\n  intervals: [{mint: ${cut.mint}, maxt: ${cut.maxt}}]\n`);
  const before = await objects(bucket);
  const dry = await thanos('tools', 'bucket', 'rewrite', '--id', src.ulid, '--rewrite.to-delete-config-file', conf, '--objstore.config-file', cfg);
  assert.is(dry.code, 0, dry.err);
  assert.match(dry.out, /dry run: block .*: 1 series deleted, 1 series changed/);
  assert.equal(await objects(bucket), before);

  const r = await thanos('tools', 'bucket', 'rewrite', '--id', src.ulid, '--rewrite.to-delete-config-file', conf, '--no-dry-run', '--delete-blocks', '--objstore.config-file', cfg);
  assert.is(r.code, 0, r.err);
  const newId = /rewritten into ([0-9A-Z]{26})/.exec(r.out)![1]!;
  assert.ok(await bucket.exists(`${src.ulid}/${DELETION_MARK}`));
  const b = await BlockReader.open(bucketBlockFiles(bucket, newId), { core });
  assert.is(b.meta.thanos!.source, 'rewrite');
  assert.equal(b.meta.thanos!.labels, { cluster: 'eu' });
  assert.is((b.meta.thanos!.rewrites as unknown[]).length, 1);
  assert.is(b.meta.minTime, src.minTime);
  assert.is(b.meta.maxTime, src.maxTime);
  const got = new Map<string, { t: number[]; v: number[] }>();
  for await (const s of b.select([{ type: '=~', name: '__name__', value: '.*' }])) got.set(labelsToRecord(s.labels).__name__!, { t: [...s.t.subarray(0, s.n)], v: [...s.v.subarray(0, s.n)] });
  assert.equal([...got.keys()].sort(), ['requests_total', 'temp']);
  assert.equal(got.get('requests_total'), samplesOf(SERIES[1]!, T0, T0 + 2 * HOUR));
  const temp = samplesOf(SERIES[2]!, T0, T0 + 2 * HOUR);
  const keep = temp.t.map((t, i) => [t, temp.v[i]!] as const).filter(([t]) => t < cut.mint || t > cut.maxt);
  assert.ok(keep.length < temp.t.length && keep.length > 0);
  assert.equal(got.get('temp'), { t: keep.map(([t]) => t), v: keep.map(([, v]) => v) });

  const bad = await thanos('tools', 'bucket', 'rewrite', '--id', src.ulid, '--rewrite.to-delete-config', '- matchers: 5', '--objstore.config-file', cfg);
  assert.is(bad.code, 2);
  assert.match(bad.err, /\[0\]\.matchers/);
});

test.run();
