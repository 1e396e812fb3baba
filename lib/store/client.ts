// A typed StoreAPI + Info client over @grpc/grpc-js with our hand-written codecs (no proto loading
// at runtime). Series is an async iterable with backpressure (grpc-js only reads the next message
// when the consumer asks for it) and cancels the call when the AbortSignal fires or the consumer
// stops iterating.
import * as grpc from '@grpc/grpc-js';
import { GrpcError, GrpcStatus } from '../../host/index.ts';
import { decodeInfoResponse, encodeInfoRequest, INFO_METHOD, type InfoResponse } from '../proto/info.ts';
import {
  decodeLabelNamesResponse, decodeLabelValuesResponse, decodeSeriesResponse, decodeWriteResponse, encodeLabelNamesRequest,
  encodeLabelValuesRequest, encodeSeriesRequest, encodeStoreWriteRequest, LABEL_NAMES_METHOD, LABEL_VALUES_METHOD,
  REMOTE_WRITE_METHOD, SERIES_METHOD, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest,
  type LabelValuesResponse, type SeriesRequest, type SeriesResponse, type StoreWriteRequest,
} from '../proto/store.ts';
import type { InfoSource, StoreServer } from './api.ts';

export interface StoreClientOptions {
  /** Defaults to insecure (plaintext) credentials. */
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  /** Deadline for unary calls (Info, LabelNames, LabelValues, RemoteWrite) when no signal ends them first. 0 = none. */
  unaryTimeoutMs?: number;
  /** Metadata sent with every call (e.g. THANOS-TENANT). */
  metadata?: Record<string, string>;
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(typeof r === 'string' ? r : 'the operation was aborted');
  e.name = 'AbortError';
  return e;
}

/** Converts a grpc-js ServiceError to our GrpcError (code + details). */
export function fromServiceError(e: unknown): unknown {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as grpc.ServiceError).code === 'number' && 'details' in e) {
    const se = e as grpc.ServiceError;
    return new GrpcError(se.code, se.details || se.message);
  }
  return e;
}

export class StoreClient implements StoreServer, InfoSource {
  readonly client: grpc.Client;
  private readonly md: grpc.Metadata;

  constructor(readonly address: string, private readonly opts: StoreClientOptions = {}) {
    this.client = new grpc.Client(address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      ...opts.channelOptions,
    });
    this.md = new grpc.Metadata();
    for (const [k, v] of Object.entries(opts.metadata ?? {})) this.md.set(k, v);
  }

  close(): void {
    this.client.close();
  }

  private unary<Req, Res>(method: string, req: Req, enc: (r: Req) => Uint8Array, dec: (b: Uint8Array) => Res, signal?: AbortSignal): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const callOpts: grpc.CallOptions = {};
      if (this.opts.unaryTimeoutMs) callOpts.deadline = Date.now() + this.opts.unaryTimeoutMs;
      let onAbort: (() => void) | undefined;
      const call = this.client.makeUnaryRequest<Req, Res>(
        method,
        (r) => toBuffer(enc(r)),
        (b) => dec(b),
        req,
        this.md.clone(),
        callOpts,
        (err, res) => {
          if (onAbort) signal!.removeEventListener('abort', onAbort);
          if (err) reject(signal?.aborted ? abortError(signal) : fromServiceError(err));
          else resolve(res as Res);
        },
      );
      if (signal) {
        onAbort = () => call.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  info(signal?: AbortSignal): Promise<InfoResponse> {
    return this.unary(INFO_METHOD, {}, encodeInfoRequest, decodeInfoResponse, signal);
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
    signal?.throwIfAborted();
    const call = this.client.makeServerStreamRequest<SeriesRequest, SeriesResponse>(
      SERIES_METHOD,
      (r) => toBuffer(encodeSeriesRequest(r)),
      (b) => decodeSeriesResponse(b),
      req,
      this.md.clone(),
      {},
    );
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const it = call[Symbol.asyncIterator]() as AsyncIterator<SeriesResponse>;
    let finished = false;
    try {
      for (;;) {
        if (signal?.aborted) throw abortError(signal);
        let r: IteratorResult<SeriesResponse>;
        try {
          r = await it.next();
        } catch (e) {
          if (signal?.aborted) throw abortError(signal);
          throw fromServiceError(e);
        }
        if (r.done) break;
        yield r.value;
      }
      finished = true;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!finished) call.cancel();
    }
  }
}

