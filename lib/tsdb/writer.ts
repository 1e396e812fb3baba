// Streaming block writer: symbols first, then series in label order (each with its samples or
// ready-made chunks); memory is one series plus the symbol table (and the postings, 4 bytes per
// label of every series). Output: chunks/, index, meta.json written last by the sink's commit().
import type { Core } from '../core/types.ts';
import type { FsCapability } from '../sdk/mod.ts';
import type { Labels } from '../labels/mod.ts';
import { compareStrings } from '../labels/mod.ts';
import { ChunkWriter, ENC_XOR, ENC_FLOAT_HISTOGRAM, DEFAULT_SEGMENT_SIZE } from './chunks.ts';
import { encodeMixedChunks, type MixedSamples } from './histograms.ts';
import { BlockWriteError } from './errors.ts';
import { IndexWriter, type ChunkMeta, type FileSink } from './index.ts';
import { formatMeta, META_FILENAME, type BlockMeta, type ThanosMeta } from './meta.ts';
import { ulid as newUlid } from './ulid.ts';

export const DEFAULT_SAMPLES_PER_CHUNK = 120;
export const DEFAULT_BLOCK_DURATION = 2 * 60 * 60 * 1000;

/** Where a block's files go. commit() writes meta.json last and makes the block visible. */
export interface BlockSink {
  /** Called once with the block's ULID before any file is created. */
  begin?(ulid: string): Promise<void>;
  create(rel: string): Promise<FileSink>;
  /** Writes meta.json (last) and publishes the block; returns where it lives. */
  commit(meta: BlockMeta): Promise<string>;
  abort(): Promise<void>;
}

/** Prometheus rangeForTimestamp: end of the chunk range containing t (Go integer division). */
export function rangeForTimestamp(t: number, width: number): number {
  return Math.trunc(t / width) * width + width;
}

/** Prometheus computeChunkEndTime (2.42): spread the rest of the range over equally sized chunks. */
export function computeChunkEndTime(start: number, cur: number, max: number): number {
  const n = Math.trunc((max - start) / ((cur - start + 1) * 4));
  if (n <= 1) return max;
  return start + Math.trunc((max - start) / n);
}

/**
 * Where Prometheus 2.42's head appender would cut chunks for these (sorted) timestamps: returns the
 * start index of each chunk. At 1/4 of samplesPerChunk it predicts the chunk end; it cuts at that
 * time, at the chunk range boundary, or at 2×samplesPerChunk samples.
 */
export function cutPoints(t: ArrayLike<number>, n: number, chunkRange: number, samplesPerChunk = DEFAULT_SAMPLES_PER_CHUNK): number[] {
  if (n === 0) return [];
  const starts = [0];
  let minT = t[0]!;
  let maxT = minT;
  let nextAt = rangeForTimestamp(minT, chunkRange);
  let cnt = 1;
  const quarter = Math.trunc(samplesPerChunk / 4);
  for (let i = 1; i < n; i++) {
    const ti = t[i]!;
    if (cnt === quarter) nextAt = computeChunkEndTime(minT, maxT, nextAt);
    if (ti >= nextAt || cnt >= samplesPerChunk * 2) {
      starts.push(i);
      minT = ti;
      nextAt = rangeForTimestamp(ti, chunkRange);
      cnt = 0;
    }
    cnt++;
    maxT = ti;
  }
  return starts;
}

/**
 * Float samples cut the way Prometheus's head cuts them (cutPoints) and XOR-encoded in one batch
 * call; the bytes are copied out of the core's arena at once (callers use them after awaits).
 */
export function encodeXorRun(core: Core, t: Float64Array, v: Float64Array, n: number, chunkRange: number, samplesPerChunk?: number): ChunkInput[] {
  const starts = cutPoints(t, n, Math.max(chunkRange, 1), samplesPerChunk);
  const enc = core.xorEncodeBatch(t, v, starts, n);
  const off = enc.offset;
  const bytes = enc.bytes.slice(0, off[starts.length]!);
  const out: ChunkInput[] = [];
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k]!;
    const e = k + 1 < starts.length ? starts[k + 1]! : n;
    out.push({ minTime: t[s]!, maxTime: t[e - 1]!, encoding: ENC_XOR, data: bytes.subarray(off[k]!, off[k + 1]!), samples: e - s });
  }
  return out;
}

export interface BlockWriterOptions {
  core: Core;
  /** Block time range: minTime inclusive, maxTime exclusive (as in meta.json). */
  minTime: number;
  maxTime: number;
  ulid?: string;
  /** Chunk range used to cut chunks (Prometheus: the head's chunk range). Default maxTime-minTime rounded up to 2h. */
  chunkRange?: number;
  samplesPerChunk?: number;
  compaction?: BlockMeta['compaction'];
  /** Thanos section (labels, downsample resolution, source); files are filled in by the writer. */
  thanos?: Pick<ThanosMeta, 'labels' | 'downsample' | 'source'> & Partial<ThanosMeta>;
  segmentSize?: number;
}

export interface ChunkInput {
  minTime: number;
  maxTime: number;
  encoding: number;
  data: Uint8Array;
  /** Samples in the chunk (for stats; read from the XOR header when omitted). */
  samples?: number;
  /** CRC32-C of encoding byte and data when known (a chunk read and checked by ChunkReader, copied unchanged). */
  crc?: number;
}

export class BlockWriter {
  readonly ulid: string;
  private chunks: ChunkWriter;
  private index: IndexWriter;
  private stats = { numSamples: 0, numSeries: 0, numChunks: 0 };
  private dataMin = Infinity;
  private dataMax = -Infinity;
  private done = false;

  private constructor(private sink: BlockSink, indexSink: FileSink, private opts: BlockWriterOptions, id: string) {
    this.ulid = id;
    this.chunks = new ChunkWriter((name) => sink.create(`chunks/${name}`), opts.segmentSize ?? DEFAULT_SEGMENT_SIZE);
    this.index = new IndexWriter(indexSink);
  }

  /** Starts a block: symbols = every label name and value of every series to come. */
  static async create(sink: BlockSink, symbols: Iterable<string>, opts: BlockWriterOptions): Promise<BlockWriter> {
    if (!(opts.maxTime > opts.minTime)) throw new BlockWriteError(`block writer: maxTime ${opts.maxTime} must be after minTime ${opts.minTime}`);
    const id = opts.ulid ?? newUlid();
    await sink.begin?.(id);
    const indexSink = await sink.create('index');
    const w = new BlockWriter(sink, indexSink, opts, id);
    // Prometheus's head always has the all-postings key ("", "") among its symbols, so every
    // block it writes (and every compaction of those) carries the empty symbol: do the same.
    const set = new Set(symbols);
    set.add('');
    const sorted = [...set].sort(compareStrings);
    await w.index.addSymbols(sorted);
    return w;
  }

  private checkSamples(labels: Labels, t: Float64Array, n: number): void {
    for (let i = 1; i < n; i++) if (!(t[i]! > t[i - 1]!)) throw new BlockWriteError(`block writer: samples of ${fmtLabels(labels)} not strictly increasing at ${t[i]}`);
    if (n > 0 && (t[0]! < this.opts.minTime || t[n - 1]! >= this.opts.maxTime)) {
      throw new BlockWriteError(`block writer: samples of ${fmtLabels(labels)} outside block range [${this.opts.minTime}, ${this.opts.maxTime})`);
    }
  }

  private chunkRange(): number {
    return this.opts.chunkRange ?? Math.max(DEFAULT_BLOCK_DURATION, Math.ceil((this.opts.maxTime - this.opts.minTime) / DEFAULT_BLOCK_DURATION) * DEFAULT_BLOCK_DURATION);
  }

  /**
   * Adds a series from sorted samples that may hold native histograms (MixedSamples): float runs
   * cut as addSeries cuts them, histogram runs through the histogram chunk appender.
   */
  async addMixedSeries(labels: Labels, s: MixedSamples): Promise<void> {
    if (!s.h) return this.addSeries(labels, s.t, s.v, s.n);
    this.checkSamples(labels, s.t, s.n);
    const range = this.chunkRange();
    const core = this.opts.core;
    const chunks = encodeMixedChunks(core, s, (from, to) => encodeXorRun(core, s.t.subarray(from, to), s.v.subarray(from, to), to - from, range, this.opts.samplesPerChunk));
    await this.addSeriesChunks(labels, chunks);
  }

  /** Adds a series from sorted samples (t strictly increasing), cut into XOR chunks the Prometheus way. */
  async addSeries(labels: Labels, t: Float64Array, v: Float64Array, n = t.length): Promise<void> {
    this.checkSamples(labels, t, n);
    const range = this.chunkRange();
    const starts = cutPoints(t, n, range, this.opts.samplesPerChunk);
    const metas: ChunkMeta[] = [];
    // All chunks of the series in one batch call. Its result lives in the core's arena until the
    // next core call, and chunks.write() may await (a new segment) before copying: keep one copy.
    const enc = this.opts.core.xorEncodeBatch(t, v, starts, n);
    const off = enc.offset;
    const bytes = enc.bytes.slice(0, off[starts.length]!);
    for (let k = 0; k < starts.length; k++) {
      const s = starts[k]!;
      const e = k + 1 < starts.length ? starts[k + 1]! : n;
      const ref = await this.chunks.write(ENC_XOR, bytes.subarray(off[k]!, off[k + 1]!));
      metas.push({ ref, minTime: t[s]!, maxTime: t[e - 1]! });
    }
    if (n > 0) {
      this.dataMin = Math.min(this.dataMin, t[0]!);
      this.dataMax = Math.max(this.dataMax, t[n - 1]!);
    }
    this.stats.numSamples += n;
    await this.finishSeries(labels, metas);
  }

  /** Adds a series from ready-made chunks (merge, downsampling, AggrChunks), in time order. */
  async addSeriesChunks(labels: Labels, chunks: readonly ChunkInput[]): Promise<void> {
    const metas: ChunkMeta[] = [];
    for (const c of chunks) {
      const ref = await this.chunks.write(c.encoding, c.data, c.crc);
      metas.push({ ref, minTime: c.minTime, maxTime: c.maxTime });
      // XOR and histogram chunks alike start with their sample count (2 bytes, big endian)
      this.stats.numSamples += c.samples ?? (c.encoding >= ENC_XOR && c.encoding <= ENC_FLOAT_HISTOGRAM && c.data.length >= 2 ? (c.data[0]! << 8) | c.data[1]! : 0);
      this.dataMin = Math.min(this.dataMin, c.minTime);
      this.dataMax = Math.max(this.dataMax, c.maxTime);
    }
    await this.finishSeries(labels, metas);
  }

  private async finishSeries(labels: Labels, metas: ChunkMeta[]): Promise<void> {
    if (this.done) throw new BlockWriteError('block writer: already finished');
    if (metas.length === 0) return; // like Prometheus's compactor: series without chunks are dropped
    await this.index.addSeries(labels, metas);
    this.stats.numSeries++;
    this.stats.numChunks += metas.length;
  }

  /** Finishes index and chunks, writes meta.json last; returns the meta. */
  async finish(): Promise<{ meta: BlockMeta; location: string }> {
    if (this.done) throw new BlockWriteError('block writer: already finished');
    this.done = true;
    try {
      await this.chunks.close();
      await this.index.finish();
    } catch (e) {
      await this.sink.abort().catch(() => {});
      throw e;
    }
    const o = this.opts;
    const meta: BlockMeta = {
      ulid: this.ulid,
      minTime: o.minTime,
      maxTime: o.maxTime,
      stats: { ...this.stats },
      compaction: o.compaction ?? { level: 1, sources: [this.ulid] },
      version: 1,
    };
    if (o.thanos) {
      const files = [
        ...this.chunks.segmentSizes.map((size, i) => ({ rel_path: `chunks/${String(i + 1).padStart(6, '0')}`, size_bytes: size })),
        { rel_path: 'index', size_bytes: this.index.bytesWritten },
        { rel_path: META_FILENAME },
      ];
      meta.thanos = {
        ...o.thanos,
        labels: o.thanos.labels ?? {},
        downsample: { resolution: o.thanos.downsample?.resolution ?? 0 },
        source: o.thanos.source ?? '',
        files,
        index_stats: { series_max_size: this.index.seriesMaxSize, chunk_max_size: this.chunks.chunkMaxSize },
      };
    }
    const location = await this.sink.commit(meta);
    return { meta, location };
  }

  async abort(): Promise<void> {
    this.done = true;
    await this.sink.abort();
  }
}

function fmtLabels(ls: Labels): string {
  return '{' + ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ') + '}';
}

// ------------------------------------------------------------------------------------------------
// Sinks

/**
 * A FileSink writing a file of the FsCapability. With appendFile and syncFile (the host's file
 * system has them): the file is created empty, each write is appended (returning once the OS has
 * the bytes, so the writer's buffer is free again: no buffer allocated per write, which costs
 * page faults and garbage collections of fresh memory by the megabyte), and close() syncs it to
 * disk. Otherwise a copy of each write goes down writeFile(path, ReadableStream), with backpressure.
 */
export function fsFileSink(fs: FsCapability, path: string): FileSink {
  if (fs.appendFile && fs.syncFile) return appendingFileSink(fs as FsCapability & Required<Pick<FsCapability, 'appendFile' | 'syncFile'>>, path);
  return streamingFileSink(fs, path);
}

function appendingFileSink(fs: FsCapability & Required<Pick<FsCapability, 'appendFile' | 'syncFile'>>, path: string): FileSink {
  // writeFile truncates what a file of that name may hold (appending to it would corrupt the block)
  const created = fs.writeFile(path, new Uint8Array(0));
  created.catch(() => {}); // reported by the first write or close
  return {
    async write(b) {
      await created;
      if (b.length > 0) await fs.appendFile(path, b, { sync: false });
    },
    async close() {
      await created;
      await fs.syncFile(path);
    },
    async abort() {
      await created.catch(() => {}); // the block sink removes the file with its directory
    },
  };
}

function streamingFileSink(fs: FsCapability, path: string): FileSink {
  const queue: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  let failed: unknown;
  let pulledWaiters: Array<() => void> = [];
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      while (queue.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
      if (queue.length > 0) ctrl.enqueue(queue.shift()!);
      else ctrl.close();
      const w = pulledWaiters;
      pulledWaiters = [];
      for (const f of w) f();
    },
  }, { highWaterMark: 0 });
  const done = fs.writeFile(path, stream).catch((e) => {
    failed = e;
    const w = pulledWaiters;
    pulledWaiters = [];
    for (const f of w) f();
  });
  return {
    async write(b) {
      if (failed) throw failed;
      queue.push(b.slice()); // the stream's reader owns what it reads; the caller reuses b
      wake?.();
      wake = undefined;
      if (queue.length > 4) await new Promise<void>((r) => pulledWaiters.push(r));
      if (failed) throw failed;
    },
    async close() {
      closed = true;
      wake?.();
      wake = undefined;
      await done;
      if (failed) throw failed;
    },
    async abort() {
      closed = true;
      queue.length = 0;
      wake?.();
      await done.catch(() => {});
    },
  };
}

/**
 * Writes a block into `<parentDir>/<ulid>.tmp-for-creation/` and renames it to `<parentDir>/<ulid>`
 * after meta.json is written, as Prometheus does; a crash leaves only the tmp directory.
 */
export function fsBlockSink(fs: FsCapability, parentDir: string): BlockSink {
  let tmp: string | undefined;
  const dir = async () => {
    if (!tmp) throw new BlockWriteError('fs block sink: begin() was not called');
    return tmp;
  };
  return {
    async begin(id) {
      tmp = fs.resolve(parentDir, `${id}.tmp-for-creation`);
      await fs.mkdir(fs.resolve(tmp, 'chunks'), { recursive: true });
    },
    async create(rel) {
      return fsFileSink(fs, fs.resolve(await dir(), rel));
    },
    async commit(meta) {
      const d = await dir();
      await fs.writeFile(fs.resolve(d, META_FILENAME), new TextEncoder().encode(formatMeta(meta)));
      const final = fs.resolve(parentDir, meta.ulid);
      if (await fs.exists(final)) await fs.remove(final, { recursive: true });
      await fs.rename(d, final);
      return final;
    },
    async abort() {
      if (tmp) await fs.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}

/** An in-memory block (tests, uploads of small blocks). */
export function memBlockSink(files = new Map<string, Uint8Array>()): BlockSink & { files: Map<string, Uint8Array> } {
  return {
    files,
    async create(rel) {
      const parts: Uint8Array[] = [];
      return {
        async write(b) { parts.push(b.slice()); },
        async close() {
          let total = 0;
          for (const p of parts) total += p.length;
          const out = new Uint8Array(total);
          let off = 0;
          for (const p of parts) { out.set(p, off); off += p.length; }
          files.set(rel, out);
        },
      };
    },
    async commit(meta) {
      files.set(META_FILENAME, new TextEncoder().encode(formatMeta(meta)));
      return meta.ulid;
    },
    async abort() {
      files.clear();
    },
  };
}
