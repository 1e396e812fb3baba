// The pure-TS backend of the Core.
import type { Core } from '../types.ts';
import { checkedDecodedLength, compressInto, decompress } from '../../remote/snappy.ts';
import { xorDecode, xorEncode } from './xor.ts';
import { intersect, merge, without } from './postings.ts';
import { downsample } from './downsample.ts';
import { JsXorBatcher } from './batch.ts';
import { histogramDecode, histogramEncode } from './histogram.ts';
import { crc32cBatch } from './crc32c.ts';

/** Largest decoded snappy block whose buffer the core keeps for the next call. */
const KEEP_SNAPPY_BYTES = 4 << 20;

export function createJsCore(): Core {
  const batch = new JsXorBatcher();
  let snappyOut = new Uint8Array(0);
  return {
    backend: 'js',
    snappyCompressInto: compressInto,
    snappyDecompress: (src, maxDecodedBytes) => {
      const n = checkedDecodedLength(src, maxDecodedBytes).length;
      if (n > snappyOut.length && n <= KEEP_SNAPPY_BYTES) snappyOut = new Uint8Array(Math.min(KEEP_SNAPPY_BYTES, Math.max(n, 2 * snappyOut.length, 64 << 10)));
      return decompress(src, { maxDecodedBytes, into: snappyOut });
    },
    xorEncode,
    xorDecode,
    xorDecodeBatch: (chunks, maxt) => batch.xorDecodeBatch(chunks, maxt),
    xorEncodeBatch: (t, v, starts, n) => batch.xorEncodeBatch(t, v, starts, n),
    intersect,
    merge,
    without,
    downsample,
    histogramEncode,
    histogramDecode,
    crc32cBatch,
  };
}
