// Core.xorDecodeBatch(chunks, maxt): each chunk decoded up to its first sample with t > maxt (that
// sample excluded), start[] counting the samples decoded; both backends against the whole decode cut
// there (maxt before a chunk, inside it, equal to a sample's time, after it), errors in the part
// read reported exactly as without a bound, and both backends alike on corrupted chunks.
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, CorruptChunkError, type Core, type SampleBatch } from '../../lib/core/mod.ts';
import { bitDiff, rng, xorCases } from './helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  // CORE_WASM=<file>: run against another build (to check that a broken kernel fails here)
  const alt = process.env.CORE_WASM;
  wasm = await createCore({ backend: 'wasm', wasmUrl: alt ? pathToFileURL(alt) : undefined });
});

interface Copy {
  t: Float64Array;
  v: Float64Array;
  n: number;
  start: number[];
}
const copyBatch = (b: SampleBatch): Copy => ({ t: b.t.slice(0, b.n), v: b.v.slice(0, b.n), n: b.n, start: [...b.start.subarray(0, b.chunks + 1)] });

/** The whole decode of each chunk cut at its first sample with t > maxt: the batch a bound must give. */
function cut(whole: Copy, maxt: number): Copy {
  const k = whole.start.length - 1;
  const t = new Float64Array(whole.n);
  const v = new Float64Array(whole.n);
  const start: number[] = [];
  let n = 0;
  for (let i = 0; i < k; i++) {
    start.push(n);
    let j = whole.start[i]!;
    while (j < whole.start[i + 1]! && !(whole.t[j]! > maxt)) j++;
    // typed-array copies keep NaN payloads bit for bit
    t.set(whole.t.subarray(whole.start[i]!, j), n);
    v.set(whole.v.subarray(whole.start[i]!, j), n);
    n += j - whole.start[i]!;
  }
  start.push(n);
  return { t, v, n, start };
}

function assertSame(got: Copy, want: Copy, what: string): void {
  assert.equal(got.start, want.start, `${what}: starts`);
  assert.is(got.n, want.n, `${what}: n`);
  for (let i = 0; i < want.n; i++) if (got.t[i] !== want.t[i]) assert.unreachable(`${what}: t[${i}] ${got.t[i]} != ${want.t[i]}`);
  assert.is(bitDiff(got.v, want.v, want.n), -1, `${what}: value bits`);
}

for (const seed of [1, 2, 3]) {
  test(`seed ${seed}: bounded batch == whole decode cut at the first t > maxt, both backends`, () => {
    const r = rng(100 + seed);
    const cases = xorCases(seed);
    const chunks = cases.map((c) => js.xorEncode(c.t, c.v, c.n));
    const whole = copyBatch(js.xorDecodeBatch(chunks));
    assertSame(copyBatch(wasm.xorDecodeBatch(chunks)), whole, 'unbounded wasm');
    // bounds around each case's samples: before its first, equal to its first, to a random sample's
    // time, between two samples, equal to and past its last; all chunks of the batch cut by each
    const bounds = new Set<number>([-Infinity, Infinity, NaN]);
    for (const c of cases) {
      const j = Math.floor(r() * c.n);
      for (const x of [c.t[0]! - 1, c.t[0]!, c.t[j]!, c.t[j]! - 1, c.t[j]! + 0.5, c.t[Math.min(j + 1, c.n - 1)]! - 1, c.t[c.n - 1]!, c.t[c.n - 1]! + 1]) bounds.add(x);
    }
    let inside = 0;
    for (const maxt of bounds) {
      const want = Number.isNaN(maxt) ? whole : cut(whole, maxt);
      if (want.n > 0 && want.n < whole.n) inside++;
      for (const core of [js, wasm]) assertSame(copyBatch(core.xorDecodeBatch(chunks, maxt)), want, `${core.backend} maxt=${maxt}`);
    }
    assert.ok(inside > cases.length, `bounds inside the batch: ${inside}`);
  });
}

test('a bound equal to a sample time keeps that sample; one below it stops before it', () => {
  const t = Float64Array.from({ length: 120 }, (_, i) => 1_700_000_000_000 + i * 15_000);
  const v = Float64Array.from({ length: 120 }, (_, i) => i * 3);
  const c = js.xorEncode(t, v, 120);
  for (const core of [js, wasm]) {
    for (const j of [0, 1, 2, 3, 37, 119]) {
      const b = core.xorDecodeBatch([c, c], t[j]!);
      assert.equal([...b.start.subarray(0, 3)], [0, j + 1, 2 * (j + 1)], `${core.backend} maxt = t[${j}]`);
      assert.is(b.t[j], t[j]);
      assert.is(b.v[j], v[j]);
      assert.is(core.xorDecodeBatch([c], t[j]! - 1).n, j, `${core.backend} maxt = t[${j}] - 1`);
    }
    // a header counting fewer samples than the bits hold: the kernel's fast loop decodes the last
    // one counted (and stops at the count, not near the end of the bits)
    for (const m of [40, 60, 100]) {
      const short = c.slice();
      short[0] = m >> 8;
      short[1] = m & 0xff;
      assert.is(core.xorDecodeBatch([short], t[m - 1]!).n, m, `${core.backend} ${m} counted, maxt = t[${m - 1}]`);
      assert.is(core.xorDecodeBatch([short], t[m - 1]! - 1).n, m - 1, `${core.backend} ${m} counted, maxt = t[${m - 1}] - 1`);
    }
  }
});

test('a chunk larger than the kernel reversal buffer (64 KiB) is bounded alike', () => {
  const n = 65535;
  const r = rng(5);
  const t = Float64Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i * 15_000 + Math.floor(r() * 2000));
  const v = Float64Array.from({ length: n }, () => (r() - 0.5) * 1e300);
  const c = js.xorEncode(t, v, n);
  assert.ok(c.length > 65536, `chunk ${c.length} bytes`);
  const whole = copyBatch(js.xorDecodeBatch([c]));
  for (const maxt of [t[0]! - 1, t[1]!, t[40000]!, t[n - 2]!, t[n - 1]!]) {
    for (const core of [js, wasm]) assertSame(copyBatch(core.xorDecodeBatch([c], maxt)), cut(whole, maxt), `${core.backend} maxt=${maxt}`);
  }
});

/** The error a decode throws (message and chunk), or undefined. */
function errorOf(f: () => unknown): { message: string; chunk: number | undefined } | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof CorruptChunkError)) throw e;
    return { message: e.message, chunk: e.chunk };
  }
}

test('a cut chunk: the same error as unbounded when maxt reaches the bad sample, none when it stops before', () => {
  const r = rng(41);
  const cases = xorCases(6).filter((c) => c.n >= 3 && c.n <= 400);
  let same = 0;
  let stopped = 0;
  for (let round = 0; round < 300; round++) {
    const c = cases[Math.floor(r() * cases.length)]!;
    const whole = js.xorEncode(c.t, c.v, c.n);
    const bad = whole.subarray(0, 2 + Math.floor(r() * (whole.length - 2)));
    const good = cases[0]!;
    const chunks = [js.xorEncode(good.t, good.v, good.n), bad];
    for (const core of [js, wasm]) {
      const e = errorOf(() => core.xorDecodeBatch(chunks));
      if (!e) continue;
      const s = Number(/sample (\d+)/.exec(e.message)?.[1] ?? 0);
      // every sample before s decodes as written; s itself is the bad one (some cases go back in
      // time: the bound must reach the latest of them)
      let before = -Infinity;
      for (let j = 0; j < s; j++) before = Math.max(before, c.t[j]!);
      const reach = Math.max(before, c.t[s]!, good.t[good.n - 1]!);
      assert.equal(errorOf(() => core.xorDecodeBatch(chunks, reach)), e, `${core.backend} round ${round}: maxt at the bad sample`);
      assert.equal(errorOf(() => core.xorDecodeBatch(chunks, reach + 1e6)), e, `${core.backend} round ${round}: maxt past it`);
      same++;
      if (s > 0 && before < c.t[s]!) {
        // stops after sample s - 1 when s's timestamp is read whole (a cut inside its value), or
        // reports the cut timestamp as before
        const b = errorOf(() => core.xorDecodeBatch(chunks, before));
        if (b === undefined) {
          const d = copyBatch(core.xorDecodeBatch(chunks, before));
          assert.is(d.start[2]! - d.start[1]!, s, `${core.backend} round ${round}: samples before the bad one`);
          stopped++;
        } else assert.equal(b, e, `${core.backend} round ${round}: a cut timestamp`);
      }
    }
  }
  assert.ok(same > 100 && stopped > 10, `compared ${same}, stopped before ${stopped}`);
});

test('fuzz: corrupted batches with random bounds decode alike on both backends or fail alike', () => {
  const r = rng(78);
  const base = xorCases(4).filter((c) => c.n <= 300);
  const enc = base.map((c) => js.xorEncode(c.t, c.v, c.n));
  let failures = 0;
  let ok = 0;
  let wrapped = 0;
  for (let round = 0; round < 400; round++) {
    const k = 1 + Math.floor(r() * 6);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < k; i++) {
      const c = enc[Math.floor(r() * enc.length)]!.slice();
      const p = r();
      if (p < 0.3 && c.length > 2) c[2 + Math.floor(r() * (c.length - 2))]! ^= 1 << Math.floor(r() * 8);
      chunks.push(p > 0.3 && p < 0.5 ? c.subarray(0, 2 + Math.floor(r() * (c.length - 2))) : c);
    }
    const ref = base[Math.floor(r() * base.length)]!;
    const maxt = ref.t[Math.floor(r() * ref.n)]! + (r() < 0.5 ? 0 : Math.floor(r() * 30000) - 15000);
    const outcome = (core: Core): Copy | string => {
      try {
        return copyBatch(core.xorDecodeBatch(chunks, maxt));
      } catch (e) {
        if (!(e instanceof CorruptChunkError)) throw new Error(`${core.backend}: unexpected ${String(e)}`);
        return `chunk ${e.chunk}`;
      }
    };
    const a = outcome(js);
    const w = outcome(wasm);
    if (typeof a === 'string' || typeof w === 'string') {
      assert.is(w, a, `round ${round}: failing chunk`);
      failures++;
      continue;
    }
    ok++;
    // A flipped bit can take timestamps past ±2^63, where wasm's int64 wraps and js's f64 does not:
    // from there on the two compare different numbers with maxt. Only such chunks may differ.
    const differs = a.start.findIndex((x, i) => x !== w.start[i]);
    if (differs > 0) {
      const huge = (b: Copy) => b.t.subarray(b.start[differs - 1]!, b.start[differs]!).some((x) => Math.abs(x) >= 2 ** 53);
      assert.ok(huge(a) || huge(w), `round ${round}: chunk ${differs - 1} stops at ${a.start[differs]} (js) and ${w.start[differs]} (wasm)`);
      wrapped++;
      continue;
    }
    assert.equal(w.start, a.start, `round ${round}: starts`);
    for (let i = 0; i < a.n; i++) if (Math.abs(a.t[i]!) < 2 ** 50 && a.t[i] !== w.t[i]) assert.unreachable(`round ${round}: t[${i}]`);
    assert.is(bitDiff(a.v, w.v, a.n), -1, `round ${round}: value bits`);
  }
  assert.ok(failures > 30 && ok > 100 && wrapped < ok / 10, `failures ${failures}, decoded ${ok} (timestamps past ±2^63: ${wrapped})`);
});

test.run();
