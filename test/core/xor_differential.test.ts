// Differential WASM ≡ TS on seeded data: same bytes from both encoders, bit-exact round trips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, CorruptChunkError, type Core } from '../../lib/core/mod.ts';
import { bitDiff, bytesEqual, hex, rng, samplesEqual, setBits, STALE_HI, STALE_LO, xorCases } from './helpers.ts';

let wasm: Core;
const js = createJsCore();

test.before(async () => {
  // CORE_WASM=<file>: run against another build (to check that a broken kernel fails here)
  const alt = process.env.CORE_WASM;
  wasm = await createCore({ backend: 'wasm', ...(alt ? { wasmUrl: new URL(`file://${alt}`) } : {}) });
});

test('createCore picks the backend', async () => {
  assert.is(wasm.backend, 'wasm');
  assert.is((await createCore({ backend: 'js' })).backend, 'js');
  await assert.not.throws(() => createCore());
  let err: unknown;
  try {
    await createCore({ backend: 'nope' as 'js' });
  } catch (e) {
    err = e;
  }
  assert.match(String(err), /unknown backend/);
});

test('a missing module is a clear error, not a silent fallback', async () => {
  let err: unknown;
  try {
    await createCore({ backend: 'wasm', wasmUrl: new URL('file:///nonexistent/core.wasm') });
  } catch (e) {
    err = e;
  }
  assert.match(String(err), /cannot read the WASM module.*npm run build:wasm/);
});

for (const seed of [1, 2, 3]) {
  test(`encode/decode seed ${seed}: wasm bytes == js bytes, both round-trip bit-exactly`, () => {
    for (const c of xorCases(seed)) {
      const bj = js.xorEncode(c.t, c.v, c.n);
      const bw = wasm.xorEncode(c.t, c.v, c.n);
      assert.ok(bytesEqual(bj, bw), `${c.name}: encoders differ\njs   ${hex(bj).slice(0, 200)}\nwasm ${hex(bw).slice(0, 200)}`);
      assert.is((bj[0] << 8) | bj[1], c.n, `${c.name}: header`);
      for (const core of [js, wasm]) {
        for (const bytes of [bj, bw]) {
          const d = core.xorDecode(bytes);
          const diff = samplesEqual(d, { t: c.t, v: c.v, n: c.n });
          assert.is(diff, null, `${c.name} (${core.backend}): ${diff}`);
        }
      }
    }
  });
}

test('stale marker, -0, NaN payloads survive bit-exactly', () => {
  const n = 6;
  const t = Float64Array.from([1, 2, 3, 4, 5, 6].map((x) => x * 1000));
  const v = new Float64Array(n);
  setBits(v, 0, STALE_HI, STALE_LO);
  v[1] = -0;
  setBits(v, 2, 0x7ff80000, 1);
  v[3] = Infinity;
  setBits(v, 4, STALE_HI, STALE_LO);
  v[5] = -Infinity;
  for (const core of [js, wasm]) {
    const d = core.xorDecode(core.xorEncode(t, v, n));
    assert.is(bitDiff(d.v, v, n), -1, core.backend);
    const u = new Uint32Array(d.v.buffer, d.v.byteOffset, 2 * n);
    assert.is(u[1], STALE_HI);
    assert.is(u[0], STALE_LO);
    assert.ok(Object.is(d.v[1], -0));
  }
});

test('known bytes: a 3-sample chunk written by hand from the spec', () => {
  // t = 1000, 2000, 3000 (dod 0); v = 1, 1, 2
  // header 0003 | varint(1000)=d0 0f | 3ff0000000000000 | uvarint(1000)=e8 07 | v1: '0' | t2: '0' | v2: '1' '1' ...
  const t = Float64Array.from([1000, 2000, 3000]);
  const v = Float64Array.from([1, 1, 2]);
  // v2 xor v1 = 0x3ff0.. ^ 0x4000.. = 0x7ff0000000000000: leading 1, trailing 52, sig 11
  // bits after e8 07: 0 0 1 1 00001 001011 11111111111 -> padded
  const bits = '0011' + '00001' + '001011' + '11111111111';
  const padded = bits + '0'.repeat((8 - (bits.length % 8)) % 8);
  const tail: number[] = [];
  for (let i = 0; i < padded.length; i += 8) tail.push(parseInt(padded.slice(i, i + 8), 2));
  const want = Uint8Array.from([0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xe8, 0x07, ...tail]);
  for (const core of [js, wasm]) {
    const got = core.xorEncode(t, v, 3);
    assert.is(hex(got), hex(want), core.backend);
  }
});

test('empty chunk and decode into a caller buffer', () => {
  for (const core of [js, wasm]) {
    const e = core.xorEncode(new Float64Array(0), new Float64Array(0), 0);
    assert.is(hex(e), '0000');
    assert.is(core.xorDecode(e).n, 0);
    const t = Float64Array.from([10, 20, 30]);
    const v = Float64Array.from([1.5, 2.5, 3.5]);
    const out = { t: new Float64Array(8), v: new Float64Array(8), n: 0 };
    const d = core.xorDecode(core.xorEncode(t, v, 3), out);
    assert.ok(d === out);
    assert.is(out.n, 3);
    assert.equal(Array.from(out.t.subarray(0, 3)), [10, 20, 30]);
    // too small: a fresh result
    const small = { t: new Float64Array(1), v: new Float64Array(1), n: 0 };
    const d2 = core.xorDecode(core.xorEncode(t, v, 3), small);
    assert.ok(d2 !== small);
    assert.is(d2.n, 3);
  }
});

test('trailing bytes after the last sample are ignored (promtool 2.42 spare 0x00)', () => {
  const r = rng(9);
  const n = 50;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = 1e12 + i * 15000;
    v[i] = Math.floor(r() * 100);
  }
  for (const core of [js, wasm]) {
    const b = core.xorEncode(t, v, n);
    const plus = new Uint8Array(b.length + 1);
    plus.set(b);
    assert.is(samplesEqual(core.xorDecode(plus), { t, v, n }), null);
  }
});

test('bad arguments are clear errors in both backends', () => {
  for (const core of [js, wasm]) {
    assert.throws(() => core.xorEncode(new Float64Array(2), new Float64Array(2), 3), /out of range/);
    assert.throws(() => core.xorEncode(new Float64Array(70000), new Float64Array(70000), 65536), /out of range/);
    // (the kernel's range check past the first two samples: just outside ±2^51, halves next to it)
    for (const bad of [1.5, NaN, Infinity, -Infinity, 2 ** 52, -(2 ** 52), 2 ** 51 + 2, -(2 ** 51) - 2, 2 ** 51 - 0.5, -(2 ** 51) + 0.5, 2 ** 63, -(2 ** 63)]) {
      const t = Float64Array.from([1000, 2000, bad, 4000]);
      assert.throws(() => core.xorEncode(t, new Float64Array(4), 4), /t\[2\]=.* not an integer millisecond/, `${core.backend} ${bad}`);
    }
    assert.ok(core.xorEncode(Float64Array.from([-(2 ** 51), 2 ** 51]), new Float64Array(2), 2).length > 0);
    for (const edge of [Float64Array.from([-(2 ** 51), -(2 ** 51) + 1, -(2 ** 51) + 3, -(2 ** 51) + 7]), Float64Array.from([2 ** 51 - 9, 2 ** 51 - 4, 2 ** 51 - 1, 2 ** 51])]) {
      assert.equal(core.xorDecode(core.xorEncode(edge, new Float64Array(4), 4)).t, edge, `${core.backend} ${edge[0]}`);
    }
    assert.throws(() => core.xorDecode(new Uint8Array([0])), (e: unknown) => e instanceof CorruptChunkError);
    assert.throws(() => core.xorDecode(new Uint8Array([0, 2, 0x02])), (e: unknown) => e instanceof CorruptChunkError);
  }
});

test('a bad timestamp at any index of any length is named, whole chunks at ±2^51 encode', () => {
  // the WASM encoder checks a chunk's timestamps two at a time before its loop (the last one of an
  // odd count alone) and falls back to per-sample checks to name the bad one: every position of a
  // pair, the odd tail, and the first two samples (checked again one by one)
  const bads = [1.5, NaN, Infinity, -Infinity, 2 ** 51 + 2, -(2 ** 51) - 2, 2 ** 51 - 0.5, -(2 ** 51) + 0.5, 2 ** 52, -(2 ** 52)];
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 120, 121]) {
    for (let i = 0; i < n; i++) {
      for (const bad of i < 9 || i > n - 3 ? bads : bads.slice(0, 2)) {
        const t = new Float64Array(n);
        for (let j = 0; j < n; j++) t[j] = 1000 * (j + 1);
        t[i] = bad;
        for (const core of [js, wasm]) {
          assert.throws(() => core.xorEncode(t, new Float64Array(n), n), new RegExp(`t\\[${i}\\]=.* not an integer millisecond`), `${core.backend} n=${n} t[${i}]=${bad}`);
        }
      }
    }
    for (const edge of [-(2 ** 51), 2 ** 51]) {
      const t = new Float64Array(n).fill(edge);
      for (let j = 0; j < n; j++) t[j] = edge < 0 ? edge + 3 * j : edge - 3 * (n - 1 - j);
      for (const core of [js, wasm]) assert.equal(core.xorDecode(core.xorEncode(t, new Float64Array(n), n)).t, t, `${core.backend} n=${n} ${edge}`);
    }
  }
});

test('timestamps past 2^53 (a hostile chunk) are summed in f64 by both backends alike', () => {
  // 100 samples: t0 = 2^60 + 100 (rounds down to 2^60), delta 100, then delta of delta 0 and an
  // unchanged value ('0' '0') for the rest. Summed in f64 every t stays 2^60 + k·0 (each +100
  // rounds away: the spacing there is 256); summed exactly (int64) they would climb by 256s.
  const n = 100;
  const z = (2n ** 60n + 100n) * 2n; // zig-zag of a positive t0
  const head = [0, n];
  for (let x = z; ; x >>= 7n) {
    if (x < 0x80n) {
      head.push(Number(x));
      break;
    }
    head.push(Number(x & 0x7fn) | 0x80);
  }
  head.push(0, 0, 0, 0, 0, 0, 0, 0, 100); // v0 = 0, then uvarint(delta) = 100
  // sample 1's value bit '0', then 98 samples of '0' '0': 197 zero bits
  const chunk = Uint8Array.from([...head, ...new Array(Math.ceil(197 / 8)).fill(0)]);
  const want = js.xorDecode(chunk);
  assert.is(want.n, n);
  assert.is(want.t[n - 1], 2 ** 60);
  const got = wasm.xorDecode(chunk);
  assert.is(samplesEqual(got, want), null);
  const batch = wasm.xorDecodeBatch([chunk, chunk]);
  assert.equal(Array.from(batch.t.subarray(0, 2 * n)), [...want.t, ...want.t]);
  const bounded = wasm.xorDecodeBatch([chunk], 2 ** 60);
  assert.is(bounded.n, n);
});

test('many chunks through one wasm core (arena reuse, memory growth)', () => {
  const r = rng(77);
  for (let k = 0; k < 300; k++) {
    const n = k === 150 ? 65535 : 1 + Math.floor(r() * 300);
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let x = 1e12;
    for (let i = 0; i < n; i++) {
      x += 1 + Math.floor(r() * 30000);
      t[i] = x;
      v[i] = r() < 0.5 ? i : r();
    }
    const b = wasm.xorEncode(t, v, n);
    assert.ok(bytesEqual(b, js.xorEncode(t, v, n)));
    assert.is(samplesEqual(wasm.xorDecode(b), { t, v, n }), null);
  }
});

test.run();
