// The receiver (Thanos receive as an ingestor, replication factor 1): appends remote-write series to
// the tenant's TSDB and reports what was refused, serves the StoreAPI over every tenant's blocks +
// head (each series labelled with the external labels, which override same-named labels, and the
// tenant label), answers Info, and cuts/uploads/retains blocks on each tick.
import { GrpcError, GrpcStatus, type Bucket, type ComponentInfo, type Core, type FsCapability, type Logger, type Metrics } from '../sdk/mod.ts';
import { compareStrings, type Label, type Labels, type Matcher } from '../labels/mod.ts';
import type { TimeSeries } from '../proto/prompb.ts';
import { sampleCount, samplesIn } from '../remote/writedecode.ts';
import { ChunkEncoding, type StoreWriteRequest } from '../proto/store.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM } from '../tsdb/chunks.ts';
import { MIN_TIME, MAX_TIME, type StoreServer } from '../store/api.ts';
import { MemoryStore } from '../store/memory.ts';
import { compileMatchers } from '../store/proxy.ts';
import { readShipperMeta } from '../shipper/shipper.ts';
import type { PrepareResult } from '../tsdb/head/head.ts';
import { formatPromDuration } from '../duration/mod.ts';
import { Tenants, validTenant, type Tenant } from './tenants.ts';

export interface WriteOutcome {
  /** As the HTTP answer: 200 all stored; 400 bad input (the valid part is stored); 409 conflicts; 503 shutting down. */
  status: number;
  message: string;
  result?: PrepareResult;
}

export interface ReceiverOptions {
  fs: FsCapability;
  /** The TSDB root (--tsdb.path): one directory per tenant. */
  path: string;
  core: Core;
  log: Logger;
  metrics: Metrics;
  /** Uploads are enabled when set. */
  bucket?: Bucket;
  /** External labels. */
  labels: Record<string, string>;
  tenantLabelName: string;
  defaultTenant: string;
  replicationFactor: number;
  blockDurationMs: number;
  /** Local blocks older than this (behind the newest, once uploaded) are deleted; 0 keeps them. */
  retentionMs: number;
  /** --tsdb.too-far-in-future.time-window: samples after now + this are out of bounds; 0 disables. */
  tooFarInFutureMs?: number;
  /** Per-series label limits (Prometheus's label_limit, label_name_length_limit, label_value_length_limit); 0 = none. */
  labelLimits?: LabelLimits;
  /** --tsdb.wal-compression (default true). */
  walCompression?: boolean;
}

export interface LabelLimits {
  labelLimit: number;
  labelNameLengthLimit: number;
  labelValueLengthLimit: number;
}

const utf8 = new TextEncoder();
/** UTF-8 length in bytes (Go's len(string), which Prometheus's limits count), cheap when it cannot exceed `limit`. */
function byteLength(s: string, limit: number): number {
  return s.length * 3 <= limit ? s.length : utf8.encode(s).length;
}

/** %.50s / %.50q of Go's fmt: at most 50 characters. */
const cut50 = (s: string) => [...s.slice(0, 100)].slice(0, 50).join('');

/** Prometheus's scrape-limit check of one series' labels: undefined when within the limits, else its message. */
export function checkLabelLimits(ls: readonly Label[], lim: LabelLimits): string | undefined {
  const met = cut50(ls.find((l) => l.name === '__name__')?.value ?? '');
  if (lim.labelLimit > 0 && ls.length > lim.labelLimit) return `label_limit exceeded (metric: ${met}, number of labels: ${ls.length}, limit: ${lim.labelLimit})`;
  for (const l of ls) {
    if (lim.labelNameLengthLimit > 0) {
      const n = byteLength(l.name, lim.labelNameLengthLimit);
      if (n > lim.labelNameLengthLimit) return `label_name_length_limit exceeded (metric: ${met}, label name: ${cut50(l.name)}, length: ${n}, limit: ${lim.labelNameLengthLimit})`;
    }
    if (lim.labelValueLengthLimit > 0) {
      const n = byteLength(l.value, lim.labelValueLengthLimit);
      if (n > lim.labelValueLengthLimit) return `label_value_length_limit exceeded (metric: ${met}, label name: ${cut50(l.name)}, value: ${JSON.stringify(cut50(l.value))}, length: ${n}, limit: ${lim.labelValueLengthLimit})`;
    }
  }
  return undefined;
}

const REJECT_TEXT: Record<string, string> = {
  'out-of-order': 'out of order sample',
  duplicate: 'duplicate sample for timestamp',
  'out-of-bounds': 'out of bounds',
};
const LABEL_TEXT: Record<string, string> = {
  'empty-labels': 'empty labels',
  'empty-label-name': 'empty label name',
  'empty-label-value': 'empty label value',
  'labels-out-of-order': 'out of order labels',
  'duplicate-label': 'duplicate labels',
};

/** thanos.Chunk.Encoding of a TSDB chunk encoding (XOR 1 → 0, histogram 2 → 1, float histogram 3 → 2). */
function storeEncoding(enc: number): number {
  return enc === ENC_HISTOGRAM ? ChunkEncoding.HISTOGRAM : enc === ENC_FLOAT_HISTOGRAM ? ChunkEncoding.FLOAT_HISTOGRAM : ChunkEncoding.XOR;
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? `${new Date(ms).toISOString()} (${ms})` : String(ms);
}

function fmt(ls: Labels): string {
  return '{' + ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ') + '}';
}

type Counter = ReturnType<Metrics['counter']>;
type Gauge = ReturnType<Metrics['gauge']>;
type Histogram = ReturnType<Metrics['histogram']>;

/** Thanos's pkg/receive handler buckets of thanos_receive_write_{timeseries,samples}. */
export const WRITE_SIZE_BUCKETS = [10, 50, 100, 500, 1000, 5000, 10000];

/**
 * The TSDB metrics Prometheus's tsdb package exposes, with the `tenant` label Thanos's multitsdb adds
 * (prometheus.WrapRegistererWith({tenant})), plus the handler's write size histograms.
 */
interface ReceiverMetrics {
  samplesAppended: Counter;
  outOfOrder: Counter;
  outOfBound: Counter;
  headSeries: Gauge;
  headMinTime: Gauge;
  headMaxTime: Gauge;
  blocksLoaded: Gauge;
  compactions: Counter;
  writeTimeseries: Histogram;
  writeSamples: Histogram;
}

export class Receiver {
  /** The StoreAPI over every tenant (a per-request snapshot of the matching series). */
  readonly store: StoreServer = receiverStore(this);
  private accepting = true;

  private constructor(
    private readonly o: ReceiverOptions,
    private readonly root: string,
    readonly tenants: Tenants,
    private readonly m: ReceiverMetrics,
  ) {}

  /** Registers the metrics, then opens the TSDB root and replays every tenant already in it. */
  static async open(o: ReceiverOptions): Promise<Receiver> {
    const mx = o.metrics;
    const m: ReceiverMetrics = {
      samplesAppended: mx.counter('prometheus_tsdb_head_samples_appended_total', 'Total number of appended samples.', ['tenant', 'type']),
      outOfOrder: mx.counter('prometheus_tsdb_out_of_order_samples_total', 'Total number of out of order samples ingestion failed attempts due to out of order being disabled.', ['tenant', 'type']),
      outOfBound: mx.counter('prometheus_tsdb_out_of_bound_samples_total', 'Total number of out of bound samples ingestion failed attempts with out of order support disabled.', ['tenant', 'type']),
      headSeries: mx.gauge('prometheus_tsdb_head_series', 'Total number of series in the head block.', ['tenant']),
      headMinTime: mx.gauge('prometheus_tsdb_head_min_time', 'Minimum time bound of the head block.', ['tenant']),
      headMaxTime: mx.gauge('prometheus_tsdb_head_max_time', 'Maximum timestamp of the head block.', ['tenant']),
      blocksLoaded: mx.gauge('prometheus_tsdb_blocks_loaded', 'Number of currently loaded data blocks', ['tenant']),
      compactions: mx.counter('prometheus_tsdb_compactions_total', 'Total number of compactions that were executed for the partition.', ['tenant']),
      writeTimeseries: mx.histogram('thanos_receive_write_timeseries', 'The number of timeseries received in the incoming write requests.', ['code', 'tenant'], WRITE_SIZE_BUCKETS),
      writeSamples: mx.histogram('thanos_receive_write_samples', 'The number of sampled received in the incoming write requests.', ['code', 'tenant'], WRITE_SIZE_BUCKETS),
    };
    const root = o.fs.resolve(o.path);
    const tenants = await Tenants.open({
      fs: o.fs, root, core: o.core, log: o.log, metrics: o.metrics, bucket: o.bucket, labels: o.labels, tenantLabelName: o.tenantLabelName, blockDurationMs: o.blockDurationMs,
      walCompression: o.walCompression,
    });
    const r = new Receiver(o, root, tenants, m);
    for (const t of tenants.list()) r.tenantMetrics(t);
    return r;
  }

  private readonly withMetrics = new Set<string>();

  /**
   * A tenant's TSDB series: Prometheus registers a TSDB's counters when it opens, so they read 0
   * from the first scrape on; the gauges follow the head and the loaded blocks.
   */
  private tenantMetrics(t: Tenant): void {
    if (!this.withMetrics.has(t.id)) {
      this.withMetrics.add(t.id);
      for (const c of [this.m.samplesAppended, this.m.outOfOrder, this.m.outOfBound]) c.inc({ tenant: t.id, type: 'float' }, 0);
      this.m.compactions.inc({ tenant: t.id }, 0);
    }
    updateTenantGauges(this.m, t);
  }

  get log(): Logger {
    return this.o.log;
  }

  /** The kernels this receiver's heads use (its HTTP handler decompresses request bodies with them). */
  get core(): Core {
    return this.o.core;
  }

  /**
   * thanos_receive_write_{timeseries,samples}{code,tenant}: the size of a remote write request that
   * got past the limits to the write path, by the HTTP status it was answered with (Thanos's handler).
   */
  observeWrite(status: number, tenant: string, series: readonly TimeSeries[]): void {
    const labels = { code: String(status), tenant };
    this.m.writeTimeseries.observe(series.length, labels);
    this.m.writeSamples.observe(samplesIn(series), labels);
  }

  /** Closes every tenant's open WAL segment (after the last write: shutdown). */
  async close(): Promise<void> {
    for (const t of this.tenants.list()) await t.db.close();
  }

  /** Refuses further writes (503) from now on: shutdown. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Appends to a tenant (the HTTP and gRPC paths end here). */
  async write(tenantId: string, series: readonly TimeSeries[]): Promise<WriteOutcome> {
    if (!this.accepting) return { status: 503, message: 'receiver is shutting down' };
    if (!validTenant(tenantId)) return { status: 400, message: `invalid tenant ${JSON.stringify(tenantId)}` };
    // Label limits first: a series over them is refused whole (400), the others are written.
    const lim = this.o.labelLimits;
    let overLimit = 0;
    let overLimitSamples = 0;
    let firstOverLimit: string | undefined;
    let batch: readonly TimeSeries[] = series;
    if (lim && (lim.labelLimit > 0 || lim.labelNameLengthLimit > 0 || lim.labelValueLengthLimit > 0)) {
      batch = series.filter((s) => {
        const msg = checkLabelLimits(s.labels, lim);
        if (msg === undefined) return true;
        overLimit++;
        overLimitSamples += sampleCount(s);
        firstOverLimit ??= msg;
        return false;
      });
    }
    const t = await this.tenants.get(tenantId);
    const window = this.o.tooFarInFutureMs ?? 0;
    // Thanos's ReceiveAppender: now + window is taken per request; later samples are ErrOutOfBounds.
    const res = await t.db.append(batch, window > 0 ? { maxValidTime: Date.now() + window } : {});
    this.m.samplesAppended.inc({ tenant: tenantId, type: 'float' }, res.samplesAccepted);
    if (res.histogramsAccepted > 0) this.m.samplesAppended.inc({ tenant: tenantId, type: 'histogram' }, res.histogramsAccepted);
    const rh = res.rejectedHistograms;
    if (res.rejected['out-of-order'] > rh['out-of-order']) this.m.outOfOrder.inc({ tenant: tenantId, type: 'float' }, res.rejected['out-of-order'] - rh['out-of-order']);
    if (rh['out-of-order'] > 0) this.m.outOfOrder.inc({ tenant: tenantId, type: 'histogram' }, rh['out-of-order']);
    if (res.rejected['out-of-bounds'] > rh['out-of-bounds']) this.m.outOfBound.inc({ tenant: tenantId, type: 'float' }, res.rejected['out-of-bounds'] - rh['out-of-bounds']);
    if (rh['out-of-bounds'] > 0) this.m.outOfBound.inc({ tenant: tenantId, type: 'histogram' }, rh['out-of-bounds']);
    this.tenantMetrics(t);
    const problems: string[] = [];
    let status = 200;
    const nRej = Object.values(res.rejected).reduce((a, b) => a + b, 0);
    const nBad = Object.values(res.labelErrors).reduce((a, b) => a + b, 0);
    if (nRej > 0) {
      status = 409;
      for (const [k, n] of Object.entries(res.rejected)) if (n > 0) {
        problems.push(`add ${n} samples: ${REJECT_TEXT[k]}`);
      }
      // Thanos's text is "out of bounds" for both ends of the window: say which end, and where it is.
      const oob = res.rejected['out-of-bounds'];
      if (oob > 0) {
        const why: string[] = [];
        if (res.tooFarInFuture > 0) why.push(`${res.tooFarInFuture} too far in the future (after ${iso(res.maxValidTime)} = now + --tsdb.too-far-in-future.time-window ${formatPromDuration(window)})`);
        if (oob > res.tooFarInFuture) why.push(`${oob - res.tooFarInFuture} too old (before ${iso(res.minValidTime)}, the oldest time the head accepts)`);
        problems.push(`out of bounds: ${why.join(', ')}`);
      }
      if (res.firstReject) problems.push(`first: ${fmt(res.firstReject.labels)} @ ${res.firstReject.t}`);
    }
    if (overLimit > 0) {
      status = 400;
      problems.push(`${overLimit} series refused: ${firstOverLimit}${overLimit > 1 ? ' (first of them)' : ''}`);
    }
    if (res.invalidHistograms > 0) {
      // Thanos only logs these (debug) and answers 200; refusing them says which sample was dropped and why.
      status = 400;
      const f = res.firstInvalidHistogram!;
      problems.push(`${res.invalidHistograms} invalid native histogram samples refused; first: ${fmt(f.labels)} @ ${f.t}: ${f.reason}`);
    }
    if (nBad > 0) {
      status = 400;
      for (const [k, n] of Object.entries(res.labelErrors)) if (n > 0) problems.push(`${n} series with ${LABEL_TEXT[k]}`);
      if (res.firstLabelError) problems.push(`first: ${fmt(res.firstLabelError.labels)}`);
    }
    if (status !== 200) this.o.log.debug('write partially refused', { tenant: tenantId, status, problems: problems.join('; ') });
    return { status, message: problems.join('; '), result: res };
  }

  /**
   * thanos.WriteableStore/RemoteWrite straight into the local TSDB (an ingestor without hashring;
   * the replica number is not checked, as Thanos's IngestorOnly mode): conflicts -> AlreadyExists,
   * bad input -> InvalidArgument. With a hashring the plugin serves forward.ts's Router.grpcWrite.
   */
  async grpcWrite(req: StoreWriteRequest): Promise<void> {
    const { defaultTenant } = this.o;
    const parts = req.timeseriesTenantData && req.timeseriesTenantData.length > 0
      ? req.timeseriesTenantData.map((d) => ({ tenant: d.tenant || defaultTenant, ts: d.timeseries }))
      : [{ tenant: req.tenant || defaultTenant, ts: req.timeseries }];
    let worst: WriteOutcome | undefined;
    for (const p of parts) {
      const o = await this.write(p.tenant, p.ts);
      if (o.status !== 200 && (!worst || o.status === 400)) worst = o;
    }
    if (!worst) return;
    const code = worst.status === 409 ? GrpcStatus.AlreadyExists : worst.status === 400 ? GrpcStatus.InvalidArgument : worst.status === 503 ? GrpcStatus.Unavailable : GrpcStatus.Internal;
    throw new GrpcError(code, worst.message);
  }

  /** Series of every tenant matching the request's matchers, labelled, as a MemoryStore for this request. */
  async snapshot(req: { matchers: Matcher[] }, mint: number, maxt: number, signal: AbortSignal): Promise<MemoryStore> {
    const ms = compileMatchers(req.matchers);
    const all: Array<{ labels: Label[]; chunks: Array<{ minTime: number; maxTime: number; raw: { type: number; data: Uint8Array } }> }> = [];
    for (const t of this.tenants.values()) {
      const extNames = new Set(Object.keys(t.labels));
      // Matchers on external labels are decided by the tenant's label set; the rest go to the TSDB.
      if (!ms.filter((m) => extNames.has(m.name)).every((m) => m.matches(t.labels[m.name]!))) continue;
      const inner = ms.filter((m) => !extNames.has(m.name));
      for (const s of await t.db.select(inner, mint, maxt, signal)) {
        const labels = s.labels.filter((l) => !extNames.has(l.name)).concat(t.labelList).sort((a, b) => compareStrings(a.name, b.name));
        all.push({ labels, chunks: s.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, raw: { type: storeEncoding(c.encoding), data: c.data } })) });
      }
    }
    return new MemoryStore(all, { componentType: 'receive' });
  }

  /**
   * Info as Thanos's TSDBStore: min time = oldest sample held, max time = MaxInt64 (data keeps
   * arriving, so a querier must not prune us by a max time it cached); one label set per tenant.
   * No tenant yet: an empty range (min > max).
   */
  info(): ComponentInfo {
    const sets: Array<Record<string, string>> = [];
    const infos: Array<{ labels: Record<string, string>; minTime: number; maxTime: number }> = [];
    let mint = Infinity;
    for (const t of this.tenants.sorted()) {
      sets.push({ ...t.labels });
      const tmin = t.db.timeRange()?.minTime ?? MIN_TIME;
      infos.push({ labels: { ...t.labels }, minTime: tmin, maxTime: MAX_TIME });
      mint = Math.min(mint, tmin);
    }
    const empty = sets.length === 0;
    return {
      componentType: 'receive',
      labelSets: sets,
      store: {
        minTime: empty ? MAX_TIME : mint, maxTime: empty ? MIN_TIME : MAX_TIME,
        supportsSharding: true, supportsWithoutReplicaLabels: true, tsdbInfos: infos,
      },
    };
  }

  /**
   * One tick per tenant: cut due blocks (flush=true: the whole head), upload new blocks, delete
   * uploaded local blocks past retention. Returns the blocks cut. Errors are logged, not thrown.
   */
  async compactAndShip(flush = false): Promise<string[]> {
    const { fs, log, retentionMs } = this.o;
    const made: string[] = [];
    for (const t of this.tenants.list()) {
      try {
        const cut = await t.db.compact();
        if (flush) {
          const d = await t.db.flush();
          if (d) cut.push(d);
        }
        // Each block cut from the head is one of Prometheus's head compactions.
        if (cut.length > 0) this.m.compactions.inc({ tenant: t.id }, cut.length);
        made.push(...cut);
      } catch (e) {
        log.error('cutting a block failed', { tenant: t.id, err: (e as Error).message });
      }
      let uploaded = new Set<string>();
      if (t.shipper) {
        try {
          const r = await t.shipper.sync();
          if (r.uploaded.length > 0 || r.failed.length > 0) log.info('shipper sync done', { tenant: t.id, uploaded: r.uploaded.length, failed: r.failed.length });
          const meta = await readShipperMeta(fs, fs.resolve(this.root, t.id, 'thanos.shipper.json'));
          uploaded = new Set(meta.uploaded);
        } catch (e) {
          log.warn('shipper sync failed', { tenant: t.id, err: (e as Error).message });
        }
      }
      if (retentionMs > 0) {
        const newest = Math.max(...t.db.blockMetas.map((m) => m.maxTime));
        if (Number.isFinite(newest)) {
          const gone = await t.db.deleteBlocksBefore(newest - retentionMs, (id) => !t.shipper || uploaded.has(id));
          if (gone.length > 0) log.info('deleted local blocks past retention', { tenant: t.id, blocks: gone.join(',') });
        }
      }
      this.tenantMetrics(t);
    }
    return made;
  }
}

/** The head and block gauges of one tenant's TSDB; an empty head reads as Prometheus's (min = MaxInt64, max = MinInt64). */
function updateTenantGauges(m: ReceiverMetrics, t: Tenant): void {
  const tenant = { tenant: t.id };
  const head = t.db.head;
  const empty = head.numSeries === 0 || !Number.isFinite(head.minTime) || !Number.isFinite(head.maxTime);
  m.headSeries.set(head.numSeries, tenant);
  m.headMinTime.set(empty ? 2 ** 63 : head.minTime, tenant);
  m.headMaxTime.set(empty ? -(2 ** 63) : head.maxTime, tenant);
  m.blocksLoaded.set(t.db.blockMetas.length, tenant);
}

function receiverStore(r: Receiver): StoreServer {
  return {
    async *series(req, signal) {
      const mem = await r.snapshot(req, req.minTime, req.maxTime, signal);
      yield* mem.series(req, signal);
    },
    async labelNames(req, signal) {
      const all = req.start === 0 && req.end === 0;
      return (await r.snapshot(req, all ? MIN_TIME : req.start, all ? MAX_TIME : req.end, signal)).labelNames(req, signal);
    },
    async labelValues(req, signal) {
      const all = req.start === 0 && req.end === 0;
      return (await r.snapshot(req, all ? MIN_TIME : req.start, all ? MAX_TIME : req.end, signal)).labelValues(req, signal);
    },
  };
}
