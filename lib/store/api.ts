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
  series(req: SeriesRequest, signal: AbortSignal): AsyncIterable<SeriesResponse>;
  labelNames(req: LabelNamesRequest, signal: AbortSignal): Promise<LabelNamesResponse>;
  labelValues(req: LabelValuesRequest, signal: AbortSignal): Promise<LabelValuesResponse>;
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
