// lib/tsdb: Prometheus TSDB blocks (meta.json + thanos section, index v2, chunk segments,
// tombstones), read over byte-range sources and written by a streaming writer. See FORMAT.md.
//
// Reading (local dir, bucket or memory — same code, ranged reads):
//   const b = await BlockReader.open(bucketBlockFiles(bucket, ulid), { core, chunkWindow: 0,
//                                    indexHeader: { fs, dir: `${dataDir}/${ulid}` } });   // store gateway
//   const refs = await b.postings([{ type: '=', name: 'job', value: 'api' }]);         // sorted = label order
//   for await (const s of b.index.seriesMany(refs)) s.labels, s.chunks /* {ref, minTime, maxTime} */;
//   const raw = await b.chunk(ref);            // {encoding, data}: XOR (1) or AggrChunk (0xff), undecoded
//   for await (const s of b.select(ms, { minTime, maxTime })) s.t, s.v, s.n;   // decoded, tombstones applied
//   await b.index.labelNames(ms?); await b.index.labelValues('job', ms?);
// Writing (symbols first, then series in label order; meta.json last):
//   const w = await BlockWriter.create(fsBlockSink(fs, parentDir), symbols, { core, minTime, maxTime,
//                                      thanos: { labels, downsample: { resolution: 0 }, source: 'sidecar' } });
//   await w.addSeries(labels, t, v);           // cut into XOR chunks exactly like Prometheus 2.42
//   await w.addSeriesChunks(labels, chunks);   // ready-made chunks (AggrChunks: encodeAggrChunk)
//   const { meta } = await w.finish();
// Compaction & shipping: mergeBlocks, downsampleBlock (raw→5m/1h, 5m→1h), uploadBlock (meta.json
// last), downloadBlock, loadIndexHeaderReader. Errors: CorruptBlockError(block, file, section),
// PartialBlockError (no meta.json), MetaError (field).
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
export { BlockWriter, fsBlockSink, fsFileSink, memBlockSink, cutPoints, computeChunkEndTime, rangeForTimestamp, encodeXorRun, DEFAULT_SAMPLES_PER_CHUNK, DEFAULT_BLOCK_DURATION } from './writer.ts';
export { encodeMixedChunks, mergeSamplesByTime, appenderSample, HISTOGRAM_CHUNK_SPLIT, type MixedSamples } from './histograms.ts';
export { crc32c } from './encoding.ts';
export type { IndexHeaderInfo, LoadIndexHeaderOptions } from './indexheader.ts';
export { buildIndexHeader, openIndexHeader, loadIndexHeaderReader, INDEX_HEADER_FILENAME, INDEX_HEADER_MAGIC, DEFAULT_POSTINGS_SAMPLING } from './indexheader.ts';
export { encodeAggrChunk, decodeAggrChunk, aggrChunkGet, AggrChunkError, AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER, AGGR_NAMES } from './aggrchunk.ts';
export { downsampleBlock } from './downsample.ts';
export { mergeBlocks, type MergeOptions } from './merge.ts';
export { uploadBlock, uploadBlockFiles, downloadBlock, isCompleteBlock, type UploadOptions } from './objstore.ts';
export { dumpSamples, selectMerged, integerHistogramString, type DumpOptions } from './dump.ts';
export { parseSelector, SelectorError } from './selector.ts';
export { backfillOpenMetrics, type BackfillOptions } from './backfill.ts';
export { parseOMLine, OpenMetricsError, GO_NAN } from './openmetrics.ts';
export { formatGoFloat, goQuote, formatLabelsGo } from './gofmt.ts';
