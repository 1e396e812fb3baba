// Test helper: serves a GrpcServices map (host/index.ts) on 127.0.0.1 with @grpc/grpc-js, with
// backpressure on server streams and cancellation via AbortSignal. Requests are decoded inside the
// handler so decode errors keep their status (grpc-js maps deserializer exceptions to INTERNAL).
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import type { GrpcServices } from '../../host/index.ts';

function statusOf(e: unknown): { code: number; details: string } {
  const code = e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : grpc.status.UNKNOWN;
  return { code, details: e instanceof Error ? e.message : String(e) };
}

function mdRecord(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = String(v);
  return out;
}

export async function serveGrpc(services: GrpcServices, host = '127.0.0.1'): Promise<{ address: string; server: grpc.Server; close(): Promise<void> }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const ident = (b: Buffer) => b;
  for (const [path, m] of Object.entries(services)) {
    if (m.kind === 'unary') {
      server.register(
        path,
        (call: grpc.ServerUnaryCall<Buffer, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          const ac = new AbortController();
          call.on('cancelled', () => ac.abort(new Error('client cancelled')));
          (async () => m.handler(m.requestDecode(call.request), ac.signal, mdRecord(call.metadata)))().then(
            (res) => cb(null, res),
            (e) => cb(statusOf(e)),
          );
        },
        (res: unknown) => Buffer.from(m.responseEncode(res)),
        ident,
        'unary',
      );
    } else {
      server.register(
        path,
        async (call: grpc.ServerWritableStream<Buffer, unknown>) => {
          const ac = new AbortController();
          call.on('cancelled', () => ac.abort(new Error('client cancelled')));
          try {
            const req = m.requestDecode(call.request);
            for await (const msg of m.handler(req, ac.signal, mdRecord(call.metadata))) {
              if (ac.signal.aborted) break;
              if (!call.write(msg)) {
                await Promise.race([once(call, 'drain'), once(ac.signal, 'abort')]);
              }
            }
            if (!ac.signal.aborted) call.end();
          } catch (e) {
            if (!ac.signal.aborted) call.emit('error', statusOf(e));
          }
        },
        (res: unknown) => Buffer.from(m.responseEncode(res)),
        ident,
        'serverStream',
      );
    }
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `${host}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
