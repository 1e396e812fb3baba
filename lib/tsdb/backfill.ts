// Backfilling an OpenMetrics file into 2h-aligned blocks, like `promtool tsdb
// create-blocks-from openmetrics`: pass 1 validates every line and counts samples per block
// window; then windows are processed in groups that fit a sample budget (one re-read per group),
// so memory is bounded by the budget, not by the file.
import type { Core } from '../core/types.ts';
import type { Label, Labels } from '../labels/mod.ts';
import { compareLabels, labelsKey } from '../labels/mod.ts';
import { parseOMLine, readLines, OpenMetricsError } from './openmetrics.ts';
import { BlockWriter, DEFAULT_BLOCK_DURATION, type BlockSink } from './writer.ts';
import type { BlockMeta } from './meta.ts';

export interface BackfillOptions {
  core: Core;
  /** Opens the input (called once per pass). */
  open(): Promise<ReadableStream<Uint8Array>>;
  totalBytes?: number;
  /** A fresh sink per output block. */
  sink(): BlockSink;
  /** External labels: adds a thanos section to every block. */
  labels?: Record<string, string>;
  blockDuration?: number;
  /** Max samples held in memory at once (default 20M). */
  maxSamplesInMemory?: number;
  progress?(msg: string): void;
}

interface Acc { labels: Labels; t: number[]; v: number[]; lines: number[] }

function windowOf(t: number, d: number): number {
  return Math.floor(t / d) * d;
}

export async function backfillOpenMetrics(o: BackfillOptions): Promise<BlockMeta[]> {
  const d = o.blockDuration ?? DEFAULT_BLOCK_DURATION;
  const budget = o.maxSamplesInMemory ?? 20_000_000;
  const counts = new Map<number, number>();
  let seenEOF = false;
  let total = 0;
  let bytes = 0;
  let lastReport = Date.now();
  const report = (pass: string) => {
    if (!o.progress || !o.totalBytes) return;
    const now = Date.now();
    if (now - lastReport < 2000) return;
    lastReport = now;
    o.progress(`${pass}: ${((bytes / o.totalBytes) * 100).toFixed(1)}% of ${o.totalBytes} bytes, ${total} samples`);
  };
  // Pass 1: validate and count.
  for await (const [n, text] of readLines(await o.open(), (k) => (bytes += k))) {
    if (seenEOF) throw new OpenMetricsError(n, text, 'unexpected data after # EOF');
    const s = parseOMLine(text, n);
    if (s === 'eof') { seenEOF = true; continue; }
    if (!s) continue;
    const w = windowOf(s.t, d);
    counts.set(w, (counts.get(w) ?? 0) + 1);
    total++;
    report('validating');
  }
  if (!seenEOF) throw new OpenMetricsError(0, '', 'data does not end with # EOF');
  o.progress?.(`validated ${total} samples in ${counts.size} block range(s)`);
  const windows = [...counts.keys()].sort((a, b) => a - b);
  const groups: number[][] = [];
  let cur: number[] = [];
  let curN = 0;
  for (const w of windows) {
    const c = counts.get(w)!;
    if (cur.length > 0 && curN + c > budget) { groups.push(cur); cur = []; curN = 0; }
    cur.push(w);
    curN += c;
  }
  if (cur.length) groups.push(cur);
  const metas: BlockMeta[] = [];
  for (const g of groups) {
    const set = new Set(g);
    const acc = new Map<number, Map<string, Acc>>();
    for (const w of g) acc.set(w, new Map());
    bytes = 0;
    for await (const [n, text] of readLines(await o.open(), (k) => (bytes += k))) {
      const s = parseOMLine(text, n);
      if (!s || s === 'eof') continue;
      const w = windowOf(s.t, d);
      if (!set.has(w)) continue;
      const m = acc.get(w)!;
      const key = labelsKey(s.labels);
      let a = m.get(key);
      if (!a) m.set(key, (a = { labels: s.labels as Label[], t: [], v: [], lines: [] }));
      a.t.push(s.t);
      a.v.push(s.v);
      a.lines.push(n);
      report('reading');
    }
    for (const w of g) {
      const meta = await writeWindow(o, acc.get(w)!, d);
      acc.delete(w);
      if (meta) {
        metas.push(meta);
        o.progress?.(`wrote block ${meta.ulid} [${new Date(meta.minTime).toISOString()}, ${new Date(meta.maxTime).toISOString()}) ${meta.stats?.numSeries} series, ${meta.stats?.numSamples} samples`);
      }
    }
  }
  return metas;
}

async function writeWindow(o: BackfillOptions, m: Map<string, Acc>, d: number): Promise<BlockMeta | undefined> {
  if (m.size === 0) return undefined;
  const series = [...m.values()].sort((a, b) => compareLabels(a.labels, b.labels));
  const symbols = new Set<string>();
  let mint = Infinity, maxt = -Infinity;
  const prepared: { labels: Labels; t: Float64Array; v: Float64Array; n: number }[] = [];
  for (const s of series) {
    for (const l of s.labels) { symbols.add(l.name); symbols.add(l.value); }
    const idx = s.t.map((_, i) => i).sort((a, b) => s.t[a]! - s.t[b]! || a - b);
    const t = new Float64Array(idx.length);
    const v = new Float64Array(idx.length);
    let n = 0;
    for (const i of idx) {
      if (n > 0 && t[n - 1] === s.t[i]) {
        if (Object.is(v[n - 1], s.v[i]) || (Number.isNaN(v[n - 1]!) && Number.isNaN(s.v[i]!))) continue;
        throw new OpenMetricsError(s.lines[i]!, '', `duplicate sample for timestamp ${s.t[i]} with a different value for series ${fmt(s.labels)}`);
      }
      t[n] = s.t[i]!;
      v[n] = s.v[i]!;
      n++;
    }
    mint = Math.min(mint, t[0]!);
    maxt = Math.max(maxt, t[n - 1]!);
    prepared.push({ labels: s.labels, t, v, n });
  }
  // promtool: block [first sample, last sample + 1), chunks cut with a chunk range of 2× the block.
  const w = await BlockWriter.create(o.sink(), symbols, {
    core: o.core,
    minTime: mint,
    maxTime: maxt + 1,
    chunkRange: 2 * d,
    thanos: o.labels && Object.keys(o.labels).length > 0 ? { labels: o.labels, downsample: { resolution: 0 }, source: 'bucket.upload' } : undefined,
  });
  try {
    for (const p of prepared) await w.addSeries(p.labels, p.t, p.v, p.n);
  } catch (e) {
    await w.abort();
    throw e;
  }
  return (await w.finish()).meta;
}

function fmt(ls: Labels): string {
  return '{' + ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ') + '}';
}
