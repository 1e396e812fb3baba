// An instrumented answer of declared length (Content-Length, built in memory) goes out as it is — one
// write of headers and body, not a chunked stream — and is still measured: response size, the
// in-flight gauge back to 0 once it is done, also when the client goes away before it is written.
// A body without a declared length is counted as it streams, as before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { instrumentHandler } from '../../host/server/http.ts';
import { serveFetch } from '../../host/server/listen.ts';
import { Registry } from '../../host/metrics.ts';
import { freePort } from '../harness/ports.ts';

const BODY = 'x'.repeat(3000);

async function listen(handler: (req: Request) => Response | Promise<Response>) {
  const reg = new Registry();
  const ins = { handlerName: (req: Request) => new URL(req.url).pathname.slice(1) };
  const app = instrumentHandler((req) => handler(req), () => ins, reg);
  const port = await freePort();
  const l = await serveFetch('127.0.0.1', port, app);
  return { reg, port, close: () => l.close() };
}

/** One raw HTTP/1.1 exchange: the answer's head and body as the socket delivered them. */
function raw(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a declared-length answer is sent with its Content-Length, not chunked, and its size is observed', async () => {
  const s = await listen(() => new Response(BODY, { headers: { 'content-type': 'text/plain', 'content-length': String(BODY.length) } }));
  try {
    const out = await raw(s.port, '/fixed');
    const [head, body] = out.split('\r\n\r\n');
    assert.match(head!, /^content-length: 3000$/im);
    assert.not.match(head!, /transfer-encoding/i);
    assert.is(body, BODY);
    await waitFor('the request counted', () => /^http_requests_total\{code="200",handler="fixed",method="get"\} 1$/m.test(s.reg.render()));
    const m = s.reg.render();
    assert.match(m, /^http_response_size_bytes_sum\{code="200",handler="fixed",method="get"\} 3000$/m);
    assert.match(m, /^http_inflight_requests\{handler="fixed",method="GET"\} 0$/m);
  } finally {
    await s.close();
  }
});

test('a streamed answer (no declared length) is still counted as it is sent', async () => {
  const s = await listen(() => new Response(new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(BODY.slice(0, 1000)));
      c.enqueue(new TextEncoder().encode(BODY.slice(1000)));
      c.close();
    },
  })));
  try {
    const out = await raw(s.port, '/streamed');
    assert.match(out.split('\r\n\r\n')[0]!, /transfer-encoding: chunked/i);
    await waitFor('the request counted', () => /^http_requests_total\{code="200",handler="streamed",method="get"\} 1$/m.test(s.reg.render()));
    assert.match(s.reg.render(), /^http_response_size_bytes_sum\{code="200",handler="streamed",method="get"\} 3000$/m);
  } finally {
    await s.close();
  }
});

test('a client gone before its declared-length answer is written: the request still ends (in-flight back to 0)', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const inHandler = new Promise<void>((r) => (arrived = r));
  const s = await listen(async () => {
    arrived();
    await held;
    return new Response(BODY, { headers: { 'content-length': String(BODY.length) } });
  });
  try {
    const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET /gone HTTP/1.1\r\nHost: x\r\n\r\n'));
    sock.on('error', () => {});
    await inHandler;
    assert.match(s.reg.render(), /^http_inflight_requests\{handler="gone",method="GET"\} 1$/m);
    sock.destroy();
    // The server sees the connection close before the handler answers.
    await new Promise((r) => setTimeout(r, 200));
    release();
    await waitFor('the in-flight gauge back to 0', () => /^http_inflight_requests\{handler="gone",method="GET"\} 0$/m.test(s.reg.render()));
  } finally {
    await s.close();
  }
});

test('a declared-length answer reaches the listener with its body unread (no full Response, no web stream)', async () => {
  // Reading `body` turns the server's lightweight Response into an undici one whose body the listener
  // then pumps through a web stream; the instrumentation decides by the declared length first.
  let bodyRead = false;
  const s = await listen(() => {
    const res = new Response(BODY, { headers: { 'content-type': 'text/plain', 'content-length': String(BODY.length) } });
    Object.defineProperty(res, 'body', {
      get() {
        bodyRead = true;
        return Reflect.get(Object.getPrototypeOf(res) as object, 'body', res);
      },
    });
    return res;
  });
  try {
    const out = await raw(s.port, '/fixed');
    assert.is(out.split('\r\n\r\n')[1], BODY);
    await waitFor('the request counted', () => /^http_requests_total\{code="200",handler="fixed",method="get"\} 1$/m.test(s.reg.render()));
    assert.is(bodyRead, false);
  } finally {
    await s.close();
  }
});

test.run();
