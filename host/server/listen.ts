// Serves a fetch handler on host:port with @hono/node-server; resolves once listening (rejects on
// EADDRINUSE etc.), close() stops accepting and ends open connections.
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpListener } from '../index.ts';

export async function serveFetch(
  hostname: string,
  port: number,
  handler: (req: Request) => Response | Promise<Response>,
): Promise<HttpListener> {
  const server = createAdaptorServer({ fetch: handler, hostname, port }) as Server;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`listen on ${hostname}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, hostname, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: { hostname: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 100).unref();
      }),
  };
}
