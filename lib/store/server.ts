// Serving a StoreServer over gRPC: builds the host's GrpcServices map (method path -> codec +
// handler) for thanos.Store, thanos.WriteableStore and thanos.info.Info. Malformed requests and
// invalid matchers answer InvalidArgument.
import { GrpcError, GrpcStatus, type GrpcServices } from '../sdk/mod.ts';
import { MatcherError } from '../labels/mod.ts';
import { decodeInfoRequest, encodeInfoResponse, INFO_METHOD, type InfoResponse } from '../proto/info.ts';
import {
  decodeLabelNamesRequest, decodeLabelValuesRequest, decodeSeriesRequest, decodeStoreWriteRequest, encodeLabelNamesResponse,
  encodeLabelValuesResponse, encodeSeriesResponse, encodeWriteResponse, LABEL_NAMES_METHOD, LABEL_VALUES_METHOD,
  REMOTE_WRITE_METHOD, SERIES_METHOD, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest,
  type LabelValuesResponse, type Series, type SeriesRequest, type SeriesResponse, type StoreWriteRequest,
} from '../proto/store.ts';
import { ProtobufError } from '../proto/wire.ts';
import { isTransient, type StoreServer } from './api.ts';
import { compileMatchers } from './proxy.ts';
import { filterShard } from './shard.ts';

/** Maps errors a handler may throw to gRPC statuses: bad input -> InvalidArgument. */
export function toGrpcError(e: unknown): unknown {
  if (e instanceof GrpcError) return e;
  if (e instanceof ProtobufError || e instanceof MatcherError) return new GrpcError(GrpcStatus.InvalidArgument, e.message);
  if (e instanceof Error && e.name === 'AbortError') return new GrpcError(GrpcStatus.Cancelled, e.message);
  return e;
}

/** A gRPC requestDecode that maps decoding errors with `toErr` (default toGrpcError: bad input -> InvalidArgument). */
export function grpcDecoder<T>(dec: (b: Uint8Array) => T, toErr: (e: unknown) => unknown = toGrpcError): (b: Uint8Array) => T {
  return (b) => {
    try {
      return dec(b);
    } catch (e) {
      throw toErr(e);
    }
  };
}

/** Most series per SeriesBatch frame when a client asks for batching (response_batch_size). */
export const MAX_RESPONSE_BATCH = 1024;
/**
 * A batch frame is flushed once its chunk payload passes this many bytes. The gRPC server's stream
 * buffers a number of messages (grpc-js: 16 in its writable, as many again below) before write()
 * asks the handler to wait, whatever their size: small frames keep what a client that reads
 * slowly leaves buffered at ~1 MiB per stream instead of 32 frames of series.
 */
const BATCH_FLUSH_BYTES = 32 * 1024;

/**
 * Applies response_batch_size (Thanos >= 0.41): series are grouped into SeriesBatch frames of at
 * most that many series (bounded by bytes too); warnings and hints flush the pending batch first so
 * the order of the stream is kept. A transient response's series (api.ts markTransient: their chunk
 * bytes are reused once the next response is asked for) are flushed before the next is pulled.
 */
export async function* batchSeries(src: AsyncIterable<SeriesResponse>, batchSize: number): AsyncGenerator<SeriesResponse> {
  if (batchSize <= 1) {
    // clients that did not ask for batches (Thanos < 0.41 does not know SeriesBatch) get single series
    for await (const r of src) {
      if (r.type === 'batch') for (const s of r.batch) yield { type: 'series', series: s };
      else yield r;
    }
    return;
  }
  const max = Math.min(batchSize, MAX_RESPONSE_BATCH);
  let batch: Series[] = [];
  let bytes = 0;
  for await (const r of src) {
    if (r.type === 'series' || r.type === 'batch') {
      for (const s of r.type === 'series' ? [r.series] : r.batch) {
        batch.push(s);
        for (const c of s.chunks) bytes += (c.raw?.data.length ?? 0) + (c.count?.data.length ?? 0) + (c.sum?.data.length ?? 0) + (c.min?.data.length ?? 0) + (c.max?.data.length ?? 0) + (c.counter?.data.length ?? 0);
        if (batch.length >= max || bytes >= BATCH_FLUSH_BYTES) {
          yield { type: 'batch', batch };
          batch = [];
          bytes = 0;
        }
      }
      if (batch.length > 0 && isTransient(r)) {
        yield { type: 'batch', batch };
        batch = [];
        bytes = 0;
      }
    } else {
      if (batch.length > 0) {
        yield { type: 'batch', batch };
        batch = [];
        bytes = 0;
      }
      yield r;
    }
  }
  if (batch.length > 0) yield { type: 'batch', batch };
}

async function* seriesStream(server: StoreServer, req: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
  try {
    compileMatchers(req.matchers);
    // shard_info (vertical query sharding) is applied here, for every store served over gRPC
    // transient: every frame is encoded (copied) by the gRPC server before the stream is resumed.
    yield* batchSeries(filterShard(server.series(req, signal, { transient: true }), req.shardInfo), req.responseBatchSize);
  } catch (e) {
    throw toGrpcError(e);
  }
}

async function unary<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw toGrpcError(e);
  }
}

/** thanos.Store/{Series,LabelNames,LabelValues} for a StoreServer. */
export function storeServices(server: StoreServer): GrpcServices {
  return {
    [SERIES_METHOD]: {
      kind: 'serverStream',
      requestDecode: grpcDecoder(decodeSeriesRequest),
      responseEncode: (m) => encodeSeriesResponse(m as SeriesResponse),
      handler: (req, signal) => seriesStream(server, req as SeriesRequest, signal),
    },
    [LABEL_NAMES_METHOD]: {
      kind: 'unary',
      requestDecode: grpcDecoder(decodeLabelNamesRequest),
      responseEncode: (m) => encodeLabelNamesResponse(m as LabelNamesResponse),
      handler: (req, signal) =>
        unary(async () => {
          const r = req as LabelNamesRequest;
          compileMatchers(r.matchers);
          return server.labelNames(r, signal);
        }),
    },
    [LABEL_VALUES_METHOD]: {
      kind: 'unary',
      requestDecode: grpcDecoder(decodeLabelValuesRequest),
      responseEncode: (m) => encodeLabelValuesResponse(m as LabelValuesResponse),
      handler: (req, signal) =>
        unary(async () => {
          const r = req as LabelValuesRequest;
          if (r.label === '') throw new GrpcError(GrpcStatus.InvalidArgument, 'label name parameter cannot be empty');
          compileMatchers(r.matchers);
          return server.labelValues(r, signal);
        }),
    },
  };
}

/** thanos.info.Info/Info answering with info() on every call. */
export function infoServices(info: () => InfoResponse | Promise<InfoResponse>): GrpcServices {
  return {
    [INFO_METHOD]: {
      kind: 'unary',
      requestDecode: grpcDecoder(decodeInfoRequest),
      responseEncode: (m) => encodeInfoResponse(m as InfoResponse),
      handler: () => unary(async () => info()),
    },
  };
}

/** thanos.WriteableStore/RemoteWrite (Receive replication). */
export function writeableStoreServices(write: (req: StoreWriteRequest, signal: AbortSignal, metadata: Record<string, string>) => Promise<void>): GrpcServices {
  return {
    [REMOTE_WRITE_METHOD]: {
      kind: 'unary',
      requestDecode: grpcDecoder(decodeStoreWriteRequest),
      responseEncode: () => encodeWriteResponse(),
      handler: (req, signal, md) =>
        unary(async () => {
          await write(req as StoreWriteRequest, signal, md);
          return {};
        }),
    },
  };
}
