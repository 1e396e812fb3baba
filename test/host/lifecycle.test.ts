// `thanos run -c <manifest>` as a real process: graceful SIGTERM with a busy component, the grace
// period running out, a component failing to start or while running, SIGHUP reload, JSON logs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-'));
const sleepyUse = './' + path.relative(tmp, path.join(repo, 'test/fixtures/host/sleepy'));
const children: ChildProcess[] = [];

interface Proc { child: ChildProcess; out: () => string; exit: Promise<{ code: number | null; signal: string | null; at: number }> }

function launch(name: string, manifest: string, extra: string[] = []): Proc {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, manifest);
  const child = spawn(process.execPath, [path.join(repo, 'bin/thanos.mjs'), 'run', '-c', file, ...extra], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: string | null; at: number }>((r) => child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })));
  return { child, out: () => out, exit };
}

async function waitReady(port: number, timeoutMs = STARTUP_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
      await r.text();
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`127.0.0.1:${port} never became ready`);
}

async function component(id: string, extra: string) {
  const http = await freePort();
  // The fixture serves gRPC services, which a component in its own process cannot: inline, trusted.
  return { http, yaml: `  - id: ${id}\n    use: ${sleepyUse}\n    isolation: inline\n    trust: true\n    http: 127.0.0.1:${http}\n    permissions: { write: [./markers] }\n${extra}` };
}

fs.mkdirSync(path.join(tmp, 'markers'));

test('SIGTERM: a busy component finishes within the grace period, in order, exit 0', async () => {
  const a = await component('a', '    config: { busyMs: 800, stopMarker: ./markers/a1 }\n');
  const b = await component('b', '    dependsOn: [a]\n    config: { busyMs: 300, stopMarker: ./markers/b1 }\n');
  const p = launch('graceful', `apiVersion: 1\ngracePeriod: 10s\ncomponents:\n${b.yaml}${a.yaml}`);
  await waitReady(a.http);
  await waitReady(b.http);
  const out = p.out();
  assert.ok(out.indexOf('component=a') < out.indexOf('component=b'), 'a (the dependency) starts first');
  const t0 = Date.now();
  p.child.kill('SIGTERM');
  const ex = await p.exit;
  assert.is(ex.code, 0, p.out());
  assert.ok(ex.at - t0 >= 750, `waited for the busy component (${ex.at - t0} ms)`);
  assert.match(p.out(), /msg="caught signal, shutting down" signal=SIGTERM/);
  assert.match(p.out(), /component=a msg=draining busyMs=800/);
  assert.is(fs.readFileSync(path.join(tmp, 'markers/a1'), 'utf8'), 'stopped cleanly');
  assert.is(fs.readFileSync(path.join(tmp, 'markers/b1'), 'utf8'), 'stopped cleanly');
  await fetch(`http://127.0.0.1:${a.http}/-/healthy`).then(() => assert.unreachable('listener closed'), () => {});
});

test('SIGTERM: a component still busy after the grace period -> forced exit, non-zero', async () => {
  const a = await component('stuck', '    config: { busyMs: 30000 }\n');
  const p = launch('stuck', `apiVersion: 1\ngracePeriod: 1s\ncomponents:\n${a.yaml}`);
  await waitReady(a.http);
  const t0 = Date.now();
  p.child.kill('SIGTERM');
  const ex = await p.exit;
  assert.is(ex.code, 1, p.out());
  assert.ok(ex.at - t0 < 8000, `forced within the grace period (+ slack): ${ex.at - t0} ms`);
  assert.match(p.out(), /level=error msg="grace period exceeded, forcing exit" grace_period=1000ms components=stuck/);
});

test('a component failing to start stops the others cleanly; exit non-zero with the cause', async () => {
  const a = await component('good', '    config: { busyMs: 200, stopMarker: ./markers/good }\n');
  const b = await component('bad', '    dependsOn: [good]\n    config: { failSetup: "boom: cannot open the TSDB" }\n');
  const c = await component('later', '    dependsOn: [bad]\n    config: { stopMarker: ./markers/later }\n');
  const p = launch('failing', `apiVersion: 1\ngracePeriod: 10s\ncomponents:\n${a.yaml}${b.yaml}${c.yaml}`);
  const ex = await p.exit;
  assert.is(ex.code, 1, p.out());
  assert.match(p.out(), /component=bad msg="component failed to start" err="boom: cannot open the TSDB"/);
  assert.match(p.out(), /msg="exiting with error" component=bad err="boom: cannot open the TSDB"/);
  assert.is(fs.readFileSync(path.join(tmp, 'markers/good'), 'utf8'), 'stopped cleanly', 'the started component was stopped cleanly');
  assert.not.ok(fs.existsSync(path.join(tmp, 'markers/later')), 'a component after the failure never started');
  assert.not.match(p.out(), /component=later/);
});

test('a component failing while running stops the others; exit non-zero', async () => {
  const a = await component('steady', '    config: { stopMarker: ./markers/steady }\n');
  const b = await component('crashy', '    config: { failRunAfterMs: 500 }\n');
  const p = launch('crash', `apiVersion: 1\ngracePeriod: 10s\ncomponents:\n${a.yaml}${b.yaml}`);
  const ex = await p.exit;
  assert.is(ex.code, 1, p.out());
  assert.match(p.out(), /component=crashy msg="component failed" err="fixture run failed on purpose"/);
  assert.is(fs.readFileSync(path.join(tmp, 'markers/steady'), 'utf8'), 'stopped cleanly');
});

test('SIGHUP reloads; --log.format=json logs JSON; SIGINT stops', async () => {
  const a = await component('hup', '');
  const p = launch('hup', `apiVersion: 1\ngracePeriod: 5s\ncomponents:\n${a.yaml}`, ['--log.format=json']);
  await waitReady(a.http);
  p.child.kill('SIGHUP');
  let body = '';
  for (let i = 0; i < 100 && body !== 'hello reloads=1'; i++) {
    await new Promise((r) => setTimeout(r, 30));
    body = await (await fetch(`http://127.0.0.1:${a.http}/hello`)).text();
  }
  assert.is(body, 'hello reloads=1');
  p.child.kill('SIGINT');
  const ex = await p.exit;
  assert.is(ex.code, 0, p.out());
  const lines = p.out().trim().split('\n').filter((l) => l.startsWith('{'));
  assert.ok(lines.length > 3);
  const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(recs.some((r) => r.msg === 'reloaded' && r.component === 'hup' && r.level === 'info'));
  assert.ok(recs.every((r) => typeof r.ts === 'string'));
});

test('a manifest error exits 2 naming file, line and key', async () => {
  const p = launch('bad-manifest', 'apiVersion: 1\ncomponents:\n  - id: x\n    use: store\n    htp: 127.0.0.1:1\n');
  const ex = await p.exit;
  assert.is(ex.code, 2);
  assert.match(p.out(), /bad-manifest\.yaml:5: components\[0\]\.htp: unknown key "htp" in components\[0\]/);
  const q = launch('bad-config', `apiVersion: 1\ncomponents:\n  - id: x\n    use: ${sleepyUse}\n    config:\n      busyMs: soon\n    isolation: inline\n    trust: true\n`);
  assert.is((await q.exit).code, 2);
  assert.match(q.out(), /bad-config\.yaml:6: components\[0\]\.config\.busyMs: expected a number/);
});

test.after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});
test.run();
