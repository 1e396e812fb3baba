// `bucket verify` checks: overlapping blocks within a compaction group (overlapped_blocks), and
// what reading a block's index and chunks reveals (index_known_issues): series out of order,
// duplicate or unsorted label names, chunks out of order / overlapping / outside the block's time
// range, chunks that do not decode or hold samples outside their own bounds, stats that disagree.
import type { Bucket } from '../objstore/bucket.ts';
import type { Core } from '../core/types.ts';
import { BlockReader, bucketBlockFiles, ENC_XOR, ENC_HISTOGRAM, ENC_FLOAT_HISTOGRAM } from '../tsdb/mod.ts';
import { compareLabels } from '../labels/mod.ts';
import type { BucketBlockMeta as BlockMeta } from '../tsdb/meta.ts';
import { findOverlaps, groupBlocks } from './plan.ts';

export const VERIFY_ISSUES = ['overlapped_blocks', 'index_known_issues'] as const;
export type VerifyIssueName = (typeof VERIFY_ISSUES)[number];

export interface VerifyIssue {
  issue: VerifyIssueName;
  /** Block(s) concerned. */
  blocks: string[];
  message: string;
}

export function overlappedBlocks(metas: Iterable<BlockMeta>): VerifyIssue[] {
  const out: VerifyIssue[] = [];
  for (const g of groupBlocks(metas)) {
    for (const set of findOverlaps(g.metas)) {
      out.push({
        issue: 'overlapped_blocks',
        blocks: set.map((m) => m.ulid),
        message: `group ${g.key}: overlapping blocks ${set.map((m) => `${m.ulid} [${m.minTime}, ${m.maxTime})`).join(', ')}`,
      });
    }
  }
  return out;
}

/** Reads one block fully (index and every chunk) and reports what is wrong with it. */
export async function verifyBlockIndex(bucket: Bucket, core: Core, meta: BlockMeta, maxReports = 20): Promise<VerifyIssue[]> {
  const problems: string[] = [];
  const report = (s: string) => { if (problems.length < maxReports) problems.push(s); else if (problems.length === maxReports) problems.push('… more problems not shown'); };
  try {
    const b = await BlockReader.open(bucketBlockFiles(bucket, meta.ulid), { core, chunkWindow: 8 << 20 });
    let prevLabels: Parameters<typeof compareLabels>[0] | undefined;
    let series = 0, chunks = 0, samples = 0;
    for await (const s of b.selectChunks([{ type: '=~', name: '__name__', value: '.*' }])) {
      series++;
      const name = '{' + s.labels.map((l) => `${l.name}="${l.value}"`).join(', ') + '}';
      for (let i = 1; i < s.labels.length; i++) {
        if (s.labels[i - 1]!.name >= s.labels[i]!.name) report(`series ${name}: label names not sorted or duplicated`);
      }
      if (prevLabels && compareLabels(prevLabels, s.labels) >= 0) report(`series ${name}: out of order in the index (not after the previous series)`);
      prevLabels = s.labels;
      let lastMax = -Infinity;
      for (const c of s.chunks) {
        chunks++;
        if (c.minTime > c.maxTime) report(`series ${name}: chunk with minTime ${c.minTime} > maxTime ${c.maxTime}`);
        if (c.minTime <= lastMax) report(`series ${name}: chunk [${c.minTime}, ${c.maxTime}] overlaps or is out of order with the previous chunk (ends ${lastMax})`);
        lastMax = Math.max(lastMax, c.maxTime);
        if (c.minTime < meta.minTime || c.maxTime >= meta.maxTime) report(`series ${name}: chunk [${c.minTime}, ${c.maxTime}] outside the block range [${meta.minTime}, ${meta.maxTime})`);
        if (c.encoding === ENC_XOR || c.encoding === ENC_HISTOGRAM || c.encoding === ENC_FLOAT_HISTOGRAM) {
          try {
            const d = c.encoding === ENC_XOR ? core.xorDecode(c.data) : core.histogramDecode(c.data, c.encoding === ENC_FLOAT_HISTOGRAM);
            samples += d.n;
            if (d.n === 0) report(`series ${name}: empty chunk`);
            else if (d.t[0] !== c.minTime || d.t[d.n - 1] !== c.maxTime) report(`series ${name}: chunk samples span [${d.t[0]}, ${d.t[d.n - 1]}] but the index says [${c.minTime}, ${c.maxTime}]`);
            for (let i = 1; i < d.n; i++) if (!(d.t[i]! > d.t[i - 1]!)) { report(`series ${name}: chunk samples out of order at ${d.t[i]}`); break; }
          } catch (e) {
            report(`series ${name}: chunk [${c.minTime}, ${c.maxTime}] does not decode: ${(e as Error).message}`);
          }
        }
      }
    }
    const st = meta.stats ?? {};
    if (st.numSeries !== undefined && st.numSeries !== series) report(`meta.json stats.numSeries ${st.numSeries}, index has ${series}`);
    if (st.numChunks !== undefined && st.numChunks !== chunks) report(`meta.json stats.numChunks ${st.numChunks}, index has ${chunks}`);
    if (meta.thanos.downsample.resolution === 0 && st.numSamples !== undefined && st.numSamples !== samples) report(`meta.json stats.numSamples ${st.numSamples}, chunks hold ${samples}`);
  } catch (e) {
    report(`cannot read block: ${(e as Error).message}`);
  }
  return problems.map((p) => ({ issue: 'index_known_issues' as const, blocks: [meta.ulid], message: `block ${meta.ulid}: ${p}` }));
}
