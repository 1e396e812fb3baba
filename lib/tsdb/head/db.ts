// A small local TSDB: the in-memory head + its WAL under <dir>/wal, and the blocks cut from it in
// <dir>/<ULID>/ (written with lib/tsdb's BlockWriter). What `thanos receive` keeps per tenant.
//
// - append(): check (head.prepare) → WAL record (written, not synced: Prometheus's durability, see
//   wal.ts) → head; one append at a time.
// - compact(): once the head spans 1.5 × blockDuration, the samples before the first block
//   boundary after the head's min time are cut into a block (Prometheus's rule); samples older
//   than that boundary are refused from then on. flush() cuts everything (shutdown).
//   Cutting: under the append lock the head is truncated, the WAL moves to a new segment that
//   starts with a checkpoint of what stays in the head; the block is written; older WAL segments
//   are deleted. Until the block is readable the cut samples stay queryable from memory.
// - open(): opens the local blocks, replays the WAL (samples a block already holds are skipped).
import type { Core } from '../../core/types.ts';
import type { FsCapability, Logger } from '../../sdk/mod.ts';
import { compareLabels, labelsKey, matchLabels, type CompiledMatcher, type Label } from '../../labels/mod.ts';
import { BlockReader, fsBlockFiles } from '../block.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM, ENC_XOR } from '../chunks.ts';
import { META_FILENAME, type BlockMeta, type ThanosMeta } from '../meta.ts';
import { isULID } from '../ulid.ts';
import { BlockWriter, fsBlockSink, type ChunkInput } from '../writer.ts';
import { Head, type PrepareResult } from './head.ts';
import { Wal, type WalSeries } from './wal.ts';

export interface HeadDBOptions {
  fs: FsCapability;
  dir: string;
  core: Core;
  log: Logger;
  /** Block length (ms), default 2h. */
  blockDuration?: number;
  /** Thanos section written into local blocks' meta.json. */
  thanos?: Pick<ThanosMeta, 'labels' | 'source'>;
  walSegmentBytes?: number;
  /** Snappy-compress WAL records (Thanos --tsdb.wal-compression, default true). */
  walCompression?: boolean;
}

/** One series' chunks as served: chunk data with its time range and lib/tsdb/chunks.ts encoding. */
export interface DBChunk {
  minTime: number;
  maxTime: number;
  /** ENC_XOR, ENC_HISTOGRAM or ENC_FLOAT_HISTOGRAM. */
  encoding: number;
  data: Uint8Array;
}
export interface DBSeries {
  labels: Label[];
  chunks: DBChunk[];
}

/** Chunk encodings a block may hold that select() serves. */
const SERVED = new Set([ENC_XOR, ENC_HISTOGRAM, ENC_FLOAT_HISTOGRAM]);

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const r = this.tail.then(f);
    this.tail = r.then(() => undefined, () => undefined);
    return r;
  }
}

export class HeadDB {
  readonly head: Head;
  private wal: Wal;
  private blocks: BlockReader[] = [];
  private pending: Array<{ labels: Label[]; chunks: ChunkInput[] }> | undefined;
  private lock = new Mutex();
  readonly blockDuration: number;

  constructor(private readonly o: HeadDBOptions) {
    this.head = new Head(o.core);
    this.wal = new Wal({ fs: o.fs, dir: o.fs.resolve(o.dir, 'wal'), log: o.log, segmentBytes: o.walSegmentBytes, compression: o.walCompression === false ? 'none' : 'snappy',
      // the core's compressor (WASM: ~2x the TS twin on a 2000-sample record; the same bytes)
      compressInto: (src, dst, at) => o.core.snappyCompressInto(src, dst, at) });
    this.blockDuration = o.blockDuration ?? 2 * 3600_000;
    this.head.appendWindow = this.blockDuration / 2;
  }

  /** Opens local blocks and replays the WAL. Throws WalCorruptError on corruption before the tail. */
  async open(): Promise<{ blocks: number; walRecords: number; samples: number; skipped: number; truncatedBytes: number }> {
    const { fs, dir, log } = this.o;
    await fs.mkdir(dir, { recursive: true });
    for (const f of await fs.readDir(dir)) {
      if (f.isDirectory && f.name.endsWith('.tmp-for-creation')) {
        log.warn('removing partially written block', { dir: f.name });
        await fs.remove(fs.resolve(dir, f.name), { recursive: true });
      }
    }
    for (const f of await fs.readDir(dir)) {
      if (!f.isDirectory || !isULID(f.name) || !(await fs.exists(fs.resolve(dir, f.name, META_FILENAME)))) continue;
      await this.addBlock(fs.resolve(dir, f.name));
    }
    for (const b of this.blocks) this.head.minValidTime = Math.max(this.head.minValidTime, b.meta.maxTime);
    let samples = 0;
    let skipped = 0;
    const r = await this.wal.replay((rec) => {
      const a = this.head.apply(rec);
      samples += a.appended;
      skipped += a.skipped;
    });
    if (r.records > 0) log.info('WAL replayed', { dir, records: r.records, segments: r.segments, samples, skipped_samples: skipped, series: this.head.numSeries });
    return { blocks: this.blocks.length, walRecords: r.records, samples, skipped, truncatedBytes: r.truncatedBytes };
  }

  private async addBlock(path: string): Promise<BlockReader> {
    const b = await BlockReader.open(fsBlockFiles(this.o.fs, path), { core: this.o.core });
    this.blocks.push(b);
    this.blocks.sort((x, y) => x.meta.minTime - y.meta.minTime);
    return b;
  }

  get blockMetas(): BlockMeta[] {
    return this.blocks.map((b) => b.meta);
  }

  /** Checks, logs and applies a batch; returns what was accepted and refused. */
  append(batch: Parameters<Head['prepare']>[0], opts: Parameters<Head['prepare']>[1] = {}): Promise<PrepareResult> {
    return this.lock.run(async () => {
      const res = this.head.prepare(batch, opts);
      if (res.accepted.labels.length > 0) {
        await this.wal.append(res.accepted);
        this.head.apply(res.accepted);
      }
      return res;
    });
  }

  /** Closes the WAL segment kept open for appending (an append after this opens it again). */
  close(): Promise<void> {
    return this.lock.run(() => this.wal.close());
  }

  /** Oldest and newest sample time held (blocks, pending cut, head); undefined when empty. */
  timeRange(): { minTime: number; maxTime: number } | undefined {
    let mint = Infinity;
    let maxt = -Infinity;
    for (const b of this.blocks) {
      mint = Math.min(mint, b.meta.minTime);
      maxt = Math.max(maxt, b.meta.maxTime - 1);
    }
    for (const s of this.pending ?? []) for (const c of s.chunks) {
      mint = Math.min(mint, c.minTime);
      maxt = Math.max(maxt, c.maxTime);
    }
    if (!this.head.empty) {
      mint = Math.min(mint, this.head.minTime);
      maxt = Math.max(maxt, this.head.maxTime);
    }
    return mint === Infinity ? undefined : { minTime: mint, maxTime: maxt };
  }

  /** Cuts blocks while the head spans ≥ 1.5 block durations; returns the new block directories. */
  async compact(): Promise<string[]> {
    const out: string[] = [];
    const d = this.blockDuration;
    while (!this.head.empty && this.head.maxTime - this.head.minTime >= (d * 3) / 2) {
      const boundary = Math.floor(this.head.minTime / d) * d + d;
      const dir = await this.cut(boundary);
      if (dir) out.push(dir);
    }
    return out;
  }

  /** Cuts the whole head into a block (shutdown). */
  async flush(): Promise<string | undefined> {
    if (this.head.empty) return undefined;
    return this.cut(this.head.maxTime + 1);
  }

  /**
   * Cuts the head into a block up to its newest timestamp, excluded (upstream receive's flushHead on
   * a hashring change): samples at the newest timestamp stay in the head and stay appendable, so a
   * remote-write batch cut short by a restart can still add the rest of that scrape. A head of one
   * timestamp is cut whole.
   */
  async flushBeforeNewest(): Promise<string | undefined> {
    if (this.head.empty) return undefined;
    return this.cut(this.head.minTime === this.head.maxTime ? this.head.maxTime + 1 : this.head.maxTime);
  }

  private async cut(boundary: number): Promise<string | undefined> {
    const { fs, dir, core, log } = this.o;
    let seg = 0;
    const series = await this.lock.run(async () => {
      const s = this.head.truncate(boundary);
      this.pending = s;
      seg = await this.wal.rotate();
      // synced: the segments it replaces are deleted once the block is written
      await this.wal.append(this.head.dump(), { sync: true });
      return s;
    });
    let location: string | undefined;
    try {
      if (series.length > 0) {
        let mint = Infinity;
        const symbols = new Set<string>();
        for (const s of series) {
          mint = Math.min(mint, s.chunks[0]!.minTime);
          for (const l of s.labels) {
            symbols.add(l.name);
            symbols.add(l.value);
          }
        }
        const thanos = this.o.thanos ? { labels: this.o.thanos.labels, source: this.o.thanos.source, downsample: { resolution: 0 } } : undefined;
        const w = await BlockWriter.create(fsBlockSink(fs, dir), symbols, { core, minTime: mint, maxTime: boundary, thanos });
        for (const s of series) await w.addSeriesChunks(s.labels, s.chunks);
        const { meta, location: loc } = await w.finish();
        location = loc;
        await this.addBlock(loc);
        log.info('head cut into a block', { ulid: meta.ulid, mint: meta.minTime, maxt: meta.maxTime, series: meta.stats?.numSeries, samples: meta.stats?.numSamples });
      }
    } finally {
      this.pending = undefined;
    }
    await this.wal.truncateBefore(seg);
    return location;
  }

  /** Deletes local blocks whose data ends before `before` and that `canDelete` allows. */
  async deleteBlocksBefore(before: number, canDelete: (ulid: string) => boolean): Promise<string[]> {
    const gone: string[] = [];
    for (const b of [...this.blocks]) {
      if (b.meta.maxTime > before || !canDelete(b.meta.ulid)) continue;
      this.blocks = this.blocks.filter((x) => x !== b);
      await this.o.fs.remove(this.o.fs.resolve(this.o.dir, b.meta.ulid), { recursive: true });
      gone.push(b.meta.ulid);
    }
    return gone;
  }

  /** Series matching ms with chunks overlapping [mint, maxt] from blocks, a pending cut and the head, sorted by labels. */
  async select(ms: readonly CompiledMatcher[], mint: number, maxt: number, signal?: AbortSignal): Promise<DBSeries[]> {
    const byKey = new Map<string, DBSeries>();
    const add = (labels: Label[], chunks: DBChunk[]) => {
      if (chunks.length === 0) return;
      const k = labelsKey(labels);
      const cur = byKey.get(k);
      if (cur) cur.chunks.push(...chunks);
      else byKey.set(k, { labels, chunks: [...chunks] });
    };
    const blocks = this.blocks.filter((b) => b.meta.maxTime > mint && b.meta.minTime <= maxt);
    const pending = this.pending;
    const head = this.head.select(ms, mint, maxt);
    for (const b of blocks) {
      for await (const s of b.selectChunks(ms, { minTime: mint, maxTime: maxt })) {
        signal?.throwIfAborted();
        add(s.labels.slice(), s.chunks.filter((c) => SERVED.has(c.encoding)).map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, encoding: c.encoding, data: c.data })));
      }
    }
    for (const s of pending ?? []) {
      if (!matchLabels(ms, s.labels)) continue;
      add(s.labels, s.chunks.filter((c) => c.maxTime >= mint && c.minTime <= maxt).map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, encoding: c.encoding, data: c.data })));
    }
    for (const s of head) add(s.labels, s.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, encoding: c.encoding, data: c.data })));
    const out = [...byKey.values()];
    for (const s of out) s.chunks.sort((a, b) => a.minTime - b.minTime);
    return out.sort((a, b) => compareLabels(a.labels, b.labels));
  }
}
