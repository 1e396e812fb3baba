// The Core: hot kernels (XOR chunks, postings, downsampling aggregates). Two backends with
// identical results: 'wasm' (AssemblyScript, wasm/) and 'js' (pure TypeScript twin, lib/core/js/).
// Byte layouts and aggregate semantics: lib/core/FORMAT.md.

/** Decoded samples; t are milliseconds since epoch held exactly in f64. */
export interface Samples {
  t: Float64Array;
  v: Float64Array;
  n: number;
}

/**
 * The result of Thanos `DownsampleRaw(samples, resolution)` for one series, kept as flat arrays
 * (no per-window objects). Thanos cuts the series into batches; each batch becomes one AggrChunk.
 *
 * Per window (index w in [0, n)):
 *   t[w]        window timestamp = min(windowEnd, last raw t of the batch), windowEnd = t - t%res + res - 1
 *   count[w]    number of raw samples in the window (as f64)
 *   sum[w]      Σ v
 *   min[w]      min v (starts at +MaxFloat64, not +Inf, exactly like Thanos)
 *   max[w]      max v (starts at -MaxFloat64)
 *   counter[w]  running counter of the batch, resets folded in (first sample of the batch sets it)
 *
 * Per output chunk (index k in [0, chunks)), i.e. per Thanos batch:
 *   chunkStart[k] .. chunkStart[k+1]   the windows of chunk k (chunkStart has chunks+1 entries)
 *   firstT[k], firstV[k]               first raw sample of the batch
 *   lastV[k]                           last raw value of the batch
 *
 * The five XOR chunks of AggrChunk k are (see aggrChunkSamples() in lib/core/aggr.ts):
 *   count/sum/min/max: (t[w], X[w]) for w in the chunk's windows
 *   counter:           (firstT[k], firstV[k]), then (t[w], counter[w]) for each window,
 *                      then (t[last window of k], lastV[k])
 * and the chunk's MinTime/MaxTime are the first/last window timestamps.
 */
export interface AggrSeries {
  n: number;
  t: Float64Array;
  count: Float64Array;
  sum: Float64Array;
  min: Float64Array;
  max: Float64Array;
  counter: Float64Array;
  chunks: number;
  chunkStart: Uint32Array;
  firstT: Float64Array;
  firstV: Float64Array;
  lastV: Float64Array;
}

/**
 * The counter-reset header of a histogram chunk: the top two bits of its third byte
 * (Prometheus chunkenc.CounterResetHeader).
 */
export const HISTOGRAM_UNKNOWN_RESET = 0x00;
export const HISTOGRAM_NOT_COUNTER_RESET = 0x40;
export const HISTOGRAM_COUNTER_RESET = 0x80;
export const HISTOGRAM_GAUGE = 0xc0;

/** Prometheus histogram.CustomBucketsSchema: buckets given by explicit upper bounds (3.x only). */
export const CUSTOM_BUCKETS_SCHEMA = -53;

/**
 * The bucket layout every sample of one histogram chunk shares. Spans are flat
 * [offset0, length0, offset1, length1, ...] pairs exactly as Prometheus stores them (a layout is
 * not normalised: two adjacent spans stay two spans).
 */
export interface HistogramLayout {
  schema: number;
  zeroThreshold: number;
  positiveSpans: Int32Array;
  negativeSpans: Int32Array;
  /** Upper bounds of the custom buckets; only (and then always) with schema -53. */
  customValues: Float64Array;
}

/**
 * The samples of one histogram chunk (EncHistogram when `float` is false, EncFloatHistogram when
 * true), one array per field, sample-major. Buckets hold absolute counts (not Prometheus's
 * delta-between-buckets form): positive[i * P + j] is bucket j of sample i, P = sum of the positive
 * span lengths (N likewise). For integer histograms every count is an integer; the codec keeps
 * them exact within ±(2^53 - 1) and the encoder takes them within ±2^50 (so every delta of delta
 * it computes is exact in f64).
 *
 * A stale marker is a sample whose sum has the StaleNaN bits (0x7ff0000000000002); it carries no
 * counts (the decoder gives 0 for them, the encoder ignores them), as in Prometheus.
 */
export interface HistogramSamples {
  float: boolean;
  /** One of the HISTOGRAM_* header values. */
  header: number;
  layout: HistogramLayout;
  n: number;
  t: Float64Array;
  count: Float64Array;
  zeroCount: Float64Array;
  sum: Float64Array;
  positive: Float64Array;
  negative: Float64Array;
}

/**
 * The samples of many XOR chunks decoded by one xorDecodeBatch call, back to back: chunk i's samples
 * are t/v[start[i], start[i + 1]), start[chunks] = n. The arrays may be longer than n (they are the
 * core's reusable arena); read only up to n, and up to chunks + 1 entries of start.
 */
export interface SampleBatch {
  t: Float64Array;
  v: Float64Array;
  n: number;
  chunks: number;
  start: Uint32Array;
}

/**
 * XOR chunks encoded by one xorEncodeBatch call, back to back in bytes: chunk i is
 * bytes[offset[i], offset[i + 1]) (with its 2-byte header), offset[chunks] = total length. As with
 * SampleBatch, the arrays belong to the core and may be longer than that.
 */
export interface ChunkBatch {
  bytes: Uint8Array;
  chunks: number;
  offset: Uint32Array;
}

export type CoreBackend = 'wasm' | 'js';

/**
 * Results are fresh arrays the caller owns, but small ones (chunks up to 2 KiB, sample arrays up to
 * 256 entries) are cut from shared slabs like Node Buffers: use `byteOffset`/`byteLength` whenever
 * you reach for `.buffer`.
 */
export interface Core {
  readonly backend: CoreBackend;
  /**
   * Snappy block-format compression of src into dst from byte `at` (dst must have
   * maxCompressedLength(src.length) bytes from there, lib/remote/snappy.ts); returns where the
   * compressed bytes end. The same bytes as lib/remote/snappy.ts compressInto (the TS twin): the WAL
   * compresses its records with it.
   */
  snappyCompressInto(src: Uint8Array, dst: Uint8Array, at: number): number;
  /**
   * Decompresses a snappy block (lib/remote/snappy.ts decompress, the TS twin: the same bytes, the
   * same SnappyErrors, maxDecodedBytes checked before anything is decoded). The result is a view of
   * memory the core reuses: valid until its next call (copy what you keep). A remote write
   * receiver decompresses each request body with it.
   */
  snappyDecompress(src: Uint8Array, maxDecodedBytes?: number): Uint8Array;
  /**
   * Encodes n samples as one Prometheus XOR chunk (EncXOR), including the 2-byte sample count header.
   * Throws RangeError if n is out of 0..65535 or a timestamp is not an integer within ±2^51 ms.
   */
  xorEncode(t: Float64Array, v: Float64Array, n: number): Uint8Array;
  /**
   * Decodes an XOR chunk (with its 2-byte header). Throws CorruptChunkError on bad input.
   * If `out` is given and its arrays are large enough they are filled and `out` is returned.
   */
  xorDecode(chunk: Uint8Array, out?: Samples): Samples;
  /**
   * Decodes many XOR chunks in one call into one arena (the hot path of readers: no allocation and
   * no copy per chunk or per call). The result and its arrays belong to the core and stay valid only
   * until the next call on this core: copy (slice) what you keep. Throws CorruptChunkError naming
   * the chunk index on bad input.
   *
   * With maxt (ms), each chunk is decoded only up to its first sample with t > maxt: that sample is
   * excluded (its value not read) and start[] counts the samples decoded, so the rest of a chunk
   * costs nothing (an instant query keeps ~20 of a chunk's ~120 samples). Corruption is reported
   * only in the part read. A reader that drops samples going back in time should drop the chunks
   * after one cut short: the whole decode would have had a later sample > maxt before them.
   * Undefined or NaN: whole chunks, as without it.
   */
  xorDecodeBatch(chunks: readonly Uint8Array[], maxt?: number): SampleBatch;
  /**
   * Encodes runs of samples as XOR chunks in one call: chunk i holds samples [starts[i], starts[i + 1])
   * (the last one up to n); starts ascending from 0, at most 65535 samples per chunk. Same bytes as
   * xorEncode per chunk. The result belongs to the core until its next call (like xorDecodeBatch).
   * Throws RangeError like xorEncode (a bad timestamp is named by its index in t).
   */
  xorEncodeBatch(t: Float64Array, v: Float64Array, starts: ArrayLike<number>, n: number): ChunkBatch;
  /**
   * Encodes one histogram chunk (EncHistogram, or EncFloatHistogram when h.float), with its 3-byte
   * header, byte-identical to Prometheus 3.x appending these samples one by one to a fresh chunk
   * whose counter-reset header is h.header. Throws RangeError on input Prometheus could not have
   * produced (n out of 0..65535, array sizes, unsupported schema, non-integer or out-of-range
   * counts/timestamps, custom bounds without schema -53). See HistogramSamples.
   */
  histogramEncode(h: HistogramSamples): Uint8Array;
  /**
   * Decodes a histogram chunk (float: EncFloatHistogram). Throws CorruptChunkError on bad input,
   * including integers beyond ±(2^53 - 1) that f64 cannot hold exactly; a plain Error for the
   * reserved schemas 9..52 (Prometheus reduces them to 8 on read; not implemented).
   */
  histogramDecode(chunk: Uint8Array, float: boolean): HistogramSamples;
  /** Intersection of sorted (ascending, duplicate-free) u32 lists. No lists -> empty. */
  intersect(lists: readonly Uint32Array[]): Uint32Array;
  /** Union of sorted u32 lists, sorted and duplicate-free. */
  merge(lists: readonly Uint32Array[]): Uint32Array;
  /** Elements of a not in b (both sorted). */
  without(a: Uint32Array, b: Uint32Array): Uint32Array;
  /**
   * Thanos DownsampleRaw over one series' raw samples (t ascending), as gathered by Thanos'
   * expandChunkIterator (the caller drops stale markers and samples going back in time).
   * NaN values are dropped here, like Thanos does. resolutionMs > 0.
   */
  downsample(t: Float64Array, v: Float64Array, n: number, resolutionMs: number): AggrSeries;
  /**
   * CRC32-C (Castagnoli) of many byte arrays in one call: crc[i] holds the CRC of what precedes
   * data[i] (0 to start) and is replaced by the CRC continued over data[i]. The store gateway checks
   * every chunk of a ranged read with one call. Throws RangeError when crc is shorter than data.
   */
  crc32cBatch(data: readonly Uint8Array[], crc: Uint32Array): void;
}

export class CorruptChunkError extends Error {
  /** For the batch calls: the index of the bad chunk in the batch. */
  readonly chunk: number | undefined;
  constructor(message: string, chunk?: number) {
    super(message);
    this.name = 'CorruptChunkError';
    this.chunk = chunk;
  }
}
