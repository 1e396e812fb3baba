// The querier's raw float series reach the engine as they are (MarkedSeriesData): StoreQueryable marks
// staleness markers while it copies samples out of the decoder, and the engine's toRaw keeps the
// object instead of building a second per-series record (one object less per series per query).
// Answers are those of the same data as plain SeriesData (the engine's own stale scan).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { StoreQueryable, type QuerierOptions } from '../../lib/query/querier.ts';
import { toRaw } from '../../lib/promql/engine/helpers.ts';
import { Engine, parseExpr, STALE_NAN, type Queryable, type SeriesData } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import type { AggrChunk } from '../../lib/proto/store.ts';
import { FakeStore, type FakeSeries } from './fakestore.ts';

const core = createJsCore();
const opts: QuerierOptions = { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: true };
const t = Array.from({ length: 300 }, (_, i) => i * 15_000);
const STALE = [130, 131, 250];

/** Chunks of 120 samples written from Float64Arrays (a JS number array would canonicalise StaleNaN's bits). */
function series(rec: Record<string, string>, v: (i: number) => number, stale: number[]): FakeSeries {
  const chunks: AggrChunk[] = [];
  for (let i = 0; i < t.length; i += 120) {
    const n = Math.min(120, t.length - i);
    const tt = new Float64Array(n);
    const vv = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      tt[j] = t[i + j]!;
      vv[j] = v(i + j);
      if (stale.includes(i + j)) new DataView(vv.buffer).setFloat64(j * 8, STALE_NAN, true);
    }
    chunks.push({ minTime: tt[0]!, maxTime: tt[n - 1]!, raw: { type: 0, data: core.xorEncode(tt, vv, n) } });
  }
  return { labels: labelsFromRecord(rec), chunks };
}

function store(): FakeStore {
  return new FakeStore([series({ __name__: 'g', job: 'a' }, (i) => (i === 140 ? NaN : t[i]! / 1000), STALE), series({ __name__: 'g', job: 'b' }, (i) => t[i]! / 500, [])]);
}

/** The same selections as plain SeriesData (copies, no marks): the engine scans them itself. */
function plain(q: Queryable): Queryable {
  return {
    async select(ms, hints, signal) {
      const r = await q.select(ms, hints, signal);
      return { ...r, series: r.series.map((s): SeriesData => ({ labels: s.labels, t: s.t.slice(), v: s.v.slice(), n: s.n })) };
    },
  };
}

test('raw float series come marked: stale markers only where v holds StaleNaN (not a plain NaN), and toRaw keeps the object', async () => {
  const q = new StoreQueryable(store(), core, opts);
  const r = await q.select([{ type: '=', name: '__name__', value: 'g' }], { start: 0, end: 4_000_000, step: 0 }, new AbortController().signal);
  assert.is(r.series.length, 2);
  const [a, b] = r.series as (SeriesData & { stale?: Uint8Array | null; dropName?: boolean })[];
  for (const s of [a!, b!]) {
    assert.is(toRaw(s), s);
    assert.is(s.dropName, false);
  }
  assert.is(b!.stale, null);
  const marked: number[] = [];
  for (let i = 0; i < a!.n; i++) if (a!.stale![i]) marked.push(a!.t[i]!);
  assert.equal(marked, STALE.map((i) => t[i]));
  // a plain SeriesData is still turned into the engine's own record
  const p: SeriesData = { labels: a!.labels, t: a!.t, v: a!.v, n: a!.n };
  const raw = toRaw(p);
  assert.is.not(raw, p);
  assert.equal(raw.stale, a!.stale);
});

test('instant and range answers over marked series equal those over plain copies', async () => {
  const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 1e7, timeoutMs: 60_000 });
  const exprs = ['g', 'rate(g[5m])', 'max_over_time(g[3m])', 'timestamp(g)', 'count_over_time(g[10m])', 'g offset 1m'];
  for (const e of exprs) {
    for (const at of [1_900_000, 1_965_000, 1_980_000, 2_110_000, 3_760_000, 3_800_000]) {
      const got = await engine.instantQuery(new StoreQueryable(store(), core, opts), parseExpr(e), at, {});
      const want = await engine.instantQuery(plain(new StoreQueryable(store(), core, opts)), parseExpr(e), at, {});
      assert.equal(JSON.stringify(got.result), JSON.stringify(want.result), `${e} @ ${at}`);
    }
    const got = await engine.rangeQuery(new StoreQueryable(store(), core, opts), parseExpr(e), 1_000_000, 4_400_000, 30_000, {});
    const want = await engine.rangeQuery(plain(new StoreQueryable(store(), core, opts)), parseExpr(e), 1_000_000, 4_400_000, 30_000, {});
    assert.equal(JSON.stringify(got.result), JSON.stringify(want.result), `${e} range`);
  }
});

test.run();
