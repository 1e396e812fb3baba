// The batch XOR API (Core.xorDecodeBatch / xorEncodeBatch): per chunk the same bytes and samples as
// xorEncode/xorDecode, both backends equal, errors name the chunk, arena reuse across calls and
// memory growth, and a bounded fuzz of corrupted batches (decode or CorruptChunkError, both agree).
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, CorruptChunkError, type Core, type SampleBatch } from '../../lib/core/mod.ts';
import { bitDiff, bytesEqual, rng, xorCases, type Case } from './helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  // CORE_WASM=<file>: run against another build (to check that a broken kernel fails here)
  const alt = process.env.CORE_WASM;
  wasm = await createCore({ backend: 'wasm', wasmUrl: alt ? pathToFileURL(alt) : undefined });
});

/** The cases of a seed laid end to end as one sample stream with their boundaries as starts. */
function concat(cases: Case[]): { t: Float64Array; v: Float64Array; n: number; starts: number[] } {
  let n = 0;
  for (const c of cases) n += c.n;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  const starts: number[] = [];
  let o = 0;
  for (const c of cases) {
    starts.push(o);
    t.set(c.t.subarray(0, c.n), o);
    v.set(c.v.subarray(0, c.n), o);
    o += c.n;
  }
  return { t, v, n, starts };
}

/** A snapshot of a batch (the core's arena is overwritten by its next call). */
function copyBatch(b: SampleBatch): { t: Float64Array; v: Float64Array; n: number; start: number[] } {
  return { t: b.t.slice(0, b.n), v: b.v.slice(0, b.n), n: b.n, start: [...b.start.subarray(0, b.chunks + 1)] };
}

for (const seed of [1, 2]) {
  test(`seed ${seed}: xorEncodeBatch == xorEncode per chunk, on both backends`, () => {
    const cases = xorCases(seed).filter((c) => c.n < 65535);
    const { t, v, n, starts } = concat(cases);
    for (const core of [js, wasm]) {
      const b = core.xorEncodeBatch(t, v, starts, n);
      assert.is(b.chunks, cases.length);
      for (let i = 0; i < cases.length; i++) {
        const want = js.xorEncode(cases[i]!.t, cases[i]!.v, cases[i]!.n);
        const got = b.bytes.subarray(b.offset[i]!, b.offset[i + 1]!);
        assert.ok(bytesEqual(got, want), `${core.backend} ${cases[i]!.name}: chunk bytes differ`);
      }
    }
  });

  test(`seed ${seed}: xorDecodeBatch == xorDecode per chunk, on both backends`, () => {
    const cases = xorCases(seed);
    const chunks = cases.map((c) => js.xorEncode(c.t, c.v, c.n));
    const got = [js, wasm].map((core) => copyBatch(core.xorDecodeBatch(chunks)));
    for (const [k, g] of got.entries()) {
      const backend = k === 0 ? 'js' : 'wasm';
      assert.is(g.start.length, cases.length + 1);
      for (let i = 0; i < cases.length; i++) {
        const c = cases[i]!;
        const s = g.start[i]!;
        assert.is(g.start[i + 1]! - s, c.n, `${backend} ${c.name}: sample count`);
        for (let j = 0; j < c.n; j++) if (g.t[s + j] !== c.t[j]) assert.unreachable(`${backend} ${c.name}: t[${j}] ${g.t[s + j]} != ${c.t[j]}`);
        const d = bitDiff(g.v.subarray(s), c.v, c.n);
        assert.is(d, -1, `${backend} ${c.name}: v[${d}] bits differ`);
      }
      assert.is(g.n, g.start[cases.length]);
    }
  });
}

test('empty batches and empty chunks', () => {
  const empty = js.xorEncode(new Float64Array(0), new Float64Array(0), 0);
  for (const core of [js, wasm]) {
    const d = core.xorDecodeBatch([]);
    assert.is(d.n, 0);
    assert.is(d.chunks, 0);
    assert.is(d.start[0], 0);
    const d2 = core.xorDecodeBatch([empty, empty]);
    assert.is(d2.n, 0);
    assert.equal([...d2.start.subarray(0, 3)], [0, 0, 0]);
    const e = core.xorEncodeBatch(new Float64Array(0), new Float64Array(0), [], 0);
    assert.is(e.chunks, 0);
    assert.is(e.offset[0], 0);
    const e2 = core.xorEncodeBatch(new Float64Array(3), new Float64Array(3), [0, 0], 0);
    assert.is(e2.chunks, 2);
    assert.ok(bytesEqual(e2.bytes.subarray(e2.offset[1]!, e2.offset[2]!), empty));
  }
});

test('the arena is reused: a later, larger batch (memory growth) still decodes right', () => {
  const r = rng(9);
  for (const core of [js, wasm]) {
    let prev: SampleBatch | undefined;
    for (const [k, n] of [[3, 120], [2000, 120], [5, 5000], [40, 65535]] as const) {
      const t = new Float64Array(k * n);
      const v = new Float64Array(k * n);
      for (let i = 0; i < k * n; i++) {
        t[i] = 1_700_000_000_000 + i * 15_000 + Math.floor(r() * 11);
        v[i] = Math.floor(r() * 1e6);
      }
      const starts = Array.from({ length: k }, (_, i) => i * n);
      const enc = core.xorEncodeBatch(t, v, starts, k * n);
      const chunks = starts.map((_, i) => enc.bytes.slice(enc.offset[i]!, enc.offset[i + 1]!));
      const d = core.xorDecodeBatch(chunks);
      assert.is(d.n, k * n, `${core.backend} ${k}x${n}`);
      for (let i = 0; i < k * n; i++) if (d.t[i] !== t[i] || d.v[i] !== v[i]) assert.unreachable(`${core.backend} ${k}x${n}: sample ${i}`);
      if (prev && k * n <= 3 * 120) assert.is(d, prev, 'same result object while it fits');
      prev = d;
    }
  }
});

test('errors name the chunk (decode) and the timestamp index in t (encode)', () => {
  const ok = js.xorEncode(Float64Array.from([1000, 2000, 3000]), Float64Array.from([1, 2, 3]), 3);
  for (const core of [js, wasm]) {
    assert.throws(() => core.xorDecodeBatch([ok, ok.subarray(0, 1)]), (e: Error) => e instanceof CorruptChunkError && /chunk 1\b/.test(e.message));
    assert.throws(() => core.xorDecodeBatch([ok, ok, ok.subarray(0, ok.length - 3)]), (e: Error) => e instanceof CorruptChunkError && /chunk 2\b/.test(e.message));
    const t = Float64Array.from([1000, 2000, 3000, 4000, 5000.5, 6000]);
    const v = new Float64Array(6);
    assert.throws(() => core.xorEncodeBatch(t, v, [0, 3], 6), (e: Error) => e instanceof RangeError && /t\[4\]=5000\.5/.test(e.message));
    assert.throws(() => core.xorEncodeBatch(t, v, [0, 4, 2], 6), /chunk 1 \[4, 2\)/);
    assert.throws(() => core.xorEncodeBatch(t, v, [0], 7), /n=7 out of range/);
    assert.throws(() => core.xorEncodeBatch(new Float64Array(70000), new Float64Array(70000), [0], 70000), /at most 65535/);
  }
});

test('fuzz: corrupted batches decode alike on both backends or fail with CorruptChunkError', () => {
  const r = rng(77);
  const base = xorCases(4).filter((c) => c.n <= 300).map((c) => js.xorEncode(c.t, c.v, c.n));
  let failures = 0;
  for (let round = 0; round < 400; round++) {
    const k = 1 + Math.floor(r() * 6);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < k; i++) {
      const c = base[Math.floor(r() * base.length)]!.slice();
      const p = r();
      if (p < 0.3 && c.length > 2) c[2 + Math.floor(r() * (c.length - 2))]! ^= 1 << Math.floor(r() * 8);
      chunks.push(p > 0.3 && p < 0.5 ? c.subarray(0, Math.floor(r() * c.length)) : c);
    }
    const outcome = (core: Core) => {
      try {
        return copyBatch(core.xorDecodeBatch(chunks));
      } catch (e) {
        if (!(e instanceof CorruptChunkError)) throw new Error(`${core.backend}: unexpected ${String(e)}`);
        assert.is(e.chunk, Number(/chunk (\d+)/.exec(e.message)![1]), 'chunk index in the message and the field');
        return String(e.chunk);
      }
    };
    const a = outcome(js);
    const w = outcome(wasm);
    if (typeof a === 'string' || typeof w === 'string') {
      assert.is(w, a, `round ${round}: failing chunk`);
      failures++;
      continue;
    }
    assert.equal(w.start, a.start, `round ${round}: starts`);
    // timestamps agree while exact in f64 (a bit flip can make them huge: wasm wraps int64, js rounds)
    for (let i = 0; i < a.n; i++) if (Math.abs(a.t[i]!) < 2 ** 50 && a.t[i] !== w.t[i]) assert.unreachable(`round ${round}: t[${i}]`);
    assert.is(bitDiff(a.v, w.v, a.n), -1, `round ${round}: value bits`);
  }
  assert.ok(failures > 50 && failures < 400, `failures ${failures}`);
});

test('a failing batch reports what decoding its first bad chunk alone reports (same error, same sample)', () => {
  const r = rng(31);
  const base = xorCases(5).filter((c) => c.n >= 3 && c.n <= 400).map((c) => js.xorEncode(c.t, c.v, c.n));
  let compared = 0;
  for (let round = 0; round < 300; round++) {
    const k = 1 + Math.floor(r() * 5);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < k; i++) {
      const c = base[Math.floor(r() * base.length)]!.slice();
      const p = r();
      // a flipped bit, or a cut (never below the 2-byte header: the host refuses those itself)
      if (p < 0.25) c[2 + Math.floor(r() * (c.length - 2))]! ^= 1 << Math.floor(r() * 8);
      chunks.push(p > 0.25 && p < 0.45 ? c.subarray(0, 2 + Math.floor(r() * (c.length - 2))) : c);
    }
    let batchErr: CorruptChunkError | undefined;
    try {
      wasm.xorDecodeBatch(chunks);
    } catch (e) {
      if (!(e instanceof CorruptChunkError)) throw e;
      batchErr = e;
    }
    // the first chunk that fails alone, and its message
    let first = -1;
    let alone = '';
    for (let i = 0; i < k && first < 0; i++) {
      try {
        wasm.xorDecode(chunks[i]!);
      } catch (e) {
        if (!(e instanceof CorruptChunkError)) throw e;
        first = i;
        alone = e.message;
      }
    }
    if (first < 0) {
      assert.is(batchErr, undefined, `round ${round}: the batch fails though every chunk decodes alone`);
      continue;
    }
    assert.ok(batchErr, `round ${round}: chunk ${first} fails alone (${alone}) but the batch decodes`);
    assert.is(batchErr!.chunk, first, `round ${round}: failing chunk`);
    assert.is(batchErr!.message.replace(/^xor chunk \d+: /, ''), alone.replace(/^xor chunk /, ''), `round ${round}: error`);
    compared++;
  }
  assert.ok(compared > 50, `only ${compared} failing batches`);
});

test.run();
