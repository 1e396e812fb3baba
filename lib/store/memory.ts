// An in-memory StoreServer over a fixed list of series: for tests (ours and other components'),
// and as the reference behaviour of the Series contract.
import { compareLabels, compareStrings, getLabel, labelsEqual, matchLabels, type Label, type Labels } from '../labels/mod.ts';
import type { InfoResponse } from '../proto/info.ts';
import type {
  AggrChunk, LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, Series, SeriesRequest, SeriesResponse,
} from '../proto/store.ts';
import type { StoreServer, StoreTarget } from './api.ts';
import { mergeChunkLists } from './merge.ts';
import { compileMatchers } from './proxy.ts';

export interface MemoryStoreOptions {
  /** External labels: added to every series, overriding same-named series labels (as the sidecar does). */
  externalLabels?: Labels;
  /** Split each series into frames of at most this many chunks (exercises the "split series" contract). */
  chunksPerFrame?: number;
  /** Component type for info(). */
  componentType?: string;
}

export interface SampleSeries {
  labels: Labels;
  t: ArrayLike<number>;
  v: ArrayLike<number>;
}

function withExternal(ls: Labels, ext: Labels): Label[] {
  if (ext.length === 0) return ls.slice();
  const out = ls.filter((l) => !ext.some((e) => e.name === l.name));
  out.push(...ext);
  return out.sort((a, b) => compareStrings(a.name, b.name));
}

function overlaps(c: AggrChunk, mint: number, maxt: number): boolean {
  return c.maxTime >= mint && c.minTime <= maxt;
}

export class MemoryStore implements StoreServer {
  private readonly all: Series[];
  readonly externalLabels: Labels;

  constructor(series: readonly Series[], private readonly opts: MemoryStoreOptions = {}) {
    this.externalLabels = opts.externalLabels ?? [];
    this.all = series
      .map((s) => ({ labels: withExternal(s.labels, this.externalLabels), chunks: mergeChunkLists([s.chunks]) }))
      .sort((a, b) => compareLabels(a.labels, b.labels));
  }

  /**
   * Builds raw XOR chunks (thanos encoding XOR=0) of up to samplesPerChunk samples with the given
   * encoder (core.xorEncode from lib/core).
   */
  static fromSamples(
    list: readonly SampleSeries[],
    xorEncode: (t: Float64Array, v: Float64Array, n: number) => Uint8Array,
    opts: MemoryStoreOptions & { samplesPerChunk?: number } = {},
  ): MemoryStore {
    const per = opts.samplesPerChunk ?? 120;
    const series: Series[] = list.map((s) => {
      const chunks: AggrChunk[] = [];
      for (let i = 0; i < s.t.length; i += per) {
        const n = Math.min(per, s.t.length - i);
        const t = Float64Array.from({ length: n }, (_, k) => s.t[i + k]!);
        const v = Float64Array.from({ length: n }, (_, k) => s.v[i + k]!);
        chunks.push({ minTime: t[0]!, maxTime: t[n - 1]!, raw: { type: 0, data: xorEncode(t, v, n) } });
      }
      return { labels: s.labels.slice(), chunks };
    });
    return new MemoryStore(series, opts);
  }

  get minTime(): number {
    let m = Infinity;
    for (const s of this.all) for (const c of s.chunks) m = Math.min(m, c.minTime);
    return m === Infinity ? 0 : m;
  }

  get maxTime(): number {
    let m = -Infinity;
    for (const s of this.all) for (const c of s.chunks) m = Math.max(m, c.maxTime);
    return m === -Infinity ? 0 : m;
  }

  /** A proxy target describing this store. */
  target(name: string): StoreTarget {
    return {
      name,
      store: this,
      minTime: this.minTime,
      maxTime: this.maxTime,
      labelSets: this.externalLabels.length > 0 ? [this.externalLabels] : [],
      supportsWithoutReplicaLabels: true,
    };
  }

  info(): InfoResponse {
    return {
      labelSets: this.externalLabels.length > 0 ? [this.externalLabels.slice()] : [],
      componentType: this.opts.componentType ?? 'store',
      store: { minTime: this.minTime, maxTime: this.maxTime, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false },
    };
  }

  private select(mint: number, maxt: number, req: { matchers: SeriesRequest['matchers'] }, needChunks: boolean): Series[] {
    const ms = compileMatchers(req.matchers);
    const out: Series[] = [];
    for (const s of this.all) {
      if (!matchLabels(ms, s.labels)) continue;
      const chunks = s.chunks.filter((c) => overlaps(c, mint, maxt));
      if (needChunks && chunks.length === 0) continue;
      out.push({ labels: s.labels, chunks });
    }
    return out;
  }

  async *series(req: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
    let list = this.select(req.minTime, req.maxTime, req, true);
    if (req.withoutReplicaLabels.length > 0) {
      const drop = new Set(req.withoutReplicaLabels);
      const stripped = list
        .map((s) => ({ labels: s.labels.filter((l) => !drop.has(l.name)), chunks: s.chunks }))
        .sort((a, b) => compareLabels(a.labels, b.labels));
      list = [];
      for (const s of stripped) {
        const last = list[list.length - 1];
        if (last && labelsEqual(last.labels, s.labels)) last.chunks = mergeChunkLists([last.chunks, s.chunks]);
        else list.push({ labels: s.labels, chunks: s.chunks.slice() });
      }
    }
    let n = 0;
    const per = this.opts.chunksPerFrame ?? 0;
    for (const s of list) {
      signal.throwIfAborted();
      if (req.limit > 0 && n >= req.limit) return;
      n++;
      const chunks = req.skipChunks ? [] : s.chunks;
      if (per > 0 && chunks.length > per) {
        for (let i = 0; i < chunks.length; i += per) yield { type: 'series', series: { labels: s.labels, chunks: chunks.slice(i, i + per) } };
      } else {
        yield { type: 'series', series: { labels: s.labels, chunks } };
      }
    }
  }

  async labelNames(req: LabelNamesRequest, signal: AbortSignal): Promise<LabelNamesResponse> {
    signal.throwIfAborted();
    const all = req.start === 0 && req.end === 0;
    const set = new Set<string>();
    for (const s of this.select(all ? -Infinity : req.start, all ? Infinity : req.end, req, true)) for (const l of s.labels) set.add(l.name);
    let names = [...set].sort(compareStrings);
    if (req.limit > 0) names = names.slice(0, req.limit);
    return { names, warnings: [] };
  }

  async labelValues(req: LabelValuesRequest, signal: AbortSignal): Promise<LabelValuesResponse> {
    signal.throwIfAborted();
    const all = req.start === 0 && req.end === 0;
    const set = new Set<string>();
    for (const s of this.select(all ? -Infinity : req.start, all ? Infinity : req.end, req, true)) {
      const v = getLabel(s.labels, req.label);
      if (v !== '') set.add(v);
    }
    let values = [...set].sort(compareStrings);
    if (req.limit > 0) values = values.slice(0, req.limit);
    return { values, warnings: [] };
  }
}
