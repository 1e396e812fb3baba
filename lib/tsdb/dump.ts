// `promtool tsdb dump` over our reader: one line per sample, `{labels} value timestamp`, series in
// label order merged across blocks (identical timestamps from overlapping blocks printed once).
import type { Labels } from '../labels/mod.ts';
import { compareLabels } from '../labels/mod.ts';
import type { BlockReader, SeriesSamples } from './block.ts';
import type { MatcherLike } from './index.ts';
import { formatGoFloat, formatLabelsGo } from './gofmt.ts';

export interface DumpOptions {
  matchers: readonly MatcherLike[];
  minTime?: number;
  maxTime?: number;
}

/** Series of several blocks merged in label order; samples of equal series merged by time. */
export async function* selectMerged(blocks: readonly BlockReader[], o: DumpOptions): AsyncGenerator<SeriesSamples> {
  const mint = o.minTime ?? -Infinity;
  const maxt = o.maxTime ?? Infinity;
  const its = blocks
    .filter((b) => b.meta.maxTime > mint && b.meta.minTime <= maxt)
    .sort((a, b) => a.meta.minTime - b.meta.minTime)
    .map((b) => b.select(o.matchers, { minTime: mint, maxTime: maxt }));
  const heads: (SeriesSamples | undefined)[] = await Promise.all(its.map(async (it) => (await it.next()).value as SeriesSamples | undefined));
  for (;;) {
    let min: Labels | undefined;
    for (const h of heads) if (h && (!min || compareLabels(h.labels, min) < 0)) min = h.labels;
    if (!min) return;
    const parts: SeriesSamples[] = [];
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && compareLabels(h.labels, min) === 0) {
        parts.push(h);
        heads[i] = (await its[i]!.next()).value as SeriesSamples | undefined;
      }
    }
    yield parts.length === 1 ? parts[0]! : mergeSamples(parts);
  }
}

function mergeSamples(parts: SeriesSamples[]): SeriesSamples {
  let cap = 0;
  for (const p of parts) cap += p.n;
  const t = new Float64Array(cap);
  const v = new Float64Array(cap);
  const pos = parts.map(() => 0);
  let n = 0;
  for (;;) {
    let best = -1;
    for (let i = 0; i < parts.length; i++) {
      if (pos[i]! < parts[i]!.n && (best < 0 || parts[i]!.t[pos[i]!]! < parts[best]!.t[pos[best]!]!)) best = i;
    }
    if (best < 0) break;
    const ti = parts[best]!.t[pos[best]!]!;
    if (n === 0 || t[n - 1]! < ti) {
      t[n] = ti;
      v[n] = parts[best]!.v[pos[best]!]!;
      n++;
    }
    pos[best]!++;
  }
  return { labels: parts[0]!.labels, t, v, n };
}

/** Writes promtool-format lines through write() (batched into ~64 KiB strings). */
export async function dumpSamples(blocks: readonly BlockReader[], o: DumpOptions, write: (text: string) => void | Promise<void>): Promise<number> {
  let buf = '';
  let count = 0;
  for await (const s of selectMerged(blocks, o)) {
    const ls = formatLabelsGo(s.labels) + ' ';
    for (let i = 0; i < s.n; i++) {
      buf += ls + formatGoFloat(s.v[i]!) + ' ' + s.t[i] + '\n';
      if (buf.length > 65536) {
        await write(buf);
        buf = '';
      }
    }
    count += s.n;
  }
  if (buf) await write(buf);
  return count;
}
