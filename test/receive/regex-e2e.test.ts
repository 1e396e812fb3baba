// Issue #21 item 1 end to end: a backtracking-prone regex matcher against a receiver's label values.
// `thanos run` with receive + query in ONE process (one event loop, the easiest to freeze): remote
// write a series whose value is 32 "a"s then "b", then query {v=~"(a+)+$"} through the querier
// (which sends the matcher to the receiver's StoreAPI). With JavaScript's backtracking RegExp that
// query held the process 22 s or more (each extra character doubles it) and /-/healthy stalled;
// with the RE2 engine it answers at once and the health endpoint keeps answering.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { ProcessCpu } from '../harness/processcpu.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'regex-e2e-'));
let child: ChildProcess | undefined;
test.after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function until(what: string, fn: () => Promise<boolean>, out: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child?.exitCode !== null) throw new Error(`thanos run exited:\n${out()}`);
    try {
      if (await fn()) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${STARTUP_MS} ms\n${out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('{v=~"(a+)+$"} on a 32-character value: the query answers promptly and /-/healthy keeps answering', async () => {
  const [rg, rh, rw, qh, qg] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  fs.writeFileSync(path.join(tmp, 'plugins.yaml'), `apiVersion: 1
log: { level: warn, format: logfmt }
core: { backend: wasm }
gracePeriod: 5s
components:
  - id: receive
    use: receive
    grpc: 127.0.0.1:${rg}
    http: 127.0.0.1:${rh}
    config:
      remoteWriteAddress: 127.0.0.1:${rw}
      tsdbPath: ./data/receive
      labels: ['receive_replica="0"']
    permissions: { net: ["127.0.0.1"], read: [./data/receive], write: [./data/receive] }
  - id: query
    use: query
    dependsOn: [receive]
    http: 127.0.0.1:${qh}
    grpc: 127.0.0.1:${qg}
    config:
      endpoints: [127.0.0.1:${rg}]
      timeout: 120s
    permissions: { net: ["127.0.0.1"] }
`);
  let out = '';
  child = spawn(process.execPath, [path.join(repo, 'bin/thanos.mjs'), 'run', '-c', 'plugins.yaml'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  const log = () => out;
  const rhBase = `http://127.0.0.1:${rh}`;
  const qBase = `http://127.0.0.1:${qh}`;
  for (const base of [rhBase, qBase]) await until(`${base}/-/ready`, async () => (await fetch(`${base}/-/ready`)).status === 200, log);

  const now = Date.now();
  const hostile = 'a'.repeat(32) + 'b';
  const body = encodeRemoteWriteBody({
    timeseries: [
      { labels: [{ name: '__name__', value: 're_e2e' }, { name: 'v', value: hostile }], samples: [{ timestamp: now - 1000, value: 1 }] },
      { labels: [{ name: '__name__', value: 're_e2e' }, { name: 'v', value: 'aaaa' }], samples: [{ timestamp: now - 1000, value: 2 }] },
    ],
  });
  const wr = await fetch(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body });
  await wr.arrayBuffer();
  assert.is(wr.status, 200);
  const query = async (expr: string, signal?: AbortSignal) => {
    const r = await fetch(`${qBase}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr, time: String(now / 1000) }), signal });
    const text = await r.text();
    return { status: r.status, json: JSON.parse(text) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }, text };
  };
  // The querier finds the receiver on its first endpoint refresh.
  await until('the querier sees both series', async () => (await query('count(re_e2e)')).json.data.result[0]?.value[1] === '2', log);

  // Health probes every 100 ms, before and during the hostile queries.
  const probes: Array<{ ms: number; at: number }> = [];
  const cpu = new ProcessCpu(child!.pid!);
  cpu.start();
  let stop = false;
  const prober = (async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await fetch(`${rhBase}/-/healthy`, { signal: AbortSignal.timeout(120_000) });
        await r.text();
      } catch { /* recorded as a long probe */ }
      probes.push({ ms: performance.now() - t0, at: Date.now() });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await new Promise((r) => setTimeout(r, 1500));
  const baseline = Math.max(...probes.map((p) => p.ms));
  const attackStart = Date.now();

  const t0 = performance.now();
  const pos = await query('re_e2e{v=~"(a+)+$"}', AbortSignal.timeout(120_000));
  const neg = await query('re_e2e{v!~"(a+)+$"}', AbortSignal.timeout(120_000));
  const repl = await query('label_replace(re_e2e, "m", "$1", "v", "(a+)+$")', AbortSignal.timeout(120_000));
  const elapsed = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 500)); // let a probe that was waiting on the event loop land
  stop = true;
  await prober;
  cpu.stop();

  assert.is(pos.status, 200, pos.text);
  assert.equal(pos.json.data.result.map((s) => s.metric.v), ['aaaa']);
  assert.equal(neg.json.data.result.map((s) => s.metric.v), [hostile]);
  assert.equal(repl.json.data.result.map((s) => s.metric.m ?? null).sort(), ['aaaa', null]);
  // Generous bounds (a loaded CI machine): the old path needed 20 s or more for the first query alone.
  assert.ok(elapsed < 10_000, `the three queries took ${elapsed.toFixed(0)} ms`);
  // A stall is a wait the receiver spent CPU on (the old path: 20 s of backtracking on its event
  // loop); a wait while a loaded machine gave the receiver no CPU is not.
  const stalls = probes
    .filter((p) => p.at >= attackStart && p.ms >= baseline + 2000)
    .map((p) => ({ ...p, cpuMs: cpu.between(p.at - p.ms, p.at) }));
  const busy = stalls.filter((p) => p.cpuMs >= 2000);
  assert.equal(busy, [], `/-/healthy waited during the queries: ${stalls.map((p) => `${p.ms.toFixed(0)} ms with ${p.cpuMs.toFixed(0)} ms of receiver CPU`).join('; ')} (baseline ${baseline.toFixed(0)} ms)`);
});

test.run();
