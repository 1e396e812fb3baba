// go-grpc-prometheus's metrics as Thanos registers them (pkg/server/grpc, pkg/extgrpc):
// grpc_server_* / grpc_client_* families, one reporter per RPC, and InitializeMetrics. The host's
// gRPC server and client (host/server/grpc.ts) report through it into the component's registry.
import { GRPC_CODE_NAMES, grpcCodeName, type Counter, type Histogram, type Metrics } from '../sdk/mod.ts';
import type { GrpcCallLog } from '../web/reqlog.ts';

/** Thanos's grpc_server_handling_seconds buckets (pkg/server/grpc). */
export const GRPC_SERVER_HANDLING_BUCKETS = [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120];
/** Thanos's grpc_client_handling_seconds buckets (pkg/extgrpc StoreClientGRPCOpts). */
export const GRPC_CLIENT_HANDLING_BUCKETS = [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120, 240, 360, 720];

export type GrpcType = 'unary' | 'server_stream' | 'client_stream' | 'bidi_stream';
const LABELS = ['grpc_type', 'grpc_service', 'grpc_method'];

export interface RpcFamilies { started: Counter; handled: Counter; received: Counter; sent: Counter; seconds: Histogram }

export function serverFamilies(m: Metrics): RpcFamilies {
  return {
    started: m.counter('grpc_server_started_total', 'Total number of RPCs started on the server.', LABELS),
    handled: m.counter('grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.', [...LABELS, 'grpc_code']),
    received: m.counter('grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.', LABELS),
    sent: m.counter('grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.', LABELS),
    seconds: m.histogram('grpc_server_handling_seconds', 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.', LABELS, GRPC_SERVER_HANDLING_BUCKETS),
  };
}

export function clientFamilies(m: Metrics): RpcFamilies {
  return {
    started: m.counter('grpc_client_started_total', 'Total number of RPCs started on the client.', LABELS),
    handled: m.counter('grpc_client_handled_total', 'Total number of RPCs completed by the client, regardless of success or failure.', [...LABELS, 'grpc_code']),
    received: m.counter('grpc_client_msg_received_total', 'Total number of RPC stream messages received by the client.', LABELS),
    sent: m.counter('grpc_client_msg_sent_total', 'Total number of gRPC stream messages sent by the client.', LABELS),
    seconds: m.histogram('grpc_client_handling_seconds', 'Histogram of response latency (seconds) of the gRPC until it is finished by the application.', LABELS, GRPC_CLIENT_HANDLING_BUCKETS),
  };
}

/** '/thanos.Store/Series' -> service and method labels. */
export function splitPath(path: string): { service: string; method: string } {
  const i = path.lastIndexOf('/');
  return { service: path.slice(1, i), method: path.slice(i + 1) };
}

/**
 * One RPC's go-grpc-prometheus reporter: started on creation, handled once by done(). Stream
 * messages are added to the counters every MSG_FLUSH messages and at the end (a registry update
 * costs about 1.5 µs, too much per message of a long Series stream): mid-stream the counters may
 * trail go-grpc-prometheus's by fewer than MSG_FLUSH messages, at the end they are exact.
 */
const MSG_FLUSH = 64;
export class RpcReport {
  private readonly labels: Record<string, string>;
  private readonly start = performance.now();
  private finished = false;
  private pendingSent = 0;
  private pendingReceived = 0;
  /** --request.logging-config's lines for this call (absent: not logged). */
  callLog?: GrpcCallLog;
  constructor(private readonly f: RpcFamilies | undefined, type: GrpcType, path: string) {
    const { service, method } = splitPath(path);
    this.labels = { grpc_type: type, grpc_service: service, grpc_method: method };
    f?.started.inc(this.labels);
  }
  received(): void {
    if (this.f && ++this.pendingReceived >= MSG_FLUSH) this.flush();
  }
  sent(): void {
    if (this.f && ++this.pendingSent >= MSG_FLUSH) this.flush();
  }
  private flush(): void {
    if (this.pendingSent) this.f!.sent.inc(this.labels, this.pendingSent);
    if (this.pendingReceived) this.f!.received.inc(this.labels, this.pendingReceived);
    this.pendingSent = this.pendingReceived = 0;
  }
  done(code: number, details?: string): void {
    this.callLog?.finished(code, grpcCodeName(code), details);
    if (this.finished || !this.f) return;
    this.finished = true;
    this.flush();
    this.f.handled.inc({ ...this.labels, grpc_code: grpcCodeName(code) });
    this.f.seconds.observe((performance.now() - this.start) / 1000, this.labels);
  }
}

/** go-grpc-prometheus InitializeMetrics: a method's series exist at 0 (handled for every code) before its first call. */
export function initializeMetrics(f: RpcFamilies, path: string, type: GrpcType): void {
  const { service, method } = splitPath(path);
  const labels = { grpc_type: type, grpc_service: service, grpc_method: method };
  f.started.inc(labels, 0);
  f.received.inc(labels, 0);
  f.sent.inc(labels, 0);
  (f.seconds as Histogram & { init?(l: Record<string, string>): void }).init?.(labels);
  for (const c of GRPC_CODE_NAMES) f.handled.inc({ ...labels, grpc_code: c }, 0);
}
