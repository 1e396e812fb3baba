// Shared fixtures for the StoreAPI tests.
import { createJsCore } from '../../lib/core/mod.ts';
import { labelsFromRecord, type Labels } from '../../lib/labels/mod.ts';
import type { StoreServer } from '../../lib/store/api.ts';
import { MemoryStore, type MemoryStoreOptions } from '../../lib/store/memory.ts';
import type { AggrChunk, Series, SeriesRequest, SeriesResponse } from '../../lib/proto/store.ts';
import { seriesRequest } from '../../lib/proto/store.ts';

export const core = createJsCore();

export function mkSeries(rec: Record<string, string>, ranges: Array<[number, number]>, step = 15000): { labels: Labels; t: number[]; v: number[] } {
  const t: number[] = [];
  const v: number[] = [];
  for (const [a, b] of ranges) for (let x = a; x <= b; x += step) (t.push(x), v.push(x / 1000 + Object.keys(rec).length));
  return { labels: labelsFromRecord(rec), t, v };
}

export function memStore(list: ReturnType<typeof mkSeries>[], opts: MemoryStoreOptions & { samplesPerChunk?: number } = {}): MemoryStore {
  return MemoryStore.fromSamples(list, core.xorEncode.bind(core), opts);
}

export function req(p: Partial<SeriesRequest> = {}): SeriesRequest {
  return seriesRequest({ minTime: -9223372036854775808, maxTime: 9223372036854775807, matchers: [{ type: '=~', name: '__name__', value: '.+' }], ...p });
}

export async function collect(it: AsyncIterable<SeriesResponse>): Promise<{ series: Series[]; warnings: string[] }> {
  const series: Series[] = [];
  const warnings: string[] = [];
  for await (const r of it) {
    if (r.type === 'series') series.push(r.series);
    else if (r.type === 'batch') series.push(...r.batch);
    else if (r.type === 'warning') warnings.push(r.warning);
  }
  return { series, warnings };
}

/** Decodes all samples of a series' raw chunks, trimmed to [mint, maxt], deduplicated by timestamp. */
export function samplesOf(s: Series, mint = -Infinity, maxt = Infinity): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const c of s.chunks) {
    const d = core.xorDecode(c.raw!.data);
    for (let i = 0; i < d.n; i++) if (d.t[i]! >= mint && d.t[i]! <= maxt) out.push([d.t[i]!, d.v[i]!]);
  }
  return out;
}

/** A store that serves `good` series then fails (or hangs) — for partial response tests. */
export class FaultyStore implements StoreServer {
  calls = 0;
  aborted = false;
  constructor(private readonly inner: StoreServer, private readonly mode: { failAfter?: number; hangAfter?: number; error?: string }) {}
  async *series(r: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
    this.calls++;
    signal.addEventListener('abort', () => (this.aborted = true), { once: true });
    let n = 0;
    for await (const x of this.inner.series(r, signal)) {
      if (this.mode.failAfter !== undefined && n >= this.mode.failAfter) throw new Error(this.mode.error ?? 'store exploded');
      if (this.mode.hangAfter !== undefined && n >= this.mode.hangAfter) {
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      }
      n++;
      yield x;
    }
    if (this.mode.failAfter !== undefined && n >= this.mode.failAfter) throw new Error(this.mode.error ?? 'store exploded');
  }
  async labelNames(r: Parameters<StoreServer['labelNames']>[0], s: AbortSignal) {
    this.calls++;
    if (this.mode.failAfter !== undefined) throw new Error(this.mode.error ?? 'store exploded');
    return this.inner.labelNames(r, s);
  }
  async labelValues(r: Parameters<StoreServer['labelValues']>[0], s: AbortSignal) {
    this.calls++;
    if (this.mode.failAfter !== undefined) throw new Error(this.mode.error ?? 'store exploded');
    return this.inner.labelValues(r, s);
  }
}

export function chunkKey(c: AggrChunk): string {
  return `${c.minTime}-${c.maxTime}-${Array.from(c.raw?.data ?? []).join(',')}`;
}

/** uvu has no assert.rejects: awaits fn and checks the rejection with pred. */
export async function rejects(fn: () => Promise<unknown>, pred: (e: unknown) => boolean = () => true, msg = 'expected a rejection'): Promise<void> {
  let err: unknown;
  let threw = false;
  try {
    await fn();
  } catch (e) {
    threw = true;
    err = e;
  }
  if (!threw) throw new Error(msg);
  if (!pred(err)) throw new Error(`${msg}: unexpected error ${err instanceof Error ? err.stack : String(err)}`);
}
