// meta.json: the Prometheus part (ulid, time range, stats, compaction, version) and the Thanos
// section (external labels, downsample resolution, source, files, ...). Parsing is strict about
// types and lenient about unknown keys (kept on round-trip), like Go's encoding/json.
import { isULID } from './ulid.ts';

export interface BlockStats {
  numSamples?: number;
  numFloatSamples?: number;
  numHistogramSamples?: number;
  numSeries?: number;
  numChunks?: number;
  numTombstones?: number;
}

export interface BlockDesc { ulid: string; minTime: number; maxTime: number }

export interface BlockMetaCompaction {
  level: number;
  sources?: string[];
  deletable?: boolean;
  parents?: BlockDesc[];
  failed?: boolean;
  hints?: string[];
}

export interface ThanosFile {
  rel_path: string;
  size_bytes?: number;
  hash?: { hashFunc: string; value: string };
}

export interface ThanosMeta {
  version?: number;
  labels: Record<string, string>;
  downsample: { resolution: number };
  source?: string;
  segment_files?: string[];
  files?: ThanosFile[];
  rewrites?: unknown[];
  index_stats?: { series_max_size?: number; chunk_max_size?: number };
  extensions?: unknown;
  upload_time?: string;
  [k: string]: unknown;
}

export interface BlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  stats?: BlockStats;
  compaction: BlockMetaCompaction;
  version: number;
  thanos?: ThanosMeta;
  [k: string]: unknown;
}

export const META_FILENAME = 'meta.json';
export const RES_RAW = 0;
export const RES_5M = 300_000;
export const RES_1H = 3_600_000;

export class MetaError extends Error {
  constructor(public readonly block: string, public readonly field: string, detail: string, cause?: unknown) {
    super(`malformed meta.json of block ${block || '<unknown>'}: ${field ? field + ': ' : ''}${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'MetaError';
  }
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parses and validates meta.json. `block` names the block (directory) in errors. */
export function parseMeta(text: string | Uint8Array, block = ''): BlockMeta {
  const s = typeof text === 'string' ? text : new TextDecoder().decode(text);
  let raw: unknown;
  try {
    raw = JSON.parse(s);
  } catch (e) {
    throw new MetaError(block, '', `invalid JSON: ${(e as Error).message}`, e);
  }
  if (!isObj(raw)) throw new MetaError(block, '', 'top level is not a JSON object');
  const fail = (field: string, detail: string): never => { throw new MetaError(block, field, detail); };
  const int = (v: unknown, field: string, opt = false): number | undefined => {
    if (v === undefined && opt) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(field, `expected an integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const id = raw.ulid;
  if (typeof id !== 'string' || !isULID(id)) fail('ulid', `expected a ULID string, got ${JSON.stringify(id)}`);
  const minTime = int(raw.minTime, 'minTime')!;
  const maxTime = int(raw.maxTime, 'maxTime')!;
  if (maxTime < minTime) fail('maxTime', `maxTime ${maxTime} is before minTime ${minTime}`);
  const version = int(raw.version, 'version')!;
  if (version !== 1) fail('version', `unsupported meta version ${version}`);
  const meta: BlockMeta = { ...raw, ulid: id as string, minTime, maxTime, version, compaction: { level: 1 } };
  if (raw.stats !== undefined) {
    if (!isObj(raw.stats)) fail('stats', 'expected an object');
    const st = raw.stats as Record<string, unknown>;
    for (const k of Object.keys(st)) int(st[k], `stats.${k}`, true);
    meta.stats = st as BlockStats;
  }
  if (!isObj(raw.compaction)) fail('compaction', 'expected an object');
  const c = raw.compaction as Record<string, unknown>;
  const level = int(c.level, 'compaction.level')!;
  const comp: BlockMetaCompaction = { ...c, level };
  if (c.sources !== undefined) {
    if (!Array.isArray(c.sources) || !c.sources.every((x) => typeof x === 'string' && isULID(x))) fail('compaction.sources', 'expected an array of ULIDs');
    comp.sources = c.sources as string[];
  }
  if (c.parents !== undefined) {
    if (!Array.isArray(c.parents)) fail('compaction.parents', 'expected an array');
    (c.parents as unknown[]).forEach((p, i) => {
      if (!isObj(p) || typeof p.ulid !== 'string' || !isULID(p.ulid)) fail(`compaction.parents[${i}]`, 'expected {ulid,minTime,maxTime}');
      int((p as Record<string, unknown>).minTime, `compaction.parents[${i}].minTime`);
      int((p as Record<string, unknown>).maxTime, `compaction.parents[${i}].maxTime`);
    });
  }
  meta.compaction = comp;
  if (raw.thanos !== undefined && raw.thanos !== null) {
    if (!isObj(raw.thanos)) fail('thanos', 'expected an object');
    const t = raw.thanos as Record<string, unknown>;
    const labels = t.labels ?? {};
    if (!isObj(labels) || !Object.values(labels).every((v) => typeof v === 'string')) fail('thanos.labels', 'expected an object of strings');
    const ds = t.downsample ?? { resolution: 0 };
    if (!isObj(ds)) fail('thanos.downsample', 'expected an object');
    const resolution = int((ds as Record<string, unknown>).resolution ?? 0, 'thanos.downsample.resolution')!;
    if (resolution < 0) fail('thanos.downsample.resolution', 'negative resolution');
    if (t.source !== undefined && typeof t.source !== 'string') fail('thanos.source', 'expected a string');
    if (t.files !== undefined) {
      if (!Array.isArray(t.files)) fail('thanos.files', 'expected an array');
      (t.files as unknown[]).forEach((f, i) => {
        if (!isObj(f) || typeof f.rel_path !== 'string') fail(`thanos.files[${i}]`, 'expected {rel_path, size_bytes}');
        int((f as Record<string, unknown>).size_bytes, `thanos.files[${i}].size_bytes`, true);
      });
    }
    if (t.version !== undefined) int(t.version, 'thanos.version');
    meta.thanos = { ...t, labels: labels as Record<string, string>, downsample: { resolution } } as ThanosMeta;
  }
  return meta;
}

/** Serialises meta.json the way Prometheus/Thanos do (indented, omitting empty optional fields). */
export function formatMeta(m: BlockMeta): string {
  const out: Record<string, unknown> = { ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime };
  if (m.stats) {
    const st: Record<string, number> = {};
    for (const k of ['numSamples', 'numFloatSamples', 'numHistogramSamples', 'numSeries', 'numChunks', 'numTombstones'] as const) {
      const v = m.stats[k];
      if (v) st[k] = v;
    }
    out.stats = st;
  }
  const c: Record<string, unknown> = { level: m.compaction.level };
  if (m.compaction.sources?.length) c.sources = m.compaction.sources;
  if (m.compaction.deletable) c.deletable = true;
  if (m.compaction.parents?.length) c.parents = m.compaction.parents;
  if (m.compaction.failed) c.failed = true;
  if (m.compaction.hints?.length) c.hints = m.compaction.hints;
  out.compaction = c;
  out.version = m.version;
  for (const k of Object.keys(m)) {
    if (!(k in out) && k !== 'thanos' && k !== 'stats' && m[k] !== undefined) out[k] = m[k];
  }
  if (m.thanos) {
    const t = m.thanos;
    const th: Record<string, unknown> = {};
    if (t.version) th.version = t.version;
    th.labels = t.labels;
    th.downsample = { resolution: t.downsample.resolution };
    th.source = t.source ?? '';
    if (t.segment_files?.length) th.segment_files = t.segment_files;
    if (t.files?.length) th.files = t.files;
    for (const k of Object.keys(t)) if (!(k in th) && t[k] !== undefined) th[k] = t[k];
    out.thanos = th;
  }
  return JSON.stringify(out, null, '\t') + '\n';
}

/** Thanos: downsample resolution of a block (0 for Prometheus blocks without a thanos section). */
export function resolutionOf(m: BlockMeta): number {
  return m.thanos?.downsample.resolution ?? 0;
}
