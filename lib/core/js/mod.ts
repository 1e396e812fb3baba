// The pure-TS backend of the Core.
import type { Core } from '../types.ts';
import { compressInto } from '../../remote/snappy.ts';
import { xorDecode, xorEncode } from './xor.ts';
import { intersect, merge, without } from './postings.ts';
import { downsample } from './downsample.ts';
import { JsXorBatcher } from './batch.ts';
import { histogramDecode, histogramEncode } from './histogram.ts';
import { crc32cBatch } from './crc32c.ts';

export function createJsCore(): Core {
  const batch = new JsXorBatcher();
  return {
    backend: 'js',
    snappyCompressInto: compressInto,
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
