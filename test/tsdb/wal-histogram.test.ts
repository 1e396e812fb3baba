// Native histograms in the head (lib/tsdb/head): checks as Prometheus's head appender (out of order,
// duplicates, exact duplicates dropped, invalid histograms), float/histogram switches cutting chunks
// of the other encoding, a float stale marker after a histogram becoming a histogram stale marker,
// WAL histogram records (integer, float, custom buckets) replayed after a restart, a checkpoint
// keeping float and histogram runs in order, and the block cut from the head holding histogram chunks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../host/log.ts';
import { compileMatcher, type Label } from '../../lib/labels/mod.ts';
import type { Histogram } from '../../lib/proto/prompb.ts';
import { BlockReader, fsBlockFiles } from '../../lib/tsdb/block.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM, ENC_XOR } from '../../lib/tsdb/chunks.ts';
import { HeadDB, type DBChunk } from '../../lib/tsdb/head/db.ts';
import { Head } from '../../lib/tsdb/head/head.ts';
import { headHistogramFromPrompb, histogramChunkSamples } from '../../lib/tsdb/head/histogram.ts';
import { parseSegment, Wal, WalCorruptError } from '../../lib/tsdb/head/wal.ts';
import { crc32c } from '../../lib/tsdb/encoding.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const core = createJsCore();
const tmp = tempDirs('wal-hist-');
const log = createLogger({ level: 'error', write: () => {} });
const all = [compileMatcher({ type: '=~', name: '__name__', value: '.+' })];
const lbl = (name: string): Label[] => [{ name: '__name__', value: name }, { name: 'job', value: 'j' }];
const STALE = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0]!;

/** An integer histogram, schema 0, one positive span from index 0 with the given absolute bucket counts. */
function ih(t: number, buckets: number[], extra: Partial<Histogram> = {}): Histogram {
  const deltas: number[] = [];
  let prev = 0;
  for (const b of buckets) {
    deltas.push(b - prev);
    prev = b;
  }
  const count = buckets.reduce((a, b) => a + b, 0) + (extra.zeroCountInt ?? 0);
  return {
    countInt: count, sum: count * 1.5, schema: 0, zeroThreshold: 1e-128, zeroCountInt: 0,
    negativeSpans: [], negativeDeltas: [], negativeCounts: [],
    positiveSpans: buckets.length ? [{ offset: 0, length: buckets.length }] : [], positiveDeltas: deltas, positiveCounts: [],
    resetHint: 0, timestamp: t, customValues: [], ...extra,
  };
}

/** A float histogram with the given absolute positive counts. */
function fh(t: number, buckets: number[]): Histogram {
  const count = buckets.reduce((a, b) => a + b, 0);
  return {
    countFloat: count, sum: count * 0.5, schema: 1, zeroThreshold: 0, zeroCountFloat: 0,
    negativeSpans: [], negativeDeltas: [], negativeCounts: [],
    positiveSpans: [{ offset: -1, length: buckets.length }], positiveDeltas: [], positiveCounts: buckets,
    resetHint: 3, timestamp: t, customValues: [],
  };
}

/** Custom-bucket (NHCB) integer histogram: bounds 1, 2, 5 and the +Inf bucket. */
function nhcb(t: number, buckets: [number, number, number, number]): Histogram {
  return { ...ih(t, buckets), schema: -53, zeroThreshold: 0, customValues: [1, 2, 5] };
}

/** What a chunk list holds, sample by sample: floats as numbers, histograms as a compact string. */
function contents(chunks: readonly DBChunk[]): string[] {
  const out: string[] = [];
  for (const c of chunks) {
    if (c.encoding === ENC_XOR) {
      const d = core.xorDecode(c.data);
      for (let i = 0; i < d.n; i++) out.push(`${d.t[i]} f ${Number.isNaN(d.v[i]!) ? 'NaN' : d.v[i]}`);
    } else {
      for (const h of histogramChunkSamples(core, c.data, c.encoding)) {
        const kind = c.encoding === ENC_HISTOGRAM ? 'h' : 'fh';
        const staleH = Number.isNaN(h.sum) ? 'stale' : `c=${h.count} s=${h.sum} z=${h.zeroCount} sch=${h.schema} p=[${Array.from(h.positive)}] cv=[${Array.from(h.customValues)}]`;
        out.push(`${h.t} ${kind} ${staleH}`);
      }
    }
  }
  return out;
}

test('head: histogram checks as Prometheus (out of order, duplicate, exact duplicate dropped, invalid, out of bounds)', () => {
  const h = new Head(core);
  let r = h.prepare([{ labels: lbl('x'), samples: [], histograms: [ih(10, [1, 2]), ih(20, [2, 3]), ih(15, [9]), ih(20, [2, 3]), ih(20, [2, 4])] }]);
  assert.is(r.histogramsAccepted, 2);
  assert.is(r.rejected['out-of-order'], 1);
  assert.is(r.rejected.duplicate, 1);
  assert.is(r.rejectedHistograms.duplicate, 1);
  h.apply(r.accepted);
  assert.is(h.numSamples, 2);
  // invalid: count does not match the buckets; a negative bucket; spans needing more buckets
  r = h.prepare([{ labels: lbl('x'), samples: [], histograms: [
    { ...ih(30, [1, 2]), countInt: 7 },
    { ...ih(31, [1]), positiveDeltas: [-1] },
    { ...ih(32, [1, 2]), positiveSpans: [{ offset: 0, length: 3 }] },
    { ...ih(33, [1]), schema: 9 },
    ih(40, [3, 3]),
  ] }]);
  assert.is(r.invalidHistograms, 4);
  assert.match(r.firstInvalidHistogram!.reason, /3 observations found in buckets, but the Count field is 7/);
  assert.is(r.histogramsAccepted, 1);
  h.apply(r.accepted);
  // a float at a histogram's timestamp is a duplicate; a histogram before the last float out of order
  r = h.prepare([{ labels: lbl('x'), samples: [{ timestamp: 40, value: 1 }], histograms: [] }]);
  assert.is(r.rejected.duplicate, 1);
  const hh = headHistogramFromPrompb(ih(1, [1]));
  assert.type(hh, 'object');
});

test('head: float → histogram → float histogram → float switches cut chunks of the other encoding; stale float after a histogram is a histogram stale marker', () => {
  const h = new Head(core);
  const r = h.prepare([
    { labels: lbl('m'), samples: [{ timestamp: 1, value: 5 }, { timestamp: 2, value: 6 }], histograms: [ih(3, [1]), ih(4, [1, 1])] },
    { labels: lbl('m'), samples: [], histograms: [fh(5, [0.5, 1.5])] },
    { labels: lbl('m'), samples: [{ timestamp: 6, value: 7 }], histograms: [ih(7, [2])] },
    { labels: lbl('m'), samples: [{ timestamp: 8, value: STALE }], histograms: [] },
  ]);
  assert.is(r.samplesAccepted, 3);
  assert.is(r.histogramsAccepted, 5);
  h.apply(r.accepted);
  const s = h.select(all, 0, 100);
  assert.is(s.length, 1);
  assert.equal(s[0]!.chunks.map((c) => c.encoding), [ENC_XOR, ENC_HISTOGRAM, ENC_FLOAT_HISTOGRAM, ENC_XOR, ENC_HISTOGRAM]);
  assert.equal(contents(s[0]!.chunks), [
    // the second histogram widened the chunk's layout: the first is recoded with an empty bucket
    '1 f 5', '2 f 6', '3 h c=1 s=1.5 z=0 sch=0 p=[1,0] cv=[]', '4 h c=2 s=3 z=0 sch=0 p=[1,1] cv=[]', '5 fh c=2 s=1 z=0 sch=1 p=[0.5,1.5] cv=[]', '6 f 7',
    '7 h c=2 s=3 z=0 sch=0 p=[2] cv=[]', '8 h stale',
  ]);
  // the stale marker went into the histogram chunk (integer, as the last sample)
  assert.is(s[0]!.chunks[4]!.encoding, ENC_HISTOGRAM);
});

test('head: a counter reset cuts a histogram chunk with the reset header; 120 samples close a chunk', () => {
  const h = new Head(core);
  const hs: Histogram[] = [];
  for (let i = 0; i < 130; i++) hs.push(ih(i * 10, [i + 1, i + 2]));
  hs.push(ih(1300, [1, 1])); // reset
  h.apply(h.prepare([{ labels: lbl('c'), samples: [], histograms: hs }]).accepted);
  const s = h.select(all, 0, 10_000)[0]!;
  assert.equal(s.chunks.map((c) => c.n), [120, 10, 1]);
  assert.is(s.chunks[2]!.data[2]! & 0xc0, 0x80, 'counter-reset header on the chunk after the reset');
  assert.is(contents(s.chunks).length, 131);
});

test('WAL: histogram records (integer, float, custom buckets) replay after a restart; the block cut holds histogram chunks', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const D = 7_200_000;
  const open = async () => {
    const db = new HeadDB({ fs, dir, core, log, blockDuration: D, thanos: { labels: { r: '1' }, source: 'receive' }, walCompression: false });
    await db.open();
    return db;
  };
  const db = await open();
  await db.append([
    { labels: lbl('int'), samples: [], histograms: [ih(1000, [1, 2]), ih(2000, [2, 2]), ih(3000, [0, 1], { resetHint: 1 })] },
    { labels: lbl('flt'), samples: [], histograms: [fh(1000, [0.25, 1]), fh(2000, [1.25, 0])] },
    { labels: lbl('cb'), samples: [], histograms: [nhcb(1000, [1, 0, 2, 1]), nhcb(2000, [2, 0, 2, 3])] },
    { labels: lbl('mix'), samples: [{ timestamp: 1000, value: 1 }], histograms: [ih(2000, [4])] },
  ]);
  await db.append([{ labels: lbl('mix'), samples: [{ timestamp: 3000, value: 2 }, { timestamp: 4000, value: STALE }], histograms: [] }]);
  const before = (await db.select(all, 0, D)).map((s) => `${s.labels[0]!.value}: ${contents(s.chunks).join(' | ')}`);
  assert.is(before.length, 4);
  assert.match(before.join('\n'), /cb: 1000 h c=4 s=6 z=0 sch=-53 p=\[1,0,2,1\] cv=\[1,2,5\]/);
  // the segment holds type-4 records with Prometheus's record types 7, 8 and 9
  const wal = new Wal({ fs, dir: join(dir, 'wal'), log, compression: 'none' });
  const segs = await wal.segments();
  const bytes = readFileSync(join(dir, 'wal', String(segs[segs.length - 1]).padStart(8, '0')));
  const types = new Set<number>();
  for (let p = 0; p < bytes.length; ) {
    const len = bytes.readUInt32BE(p);
    if ((bytes[p + 8]! & 7) === 4 && !(bytes[p + 8]! & 8)) types.add(bytes[p + 9]!);
    p += 8 + len;
  }
  assert.ok(types.has(7) && types.has(9), `histogram record types ${[...types]}`);
  assert.ok(parseSegment('seg', bytes).records.some((r) => r.some((s) => s.h && s.h.length > 0)));

  // restart (no flush): the WAL replays the same samples
  const db2 = await open();
  const after = (await db2.select(all, 0, D)).map((s) => `${s.labels[0]!.value}: ${contents(s.chunks).join(' | ')}`);
  assert.equal(after, before);
  // appends continue: a histogram older than the last float of "mix" is out of order
  const r = await db2.append([{ labels: lbl('mix'), samples: [], histograms: [ih(3500, [1])] }]);
  assert.is(r.rejected['out-of-order'], 1);

  // cut into a block: histogram chunks with their encodings; the checkpoint keeps runs in order
  const made = await db2.flush();
  assert.ok(made);
  const b = await BlockReader.open(fsBlockFiles(fs, made!), { core });
  const encs: Record<string, number[]> = {};
  for await (const s of b.selectChunks(all, { minTime: 0, maxTime: D })) encs[s.labels[0]!.value] = s.chunks.map((c) => c.encoding);
  assert.equal(encs, { cb: [ENC_HISTOGRAM], flt: [ENC_FLOAT_HISTOGRAM], int: [ENC_HISTOGRAM, ENC_HISTOGRAM], mix: [ENC_XOR, ENC_HISTOGRAM, ENC_XOR] });
  // mix: 1000 float, 2000 histogram, 3000 float, 4000 float stale marker (the last sample was a float)
  assert.is(b.meta.stats?.numSamples, 3 + 2 + 2 + 4);
  const db3 = await open();
  const fromBlock = (await db3.select(all, 0, D)).map((s) => `${s.labels[0]!.value}: ${contents(s.chunks).join(' | ')}`);
  assert.equal(fromBlock, before);
});

test('WAL checkpoint: a head truncated mid-series keeps float and histogram runs in order across a restart', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const D = 100_000;
  const open = async () => {
    const db = new HeadDB({ fs, dir, core, log, blockDuration: D });
    await db.open();
    return db;
  };
  const db = await open();
  const hs: Histogram[] = [];
  for (let t = 0; t < 160_000; t += 5000) hs.push(ih(t, [t / 5000 + 1]));
  await db.append([{ labels: lbl('s'), samples: [], histograms: hs }]);
  await db.append([{ labels: lbl('s'), samples: [{ timestamp: 160_000, value: 1 }], histograms: [ih(165_000, [100])] }]);
  const cut = await db.compact();
  assert.is(cut.length, 1);
  const before = contents((await db.select(all, 0, 1e9))[0]!.chunks);
  assert.is(before.length, 34);
  const db2 = await open();
  const after = contents((await db2.select(all, 0, 1e9))[0]!.chunks);
  assert.equal(after, before);
});

test('WAL: a histogram record whose body is cut short (valid checksum) fails the start with WalCorruptError', async () => {
  const dir = tmp();
  const fs = nodeFs();
  const db = new HeadDB({ fs, dir, core, log, walCompression: false });
  await db.open();
  await db.append([{ labels: lbl('c'), samples: [], histograms: [ih(1000, [1, 2, 3]), ih(2000, [2, 2, 3])] }]);
  const seg = join(dir, 'wal', '00000001');
  const b = readFileSync(seg);
  const out: Buffer[] = [];
  let cut = false;
  for (let p = 0; p < b.length; ) {
    const len = b.readUInt32BE(p);
    let payload = b.subarray(p + 8, p + 8 + len);
    if ((payload[0]! & 7) === 4) {
      payload = payload.subarray(0, payload.length - 3);
      cut = true;
    }
    const head = Buffer.alloc(8);
    head.writeUInt32BE(payload.length, 0);
    head.writeUInt32BE(crc32c(payload), 4);
    out.push(head, payload);
    p += 8 + len;
  }
  assert.ok(cut, 'a histogram record was found');
  writeFileSync(seg, Buffer.concat(out));
  try {
    await new HeadDB({ fs, dir, core, log }).open();
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, WalCorruptError);
    assert.match((e as Error).message, /WAL corruption in segment .*00000001 at offset \d+: /);
  }
});

test.run();
