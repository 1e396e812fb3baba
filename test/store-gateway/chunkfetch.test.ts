import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/mod.ts';
import { ChunkReader } from '../../lib/tsdb/chunks.ts';
import { bucketSource } from '../../lib/tsdb/bytesource.ts';
import { IndexReader } from '../../lib/tsdb/index.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { FilesystemBucket } from '../../plugins/objstore/filesystem/mod.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BucketChunkSource } from '../../lib/store/gateway/chunkfetch.ts';
import { genSeries, writeRawBlock } from './fixtures.ts';
import { crc32c } from '../../lib/tsdb/encoding.ts';

const core = createJsCore();
const T0 = 1_700_000_000_000;

test('ranged chunk reads equal the tsdb ChunkReader for any gap and read extent', async () => {
  const b = new MemoryBucket();
  const id = await writeRawBlock(b, core, genSeries(25, T0, T0 + 2 * 3600_000, 10_000), T0, T0 + 2 * 3600_000, { a: 'b' });
  const idx = await IndexReader.open(bucketSource(b, `${id}/index`), { core, block: id });
  const refs: number[] = [];
  for await (const s of idx.seriesMany(await idx.allPostings())) for (const c of s.chunks) refs.push(c.ref);
  refs.sort((x, y) => x - y);
  const want = await new ChunkReader(async (seg) => bucketSource(b, `${id}/chunks/${seg}`), id).chunks(refs);
  for (const [gap, extent] of [[0, 16 * 1024], [512 * 1024, 16 * 1024], [1 << 20, 4], [200, 3], [1 << 20, 100]] as const) {
    const src = new BucketChunkSource(b, id, extent, 1);
    let read = 0;
    const got = await src.chunks(refs, gap, (n) => (read += n));
    assert.is(got.length, want.length);
    got.forEach((c, i) => {
      assert.is(c.encoding, want[i]!.encoding);
      assert.equal(c.data, want[i]!.data);
    });
    assert.is(read, src.bytesRead);
    assert.ok(read > 0);
  }
  // subsets too
  const sub = refs.filter((_, i) => i % 7 === 3);
  const got = await new BucketChunkSource(b, id, 64, 1).chunks(sub, 1 << 20);
  sub.forEach((r, i) => assert.equal(got[i]!.data, want[refs.indexOf(r)]!.data));
  // a reference past the last segment is a corrupt-block error, not a crash
  try {
    await new BucketChunkSource(b, id, 64, 1).chunks([2 * 4294967296 + 8], 0);
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /corrupt block .*out of range/);
  }
});

test('a read extent ending at every byte of a chunk record: the record is read alone when cut', async () => {
  const b = new MemoryBucket();
  const id = await writeRawBlock(b, core, genSeries(2, T0, T0 + 2 * 3600_000, 15_000), T0, T0 + 2 * 3600_000, {}); // records over 128 bytes: two-byte lengths
  const idx = await IndexReader.open(bucketSource(b, `${id}/index`), { core, block: id });
  const refs: number[] = [];
  for await (const s of idx.seriesMany(await idx.allPostings())) for (const c of s.chunks) refs.push(c.ref);
  refs.sort((x, y) => x - y);
  const want = await new ChunkReader(async (seg) => bucketSource(b, `${id}/chunks/${seg}`), id).chunks(refs);
  const ref = refs[0]!;
  const record = 2 + 1 + want[0]!.data.length + 4; // (a one- or two-byte length)
  for (let extent = 1; extent <= record + 8; extent++) {
    const got = await new BucketChunkSource(b, id, extent, 1).chunks([ref], 0);
    assert.is(got[0]!.encoding, want[0]!.encoding, `extent ${extent}`);
    assert.equal(got[0]!.data, want[0]!.data, `extent ${extent}`);
    // and as the last of two chunks read together
    const two = await new BucketChunkSource(b, id, extent, 1).chunks(refs.slice(0, 2), 1 << 20);
    assert.equal(two[1]!.data, want[1]!.data, `extent ${extent}, second chunk`);
  }
});

test('reads split into many stream pieces (FILESYSTEM bucket) slice the same chunks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chunkfetch-'));
  try {
    const b = new FilesystemBucket(nodeFs(), dir);
    const id = await writeRawBlock(b, core, genSeries(200, T0, T0 + 2 * 3600_000, 10_000), T0, T0 + 2 * 3600_000, { a: 'b' });
    const idx = await IndexReader.open(bucketSource(b, `${id}/index`), { core, block: id });
    const refs: number[] = [];
    for await (const s of idx.seriesMany(await idx.allPostings())) for (const c of s.chunks) refs.push(c.ref);
    refs.sort((x, y) => x - y);
    const want = await new ChunkReader(async (seg) => bucketSource(b, `${id}/chunks/${seg}`), id).chunks(refs);
    const total = want.reduce((a, c) => a + c.data.length, 0);
    assert.ok(total > 256 * 1024, `segment of ${total} bytes spans several stream pieces`);
    for (const extent of [16 * 1024, 7]) {
      const got = await new BucketChunkSource(b, id, extent, 1).chunks(refs, 1 << 20);
      got.forEach((c, i) => assert.equal(c.data, want[i]!.data, `chunk ${i}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The bucket's ranged reads as a stream of `size`-byte pieces (as a network body arrives). */
function inPieces(b: MemoryBucket, size: number): MemoryBucket {
  const w = Object.create(b) as MemoryBucket;
  w.getRange = async (name, off, len) => {
    const all = new Uint8Array(await new Response(await b.getRange(name, off, len)).arrayBuffer());
    let at = 0;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (at >= all.length) return c.close();
        c.enqueue(all.subarray(at, at + size));
        at += size;
      },
    });
  };
  return w;
}

test('checksums are checked across stream pieces: a flipped byte is a corrupt-block error naming the chunk', async () => {
  const b = new MemoryBucket();
  const id = await writeRawBlock(b, core, genSeries(25, T0, T0 + 2 * 3600_000, 10_000), T0, T0 + 2 * 3600_000, { a: 'b' });
  const idx = await IndexReader.open(bucketSource(b, `${id}/index`), { core, block: id });
  const refs: number[] = [];
  for await (const s of idx.seriesMany(await idx.allPostings())) for (const c of s.chunks) refs.push(c.ref);
  refs.sort((x, y) => x - y);
  const want = await new ChunkReader(async (seg) => bucketSource(b, `${id}/chunks/${seg}`), id).chunks(refs);
  for (const size of [97, 5, 1]) {
    const got = await new BucketChunkSource(inPieces(b, size), id, 16 * 1024, 1).chunks(refs, 1 << 20);
    got.forEach((c, i) => {
      assert.is(c.encoding, want[i]!.encoding);
      assert.equal(c.data, want[i]!.data, `chunk ${i} in ${size}-byte pieces`);
    });
  }
  // One byte of the 4th chunk's data flipped (its record: uvarint length, encoding, data, CRC).
  const name = `${id}/chunks/000001`;
  const seg = new Uint8Array(await new Response(await b.get(name)).arrayBuffer());
  const victim = refs[3]! % 4294967296;
  seg[victim + 4] = seg[victim + 4]! ^ 0x10;
  await b.upload(name, seg);
  for (const size of [97, 1 << 20]) {
    try {
      await new BucketChunkSource(inPieces(b, size), id, 16 * 1024, 1).chunks(refs, 1 << 20);
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, new RegExp(`corrupt block .*chunk ${refs[3]}.*checksum mismatch`));
    }
  }
});

test('close chunks spanning more than 4 MiB are read in GETs under 4 MiB (a FILESYSTEM bucket answers those with one buffer)', async () => {
  // A segment of 3000 records of 2000 data bytes (~6 MB), written by hand: header, then per record
  // uvarint length, encoding byte, data, big-endian CRC32-C of encoding byte + data.
  const n = 3000;
  const len = 2000;
  const rec = 2 + 1 + len + 4;
  const seg = new Uint8Array(8 + n * rec);
  seg.set([0x85, 0xbd, 0x40, 0xdd, 1, 0, 0, 0]);
  const refs: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = 8 + i * rec;
    refs.push(p);
    seg[p] = (len & 0x7f) | 0x80;
    seg[p + 1] = len >> 7;
    seg[p + 2] = 1;
    for (let k = 0; k < len; k++) seg[p + 3 + k] = (i * 31 + k * 7) & 0xff;
    new DataView(seg.buffer).setUint32(p + 3 + len, crc32c(seg, p + 2, p + 3 + len));
  }
  const b = new MemoryBucket();
  await b.upload('blk/chunks/000001', seg);
  const lengths: number[] = [];
  const counting = Object.create(b) as MemoryBucket;
  counting.getRange = (name: string, off: number, l?: number) => {
    lengths.push(l ?? -1);
    return b.getRange(name, off, l);
  };
  const got = await new BucketChunkSource(counting, 'blk', 16 * 1024, 1).chunks(refs, 512 * 1024);
  got.forEach((c, i) => assert.equal(c.data, seg.subarray(refs[i]! + 3, refs[i]! + 3 + len), `chunk ${i}`));
  assert.ok(lengths.length >= 2, `${lengths.length} GETs`);
  for (const l of lengths) assert.ok(l > 0 && l <= 4 * 1024 * 1024, `a GET of ${l} bytes`);
});

test.run();
