// Opening a block: meta.json (a directory without it is partial and never read), index, chunk
// segments and optional tombstones, from a local directory, a Bucket or memory.
import { CorruptChunkError, type Core, type SampleBatch, type Samples } from '../core/types.ts';
import type { Bucket } from '../objstore/bucket.ts';
import { readAll } from '../objstore/bucket.ts';
import type { FsCapability } from '../sdk/mod.ts';
import type { Labels } from '../labels/mod.ts';
import { bucketSource, bytesSource, fsSource, windowedSource, type ByteSource } from './bytesource.ts';
import { ChunkReader, ENC_XOR, ENC_AGGR, segmentName, type RawChunk } from './chunks.ts';
import { PartialBlockError, CorruptBlockError } from './errors.ts';
import { IndexReader, corrupt, type ChunkMeta, type MatcherLike } from './index.ts';
import { parseMeta, META_FILENAME, type BlockMeta } from './meta.ts';
import { parseTombstones, isDeleted, type Tombstones, type Interval } from './tombstones.ts';
import { loadIndexHeaderReader } from './indexheader.ts';

/** The files of one block, wherever they live. Paths are relative to the block directory. */
export interface BlockFiles {
  /** Block id or path, used in error messages. */
  readonly name: string;
  /** A ranged reader of a file; knownSize (e.g. from meta.json thanos.files) saves a stat/HEAD. */
  source(rel: string, knownSize?: number): Promise<ByteSource>;
  exists(rel: string): Promise<boolean>;
  readFile(rel: string): Promise<Uint8Array>;
  /** Segment file names under chunks/, sorted; undefined when listing is not possible. */
  listChunks?(): Promise<string[]>;
}

function join(dir: string, rel: string): string {
  return dir.endsWith('/') ? dir + rel : `${dir}/${rel}`;
}

export function fsBlockFiles(fs: FsCapability, dir: string): BlockFiles {
  return {
    name: dir,
    source: async (rel, size) => fsSource(fs, join(dir, rel), size),
    exists: (rel) => fs.exists(join(dir, rel)),
    readFile: (rel) => fs.readFile(join(dir, rel)),
    listChunks: async () => (await fs.exists(join(dir, 'chunks'))) ? (await fs.readDir(join(dir, 'chunks'))).filter((f) => f.isFile && /^\d{6}$/.test(f.name)).map((f) => f.name).sort() : [],
  };
}

/** A block in a bucket under `<id>/` (or any prefix). Reads are ranged GETs. */
export function bucketBlockFiles(bucket: Bucket, id: string): BlockFiles {
  const p = id.endsWith('/') ? id : id + '/';
  return {
    name: id.replace(/\/$/, ''),
    source: async (rel, size) => bucketSource(bucket, p + rel, size),
    exists: (rel) => bucket.exists(p + rel),
    readFile: async (rel) => readAll(await bucket.get(p + rel)),
    listChunks: async () => {
      const out: string[] = [];
      for await (const n of bucket.iter(p + 'chunks/')) {
        const base = n.slice(n.lastIndexOf('/') + 1);
        if (/^\d{6}$/.test(base)) out.push(base);
      }
      return out.sort();
    },
  };
}

export function memBlockFiles(files: Map<string, Uint8Array>, name = '<memory>'): BlockFiles {
  const get = (rel: string) => {
    const b = files.get(rel);
    if (!b) throw Object.assign(new Error(`${name}/${rel}: no such file`), { code: 'ENOENT' });
    return b;
  };
  return {
    name,
    source: async (rel) => bytesSource(get(rel), `${name}/${rel}`),
    exists: async (rel) => files.has(rel),
    readFile: async (rel) => get(rel),
    listChunks: async () => [...files.keys()].filter((k) => /^chunks\/\d{6}$/.test(k)).map((k) => k.slice(7)).sort(),
  };
}

export interface BlockOpenOptions {
  core: Core;
  /** Read-ahead window for chunk segments (bytes; 0 = off). Default 4 MiB for local, 0 is good for buckets. */
  chunkWindow?: number;
  /** Read the whole index into memory first (fast for local files). Default false. */
  loadIndex?: boolean;
  /** Load the tombstones file if present (default true). */
  tombstones?: boolean;
  /**
   * Use a Thanos index-header instead of reading the index's symbol and postings tables: built
   * with ranged reads on first use and kept at `<dir>/index-header` when fs and dir are given.
   */
  indexHeader?: { fs?: FsCapability; dir?: string; sampling?: number };
  /** Trust sizes in meta.json thanos.files (saves a HEAD/stat per file). Default true. */
  useMetaFileSizes?: boolean;
}

export interface SeriesChunks {
  labels: Labels;
  ref: number;
  chunks: Array<ChunkMeta & RawChunk>;
}

export interface SelectOptions {
  minTime?: number;
  maxTime?: number;
  /** Drop samples deleted by tombstones (default true). */
  honourTombstones?: boolean;
}

/** A series with decoded float samples inside [minTime, maxTime]. */
export interface SeriesSamples {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  n: number;
}

export class BlockReader {
  private constructor(
    readonly files: BlockFiles,
    readonly meta: BlockMeta,
    readonly index: IndexReader,
    readonly chunkReader: ChunkReader,
    readonly tombstones: Tombstones,
    private core: Core,
  ) {}

  get id(): string {
    return this.meta.ulid;
  }

  static async open(files: BlockFiles, opts: BlockOpenOptions): Promise<BlockReader> {
    const block = files.name;
    let metaBytes: Uint8Array;
    if (!(await files.exists(META_FILENAME))) throw new PartialBlockError(block);
    try {
      metaBytes = await files.readFile(META_FILENAME);
    } catch (e) {
      throw new PartialBlockError(block);
    }
    const meta = parseMeta(metaBytes, block);
    const sizes = new Map<string, number>();
    if (opts.useMetaFileSizes !== false) for (const f of meta.thanos?.files ?? []) if (typeof f.size_bytes === 'number') sizes.set(f.rel_path, f.size_bytes);
    let indexSrc: ByteSource;
    if (!sizes.has('index') && !(await files.exists('index'))) corrupt(block, 'index', 'file', 'missing');
    indexSrc = await files.source('index', sizes.get('index'));
    if (opts.loadIndex) indexSrc = bytesSource(await files.readFile('index'), `${block}/index`);
    const index = opts.indexHeader
      ? await loadIndexHeaderReader({ core: opts.core, index: indexSrc, fs: opts.indexHeader.fs, dir: opts.indexHeader.dir, sampling: opts.indexHeader.sampling, block })
      : await IndexReader.open(indexSrc, { core: opts.core, block, file: 'index' });
    const window = opts.chunkWindow ?? 4 << 20;
    let segCount: number | undefined;
    const metaSegs = [...sizes.keys()].filter((k) => /^chunks\/\d{6}$/.test(k)).sort();
    if (metaSegs.length > 0) {
      metaSegs.forEach((n, i) => {
        if (n !== `chunks/${segmentName(i)}`) corrupt(block, META_FILENAME, 'thanos.files', `unexpected segment ${n}, want chunks/${segmentName(i)}`);
      });
      segCount = metaSegs.length;
    } else if (files.listChunks) {
      const names = await files.listChunks();
      names.forEach((n, i) => {
        if (n !== segmentName(i)) corrupt(block, `chunks/${n}`, 'segment', `unexpected segment name, want chunks/${segmentName(i)}`);
      });
      segCount = names.length;
    }
    const cr = new ChunkReader(async (seg) => {
      const s = await files.source(`chunks/${seg}`, sizes.get(`chunks/${seg}`));
      return window > 0 ? windowedSource(s, window) : s;
    }, block, segCount);
    let ts: Tombstones = new Map();
    if (opts.tombstones !== false && (await files.exists('tombstones'))) ts = parseTombstones(await files.readFile('tombstones'), block);
    return new BlockReader(files, meta, index, cr, ts, opts.core);
  }

  /** Series refs matching the matchers (sorted = label order). */
  postings(matchers: readonly MatcherLike[]): Promise<Uint32Array> {
    return this.index.postingsForMatchers(matchers);
  }

  /** Raw chunk bytes by ref, no decoding. */
  chunk(ref: number): Promise<RawChunk> {
    return this.chunkReader.chunk(ref);
  }

  /**
   * Series matching the matchers, in label order, with their chunks overlapping [minTime, maxTime]
   * (raw bytes; a chunk is returned whole, so it can hold samples outside the range).
   */
  async *selectChunks(matchers: readonly MatcherLike[], opts: SelectOptions = {}): AsyncGenerator<SeriesChunks> {
    const mint = opts.minTime ?? -Infinity;
    const maxt = opts.maxTime ?? Infinity;
    const refs = await this.postings(matchers);
    for await (const s of this.index.seriesMany(refs)) {
      const metas = s.chunks.filter((c) => c.maxTime >= mint && c.minTime <= maxt);
      if (metas.length === 0) continue;
      const raws = await this.chunkReader.chunks(metas.map((c) => c.ref));
      // explicit literals, not spreads: one object shape, built without a property-copy loop
      const chunks: Array<ChunkMeta & RawChunk> = new Array(metas.length);
      for (let i = 0; i < metas.length; i++) {
        const m = metas[i]!;
        const r = raws[i]!;
        chunks[i] = { ref: m.ref, minTime: m.minTime, maxTime: m.maxTime, encoding: r.encoding, data: r.data };
      }
      yield { labels: s.labels, ref: s.ref, chunks };
    }
  }

  /** Decoded float samples of matching series inside [minTime, maxTime], tombstones applied. */
  async *select(matchers: readonly MatcherLike[], opts: SelectOptions = {}): AsyncGenerator<SeriesSamples> {
    const mint = opts.minTime ?? -Infinity;
    const maxt = opts.maxTime ?? Infinity;
    const honour = opts.honourTombstones !== false;
    for await (const s of this.selectChunks(matchers, opts)) {
      const stones = honour ? this.tombstones.get(s.ref) : undefined;
      const out = decodeSeriesChunks(this.core, s.chunks, mint, maxt, stones, this.files.name);
      if (out.n > 0) yield { labels: s.labels, ...out };
    }
  }
}

/** Decodes XOR chunks of one series into one sample array, clipped and with tombstones applied. */
export function decodeSeriesChunks(core: Core, chunks: ReadonlyArray<ChunkMeta & RawChunk>, mint: number, maxt: number, stones: readonly Interval[] | undefined, block = ''): Samples {
  let overlapping = false;
  for (let i = 1; i < chunks.length; i++) if (chunks[i]!.minTime <= chunks[i - 1]!.maxTime) overlapping = true;
  const data: Uint8Array[] = new Array(chunks.length);
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (c.encoding !== ENC_XOR) {
      if (c.encoding === ENC_AGGR) throw new CorruptBlockError(block, `chunks/${segmentName(Math.floor(c.ref / 4294967296))}`, `chunk ${c.ref}`, 'downsampled AggrChunk (encoding 0xff) cannot be read as raw samples; use aggrchunk.ts');
      throw new CorruptBlockError(block, `chunks/${segmentName(Math.floor(c.ref / 4294967296))}`, `chunk ${c.ref}`, `unsupported chunk encoding ${c.encoding}`);
    }
    data[i] = c.data;
  }
  // One batch call for the series' chunks; its arena is read (and copied from) before any other core call.
  let b: SampleBatch;
  try {
    b = core.xorDecodeBatch(data);
  } catch (e) {
    const c = chunks[e instanceof CorruptChunkError && e.chunk !== undefined ? e.chunk : 0]!;
    throw new CorruptBlockError(block, `chunks/${segmentName(Math.floor(c.ref / 4294967296))}`, `chunk ${c.ref}`, (e as Error).message, e);
  }
  const bt = b.t;
  const bv = b.v;
  const t = new Float64Array(b.n);
  const v = new Float64Array(b.n);
  let n = 0;
  let lastT = -Infinity;
  for (let i = 0; i < b.n; i++) {
    const ti = bt[i]!;
    if (ti < mint || ti > maxt) continue;
    if (!overlapping && ti <= lastT) continue;
    if (stones && isDeleted(stones, ti)) continue;
    t[n] = ti;
    v[n] = bv[i]!;
    n++;
    lastT = ti;
  }
  if (!overlapping) return { t, v, n };
  // Overlapping chunks (e.g. out-of-order or vertically merged data): order by time, keeping the
  // first sample (in chunk order) of each timestamp.
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => t[a]! - t[b]! || a - b);
  const ot = new Float64Array(n);
  const ov = new Float64Array(n);
  let m = 0;
  for (const i of idx) {
    if (m > 0 && ot[m - 1] === t[i]) continue;
    ot[m] = t[i]!;
    ov[m] = v[i]!;
    m++;
  }
  return { t: ot, v: ov, n: m };
}
