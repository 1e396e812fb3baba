// The Core entry point: createCore({ backend }) picks the WASM kernels (default) or the pure-TS twin.
import type { Core, CoreBackend } from './types.ts';
import { createJsCore } from './js/mod.ts';

export type { AggrSeries, Core, CoreBackend, Samples } from './types.ts';
export { CorruptChunkError } from './types.ts';
export { createJsCore } from './js/mod.ts';
export { aggrChunkSamples, AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER } from './aggr.ts';
export type { AggrChunkSamples } from './aggr.ts';

export interface CreateCoreOptions {
  backend?: CoreBackend;
}

let warned = false;

export async function createCore({ backend = 'wasm' }: CreateCoreOptions = {}): Promise<Core> {
  if (backend === 'js') return createJsCore();
  if (backend !== 'wasm') throw new Error(`core: unknown backend ${JSON.stringify(backend)} (expected wasm or js)`);
  // TODO(issue 3): WASM backend lands next; until then fall back with a warning.
  if (!warned) {
    warned = true;
    console.warn('core: wasm backend not built yet, using the js backend');
  }
  return createJsCore();
}
