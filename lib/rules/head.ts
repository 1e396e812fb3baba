// The ruler's recorded samples in memory (no WAL, no blocks): one append-only series per label set,
// trimmed to the retention window, served through the StoreAPI as XOR chunks. The MemoryStore
// snapshot is rebuilt lazily after appends, so reads between evaluations cost nothing extra.
import { labelsFromRecord, type Labels } from '../labels/mod.ts';
import { MemoryStore } from '../store/memory.ts';
import type { StoreServer } from '../store/api.ts';
import type { LabelNamesRequest, LabelValuesRequest, SeriesRequest, SeriesResponse } from '../proto/store.ts';
import { labelKey, type RecordedSample } from './eval.ts';

interface HeadSeries { labels: Labels; t: number[]; v: number[] }

export class RecordedHead implements StoreServer {
  private readonly data = new Map<string, HeadSeries>();
  private snapshot: MemoryStore | undefined;

  constructor(
    private readonly externalLabels: Labels,
    private readonly retentionMs: number,
    private readonly xorEncode: (t: Float64Array, v: Float64Array, n: number) => Uint8Array,
  ) {}

  append(samples: RecordedSample[]): void {
    let newest = -Infinity;
    for (const s of samples) {
      const k = labelKey(s.labels);
      let hs = this.data.get(k);
      if (!hs) {
        hs = { labels: labelsFromRecord(s.labels), t: [], v: [] };
        this.data.set(k, hs);
      }
      const last = hs.t[hs.t.length - 1];
      if (last !== undefined && s.t <= last) {
        if (s.t === last) hs.v[hs.v.length - 1] = s.v;
        continue; // out of order: dropped, as a TSDB head would
      }
      hs.t.push(s.t);
      hs.v.push(s.v);
      newest = Math.max(newest, s.t);
    }
    if (newest > -Infinity) this.trim(newest - this.retentionMs);
    this.snapshot = undefined;
  }

  private trim(minT: number): void {
    for (const [k, hs] of this.data) {
      let i = 0;
      while (i < hs.t.length && hs.t[i]! < minT) i++;
      if (i === 0) continue;
      if (i === hs.t.length) this.data.delete(k);
      else {
        hs.t.splice(0, i);
        hs.v.splice(0, i);
      }
    }
  }

  get numSeries(): number {
    return this.data.size;
  }

  store(): MemoryStore {
    this.snapshot ??= MemoryStore.fromSamples([...this.data.values()], this.xorEncode, { externalLabels: this.externalLabels, componentType: 'rule' });
    return this.snapshot;
  }

  series(req: SeriesRequest, signal: AbortSignal): AsyncIterable<SeriesResponse> {
    return this.store().series(req, signal);
  }
  labelNames(req: LabelNamesRequest, signal: AbortSignal) {
    return this.store().labelNames(req, signal);
  }
  labelValues(req: LabelValuesRequest, signal: AbortSignal) {
    return this.store().labelValues(req, signal);
  }
}
