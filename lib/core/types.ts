// The Core: hot kernels (XOR chunks, postings, downsampling aggregates). Two backends with
// identical results: 'wasm' (AssemblyScript, wasm/) and 'js' (pure TypeScript twin, lib/core/js/).

/** Decoded samples; t are milliseconds since epoch held exactly in f64. */
export interface Samples {
  t: Float64Array;
  v: Float64Array;
  n: number;
}

/** Thanos downsampling aggregates for one series over windows of `resolutionMs`. */
export interface AggrSeries {
  /** One entry per window; each array has `n` valid entries. */
  t: Float64Array;      // timestamp of each aggregated point (last raw sample's t in the window)
  count: Float64Array;
  sum: Float64Array;
  min: Float64Array;
  max: Float64Array;
  counter: Float64Array;
  n: number;
  /** Counter series has its own timestamps: the first and last raw samples are kept for reset detection. */
  counterT?: Float64Array;
  counterN?: number;
}

export type CoreBackend = 'wasm' | 'js';

export interface Core {
  readonly backend: CoreBackend;
  /** Encodes n samples as one Prometheus XOR chunk (EncXOR), including the 2-byte sample count header. */
  xorEncode(t: Float64Array, v: Float64Array, n: number): Uint8Array;
  /** Decodes an XOR chunk (with its 2-byte header). Throws CorruptChunkError on bad input. */
  xorDecode(chunk: Uint8Array, out?: Samples): Samples;
  intersect(lists: readonly Uint32Array[]): Uint32Array;
  merge(lists: readonly Uint32Array[]): Uint32Array;
  without(a: Uint32Array, b: Uint32Array): Uint32Array;
  downsample(t: Float64Array, v: Float64Array, n: number, resolutionMs: number): AggrSeries;
}

export class CorruptChunkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptChunkError';
  }
}
