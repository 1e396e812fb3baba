// Byte compatibility with the real promtool 2.42: we read its blocks, it reads ours.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlockReader, fsBlockFiles, fsBlockSink, parseMeta } from '../../lib/tsdb/mod.ts';
import { dumpSamples } from '../../lib/tsdb/dump.ts';
import { parseSelector } from '../../lib/tsdb/selector.ts';
import { backfillOpenMetrics } from '../../lib/tsdb/backfill.ts';
import { fs, core, tmp, promtool, promtoolDump, blockDirsIn, genOpenMetrics, HOUR } from './helpers.ts';

const work = tmp('promtool');
const input = join(work, 'input.om');
const START = Date.UTC(2026, 10, 20, 1, 17, 0); // not block aligned
writeFileSync(input, genOpenMetrics(START, 7, 42));
const theirs = join(work, 'theirs');
const ours = join(work, 'ours');

async function ourDump(dir: string, match = "{__name__=~'(?s:.*)'}", minTime?: number, maxTime?: number): Promise<string> {
  const blocks = await Promise.all(blockDirsIn(dir).map((d) => BlockReader.open(fsBlockFiles(fs, d), { core })));
  let s = '';
  await dumpSamples(blocks, { matchers: parseSelector(match), minTime, maxTime }, (x) => { s += x; });
  return s;
}

test.before(async () => {
  const r = promtool('tsdb', 'create-blocks-from', 'openmetrics', input, theirs);
  if (r.code !== 0) throw new Error(`promtool create-blocks-from failed: ${r.stderr}`);
  mkdirSync(ours, { recursive: true });
  await backfillOpenMetrics({ core, open: () => fs.openRead(input), sink: () => fsBlockSink(fs, ours) });
});

test('we read every sample of promtool-made blocks exactly as promtool dump prints them', async () => {
  const want = promtoolDump(theirs);
  const got = await ourDump(theirs);
  assert.ok(want.length > 100000, 'dump is substantial');
  assert.ok(want.includes('NaN') && want.includes('+Inf') && want.includes('e+21') && want.includes('\\n'), 'covers special floats and escapes');
  assert.is(got, want);
});

test('dump with --match and time bounds agrees with promtool', async () => {
  for (const [match, lo, hi] of [
    ['{__name__="queue_depth",zone=~"x|z"}', START + HOUR, START + 3 * HOUR],
    ['temperature_celsius{room!="attic"}', undefined, undefined],
    ['{__name__=~"http.*",code!~"5.."}', START + 30 * 60_000, undefined],
    ['{shard=~"1.*"}', undefined, START + 5 * HOUR + 1234],
  ] as const) {
    const flags = [`--match=${match}`];
    if (lo !== undefined) flags.push(`--min-time=${lo}`);
    if (hi !== undefined) flags.push(`--max-time=${hi}`);
    const want = promtoolDump(theirs, ...flags);
    assert.ok(want.length > 0, `non-empty for ${match}`);
    assert.is(await ourDump(theirs, match, lo, hi), want, match);
  }
});

test('our backfill writes the same blocks as promtool: ranges, stats (chunk cuts), samples', async () => {
  const a = blockDirsIn(theirs).map((d) => parseMeta(readFileSync(join(d, 'meta.json'))));
  const b = blockDirsIn(ours).map((d) => parseMeta(readFileSync(join(d, 'meta.json'))));
  const key = (m: typeof a[number]) => `${m.minTime}-${m.maxTime} series=${m.stats?.numSeries} samples=${m.stats?.numSamples} chunks=${m.stats?.numChunks}`;
  assert.equal(b.map(key).sort(), a.map(key).sort());
  assert.ok(a.length >= 4, 'several blocks');
  assert.is(promtoolDump(ours), promtoolDump(theirs));
});

test('promtool tsdb analyze accepts our blocks', () => {
  for (const d of blockDirsIn(ours)) {
    const id = d.slice(d.lastIndexOf('/') + 1);
    const r = promtool('tsdb', 'analyze', ours, id);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `Block ID: ${id}`);
  }
  const l = promtool('tsdb', 'list', ours);
  assert.is(l.code, 0, l.stderr);
});

test('chunks and index bytes equal promtool for the same data', async () => {
  // Same series, samples and cuts ⇒ identical chunk segments and (symbols, series, postings) index.
  const ta = blockDirsIn(theirs);
  const tb = blockDirsIn(ours);
  const byRange = new Map(tb.map((d) => [JSON.stringify([parseMeta(readFileSync(join(d, 'meta.json'))).minTime]), d]));
  let compared = 0;
  for (const d of ta) {
    const m = parseMeta(readFileSync(join(d, 'meta.json')));
    const o = byRange.get(JSON.stringify([m.minTime]))!;
    assert.ok(o, 'matching block');
    assert.ok(Buffer.compare(readFileSync(join(d, 'chunks', '000001')), readFileSync(join(o, 'chunks', '000001'))) === 0, `chunks of ${m.ulid} identical`);
    assert.ok(Buffer.compare(readFileSync(join(d, 'index')), readFileSync(join(o, 'index'))) === 0, `index of ${m.ulid} identical`);
    compared++;
  }
  assert.ok(compared >= 4);
});

test('the WASM core writes the same bytes as the JS core and promtool', async () => {
  const { createCore } = await import('../../lib/core/mod.ts');
  const wasm = await createCore({ backend: 'wasm' });
  assert.is(wasm.backend, 'wasm');
  const dir = join(work, 'ours-wasm');
  mkdirSync(dir, { recursive: true });
  await backfillOpenMetrics({ core: wasm, open: () => fs.openRead(input), sink: () => fsBlockSink(fs, dir) });
  const byMin = new Map(blockDirsIn(theirs).map((d) => [parseMeta(readFileSync(join(d, 'meta.json'))).minTime, d]));
  for (const d of blockDirsIn(dir)) {
    const t = byMin.get(parseMeta(readFileSync(join(d, 'meta.json'))).minTime)!;
    assert.ok(Buffer.compare(readFileSync(join(d, 'chunks', '000001')), readFileSync(join(t, 'chunks', '000001'))) === 0, `wasm chunks of ${d}`);
    assert.ok(Buffer.compare(readFileSync(join(d, 'index')), readFileSync(join(t, 'index'))) === 0, `wasm index of ${d}`);
  }
});

test('backfill in several passes (small memory budget) writes the same data', async () => {
  const dir = join(work, 'ours-small');
  mkdirSync(dir, { recursive: true });
  const progress: string[] = [];
  await backfillOpenMetrics({ core, open: () => fs.openRead(input), sink: () => fsBlockSink(fs, dir), maxSamplesInMemory: 5000, progress: (m) => progress.push(m) });
  assert.ok(progress.filter((m) => m.startsWith('wrote block')).length >= 4);
  assert.is(promtoolDump(dir), promtoolDump(theirs));
});

test('dump over overlapping blocks merges series and deduplicates identical samples like promtool', async () => {
  const dir = join(work, 'overlap');
  mkdirSync(dir, { recursive: true });
  const { BlockWriter } = await import('../../lib/tsdb/mod.ts');
  const { labelsFromRecord } = await import('../../lib/labels/mod.ts');
  const T = Date.UTC(2026, 10, 22);
  for (const [lo, n, extra] of [[0, 400, 'a'], [200, 400, 'b']] as const) {
    const syms = ['__name__', 'm', 'x', 'only', extra];
    const w = await BlockWriter.create(fsBlockSink(fs, dir), syms, { core, minTime: T + lo * 15_000, maxTime: T + (lo + n) * 15_000 });
    const t = new Float64Array(n).map((_, i) => T + (lo + i) * 15_000);
    const v = new Float64Array(n).map((_, i) => (lo + i) * 1.5);
    await w.addSeries(labelsFromRecord({ __name__: 'm', only: extra }), t, v);
    await w.addSeries(labelsFromRecord({ __name__: 'm', x: 'x' }), t, v);
    await w.finish();
  }
  const want = promtoolDump(dir);
  assert.is(want.split('\n').filter((l) => l.includes('x="x"')).length, 600);
  assert.is(await ourDump(dir), want);
});

test.run();
