// Core.snappyCompressInto: the WASM kernel (wasm/snappy.ts) writes the bytes of the TS twin
// (lib/remote/snappy.ts compressInto) on every kind of input — empty and short (one literal),
// incompressible (long literals, every literal length form), runs and repeats of every period
// (copies of 1- and 2-byte offsets, lengths 4..64 and split copies past 64), several 64 KiB blocks,
// WAL-like samples records — written at an offset of a larger buffer whose other bytes stay; and
// what it writes decompresses to the input. The WAL written with the WASM core holds the bytes the
// TS core writes. Core.snappyDecompress: the WASM kernel decodes what the twin (lib/remote/snappy.ts
// decompress) decodes and refuses what it refuses, with its message: compressed inputs, hand-made
// blocks of every element form, every truncation and thousands of byte mutations of a body.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, type Core } from '../../lib/core/mod.ts';
import { compressInto, decompress, maxCompressedLength, SnappyError } from '../../lib/remote/snappy.ts';
import { rng } from './helpers.ts';
import { createLogger } from '../../host/log.ts';
import { HeadDB } from '../../lib/tsdb/head/db.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
});

/** Both backends' output for src, written at `at` in buffers prefilled with 0xa5; checked equal, whole buffers. */
function same(src: Uint8Array, what: string, at = 0): Uint8Array {
  const size = at + maxCompressedLength(src.length) + 5;
  const a = new Uint8Array(size).fill(0xa5);
  const b = new Uint8Array(size).fill(0xa5);
  const ea = wasm.snappyCompressInto(src, a, at);
  const eb = js.snappyCompressInto(src, b, at);
  assert.is(ea, eb, `${what}: end`);
  for (let i = 0; i < size; i++) if (a[i] !== b[i]) assert.unreachable(`${what}: byte ${i} of ${size} (end ${eb}): wasm ${a[i]} js ${b[i]}`);
  assert.equal(decompress(a.subarray(at, ea)), src, `${what}: round trip`);
  return a.subarray(at, ea);
}

function random(n: number, seed: number, alphabet = 256): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * alphabet));
}

test('empty and short inputs: one literal', () => {
  for (let n = 0; n <= 40; n++) same(random(n, n), `random ${n}`);
  for (let n = 0; n <= 40; n++) same(new Uint8Array(n).fill(7), `zeros ${n}`);
});

test('incompressible data: literals of every length form (1 byte, 60, 61, 62 tags)', () => {
  for (const n of [59, 60, 61, 255, 256, 257, 1000, 65535, 65536, 65537, 70_000, 300_000]) same(random(n, n + 1), `random ${n}`);
});

test('runs and repeats of every period: copies with 1- and 2-byte offsets, short and long', () => {
  for (const period of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 100, 2047, 2048, 2049, 5000, 40_000]) {
    const unit = random(period, period);
    for (const n of [period * 3 + 17, 200, 4096, 100_000]) {
      const src = new Uint8Array(n);
      for (let i = 0; i < n; i++) src[i] = unit[i % period]!;
      same(src, `period ${period}, ${n} bytes`);
    }
  }
  // matches of every length 4..140 between random stretches (lengths 4..11 and 12..64 in one element, longer split)
  for (let len = 4; len <= 140; len++) {
    const a = random(300, len);
    const src = new Uint8Array(900);
    src.set(a, 0);
    src.set(random(100, 1000 + len), 300);
    src.set(a.subarray(50, 50 + len), 400);
    src.set(random(900 - 400 - len, 2000 + len), 400 + len);
    same(src, `match of ${len}`);
  }
});

test('small alphabets and mixed data over several 64 KiB blocks', () => {
  for (const alphabet of [2, 4, 16, 64]) same(random(200_000, alphabet, alphabet), `alphabet ${alphabet}`);
  const text = new TextEncoder().encode(Array.from({ length: 3000 }, (_, i) => `{__name__="bench_metric",instance="host-${i % 50}",series="${i}"} ${Math.sin(i) * 100}\n`).join(''));
  same(text, 'text exposition');
});

test('WAL-like samples records (ref, count, time delta, f64 value) and an output offset', () => {
  for (const series of [1, 10, 500, 2000, 9000]) {
    const rec = new Uint8Array(series * 16 + 8);
    const dv = new DataView(rec.buffer);
    let p = 0;
    rec[p++] = 0;
    for (let s = 0; s < series; s++) {
      let ref = s + 1;
      while (ref > 0x7f) {
        rec[p++] = (ref & 0x7f) | 0x80;
        ref >>>= 7;
      }
      rec[p++] = ref;
      rec[p++] = 1;
      rec[p++] = 0xb0;
      rec[p++] = 0xea;
      rec[p++] = 0x01;
      dv.setFloat64(p, Math.sin(7 + s) * 100 + s, false);
      p += 8;
    }
    for (const at of [0, 1, 9, 1000]) same(rec.subarray(0, p), `${series} series at ${at}`, at);
  }
});

test('too small an output buffer: RangeError from both, nothing written by the kernel', () => {
  const src = random(1000, 3);
  for (const c of [wasm, js]) {
    const dst = new Uint8Array(maxCompressedLength(1000) + 9).fill(1);
    assert.throws(() => c.snappyCompressInto(src, dst, 10), (e: unknown) => e instanceof RangeError && /bytes of output for 1000 input bytes/.test((e as Error).message), c.backend);
    assert.ok(dst.every((x) => x === 1), c.backend);
  }
});

test('the twin is lib/remote/snappy.ts compressInto', () => {
  assert.is(js.snappyCompressInto, compressInto);
});

/** Both backends' decompress of src: the same bytes, or the same SnappyError message. */
function sameDecoded(src: Uint8Array, what: string, max?: number): 'ok' | 'error' {
  const run = (c: Core) => {
    try {
      return { bytes: c.snappyDecompress(src, max).slice() };
    } catch (e) {
      if (!(e instanceof SnappyError)) throw e;
      return { err: e.message };
    }
  };
  const a = run(wasm);
  const b = run(js);
  let twin: { bytes?: Uint8Array; err?: string };
  try {
    twin = { bytes: decompress(src, { maxDecodedBytes: max }) };
  } catch (e) {
    twin = { err: (e as Error).message };
  }
  for (const [x, name] of [[a, 'wasm'], [b, 'js core']] as const) {
    // (compared here, not by assert.equal: its diff of two long arrays takes minutes)
    assert.is(x.err, twin.err, `${what}: ${name} error`);
    if (twin.bytes) {
      assert.is(x.bytes!.length, twin.bytes.length, `${what}: ${name} length`);
      const at = x.bytes!.findIndex((v, i) => v !== twin.bytes![i]);
      assert.is(at, -1, `${what}: ${name} first differing byte`);
    }
  }
  return a.err === undefined ? 'ok' : 'error';
}

function compressed(src: Uint8Array): Uint8Array {
  const b = new Uint8Array(maxCompressedLength(src.length));
  return b.subarray(0, compressInto(src, b, 0));
}

test('decompress: every compressed input above decodes to the same bytes on both backends', () => {
  const inputs: Uint8Array[] = [new Uint8Array(0), random(1, 1), random(61, 2), random(300, 3), random(70_000, 4)];
  for (const period of [1, 3, 8, 9, 100, 2049, 40_000]) {
    const unit = random(period, period);
    inputs.push(Uint8Array.from({ length: 100_000 }, (_, i) => unit[i % period]!));
  }
  for (const alphabet of [2, 16]) inputs.push(random(200_000, alphabet, alphabet));
  for (const x of inputs) {
    assert.is(sameDecoded(compressed(x), `${x.length} bytes`), 'ok');
    assert.ok(Buffer.from(wasm.snappyDecompress(compressed(x))).equals(x), `${x.length} bytes: round trip`);
  }
});

test('decompress: literals and copies of every length form, overlapping copies, 4-byte offsets, hand-made', () => {
  const blocks: number[][] = [
    [5, 0x10, 1, 2, 3, 4, 5], // literal of 5
    [70, 60 << 2, 69, ...Array.from({ length: 70 }, (_, i) => i)], // 1-byte literal length
    [20, 8, 9, 0x01 | (12 << 2), 3], // literal "\t\t"? 3 bytes then copy: malformed length (20 declared)
    [12, 0x04, 7, 8, ((4 - 4) << 2) | 1 | 0, 2, 0x0e, 2, 0, 0, 0, 0], // copies with 1- and 4-byte offsets
    [64 + 2, 0x04, 7, 8, ((64 - 1) << 2) | 2, 2, 0], // 2-byte offset copy of 64, overlapping
    [16, 0x1c, 1, 2, 3, 4, 5, 6, 7, 8, ((8 - 1) << 2) | 2, 8, 0], // offset 8 copy (8 bytes a step)
  ];
  for (const b of blocks) sameDecoded(Uint8Array.from(b), JSON.stringify(b));
});

test('decompress: every truncation and 3000 byte mutations of real bodies: the same bytes or the same error', () => {
  const rec = new Uint8Array(20_000);
  const r = rng(9);
  for (let i = 0; i < rec.length; i++) rec[i] = i % 13 < 5 ? i % 7 : Math.floor(r() * 256);
  const body = compressed(rec);
  const seen = { ok: 0, error: 0 };
  for (let n = 0; n < 300; n++) seen[sameDecoded(body.subarray(0, n), `truncated at ${n}`)]++;
  for (let n = body.length - 300; n <= body.length; n++) seen[sameDecoded(body.subarray(0, n), `truncated at ${n}`)]++;
  for (let k = 0; k < 3000; k++) {
    const m = body.slice();
    const at = Math.floor(r() * m.length);
    m[at] = Math.floor(r() * 256);
    if (k % 3 === 0) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
    seen[sameDecoded(m, `mutation ${k} at ${at}`)]++;
  }
  assert.ok(seen.ok > 100 && seen.error > 100, JSON.stringify(seen));
});

test('decompress: limits as the twin (declared length over maxDecodedBytes, impossible for the input)', () => {
  const body = compressed(random(5000, 5));
  assert.is(sameDecoded(body, 'limit 4999', 4999), 'error');
  assert.is(sameDecoded(body, 'limit 5000', 5000), 'ok');
  assert.is(sameDecoded(Uint8Array.of(0xff, 0xff, 0x03, 0), 'impossible'), 'error');
  assert.is(sameDecoded(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 'header longer than 5 bytes'), 'error');
});

test('a receive head on the WASM core writes the WAL bytes of the TS core, and replays them', async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'snappy-wal-')), mkdtempSync(join(tmpdir(), 'snappy-wal-'))];
  try {
    const log = createLogger({ level: 'error', write: () => {} });
    const dbs = [new HeadDB({ fs: nodeFs(), dir: dirs[0]!, core: wasm, log }), new HeadDB({ fs: nodeFs(), dir: dirs[1]!, core: js, log })];
    for (const db of dbs) await db.open();
    for (let k = 0; k < 5; k++) {
      const batch = Array.from({ length: 3000 }, (_, s) => ({
        labels: [{ name: '__name__', value: 'm' }, { name: 'instance', value: `host-${s % 50}` }, { name: 'series', value: String(s) }],
        samples: [{ timestamp: 1_700_000_000_000 + k * 15_000, value: Math.sin(k / 10 + s) * 100 + s }],
      }));
      for (const db of dbs) assert.is((await db.append(batch)).samplesAccepted, 3000);
    }
    for (const db of dbs) await db.close();
    const seg = (d: string) => readFileSync(join(d, 'wal', '00000001'));
    assert.ok(seg(dirs[0]!).length > 100_000);
    assert.ok(seg(dirs[0]!).equals(seg(dirs[1]!)), 'WAL segments differ');
    const again = new HeadDB({ fs: nodeFs(), dir: dirs[0]!, core: wasm, log });
    const r = await again.open();
    assert.is(r.samples, 15_000);
    await again.close();
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test.run();
