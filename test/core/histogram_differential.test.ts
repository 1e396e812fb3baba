// Histogram chunks, differential: the WASM kernels and the TS twin must write identical bytes for
// the same samples and read identical samples back, including inputs Prometheus's appender would
// never produce but its encoder accepts (a stale marker mid-chunk, timestamps going back, counts at
// the ±2^50 edge, every varbit width).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, type Core, type HistogramSamples } from '../../lib/core/mod.ts';
import { hex, rng } from './helpers.ts';
import { histCase, histEqual, STALE } from './histogram_helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
});

function same(h: HistogramSamples, what: string): void {
  const a = js.histogramEncode(h);
  const b = wasm.histogramEncode(h);
  assert.is(hex(b), hex(a), `${what}: wasm bytes differ from js`);
  // After a mid-chunk stale marker Prometheus's decoder drifts from its encoder (it keeps the count
  // delta the encoder reset), so decoding may legitimately fail; the backends must still agree.
  const dec = (c: Core) => {
    try {
      return c.histogramDecode(a, h.float);
    } catch (e) {
      return (e as Error).name;
    }
  };
  const x = dec(wasm);
  const y = dec(js);
  if (typeof x === 'string' || typeof y === 'string') assert.is(x, y, `${what}: decode outcome`);
  else histEqual(x, y, `${what} decode`);
}

for (const float of [false, true]) {
  test(`${float ? 'float' : 'int'}: 600 random chunks, same bytes and samples`, () => {
    const r = rng(float ? 4242 : 4243);
    for (let c = 0; c < 600; c++) same(histCase(r, float), `case ${c}`);
  });

  test(`${float ? 'float' : 'int'}: stale marker mid-chunk, time going back, edge values`, () => {
    const r = rng(7);
    for (let c = 0; c < 200; c++) {
      const h = histCase(r, float, 2 + Math.floor(r() * 30));
      const P = h.positive.length / h.n;
      const N = h.negative.length / h.n;
      const i = 1 + Math.floor(r() * (h.n - 1));
      if (c % 3 === 0 && !Number.isNaN(h.sum[0])) {
        h.sum[i] = STALE; // Prometheus's encoder keeps its deltas across it; both must agree
      }
      if (c % 3 === 1) h.t[i] = h.t[i - 1] - Math.floor(r() * 1e6);
      if (c % 3 === 2 && !float) {
        h.count[i] = 2 ** 50;
        h.zeroCount[i] = 0;
        if (P) h.positive[i * P] = -(2 ** 50);
        if (N) h.negative[i * N + N - 1] = 2 ** 50;
        h.t[i] = c % 2 ? 2 ** 51 : -(2 ** 51);
      }
      same(h, `case ${c}`);
    }
  });
}

test('every varbit width: a dod sweep over ±2^k ± 1', () => {
  const n = 128;
  const h: HistogramSamples = {
    float: false,
    header: 0,
    layout: { schema: 0, zeroThreshold: 0, positiveSpans: new Int32Array([0, 1]), negativeSpans: new Int32Array(0), customValues: new Float64Array(0) },
    n,
    t: new Float64Array(n),
    count: new Float64Array(n),
    zeroCount: new Float64Array(n),
    sum: new Float64Array(n),
    positive: new Float64Array(n),
    negative: new Float64Array(0),
  };
  for (let i = 0; i < n; i++) {
    const k = i % 51;
    const x = (i % 2 ? -1 : 1) * (2 ** k + ((i >> 1) % 3) - 1);
    h.t[i] = Math.max(-(2 ** 51), Math.min(2 ** 51, x));
    h.positive[i] = Math.max(-(2 ** 50), Math.min(2 ** 50, x));
    h.count[i] = Math.abs(h.positive[i]);
  }
  same(h, 'sweep');
  histEqual(js.histogramDecode(js.histogramEncode(h), false), h, 'sweep round trip');
});

test.run();
