// Block metadata as the store gateway and the compactor see it: meta.json (Prometheus part plus the
// `thanos` section) parsed leniently for unknown fields, strictly for the ones we rely on.

export const RES_RAW = 0;
export const RES_5M = 300_000;
export const RES_1H = 3_600_000;

export interface BlockMetaThanos {
  version?: number;
  labels: Record<string, string>;
  downsample: { resolution: number };
  source?: string;
  files?: Array<{ rel_path: string; size_bytes?: number }>;
  upload_time?: string;
  [k: string]: unknown;
}

export interface BlockMeta {
  ulid: string;
  minTime: number;
  /** Exclusive. */
  maxTime: number;
  stats?: { numSamples?: number; numSeries?: number; numChunks?: number; [k: string]: unknown };
  compaction: { level: number; sources: string[]; parents?: Array<{ ulid: string; minTime: number; maxTime: number }>; [k: string]: unknown };
  version: number;
  thanos: BlockMetaThanos;
  /** The JSON object as read (for the HTTP API). */
  raw: Record<string, unknown>;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

export function isULID(s: string): boolean {
  return ULID_RE.test(s);
}

/** Milliseconds encoded in a ULID's first 10 characters. */
export function ulidTime(id: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + CROCKFORD.indexOf(id[i]!);
  return t;
}

/** A new ULID (time + random), for tests and writers. */
export function newULID(timeMs = Date.now(), rand: () => number = Math.random): string {
  let s = '';
  let t = timeMs;
  for (let i = 9; i >= 0; i--) {
    s = CROCKFORD[t % 32]! + s;
    t = Math.floor(t / 32);
  }
  for (let i = 0; i < 16; i++) s += CROCKFORD[Math.floor(rand() * 32)]!;
  return s;
}

export class MetaError extends Error {
  constructor(public readonly blockId: string, message: string) {
    super(`block ${blockId}: ${message}`);
    this.name = 'MetaError';
  }
}

function num(v: unknown, id: string, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new MetaError(id, `meta.json: ${field} must be a number`);
  return v;
}

/** Parses meta.json bytes (or an already-parsed object). Throws MetaError naming the field. */
export function parseBlockMeta(input: Uint8Array | string | unknown, expectId?: string): BlockMeta {
  const id = expectId ?? '?';
  let obj: unknown = input;
  if (input instanceof Uint8Array || typeof input === 'string') {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new MetaError(id, `meta.json is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new MetaError(id, 'meta.json is not an object');
  const o = obj as Record<string, unknown>;
  const ulid = o.ulid;
  if (typeof ulid !== 'string' || !isULID(ulid)) throw new MetaError(id, `meta.json: ulid ${JSON.stringify(ulid)} is not a ULID`);
  if (expectId !== undefined && ulid !== expectId) throw new MetaError(id, `meta.json: ulid ${ulid} does not match its directory`);
  const version = o.version === undefined ? 1 : num(o.version, ulid, 'version');
  if (version !== 1) throw new MetaError(ulid, `meta.json: unsupported version ${version}`);
  const minTime = num(o.minTime, ulid, 'minTime');
  const maxTime = num(o.maxTime, ulid, 'maxTime');
  const comp = (o.compaction ?? {}) as Record<string, unknown>;
  if (typeof comp !== 'object') throw new MetaError(ulid, 'meta.json: compaction must be an object');
  const sources = Array.isArray(comp.sources) ? (comp.sources as unknown[]).filter((s): s is string => typeof s === 'string') : [ulid];
  const level = comp.level === undefined ? 1 : num(comp.level, ulid, 'compaction.level');
  const th = (o.thanos ?? {}) as Record<string, unknown>;
  if (typeof th !== 'object' || Array.isArray(th)) throw new MetaError(ulid, 'meta.json: thanos must be an object');
  const labelsIn = (th.labels ?? {}) as Record<string, unknown>;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsIn)) {
    if (typeof v !== 'string') throw new MetaError(ulid, `meta.json: thanos.labels.${k} must be a string`);
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
    thanos: { ...th, labels, downsample: { resolution } } as BlockMetaThanos,
    raw: o,
  };
}

export interface DeletionMark {
  id: string;
  version: number;
  details?: string;
  /** Unix seconds. */
  deletion_time: number;
}

export function parseDeletionMark(bytes: Uint8Array, id: string): DeletionMark {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw new MetaError(id, `deletion-mark.json is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof o.deletion_time !== 'number') throw new MetaError(id, 'deletion-mark.json: deletion_time must be a number');
  return { id: String(o.id ?? id), version: Number(o.version ?? 1), details: typeof o.details === 'string' ? o.details : undefined, deletion_time: o.deletion_time };
}
