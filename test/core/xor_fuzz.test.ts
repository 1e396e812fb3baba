// Bounded fuzzing of both decoders: truncated, bit-flipped and random chunks must decode or throw
// CorruptChunkError (no hang, no trap, no other exception), and both backends must agree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, CorruptChunkError, type Core, type Samples } from '../../lib/core/mod.ts';
import { rng, xorCases } from './helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
});

type Outcome = { ok: true; s: Samples } | { ok: false };
function run(core: Core, b: Uint8Array): Outcome {
  try {
    return { ok: true, s: core.xorDecode(b) };
  } catch (e) {
    if (!(e instanceof CorruptChunkError)) throw new Error(`${core.backend}: unexpected ${String(e)}`);
    return { ok: false };
  }
}

// Once |t| reaches 2^50 an earlier delta may already have left the exact range; stop comparing there.
const EXACT = 2 ** 50;
function agree(b: Uint8Array, what: string): boolean {
  const a = run(js, b);
  const w = run(wasm, b);
  assert.is(a.ok, w.ok, `${what}: js ${a.ok ? 'ok' : 'error'} vs wasm ${w.ok ? 'ok' : 'error'}`);
  if (a.ok && w.ok) {
    assert.is(a.s.n, w.s.n, what);
    const ua = new Uint32Array(a.s.v.buffer, a.s.v.byteOffset, a.s.n * 2);
    const uw = new Uint32Array(w.s.v.buffer, w.s.v.byteOffset, w.s.n * 2);
    for (let i = 0; i < 2 * a.s.n; i++) if (ua[i] !== uw[i]) assert.unreachable(`${what}: value bits differ at ${i >> 1}`);
    // timestamps agree while they stay in f64's exact integer range (wasm wraps int64, js rounds)
    for (let i = 0; i < a.s.n; i++) {
      if (Math.abs(a.s.t[i]) >= EXACT || Math.abs(w.s.t[i]) >= EXACT) break;
      assert.is(a.s.t[i], w.s.t[i], `${what}: t[${i}]`);
    }
  }
  return a.ok;
}

test('every truncation of valid chunks is an error, never garbage', () => {
  let n = 0;
  for (const c of xorCases(5).filter((c) => c.n <= 300)) {
    const b = js.xorEncode(c.t, c.v, c.n);
    for (let len = 0; len < b.length; len++) {
      const cut = b.slice(0, len);
      const ok = agree(cut, `${c.name} cut at ${len}/${b.length}`);
      // The stream ends padded to a byte, so only a cut inside the padding-free tail could still
      // hold every sample; otherwise the decoder must notice the missing bits.
      if (ok) {
        const s = js.xorDecode(cut);
        assert.is(s.n, c.n);
      }
      n++;
    }
  }
  assert.ok(n > 1000);
});

test('bit flips, byte noise and random garbage: error or consistent decode, bounded time', () => {
  const r = rng(1234);
  const cases = xorCases(6).filter((c) => c.n <= 300);
  let errors = 0;
  let oks = 0;
  for (let k = 0; k < 10000; k++) {
    let b: Uint8Array;
    const mode = k % 4;
    if (mode === 3) {
      b = new Uint8Array(Math.floor(r() * 64));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
    } else {
      const c = cases[Math.floor(r() * cases.length)];
      b = js.xorEncode(c.t, c.v, c.n);
      const flips = 1 + Math.floor(r() * 4);
      for (let f = 0; f < flips; f++) {
        if (mode === 0) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
        else if (mode === 1) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        else if (b.length > 2) b[2 + Math.floor(r() * (b.length - 2))] ^= 0xff;
      }
      if (r() < 0.3) b = b.slice(0, Math.floor(r() * b.length));
    }
    if (agree(b, `fuzz #${k}`)) oks++;
    else errors++;
  }
  assert.ok(errors > 500 && oks > 500, `errors ${errors} oks ${oks}`);
});

// No wall-clock bound here (a loaded CI machine made one fail: speed belongs in `npm run bench`);
// a decoder that looped over the claimed count would still be caught by the runner's file timeout.
test('a header claiming 65535 samples on a tiny body fails', () => {
  for (const core of [js, wasm]) {
    for (let i = 0; i < 1000; i++) {
      assert.throws(() => core.xorDecode(Uint8Array.from([0xff, 0xff, 0x02, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x00])), (e: unknown) => e instanceof CorruptChunkError);
    }
  }
});

test('the wasm core keeps working after errors', () => {
  const t = Float64Array.from([1, 2, 3]);
  const v = Float64Array.from([1, 2, 3]);
  const good = wasm.xorEncode(t, v, 3);
  for (let i = 0; i < 100; i++) {
    assert.throws(() => wasm.xorDecode(good.slice(0, 5)));
    assert.is(wasm.xorDecode(good).n, 3);
  }
});

test.run();
