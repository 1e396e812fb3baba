// http_request_size_bytes is promhttp's computeApproximateRequestSize: path and query, method,
// protocol, each header name once and each of its values (Host apart), the host, the declared body
// length. The listener's raw header list is what is measured (no full Headers object per request),
// so a repeated header counts its name once and every value, as Go's r.Header does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { instrumentHandler } from '../../host/server/http.ts';
import { serveFetch } from '../../host/server/listen.ts';
import { Registry } from '../../host/metrics.ts';
import { freePort } from '../harness/ports.ts';

function send(port: number, head: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    s.on('data', () => {});
    s.on('end', () => resolve());
    s.on('error', reject);
  });
}

test('request size: path+query, method, protocol, headers (repeated name once), host, body length', async () => {
  const reg = new Registry();
  const ins = { handlerName: () => 'h' };
  const app = instrumentHandler(async (req) => new Response(await req.text(), { headers: { 'content-length': '3' } }), () => ins, reg);
  const port = await freePort();
  const l = await serveFetch('127.0.0.1', port, app);
  try {
    const host = `127.0.0.1:${port}`;
    await send(port, `POST /a/b?x=1 HTTP/1.1\r\nHost: ${host}\r\nX-Rep: aa\r\nx-rep: bbb\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`);
    // Go: len("/a/b")+len("?x=1") [URL.String() of a server request is its RequestURI] + len("POST") + len("HTTP/1.1")
    //   + headers (X-Rep: 5+2+3, Content-Length: 14+1, Connection: 10+5) + len(host) + 3 (Content-Length)
    const want = 8 + 4 + 8 + (5 + 2 + 3) + (14 + 1) + (10 + 5) + host.length + 3;
    const deadline = Date.now() + 10_000;
    let m = '';
    while (!/^http_request_size_bytes_count\{code="200",handler="h",method="post"\} 1$/m.test((m = reg.render()))) {
      if (Date.now() > deadline) throw new Error('request not observed');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(m, new RegExp(`^http_request_size_bytes_sum\\{code="200",handler="h",method="post"\\} ${want}$`, 'm'));
  } finally {
    await l.close();
  }
});

test.run();
