import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcError } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import type { Matcher } from '../../lib/labels/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import plugin, { setupStore } from '../../plugins/component/store/mod.ts';
import type { StoreComponent } from '../../lib/store/gateway/component.ts';
import { type SeriesOut, type SeriesReq } from '../../lib/store/gateway/bucketstore.ts';
import { Aggr } from '../../lib/proto/store.ts';
import { genSeries, writeRawBlock, writeDownsampledBlock, testCtx, expected, decodeResult, key, type AggrTruth } from './fixtures.ts';

const core = createJsCore();
const H = 3600_000;
const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H;
const M5 = 300_000;
const bucket = new MemoryBucket();
const ext = { cluster: 'r' };
const series = genSeries(6, T0, T0 + 8 * H, 60_000);
const raw: string[] = [];
let m5: Array<{ id: string; truth: AggrTruth[] }> = [];
let h1: { id: string; truth: AggrTruth[] };
let noCounter: { id: string; truth: AggrTruth[] };
let comp: StoreComponent;
const ac = new AbortController();
let runP: Promise<void>;
const dataDir = mkdtempSync(join(tmpdir(), 'store-res-'));

test.before(async () => {
  for (let b = 0; b < 4; b++) raw.push(await writeRawBlock(bucket, core, series, T0 + b * 2 * H, T0 + (b + 1) * 2 * H, ext));
  m5 = [await writeDownsampledBlock(bucket, core, series, T0, T0 + 4 * H, ext, M5), await writeDownsampledBlock(bucket, core, series, T0 + 4 * H, T0 + 6 * H, ext, M5)];
  h1 = await writeDownsampledBlock(bucket, core, series, T0, T0 + 4 * H, ext, H);
  // another label set: a 5m block without its counter aggregate
  noCounter = await writeDownsampledBlock(bucket, core, series, T0, T0 + 4 * H, { cluster: 'nc' }, M5, [4]);
  const ctx = testCtx(bucket, core, dataDir);
  comp = await setupStore(ctx, plugin.parseConfig({ syncBlockDuration: '1h' }));
  runP = comp.run(ac.signal);
  await comp.ready;
});
test.after(async () => {
  ac.abort();
  await runP;
  rmSync(dataDir, { recursive: true, force: true });
});

async function collect(req: Partial<SeriesReq> & { matchers: Matcher[] }): Promise<SeriesOut[]> {
  const out: SeriesOut[] = [];
  for await (const s of comp.store.series({ minTime: T0, maxTime: T0 + 8 * H, ...req })) out.push(s);
  return out;
}

test('resolution selection: coarsest allowed, gaps filled from finer blocks', () => {
  const ids = (res: number, a = T0, b = T0 + 8 * H) => comp.store.selectBlocks(a, b, res).filter((x) => x.meta.thanos.labels.cluster === 'r').map((x) => x.id);
  assert.equal(ids(0), raw);
  assert.equal(ids(M5), [...m5.map((x) => x.id), raw[3]]);
  assert.equal(ids(M5 * 2), [...m5.map((x) => x.id), raw[3]]);
  assert.equal(ids(H), [h1.id, m5[1]!.id, raw[3]]);
  assert.equal(ids(10 * H), [h1.id, m5[1]!.id, raw[3]]);
  // a range inside the 1h block needs nothing else
  assert.equal(ids(H, T0 + H, T0 + 2 * H), [h1.id]);
  // a range after the downsampled data: raw only
  assert.equal(ids(H, T0 + 7 * H, T0 + 8 * H), [raw[3]]);
});

test('raw resolution: samples equal what was written', async () => {
  const ms: Matcher[] = [{ type: '=', name: 'cluster', value: 'r' }, { type: '=~', name: 'job', value: 'api|db' }];
  const got = decodeResult(core, await collect({ matchers: ms, maxResolutionWindow: 0 }), T0, T0 + 8 * H);
  const want = expected(series, ext, ms, T0, T0 + 8 * H);
  assert.is(got.size, 6);
  for (const [k, w] of want) assert.equal(got.get(k), w, k);
});

function decodeAll(chunks: Array<{ data: Uint8Array } | undefined>): { t: number[]; v: number[] } {
  const t: number[] = [];
  const v: number[] = [];
  for (const c of chunks) {
    if (!c) throw new Error('missing aggregate chunk');
    const d = core.xorDecode(c.data);
    for (let i = 0; i < d.n; i++) { t.push(d.t[i]!); v.push(d.v[i]!); }
  }
  return { t, v };
}

test('1h window: aggregates from 1h, then 5m, then raw chunks; values as written', async () => {
  const res = await collect({ matchers: [{ type: '=', name: 'cluster', value: 'r' }], maxResolutionWindow: H, aggregates: [Aggr.COUNT, Aggr.SUM] });
  assert.is(res.length, 6);
  for (const s of res) {
    const idx = s.labels.find((l) => l.name === 'idx')!.value;
    const downs = s.chunks.filter((c) => !c.raw);
    const raws = s.chunks.filter((c) => c.raw);
    for (const c of downs) { assert.ok(c.count && c.sum); assert.is(c.min, undefined); assert.is(c.counter, undefined); }
    const t1h = h1.truth.find((x) => x.labels.find((l) => l.name === 'idx')!.value === idx)!;
    const t5m = m5[1]!.truth.find((x) => x.labels.find((l) => l.name === 'idx')!.value === idx)!;
    const d1h = downs.filter((c) => c.maxTime < T0 + 4 * H);
    const d5m = downs.filter((c) => c.minTime >= T0 + 4 * H);
    assert.is(d1h.length, t1h.chunks.length);
    assert.is(d5m.length, t5m.chunks.length);
    const count1h = decodeAll(d1h.map((c) => c.count));
    assert.equal(count1h.t, t1h.chunks.flatMap((c) => [...c.aggr[0]!.t]));
    assert.equal(count1h.v, t1h.chunks.flatMap((c) => [...c.aggr[0]!.v]));
    const sum5m = decodeAll(d5m.map((c) => c.sum));
    assert.equal(sum5m.v, t5m.chunks.flatMap((c) => [...c.aggr[1]!.v]));
    // the counts add up to the number of raw samples written in the downsampled range
    const written = series.find((x) => x.labels.find((l) => l.name === 'idx')!.value === idx)!;
    const n1h = [...written.t].filter((t) => t < T0 + 4 * H).length;
    assert.is(count1h.v.reduce((a, b) => a + b, 0), n1h);
    // the raw part starts where the 5m block ends
    assert.ok(raws.length > 0 && raws.every((c) => c.minTime >= T0 + 6 * H));
    for (let i = 1; i < s.chunks.length; i++) assert.ok(s.chunks[i - 1]!.minTime <= s.chunks[i]!.minTime);
  }
});

test('requested aggregates only; missing aggregate is an error', async () => {
  const res = await collect({ matchers: [{ type: '=', name: 'cluster', value: 'r' }, { type: '=', name: 'idx', value: '2' }], minTime: T0, maxTime: T0 + 4 * H - 1, maxResolutionWindow: M5, aggregates: [Aggr.MAX, Aggr.COUNTER] });
  assert.is(res.length, 1);
  for (const c of res[0]!.chunks) {
    assert.ok(c.max && c.counter);
    assert.is(c.count, undefined);
    assert.is(c.raw, undefined);
  }
  const truth = m5[0]!.truth.find((x) => x.labels.find((l) => l.name === 'idx')!.value === '2')!;
  assert.equal(decodeAll(res[0]!.chunks.map((c) => c.max)).v, truth.chunks.flatMap((c) => [...c.aggr[3]!.v]));
  try {
    await collect({ matchers: [{ type: '=', name: 'cluster', value: 'nc' }], minTime: T0, maxTime: T0 + 4 * H - 1, maxResolutionWindow: M5, aggregates: [Aggr.COUNTER] });
    assert.unreachable('expected an error');
  } catch (e) {
    assert.instance(e, GrpcError);
    assert.match((e as Error).message, /aggregate counter does not exist/);
  }
  // count from the same block works
  const ok = await collect({ matchers: [{ type: '=', name: 'cluster', value: 'nc' }], minTime: T0, maxTime: T0 + 4 * H - 1, maxResolutionWindow: M5, aggregates: [Aggr.COUNT] });
  assert.is(ok.length, 6);
  assert.ok(noCounter.id);
  assert.ok(key(ok[0]!.labels).includes('cluster=nc'));
});

test.run();
