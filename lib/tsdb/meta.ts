// meta.json: the Prometheus part (ulid, time range, stats, compaction, version) and the Thanos
// section (external labels, downsample resolution, source, files, ...). Parsing is strict about
// types and lenient about unknown keys (kept on round-trip), like Go's encoding/json.
// parseBucketMeta is the bucket readers' (meta fetcher, compactor, store gateway) lenient variant:
// defaults filled, the Thanos section always present, the JSON object as read kept.
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

/**
 * A BlockMeta as read from a bucket (parseBucketMeta): the same type with the Thanos section and
 * compaction sources always present (defaults filled) and the JSON object as read (served as is by
 * the block APIs).
 */
export interface BucketBlockMeta extends BlockMeta {
  compaction: BlockMetaCompaction & { sources: string[] };
  thanos: ThanosMeta;
  /** The JSON object as read (for the HTTP APIs). */
  raw: Record<string, unknown>;
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
  /** A MetaError with a message as given (parseBucketMeta's wording: "block <id>: <message>"). */
  static of(block: string, message: string): MetaError {
    const e = new MetaError(block, '', '');
    e.message = `block ${block}: ${message}`;
    return e;
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

function num(v: unknown, id: string, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw MetaError.of(id, `meta.json: ${field} must be a number`);
  return v;
}

/**
 * Parses meta.json bytes (or an already-parsed object) as the bucket readers do: lenient (version,
 * compaction and thanos may be missing; defaults filled), strict about the fields they rely on.
 * Throws MetaError naming the field; `expectId` (the block's directory) must match the ulid.
 */
export function parseBucketMeta(input: Uint8Array | string | unknown, expectId?: string): BucketBlockMeta {
  const id = expectId ?? '?';
  let obj: unknown = input;
  if (input instanceof Uint8Array || typeof input === 'string') {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw MetaError.of(id, `meta.json is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw MetaError.of(id, 'meta.json is not an object');
  const o = obj as Record<string, unknown>;
  const ulid = o.ulid;
  if (typeof ulid !== 'string' || !isULID(ulid)) throw MetaError.of(id, `meta.json: ulid ${JSON.stringify(ulid)} is not a ULID`);
  if (expectId !== undefined && ulid !== expectId) throw MetaError.of(id, `meta.json: ulid ${ulid} does not match its directory`);
  const version = o.version === undefined ? 1 : num(o.version, ulid, 'version');
  if (version !== 1) throw MetaError.of(ulid, `meta.json: unsupported version ${version}`);
  const minTime = num(o.minTime, ulid, 'minTime');
  const maxTime = num(o.maxTime, ulid, 'maxTime');
  const comp = (o.compaction ?? {}) as Record<string, unknown>;
  if (typeof comp !== 'object') throw MetaError.of(ulid, 'meta.json: compaction must be an object');
  const sources = Array.isArray(comp.sources) ? (comp.sources as unknown[]).filter((s): s is string => typeof s === 'string') : [ulid];
  const level = comp.level === undefined ? 1 : num(comp.level, ulid, 'compaction.level');
  const th = (o.thanos ?? {}) as Record<string, unknown>;
  if (typeof th !== 'object' || Array.isArray(th)) throw MetaError.of(ulid, 'meta.json: thanos must be an object');
  const labelsIn = (th.labels ?? {}) as Record<string, unknown>;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsIn)) {
    if (typeof v !== 'string') throw MetaError.of(ulid, `meta.json: thanos.labels.${k} must be a string`);
    labels[k] = v;
  }
  const ds = (th.downsample ?? {}) as Record<string, unknown>;
  const resolution = ds.resolution === undefined ? 0 : num(ds.resolution, ulid, 'thanos.downsample.resolution');
  return {
    ulid,
    minTime,
    maxTime,
    stats: (o.stats ?? undefined) as BlockMeta['stats'],
    compaction: { ...comp, level, sources: sources.length ? sources : [ulid] },
    version,
    thanos: { ...th, labels, downsample: { resolution } } as ThanosMeta,
    raw: o,
  };
}
