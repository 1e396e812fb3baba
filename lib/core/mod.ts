// The Core entry point: createCore({ backend }) picks the WASM kernels (default) or the pure-TS twin.
import type { Core, CoreBackend } from './types.ts';
import { createJsCore } from './js/mod.ts';
import { createWasmCore, type WasmCoreOptions } from './wasm.ts';

export type { AggrSeries, ChunkBatch, Core, CoreBackend, HistogramLayout, HistogramSamples, SampleBatch, Samples } from './types.ts';
export {
  CorruptChunkError,
  CUSTOM_BUCKETS_SCHEMA,
  HISTOGRAM_COUNTER_RESET,
  HISTOGRAM_GAUGE,
  HISTOGRAM_NOT_COUNTER_RESET,
  HISTOGRAM_UNKNOWN_RESET,
} from './types.ts';
// The TS twin's histogram codec as plain functions (also Core.histogramEncode/histogramDecode).
export { histogramDecode, histogramEncode, isStaleNaN, MAX_HISTOGRAM_COUNT } from './js/histogram.ts';
export { createJsCore } from './js/mod.ts';
export { createWasmCore, readWasmBytes, DEFAULT_WASM_URL } from './wasm.ts';
export type { WasmCoreOptions } from './wasm.ts';
export { aggrChunkSamples, AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER, AGGR_NAMES } from './aggr.ts';
export type { AggrName } from './aggr.ts';
export type { AggrChunkSamples } from './aggr.ts';
export { xorNumSamples } from './js/xor.ts';

export interface CreateCoreOptions extends WasmCoreOptions {
  /** 'wasm' (default): AssemblyScript kernels from wasm/build/core.wasm; 'js': the pure-TS twin. */
  backend?: CoreBackend;
}

/**
 * Creates a Core. The wasm backend needs the built module (`npm run build:wasm`); if it cannot be
 * loaded this rejects with an error naming the path (there is no silent fallback to js).
 */
export async function createCore(opts: CreateCoreOptions = {}): Promise<Core> {
  const backend = opts.backend ?? 'wasm';
  if (backend === 'js') return createJsCore();
  if (backend !== 'wasm') throw new Error(`core: unknown backend ${JSON.stringify(backend)} (expected wasm or js)`);
  return createWasmCore(opts);
}
