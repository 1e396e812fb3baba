// The compaction write path: CRC32-C (slicing-by-16) against a bitwise reference and published
// vectors; file sinks that let writers reuse their buffer (appending and streaming); merging
// blocks that do not overlap copies each chunk record byte for byte, its checked CRC carried over,
// and a chunk whose bytes do not match its CRC still fails the merge (never rewritten with a
// fresh, valid CRC).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { BlockWriter, BlockReader, memBlockSink, memBlockFiles, fsBlockFiles, fsBlockSink, fsFileSink, mergeBlocks, crc32c } from '../../lib/tsdb/mod.ts';
import { ChunkWriter, ENC_XOR } from '../../lib/tsdb/chunks.ts';
import type { FsCapability } from '../../lib/sdk/mod.ts';
import { labelsFromRecord, compareLabels, type Labels } from '../../lib/labels/mod.ts';
import { fs, core, tmp, rng, HOUR } from './helpers.ts';

/** CRC32-C one bit at a time (the definition), to check the table-driven one against. */
function crcBitwise(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test('crc32c: published vectors, every length and split against the bitwise definition', () => {
  assert.is(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  // RFC 3720 (iSCSI) B.4
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.is(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.is(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  const r = rng(3);
  const b = Uint8Array.from({ length: 300 }, () => Math.floor(r() * 256));
  for (let start = 0; start < 20; start++) {
    for (let end = start; end <= b.length; end += 7) {
      const want = crcBitwise(b.subarray(start, end));
      assert.is(crc32c(b, start, end), want, `[${start}, ${end})`);
      const mid = start + ((end - start) >> 1);
      assert.is(crc32c(b, mid, end, crc32c(b, start, mid)), want, `[${start}, ${end}) continued at ${mid}`);
    }
  }
});

/** The host's file system without appendFile/syncFile: fsFileSink falls back to writeFile(stream). */
function streamOnlyFs(): FsCapability {
  const { appendFile: _a, syncFile: _s, openAppend: _o, ...rest } = fs as FsCapability & { openAppend?: unknown };
  return rest as FsCapability;
}

for (const [name, f] of [['appending', fs], ['streaming', streamOnlyFs()]] as const) {
  test(`fsFileSink (${name}): truncates an existing file; a buffer reused after write() resolves does not change what was written`, async () => {
    const p = join(tmp('sink'), 'file');
    writeFileSync(p, 'old contents, longer than what comes next '.repeat(100));
    const sink = fsFileSink(f, p);
    const buf = new Uint8Array(1000);
    const want: number[] = [];
    for (let k = 0; k < 20; k++) {
      buf.fill(k);
      await sink.write(buf.subarray(0, 100 + k));
      for (let i = 0; i < 100 + k; i++) want.push(k);
    }
    buf.fill(0xee); // what a writer does next: the sink must have written or copied the bytes already
    await sink.close();
    assert.equal([...readFileSync(p)], want);
  });
}

test('ChunkWriter: a chunk given with its CRC is written with that CRC; without one the CRC is computed', async () => {
  const files = memBlockSink();
  const cw = new ChunkWriter((n) => files.create(`chunks/${n}`));
  const data = Uint8Array.from([0, 1, 2, 3, 4, 5]);
  const right = crc32c(Uint8Array.from([ENC_XOR, ...data]));
  await cw.write(ENC_XOR, data);
  await cw.write(ENC_XOR, data, right);
  await cw.close();
  const seg = files.files.get('chunks/000001')!;
  const rec = [data.length, ENC_XOR, ...data, right >>> 24, (right >>> 16) & 0xff, (right >>> 8) & 0xff, right & 0xff];
  assert.equal([...seg.subarray(8)], [...rec, ...rec]);
});

const T0 = Date.UTC(2026, 10, 20);

/** Four 2h blocks of the same series (no overlap), written to directories under dir. */
async function fourBlocks(dir: string): Promise<BlockReader[]> {
  const r = rng(11);
  const list: Labels[] = [];
  for (let i = 0; i < 40; i++) list.push(labelsFromRecord({ __name__: `m${i % 4}`, instance: `h${i}` }));
  list.sort(compareLabels);
  const out: BlockReader[] = [];
  for (let b = 0; b < 4; b++) {
    const syms = new Set<string>();
    for (const ls of list) for (const l of ls) { syms.add(l.name); syms.add(l.value); }
    const w = await BlockWriter.create(fsBlockSink(fs, dir), syms, { core, minTime: T0 + b * 2 * HOUR, maxTime: T0 + (b + 1) * 2 * HOUR });
    for (const ls of list) {
      const n = 480;
      const t = new Float64Array(n), v = new Float64Array(n);
      for (let k = 0; k < n; k++) { t[k] = T0 + b * 2 * HOUR + k * 15_000; v[k] = Math.round(r() * 1e6) / 100; }
      await w.addSeries(ls, t, v);
    }
    const { location } = await w.finish();
    out.push(await BlockReader.open(fsBlockFiles(fs, location), { core }));
  }
  return out;
}

/** Every chunk record (length, encoding, data, CRC) of a block, in series order. */
async function chunkRecords(b: BlockReader): Promise<string[]> {
  const out: string[] = [];
  for await (const s of b.selectChunks([{ type: '=~', name: '__name__', value: '.*' }])) {
    for (const c of s.chunks) out.push(`${c.minTime} ${c.encoding} ${Buffer.from(c.data).toString('hex')} ${c.crc}`);
  }
  return out;
}

test('merge of blocks that do not overlap: every chunk copied as it was, CRC included', async () => {
  const dir = tmp('merge-copy');
  const blocks = await fourBlocks(dir);
  const meta = await mergeBlocks(blocks, memBlockSink(), core);
  assert.is(meta.stats?.numSamples, 40 * 480 * 4);
  const sink = memBlockSink();
  await mergeBlocks(blocks, sink, core, { ulid: meta.ulid });
  const merged = await BlockReader.open(memBlockFiles(sink.files), { core });
  const want: string[][] = [];
  for (const b of blocks) want.push(await chunkRecords(b));
  // the merged block holds series by series what the four blocks hold, block by block
  const got = await chunkRecords(merged);
  const perSeries = want[0]!.length / 40;
  const expect: string[] = [];
  for (let s = 0; s < 40; s++) for (const w of want) expect.push(...w.slice(s * perSeries, (s + 1) * perSeries));
  assert.equal(got, expect);
  // and the CRC the reader checked is the one in the file
  for (const line of got) {
    const [, enc, hex, crc] = line.split(' ');
    assert.is(Number(crc), crc32c(Uint8Array.from([Number(enc), ...Buffer.from(hex!, 'hex')])));
  }
});

test('merge: a chunk whose data no longer matches its CRC fails the merge (checksum mismatch), nothing committed', async () => {
  const dir = tmp('merge-corrupt');
  const blocks = await fourBlocks(dir);
  // flip a data byte (not the CRC) of a chunk in the middle of block 2's segment
  const seg = join(blocks[2]!.files.name, 'chunks', '000001');
  const bytes = readFileSync(seg);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  writeFileSync(seg, bytes);
  const reopened = [...blocks];
  reopened[2] = await BlockReader.open(fsBlockFiles(fs, blocks[2]!.files.name), { core });
  const out = tmp('merge-out');
  try {
    await mergeBlocks(reopened, fsBlockSink(fs, out), core);
    assert.unreachable('merge should fail');
  } catch (e) {
    assert.match((e as Error).message, /checksum mismatch/);
  }
  const { readdirSync } = await import('node:fs');
  assert.equal(readdirSync(out), []);
});

test.run();
