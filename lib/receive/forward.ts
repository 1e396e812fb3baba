// The router half of Thanos receive (pkg/receive/handler.go): each series of a write goes to the
// receivers the hashring names for it (replicas 0 .. RF-1), the local one written in process, the
// others over gRPC thanos.WriteableStore/RemoteWrite with the tenant and the 1-indexed replica
// number. A series is stored when a quorum of its replicas took it (RF/2+1; RF=2 needs 1, as
// Thanos); the answer follows Thanos's error classification:
// - every series reached quorum → 200 (failed replicas are logged and counted, not reported);
// - a series failed and the dominant cause is a conflict (out of order, duplicate, out of bounds on
//   at least a quorum of replicas) → 409: resending cannot help, Prometheus drops the batch;
// - otherwise (replicas down, timeouts, mixed causes) → 503, so Prometheus retries the batch.
//   Replicas that already took it see same-valued duplicates, which the head accepts silently.
// Invalid input the ingestors refuse with 400 (labels, limits) stays 400 when it dominates.
// Modes (cmd/thanos/receive.go determineMode): hashring + --receive.local-endpoint = RouterIngestor;
// hashring only = RouterOnly (stores nothing itself); no hashring = IngestorOnly (writes locally;
// gRPC writes go straight to the local TSDB).
import { GrpcError, GrpcStatus, type GrpcClientConn, type GrpcDialer, type Logger, type Metrics } from '../sdk/mod.ts';
import type { TimeSeries } from '../proto/prompb.ts';
import { decodeWriteResponse, encodeStoreWriteRequest, REMOTE_WRITE_METHOD, type StoreWriteRequest } from '../proto/store.ts';
import { SingleNodeHashring, hashWithPrefix, type Endpoint, type Hashring } from './hashring.ts';
import type { WriteOutcome } from './receiver.ts';
import { splitByTenantLabel, SplitTenantError } from './tenants.ts';

export type ReceiverMode = 'RouterOnly' | 'IngestorOnly' | 'RouterIngestor';

/** Thanos's receiveConfig.determineMode. */
export function determineMode(hashringSpecified: boolean, localEndpoint: string): ReceiverMode {
  if (hashringSpecified && localEndpoint !== '') return 'RouterIngestor';
  if (hashringSpecified) return 'RouterOnly';
  return 'IngestorOnly';
}

/** Successes a series needs: RF/2+1, except RF=2 → 1 (Thanos's writeQuorum). */
export function writeQuorum(rf: number): number {
  return rf === 2 ? 1 : Math.floor(rf / 2) + 1;
}

export const ERR_BAD_REPLICA = 'request replica exceeds receiver replication factor';

export interface TenantSeries {
  tenant: string;
  series: readonly TimeSeries[];
}

export interface RouterOptions {
  mode: ReceiverMode;
  replicationFactor: number;
  /** --receive.local-endpoint: the hashring endpoint that is this process ('' in RouterOnly / IngestorOnly). */
  localEndpoint: string;
  /** Tenant of a gRPC write that names none. */
  defaultTenant: string;
  /** --receive.split-tenant-label-name for gRPC writes (the HTTP handler splits its own): '' or absent = off. */
  splitTenantLabelName?: string;
  /** The local TSDB write (Receiver.write). */
  local: (tenant: string, series: readonly TimeSeries[]) => Promise<WriteOutcome>;
  dial: GrpcDialer;
  /** Per forwarded request (Thanos's hidden --receive-forward-timeout, 5s). */
  forwardTimeoutMs: number;
  log: Logger;
  metrics: Metrics;
}

type Kind = 'conflict' | 'bad' | 'notReady' | 'unavailable' | 'internal';

interface Failure {
  kind: Kind;
  reason: string;
}

function kindOfStatus(status: number): Kind {
  return status === 409 ? 'conflict' : status === 400 ? 'bad' : status === 503 ? 'notReady' : 'internal';
}

function kindOfGrpc(code: number): Kind {
  switch (code) {
    case GrpcStatus.AlreadyExists: return 'conflict';
    case GrpcStatus.InvalidArgument: return 'bad';
    case GrpcStatus.Unavailable: return 'unavailable';
    default: return 'internal';
  }
}

// Channel options for peers: grpc-js's default reconnect backoff grows to 120 s, so a receiver
// restarted after a crash would be skipped for minutes; Thanos backs off a peer at most 5 s.
const PEER_CHANNEL = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 5000, 'grpc.min_reconnect_backoff_ms': 200 };

export class Router {
  private ring: Hashring;
  private readonly peers = new Map<string, GrpcClientConn>();
  private readonly m: {
    forwards: ReturnType<Metrics['counter']>;
    replications: ReturnType<Metrics['counter']>;
    pending: ReturnType<Metrics['gauge']>;
  };
  private pendingGrpcWrites = 0;

  constructor(private readonly o: RouterOptions) {
    this.ring = new SingleNodeHashring(o.localEndpoint);
    this.m = {
      forwards: o.metrics.counter('thanos_receive_forward_requests_total', 'The number of forward requests.', ['result']),
      replications: o.metrics.counter('thanos_receive_replications_total', 'The number of replication operations done by the receiver. The success of replication is fulfilled when a quorum is met.', ['result']),
      pending: o.metrics.gauge('thanos_receive_pending_write_requests', 'The number of pending write requests.'),
    };
    // As Thanos's handler: both results exist (at 0) from the start, the replication factor is a gauge.
    for (const result of ['success', 'error']) {
      this.m.forwards.inc({ result }, 0);
      this.m.replications.inc({ result }, 0);
    }
    o.metrics.gauge('thanos_receive_replication_factor', 'The number of times to replicate incoming write requests.').set(Math.max(1, o.replicationFactor));
  }

  get mode(): ReceiverMode {
    return this.o.mode;
  }

  /** Installs a new hashring (undefined: the single local node); connections to peers that left are closed. */
  setHashring(h: Hashring | undefined): void {
    this.ring = h ?? new SingleNodeHashring(this.o.localEndpoint);
    const keep = new Set(this.ring.nodes().map((e) => e.address));
    for (const [addr, c] of this.peers) {
      if (!keep.has(addr)) {
        c.close();
        this.peers.delete(addr);
      }
    }
  }

  hashring(): Hashring {
    return this.ring;
  }

  close(): void {
    for (const c of this.peers.values()) c.close();
    this.peers.clear();
  }

  private peer(addr: string): GrpcClientConn {
    let c = this.peers.get(addr);
    if (!c) {
      c = this.o.dial(addr, { channelOptions: PEER_CHANNEL });
      this.peers.set(addr, c);
    }
    return c;
  }

  /**
   * A write: `rep` is the wire replica number (1-indexed; 0 = not yet replicated — the HTTP header
   * or the gRPC field). Returns the HTTP status and message.
   */
  async handle(rep: number, data: readonly TenantSeries[]): Promise<{ status: number; message: string }> {
    const { mode, replicationFactor: rf } = this.o;
    // A RouterOnly or IngestorOnly receiver treats every write as new (Thanos).
    if (mode !== 'RouterIngestor') rep = 0;
    if (rep > rf) return { status: 400, message: ERR_BAD_REPLICA };
    // An already replicated write: its sender's ring chose this node as replica `rep`, and counts
    // this node's answer as one copy. Stored here, whatever this node's own ring says. Thanos's
    // handler routes it again by the local ring; while a hashring change reaches the nodes at
    // different times, that sends the replica to a node that may already hold another replica of
    // the series (the sender counts two copies where one exists: an acknowledged write below
    // quorum, lost with that node), or back and forth between two nodes whose rings disagree until
    // they converge (test/receive/router: rings disagree). With equal rings both do the same.
    if (rep !== 0) return this.localOnly(data);
    const ring = this.ring;
    if (mode !== 'RouterOnly' && ring instanceof SingleNodeHashring && ring.nodes()[0]!.address === this.o.localEndpoint) {
      return this.localOnly(data);
    }

    // distribute: (endpoint, replica) → tenant → series and their ids
    interface Group { endpoint: Endpoint; replica: number; byTenant: Map<string, { series: TimeSeries[]; ids: number[] }> }
    const groups = new Map<string, Group>();
    let id = 0;
    // the group of the previous series (all of them on a single node ring): no key string per series
    let lastEp: Endpoint | undefined;
    let lastRn = -1;
    let lastT: { series: TimeSeries[]; ids: number[] } | undefined;
    try {
      for (const d of data) {
        lastEp = undefined;
        for (const s of d.series) {
          // one hash per series for all its replicas (a single node ring needs none)
          const h = ring instanceof SingleNodeHashring ? 0n : hashWithPrefix(d.tenant, s.labels);
          for (let rn = 0; rn < rf; rn++) {
            const ep = ring.getNHashed(d.tenant, h, rn);
            let t = ep === lastEp && rn === lastRn ? lastT : undefined;
            if (!t) {
              const key = `${rn}\u0000${ep.address}`;
              let g = groups.get(key);
              if (!g) groups.set(key, (g = { endpoint: ep, replica: rn, byTenant: new Map() }));
              t = g.byTenant.get(d.tenant);
              if (!t) g.byTenant.set(d.tenant, (t = { series: [], ids: [] }));
              lastEp = ep;
              lastRn = rn;
              lastT = t;
            }
            t.series.push(s);
            t.ids.push(id);
          }
          id++;
        }
      }
    } catch (e) {
      this.o.log.error('failed to distribute timeseries to replicas', { err: (e as Error).message });
      return { status: 500, message: (e as Error).message };
    }
    const numSeries = id;
    if (numSeries === 0) return { status: 200, message: '' };

    const threshold = writeQuorum(rf);
    const failureThreshold = rf - threshold + 1;
    const successes = new Int32Array(numSeries);
    const final = new Int32Array(numSeries); // conflicts + bad input: failures a retry cannot fix
    const failures: Array<Failure[] | undefined> = new Array(numSeries);

    const canReturnEarly = () => {
      for (let i = 0; i < numSeries; i++) if (successes[i]! < threshold && final[i]! < failureThreshold) return false;
      return true;
    };

    const settle = (ids: readonly number[], f: Failure | undefined) => {
      for (const i of ids) {
        if (!f) successes[i]!++;
        else {
          (failures[i] ??= []).push(f);
          if (f.kind === 'conflict' || f.kind === 'bad') final[i]!++;
        }
      }
    };

    const sends: Array<Promise<void>> = [];
    for (const g of groups.values()) {
      const local = mode !== 'RouterOnly' && g.endpoint.address === this.o.localEndpoint;
      if (local) {
        for (const [tenant, t] of g.byTenant) {
          sends.push(this.o.local(tenant, t.series).then(
            (out) => settle(t.ids, out.status === 200 ? undefined : { kind: kindOfStatus(out.status), reason: `writing locally: ${out.message}` }),
            (e) => settle(t.ids, { kind: 'internal', reason: `writing locally: ${(e as Error).message}` }),
          ));
        }
        continue;
      }
      const req: StoreWriteRequest = {
        timeseries: [], tenant: '', replica: g.replica + 1,
        timeseriesTenantData: [...g.byTenant].map(([tenant, t]) => ({ tenant, timeseries: t.series as TimeSeries[] })),
      };
      const ids = [...g.byTenant.values()].flatMap((t) => t.ids);
      const addr = g.endpoint.address;
      sends.push((async () => {
        try {
          await this.peer(addr).unary(REMOTE_WRITE_METHOD, req, encodeStoreWriteRequest, decodeWriteResponse, { timeoutMs: this.o.forwardTimeoutMs });
          this.m.forwards.inc({ result: 'success' });
          this.m.replications.inc({ result: 'success' });
          settle(ids, undefined);
        } catch (e) {
          const code = e instanceof GrpcError ? e.code : GrpcStatus.Unknown;
          const kind = kindOfGrpc(code);
          if (kind !== 'conflict') {
            this.m.forwards.inc({ result: 'error' });
            this.m.replications.inc({ result: 'error' });
          }
          const reason = `forwarding request to endpoint ${addr}: ${(e as Error).message}`;
          this.o.log.debug('forward request failed', { endpoint: addr, replica: g.replica, code, err: (e as Error).message });
          settle(ids, { kind, reason });
        }
      })());
    }

    // Wait until every series is decided (quorum reached, or beyond reach by conflicts) or every
    // request answered; the rest finish in the background (they only add replicas).
    await new Promise<void>((resolve) => {
      let left = sends.length;
      for (const p of sends) {
        void p.then(() => {
          left--;
          if (left === 0 || canReturnEarly()) resolve();
        });
      }
    });

    // Thanos's replicationErrors.Cause per failed series: a conflict (or, ours, bad input) on at
    // least `threshold` replicas is final; any other failure to reach quorum is retryable (503).
    // Then writeErrors.Cause over the failed series: retryable first, then conflict, then bad input.
    const causes = new Set<'conflict' | 'bad' | 'retry'>();
    const reasons = new Set<string>();
    for (let i = 0; i < numSeries; i++) {
      const fs = failures[i];
      if (!fs || fs.length < failureThreshold || successes[i]! >= threshold) continue;
      const conflicts = fs.filter((f) => f.kind === 'conflict').length;
      const bad = fs.filter((f) => f.kind === 'bad').length;
      causes.add(conflicts >= threshold && conflicts >= bad ? 'conflict' : bad >= threshold ? 'bad' : 'retry');
      for (const f of fs) if (reasons.size < 10) reasons.add(f.reason);
    }
    if (causes.size === 0) return { status: 200, message: '' };
    const status = causes.has('retry') ? 503 : causes.has('conflict') ? 409 : 400;
    const rs = [...reasons].sort();
    const message = (rs.length > 1 ? `${rs.length} errors: ` : '') + rs.join('; ');
    this.o.log.debug('write failed quorum', { status, err: message });
    return { status, message };
  }

  /**
   * Series all stored on this node, one copy each (a replicated write, or a single-node ring: no
   * hashring given, or none loaded yet): one local write per tenant, answered as the quorum
   * bookkeeping of handle() would answer it (one replica, quorum 1: a tenant's outcome is each of
   * its series' outcome; retryable first, then conflict, then bad input), without grouping the
   * series one by one.
   */
  private async localOnly(data: readonly TenantSeries[]): Promise<{ status: number; message: string }> {
    const failures: Failure[] = [];
    for (const d of data) {
      if (d.series.length === 0) continue;
      try {
        const out = await this.o.local(d.tenant, d.series);
        if (out.status !== 200) failures.push({ kind: kindOfStatus(out.status), reason: `writing locally: ${out.message}` });
      } catch (e) {
        failures.push({ kind: 'internal', reason: `writing locally: ${(e as Error).message}` });
      }
    }
    if (failures.length === 0) return { status: 200, message: '' };
    const kinds = new Set(failures.map((f) => f.kind === 'conflict' || f.kind === 'bad' ? f.kind : 'retry'));
    const status = kinds.has('retry') ? 503 : kinds.has('conflict') ? 409 : 400;
    const rs = [...new Set(failures.map((f) => f.reason))].sort().slice(0, 10);
    const message = (rs.length > 1 ? `${rs.length} errors: ` : '') + rs.join('; ');
    this.o.log.debug('write failed quorum', { status, err: message });
    return { status, message };
  }

  /** thanos.WriteableStore/RemoteWrite served by this receiver. */
  async grpcWrite(req: StoreWriteRequest): Promise<void> {
    this.m.pending.set(++this.pendingGrpcWrites);
    try {
      await this.grpcWriteCounted(req);
    } finally {
      this.m.pending.set(--this.pendingGrpcWrites);
    }
  }

  private async grpcWriteCounted(req: StoreWriteRequest): Promise<void> {
    const data: TenantSeries[] = req.timeseriesTenantData && req.timeseriesTenantData.length > 0
      ? req.timeseriesTenantData.map((d) => ({ tenant: d.tenant || this.o.defaultTenant, series: d.timeseries }))
      : [{ tenant: req.tenant || this.o.defaultTenant, series: req.timeseries }];
    let status: number;
    let message: string;
    if (this.o.mode === 'IngestorOnly') {
      // Thanos's fast path: the router already chose this node; write every tenant locally.
      const errs: WriteOutcome[] = [];
      for (const d of data) {
        const out = await this.o.local(d.tenant, d.series);
        if (out.status !== 200) errs.push({ ...out, message: `writing ${d.tenant} data to local TSDB: ${out.message}` });
      }
      if (errs.length === 0) return;
      // prefer retryable, then conflict, then bad input
      const pick = errs.find((e) => e.status === 503) ?? errs.find((e) => e.status === 409) ?? errs.find((e) => e.status === 400) ?? errs[0]!;
      status = pick.status;
      message = errs.length > 1 ? `got ${errs.length} errors while writing to multiple tenants, first one: ${errs[0]!.message}` : pick.message;
    } else {
      let routed = data;
      const label = this.o.splitTenantLabelName;
      if (label) {
        try {
          routed = data.flatMap((d) => splitByTenantLabel(d.series as TimeSeries[], d.tenant, label));
        } catch (e) {
          if (!(e instanceof SplitTenantError)) throw e;
          throw new GrpcError(GrpcStatus.InvalidArgument, e.message);
        }
      }
      ({ status, message } = await this.handle(req.replica, routed));
    }
    if (status === 200) return;
    const code = status === 503 ? GrpcStatus.Unavailable : status === 409 ? GrpcStatus.AlreadyExists : status === 400 ? GrpcStatus.InvalidArgument : GrpcStatus.Internal;
    throw new GrpcError(code, message);
  }
}
