// Byte compatibility with the real promtool 2.42: we read its blocks, it reads ours. Our XOR chunks
// follow Prometheus >= 3.0, which drops the spare 0x00 that 2.42 leaves after some byte-aligned
// chunks, so block bytes are compared with promtool's blocks rewritten to that rule (see sameAs3x).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, readFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlockReader, IndexReader, crc32c, fsBlockFiles, fsBlockSink, fsSource, parseMeta, ENC_XOR } from '../../lib/tsdb/mod.ts';
import { readSegment } from '../core/block.ts';
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

function uvarintBytes(x: number): number[] {
  const out: number[] = [];
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
  return out;
}

/**
 * promtool 2.42's chunk segment rewritten as Prometheus >= 3.0 would write it: an XOR chunk whose
 * last byte is 0x00 and that decodes without it loses that byte (2.42's spare byte: 3.x ends the
 * chunk at its last bit), and each record is re-framed (length, CRC). Returns the bytes and where
 * each old record offset moved.
 */
function segmentAs3x(seg: Uint8Array): { bytes: Buffer; moved: Map<number, number>; stripped: number } {
  const parts: Uint8Array[] = [seg.subarray(0, 8)];
  const moved = new Map<number, number>();
  let pos = 8;
  let stripped = 0;
  for (const [off, rec] of readSegment(seg)) {
    let data = rec.data;
    if (rec.encoding === ENC_XOR && data.length > 2 && data[data.length - 1] === 0) {
      const cut = data.subarray(0, data.length - 1);
      let ok = true;
      try {
        core.xorDecode(cut);
      } catch {
        ok = false;
      }
      if (ok) {
        data = cut;
        stripped++;
      }
    }
    const body = new Uint8Array(1 + data.length);
    body[0] = rec.encoding;
    body.set(data, 1);
    const crc = crc32c(body);
    const r = Uint8Array.from([...uvarintBytes(data.length), ...body, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
    moved.set(off, pos);
    parts.push(r);
    pos += r.length;
  }
  return { bytes: Buffer.concat(parts), moved, stripped };
}

/**
 * Our block `o` equals promtool's block `d` under the 3.x chunk rule: the chunk segment byte for
 * byte equal to segmentAs3x(theirs); the index byte for byte equal when no chunk moved, else equal
 * up to the series section and, entry by entry, the same symbols, series (labels, chunk time
 * ranges, chunk refs pointing at the moved records) and postings. Returns the stripped count.
 */
async function sameAs3x(d: string, o: string, what: string): Promise<number> {
  assert.equal(readdirSync(join(d, 'chunks')), ['000001'], `${what}: one chunk segment (theirs)`);
  assert.equal(readdirSync(join(o, 'chunks')), ['000001'], `${what}: one chunk segment (ours)`);
  const want = segmentAs3x(new Uint8Array(readFileSync(join(d, 'chunks', '000001'))));
  assert.ok(Buffer.compare(readFileSync(join(o, 'chunks', '000001')), want.bytes) === 0, `chunks of ${what} == promtool's under the 3.x rule`);
  const ti = readFileSync(join(d, 'index'));
  const oi = readFileSync(join(o, 'index'));
  if (want.stripped === 0) {
    assert.ok(Buffer.compare(oi, ti) === 0, `index of ${what} identical`);
    return 0;
  }
  const [a, b] = await Promise.all([ti, oi].map((x) => IndexReader.open(fsSource(fs, x === ti ? join(d, 'index') : join(o, 'index')), { core })));
  assert.is(b.toc.series, a.toc.series, `${what}: series section offset`);
  assert.ok(Buffer.compare(oi.subarray(0, b.toc.series), ti.subarray(0, a.toc.series)) === 0, `${what}: index header and symbol table identical`);
  assert.equal(b.symbols, a.symbols);
  const key = (ls: readonly { name: string; value: string }[]) => ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(',');
  const refsA = await a.allPostings();
  const refsB = await b.allPostings();
  assert.is(refsB.length, refsA.length, `${what}: series count`);
  const labelsA = new Map<number, string>();
  const labelsB = new Map<number, string>();
  for (let i = 0; i < refsA.length; i++) {
    const sa = await a.series(refsA[i]!);
    const sb = await b.series(refsB[i]!);
    labelsA.set(sa.ref, key(sa.labels));
    labelsB.set(sb.ref, key(sb.labels));
    assert.is(key(sb.labels), key(sa.labels), `${what}: series #${i}`);
    assert.is(sb.chunks.length, sa.chunks.length);
    for (let k = 0; k < sa.chunks.length; k++) {
      const ca = sa.chunks[k]!;
      const cb = sb.chunks[k]!;
      assert.is(cb.minTime, ca.minTime);
      assert.is(cb.maxTime, ca.maxTime);
      assert.ok(ca.ref < 2 ** 32, 'segment 000001 (sequence 0)');
      assert.is(cb.ref, want.moved.get(ca.ref), `${what}: ${key(sa.labels)} chunk ${k} ref`);
    }
  }
  assert.equal(await b.labelNames(), await a.labelNames());
  for (const name of await a.labelNames()) {
    const values = await a.labelValues(name);
    assert.equal(await b.labelValues(name), values, `${what}: values of ${name}`);
    for (const value of values) {
      const pa = Array.from(await a.postings(name, [value]), (r) => labelsA.get(r));
      const pb = Array.from(await b.postings(name, [value]), (r) => labelsB.get(r));
      assert.equal(pb, pa, `${what}: postings ${name}=${value}`);
    }
  }
  return want.stripped;
}

test('chunks and index equal promtool for the same data (bytes, under the 3.x chunk rule)', async () => {
  // Same series, samples and cuts ⇒ the chunk segment and index promtool would write without
  // 2.42's spare chunk bytes (see sameAs3x).
  const ta = blockDirsIn(theirs);
  const tb = blockDirsIn(ours);
  const byRange = new Map(tb.map((d) => [JSON.stringify([parseMeta(readFileSync(join(d, 'meta.json'))).minTime]), d]));
  let compared = 0;
  let stripped = 0;
  for (const d of ta) {
    const m = parseMeta(readFileSync(join(d, 'meta.json')));
    const o = byRange.get(JSON.stringify([m.minTime]))!;
    assert.ok(o, 'matching block');
    stripped += await sameAs3x(d, o, m.ulid);
    compared++;
  }
  assert.ok(compared >= 4);
  assert.ok(stripped > 0, 'the data has chunks where promtool 2.42 wrote a spare 0x00');
  console.log(`${compared} blocks; ${stripped} promtool 2.42 chunks carried the spare 0x00 that we (3.x) omit`);
});

test('the WASM core writes the same bytes as the JS core and promtool (under the 3.x chunk rule)', async () => {
  const { createCore } = await import('../../lib/core/mod.ts');
  const wasm = await createCore({ backend: 'wasm' });
  assert.is(wasm.backend, 'wasm');
  const dir = join(work, 'ours-wasm');
  mkdirSync(dir, { recursive: true });
  await backfillOpenMetrics({ core: wasm, open: () => fs.openRead(input), sink: () => fsBlockSink(fs, dir) });
  const byMin = new Map(blockDirsIn(theirs).map((d) => [parseMeta(readFileSync(join(d, 'meta.json'))).minTime, d]));
  for (const d of blockDirsIn(dir)) {
    const t = byMin.get(parseMeta(readFileSync(join(d, 'meta.json'))).minTime)!;
    await sameAs3x(t, d, `wasm ${d}`);
  }
  // and byte for byte what the JS core wrote
  const byMinOurs = new Map(blockDirsIn(ours).map((d) => [parseMeta(readFileSync(join(d, 'meta.json'))).minTime, d]));
  for (const d of blockDirsIn(dir)) {
    const j = byMinOurs.get(parseMeta(readFileSync(join(d, 'meta.json'))).minTime)!;
    assert.ok(Buffer.compare(readFileSync(join(d, 'chunks', '000001')), readFileSync(join(j, 'chunks', '000001'))) === 0, `wasm chunks of ${d} == js`);
    assert.ok(Buffer.compare(readFileSync(join(d, 'index')), readFileSync(join(j, 'index'))) === 0, `wasm index of ${d} == js`);
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
