// Serving a StoreServer over gRPC: builds the host's GrpcServices map (method path -> codec +
// handler) for thanos.Store, thanos.WriteableStore and thanos.info.Info. Malformed requests and
// invalid matchers answer InvalidArgument.
import { GrpcError, GrpcStatus, type GrpcServices } from '../../host/index.ts';
import { MatcherError } from '../labels/mod.ts';
import { decodeInfoRequest, encodeInfoResponse, INFO_METHOD, type InfoResponse } from '../proto/info.ts';
import {
  decodeLabelNamesRequest, decodeLabelValuesRequest, decodeSeriesRequest, decodeStoreWriteRequest, encodeLabelNamesResponse,
  encodeLabelValuesResponse, encodeSeriesResponse, encodeWriteResponse, LABEL_NAMES_METHOD, LABEL_VALUES_METHOD,
  REMOTE_WRITE_METHOD, SERIES_METHOD, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest,
  type LabelValuesResponse, type SeriesRequest, type SeriesResponse, type StoreWriteRequest,
} from '../proto/store.ts';
import { ProtobufError } from '../proto/wire.ts';
import type { StoreServer } from './api.ts';
import { compileMatchers } from './proxy.ts';

/** Maps errors a handler may throw to gRPC statuses: bad input -> InvalidArgument. */
export function toGrpcError(e: unknown): unknown {
  if (e instanceof GrpcError) return e;
  if (e instanceof ProtobufError || e instanceof MatcherError) return new GrpcError(GrpcStatus.InvalidArgument, e.message);
  if (e instanceof Error && e.name === 'AbortError') return new GrpcError(GrpcStatus.Cancelled, e.message);
  return e;
}

function decoder<T>(dec: (b: Uint8Array) => T): (b: Uint8Array) => T {
  return (b) => {
    try {
      return dec(b);
    } catch (e) {
      throw toGrpcError(e);
    }
  };
}

async function* seriesStream(server: StoreServer, req: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
  try {
    compileMatchers(req.matchers);
    yield* server.series(req, signal);
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
      requestDecode: decoder(decodeSeriesRequest),
      responseEncode: (m) => encodeSeriesResponse(m as SeriesResponse),
      handler: (req, signal) => seriesStream(server, req as SeriesRequest, signal),
    },
    [LABEL_NAMES_METHOD]: {
      kind: 'unary',
      requestDecode: decoder(decodeLabelNamesRequest),
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
      requestDecode: decoder(decodeLabelValuesRequest),
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
      requestDecode: decoder(decodeInfoRequest),
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
      requestDecode: decoder(decodeStoreWriteRequest),
      responseEncode: () => encodeWriteResponse(),
      handler: (req, signal, md) =>
        unary(async () => {
          await write(req as StoreWriteRequest, signal, md);
          return {};
        }),
    },
  };
}
