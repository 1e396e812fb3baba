// The StoreAPI as a TypeScript interface: what a store gateway, sidecar, receiver, ruler or a proxy
// implements, what the querier consumes, and what lib/store/server.ts serves over gRPC.
//
// The streaming Series contract (reference §2.1):
// - full series are sent one after another; a series may be split across several frames but is
//   never resumed after the next series has started;
// - series are sorted by labels (Prometheus labels.Compare; with without_replica_labels set, the
//   order is that of the labels with the replica labels removed);
// - chunks within a series are sorted by min time;
// - chunks may extend beyond [min_time, max_time]: the client trims samples to the requested range.
import type {
  LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, SeriesRequest, SeriesResponse,
} from '../proto/store.ts';
import type { InfoResponse } from '../proto/info.ts';

export type {
  AggrChunk, Chunk, LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, Series,
  SeriesRequest, SeriesResponse,
} from '../proto/store.ts';
export type { InfoResponse } from '../proto/info.ts';

export interface StoreServer {
  /** Streams responses (series / warning / hints). Must stop promptly when signal aborts. */
  series(req: SeriesRequest, signal: AbortSignal, opts?: SeriesStreamOptions): AsyncIterable<SeriesResponse>;
  labelNames(req: LabelNamesRequest, signal: AbortSignal): Promise<LabelNamesResponse>;
  labelValues(req: LabelValuesRequest, signal: AbortSignal): Promise<LabelValuesResponse>;
}

/** How a caller consumes a Series stream (a server may ignore these). */
export interface SeriesStreamOptions {
  /**
   * The caller is done with a response when it asks for the next one: it has encoded or copied
   * what it keeps (the gRPC server encodes each frame before it resumes the stream). A server may
   * then hand out chunk bytes in memory it reuses afterwards, marking such responses
   * markTransient(); a caller that holds series across responses (batchSeries) must let go of a
   * transient response's series before it asks for the next one.
   */
  transient?: boolean;
}

const TRANSIENT = Symbol.for('thanos-ts.store.transient');

/** Marks r as transient (SeriesStreamOptions.transient): its chunk bytes are valid until the next response is asked for. */
export function markTransient<T extends SeriesResponse>(r: T): T {
  (r as unknown as Record<symbol, boolean>)[TRANSIENT] = true;
  return r;
}

/** Whether r was marked transient (a wrapper that rebuilds a response carries the mark over). */
export function isTransient(r: SeriesResponse): boolean {
  return (r as unknown as Record<symbol, boolean | undefined>)[TRANSIENT] === true;
}

/** A StoreAPI the proxy can fan out to, with what its Info API advertised (for pruning). */
export interface StoreTarget {
  /** Shown in warnings and errors, e.g. the endpoint address. */
  name: string;
  store: StoreServer;
  /** Advertised time range (inclusive, ms). */
  minTime: number;
  maxTime: number;
  /** Advertised external label sets; empty = matches everything. */
  labelSets: ReadonlyArray<ReadonlyArray<{ name: string; value: string }>>;
  /** Whether the store honours without_replica_labels (Info store.supports_without_replica_labels). */
  supportsWithoutReplicaLabels?: boolean;
  /** Whether the store applies shard_info itself (Info store.supports_sharding); when not, the proxy does. */
  supportsSharding?: boolean;
}

/** Something that also answers Info (our gRPC client does). */
export interface InfoSource {
  info(signal?: AbortSignal): Promise<InfoResponse>;
}

export const MIN_TIME = -9223372036854775808;
export const MAX_TIME = 9223372036854775807;
