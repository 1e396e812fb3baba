// A typed StoreAPI + Info client with our hand-written codecs, on a gRPC connection the caller
// dialled (a plugin: ctx.grpcDial, checked against its net grant; @grpc/grpc-js underneath, in the
// host). The client owns the connection: close() closes it. Series is an async iterable with backpressure
// (grpc-js reads the next message only when the consumer asks for it); it cancels the call when the
// AbortSignal fires or the consumer stops iterating. Errors are GrpcError (code + details).
import { GrpcError, GrpcStatus, type GrpcCallOptions as CallOptions, type GrpcClientConn } from '../sdk/mod.ts';
import {
  decodeInfoResponse, decodeLegacyStoreInfo, encodeInfoRequest, INFO_METHOD, infoFromLegacy, LEGACY_STORE_INFO_METHOD, type InfoResponse,
} from '../proto/info.ts';
import {
  decodeLabelNamesResponse, decodeLabelValuesResponse, decodeSeriesResponse, decodeWriteResponse, encodeLabelNamesRequest,
  encodeLabelValuesRequest, encodeSeriesRequest, encodeStoreWriteRequest, LABEL_NAMES_METHOD, LABEL_VALUES_METHOD,
  REMOTE_WRITE_METHOD, SERIES_METHOD, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest,
  type LabelValuesResponse, type SeriesRequest, type SeriesResponse, type StoreWriteRequest,
} from '../proto/store.ts';
import type { InfoSource, StoreServer } from './api.ts';

export interface StoreClientOptions {
  /** Deadline for unary calls (Info, LabelNames, LabelValues, RemoteWrite). 0 = none. */
  unaryTimeoutMs?: number;
  /** Metadata sent with every call (e.g. THANOS-TENANT). */
  metadata?: Record<string, string>;
  /**
   * response_batch_size to ask for when a SeriesRequest leaves it 0 (Thanos >= 0.41 servers and ours
   * then send SeriesBatch frames; older servers ignore it). Default 64; 0 keeps one series per frame.
   */
  responseBatchSize?: number;
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof Error) return r;
  return new GrpcError(GrpcStatus.Cancelled, typeof r === 'string' ? r : 'the operation was aborted');
}

export class StoreClient implements StoreServer, InfoSource {
  /** The dialled target. */
  readonly address: string;

  /** `conn` from ctx.grpcDial(address) (channel options go there). */
  constructor(private readonly raw: GrpcClientConn, private readonly opts: StoreClientOptions = {}) {
    this.address = raw.target;
  }

  close(): void {
    this.raw.close();
  }

  private callOpts(signal: AbortSignal | undefined, unary: boolean): CallOptions {
    const o: CallOptions = {};
    if (signal) o.signal = signal;
    if (this.opts.metadata) o.metadata = this.opts.metadata;
    if (unary && this.opts.unaryTimeoutMs) o.timeoutMs = this.opts.unaryTimeoutMs;
    return o;
  }

  private async unary<Req, Res>(path: string, req: Req, enc: (r: Req) => Uint8Array, dec: (b: Uint8Array) => Res, signal?: AbortSignal): Promise<Res> {
    try {
      return await this.raw.unary(path, req, enc, dec, this.callOpts(signal, true));
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw e;
    }
  }

  /**
   * thanos.info.Info/Info; peers older than the Info API (Thanos < 0.25: Unimplemented) are asked
   * the legacy thanos.Store/Info instead, answered as a StoreAPI.
   */
  async info(signal?: AbortSignal): Promise<InfoResponse> {
    try {
      return await this.unary(INFO_METHOD, {}, encodeInfoRequest, decodeInfoResponse, signal);
    } catch (e) {
      if (!(e instanceof GrpcError) || e.code !== GrpcStatus.Unimplemented) throw e;
      return infoFromLegacy(await this.unary(LEGACY_STORE_INFO_METHOD, {}, encodeInfoRequest, decodeLegacyStoreInfo, signal));
    }
  }

  labelNames(req: LabelNamesRequest, signal?: AbortSignal): Promise<LabelNamesResponse> {
    return this.unary(LABEL_NAMES_METHOD, req, encodeLabelNamesRequest, decodeLabelNamesResponse, signal);
  }

  labelValues(req: LabelValuesRequest, signal?: AbortSignal): Promise<LabelValuesResponse> {
    return this.unary(LABEL_VALUES_METHOD, req, encodeLabelValuesRequest, decodeLabelValuesResponse, signal);
  }

  async remoteWrite(req: StoreWriteRequest, signal?: AbortSignal): Promise<void> {
    await this.unary(REMOTE_WRITE_METHOD, req, encodeStoreWriteRequest, decodeWriteResponse, signal);
  }

  async *series(req: SeriesRequest, signal?: AbortSignal): AsyncGenerator<SeriesResponse> {
    if (signal?.aborted) throw abortError(signal);
    const batch = this.opts.responseBatchSize ?? 64;
    if (req.responseBatchSize === 0 && batch > 0) req = { ...req, responseBatchSize: batch };
    const it = this.raw.serverStream(SERIES_METHOD, req, encodeSeriesRequest, decodeSeriesResponse, this.callOpts(signal, false))[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        // messages already buffered by grpc-js must not leak out after a cancel
        if (signal?.aborted) throw abortError(signal);
        let r: IteratorResult<SeriesResponse>;
        try {
          r = await it.next();
        } catch (e) {
          if (signal?.aborted) throw abortError(signal);
          throw e;
        }
        if (r.done) break;
        yield r.value;
      }
      finished = true;
    } finally {
      if (!finished) await it.return?.();
    }
  }
}
