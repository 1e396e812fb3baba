// End to end: `thanos compact` over 25 raw 2h blocks (→ one 2d block + its 5m copy), then
// `thanos store` + `thanos query` over the same bucket: PromQL sees exactly the raw samples once
// (the compacted sources, marked but not yet deleted, are hidden), and max_source_resolution=5m
// reads the downsampled block (a plain selector answers sum/count of the 5m window).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { HOUR, tmp, fsBucket, alignedStart, putBlock, samplesOf, freePort, bucketConfigFile, type SeriesSpec } from './helpers.ts';

const procs: ChildProcess[] = [];
let logs = '';
function start(args: string[]): ChildProcess {
  const p = spawn(process.execPath, ['bin/thanos.mjs', ...args], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout!.on('data', (d) => (logs += d));
  p.stderr!.on('data', (d) => (logs += d));
  procs.push(p);
  return p;
}
test.after(() => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); });

async function waitFor(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await pred()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const TEMP: SeriesSpec = { labels: { __name__: 'temp', room: 'lab' }, step: 60_000, value: (t) => Math.round(Math.sin(t / 5e6) * 1e4) / 100, offset: 13_000 };

test('compact, then store + query serve the compacted and downsampled blocks', async () => {
  const dir = tmp('e2e-bucket');
  const bucket = fsBucket(dir);
  const cfg = bucketConfigFile(dir);
  const T0 = alignedStart(40);
  const ext = { cluster: 'e2e' };
  for (let i = 0; i < 25; i++) await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext, series: [TEMP] });
  const c = start(['compact', '--objstore.config-file', cfg, '--data-dir', tmp('e2e-compact'), `--http-address=127.0.0.1:${await freePort()}`, '--consistency-delay=0s']);
  const code = await new Promise<number | null>((r) => c.on('close', r));
  assert.is(code, 0, logs);
  assert.match(logs, /compaction iteration done.* compactions=7 downsampled=1/);

  const grpc = await freePort(), http = await freePort(), qhttp = await freePort();
  start(['store', '--objstore.config-file', cfg, '--data-dir', tmp('e2e-store'), `--grpc-address=127.0.0.1:${grpc}`, `--http-address=127.0.0.1:${http}`]);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/-/ready`)).status === 200, 30_000, 'store ready');
  const blocks = (await (await fetch(`http://127.0.0.1:${http}/api/v1/blocks`)).json()) as { data: { blocks: Array<{ compaction: { level: number }; thanos: { downsample: { resolution: number } } }> } };
  // The 2d block, its 5m copy, and the newest 2h block; the 24 marked sources are duplicates.
  assert.equal(blocks.data.blocks.map((b) => `${b.compaction.level}/${b.thanos.downsample.resolution}`).sort(), ['1/0', '3/0', '3/300000']);
  start(['query', `--endpoint=127.0.0.1:${grpc}`, `--http-address=127.0.0.1:${qhttp}`, `--grpc-address=127.0.0.1:${await freePort()}`]);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${qhttp}/api/v1/query?query=temp&time=${(T0 + HOUR) / 1000}`)).json()) as { data: { result: unknown[] } };
    return r.data.result.length === 1;
  }, 30_000, 'query sees the store');

  // Raw: every sample of 2 days, once, through a range query at the data's own step.
  const start0 = T0 + 13_000, end0 = T0 + 48 * HOUR - 60_000 + 13_000;
  const u = `http://127.0.0.1:${qhttp}/api/v1/query_range?query=temp&start=${start0 / 1000}&end=${end0 / 1000}&step=60`;
  const rr = (await (await fetch(u)).json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; values: [number, string][] }> } };
  assert.is(rr.status, 'success');
  assert.is(rr.data.result.length, 1);
  assert.equal(rr.data.result[0]!.metric, { __name__: 'temp', room: 'lab', cluster: 'e2e' });
  const want = samplesOf(TEMP, T0, T0 + 48 * HOUR);
  assert.is(rr.data.result[0]!.values.length, want.t.length);
  rr.data.result[0]!.values.forEach(([t, v], i) => {
    assert.is(Math.round(t * 1000), want.t[i]);
    assert.is(Number(v), want.v[i]);
  });

  // 5m: at a window's end the plain selector answers the window's average (sum / count).
  const w = T0 + 10 * HOUR; // window [w, w+5m)
  const inWin = want.t.map((t, i) => [t, want.v[i]!] as const).filter(([t]) => t >= w && t < w + 300_000);
  const avg = inWin.reduce((a, [, v]) => a + v, 0) / inWin.length;
  const q5 = (await (await fetch(`http://127.0.0.1:${qhttp}/api/v1/query?query=temp&time=${(w + 300_000 - 1) / 1000}&max_source_resolution=5m`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  assert.is(q5.data.result.length, 1);
  assert.ok(Math.abs(Number(q5.data.result[0]!.value[1]) - avg) < 1e-9, `${q5.data.result[0]!.value[1]} vs ${avg}`);
  const raw = (await (await fetch(`http://127.0.0.1:${qhttp}/api/v1/query?query=temp&time=${(w + 300_000 - 1) / 1000}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  assert.is(Number(raw.data.result[0]!.value[1]), inWin[inWin.length - 1]![1]);
});

test.run();
