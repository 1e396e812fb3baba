// Blocks made by real promtool (Prometheus 2.42) from OpenMetrics, placed in a FILESYSTEM bucket
// with a thanos section added (as a sidecar upload would), served by the store gateway.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { labelsFromRecord, type Matcher } from '../../lib/labels/mod.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { FilesystemBucket } from '../../plugins/objstore/filesystem/mod.ts';
import plugin, { setupStore } from '../../plugins/component/store/mod.ts';
import type { StoreComponent } from '../../lib/store/gateway/component.ts';
import { decodeResult, expected, testCtx, type FixtureSeries } from './fixtures.ts';

const core = createJsCore();
const root = mkdtempSync(join(tmpdir(), 'store-promtool-'));
const bucketDir = join(root, 'bucket');
let comp: StoreComponent;
const ac = new AbortController();
let runP: Promise<void>;
const series: FixtureSeries[] = [];
const H = 3600_000;
const end = Math.floor(Date.now() / 60_000) * 60_000 - 2 * H;
const start = end - 7 * H;
const ext = { cluster: 'promtool', replica: 'A' };
let blockIds: string[] = [];

test.before(async () => {
  // 24 series: a counter and a gauge family, 15 s step over 7h (→ 4-5 promtool blocks at 2h boundaries).
  const lines: string[] = ['# HELP req_total Requests.', '# TYPE req_total counter'];
  const recs: Array<{ rec: Record<string, string>; t: number[]; v: number[] }> = [];
  for (let i = 0; i < 12; i++) recs.push({ rec: { __name__: 'req_total', instance: `h${i % 4}`, code: i % 3 ? '200' : '500', s: `s${i}` }, t: [], v: [] });
  for (let i = 0; i < 12; i++) recs.push({ rec: { __name__: 'temp_celsius', instance: `h${i % 4}`, zone: `z${i % 2}`, s: `g${i}` }, t: [], v: [] });
  const bodyCounter: string[] = [];
  const bodyGauge: string[] = [];
  for (let t = start; t < end; t += 15_000) {
    recs.forEach((r, i) => {
      const k = (t - start) / 15_000;
      const v = r.rec.__name__ === 'req_total' ? k * (i + 1) : Math.round(Math.sin(k / 10 + i) * 1000) / 100;
      r.t.push(t);
      r.v.push(v);
      const lbl = Object.entries(r.rec).filter(([n]) => n !== '__name__').map(([n, x]) => `${n}="${x}"`).join(',');
      (r.rec.__name__ === 'req_total' ? bodyCounter : bodyGauge).push(`${r.rec.__name__}{${lbl}} ${v} ${t / 1000}`);
    });
  }
  lines.push(...bodyCounter, '# HELP temp_celsius Temperature.', '# TYPE temp_celsius gauge', ...bodyGauge, '# EOF');
  const om = join(root, 'data.om');
  writeFileSync(om, lines.join('\n') + '\n');
  const out = join(root, 'promblocks');
  execFileSync('/usr/bin/promtool', ['tsdb', 'create-blocks-from', 'openmetrics', om, out], { stdio: 'pipe' });
  for (const r of recs) series.push({ labels: labelsFromRecord(r.rec), t: Float64Array.from(r.t), v: Float64Array.from(r.v) });
  blockIds = readdirSync(out).filter((d) => /^[0-9A-Z]{26}$/.test(d));
  for (const id of blockIds) {
    cpSync(join(out, id), join(bucketDir, id), { recursive: true });
    const meta = JSON.parse(readFileSync(join(out, id, 'meta.json'), 'utf8'));
    meta.thanos = { labels: ext, downsample: { resolution: 0 }, source: 'sidecar' };
    writeFileSync(join(bucketDir, id, 'meta.json'), JSON.stringify(meta));
  }
  const fs = nodeFs();
  const ctx = testCtx(new FilesystemBucket(fs, bucketDir), core, join(root, 'data'));
  comp = await setupStore(ctx, plugin.parseConfig({ syncBlockDuration: '1h' }));
  runP = comp.run(ac.signal);
  await comp.ready;
});

test.after(async () => {
  ac.abort();
  await runP;
  rmSync(root, { recursive: true, force: true });
});

test('promtool blocks load', () => {
  assert.ok(blockIds.length >= 4, `${blockIds.length} blocks`);
  assert.is(comp.store.blocks.size, blockIds.length);
  assert.is(comp.store.loadFailures.size, 0);
});

test('Series over promtool blocks equals the OpenMetrics input', async () => {
  const cases: Array<[Matcher[], number, number]> = [
    [[{ type: '=', name: '__name__', value: 'req_total' }], start, end],
    [[{ type: '=~', name: '__name__', value: 'temp_.*' }, { type: '=', name: 'zone', value: 'z1' }], start + H, start + 3 * H],
    [[{ type: '=', name: 'code', value: '500' }], end - H / 2, end],
    [[{ type: '!=', name: 'instance', value: 'h0' }, { type: '=', name: 'replica', value: 'A' }], start + 2 * H - 1, start + 2 * H + 60_000],
    [[{ type: '=~', name: 's', value: 's1.*|g1.*' }], start, end],
  ];
  for (const [ms, mint, maxt] of cases) {
    const out = [];
    for await (const s of comp.store.series({ minTime: mint, maxTime: maxt, matchers: ms })) out.push(s);
    const got = decodeResult(core, out, mint, maxt);
    const want = expected(series, ext, ms, mint, maxt);
    assert.ok(want.size > 0);
    assert.equal([...got.keys()].sort(), [...want.keys()].sort());
    for (const [k, w] of want) assert.equal(got.get(k), w, k);
  }
});

test('label APIs over promtool blocks', async () => {
  assert.equal(await comp.store.labelNames({ start, end }), ['__name__', 'cluster', 'code', 'instance', 'replica', 's', 'zone']);
  assert.equal(await comp.store.labelValues({ label: 'code', start, end }), ['200', '500']);
  assert.equal(await comp.store.labelValues({ label: '__name__', start, end, matchers: [{ type: '=', name: 'zone', value: 'z0' }] }), ['temp_celsius']);
});

test.run();
