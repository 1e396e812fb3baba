// A component's own gRPC services across the isolation channel (lib/isolate/wire.ts, issue #22).
// The host registers each method on its gRPC server as for an inline component, with identity
// codecs (the server moves raw bytes), and forwards every call to the plugin's process: the
// request bytes ride in the call, a unary answer in the reply, a server stream's messages as a
// byte stream of length-prefixed messages with the channel's credits (a slow gRPC client holds
// the plugin's generator back). The plugin decodes, runs its handler and encodes there. A client
// cancel or a deadline aborts the handler's AbortSignal in the process; a GrpcError keeps its code
// (wire.ts serializes it), other errors are Unknown as inline.
import { GrpcError, GrpcStatus } from '../sdk/errors.ts';
import type { GrpcMethod, GrpcServices } from '../sdk/plugin.ts';
import { bodyIn } from './bucket.ts';
import type { Incoming, Outgoing, Peer } from './wire.ts';

/** What the plugin's process says about its services at setup: method path and kind. */
export type GrpcMethodList = Array<[string, GrpcMethod['kind']]>;

/**
 * The largest single message of a forwarded server stream. The plugin's process may be hostile: a
 * length prefix beyond this fails the call instead of the host buffering it.
 */
export const MAX_GRPC_MESSAGE = 256 * 1024 * 1024;

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

/** Splits a byte stream of [u32 length][message] records into the messages. */
async function* messagesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let buf: Uint8Array = new Uint8Array(0);
  try {
    for (;;) {
      while (buf.length >= 4) {
        const n = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
        if (n > MAX_GRPC_MESSAGE) throw new GrpcError(GrpcStatus.Internal, `the plugin process sent a message of ${n} bytes (at most ${MAX_GRPC_MESSAGE})`);
        if (buf.length < 4 + n) break;
        const m = buf.subarray(4, 4 + n);
        buf = buf.subarray(4 + n);
        yield m;
      }
      const { done, value } = await reader.read();
      if (done) {
        if (buf.length > 0) throw new GrpcError(GrpcStatus.Internal, 'the plugin process ended a stream inside a message');
        return;
      }
      if (buf.length === 0) buf = value;
      else {
        const j = new Uint8Array(buf.length + value.length);
        j.set(buf, 0);
        j.set(value, buf.length);
        buf = j;
      }
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
  for (const [path, kind] of list) {
    if (kind === 'unary') {
      out[path] = {
        kind: 'unary', requestDecode: identity, responseEncode: (m) => m as Uint8Array,
        async handler(req, signal, metadata) {
          const id = nextCall++;
          const off = forwardAbort(peer, id, signal);
          try {
            const r = await peer.call('grpc', [id, path, metadata], { bin: req as Uint8Array });
            return r.bin ?? new Uint8Array(0);
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
            const r = await peer.call('grpc', [id, path, metadata], { bin: req as Uint8Array });
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
    const m = this.services[path];
    if (!m) throw new GrpcError(GrpcStatus.Unimplemented, `unknown method ${path}`);
    let req: unknown;
    try {
      req = m.requestDecode(inc.bin ?? new Uint8Array(0));
    } catch (err) {
      throw new GrpcError(GrpcStatus.InvalidArgument, `cannot decode request: ${(err as Error).message}`);
    }
    const ac = new AbortController();
    this.calls.set(id, ac);
    if (m.kind === 'unary') {
      try {
        const res = await m.handler(req, ac.signal, metadata ?? {});
        return { bin: encodeOrStatus(m, res) };
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
    const finish = () => { this.calls.delete(id); };
    const bytes = new ReadableStream<Uint8Array>({
      pull: async (c) => {
        try {
          const r = await it.next();
          if (r.done) { finish(); c.close(); return; }
          const msg = encodeOrStatus(m, r.value);
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
    return { value: {}, bytes };
  }
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
