// Shared helpers for the compactor and bucket-tools suites: a filesystem bucket in a temp dir,
// deterministic blocks written with lib/tsdb and uploaded meta.json last.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { BlockWriter, memBlockSink, uploadBlockFiles, ulid, type BlockMeta } from '../../lib/tsdb/mod.ts';
import { labelsFromRecord, type Labels } from '../../lib/labels/mod.ts';
import { FilesystemBucket } from '../../plugins/objstore/filesystem/mod.ts';
import { freePort } from '../harness/ports.ts';
export { freePort };

export const fs = nodeFs();
export const core = createJsCore();
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `compact-${prefix}-`));
}

export function fsBucket(dir = tmp('bucket')): FilesystemBucket {
  return new FilesystemBucket(fs, dir);
}

/** A start time aligned to 14d, far enough in the past that every test block is "old". */
export function alignedStart(daysAgo = 60): number {
  const r = 14 * DAY;
  return Math.floor((Date.now() - daysAgo * DAY) / r) * r;
}

export interface SeriesSpec { labels: Record<string, string>; step: number; value: (t: number) => number; offset?: number }

export const SERIES: SeriesSpec[] = [
  { labels: { __name__: 'up', job: 'api', instance: 'a' }, step: 30_000, value: () => 1 },
  { labels: { __name__: 'requests_total', job: 'api', instance: 'a' }, step: 15_000, value: (t) => Math.floor(t / 15_000) % 5000 },
  { labels: { __name__: 'temp', room: 'kitchen' }, step: 60_000, value: (t) => Math.round(Math.sin(t / 3.6e6) * 1000) / 10, offset: 7_000 },
];

export function samplesOf(s: SeriesSpec, minTime: number, maxTime: number): { t: number[]; v: number[] } {
  const t: number[] = [], v: number[] = [];
  const off = s.offset ?? 0;
  for (let x = Math.ceil((minTime - off) / s.step) * s.step + off; x < maxTime; x += s.step) {
    if (x < minTime) continue;
    t.push(x);
    v.push(s.value(x));
  }
  return { t, v };
}

function sortedSeries(specs: SeriesSpec[]): { ls: Labels; s: SeriesSpec }[] {
  const out = specs.map((s) => ({ ls: labelsFromRecord(s.labels), s }));
  out.sort((a, b) => {
    const n = Math.min(a.ls.length, b.ls.length);
    for (let i = 0; i < n; i++) {
      const x = a.ls[i]!, y = b.ls[i]!;
      if (x.name !== y.name) return x.name < y.name ? -1 : 1;
      if (x.value !== y.value) return x.value < y.value ? -1 : 1;
    }
    return a.ls.length - b.ls.length;
  });
  return out;
}

/** Writes a block of the given series over [minTime, maxTime) and uploads it (meta.json last). */
export async function putBlock(bucket: FilesystemBucket, o: { minTime: number; maxTime: number; ext: Record<string, string>; series?: SeriesSpec[]; ulidTime?: number; resolution?: number }): Promise<BlockMeta> {
  const specs = sortedSeries(o.series ?? SERIES);
  const symbols = new Set<string>();
  for (const { ls } of specs) for (const l of ls) { symbols.add(l.name); symbols.add(l.value); }
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, symbols, {
    core, minTime: o.minTime, maxTime: o.maxTime, ulid: ulid(o.ulidTime ?? o.maxTime),
    thanos: { labels: o.ext, downsample: { resolution: o.resolution ?? 0 }, source: 'sidecar' },
  });
  for (const { ls, s } of specs) {
    const { t, v } = samplesOf(s, o.minTime, o.maxTime);
    if (t.length) await w.addSeries(ls, Float64Array.from(t), Float64Array.from(v));
  }
  await w.finish();
  return uploadBlockFiles(bucket, sink.files);
}

export async function objects(bucket: FilesystemBucket): Promise<string[]> {
  const out: string[] = [];
  for await (const n of bucket.iter('', { recursive: true })) out.push(n);
  return out.sort();
}

/** Writes a FILESYSTEM objstore config for `dir` and returns its path. */
export function bucketConfigFile(dir: string): string {
  const { writeFileSync } = require_fs();
  const f = join(tmp('cfg'), 'bucket.yaml');
  writeFileSync(f, `type: FILESYSTEM\nconfig:\n  directory: ${JSON.stringify(dir)}\n`);
  return f;
}

import * as nodeFsSync from 'node:fs';
function require_fs() {
  return nodeFsSync;
}
