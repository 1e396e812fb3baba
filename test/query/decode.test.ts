// The querier's select path: chunks of many series decoded in batches and trimmed (decodeRawSeries)
// must give exactly what decoding series by series gives; Series streams are collected in order,
// frames of a split series merged, out-of-order streams merged and sorted; a query over its memory
// budget (--query.max-memory) fails and stops reading its stream.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import type { AggrChunk, Series, SeriesResponse } from '../../lib/proto/store.ts';
import { collectSeries, seriesSamples, StoreQueryable } from '../../lib/query/querier.ts';
import { StageTimings } from '../../lib/query/stagetimes.ts';
import { FakeStore, rawChunks, type FakeSeries } from './fakestore.ts';
import { GrpcError, GrpcStatus } from '../../lib/sdk/mod.ts';
import { parseQueryConfig } from '../../plugins/component/query/config.ts';

const core = createJsCore();
const eq = (name: string) => ({ type: '=' as const, name: '__name__', value: name });

/** 700 series of 200 samples (more than one decode batch), some with overlapping or unordered chunks. */
function data(): FakeSeries[] {
  const out: FakeSeries[] = [];
  for (let i = 0; i < 700; i++) {
    const t: number[] = [];
    const v: number[] = [];
    for (let k = 0; k < 200; k++) {
      t.push(k * 15_000 + (i % 3) * 1000);
      v.push(i * 1000 + k * (1 + (i % 7)) + (k % 13 === 0 ? 0.5 : 0));
    }
    let chunks = rawChunks(core, t, v, 50 + (i % 4) * 20);
    // Overlap: a chunk repeating part of its predecessor's time range with other values.
    if (i % 10 === 1) chunks.push(...rawChunks(core, t.slice(30, 90), v.slice(30, 90).map((x) => x + 0.25), 60));
    if (i % 10 === 2) chunks = [...chunks].reverse();
    // Overlap with timestamps between the predecessor's (a sample kept or not by where the window ends).
    if (i % 10 === 3) chunks.push(...rawChunks(core, t.slice(30, 90).map((x) => x + 7_000), v.slice(30, 90), 60));
    out.push({ labels: labelsFromRecord({ __name__: 'm', i: String(i).padStart(4, '0') }), chunks });
  }
  return out;
}

/** The reference: one series at a time, the way seriesSamples decodes, then trimmed. */
function reference(chunks: AggrChunk[], mint: number, maxt: number): { t: number[]; v: number[] } {
  const s = seriesSamples(core, chunks, []);
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < s.n; i++) {
    if (s.t[i]! < mint || s.t[i]! > maxt) continue;
    t.push(s.t[i]!);
    v.push(s.v[i]!);
  }
  return { t, v };
}

for (const [name, mint, maxt] of [['whole range', 0, 10_000_000], ['instant window', 1_200_000, 1_500_000], ['window ends on samples', 1_215_000, 1_516_000], ['one sample', 1_501_000, 1_501_000], ['before the data', -600_000, -1], ['after the data', 3_100_000, 3_200_000], ['window ends inside a chunk another overlaps', 400_000, 600_000]] as const) {
  test(`batched decode equals series-by-series decode: ${name}`, async () => {
    const d = data();
    const q = new StoreQueryable(new FakeStore(d), core, { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: false });
    const r = await q.select([eq('m')], { start: mint, end: maxt });
    const want = d.filter((s) => s.chunks.some((c) => c.maxTime >= mint && c.minTime <= maxt));
    assert.is(r.series.length, want.length);
    for (let i = 0; i < want.length; i++) {
      const got = r.series[i]!;
      const chunks = want[i]!.chunks.filter((c) => c.maxTime >= mint && c.minTime <= maxt);
      const ref = reference(chunks, mint, maxt);
      assert.equal(got.labels, want[i]!.labels);
      assert.is(got.n, ref.t.length, `series ${i}`);
      assert.equal([...got.t.subarray(0, got.n)], ref.t, `series ${i} timestamps`);
      assert.equal([...got.v.subarray(0, got.n)], ref.v, `series ${i} values`);
    }
  });
}

test('a select decodes while it reads: series split over frames, frames of many series, and a stream out of label order (read again and collected whole) all give the series-by-series answer', async () => {
  const d = data();
  // Each series in two parts (its chunks split in the middle) with the same labels.
  const halves = d.map((s): [Series, Series] => {
    const k = s.chunks.length >> 1;
    return [{ labels: [...s.labels], chunks: s.chunks.slice(0, k) }, { labels: [...s.labels], chunks: s.chunks.slice(k) }];
  });
  let requests = 0;
  const fake = new FakeStore(d);
  const store = (frames: () => SeriesResponse[]) => ({
    series: async function* () {
      requests++;
      yield* frames();
    },
    labelNames: fake.labelNames.bind(fake),
    labelValues: fake.labelValues.bind(fake),
  });
  const opts = { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: false };
  const check = (r: Awaited<ReturnType<StoreQueryable['select']>>, what: string) => {
    assert.is(r.series.length, d.length, what);
    for (let i = 0; i < d.length; i++) {
      const ref = reference(d[i]!.chunks, 0, 10_000_000);
      assert.equal(r.series[i]!.labels, d[i]!.labels, `${what}: series ${i} labels`);
      assert.equal([...r.series[i]!.t.subarray(0, r.series[i]!.n)], ref.t, `${what}: series ${i} timestamps`);
      assert.equal([...r.series[i]!.v.subarray(0, r.series[i]!.n)], ref.v, `${what}: series ${i} values`);
    }
  };
  // In order: a series' two parts adjacent, in frames of 64 series (one part may end a frame and the other start the next).
  const inOrder: SeriesResponse[] = [];
  const flat = halves.flat();
  for (let i = 0; i < flat.length; i += 64) inOrder.push({ type: 'batch', batch: flat.slice(i, i + 64) });
  inOrder.push({ type: 'warning', warning: 'w' });
  requests = 0;
  const a = await new StoreQueryable(store(() => inOrder), core, opts).select([eq('m')], { start: 0, end: 10_000_000 });
  check(a, 'in order');
  assert.equal(a.warnings, ['w']);
  assert.is(requests, 1);
  // Out of order: every first part, then every second part (equal label sets 700 series apart).
  requests = 0;
  const b = await new StoreQueryable(store(() => [...halves.map((h) => ({ type: 'series' as const, series: h[0] })), ...halves.map((h) => ({ type: 'series' as const, series: h[1] }))]), core, opts)
    .select([eq('m')], { start: 0, end: 10_000_000 });
  check(b, 'out of order');
  assert.is(requests, 2, 'the out-of-order stream is read again');
});

test('overlapping copies of the same chunks (blocks of the same data) are dropped; same range, other bytes kept', async () => {
  const d = data().slice(0, 60);
  const copy = (c: AggrChunk): AggrChunk => ({ minTime: c.minTime, maxTime: c.maxTime, raw: { type: c.raw!.type, data: c.raw!.data.slice() } });
  // Every chunk twice (a second block of the same data), in the order a store sends two such blocks.
  const doubled = d.map((s) => ({ labels: s.labels, chunks: [...s.chunks, ...s.chunks.map(copy)] }));
  // And a chunk of the same time range whose bytes differ: kept, and its first samples win as before.
  const other = doubled[5]!.chunks[0]!;
  // (one sample at its start: the samples of the chunk it shares its range with still count after it)
  const otherData = rawChunks(core, [other.minTime], [-1], 1)[0]!;
  doubled[5]!.chunks.unshift({ minTime: other.minTime, maxTime: other.maxTime, raw: otherData.raw });
  for (const [mint, maxt] of [[0, 10_000_000], [1_200_000, 1_500_000]] as const) {
    const q = new StoreQueryable(new FakeStore(doubled), core, { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: false });
    const r = await q.select([eq('m')], { start: mint, end: maxt });
    assert.is(r.series.length, d.length);
    for (let i = 0; i < d.length; i++) {
      const chunks = (i === 5 ? [doubled[5]!.chunks[0]!, ...d[i]!.chunks] : d[i]!.chunks).filter((c) => c.maxTime >= mint && c.minTime <= maxt);
      const ref = reference(chunks, mint, maxt);
      const got = r.series[i]!;
      assert.equal([...got.t.subarray(0, got.n)], ref.t, `series ${i} timestamps`);
      assert.equal([...got.v.subarray(0, got.n)], ref.v, `series ${i} values`);
    }
    if (mint === 0) {
      assert.is(r.series[5]!.v[0], -1);
      assert.is(r.series[5]!.n, r.series[4]!.n);
    }
  }
});

test('collectSeries: split frames merged in order; an out-of-order stream is merged and sorted', async () => {
  const l = (x: string) => labelsFromRecord({ __name__: 'm', x });
  const c = (t: number): AggrChunk => ({ minTime: t, maxTime: t + 10, raw: { type: 0, data: new Uint8Array([0, 0]) } });
  async function* stream(frames: Array<[string, number]>): AsyncGenerator<SeriesResponse> {
    yield { type: 'warning', warning: 'w1' };
    for (const [x, t] of frames) yield { type: 'series', series: { labels: [...l(x)], chunks: [c(t)] } };
  }
  const ordered = await collectSeries(stream([['a', 0], ['a', 20], ['b', 0], ['c', 0], ['c', 20]]));
  assert.equal(ordered.series.map((s) => [s.labels[1]!.value, s.chunks.map((x) => x.minTime)]), [['a', [0, 20]], ['b', [0]], ['c', [0, 20]]]);
  assert.equal(ordered.warnings, ['w1']);
  const unordered = await collectSeries(stream([['b', 0], ['a', 0], ['b', 20], ['a', 20]]));
  assert.equal(unordered.series.map((s) => [s.labels[1]!.value, s.chunks.map((x) => x.minTime)]), [['a', [0, 20]], ['b', [0, 20]]]);
});

test('stage timings: a timed select records stream and decode time', async () => {
  const q = new StoreQueryable(new FakeStore(data().slice(0, 5)), core, { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: false });
  const timings = (q.timings = new StageTimings());
  await q.select([eq('m')], { start: 0, end: 10_000_000 });
  assert.ok(timings.series > 0 && timings.decode > 0);
  assert.match(timings.serverTiming(), /^series;dur=[\d.]+, decode;dur=[\d.]+, engine;dur=[\d.]+, encode;dur=[\d.]+$/);
});

test('memory budget: a query over --query.max-memory fails and stops reading the stream', async () => {
  const d = data();
  const store = new FakeStore(d);
  let pulled = 0;
  const counting = {
    ...store,
    series: async function* (req: Parameters<FakeStore['series']>[0]) {
      for await (const r of store.series(req)) {
        pulled++;
        yield r;
      }
    },
    labelNames: store.labelNames.bind(store),
    labelValues: store.labelValues.bind(store),
  };
  const opts = { dedup: false, replicaLabels: [], maxResolutionMs: 0, partialResponse: false };
  // Unlimited and a roomy budget: the same answer.
  const all = await new StoreQueryable(counting, core, opts).select([eq('m')], { start: 0, end: 10_000_000 });
  const roomy = await new StoreQueryable(counting, core, { ...opts, maxMemoryBytes: 64 << 20 }).select([eq('m')], { start: 0, end: 10_000_000 });
  assert.is(roomy.series.length, all.series.length);
  // 100 KiB: a few dozen series' chunks.
  pulled = 0;
  const q = new StoreQueryable(counting, core, { ...opts, maxMemoryBytes: 100 << 10 });
  try {
    await q.select([eq('m')], { start: 0, end: 10_000_000 });
    assert.unreachable('the select should fail');
  } catch (e) {
    assert.instance(e, GrpcError);
    assert.is((e as GrpcError).code, GrpcStatus.ResourceExhausted);
    assert.match((e as Error).message, /--query\.max-memory=102400 bytes/);
  }
  assert.ok(pulled > 0 && pulled < d.length / 4, `read ${pulled} of ${d.length} series`);
  // Decoded samples count too: chunks fit, their samples do not.
  const samplesOnly = new StoreQueryable(counting, core, { ...opts, maxMemoryBytes: 1_500_000 });
  const failed = await samplesOnly.select([eq('m')], { start: 0, end: 10_000_000 }).then(() => undefined, (e: Error) => e);
  assert.match(failed?.message ?? 'no error', /while decoding samples/);
});

test('--query.max-memory parses Thanos-style sizes; bad values are refused by name', () => {
  assert.is(parseQueryConfig({ endpoints: [] }).maxMemoryBytes, 0);
  assert.is(parseQueryConfig({ maxMemory: '512MB' }).maxMemoryBytes, 512 * 1024 * 1024);
  assert.is(parseQueryConfig({ maxMemory: '1GiB' }).maxMemoryBytes, 1024 ** 3);
  assert.throws(() => parseQueryConfig({ maxMemory: 'lots' }), /maxMemory/);
});

test.run();
