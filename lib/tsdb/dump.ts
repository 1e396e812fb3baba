// `promtool tsdb dump` over our reader: one line per sample, `{labels} value timestamp`, series in
// label order merged across blocks (identical timestamps from overlapping blocks printed once).
// A native histogram sample prints as Prometheus 3.x's promtool prints it: `{labels} <String()> ts`,
// Histogram.String() (integer counts, %d) for integer chunks and FloatHistogram.String() for float
// ones. (promtool 2.42 prints no histogram samples at all: it stops a series at its first one.)
import type { Labels } from '../labels/mod.ts';
import { compareLabels } from '../labels/mod.ts';
import type { BlockReader, SeriesSamples } from './block.ts';
import type { MatcherLike } from './index.ts';
import { formatGoFloat, formatLabelsGo } from './gofmt.ts';
import { bucketString, type FloatHistogram } from '../histogram/float.ts';
import { mergeSamplesByTime } from './histograms.ts';

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
    yield parts.length === 1 ? parts[0]! : { labels: parts[0]!.labels, ...mergeSamplesByTime(parts) };
  }
}

/** Go's %d of a count Prometheus holds as uint64 (an integer histogram's). */
function formatCount(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < 1e21 ? String(x) : formatGoFloat(x);
}

/**
 * Prometheus Histogram.String() of an integer histogram (its counts printed with %d), from the
 * FloatHistogram it was converted to: the same buckets as FloatHistogram.String().
 */
export function integerHistogramString(h: FloatHistogram): string {
  const bucket = (b: ReturnType<FloatHistogram['zeroBucket']>) => {
    const s = bucketString(b);
    return s.slice(0, s.lastIndexOf(':') + 1) + formatCount(b.count);
  };
  const parts = [`{count:${formatCount(h.count)}, sum:${formatGoFloat(h.sum)}`];
  const neg = h.negativeBucketList().filter((b) => b.count !== 0);
  for (let k = neg.length - 1; k >= 0; k--) parts.push(bucket(neg[k]!));
  if (h.zeroCount !== 0) parts.push(bucket(h.zeroBucket()));
  for (const b of h.positiveBucketList()) if (b.count !== 0) parts.push(bucket(b));
  return parts.join(', ') + '}';
}

/** Writes promtool-format lines through write() (batched into ~64 KiB strings). */
export async function dumpSamples(blocks: readonly BlockReader[], o: DumpOptions, write: (text: string) => void | Promise<void>): Promise<number> {
  let buf = '';
  let count = 0;
  for await (const s of selectMerged(blocks, o)) {
    const ls = formatLabelsGo(s.labels) + ' ';
    for (let i = 0; i < s.n; i++) {
      const h = s.h?.[i];
      const value = h ? (s.intHist?.[i] ? integerHistogramString(h) : h.toString()) : formatGoFloat(s.v[i]!);
      buf += ls + value + ' ' + s.t[i] + '\n';
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
