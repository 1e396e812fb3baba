// Histogram chunks: seeded round trips (encode -> decode gives the samples back bit for bit) and
// bounded fuzzing of the decoders: truncated, bit-flipped and random chunks decode or throw
// CorruptChunkError (no hang, no other exception), and every backend agrees.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CorruptChunkError, createCore, createJsCore, histogramEncode, type Core, type HistogramSamples } from '../../lib/core/mod.ts';
import { rng } from './helpers.ts';
import { histCase, histEqual } from './histogram_helpers.ts';

const codecs: { name: string; encode: Core['histogramEncode']; decode: Core['histogramDecode'] }[] = [];
test.before(async () => {
  const wasmUrl = process.env.CORE_WASM ? new URL(`file://${process.env.CORE_WASM}`) : undefined;
  for (const c of [createJsCore(), await createCore({ backend: 'wasm', wasmUrl })]) {
    codecs.push({ name: c.backend, encode: (h) => c.histogramEncode(h), decode: (b, f) => c.histogramDecode(b, f) });
  }
});

/** What decoding gives for an encoded case: the input, with a -0 custom bound read back as +0 (Prometheus stores it as 0.000). */
function expected(h: HistogramSamples): HistogramSamples {
  return { ...h, layout: { ...h.layout, customValues: h.layout.customValues.map((x) => (x === 0 ? 0 : x)) } };
}

for (const float of [false, true]) {
  test(`${float ? 'float' : 'int'} histograms: 400 random chunks round-trip bit-exactly`, () => {
    const r = rng(float ? 1717 : 1718);
    for (let c = 0; c < 400; c++) {
      const h = histCase(r, float);
      for (const k of codecs) {
        const chunk = k.encode(h);
        histEqual(k.decode(chunk, float), expected(h), `${k.name} case ${c}`);
      }
    }
  });
}

type Outcome = { ok: true; h: HistogramSamples } | { ok: false; msg: string };
function run(decode: Core['histogramDecode'], b: Uint8Array, float: boolean, what: string): Outcome {
  try {
    return { ok: true, h: decode(b, float) };
  } catch (e) {
    if (!(e instanceof CorruptChunkError)) {
      // the one non-corrupt refusal: a reserved schema (9..52) we do not reduce
      if (e instanceof Error && /reserved/.test(e.message)) return { ok: false, msg: e.message };
      throw new Error(`${what}: unexpected ${String(e)}`);
    }
    return { ok: false, msg: e.message };
  }
}

function agree(b: Uint8Array, float: boolean, what: string): boolean {
  const [a, ...rest] = codecs.map((k) => run(k.decode, b, float, `${what} ${k.name}`));
  for (const o of rest) {
    assert.is(o.ok, a.ok, `${what}: backends disagree`);
    if (a.ok && o.ok) histEqual(o.h, a.h, what);
  }
  return a.ok;
}

for (const float of [false, true]) {
  test(`${float ? 'float' : 'int'} decoder: truncations, bit flips and garbage`, () => {
    const r = rng(float ? 99 : 98);
    let ok = 0;
    let bad = 0;
    for (let c = 0; c < 150; c++) {
      const chunk = histogramEncode(histCase(r, float, 1 + Math.floor(r() * 20)));
      for (let cut = 0; cut < chunk.length; cut += 1 + Math.floor(r() * 7)) {
        if (agree(chunk.subarray(0, cut), float, `case ${c} cut ${cut}`)) ok++;
        else bad++;
      }
      for (let f = 0; f < 20; f++) {
        const m = chunk.slice();
        m[Math.floor(r() * m.length)] ^= 1 << Math.floor(r() * 8);
        if (agree(m, float, `case ${c} flip ${f}`)) ok++;
        else bad++;
      }
    }
    for (let g = 0; g < 2000; g++) {
      const m = new Uint8Array(Math.floor(r() * 64));
      for (let i = 0; i < m.length; i++) m[i] = Math.floor(r() * 256);
      if (agree(m, float, `garbage ${g}`)) ok++;
      else bad++;
    }
    assert.ok(ok > 100 && bad > 100, `ok ${ok} corrupt ${bad}`);
  });
}

test('encoder refuses what Prometheus could not have written', () => {
  const r = rng(5);
  const base = histCase(r, false, 3);
  const bad: [string, (h: HistogramSamples) => void][] = [
    ['header', (h) => (h.header = 0x20)],
    ['schema 9', (h) => (h.layout.schema = 9)],
    ['custom values without schema -53', (h) => {
      h.layout.schema = 0;
      h.layout.customValues = new Float64Array([1]);
    }],
    ['fractional count', (h) => (h.count[0] = 1.5)],
    ['negative count', (h) => (h.count[1] = -1)],
    ['count beyond 2^50', (h) => (h.zeroCount[0] = 2 ** 51)],
    ['fractional bucket in sample 0', (h) => {
      h.layout.positiveSpans = new Int32Array([0, 1]);
      h.positive = new Float64Array([0.5, 1, 2]);
    }],
    ['NaN bucket in sample 2', (h) => {
      h.layout.positiveSpans = new Int32Array([0, 1]);
      h.positive = new Float64Array([1, 1, NaN]);
    }],
    ['bucket beyond 2^50', (h) => {
      h.layout.positiveSpans = new Int32Array([0, 1]);
      h.positive = new Float64Array([1, -(2 ** 51), 2]);
    }],
    ['timestamp beyond 2^51', (h) => (h.t[0] = 2 ** 52)],
    ['odd spans', (h) => (h.layout.positiveSpans = new Int32Array([1]))],
    ['short bucket array', (h) => {
      h.layout.positiveSpans = new Int32Array([0, 1000]);
    }],
    ['n', (h) => (h.n = 70000)],
  ];
  for (const [what, mutate] of bad) {
    const h = structuredClone(base);
    if (h.sum[2] !== h.sum[2]) h.sum[2] = 1; // no stale marker in the way
    mutate(h);
    for (const k of codecs) assert.throws(() => k.encode(h), RangeError, `${k.name}: ${what}`);
  }
});

test.run();
