// `thanos receive` (ingestor, replication factor 1): Prometheus remote write into a local TSDB per
// tenant (lib/tsdb/head: in-memory head + WAL, blocks cut every --tsdb.block-duration), served over
// the StoreAPI and uploaded to object storage when one is configured.
//
// - HTTP on --remote-write.address: POST /api/v1/receive (remote write 0.1.0: snappy + prompb).
//   The tenant comes from --receive.tenant-header (default --receive.default-tenant-id). Answers:
//   200 all stored; 400 malformed body, invalid labels or replica number (valid series are still
//   stored); 409 out-of-order / duplicate / too-old samples (the rest is stored); 413 body too big.
//   The WAL record is synced before the answer. GET /api/v1/status/tsdb: head cardinality per tenant.
// - gRPC: thanos.WriteableStore/RemoteWrite (the same path; conflicts → AlreadyExists, bad input →
//   InvalidArgument), thanos.Store Series/LabelNames/LabelValues over blocks + head of every tenant,
//   each series labelled with the external labels (they override same-named labels) and
//   <tenant-label-name>=<tenant>; Info: component "receive", one label set per tenant.
// - Every tick: cut blocks, upload new ones (lib/shipper: meta.json last, thanos.labels = external
//   labels + tenant, source "receive"), apply --tsdb.retention to uploaded local blocks.
// - Shutdown: stop accepting writes, flush every head into a block, upload, return.
import { definePlugin, sleep, GrpcError, GrpcStatus, type Bucket, type Component, type ComponentContext, type HttpListener } from '../../../lib/sdk/mod.ts';
import { compareStrings, labelsFromRecord, type Label, type Labels, type Matcher } from '../../../lib/labels/mod.ts';
import type { TimeSeries } from '../../../lib/proto/prompb.ts';
import type { StoreWriteRequest } from '../../../lib/proto/store.ts';
import { parseRemoteWriteRequest, RemoteError } from '../../../lib/remote/write.ts';
import { MIN_TIME, MAX_TIME, type StoreServer } from '../../../lib/store/api.ts';
import { MemoryStore } from '../../../lib/store/memory.ts';
import { compileMatchers } from '../../../lib/store/proxy.ts';
import { storeServices, writeableStoreServices } from '../../../lib/store/server.ts';
import { readShipperMeta, Shipper } from '../../../lib/shipper/shipper.ts';
import { HeadDB } from '../../../lib/tsdb/head/db.ts';
import type { PrepareResult } from '../../../lib/tsdb/head/head.ts';
import { parseReceiveConfig, receiveFlags, validTenant, type ReceiveConfig } from './config.ts';
import { int64, stringifyJson } from '../../../lib/query/json.ts';

export { parseReceiveConfig, receiveFlags, parseLabelFlag, NO_EXTERNAL_LABELS, type ReceiveConfig } from './config.ts';

interface Tenant {
  id: string;
  db: HeadDB;
  /** External labels + tenant label. */
  labels: Record<string, string>;
  labelList: Label[];
  shipper?: Shipper;
}

export interface WriteOutcome {
  status: number;
  message: string;
  result?: PrepareResult;
}

export interface ReceiveComponent extends Component {
  /** The remote write HTTP handler (what --remote-write.address serves). */
  handle(req: Request): Promise<Response>;
  /** Appends to a tenant (the HTTP and gRPC paths end here). */
  write(tenant: string, series: readonly TimeSeries[]): Promise<WriteOutcome>;
  /** Cuts due blocks and uploads (what each tick does); flush=true cuts whole heads. */
  compactAndShip(flush?: boolean): Promise<string[]>;
  tenants(): string[];
  store: StoreServer;
  /** Address the remote write listener is bound to (after run() started it). */
  remoteWriteAddress(): { hostname: string; port: number } | undefined;
}


async function optionalBucket(ctx: ComponentContext): Promise<Bucket | undefined> {
  try {
    return await ctx.bucket();
  } catch (e) {
    if (/no object stor/i.test((e as Error).message)) return undefined;
    throw e;
  }
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

function fmt(ls: Labels): string {
  return '{' + ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ') + '}';
}

function splitHostPort(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(':');
  let host = addr.slice(0, i);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { hostname: host === '' ? '0.0.0.0' : host, port: Number(addr.slice(i + 1)) };
}

export async function setupReceive(ctx: ComponentContext, cfg: ReceiveConfig): Promise<ReceiveComponent> {
  const log = ctx.log;
  const fs = ctx.fs;
  const root = fs.resolve(cfg.tsdbPath);
  const bucket = await optionalBucket(ctx);
  if (!bucket) log.info('no supported bucket was configured, uploads will be disabled');
  const samplesIn = ctx.metrics.counter('thanos_receive_samples_appended_total', 'Samples appended to the head, by tenant.', ['tenant']);
  const samplesRejected = ctx.metrics.counter('thanos_receive_samples_rejected_total', 'Samples refused (out of order, duplicate, out of bounds), by tenant and reason.', ['tenant', 'reason']);
  const writeRequests = ctx.metrics.counter('thanos_receive_write_requests_total', 'Remote write requests by HTTP status code.', ['code']);
  const headSeries = ctx.metrics.gauge('prometheus_tsdb_head_series', 'Series in the head, by tenant.', ['tenant']);

  const tenants = new Map<string, Tenant>();
  const opening = new Map<string, Promise<Tenant>>();

  async function openTenant(id: string): Promise<Tenant> {
    const labels = { ...cfg.labels, [cfg.tenantLabelName]: id };
    const dir = fs.resolve(root, id);
    const db = new HeadDB({ fs, dir, core: ctx.core, log: log.with({ tenant: id }), blockDuration: cfg.blockDurationMs, thanos: { labels, source: 'receive' } });
    await db.open();
    const t: Tenant = { id, db, labels, labelList: labelsFromRecord(labels) as Label[] };
    if (bucket) {
      t.shipper = new Shipper({ bucket, fs, dir, labels: () => labels, source: 'receive', log: log.with({ component: 'shipper', tenant: id }), metrics: ctx.metrics });
    }
    tenants.set(id, t);
    return t;
  }

  function tenant(id: string): Promise<Tenant> {
    const t = tenants.get(id);
    if (t) return Promise.resolve(t);
    let p = opening.get(id);
    if (!p) {
      p = openTenant(id).finally(() => opening.delete(id));
      opening.set(id, p);
    }
    return p;
  }

  // Existing tenants (their WAL is replayed now; a corrupt WAL fails the start with its error).
  await fs.mkdir(root, { recursive: true });
  for (const f of await fs.readDir(root)) {
    if (f.isDirectory && validTenant(f.name)) await tenant(f.name);
  }

  let accepting = true;

  async function write(tenantId: string, series: readonly TimeSeries[]): Promise<WriteOutcome> {
    if (!accepting) return { status: 503, message: 'receiver is shutting down' };
    if (!validTenant(tenantId)) return { status: 400, message: `invalid tenant ${JSON.stringify(tenantId)}` };
    const t = await tenant(tenantId);
    const res = await t.db.append(series.map((s) => ({ labels: s.labels, samples: s.samples })));
    samplesIn.inc({ tenant: tenantId }, res.samplesAccepted);
    headSeries.set(t.db.head.numSeries, { tenant: tenantId });
    const problems: string[] = [];
    let status = 200;
    const nRej = Object.values(res.rejected).reduce((a, b) => a + b, 0);
    const nBad = Object.values(res.labelErrors).reduce((a, b) => a + b, 0);
    if (nRej > 0) {
      status = 409;
      for (const [k, n] of Object.entries(res.rejected)) if (n > 0) {
        samplesRejected.inc({ tenant: tenantId, reason: k }, n);
        problems.push(`add ${n} samples: ${REJECT_TEXT[k]}`);
      }
      if (res.firstReject) problems.push(`first: ${fmt(res.firstReject.labels)} @ ${res.firstReject.t}`);
    }
    const nHist = series.reduce((n, s) => n + (s.histograms?.length ?? 0), 0);
    if (nHist > 0) {
      status = 400;
      problems.push(`${nHist} native histogram samples refused: native histograms are not supported by this receiver`);
    }
    if (nBad > 0) {
      status = 400;
      for (const [k, n] of Object.entries(res.labelErrors)) if (n > 0) problems.push(`${n} series with ${LABEL_TEXT[k]}`);
      if (res.firstLabelError) problems.push(`first: ${fmt(res.firstLabelError.labels)}`);
    }
    if (status !== 200) log.debug('write partially refused', { tenant: tenantId, status, problems: problems.join('; ') });
    return { status, message: problems.join('; '), result: res };
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === '/api/v1/status/tsdb') return statusTsdb(req, url);
    if (url.pathname !== '/api/v1/receive') return new Response('not found\n', { status: 404 });
    let out: WriteOutcome;
    try {
      const replica = req.headers.get(cfg.replicaHeader);
      if (replica !== null && replica !== '' && !(/^\d+$/.test(replica) && Number(replica) < cfg.replicationFactor)) {
        out = { status: 400, message: `replica count exceeds replication factor: replica ${replica}, replication factor ${cfg.replicationFactor}` };
      } else {
        const wr = await parseRemoteWriteRequest(req, { maxBodyBytes: cfg.maxBodyBytes });
        const tid = req.headers.get(cfg.tenantHeader) || cfg.defaultTenant;
        out = await write(tid, wr.timeseries);
      }
    } catch (e) {
      if (e instanceof RemoteError) out = { status: e.status, message: e.message };
      else {
        log.error('remote write failed', { err: (e as Error).message });
        out = { status: 500, message: (e as Error).message };
      }
    }
    writeRequests.inc({ code: String(out.status) });
    return new Response(out.status === 200 ? '' : out.message + '\n', { status: out.status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }

  /** GET /api/v1/status/tsdb: head cardinality of the tenant in the tenant header (Prometheus's JSON shape). */
  async function statusTsdb(req: Request, url: URL): Promise<Response> {
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (req.method !== 'GET') return json(405, { status: 'error', errorType: 'bad_data', error: `method ${req.method} not allowed, use GET` });
    const lp = url.searchParams.get('limit') ?? '10';
    if (!/^\d+$/.test(lp) || Number(lp) < 1) return json(400, { status: 'error', errorType: 'bad_data', error: `limit must be a positive number, got ${JSON.stringify(lp)}` });
    const tid = req.headers.get(cfg.tenantHeader) || cfg.defaultTenant;
    const t = tenants.get(tid);
    if (!t) return json(404, { status: 'error', errorType: 'not_found', error: `unknown tenant ${JSON.stringify(tid)}` });
    const stats = t.db.head.stats(Number(lp));
    const headStats = { ...stats.headStats, minTime: int64(stats.headStats.minTime), maxTime: int64(stats.headStats.maxTime) };
    return new Response(stringifyJson({ status: 'success', data: { ...stats, headStats } }), { status: 200, headers: { 'content-type': 'application/json' } });
  }

  async function grpcWrite(req: StoreWriteRequest): Promise<void> {
    if (req.replica >= cfg.replicationFactor) throw new GrpcError(GrpcStatus.InvalidArgument, `replica count exceeds replication factor: replica ${req.replica}, replication factor ${cfg.replicationFactor}`);
    const parts = req.timeseriesTenantData && req.timeseriesTenantData.length > 0
      ? req.timeseriesTenantData.map((d) => ({ tenant: d.tenant || cfg.defaultTenant, ts: d.timeseries }))
      : [{ tenant: req.tenant || cfg.defaultTenant, ts: req.timeseries }];
    let worst: WriteOutcome | undefined;
    for (const p of parts) {
      const o = await write(p.tenant, p.ts);
      if (o.status !== 200 && (!worst || o.status === 400)) worst = o;
    }
    if (!worst) return;
    const code = worst.status === 409 ? GrpcStatus.AlreadyExists : worst.status === 400 ? GrpcStatus.InvalidArgument : worst.status === 503 ? GrpcStatus.Unavailable : GrpcStatus.Internal;
    throw new GrpcError(code, worst.message);
  }

  /** Series of every tenant matching the request's matchers, labelled, as a MemoryStore for this request. */
  async function snapshot(req: { matchers: Matcher[] }, mint: number, maxt: number, signal: AbortSignal): Promise<MemoryStore> {
    const ms = compileMatchers(req.matchers);
    const all: Array<{ labels: Label[]; chunks: Array<{ minTime: number; maxTime: number; raw: { type: number; data: Uint8Array } }> }> = [];
    for (const t of tenants.values()) {
      const extNames = new Set(Object.keys(t.labels));
      // Matchers on external labels are decided by the tenant's label set; the rest go to the TSDB.
      if (!ms.filter((m) => extNames.has(m.name)).every((m) => m.matches(t.labels[m.name]!))) continue;
      const inner = ms.filter((m) => !extNames.has(m.name));
      for (const s of await t.db.select(inner, mint, maxt, signal)) {
        const labels = s.labels.filter((l) => !extNames.has(l.name)).concat(t.labelList).sort((a, b) => compareStrings(a.name, b.name));
        all.push({ labels, chunks: s.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, raw: { type: 0, data: c.data } })) });
      }
    }
    return new MemoryStore(all, { componentType: 'receive' });
  }

  const store: StoreServer = {
    async *series(req, signal) {
      const mem = await snapshot(req, req.minTime, req.maxTime, signal);
      yield* mem.series(req, signal);
    },
    async labelNames(req, signal) {
      const all = req.start === 0 && req.end === 0;
      return (await snapshot(req, all ? MIN_TIME : req.start, all ? MAX_TIME : req.end, signal)).labelNames(req, signal);
    },
    async labelValues(req, signal) {
      const all = req.start === 0 && req.end === 0;
      return (await snapshot(req, all ? MIN_TIME : req.start, all ? MAX_TIME : req.end, signal)).labelValues(req, signal);
    },
  };

  async function compactAndShip(flush = false): Promise<string[]> {
    const made: string[] = [];
    for (const t of [...tenants.values()]) {
      try {
        made.push(...(await t.db.compact()));
        if (flush) {
          const d = await t.db.flush();
          if (d) made.push(d);
        }
      } catch (e) {
        log.error('cutting a block failed', { tenant: t.id, err: (e as Error).message });
      }
      let uploaded = new Set<string>();
      if (t.shipper) {
        try {
          const r = await t.shipper.sync();
          if (r.uploaded.length > 0 || r.failed.length > 0) log.info('shipper sync done', { tenant: t.id, uploaded: r.uploaded.length, failed: r.failed.length });
          const meta = await readShipperMeta(fs, fs.resolve(root, t.id, 'thanos.shipper.json'));
          uploaded = new Set(meta.uploaded);
        } catch (e) {
          log.warn('shipper sync failed', { tenant: t.id, err: (e as Error).message });
        }
      }
      if (cfg.retentionMs > 0) {
        const newest = Math.max(...t.db.blockMetas.map((m) => m.maxTime));
        if (Number.isFinite(newest)) {
          const gone = await t.db.deleteBlocksBefore(newest - cfg.retentionMs, (id) => !t.shipper || uploaded.has(id));
          if (gone.length > 0) log.info('deleted local blocks past retention', { tenant: t.id, blocks: gone.join(',') });
        }
      }
      headSeries.set(t.db.head.numSeries, { tenant: t.id });
    }
    return made;
  }

  let listener: HttpListener | undefined;

  return {
    store,
    handle,
    write,
    compactAndShip,
    tenants: () => [...tenants.keys()].sort(),
    remoteWriteAddress: () => listener?.address,
    info() {
      // As Thanos's TSDBStore: min time = oldest sample held, max time = MaxInt64 (data keeps arriving,
      // so a querier must not prune us by a max time it cached). No tenant yet: an empty range (min > max).
      const sets: Array<Record<string, string>> = [];
      const infos: Array<{ labels: Record<string, string>; minTime: number; maxTime: number }> = [];
      let mint = Infinity;
      for (const t of [...tenants.values()].sort((a, b) => compareStrings(a.id, b.id))) {
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
          supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: infos,
        },
      };
    },
    grpc: { ...storeServices(store), ...writeableStoreServices((req) => grpcWrite(req)) },
    async run(signal: AbortSignal) {
      const { hostname, port } = splitHostPort(cfg.remoteWriteAddress);
      listener = await ctx.listen({ hostname, port }, handle);
      log.info('listening for remote write', { address: `${listener.address.hostname}:${listener.address.port}` });
      ctx.setReady(true);
      const tick = Math.max(1000, Math.min(30_000, Math.floor(cfg.blockDurationMs / 4)));
      await compactAndShip();
      while (!signal.aborted) {
        await sleep(tick, signal);
        if (signal.aborted) break;
        await compactAndShip();
      }
      ctx.setReady(false);
      accepting = false;
      await listener.close();
      log.info('flushing heads into blocks before exit');
      await compactAndShip(true);
    },
  };
}

export default definePlugin<ReceiveConfig>({
  manifest: {
    id: 'component:receive',
    apiVersion: 1,
    permissions: { net: true, read: true, write: true },
    description: 'net: serve remote write on --remote-write.address (and gRPC/HTTP); read/write: WAL and blocks under --tsdb.path.',
  },
  flags: receiveFlags,
  parseConfig: parseReceiveConfig,
  setup: (ctx, cfg) => setupReceive(ctx, cfg),
});
