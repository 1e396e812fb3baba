// Writing downsampled (5m / 1h) blocks of AggrChunks from a raw block, Thanos style: the output is
// a copy of the source meta with a new ULID and thanos.downsample.resolution set.
import type { Core } from '../core/types.ts';
import { aggrChunkSamples } from '../core/aggr.ts';
import type { BlockReader } from './block.ts';
import { ENC_AGGR, ENC_XOR } from './chunks.ts';
import { encodeAggrChunk } from './aggrchunk.ts';
import { BlockWriter, type BlockSink, type ChunkInput } from './writer.ts';
import type { BlockMeta } from './meta.ts';

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** Downsamples every series of a raw block to `resolution` ms (300000 or 3600000). */
export async function downsampleBlock(src: BlockReader, resolution: number, sink: BlockSink, core: Core, opts: { ulid?: string } = {}): Promise<BlockMeta> {
  const m = src.meta;
  if ((m.thanos?.downsample.resolution ?? 0) !== 0) throw new Error(`downsample: block ${m.ulid} is already downsampled (resolution ${m.thanos?.downsample.resolution}); only raw blocks are supported`);
  const symbols = src.index.symbols;
  const w = await BlockWriter.create(sink, symbols, {
    core,
    minTime: m.minTime,
    maxTime: m.maxTime,
    ulid: opts.ulid,
    compaction: m.compaction,
    thanos: { ...(m.thanos ?? { labels: {}, source: 'compactor' }), labels: m.thanos?.labels ?? {}, downsample: { resolution }, source: 'compactor', files: undefined, index_stats: undefined },
  });
  const bits = new Uint32Array(2);
  const f = new Float64Array(bits.buffer);
  try {
    for await (const s of src.select([{ type: '=~', name: '__name__', value: '.*' }], { honourTombstones: true })) {
      // Drop Prometheus stale markers (the caller's job per Core.downsample).
      const t = new Float64Array(s.n);
      const v = new Float64Array(s.n);
      let n = 0;
      for (let i = 0; i < s.n; i++) {
        f[0] = s.v[i]!;
        if (bits[1] === STALE_HI && bits[0] === STALE_LO) continue;
        t[n] = s.t[i]!;
        v[n] = s.v[i]!;
        n++;
      }
      const a = core.downsample(t, v, n, resolution);
      const chunks: ChunkInput[] = [];
      for (let k = 0; k < a.chunks; k++) {
        const cs = aggrChunkSamples(a, k);
        const parts = cs.aggr.map((x) => ({ encoding: ENC_XOR, data: core.xorEncode(x.t, x.v, x.n) }));
        chunks.push({ minTime: cs.minTime, maxTime: cs.maxTime, encoding: ENC_AGGR, data: encodeAggrChunk(parts), samples: cs.aggr[0].n });
      }
      if (chunks.length) await w.addSeriesChunks(s.labels, chunks);
    }
  } catch (e) {
    await w.abort();
    throw e;
  }
  return (await w.finish()).meta;
}
