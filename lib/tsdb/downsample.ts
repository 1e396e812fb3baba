// Writing downsampled (5m / 1h) blocks of AggrChunks from a raw block, Thanos style: the output is
// a copy of the source meta with a new ULID and thanos.downsample.resolution set.
import type { Core } from '../core/types.ts';
import { aggrChunkSamples, AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER } from '../core/aggr.ts';
import type { BlockReader } from './block.ts';
import { ENC_AGGR, ENC_XOR } from './chunks.ts';
import { encodeAggrChunk, decodeAggrChunk } from './aggrchunk.ts';
import type { RawChunk } from './chunks.ts';
import { BlockWriter, type BlockSink, type ChunkInput } from './writer.ts';
import type { BlockMeta } from './meta.ts';
import type { MixedSamples } from './histograms.ts';
import type { FloatHistogram } from '../histogram/float.ts';
import { isStaleNaN } from '../core/js/histogram.ts';
import { downsampleHistogramAggrBatch, downsampleRawHistograms, isHistogramAggrChunk, targetChunkCount } from './downsample_histogram.ts';

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/**
 * Downsamples every series of a block to `resolution` ms: raw → 5m/1h from samples (core.downsample),
 * or an already downsampled block (e.g. 5m → 1h) from its AggrChunks, along input chunk boundaries
 * as Thanos does (downsampleAggr).
 */
export async function downsampleBlock(src: BlockReader, resolution: number, sink: BlockSink, core: Core, opts: { ulid?: string } = {}): Promise<BlockMeta> {
  const m = src.meta;
  const inRes = m.thanos?.downsample.resolution ?? 0;
  if (inRes >= resolution) throw new Error(`downsample: target resolution ${resolution} not lower than the block's ${inRes} (block ${m.ulid})`);
  const symbols = src.index.symbols;
  const w = await BlockWriter.create(sink, symbols, {
    core,
    minTime: m.minTime,
    maxTime: m.maxTime,
    ulid: opts.ulid,
    compaction: m.compaction,
    thanos: { ...(m.thanos ?? { labels: {}, source: 'compactor' }), labels: m.thanos?.labels ?? {}, downsample: { resolution }, source: 'compactor', files: undefined, index_stats: undefined },
  });
  const all = [{ type: '=~' as const, name: '__name__', value: '.*' }];
  try {
    if (inRes > 0) {
      for await (const s of src.selectChunks(all)) {
        for (let i = 1; i < s.chunks.length; i++) {
          if (s.chunks[i - 1]!.maxTime >= s.chunks[i]!.minTime) throw new Error(`downsample: found overlapping chunks within series ${s.ref} of block ${m.ulid}`);
        }
        const out = downsampleAggrSeries(core, s.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, encoding: c.encoding, data: c.data })), inRes, resolution);
        if (out.length) await w.addSeriesChunks(s.labels, out);
      }
    } else {
      // each series is downsampled before the next is read: one pair of sample arrays for all
      for await (const s of src.select(all, { honourTombstones: true, reuseBuffers: true })) {
        const chunks = s.h ? downsampleMixedSeries(core, s, resolution) : downsampleRawSeries(core, s.t, s.v, s.n, resolution);
        if (chunks.length) await w.addSeriesChunks(s.labels, chunks);
      }
    }
  } catch (e) {
    await w.abort();
    throw e;
  }
  return (await w.finish()).meta;
}

/**
 * A raw series holding native histograms: as Thanos, each run of float samples and each run of
 * histogram samples (integer and float histograms alike) is downsampled on its own, histograms
 * into histogram AggrChunks (lib/tsdb/downsample_histogram.ts); stale markers dropped.
 */
function downsampleMixedSeries(core: Core, s: MixedSamples, resolution: number): ChunkInput[] {
  const out: ChunkInput[] = [];
  for (let from = 0; from < s.n;) {
    const hist = !!s.h![from];
    let to = from + 1;
    while (to < s.n && !!s.h![to] === hist) to++;
    if (hist) {
      const t: number[] = [];
      const h: FloatHistogram[] = [];
      for (let i = from; i < to; i++) {
        const x = s.h![i]!;
        if (isStaleNaN(x.sum)) continue;
        t.push(s.t[i]!);
        h.push(x);
      }
      out.push(...downsampleRawHistograms(core, t, h, resolution));
    } else {
      out.push(...downsampleRawSeries(core, s.t.subarray(from, to), s.v.subarray(from, to), to - from, resolution));
    }
    from = to;
  }
  return out;
}

/**
 * The AggrChunks of one raw series (samples in time order): stale markers dropped (the caller's job
 * per Core.downsample), Thanos DownsampleRaw, each batch's five aggregates encoded as XOR chunks.
 * A plain function, apart from the async loop, so that V8 optimises its per-sample loop on its own.
 */
function downsampleRawSeries(core: Core, st: Float64Array, sv: Float64Array, sn: number, resolution: number): ChunkInput[] {
  // only a NaN can be a stale marker: without NaNs (the usual series) the samples go as they are
  let nan = false;
  for (let i = 0; i < sn && !nan; i++) nan = sv[i] !== sv[i];
  let t = st, v = sv, n = sn;
  if (nan) {
    t = new Float64Array(sn);
    v = new Float64Array(sn);
    n = 0;
    for (let i = 0; i < sn; i++) {
      const x = sv[i]!;
      // look at the bits of NaNs alone
      if (x !== x && isStale(x, staleBits, staleF64)) continue;
      t[n] = st[i]!;
      v[n] = x;
      n++;
    }
  }
  const a = core.downsample(t, v, n, resolution);
  const chunks: ChunkInput[] = [];
  for (let k = 0; k < a.chunks; k++) {
    const cs = aggrChunkSamples(a, k);
    const parts = cs.aggr.map((x) => ({ encoding: ENC_XOR, data: core.xorEncode(x.t, x.v, x.n) }));
    chunks.push({ minTime: cs.minTime, maxTime: cs.maxTime, encoding: ENC_AGGR, data: encodeAggrChunk(parts), samples: cs.aggr[AGGR_COUNT].n });
  }
  return chunks;
}

const staleBits = new Uint32Array(2);
const staleF64 = new Float64Array(staleBits.buffer);

// ---- Thanos downsampleAggr (float aggregates) ----------------------------------------------------

/** Thanos currentWindow: end (inclusive) of the window holding t. */
function currentWindow(t: number, r: number): number {
  return t - (t % r) + r - 1;
}

class FloatAggr {
  total = 0; count = 0; sum = 0; min = Number.MAX_VALUE; max = -Number.MAX_VALUE; counter = 0; last = 0;
  reset(): void { this.count = 0; this.sum = 0; this.min = Number.MAX_VALUE; this.max = -Number.MAX_VALUE; }
  add(v: number): void {
    if (this.total > 0) this.counter += v < this.last ? v : v - this.last;
    else this.counter = v;
    this.last = v;
    this.sum += v;
    this.count++;
    this.total++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

/** Thanos downsampleBatch: calls add(windowEnd, aggr) per window; returns the last window end. */
function downsampleBatch(t: number[], v: number[], res: number, a: FloatAggr, add: (t: number, a: FloatAggr) => void): number {
  let nextT = -1;
  const lastT = t[t.length - 1]!;
  for (let i = 0; i < t.length; i++) {
    if (t[i]! > nextT) {
      if (nextT !== -1) add(nextT, a);
      a.reset();
      nextT = Math.min(currentWindow(t[i]!, res), lastT);
    }
    a.add(v[i]!);
  }
  if (a.count > 0) add(nextT, a);
  return nextT;
}

function isStale(x: number, bits: Uint32Array, f: Float64Array): boolean {
  f[0] = x;
  return bits[1] === STALE_HI && bits[0] === STALE_LO;
}

/** Re-aggregates one series' AggrChunks to outRes (float aggregates only). */
export function downsampleAggrSeries(core: Core, chks: readonly ChunkInput[], inRes: number, outRes: number): ChunkInput[] {
  if (chks.length === 0) return [];
  const all = chks.map((c) => {
    if (c.encoding !== ENC_AGGR) throw new Error(`downsample: expected AggrChunks (encoding 0xff) in a downsampled block, got encoding ${c.encoding}`);
    return decodeAggrChunk(c.data);
  });
  // As Thanos: runs of float and of histogram AggrChunks are re-aggregated separately.
  const out: ChunkInput[] = [];
  for (let from = 0; from < all.length;) {
    const hist = isHistogramAggrChunk(all[from]!);
    let to = from + 1;
    while (to < all.length && isHistogramAggrChunk(all[to]!) === hist) to++;
    out.push(...downsampleAggrRun(core, chks.slice(from, to), all.slice(from, to), hist, inRes, outRes));
    from = to;
  }
  return out;
}

function downsampleAggrRun(core: Core, chks: readonly ChunkInput[], parts: (RawChunk | undefined)[][], hist: boolean, inRes: number, outRes: number): ChunkInput[] {
  let numSamples = 0;
  for (const p of parts) if (p[AGGR_COUNT]) numSamples += core.xorDecode(p[AGGR_COUNT]!.data).n;
  const numChunks = targetChunkCount(chks[0]!.minTime, chks[chks.length - 1]!.maxTime, inRes, outRes, numSamples);
  const batch = Math.max(1, Math.trunc(chks.length / numChunks));
  const out: ChunkInput[] = [];
  for (let i = 0; i < parts.length; i += batch) {
    const part = parts.slice(i, i + batch);
    out.push(hist ? downsampleHistogramAggrBatch(core, part, outRes) : downsampleAggrBatch(core, part, outRes));
  }
  return out;
}

function downsampleAggrBatch(core: Core, part: (RawChunk | undefined)[][], res: number): ChunkInput {
  const bits = new Uint32Array(2);
  const f = new Float64Array(bits.buffer);
  let mint = Infinity, maxt = -Infinity;
  const enc: (RawChunk | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  const pick: Record<number, (a: FloatAggr) => number> = { [AGGR_COUNT]: (a) => a.sum, [AGGR_SUM]: (a) => a.sum, [AGGR_MIN]: (a) => a.min, [AGGR_MAX]: (a) => a.max };
  for (const at of [AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX]) {
    const t: number[] = [], v: number[] = [];
    for (const p of part) {
      const c = p[at];
      if (!c) continue;
      const s = core.xorDecode(c.data);
      let lastT = 0;
      for (let i = 0; i < s.n; i++) {
        if (isStale(s.v[i]!, bits, f)) continue;
        if (s.t[i]! >= lastT) { t.push(s.t[i]!); v.push(s.v[i]!); lastT = s.t[i]!; }
      }
    }
    if (t.length === 0) continue;
    const ot: number[] = [], ov: number[] = [];
    downsampleBatch(t, v, res, new FloatAggr(), (wt, a) => {
      mint = Math.min(mint, wt); maxt = Math.max(maxt, wt);
      ot.push(wt); ov.push(pick[at]!(a));
    });
    enc[at] = { encoding: ENC_XOR, data: core.xorEncode(Float64Array.from(ot), Float64Array.from(ov), ot.length) };
  }
  // Counter: resets applied across the batch's chunks (ApplyCounterResetsSeriesIterator).
  const ct: number[] = [], cv: number[] = [];
  let total = 0, lastT = 0, lastV = 0, totalV = 0;
  for (const p of part) {
    const c = p[AGGR_COUNTER];
    if (!c) continue;
    const s = core.xorDecode(c.data);
    for (let i = 0; i < s.n; i++) {
      const t = s.t[i]!, v = s.v[i]!;
      if (Number.isNaN(v)) continue;
      if (total === 0) { total++; lastT = t; lastV = v; totalV = v; }
      else if (t > lastT) { totalV += v >= lastV ? v - lastV : v; lastT = t; lastV = v; total++; }
      else { if (t === lastT) lastV = v; continue; }
      if (ct.length === 0 || t >= ct[ct.length - 1]!) { ct.push(t); cv.push(totalV); }
    }
  }
  if (ct.length > 0) {
    const ot: number[] = [ct[0]!], ov: number[] = [cv[0]!];
    const last = downsampleBatch(ct, cv, res, new FloatAggr(), (wt, a) => {
      mint = Math.min(mint, wt); maxt = Math.max(maxt, wt);
      ot.push(wt); ov.push(a.counter);
    });
    ot.push(last); ov.push(lastV);
    enc[AGGR_COUNTER] = { encoding: ENC_XOR, data: core.xorEncode(Float64Array.from(ot), Float64Array.from(ov), ot.length) };
  }
  const count = enc[AGGR_COUNT] ? core.xorDecode(enc[AGGR_COUNT]!.data).n : 0;
  return { minTime: mint, maxTime: maxt, encoding: ENC_AGGR, data: encodeAggrChunk(enc), samples: count };
}
