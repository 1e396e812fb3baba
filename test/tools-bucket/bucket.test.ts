// `thanos tools bucket …` / `thanos bucket …` as processes over a filesystem bucket.
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

test('bucket ls: ULIDs, -o json, -o wide; tools bucket ls is the same command', async () => {
  const r = await thanos('bucket', 'ls', '--objstore.config-file', cfg);
  assert.is(r.code, 0, r.err);
  assert.equal(r.out.trim().split('\n').sort(), blocks.map((b) => b.ulid).sort());
  const j = await thanos('tools', 'bucket', 'ls', '-o', 'json', `--objstore.config-file=${cfg}`);
  assert.is(j.code, 0, j.err);
  const metas = j.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(metas.length, 3);
  assert.ok(metas.every((m) => m.thanos && m.ulid && m.minTime !== undefined));
  const w = await thanos('bucket', 'ls', '--output=wide', '--objstore.config-file', cfg);
  assert.is(w.code, 0, w.err);
  assert.match(w.out, new RegExp(`${blocks[0]!.ulid} -- \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d - .* Diff: 2h0m0s, Compaction: 1, Downsample: 0, Source: sidecar`));
  const bad = await thanos('bucket', 'ls', '-o', 'yaml', '--objstore.config-file', cfg);
  assert.is(bad.code, 2);
  assert.match(bad.err, /unknown format "yaml"/);
  const none = await thanos('bucket', 'ls');
  assert.not.equal(none.code, 0);
  assert.match(none.err, /objstore/);
});

test('bucket inspect: table with Thanos columns, selector, csv', async () => {
  const r = await thanos('bucket', 'inspect', '--objstore.config-file', cfg);
  assert.is(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0]!, /\| ULID +\| FROM +\| UNTIL +\| RANGE +\| UNTIL-DOWN +\| #SERIES +\| #SAMPLES +\| #CHUNKS +\| COMP-LEVEL +\| COMP-FAILED +\| LABELS +\| RESOLUTION +\| SOURCE +\|/);
  assert.is(lines.length, 2 + 3);
  const row = lines.find((l) => l.includes(blocks[0]!.ulid))!;
  const cells = row.split('|').map((c) => c.trim()).filter((c, i, a) => i > 0 && i < a.length - 1);
  assert.is(cells[3], '2h0m0s');
  assert.is(cells[4], '38h0m0s');
  assert.is(cells[5], String(blocks[0]!.stats!.numSeries));
  assert.is(cells[6], String(blocks[0]!.stats!.numSamples));
  assert.is(cells[8], '1');
  assert.is(cells[10], 'cluster=eu,replica=0');
  assert.is(cells[11], '0s');
  assert.is(cells[12], 'sidecar');
  const sel = await thanos('bucket', 'inspect', '-l', 'cluster=us', '--output=csv', '--objstore.config-file', cfg);
  assert.is(sel.code, 0, sel.err);
  const csv = sel.out.trim().split('\n');
  assert.is(csv.length, 2);
  assert.ok(csv[1]!.startsWith(blocks[2]!.ulid + ','));
  const badSort = await thanos('bucket', 'inspect', '--sort-by=NOPE', '--objstore.config-file', cfg);
  assert.is(badSort.code, 2);
});

test('bucket web: page and /api/v1/blocks, until SIGTERM', async () => {
  const port = await freePort();
  const { child, done } = run(['bucket', 'web', `--http-address=127.0.0.1:${port}`, '--objstore.config-file', cfg, '--label=cluster']);
  try {
    let res: Response | undefined;
    const end = Date.now() + 20_000;
    while (!res) {
      try { res = await fetch(`http://127.0.0.1:${port}/api/v1/blocks`); } catch { if (Date.now() > end) throw new Error('bucket web did not start'); await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.is(res.status, 200);
    const body = (await res.json()) as { status: string; data: { blocks: { ulid: string }[]; label: string } };
    assert.is(body.status, 'success');
    assert.is(body.data.label, 'cluster');
    assert.equal(body.data.blocks.map((b) => b.ulid).sort(), blocks.map((b) => b.ulid).sort());
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.match(page, /<title>Thanos bucket blocks<\/title>/);
    assert.match(page, /cluster=eu/);
    assert.match(page, /cluster=us/);
    for (const b of blocks) assert.ok(page.includes(b.ulid), b.ulid);
    assert.is((await fetch(`http://127.0.0.1:${port}/-/ready`)).status, 200);
    assert.is((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
  } finally {
    child.kill('SIGTERM');
  }
  const r = await done;
  assert.is(r.code, 0, r.err);
});

test.run();
