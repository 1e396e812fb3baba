// An HTTP handler across the isolation channel (lib/isolate/wire.ts): the host's listener hands
// each request to the isolated component's fetch handler in its process, bodies streamed both
// ways with the channel's backpressure. The listener itself (TLS, web config, limits, metrics)
// stays the host's, the same in both isolation modes.
import type { Incoming, Outgoing, Peer } from './wire.ts';
import { bodyIn } from './bucket.ts';

interface RequestHead { method: string; url: string; headers: Array<[string, string]> }
interface ResponseHead { status: number; statusText: string; headers: Array<[string, string]> }

/** The calling side: `req` answered by the other side's handler for `method` with `args`. */
export async function proxyFetch(peer: Peer, method: string, args: unknown[], req: Request): Promise<Response> {
  const head: RequestHead = { method: req.method, url: req.url, headers: [...req.headers] };
  const r = await peer.call(method, [...args, head], req.body ? { bytes: req.body } : {});
  const h = r.value as ResponseHead;
  // A null-body status cannot carry a body, not even an empty one.
  const nullBody = h.status === 101 || h.status === 204 || h.status === 205 || h.status === 304 || req.method === 'HEAD';
  const body = nullBody ? null : bodyIn(r);
  if (nullBody) await bodyIn(r).cancel().catch(() => {});
  return new Response(body, { status: h.status, statusText: h.statusText, headers: h.headers });
}

/** The serving side: the request in a proxyFetch call (its last argument), answered by `handler`. */
export async function serveFetch(args: unknown[], inc: Incoming, handler: (req: Request) => Response | Promise<Response>): Promise<Outgoing> {
  const head = args[args.length - 1] as RequestHead;
  const hasBody = head.method !== 'GET' && head.method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method: head.method, headers: head.headers };
  if (hasBody) {
    init.body = bodyIn(inc);
    init.duplex = 'half';
  } else if (inc.stream) {
    await (inc.stream as ReadableStream).cancel().catch(() => {});
  }
  const res = await handler(new Request(head.url, init));
  const value: ResponseHead = { status: res.status, statusText: res.statusText, headers: [...res.headers] };
  return res.body ? { value, bytes: res.body } : { value, bin: new Uint8Array(0) };
}
