// The core module's exports: numeric (pointer, length) kernels, one call per batch.
export { arenaBase } from './arena';
export { xorDecode, xorEncode, xorMaxBytes, xorDecodeBatch, xorDecodeBatchUpTo, xorEncodeBatch, xorBatchMaxBytes } from './xor';
export { intersect, merge, without } from './postings';
export { histogramDecode, histogramEncode, histogramMaxBytes } from './histogram';
export { crc32cBatch } from './crc32c';
export { downsample, AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER } from './downsample';
export { snappyCompress, snappyDecode } from './snappy';
import { errChunk, errSample } from './xor';

/** Sample index at which the last xorDecode failed. */
export function lastErrorSample(): i32 {
  return errSample;
}

/** Chunk index at which the last xorDecodeBatch/xorEncodeBatch failed. */
export function lastErrorChunk(): i32 {
  return errChunk;
}

/**
 * Bumped when the exports or their memory layouts change; the host checks it. An added export that
 * changes nothing else (crc32cBatch) keeps it, so that older hosts (other checkouts sharing a build)
 * still load the module; the host checks for the export by name.
 */
export function version(): i32 {
  return 6;
}
