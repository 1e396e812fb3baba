import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatLabels, labelsFromRecord } from '../../lib/labels/mod.ts';
import { labelNamesRequest, labelValuesRequest } from '../../lib/proto/store.ts';
import { collect, memStore, mkSeries, rejects, req, samplesOf } from './helpers.ts';

const H = 3600_000;
const sig = () => new AbortController().signal;

const store = memStore(
  [
    mkSeries({ __name__: 'up', job: 'api', cluster: 'inner' }, [[0, H]]),
    mkSeries({ __name__: 'up', job: 'db' }, [[2 * H, 3 * H]]),
    mkSeries({ __name__: 'errors_total', job: 'api' }, [[0, 3 * H]]),
  ],
  { externalLabels: labelsFromRecord({ cluster: 'eu' }) },
);

test('matchers, time range, external labels override series labels, sorted output', async () => {
  const all = await collect(store.series(req(), sig()));
  assert.equal(all.series.map((s) => formatLabels(s.labels)), ['errors_total{cluster="eu", job="api"}', 'up{cluster="eu", job="api"}', 'up{cluster="eu", job="db"}']);
  const early = await collect(store.series(req({ minTime: 0, maxTime: H / 2, matchers: [{ type: '=', name: '__name__', value: 'up' }] }), sig()));
  assert.equal(early.series.map((s) => formatLabels(s.labels)), ['up{cluster="eu", job="api"}']);
  // only chunks overlapping the range come back; samples beyond it may be present (client trims)
  const s = early.series[0]!;
  assert.ok(s.chunks.every((c) => c.maxTime >= 0 && c.minTime <= H / 2));
  assert.is(samplesOf(s, 0, H / 2).length, H / 2 / 15000 + 1);
  const neq = await collect(store.series(req({ matchers: [{ type: '!=', name: 'job', value: 'api' }, { type: '=~', name: '__name__', value: 'up|x' }] }), sig()));
  assert.equal(neq.series.map((s) => formatLabels(s.labels)), ['up{cluster="eu", job="db"}']);
  const noLabel = await collect(store.series(req({ matchers: [{ type: '=', name: 'missing', value: '' }] }), sig()));
  assert.is(noLabel.series.length, 3, '="" matches series without the label');
});

test('skip_chunks, limit, chunksPerFrame, cancellation, invalid regex', async () => {
  const sk = await collect(store.series(req({ skipChunks: true }), sig()));
  assert.is(sk.series.length, 3);
  assert.ok(sk.series.every((s) => s.chunks.length === 0));
  assert.is((await collect(store.series(req({ limit: 2 }), sig()))).series.length, 2);
  const split = memStore([mkSeries({ __name__: 'x' }, [[0, 3 * H]])], { chunksPerFrame: 2 });
  const frames = await collect(split.series(req(), sig()));
  assert.ok(frames.series.length > 1);
  assert.ok(frames.series.every((s) => s.chunks.length <= 2 && formatLabels(s.labels) === 'x'));
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await rejects(() => collect(store.series(req(), ac.signal)), (e) => /stop/.test(String(e)));
  await rejects(() => collect(store.series(req({ matchers: [{ type: '=~', name: 'a', value: '(' }] }), sig())), (e) => (e as { code?: number }).code === 3);
});

test('label names and values honour matchers and time range', async () => {
  assert.equal((await store.labelNames(labelNamesRequest(), sig())).names, ['__name__', 'cluster', 'job']);
  assert.equal((await store.labelValues(labelValuesRequest({ label: 'job' }), sig())).values, ['api', 'db']);
  assert.equal((await store.labelValues(labelValuesRequest({ label: 'job', start: 0, end: H }), sig())).values, ['api']);
  assert.equal((await store.labelValues(labelValuesRequest({ label: '__name__', matchers: [{ type: '=', name: 'job', value: 'db' }] }), sig())).values, ['up']);
  assert.equal((await store.labelValues(labelValuesRequest({ label: 'cluster' }), sig())).values, ['eu']);
  const info = store.info();
  assert.equal(info.labelSets, [[{ name: 'cluster', value: 'eu' }]]);
  assert.is(info.store!.minTime, 0);
  assert.is(info.store!.maxTime, 3 * H);
});

test.run();
