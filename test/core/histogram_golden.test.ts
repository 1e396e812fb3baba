// Golden: histogram and float-histogram chunks written by a real Prometheus 2.42
// (--enable-feature=native-histograms) scraping our protobuf exporter, taken from a head snapshot
// block (fixtures/histogram-242, made by its generate.ts). Each chunk is decoded and checked
// against (a) what Prometheus's own query API returned for the series (timestamps, count, sum,
// every bucket by its bounds) and (b) what the exporter served at each scrape; re-encoding the
// decoded samples must give Prometheus's bytes exactly. The chunks cover a layout that grew twice
// (recoded chunk with zero-filled buckets, a new span at a negative index), a counter reset (new
// chunk), negative buckets with large counts, a 9-byte zero threshold, stale markers, gauge
// histograms (header 0xc0) and float histograms.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createCore, createJsCore, histogramDecode, isStaleNaN, type Core, type HistogramSamples } from '../../lib/core/mod.ts';
import { hex } from './helpers.ts';
import { histEqual } from './histogram_helpers.ts';

interface Span { offset: number; length: number }
interface ServedH {
  name: string; labels: Record<string, string>; float: boolean; gauge: boolean;
  schema: number; zeroThreshold: number; zeroCount: number; count: number; sum: number;
  positiveSpans: Span[]; positive: number[]; negativeSpans: Span[]; negative: number[];
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/histogram-242/chunks.json', import.meta.url), 'utf8')) as {
  prometheus: string;
  served: { k: number; series: ServedH[] }[];
  chunks: { series: string; mint: number; maxt: number; encoding: number; hex: string }[];
  api: { metric: Record<string, string>; histograms: [number, { count: string; sum: string; buckets: [number, string, string, string][] }][] }[];
};

const codecs: { name: string; encode: Core['histogramEncode']; decode: Core['histogramDecode'] }[] = [];
test.before(async () => {
  const wasmUrl = process.env.CORE_WASM ? new URL(`file://${process.env.CORE_WASM}`) : undefined;
  for (const c of [createJsCore(), await createCore({ backend: 'wasm', wasmUrl })]) {
    codecs.push({ name: c.backend, encode: (h) => c.histogramEncode(h), decode: (b, f) => c.histogramDecode(b, f) });
  }
});

function bytes(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}

/** Bucket index -> count of sample i, for one side. */
function bucketMap(spans: Int32Array, counts: Float64Array, base: number): Map<number, number> {
  const m = new Map<number, number>();
  let idx = 0;
  let k = 0;
  for (let s = 0; s < spans.length; s += 2) {
    idx += spans[s];
    for (let j = 0; j < spans[s + 1]; j++, idx++, k++) m.set(idx, counts[base + k]);
  }
  return m;
}

function upperBound(idx: number, schema: number): number {
  return 2 ** (idx * 2 ** -schema);
}

function close(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
}

/** labels string as block.ts prints them -> the name and the case label. */
function seriesKey(labels: string): string {
  const name = /__name__="([^"]+)"/.exec(labels)![1];
  const c = /case="([^"]+)"/.exec(labels);
  return c ? `${name}/${c[1]}` : name;
}

const decoded = new Map<string, { h: HistogramSamples; i: number }[]>();

test(`fixture from Prometheus ${fx.prometheus}`, () => {
  assert.ok(fx.prometheus.startsWith('2.42'), fx.prometheus);
  assert.ok(fx.chunks.length >= 9);
  assert.ok(fx.chunks.some((c) => c.encoding === 2) && fx.chunks.some((c) => c.encoding === 3), 'both encodings');
});

test('decode: every backend agrees, header and n from the chunk, mint/maxt', () => {
  for (const c of fx.chunks) {
    const data = bytes(c.hex);
    const [a, ...others] = codecs.map((k) => k.decode(data, c.encoding === 3));
    for (const b of others) histEqual(b, a, c.series);
    assert.is(codecs.length, 2);
    assert.is(a.n, (data[0] << 8) | data[1]);
    assert.is(a.header, data[2] & 0xc0);
    assert.is(a.t[0], c.mint);
    assert.is(a.t[a.n - 1], c.maxt);
    const key = seriesKey(c.series);
    if (!decoded.has(key)) decoded.set(key, []);
    for (let i = 0; i < a.n; i++) decoded.get(key)!.push({ h: a, i });
  }
  // gauge histograms carry the gauge header; the recoded 'grow' chunk has the layout it grew to
  const g = fx.chunks.find((c) => c.series.includes('test_gauge_hist') && bytes(c.hex)[1] > 1)!;
  assert.is(bytes(g.hex)[2], 0xc0);
  const grow = histogramDecode(bytes(fx.chunks.find((c) => c.series.includes('"grow"'))!.hex), false);
  assert.equal([...grow.layout.positiveSpans], [-3, 1, 2, 5], 'layout after two recodes');
});

test('decoded samples == Prometheus query API (timestamps, count, sum, buckets by bounds)', () => {
  let checked = 0;
  for (const s of fx.api) {
    const key = s.metric.case ? `${s.metric.__name__}/${s.metric.case}` : s.metric.__name__;
    const ours = decoded.get(key)!.filter(({ h, i }) => !isStaleNaN(h.sum[i]));
    assert.is(ours.length, s.histograms.length, `${key} samples`);
    s.histograms.forEach(([ts, want], n) => {
      const { h, i } = ours[n];
      const where = `${key} #${n}`;
      assert.is(h.t[i], Math.round(ts * 1000), `${where} t`);
      assert.is(h.count[i], Number(want.count), `${where} count`);
      assert.is(h.sum[i], Number(want.sum), `${where} sum`);
      const l = h.layout;
      const got: [number, number, number][] = [];
      if (h.zeroCount[i] !== 0) got.push([-l.zeroThreshold, l.zeroThreshold, h.zeroCount[i]]);
      for (const [idx, c] of bucketMap(l.positiveSpans, h.positive, i * (h.positive.length / h.n))) {
        if (c !== 0) got.push([upperBound(idx - 1, l.schema), upperBound(idx, l.schema), c]);
      }
      for (const [idx, c] of bucketMap(l.negativeSpans, h.negative, i * (h.negative.length / h.n))) {
        if (c !== 0) got.push([-upperBound(idx, l.schema), -upperBound(idx - 1, l.schema), c]);
      }
      const wantB = want.buckets.filter((b) => Number(b[3]) !== 0);
      assert.is(got.length, wantB.length, `${where} bucket count`);
      for (const [, lo, hi, cnt] of wantB) {
        const m = got.find((g) => close(g[0], Number(lo)) && close(g[1], Number(hi)));
        assert.ok(m, `${where}: no bucket (${lo}, ${hi}]`);
        assert.is(m![2], Number(cnt), `${where} bucket (${lo}, ${hi}]`);
      }
      checked++;
    });
  }
  // Prometheus 2.42's API returned the `[10m]` range vectors of the float-histogram series only
  // (its integer-histogram series are checked against the served values below).
  assert.ok(checked >= 160, `checked ${checked}`);
});

test('decoded samples == what the exporter served, scrape by scrape; stale markers at the end', () => {
  for (const [key, list] of decoded) {
    const live = list.filter(({ h, i }) => !isStaleNaN(h.sum[i]));
    const served = fx.served.flatMap((s) => s.series.filter((x) => (x.labels.case ? `${x.name}/${x.labels.case}` : x.name) === key));
    assert.is(live.length, served.length, `${key} samples vs scrapes`);
    live.forEach(({ h, i }, n) => {
      const w = served[n];
      assert.is(h.count[i], w.count, `${key} #${n} count`);
      assert.is(h.zeroCount[i], w.zeroCount, `${key} #${n} zero count`);
      assert.is(h.sum[i], w.sum, `${key} #${n} sum`);
      assert.is(h.layout.schema, w.schema);
      assert.is(h.layout.zeroThreshold, w.zeroThreshold);
      for (const [side, spans, counts] of [['positive', w.positiveSpans, w.positive], ['negative', w.negativeSpans, w.negative]] as const) {
        const flat = new Int32Array(spans.flatMap((s) => [s.offset, s.length]));
        const want = bucketMap(flat, new Float64Array(counts), 0);
        const arr = side === 'positive' ? h.positive : h.negative;
        const l = side === 'positive' ? h.layout.positiveSpans : h.layout.negativeSpans;
        const got = bucketMap(l, arr, i * (arr.length / h.n));
        for (const [idx, c] of got) assert.is(c, want.get(idx) ?? 0, `${key} #${n} ${side}[${idx}]`);
        for (const [idx, c] of want) assert.is(got.get(idx), c, `${key} #${n} ${side}[${idx}] present`);
      }
    });
    // the series that vanished and every series at shutdown end with a stale marker
    const last = list[list.length - 1];
    assert.ok(isStaleNaN(last.h.sum[last.i]), `${key} ends stale`);
  }
});

test('re-encoding the decoded samples gives Prometheus 2.42 bytes exactly', () => {
  for (const c of fx.chunks) {
    const data = bytes(c.hex);
    for (const k of codecs) {
      const re = k.encode(k.decode(data, c.encoding === 3));
      assert.is(hex(re), c.hex, `${k.name} re-encode of ${c.series}`);
    }
  }
});

test.run();
