// Core.snappyCompressInto: the WASM kernel (wasm/snappy.ts) writes the bytes of the TS twin
// (lib/remote/snappy.ts compressInto) on every kind of input — empty and short (one literal),
// incompressible (long literals, every literal length form), runs and repeats of every period
// (copies of 1- and 2-byte offsets, lengths 4..64 and split copies past 64), several 64 KiB blocks,
// WAL-like samples records — written at an offset of a larger buffer whose other bytes stay; and
// what it writes decompresses to the input. The WAL written with the WASM core holds the bytes the
// TS core writes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, type Core } from '../../lib/core/mod.ts';
import { compressInto, decompress, maxCompressedLength } from '../../lib/remote/snappy.ts';
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
