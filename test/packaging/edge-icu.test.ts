// What an idle edge process runs — log lines, an HTTP response (the readiness probe), a gRPC server
// bound to an IP address — calls no Date method that goes through V8's local-time-zone code
// (toISOString, toUTCString and the local getters and setters included): the first such call loads
// ICU's time-zone data, about 0.8 MiB resident for the life of the process (docs/operator-guide.md
// §5). Checked by wrapping those methods while the host's logger, HTTP listener and gRPC server run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../host/log.ts';
import { serveFetch } from '../../host/server/listen.ts';
import { startGrpc } from '../../host/server/grpc.ts';
import { freePort } from '../harness/ports.ts';

/** Date methods that never reach the time-zone code: the time value and the UTC fields. */
const TZ_FREE = (name: string) => name.includes('UTC') || ['constructor', 'getTime', 'setTime', 'valueOf'].includes(name);
const calls: string[] = [];
let recording = false;

for (const name of Object.getOwnPropertyNames(Date.prototype)) {
  if (TZ_FREE(name)) continue;
  const orig = (Date.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
  Object.defineProperty(Date.prototype, name, {
    configurable: true, writable: true,
    value: function (this: Date, ...args: unknown[]) {
      if (recording) calls.push(`Date.prototype.${name}\n${new Error().stack?.split('\n').slice(2, 6).join('\n')}`);
      return orig.apply(this, args);
    },
  });
}

test('the spy sees a time-zone call (the check can fail)', () => {
  recording = true;
  new Date().toISOString();
  recording = false;
  assert.is(calls.length, 1);
  calls.length = 0;
});

test('logger, HTTP response and gRPC bind make no time-zone Date call; the texts are unchanged', async () => {
  const lines: string[] = [];
  recording = true;
  try {
    const log = createLogger({ write: (l) => lines.push(l) });
    log.info('starting', { when: new Date(Date.UTC(2026, 11, 7, 9, 33, 4, 120)) });
    log.with({ component: 'receive' }).info('changing probe status to ready');
    const http = await serveFetch('127.0.0.1', await freePort(), () => new Response('ok'));
    const grpc = await startGrpc(`127.0.0.1:${await freePort()}`, {});
    try {
      const res = await fetch(`http://127.0.0.1:${http.address.port}/-/ready`);
      assert.is(await res.text(), 'ok');
      const date = res.headers.get('date') ?? '';
      assert.match(date, /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/);
      assert.ok(Math.abs(Date.parse(date) - Date.now()) < 60_000, date);
      assert.ok(grpc.port > 0);
    } finally {
      await http.close();
      await grpc.close();
    }
  } finally {
    recording = false;
  }
  assert.equal(calls, [], calls.join('\n\n'));
  assert.match(lines[0]!, /^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z caller=edge-icu\.test\.ts:\d+ level=info msg=starting when=2026-12-07T09:33:04\.120Z\n$/);
});

test.run();
