// A real Prometheus 2.42 started on a data directory holding blocks we wrote answers
// /api/v1/query_range (and raw range selectors) with exactly our samples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlockWriter, fsBlockSink } from '../../lib/tsdb/mod.ts';
import { labelsFromRecord, compareLabels, type Labels } from '../../lib/labels/mod.ts';
import { fs, core, tmp, rng, HOUR } from './helpers.ts';
import { freePort } from '../harness/ports.ts';

const now = Date.now();
const T0 = Math.floor((now - 30 * HOUR) / (2 * HOUR)) * 2 * HOUR; // two aligned 2h blocks, a day ago
const STEP = 15_000;
const data = tmp('prom');
const db = join(data, 'db');
let proc: ChildProcess | undefined;
let port = 0;
const written: { labels: Labels; t: number[]; v: number[] }[] = [];

async function api(path: string): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  const j = (await r.json()) as { status: string; data: any };
  if (j.status !== 'success') throw new Error(`${path}: ${JSON.stringify(j)}`);
  return j.data;
}

test.before(async () => {
  mkdirSync(db, { recursive: true });
  const r = rng(3);
  const defs: Labels[] = [];
  for (let i = 0; i < 12; i++) defs.push(labelsFromRecord({ __name__: i % 2 ? 'our_gauge' : 'our_counter_total', instance: `i${i}`, job: 'ts' }));
  defs.sort(compareLabels);
  for (let b = 0; b < 2; b++) {
    const lo = T0 + b * 2 * HOUR;
    const syms = new Set<string>();
    for (const d of defs) for (const l of d) { syms.add(l.name); syms.add(l.value); }
    const w = await BlockWriter.create(fsBlockSink(fs, db), syms, { core, minTime: lo, maxTime: lo + 2 * HOUR, thanos: { labels: { replica: 'a' }, downsample: { resolution: 0 }, source: 'test' } });
    for (const [k, d] of defs.entries()) {
      const n = (2 * HOUR) / STEP;
      const t = new Float64Array(n), v = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        t[i] = lo + i * STEP;
        v[i] = k % 2 ? Math.round(r() * 1e6) / 1e3 : b * 1e5 + i * (k + 1);
      }
      await w.addSeries(d, t, v);
      if (b === 0) written.push({ labels: d, t: [], v: [] });
      written[k]!.t.push(...t);
      written[k]!.v.push(...v);
    }
    await w.finish();
  }
  writeFileSync(join(data, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
  port = await freePort();
  proc = spawn('/usr/bin/prometheus', [
    `--config.file=${join(data, 'prometheus.yml')}`, `--storage.tsdb.path=${db}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=100y', '--storage.tsdb.min-block-duration=2h', '--storage.tsdb.max-block-duration=2h',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`prometheus did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

test.after(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
});

test('Prometheus loads our blocks (thanos section ignored) and lists the series', async () => {
  const blocks = await api('/api/v1/status/tsdb');
  assert.ok(blocks);
  const series = await api(`/api/v1/series?match[]=${encodeURIComponent('{job="ts"}')}&start=${T0 / 1000}&end=${(T0 + 4 * HOUR) / 1000}`);
  assert.is(series.length, 12);
});

test('query_range returns exactly our samples', async () => {
  const start = T0, end = T0 + 4 * HOUR - STEP;
  const d = await api(`/api/v1/query_range?query=${encodeURIComponent('{job="ts"}')}&start=${start / 1000}&end=${end / 1000}&step=${STEP / 1000}`);
  assert.is(d.resultType, 'matrix');
  assert.is(d.result.length, 12);
  for (const s of d.result) {
    const w = written.find((x) => x.labels.every((l) => s.metric[l.name] === l.value))!;
    assert.ok(w, JSON.stringify(s.metric));
    assert.is(s.values.length, w.t.length);
    for (let i = 0; i < w.t.length; i++) {
      assert.is(s.values[i][0] * 1000, w.t[i]);
      assert.is(Number(s.values[i][1]), w.v[i], `${JSON.stringify(s.metric)} @${w.t[i]}`);
    }
  }
});

test('raw range selector over the block boundary returns our samples', async () => {
  const at = T0 + 2 * HOUR + 10 * 60_000;
  const d = await api(`/api/v1/query?query=${encodeURIComponent('our_counter_total{instance="i0"}[20m]')}&time=${at / 1000}`);
  const w = written.find((x) => x.labels.some((l) => l.value === 'i0'))!;
  const want = w.t.map((t, i) => [t, w.v[i]!] as const).filter(([t]) => t >= at - 20 * 60_000 && t <= at) // 2.42: both ends inclusive;
  assert.equal(d.result[0].values.map((x: [number, string]) => [x[0] * 1000, Number(x[1])]), want.map((x) => [x[0], x[1]]));
});

test.run();
