// Selects of the same data in flight together in one query share one Series call
// (StoreQueryable.select): `g / on(job) group_left sum by (job) (g)` and `rate(x[5m]) / x` select
// the same series over the same range twice at once and asked every store twice. Each caller gets
// its own result arrays; another range, resolution or aggregate, or a later select, ask again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { Aggr } from '../../lib/proto/store.ts';
import { StoreQueryable, type QuerierOptions } from '../../lib/query/querier.ts';
import { FakeStore, fakeSeries } from './fakestore.ts';

const core = createJsCore();
const opts: QuerierOptions = { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: true };
const g = [{ type: '=' as const, name: '__name__', value: 'g' }];
const t = Array.from({ length: 100 }, (_, i) => i * 15_000);

function store(): FakeStore {
  return new FakeStore([
    fakeSeries(core, { __name__: 'g', job: 'a' }, t, t.map((x) => x / 1000)),
    fakeSeries(core, { __name__: 'g', job: 'b' }, t, t.map((x) => x / 500)),
  ]);
}

test('two identical selects at once: one Series call, equal answers, separate arrays', async () => {
  const s = store();
  const q = new StoreQueryable(s, core, opts);
  const signal = new AbortController().signal;
  const hints = { start: 600_000, end: 900_000, step: 0 };
  const [a, b] = await Promise.all([q.select(g, hints, signal), q.select(g, { ...hints }, signal)]);
  assert.is(s.requests.length, 1);
  assert.equal(b, a);
  assert.is.not(a.series, b.series);
  assert.is.not(a.series[0], b.series[0]);
  a.series.length = 0; // one caller's changes are not the other's
  assert.is(b.series.length, 2);
});

test('rate(g[5m]) and g over the same range share raw data; not where downsampled aggregates may differ', async () => {
  const hints = { start: 600_000, end: 900_000, step: 0 };
  const rate = { ...hints, func: 'rate', range: 300_000 };
  const s = store();
  const q = new StoreQueryable(s, core, opts);
  const signal = new AbortController().signal;
  const [a, b] = await Promise.all([q.select(g, rate, signal), q.select(g, hints, signal)]);
  assert.is(s.requests.length, 1);
  assert.equal(b, a);
  // --query.max-source-resolution allowing 1h: rate asks for counter aggregates at 2.5m, g for count/sum at 1h
  const s2 = store();
  const q2 = new StoreQueryable(s2, core, { ...opts, maxResolutionMs: 3_600_000 });
  const over = (func: string) => q2.select(g, { ...rate, func }, signal);
  await Promise.all([q2.select(g, rate, signal), q2.select(g, hints, signal), over('increase'), over('max_over_time'), over('min_over_time'), over('deriv')]);
  assert.equal(s2.requests.map((r) => [r.maxResolutionWindow, r.aggregates]), [
    [150_000, [Aggr.COUNTER]], [3_600_000, [Aggr.COUNT, Aggr.SUM]], [3_600_000, [Aggr.MAX]], [3_600_000, [Aggr.MIN]], [150_000, [Aggr.COUNT, Aggr.SUM]],
  ]);
});

test('another range, series only, another signal, or a select after the first ended: separate Series calls', async () => {
  const s = store();
  const q = new StoreQueryable(s, core, opts);
  const signal = new AbortController().signal;
  const hints = { start: 600_000, end: 900_000, step: 0 };
  await Promise.all([q.select(g, hints, signal), q.select(g, { ...hints, func: 'series' }, signal), q.select(g, { ...hints, end: 899_000 }, signal)]);
  assert.is(s.requests.length, 3);
  await Promise.all([q.select(g, hints, signal), q.select(g, hints, new AbortController().signal)]);
  assert.is(s.requests.length, 5);
  await q.select(g, hints, signal);
  assert.is(s.requests.length, 6);
});

test.run();
