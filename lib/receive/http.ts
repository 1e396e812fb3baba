// Receive's HTTP API (what --remote-write.address serves):
// - POST /api/v1/receive: remote write 0.1.0 (snappy + prompb). The tenant comes from the tenant
//   header (default: the default tenant); with a hashring the series are routed and replicated
//   (forward.ts: 503 when a series misses its write quorum). 200 all stored; 400 malformed body,
//   invalid labels, labels over the label limits or replica number (valid series are still stored); 409
//   out-of-order / duplicate / out-of-bounds (too old, too far in the future) samples (the rest is
//   stored); 413 body, or its decoded size as the snappy header declares it, over the limit (refused
//   before the rest is read or decoded). The WAL record is written before the answer (not fsynced:
//   Prometheus's and Thanos's durability, an acknowledged write survives a kill -9; lib/tsdb/head/WAL.md).
// - GET /api/v1/status/tsdb: head cardinality of the tenant in the tenant header (Prometheus's JSON).
import { int64, stringifyJson } from '../query/json.ts';
import { parseRemoteWriteRequest, RemoteError } from '../remote/write.ts';
import { samplesIn, WriteRequestDecoder } from '../remote/writedecode.ts';
import type { TimeSeries } from '../proto/prompb.ts';
import type { Receiver } from './receiver.ts';
import { splitByTenantLabel, SplitTenantError, validTenant } from './tenants.ts';
import { INTERNAL_TENANT_HEADER } from '../query/tenancy.ts';
import type { Limiter } from './limits.ts';

export interface ReceiveHttpOptions {
  tenantHeader: string;
  defaultTenant: string;
  /** --receive.split-tenant-label-name: a series naming its tenant in this label goes to that tenant ('' = off). */
  splitTenantLabelName?: string;
  replicaHeader: string;
  /**
   * The write path behind the handler (lib/receive/forward.ts Router.handle: hashring, replication,
   * quorum), given the replica header's number (0 = not replicated). Without it every series is
   * written here (an ingestor without hashring, as Thanos's IngestorOnly mode: the header is ignored).
   */
  route?: (replica: number, tenant: string, series: readonly TimeSeries[]) => Promise<{ status: number; message: string }>;
  /** --receive.limits-config: request size/series/samples (413), head series (429), concurrency. */
  limiter?: Limiter;
  /** Longest accepted remote write body (compressed), bytes. */
  maxBodyBytes: number;
  /** Largest decoded remote write body (--remote-write.max-decoded-bytes), checked in the snappy header before decoding. */
  maxDecodedBytes: number;
}

const ANSWER_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'text/plain; charset=utf-8' };
const STORED_HEADERS: Readonly<Record<string, string>> = { ...ANSWER_HEADERS, 'content-length': '0' };

/** The remote write + status handler over a Receiver. */
export function receiveHttpHandler(r: Receiver, o: ReceiveHttpOptions): (req: Request) => Promise<Response> {
  // One per handler: the label sets of this receiver's senders, decoded once (bounded); bodies
  // decompressed by the receiver's core.
  const decoder = new WriteRequestDecoder({ core: r.core });
  /** Thanos's GetTenantFromHTTP: the tenant header, else the internal THANOS-TENANT header, else the default tenant. */
  const tenantOf = (req: Request): string => req.headers.get(o.tenantHeader) || req.headers.get(INTERNAL_TENANT_HEADER) || o.defaultTenant;

  /**
   * --receive.split-tenant-label-name: undefined when no series names another tenant (the request
   * is written as usual); else each tenant's share is written (routed) and the first failure answers.
   */
  async function splitWrite(replica: number, tid: string, series: readonly TimeSeries[]): Promise<{ status: number; message: string } | undefined> {
    const label = o.splitTenantLabelName!;
    if (!series.some((s) => s.labels.some((l) => l.name === label && l.value !== ''))) return undefined;
    let groups;
    try {
      groups = splitByTenantLabel(series as TimeSeries[], tid, label);
    } catch (e) {
      if (e instanceof SplitTenantError) return { status: 400, message: e.message };
      throw e;
    }
    const outs = await Promise.all(groups.map((g) => (o.route ? o.route(replica, g.tenant, g.series) : r.write(g.tenant, g.series))));
    return outs.find((x) => x.status !== 200) ?? { status: 200, message: '' };
  }
  /** GET /api/v1/status/tsdb: head cardinality of the tenant in the tenant header (Prometheus's JSON shape). */
  async function statusTsdb(req: Request, url: URL): Promise<Response> {
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (req.method !== 'GET') return json(405, { status: 'error', errorType: 'bad_data', error: `method ${req.method} not allowed, use GET` });
    const lp = url.searchParams.get('limit') ?? '10';
    if (!/^\d+$/.test(lp) || Number(lp) < 1) return json(400, { status: 'error', errorType: 'bad_data', error: `limit must be a positive number, got ${JSON.stringify(lp)}` });
    const tid = tenantOf(req);
    const t = r.tenants.find(tid);
    if (!t) return json(404, { status: 'error', errorType: 'not_found', error: `unknown tenant ${JSON.stringify(tid)}` });
    const stats = t.db.head.stats(Number(lp));
    const headStats = { ...stats.headStats, minTime: int64(stats.headStats.minTime), maxTime: int64(stats.headStats.maxTime) };
    return new Response(stringifyJson({ status: 'success', data: { ...stats, headStats } }), { status: 200, headers: { 'content-type': 'application/json' } });
  }

  /** Thanos's order: head series limit, body size (Content-Length, then read and decoded), series, samples. */
  async function limitedWrite(req: Request, replica: number): Promise<{ status: number; message: string }> {
    const tid = tenantOf(req);
    if (!validTenant(tid)) return { status: 400, message: 'tenant name not valid' };
    const lim = o.limiter;
    let sizeLimit = 0;
    if (lim) {
      const h = lim.headSeries(tid);
      if (!h.ok) return h;
      const cl = req.headers.get('content-length');
      if (cl !== null && /^\d+$/.test(cl)) {
        const v = lim.sizeBytes(tid, Number(cl));
        if (!v.ok) return v;
      }
      sizeLimit = lim.config?.tenants.get(tid)?.request.sizeBytesLimit ?? lim.config?.defaultRequest.sizeBytesLimit ?? 0;
    }
    let wr;
    try {
      wr = await parseRemoteWriteRequest(req, {
        maxBodyBytes: sizeLimit > 0 ? Math.min(sizeLimit, o.maxBodyBytes) : o.maxBodyBytes,
        maxDecodedBytes: sizeLimit > 0 ? Math.min(sizeLimit, o.maxDecodedBytes) : o.maxDecodedBytes, maxDecodedHint: '--remote-write.max-decoded-bytes', decoder,
      });
    } catch (e) {
      // over the tenant's size_bytes_limit (compressed or decoded): Thanos's text
      if (e instanceof RemoteError && e.status === 413 && sizeLimit > 0 && sizeLimit < Math.max(o.maxBodyBytes, o.maxDecodedBytes)) {
        lim!.sizeBytes(tid, sizeLimit + 1);
        return { status: 413, message: 'write request too large' };
      }
      throw e;
    }
    if (lim) {
      const v = lim.seriesAndSamples(tid, wr.timeseries.length, samplesIn(wr.timeseries));
      if (!v.ok) return v;
    }
    if (o.splitTenantLabelName) {
      const split = await splitWrite(replica, tid, wr.timeseries);
      if (split) return split;
    }
    // Thanos observes the request size by the status it is answered with once it reaches the write path.
    let status = 500;
    try {
      const out = o.route ? await o.route(replica, tid, wr.timeseries) : await r.write(tid, wr.timeseries);
      status = out.status;
      return out;
    } finally {
      if (wr.timeseries.length > 0) r.observeWrite(status, tid, wr.timeseries);
    }
  }

  return async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === '/api/v1/status/tsdb') return statusTsdb(req, url);
    if (url.pathname !== '/api/v1/receive') return new Response('not found\n', { status: 404 });
    let out: { status: number; message: string };
    const release = o.limiter ? await o.limiter.gate() : undefined;
    try {
      // Thanos: the header is a 1-indexed replica number (empty: not yet replicated).
      const replica = req.headers.get(o.replicaHeader) ?? '';
      if (replica !== '' && !/^\d{1,19}$/.test(replica)) {
        out = { status: 400, message: 'could not parse replica header' };
      } else {
        out = await limitedWrite(req, replica === '' ? 0 : Number(replica));
      }
    } catch (e) {
      if (e instanceof RemoteError) out = { status: e.status, message: e.message };
      else {
        r.log.error('remote write failed', { err: (e as Error).message });
        out = { status: 500, message: (e as Error).message };
      }
    }
    release?.();
    // A stored write answers without a body: the response goes out in one socket write (a body, even
    // an empty string, is streamed after the headers: two writes, each a loopback wake-up of the sender).
    // Both answers declare their length: the host passes an answer of declared length to the socket
    // as it is (without it the server's lightweight Response became a full one, pumped through a web
    // stream, and went out chunked); Go's receive answers a stored write with Content-Length: 0.
    if (out.status === 200) return new Response(null, { status: 200, headers: STORED_HEADERS });
    const body = new TextEncoder().encode(out.message + '\n');
    return new Response(body, { status: out.status, headers: { ...ANSWER_HEADERS, 'content-length': String(body.byteLength) } });
  };
}
