// Two things an idle edge process must not pay for (docs/operator-guide.md §5 has the figures):
// 1. What it runs — log lines, an HTTP response (the readiness probe), a gRPC server bound to an IP
//    address — calls no Date method that goes through V8's local-time-zone code (toISOString,
//    toUTCString and the local getters and setters included): the first such call loads ICU's
//    time-zone data, about 0.8 MiB resident for the life of the process. Checked by wrapping those
//    methods while the host's logger, HTTP listener and gRPC server run.
// 2. No module imports a CommonJS package it loads at startup (yaml, @grpc/grpc-js,
//    @opentelemetry/api) with an ES import: one such import makes Node compile and keep its CommonJS
//    export scanner (lib/cjs/require.ts). They are required through lib/cjs/ instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
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
  assert.match(lines[0]!, /^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z caller=edge-idle\.test\.ts:\d+ level=info msg=starting when=2026-12-07T09:33:04\.120Z\n$/);
});

/** Every .ts module under dir (repo-relative). */
function modules(root: string, dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'node_modules' ? [] : modules(root, `${dir}/${e.name}`)) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []);
}

test('CommonJS packages of the startup path are required through lib/cjs/, never imported', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  // host/tracing-sdk.ts loads only with a tracing config, with the SDK's own CommonJS packages.
  const allowed = new Set(['lib/cjs/yaml.ts', 'lib/cjs/otel-api.ts', 'host/tracing-sdk.ts']);
  const esImport = /^\s*(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s*'(yaml|@grpc\/grpc-js|@opentelemetry\/api)'|\bimport\(\s*'(yaml|@grpc\/grpc-js|@opentelemetry\/api)'\s*\)/m;
  const bad = ['host', 'lib', 'plugins'].flatMap((d) => modules(root, d))
    .filter((f) => !allowed.has(f) && esImport.test(fs.readFileSync(path.join(root, f), 'utf8')));
  assert.equal(bad, []);
  assert.ok(esImport.test("import { parse } from 'yaml';") && !esImport.test("import type { Node } from 'yaml';"));
});

test.run();
