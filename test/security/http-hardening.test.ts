// Every HTTP listener's hardening (host/server/listen.ts), on real sockets: a body over the limit is
// 413 whether declared (refused before it is read) or chunked (counted while it streams, never
// buffered past the limit); a long URL 414; oversized headers 431; a slow-loris client that never
// finishes its headers is cut off at the header deadline while another client keeps being served;
// an idle keep-alive connection is closed; plugins.yaml's httpLimits reach the component listener.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { serveFetch } from '../../host/server/listen.ts';
import type { HttpListener } from '../../host/index.ts';
import { freePort } from '../harness/ports.ts';
import { ManifestError, parseManifest } from '../../host/manifest.ts';
import { planManifest } from '../../host/main.ts';
import { runGroup } from '../../host/lifecycle.ts';
import { Permissions } from '../../host/permissions.ts';
import { createLogger } from '../../host/log.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { definePlugin, type Component } from '../../host/index.ts';

let seenBytes = 0;
/** Reads the whole body and says how much it got (and counts what reached the handler). */
const handler = async (req: Request) => {
  let n = 0;
  if (req.body) {
    for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.byteLength;
      seenBytes += chunk.byteLength;
    }
  }
  return new Response(`got ${n}`);
};

async function listen(limits: Record<string, number>): Promise<{ l: HttpListener; port: number }> {
  const port = await freePort();
  const l = await serveFetch('127.0.0.1', port, handler, { limits, connectionsCheckingIntervalMs: 100 });
  return { l, port };
}

/** Writes raw bytes, resolves with everything the server sent until it closed (or `ms` passed). */
function raw(port: number, data: string | Buffer, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => { s.destroy(); resolve(out); }, ms);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => { clearTimeout(t); resolve(out); });
    s.on('error', (e) => { clearTimeout(t); if (out) resolve(out); else reject(e); });
    s.write(data);
  });
}

test('body limit: declared Content-Length over it refused at once; a chunked body counted while streaming, 413, connection closed', async () => {
  const { l, port } = await listen({ maxBodyBytes: 1000 });
  try {
    const ok = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: 'a'.repeat(1000) });
    assert.is(await ok.text(), 'got 1000', 'exactly the limit is fine');
    seenBytes = 0;
    const declared = await raw(port, `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n${'a'.repeat(100)}`);
    assert.match(declared, /^HTTP\/1\.1 413 /);
    assert.match(declared, /connection: close/i);
    assert.is(seenBytes, 0, 'nothing of a declared-too-large body reaches the handler');
    // Chunked: 64 KiB chunks, far more than the limit; the server answers and closes early.
    const chunk = 'a'.repeat(65536);
    const chunks = Array.from({ length: 200 }, () => `${(65536).toString(16)}\r\n${chunk}\r\n`).join('');
    seenBytes = 0;
    const chunked = await raw(port, `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1\.1 413 /);
    assert.ok(seenBytes <= 1000, `the handler never saw more than the limit (${seenBytes})`);
  } finally {
    await l.close();
  }
});

test('URL over the limit: 414; headers over the limit: 431', async () => {
  const { l, port } = await listen({ maxUrlBytes: 2048, maxHeaderBytes: 8192 });
  try {
    const long = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${'x'.repeat(3000)}`);
    assert.is(long.status, 414);
    await long.text();
    const fine = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${'x'.repeat(1000)}`);
    assert.is(fine.status, 200);
    await fine.text();
    const big = await raw(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(10_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
  } finally {
    await l.close();
  }
});

test('slow loris: a client dribbling its headers is cut off at the header deadline; another client is served meanwhile', async () => {
  const { l, port } = await listen({ headersTimeoutMs: 1500, requestTimeoutMs: 3000 });
  try {
    const slow = net.connect(port, '127.0.0.1');
    let closedAt = 0;
    let answer = '';
    slow.on('data', (d) => (answer += d.toString('latin1')));
    const closed = new Promise<void>((r) => slow.on('close', () => { closedAt = Date.now(); r(); }));
    slow.on('error', () => {});
    const started = Date.now();
    slow.write('GET / HTTP/1.1\r\nHost: a\r\n');
    const drip = setInterval(() => { if (!slow.destroyed) slow.write('X-A: b\r\n'); }, 200);
    try {
      // While the slow client holds its connection, others are answered.
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/fast`);
        assert.is(await r.text(), 'got 0');
      }
      await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('slow client never cut off')), 30_000))]);
    } finally {
      clearInterval(drip);
    }
    assert.ok(closedAt - started >= 1000, 'not before the deadline');
    assert.match(answer, /^HTTP\/1\.1 408 /, 'Request Timeout');
  } finally {
    await l.close();
  }
});

test('idle keep-alive connections are closed after the keep-alive timeout', async () => {
  const { l, port } = await listen({ keepAliveTimeoutMs: 500 });
  try {
    const t0 = Date.now();
    const out = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 60_000);
    assert.match(out, /^HTTP\/1\.1 200 /);
    assert.match(out, /keep-alive: timeout=/i, 'the client is told');
    assert.ok(Date.now() - t0 < 50_000, 'the server closed the idle connection (the test would otherwise give up at 60 s)');
  } finally {
    await l.close();
  }
});

test('plugins.yaml: httpConfig and httpLimits on a component entry (strict), the limits reach its listener', async () => {
  const m = parseManifest('apiVersion: 1\ncomponents:\n  - id: q\n    use: query\n    http: 127.0.0.1:1\n    httpConfig: ./web.yml\n    httpLimits: { maxBodyBytes: 100, headersTimeout: 10s }\n', '/srv/plugins.yaml');
  assert.is(m.components[0]!.httpConfig, './web.yml');
  assert.equal(m.components[0]!.httpLimits, { maxBodyBytes: 100, headersTimeoutMs: 10_000 });
  const bad: Array<[string, RegExp]> = [
    ['httpLimits: { maxBody: 1 }', /components\[0\]\.httpLimits\.maxBody: unknown key/],
    ['httpLimits: { maxBodyBytes: -1 }', /components\[0\]\.httpLimits\.maxBodyBytes: expected a non-negative integer/],
    ['httpLimits: { requestTimeout: soon }', /components\[0\]\.httpLimits\.requestTimeout: invalid duration/],
    ['httpConfig: 3', /components\[0\]\.httpConfig: expected a non-empty string/],
  ];
  for (const [line, re] of bad) {
    assert.throws(() => parseManifest(`apiVersion: 1\ncomponents:\n  - id: q\n    use: query\n    http: 127.0.0.1:1\n    ${line}\n`, '/srv/plugins.yaml'), (e: Error) => e instanceof ManifestError && re.test(e.message), line);
  }
  const noHttp = parseManifest('apiVersion: 1\ncomponents:\n  - id: q\n    use: query\n    httpConfig: ./web.yml\n', '/srv/plugins.yaml');
  await planManifest(noHttp, createLogger({ level: 'error' })).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /components\[0\]\.httpConfig: applies to the HTTP listener: set http/));

  // Through the run group: the component listener's body limit comes from httpLimits.
  const port = await freePort();
  const plugin = definePlugin<Record<string, never>>({
    manifest: { id: 'component:sink', apiVersion: 1, permissions: {} },
    parseConfig: () => ({}),
    async setup(): Promise<Component> {
      return { info: () => ({ componentType: 'query' }), fetch: handler, run: (signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })) };
    },
  });
  const stop = new AbortController();
  const done = runGroup([{
    id: 'sink', key: 'components[0]', plugin, config: {}, permissions: Permissions.all(plugin.manifest.id, {}),
    http: `127.0.0.1:${port}`, httpLimits: { maxBodyBytes: 100 },
  }], { log: createLogger({ level: 'error' }), core: async () => createJsCore(), gracePeriodMs: 5000, handleSignals: false, signal: stop.signal });
  try {
    for (let i = 0; ; i++) {
      try { await (await fetch(`http://127.0.0.1:${port}/-/healthy`)).text(); break; } catch (e) { if (i > 400) throw e; await new Promise((r) => setTimeout(r, 50)); }
    }
    assert.is(await (await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: 'a'.repeat(100) })).text(), 'got 100');
    const over = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: 'a'.repeat(101) });
    assert.is(over.status, 413);
    await over.text();
  } finally {
    stop.abort();
    assert.is((await done).code, 0);
  }
});

test.run();
