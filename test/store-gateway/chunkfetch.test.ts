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

test.run();
