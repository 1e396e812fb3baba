// Merging N blocks into one (the compactor's primitive): series merged in label order; chunks that
// do not overlap are copied byte for byte; overlapping chunks of the same series are decoded and
// their samples deduplicated one-to-one (same timestamp → kept once), then re-cut like Prometheus
// (native histogram chunks re-encoded through the histogram chunk appender: lib/tsdb/histograms.ts).
import type { Core } from '../core/types.ts';
import type { Labels } from '../labels/mod.ts';
import { compareLabels, compareStrings } from '../labels/mod.ts';
import type { BlockReader, SeriesChunks } from './block.ts';
import { decodeSeriesChunks } from './block.ts';
import { BlockWriteError } from './errors.ts';
import { BlockWriter, encodeXorRun, type BlockSink, type ChunkInput } from './writer.ts';
import { encodeMixedChunks, mergeSamplesByTime } from './histograms.ts';
import type { BlockMeta } from './meta.ts';

export interface MergeOptions {
  ulid?: string;
  /** Override the merged thanos section (default: the first block's, without files). */
  thanos?: BlockMeta['thanos'];
}

export async function mergeBlocks(blocks: readonly BlockReader[], sink: BlockSink, core: Core, opts: MergeOptions = {}): Promise<BlockMeta> {
  if (blocks.length === 0) throw new BlockWriteError('merge: no blocks');
  const metas = blocks.map((b) => b.meta);
  const res = metas[0]!.thanos?.downsample.resolution ?? 0;
  for (const m of metas) {
    if ((m.thanos?.downsample.resolution ?? 0) !== res) throw new BlockWriteError(`merge: block ${m.ulid} has resolution ${m.thanos?.downsample.resolution ?? 0}, want ${res}`);
  }
  const minTime = Math.min(...metas.map((m) => m.minTime));
  const maxTime = Math.max(...metas.map((m) => m.maxTime));
  const symbols = new Set<string>();
  for (const b of blocks) for (const s of b.index.symbols) symbols.add(s);
  const sources = [...new Set(metas.flatMap((m) => m.compaction.sources ?? [m.ulid]))].sort(compareStrings);
  const thanos = opts.thanos ?? (metas[0]!.thanos ? { ...metas[0]!.thanos!, files: undefined, index_stats: undefined, source: 'compactor' } : undefined);
  const w = await BlockWriter.create(sink, symbols, {
    core,
    minTime,
    maxTime,
    ulid: opts.ulid,
    compaction: {
      level: Math.max(...metas.map((m) => m.compaction.level)) + 1,
      sources,
      parents: [...metas].sort((a, b) => a.minTime - b.minTime).map((m) => ({ ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime })),
    },
    thanos,
  });
  const all = [{ type: '=~' as const, name: '__name__', value: '.*' }];
  const its = blocks.map((b) => b.selectChunks(all));
  const heads = await Promise.all(its.map(async (it) => (await it.next()).value as SeriesChunks | undefined));
  try {
    for (;;) {
      let min: Labels | undefined;
      for (const h of heads) if (h && (!min || compareLabels(h.labels, min) < 0)) min = h.labels;
      if (!min) break;
      const parts: { s: SeriesChunks; b: BlockReader }[] = [];
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h && compareLabels(h.labels, min) === 0) {
          parts.push({ s: h, b: blocks[i]! });
          heads[i] = (await its[i]!.next()).value as SeriesChunks | undefined;
        }
      }
      const chunks = await mergeSeriesChunks(parts, core, res, maxTime - minTime);
      if (chunks.length) await w.addSeriesChunks(min, chunks);
    }
  } catch (e) {
    await w.abort();
    throw e;
  }
  return (await w.finish()).meta;
}

async function mergeSeriesChunks(parts: { s: SeriesChunks; b: BlockReader }[], core: Core, res: number, range: number): Promise<ChunkInput[]> {
  const stoned = parts.some((p) => p.b.tombstones.has(p.s.ref));
  // parts come in block order, usually also time order: sort only when they are not
  let list = parts.length === 1 ? parts[0]!.s.chunks : parts.flatMap((p) => p.s.chunks);
  let sorted = true;
  for (let i = 1; i < list.length && sorted; i++) sorted = list[i - 1]!.minTime < list[i]!.minTime || (list[i - 1]!.minTime === list[i]!.minTime && list[i - 1]!.maxTime <= list[i]!.maxTime);
  if (!sorted) list = [...list].sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime);
  let overlap = false;
  for (let i = 1; i < list.length; i++) if (list[i]!.minTime <= list[i - 1]!.maxTime) overlap = true;
  if (!overlap && !stoned) return list;
  if (res !== 0) throw new BlockWriteError(`merge: overlapping or deleted data in downsampled series ${fmt(parts[0]!.s.labels)} cannot be merged`);
  // Decode each block's part (tombstones applied), then merge by time keeping one sample per timestamp.
  const decoded = parts.map((p) => decodeSeriesChunks(core, p.s.chunks, -Infinity, Infinity, p.b.tombstones.get(p.s.ref), p.b.files.name));
  const merged = mergeSamplesByTime(decoded);
  const floatRun = (from: number, to: number) => encodeXorRun(core, merged.t.subarray(from, to), merged.v.subarray(from, to), to - from, range);
  if (merged.h) return encodeMixedChunks(core, merged, floatRun);
  return floatRun(0, merged.n);
}

function fmt(ls: Labels): string {
  return '{' + ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ') + '}';
}
