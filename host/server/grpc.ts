// gRPC over @grpc/grpc-js with generic service definitions: every method moves raw bytes, and the
// GrpcServices handlers (host/index.ts) decode/encode their own messages. A GrpcError's code becomes
// the status; other errors are Unknown. A client cancel aborts the handler's signal.
// Also the raw client behind Capabilities.grpcDial (unary + server-streaming by method path) that
// typed clients (lib/store/client.ts) are built on; plugins get it only through the checked capability.
import * as grpc from '@grpc/grpc-js';
import {
  GrpcError, GrpcStatus, type GrpcCallOptions, type GrpcClientConn, type GrpcDialOptions, type GrpcMethod, type GrpcServices, type Logger,
} from '../index.ts';
import { parseAddress } from './http.ts';

const toBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const ident = (b: Buffer): Buffer => b;

export const GRPC_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

function statusOf(err: unknown): { code: number; details: string } {
  if (err instanceof GrpcError) return { code: err.code, details: err.message };
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof e?.code === 'number' && e.code > 0 && e.code <= 16) return { code: e.code, details: String(e.message ?? '') };
  if (e?.name === 'AbortError') return { code: GrpcStatus.Cancelled, details: String(e.message ?? 'cancelled') };
  return { code: GrpcStatus.Unknown, details: err instanceof Error ? err.message : String(err) };
}

function metadataRecord(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = typeof v === 'string' ? v : v.toString('base64');
  return out;
}

function cancelSignal(call: grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>, outer?: AbortSignal): AbortController {
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort(new GrpcError(GrpcStatus.Cancelled, 'cancelled by the client')));
  if (outer) {
    if (outer.aborted) ac.abort(outer.reason);
    else outer.addEventListener('abort', () => ac.abort(outer.reason), { once: true });
  }
  return ac;
}

function decodeOrStatus(m: GrpcMethod, buf: Buffer): { ok: true; req: unknown } | { ok: false; code: number; details: string } {
  try {
    return { ok: true, req: m.requestDecode(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)) };
  } catch (err) {
    return { ok: false, code: GrpcStatus.InvalidArgument, details: `cannot decode request: ${(err as Error).message}` };
  }
}

function implement(path: string, m: GrpcMethod, log?: Logger, outer?: AbortSignal): grpc.UntypedHandleCall {
  if (m.kind === 'unary') {
    return (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const d = decodeOrStatus(m, call.request);
      if (!d.ok) return cb({ code: d.code, details: d.details });
      const ac = cancelSignal(call, outer);
      m.handler(d.req, ac.signal, metadataRecord(call.metadata)).then(
        (res) => cb(null, toBuffer(m.responseEncode(res))),
        (err) => {
          const s = statusOf(err);
          if (s.code === GrpcStatus.Unknown || s.code === GrpcStatus.Internal) log?.warn('grpc handler failed', { method: path, err: s.details });
          cb(s);
        },
      );
    };
  }
  return (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
    const d = decodeOrStatus(m, call.request);
    if (!d.ok) { call.emit('error', { code: d.code, details: d.details }); return; }
    const ac = cancelSignal(call, outer);
    (async () => {
      try {
        for await (const msg of m.handler(d.req, ac.signal, metadataRecord(call.metadata))) {
          if (ac.signal.aborted || call.cancelled) break;
          if (!call.write(toBuffer(m.responseEncode(msg)))) {
            await new Promise<void>((resolve) => {
              const done = () => { call.off('drain', done); call.off('cancelled', done); resolve(); };
              call.on('drain', done);
              call.on('cancelled', done);
            });
          }
        }
        if (!call.cancelled) call.end();
      } catch (err) {
        if (call.cancelled) return;
        const s = statusOf(err);
        if (s.code === GrpcStatus.Unknown || s.code === GrpcStatus.Internal) log?.warn('grpc stream handler failed', { method: path, err: s.details });
        call.emit('error', s);
      }
    })();
  };
}

export interface GrpcListener {
  port: number;
  address: string;
  /** Graceful: finish running calls up to graceMs, then force. */
  close(graceMs?: number): Promise<void>;
}

/** Serves `services` (method path -> handler) on addr. */
export async function startGrpc(addr: string, services: GrpcServices, opts: { log?: Logger; signal?: AbortSignal } = {}): Promise<GrpcListener> {
  const { hostname, port } = parseAddress(addr, 'gRPC address');
  const server = new grpc.Server(GRPC_OPTIONS);
  const bySvc = new Map<string, Array<[string, string, GrpcMethod]>>();
  for (const [p, m] of Object.entries(services)) {
    const mm = /^\/([^/]+)\/([^/]+)$/.exec(p);
    if (!mm) throw new Error(`invalid gRPC method path "${p}" (expected /package.Service/Method)`);
    const list = bySvc.get(mm[1]!) ?? [];
    list.push([p, mm[2]!, m]);
    bySvc.set(mm[1]!, list);
  }
  for (const [, methods] of bySvc) {
    const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [p, name, m] of methods) {
      def[name] = {
        path: p, requestStream: false, responseStream: m.kind === 'serverStream',
        requestSerialize: ident, requestDeserialize: ident, responseSerialize: ident, responseDeserialize: ident,
      };
      impl[name] = implement(p, m, opts.log, opts.signal);
    }
    server.addService(def as grpc.ServiceDefinition, impl);
  }
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`listen on ${addr} (gRPC): ${err.message}`, { cause: err })) : resolve(p)));
  return {
    port: bound,
    address: `${host}:${bound}`,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      }),
  };
}

export type CallOptions = GrpcCallOptions;

/**
 * The host:port descriptors a gRPC target connects to, for the `net` check: `host:port`,
 * `[v6]:port`, `dns:host:port`, `dns:///host:port`, `dns://authority/host:port`, `ipv4:a:p,b:p`,
 * `ipv6:[a]:p,...`; no port means 443 (grpc-js's default). Other schemes (unix:, ...) are refused.
 */
export function grpcTargetHostPorts(target: string): string[] {
  let rest = target;
  let list = false;
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\d+$)/i.exec(rest);
  if (scheme && !/^\[/.test(rest)) {
    const s = scheme[1]!.toLowerCase();
    if (s === 'dns') {
      rest = rest.slice(4);
      if (rest.startsWith('//')) rest = rest.slice(rest.indexOf('/', 2) + 1);
    } else if (s === 'ipv4' || s === 'ipv6') {
      rest = rest.slice(5);
      list = true;
    } else if (!/^[^:]+:\d+$/.test(target)) {
      throw new Error(`gRPC target "${target}": scheme ${s}: is not supported (use host:port, dns:, ipv4: or ipv6:)`);
    }
  }
  return (list ? rest.split(',') : [rest]).map((a) => {
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(a);
    if (v6) return `[${v6[1]}]:${v6[2] ?? '443'}`;
    const hp = /^([^:/]+)(?::(\d+))?$/.exec(a);
    if (hp) return `${hp[1]}:${hp[2] ?? '443'}`;
    if (a.includes(':') && !a.includes('/')) return `[${a}]:443`; // bare IPv6 address
    throw new Error(`gRPC target "${target}": cannot tell its host:port`);
  });
}

/** An unchecked dial (the host's own use and tests); plugins get the checked Capabilities.grpcDial. */
export function dialGrpc(target: string, options: GrpcDialOptions = {}): GrpcClientConn {
  return new RawGrpcClient(target, (options.channelOptions ?? {}) as grpc.ChannelOptions);
}

/** Raw client: call any method by path with your own encode/decode. Errors are GrpcError. */
export class RawGrpcClient implements GrpcClientConn {
  private readonly client: grpc.Client;
  private closed = false;

  constructor(readonly target: string, options: grpc.ChannelOptions = {}) {
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), { ...GRPC_OPTIONS, ...options });
  }

  private callOpts(o: CallOptions): { md: grpc.Metadata; opts: grpc.CallOptions } {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(o.metadata ?? {})) md.set(k, v);
    return { md, opts: o.timeoutMs ? { deadline: Date.now() + o.timeoutMs } : {} };
  }

  unary<Req, Res>(path: string, req: Req, encode: (m: Req) => Uint8Array, decode: (b: Uint8Array) => Res, o: CallOptions = {}): Promise<Res> {
    const { md, opts } = this.callOpts(o);
    return new Promise<Res>((resolve, reject) => {
      if (o.signal?.aborted) return reject(new GrpcError(GrpcStatus.Cancelled, 'cancelled before the call'));
      const call = this.client.makeUnaryRequest<Req, Buffer>(path, (m) => toBuffer(encode(m)), ident, req, md, opts, (err, res) => {
        o.signal?.removeEventListener('abort', onAbort);
        if (err) return reject(new GrpcError(err.code ?? GrpcStatus.Unknown, err.details || err.message));
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
    const { md, opts } = this.callOpts(o);
    if (o.signal?.aborted) throw new GrpcError(GrpcStatus.Cancelled, 'cancelled before the call');
    const call = this.client.makeServerStreamRequest<Req, Buffer>(path, (m) => toBuffer(encode(m)), ident, req, md, opts);
    const onAbort = () => call.cancel();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      for await (const buf of call as AsyncIterable<Buffer>) {
        yield decode(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      }
      finished = true;
    } catch (err) {
      const e = err as grpc.ServiceError;
      throw new GrpcError(typeof e.code === 'number' ? e.code : GrpcStatus.Unknown, e.details || e.message);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      if (!finished) call.cancel();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
