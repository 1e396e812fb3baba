// The ruler's local TSDB, as Thanos's ruler keeps one: recorded series and ALERTS/ALERTS_FOR_STATE
// go to lib/tsdb/head's HeadDB under the data directory (WAL first, so a restart replays them), cut
// into blocks of --tsdb.block-duration, uploaded by lib/shipper with the ruler's external labels
// when a bucket is configured, and deleted locally past --tsdb.retention (once uploaded, if
// uploading). Served over the StoreAPI with the external labels added to every series (they win
// over same-named series labels, as Thanos's TSDB store does).
import type { Bucket, Core, FsCapability, Logger, Metrics } from '../sdk/mod.ts';
import { labelsFromRecord, type Label, type Labels, type Matcher } from '../labels/mod.ts';
import { MemoryStore } from '../store/memory.ts';
import { compileMatchers } from '../store/proxy.ts';
import { MIN_TIME, MAX_TIME, type StoreServer } from '../store/api.ts';
import type { LabelNamesRequest, LabelValuesRequest, SeriesRequest, SeriesResponse } from '../proto/store.ts';
import { HeadDB } from '../tsdb/head/db.ts';
import type { PrepareSeries } from '../tsdb/head/head.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM, ENC_XOR } from '../tsdb/chunks.ts';
import { ChunkEncoding } from '../proto/store.ts';
import type { Histogram as PromHistogram } from '../proto/prompb.ts';
import { toPrompbFloat } from './histogram.ts';
import { Shipper, readShipperMeta, SHIPPER_META_FILENAME } from '../shipper/shipper.ts';
import type { RecordedSample } from './eval.ts';

export interface RuleTSDBOptions {
  fs: FsCapability;
  /** The data directory (--data-dir); the TSDB is the directory itself, as Thanos's ruler lays it out. */
  dir: string;
  core: Core;
  log: Logger;
  metrics?: Metrics;
  externalLabels: Record<string, string>;
  blockDurationMs: number;
  retentionMs: number;
  /** Upload cut blocks here when set. */
  bucket?: Bucket;
}

/** A TSDB chunk encoding as the StoreAPI's chunk type. */
function storeEncoding(enc: number): number {
  return enc === ENC_HISTOGRAM ? ChunkEncoding.HISTOGRAM : enc === ENC_FLOAT_HISTOGRAM ? ChunkEncoding.FLOAT_HISTOGRAM : ChunkEncoding.XOR;
}

export class RuleTSDB implements StoreServer {
  readonly db: HeadDB;
  readonly shipper?: Shipper;
  private readonly ext: Labels;

  private constructor(private readonly o: RuleTSDBOptions) {
    this.ext = labelsFromRecord(o.externalLabels);
    this.db = new HeadDB({
      fs: o.fs, dir: o.dir, core: o.core, log: o.log.with({ component: 'tsdb' }), blockDuration: o.blockDurationMs,
      thanos: { labels: { ...o.externalLabels }, source: 'ruler' },
    });
    if (o.bucket) {
      this.shipper = new Shipper({
        bucket: o.bucket, fs: o.fs, dir: o.dir, labels: () => ({ ...o.externalLabels }), source: 'ruler',
        log: o.log.with({ component: 'shipper' }), metrics: o.metrics,
      });
    }
  }

  /** Opens local blocks and replays the WAL (a corrupt WAL before its tail fails with the WAL's error). */
  static async open(o: RuleTSDBOptions): Promise<{ tsdb: RuleTSDB; replay: Awaited<ReturnType<HeadDB['open']>> }> {
    const t = new RuleTSDB(o);
    const replay = await t.db.open();
    return { tsdb: t, replay };
  }

  /**
   * Appends one group evaluation's samples (through the WAL). Samples the head refuses
   * (out of order, duplicates with another value, out of bounds) are dropped and counted, as
   * Prometheus's rule manager logs and drops them.
   */
  async append(samples: RecordedSample[]): Promise<{ accepted: number; refused: number }> {
    // Native histogram results go in as float histograms, as Prometheus's rule manager appends them.
    const byKey = new Map<string, PrepareSeries & { samples: Array<{ timestamp: number; value: number }>; histograms: PromHistogram[] }>();
    for (const s of samples) {
      const ls = labelsFromRecord(s.labels).filter((l) => l.value !== '') as Label[];
      const k = ls.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
      let e = byKey.get(k);
      if (!e) byKey.set(k, (e = { labels: ls, samples: [], histograms: [] }));
      if (s.h) e.histograms.push(toPrompbFloat(s.h, s.t));
      else e.samples.push({ timestamp: s.t, value: s.v });
    }
    const res = await this.db.append([...byKey.values()]);
    const refused = Object.values(res.rejected).reduce((a, b) => a + b, 0) + Object.values(res.labelErrors).reduce((a, b) => a + b, 0);
    return { accepted: res.samplesAccepted + res.histogramsAccepted, refused: refused + res.invalidHistograms };
  }

  /** The newest sample of the series with exactly these labels in [mint, maxt] (for `for` state restore). */
  async lastSample(labels: Record<string, string>, mint: number, maxt: number): Promise<{ t: number; v: number } | undefined> {
    const ms: Matcher[] = Object.entries(labels).map(([name, value]) => ({ type: '=', name, value }));
    const want = Object.keys(labels).length;
    let best: { t: number; v: number } | undefined;
    for (const s of await this.db.select(compileMatchers(ms), mint, maxt)) {
      if (s.labels.length !== want) continue;
      for (const c of s.chunks) {
        // ALERTS_FOR_STATE is a float series; a histogram chunk under these labels holds no activeAt.
        if (c.encoding !== ENC_XOR) continue;
        const d = this.o.core.xorDecode(c.data);
        for (let i = 0; i < d.n; i++) {
          const t = d.t[i]!;
          if (t < mint || t > maxt) continue;
          if (!best || t > best.t) best = { t, v: d.v[i]! };
        }
      }
    }
    return best;
  }

  get numSeries(): number {
    return this.db.head.numSeries;
  }

  timeRange(): { minTime: number; maxTime: number } | undefined {
    return this.db.timeRange();
  }

  /**
   * One maintenance tick: cut due blocks, upload new ones, delete local blocks past retention
   * (only uploaded ones when a bucket is configured). Errors are logged, not thrown.
   */
  async maintain(): Promise<{ cut: string[]; uploaded: string[] }> {
    const { fs, log, retentionMs } = this.o;
    const out = { cut: [] as string[], uploaded: [] as string[] };
    try {
      out.cut = await this.db.compact();
    } catch (e) {
      log.error('cutting a block failed', { err: (e as Error).message });
    }
    let uploaded = new Set<string>();
    if (this.shipper) {
      try {
        const r = await this.shipper.sync();
        out.uploaded = r.uploaded;
        uploaded = new Set((await readShipperMeta(fs, fs.resolve(this.o.dir, SHIPPER_META_FILENAME))).uploaded);
      } catch (e) {
        log.warn('shipper sync failed', { err: (e as Error).message });
      }
    }
    const newest = Math.max(...this.db.blockMetas.map((m) => m.maxTime));
    if (retentionMs > 0 && Number.isFinite(newest)) {
      try {
        const gone = await this.db.deleteBlocksBefore(newest - retentionMs, (id) => !this.shipper || uploaded.has(id));
        if (gone.length > 0) log.info('deleted local blocks past retention', { blocks: gone.join(',') });
      } catch (e) {
        log.warn('deleting local blocks failed', { err: (e as Error).message });
      }
    }
    return out;
  }

  private async snapshot(matchers: Matcher[], mint: number, maxt: number, signal: AbortSignal): Promise<MemoryStore> {
    const extNames = new Set(this.ext.map((l) => l.name));
    const ms = compileMatchers(matchers);
    // Matchers on external labels are decided by the external label set; the rest go to the TSDB.
    if (!ms.filter((m) => extNames.has(m.name)).every((m) => m.matches(this.o.externalLabels[m.name]!))) return new MemoryStore([], { componentType: 'rule' });
    const inner = ms.filter((m) => !extNames.has(m.name));
    const all = (await this.db.select(inner, mint, maxt, signal)).map((s) => ({
      labels: s.labels,
      chunks: s.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, raw: { type: storeEncoding(c.encoding), data: c.data } })),
    }));
    return new MemoryStore(all, { componentType: 'rule', externalLabels: this.ext });
  }

  async *series(req: SeriesRequest, signal: AbortSignal): AsyncIterable<SeriesResponse> {
    yield* (await this.snapshot(req.matchers, req.minTime, req.maxTime, signal)).series(req, signal);
  }
  async labelNames(req: LabelNamesRequest, signal: AbortSignal) {
    const all = req.start === 0 && req.end === 0;
    return (await this.snapshot(req.matchers, all ? MIN_TIME : req.start, all ? MAX_TIME : req.end, signal)).labelNames(req, signal);
  }
  async labelValues(req: LabelValuesRequest, signal: AbortSignal) {
    const all = req.start === 0 && req.end === 0;
    return (await this.snapshot(req.matchers, all ? MIN_TIME : req.start, all ? MAX_TIME : req.end, signal)).labelValues(req, signal);
  }
}
