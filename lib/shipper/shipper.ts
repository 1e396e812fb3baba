// The shipper: uploads the blocks a local TSDB (Prometheus, or our receiver) has written to object
// storage, once each, as Thanos's pkg/shipper does.
//
// - Block directories are <tsdb.path>/<ULID>/ with a meta.json; anything else (wal/, chunks_head/,
//   *.tmp-for-creation, partial dirs) is ignored.
// - Only compaction level 1 blocks are uploaded unless uploadCompacted is set; blocks without samples
//   are skipped.
// - A block is uploaded with a thanos section added to its meta.json (external labels, source,
//   downsample resolution 0, the list of files); chunks first, then index, meta.json LAST. The local
//   meta.json is not changed.
// - What was uploaded is recorded in <tsdb.path>/thanos.shipper.json ({"version":1,"uploaded":[...]},
//   Thanos's format), rewritten atomically after every upload. A block already in the bucket (its
//   meta.json exists) counts as uploaded, so losing the meta file never re-uploads.
// - Empty external labels: refused (Thanos's rule), nothing is uploaded.
import type { Bucket } from '../objstore/bucket.ts';
import type { Counter, FsCapability, Gauge, Logger, Metrics } from '../sdk/mod.ts';
import { META_FILENAME, parseMeta, type BlockMeta } from '../tsdb/meta.ts';
import { isULID } from '../tsdb/ulid.ts';
import { uploadBlock } from '../tsdb/objstore.ts';

export const SHIPPER_META_FILENAME = 'thanos.shipper.json';
export const SHIPPER_META_VERSION = 1;

export interface ShipperMeta {
  version: number;
  uploaded: string[];
}

export interface ShipperOptions {
  bucket: Bucket;
  fs: FsCapability;
  /** The TSDB directory holding the block directories (--tsdb.path). */
  dir: string;
  /** External labels at upload time (they go into meta.json's thanos.labels). */
  labels: () => Record<string, string>;
  /** thanos.source in meta.json: sidecar, receive, ruler. */
  source: string;
  /** Also upload compacted blocks (level > 1), --shipper.upload-compacted. */
  uploadCompacted?: boolean;
  /** File name of the state file inside dir (--shipper.meta-file-name). */
  metaFileName?: string;
  log: Logger;
  metrics?: Metrics;
}

export interface SyncResult {
  /** Blocks uploaded by this sync. */
  uploaded: string[];
  /** Blocks whose upload failed (retried next sync). */
  failed: string[];
  /** Blocks found already uploaded (meta file or bucket). */
  already: number;
}

export class ShipperError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShipperError';
  }
}

const enc = new TextEncoder();

/** Reads thanos.shipper.json; a missing file is an empty state, a corrupt one is an error naming the file. */
export async function readShipperMeta(fs: FsCapability, path: string): Promise<ShipperMeta> {
  if (!(await fs.exists(path))) return { version: SHIPPER_META_VERSION, uploaded: [] };
  const text = new TextDecoder().decode(await fs.readFile(path));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ShipperError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
  const o = raw as Record<string, unknown>;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new ShipperError(`${path}: expected a JSON object`);
  if (o.version !== SHIPPER_META_VERSION) throw new ShipperError(`${path}: unexpected meta file version ${JSON.stringify(o.version)}`);
  const up = o.uploaded ?? [];
  if (!Array.isArray(up) || !up.every((x) => typeof x === 'string')) throw new ShipperError(`${path}: "uploaded" must be an array of ULID strings`);
  return { version: SHIPPER_META_VERSION, uploaded: up as string[] };
}

/** Writes the state file atomically (temporary file + rename). */
export async function writeShipperMeta(fs: FsCapability, path: string, meta: ShipperMeta): Promise<void> {
  const tmp = `${path}.tmp`;
  await fs.writeFile(tmp, enc.encode(JSON.stringify({ version: meta.version, uploaded: meta.uploaded }, null, '\t')));
  await fs.rename(tmp, path);
}

export class Shipper {
  private readonly metaPath: string;
  private readonly uploads?: Counter;
  private readonly failures?: Counter;
  private readonly dirSyncs?: Counter;
  private readonly dirSyncFailures?: Counter;
  private readonly corrupted?: Counter;
  private readonly uploadedCompacted?: Gauge;
  private running: Promise<SyncResult> | undefined;

  constructor(private readonly o: ShipperOptions) {
    this.metaPath = o.fs.resolve(o.dir, o.metaFileName ?? SHIPPER_META_FILENAME);
    const m = o.metrics;
    if (m) {
      this.uploads = m.counter('thanos_shipper_uploads_total', 'Total number of uploaded blocks');
      this.failures = m.counter('thanos_shipper_upload_failures_total', 'Total number of block upload failures');
      this.dirSyncs = m.counter('thanos_shipper_dir_syncs_total', 'Total number of dir syncs');
      this.dirSyncFailures = m.counter('thanos_shipper_dir_sync_failures_total', 'Total number of failed dir syncs');
      // Thanos's shipper metrics (pkg/shipper); the time of the last upload is objstore's
      // thanos_objstore_bucket_last_successful_upload_time.
      this.corrupted = m.counter('thanos_shipper_corrupted_blocks_total', 'Total number of corrupted blocks');
      this.uploadedCompacted = m.gauge('thanos_shipper_upload_compacted_done', 'If 1 it means shipper uploaded all compacted blocks from the filesystem.');
    }
  }

  /** Local block metas, oldest first. Directories without a readable meta.json are skipped (logged). */
  async localBlocks(): Promise<BlockMeta[]> {
    const { fs, dir, log } = this.o;
    const out: BlockMeta[] = [];
    for (const f of await fs.readDir(dir)) {
      if (!f.isDirectory || !isULID(f.name)) continue;
      const mp = fs.resolve(dir, f.name, META_FILENAME);
      if (!(await fs.exists(mp))) continue; // being written by Prometheus
      try {
        const m = parseMeta(await fs.readFile(mp), f.name);
        if (m.ulid !== f.name) {
          log.warn('skipping block: meta.json ULID differs from its directory', { block: f.name, meta_ulid: m.ulid });
          continue;
        }
        out.push(m);
      } catch (e) {
        this.corrupted?.inc();
        log.warn('skipping block with unreadable meta.json', { block: f.name, err: (e as Error).message });
      }
    }
    return out.sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
  }

  /** One pass; concurrent calls share the pass in progress. */
  sync(): Promise<SyncResult> {
    this.running ??= this.doSync().finally(() => (this.running = undefined));
    return this.running;
  }

  private async doSync(): Promise<SyncResult> {
    const { fs, bucket, log } = this.o;
    this.dirSyncs?.inc();
    let state: ShipperMeta;
    try {
      state = await readShipperMeta(fs, this.metaPath);
    } catch (e) {
      // Thanos: a broken meta file is replaced; the bucket check below prevents re-uploads.
      log.warn('reading shipper meta file failed, rebuilding it from the bucket', { err: (e as Error).message });
      state = { version: SHIPPER_META_VERSION, uploaded: [] };
    }
    const labels = this.o.labels();
    if (Object.keys(labels).length === 0) {
      this.dirSyncFailures?.inc();
      throw new ShipperError('empty external labels are not allowed for Thanos block; refusing to upload');
    }
    const known = new Set(state.uploaded);
    const uploaded: string[] = [];
    const res: SyncResult = { uploaded: [], failed: [], already: 0 };
    let metas: BlockMeta[];
    try {
      metas = await this.localBlocks();
    } catch (e) {
      this.dirSyncFailures?.inc();
      throw new ShipperError(`reading ${this.o.dir}: ${(e as Error).message}`);
    }
    for (const m of metas) {
      // Blocks without samples are never uploaded (Thanos does the same; Prometheus omits a zero numSamples).
      if ((m.stats?.numSamples ?? 0) === 0) continue;
      if (known.has(m.ulid)) {
        uploaded.push(m.ulid);
        res.already++;
        continue;
      }
      // Only level-1 blocks ship in the normal flow (Thanos checks this before asking the bucket).
      if (m.compaction.level > 1 && !this.o.uploadCompacted) continue;
      let inBucket: boolean;
      try {
        inBucket = await bucket.exists(`${m.ulid}/${META_FILENAME}`);
      } catch (e) {
        log.error('checking the bucket for a block failed', { block: m.ulid, err: (e as Error).message });
        this.failures?.inc();
        res.failed.push(m.ulid);
        continue;
      }
      if (inBucket) {
        log.debug('block already in the bucket', { block: m.ulid });
        uploaded.push(m.ulid);
        res.already++;
        continue;
      }
      log.info('upload new block', { id: m.ulid, compaction_level: m.compaction.level, mint: m.minTime, maxt: m.maxTime });
      const t0 = Date.now();
      try {
        await uploadBlock(bucket, fs, fs.resolve(this.o.dir, m.ulid), {
          meta: (bm) => ({
            ...bm,
            thanos: { version: 1, labels: { ...labels }, downsample: { resolution: 0 }, source: this.o.source },
          }),
        });
      } catch (e) {
        this.failures?.inc();
        res.failed.push(m.ulid);
        log.error('shipping failed', { block: m.ulid, err: (e as Error).message });
        continue;
      }
      this.uploads?.inc();
      uploaded.push(m.ulid);
      res.uploaded.push(m.ulid);
      log.info('uploaded block', { id: m.ulid, duration_ms: Date.now() - t0 });
      // Record progress right away so a crash between blocks does not lose it.
      await this.writeState([...uploaded, ...known], metas);
    }
    await this.writeState(uploaded, metas);
    if (res.failed.length > 0) this.dirSyncFailures?.inc();
    else this.uploadedCompacted?.set(this.o.uploadCompacted ? 1 : 0);
    return res;
  }

  private async writeState(uploaded: string[], metas: BlockMeta[]): Promise<void> {
    // Keep the order of the local blocks (oldest first) for a stable file.
    const set = new Set(uploaded);
    const list = metas.map((m) => m.ulid).filter((id) => set.has(id));
    await writeShipperMeta(this.o.fs, this.metaPath, { version: SHIPPER_META_VERSION, uploaded: list });
  }
}
