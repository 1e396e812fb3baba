// Index-headers: the parts of a block's index needed to find postings (symbol table, postings
// offset table, TOC), kept in a local file under --data-dir so a restart needs no index reads.
// The file has Thanos's binary index-header layout:
//   magic 0xBAAAD792 <4B> | version 1 <1B> | index version <1B> | postings end in the index <8B>
//   | symbol table (exact copy) | postings offset table (exact copy)
//   | symbols offset <8B> | postings offset table offset <8B> | CRC32-C of those 16 bytes <4B>
// A small JSON beside it (index-header.json) keeps the original index size and TOC.
import type { Bucket, Core, FsCapability } from '../../sdk/mod.ts';
import type { BucketBlockMeta } from '../../tsdb/meta.ts';
import { bucketSource, type ByteSource } from '../../tsdb/bytesource.ts';
import { crc32c, readBE32, readBE64 } from '../../tsdb/encoding.ts';
import { BucketChunkSource } from './chunkfetch.ts';
import { CorruptBlockError } from '../../tsdb/errors.ts';
import {
  checkedSection, IndexReader, MemPostingsOffsets, parsePostingsTable, parseSymbols, parseTOC, TOC_LEN, type TOC,
} from '../../tsdb/index.ts';
import type { OpenedBlock } from './bucketstore.ts';

export const INDEX_HEADER_MAGIC = 0xbaaad792;
const HEADER_LEN = 14;
const BTOC_LEN = 20;

function be64(out: Uint8Array, p: number, v: number): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(p, Math.floor(v / 4294967296));
  dv.setUint32(p + 4, v >>> 0);
}

async function rawSection(src: ByteSource, off: number, limit: number, block: string, section: string): Promise<Uint8Array> {
  if (off + 8 > limit) throw new CorruptBlockError(block, 'index', section, `section offset ${off} beyond end ${limit}`);
  const len = readBE32(await src.read(off, 4), 0);
  if (off + 8 + len > limit) throw new CorruptBlockError(block, 'index', section, `section at ${off} claims ${len} bytes but the index ends at ${limit}`);
  const b = await src.read(off, 8 + len);
  checkedSection(b, block, 'index', section);
  return b;
}

export interface IndexHeaderParts {
  indexSize: number;
  toc: TOC;
  indexVersion: number;
  symbols: string[];
  table: Map<string, { values: string[]; offsets: number[] }>;
  postingsEnd: number;
}

/** Builds an index-header from the index (ranged reads: TOC, symbol table, postings offset table). */
export async function buildIndexHeader(index: ByteSource, block: string): Promise<{ bytes: Uint8Array; parts: IndexHeaderParts }> {
  const size = await index.size();
  if (size < 5 + TOC_LEN) throw new CorruptBlockError(block, 'index', 'header', `file is ${size} bytes, too small for an index`);
  const head = await index.read(0, 5);
  if (readBE32(head, 0) !== 0xbaaad700) throw new CorruptBlockError(block, 'index', 'header', 'invalid magic number');
  const indexVersion = head[4]!;
  if (indexVersion !== 2) throw new CorruptBlockError(block, 'index', 'header', `unsupported index format version ${indexVersion}`);
  const toc = parseTOC(await index.read(size - TOC_LEN, TOC_LEN), block, 'index');
  const limit = size - TOC_LEN;
  const sym = await rawSection(index, toc.symbols, limit, block, 'symbol table');
  const pot = await rawSection(index, toc.postingsTable, limit, block, 'postings offset table');
  const postingsEnd = toc.labelIndicesTable || toc.postingsTable;
  const bytes = new Uint8Array(HEADER_LEN + sym.length + pot.length + BTOC_LEN);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, INDEX_HEADER_MAGIC);
  bytes[4] = 1;
  bytes[5] = indexVersion;
  be64(bytes, 6, postingsEnd);
  bytes.set(sym, HEADER_LEN);
  bytes.set(pot, HEADER_LEN + sym.length);
  const t = HEADER_LEN + sym.length + pot.length;
  be64(bytes, t, HEADER_LEN);
  be64(bytes, t + 8, HEADER_LEN + sym.length);
  dv.setUint32(t + 16, crc32c(bytes, t, t + 16));
  const parts: IndexHeaderParts = {
    indexSize: size,
    toc,
    indexVersion,
    symbols: parseSymbols(checkedSection(sym, block, 'index', 'symbol table'), block, 'index'),
    table: parsePostingsTable(checkedSection(pot, block, 'index', 'postings offset table'), block, 'index'),
    postingsEnd,
  };
  return { bytes, parts };
}

/** Parses an index-header file; throws CorruptBlockError on any mismatch. */
export function parseIndexHeader(b: Uint8Array, block: string, side: { indexSize: number; toc: TOC }): IndexHeaderParts {
  const f = 'index-header';
  if (b.length < HEADER_LEN + BTOC_LEN) throw new CorruptBlockError(block, f, 'header', `file is ${b.length} bytes`);
  if (readBE32(b, 0) !== INDEX_HEADER_MAGIC) throw new CorruptBlockError(block, f, 'header', 'invalid magic number');
  if (b[4] !== 1) throw new CorruptBlockError(block, f, 'header', `unknown version ${b[4]}`);
  const t = b.length - BTOC_LEN;
  if (readBE32(b, t + 16) !== crc32c(b, t, t + 16)) throw new CorruptBlockError(block, f, 'TOC', 'checksum mismatch');
  const symOff = readBE64(b, t);
  const potOff = readBE64(b, t + 8);
  if (symOff !== HEADER_LEN || potOff <= symOff || potOff >= t) throw new CorruptBlockError(block, f, 'TOC', 'offsets out of range');
  return {
    indexSize: side.indexSize,
    toc: side.toc,
    indexVersion: b[5]!,
    postingsEnd: readBE64(b, 6),
    symbols: parseSymbols(checkedSection(b.subarray(symOff, potOff), block, f, 'symbol table'), block, f),
    table: parsePostingsTable(checkedSection(b.subarray(potOff, t), block, f, 'postings offset table'), block, f),
  };
}

export interface IndexHeaderStats { built: number; reused: number }

export interface OpenOptions {
  bucket: Bucket;
  core: Core;
  fs?: FsCapability;
  /** Where index-headers live (<dataDir>/<ulid>/index-header); undefined = keep them in memory only. */
  dataDir?: string;
  stats?: IndexHeaderStats;
  log?: { warn(msg: string, kv?: Record<string, unknown>): void };
}

const te = new TextEncoder();
const td = new TextDecoder();

/** Opens a block: index-header from --data-dir (built from the bucket when missing or corrupt), chunks by ranged GETs. */
export async function openBlock(o: OpenOptions, meta: BucketBlockMeta): Promise<OpenedBlock> {
  const id = meta.ulid;
  const sizes = new Map<string, number>();
  for (const f of meta.thanos.files ?? []) if (typeof f.size_bytes === 'number') sizes.set(f.rel_path, f.size_bytes);
  let segments = [...sizes.keys()].filter((p) => /^chunks\/\d{6}$/.test(p)).length;
  if (segments === 0) for await (const n of o.bucket.iter(`${id}/chunks/`)) if (/\/\d{6}$/.test(n)) segments++;
  const indexSrc = bucketSource(o.bucket, `${id}/index`, sizes.get('index'));

  let parts: IndexHeaderParts | undefined;
  const fs = o.fs;
  const dir = o.dataDir && fs ? fs.resolve(o.dataDir, id) : undefined;
  if (dir && fs) {
    const hp = fs.resolve(dir, 'index-header');
    const jp = fs.resolve(dir, 'index-header.json');
    if ((await fs.exists(hp)) && (await fs.exists(jp))) {
      try {
        const side = JSON.parse(td.decode(await fs.readFile(jp))) as { indexSize: number; toc: TOC };
        parts = parseIndexHeader(await fs.readFile(hp), id, side);
        if (o.stats) o.stats.reused++;
      } catch (e) {
        o.log?.warn('local index-header unusable; rebuilding it from the bucket', { block: id, err: (e as Error).message });
        parts = undefined;
      }
    }
  }
  if (!parts) {
    const built = await buildIndexHeader(indexSrc, id);
    parts = built.parts;
    if (o.stats) o.stats.built++;
    if (dir && fs) {
      await fs.mkdir(dir, { recursive: true });
      const hp = fs.resolve(dir, 'index-header');
      await fs.writeFile(hp + '.tmp', built.bytes);
      await fs.rename(hp + '.tmp', hp);
      await fs.writeFile(fs.resolve(dir, 'index-header.json'), te.encode(JSON.stringify({ indexSize: parts.indexSize, toc: parts.toc })));
    }
  }
  const index = IndexReader.fromParts(indexSrc, parts.indexSize, parts.toc, parts.symbols, new MemPostingsOffsets(parts.table, parts.postingsEnd), { core: o.core, block: id });
  const maxChunk = Number((meta.thanos as { index_stats?: { chunk_max_size?: number } }).index_stats?.chunk_max_size ?? 0);
  const chunks = new BucketChunkSource(o.bucket, id, maxChunk > 0 ? maxChunk + 16 : 16 * 1024, segments || undefined);
  return { index, chunks };
}

/** Removes a dropped block's local state. */
export async function removeLocal(fs: FsCapability, dataDir: string, id: string): Promise<void> {
  const dir = fs.resolve(dataDir, id);
  if (await fs.exists(dir)) await fs.remove(dir, { recursive: true });
}
