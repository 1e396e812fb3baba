// The pure-TS backend of the Core.
import type { Core } from '../types.ts';
import { xorDecode, xorEncode } from './xor.ts';
import { intersect, merge, without } from './postings.ts';
import { downsample } from './downsample.ts';
import { histogramDecode, histogramEncode } from './histogram.ts';

export function createJsCore(): Core {
  return { backend: 'js', xorEncode, xorDecode, intersect, merge, without, downsample, histogramEncode, histogramDecode };
}
