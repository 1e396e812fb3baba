// Series with the same timestamps (scraped together) share one timestamp array in the querier's
// select result (StoreQueryable's batched raw-XOR path): one typed array less per series. Values,
// other timestamps and the engine's answers are those of the series' own arrays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { StoreQueryable, type QuerierOptions } from '../../lib/query/querier.ts';
import { Engine, parseExpr, type Queryable, type SeriesData } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { FakeStore, fakeSeries } from './fakestore.ts';

const core = createJsCore();
const opts: QuerierOptions = { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: true };
const g = [{ type: '=' as const, name: '__name__', value: 'g' }];
const t = Array.from({ length: 240 }, (_, i) => i * 15_000);
const t2 = t.map((x) => x + 1_000);

function data(series: number): { rec: Record<string, string>; ts: number[]; vs: number[] }[] {
  const out = [];
  for (let i = 0; i < series; i++) {
    // the third series is scraped 1 s later; the fourth one sample shorter
    const ts = i === 2 ? t2 : i === 3 ? t.slice(0, -1) : t;
    out.push({ rec: { __name__: 'g', i: String(i).padStart(4, '0') }, ts, vs: ts.map((x) => (x / 1000) * (i + 1)) });
  }
  return out;
}

function store(series = 3): FakeStore {
  return new FakeStore(data(series).map((d) => fakeSeries(core, d.rec, d.ts, d.vs)));
}

/** The same series straight from the arrays they were made of (no store, no decoding). */
function direct(series: number): Queryable {
  return {
    async select(_ms, hints) {
      return {
        series: data(series).map(({ rec, ts, vs }): SeriesData => {
          const keep = ts.map((x, i) => i).filter((i) => ts[i]! >= hints.start && ts[i]! <= hints.end);
          return { labels: labelsFromRecord(rec), t: Float64Array.from(keep, (i) => ts[i]!), v: Float64Array.from(keep, (i) => vs[i]!), n: keep.length };
        }),
      };
    },
  };
}

test('equal timestamps: one shared array; other timestamps and all values: their own', async () => {
  const q = new StoreQueryable(store(5), core, opts);
  const r = await q.select(g, { start: 0, end: 4_000_000, step: 0 }, new AbortController().signal);
  const [a, b, c, d, e] = r.series;
  assert.is(a!.t, b!.t);
  assert.is.not(c!.t, b!.t);
  assert.is.not(d!.t, c!.t);
  assert.is.not(e!.t, d!.t);
  assert.is.not(a!.v, b!.v);
  assert.equal(Array.from(c!.t), t2);
  assert.equal(Array.from(d!.t), t.slice(0, -1));
  assert.equal(Array.from(e!.t), t);
  for (const [k, s] of r.series.entries()) {
    const ts = k === 2 ? t2 : k === 3 ? t.slice(0, -1) : t;
    assert.equal(Array.from(s.v), ts.map((x) => (x / 1000) * (k + 1)));
  }
});

test('shared across decode batches (more than 65536 samples); answers equal the series\' own arrays', async () => {
  const q = new StoreQueryable(store(700), core, opts);
  const r = await q.select(g, { start: 0, end: 4_000_000, step: 0 }, new AbortController().signal);
  assert.is(r.series.length, 700);
  assert.is(r.series[699]!.t, r.series[4]!.t);
  const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 1e8, timeoutMs: 60_000 });
  for (const e of ['g', 'rate(g[5m])', 'timestamp(g)', 'sum(g)', 'g[2m]']) {
    for (const at of [600_000, 1_200_500, 3_585_000, 3_600_000]) {
      const got = await engine.instantQuery(new StoreQueryable(store(700), core, opts), parseExpr(e), at, {});
      const want = await engine.instantQuery(direct(700), parseExpr(e), at, {});
      assert.equal(JSON.stringify(got.result), JSON.stringify(want.result), `${e} @ ${at}`);
    }
    if (e === 'g[2m]') continue;
    const got = await engine.rangeQuery(new StoreQueryable(store(700), core, opts), parseExpr(e), 300_000, 3_700_000, 60_000, {});
    const want = await engine.rangeQuery(direct(700), parseExpr(e), 300_000, 3_700_000, 60_000, {});
    assert.equal(JSON.stringify(got.result), JSON.stringify(want.result), `${e} range`);
  }
});

test('overlapping chunks (samples filtered one by one): shared when equal, and the next series keeps its own', async () => {
  // series 0: two overlapping chunks (samples 0-119 and 60-179), so its samples are filtered one by one
  const ts = t.slice(0, 180);
  const vs = ts.map((x) => x / 1000);
  const a = fakeSeries(core, { __name__: 'g', i: '0' }, ts, vs);
  const b = fakeSeries(core, { __name__: 'g', i: '0' }, ts.slice(60), vs.slice(60));
  const overlap = { labels: a.labels, chunks: [a.chunks[0]!, b.chunks[0]!] };
  const same = fakeSeries(core, { __name__: 'g', i: '1' }, ts, vs.map((x) => -x));
  const later = fakeSeries(core, { __name__: 'g', i: '2' }, t2.slice(0, 180), vs.map((x) => x * 2));
  const alsoOverlap = { labels: fakeSeries(core, { __name__: 'g', i: '3' }, [], []).labels, chunks: overlap.chunks };
  const q = new StoreQueryable(new FakeStore([overlap, same, later, alsoOverlap]), core, opts);
  const r = await q.select(g, { start: 0, end: 4_000_000, step: 0 }, new AbortController().signal);
  assert.is(r.series.length, 4);
  const [s0, s1, s2, s3] = r.series;
  assert.equal(Array.from(s0!.t), ts);
  assert.equal(Array.from(s0!.v), vs);
  assert.is(s1!.t, s0!.t);
  assert.equal(Array.from(s1!.v), vs.map((x) => -x));
  assert.equal(Array.from(s2!.t), t2.slice(0, 180));
  assert.equal(Array.from(s2!.v), vs.map((x) => x * 2));
  assert.equal(Array.from(s3!.t), ts);
  assert.equal(Array.from(s3!.v), vs);
  assert.equal(Array.from(s2!.t), t2.slice(0, 180)); // not overwritten by the series after it
});

test.run();
