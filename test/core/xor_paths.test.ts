// The WASM XOR kernels' fast paths and their edges, against the TS twin (bytes and samples equal,
// errors equal). The decoder has a bounds-check-free loop for all but the last MAX_SAMPLE_BITS of a
// chunk, with an inner loop for the common sample ('10' + 14-bit timestamp, a changed value whose
// bits fit the peeked word: in the current window if 18 + width <= 57, in a new one if
// 29 + width <= 57); the encoder writes such samples with a branch-free writer when the pending
// bits plus the sample fit 63. These cases put value widths, window changes and timestamp buckets
// right at those limits, mid-chunk, in many bit alignments; likewise the fast loop's samples with a
// delta of delta 0 (value in the current window if 3 + width <= 57, in a new one if width <= 33,
// unchanged) and '10' timestamps with unchanged values.
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, CorruptChunkError, type Core } from '../../lib/core/mod.ts';
import { bytesEqual, hex, rng, samplesEqual, setBits } from './helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  // CORE_WASM=<file>: run against another build (to check that a broken kernel fails here)
  const alt = process.env.CORE_WASM;
  wasm = await createCore({ backend: 'wasm', wasmUrl: alt ? pathToFileURL(alt) : undefined });
});

/** A 64-bit pattern with `width` significant bits starting `lead` bits from the top (width >= 1). */
function xorWord(lead: number, width: number, r: () => number): [number, number] {
  // bits [63 - lead, 64 - lead - width]: top and bottom of the window set, the rest random
  let hi = 0;
  let lo = 0;
  for (let b = 0; b < width; b++) {
    const bit = 63 - lead - b;
    const on = b === 0 || b === width - 1 || r() < 0.5;
    if (!on) continue;
    if (bit >= 32) hi |= 1 << (bit - 32);
    else lo |= 1 << bit;
  }
  return [hi >>> 0, lo >>> 0];
}

/** Values whose successive XORs have the given (lead, width) windows (0 width: unchanged). */
function valuesFromWindows(windows: [number, number][], r: () => number): Float64Array {
  const v = new Float64Array(windows.length + 1);
  const u = new Uint32Array(v.buffer);
  u[0] = 0x40590000; // 100.0, low word first below
  u[1] = 0x40590000;
  for (let i = 0; i < windows.length; i++) {
    const [lead, width] = windows[i];
    const [hi, lo] = width === 0 ? [0, 0] : xorWord(lead, width, r);
    u[2 * (i + 1)] = (u[2 * i] ^ lo) >>> 0;
    u[2 * (i + 1) + 1] = (u[2 * i + 1] ^ hi) >>> 0;
  }
  return v;
}

/** Timestamps: 15 s steps, each dod drawn from `dods` (cycled), from a jittered base. */
function times(n: number, dods: number[], r: () => number): Float64Array {
  const t = new Float64Array(n);
  t[0] = 1_700_000_000_000 + Math.floor(r() * 1e6);
  if (n > 1) t[1] = t[0] + 15000;
  let d = 15000;
  for (let i = 2; i < n; i++) {
    d += dods[(i - 2) % dods.length];
    t[i] = t[i - 1] + d;
  }
  return t;
}

function roundTrip(name: string, t: Float64Array, v: Float64Array): void {
  const n = t.length;
  const a = js.xorEncode(t, v, n);
  const b = wasm.xorEncode(t, v, n);
  assert.ok(bytesEqual(a, b), `${name}: wasm bytes differ from the TS twin's\njs   ${hex(a)}\nwasm ${hex(b)}`);
  const want = { t, v, n };
  for (const core of [js, wasm]) {
    const err = samplesEqual(core.xorDecode(a), want);
    assert.is(err, null, `${name}: ${core.backend} decode: ${err}`);
  }
  // the batch kernels (the fast loop runs per chunk there too), two copies back to back
  const tt = new Float64Array(2 * n);
  const vv = new Float64Array(2 * n);
  tt.set(t);
  tt.set(t, n);
  vv.set(v);
  vv.set(v, n);
  const enc = wasm.xorEncodeBatch(tt, vv, [0, n], 2 * n);
  const c0 = enc.bytes.slice(enc.offset[0], enc.offset[1]);
  const c1 = enc.bytes.slice(enc.offset[1], enc.offset[2]);
  assert.ok(bytesEqual(c0, a) && bytesEqual(c1, a), `${name}: xorEncodeBatch bytes differ`);
  const dec = wasm.xorDecodeBatch([a, a]);
  assert.is(dec.n, 2 * n);
  const err = samplesEqual({ t: dec.t.subarray(n, 2 * n), v: dec.v.subarray(n, 2 * n), n }, want);
  assert.is(err, null, `${name}: xorDecodeBatch: ${err}`);
}

test('value windows at the fast paths\' width limits, every bit alignment', () => {
  const r = rng(11);
  // widths around the limits: a reused window of 39 (fits) / 40 (does not), a new one of 28 / 29,
  // and 1, 52, 63, 64; leads 0..31 (31 is the clamp: clz >= 32 is written as 31)
  // (the limits drawn far more often: a wrong limit shows only when the sample also starts at bit 7
  // of a byte and the window's last bit is set)
  const widths = [1, 2, 13, 27, 28, 28, 28, 29, 29, 29, 30, 38, 39, 39, 39, 40, 40, 40, 41, 52, 56, 57, 62, 63, 64];
  for (const dods of [[1], [0], [0, 5, -3], [8192, -8191, 0, 1], [65536, -65536, 524287, -524287, 2 ** 33, -(2 ** 33), 3, -3]]) {
    const windows: [number, number][] = [];
    for (let k = 0; k < 3000; k++) {
      const width = widths[Math.floor(r() * widths.length)];
      const lead = Math.min(Math.floor(r() * 32), 64 - width);
      // reuse the previous window half of the time: same or narrower bits inside it
      if (k > 0 && r() < 0.5) {
        const [pl, pw] = windows[k - 1];
        windows.push(pw === 0 ? [lead, width] : [pl, pw]);
      } else if (r() < 0.05) {
        windows.push([0, 0]);
      } else {
        windows.push([lead, width]);
      }
    }
    const v = valuesFromWindows(windows, r);
    roundTrip(`dods ${dods.join(',')}`, times(v.length, dods, r), v);
  }
});

test('delta of delta 0 and unchanged values: those fast paths at their width limits, every bit alignment', () => {
  const r = rng(15);
  // delta of delta 0 ('0'): a value in the current window of 54 (fits 3 + 54 <= 57) / 55 (does not),
  // in a new one of 33 (taken) / 34 (not), unchanged ('0' '0'); '10' timestamps with unchanged values
  // (17 bits). The limits drawn far more often (a wrong one shows only at some bit alignments).
  const widths = [1, 13, 32, 33, 33, 33, 34, 34, 34, 35, 41, 43, 44, 53, 54, 54, 54, 55, 55, 55, 56, 64];
  for (const dods of [[0], [0, 0, 0, 1], [0, 7, 0, -7, 0]]) {
    for (const unchanged of [0.05, 0.5]) {
      const windows: [number, number][] = [];
      for (let k = 0; k < 3000; k++) {
        const width = widths[Math.floor(r() * widths.length)];
        const lead = Math.min(Math.floor(r() * 32), 64 - width);
        if (k > 0 && r() < 0.5) {
          const [pl, pw] = windows[k - 1];
          windows.push(pw === 0 ? [lead, width] : [pl, pw]);
        } else if (r() < unchanged) {
          windows.push([0, 0]);
        } else {
          windows.push([lead, width]);
        }
      }
      const v = valuesFromWindows(windows, r);
      roundTrip(`dods ${dods.join(',')}, unchanged ${unchanged}`, times(v.length, dods, r), v);
    }
  }
});

test('delta of delta 0 with a new window: a header with leading + width > 64 is an error, not a fast sample', () => {
  // every sample after the first two: '0' '11' leading 31, width 33 (47 bits); flipping one bit of
  // a width field gives 35, 37 or 41 (leading + width > 64, an invalid header that a looser width
  // limit for this fast path would decode), or 49, 1 or 32 (valid or caught elsewhere)
  const r = rng(16);
  const n = 120;
  const windows: [number, number][] = [];
  for (let i = 0; i < n - 1; i++) windows.push([31, 33]);
  const v = valuesFromWindows(windows, r);
  const t = times(n, [0], r);
  const good = js.xorEncode(t, v, n);
  let headerErrors = 0;
  for (let bit = 16 + 8 * 12; bit < good.length * 8 - 64; bit++) {
    const b = good.slice();
    b[bit >> 3] ^= 0x80 >> (bit & 7);
    const outcome = (core: Core): string => {
      try {
        const s = core.xorDecode(b);
        // (timestamps beyond 2^53 are rounded differently by the TS twin: compared only below)
        let sum = 0;
        for (let i = 0; i < s.n; i++) sum += s.v[i] + (Math.abs(s.t[i]) < 2 ** 53 ? s.t[i] : 0);
        return `ok ${s.n} ${sum}`;
      } catch (e) {
        if (!(e instanceof CorruptChunkError)) throw e;
        return /bad value header|leading \+/.test(e.message) ? 'value header' : /truncated/.test(e.message) ? 'truncated' : e.message;
      }
    };
    const [mj, mw] = [outcome(js), outcome(wasm)];
    if (mj === 'value header') headerErrors++;
    assert.is(mw, mj, `bit ${bit} flipped: js ${mj}, wasm ${mw}`);
  }
  assert.ok(headerErrors >= 20, `flips that made an invalid header: ${headerErrors}`);
});

test('counter-like chunks of every length up to 300 (the fast loop hands over at each point)', () => {
  const r = rng(12);
  for (let n = 1; n <= 300; n += n < 40 ? 1 : 7) {
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let c = 0;
    for (let i = 0; i < n; i++) {
      t[i] = 1_700_000_000_000 + i * 15000 + Math.floor(r() * 21) - 10;
      c += Math.floor(r() * 100);
      v[i] = c;
    }
    roundTrip(`counter n=${n}`, t, v);
  }
});

test('writer state: pending bits from rare samples then fast-path samples (fill + bits around 63)', () => {
  const r = rng(13);
  for (let rep = 0; rep < 40; rep++) {
    const n = 200;
    const windows: [number, number][] = [];
    for (let k = 0; k < n - 1; k++) {
      // unchanged values (1-bit value, 1- or 16-bit timestamp) between changed ones of 20..45 bits
      if (r() < 0.3) windows.push([0, 0]);
      else windows.push([Math.floor(r() * 8), 20 + Math.floor(r() * 26)]);
    }
    const v = valuesFromWindows(windows, r);
    roundTrip(`rep ${rep}`, times(n, [0, 1, -1, 0, 0, 9], r), v);
  }
});

test('corrupted chunks: the wasm decoder fails at the same sample with the same error as the TS twin', () => {
  const r = rng(14);
  const n = 240;
  const t = times(n, [0, 3, -3, 1], r);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) setBits(v, i, 0x40000000 + Math.floor(r() * 2 ** 20), Math.floor(r() * 2 ** 32));
  const good = js.xorEncode(t, v, n);
  // and a chunk of the largest samples (68-bit timestamps, 77-bit values), cut short: the fast loop
  // must hand over before a sample can run past the end
  const bigT = times(n, [2 ** 40, -(2 ** 41), 2 ** 40], r);
  const bigV = new Float64Array(n);
  for (let i = 0; i < n; i++) setBits(bigV, i, Math.floor(r() * 2 ** 32) | (i & 1 ? 0x80000000 : 1), Math.floor(r() * 2 ** 32) | 1);
  const big = js.xorEncode(bigT, bigV, n);
  // the two backends word their errors differently: compare the kind and, where both name it, the sample
  const message = (core: Core, b: Uint8Array): string => {
    try {
      core.xorDecode(b);
      return 'ok';
    } catch (e) {
      if (!(e instanceof CorruptChunkError)) throw e;
      const m = e.message;
      const kind = /truncated/.test(m) ? 'truncated' : /varint/.test(m) ? 'varint' : /bad value header|leading \+/.test(m) ? 'value header' : m;
      const at = /at sample (\d+)/.exec(m);
      return at ? `${kind} at sample ${at[1]}` : kind;
    }
  };
  const same = (a: string, b: string): boolean => a === b || a.replace(/ at sample \d+/, '') === b.replace(/ at sample \d+/, '') && (!/at sample/.test(a) || !/at sample/.test(b));
  // and one of common samples of the largest size (57 bits: 39-bit values in their window, 28-bit
  // values opening one), cut short: they run right up to the end and must stop there
  const wide: [number, number][] = [];
  for (let i = 0; i < n - 1; i++) wide.push(i % 4 === 0 ? [3 + (i % 5), 28] : [2, 39]);
  const wideV = valuesFromWindows(wide, r);
  const wideChunk = js.xorEncode(times(n, [1, -1], r), wideV, n);
  for (let len = wideChunk.length - 1; len > wideChunk.length - 40; len--) {
    const cut = wideChunk.subarray(0, len);
    const [mw, mj] = [message(wasm, cut), message(js, cut)];
    assert.ok(same(mw, mj), `57-bit sample chunk cut at ${len}: js ${mj}, wasm ${mw}`);
  }
  const kinds = new Map<string, number>();
  for (let len = big.length - 1; len > big.length - 200; len--) {
    const cut = big.subarray(0, len);
    const [mw, mj] = [message(wasm, cut), message(js, cut)];
    assert.ok(same(mw, mj), `big sample chunk cut at ${len}: js ${mj}, wasm ${mw}`);
  }
  for (let k = 0; k < 600; k++) {
    const b = good.slice();
    // flip 1-3 bits past the header, or cut the chunk short
    if (k % 5 === 4) {
      const cut = b.subarray(0, 2 + Math.floor(r() * (b.length - 2)));
      const [mw, mj] = [message(wasm, cut), message(js, cut)];
      assert.ok(same(mw, mj), `cut at ${cut.length}: js ${mj}, wasm ${mw}`);
      const kind = mj.replace(/ at sample \d+/, '');
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      continue;
    }
    for (let f = 0; f < 1 + (k % 3); f++) {
      const bit = 16 + Math.floor(r() * (b.length * 8 - 16));
      b[bit >> 3] ^= 0x80 >> (bit & 7);
    }
    const mj = message(js, b);
    const kind = mj.replace(/ at sample \d+/, '');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    const mw = message(wasm, b);
    if (mj === 'ok' || mw === 'ok') assert.is(mw === 'ok', mj === 'ok', `flip ${k}: js ${mj}, wasm ${mw}`);
    else assert.ok(same(mw, mj), `flip ${k}: js ${mj}, wasm ${mw}`);
  }
  // the flips must reach the error paths that the fast loop hands to the checked one
  const seen = JSON.stringify([...kinds]);
  assert.ok((kinds.get('value header') ?? 0) >= 5 && (kinds.get('truncated') ?? 0) >= 5, `error kinds reached: ${seen}`);
});

test.run();
