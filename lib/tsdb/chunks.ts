// Chunk segment files (tsdb/docs/format/chunks.md): chunks/000001, 000002, ... each with an 8-byte
// header; a chunk is `len<uvarint> encoding<1B> data crc32c<4B over encoding+data>`; its reference
// is segmentIndex(0-based) << 32 | byte offset.
import type { ByteSource } from './bytesource.ts';
import { corrupt, hex, type FileSink } from './index.ts';
import { Decbuf, Encbuf, crc32c, readBE32 } from './encoding.ts';

export const CHUNKS_MAGIC = 0x85bd40dd;
export const CHUNKS_FORMAT_V1 = 1;
export const SEGMENT_HEADER_LEN = 8;
export const DEFAULT_SEGMENT_SIZE = 512 * 1024 * 1024;

export const ENC_NONE = 0;
export const ENC_XOR = 1;
export const ENC_HISTOGRAM = 2;
export const ENC_FLOAT_HISTOGRAM = 3;
/** Thanos downsampled aggregate chunk (AggrChunk). */
export const ENC_AGGR = 0xff;

export interface RawChunk {
  encoding: number;
  /** Chunk bytes without the encoding byte (for XOR: starts with the 2-byte sample count). */
  data: Uint8Array;
  /**
   * The CRC32-C over encoding byte and data stored after the chunk, set by ChunkReader once it has
   * checked it: a chunk copied unchanged into another block (compaction) keeps it, not recomputed.
   */
  crc?: number;
}

export function chunkRef(segment: number, offset: number): number {
  return segment * 4294967296 + offset;
}
export function chunkRefSegment(ref: number): number {
  return Math.floor(ref / 4294967296);
}
export function chunkRefOffset(ref: number): number {
  return ref % 4294967296;
}
export function segmentName(index0: number): string {
  return String(index0 + 1).padStart(6, '0');
}

/** Reads chunks by reference from segment files opened lazily through open(name). */
export class ChunkReader {
  private segs = new Map<number, Promise<{ src: ByteSource; size: number }>>();
  constructor(
    private open: (segmentFile: string) => Promise<ByteSource>,
    private block = '',
    /** Number of segment files, when known (refs past it are rejected without a read). */
    private segmentCount?: number,
  ) {}

  private seg(i: number): Promise<{ src: ByteSource; size: number }> {
    let p = this.segs.get(i);
    if (!p) {
      const name = `chunks/${segmentName(i)}`;
      p = (async () => {
        let src: ByteSource;
        try {
          src = await this.open(segmentName(i));
        } catch (e) {
          corrupt(this.block, name, 'segment', `cannot open: ${(e as Error).message}`, e);
        }
        const size = await src.size();
        if (size < SEGMENT_HEADER_LEN) corrupt(this.block, name, 'segment header', `file is ${size} bytes`);
        const h = await src.read(0, SEGMENT_HEADER_LEN);
        const magic = readBE32(h, 0);
        if (magic !== CHUNKS_MAGIC) corrupt(this.block, name, 'segment header', `invalid magic number ${hex(magic)}, want ${hex(CHUNKS_MAGIC)}`);
        if (h[4] !== CHUNKS_FORMAT_V1) corrupt(this.block, name, 'segment header', `unknown format version ${h[4]}`);
        return { src, size };
      })();
      this.segs.set(i, p);
      p.catch(() => this.segs.delete(i));
    }
    return p;
  }

  /** The raw chunk at ref (CRC checked, no decoding: XOR, histogram or 0xff AggrChunk alike). */
  async chunk(ref: number): Promise<RawChunk> {
    const si = chunkRefSegment(ref);
    const off = chunkRefOffset(ref);
    const name = `chunks/${segmentName(si)}`;
    if (this.segmentCount !== undefined && si >= this.segmentCount) corrupt(this.block, name, `chunk ${ref}`, `reference out of range: segment ${si + 1} of ${this.segmentCount}`);
    const { src, size } = await this.seg(si);
    if (off < SEGMENT_HEADER_LEN || off >= size) corrupt(this.block, name, `chunk ${ref}`, `reference out of range: offset ${off} outside segment of ${size} bytes`);
    let buf = await src.read(off, Math.min(size - off, 256));
    const d = new Decbuf(buf);
    let len: number;
    try {
      len = d.uvarint();
    } catch (e) {
      corrupt(this.block, name, `chunk ${ref}`, `bad length: ${(e as Error).message}`, e);
    }
    const total = d.pos + 1 + len + 4;
    if (off + total > size) corrupt(this.block, name, `chunk ${ref}`, `truncated: chunk of ${len} bytes at ${off} runs past the end (${size})`);
    if (total > buf.length) buf = await src.read(off, total);
    return this.decodeAt(buf, d.pos, len, ref, name);
  }

  private decodeAt(buf: Uint8Array, p: number, len: number, ref: number, name: string): RawChunk {
    const want = readBE32(buf, p + 1 + len);
    const got = crc32c(buf, p, p + 1 + len);
    if (want !== got) corrupt(this.block, name, `chunk ${ref}`, `checksum mismatch: stored ${hex(want)}, computed ${hex(got)}`);
    return { encoding: buf[p]!, data: buf.subarray(p + 1, p + 1 + len), crc: want };
  }

  /** Many chunks (sorted refs), one ranged read per run of nearby chunks in a segment. */
  async chunks(refs: readonly number[], maxGap = 64 * 1024): Promise<RawChunk[]> {
    const out: RawChunk[] = new Array(refs.length);
    let i = 0;
    while (i < refs.length) {
      const si = chunkRefSegment(refs[i]!);
      let j = i;
      while (j + 1 < refs.length && chunkRefSegment(refs[j + 1]!) === si && refs[j + 1]! > refs[j]! && refs[j + 1]! - refs[j]! < maxGap && refs[j + 1]! - refs[i]! < 16 << 20) j++;
      if (j === i) {
        out[i] = await this.chunk(refs[i]!);
        i++;
        continue;
      }
      const name = `chunks/${segmentName(si)}`;
      if (this.segmentCount !== undefined && si >= this.segmentCount) corrupt(this.block, name, `chunk ${refs[i]}`, `reference out of range: segment ${si + 1} of ${this.segmentCount}`);
      const { src, size } = await this.seg(si);
      const start = chunkRefOffset(refs[i]!);
      const lastOff = chunkRefOffset(refs[j]!);
      if (start < SEGMENT_HEADER_LEN || lastOff >= size) corrupt(this.block, name, `chunk ${start < SEGMENT_HEADER_LEN ? refs[i] : refs[j]}`, `reference out of range: offset outside segment of ${size} bytes`);
      const end = Math.min(size, lastOff + 512);
      const buf = await src.read(start, end - start);
      for (let k = i; k <= j; k++) {
        // the length uvarint read in place (no cursor object per chunk); anything unusual (a
        // longer varint, a chunk past the buffer) goes through chunk(), which reports it
        let p = chunkRefOffset(refs[k]!) - start;
        let len = 0;
        let mul = 1;
        let done = false;
        for (let q = 0; q < 4 && p < buf.length; q++) {
          const c = buf[p++]!;
          len += (c & 0x7f) * mul;
          mul *= 128;
          if (c < 0x80) { done = true; break; }
        }
        if (!done || p + 1 + len + 4 > buf.length) { out[k] = await this.chunk(refs[k]!); continue; }
        out[k] = this.decodeAt(buf, p, len, refs[k]!, name);
      }
      i = j + 1;
    }
    return out;
  }
}

/** Writes chunks into numbered segment files, cutting a new one when the size limit would be passed. */
export class ChunkWriter {
  private seg = -1;
  private pos = 0;
  private sink: FileSink | undefined;
  private buf = new Encbuf(1 << 20);
  readonly segmentSizes: number[] = [];
  chunkMaxSize = 0;
  constructor(private createSegment: (name: string) => Promise<FileSink>, private segmentSize = DEFAULT_SEGMENT_SIZE) {}

  private async cut(): Promise<void> {
    await this.closeSegment();
    this.seg++;
    this.sink = await this.createSegment(segmentName(this.seg));
    const h = this.buf;
    h.be32(CHUNKS_MAGIC);
    h.byte(CHUNKS_FORMAT_V1);
    h.byte(0); h.byte(0); h.byte(0);
    this.pos = SEGMENT_HEADER_LEN;
    this.segmentSizes.push(0);
  }

  private async closeSegment(): Promise<void> {
    if (!this.sink) return;
    if (this.buf.len) await this.sink.write(this.buf.get());
    this.buf.reset();
    await this.sink.close();
    this.segmentSizes[this.seg] = this.pos;
    this.sink = undefined;
  }

  /**
   * Appends one chunk; returns its reference. crc: the chunk's CRC32-C when the caller already has
   * it (a chunk read and checked by ChunkReader, copied unchanged), else computed here.
   */
  async write(encoding: number, data: Uint8Array, crc?: number): Promise<number> {
    const size = uvarintLen(data.length) + 1 + data.length + 4;
    if (!this.sink || (this.pos + size > this.segmentSize && this.pos > SEGMENT_HEADER_LEN)) await this.cut();
    const ref = chunkRef(this.seg, this.pos);
    const b = this.buf;
    b.uvarint(data.length);
    const crcStart = b.len;
    b.byte(encoding);
    b.bytes(data);
    b.be32(crc ?? crc32c(b.b, crcStart, b.len));
    this.pos += size;
    if (size > this.chunkMaxSize) this.chunkMaxSize = size;
    if (b.len >= 1 << 20) {
      await this.sink!.write(b.get());
      b.reset();
    }
    return ref;
  }

  async close(): Promise<void> {
    await this.closeSegment();
  }

  get segments(): number {
    return this.seg + 1;
  }
}

function uvarintLen(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}
