// One HTTP listener per component (Hono on @hono/node-server): /-/healthy, /-/ready (200 only once
// the component called ctx.setReady(true)), /metrics (Prometheus text format), and everything else
// goes to the component's fetch().
import { Hono } from 'hono';
import type { Component, HttpListener, Logger } from '../index.ts';
import type { Registry } from '../metrics.ts';
import { serveFetch } from './listen.ts';

export interface HttpAppOptions {
  component(): Component | undefined;
  ready(): boolean;
  /** Renders /metrics. */
  metrics(): string;
  /** Registry for http_requests_total / http_request_duration_seconds. */
  registry?: Registry;
  log?: Logger;
}

export function buildHttpApp(o: HttpAppOptions): Hono {
  const app = new Hono();
  const reqs = o.registry?.counter('http_requests_total', 'Tracks the number of HTTP requests.', ['code', 'handler', 'method']);
  const dur = o.registry?.histogram('http_request_duration_seconds', 'Tracks the latencies for HTTP requests.', ['code', 'handler', 'method']);
  app.use('*', async (c, next) => {
    const start = performance.now();
    await next();
    const p = new URL(c.req.url).pathname;
    const handler = p === '/-/healthy' || p === '/-/ready' || p === '/metrics' ? p : 'component';
    const l = { code: String(c.res.status), handler, method: c.req.method };
    reqs?.inc(l);
    dur?.observe((performance.now() - start) / 1000, l);
  });
  app.get('/-/healthy', (c) => c.text('OK'));
  app.get('/-/ready', (c) => (o.ready() ? c.text('OK') : c.text('NOT READY', 503)));
  app.get('/metrics', (c) => c.body(o.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));
  app.all('*', async (c) => {
    const comp = o.component();
    if (!comp) return c.text('starting up', 503);
    if (!comp.fetch) return c.text('404 page not found', 404);
    return comp.fetch(c.req.raw);
  });
  app.onError((err, c) => {
    o.log?.error('http handler failed', { path: new URL(c.req.url).pathname, err: err.message });
    return c.text(`internal error: ${err.message}`, 500);
  });
  return app;
}

/** "host:port", ":port", "[::1]:port" -> parts; ":port" listens on all interfaces like Go. */
export function parseAddress(addr: string, what = 'address'): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  if (!m) throw new Error(`invalid ${what} "${addr}" (expected host:port)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid ${what} "${addr}": port out of range`);
  return { hostname: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export async function startHttp(addr: string, app: Hono): Promise<HttpListener> {
  const { hostname, port } = parseAddress(addr, 'HTTP address');
  return serveFetch(hostname, port, app.fetch);
}
