// Grouping and planning, as Thanos's compactor does it: blocks are grouped by resolution and
// external labels ("<resolution>@<labels hash>"); inside a group the Prometheus TSDB leveled planner
// picks overlapping blocks first (vertical compaction), else the first time-aligned range (8h, 2d,
// 14d) that is full or ends at or before the start of the newest block that remains once the
// newest block (the one with the largest minTime) has been left out.
import type { BucketBlockMeta as BlockMeta } from '../tsdb/meta.ts';

export const HOUR = 3_600_000;
/**
 * Thanos's compaction ranges (cmd/thanos/compact.go, levels 0..4): 1h, 2h, 8h, 2d, 14d. The planner
 * looks at ranges[1:], so 2h Prometheus blocks become 8h, then 2d, then 14d blocks.
 */
export const DEFAULT_RANGES = [HOUR, 2 * HOUR, 8 * HOUR, 48 * HOUR, 14 * 24 * HOUR];

/** Downsampling thresholds on block duration (Thanos cmd/thanos/downsample.go). */
export const RES_LEVEL1_DOWNSAMPLE_RANGE = 40 * HOUR;
export const RES_LEVEL2_DOWNSAMPLE_RANGE = 10 * 24 * HOUR;

/** Canonical labels string: {a="1",b="2"} sorted by name. */
export function labelsString(labels: Record<string, string>): string {
  return '{' + Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',') + '}';
}

/** FNV-1a 64 over the canonical label string, printed as a decimal like Thanos's labels hash. */
export function labelsHash(labels: Record<string, string>): string {
  let h = 0xcbf29ce484222325n;
  const p = 0x100000001b3n;
  for (const b of new TextEncoder().encode(labelsString(labels))) {
    h ^= BigInt(b);
    h = (h * p) & 0xffffffffffffffffn;
  }
  return h.toString();
}

export function groupKey(m: BlockMeta, dropLabels: readonly string[] = []): string {
  return `${m.thanos.downsample.resolution}@${labelsHash(groupLabels(m, dropLabels))}`;
}

export function groupLabels(m: BlockMeta, dropLabels: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.thanos.labels)) if (!dropLabels.includes(k)) out[k] = v;
  return out;
}

export interface Group {
  key: string;
  labels: Record<string, string>;
  resolution: number;
  metas: BlockMeta[];
}

export function groupBlocks(metas: Iterable<BlockMeta>, dropLabels: readonly string[] = []): Group[] {
  const groups = new Map<string, Group>();
  for (const m of metas) {
    const key = groupKey(m, dropLabels);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, labels: groupLabels(m, dropLabels), resolution: m.thanos.downsample.resolution, metas: [] }));
    g.metas.push(m);
  }
  for (const g of groups.values()) g.metas.sort(byMinTime);
  return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function byMinTime(a: BlockMeta, b: BlockMeta): number {
  return a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : a.ulid > b.ulid ? 1 : 0);
}

/** Sets of blocks whose time ranges overlap ([minTime, maxTime) half-open), each sorted by minTime. */
export function findOverlaps(metas: readonly BlockMeta[]): BlockMeta[][] {
  const ds = [...metas].sort(byMinTime);
  const out: BlockMeta[][] = [];
  let cur: BlockMeta[] = [];
  let maxT = -Infinity;
  for (const m of ds) {
    if (cur.length && m.minTime < maxT) cur.push(m);
    else {
      if (cur.length > 1) out.push(cur);
      cur = [m];
    }
    maxT = cur.length === 1 ? m.maxTime : Math.max(maxT, m.maxTime);
  }
  if (cur.length > 1) out.push(cur);
  return out;
}

/** Prometheus selectOverlappingDirs: the first run of overlapping blocks. */
function selectOverlapping(ds: readonly BlockMeta[]): BlockMeta[] {
  if (ds.length < 2) return [];
  const out: BlockMeta[] = [];
  let globalMaxt = ds[0]!.maxTime;
  for (let i = 1; i < ds.length; i++) {
    const d = ds[i]!;
    if (d.minTime < globalMaxt) {
      if (out.length === 0) out.push(ds[i - 1]!);
      out.push(d);
    } else if (out.length > 0) break;
    if (d.maxTime > globalMaxt) globalMaxt = d.maxTime;
  }
  return out;
}

/** Prometheus splitByRange: consecutive blocks falling into the same aligned range of size tr. */
export function splitByRange(ds: readonly BlockMeta[], tr: number): BlockMeta[][] {
  const out: BlockMeta[][] = [];
  for (let i = 0; i < ds.length; ) {
    const m = ds[i]!;
    const t0 = m.minTime >= 0 ? tr * Math.floor(m.minTime / tr) : tr * Math.trunc((m.minTime - tr + 1) / tr);
    if (m.maxTime > t0 + tr) {
      i++;
      continue;
    }
    const group: BlockMeta[] = [];
    for (; i < ds.length; i++) {
      if (ds[i]!.maxTime > t0 + tr) break;
      group.push(ds[i]!);
    }
    if (group.length) out.push(group);
  }
  return out;
}

export interface Plan {
  kind: 'vertical' | 'horizontal';
  blocks: BlockMeta[];
}

/**
 * Plans one compaction in a group, as Thanos's tsdbBasedPlanner does (Prometheus's
 * LeveledCompactor.plan plus no-compact marks):
 *  1. Overlapping blocks (ignoring those marked no-compact) first: a vertical plan.
 *  2. Otherwise the block with the largest minTime is left out (a block of its size may still
 *     arrive for the same range), and `highTime` is the minTime of the newest block that remains.
 *     Ranges are tried from ranges[1] up; within each, the first aligned run of >1 blocks with no
 *     failed compaction that either spans the whole range or ends at or before `highTime` is
 *     chosen. Blocks marked no-compact stay in the ranges' arithmetic but are cut out of the run
 *     without leaving a gap: only a sub-run of >1 blocks between two marked ones is compacted.
 * The "big block with many tombstones" rule does not apply: we never write tombstones.
 * Returns undefined when there is nothing to do.
 */
export function planGroup(metas: readonly BlockMeta[], ranges: readonly number[] = DEFAULT_RANGES, noCompact: ReadonlySet<string> = new Set()): Plan | undefined {
  const ds = [...metas].sort(byMinTime);
  if (ds.length === 0) return undefined;
  const ov = selectOverlapping(ds.filter((m) => !noCompact.has(m.ulid)));
  if (ov.length) return { kind: 'vertical', blocks: ov };
  // Leave the newest block out (no-compact marked or not, as Thanos does).
  const blocks = selectRanges(ds.slice(0, -1), ranges, noCompact);
  return blocks ? { kind: 'horizontal', blocks } : undefined;
}

/** Thanos selectMetas / Prometheus selectDirs over blocks sorted by minTime (the newest already left out). */
function selectRanges(ds: readonly BlockMeta[], ranges: readonly number[], noCompact: ReadonlySet<string>): BlockMeta[] | undefined {
  if (ranges.length < 2 || ds.length < 1) return undefined;
  const highTime = ds[ds.length - 1]!.minTime;
  for (const iv of ranges.slice(1)) {
    for (const p of splitByRange(ds, iv)) {
      if (p.some((m) => m.compaction.failed === true)) continue;
      if (p.length < 2) continue;
      const mint = p[0]!.minTime;
      const maxt = p[p.length - 1]!.maxTime;
      // Only a full range, or one that ends before the newest remaining block starts: otherwise
      // a block of the same size may still land in it and the output would be rewritten.
      if (maxt - mint !== iv && maxt > highTime) continue;
      let lastExcluded = 0;
      for (let i = 0; i < p.length; i++) {
        if (!noCompact.has(p[i]!.ulid)) continue;
        if (i - lastExcluded > 1) return p.slice(lastExcluded, i);
        lastExcluded = i + 1;
      }
      if (p.length - lastExcluded > 1) return p.slice(lastExcluded);
    }
  }
  return undefined;
}
