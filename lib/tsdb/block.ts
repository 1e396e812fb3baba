// Opening a block: meta.json (a directory without it is partial and never read), index, chunk
// segments and optional tombstones, from a local directory, a Bucket or memory.
import { CorruptChunkError, type Core, type SampleBatch, type Samples } from '../core/types.ts';
import type { Bucket } from '../objstore/bucket.ts';
import { readAll } from '../objstore/bucket.ts';
import type { FsCapability } from '../sdk/mod.ts';
import type { Labels } from '../labels/mod.ts';
import { bucketSource, bytesSource, fsSource, windowedSource, type ByteSource } from './bytesource.ts';
import { ChunkReader, ENC_XOR, ENC_AGGR, ENC_HISTOGRAM, ENC_FLOAT_HISTOGRAM, segmentName, type RawChunk } from './chunks.ts';
import type { MixedSamples } from './histograms.ts';
import { fromChunkSample } from '../histogram/convert.ts';
import type { FloatHistogram } from '../histogram/float.ts';
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
  /**
   * select(): decode every series into the same two arrays, grown as needed, instead of new ones
   * per series: a yielded series' t and v are then only valid until the generator is resumed (for
   * consumers done with a series before asking for the next: downsampling). Fresh arrays per
   * series cost page faults and garbage collections by the hundred megabytes on a large block.
   */
  reuseBuffers?: boolean;
}

/** The arrays decodeSeriesChunks decodes into when given one (grown, never shrunk). */
export class SampleScratch {
  t = new Float64Array(0);
  v = new Float64Array(0);
  ensure(n: number): void {
    if (this.t.length >= n) return;
    const cap = Math.max(n, this.t.length * 2, 1024);
    this.t = new Float64Array(cap);
    this.v = new Float64Array(cap);
  }
}

/** A series with decoded samples inside [minTime, maxTime] (h: its histogram samples, see MixedSamples). */
export interface SeriesSamples extends MixedSamples {
  labels: Labels;
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
        chunks[i] = { ref: m.ref, minTime: m.minTime, maxTime: m.maxTime, encoding: r.encoding, data: r.data, crc: r.crc };
      }
      yield { labels: s.labels, ref: s.ref, chunks };
    }
  }

  /** Decoded samples (floats and histograms) of matching series inside [minTime, maxTime], tombstones applied. */
  async *select(matchers: readonly MatcherLike[], opts: SelectOptions = {}): AsyncGenerator<SeriesSamples> {
    const mint = opts.minTime ?? -Infinity;
    const maxt = opts.maxTime ?? Infinity;
    const honour = opts.honourTombstones !== false;
    const scratch = opts.reuseBuffers ? new SampleScratch() : undefined;
    for await (const s of this.selectChunks(matchers, opts)) {
      const stones = honour ? this.tombstones.get(s.ref) : undefined;
      const out = decodeSeriesChunks(this.core, s.chunks, mint, maxt, stones, this.files.name, scratch);
      if (out.n > 0) yield { labels: s.labels, ...out };
    }
  }
}

function chunkError(block: string, c: ChunkMeta, message: string, cause?: unknown): never {
  throw new CorruptBlockError(block, `chunks/${segmentName(Math.floor(c.ref / 4294967296))}`, `chunk ${c.ref}`, message, cause);
}

/**
 * Decodes the chunks of one series (XOR, histogram and float-histogram chunks) into one sample
 * array, clipped to [mint, maxt] and with tombstones applied. Overlapping chunks are ordered by
 * time, keeping the first sample (in chunk order) of each timestamp. With scratch, float-only
 * series that do not overlap are decoded into its arrays (valid until its next use).
 */
export function decodeSeriesChunks(core: Core, chunks: ReadonlyArray<ChunkMeta & RawChunk>, mint: number, maxt: number, stones: readonly Interval[] | undefined, block = '', scratch?: SampleScratch): MixedSamples {
  let overlapping = false;
  for (let i = 1; i < chunks.length; i++) if (chunks[i]!.minTime <= chunks[i - 1]!.maxTime) overlapping = true;
  let histograms = false;
  const data: Uint8Array[] = new Array(chunks.length);
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (c.encoding !== ENC_XOR) {
      if (c.encoding === ENC_HISTOGRAM || c.encoding === ENC_FLOAT_HISTOGRAM) histograms = true;
      else if (c.encoding === ENC_AGGR) chunkError(block, c, 'downsampled AggrChunk (encoding 0xff) cannot be read as raw samples; use aggrchunk.ts');
      else chunkError(block, c, `unsupported chunk encoding ${c.encoding}`);
    }
    data[i] = c.data;
  }
  if (histograms) return decodeMixedChunks(core, chunks, mint, maxt, stones, overlapping, block);
  // One batch call for the series' chunks; its arena is read (and copied from) before any other core call.
  // Each chunk is decoded only up to its first sample after maxt: a chunk's samples increase, so
  // the rest would all be clipped below (a reader over the whole range passes Infinity: whole chunks).
  let b: SampleBatch;
  try {
    b = core.xorDecodeBatch(data, maxt);
  } catch (e) {
    chunkError(block, chunks[e instanceof CorruptChunkError && e.chunk !== undefined ? e.chunk : 0]!, (e as Error).message, e);
  }
  const bt = b.t;
  const bv = b.v;
  let t: Float64Array, v: Float64Array;
  if (scratch && !overlapping) {
    scratch.ensure(b.n);
    t = scratch.t;
    v = scratch.v;
  } else {
    t = new Float64Array(b.n);
    v = new Float64Array(b.n);
  }
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
  return orderByTime({ t, v, n });
}

/** Overlapping chunks' samples ordered by time, the first (in chunk order) of each timestamp kept. */
function orderByTime(s: MixedSamples): MixedSamples {
  const { t, v, n, h, intHist } = s;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => t[a]! - t[b]! || a - b);
  const ot = new Float64Array(n);
  const ov = new Float64Array(n);
  const oh: (FloatHistogram | undefined)[] | undefined = h ? new Array(n) : undefined;
  const oi = intHist ? new Uint8Array(n) : undefined;
  let m = 0;
  for (const i of idx) {
    if (m > 0 && ot[m - 1] === t[i]) continue;
    ot[m] = t[i]!;
    ov[m] = v[i]!;
    if (oh) oh[m] = h![i];
    if (oi) oi[m] = intHist![i]!;
    m++;
  }
  if (oh) oh.length = m;
  return oh ? { t: ot, v: ov, n: m, h: oh, intHist: oi } : { t: ot, v: ov, n: m };
}

/** decodeSeriesChunks for a series with histogram chunks: chunk by chunk, floats and histograms in one list. */
function decodeMixedChunks(core: Core, chunks: ReadonlyArray<ChunkMeta & RawChunk>, mint: number, maxt: number, stones: readonly Interval[] | undefined, overlapping: boolean, block: string): MixedSamples {
  const t: number[] = [];
  const v: number[] = [];
  const h: (FloatHistogram | undefined)[] = [];
  const ints: number[] = [];
  let lastT = -Infinity;
  const keep = (ti: number): boolean => {
    if (ti < mint || ti > maxt) return false;
    if (!overlapping && ti <= lastT) return false;
    if (stones && isDeleted(stones, ti)) return false;
    lastT = ti;
    return true;
  };
  for (const c of chunks) {
    try {
      if (c.encoding === ENC_XOR) {
        const s = core.xorDecode(c.data);
        for (let i = 0; i < s.n; i++) {
          if (!keep(s.t[i]!)) continue;
          t.push(s.t[i]!);
          v.push(s.v[i]!);
          h.push(undefined);
          ints.push(0);
        }
        continue;
      }
      const float = c.encoding === ENC_FLOAT_HISTOGRAM;
      const s = core.histogramDecode(c.data, float);
      for (let i = 0; i < s.n; i++) {
        if (!keep(s.t[i]!)) continue;
        t.push(s.t[i]!);
        v.push(0);
        h.push(fromChunkSample(s, i));
        ints.push(float ? 0 : 1);
      }
    } catch (e) {
      if (e instanceof CorruptBlockError) throw e;
      chunkError(block, c, (e as Error).message, e);
    }
  }
  const out: MixedSamples = { t: Float64Array.from(t), v: Float64Array.from(v), n: t.length, h, intHist: Uint8Array.from(ints) };
  return overlapping ? orderByTime(out) : out;
}
