// isolation: process for a component plugin (issue #22): a third-party component (the default for
// a path or npm package) runs in its own Deno process and keeps the component contract — its
// ctx.listen is the host's checked listener handing requests to the process, its fetch handler
// serves the host's HTTP address (bodies and headers both ways), readiness, log lines and metrics
// reach the host (/-/ready, /metrics), ctx.bucket is the host's object store, and the run group
// stops it in order. What cannot cross the channel (here: HTTP instrumentation) is refused by name;
// its gRPC services cross it (test/host/isolate-component-grpc.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planManifest } from '../../host/main.ts';
import { parseManifest } from '../../host/manifest.ts';
import { createLogger } from '../../host/log.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import { runGroup } from '../../host/lifecycle.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { startEscapeComponent, type EscapeComponent } from '../fixtures/host/escape-component/start.ts';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'isolate-component-')));
fs.writeFileSync(path.join(tmp, 'secret.txt'), 'TOP SECRET FILE');
let c: EscapeComponent;

test.before(async () => {
  c = await startEscapeComponent({ dir: tmp, secretFile: path.join(tmp, 'secret.txt'), secretEnv: 'NOT_SET', ungrantedPort: 1 });
});

test('runs in its own process by default; its own listener serves on its granted port', async () => {
  assert.ok(c.lines.some((l) => l.includes('escape component listening') && l.includes('component=escape')), c.lines.filter((l) => l.includes('escape component')).join(''));
  const r = await fetch(`http://127.0.0.1:${c.port}/attempt/granted-fs`);
  assert.is(r.status, 200);
  assert.is(await r.text(), 'mine');
  assert.is(fs.readFileSync(path.join(tmp, 'granted', 'note.txt'), 'utf8'), 'mine', 'ctx.fs wrote in the granted directory');
});

test('the host\'s HTTP address: probes, the fetch handler with bodies and headers both ways, /metrics', async () => {
  const base = `http://127.0.0.1:${c.httpPort}`;
  let ready = 0;
  for (let i = 0; i < 600 && ready !== 200; i++) {
    ready = (await fetch(`${base}/-/ready`)).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
  }
  assert.is(ready, 200, 'setReady(true) in the process made /-/ready 200');
  const big = 'x'.repeat(3 * 1048576 + 5);
  const r = await fetch(`${base}/echo`, { method: 'POST', body: big, headers: { 'x-in': 'sent' } });
  assert.is(r.status, 201);
  assert.is(r.headers.get('x-echo'), 'sent');
  assert.is((await r.text()).length, `POST ${big}`.length, 'a 3 MiB body went there and back');
  await fetch(`${base}/attempt/ctx-fs`);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /escape_attempts_total\{attempt="ctx-fs",result="denied"\} 1/, metrics.split('\n').filter((l) => l.includes('escape')).join(' '));
});

test('ctx.bucket is the host\'s object store, read and written across the channel', async () => {
  const r = await fetch(`http://127.0.0.1:${c.port}/attempt/bucket`);
  assert.is(await r.text(), 'hello from the host');
  const b = await c.objstore.get();
  assert.is(new TextDecoder().decode(await readAll(await b.get('from-component'))), 'written by the component');
});

test('stopping the run group stops the component in order: run() returns, its listener closes', async () => {
  const res = await c.stop();
  assert.is(res.code, 0, c.lines.join(''));
  assert.ok(c.lines.some((l) => l.includes('escape component stopped')), 'run() saw the abort and returned');
  await fetch(`http://127.0.0.1:${c.port}/attempt/none`).then(() => assert.unreachable('its listener is closed'), () => {});
});

test('what cannot cross the channel is refused by name: HTTP instrumentation (component.http)', async () => {
  fs.writeFileSync(path.join(tmp, 'instrumented.mjs'), `export default {
  manifest: { id: 'component:instrumented', apiVersion: 1, permissions: {} },
  parseConfig: (raw) => raw ?? {},
  async setup() {
    return { info: () => ({ componentType: 'instrumented' }), http: { instrument: true }, async run() {} };
  },
};
`);
  const file = path.join(tmp, 'instrumented.yaml');
  const text = 'apiVersion: 1\ncomponents:\n  - id: g\n    use: ./instrumented.mjs\n';
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => void lines.push(l) });
  const units = await planManifest(parseManifest(text, file), log);
  const res = await runGroup(units, { log, core: async () => createJsCore(), gracePeriodMs: 20_000, handleSignals: false });
  assert.is(res.code, 1);
  assert.match(String((res.cause as Error)?.message), /component:instrumented: HTTP instrumentation \(component\.http\) is not available to a component with isolation: process; run it with isolation: inline and trust: true/);
});

test('isolation: inline for a third-party component needs trust: true', async () => {
  const file = path.join(tmp, 'inline.yaml');
  const use = './' + path.relative(tmp, path.join(import.meta.dirname, '../fixtures/host/escape-component'));
  const text = `apiVersion: 1\ncomponents:\n  - id: e\n    use: ${use}\n    isolation: inline\n`;
  await planManifest(parseManifest(text, file), createLogger({ level: 'error' })).then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /inline\.yaml:5: components\[0\]\.isolation: isolation: inline runs the third-party component ".*escape-component" in the host's process, where no grant is enforced; add trust: true/);
  });
});

test('a config error from the component\'s process names file, line and key', async () => {
  const file = path.join(tmp, 'bad.yaml');
  const use = './' + path.relative(tmp, path.join(import.meta.dirname, '../fixtures/host/escape-component'));
  const text = `apiVersion: 1\ncomponents:\n  - id: e\n    use: ${use}\n    config: { bogus: 1 }\n`;
  await planManifest(parseManifest(text, file), createLogger({ level: 'error' })).then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /bad\.yaml:\d+: components\[0\]\.config: config\.bogus: unknown field/);
  });
});

test.after(async () => {
  if (c) await c.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});
test.run();
