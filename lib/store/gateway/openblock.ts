// Opening a block for the store gateway: its index-header (lib/tsdb/indexheader.ts, Thanos's binary
// layout) under --data-dir/<ULID>/, built with ranged GETs of the index when missing or damaged and
// reused at restart, with the whole postings offset table in memory; chunks by ranged GETs.
import type { Bucket, Core, FsCapability } from '../../sdk/mod.ts';
import type { BucketBlockMeta } from '../../tsdb/meta.ts';
import { bucketSource } from '../../tsdb/bytesource.ts';
import { ALL_POSTINGS_OFFSETS, loadIndexHeaderReader } from '../../tsdb/indexheader.ts';
import { BucketChunkSource } from './chunkfetch.ts';
import type { OpenedBlock } from './bucketstore.ts';

export interface IndexHeaderStats { built: number; reused: number }

export interface OpenOptions {
  bucket: Bucket;
  core: Core;
  fs?: FsCapability;
  /** Where index-headers live (<dataDir>/<ulid>/index-header); undefined = keep them in memory only. */
  dataDir?: string;
  stats?: IndexHeaderStats;
  log?: { warn(msg: string, kv?: Record<string, unknown>): void };
  /** Shared by the blocks a store opens: each block's symbols share the strings of the last one opened. */
  symbols?: SymbolDictionary;
}

/** The symbol table of the block opened last (blocks of one source mostly hold the same series). */
export interface SymbolDictionary { last?: readonly string[] }

/** Opens a block: index-header from --data-dir (built from the bucket when missing or corrupt), chunks by ranged GETs. */
export async function openBlock(o: OpenOptions, meta: BucketBlockMeta): Promise<OpenedBlock> {
  const id = meta.ulid;
  const sizes = new Map<string, number>();
  for (const f of meta.thanos.files ?? []) if (typeof f.size_bytes === 'number') sizes.set(f.rel_path, f.size_bytes);
  let segments = [...sizes.keys()].filter((p) => /^chunks\/\d{6}$/.test(p)).length;
  if (segments === 0) for await (const n of o.bucket.iter(`${id}/chunks/`)) if (/\/\d{6}$/.test(n)) segments++;
  const indexSrc = bucketSource(o.bucket, `${id}/index`, sizes.get('index'));
  const fs = o.dataDir ? o.fs : undefined;
  const dir = o.dataDir && fs ? fs.resolve(o.dataDir, id) : undefined;
  const index = await loadIndexHeaderReader({
    core: o.core, index: indexSrc, fs, dir, block: id, sampling: ALL_POSTINGS_OFFSETS, dictionary: o.symbols?.last,
    onInvalid: (e) => o.log?.warn('local index-header unusable; rebuilding it from the bucket', { block: id, err: e.message }),
  });
  if (o.symbols) o.symbols.last = index.symbols;
  if (o.stats) {
    if (index.built) o.stats.built++;
    else o.stats.reused++;
  }
  const maxChunk = Number((meta.thanos as { index_stats?: { chunk_max_size?: number } }).index_stats?.chunk_max_size ?? 0);
  const chunks = new BucketChunkSource(o.bucket, id, maxChunk > 0 ? maxChunk + 16 : 16 * 1024, segments || undefined, o.core);
  return { index, chunks };
}

/** Removes a dropped block's local state. */
export async function removeLocal(fs: FsCapability, dataDir: string, id: string): Promise<void> {
  const dir = fs.resolve(dataDir, id);
  if (await fs.exists(dir)) await fs.remove(dir, { recursive: true });
}
