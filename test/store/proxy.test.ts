import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GrpcError } from '../../host/index.ts';
import { compareLabels, formatLabels, labelsFromRecord, labelsKey } from '../../lib/labels/mod.ts';
import { labelNamesRequest, labelValuesRequest, type Series } from '../../lib/proto/store.ts';
import type { StoreServer, StoreTarget } from '../../lib/store/api.ts';
import { MemoryStore } from '../../lib/store/memory.ts';
import { mergeChunkLists } from '../../lib/store/merge.ts';
import { NO_STORES_MATCHED, ProxyStore } from '../../lib/store/proxy.ts';
import { batchSeries } from '../../lib/store/server.ts';
import { chunkKey, collect, rejects, FaultyStore, memStore, mkSeries, req, samplesOf } from './helpers.ts';

const H = 3600_000;

function target(name: string, store: StoreServer, ext: Record<string, string> = {}, minTime = -Infinity, maxTime = Infinity): StoreTarget {
  return { name, store, minTime, maxTime, labelSets: Object.keys(ext).length ? [labelsFromRecord(ext)] : [] };
}

test('merges sorted streams; identical series merged, chunks by min time, exact duplicates dropped', async () => {
  const a = memStore([
    mkSeries({ __name__: 'up', job: 'a' }, [[0, 2 * H]]),
    mkSeries({ __name__: 'up', job: 'c' }, [[0, H]]),
  ]);
  const b = memStore([
    mkSeries({ __name__: 'up', job: 'a' }, [[0, 2 * H]]), // same chunks as in a: all dropped as duplicates
    mkSeries({ __name__: 'up', job: 'b' }, [[0, H]]),
  ]);
  const c = memStore([mkSeries({ __name__: 'up', job: 'a' }, [[3 * H, 4 * H]])], { chunksPerFrame: 1 });
  const proxy = new ProxyStore(() => [target('a', a), target('b', b), target('c', c)]);
  const { series, warnings } = await collect(proxy.series(req(), new AbortController().signal));
  assert.equal(warnings, []);
  assert.equal(series.map((s) => formatLabels(s.labels)), ['up{job="a"}', 'up{job="b"}', 'up{job="c"}']);
  const ja = series[0]!;
  for (let i = 1; i < ja.chunks.length; i++) assert.ok(ja.chunks[i - 1]!.minTime <= ja.chunks[i]!.minTime);
  const s = samplesOf(ja);
  assert.is(s.length, (2 * H) / 15000 + 1 + H / 15000 + 1);
  assert.is(new Set(s.map((x) => x[0])).size, s.length, 'no duplicated samples');
  assert.is(new Set(ja.chunks.map(chunkKey)).size, ja.chunks.length);
});

test('randomised: proxy output equals the brute-force union of all stores', async () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let round = 0; round < 40; round++) {
    const nStores = 1 + Math.floor(rnd() * 5);
    const stores: MemoryStore[] = [];
    for (let i = 0; i < nStores; i++) {
      const list = [];
      for (let j = 0; j < 30; j++) {
        if (rnd() < 0.5) continue;
        const start = Math.floor(rnd() * 4) * H;
        list.push(mkSeries({ __name__: `m${j % 3}`, i: String(j), ...(rnd() < 0.3 ? { extra: 'x' } : {}) }, [[start, start + H]]));
      }
      stores.push(memStore(list, { chunksPerFrame: rnd() < 0.5 ? 1 : 0 }));
    }
    const mint = Math.floor(rnd() * 3) * H;
    const maxt = mint + Math.floor(1 + rnd() * 3) * H;
    const r = req({ minTime: mint, maxTime: maxt, matchers: [{ type: '=~', name: '__name__', value: 'm0|m2' }] });
    // some stores answer in SeriesBatch frames of random sizes (series may also be split across frames)
    const sizes = stores.map(() => (rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * 7)));
    const batched = stores.map((s, i): StoreServer => ({
      series: (rq, sg) => batchSeries(s.series(rq, sg), sizes[i]!),
      labelNames: (rq, sg) => s.labelNames(rq, sg),
      labelValues: (rq, sg) => s.labelValues(rq, sg),
    }));
    const proxy = new ProxyStore(() => batched.map((s, i) => target(`s${i}`, s)));
    const got = await collect(proxy.series(r, new AbortController().signal));
    // brute force
    const byKey = new Map<string, Series[]>();
    for (const s of stores) for (const x of (await collect(s.series(r, new AbortController().signal))).series) {
      const k = labelsKey(x.labels);
      byKey.set(k, [...(byKey.get(k) ?? []), x]);
    }
    const want = [...byKey.values()]
      .map((g) => ({ labels: g[0]!.labels, chunks: mergeChunkLists(g.map((s) => s.chunks)) }))
      .sort((a, b) => compareLabels(a.labels, b.labels));
    assert.is(got.series.length, want.length, `round ${round}`);
    for (let i = 0; i < want.length; i++) {
      assert.equal(got.series[i]!.labels, want[i]!.labels);
      assert.equal(got.series[i]!.chunks.map(chunkKey), want[i]!.chunks.map(chunkKey));
    }
  }
});

test('prunes stores by time range and external labels', async () => {
  const never = new FaultyStore(memStore([]), { failAfter: 0, error: 'must not be called' });
  const eu = memStore([mkSeries({ __name__: 'up' }, [[0, H]])], { externalLabels: labelsFromRecord({ region: 'eu' }) });
  const proxy = new ProxyStore(() => [
    target('eu', eu, { region: 'eu' }, 0, H),
    target('us', never, { region: 'us' }, 0, H),
    target('old', never, {}, -10 * H, -5 * H),
  ]);
  const r = await collect(proxy.series(req({ minTime: 0, maxTime: H, matchers: [{ type: '=', name: 'region', value: 'eu' }] }), new AbortController().signal));
  assert.is(never.calls, 0);
  assert.equal(r.warnings, []);
  assert.equal(r.series.map((s) => formatLabels(s.labels)), ['up{region="eu"}']);
  // a regex over the external label that matches neither: nothing is asked
  const none = await collect(proxy.series(req({ minTime: 0, maxTime: H, matchers: [{ type: '=~', name: 'region', value: 'ap.*' }] }), new AbortController().signal));
  assert.equal(none.series, []);
  assert.is(never.calls, 0);
  // ABORT with nothing matched is an error, like Thanos
  await rejects(
    () => collect(proxy.series(req({ minTime: 100 * H, maxTime: 101 * H, partialResponseStrategy: 1 }), new AbortController().signal)),
    (e: unknown) => (e as Error).message === NO_STORES_MATCHED,
  );
});

test('partial response: WARN turns a failing store into a warning; ABORT fails the request', async () => {
  const good = memStore([mkSeries({ __name__: 'up', job: 'a' }, [[0, H]]), mkSeries({ __name__: 'up', job: 'z' }, [[0, H]])]);
  const bad = new FaultyStore(memStore([mkSeries({ __name__: 'up', job: 'b' }, [[0, H]]), mkSeries({ __name__: 'up', job: 'c' }, [[0, H]])]), { failAfter: 1, error: 'disk on fire' });
  const proxy = new ProxyStore(() => [target('good:1', good), target('bad:2', bad)]);
  const w = await collect(proxy.series(req(), new AbortController().signal));
  assert.equal(w.series.map((s) => formatLabels(s.labels)), ['up{job="a"}', 'up{job="b"}', 'up{job="z"}']);
  assert.is(w.warnings.length, 1);
  assert.match(w.warnings[0]!, /bad:2.*disk on fire/);
  await rejects(
    () => collect(proxy.series(req({ partialResponseStrategy: 1 }), new AbortController().signal)),
    (e: unknown) => e instanceof GrpcError && /bad:2.*disk on fire/.test(e.message),
  );
  // a store whose series() throws synchronously is handled the same way
  const sync: StoreServer = {
    series() {
      throw new Error('not connected');
    },
    labelNames: async () => ({ names: [], warnings: [] }),
    labelValues: async () => ({ values: [], warnings: [] }),
  };
  const ps = await collect(new ProxyStore(() => [target('sync', sync), target('good', good)]).series(req(), new AbortController().signal));
  assert.is(ps.series.length, 2);
  assert.match(ps.warnings[0]!, /sync: not connected/);
  // deprecated partial_response_disabled=true means ABORT as well
  await rejects(() => collect(proxy.series(req({ partialResponseDisabled: true }), new AbortController().signal)), (e: unknown) => e instanceof GrpcError);
  // a warning frame from a store under ABORT fails too
  const warner: StoreServer = {
    async *series() {
      yield { type: 'warning', warning: 'half the blocks are missing' };
    },
    labelNames: async () => ({ names: [], warnings: [] }),
    labelValues: async () => ({ values: [], warnings: [] }),
  };
  const p2 = new ProxyStore(() => [target('w', warner), target('good', good)]);
  const ww = await collect(p2.series(req(), new AbortController().signal));
  assert.equal(ww.warnings, ['half the blocks are missing']);
  assert.is(ww.series.length, 2);
  await rejects(() => collect(p2.series(req({ partialResponseStrategy: 1 }), new AbortController().signal)), (e: unknown) => /half the blocks/.test((e as Error).message));
});

test('per-store response timeout drops a hanging store with a warning and cancels it', async () => {
  const good = memStore([mkSeries({ __name__: 'up', job: 'a' }, [[0, H]])]);
  const slow = new FaultyStore(memStore([mkSeries({ __name__: 'up', job: 'b' }, [[0, H]]), mkSeries({ __name__: 'up', job: 'c' }, [[0, H]])]), { hangAfter: 1 });
  const proxy = new ProxyStore(() => [target('good', good), target('slow', slow)], { responseTimeoutMs: 150 });
  const t0 = Date.now();
  const r = await collect(proxy.series(req(), new AbortController().signal));
  assert.ok(Date.now() - t0 < 20_000);
  assert.equal(r.series.map((s) => formatLabels(s.labels)), ['up{job="a"}', 'up{job="b"}']);
  assert.is(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /slow.*no response within 150ms/);
  assert.ok(slow.aborted, 'the hanging store saw its signal abort');
  await rejects(() => collect(proxy.series(req({ partialResponseStrategy: 1 }), new AbortController().signal)), (e: unknown) => e instanceof GrpcError && e.code === 4);
});

test('cancel mid-stream aborts every store', async () => {
  const mk = (n: number) => new FaultyStore(memStore(Array.from({ length: 50 }, (_, i) => mkSeries({ __name__: 'up', i: String(i).padStart(3, '0'), s: String(n) }, [[0, H]]))), {});
  const stores = [mk(1), mk(2), mk(3)];
  const proxy = new ProxyStore(() => stores.map((s, i) => target(`s${i}`, s)));
  const ac = new AbortController();
  let n = 0;
  await rejects(async () => {
    for await (const _ of proxy.series(req(), ac.signal)) {
      if (++n === 5) ac.abort(new Error('client went away'));
      // the proxy notices on the next pull
    }
  });
  assert.ok(n >= 5 && n < 150, `stopped early (${n})`);
  for (const s of stores) assert.ok(s.aborted);
  // breaking out of the loop also releases the stores
  const stores2 = [mk(1), mk(2)];
  const p2 = new ProxyStore(() => stores2.map((s, i) => target(`s${i}`, s)));
  for await (const _ of p2.series(req(), new AbortController().signal)) break;
  await new Promise((r) => setTimeout(r, 10));
  for (const s of stores2) assert.ok(s.aborted);
});

test('limit caps the number of merged series', async () => {
  const a = memStore(Array.from({ length: 10 }, (_, i) => mkSeries({ __name__: 'up', i: String(i) }, [[0, H]])));
  const proxy = new ProxyStore(() => [target('a', a)]);
  assert.is((await collect(proxy.series(req({ limit: 3 }), new AbortController().signal))).series.length, 3);
});

test('LabelNames / LabelValues fan out, merge, prune and honour partial response', async () => {
  const a = memStore([mkSeries({ __name__: 'up', job: 'a', zone: '1' }, [[0, H]])], { externalLabels: labelsFromRecord({ region: 'eu' }) });
  const b = memStore([mkSeries({ __name__: 'down', job: 'b' }, [[0, H]])], { externalLabels: labelsFromRecord({ region: 'us' }) });
  const bad = new FaultyStore(memStore([]), { failAfter: 0, error: 'nope' });
  const proxy = new ProxyStore(() => [target('a', a, { region: 'eu' }), target('b', b, { region: 'us' }), target('bad', bad)]);
  const sig = new AbortController().signal;
  const names = await proxy.labelNames(labelNamesRequest({ start: 0, end: H }), sig);
  assert.equal(names.names, ['__name__', 'job', 'region', 'zone']);
  assert.is(names.warnings.length, 1);
  assert.match(names.warnings[0]!, /bad.*nope/);
  const vals = await proxy.labelValues(labelValuesRequest({ label: 'job', start: 0, end: H }), sig);
  assert.equal(vals.values, ['a', 'b']);
  const eu = await proxy.labelValues(labelValuesRequest({ label: 'job', start: 0, end: H, matchers: [{ type: '=', name: 'region', value: 'eu' }] }), sig);
  assert.equal(eu.values, ['a']);
  await rejects(() => proxy.labelNames(labelNamesRequest({ partialResponseStrategy: 1 }), sig), (e: unknown) => e instanceof GrpcError && /nope/.test(e.message));
  const lim = await proxy.labelValues(labelValuesRequest({ label: '__name__', limit: 1 }), sig);
  assert.equal(lim.values, ['down']);
  await rejects(() => proxy.labelNames(labelNamesRequest({ matchers: [{ type: '=~', name: 'a', value: '(' }] }), sig), (e: unknown) => e instanceof GrpcError && e.code === 3);
});

test('without_replica_labels: replicas collapse into one sorted series', async () => {
  const r1 = memStore([mkSeries({ __name__: 'up', replica: 'r1' }, [[0, H]])]);
  const r2 = memStore([mkSeries({ __name__: 'up', replica: 'r2' }, [[0, H]])]);
  const proxy = new ProxyStore(() => [target('1', r1), target('2', r2)]);
  const r = await collect(proxy.series(req({ withoutReplicaLabels: ['replica'] }), new AbortController().signal));
  assert.is(r.series.length, 1);
  assert.equal(r.series[0]!.labels, [{ name: '__name__', value: 'up' }]);
  // identical samples in both replicas: chunks are byte-identical, so duplicates are dropped
  assert.is(r.series[0]!.chunks.length, Math.ceil((H / 15000 + 1) / 120));
});

test('stores without without_replica_labels support are stripped and re-sorted by the proxy', async () => {
  // an "old" store ignores without_replica_labels: its order is by the full labels
  const old: StoreServer = {
    async *series(r, signal) {
      const m = memStore([
        mkSeries({ __name__: 'up', a: '1', replica: 'x' }, [[0, H]]),
        mkSeries({ __name__: 'up', a: '1', replica: 'y' }, [[2 * H, 3 * H]]),
        mkSeries({ __name__: 'up', replica: 'z', zz: '1' }, [[0, H]]),
      ]);
      yield* m.series({ ...r, withoutReplicaLabels: [] }, signal);
    },
    labelNames: async () => ({ names: [], warnings: [] }),
    labelValues: async () => ({ values: [], warnings: [] }),
  };
  const fresh = memStore([mkSeries({ __name__: 'up', b: '1', replica: 'q' }, [[0, H]])]);
  const proxy = new ProxyStore(() => [{ ...target('old', old), supportsWithoutReplicaLabels: false }, target('new', fresh)]);
  const r = await collect(proxy.series(req({ withoutReplicaLabels: ['replica'] }), new AbortController().signal));
  assert.equal(r.series.map((s) => formatLabels(s.labels)), ['up{a="1"}', 'up{b="1"}', 'up{zz="1"}']);
  const a1 = r.series[0]!;
  assert.is(samplesOf(a1).length, 2 * (H / 15000 + 1), 'both replicas of a=1 merged');
});

test.run();
