// One numbering of the downsampling aggregates (Thanos AggrChunk order count, sum, min, max,
// counter): lib/core/aggr.ts owns it; the WASM kernel mirrors it and lib/tsdb re-exports it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as aggr from '../../lib/core/aggr.ts';
import { createCore, createJsCore, readWasmBytes } from '../../lib/core/mod.ts';
import * as tsdb from '../../lib/tsdb/mod.ts';

const NAMES = ['AGGR_COUNT', 'AGGR_SUM', 'AGGR_MIN', 'AGGR_MAX', 'AGGR_COUNTER'] as const;

test('lib/core/aggr.ts: Thanos order count=0, sum=1, min=2, max=3, counter=4', () => {
  assert.equal(NAMES.map((k) => aggr[k]), [0, 1, 2, 3, 4]);
  assert.equal([...aggr.AGGR_NAMES], ['count', 'sum', 'min', 'max', 'counter']);
  for (const k of NAMES) assert.is(aggr.AGGR_NAMES[aggr[k]], k.slice(5).toLowerCase());
});

test('the WASM module exports the same numbering', async () => {
  // (tsconfig has no DOM lib and @types/node 20 lacks WebAssembly's types, as in lib/core/wasm.ts)
  const WA = (globalThis as unknown as { WebAssembly: { instantiate(b: Uint8Array, i: object): Promise<{ instance: { exports: Record<string, { value?: unknown } | undefined> } }> } }).WebAssembly;
  const { instance } = await WA.instantiate(await readWasmBytes(), { env: { abort() { throw new Error('abort'); } } });
  for (const k of NAMES) {
    const g = instance.exports[k];
    assert.ok(g && 'value' in g, `wasm export ${k} missing (run \`npm run build:wasm\`)`);
    assert.is(Number(g.value), aggr[k], k);
  }
});

test('lib/tsdb re-exports the same definitions', () => {
  for (const k of NAMES) assert.is(tsdb[k], aggr[k], k);
  assert.is(tsdb.AGGR_NAMES, aggr.AGGR_NAMES);
});

test('aggrChunkSamples indexes by the numbering on both backends', async () => {
  const t = Float64Array.from([0, 60_000, 120_000, 310_000, 320_000]);
  const v = Float64Array.from([5, 3, 7, 2, 4]);
  for (const core of [createJsCore(), await createCore({ backend: 'wasm' })]) {
    const a = core.downsample(t, v, t.length, 300_000);
    const c = aggr.aggrChunkSamples(a, 0);
    assert.equal([...c.aggr[aggr.AGGR_COUNT].v], [...a.count.subarray(0, c.aggr[aggr.AGGR_COUNT].n)], core.backend);
    assert.equal([...c.aggr[aggr.AGGR_SUM].v], [15, 6], core.backend);
    assert.equal([...c.aggr[aggr.AGGR_MIN].v], [3, 2], core.backend);
    assert.equal([...c.aggr[aggr.AGGR_MAX].v], [7, 4], core.backend);
    assert.equal([...c.aggr[aggr.AGGR_COUNT].v], [3, 2], core.backend);
  }
});

test.run();
