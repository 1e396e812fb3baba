// gRPC over @grpc/grpc-js with generic service definitions: every method moves raw bytes, and the
// GrpcServices handlers (host/index.ts) decode/encode their own messages. A GrpcError's code becomes
// the status; other errors are Unknown. A client cancel aborts the handler's signal.
// Also the raw client behind Capabilities.grpcDial (unary + server-streaming by method path) that
// typed clients (lib/store/client.ts) are built on; plugins get it only through the checked capability.
//
// Both ends, as Thanos's pkg/server/grpc and pkg/extgrpc do:
// - TLS (host/server/tls.ts): the server's certificate is re-read when its files change and handed to
//   the listening socket for new connections; a client CA makes client certificates required. The
//   client verifies the server (CA, server name) unless skip-verify, and presents its certificate,
//   re-read for each new connection.
// - go-grpc-prometheus metrics (lib/net/grpcmetrics.ts: grpc_server_* / grpc_client_*, Thanos's buckets), in the
//   registry the caller gives (the component's own); the server's series of every method exist at 0
//   from the start, as InitializeMetrics does.
// - Trace context through @opentelemetry/api: the server extracts it from the request metadata and
//   runs the handler in a server span named by the method path ("/thanos.Store/Series"); the client
//   starts a client span and injects it into the outgoing metadata. With no SDK registered these are
//   the API's no-ops (another module registers one when tracing is configured).
import * as net from 'node:net';
import * as tls from 'node:tls';
import type * as Grpc from '@grpc/grpc-js';
import { requireCjs } from '../../lib/cjs/require.ts';
import { context as otelContext, type Span } from '../../lib/cjs/otel-api.ts';
import { clientSpan, endSpan, serverSpan } from '../../lib/tracing/grpc.ts';
import {
  GrpcError, GrpcStatus, grpcCodeName, type GrpcCallOptions, type GrpcClientConn, type GrpcDialOptions, type GrpcMethod, type GrpcServices, type Logger,
  type Metrics, type GrpcClientTlsOptions,
} from '../index.ts';
import { clientFamilies, initializeMetrics, RpcReport, serverFamilies, type GrpcType, type RpcFamilies } from '../../lib/net/grpcmetrics.ts';
import { StreamPacer } from '../../lib/net/stream-pacer.ts';
import { grpcTargetHostPorts, targetHost } from '../../lib/net/grpc-target.ts';
import { splitHostPort } from '../../lib/net/hostport.ts';

export { grpcTargetHostPorts };
import { H2GrpcClient, H2Metadata } from '../../lib/net/grpc-h2-stream.ts';
import type { Registry } from '../metrics.ts';
import { grpcCallLog, type GrpcCallLog, type GrpcRequestLogging } from '../../lib/web/reqlog.ts';
import { parseAddress } from './http.ts';
import { loadClientTls, loadServerTls, type ClientTls, type ServerTls, type ServerTlsFiles } from './tls.ts';

/** grpc-js is CommonJS: required, not imported (lib/cjs/require.ts says why). */
const grpc = requireCjs<typeof Grpc>('@grpc/grpc-js');

const toBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const ident = (b: Buffer): Buffer => b;

export const GRPC_OPTIONS: Grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

/**
 * The HTTP/2 flow-control window our clients give each stream and their connection (grpc-js leaves
 * HTTP/2's 64 KiB). A server stream (Series) could run only 64 KiB ahead of the client's reading,
 * and every 32 KiB waited for a WINDOW_UPDATE through both processes' event loops: on a 10k-series
 * instant query (2.9 MB in 157 frames) the store waited for the querier and the querier for the
 * network, the two working nearly in turn instead of side by side. Go's gRPC grows its windows from
 * a bandwidth-delay estimate up to 16 MiB. 1 MiB covers what a store sends while a querier decodes
 * a batch (a few ms) and needs a WINDOW_UPDATE per 512 KiB read; it is also what one connection can
 * leave unread in the client (test/store-gateway/memory-bound: a client that stops reading).
 */
export const CLIENT_FLOW_CONTROL_WINDOW = 1 << 20;

function statusOf(err: unknown): { code: number; details: string } {
  if (err instanceof GrpcError) return { code: err.code, details: err.message };
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof e?.code === 'number' && e.code > 0 && e.code <= 16) return { code: e.code, details: String(e.message ?? '') };
  if (e?.name === 'AbortError') return { code: GrpcStatus.Cancelled, details: String(e.message ?? 'cancelled') };
  return { code: GrpcStatus.Unknown, details: err instanceof Error ? err.message : String(err) };
}

function metadataRecord(md: Grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = typeof v === 'string' ? v : v.toString('base64');
  return out;
}

/**
 * The call's abort signal: fired when the client cancels or the server stops (`outer`, which lives as
 * long as the server). `release` removes the call's listener from `outer` when the call ends: left
 * there, every call ever served kept its controller alive and made the next addEventListener
 * longer (EventTarget scans its listeners for a duplicate), unbounded memory and CPU per call.
 */
function cancelSignal(call: Grpc.ServerUnaryCall<Buffer, Buffer> | Grpc.ServerWritableStream<Buffer, Buffer>, outer?: AbortSignal): { ac: AbortController; release: () => void } {
  const ac = new AbortController();
  // grpc-js emits 'cancelled' after every call, a finished one too (its sendStatus ends in
  // notifyOnCancel): `release` takes the listener off first, so a call that ended does not build a
  // GrpcError (a stack trace) and fire its signal's listeners for nothing, ~0.1 ms of every call.
  const onCancelled = () => ac.abort(new GrpcError(GrpcStatus.Cancelled, 'cancelled by the client'));
  call.on('cancelled', onCancelled);
  if (!outer || outer.aborted) {
    if (outer) ac.abort(outer.reason);
    return { ac, release: () => { call.off('cancelled', onCancelled); } };
  }
  const onOuter = () => ac.abort(outer.reason);
  outer.addEventListener('abort', onOuter, { once: true });
  return { ac, release: () => { call.off('cancelled', onCancelled); outer.removeEventListener('abort', onOuter); } };
}

function decodeOrStatus(m: GrpcMethod, buf: Buffer): { ok: true; req: unknown } | { ok: false; code: number; details: string } {
  try {
    return { ok: true, req: m.requestDecode(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)) };
  } catch (err) {
    return { ok: false, code: GrpcStatus.InvalidArgument, details: `cannot decode request: ${(err as Error).message}` };
  }
}

/** Starts a call's request log (--request.logging-config) when it has one: the one hook of lib/web/reqlog.ts. */
function startCallLog(rl: RequestLogHook, report: RpcReport, path: string, type: GrpcType, call: Grpc.ServerUnaryCall<Buffer, Buffer> | Grpc.ServerWritableStream<Buffer, Buffer>, span?: Span): void {
  const sc = span?.spanContext();
  const deadline = call.getDeadline();
  report.callLog = grpcCallLog(rl.cfg, rl.log, {
    path, type, peer: call.getPeer(),
    requestIds: call.metadata.get('request-id').map(String),
    traceId: sc && (sc.traceFlags & 1) === 1 ? sc.traceId : undefined,
    deadline: deadline instanceof Date ? deadline : Number.isFinite(deadline) ? new Date(deadline) : undefined,
  });
  report.callLog?.started();
}

interface RequestLogHook { cfg: GrpcRequestLogging; log: Logger }

function implement(path: string, m: GrpcMethod, fam: RpcFamilies | undefined, log?: Logger, outer?: AbortSignal, rl?: RequestLogHook): Grpc.UntypedHandleCall {
  if (m.kind === 'unary') {
    return (call: Grpc.ServerUnaryCall<Buffer, Buffer>, cb: Grpc.sendUnaryData<Buffer>) => {
      // As in Go, a request that does not decode is refused before the interceptors: no metrics, no span.
      const d = decodeOrStatus(m, call.request);
      if (!d.ok) return cb({ code: d.code, details: d.details });
      const report = new RpcReport(fam, 'unary', path);
      report.received();
      const { span, ctx } = serverSpan(path, call.metadata);
      if (rl) startCallLog(rl, report, path, 'unary', call, span);
      const { ac, release } = cancelSignal(call, outer);
      const finish = (code: number, details?: string) => {
        release();
        report.sent(); // go-grpc-prometheus counts the reply even when the handler failed
        report.done(code, details);
        endSpan(span, code, details);
      };
      otelContext.with(ctx, () => m.handler(d.req, ac.signal, metadataRecord(call.metadata))).then(
        (res) => {
          let buf: Buffer;
          try {
            buf = toBuffer(m.responseEncode(res));
          } catch (err) {
            const s = { code: GrpcStatus.Internal, details: `cannot encode response: ${(err as Error).message}` };
            finish(s.code, s.details);
            return cb(s);
          }
          finish(GrpcStatus.OK);
          cb(null, buf);
        },
        (err) => {
          const s = statusOf(err);
          if (s.code === GrpcStatus.Unknown || s.code === GrpcStatus.Internal) log?.warn('grpc handler failed', { method: path, err: s.details });
          finish(s.code, s.details);
          cb(s);
        },
      );
    };
  }
  return (call: Grpc.ServerWritableStream<Buffer, Buffer>) => {
    const report = new RpcReport(fam, 'server_stream', path);
    report.received(); // the request message (RecvMsg), counted even when it does not decode, as in Go
    const d = decodeOrStatus(m, call.request);
    if (rl) startCallLog(rl, report, path, 'server_stream', call);
    if (!d.ok) {
      report.done(d.code, d.details);
      call.emit('error', { code: d.code, details: d.details });
      return;
    }
    const { span, ctx } = serverSpan(path, call.metadata);
    const { ac, release } = cancelSignal(call, outer);
    (async () => {
      try {
        // Each step of the handler's generator runs inside the call's trace context.
        const it = otelContext.with(ctx, () => m.handler(d.req, ac.signal, metadataRecord(call.metadata))[Symbol.asyncIterator]());
        // Pacing (how far the handler runs ahead of the connection) lives in lib/net/stream-pacer.ts.
        const pacer = new StreamPacer<Buffer>({
          write: (buf, flushed) => call.write(buf, flushed),
          get cancelled() { return call.cancelled; },
          onCancel: (fn) => { call.on('cancelled', fn); return () => call.off('cancelled', fn); },
        });
        try {
          for (;;) {
            const r = await otelContext.with(ctx, () => it.next());
            if (r.done) break;
            if (ac.signal.aborted || call.cancelled) break;
            report.sent();
            const buf = toBuffer(m.responseEncode(r.value));
            const wait = pacer.write(buf);
            if (wait !== undefined) await wait;
          }
        } finally {
          if (ac.signal.aborted || call.cancelled) await it.return?.(undefined)?.catch(() => {});
        }
        if (call.cancelled) {
          report.done(GrpcStatus.Cancelled, 'cancelled by the client');
          endSpan(span, GrpcStatus.Cancelled, 'cancelled by the client');
          return;
        }
        call.end();
        report.done(GrpcStatus.OK);
        endSpan(span, GrpcStatus.OK);
      } catch (err) {
        const s = call.cancelled ? { code: GrpcStatus.Cancelled, details: 'cancelled by the client' } : statusOf(err);
        report.done(s.code, s.details);
        endSpan(span, s.code, s.details);
        if (call.cancelled) return;
        if (s.code === GrpcStatus.Unknown || s.code === GrpcStatus.Internal) log?.warn('grpc stream handler failed', { method: path, err: s.details });
        call.emit('error', s);
      } finally {
        release();
      }
    })();
  };
}

/**
 * Server credentials over a ServerTls: the listening socket starts with the current certificate and
 * gets each reloaded one through grpc-js's watcher (http2 server setSecureContext), so running
 * connections keep theirs and new ones see the new certificate.
 */
class ReloadingServerCredentials extends grpc.ServerCredentials {
  private readonly unsubscribe: () => void;
  constructor(readonly tls: ServerTls) {
    super({ requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert }, tls.options());
    this.unsubscribe = tls.onReload((o) => this.updateSecureContextOptions(o));
  }
  _equals(other: Grpc.ServerCredentials): boolean {
    return other === this;
  }
  close(): void {
    this.unsubscribe();
    this.tls.close();
  }
}

export interface GrpcListener {
  port: number;
  address: string;
  /** Graceful: finish running calls up to graceMs, then force. */
  close(graceMs?: number): Promise<void>;
}

export interface GrpcServerOptions {
  log?: Logger;
  signal?: AbortSignal;
  /** Serve TLS with these files (--grpc-server-tls-*); absent or all empty: plaintext. */
  tls?: ServerTlsFiles;
  /** grpc_server_* metrics go here (the component's registry). */
  metrics?: Registry;
  /** --grpc-server-max-connection-age: connections are closed (gracefully) after this long; 0: never. */
  maxConnectionAgeMs?: number;
  /** --request.logging-config's gRPC part (absent: no request logging). */
  requestLog?: GrpcRequestLogging;
}

/** Serves `services` (method path -> handler) on addr. */
export async function startGrpc(addr: string, services: GrpcServices, opts: GrpcServerOptions = {}): Promise<GrpcListener> {
  const { hostname, port } = parseAddress(addr, 'gRPC address');
  const serverTls = opts.tls ? loadServerTls({ ...opts.tls, log: opts.tls.log ?? opts.log, what: opts.tls.what ?? 'gRPC server' }) : undefined;
  const creds = serverTls ? new ReloadingServerCredentials(serverTls) : grpc.ServerCredentials.createInsecure();
  const server = new grpc.Server({
    ...GRPC_OPTIONS,
    ...(opts.maxConnectionAgeMs ? { 'grpc.max_connection_age_ms': opts.maxConnectionAgeMs } : {}),
  });
  const fam = opts.metrics ? serverFamilies(opts.metrics) : undefined;
  // Thanos's gRPC server logger carries service=gRPC/server.
  const rl = opts.requestLog && opts.log ? { cfg: opts.requestLog, log: opts.log.with({ service: 'gRPC/server' }) } : undefined;
  const bySvc = new Map<string, Array<[string, string, GrpcMethod]>>();
  for (const [p, m] of Object.entries(services)) {
    const mm = /^\/([^/]+)\/([^/]+)$/.exec(p);
    if (!mm) throw new Error(`invalid gRPC method path "${p}" (expected /package.Service/Method)`);
    const list = bySvc.get(mm[1]!) ?? [];
    list.push([p, mm[2]!, m]);
    bySvc.set(mm[1]!, list);
  }
  for (const [, methods] of bySvc) {
    const def: Record<string, Grpc.MethodDefinition<Buffer, Buffer>> = {};
    const impl: Grpc.UntypedServiceImplementation = {};
    for (const [p, name, m] of methods) {
      def[name] = {
        path: p, requestStream: false, responseStream: m.kind === 'serverStream',
        requestSerialize: ident, requestDeserialize: ident, responseSerialize: ident, responseDeserialize: ident,
      };
      impl[name] = implement(p, m, fam, opts.log, opts.signal, rl);
      if (fam) initializeMetrics(fam, p, m.kind === 'unary' ? 'unary' : 'server_stream');
    }
    server.addService(def as Grpc.ServiceDefinition, impl);
  }
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  const closeCreds = () => { if (creds instanceof ReloadingServerCredentials) creds.close(); };
  // An IP literal is bound through grpc-js's ipv4:/ipv6: scheme, not its default dns: one: the DNS
  // resolver, even for a literal, arms a backoff timer on local-time Date methods, whose first use
  // loads ICU's time-zone rules for the life of the process (about 0.5 MiB resident). Same address.
  const ipScheme = net.isIPv4(hostname) ? 'ipv4:' : net.isIPv6(hostname) ? 'ipv6:' : '';
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${ipScheme}${host}:${port}`, creds, (err, p) =>
      err ? reject(new Error(`listen on ${addr} (gRPC): ${err.message}`, { cause: err })) : resolve(p)),
  ).catch((err) => { closeCreds(); throw err; });
  if (serverTls) opts.log?.info('gRPC server TLS enabled', { client_certificates: serverTls.requireClientCert ? 'required' : 'not requested', min_version: serverTls.minVersion });
  return {
    port: bound,
    address: `${host}:${bound}`,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      }).finally(closeCreds),
  };
}

export type CallOptions = GrpcCallOptions;

export interface DialOptions {
  channelOptions?: Grpc.ChannelOptions;
  /** TLS to the server (from loadClientTls); absent: plaintext. */
  tls?: ClientTls;
  /** grpc_client_* metrics go here. */
  metrics?: Metrics;
}

/** An unchecked dial (the host's own use and tests); plugins get the checked Capabilities.grpcDial. */
export function dialGrpc(target: string, options: GrpcDialOptions & { clientTls?: ClientTls; metrics?: Metrics } = {}): GrpcClientConn {
  const clientTls = options.clientTls ?? (options.tls ? loadClientTls({ secure: true, ...options.tls, what: 'gRPC client' }) : undefined);
  return new RawGrpcClient(target, { channelOptions: (options.channelOptions ?? {}) as Grpc.ChannelOptions, tls: clientTls, metrics: options.metrics });
}

/**
 * One ClientTls per distinct settings: a querier dials every endpoint with the same files, which are
 * then loaded and watched once. Paths must be absolute (the caller resolved and checked them).
 */
export class ClientTlsCache {
  private readonly byKey = new Map<string, ClientTls>();
  constructor(private readonly log?: Logger) {}
  get(o: GrpcClientTlsOptions): ClientTls {
    const key = JSON.stringify([o.certFile ?? '', o.keyFile ?? '', o.caFile ?? '', o.serverName ?? '', !!o.skipVerify, o.minVersion ?? '']);
    let t = this.byKey.get(key);
    if (!t) {
      t = loadClientTls({ secure: true, ...o, log: this.log, what: 'gRPC client' })!;
      this.byKey.set(key, t);
    }
    return t;
  }
}

/**
 * Channel credentials over a ClientTls. grpc-js builds one connector per subchannel and reuses it
 * for reconnects; this one makes each TLS connection from the current files (a rotated client
 * certificate is presented from the next connection on, as Thanos's GetClientCertificate does) and
 * verifies the server itself: against the CA, with the server name if one was given, else the
 * dialled host; nothing with skip-verify. No SNI for an IP address (RFC 6066).
 */
class ReloadingChannelCredentials extends grpc.ChannelCredentials {
  constructor(private readonly tls: ClientTls, private readonly host: string) {
    super();
  }
  _isSecure(): boolean {
    return true;
  }
  _equals(other: Grpc.ChannelCredentials): boolean {
    return other === this;
  }
  _createSecureConnector(_target: unknown, _options: unknown, callCredentials?: Grpc.CallCredentials) {
    const creds = callCredentials ?? grpc.CallCredentials.createEmpty();
    const t = this.tls;
    const name = t.serverName || this.host;
    return {
      connect: (socket: net.Socket) => new Promise<{ socket: net.Socket; secure: boolean }>((resolve, reject) => {
        const s = tls.connect({
          socket,
          host: name,
          servername: net.isIP(name) ? undefined : name,
          secureContext: t.secureContext(),
          ALPNProtocols: ['h2'],
          rejectUnauthorized: !t.skipVerify,
          checkServerIdentity: (_h, cert) => (t.skipVerify ? undefined : tls.checkServerIdentity(name, cert)),
        }, () => resolve({ socket: s, secure: true }));
        s.once('error', reject);
      }),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => creds,
      destroy: () => {},
    };
  }
}

/**
 * Raw client: call any method by path with your own encode/decode. Errors are GrpcError.
 * Server-streaming calls (Series) to a target of one address without channel options go over
 * lib/net/grpc-h2-stream.ts (its own HTTP/2 connection, about half grpc-js's CPU per call);
 * unary calls and other targets over grpc-js. Both report the same metrics and spans.
 */
export class RawGrpcClient implements GrpcClientConn {
  private readonly client: Grpc.Client;
  private readonly streams: H2GrpcClient | undefined;
  private readonly fam: RpcFamilies | undefined;
  private closed = false;

  constructor(readonly target: string, o: DialOptions = {}) {
    const creds = o.tls ? new ReloadingChannelCredentials(o.tls, targetHost(target)) : grpc.credentials.createInsecure();
    this.client = new grpc.Client(target, creds, { ...GRPC_OPTIONS, 'grpc-node.flow_control_window': CLIENT_FLOW_CONTROL_WINDOW, ...o.channelOptions });
    this.fam = o.metrics ? clientFamilies(o.metrics) : undefined;
    const hps = grpcTargetHostPorts(target);
    if (hps.length === 1 && Object.keys(o.channelOptions ?? {}).length === 0) {
      const { hostname, port } = splitHostPort(hps[0]!);
      this.streams = new H2GrpcClient(hostname, port, { tls: o.tls, windowBytes: CLIENT_FLOW_CONTROL_WINDOW });
    }
  }

  /** Metadata, deadline and the client span (its context injected into the metadata). */
  private callOpts(path: string, o: CallOptions): { md: Grpc.Metadata; opts: Grpc.CallOptions; span: Span } {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(o.metadata ?? {})) md.set(k, v);
    const span = clientSpan(path, md);
    return { md, opts: o.timeoutMs ? { deadline: Date.now() + o.timeoutMs } : {}, span };
  }

  unary<Req, Res>(path: string, req: Req, encode: (m: Req) => Uint8Array, decode: (b: Uint8Array) => Res, o: CallOptions = {}): Promise<Res> {
    if (o.signal?.aborted) return Promise.reject(new GrpcError(GrpcStatus.Cancelled, 'cancelled before the call'));
    const { md, opts, span } = this.callOpts(path, o);
    const report = new RpcReport(this.fam, 'unary', path);
    report.sent();
    return new Promise<Res>((resolve, reject) => {
      const call = this.client.makeUnaryRequest<Req, Buffer>(path, (m) => toBuffer(encode(m)), ident, req, md, opts, (err, res) => {
        o.signal?.removeEventListener('abort', onAbort);
        report.received();
        if (err) {
          const code = err.code ?? GrpcStatus.Unknown;
          report.done(code);
          endSpan(span, code, err.details || err.message);
          return reject(new GrpcError(code, err.details || err.message));
        }
        report.done(GrpcStatus.OK);
        endSpan(span, GrpcStatus.OK);
        try {
          resolve(decode(new Uint8Array(res!.buffer, res!.byteOffset, res!.byteLength)));
        } catch (e) {
          reject(new GrpcError(GrpcStatus.Internal, `cannot decode response of ${path}: ${(e as Error).message}`));
        }
      });
      const onAbort = () => call.cancel();
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async *serverStream<Req, Res>(path: string, req: Req, encode: (m: Req) => Uint8Array, decode: (b: Uint8Array) => Res, o: CallOptions = {}): AsyncIterable<Res> {
    if (o.signal?.aborted) throw new GrpcError(GrpcStatus.Cancelled, 'cancelled before the call');
    let call: AsyncIterable<Buffer> & { cancel(): void };
    let span: Span;
    if (this.streams) {
      const md = new H2Metadata();
      for (const [k, v] of Object.entries(o.metadata ?? {})) md.set(k, v);
      span = clientSpan(path, md);
      call = this.streams.serverStream(path, encode(req), { metadata: md.map, deadline: o.timeoutMs ? Date.now() + o.timeoutMs : undefined });
    } else {
      const co = this.callOpts(path, o);
      span = co.span;
      call = this.client.makeServerStreamRequest<Req, Buffer>(path, (m) => toBuffer(encode(m)), ident, req, co.md, co.opts);
    }
    const report = new RpcReport(this.fam, 'server_stream', path);
    report.sent();
    const onAbort = () => call.cancel();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      for await (const buf of call) {
        report.received();
        yield decode(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      }
      finished = true;
      report.received(); // the RecvMsg that saw the end of the stream, as go-grpc-prometheus counts it
      report.done(GrpcStatus.OK);
      endSpan(span, GrpcStatus.OK);
    } catch (err) {
      const e = err as Grpc.ServiceError;
      const code = typeof e.code === 'number' ? e.code : GrpcStatus.Unknown;
      report.received();
      report.done(code);
      endSpan(span, code, e.details || e.message);
      throw new GrpcError(code, e.details || e.message);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      if (!finished) {
        call.cancel();
        // The consumer stopped early: the call ends cancelled (a no-op when the catch above reported it).
        report.done(GrpcStatus.Cancelled);
        if (span.isRecording()) endSpan(span, GrpcStatus.Cancelled, 'cancelled by the caller');
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    this.streams?.close();
  }
}
