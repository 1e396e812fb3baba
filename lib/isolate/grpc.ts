// A component's own gRPC services across the isolation channel (lib/isolate/wire.ts, issue #22).
// The host registers each method on its gRPC server as for an inline component, with identity
// codecs (the server moves raw bytes), and forwards every call to the plugin's process: the
// request bytes ride in the call, a unary answer in the reply, a server stream's messages as a
// byte stream of length-prefixed messages with the channel's credits (a slow gRPC client holds
// the plugin's generator back). The plugin decodes, runs its handler and encodes there. A client
// cancel or a deadline aborts the handler's AbortSignal in the process; a GrpcError keeps its code
// (wire.ts serializes it), other errors are Unknown as inline.
import { GrpcError, GrpcStatus } from '../sdk/errors.ts';
import type { GrpcCallOptions, GrpcClientConn, GrpcDialOptions, GrpcMethod, GrpcServices } from '../sdk/plugin.ts';
import { bodyIn } from './bucket.ts';
import type { Incoming, Outgoing, Peer } from './wire.ts';

/** What the plugin's process says about its services at setup: method path and kind. */
export type GrpcMethodList = Array<[string, GrpcMethod['kind']]>;

/**
 * The largest single message of a forwarded server stream. The plugin's process may be hostile: a
 * length prefix beyond this fails the call instead of the host buffering it.
 */
export const MAX_GRPC_MESSAGE = 256 * 1024 * 1024;

/**
 * A whole message for the other side: inline in its frame when small, else as a byte stream (a
 * frame holds at most wire.ts MAX_FRAME; a larger one would close the channel).
 */
function messageOut(b: Uint8Array): Outgoing {
  if (b.length <= INLINE_MESSAGE) return { bin: b };
  let sent = false;
  return {
    value: {},
    bytes: new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent) return c.close();
        sent = true;
        c.enqueue(b);
      },
    }, { highWaterMark: 0 }),
  };
}

/** A whole message from the other side (inline or streamed), at most MAX_GRPC_MESSAGE bytes. */
async function messageIn(i: Incoming): Promise<Uint8Array> {
  if (!i.stream) return i.bin ?? new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of i.stream as ReadableStream<Uint8Array>) {
    n += p.length;
    if (n > MAX_GRPC_MESSAGE) {
      await (i.stream as ReadableStream).cancel().catch(() => {});
      throw new GrpcError(GrpcStatus.ResourceExhausted, `a message of more than ${MAX_GRPC_MESSAGE} bytes across the isolation channel`);
    }
    parts.push(p);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** Messages up to this size ride inline in their call or answer frame. */
const INLINE_MESSAGE = 256 * 1024;

export function describeServices(s: GrpcServices | undefined): GrpcMethodList {
  return Object.entries(s ?? {}).map(([p, m]) => [p, m.kind]);
}

const identity = (b: Uint8Array): Uint8Array => b;

/** Aborts the process-side call `id` when `signal` fires; returns the unsubscribe. */
function forwardAbort(peer: Peer, id: number, signal: AbortSignal): () => void {
  const onAbort = () => peer.note('g.cancel', [id, String((signal.reason as Error | undefined)?.message ?? 'cancelled')]);
  if (signal.aborted) { onAbort(); return () => {}; }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * Splits a byte stream of [u32 length][message] records into the messages. The pieces of a message
 * spanning chunks are kept apart and joined once, so a large message costs one copy.
 */
async function* messagesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let have = 0;
  /** The first `n` buffered bytes, removed from the buffer (a view when they lie in one part). */
  const take = (n: number): Uint8Array => {
    if (parts[0]!.length >= n) {
      const out = parts[0]!.subarray(0, n);
      if (parts[0]!.length === n) parts.shift();
      else parts[0] = parts[0]!.subarray(n);
      have -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const p = parts[0]!;
      const k = Math.min(p.length, n - off);
      out.set(p.subarray(0, k), off);
      off += k;
      if (k === p.length) parts.shift();
      else parts[0] = p.subarray(k);
    }
    have -= n;
    return out;
  };
  let need = -1;
  try {
    for (;;) {
      for (;;) {
        if (need < 0) {
          if (have < 4) break;
          const h = take(4);
          need = new DataView(h.buffer, h.byteOffset, 4).getUint32(0);
          if (need > MAX_GRPC_MESSAGE) throw new GrpcError(GrpcStatus.Internal, `the plugin process sent a message of ${need} bytes (at most ${MAX_GRPC_MESSAGE})`);
        }
        if (have < need) break;
        const m = take(need);
        need = -1;
        yield m;
      }
      const { done, value } = await reader.read();
      if (done) {
        if (have > 0 || need >= 0) throw new GrpcError(GrpcStatus.Internal, 'the plugin process ended a stream inside a message');
        return;
      }
      if (value.length > 0) { parts.push(value); have += value.length; }
    }
  } finally {
    // Ended early (client cancel, error): the channel's cancel stops the plugin's sender.
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The host's side: GrpcServices whose every call is answered by the plugin's process. */
export function proxyGrpcServices(peer: Peer, list: GrpcMethodList): GrpcServices {
  let nextCall = 1;
  const out: GrpcServices = {};
  // The list comes from the plugin's process: checked before it shapes the host's gRPC server.
  if (!Array.isArray(list) || !list.every((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string')) {
    throw new Error('the plugin process described its gRPC services malformed (expected [path, kind] pairs)');
  }
  for (const [path, kind] of list) {
    if (kind === 'unary') {
      out[path] = {
        kind: 'unary', requestDecode: identity, responseEncode: (m) => m as Uint8Array,
        async handler(req, signal, metadata) {
          const id = nextCall++;
          const off = forwardAbort(peer, id, signal);
          try {
            const r = await peer.call('grpc', [id, path, metadata], messageOut(req as Uint8Array));
            return await messageIn(r);
          } finally {
            off();
          }
        },
      };
    } else if (kind === 'serverStream') {
      out[path] = {
        kind: 'serverStream', requestDecode: identity, responseEncode: (m) => m as Uint8Array,
        async *handler(req, signal, metadata) {
          const id = nextCall++;
          const off = forwardAbort(peer, id, signal);
          try {
            const r = await peer.call('grpc', [id, path, metadata], messageOut(req as Uint8Array));
            yield* messagesOf(bodyIn(r));
          } finally {
            off();
          }
        },
      };
    } else {
      throw new Error(`gRPC method ${path}: kind ${String(kind)} is not one the host serves`);
    }
  }
  return out;
}

/** The plugin process's side: its services, answering the host's 'grpc' calls and 'g.cancel' notes. */
export class GrpcServe {
  private readonly calls = new Map<number, AbortController>();
  constructor(private readonly services: GrpcServices) {}

  /** A 'g.cancel' note: the host's client cancelled, or its deadline passed. */
  cancel(id: number, why: string): void {
    this.calls.get(id)?.abort(new GrpcError(GrpcStatus.Cancelled, why));
  }

  async call(args: unknown[], inc: Incoming): Promise<Outgoing> {
    const [id, path, metadata] = args as [number, string, Record<string, string>];
    // Taken first, so a refused call does not leave the host's sender waiting for credit.
    const bytes = await messageIn(inc);
    const m = this.services[path];
    if (!m) throw new GrpcError(GrpcStatus.Unimplemented, `unknown method ${path}`);
    let req: unknown;
    try {
      req = m.requestDecode(bytes);
    } catch (err) {
      throw new GrpcError(GrpcStatus.InvalidArgument, `cannot decode request: ${(err as Error).message}`);
    }
    const ac = new AbortController();
    this.calls.set(id, ac);
    if (m.kind === 'unary') {
      try {
        const res = await m.handler(req, ac.signal, metadata ?? {});
        return messageOut(encodeOrStatus(m, res));
      } catch (err) {
        throw asGrpcError(err);
      } finally {
        this.calls.delete(id);
      }
    }
    let it: AsyncIterator<unknown>;
    try {
      it = m.handler(req, ac.signal, metadata ?? {})[Symbol.asyncIterator]();
    } catch (err) {
      this.calls.delete(id);
      throw asGrpcError(err);
    }
    return { value: {}, bytes: framedStream(it, (v) => encodeOrStatus(m, v), ac, () => { this.calls.delete(id); }) };
  }
}

/**
 * A server stream's messages as [u32 length][message] records, pulled as the channel grants credit.
 * Cancelled (the host's client went away): the handler's signal aborts and its generator returns.
 */
function framedStream(it: AsyncIterator<unknown>, encode: (v: unknown) => Uint8Array, ac: AbortController, finish: () => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: async (c) => {
      try {
        const r = await it.next();
        if (r.done) { finish(); c.close(); return; }
        const msg = encode(r.value);
        const rec = new Uint8Array(4 + msg.length);
        new DataView(rec.buffer).setUint32(0, msg.length);
        rec.set(msg, 4);
        c.enqueue(rec);
      } catch (err) {
        finish();
        c.error(asGrpcError(err));
      }
    },
    cancel: async () => {
      ac.abort(new GrpcError(GrpcStatus.Cancelled, 'cancelled by the client'));
      finish();
      await it.return?.(undefined)?.catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * The status of a handler's error, as the host's gRPC server reads it inline (host/server/grpc.ts
 * statusOf): a GrpcError, or any error with a numeric code 1-16 (a plugin without our imports).
 */
function asGrpcError(err: unknown): unknown {
  if (err instanceof GrpcError) return err;
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'number' && Number.isInteger(e.code) && e.code > 0 && e.code <= 16) return new GrpcError(e.code, String(e.message ?? ''));
  return err;
}

function encodeOrStatus(m: GrpcMethod, res: unknown): Uint8Array {
  try {
    return m.responseEncode(res);
  } catch (err) {
    throw new GrpcError(GrpcStatus.Internal, `cannot encode response: ${(err as Error).message}`);
  }
}

/**
 * ctx.grpcDial of an isolated plugin, the host's side: the host's checked grpcDial (the net grant
 * for the target, the read grant for TLS files, grpc_client_* metrics in the component's registry)
 * dials; each call of the plugin's client crosses the channel as its calls to the host.
 */
export class GrpcDialServe {
  private readonly conns = new Map<number, GrpcClientConn>();
  private readonly calls = new Map<number, AbortController>();
  constructor(private readonly dial: (target: string, options?: GrpcDialOptions) => GrpcClientConn) {}

  /** A 'd.cancel' note: the plugin aborted its call's signal. */
  cancel(id: number): void {
    this.calls.get(id)?.abort(new GrpcError(GrpcStatus.Cancelled, 'cancelled by the plugin'));
  }

  /** Serves 'd.*' calls; undefined for any other. */
  async handle(m: string, a: unknown[], inc: Incoming): Promise<Outgoing | undefined> {
    if (m === 'd.dial') {
      const [connId, target, options] = a as [number, string, GrpcDialOptions | null];
      this.conns.set(connId, this.dial(String(target), options ?? undefined));
      return {};
    }
    if (m === 'd.close') {
      this.conns.get(Number(a[0]))?.close();
      this.conns.delete(Number(a[0]));
      return {};
    }
    if (m !== 'd.unary' && m !== 'd.stream') return undefined;
    const [connId, callId, path, metadata, timeoutMs] = a as [number, number, string, Record<string, string> | null, number | null];
    const conn = this.conns.get(connId);
    if (!conn) throw new Error(`grpcDial: no connection ${connId}`);
    const ac = new AbortController();
    this.calls.set(callId, ac);
    const o: GrpcCallOptions = { signal: ac.signal, metadata: metadata ?? undefined, timeoutMs: timeoutMs ?? undefined };
    const req = await messageIn(inc);
    if (m === 'd.unary') {
      try {
        return messageOut(await conn.unary(String(path), req, identity, identity, o));
      } finally {
        this.calls.delete(callId);
      }
    }
    const it = conn.serverStream(String(path), req, identity, identity, o)[Symbol.asyncIterator]();
    return { value: {}, bytes: framedStream(it, (v) => v as Uint8Array, ac, () => { this.calls.delete(callId); }) };
  }

  close(): void {
    for (const ac of this.calls.values()) ac.abort(new GrpcError(GrpcStatus.Cancelled, 'the plugin stopped'));
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}

/**
 * ctx.grpcDial in the plugin's process: a client whose calls the host makes (GrpcDialServe). The
 * host checks the grant when it dials, so a denial (PermissionDenied, naming the plugins.yaml key)
 * surfaces at the first call rather than at grpcDial.
 */
export function remoteGrpcDial(peer: Peer): (target: string, options?: GrpcDialOptions) => GrpcClientConn {
  let nextConn = 1;
  let nextCall = 1;
  return (target, options) => {
    const connId = nextConn++;
    const dialed = peer.call('d.dial', [connId, target, options ?? null]);
    dialed.catch(() => {});
    let closed = false;
    const start = async (m: 'd.unary' | 'd.stream', path: string, req: Uint8Array, o: GrpcCallOptions = {}) => {
      if (closed) throw new GrpcError(GrpcStatus.Cancelled, 'grpc client closed');
      if (o.signal?.aborted) throw new GrpcError(GrpcStatus.Cancelled, 'cancelled before the call');
      await dialed;
      const callId = nextCall++;
      const onAbort = () => peer.note('d.cancel', [callId]);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const r = peer.call(m, [connId, callId, path, o.metadata ?? null, o.timeoutMs ?? null], messageOut(req));
      return { r, off: () => o.signal?.removeEventListener('abort', onAbort) };
    };
    return {
      target,
      async unary(path, req, encode, decode, o) {
        const { r, off } = await start('d.unary', path, encode(req), o);
        try {
          const res = await r;
          return decode(await messageIn(res));
        } finally {
          off();
        }
      },
      async *serverStream(path, req, encode, decode, o) {
        const { r, off } = await start('d.stream', path, encode(req), o);
        try {
          for await (const m of messagesOf(bodyIn(await r))) yield decode(m);
        } finally {
          off();
        }
      },
      close() {
        if (closed) return;
        closed = true;
        void dialed.then(() => peer.call('d.close', [connId])).catch(() => {});
      },
    };
  };
}
