// lib/tsdb: Prometheus TSDB blocks (meta.json + thanos section, index v2, chunk segments,
// tombstones), read over byte-range sources and written by a streaming writer. See FORMAT.md.
export type { ByteSource } from './bytesource.ts';
export { bytesSource, bucketSource, fsSource, windowedSource, readAllSource } from './bytesource.ts';
export { CorruptBlockError, PartialBlockError, BlockWriteError } from './errors.ts';
export type { BlockMeta, BlockStats, BlockMetaCompaction, ThanosMeta, ThanosFile, BlockDesc } from './meta.ts';
export { parseMeta, formatMeta, resolutionOf, MetaError, META_FILENAME, RES_RAW, RES_5M, RES_1H } from './meta.ts';
export { ulid, isULID, ulidTime, monotonicULID } from './ulid.ts';
export type { TOC, ChunkMeta, SeriesEntry, PostingsOffsets, PostingsRange, MatcherLike, FileSink } from './index.ts';
export { IndexReader, IndexWriter, MemPostingsOffsets, INDEX_MAGIC, TOC_LEN } from './index.ts';
export type { RawChunk } from './chunks.ts';
export { ChunkReader, ChunkWriter, chunkRef, chunkRefSegment, chunkRefOffset, segmentName, ENC_XOR, ENC_AGGR, ENC_NONE, ENC_HISTOGRAM, ENC_FLOAT_HISTOGRAM, CHUNKS_MAGIC } from './chunks.ts';
export type { Interval, Tombstones } from './tombstones.ts';
export { parseTombstones, encodeTombstones, addInterval, isDeleted } from './tombstones.ts';
export type { BlockFiles, BlockOpenOptions, SeriesChunks, SeriesSamples, SelectOptions } from './block.ts';
export { BlockReader, fsBlockFiles, bucketBlockFiles, memBlockFiles, decodeSeriesChunks } from './block.ts';
export type { BlockSink, BlockWriterOptions, ChunkInput } from './writer.ts';
export { BlockWriter, fsBlockSink, fsFileSink, memBlockSink, cutPoints, computeChunkEndTime, rangeForTimestamp, DEFAULT_SAMPLES_PER_CHUNK, DEFAULT_BLOCK_DURATION } from './writer.ts';
export { crc32c } from './encoding.ts';
